use crate::dom::{text, Page};
use crate::helpers::{spawn_app, StoreKind};

#[tokio::test]
async fn service_page_tells_the_symptom_and_remedy() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let res = app.get("/services/datastore").await;
    assert_eq!(res.status(), 200);
    let page = Page::parse(&res.text().await.unwrap());
    let cautions: Vec<String> = page.all("ul.cautions li").into_iter().map(text).collect();
    assert!(
        cautions.iter().any(|c| c.contains("lock files")),
        "datastore caution from the runbook: {cautions:?}"
    );
    let page = Page::parse(&app.get("/services/scheduler").await.text().await.unwrap());
    let symptoms: Vec<String> = page
        .all("table.symptoms tbody tr")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        symptoms.iter().any(|s| s.contains("Request new build")),
        "{symptoms:?}"
    );
    let res = app.get("/services/nope").await;
    assert_eq!(
        res.status(),
        404,
        "a deep link to nowhere says so to a script too"
    );
    assert_eq!(
        Page::parse(&res.text().await.unwrap()).text("h1"),
        "Unknown service"
    );
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let res = app.get("/definitely/not/here").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        Page::parse(&res.text().await.unwrap()).text("h1"),
        "Nothing here"
    );
}

#[tokio::test]
async fn server_functions_answer_json() {
    let app = spawn_app(StoreKind::Postgres).await;
    let res = app.call(&app.client, "/api/read/shell-info", &[]).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["store_backend"], "postgres");
    assert_eq!(body["environments"][0]["name"], "live", "production first");
    assert_eq!(body["environments"][0]["production"], true);
}

/// Each page's scripts carry the nonce its Content-Security-Policy names, a new one each time;
/// what is not a page gets a policy that allows nothing; HSTS only over https.
#[tokio::test]
async fn every_page_trusts_its_scripts_by_a_nonce_of_its_own() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let nonce_of = |csp: &str| -> String {
        for part in [
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{part} in {csp}");
        }
        let start = csp.find("'nonce-").expect("a nonce") + "'nonce-".len();
        csp[start..].split('\'').next().unwrap().to_owned()
    };
    let mut seen = std::collections::HashSet::new();
    for (path, status) in [("/", 200), ("/services/api", 200), ("/no-such-page", 404)] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        assert!(
            !res.headers().contains_key("strict-transport-security"),
            "no HSTS over http"
        );
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = nonce_of(&csp);
        assert!(seen.insert(nonce.clone()), "{path}: the nonce is new");
        let page = Page::parse(&res.text().await.unwrap());
        let scripts = page.all("script:not([type=\"application/json\"])");
        assert!(!scripts.is_empty(), "{path}: the page has its scripts");
        for s in scripts {
            assert_eq!(
                s.value().attr("nonce"),
                Some(nonce.as_str()),
                "{path}: {}",
                s.html()
            );
        }
    }
    let res = app.get("/healthz").await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");

    // Over https (as people reach it), browsers are told to stay on https.
    let (mut config, dir) = crate::helpers::test_config(StoreKind::Sqlite).await;
    config.server.public_url = Some("https://localhost".parse().unwrap());
    let https = crate::helpers::spawn_app_with(config, dir, axum::Router::new()).await;
    let res = https
        .anonymous()
        .get(format!("{}/signin", https.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"].to_str().unwrap(),
        "max-age=63072000"
    );
}

/// What the runbook writes between backticks is drawn as code, never as backticks; the
/// sentinel's page does not say that no host runs it (it is a systemd unit outside the
/// Supervisors' inventory: its own section says where it runs).
#[tokio::test]
async fn runbook_text_is_drawn_as_a_person_reads_it() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let page = Page::parse(&app.get("/services/api").await.text().await.unwrap());
    let first = page.all("table.symptoms tbody tr td")[0];
    assert_eq!(
        text(first),
        "The web site or hab commands get connection errors or 5xx from every endpoint"
    );
    assert_eq!(
        crate::dom::inside(first, "code")
            .into_iter()
            .map(text)
            .collect::<Vec<_>>(),
        ["hab"]
    );
    let res = app.get("/services/sentinel").await;
    assert_eq!(res.status(), 200);
    let page = Page::parse(&res.text().await.unwrap());
    assert!(page.first("[data-testid=\"no-instances\"]").is_none());
    assert!(page.first("[data-testid=\"sentinel-restart\"]").is_some());
}

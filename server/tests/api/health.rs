use crate::helpers::{spawn_app, test_config, StoreKind};

/// The public (and a viewer) learn ok or failing and nothing else; an admin also sees which
/// store answered.
async fn healthz_reports_the_store(kind: StoreKind, name: &str) {
    let app = spawn_app(kind).await;
    for client in [app.anonymous(), app.client.clone()] {
        let res = client
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}));
    }
    let admin = app.signed_in("health-admin", "admin").await;
    let res = admin
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], name);
}

#[tokio::test]
async fn healthz_ok_on_sqlite() {
    healthz_reports_the_store(StoreKind::Sqlite, "sqlite").await;
}

#[tokio::test]
async fn healthz_ok_on_postgres() {
    healthz_reports_the_store(StoreKind::Postgres, "postgres").await;
}

#[tokio::test]
async fn healthz_is_503_when_the_store_is_gone() {
    use sqlx::{Connection, Executor};
    let app = spawn_app(StoreKind::Postgres).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    // Take the database away: refuse new connections and end the existing ones.
    let db = app.store_url.rsplit('/').next().unwrap().to_owned();
    let admin = testkit::postgres_admin_url().unwrap();
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    conn.execute(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false").as_str())
        .await
        .unwrap();
    conn.execute(
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
            .as_str(),
    )
    .await
    .unwrap();
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "failing"}),
        "the reason goes to the log, not to the public"
    );

    // And it recovers when the database comes back.
    conn.execute(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true").as_str())
        .await
        .unwrap();
    let mut ok = false;
    for _ in 0..20 {
        if app.get("/healthz").await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ok, "healthz recovers once the store is back");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app(StoreKind::Sqlite).await;
    app.get("/healthz").await;
    app.get("/services/sessionsrv").await;
    app.get("/services/originsrv").await;
    app.get("/no-such-page").await;
    let res = app.metrics().await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            r#"onwatch_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"onwatch_http_requests_total{method="GET",route="/services/{slug}",status="200"} 2"#
        ),
        "routes are patterns, not raw paths:\n{text}"
    );
    assert!(
        text.contains(
            r#"onwatch_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"onwatch_http_request_duration_seconds_count{method="GET",route="/services/{slug}"} 2"#
    ));
}

/// `/metrics` says which hosts are unreachable, live: not for anyone who can reach the address.
/// Without the scrape token it needs a signed-in responder; with `metrics.listen` it is served
/// only on that address.
#[tokio::test]
async fn metrics_are_for_the_scraper_and_responders_only() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let url = format!("{}/metrics", app.address);
    let res = app.anonymous().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let body = res.text().await.unwrap();
    assert!(!body.contains("onwatch_"), "{body}");
    let res = app
        .anonymous()
        .get(&url)
        .bearer_auth("test-scrape-token-012345678X")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a wrong token");
    // A viewer may see the dashboard, not the scrape.
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 403);
    assert!(!res.text().await.unwrap().contains("onwatch_"));
    let responder = app.signed_in("metrics-responder", "responder").await;
    let res = responder.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("onwatch_http_requests_total"));
    let res = app.metrics().await;
    assert_eq!(res.status(), 200);

    // On an address of its own, and nowhere else.
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let built = server::startup::Application::build(config).await.unwrap();
    let own = built.metrics_addr().expect("the metrics address is bound");
    let main = built.local_addr();
    let stop = built.shutdown_handle();
    let running = tokio::spawn(built.run_until_stopped());
    let token = std::fs::read_to_string(dir.path().join("metrics-token")).unwrap();
    let res = reqwest::Client::new()
        .get(format!("http://{main}/metrics"))
        .bearer_auth(token.trim_end())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "the public address does not serve it");
    let res = reqwest::Client::new()
        .get(format!("http://{own}/metrics"))
        .bearer_auth(token.trim_end())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("onwatch_"));
    let res = reqwest::get(format!("http://{own}/metrics")).await.unwrap();
    assert_eq!(res.status(), 401, "the token is asked for there too");
    stop.shutdown();
    let _ = running.await;
}

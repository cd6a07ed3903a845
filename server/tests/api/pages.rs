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

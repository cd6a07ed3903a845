use crate::helpers::{spawn_app, StoreKind};

#[tokio::test]
async fn service_page_tells_the_symptom_and_remedy() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let html = app.get("/services/datastore").await.text().await.unwrap();
    assert!(
        html.contains("lock files"),
        "datastore caution from the runbook"
    );
    let html = app.get("/services/scheduler").await.text().await.unwrap();
    assert!(html.contains("Request new build"));
    let res = app.get("/services/nope").await;
    assert_eq!(
        res.status(),
        404,
        "a deep link to nowhere says so to a script too"
    );
    assert!(res.text().await.unwrap().contains("Unknown service"));
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let res = app.get("/definitely/not/here").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Nothing here"));
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

use crate::helpers::{spawn_app, StoreKind};

/// Every page route, taken from the router itself, renders complete HTML on the server (for an
/// admin, who may see all of them).
#[tokio::test]
async fn every_page_route_renders_on_the_server() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let admin = app.signed_in("test-admin", "admin").await;
    let routes = leptos_axum::generate_route_list(app::App);
    assert!(
        routes.len() >= 9,
        "routes: {:?}",
        routes.iter().map(|r| r.path()).collect::<Vec<_>>()
    );
    for route in routes {
        let path = route
            .path()
            .replace("{slug}", "datastore")
            .replace(":slug", "datastore");
        let res = admin
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
        assert!(
            html.contains("<nav aria-label=\"Sections\""),
            "{path}: shell"
        );
        assert!(html.contains("<h1>"), "{path}: a heading");
        assert!(
            html.contains("/pkg/onwatch.wasm"),
            "{path}: hydration script"
        );
    }
}

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
    assert_eq!(res.status(), 200);
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

use std::time::Duration;

use axum::routing::get;
use axum::Router;

use crate::helpers::{spawn_app_with, test_config, StoreKind};

/// SIGTERM (here: the shutdown handle) lets a request that is already running finish, and stops
/// accepting new ones.
#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let (config, dir) = test_config(StoreKind::Sqlite).await;
    let slow = Router::new().route(
        "/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "finished"
        }),
    );
    let app = spawn_app_with(config, dir, slow).await;
    let client = app.client.clone();
    let url = format!("{}/test/slow", app.address);
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.shutdown.shutdown();

    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "finished");
    let served = tokio::time::timeout(Duration::from_secs(5), app.handle)
        .await
        .expect("the server stops after the last request")
        .unwrap();
    assert!(served.is_ok());
    assert!(
        reqwest::get(format!("{}/healthz", app.address))
            .await
            .is_err(),
        "no new connections after shutdown"
    );
}

/// An open event stream (every dashboard has one) does not hold a shutdown open.
#[tokio::test]
async fn open_event_streams_end_at_shutdown() {
    let (config, dir) = test_config(StoreKind::Sqlite).await;
    let app = spawn_app_with(config, dir, Router::new()).await;
    let mut events = app.get("/api/fleet/events").await;
    assert!(
        events.chunk().await.unwrap().is_some(),
        "the first event arrives"
    );
    app.shutdown.shutdown();
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends when the server shuts down");
    tokio::time::timeout(Duration::from_secs(3), app.handle)
        .await
        .expect("the server stops well before the grace period")
        .unwrap()
        .unwrap();
}

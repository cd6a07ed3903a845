//! The shard console through the server: a responder's query runs and its result, progress
//! stream and downloads are theirs alone; a viewer's query is refused (and audited); every
//! step is in the audit log, on SQLite and on Postgres.

use std::collections::BTreeMap;

use crate::helpers::{spawn_app_with, test_config, StoreKind};

async fn app_with_datastore(kind: StoreKind) -> crate::helpers::TestApp {
    let (mut config, dir) = test_config(kind).await;
    let admin = testkit::postgres_admin_url().unwrap();
    let seeded = fleet_sim::datastore::shared(&admin).await.unwrap();
    let dbs: BTreeMap<String, server::config::DatabaseConfig> = seeded
        .databases
        .iter()
        .map(|(db, _, ro)| {
            (
                db.clone(),
                server::config::DatabaseConfig {
                    url: ro.clone(),
                    ..Default::default()
                },
            )
        })
        .collect();
    config.environments.get_mut("live").unwrap().databases = dbs;
    spawn_app_with(config, dir, axum::Router::new()).await
}

async fn start(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    sql: &str,
) -> serde_json::Value {
    let res = app
        .call(
            client,
            "/api/attempt/console-start",
            &[
                ("environment", "live"),
                ("database", "builder_originsrv"),
                ("shards", "all"),
                ("sql", sql),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn console_journey(kind: StoreKind) {
    let app = app_with_datastore(kind).await;
    let ada = app.signed_in("ada", "responder").await;
    let started = start(&app, &ada, "SELECT count(*) AS n FROM origins").await;
    let id = started["Started"]["id"]
        .as_str()
        .expect("started")
        .to_owned();
    let res = app
        .call(
            &ada,
            "/api/read/console-result",
            &[("id", &id), ("wait", "true")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let result: serde_json::Value = res.json().await.unwrap();
    assert_eq!(result["state"], "complete", "{result}");
    assert_eq!(result["total_rows"], 128);
    let sum: u64 = result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1][0].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, fleet_sim::datastore::GENERATED_ORIGINS as u64 + 3);

    // The progress stream's last event says it ended.
    let events = ada
        .get(format!("{}/api/console/queries/{id}/events", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let text = events.text().await.unwrap();
    assert!(
        text.contains("event: progress") && text.contains("\"state\":\"complete\""),
        "{text}"
    );

    // The download is theirs: another responder gets 404, they get the CSV.
    let bob = app.signed_in("bob", "responder").await;
    let path = format!("{}/api/console/queries/{id}/export?format=csv", app.address);
    assert_eq!(bob.get(&path).send().await.unwrap().status(), 404);
    let csv = ada.get(&path).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let body = csv.text().await.unwrap();
    assert!(body.starts_with("shard,n\r\n"), "{body}");
    assert_eq!(body.lines().count(), 129);
    let bad = ada
        .get(format!(
            "{}/api/console/queries/{id}/export?format=xls",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // A viewer's query is refused with the reason; a write is refused for anyone.
    let refused = start(&app, &app.client, "SELECT 1").await;
    assert!(
        refused["Refused"]["reason"]
            .as_str()
            .unwrap()
            .contains("responder"),
        "{refused}"
    );
    let refused = start(&app, &ada, "UPDATE origins SET name = 'x'").await;
    assert!(
        refused["Refused"]["reason"]
            .as_str()
            .unwrap()
            .contains("never writes"),
        "{refused}"
    );

    // All of it is in the audit log, in order.
    let store = ops::store::Store::open(&app.store_url, &ops::store::StoreOptions::default())
        .await
        .unwrap();
    let audit = ops::audit::AuditLog::new(store);
    let filter = ops::audit::AuditFilter {
        kind: "console".into(),
        ..Default::default()
    };
    let mut rows = audit.search(&filter, None, 100).await.unwrap();
    rows.reverse();
    let seen: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.actor_name.clone(), r.kind.clone(), r.outcome.clone()))
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        seen,
        vec![
            s("ada", "console.query", "started"),
            s("ada", "console.query", "complete"),
            s("ada", "console.export", "exported"),
            s("test-viewer", "console.query", "refused"),
            s("ada", "console.query", "refused"),
        ]
    );
    assert!(audit.verify().await.unwrap().broken.is_none());
}

#[tokio::test]
async fn a_query_through_the_server_on_sqlite() {
    console_journey(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn a_query_through_the_server_on_postgres() {
    console_journey(StoreKind::Postgres).await;
}

#[tokio::test]
async fn without_a_datastore_the_page_says_how_to_configure_one() {
    let app = crate::helpers::spawn_app(StoreKind::Sqlite).await;
    let res = app.call(&app.client, "/api/read/console-setup", &[]).await;
    assert_eq!(res.status(), 200);
    let setup: serde_json::Value = res.json().await.unwrap();
    assert_eq!(setup["environments"], serde_json::json!([]));
    assert_eq!(setup["may_query"], false);
}

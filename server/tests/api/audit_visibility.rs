//! Issue #27 (10): a viewer reads that something happened, who, when, where, how it ended and
//! how many rows; never a console query's SQL, a shard's Postgres error (which can echo values
//! from the datastore), nor a sign-in's address and browser. Withheld by the server, before the
//! rows leave it: in the server function's JSON, in the page's HTML and in every export.

use ops::audit::{Actor, AuditLog, Entry, Event};

use crate::helpers::{spawn_app, StoreKind, TestApp};

const SQL: &str = "SELECT email FROM accounts WHERE name = 'needle-sql-7c1'";
const ECHOED: &str = "needle-value-9f2";
const BROWSER: &str = "NeedleBrowser/9.1 (secret build)";
const ADDRESS: &str = "127.0.0.1";

/// Every string a viewer must not read.
fn secrets() -> [&'static str; 5] {
    [
        "needle-sql-7c1",
        "SELECT email",
        ECHOED,
        "NeedleBrowser",
        ADDRESS,
    ]
}

/// A client as [`crate::helpers::cookie_client`] with its own browser name.
fn client_with_browser() -> reqwest::Client {
    let mut same_site = reqwest::header::HeaderMap::new();
    same_site.insert(
        "sec-fetch-site",
        reqwest::header::HeaderValue::from_static("same-origin"),
    );
    reqwest::Client::builder()
        .default_headers(same_site)
        .user_agent(BROWSER)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// A console query as the console audits it: started, then failed on a shard whose error
/// echoes a value; and one refused by the guard, whose reason quotes the SQL.
async fn console_rows(app: &TestApp) {
    let store = ops::store::Store::open(&app.store_url, &Default::default())
        .await
        .unwrap();
    let log = AuditLog::new(store.clone());
    let ana = Actor {
        id: "dev:ana".into(),
        name: "ana".into(),
        role: "responder".into(),
    };
    let row = |outcome: &str, detail: serde_json::Value| Entry {
        environment: "live".into(),
        service: "builder_originsrv".into(),
        action_id: "q-visibility".into(),
        outcome: outcome.into(),
        detail,
        ..Entry::new(Event::ConsoleQuery)
    };
    log.append(
        &ana,
        &row(
            "started",
            serde_json::json!({"sql": SQL, "ran": SQL, "shards": "30-31", "shard_count": 2}),
        ),
    )
    .await
    .unwrap();
    log.append(
        &ana,
        &row(
            "failed",
            serde_json::json!({
                "sql": SQL, "shard_count": 2, "duration_ms": 40, "rows": 3,
                "rows_per_shard": {"30": 3}, "truncated": false,
                "failed": [{"shard": 31, "error": format!("invalid input syntax for type integer: \"{ECHOED}\"")}],
            }),
        ),
    )
    .await
    .unwrap();
    log.append(
        &ana,
        &row(
            "refused",
            serde_json::json!({"sql": SQL, "shards": "all",
                "reason": format!("`{SQL}`: not one read-only statement")}),
        ),
    )
    .await
    .unwrap();
    store.close().await;
}

async fn audit_json(app: &TestApp, client: &reqwest::Client) -> (String, Vec<serde_json::Value>) {
    let res = app
        .call(client, "/api/read/audit", &[("query[who]", "")])
        .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    (text, rows)
}

/// The detail (pretty JSON text in the view) of the first row of `kind` with `outcome`.
fn detail_of(rows: &[serde_json::Value], kind: &str, outcome: &str) -> serde_json::Value {
    let row = rows
        .iter()
        .find(|r| r["kind"] == kind && r["outcome"] == outcome)
        .unwrap_or_else(|| panic!("no {kind} {outcome} row in {rows:?}"));
    serde_json::from_str(row["detail"].as_str().unwrap()).unwrap()
}

async fn viewers_read_no_sql_error_address_nor_browser(kind: StoreKind) {
    let app = spawn_app(kind).await;
    // A responder signs in from a browser with a name to find (the sign-in row keeps it).
    let responder = client_with_browser();
    app.dev_signin(&responder, "rita", "responder").await;
    console_rows(&app).await;

    // The viewer: the server function's JSON.
    let (text, rows) = audit_json(&app, &app.client).await;
    for s in secrets() {
        assert!(!text.contains(s), "a viewer reads {s:?}: {text}");
    }
    // What a viewer does read: that it ran, by whom, where, how it ended, how many rows.
    let failed = detail_of(&rows, "console.query", "failed");
    assert_eq!(failed["rows"], 3, "{failed}");
    assert_eq!(failed["rows_per_shard"]["30"], 3, "{failed}");
    assert_eq!(failed["failed"][0]["shard"], 31, "{failed}");
    assert!(failed.get("sql").is_none() && failed["failed"][0].get("error").is_none());
    let withheld = failed["withheld"].to_string();
    assert!(
        withheld.contains("sql") && withheld.contains("failed[].error"),
        "{withheld}"
    );
    let started = rows
        .iter()
        .find(|r| r["kind"] == "console.query" && r["outcome"] == "started")
        .unwrap();
    assert_eq!(
        (
            &started["actor_name"],
            &started["environment"],
            &started["service"]
        ),
        (&"ana".into(), &"live".into(), &"builder_originsrv".into())
    );
    assert_eq!(
        detail_of(&rows, "console.query", "started")["shards"],
        "30-31"
    );
    let refused = detail_of(&rows, "console.query", "refused");
    assert!(refused.get("reason").is_none(), "{refused}");
    let rita = rows
        .iter()
        .find(|r| r["kind"] == "signin" && r["actor_name"] == "rita")
        .expect("rita's sign-in is listed");
    let signin: serde_json::Value = serde_json::from_str(rita["detail"].as_str().unwrap()).unwrap();
    assert_eq!(signin["provider"], "dev", "{signin}");
    assert!(signin.get("address").is_none() && signin.get("user_agent").is_none());

    // The page a viewer loads carries the same rows (server-rendered, and the data it hydrates).
    let html = app.html(&app.client, "/audit").await;
    assert!(html.contains("rita"), "the page lists the rows");
    for s in secrets() {
        assert!(!html.contains(s), "a viewer's /audit page holds {s:?}");
    }
    // A viewer's (and a responder's) export is refused, with nothing of the rows.
    for (who, client) in [("viewer", &app.client), ("responder", &responder)] {
        for format in ["csv", "json"] {
            let res = client
                .get(format!(
                    "{}/api/admin/audit/export?format={format}",
                    app.address
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "a {who}'s {format} export");
            let body = res.text().await.unwrap();
            for s in secrets() {
                assert!(!body.contains(s), "a {who}'s refused export holds {s:?}");
            }
        }
    }

    // A responder reads every detail.
    let (text, rows) = audit_json(&app, &responder).await;
    for s in secrets() {
        assert!(text.contains(s), "a responder reads {s:?}: {text}");
    }
    let failed = detail_of(&rows, "console.query", "failed");
    assert!(failed.get("withheld").is_none(), "{failed}");

    // An admin's exports are whole, hashes included (they verify elsewhere).
    let admin = app.signed_in("ada", "admin").await;
    for format in ["csv", "json"] {
        let res = admin
            .get(format!(
                "{}/api/admin/audit/export?format={format}",
                app.address
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        for s in secrets() {
            assert!(body.contains(s), "an admin's {format} export holds {s:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_no_sql_error_address_nor_browser_on_sqlite() {
    viewers_read_no_sql_error_address_nor_browser(StoreKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_no_sql_error_address_nor_browser_on_postgres() {
    viewers_read_no_sql_error_address_nor_browser(StoreKind::Postgres).await;
}

/// A shared saved query's text is for those who may run it: a viewer sees its name, database
/// and owner, not its SQL.
#[tokio::test]
async fn a_shared_saved_querys_sql_is_for_responders_only() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let responder = app.signed_in("saver", "responder").await;
    let res = app
        .call(
            &responder,
            "/api/attempt/console-save",
            &[
                ("name", "find the origin"),
                ("database", "builder_jobsrv"),
                ("shards", "all"),
                ("sql", SQL),
                ("shared", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "null", "saved");
    let list = |client: reqwest::Client| {
        let app = &app;
        async move {
            let res = app.call(&client, "/api/read/console-saved", &[]).await;
            assert_eq!(res.status(), 200);
            res.json::<Vec<serde_json::Value>>().await.unwrap()
        }
    };
    let seen = list(responder.clone()).await;
    let mine = seen
        .iter()
        .find(|s| s["name"] == "find the origin")
        .unwrap();
    assert_eq!(mine["sql"], SQL);
    let seen = list(app.client.clone()).await;
    let shared = seen
        .iter()
        .find(|s| s["name"] == "find the origin")
        .expect("the viewer sees that it exists");
    assert_eq!(shared["sql"], "", "{shared}");
    assert!(!serde_json::to_string(&seen)
        .unwrap()
        .contains("needle-sql-7c1"));
}

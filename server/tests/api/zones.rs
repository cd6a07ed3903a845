//! Issue #28, point 12: one rule for time. Each person's pages, and their exports, speak the
//! zone they chose, else their browser's (its cookie, checked against the zone database), else
//! UTC; the zone is written with every time.

use std::sync::Arc;

use reqwest::cookie::Jar;

use crate::helpers::{spawn_app, StoreKind, TestApp};

/// A browser-like client whose cookie jar the test can write to (the zone cookie is what a
/// browser's boot script sets).
async fn browser(app: &TestApp, name: &str) -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let mut same_site = reqwest::header::HeaderMap::new();
    same_site.insert(
        "sec-fetch-site",
        reqwest::header::HeaderValue::from_static("same-origin"),
    );
    let client = reqwest::Client::builder()
        .default_headers(same_site)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    app.dev_signin(&client, name, "admin").await;
    (client, jar)
}

async fn shell_zone(
    app: &TestApp,
    (c, jar): &(reqwest::Client, Arc<Jar>),
    cookie: Option<&str>,
) -> serde_json::Value {
    let url: reqwest::Url = app.address.parse().unwrap();
    // No cookie: one that has expired already.
    jar.add_cookie_str(
        &match cookie {
            Some(z) => format!("onwatch_tz={z}; Path=/"),
            None => "onwatch_tz=; Path=/; Max-Age=0".to_owned(),
        },
        &url,
    );
    let res = c
        .post(format!("{}/api/read/shell-info", app.address))
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<serde_json::Value>().await.unwrap()["zone"].clone()
}

async fn export_csv(app: &TestApp, c: &reqwest::Client) -> String {
    let res = c
        .get(format!(
            "{}/api/admin/audit/export?format=csv&kind=signin",
            app.address
        ))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// The `at` column of the first data row.
fn first_at(csv: &str) -> String {
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "at")
        .expect("an `at` column");
    let row = csv.lines().nth(1).expect("a row");
    row.split(',')
        .nth(col)
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

async fn zones_on(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let ada_browser = browser(&app, "ada").await;
    let ada = ada_browser.0.clone();

    // Nothing known: UTC, and it says so.
    let z = shell_zone(&app, &ada_browser, None).await;
    assert_eq!(
        (z["name"].as_str(), z["source"].as_str()),
        (Some("UTC"), Some("default"))
    );
    // The browser's zone, when the database knows it; a hostile cookie is UTC.
    let z = shell_zone(&app, &ada_browser, Some("Asia/Tokyo")).await;
    assert_eq!(
        (z["name"].as_str(), z["source"].as_str()),
        (Some("Asia/Tokyo"), Some("browser"))
    );
    for hostile in ["../../../etc/localtime", "Mars/Olympus", "%3Cscript%3E"] {
        let z = shell_zone(&app, &ada_browser, Some(hostile)).await;
        assert_eq!(z["name"], "UTC", "{hostile}");
    }

    // A zone the database does not know is refused in words, with a 400.
    let res = app
        .call(
            &ada,
            "/api/attempt/set-time-zone",
            &[("zone", "Mars/Olympus")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("not a time zone Onwatch knows"));
    // A chosen zone wins over the browser's.
    let res = app
        .call(
            &ada,
            "/api/attempt/set-time-zone",
            &[("zone", "America/Los_Angeles")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let z = shell_zone(&app, &ada_browser, Some("Asia/Tokyo")).await;
    assert_eq!(
        (z["name"].as_str(), z["source"].as_str()),
        (Some("America/Los_Angeles"), Some("chosen"))
    );

    // Exports speak it: the audit CSV's `at` carries the person's offset.
    let at = first_at(&export_csv(&app, &ada).await);
    assert!(at.ends_with("-08:00") || at.ends_with("-07:00"), "{at}");
    // Another person is not affected.
    let bo = app.signed_in("bo", "admin").await;
    assert!(first_at(&export_csv(&app, &bo).await).ends_with("+00:00"));

    // Back to the browser's.
    let res = app
        .call(&ada, "/api/attempt/set-time-zone", &[("zone", "")])
        .await;
    assert_eq!(res.status(), 200);
    let z = shell_zone(&app, &ada_browser, Some("Asia/Tokyo")).await;
    assert_eq!(z["source"], "browser");
}

#[tokio::test]
async fn each_person_reads_times_in_their_zone_on_sqlite() {
    zones_on(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn each_person_reads_times_in_their_zone_on_postgres() {
    zones_on(StoreKind::Postgres).await;
}

//! Server-rendered fleet pages against the simulator, with faults. These run on a multi-thread
//! runtime, as the server does in production: the simulator and the server share the test's
//! runtime, and on a single thread a graceful shutdown stalled behind the simulator's listeners.

use std::time::Duration;

use axum::Router;
use ops::sim::{demo_layout, Fault, FleetSim};
use ops::supervisor::habitat::HealthStatus;
use server::config::InventorySourceKind;

use crate::helpers::{spawn_app_with, test_config, StoreKind, TestApp};

async fn app_on_sim(sim: &FleetSim, kind: StoreKind) -> TestApp {
    let (mut config, dir) = test_config(kind).await;
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, sim.fleet_file().to_toml()).unwrap();
    config.inventory.source = InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    config.fleet.interval = Duration::from_millis(200);
    config.fleet.host_timeout = Duration::from_millis(800);
    spawn_app_with(config, dir, Router::new()).await
}

fn inject(sim: &FleetSim, host: &str, fault: Fault) {
    sim.host(host).unwrap().inject(&fault).unwrap();
}

/// The state shown right after `marker` in the page (the first `data-state` that follows).
fn state_after(html: &str, marker: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let s = rest.find("data-state=\"")? + "data-state=\"".len();
    Some(rest[s..s + rest[s..].find('"')?].to_owned())
}

/// The chip of (service, host) in an environment panel, and its state.
fn chip_state(html: &str, host: &str, service: &str) -> Option<String> {
    state_after(
        html,
        &format!("data-host=\"{host}\" data-service=\"{service}\""),
    )
}

/// The chip of a host with no services seen.
fn chip_state_bare(html: &str, host: &str) -> Option<String> {
    state_after(html, &format!("data-host=\"{host}\" title="))
}

/// The text of the first `<h1>` of a page: what the page says it is about.
fn heading(html: &str) -> String {
    let start = html
        .find("<h1")
        .map(|i| i + html[i..].find('>').unwrap() + 1);
    let start = start.unwrap_or_else(|| panic!("no <h1> in {html}"));
    let end = start + html[start..].find("</h1>").unwrap();
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every page route, taken from the router itself, renders on the server with a real fleet's
/// values in its parameters (an admin may see all of them): status 200, the shell, and a
/// heading that names the environment, host or service asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_route_renders_with_real_fleet_values() {
    let sim = FleetSim::start(demo_layout(2)).await.unwrap();
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    let admin = app.signed_in("test-admin", "admin").await;
    let routes = leptos_axum::generate_route_list(app::App);
    assert!(
        routes.len() >= 9,
        "routes: {:?}",
        routes.iter().map(|r| r.path()).collect::<Vec<_>>()
    );
    let host = "builder-api-live-1";
    for route in routes {
        let path = route.path();
        let url = path
            .replace("{env}", "live")
            .replace(":env", "live")
            .replace("{host}", host)
            .replace(":host", host)
            .replace("{slug}", "datastore")
            .replace(":slug", "datastore");
        assert!(
            !url.contains('{') && !url.contains(':'),
            "a parameter left: {url}"
        );
        let res = admin
            .get(format!("{}{url}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let html = res.text().await.unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{url}");
        assert!(
            html.contains("<nav aria-label=\"Sections\""),
            "{url}: shell"
        );
        assert!(
            html.contains("/pkg/onwatch.wasm"),
            "{url}: hydration script"
        );
        let h1 = heading(&html);
        let has = |param: &str| {
            path.contains(&format!(":{param}")) || path.contains(&format!("{{{param}}}"))
        };
        if has("host") {
            assert!(h1.contains(host), "{url}: {h1}");
            assert!(
                state_after(&html, "<h1").as_deref() == Some("healthy"),
                "{url}: the host's own state in its heading"
            );
        } else if has("env") {
            assert_eq!(h1, "Environment live", "{url}");
        } else if has("slug") {
            assert!(h1.starts_with("datastore"), "{url}: {h1}");
        } else {
            assert!(!h1.is_empty(), "{url}: a heading");
        }
    }
}

/// A deep link that points nowhere keeps its helpful text but answers 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_environments_hosts_and_services_answer_404() {
    let sim = FleetSim::start(demo_layout(1)).await.unwrap();
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    for (path, says) in [
        ("/environments/staging", "Unknown environment"),
        ("/environments/live/hosts/no-such-host", "Unknown host"),
        (
            "/environments/staging/hosts/builder-api-live-1",
            "Unknown host",
        ),
        ("/services/nope", "Unknown service"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(heading(&res.text().await.unwrap()), says, "{path}");
    }
    let res = app.get("/environments/live/hosts/builder-api-live-1").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_every_fault_in_words() {
    let sim = FleetSim::start(demo_layout(11)).await.unwrap();
    inject(
        &sim,
        "builder-api-live-1",
        Fault::Health {
            service: "builder-api".into(),
            status: HealthStatus::Critical,
        },
    );
    inject(
        &sim,
        "builder-sessionsrv-live-1",
        Fault::Health {
            service: "builder-sessionsrv".into(),
            status: HealthStatus::Warning,
        },
    );
    inject(
        &sim,
        "builder-originsrv-live-1",
        Fault::Stopped {
            service: "builder-originsrv".into(),
        },
    );
    inject(&sim, "builder-router-acceptance-1", Fault::Down);
    inject(
        &sim,
        "builder-datastore-live-1",
        Fault::SupVersion {
            version: "0.62.0-dev".into(),
        },
    );
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;

    let html = app.get("/").await.text().await.unwrap();
    assert_eq!(
        chip_state(&html, "builder-api-live-1", "builder-api").as_deref(),
        Some("critical")
    );
    assert_eq!(
        chip_state(&html, "builder-sessionsrv-live-1", "builder-sessionsrv").as_deref(),
        Some("warning")
    );
    assert_eq!(
        chip_state(&html, "builder-originsrv-live-1", "builder-originsrv").as_deref(),
        Some("down")
    );
    assert_eq!(
        chip_state(&html, "builder-router-live-1", "builder-router").as_deref(),
        Some("healthy")
    );
    assert_eq!(
        chip_state_bare(&html, "builder-router-acceptance-1").as_deref(),
        Some("unreachable"),
        "a host unreachable from the start has no services to show, and says so"
    );
    for word in ["critical", "warning", "down", "unreachable", "healthy"] {
        assert!(
            html.contains(&format!("<span class=\"state-word\">{word}<")),
            "{word} as a word"
        );
    }
    for kind in [
        "unreachable_host",
        "version_drift",
        "development_supervisor",
    ] {
        assert!(
            html.contains(&format!("data-kind=\"{kind}\"")),
            "alarm {kind}"
        );
    }
    let live = html.find("data-env=\"live\" aria-label").unwrap();
    let acceptance = html.find("data-env=\"acceptance\" aria-label").unwrap();
    assert!(live < acceptance, "live first");

    // Deep links: environment, host (with the hook output), service (with instances).
    let env = app.get("/environments/live").await.text().await.unwrap();
    assert!(env.contains("Instances") && env.contains("builder-datastore-live-1"));
    let host = app
        .get("/environments/live/hosts/builder-api-live-1")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        host.contains("cannot reach the router"),
        "health hook output on the host page"
    );
    let host = app
        .get("/environments/acceptance/hosts/builder-router-acceptance-1")
        .await
        .text()
        .await
        .unwrap();
    assert!(host.contains("Supervisor unreachable"));
    let svc = app.get("/services/originsrv").await.text().await.unwrap();
    assert!(svc.contains("builder-originsrv-live-1") && svc.contains("Package search"));
    let missing = app.get("/environments/nope").await.text().await.unwrap();
    assert!(missing.contains("Unknown environment"));
    let missing = app
        .get("/environments/live/hosts/nope")
        .await
        .text()
        .await
        .unwrap();
    assert!(missing.contains("Unknown host"));

    // Acceptance one release ahead of live on the api.
    let rel = app.get("/releases").await.text().await.unwrap();
    let api_row = &rel[rel.find("<tr data-service=\"builder-api\"").unwrap()..];
    let api_row = &api_row[..api_row.find("</tr>").unwrap()];
    assert!(
        api_row.contains("rel-ahead") && api_row.contains("7611/20180912181703"),
        "{api_row}"
    );

    let broken = app.get("/broken").await.text().await.unwrap();
    assert!(broken.contains("href=\"/services/sessionsrv\"") && broken.contains("My Origins"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_announces_changes() {
    let sim = FleetSim::start(demo_layout(12)).await.unwrap();
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    let res = app.get("/api/fleet/events").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut res = res;
    let first = String::from_utf8(res.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.starts_with("event: fleet\ndata: "), "{first}");
    let v0: u64 = first
        .trim_start_matches("event: fleet\ndata: ")
        .trim()
        .parse()
        .unwrap();
    inject(
        &sim,
        "builder-api-live-1",
        Fault::Health {
            service: "builder-api".into(),
            status: HealthStatus::Critical,
        },
    );
    let next = tokio::time::timeout(Duration::from_secs(3), res.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let next = String::from_utf8(next.to_vec()).unwrap();
    let v1: u64 = next
        .trim_start_matches("event: fleet\ndata: ")
        .trim()
        .parse()
        .unwrap();
    assert!(v1 > v0, "{v0} then {v1}");
}

/// A second Onwatch on the same store (a restart, or another replica) sees the history the
/// first one recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_history_survives_a_restart() {
    let sim = FleetSim::start(demo_layout(13)).await.unwrap();
    let (mut config, dir) = test_config(StoreKind::Postgres).await;
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, sim.fleet_file().to_toml()).unwrap();
    config.inventory.source = InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    config.fleet.interval = Duration::from_millis(200);
    inject(
        &sim,
        "builder-jobsrv-live-1",
        Fault::Health {
            service: "builder-jobsrv".into(),
            status: HealthStatus::Critical,
        },
    );
    // The first instance records the critical spell during its first poll, before it serves.
    let first = spawn_app_with(config.clone(), tempfile::tempdir().unwrap(), Router::new()).await;
    first.handle.abort();

    inject(&sim, "builder-jobsrv-live-1", Fault::Clear);
    let second = spawn_app_with(config, dir, Router::new()).await;
    let html = tokio::time::timeout(Duration::from_secs(20), async {
        second.get("/services/jobsrv").await.text().await.unwrap()
    })
    .await
    .expect("the service page renders");
    assert!(
        html.contains("<strong>critical<"),
        "the critical spell from before the restart is in the history"
    );
    assert!(
        html.contains("data-state=\"healthy\""),
        "and the service is healthy now"
    );
}

/// The part of the page from `start` to the next `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in the page"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_environments_draw_their_problems_and_count_the_rest() {
    use ops::sim::synthetic_layout;
    // 50 hosts per environment (above the dashboard's 40), three services each.
    let sim = FleetSim::start(synthetic_layout(100, 3, 21)).await.unwrap();
    inject(
        &sim,
        "host-0002",
        Fault::Health {
            service: "svc-1".into(),
            status: HealthStatus::Critical,
        },
    );
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;

    let html = app.get("/").await.text().await.unwrap();
    let live = between(
        &html,
        "aria-label=\"environment live\"",
        "aria-label=\"environment acceptance\"",
    );
    assert_eq!(
        chip_state(live, "host-0002", "svc-1").as_deref(),
        Some("critical")
    );
    // Healthy pairs are counted, not drawn, the failing host's healthy services too.
    assert_eq!(chip_state(live, "host-0002", "svc-0"), None);
    assert_eq!(chip_state(live, "host-0004", "svc-1"), None);
    let row =
        |svc: &str| between(live, &format!("<tr data-service=\"{svc}\">"), "</tr>").to_owned();
    assert!(row("svc-0").contains("+50 healthy"), "{}", row("svc-0"));
    assert!(row("svc-1").contains("+49 healthy"), "{}", row("svc-1"));

    // What reaches the browser on each live update is as small: the failing service alone,
    // without the fields the dashboard does not draw.
    let res = app
        .call(
            &app.client,
            "/api/read/dashboard",
            &[("collapse_above", "40")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let hosts = &body["environments"][0]["hosts"];
    assert_eq!(body["environments"][0]["name"], "live");
    assert_eq!(hosts.as_array().map(Vec::len), Some(1), "{hosts}");
    assert_eq!(hosts[0]["name"], "host-0002");
    let services = hosts[0]["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{services:?}");
    assert_eq!(services[0]["service"], "svc-1");
    assert_eq!(services[0]["cell"], "critical");
    assert!(services[0].get("ident").is_none(), "{services:?}");

    // A Supervisor that stops answering is one problem: one chip in the whole-host row, not
    // one per service.
    inject(&sim, "host-0006", Fault::Down);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let html = loop {
        let html = app.get("/").await.text().await.unwrap();
        if html.contains("data-host=\"host-0006\"") {
            break html;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "host-0006 never shown as down"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let live = between(
        &html,
        "aria-label=\"environment live\"",
        "aria-label=\"environment acceptance\"",
    );
    assert_eq!(
        chip_state_bare(live, "host-0006").as_deref(),
        Some("unreachable")
    );
    assert_eq!(chip_state(live, "host-0006", "svc-0"), None);
    assert!(live.contains("whole host"));

    // The environment page draws every pair.
    let env = app.get("/environments/live").await.text().await.unwrap();
    assert_eq!(
        chip_state(&env, "host-0002", "svc-0").as_deref(),
        Some("healthy")
    );
    assert_eq!(
        chip_state(&env, "host-0002", "svc-1").as_deref(),
        Some("critical")
    );
    // The host page still has the whole host.
    let host = app
        .get("/environments/live/hosts/host-0002")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        host.contains("habitat/svc-0/1.0.0/20180101000000"),
        "the host page shows idents"
    );
}

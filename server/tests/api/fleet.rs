//! Server-rendered fleet pages against the simulator, with faults. These run on a multi-thread
//! runtime, as the server does in production: the simulator and the server share the test's
//! runtime, and on a single thread a graceful shutdown stalled behind the simulator's listeners.

use std::time::Duration;

use axum::Router;
use fleet_sim::{demo_layout, Fault, FleetSim};
use ops::supervisor::habitat::HealthStatus;
use server::config::InventorySourceKind;

use crate::dom::{inside, text, Page};
use crate::helpers::{spawn_app_with, test_config, StoreKind, TestApp};

async fn app_on_sim(sim: &FleetSim, kind: StoreKind) -> TestApp {
    let (mut config, dir) = test_config(kind).await;
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, sim.fleet_file().to_toml()).unwrap();
    config.inventory.source = InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    config.fleet.interval = Duration::from_millis(200);
    config.fleet.host_timeout = Duration::from_millis(800);
    // The simulator's control-gateway secret: pages offer working restart buttons.
    for env in config.environments.values_mut() {
        env.ctl_secret = Some("demo-ctl-secret".to_owned().into());
    }
    spawn_app_with(config, dir, Router::new()).await
}

fn inject(sim: &FleetSim, host: &str, fault: Fault) {
    sim.host(host).unwrap().inject(&fault).unwrap();
}

/// Makes `service`'s health check on `host` answer `status`.
fn fail_health(sim: &FleetSim, host: &str, service: &str, status: HealthStatus) {
    inject(
        sim,
        host,
        Fault::Health {
            service: service.into(),
            status,
        },
    );
}

/// The state of the chip of (service, host): the `data-state` of the state cell inside it.
fn chip_state(page: &Page, host: &str, service: &str) -> Option<String> {
    let chip = page.first(&format!(
        ".chip[data-host=\"{host}\"][data-service=\"{service}\"]"
    ))?;
    inside(chip, "[data-state]")
        .first()
        .and_then(|s| s.value().attr("data-state").map(str::to_owned))
}

/// The state of a host's chip in the whole-host row (a host with no services seen).
fn chip_state_bare(page: &Page, host: &str) -> Option<String> {
    let chip = page.first(&format!("a.chip[data-host=\"{host}\"]:not([data-service])"))?;
    inside(chip, "[data-state]")
        .first()
        .and_then(|s| s.value().attr("data-state").map(str::to_owned))
}

/// One environment's panel of the dashboard, as its own page to query.
fn panel(page: &Page, env: &str) -> Page {
    Page::parse(
        &page
            .one(&format!("[aria-label=\"environment {env}\"]"))
            .html(),
    )
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
    let action = crate::actions::an_acceptance_restart(&app.address, &admin).await;
    let declared = crate::oncall::json(
        &app,
        &admin,
        "/api/act/incident-declare",
        &[
            ("title", "API errors"),
            ("impact", "minor"),
            ("services", "api"),
            ("body", "We're looking."),
        ],
    )
    .await;
    let incident = declared["message"].as_str().unwrap().to_owned();
    for route in routes {
        let path = route.path();
        // `{id}` is an action's id, or an incident's on the incidents' page.
        let id = if path.starts_with("/incidents") {
            &incident
        } else {
            &action
        };
        let url = path
            .replace("{id}", id)
            .replace(":id", id)
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
        let page = Page::parse(&html);
        page.one("nav[aria-label=\"Sections\"]");
        let h1 = page.text("h1");
        let has = |param: &str| {
            path.contains(&format!(":{param}")) || path.contains(&format!("{{{param}}}"))
        };
        // The fleet's content, where each page shows it.
        if has("host") {
            assert!(h1.contains(host), "{url}: {h1}");
            assert_eq!(
                page.attr("h1 [data-state]", "data-state").as_deref(),
                Some("healthy"),
                "{url}: the host's own state in its heading"
            );
            let row = page.one("table.services-table tr[data-service=\"builder-api\"]");
            assert_eq!(
                inside(row, "[data-state]")[0].value().attr("data-state"),
                Some("healthy"),
                "{url}: the service's row"
            );
        } else if has("env") {
            assert_eq!(h1, "Environment live", "{url}");
            let hosts: Vec<String> = page
                .all("table.instances tbody tr")
                .into_iter()
                .map(text)
                .collect();
            assert!(
                hosts.iter().any(|r| r.contains(host)),
                "{url}: the instances table lists {host}: {hosts:?}"
            );
            assert_eq!(
                chip_state(&page, host, "builder-api").as_deref(),
                Some("healthy")
            );
        } else if has("slug") {
            assert!(h1.starts_with("datastore"), "{url}: {h1}");
            assert!(
                !page.all("table.symptoms tbody tr").is_empty(),
                "{url}: symptoms and remedies"
            );
        } else if path == "/" {
            let live = panel(&page, "live");
            assert_eq!(
                chip_state(&live, host, "builder-api").as_deref(),
                Some("healthy"),
                "{url}: the dashboard draws the fleet"
            );
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
        assert_eq!(
            Page::parse(&res.text().await.unwrap()).text("h1"),
            says,
            "{path}"
        );
    }
    let res = app.get("/environments/live/hosts/builder-api-live-1").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_every_fault_in_words() {
    let sim = FleetSim::start(demo_layout(11)).await.unwrap();
    fail_health(
        &sim,
        "builder-api-live-1",
        "builder-api",
        HealthStatus::Critical,
    );
    fail_health(
        &sim,
        "builder-sessionsrv-live-1",
        "builder-sessionsrv",
        HealthStatus::Warning,
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
    let page = Page::parse(&html);
    assert_eq!(
        chip_state(&page, "builder-api-live-1", "builder-api").as_deref(),
        Some("critical")
    );
    assert_eq!(
        chip_state(&page, "builder-sessionsrv-live-1", "builder-sessionsrv").as_deref(),
        Some("warning")
    );
    assert_eq!(
        chip_state(&page, "builder-originsrv-live-1", "builder-originsrv").as_deref(),
        Some("down")
    );
    assert_eq!(
        chip_state(&page, "builder-router-live-1", "builder-router").as_deref(),
        Some("healthy")
    );
    assert_eq!(
        chip_state_bare(&page, "builder-router-acceptance-1").as_deref(),
        Some("unreachable"),
        "a host unreachable from the start has no services to show, and says so"
    );
    let words: Vec<String> = page
        .all(".chip .state-word")
        .into_iter()
        .map(text)
        .collect();
    for word in ["critical", "warning", "down", "unreachable", "healthy"] {
        assert!(
            words.iter().any(|w| w == word),
            "{word} as a word: {words:?}"
        );
    }
    for kind in [
        "unreachable_host",
        "version_drift",
        "development_supervisor",
    ] {
        let alarm = page.one(&format!("li[data-kind=\"{kind}\"]"));
        assert!(!text(alarm).is_empty(), "alarm {kind} says something");
    }
    let order: Vec<String> = page
        .all("[aria-label^=\"environment \"][data-env]")
        .into_iter()
        .filter_map(|e| e.value().attr("data-env").map(str::to_owned))
        .collect();
    assert_eq!(order, ["live", "acceptance"], "live first");

    // Deep links: environment, host (with the hook output), service (with instances).
    let page_of = |html: String| Page::parse(&html);
    let env = page_of(app.get("/environments/live").await.text().await.unwrap());
    let rows: Vec<String> = env
        .all("table.instances tbody tr")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        rows.iter().any(|r| r.contains("builder-datastore-live-1")),
        "{rows:?}"
    );
    let host = page_of(
        app.get("/environments/live/hosts/builder-api-live-1")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(
        host.text("tr[data-service=\"builder-api\"] pre.hook-output")
            .contains("cannot reach the router"),
        "health hook output in the service's row of the host page"
    );
    let host = page_of(
        app.get("/environments/acceptance/hosts/builder-router-acceptance-1")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(host
        .text(".callout-error strong")
        .starts_with("Supervisor unreachable"));
    let svc = page_of(app.get("/services/originsrv").await.text().await.unwrap());
    let instances: Vec<String> = svc.all("tr[data-host]").into_iter().map(text).collect();
    assert!(
        instances
            .iter()
            .any(|r| r.contains("builder-originsrv-live-1")),
        "{instances:?}"
    );
    let symptoms: Vec<String> = svc
        .all("table.symptoms tbody tr")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        symptoms.iter().any(|r| r.contains("Package search")),
        "{symptoms:?}"
    );
    let res = app.get("/environments/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        page_of(res.text().await.unwrap()).text("h1"),
        "Unknown environment"
    );
    let res = app.get("/environments/live/hosts/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        page_of(res.text().await.unwrap()).text("h1"),
        "Unknown host"
    );

    // Acceptance one release ahead of live on the api.
    let rel = page_of(app.get("/releases").await.text().await.unwrap());
    let api_row = rel.one("tr[data-service=\"builder-api\"]");
    let ahead: Vec<String> = inside(api_row, ".rel-ahead")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        ahead.iter().any(|c| c.contains("7611/20180912181703")),
        "the release ahead is marked: {ahead:?} in {}",
        text(api_row)
    );

    let broken = page_of(app.get("/broken").await.text().await.unwrap());
    let symptoms: Vec<String> = broken
        .all("a.symptom[href=\"/services/sessionsrv\"]")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        symptoms.iter().any(|s| s.contains("My Origins")),
        "{symptoms:?}"
    );
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
    let mut events = SseEvents::new(res);
    let (kind, first) = events.next().await;
    assert_eq!(kind, "fleet", "the fleet's version comes first");
    let v0: u64 = first.parse().unwrap();
    fail_health(
        &sim,
        "builder-api-live-1",
        "builder-api",
        HealthStatus::Critical,
    );
    let v1: u64 = events.next_of("fleet").await.parse().unwrap();
    assert!(v1 > v0, "{v0} then {v1}");
}

/// What every page's header shows is announced too (`header`, a fingerprint): at once, and
/// again when it changes, so that a page open since before an incident was declared shows it
/// without a reload (#28: the header followed nothing).
#[tokio::test]
async fn the_event_stream_announces_a_changed_header() {
    let sim = FleetSim::start(demo_layout(14)).await.unwrap();
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    let mut events = SseEvents::new(app.get("/api/fleet/events").await);
    let h0 = events.next_of("header").await;
    let responder = app.signed_in("decl", "responder").await;
    declare_incident(&app, &responder, "API errors").await;
    let h1 = events.next_of("header").await;
    assert_ne!(h0, h1, "the header changed");
    // The page's own shell data names the same header, so a page drawn now does not reread it.
    let shell: serde_json::Value = app
        .call(&app.client, "/api/read/shell-info", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shell["header_version"].to_string(), h1);
    assert_eq!(shell["incidents"][0]["title"], "API errors");
}

/// Declares a major incident on the API as `responder`, and checks it was.
async fn declare_incident(app: &TestApp, responder: &reqwest::Client, title: &str) {
    let res = app
        .call(
            responder,
            "/api/act/incident-declare",
            &[
                ("title", title),
                ("impact", "major"),
                ("services", "api"),
                ("body", "We're looking into it."),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let done: serde_json::Value = res.json().await.unwrap();
    assert_eq!(done["ok"], true, "{done}");
}

/// The events of a server-sent event stream, one `(event, data)` at a time.
struct SseEvents {
    res: reqwest::Response,
    buf: String,
}

impl SseEvents {
    fn new(res: reqwest::Response) -> SseEvents {
        assert_eq!(res.status(), 200);
        SseEvents {
            res,
            buf: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), within 5 s.
    async fn next(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut kind = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(k) = line.strip_prefix("event: ") {
                        kind = k.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = d.to_owned();
                    }
                }
                if !kind.is_empty() {
                    return (kind, data);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.res.chunk())
                .await
                .expect("an event within 5 s")
                .unwrap()
                .expect("the stream is open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The data of the next event of `kind`, the others skipped.
    async fn next_of(&mut self, kind: &str) -> String {
        loop {
            let (k, data) = self.next().await;
            if k == kind {
                return data;
            }
        }
    }
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
    fail_health(
        &sim,
        "builder-jobsrv-live-1",
        "builder-jobsrv",
        HealthStatus::Critical,
    );
    // The first instance records the critical spell during its first poll, before it serves,
    // then shuts down cleanly (closing its watch period).
    let first = spawn_app_with(config.clone(), tempfile::tempdir().unwrap(), Router::new()).await;
    first.shutdown.shutdown();
    first.handle.await.unwrap().unwrap();

    // While no Onwatch watches (2 s: the scenario, not a wait for an event), the service recovers.
    inject(&sim, "builder-jobsrv-live-1", Fault::Clear);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = spawn_app_with(config, dir, Router::new()).await;
    let html = tokio::time::timeout(Duration::from_secs(20), async {
        second.get("/services/jobsrv").await.text().await.unwrap()
    })
    .await
    .expect("the service page renders");
    let page = Page::parse(&html);
    let changes: Vec<String> = page
        .all("table.history tbody tr td strong")
        .into_iter()
        .map(text)
        .collect();
    assert!(
        changes.iter().any(|c| c == "critical"),
        "the critical spell from before the restart is in the history: {changes:?}"
    );
    let now: Vec<String> = page
        .all("tr[data-host=\"builder-jobsrv-live-1\"] [data-state]")
        .into_iter()
        .filter_map(|e| e.value().attr("data-state").map(str::to_owned))
        .collect();
    assert_eq!(now, ["healthy"], "and the service is healthy now");

    // The time no Onwatch watched is a gap between the changes, not a change; the recovery
    // found after it says that it happened at some moment during the gap.
    let kinds: Vec<&str> = page
        .all("table.history tbody tr")
        .into_iter()
        .filter_map(|r| r.value().attr("data-kind"))
        .collect();
    let gap_at = kinds.iter().position(|k| *k == "gap");
    assert!(gap_at.is_some(), "a gap row among {kinds:?}");
    let gap = page
        .first("table.history tr[data-kind=\"gap\"]")
        .map(text)
        .unwrap_or_default();
    assert!(
        gap.contains("Onwatch was not watching") && gap.contains("shut down cleanly"),
        "{gap}"
    );
    let recovery = page
        .all("table.history tr[data-kind=\"change\"]")
        .into_iter()
        .map(text)
        .find(|t| t.contains("builder-jobsrv-live-1") && t.contains("critical → healthy"))
        .unwrap_or_else(|| panic!("the recovery row in {kinds:?}"));
    assert!(
        recovery.contains("Found so when Onwatch started watching again"),
        "{recovery}"
    );

    // A restart of Onwatch is not a change of the fleet: a service that was healthy before and
    // after has its one first sighting in the history, not one per start of Onwatch; the
    // service that recovered meanwhile has its real change.
    use sqlx::{Connection, Row};
    let mut conn = sqlx::AnyConnection::connect(&second.store_url)
        .await
        .unwrap();
    let count = |host: &str, service: &str| {
        format!("SELECT COUNT(*) AS n FROM service_transitions WHERE host = '{host}' AND service = '{service}'")
    };
    let api: i64 = sqlx::query(&count("builder-api-live-1", "builder-api.live"))
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    assert_eq!(api, 1, "only the first sighting of a steady service");
    let jobsrv: i64 = sqlx::query(&count("builder-jobsrv-live-1", "builder-jobsrv.live"))
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    assert_eq!(jobsrv, 2, "first critical, then the real recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_environments_draw_their_problems_and_count_the_rest() {
    use fleet_sim::synthetic_layout;
    // 50 hosts per environment (above the dashboard's 40), three services each.
    let sim = FleetSim::start(synthetic_layout(100, 3, 21)).await.unwrap();
    fail_health(&sim, "host-0002", "svc-1", HealthStatus::Critical);
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;

    let html = app.get("/").await.text().await.unwrap();
    let live = panel(&Page::parse(&html), "live");
    assert_eq!(
        chip_state(&live, "host-0002", "svc-1").as_deref(),
        Some("critical")
    );
    // Healthy pairs are counted, not drawn, the failing host's healthy services too.
    assert_eq!(chip_state(&live, "host-0002", "svc-0"), None);
    assert_eq!(chip_state(&live, "host-0004", "svc-1"), None);
    let count = |svc: &str| live.text(&format!("tr[data-service=\"{svc}\"] .muted.small"));
    assert_eq!(count("svc-0"), "+50 healthy");
    assert_eq!(count("svc-1"), "+49 healthy");

    // What reaches the browser on each live update is as small: the failing service alone,
    // without the fields the dashboard does not draw.
    let res = app.call(&app.client, "/api/read/dashboard", &[]).await;
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
    let live = loop {
        let html = app.get("/").await.text().await.unwrap();
        let live = panel(&Page::parse(&html), "live");
        if live.first("[data-host=\"host-0006\"]").is_some() {
            break live;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "host-0006 never shown as down"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        chip_state_bare(&live, "host-0006").as_deref(),
        Some("unreachable")
    );
    assert_eq!(chip_state(&live, "host-0006", "svc-0"), None);
    assert_eq!(live.text("tr[data-service=\"\"] th"), "whole host");

    // The environment page draws every pair.
    let env = Page::parse(&app.get("/environments/live").await.text().await.unwrap());
    assert_eq!(
        chip_state(&env, "host-0002", "svc-0").as_deref(),
        Some("healthy")
    );
    assert_eq!(
        chip_state(&env, "host-0002", "svc-1").as_deref(),
        Some("critical")
    );
    // The host page still has the whole host.
    let host = Page::parse(
        &app.get("/environments/live/hosts/host-0002")
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        host.first("tr[data-service=\"svc-0\"] td.mono")
            .map(text)
            .unwrap_or_default(),
        "habitat/svc-0/1.0.0/20180101000000",
        "the host page shows idents"
    );
}

/// What Onwatch sees of the fleet is in `/metrics`, so the team's Prometheus can alert on it:
/// services by state, hosts by reachability, Supervisor visit latency, the inventory's age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_metrics_tell_prometheus_what_onwatch_sees() {
    let sim = FleetSim::start(demo_layout(14)).await.unwrap();
    fail_health(
        &sim,
        "builder-api-live-1",
        "builder-api",
        HealthStatus::Critical,
    );
    inject(&sim, "builder-router-acceptance-1", Fault::Down);
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    let res = app.metrics().await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value(r#"onwatch_fleet_services{environment="live",state="critical"}"#),
        1.0
    );
    assert_eq!(
        value(r#"onwatch_fleet_hosts{environment="acceptance",reachability="unreachable"}"#),
        1.0
    );
    assert_eq!(
        value(r#"onwatch_fleet_hosts{environment="live",reachability="unreachable"}"#),
        0.0,
        "every series exists, at 0 when nothing is in it"
    );
    assert!(value(r#"onwatch_fleet_services{environment="live",state="healthy"}"#) >= 5.0);
    assert!(
        value(r#"onwatch_supervisor_poll_duration_seconds_count{environment="live",outcome="ok"}"#)
            >= 1.0
    );
    assert!(
        value(
            r#"onwatch_supervisor_poll_duration_seconds_count{environment="acceptance",outcome="failed"}"#
        ) >= 1.0
    );
    let age = value(r#"onwatch_inventory_age_seconds{environment="live"}"#);
    assert!((0.0..60.0).contains(&age), "inventory age {age}");
    assert_eq!(
        value(r#"onwatch_inventory_failing{environment="live"}"#),
        0.0
    );
    // The poller keeps up: the least recently seen reachable Supervisor was seen moments ago.
    let lag = value(r#"onwatch_fleet_oldest_seen_seconds{environment="live"}"#);
    assert!(lag > 0.0 && lag < 5.0, "oldest seen {lag} s ago");
}

/// Instances tagged with an environment that is not configured are not shown or polled; the
/// dashboard says in one line how many carry which tag, and what was probably meant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misspelt_environment_tags_are_one_line_not_an_environment() {
    let sim = FleetSim::start(demo_layout(15)).await.unwrap();
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    let fleet_file = dir.path().join("fleet.toml");
    let mut toml = sim.fleet_file().to_toml();
    for (env, name) in [
        ("Live", "typo-1"),
        ("Live", "typo-2"),
        ("staging", "stage-1"),
    ] {
        toml.push_str(&format!(
            "\n[[hosts]]\nenvironment = \"{env}\"\nname = \"{name}\"\naddress = \"127.0.0.1\"\ngateway_port = 9\n"
        ));
    }
    std::fs::write(&fleet_file, toml).unwrap();
    config.inventory.source = InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    let app = spawn_app_with(config, dir, Router::new()).await;
    let page = Page::parse(&app.get("/").await.text().await.unwrap());
    let line = page.text("[data-testid=\"unconfigured\"]");
    assert!(
        line.contains("2 instances tagged Live — did you mean live"),
        "{line}"
    );
    assert!(line.contains("1 instance tagged staging"), "{line}");
    let envs: Vec<String> = page
        .all("[aria-label^=\"environment \"][data-env]")
        .into_iter()
        .filter_map(|e| e.value().attr("data-env").map(str::to_owned))
        .collect();
    assert_eq!(envs, ["live", "acceptance"], "no environment of its own");
    assert!(page.first("[data-host=\"typo-1\"]").is_none(), "not drawn");
}

/// The hydration data a page carries: the payload of every `__RESOLVED_RESOURCES[n] = "…"`.
fn resolved_resources(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("__RESOLVED_RESOURCES[") {
        rest = &rest[at..];
        let Some(open) = rest.find("= \"") else { break };
        let body = &rest[open + 3..];
        // The payload is a JS string literal: it ends at the first quote not escaped.
        let mut end = 0;
        let bytes = body.as_bytes();
        while end < bytes.len() && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\')) {
            end += 1;
        }
        out.push(body[..end].to_owned());
        rest = &body[end..];
    }
    out
}

fn without_clock(payload: &str) -> String {
    let mut out = String::new();
    let mut rest = payload;
    while let Some(at) = rest.find("now_ms\\\":") {
        let (before, after) = rest.split_at(at + "now_ms\\\":".len());
        out.push_str(before);
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// Each page sends what it draws once: no resource is written twice into one response (the
/// service page used to carry its instances and history three times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_sends_its_data_once() {
    let sim = FleetSim::start(demo_layout(17)).await.unwrap();
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    for path in [
        "/",
        "/environments/live",
        "/environments/live/hosts/builder-api-live-1",
        "/services",
        "/services/api",
        "/releases",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let html = res.text().await.unwrap();
        // A copy made a millisecond later differs only in its clock: compare without it.
        let data: Vec<String> = resolved_resources(&html)
            .into_iter()
            .map(|d| without_clock(&d))
            .collect();
        for (i, a) in data.iter().enumerate() {
            for b in &data[i + 1..] {
                assert!(a != b, "{path} carries the same data twice: {a:.200}");
            }
        }
        if path == "/services/api" {
            let instances = data.iter().filter(|d| d.contains("instances")).count();
            assert_eq!(instances, 1, "the service page's instances, once");
        }
    }
}

/// What the dashboard builds is the server's choice: a viewer who asks for another threshold
/// (each a different cache key, once) gets the configured cut, and the configuration decides.
#[tokio::test]
async fn the_dashboards_cut_is_configured_not_chosen_by_the_request() {
    let sim = FleetSim::start(fleet_sim::synthetic_layout(100, 2, 22))
        .await
        .unwrap();
    fail_health(&sim, "host-0002", "svc-1", HealthStatus::Critical);
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    // Wait until the failing service is seen, so that both answers below are of a polled fleet.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let html = app.get("/").await.text().await.unwrap();
        let live = panel(&Page::parse(&html), "live");
        if chip_state(&live, "host-0002", "svc-1").as_deref() == Some("critical") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "host-0002 never seen critical"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for asked in ["1", "1000", "lots"] {
        let res = app
            .call(
                &app.client,
                "/api/read/dashboard",
                &[("collapse_above", asked)],
            )
            .await;
        assert_eq!(res.status(), 200, "collapse_above={asked}");
        let body: serde_json::Value = res.json().await.unwrap();
        let hosts = body["environments"][0]["hosts"].as_array().unwrap();
        let names: Vec<&str> = hosts.iter().filter_map(|h| h["name"].as_str()).collect();
        assert_eq!(names, ["host-0002"], "collapse_above={asked}");
    }

    // Configured above the fleet's size: every host is drawn.
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, sim.fleet_file().to_toml()).unwrap();
    config.inventory.source = InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    config.fleet.interval = Duration::from_millis(200);
    config.fleet.dashboard_collapse_above = 500;
    let wide = spawn_app_with(config, dir, Router::new()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let res = wide.call(&wide.client, "/api/read/dashboard", &[]).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        let live = &body["environments"][0];
        // Every one of live's hosts (more than the default 40 would draw), none counted instead.
        let drawn = live["hosts"].as_array().map_or(0, Vec::len);
        if drawn > 40 {
            assert!(
                live["healthy_omitted"].is_null(),
                "{}",
                live["healthy_omitted"]
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the whole fleet never drawn: {live}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `onwatch_page_cache_total{result=…}` as `/metrics` reports it now.
async fn page_cache_count(app: &TestApp, result: &str) -> u64 {
    let body = app.metrics().await.text().await.unwrap();
    let series = format!("onwatch_page_cache_total{{result=\"{result}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// A page, the nonce its policy names, and the page with that nonce blanked out.
async fn page_and_nonce(app: &TestApp, client: &reqwest::Client) -> (String, String, String) {
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let start = csp.find("'nonce-").expect("a nonce") + "'nonce-".len();
    let nonce = csp[start..].split('\'').next().unwrap().to_owned();
    let html = res.text().await.unwrap();
    let blank = html.replace(&nonce, "NONCE");
    (html, nonce, blank)
}

/// The dashboard's whole page is kept and sent again while what it shows is the same
/// (server/src/page_cache.rs), and never once it is not: each person gets their own page, each
/// answer carries its own nonce on every script, and a new incident or a fleet change shows at
/// once. Each of these fails if the cache's key leaves out that input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_page_is_kept_for_what_it_shows_and_never_shown_stale() {
    let sim = FleetSim::start(demo_layout(15)).await.unwrap();
    let app = app_on_sim(&sim, StoreKind::Sqlite).await;
    let alice = app.signed_in("alice", "responder").await;

    // Kept: requests in a row within one fleet snapshot are answered from the cache, with the
    // same page as drawn but this answer's nonce on every script (never the marker's).
    let mut checked = false;
    for _ in 0..20 {
        let hits = page_cache_count(&app, "hit").await;
        let (_, _, first) = page_and_nonce(&app, &app.client).await;
        let (html, nonce, second) = page_and_nonce(&app, &app.client).await;
        if page_cache_count(&app, "hit").await > hits {
            // Between the two, only the nonce may differ (the second may be a newer snapshot
            // when the first was drawn just before it changed; then this round proves nothing
            // and the next one is tried).
            if first != second {
                continue;
            }
            let page = Page::parse(&html);
            let scripts = page.all("script:not([type=\"application/json\"])");
            assert!(!scripts.is_empty());
            for s in scripts {
                assert_eq!(
                    s.value().attr("nonce"),
                    Some(nonce.as_str()),
                    "{}",
                    s.html()
                );
            }
            assert_eq!(
                html.matches("nonce=\"").count(),
                html.matches(&format!("nonce=\"{nonce}\"")).count(),
                "every nonce in the page is this answer's"
            );
            checked = true;
            break;
        }
    }
    assert!(checked, "no page was sent from the cache as it was drawn");

    // Each person their own page, even right after someone else's was kept.
    for _ in 0..5 {
        let (viewer, _, _) = page_and_nonce(&app, &app.client).await;
        let (theirs, _, _) = page_and_nonce(&app, &alice).await;
        assert_eq!(
            text(Page::parse(&viewer).one("[data-testid=viewer] .viewer-name")),
            "test-viewer"
        );
        assert_eq!(
            text(Page::parse(&theirs).one("[data-testid=viewer] .viewer-name")),
            "alice"
        );
    }

    // A new incident is in the header of the very next page.
    let _warm = page_and_nonce(&app, &app.client).await;
    declare_incident(&app, &alice, "Cached header check").await;
    let (html, _, _) = page_and_nonce(&app, &app.client).await;
    let strip = Page::parse(&html);
    assert!(
        text(strip.one("[data-testid=incident-strip]")).contains("Cached header check"),
        "the incident is in the next page's header"
    );

    // A fleet change reaches the page as soon as the poller has seen it.
    let (html, _, _) = page_and_nonce(&app, &app.client).await;
    assert_eq!(
        chip_state(&Page::parse(&html), "builder-api-live-1", "builder-api").as_deref(),
        Some("healthy")
    );
    fail_health(
        &sim,
        "builder-api-live-1",
        "builder-api",
        HealthStatus::Critical,
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (html, _, _) = page_and_nonce(&app, &app.client).await;
        if chip_state(&Page::parse(&html), "builder-api-live-1", "builder-api").as_deref()
            == Some("critical")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the fault never reached the page"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page_cache_count(&app, "miss").await >= 2);
}

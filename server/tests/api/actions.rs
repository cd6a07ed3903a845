//! Guarded actions against the simulator's control gateway, through the real server: the
//! restart seen in the fleet model, every guard refusing on its own, one action per host under
//! concurrency, idempotency, and every attempt in the hash-chained audit log.

use std::time::Duration;

use axum::Router;
use fleet_sim::{demo_layout, FleetSim};
use server::config::InventorySourceKind;
use sqlx::{Connection, Row};

use crate::helpers::{spawn_app_with, test_config, StoreKind, TestApp};

/// An Onwatch on the simulated fleet, with the control-gateway secret `secret` for both
/// environments (none: no executor), no cooldown unless the test sets one.
pub(crate) async fn app_with(
    sim: &FleetSim,
    kind: StoreKind,
    secret: Option<&str>,
    tune: impl FnOnce(&mut server::config::Config),
) -> TestApp {
    let (mut config, dir) = test_config(kind).await;
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, sim.fleet_file().to_toml()).unwrap();
    config.inventory.source = InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    config.fleet.interval = Duration::from_millis(200);
    config.fleet.host_timeout = Duration::from_millis(800);
    config.actions.cooldown = Duration::ZERO;
    config.actions.restart_timeout = Duration::from_secs(20);
    for env in config.environments.values_mut() {
        env.ctl_secret = secret.map(|s| s.to_owned().into());
    }
    tune(&mut config);
    spawn_app_with(config, dir, Router::new()).await
}

pub(crate) struct Restart<'a> {
    pub(crate) kind: &'a str,
    pub(crate) env: &'a str,
    pub(crate) host: &'a str,
    pub(crate) group: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) confirmation: &'a str,
    pub(crate) tried: &'a str,
    pub(crate) key: String,
}

impl<'a> Restart<'a> {
    pub(crate) fn acceptance_api() -> Restart<'a> {
        Restart {
            kind: "restart_service",
            env: "acceptance",
            host: "builder-api-acceptance-1",
            group: "builder-api.acceptance",
            reason: "502s from the depot",
            confirmation: "builder-api",
            tried: "",
            key: ops::auth::random_token(),
        }
    }
}

/// Sends the restart as the browser does; the answer's JSON (`Started` or `Refused`).
pub(crate) async fn restart(
    addr: &str,
    client: &reqwest::Client,
    r: &Restart<'_>,
) -> serde_json::Value {
    let res = client
        .post(format!("{addr}/api/attempt/action"))
        .header("origin", addr)
        .form(&[
            ("kind", r.kind),
            ("environment", r.env),
            ("host", r.host),
            ("service_group", r.group),
            ("reason", r.reason),
            ("confirmation", r.confirmation),
            ("tried_in_acceptance", r.tried),
            ("idempotency_key", &r.key),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    res.json().await.unwrap()
}

pub(crate) fn refusing_guards(answer: &serde_json::Value) -> Vec<String> {
    answer["Refused"]["verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("not refused: {answer}"))
        .iter()
        .filter(|v| v["level"] == "refuse")
        .map(|v| v["guard"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Follows the action's event stream until it ends; its last progress.
pub(crate) async fn follow(addr: &str, client: &reqwest::Client, id: &str) -> serde_json::Value {
    let res = client
        .get(format!("{addr}/api/actions/{id}/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut res = res;
    let mut buf = String::new();
    let mut last = serde_json::Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, res.chunk()).await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                last = serde_json::from_str(data).unwrap();
            }
        }
    }
    assert_ne!(
        last["state"], "running",
        "the stream ended before the action: {last}"
    );
    last
}

/// The audit rows of one action, as (kind, outcome), in order.
pub(crate) async fn action_audit(app: &TestApp, id: &str) -> Vec<(String, String)> {
    audit_kinds(app)
        .await
        .into_iter()
        .filter(|(_, _, a)| a == id)
        .map(|(k, o, _)| (k, o))
        .collect()
}

pub(crate) async fn audit_kinds(app: &TestApp) -> Vec<(String, String, String)> {
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    sqlx::query("SELECT kind, outcome, action_id FROM audit_log ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("kind"), r.get("outcome"), r.get("action_id")))
        .collect()
}

fn pid_of(sim: &FleetSim, host: &str) -> Option<u32> {
    let state = sim.host(host).unwrap().state_json();
    state["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "builder-api" && s["process_up"] == true)?["pid"]
        .as_u64()
        .map(|p| p as u32)
}

/// Starts a restart of builder-api in acceptance as `client` (a responder or admin); its id.
pub async fn an_acceptance_restart(addr: &str, client: &reqwest::Client) -> String {
    let answer = restart(addr, client, &Restart::acceptance_api()).await;
    answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("not started: {answer}"))
        .to_owned()
}

/// A responder restarts a service in acceptance: the Supervisor stops and starts it (a new
/// pid), the page's output follows the steps, the outcome says healthy again, and the audit
/// log holds the intent before the outcome, in a chain that verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_goes_through_the_control_gateway_and_is_audited() {
    let sim = FleetSim::start(demo_layout(31)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    let before = pid_of(&sim, "builder-api-acceptance-1").expect("running before");

    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(
        done["summary"]
            .as_str()
            .unwrap()
            .starts_with("healthy again after"),
        "{done}"
    );
    let lines = done["lines"].as_array().unwrap();
    for step in ["SvcStop", "is down", "SvcStart", "is up", "healthy again"] {
        assert!(
            lines.iter().any(|l| l.as_str().unwrap().contains(step)),
            "no `{step}` in {lines:?}"
        );
    }
    let after = pid_of(&sim, "builder-api-acceptance-1").expect("running after");
    assert_ne!(before, after, "a new process");

    let kinds = audit_kinds(&app).await;
    let of_action: Vec<&str> = kinds
        .iter()
        .filter(|(_, _, a)| *a == id)
        .map(|(k, _, _)| k.as_str())
        .collect();
    assert_eq!(of_action, ["action.intent", "action.outcome"]);
    assert!(kinds
        .iter()
        .any(|(k, o, a)| k == "action.outcome" && o == "succeeded" && *a == id));
    let store = ops::store::Store::open(&app.store_url, &Default::default())
        .await
        .unwrap();
    let v = ops::audit::AuditLog::new(store).verify().await.unwrap();
    assert_eq!(v.broken, None);
    assert!(v.rows >= 3, "sign-in, intent, outcome");

    // The action's page shows the outcome in its state cell.
    let page = crate::dom::Page::parse(&app.html(&ada, &format!("/actions/{id}")).await);
    assert_eq!(page.text("[data-testid=action-state]"), "succeeded");
}

/// A wrong control-gateway secret: the Supervisor refuses the handshake; the action fails with
/// that reason, the service is untouched, the outcome is audited as failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_by_the_supervisor() {
    let sim = FleetSim::start(demo_layout(32)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("not-the-secret"), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    let before = pid_of(&sim, "builder-api-acceptance-1");
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"].as_str().unwrap().to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "failed");
    let summary = done["summary"].as_str().unwrap();
    assert!(
        summary.contains("the stop was not taken") && summary.contains("refused"),
        "{summary}"
    );
    assert_eq!(
        pid_of(&sim, "builder-api-acceptance-1"),
        before,
        "untouched"
    );
    let kinds = audit_kinds(&app).await;
    assert!(kinds
        .iter()
        .any(|(k, o, a)| k == "action.outcome" && o == "failed" && *a == id));
}

/// Each guard refuses on its own, says why, runs nothing, and the refusal is an audit row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_guard_refuses_on_its_own_and_is_audited() {
    let sim = FleetSim::start(demo_layout(33)).await.unwrap();
    let app = app_with(&sim, StoreKind::Postgres, Some("demo-ctl-secret"), |c| {
        c.actions.cooldown = Duration::from_secs(3600);
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let viewer = app.signed_in("vic", "viewer").await;
    let before = pid_of(&sim, "builder-api-live-1");

    let r = Restart::acceptance_api();
    assert_eq!(
        refusing_guards(&restart(&app.address, &viewer, &r).await),
        ["role"]
    );
    let bad = Restart {
        confirmation: "builder-apx",
        ..Restart::acceptance_api()
    };
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &bad).await),
        ["confirmation"]
    );
    let bad = Restart {
        reason: "  ",
        ..Restart::acceptance_api()
    };
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &bad).await),
        ["reason"]
    );
    let live = Restart {
        env: "live",
        host: "builder-api-live-1",
        group: "builder-api.live",
        confirmation: "live/builder-api",
        ..Restart::acceptance_api()
    };
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &live).await),
        ["acceptance_first"],
        "production asks whether it was tried in acceptance"
    );
    let live_short = Restart {
        confirmation: "builder-api",
        tried: "yes",
        ..live
    };
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &live_short).await),
        ["confirmation"],
        "production wants the environment typed too"
    );
    let nowhere = Restart {
        host: "no-such-host",
        ..Restart::acceptance_api()
    };
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &nowhere).await),
        ["target"]
    );
    assert_eq!(pid_of(&sim, "builder-api-live-1"), before, "nothing ran");

    // The cooldown: one restart runs, the next on the same host within the hour is refused.
    let first = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = first["Started"]["id"].as_str().unwrap().to_owned();
    assert_eq!(follow(&app.address, &ada, &id).await["state"], "succeeded");
    let again = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    assert_eq!(refusing_guards(&again), ["cooldown"]);
    let why = again["Refused"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["guard"] == "cooldown")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        why.contains("ada's restart of builder-api.acceptance") && why.contains("wait"),
        "{why}"
    );

    let refused = audit_kinds(&app)
        .await
        .into_iter()
        .filter(|(k, _, _)| k == "action.refused")
        .count();
    assert_eq!(refused, 7, "every refusal is a row");
}

/// Without a control-gateway secret for the environment the executor guard says what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_no_executor_and_the_dialog_says_what_to_set() {
    let sim = FleetSim::start(demo_layout(34)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, None, |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    assert_eq!(refusing_guards(&answer), ["executor"]);
    let preview: serde_json::Value = app
        .call(
            &ada,
            "/api/read/action-preview",
            &[
                ("kind", "restart_service"),
                ("environment", "acceptance"),
                ("host", "builder-api-acceptance-1"),
                ("service_group", "builder-api.acceptance"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let executor = preview["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["guard"] == "executor")
        .unwrap();
    assert_eq!(executor["level"], "refuse");
    assert!(executor["message"]
        .as_str()
        .unwrap()
        .contains("ctl_secret_file"));
}

/// Twenty restarts of one host at once: exactly one runs, nineteen are refused with the lock's
/// (or, once it ended, the cooldown's) reason, and all twenty are in the audit log. On Postgres
/// the twenty are split between two Onwatch replicas sharing the store.
async fn twenty_at_once(kind: StoreKind) {
    let sim = FleetSim::start(demo_layout(35)).await.unwrap();
    let app = app_with(&sim, kind, Some("demo-ctl-secret"), |c| {
        c.actions.cooldown = Duration::from_secs(3600);
    })
    .await;
    // On Postgres, a second Onwatch (a replica) on the same store takes half of the requests.
    let replica = match kind {
        StoreKind::Postgres => {
            let url = app.store_url.clone();
            Some(
                app_with(&sim, kind, Some("demo-ctl-secret"), move |c| {
                    c.actions.cooldown = Duration::from_secs(3600);
                    c.store.url = url;
                })
                .await,
            )
        }
        StoreKind::Sqlite => None,
    };
    let ada = app.signed_in("ada", "responder").await;
    let at_replica = match &replica {
        Some(r) => Some((r.address.clone(), r.signed_in("ada", "responder").await)),
        None => None,
    };
    let answers = futures_util::future::join_all((0..20).map(|i| {
        let (addr, client) = match &at_replica {
            Some((addr, client)) if i % 2 == 1 => (addr.clone(), client.clone()),
            _ => (app.address.clone(), ada.clone()),
        };
        async move { restart(&addr, &client, &Restart::acceptance_api()).await }
    }))
    .await;
    let started: Vec<&serde_json::Value> = answers
        .iter()
        .filter(|a| a.get("Started").is_some())
        .collect();
    assert_eq!(started.len(), 1, "{answers:?}");
    for a in answers.iter().filter(|a| a.get("Refused").is_some()) {
        let guards = refusing_guards(a);
        assert!(
            guards == ["lock"] || guards == ["cooldown"],
            "refused for the host being busy: {a}"
        );
    }
    let id = started[0]["Started"]["id"].as_str().unwrap().to_owned();
    // Followed on whichever Onwatch runs it (the other follows it through the store).
    assert_eq!(follow(&app.address, &ada, &id).await["state"], "succeeded");
    let kinds = audit_kinds(&app).await;
    let intents = kinds
        .iter()
        .filter(|(k, _, _)| k == "action.intent")
        .count();
    let refused = kinds
        .iter()
        .filter(|(k, _, _)| k == "action.refused")
        .count();
    assert_eq!((intents, refused), (1, 19));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_restarts_run_once_on_sqlite() {
    twenty_at_once(StoreKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_restarts_run_once_on_postgres() {
    twenty_at_once(StoreKind::Postgres).await;
}

/// The same request ten times at once (a double click, retries): one action, every other
/// answer names it, on Postgres where the requests really race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_runs_once() {
    let sim = FleetSim::start(demo_layout(36)).await.unwrap();
    let app = app_with(&sim, StoreKind::Postgres, Some("demo-ctl-secret"), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    let r = Restart::acceptance_api();
    let answers =
        futures_util::future::join_all((0..10).map(|_| restart(&app.address, &ada, &r))).await;
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|a| a["Started"]["id"].as_str().unwrap_or_else(|| panic!("{a}")))
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let repeated = answers
        .iter()
        .filter(|a| a["Started"]["repeated"] == true)
        .count();
    assert_eq!(repeated, 9, "{answers:?}");
    let id = *ids.iter().next().unwrap();
    follow(&app.address, &ada, id).await;
    let kinds = audit_kinds(&app).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|(k, _, _)| k == "action.intent")
            .count(),
        1
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|(k, _, _)| k == "action.duplicate")
            .count(),
        9
    );
}

/// A client signed in at `addr` with the development sign-in.
async fn sign_in(addr: &str, name: &str, role: &str) -> reqwest::Client {
    let client = crate::helpers::cookie_client();
    let res = client
        .post(format!("{addr}/auth/dev"))
        .header("origin", addr)
        .form(&[("name", name), ("role", role), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    client
}

/// A configuration file for the real binary in `dir`: the simulator's fleet, its control-gateway
/// secret, `store`, the development sign-in and actions' lease of `lease_secs`.
fn binary_config(
    dir: &std::path::Path,
    sim: &FleetSim,
    store: &str,
    lease_secs: u64,
) -> std::path::PathBuf {
    let fleet = dir.join("fleet.toml");
    std::fs::write(&fleet, sim.fleet_file().to_toml()).unwrap();
    let secret = dir.join("ctl-secret");
    std::fs::write(&secret, "demo-ctl-secret").unwrap();
    let config = dir.join("onwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nsite_root = \"{site}\"\n\
             [store]\nurl = \"{store}\"\n[auth]\ndev_signin = true\n\
             [inventory]\nsource = \"static\"\nfleet_file = \"{fleet}\"\n\
             [fleet]\npoll_interval_ms = 200\n\
             [actions]\ncooldown_secs = 0\nlease_secs = {lease_secs}\n\
             [environments.live]\nproduction = true\nctl_secret_file = \"{secret}\"\n\
             [environments.acceptance]\nctl_secret_file = \"{secret}\"\n",
            site = dir.join("site").display(),
            fleet = fleet.display(),
            secret = secret.display(),
        ),
    )
    .unwrap();
    config
}

/// The real binary on `config` (a TOML file), its address once it listens, and its log lines.
fn spawn_binary(
    dir: &std::path::Path,
    config: &std::path::Path,
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onwatch"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ONWATCH_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["--config", config.to_str().unwrap(), "serve"])
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server starts");
        if let Some(a) = line.split("listening on ").nth(1) {
            break a.trim().to_owned();
        }
    };
    (child, addr, rx)
}

/// `kill -9` of Onwatch while a restart runs: the intent row is there, the next Onwatch on the
/// store marks the action interrupted (an outcome row by Onwatch itself), and nothing is run
/// again: the service stays as the cut-off action left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_onwatch_leaves_an_interrupted_action_never_rerun() {
    let mut spec = demo_layout(37);
    // A slow Supervisor: the stop takes 3 s, so the kill lands in the middle of the action.
    spec.transition_delay_ms = 3000;
    let sim = FleetSim::start(spec).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}/onwatch.db", dir.path().display());
    let config = binary_config(dir.path(), &sim, &store, 2);
    let (mut first, addr, _log) = spawn_binary(dir.path(), &config);
    let base = addr.clone();
    let ada = sign_in(&base, "ada", "responder").await;
    let answer = restart(&base, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"].as_str().unwrap().to_owned();
    // In the middle: the Supervisor has taken the stop (its console line came back) and the
    // process is on its way down.
    let mut events = ada
        .get(format!("{base}/api/actions/{id}/events"))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("Supervisor stopping") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("progress arrives")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&store).await.unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query("SELECT kind, outcome FROM audit_log WHERE action_id = $1 ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("kind"), r.get("outcome")))
            .collect();
    assert_eq!(rows, [("action.intent".to_owned(), String::new())]);

    let (mut second, addr, _log2) = spawn_binary(dir.path(), &config);
    let base2 = addr.clone();
    let bob = sign_in(&base2, "bob", "viewer").await;
    let done = follow(&base2, &bob, &id).await;
    assert_eq!(done["state"], "interrupted", "{done}");
    assert!(
        done["summary"].as_str().unwrap().contains("not re-run"),
        "{done}"
    );
    let rows: Vec<(String, String, String)> =
        sqlx::query("SELECT kind, outcome, actor FROM audit_log WHERE action_id = $1 ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("kind"), r.get("outcome"), r.get("actor")))
            .collect();
    assert_eq!(
        rows[1],
        (
            "action.outcome".to_owned(),
            "interrupted".to_owned(),
            "onwatch".to_owned()
        )
    );
    // Nothing ran again: the service is still stopped as the cut-off action left it (the
    // start never came), though the new Onwatch has been watching for a while.
    let state = sim.host("builder-api-acceptance-1").unwrap().state_json();
    let api = state["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "builder-api")
        .unwrap()
        .clone();
    assert_eq!(api["desired_up"], false, "{api}");
    second.kill().unwrap();
    second.wait().unwrap();
}

/// Cuts the test's Postgres database off (no new connections, the open ones ended), as a store
/// that goes away does; `false` lets it back.
async fn store_reachable(store_url: &str, reachable: bool) {
    use sqlx::Executor;
    let db = store_url.rsplit('/').next().unwrap().to_owned();
    let mut admin = sqlx::AnyConnection::connect(&testkit::postgres_admin_url().unwrap())
        .await
        .unwrap();
    admin
        .execute(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {reachable}").as_str())
        .await
        .unwrap();
    if !reachable {
        admin
            .execute(
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = '{db}' AND pid <> pg_backend_pid()"
                )
                .as_str(),
            )
            .await
            .unwrap();
    }
}

/// The store goes away (Postgres): a restart asked then is refused with "nothing ran" and the
/// service is untouched; one already running finishes, keeps its outcome until the store is
/// back, and then the log holds it, in a chain that verifies. Never a run without its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_store_goes_away_nothing_runs_unaudited() {
    let mut spec = demo_layout(38);
    spec.transition_delay_ms = 1500;
    let sim = FleetSim::start(spec).await.unwrap();
    let app = app_with(&sim, StoreKind::Postgres, Some("demo-ctl-secret"), |c| {
        c.store.acquire_timeout = Duration::from_secs(1);
        // The wall trusts the session it read a moment ago, so the request reaches the action
        // (and its own refusal is what is checked, not the wall's 503).
        c.auth.session_cache_ms = 60_000;
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    assert_eq!(
        ada.post(format!("{}/api/read/shell-info", app.address))
            .header("origin", &app.address)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Gone before the request: refused, nothing ran.
    store_reachable(&app.store_url, false).await;
    let before = pid_of(&sim, "builder-api-acceptance-1");
    let res = ada
        .post(format!("{}/api/attempt/action", app.address))
        .header("origin", &app.address)
        .form(&[
            ("kind", "restart_service"),
            ("environment", "acceptance"),
            ("host", "builder-api-acceptance-1"),
            ("service_group", "builder-api.acceptance"),
            ("reason", "r"),
            ("confirmation", "builder-api"),
            ("idempotency_key", "k-store-gone"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_server_error(), "{}", res.status());
    let body = res.text().await.unwrap();
    assert!(body.contains("nothing ran"), "{body}");
    assert_eq!(
        pid_of(&sim, "builder-api-acceptance-1"),
        before,
        "untouched"
    );
    store_reachable(&app.store_url, true).await;

    // Gone in the middle: the restart goes on, its outcome waits for the store.
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"].as_str().unwrap().to_owned();
    let mut events = ada
        .get(format!("{}/api/actions/{id}/events", app.address))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("SvcStop") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("progress arrives")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    store_reachable(&app.store_url, false).await;
    while !seen.contains("cannot be written to the audit log yet") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), events.chunk())
            .await
            .expect("progress arrives")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    store_reachable(&app.store_url, true).await;
    // The stream's last event comes after the outcome row and the end are written.
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(chunk)) = events.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the action ends once the store is back: {seen}"
    );
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query("SELECT kind, outcome FROM audit_log WHERE action_id = $1 ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("kind"), r.get("outcome")))
            .collect();
    assert_eq!(rows[0].0, "action.intent");
    assert_eq!(
        rows[1],
        ("action.outcome".to_owned(), "succeeded".to_owned())
    );
    let store = ops::store::Store::open(&app.store_url, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        ops::audit::AuditLog::new(store)
            .verify()
            .await
            .unwrap()
            .broken,
        None
    );
}

/// SSH settings for the loopback sshd, with the demo's `systemctl` acting on the simulator.
pub(crate) fn ssh_through(sshd: &testkit::Sshd, sim: &FleetSim) -> ops::exec::ssh::SshOptions {
    let systemctl = testkit::workspace_root().join("scripts/demo-ssh/systemctl");
    let journalctl = testkit::workspace_root().join("scripts/demo-ssh/journalctl");
    let env = format!(
        "ONWATCH_DEMO_HOST={{host}} ONWATCH_DEMO_CONTROL={} ONWATCH_DEMO_STATE={} ONWATCH_DEMO_LOCKS_DIR={}",
        sim.control_url(),
        sshd.dir.join("sentinel-restarted").display(),
        datastore_dir(sshd).display()
    );
    ops::exec::ssh::SshOptions {
        user: sshd.user.clone(),
        port: sshd.port,
        key_file: sshd.key_file.clone(),
        known_hosts_file: sshd.known_hosts_file.clone(),
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(20),
        commands: ops::exec::ssh::SshCommands {
            restart_supervisor: format!("{env} {} restart hab-sup", systemctl.display()),
            restart_sentinel: format!("{env} {} restart sentinel", systemctl.display()),
            sentinel_status: format!("{env} {} is-active sentinel", systemctl.display()),
            supervisor_log: format!("{env} {} -u hab-sup {{args}}", journalctl.display()),
            sentinel_log: format!("{env} {} -u sentinel {{args}}", journalctl.display()),
            // The test's sshd runs as whoever runs the tests: no sudo.
            run_script: "sh -c {script}".into(),
        },
    }
}

/// The datastore's service directory on the loopback host (the demo's journalctl names a stale
/// `data/postmaster.pid` there while the datastore is stopped).
pub(crate) fn datastore_dir(sshd: &testkit::Sshd) -> std::path::PathBuf {
    sshd.dir.join("hab/svc/builder-datastore")
}

fn pids(sim: &FleetSim, host: &str) -> Vec<u64> {
    sim.host(host).unwrap().state_json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pid"].as_u64().unwrap())
        .collect()
}

/// A Supervisor restart over SSH (a real sshd on loopback; its `systemctl` restarts the
/// simulated Supervisor): the dialog names the blast radius, every service comes back in a new
/// process, and the outcome row has the exit status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_restart_over_ssh_brings_every_service_back() {
    let sim = FleetSim::start(demo_layout(39)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = ssh_through(&sshd, &sim);
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let host = "builder-api-acceptance-1";
    let preview: serde_json::Value = app
        .call(
            &ada,
            "/api/read/action-preview",
            &[
                ("kind", "restart_supervisor"),
                ("environment", "acceptance"),
                ("host", host),
                ("service_group", ""),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["confirmation"], host, "the host is what to type");
    let radius: Vec<&str> = preview["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[0].as_str().unwrap())
        .collect();
    // Every service the simulated Supervisor runs on that host, no fewer.
    let running: Vec<String> = sim.host(host).unwrap().state_json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}.{}",
                s["name"].as_str().unwrap(),
                s["group"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(radius, running);

    let before = pids(&sim, host);
    let r = Restart {
        kind: "restart_supervisor",
        group: "",
        confirmation: host,
        ..Restart::acceptance_api()
    };
    let answer = restart(&app.address, &ada, &r).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let lines: Vec<&str> = done["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Restarting hab-sup.service on builder-api-acceptance-1")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("exit status 0")),
        "{lines:?}"
    );
    // The output never says the new Supervisor answers and then that it does not: once it has
    // answered since the restart, waiting for its first answer is over.
    let first_answer = lines
        .iter()
        .position(|l| l.contains("the new Supervisor answers"));
    let waiting_after = first_answer.and_then(|i| {
        lines[i..]
            .iter()
            .find(|l| l.contains("first answer") || l.contains("does not answer"))
    });
    assert_eq!(waiting_after, None, "{lines:?}");
    let after = pids(&sim, host);
    assert!(
        before.iter().zip(&after).all(|(b, a)| b != a),
        "{before:?} → {after:?}"
    );

    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query("SELECT kind, detail FROM audit_log WHERE action_id = $1 ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("kind"), r.get("detail")))
            .collect();
    let intent: serde_json::Value = serde_json::from_str(&rows[0].1).unwrap();
    assert_eq!(intent["executor"], "ssh");
    assert_eq!(
        intent["blast_radius"].as_array().unwrap().len(),
        running.len()
    );
    let outcome: serde_json::Value = serde_json::from_str(&rows[1].1).unwrap();
    assert_eq!(outcome["exit_status"], 0);
}

/// A command that fails loudly (1 MB of output, exit 1): the action fails with the exit
/// status, and its output is kept bounded in the page and the audit row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_ssh_command_fails_the_action_with_a_bounded_excerpt() {
    let sim = FleetSim::start(demo_layout(40)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut ssh = ssh_through(&sshd, &sim);
    ssh.commands.restart_supervisor =
        "head -c 1000000 /dev/zero | tr '\\0' x | fold -w 99; echo 'Job for hab-sup.service failed'; exit 1".into();
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        c.actions.output_limit_bytes = 8 * 1024;
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let host = "builder-api-acceptance-1";
    let before = pids(&sim, host);
    let r = Restart {
        kind: "restart_supervisor",
        group: "",
        confirmation: host,
        ..Restart::acceptance_api()
    };
    let answer = restart(&app.address, &ada, &r).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(
        done["summary"].as_str().unwrap().contains("exit status 1"),
        "{done}"
    );
    let kept: usize = done["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().len() + 1)
        .sum();
    assert!(kept <= 8 * 1024 + 200, "{kept} bytes kept");
    assert!(
        done["lines"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .contains("Job for hab-sup.service failed")),
        "the newest lines are kept (stdout: its order with stderr is not kept by SSH)"
    );
    assert_eq!(pids(&sim, host), before, "nothing restarted");
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    let detail: String = sqlx::query(
        "SELECT detail FROM audit_log WHERE action_id = $1 AND kind = 'action.outcome'",
    )
    .bind(&id)
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get("detail");
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["exit_status"], 1);
    assert!(detail["output_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(detail["output_excerpt"].as_str().unwrap().len() <= 8 * 1024 + 200);
}

/// The sentinel's restart over SSH, then its status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentinel_restarts_over_ssh() {
    let sim = FleetSim::start(demo_layout(41)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = ssh_through(&sshd, &sim);
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        c.environments.get_mut("live").unwrap().ssh = Some(ssh.clone());
        c.sentinel = Some(server::config::SentinelConfig {
            environment: "live".into(),
            host: "bots.habitat.sh".into(),
            address: Some("127.0.0.1".into()),
        });
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let r = Restart {
        kind: "restart_sentinel",
        env: "live",
        host: "bots.habitat.sh",
        group: "sentinel",
        confirmation: "live/sentinel",
        tried: "no",
        ..Restart::acceptance_api()
    };
    let answer = restart(&app.address, &ada, &r).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(done["summary"]
        .as_str()
        .unwrap()
        .contains("the sentinel runs again"));
    assert!(
        sshd.dir.join("sentinel-restarted").exists(),
        "the unit was restarted"
    );
    // A sentinel that dies at start: the restart ran, the unit is not active, and the outcome
    // says so (the status command is read, not assumed).
    std::fs::write(sshd.dir.join("sentinel-restarted.broken"), "").unwrap();
    let again = Restart {
        key: ops::auth::random_token(),
        ..r
    };
    let answer = restart(&app.address, &ada, &again).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(
        done["summary"]
            .as_str()
            .unwrap()
            .contains("the sentinel does not run after its restart"),
        "{done}"
    );
}

/// The sentinel's page asks whether it runs: its unit's state, read over SSH (the loopback sshd,
/// the demo's `systemctl`) when a responder asks, said in words, never "runs" unless `active`
/// was seen; a hostile answer is an unknown state, escaped; a command that does not finish is
/// "could not check". A viewer is refused; each check is an attempt and one outcome in the
/// audit log, and past the limit a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentinel_check_reads_its_unit_state_over_ssh() {
    let sim = FleetSim::start(demo_layout(43)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut ssh = ssh_through(&sshd, &sim);
    // What the host answers instead of systemd, when the test writes it; a slow host.
    let answer = sshd.dir.join("sentinel-answer");
    let slow = sshd.dir.join("sentinel-slow");
    ssh.commands.sentinel_status = format!(
        "if [ -e '{slow}' ]; then sleep 30; fi; if [ -e '{ans}' ]; then cat '{ans}'; exit 0; fi; {}",
        ssh.commands.sentinel_status,
        slow = slow.display(),
        ans = answer.display(),
    );
    ssh.command_timeout = Duration::from_secs(3);
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        c.environments.get_mut("live").unwrap().ssh = Some(ssh.clone());
        c.sentinel = Some(server::config::SentinelConfig {
            environment: "live".into(),
            host: "bots.habitat.sh".into(),
            address: Some("127.0.0.1".into()),
        });
    })
    .await;
    const PATH: &str = "/api/act/sentinel-status";
    let checks = |app: &TestApp| {
        let app = app.store_url.clone();
        async move {
            let mut conn = sqlx::AnyConnection::connect(&app).await.unwrap();
            sqlx::query("SELECT outcome, actor_name, host FROM audit_log WHERE kind = 'sentinel.status' ORDER BY seq")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    let (o, a, h): (String, String, String) =
                        (r.get("outcome"), r.get("actor_name"), r.get("host"));
                    format!("{a}@{h}:{o}")
                })
                .collect::<Vec<_>>()
        }
    };

    // A viewer: refused with a status, nothing run, nothing to audit as a check.
    let vic = app.signed_in("vic", "viewer").await;
    let res = app.call(&vic, PATH, &[]).await;
    assert_eq!(res.status(), 403);
    assert!(checks(&app).await.is_empty());

    let ana = app.signed_in("ana", "responder").await;
    let check = || async {
        let res = app.call(&ana, PATH, &[]).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    // Never started here: inactive, said plainly.
    let seen = check().await;
    assert_eq!(seen["state"], "inactive", "{seen}");
    assert_eq!(seen["runs"], false);
    let sentence = seen["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("inactive: the sentinel does not run (checked ")
            && sentence.ends_with(" UTC by ana)"),
        "{sentence}"
    );

    // Restarted: active, and only then "runs".
    std::fs::write(sshd.dir.join("sentinel-restarted"), "1").unwrap();
    let seen = check().await;
    assert_eq!(seen["state"], "active", "{seen}");
    assert_eq!(seen["runs"], true);
    assert!(
        seen["sentence"]
            .as_str()
            .unwrap()
            .starts_with("active: the sentinel runs (checked "),
        "{seen}"
    );
    assert_eq!(seen["advice"], serde_json::Value::Null);

    // Dies at start: failed (exit 3), with what to do.
    std::fs::write(sshd.dir.join("sentinel-restarted.broken"), "").unwrap();
    let seen = check().await;
    assert_eq!(seen["state"], "failed", "{seen}");
    assert_eq!(seen["runs"], false);
    assert!(seen["sentence"].as_str().unwrap().starts_with("failed: "));
    assert!(seen["advice"]
        .as_str()
        .unwrap()
        .contains("journalctl -u sentinel"));

    // A hostile answer: markup and a terminal escape on the first line, "active" on the
    // second. Not a unit state: unknown, its text escaped behind the toggle, the second line
    // never read.
    std::fs::write(
        &answer,
        "<img src=x onerror=alert(1)>\u{1b}[2J active\nactive\n",
    )
    .unwrap();
    let seen = check().await;
    assert_eq!(seen["state"], "unknown", "{seen}");
    assert_eq!(seen["runs"], false);
    let sentence = seen["sentence"].as_str().unwrap();
    assert!(sentence.starts_with("unknown state: "), "{sentence}");
    assert!(!sentence.contains("<img"), "{sentence}");
    let raw = seen["raw"].as_str().unwrap();
    assert!(
        raw.starts_with("<img src=x onerror=alert(1)>\\u{1b}[2J"),
        "{raw}"
    );
    assert!(!raw.contains('\u{1b}'), "{raw}");
    std::fs::remove_file(&answer).unwrap();

    // A host that does not answer in time: could not check, never "runs".
    std::fs::write(&slow, "").unwrap();
    let seen = check().await;
    assert_eq!(seen["state"], "unchecked", "{seen}");
    assert_eq!(seen["runs"], false);
    let sentence = seen["sentence"].as_str().unwrap();
    assert!(sentence.starts_with("could not check: "), "{sentence}");
    assert!(sentence.contains("timeout"), "{sentence}");
    assert!(
        seen["advice"].as_str().unwrap().contains("check again"),
        "{seen}"
    );
    std::fs::remove_file(&slow).unwrap();

    // Each check: its attempt first, then exactly one outcome.
    let pair = |o: &str| {
        [
            "ana@bots.habitat.sh:".to_owned(),
            format!("ana@bots.habitat.sh:{o}"),
        ]
    };
    let want: Vec<String> = ["done", "done", "done", "done", "failed"]
        .iter()
        .flat_map(|o| pair(o))
        .collect();
    assert_eq!(checks(&app).await, want);

    // Ten checks in the window, then a refusal (429), audited, with nothing run.
    for _ in 0..5 {
        check().await;
    }
    let res = app.call(&ana, PATH, &[]).await;
    assert_eq!(res.status(), 429);
    let text = res.text().await.unwrap();
    assert!(text.contains("at most 10"), "{text}");
    let rows = checks(&app).await;
    assert_eq!(rows.len(), 21, "{rows:?}");
    assert_eq!(rows.last().unwrap(), "ana@bots.habitat.sh:refused");
}

/// Sign-ins, sign-outs and revocations are audit rows; an admin's export is one too (before the
/// rows go out), and the admin's chain check names a row edited in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_exports_and_the_chain_check_are_audited() {
    let sim = FleetSim::start(demo_layout(42)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, None, |_| {}).await;
    let admin = app.signed_in("root-admin", "admin").await;
    let leaving = app.signed_in("leaving", "viewer").await;
    let res = leaving
        .post(format!("{}/auth/signout", app.address))
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    app.signed_in("victim", "viewer").await;
    let handle = app.session_handle(&admin, "victim").await;
    let res = app
        .call(&admin, "/api/admin/revoke-session", &[("handle", &handle)])
        .await;
    assert_eq!(res.status(), 200);

    let res = admin
        .get(format!(
            "{}/api/admin/audit/export?format=csv&kind=signin",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("seq,at_ms,at,kind,"), "{csv}");
    assert!(
        csv.contains("\"root-admin\"") && csv.contains("\"leaving\""),
        "{csv}"
    );
    let res = admin
        .get(format!("{}/api/admin/audit/export?format=xml", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "an unknown format says which exist");
    let viewer = app.signed_in("vic", "viewer").await;
    let res = viewer
        .get(format!("{}/api/admin/audit/export?format=csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "exports are for admins");

    let kinds: Vec<String> = audit_kinds(&app)
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    for kind in ["signin", "signout", "session.revoked", "audit.export"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} row in {kinds:?}"
        );
    }

    let verify = |client: reqwest::Client| {
        let app = &app;
        async move {
            let res = app.call(&client, "/api/admin/audit-verify", &[]).await;
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let holds = verify(admin.clone()).await;
    assert_eq!(holds["broken"], serde_json::Value::Null, "{holds}");
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    for sql in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET actor_name = 'nobody' WHERE seq = 2",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    let broken = verify(admin).await;
    assert_eq!(broken["broken"][0], 2, "{broken}");
}

/// A stop the Supervisor took whose reply was lost (the connection closed after the request):
/// not "not taken". Onwatch looks at the service again, sees it down, and finishes the
/// restart it was asked for, saying so; the start's lost reply is watched through as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_whose_reply_is_lost_is_looked_at_again_not_called_untaken() {
    use fleet_sim::Fault;
    let sim = FleetSim::start(demo_layout(48)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    let host = "builder-api-acceptance-1";
    let before = pid_of(&sim, host).expect("running before");
    sim.host(host)
        .unwrap()
        .inject(&Fault::CtlLoseReply)
        .unwrap();
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    let lines = done["lines"].to_string();
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(lines.contains("its reply was lost"), "{lines}");
    assert!(lines.contains("the stop was taken"), "{lines}");
    assert!(!lines.contains("the stop was not taken"), "{lines}");
    let after = pid_of(&sim, host).expect("running after");
    assert_ne!(after, before, "the same process");
}

/// A control gateway that answers a stop with a flood (2,000 frames of half a MiB): Onwatch
/// stops reading at its bound and fails the step with a reason, instead of holding a gigabyte
/// until the timeout; the reply counts as lost after the request, so the service is looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_control_gateway_is_cut_off_at_the_bound() {
    use fleet_sim::Fault;
    let sim = FleetSim::start(demo_layout(49)).await.unwrap();
    let host = sim.host("builder-api-acceptance-1").unwrap();
    host.inject(&Fault::CtlFlood {
        frames: 2000,
        bytes: 512 * 1024,
    })
    .unwrap();
    let client = ops::supervisor::ctl::CtlClient::default();
    let target = ops::supervisor::ctl::CtlTarget {
        addr: host.ctl_addr.to_string(),
        secret: "demo-ctl-secret".to_owned().into(),
        tls: None,
    };
    let e = client
        .stop(
            &target,
            ops::supervisor::ctl::PackageIdentMsg::new("habitat", "builder-api"),
        )
        .await
        .unwrap_err();
    assert!(e.after_sent(), "{e}");
    match e {
        ops::supervisor::ctl::CtlError::ReplyLost(inner) => assert!(
            matches!(*inner, ops::supervisor::ctl::CtlError::TooLarge { .. }),
            "{inner}"
        ),
        other => panic!("{other}"),
    }
}

/// As hab-sup 2.1.78 does with a process slow to exit on SIGTERM: the service is reported down
/// at once, a start while the old process drains reattaches to it (up, the same pid), and a new
/// process comes only when the old one exits. The restart is done only then: the "up" of the
/// old pid is not taken for the new process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_is_done_only_when_a_new_process_runs() {
    use fleet_sim::Fault;
    let sim = FleetSim::start(demo_layout(50)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    let host = "builder-api-acceptance-1";
    let before = pid_of(&sim, host).expect("running before");
    sim.host(host)
        .unwrap()
        .inject(&Fault::Drain {
            service: "builder-api".into(),
            ms: 3000,
        })
        .unwrap();
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let lines: Vec<String> = done["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the old process") && l.contains("still stopping")),
        "{lines:?}"
    );
    let after = pid_of(&sim, host).expect("running after");
    assert_ne!(after, before, "the old process was taken for the new one");
    let up = lines
        .iter()
        .find(|l| l.contains("is up, pid"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(
        up.contains(&format!("pid {after} ")),
        "{up} (the sim runs {after})"
    );
}

/// The control-gateway secret is read from its file at each action: after the Supervisors' secret
/// is rotated and the file rewritten, the next restart works without restarting Onwatch (and
/// one with the old secret was refused by the Supervisor).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_control_gateway_secret_is_used_without_a_restart_of_onwatch() {
    let sim = FleetSim::start(demo_layout(52)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("CTL_SECRET");
    std::fs::write(&file, "the-old-secret\n").unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        for env in c.environments.values_mut() {
            env.ctl_secret_file = Some(file.clone());
        }
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(
        done["summary"].as_str().unwrap().contains("refused"),
        "{done}"
    );
    std::fs::write(&file, "demo-ctl-secret\n").unwrap();
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
}

/// Two Onwatch processes on one Postgres; the one running a restart is paused (`SIGSTOP`) after
/// the Supervisor took the stop, for longer than its lease. The other marks the action
/// interrupted. When the paused one resumes, it finds it no longer holds the action: it sends no
/// start and writes no second outcome (only an `action.superseded` row with what it saw).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_onwatch_that_was_replaced_sends_nothing_and_writes_no_outcome() {
    let mut spec = demo_layout(53);
    spec.transition_delay_ms = 3000;
    let sim = FleetSim::start(spec).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = testkit::postgres_database().await.unwrap();
    let config = binary_config(dir.path(), &sim, &store, 1);
    let (mut first, base, _log) = spawn_binary(dir.path(), &config);
    let (mut second, _base2, _log2) = spawn_binary(dir.path(), &config);
    let ada = sign_in(&base, "ada", "responder").await;
    let answer = restart(&base, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"].as_str().unwrap().to_owned();
    let mut events = ada
        .get(format!("{base}/api/actions/{id}/events"))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("Supervisor stopping") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("progress arrives")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &first.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    };
    signal("-STOP");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&store).await.unwrap();
    // The other process sweeps: interrupted, while the first is still paused.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = audit_of(&mut conn, &id).await;
        if r.iter()
            .any(|(k, o)| k == "action.outcome" && o == "interrupted")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never swept: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    signal("-CONT");
    // The resumed process finds the stop done, and then that it lost the action.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let last = loop {
        let r = audit_of(&mut conn, &id).await;
        if r.iter().any(|(k, _)| k == "action.superseded") {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the resumed process never noticed: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        last,
        [
            ("action.intent".to_owned(), String::new()),
            ("action.outcome".to_owned(), "interrupted".to_owned()),
            ("action.superseded".to_owned(), String::new()),
        ]
    );
    let state: String = sqlx::query("SELECT state FROM actions WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "interrupted");
    // No start was sent by the resumed process: the service stays stopped.
    let api = sim.host("builder-api-acceptance-1").unwrap().state_json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "builder-api")
        .unwrap()
        .clone();
    assert_eq!(api["desired_up"], false, "{api}");
    for p in [&mut first, &mut second] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
}

/// An action's audit rows (kind, outcome), oldest first.
async fn audit_of(conn: &mut sqlx::AnyConnection, id: &str) -> Vec<(String, String)> {
    sqlx::query("SELECT kind, outcome FROM audit_log WHERE action_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>("kind"), r.get::<String, _>("outcome")))
        .collect()
}

/// `[[environments.NAME.secrets]]`: a host in a group is restarted with its group's
/// control-gateway secret, never the environment's (a wrong group secret is refused by the
/// Supervisor although the environment's would have worked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_in_a_secrets_group_is_restarted_with_its_groups_secret() {
    let sim = FleetSim::start(demo_layout(54)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("API_CTL_SECRET");
    std::fs::write(&file, "not-the-supervisors-secret\n").unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        c.environments.get_mut("acceptance").unwrap().secrets.push(
            server::config::HostSecretsConfig {
                hosts: vec!["builder-api-*".into()],
                ctl_secret_file: Some(file.clone()),
                ..Default::default()
            },
        );
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(
        done["state"], "failed",
        "the group's secret was sent: {done}"
    );
    assert!(
        done["summary"].as_str().unwrap().contains("refused"),
        "{done}"
    );
    std::fs::write(&file, "demo-ctl-secret\n").unwrap();
    let answer = restart(&app.address, &ada, &Restart::acceptance_api()).await;
    let id = answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned();
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
}

/// Asks to cancel action `id` as the page does; the status and the answer's text.
pub(crate) async fn cancel(
    addr: &str,
    client: &reqwest::Client,
    id: &str,
) -> (reqwest::StatusCode, String) {
    let res = client
        .post(format!("{addr}/api/act/action-cancel"))
        .header("origin", addr)
        .form(&[("id", id)])
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Reads the events of action `id` until its output says `what`.
async fn wait_for_output(addr: &str, client: &reqwest::Client, id: &str, what: &str) {
    let mut events = client
        .get(format!("{addr}/api/actions/{id}/events"))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains(what) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("progress arrives")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// The row of action `id`: its state, summary, and who asked to cancel it (account, name).
async fn cancel_row(store_url: &str, id: &str) -> (String, String, Option<String>, Option<String>) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(store_url).await.unwrap();
    let r = sqlx::query(
        "SELECT state, summary, cancel_requested_by, cancel_requested_name FROM actions WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

/// The detail of the audit rows of action `id` of `kind`, in order.
async fn audit_details(store_url: &str, id: &str, kind: &str) -> Vec<serde_json::Value> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(store_url).await.unwrap();
    sqlx::query("SELECT detail FROM audit_log WHERE action_id = $1 AND kind = $2 ORDER BY seq")
        .bind(id)
        .bind(kind)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>(0)).unwrap())
        .collect()
}

/// Two Onwatch replicas on one store. A restart runs on the first, its stop slow; a viewer's
/// cancel on the second is refused (403, audited), a responder's is written into the action's
/// row by the second; the first reads it when it renews its lease, stops the restart where it
/// stands (no start is ever sent: the service stays stopped) and ends it `cancelled`, with who
/// asked, under its own fence. A second cancel is refused (409) naming the state it ended in.
async fn a_cancel_on_another_replica_stops_the_action(kind: StoreKind, seed: u64) {
    let mut spec = demo_layout(seed);
    // The stop takes 8 s: the cancel lands while the restart waits for it.
    spec.transition_delay_ms = 8000;
    let sim = FleetSim::start(spec).await.unwrap();
    let lease = |c: &mut server::config::Config| c.actions.lease = Duration::from_secs(3);
    let first = app_with(&sim, kind, Some("demo-ctl-secret"), lease).await;
    let url = first.store_url.clone();
    let second = app_with(&sim, kind, Some("demo-ctl-secret"), |c| {
        lease(c);
        c.store.url = url;
    })
    .await;
    let ada = first.signed_in("ada", "responder").await;
    let id = an_acceptance_restart(&first.address, &ada).await;
    wait_for_output(&first.address, &ada, &id, "Supervisor stopping").await;

    // A viewer may not: refused at the wall (the responder's, as starting it is), 403, before
    // anything is asked of the action.
    let carol = second.signed_in("carol", "viewer").await;
    let (status, text) = cancel(&second.address, &carol, &id).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("responder role"), "{text}");
    let (state, _, by, _) = cancel_row(&first.store_url, &id).await;
    assert_eq!((state.as_str(), by), ("running", None));

    // A responder on the other replica: asked through the store.
    let bob = second.signed_in("bob", "responder").await;
    let asked = tokio::time::Instant::now();
    let (status, text) = cancel(&second.address, &bob, &id).await;
    assert_eq!(status, 200, "{text}");
    let done = follow(&first.address, &ada, &id).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped at the next renewal, not when the stop ended: {:?}",
        asked.elapsed()
    );
    let summary = done["summary"].as_str().unwrap();
    assert!(summary.contains("cancelled by bob"), "{summary}");
    let (state, stored_summary, by, name) = cancel_row(&first.store_url, &id).await;
    assert_eq!(state, "cancelled");
    assert_eq!(stored_summary, summary);
    assert!(
        by.is_some_and(|b| b.ends_with("bob")),
        "the account that asked"
    );
    assert_eq!(name.as_deref(), Some("bob"));

    // Nothing more was sent: the start never came, the service stays stopped.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let api = sim.host("builder-api-acceptance-1").unwrap().state_json()["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "builder-api")
        .unwrap()
        .clone();
    assert_eq!(api["desired_up"], false, "{api}");

    // Once ended, a cancel is refused naming the state, on either replica.
    let (status, text) = cancel(&first.address, &bob, &id).await;
    assert_eq!(status, 409, "{text}");
    assert!(
        text.contains("no longer running") && text.contains("cancelled"),
        "{text}"
    );
    // An unknown action: refused, not a store fault.
    let (status, text) = cancel(&second.address, &bob, "no-such-action").await;
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("no action by that id"), "{text}");

    let rows = action_audit(&first, &id).await;
    let row = |k: &str, o: &str| (k.to_owned(), o.to_owned());
    // The intent; the responder's attempt, then its outcome and the action's own end (written
    // by two replicas: either may come first); then the late attempt and its refusal.
    assert_eq!(
        rows[..2],
        [row("action.intent", ""), row("action.cancel", "attempt")],
        "{rows:?}"
    );
    let mut ends = rows[2..4].to_vec();
    ends.sort();
    assert_eq!(
        ends,
        [
            row("action.cancel", "done"),
            row("action.outcome", "cancelled")
        ],
        "{rows:?}"
    );
    assert_eq!(
        rows[4..],
        [
            row("action.cancel", "attempt"),
            row("action.cancel", "refused")
        ],
        "{rows:?}"
    );
    let cancels = audit_details(&first.store_url, &id, "action.cancel").await;
    assert_eq!(cancels[3]["guard"], "state", "{cancels:?}");
    // Every cancel row says where the action is, so the log filtered by host finds them.
    let places: Vec<(String, String, String)> = {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&first.store_url)
            .await
            .unwrap();
        sqlx::query(
            "SELECT environment, host, service FROM audit_log WHERE action_id = $1 AND kind = 'action.cancel' ORDER BY seq",
        )
        .bind(&id)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    let intent: (String, String, String) = {
        let mut conn = sqlx::AnyConnection::connect(&first.store_url)
            .await
            .unwrap();
        let r = sqlx::query(
            "SELECT environment, host, service FROM audit_log WHERE action_id = $1 AND kind = 'action.intent'",
        )
        .bind(&id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert!(!intent.1.is_empty(), "{intent:?}");
    assert_eq!(places, vec![intent; 4], "{places:?}");
    let outcome = audit_details(&first.store_url, &id, "action.outcome").await;
    assert_eq!(outcome[0]["cancelled_by"], "bob", "{outcome:?}");
    let store = ops::store::Store::open(&first.store_url, &Default::default())
        .await
        .unwrap();
    let v = ops::audit::AuditLog::new(store).verify().await.unwrap();
    assert_eq!(v.broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_on_another_replica_stops_the_action_on_sqlite() {
    a_cancel_on_another_replica_stops_the_action(StoreKind::Sqlite, 61).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_on_another_replica_stops_the_action_on_postgres() {
    a_cancel_on_another_replica_stops_the_action(StoreKind::Postgres, 62).await;
}

/// A cancel asked on the replica that runs the action stops it at once (its renewal is woken),
/// not at the next turn of a long lease; the page shows the button only while it runs, and only
/// to someone who may press it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_on_the_same_replica_stops_the_action_at_once() {
    let mut spec = demo_layout(63);
    spec.transition_delay_ms = 8000;
    let sim = FleetSim::start(spec).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        c.actions.lease = Duration::from_secs(30);
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let id = an_acceptance_restart(&app.address, &ada).await;
    wait_for_output(&app.address, &ada, &id, "Supervisor stopping").await;
    let page = crate::dom::Page::parse(&app.html(&ada, &format!("/actions/{id}")).await);
    assert_eq!(page.all("[data-testid=cancel-open]").len(), 1);
    let carol = app.signed_in("carol", "viewer").await;
    let page = crate::dom::Page::parse(&app.html(&carol, &format!("/actions/{id}")).await);
    assert_eq!(
        page.all("[data-testid=cancel-open]").len(),
        0,
        "not for a viewer"
    );

    let asked = tokio::time::Instant::now();
    let (status, text) = cancel(&app.address, &ada, &id).await;
    assert_eq!(status, 200, "{text}");
    let done = follow(&app.address, &ada, &id).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "woken at once, not at the lease's next turn (10 s): {:?}",
        asked.elapsed()
    );
    let page = crate::dom::Page::parse(&app.html(&ada, &format!("/actions/{id}")).await);
    assert_eq!(page.text("[data-testid=action-state]"), "cancelled");
    assert_eq!(
        page.all("[data-testid=cancel-open]").len(),
        0,
        "not once it ended"
    );
}

//! `make bench` (actions part):
//!
//! 1. What the audit log adds to an action: its intent and outcome rows (each a transaction that
//!    takes the chain's head, hashes and inserts), against the executor call alone (a
//!    control-gateway `SvcStatus` round trip to a simulated Supervisor on loopback: the cheapest
//!    real executor call). On SQLite (WAL, `synchronous` as Onwatch runs it) and on Postgres
//!    (the test cluster). p50 and p99 of the added time, per action. Target: p99 < 5 ms.
//! 2. A simulated restart from confirmation to "healthy again", split into the Supervisor's
//!    share (stop and start until the process is up, as the Supervisor reports) and Onwatch's
//!    (guards, audit rows, and waiting for the fleet model to see the new process pass its
//!    health check, which follows the poll interval).
//!
//! Left out: network latency to a remote store or host (all loopback); the SSH executor.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fleet_sim::{demo_layout, FleetSim};
use ops::access::{Access, EnvironmentExecutor};
use ops::audit::{Actor, AuditLog, Entry, Event};
use ops::change::{ActionKind, ActionRequest, ActionsOptions, Submitted, Target};
use ops::fleet::poller::{EnvironmentAccess, Poller};
use ops::fleet::{FleetModel, FleetOptions, ModelOptions};
use ops::inventory::static_file::StaticInventory;
use ops::store::{Store, StoreOptions};
use ops::supervisor::ctl::{CtlClient, CtlTarget, PackageIdentMsg};
use ops::supervisor::gateway::{GatewayClient, GatewayClientOptions};

const ROUNDS: usize = 400;

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn actor() -> Actor {
    Actor {
        id: "bench:1".into(),
        name: "bench".into(),
        role: "responder".into(),
    }
}

fn entry(kind: Event, i: usize) -> Entry {
    Entry {
        kind,
        environment: "acceptance".into(),
        host: "builder-api-acceptance-1".into(),
        service: "builder-api.acceptance".into(),
        action_id: format!("bench-{i}"),
        outcome: if kind == Event::ActionOutcome {
            "succeeded".into()
        } else {
            String::new()
        },
        detail: serde_json::json!({
            "reason": "benchmark", "verdicts": ["role", "confirmation", "reason", "lock", "cooldown"],
            "health_before": {"cell": "critical", "pid": 1234}, "output_excerpt": "x".repeat(2000),
        }),
    }
}

/// The executor call alone, then the same with the two audit rows around it, in turn.
async fn audit_cost(label: &str, store: &Store, sim: &FleetSim) {
    let log = AuditLog::new(store.clone());
    let host = sim.host("builder-api-acceptance-1").expect("host");
    let target = CtlTarget {
        addr: host.ctl_addr.to_string(),
        secret: "demo-ctl-secret".to_owned().into(),
        tls: None,
    };
    let client = CtlClient::default();
    let ident = || PackageIdentMsg::new("habitat", "builder-api");
    // Warm-up: connections, caches, the first pages of the table.
    for i in 0..20 {
        client.status(&target, Some(ident())).await.expect("status");
        log.append(&actor(), &entry(Event::ActionIntent, i))
            .await
            .expect("append");
    }
    let mut executor = Vec::with_capacity(ROUNDS);
    let mut audit = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let t = Instant::now();
        let reply = client.status(&target, Some(ident())).await.expect("status");
        assert!(!reply.statuses.is_empty(), "the call answered");
        executor.push(t.elapsed());
        let t = Instant::now();
        log.append(&actor(), &entry(Event::ActionIntent, i))
            .await
            .expect("intent");
        log.append(&actor(), &entry(Event::ActionOutcome, i))
            .await
            .expect("outcome");
        audit.push(t.elapsed());
    }
    let v = log.verify().await.expect("verify");
    assert!(v.broken.is_none(), "the chain holds after the run");
    let (e50, e99) = (
        percentile(executor.clone(), 0.5),
        percentile(executor, 0.99),
    );
    let (a50, a99) = (percentile(audit.clone(), 0.5), percentile(audit, 0.99));
    println!(
        "  {label:<34} executor call p50 {:6.2} ms  p99 {:6.2} ms | audit rows added p50 {:6.2} ms  p99 {:6.2} ms  ({:.1}x the call at p50) — target p99 < 5 ms: {}",
        ms(e50),
        ms(e99),
        ms(a50),
        ms(a99),
        ms(a50) / ms(e50).max(0.001),
        if a99 < Duration::from_millis(5) { "met" } else { "MISSED" }
    );
}

async fn restart_split(store: Store, sim: &FleetSim, dir: &std::path::Path) {
    let path = dir.join("fleet.toml");
    std::fs::write(&path, sim.fleet_file().to_toml()).expect("fleet file");
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true), ("acceptance".into(), false)],
        stale_after_ms: 15_000,
    }));
    ops::fleet::feeds::refresh_inventory(&StaticInventory { path }, &model)
        .await
        .expect("inventory");
    let options = FleetOptions::default();
    let interval = options.interval;
    let poller = Arc::new(Poller::new(
        model.clone(),
        GatewayClient::new(&GatewayClientOptions::default()).expect("client"),
        BTreeMap::<String, EnvironmentAccess>::new(),
        None,
        options,
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let polling = tokio::spawn(poller.run(stopped));
    // Until the fleet is seen.
    let mut changes = model.subscribe();
    while model
        .snapshot(ops::time::now_ms())
        .host("acceptance", "builder-api-acceptance-1")
        .is_none_or(|h| h.services.is_empty())
    {
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.recv()).await;
    }
    let exec = EnvironmentExecutor {
        production: false,
        ctl_secret: Some(ops::secret::SecretSource::Fixed(
            "demo-ctl-secret".to_owned().into(),
        )),
        ctl_secret_groups: Vec::new(),
        ctl_tls: None,
        ssh: None,
        builder: None,
    };
    let access = Arc::new(Access::new(
        model.clone(),
        BTreeMap::from([("acceptance".to_owned(), exec)]),
        None,
    ));
    let actions = Arc::new(ops::actions::pipeline(
        store.clone(),
        access,
        ActionsOptions {
            cooldown: Duration::ZERO,
            ..ActionsOptions::default()
        },
    ));
    let mut totals = Vec::new();
    let mut supervisor = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let submitted = actions
            .submit(
                &actor(),
                vocab::Role::Responder,
                ActionRequest {
                    kind: ActionKind::RestartService,
                    target: Target {
                        environment: "acceptance".into(),
                        host: "builder-api-acceptance-1".into(),
                        service_group: "builder-api.acceptance".into(),
                    },
                    reason: "benchmark".into(),
                    confirmation: "builder-api".into(),
                    tried_in_acceptance: None,
                    idempotency_key: format!("bench-restart-{i}-{}", ops::time::now_ms()),
                    paths: Vec::new(),
                },
            )
            .await
            .expect("submitted");
        let Submitted::Started { id } = submitted else {
            panic!("refused: {submitted:?}");
        };
        let mut rx = actions.follow(&id).expect("running here");
        while rx.borrow().state == ops::change::ActionState::Running {
            if rx.changed().await.is_err() {
                break;
            }
        }
        let total = t.elapsed();
        let rows = actions.audit().of_action(&id).await.expect("rows");
        let outcome = rows
            .iter()
            .find(|r| r.kind == "action.outcome")
            .expect("an outcome row");
        assert_eq!(outcome.outcome, "succeeded", "{}", outcome.detail);
        let detail: serde_json::Value = serde_json::from_str(&outcome.detail).expect("json");
        let sup = Duration::from_millis(detail["steps"]["supervisor_ms"].as_u64().unwrap_or(0));
        totals.push(total);
        supervisor.push(sup);
    }
    let _ = stop.send(true);
    let _ = polling.await;
    let total = percentile(totals, 0.5);
    let sup = percentile(supervisor, 0.5);
    println!(
        "  confirmation → healthy again (median of 5, poll interval {} ms, Supervisor transition {} ms each way):",
        interval.as_millis(),
        800
    );
    println!(
        "    total {:7.0} ms = Supervisor {:7.0} ms (stop, down, start, up) + Onwatch {:7.0} ms (guards, audit, seeing the new process healthy)",
        ms(total),
        ms(sup),
        ms(total.saturating_sub(sup))
    );
}

async fn run() {
    let sim = FleetSim::start(demo_layout(7)).await.expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::open(
        &format!("sqlite://{}/onwatch.db", dir.path().display()),
        &StoreOptions::default(),
    )
    .await
    .expect("sqlite store");
    let sync: i64 = sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
        .fetch_one(sqlite.pool())
        .await
        .unwrap_or(-1);
    let mode = sqlite
        .sqlite_journal_mode()
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    println!(
        "audit rows per action ({ROUNDS} actions, alternating with the executor call; SQLite journal_mode={mode}, synchronous={sync} (2 = FULL, 1 = NORMAL))"
    );
    audit_cost("SQLite", &sqlite, &sim).await;
    match testkit::postgres_database().await {
        Ok(url) => {
            let pg = Store::open(&url, &StoreOptions::default())
                .await
                .expect("postgres store");
            audit_cost("Postgres 15 (loopback)", &pg, &sim).await;
        }
        Err(e) => println!("  Postgres: not measured ({e})"),
    }
    println!();
    restart_split(sqlite, &sim, dir.path()).await;
}

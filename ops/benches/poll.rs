//! `make bench` (fleet part): poll 1,000 simulated Supervisors with 8 services each into the fleet
//! model, end to end, and make the same GETs with a bare HTTP client that does no parsing (the
//! limit). The simulator runs as its own process (`fleet-sim`), so the RSS printed is the poller's.
//!
//! Targets (issue "Fleet engine"): within 2x of the bare client, under 1 s, RSS under 100 MB.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use ops::fleet::poller::{EnvironmentAccess, Poller};
use ops::fleet::FleetOptions;
use ops::fleet::{CellState, FleetModel, ModelOptions};
use ops::inventory::static_file::{FleetFile, StaticInventory};
use ops::supervisor::gateway::{GatewayClient, GatewayClientOptions};

const HOSTS: usize = 1000;
const SERVICES: usize = 8;
const ROUNDS: usize = 9;
const CONCURRENCY: usize = 128;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let sim_bin =
        std::env::var("FLEET_SIM_BIN").unwrap_or_else(|_| format!("{target}/release/fleet-sim"));
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet_path = dir.path().join("fleet.toml");
    let mut sim = Command::new(&sim_bin)
        .args(["--layout", "synthetic", "--hosts", &HOSTS.to_string(), "--services", &SERVICES.to_string()])
        .args(["--fleet-file", fleet_path.to_str().unwrap_or_default()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {sim_bin} (build it: cargo build --release -p ops --features sim): {e}"));
    for _ in 0..200 {
        if std::fs::metadata(&fleet_path)
            .map(|m| m.len() > 0)
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let file = FleetFile::load(&fleet_path).expect("fleet file");

    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true), ("acceptance".into(), false)],
        stale_after_ms: 60_000,
    }));
    ops::fleet::feeds::refresh_inventory(
        &StaticInventory {
            path: fleet_path.clone(),
        },
        &model,
    )
    .await
    .expect("inventory");
    let client = GatewayClient::new(&GatewayClientOptions::default()).expect("client");
    let poller = Poller::new(
        model.clone(),
        client,
        BTreeMap::from([("live".to_owned(), EnvironmentAccess::default())]),
        None,
        FleetOptions {
            concurrency: CONCURRENCY,
            census_every: 0,
            ..FleetOptions::default()
        },
    );

    // Warm-up: connections established, model populated.
    let warm = poller.poll_once().await;
    assert_eq!(
        warm.ok, HOSTS,
        "every simulated Supervisor answered: {warm:?}"
    );
    // Polls alone first: the RSS printed is the poller's, before the bare client allocates.
    for _ in 0..3 {
        let stats = poller.poll_once().await;
        assert_eq!(stats.ok, HOSTS);
    }
    let snap = model.snapshot(ops::time::now_ms());
    let healthy: usize = snap
        .environments
        .iter()
        .map(|e| e.counts.get(&CellState::Healthy).copied().unwrap_or(0))
        .sum();
    assert_eq!(healthy, HOSTS * SERVICES, "every service in the model");
    let rss = rss_mb();

    // The limit: the same GETs, bodies read, nothing parsed.
    let bare = reqwest::Client::builder()
        .pool_max_idle_per_host(2)
        .build()
        .expect("client");
    let urls: Vec<String> = file
        .hosts
        .iter()
        .map(|h| format!("http://{}:{}/services", h.address, h.gateway_port))
        .collect();
    let bare_round = || {
        let bare = bare.clone();
        let urls = urls.clone();
        async move {
            let bytes: usize = stream::iter(urls)
                .map(|u| {
                    let bare = bare.clone();
                    async move {
                        let r = bare.get(u).send().await.expect("bare GET");
                        r.bytes().await.map(|b| b.len()).unwrap_or(0)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .fold(0usize, |a, b| async move { a + b })
                .await;
            bytes
        }
    };
    let body_bytes = bare_round().await; // warm-up

    // Then a poll round and a bare round in turn, so that a burst of noise on this shared machine
    // lands on both rather than on one side of the ratio; the ratio is the median of the pairs'.
    let mut poll_times = Vec::new();
    let mut bare_times = Vec::new();
    let mut ratios = Vec::new();
    for round in 0..ROUNDS {
        let poll_round = async {
            let t = Instant::now();
            let stats = poller.poll_once().await;
            assert_eq!(stats.ok, HOSTS);
            t.elapsed()
        };
        let timed_bare_round = async {
            let t = Instant::now();
            bare_round().await;
            t.elapsed()
        };
        // Which side goes first alternates, so that neither always follows the other.
        let (p, b) = if round % 2 == 0 {
            let p = poll_round.await;
            (p, timed_bare_round.await)
        } else {
            let b = timed_bare_round.await;
            (poll_round.await, b)
        };
        poll_times.push(p);
        bare_times.push(b);
        ratios.push(p.as_secs_f64() / b.as_secs_f64());
    }
    let _ = sim.kill();
    let _ = sim.wait();

    let p = median(poll_times);
    let b = median(bare_times);
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    println!("fleet poll benchmark: {HOSTS} Supervisors x {SERVICES} services, concurrency {CONCURRENCY}, median of {ROUNDS} rounds, poll and bare in turn");
    println!(
        "  /services bodies: {:.1} MB per round ({} bytes per host)",
        body_bytes as f64 / 1e6,
        body_bytes / HOSTS
    );
    println!(
        "  poll into model : {:>8.1} ms  ({:.0} host polls/s; median round)",
        p.as_secs_f64() * 1e3,
        HOSTS as f64 / p.as_secs_f64()
    );
    println!(
        "  bare HTTP client: {:>8.1} ms  ({:.0} GETs/s; median round)",
        b.as_secs_f64() * 1e3,
        HOSTS as f64 / b.as_secs_f64()
    );
    println!("  ratio poll/bare : {ratio:.2}x   (median of the {ROUNDS} pairs; target <= 2x)");
    println!("  poller RSS      : {rss:.1} MB with {HOSTS} hosts in the model (target < 100 MB)");
    println!(
        "  targets: ratio {} | under 1 s {} | RSS {}",
        if ratio <= 2.0 { "met" } else { "MISSED" },
        if p < Duration::from_secs(1) {
            "met"
        } else {
            "MISSED"
        },
        if rss < 100.0 { "met" } else { "MISSED" }
    );
}

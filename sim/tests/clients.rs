//! The Supervisor clients, the poller and the probes against the fleet simulator — real sockets,
//! real framing, every fault.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fleet_sim::{demo_layout, Fault, FleetSim, SimHostSpec, SimServiceSpec, SimSpec};
use ops::fleet::poller::{EnvironmentAccess, Poller};
use ops::fleet::FleetOptions;
use ops::fleet::{AlarmKind, CellState, FleetModel, History, ModelOptions, Reachability, Subject};
use ops::inventory::static_file::StaticInventory;
use ops::store::{Store, StoreOptions};
use ops::supervisor::ctl::{CtlClient, CtlError, CtlTarget, ErrCode, PackageIdentMsg};
use ops::supervisor::gateway::{GatewayClient, GatewayClientOptions, GatewayError, GatewayTarget};
use ops::supervisor::habitat::{HealthStatus, ProcessState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client(timeout_ms: u64) -> GatewayClient {
    GatewayClient::new(&GatewayClientOptions {
        connect_timeout: Duration::from_millis(timeout_ms),
        request_timeout: Duration::from_millis(timeout_ms),
        ..GatewayClientOptions::default()
    })
    .unwrap()
}

fn target(sim: &FleetSim, host: &str) -> GatewayTarget {
    let h = sim.host(host).unwrap();
    GatewayTarget::new("127.0.0.1", h.gateway_addr.port(), false, None)
}

fn ctl_target(sim: &FleetSim, host: &str, secret: &str) -> CtlTarget {
    CtlTarget {
        addr: sim.host(host).unwrap().ctl_addr.to_string(),
        secret: secret.into(),
        tls: None,
    }
}

async fn inject(sim: &FleetSim, host: &str, fault: Fault) {
    sim.host(host).unwrap().inject(&fault).unwrap();
}

const API: &str = "builder-api-live-1";

#[tokio::test]
async fn the_services_digest_follows_every_change_and_the_census_is_each_members_own() {
    let sim = FleetSim::start(demo_layout(3)).await.unwrap();
    let c = client(1000);
    let t = target(&sim, API);
    let first = c.services_digest(&t).await.unwrap();
    assert_eq!(
        ops::supervisor::gateway::parse_services(&first.body).unwrap(),
        c.services(&t).await.unwrap(),
        "the body behind the digest is the service list"
    );
    assert_eq!(
        c.services_digest(&t).await.unwrap().digest,
        first.digest,
        "same bytes, same digest"
    );
    inject(
        &sim,
        API,
        Fault::Health {
            service: "builder-api".into(),
            status: HealthStatus::Warning,
        },
    )
    .await;
    let changed = c.services_digest(&t).await.unwrap();
    assert_ne!(changed.digest, first.digest, "a changed body, a new digest");
    assert_eq!(
        ops::supervisor::gateway::parse_services(&changed.body).unwrap()[0].health,
        HealthStatus::Warning,
    );
    inject(&sim, API, Fault::Clear).await;
    assert_eq!(c.services_digest(&t).await.unwrap().digest, first.digest);

    // Every member's census (shared text inside the simulator) names that member.
    let router = target(&sim, "builder-router-live-1");
    let a = c.census(&t).await.unwrap();
    let b = c.census(&router).await.unwrap();
    assert_ne!(a.local_member_id, b.local_member_id);
    assert_eq!(
        a.groups.keys().collect::<Vec<_>>(),
        b.groups.keys().collect::<Vec<_>>()
    );
    // A member going down shows in everyone's census.
    inject(&sim, "builder-router-live-1", Fault::Down).await;
    let after = c.census(&t).await.unwrap();
    assert!(
        after.groups["builder-router.live"]
            .iter()
            .any(|m| m.health == "suspect"),
        "{after:?}"
    );
}

#[tokio::test]
async fn gateway_client_under_every_fault() {
    let sim = FleetSim::start(demo_layout(1)).await.unwrap();
    let c = client(1000);
    let t = target(&sim, API);

    let services = c.services(&t).await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].service_group, "builder-api.live");
    assert_eq!(services[0].process_state, ProcessState::Up);
    assert_eq!(services[0].health, HealthStatus::Ok);
    assert_eq!(
        services[0].sup_version.as_deref(),
        Some("0.61.0/20180815173401")
    );
    assert_eq!(
        c.health(&t, "builder-api", "live").await.unwrap().status,
        HealthStatus::Ok
    );

    inject(
        &sim,
        API,
        Fault::Health {
            service: "builder-api".into(),
            status: HealthStatus::Critical,
        },
    )
    .await;
    let report = c.health(&t, "builder-api", "live").await.unwrap();
    assert_eq!(
        report.status,
        HealthStatus::Critical,
        "503 carries the report"
    );
    assert!(report.stdout.contains("router"));
    assert_eq!(
        c.services(&t).await.unwrap()[0].health,
        HealthStatus::Critical
    );

    assert_eq!(
        c.health(&t, "nope", "live").await.unwrap_err(),
        GatewayError::NotFound
    );

    inject(&sim, API, Fault::Garbage).await;
    assert!(matches!(
        c.services(&t).await,
        Err(GatewayError::Garbage(_))
    ));

    // The gateway failing inside: the status and what it said, not "garbage".
    inject(&sim, API, Fault::Clear).await;
    inject(&sim, API, Fault::ServerError { status: 503 }).await;
    match c.services(&t).await {
        Err(GatewayError::Status { status, .. }) => assert_eq!(status, 503),
        other => panic!("a 503 from /services: {other:?}"),
    }
    // A body too large to read is refused, not buffered.
    inject(&sim, API, Fault::Clear).await;
    inject(&sim, API, Fault::Oversized).await;
    assert_eq!(c.services(&t).await.unwrap_err(), GatewayError::TooLarge);

    inject(&sim, API, Fault::Clear).await;
    inject(&sim, API, Fault::Slow { ms: 1500 }).await;
    assert!(matches!(
        c.services(&t).await,
        Err(GatewayError::Timeout(1000))
    ));

    inject(&sim, API, Fault::Clear).await;
    inject(&sim, API, Fault::Down).await;
    assert!(
        matches!(c.services(&t).await, Err(GatewayError::Connect(_))),
        "down host"
    );

    inject(&sim, API, Fault::Up).await;
    assert!(c.services(&t).await.is_ok());

    let census = c.census(&t).await.unwrap();
    assert!(
        census.groups.contains_key("builder-router.live"),
        "census lists the ring"
    );
    assert!(c.butterfly(&t).await.unwrap().get("membership").is_some());

    // A closed port.
    let closed = GatewayTarget::new("127.0.0.1", 1, false, None);
    assert!(matches!(
        c.services(&closed).await,
        Err(GatewayError::Connect(_))
    ));
}

#[tokio::test]
async fn gateway_token_is_required_when_set() {
    let mut spec = demo_layout(2);
    spec.gateway_token = Some("t0ken".into());
    let sim = FleetSim::start(spec).await.unwrap();
    let c = client(1000);
    let mut t = target(&sim, API);
    assert_eq!(
        c.services(&t).await.unwrap_err(),
        GatewayError::Unauthorized
    );
    t.token = Some("wrong".into());
    assert_eq!(
        c.services(&t).await.unwrap_err(),
        GatewayError::Unauthorized
    );
    t.token = Some("t0ken".into());
    assert_eq!(c.services(&t).await.unwrap().len(), 1);
}

#[tokio::test]
async fn control_gateway_stop_start_status() {
    let sim = FleetSim::start(demo_layout(3)).await.unwrap();
    let ctl = CtlClient::default();
    let bad = ctl_target(&sim, API, "wrong");
    match ctl.status(&bad, None).await {
        Err(CtlError::Refused { code, msg }) => {
            assert_eq!(code, ErrCode::Unauthorized);
            assert_eq!(msg, "secret key mismatch");
        }
        other => panic!("{other:?}"),
    }

    let good = ctl_target(&sim, API, "demo-ctl-secret");
    let status = ctl.status(&good, None).await.unwrap();
    assert_eq!(status.statuses.len(), 1);
    assert_eq!(status.statuses[0].service_group.service, "builder-api");

    let reply = ctl
        .stop(&good, PackageIdentMsg::new("habitat", "builder-api"))
        .await
        .unwrap();
    assert_eq!(reply.console.len(), 1);
    assert!(
        reply.console[0].starts_with("Supervisor stopping habitat/builder-api/7602/"),
        "{:?}",
        reply.console
    );

    // Asynchronous, like the real Supervisor: right after the command it still shows up.
    let c = client(1000);
    let t = target(&sim, API);
    let now = c.services(&t).await.unwrap();
    assert_eq!(now[0].desired_up, Some(false));
    assert_eq!(
        now[0].process_state,
        ProcessState::Up,
        "a poll right after still shows the old state"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let later = c.services(&t).await.unwrap();
    assert_eq!(later[0].process_state, ProcessState::Down);
    assert_eq!(later[0].pid, None);

    // Stopping again changes nothing and says nothing.
    let again = ctl
        .stop(&good, PackageIdentMsg::new("habitat", "builder-api"))
        .await
        .unwrap();
    assert!(again.console.is_empty());

    ctl.start(&good, PackageIdentMsg::new("habitat", "builder-api"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        c.services(&t).await.unwrap()[0].process_state,
        ProcessState::Up
    );

    match ctl
        .stop(&good, PackageIdentMsg::new("habitat", "builder-nope"))
        .await
    {
        Err(CtlError::Refused {
            code: ErrCode::NotFound,
            msg,
        }) => {
            assert_eq!(msg, "Service not loaded, habitat/builder-nope")
        }
        other => panic!("{other:?}"),
    }

    inject(&sim, API, Fault::Down).await;
    assert!(
        ctl.status(&good, None).await.is_err(),
        "a down host does not answer"
    );
}

/// The simulator's control gateway, byte for byte against the reference's worked examples.
#[tokio::test]
async fn control_gateway_bytes_match_the_reference() {
    let spec = SimSpec {
        seed: 9,
        hosts: vec![SimHostSpec {
            environment: "live".into(),
            name: "h".into(),
            sup_version: "0.61.0/20180815173401".into(),
            services: vec![SimServiceSpec {
                origin: "habitat".into(),
                name: "builder-router".into(),
                group: "live".into(),
                version: "1".into(),
                release: "2".into(),
            }],
        }],
        ctl_secret: "s3cr3t".into(),
        gateway_token: None,
        control_port: 0,
        transition_delay_ms: 10,
        ctl_tls: None,
    };
    let sim = FleetSim::start(spec).await.unwrap();
    let mut s = tokio::net::TcpStream::connect(sim.hosts[0].ctl_addr)
        .await
        .unwrap();
    // Handshake with secret `s3cr3t`, txn 0.
    let mut hs = vec![0x80, 0x90, 0x00, 0x08, 0, 0, 0, 0];
    hs.extend_from_slice(b"Handshake");
    hs.extend_from_slice(&[0x0a, 0x06]);
    hs.extend_from_slice(b"s3cr3t");
    s.write_all(&hs).await.unwrap();
    let mut ok = [0u8; 13];
    s.read_exact(&mut ok).await.unwrap();
    let mut expected = vec![0x80, 0x50, 0x00, 0x00, 0xc0, 0, 0, 0];
    expected.extend_from_slice(b"NetOk");
    assert_eq!(ok.to_vec(), expected);
    // SvcStop{habitat/builder-api}, txn 1, for a service this Supervisor has not loaded.
    let mut stop = vec![0x80, 0x70, 0x00, 0x18, 0, 0, 0, 1];
    stop.extend_from_slice(b"SvcStop");
    stop.extend_from_slice(&[0x0a, 0x16, 0x0a, 0x07]);
    stop.extend_from_slice(b"habitat");
    stop.extend_from_slice(&[0x12, 0x0b]);
    stop.extend_from_slice(b"builder-api");
    s.write_all(&stop).await.unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.unwrap();
    let mut expected = vec![0x80, 0x60, 0x00, 0x2b, 0xc0, 0, 0, 1];
    expected.extend_from_slice(b"NetErr");
    expected.extend_from_slice(&[0x08, 0x02, 0x12, 0x27]);
    expected.extend_from_slice(b"Service not loaded, habitat/builder-api");
    assert_eq!(reply, expected, "then the server closes the connection");

    // A first message that is not a Handshake: the connection is dropped without a reply.
    let mut s = tokio::net::TcpStream::connect(sim.hosts[0].ctl_addr)
        .await
        .unwrap();
    let mut status = vec![0x80, 0x90, 0x00, 0x00, 0, 0, 0, 1];
    status.extend_from_slice(b"SvcStatus");
    s.write_all(&status).await.unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

async fn poller_for(
    sim: &FleetSim,
    dir: &tempfile::TempDir,
) -> (Arc<FleetModel>, Poller, StaticInventory, History) {
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, sim.fleet_file().to_toml()).unwrap();
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true), ("acceptance".into(), false)],
        stale_after_ms: 60_000,
    }));
    let store = Store::open(
        &format!("sqlite://{}/onwatch.db", dir.path().display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    let poller = Poller::new(
        model.clone(),
        client(800),
        BTreeMap::from([("live".into(), EnvironmentAccess::default())]),
        Some(History::new(store.clone())),
        FleetOptions {
            host_timeout: Duration::from_millis(800),
            interval: Duration::from_millis(100),
            ..FleetOptions::default()
        },
    );
    (model, poller, StaticInventory { path }, History::new(store))
}

#[tokio::test]
async fn poller_folds_the_simulated_fleet_into_the_model_and_the_store() {
    let sim = FleetSim::start(demo_layout(4)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (model, poller, inventory, history) = poller_for(&sim, &dir).await;
    let n = ops::fleet::feeds::refresh_inventory(&inventory, &model)
        .await
        .unwrap();
    assert_eq!(n, 12);

    let stats = poller.poll_once().await;
    assert_eq!((stats.polled, stats.ok, stats.failed), (12, 12, 0));
    let snap = model.snapshot(ops::time::now_ms());
    let live = snap.environment("live").unwrap();
    assert_eq!(
        live.counts.get(&CellState::Healthy),
        Some(&7),
        "7 services in live"
    );
    let jobsrv = snap.host("live", "builder-jobsrv-live-1").unwrap();
    assert_eq!(
        jobsrv.services.len(),
        2,
        "one host runs jobsrv and the scheduler"
    );
    assert!(snap.alarms.is_empty(), "{:?}", snap.alarms);

    inject(
        &sim,
        API,
        Fault::Health {
            service: "builder-api".into(),
            status: HealthStatus::Critical,
        },
    )
    .await;
    inject(&sim, "builder-router-live-1", Fault::Down).await;
    inject(
        &sim,
        "builder-originsrv-live-1",
        Fault::Stopped {
            service: "builder-originsrv".into(),
        },
    )
    .await;
    inject(
        &sim,
        "builder-sessionsrv-live-1",
        Fault::SupVersion {
            version: "0.62.0-dev".into(),
        },
    )
    .await;
    let stats = poller.poll_once().await;
    assert_eq!(stats.failed, 1);
    let snap = model.snapshot(ops::time::now_ms());
    let api = snap.host("live", API).unwrap();
    assert_eq!(api.services[0].cell, CellState::Critical);
    assert!(api.services[0]
        .health_report
        .as_ref()
        .unwrap()
        .stdout
        .contains("router"));
    let router = snap.host("live", "builder-router-live-1").unwrap();
    assert_eq!(router.reachability, Reachability::Unreachable);
    assert_eq!(router.services[0].cell, CellState::Unreachable);
    assert_eq!(
        snap.host("live", "builder-originsrv-live-1")
            .unwrap()
            .services[0]
            .cell,
        CellState::Down
    );
    let kinds: Vec<AlarmKind> = snap.alarms.iter().map(|a| a.kind).collect();
    assert!(kinds.contains(&AlarmKind::UnreachableHost), "{kinds:?}");
    assert!(kinds.contains(&AlarmKind::VersionDrift), "{kinds:?}");
    assert!(
        kinds.contains(&AlarmKind::DevelopmentSupervisor),
        "{kinds:?}"
    );

    // History survives in the store.
    let service_history = history
        .of("live", &Subject::service(API, "builder-api.live"), 10)
        .await
        .unwrap();
    assert_eq!(service_history[0].to_state, "critical");
    assert_eq!(service_history[0].from_state.as_deref(), Some("healthy"));
    let host_history = history
        .of("live", &Subject::supervisor("builder-router-live-1"), 10)
        .await
        .unwrap();
    assert_eq!(host_history[0].to_state, "unreachable");

    // A failing host backs off: the next immediate round defers it after two failures.
    poller.poll_once().await;
    let stats = poller.poll_once().await;
    assert_eq!(stats.deferred, 1, "{stats:?}");
}

#[tokio::test]
async fn a_broken_fleet_file_keeps_the_last_good_inventory() {
    let sim = FleetSim::start(demo_layout(5)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (model, _poller, inventory, _history) = poller_for(&sim, &dir).await;
    ops::fleet::feeds::refresh_inventory(&inventory, &model)
        .await
        .unwrap();
    std::fs::write(&inventory.path, "[[hosts]]\nthis is not toml").unwrap();
    let err = ops::fleet::feeds::refresh_inventory(&inventory, &model)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fleet.toml"), "{err}");
    let snap = model.snapshot(ops::time::now_ms());
    let live = snap.environment("live").unwrap();
    assert_eq!(live.hosts.len(), 6, "last good hosts kept");
    assert!(live.inventory.is_stale());
    assert!(snap
        .alarms
        .iter()
        .any(|a| a.kind == AlarmKind::StaleInventory));
}

#[tokio::test]
async fn builder_api_probe_follows_the_api_service() {
    use ops::probe::{check, ProbeSpec};
    let sim = FleetSim::start(demo_layout(6)).await.unwrap();
    let base = format!("http://{}", sim.builder_api["live"]);
    let spec = ProbeSpec::builder_api("live", &base);
    let http = reqwest::Client::new();
    let r = check(&http, &spec).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.status, Some(200));
    inject(
        &sim,
        API,
        Fault::Stopped {
            service: "builder-api".into(),
        },
    )
    .await;
    let r = check(&http, &spec).await;
    assert!(!r.ok);
    assert_eq!(r.status, Some(503));
    // "Request new build" needs a token.
    let res = http
        .post(format!("{base}/v1/depot/pkgs/schedule/core/nginx"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "api down");
    inject(
        &sim,
        API,
        Fault::Started {
            service: "builder-api".into(),
        },
    )
    .await;
    let res = http
        .post(format!("{base}/v1/depot/pkgs/schedule/core/nginx"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // A package no Supervisor of the environment runs is no project of this Builder.
    let res = http
        .post(format!("{base}/v1/depot/pkgs/schedule/core/nginx"))
        .bearer_auth("_tok")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .post(format!("{base}/v1/depot/pkgs/schedule/habitat/builder-api"))
        .bearer_auth("_tok")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["state"], "Pending");
    assert_eq!(body["projects"][0]["state"], "NotStarted");
    let group = body["id"].as_str().unwrap();
    let res = http
        .get(format!("{base}/v1/depot/pkgs/schedule/{group}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .get(format!("{base}/v1/depot/pkgs/schedule/12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn control_api_injects_faults_and_explains_bad_requests() {
    let sim = FleetSim::start(demo_layout(7)).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/faults", sim.control_url());
    let res = http
        .post(&url)
        .json(&serde_json::json!({"host": API, "fault": "health", "service": "builder-api", "status": "Warning"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let c = client(1000);
    assert_eq!(
        c.services(&target(&sim, API)).await.unwrap()[0].health,
        HealthStatus::Warning
    );
    let res = http
        .post(&url)
        .json(&serde_json::json!({"host": "nope", "fault": "down"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = http.post(&url).body("{").send().await.unwrap();
    assert_eq!(res.status(), 400);
    let res = http
        .post(&url)
        .json(&serde_json::json!({"host": API, "fault": "stopped", "service": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("runs no service"));
    let toml = http
        .get(format!("{}/fleet.toml", sim.control_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(toml.contains("builder-api-live-1"));
    let state: serde_json::Value = http
        .get(format!("{}/state", sim.control_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["hosts"].as_array().unwrap().len(), 12);
}

/// A bad night: 300 Supervisors that accept a connection and never answer (10 that do not even
/// accept), and 20 normal ones, polled at the production defaults. Each host is scheduled on its
/// own, so the normal hosts appear within 2 s of start and stay fresh, and the hung ones show as
/// unreachable, with the reason, within their timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_hosts_cost_only_their_own_slots() {
    let sim = FleetSim::start(fleet_sim::synthetic_layout(320, 1, 31))
        .await
        .unwrap();
    let names: Vec<String> = (0..320).map(|i| format!("host-{i:04}")).collect();
    for (i, name) in names.iter().enumerate().take(300) {
        let fault = if i < 10 { Fault::NoAccept } else { Fault::Hang };
        inject(&sim, name, fault).await;
    }
    let normal = &names[300..];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, sim.fleet_file().to_toml()).unwrap();
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true), ("acceptance".into(), false)],
        stale_after_ms: 15_000,
    }));
    ops::fleet::feeds::refresh_inventory(&StaticInventory { path }, &model)
        .await
        .unwrap();
    let options = FleetOptions::default();
    let timeout = options.host_timeout;
    let poller = Arc::new(Poller::new(
        model.clone(),
        GatewayClient::new(&GatewayClientOptions {
            request_timeout: timeout,
            ..GatewayClientOptions::default()
        })
        .unwrap(),
        BTreeMap::new(),
        None,
        options,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let run = tokio::spawn(poller.run(stop_rx));

    let host_of = |name: &str| {
        let snap = model.snapshot(ops::time::now_ms());
        let env = if name[5..].parse::<usize>().unwrap() % 2 == 0 {
            "live"
        } else {
            "acceptance"
        };
        snap.host(env, name).cloned().unwrap()
    };
    // The normal hosts appear within 2 s of start.
    loop {
        if normal
            .iter()
            .all(|n| host_of(n).reachability == Reachability::Reachable)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "normal hosts not all seen 2 s after start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // For the next 6 s they stay fresh: each seen within three intervals at every sample (the
    // interval is 1 s; a barrier round took 15 s; stale is 15 s). Three, not two: this runs
    // beside the whole suite on two shared cores, where a visit can start a few ms late.
    let mut worst = 0;
    while started.elapsed() < Duration::from_secs(8) {
        let now = ops::time::now_ms();
        for n in normal {
            let h = host_of(n);
            assert_eq!(h.reachability, Reachability::Reachable, "{n}");
            worst = worst.max(now - h.last_seen_ms.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(worst <= 3_000, "a normal host went {worst} ms unseen");
    // The hung ones are unreachable, saying why, within their timeout (plus a tick).
    for n in &names[..300] {
        let h = host_of(n);
        assert_eq!(h.reachability, Reachability::Unreachable, "{n}");
        let why = h.last_error.unwrap_or_default();
        assert!(
            why.contains(&format!("no answer within {} ms", timeout.as_millis())),
            "{n}: {why}"
        );
    }
    stop_tx.send(true).unwrap();
    run.await.unwrap();
}

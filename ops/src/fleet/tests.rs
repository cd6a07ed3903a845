use super::*;
use crate::supervisor::gateway::{GatewayError, HealthReport, ServicesBody};
use crate::supervisor::habitat::{HealthStatus, PackageIdent, ProcessState};

fn host(env: &str, name: &str) -> Host {
    Host {
        environment: env.into(),
        name: name.into(),
        instance_id: None,
        address: "127.0.0.1".into(),
        private_ip: None,
        public_ip: None,
        state: None,
        launch_time: None,
        gateway_port: 9631,
        ctl_port: 9632,
        labels: BTreeMap::new(),
    }
}

fn svc(name: &str, env: &str, up: bool, health: HealthStatus, sup: &str) -> ServiceStatus {
    ServiceStatus {
        service_group: format!("{name}.{env}"),
        ident: PackageIdent {
            origin: "habitat".into(),
            name: name.into(),
            version: Some("7602".into()),
            release: Some("20180906202535".into()),
        },
        process_state: if up {
            ProcessState::Up
        } else {
            ProcessState::Down
        },
        pid: up.then_some(42),
        state_entered: Some(1_700_000_000),
        desired_up: Some(up),
        health,
        update_strategy: Some("at-once".into()),
        channel: Some("stable".into()),
        topology: Some("standalone".into()),
        sup_version: Some(sup.into()),
        member_id: Some("m".into()),
        hostname: None,
        ip: None,
    }
}

fn model() -> FleetModel {
    FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true), ("acceptance".into(), false)],
        stale_after_ms: 10_000,
    })
}

fn ok(services: Vec<ServiceStatus>, at_ms: i64) -> HostPoll {
    HostPoll {
        result: Ok(ServicesAnswer::from_statuses(&services).unwrap()),
        health: BTreeMap::new(),
        census: None,
        at_ms,
    }
}

fn fail(at_ms: i64) -> HostPoll {
    HostPoll {
        result: Err(GatewayError::Connect("Connection refused".into())),
        health: BTreeMap::new(),
        census: None,
        at_ms,
    }
}

const REL: &str = "0.61.0/20180815173401";

fn inventory(m: &FleetModel, hosts: &[(&str, &str)]) {
    let hosts: Vec<Host> = hosts.iter().map(|(e, n)| host(e, n)).collect();
    m.set_inventory("test", crate::inventory::group_hosts(hosts), 0);
}

#[test]
fn hosts_start_unknown_and_become_healthy_when_seen_healthy() {
    let m = model();
    inventory(&m, &[("live", "api-1")]);
    let s = m.snapshot(0);
    let h = s.host("live", "api-1").unwrap();
    assert_eq!(h.reachability, Reachability::NotPolled);
    assert_eq!(
        h.cell,
        CellState::Unknown,
        "never shown healthy before it was seen"
    );

    let t = m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1_000,
        ),
    );
    assert_eq!(t.len(), 2, "host reachable + service first seen: {t:?}");
    assert_eq!(t[1].from_state, None);
    assert_eq!(t[1].to_state, "healthy");
    let s = m.snapshot(1_000);
    let h = s.host("live", "api-1").unwrap();
    assert_eq!(h.cell, CellState::Healthy);
    assert_eq!(h.sup_version.as_deref(), Some(REL));
    assert_eq!(
        s.environment("live").unwrap().counts[&CellState::Healthy],
        1
    );
}

#[test]
fn cell_states_follow_process_and_health() {
    assert_eq!(
        service_cell(&svc("a", "live", true, HealthStatus::Critical, REL)),
        CellState::Critical
    );
    assert_eq!(
        service_cell(&svc("a", "live", true, HealthStatus::Warning, REL)),
        CellState::Warning
    );
    assert_eq!(
        service_cell(&svc("a", "live", true, HealthStatus::Unknown, REL)),
        CellState::Unknown
    );
    assert_eq!(
        service_cell(&svc("a", "live", false, HealthStatus::Ok, REL)),
        CellState::Down
    );
}

#[test]
fn transitions_record_changes_only_and_keep_since() {
    let m = model();
    inventory(&m, &[("live", "api-1")]);
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1_000,
        ),
    );
    let t = m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            2_000,
        ),
    );
    assert!(t.is_empty(), "no change, no transition");
    assert_eq!(
        m.snapshot(2_000).host("live", "api-1").unwrap().services[0].since_ms,
        1_000
    );

    let mut critical = HostPoll {
        result: Ok(ServicesAnswer::from_statuses(&[svc(
            "builder-api",
            "live",
            true,
            HealthStatus::Critical,
            REL,
        )])
        .unwrap()),
        health: BTreeMap::new(),
        census: None,
        at_ms: 3_000,
    };
    critical.health.insert(
        "builder-api.live".into(),
        HealthReport {
            status: HealthStatus::Critical,
            stdout: "\ncannot reach router\n".into(),
            stderr: String::new(),
        },
    );
    let t = m.apply_poll("live", "api-1", critical);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].from_state.as_deref(), Some("healthy"));
    assert_eq!(t[0].to_state, "critical");
    assert_eq!(
        t[0].detail, "cannot reach router",
        "the hook's first line explains it"
    );
    let s = m.snapshot(3_000);
    let svc_snap = &s.host("live", "api-1").unwrap().services[0];
    assert_eq!(svc_snap.cell, CellState::Critical);
    assert_eq!(svc_snap.since_ms, 3_000);
    assert!(svc_snap.health_report.is_some());

    let t = m.apply_poll("live", "api-1", ok(vec![], 4_000));
    assert_eq!(t[0].to_state, "unloaded");
}

#[test]
fn an_unreachable_host_is_never_shown_as_its_last_healthy_state() {
    let m = model();
    inventory(&m, &[("live", "api-1")]);
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1_000,
        ),
    );
    let t = m.apply_poll("live", "api-1", fail(2_000));
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].to_state, "unreachable");
    assert!(t[0].detail.contains("refused"));
    let s = m.snapshot(2_000);
    let h = s.host("live", "api-1").unwrap();
    assert_eq!(h.cell, CellState::Unreachable);
    assert_eq!(
        h.services[0].cell,
        CellState::Unreachable,
        "last known kept, but not as healthy"
    );
    assert_eq!(m.failures("live", "api-1"), 1);
    assert!(s
        .alarms
        .iter()
        .any(|a| a.kind == AlarmKind::UnreachableHost && a.subject == "api-1"));
    m.apply_poll("live", "api-1", fail(3_000));
    assert_eq!(m.failures("live", "api-1"), 2);
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            4_000,
        ),
    );
    assert_eq!(m.failures("live", "api-1"), 0);
    assert_eq!(
        m.snapshot(4_000).host("live", "api-1").unwrap().cell,
        CellState::Healthy
    );
}

#[test]
fn old_data_turns_stale() {
    let m = model();
    inventory(&m, &[("live", "api-1")]);
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1_000,
        ),
    );
    let s = m.snapshot(20_000);
    let h = s.host("live", "api-1").unwrap();
    assert_eq!(h.cell, CellState::Stale);
    assert_eq!(h.services[0].cell, CellState::Stale);
}

#[test]
fn a_failed_inventory_keeps_the_last_good_hosts_marked_stale() {
    let m = model();
    inventory(&m, &[("live", "api-1"), ("live", "router-1")]);
    m.inventory_failed("EC2", "AuthFailure: bad key", 5_000);
    let s = m.snapshot(65_000);
    let live = s.environment("live").unwrap();
    assert_eq!(live.hosts.len(), 2, "hosts kept");
    assert!(live.inventory.is_stale());
    let alarm = s
        .alarms
        .iter()
        .find(|a| a.kind == AlarmKind::StaleInventory)
        .unwrap();
    assert!(alarm.message.contains("AuthFailure"), "{}", alarm.message);
    assert!(alarm.message.contains("1 min ago"), "{}", alarm.message);
    inventory(&m, &[("live", "api-1")]);
    let s = m.snapshot(66_000);
    assert!(!s.environment("live").unwrap().inventory.is_stale());
    assert_eq!(s.environment("live").unwrap().hosts.len(), 1);
}

#[test]
fn version_drift_and_development_builds_raise_alarms() {
    let m = model();
    inventory(&m, &[("live", "a"), ("live", "b"), ("acceptance", "c")]);
    m.apply_poll(
        "live",
        "a",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1,
        ),
    );
    m.apply_poll(
        "live",
        "b",
        ok(
            vec![svc(
                "builder-router",
                "live",
                true,
                HealthStatus::Ok,
                "0.62.0-dev",
            )],
            1,
        ),
    );
    m.apply_poll(
        "acceptance",
        "c",
        ok(
            vec![svc(
                "builder-api",
                "acceptance",
                true,
                HealthStatus::Ok,
                "0.63.0",
            )],
            1,
        ),
    );
    let s = m.snapshot(1);
    let drift: Vec<_> = s
        .alarms
        .iter()
        .filter(|a| a.kind == AlarmKind::VersionDrift)
        .collect();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].environment, "live");
    assert!(drift[0].message.contains("0.62.0-dev on b"));
    let dev: Vec<_> = s
        .alarms
        .iter()
        .filter(|a| a.kind == AlarmKind::DevelopmentSupervisor)
        .collect();
    assert_eq!(
        dev.len(),
        1,
        "only production is held to release builds: {dev:?}"
    );
    assert_eq!(dev[0].subject, "b");
}

#[test]
fn development_build_rule() {
    assert!(!is_development_build("0.61.0/20180815173401"));
    assert!(is_development_build("2.1.78"));
    assert!(is_development_build("0.62.0-dev/20180815173401"));
    assert!(is_development_build("0.62.0/dev"));
}

#[test]
fn stopped_instances_are_not_polled_and_show_stopped() {
    let m = model();
    let mut stopped = host("live", "old");
    stopped.state = Some("stopped".into());
    m.set_inventory(
        "EC2",
        crate::inventory::group_hosts(vec![stopped, host("live", "api")]),
        0,
    );
    let pollable: Vec<_> = m.pollable_hosts().into_iter().map(|h| h.name).collect();
    assert_eq!(pollable, ["api"]);
    let s = m.snapshot(0);
    let old = s.host("live", "old").unwrap();
    assert_eq!(old.reachability, Reachability::NotRunning);
    assert_eq!(old.cell, CellState::Stopped, "stopped, not unknown");
}

/// Only configured environments exist: instances tagged `Live` or `staging` are neither shown
/// nor polled, only counted, with the configured name they probably meant.
#[test]
fn only_configured_environments_exist_and_misspelt_tags_are_counted() {
    let m = model();
    m.set_inventory(
        "EC2",
        crate::inventory::group_hosts(vec![
            host("live", "api"),
            host("Live", "typo-1"),
            host("Live", "typo-2"),
            host("staging", "s-1"),
        ]),
        0,
    );
    let pollable: Vec<_> = m.pollable_hosts().into_iter().map(|h| h.name).collect();
    assert_eq!(pollable, ["api"]);
    let s = m.snapshot(0);
    let names: Vec<&str> = s.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["live", "acceptance"]);
    assert_eq!(
        s.unconfigured,
        vec![
            super::UnconfiguredTag {
                tag: "Live".into(),
                instances: 2,
                suggestion: Some("live".into())
            },
            super::UnconfiguredTag {
                tag: "staging".into(),
                instances: 1,
                suggestion: None
            },
        ]
    );
    assert_eq!(
        super::suggest_environment("acceptence", ["live", "acceptance"]).as_deref(),
        Some("acceptance")
    );
    assert_eq!(
        super::suggest_environment("prod", ["live", "acceptance"]),
        None
    );
}

#[test]
fn changes_are_broadcast_with_increasing_versions() {
    let m = model();
    let mut rx = m.subscribe();
    inventory(&m, &[("live", "api-1")]);
    let first = rx.try_recv().unwrap();
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1,
        ),
    );
    let second = rx.try_recv().unwrap();
    assert!(second.version > first.version);
    assert_eq!(second.transitions.len(), 2);
}

#[test]
fn failing_probes_raise_alarms() {
    use crate::probe::{ProbeResult, ProbeSpec, ProbeStatus};
    let m = model();
    let mut p = ProbeStatus::new(&ProbeSpec::builder_api("live", "http://x"));
    p.push(ProbeResult {
        at_ms: 5,
        ok: false,
        status: Some(503),
        latency_ms: 3,
        error: Some("HTTP 503".into()),
    });
    m.set_probe(p);
    let s = m.snapshot(10);
    let a = s
        .alarms
        .iter()
        .find(|a| a.kind == AlarmKind::FailingProbe)
        .unwrap();
    assert_eq!(a.since_ms, Some(5));
    assert!(a.message.contains("/v1/depot/origins/core"));
}

fn census_poller(census_every: u64, census_max_per_round: usize) -> poller::Poller {
    poller::Poller::new(
        Arc::new(model()),
        crate::supervisor::gateway::GatewayClient::new(&Default::default()).unwrap(),
        BTreeMap::new(),
        None,
        FleetOptions {
            census_every,
            census_max_per_round,
            ..Default::default()
        },
    )
}

#[test]
fn census_reads_take_turns_within_a_budget() {
    let hosts: Vec<Host> = (0..12).map(|i| host("live", &format!("h{i:02}"))).collect();
    // 12 hosts, each about every 10 rounds: 2 a round, every host within 6 rounds.
    let p = census_poller(10, 4);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let round = p.census_hosts(&hosts);
        assert_eq!(round.len(), 2);
        seen.extend(round);
    }
    assert_eq!(seen.len(), 12, "every host's census is read in turn");

    // A ring of 1,000: never more than the budget in one round (each census lists the ring).
    let many: Vec<Host> = (0..1000)
        .map(|i| host("live", &format!("h{i:04}")))
        .collect();
    let p = census_poller(10, 4);
    assert_eq!(p.census_hosts(&many).len(), 4);
    // Off, or no hosts: nothing.
    assert!(census_poller(0, 4).census_hosts(&hosts).is_empty());
    assert!(census_poller(10, 4).census_hosts(&[]).is_empty());
    // One host: read every round it is due, never twice in a round.
    assert_eq!(census_poller(1, 4).census_hosts(&hosts[..1]).len(), 1);
}

/// A panic while the model's lock is held must not freeze the model (every later write
/// refused) or empty it (every read refused): the data is recovered, every host reads unknown
/// until it is seen again, and the dashboard says why.
#[test]
fn a_panic_while_the_model_is_locked_is_recovered_and_said() {
    let m = Arc::new(model());
    inventory(&m, &[("live", "api-1")]);
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            1_000,
        ),
    );
    assert_eq!(
        m.snapshot(1_000).host("live", "api-1").unwrap().cell,
        CellState::Healthy
    );

    let poisoner = m.clone();
    let panicked = std::thread::spawn(move || {
        let _held = poisoner.state.write().unwrap();
        panic!("a bug while updating the model");
    })
    .join();
    assert!(panicked.is_err() && m.state.is_poisoned());

    let snap = m.snapshot(2_000);
    let host = snap.host("live", "api-1").expect("the hosts are kept");
    assert_eq!(
        host.cell,
        CellState::Unknown,
        "not shown healthy: not seen since"
    );
    assert_eq!(host.services[0].cell, CellState::Unknown);
    assert_eq!(
        snap.alarms[0].kind,
        AlarmKind::ModelRecovered,
        "{:?}",
        snap.alarms
    );
    assert!(!m.state.is_poisoned());

    // The model keeps changing.
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc("builder-api", "live", true, HealthStatus::Ok, REL)],
            3_000,
        ),
    );
    let snap = m.snapshot(3_000);
    assert_eq!(snap.host("live", "api-1").unwrap().cell, CellState::Healthy);
    assert!(snap.version > 0);
}

/// Alarms in the order a person on call reads them: production first, then by severity, then
/// the oldest first; a critical or down production service is an alarm of its own.
#[test]
fn alarms_put_production_first_then_severity_then_age() {
    let m = model();
    inventory(
        &m,
        &[
            ("acceptance", "acc-1"),
            ("live", "api-1"),
            ("live", "api-2"),
            ("live", "old-1"),
        ],
    );
    let err = || HostPoll {
        result: Err(crate::supervisor::gateway::GatewayError::Connect(
            "refused".into(),
        )),
        health: BTreeMap::new(),
        census: None,
        at_ms: 0,
    };
    m.apply_poll("acceptance", "acc-1", err());
    m.apply_poll("live", "old-1", {
        let mut p = err();
        p.at_ms = 0;
        p
    });
    let sup = "0.61.0/20180815173401";
    m.apply_poll(
        "live",
        "api-1",
        ok(
            vec![svc(
                "builder-api",
                "live",
                true,
                HealthStatus::Critical,
                sup,
            )],
            5_000,
        ),
    );
    m.apply_poll(
        "live",
        "api-2",
        ok(
            vec![svc(
                "builder-api",
                "live",
                false,
                HealthStatus::Unknown,
                sup,
            )],
            9_000,
        ),
    );
    let s = m.snapshot(10_000);
    let order: Vec<(String, vocab::AlarmKind, String)> = s
        .alarms
        .iter()
        .map(|a| (a.environment.clone(), a.kind, a.subject.clone()))
        .collect();
    use vocab::AlarmKind::{FailingService, UnreachableHost};
    assert_eq!(order[0].0, "live", "{order:?}");
    assert_eq!(order[0].1, FailingService, "{order:?}");
    assert!(
        order[0].2.ends_with("on api-1"),
        "the older failure first: {order:?}"
    );
    assert_eq!(order[1].1, FailingService, "{order:?}");
    assert!(order[1].2.ends_with("on api-2"), "{order:?}");
    assert_eq!(
        (order[2].0.as_str(), order[2].1),
        ("live", UnreachableHost),
        "{order:?}"
    );
    assert_eq!(
        (order.last().unwrap().0.as_str(), order.last().unwrap().1),
        ("acceptance", UnreachableHost),
        "production before acceptance, whatever the kind: {order:?}"
    );
    assert!(
        s.alarms.iter().all(|a| a.since_ms.is_some()),
        "every alarm says since when"
    );
}

/// A `/services` answer read from a body with this digest.
fn parsed(services: &[ServiceStatus], digest: u64, at_ms: i64) -> HostPoll {
    HostPoll {
        result: Ok(ServicesAnswer::Parsed {
            services: services.iter().map(|s| s.to_record().unwrap()).collect(),
            digest: Some(digest),
        }),
        health: BTreeMap::new(),
        census: None,
        at_ms,
    }
}

/// The same body again (by digest), with these bytes behind it.
fn same(body: &[u8], digest: u64, at_ms: i64) -> HostPoll {
    HostPoll {
        result: Ok(ServicesAnswer::Same(ServicesBody {
            body: body.to_vec(),
            digest,
        })),
        health: BTreeMap::new(),
        census: None,
        at_ms,
    }
}

#[test]
fn the_same_body_again_is_not_parsed_and_still_nothing_is_shown_healthy_unseen() {
    let m = model();
    inventory(&m, &[("live", "api-1")]);
    assert_eq!(m.services_seen("live", "api-1", 7), None, "never read");
    let services = [
        svc("builder-api", "live", true, HealthStatus::Ok, REL),
        svc("builder-router", "live", true, HealthStatus::Warning, REL),
    ];
    m.apply_poll("live", "api-1", parsed(&services, 7, 1_000));
    assert_eq!(
        m.services_seen("live", "api-1", 7),
        Some(vec!["builder-router.live".to_owned()]),
        "the services whose health reports the poller fetches"
    );
    assert_eq!(m.services_seen("live", "api-1", 8), None);
    assert_eq!(m.services_seen("live", "nobody", 7), None);

    // A steady answer: nothing changes, the version stays, the body is not read (it is not
    // even JSON here).
    let version = m.version();
    assert!(m
        .apply_poll("live", "api-1", same(b"not json", 7, 2_000))
        .is_empty());
    assert_eq!(
        m.version(),
        version,
        "a steady poll changes nothing a page shows"
    );
    let h = m.snapshot(2_000).host("live", "api-1").unwrap().clone();
    assert_eq!(h.last_seen_ms, Some(2_000));
    assert_eq!(h.services.len(), 2);
    assert_eq!(h.services[0].cell, CellState::Healthy);
    assert_eq!(h.services[0].since_ms, 1_000);

    // Unreachable, then the same body again: every service is read back from what that body
    // said (healthy again only because it said so), with its transitions.
    m.apply_poll("live", "api-1", fail(3_000));
    let h = m.snapshot(3_000).host("live", "api-1").unwrap().clone();
    assert!(h.services.iter().all(|s| s.cell == CellState::Unreachable));
    let t = m.apply_poll("live", "api-1", same(b"not json", 7, 4_000));
    let to: Vec<_> = t.iter().map(|t| t.to_state.as_str()).collect();
    assert_eq!(to, ["reachable", "healthy", "warning"], "{t:?}");
    let h = m.snapshot(4_000).host("live", "api-1").unwrap().clone();
    assert_eq!(h.cell, CellState::Warning);
    assert_eq!(h.services[0].cell, CellState::Healthy);
    assert_eq!(h.services[0].since_ms, 4_000);

    // A "same" answer whose digest the model no longer holds is parsed after all: here it is
    // garbage, so the host is unreachable with the reason, never shown as before.
    let t = m.apply_poll("live", "api-1", same(b"not json", 9, 5_000));
    assert!(t.iter().any(|t| t.to_state == "unreachable"), "{t:?}");
    let h = m.snapshot(5_000).host("live", "api-1").unwrap().clone();
    assert_eq!(h.reachability, Reachability::Unreachable);
    assert!(h.last_error.unwrap().contains("not a service list"));
    // ... and a real body is read as any other.
    let body =
        br#"[{"service_group":"builder-api.live","pkg":{"origin":"habitat","name":"builder-api"},
        "process":{"state":"down"},"health_check":"Ok"}]"#;
    m.apply_poll("live", "api-1", same(body, 9, 6_000));
    let h = m.snapshot(6_000).host("live", "api-1").unwrap().clone();
    assert_eq!(h.services.len(), 1, "the router is no longer loaded");
    assert_eq!(h.services[0].cell, CellState::Down);
    assert_eq!(m.services_seen("live", "api-1", 9), Some(vec![]));
    assert_eq!(m.services_seen("live", "api-1", 7), None);
}

#[test]
fn a_recovered_model_reads_a_steady_host_again_before_it_shows_healthy() {
    let m = model();
    inventory(&m, &[("live", "api-1")]);
    let services = [svc("builder-api", "live", true, HealthStatus::Ok, REL)];
    m.apply_poll("live", "api-1", parsed(&services, 7, 1_000));
    m.write_state().recover(2_000);
    let h = m.snapshot(2_000).host("live", "api-1").unwrap().clone();
    assert_eq!(h.cell, CellState::Unknown);
    assert_eq!(h.services[0].cell, CellState::Unknown);
    m.apply_poll("live", "api-1", same(b"", 7, 3_000));
    let h = m.snapshot(3_000).host("live", "api-1").unwrap().clone();
    assert_eq!(h.cell, CellState::Healthy);
    assert_eq!(h.services[0].since_ms, 3_000);
}

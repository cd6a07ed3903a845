//! Fleet layouts: the demo (the Builder services over `live` and `acceptance`) and a synthetic
//! fleet of any size for benchmarks.

use crate::{SimHostSpec, SimServiceSpec, SimSpec};

fn svc(name: &str, env: &str, version: &str, release: &str) -> SimServiceSpec {
    SimServiceSpec {
        origin: "habitat".into(),
        name: name.into(),
        group: env.into(),
        version: version.into(),
        release: release.into(),
    }
}

/// The Builder services spread over `live` and `acceptance`: one service per host, except one
/// host that runs two (as the runbook says); acceptance one release ahead on some services; all
/// on one released Supervisor per environment.
pub fn demo_layout(seed: u64) -> SimSpec {
    let mut hosts = Vec::new();
    let services = [
        (
            "builder-api",
            "7602",
            "20180906202535",
            "7611",
            "20180912181703",
        ),
        (
            "builder-router",
            "7590",
            "20180828215240",
            "7590",
            "20180828215240",
        ),
        (
            "builder-sessionsrv",
            "7598",
            "20180904225919",
            "7605",
            "20180910191522",
        ),
        (
            "builder-originsrv",
            "7602",
            "20180906202535",
            "7602",
            "20180906202535",
        ),
        (
            "builder-jobsrv",
            "7599",
            "20180905001248",
            "7608",
            "20180911223310",
        ),
        (
            "builder-scheduler",
            "7599",
            "20180905001248",
            "7599",
            "20180905001248",
        ),
        (
            "builder-datastore",
            "7590",
            "20180828215240",
            "7590",
            "20180828215240",
        ),
    ];
    for (env, sup) in [
        ("live", "0.61.0/20180815173401"),
        ("acceptance", "0.62.1/20180912172130"),
    ] {
        for (name, lv, lr, av, ar) in services {
            let (v, r) = if env == "live" { (lv, lr) } else { (av, ar) };
            // The scheduler shares the jobsrv host, as on the real fleet.
            if name == "builder-scheduler" {
                continue;
            }
            let mut list = vec![svc(name, env, v, r)];
            if name == "builder-jobsrv" {
                list.push(svc("builder-scheduler", env, "7599", "20180905001248"));
            }
            let short = name.trim_start_matches("builder-");
            hosts.push(SimHostSpec {
                environment: env.into(),
                name: format!("builder-{short}-{env}-1"),
                sup_version: sup.into(),
                services: list,
            });
        }
    }
    SimSpec {
        seed,
        hosts,
        ctl_secret: "demo-ctl-secret".into(),
        gateway_token: None,
        control_port: 0,
        transition_delay_ms: 800,
        ctl_tls: None,
    }
}

/// `hosts` Supervisors with `services` services each, for benchmarks.
pub fn synthetic_layout(hosts: usize, services: usize, seed: u64) -> SimSpec {
    SimSpec {
        seed,
        hosts: (0..hosts)
            .map(|i| SimHostSpec {
                environment: if i % 2 == 0 {
                    "live".into()
                } else {
                    "acceptance".into()
                },
                name: format!("host-{i:04}"),
                sup_version: "0.61.0/20180815173401".into(),
                services: (0..services)
                    .map(|j| {
                        svc(
                            &format!("svc-{j}"),
                            if i % 2 == 0 { "live" } else { "acceptance" },
                            "1.0.0",
                            "20180101000000",
                        )
                    })
                    .collect(),
            })
            .collect(),
        ctl_secret: "bench".into(),
        gateway_token: None,
        control_port: 0,
        transition_delay_ms: 100,
        ctl_tls: None,
    }
}

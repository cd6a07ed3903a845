//! The datastore's stale lock files through the real server, over a real sshd: the page's read
//! of what the datastore's log names, a refusal of a file it does not name, and the removal that
//! takes the named file, starts the datastore through its control gateway and is audited.

use fleet_sim::{demo_layout, FleetSim};

use crate::actions::{action_audit, audit_kinds, follow, refusing_guards};
use crate::builds::{app, output, started, TOKEN};

/// The datastore's stale lock files, end to end over a real sshd: the page's read names the
/// stale `postmaster.pid` from the datastore's log; a removal of a file the log does not name is
/// refused before anything runs; the removal of the named one takes it, starts the datastore
/// through its control gateway, and is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lock_files_named_by_the_log_are_removed_and_the_datastore_started() {
    use fleet_sim::Fault;
    let sim = FleetSim::start(demo_layout(46)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = crate::actions::ssh_through(&sshd, &sim);
    let dir = crate::actions::datastore_dir(&sshd);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let pid_file = dir.join("data/postmaster.pid");
    std::fs::write(&pid_file, "4194301\n").unwrap();
    let bystander = dir.join("data/PG_VERSION");
    std::fs::write(&bystander, "9.6\n").unwrap();
    let app = app(&sim, Some(TOKEN), |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
        c.datastore_locks.service_dir = dir.display().to_string();
        c.datastore_locks.owners = vec!["root".into(), sshd.user.clone()];
    })
    .await;
    let host = "builder-datastore-live-1";
    sim.host(host)
        .unwrap()
        .inject(&Fault::Stopped {
            service: "builder-datastore".into(),
        })
        .unwrap();
    let ada = app.signed_in("ada", "responder").await;
    // Only a datastore the fleet has seen stop can have stale lock files: wait until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let res = app
            .call(
                &ada,
                "/api/read/host",
                &[("environment", "live"), ("host", host)],
            )
            .await;
        assert_eq!(res.status(), 200);
        let seen: serde_json::Value = res.json().await.unwrap();
        let stopped = seen[1]["services"].as_array().is_some_and(|services| {
            services.iter().any(|s| {
                s["service"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("builder-datastore"))
                    && s["cell"] != "healthy"
            })
        });
        if stopped {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stop was never seen: {seen}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The page's read: every datastore host; the stopped one names the stale file.
    let res = app.call(&ada, "/api/act/datastore-locks", &[]).await;
    assert_eq!(res.status(), 200);
    let hosts: serde_json::Value = res.json().await.unwrap();
    let live = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .unwrap_or_else(|| panic!("{hosts}"));
    assert_eq!(live["error"], serde_json::Value::Null, "{live}");
    let files = live["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{live}");
    assert_eq!(files[0]["path"], pid_file.display().to_string());
    assert_eq!(files[0]["refusal"], serde_json::Value::Null);
    assert_eq!(files[0]["size"], 8);

    let removal = |paths: String| {
        let key = ops::auth::random_token();
        let base = app.address.clone();
        let client = ada.clone();
        async move {
            let res = client
                .post(format!("{base}/api/attempt/action"))
                .header("origin", &base)
                .form(&[
                    ("kind", "remove_lock_files"),
                    ("environment", "live"),
                    ("host", host),
                    ("service_group", "builder-datastore.live"),
                    (
                        "reason",
                        "the datastore will not start: stale postmaster.pid",
                    ),
                    ("confirmation", "live/builder-datastore"),
                    ("tried_in_acceptance", "no"),
                    ("idempotency_key", key.as_str()),
                    ("paths", paths.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    // A file that is not one of postgres's lock files: refused, nothing runs.
    let answer = removal(bystander.display().to_string()).await;
    assert_eq!(refusing_guards(&answer), ["paths"]);
    assert!(
        answer
            .to_string()
            .contains("is not a lock file postgres uses here"),
        "{answer}"
    );
    assert!(bystander.exists());
    // The named one: removed, and the datastore started and healthy.
    let id = started(&removal(pid_file.display().to_string()).await);
    let last = follow(&app.address, &ada, &id).await;
    assert_eq!(last["state"], "succeeded", "{last}");
    let out = output(&last);
    assert!(
        out.contains(&format!("removed {}", pid_file.display())),
        "{out}"
    );
    assert!(out.contains("→ SvcStart"), "{out}");
    assert!(
        last["summary"]
            .as_str()
            .unwrap()
            .starts_with("1 lock file removed; the datastore is healthy again"),
        "{last}"
    );
    assert!(!pid_file.exists());
    assert!(bystander.exists(), "a file that was not asked for went");
    let state = sim.host(host).unwrap().state_json();
    let ds = state["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "builder-datastore")
        .unwrap()
        .clone();
    assert_eq!(ds["process_up"], true, "{ds}");
    let kinds = audit_kinds(&app).await;
    assert_eq!(
        action_audit(&app, &id).await,
        [
            ("action.intent".to_owned(), String::new()),
            ("action.outcome".to_owned(), "succeeded".to_owned())
        ]
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|(k, _, _)| k == "action.refused")
            .count(),
        1
    );
    // The datastore runs and is healthy again: a file of that name is its own (a running
    // postgres has one), and a removal of it is refused on that rule, whatever its log says.
    std::fs::write(&pid_file, "4194301\n").unwrap();
    let answer = removal(pid_file.display().to_string()).await;
    assert_eq!(refusing_guards(&answer), ["paths"]);
    assert!(
        answer
            .to_string()
            .contains("the datastore runs and is healthy here"),
        "{answer}"
    );
    assert!(pid_file.exists(), "nothing was removed");
}

/// Reading the lock files runs `journalctl` and a root script on every datastore host: a
/// viewer may not make Onwatch do that, neither through the page's read nor through a removal
/// request the role guard refuses (no SSH command runs for either); a responder's reads are
/// audited (the attempt before anything runs, then the outcome) and limited per person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_runs_nothing_on_the_hosts_and_a_responders_reads_are_audited_and_bounded() {
    let sim = FleetSim::start(demo_layout(47)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut ssh = crate::actions::ssh_through(&sshd, &sim);
    let dir = crate::actions::datastore_dir(&sshd);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    // Every SSH command leaves a mark on the host before it runs.
    let marks = sshd.dir.join("ssh-commands-run");
    let mark = format!("echo x >> '{}';", marks.display());
    ssh.commands.supervisor_log = format!("{mark} {}", ssh.commands.supervisor_log);
    ssh.commands.run_script = format!("{mark} {}", ssh.commands.run_script);
    let ran = || {
        std::fs::read_to_string(&marks)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let app = app(&sim, Some(TOKEN), |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
        c.datastore_locks.service_dir = dir.display().to_string();
        c.datastore_locks.owners = vec!["root".into(), sshd.user.clone()];
        c.datastore_locks.read_limit = 2;
    })
    .await;
    let host = "builder-datastore-live-1";
    let vic = app.signed_in("vic", "viewer").await;
    let res = app.call(&vic, "/api/act/datastore-locks", &[]).await;
    assert_eq!(res.status(), 403);
    let key = ops::auth::random_token();
    let res = vic
        .post(format!("{}/api/attempt/action", app.address))
        .header("origin", &app.address)
        .form(&[
            ("kind", "remove_lock_files"),
            ("environment", "live"),
            ("host", host),
            ("service_group", "builder-datastore.live"),
            ("reason", "a viewer tries"),
            ("confirmation", "live/builder-datastore"),
            ("tried_in_acceptance", "no"),
            ("idempotency_key", key.as_str()),
            (
                "paths",
                &dir.join("data/postmaster.pid").display().to_string(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(refusing_guards(&answer), ["role"], "{answer}");
    assert_eq!(ran(), 0, "a viewer's requests ran commands on the host");

    let ada = app.signed_in("ada", "responder").await;
    for _ in 0..2 {
        let res = app.call(&ada, "/api/act/datastore-locks", &[]).await;
        assert_eq!(res.status(), 200);
    }
    let after_two = ran();
    assert!(after_two > 0, "the responder's reads ran nothing");
    let res = app.call(&ada, "/api/act/datastore-locks", &[]).await;
    assert_eq!(res.status(), 429);
    let text = res.text().await.unwrap();
    assert!(text.contains("at most 2"), "{text}");
    assert_eq!(ran(), after_two, "a refused read ran commands");
    let reads: Vec<String> = audit_kinds(&app)
        .await
        .into_iter()
        .filter(|(k, _, _)| k == "locks.read")
        .map(|(_, o, _)| o)
        .collect();
    assert_eq!(reads, ["", "done", "", "done", "refused"]);
}

//! The datastore's stale lock files through the real server, over a real sshd: the page's read
//! of what the datastore's log names, a refusal of a file it does not name, and the removal that
//! takes the named file, starts the datastore through its control gateway and is audited.

use ops::sim::{demo_layout, FleetSim};

use crate::actions::{action_audit, audit_kinds, follow, refusing_guards};
use crate::builds::{app, output, started, TOKEN};

/// The datastore's stale lock files, end to end over a real sshd: the page's read names the
/// stale `postmaster.pid` from the datastore's log; a removal of a file the log does not name is
/// refused before anything runs; the removal of the named one takes it, starts the datastore
/// through its control gateway, and is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_lock_files_named_by_the_log_are_removed_and_the_datastore_started() {
    use ops::sim::Fault;
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
    // The page's read: every datastore host; the stopped one names the stale file.
    let res = app.call(&ada, "/api/read/datastore-locks", &[]).await;
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
    // A file the log does not name: refused, nothing runs.
    let answer = removal(bystander.display().to_string()).await;
    assert_eq!(refusing_guards(&answer), ["paths"]);
    assert!(
        answer
            .to_string()
            .contains("is not named by the datastore's log"),
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
            .starts_with("1 lock file(s) removed; the datastore is healthy again"),
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
}

//! A host's log through the server, over a real sshd whose `journalctl` (the demo's) follows the
//! simulator: lines as events, a fault appearing as a line without a reload, the watch audited
//! from its start to its end (the page closing), and a host Onwatch cannot reach saying why.

use std::time::Duration;

use ops::sim::{demo_layout, Fault, FleetSim};
use ops::supervisor::habitat::HealthStatus;

use crate::actions::{app_with, ssh_through};
use crate::helpers::StoreKind;

/// Reads the event stream until `want` appears in it (or 15 s pass).
async fn until(resp: &mut reqwest::Response, seen: &mut String, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !seen.contains(want) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, resp.chunk()).await {
            Ok(Ok(Some(c))) => seen.push_str(&String::from_utf8_lossy(&c)),
            other => panic!("`{want}` never came ({other:?}); the stream said:\n{seen}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_log_follows_the_host_and_its_watch_is_audited() {
    let sim = FleetSim::start(demo_layout(41)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = ssh_through(&sshd, &sim);
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
    })
    .await;
    let host = "builder-api-acceptance-1";
    let mut resp = app
        .client
        .get(format!(
            "{}/api/logs/acceptance/{host}/events?source=supervisor&lines=20",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    until(&mut resp, &mut seen, "event: lines").await;
    // The Supervisor's prefix names the service that wrote the line.
    until(&mut resp, &mut seen, "\"service\":\"builder-api\"").await;
    // A fault on the host appears as a line, live.
    sim.host(host)
        .unwrap()
        .inject(&Fault::Health {
            service: "builder-api".into(),
            status: HealthStatus::Critical,
        })
        .unwrap();
    until(&mut resp, &mut seen, "ERROR health check Critical").await;
    assert!(seen.contains("\"level\":\"error\""), "{seen}");
    // The page closes: the watch ends, and its audit row says from when to when.
    drop(resp);
    let store = ops::store::Store::open(&app.store_url, &ops::store::StoreOptions::default())
        .await
        .unwrap();
    let audit = ops::audit::AuditLog::new(store);
    let filter = ops::audit::AuditFilter {
        kind: "logs".into(),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let rows = loop {
        let rows = audit.search(&filter, None, 10).await.unwrap();
        if rows.len() == 2 {
            break rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "audit rows: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (rows[1].outcome.as_str(), rows[0].outcome.as_str()),
        ("started", "ended")
    );
    assert_eq!(rows[0].host, host);
    assert_eq!(rows[0].actor_name, "test-viewer");
    assert!(
        rows[0].detail.contains("the page closed"),
        "{}",
        rows[0].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_onwatch_cannot_open_says_why() {
    let sim = FleetSim::start(demo_layout(43)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, None, |_| {}).await;
    let get = |path: String| {
        let c = app.client.clone();
        async move { c.get(path).send().await.unwrap().text().await.unwrap() }
    };
    let no_ssh = get(format!(
        "{}/api/logs/live/builder-api-live-1/events",
        app.address
    ))
    .await;
    assert!(
        no_ssh.contains("event: ended") && no_ssh.contains("no SSH access"),
        "{no_ssh}"
    );
}

/// A `since` that is not a plain time is refused before any command runs, on a host Onwatch
/// can reach (a real sshd): the refusal names the bad value, and the host ran nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_since_that_is_not_a_plain_time_runs_nothing() {
    let sim = FleetSim::start(demo_layout(51)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut ssh = crate::actions::ssh_through(&sshd, &sim);
    let marks = sshd.dir.join("ssh-commands-run");
    ssh.commands.supervisor_log = format!(
        "echo x >> '{}'; {}",
        marks.display(),
        ssh.commands.supervisor_log
    );
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
    })
    .await;
    let res = app
        .client
        .get(format!(
            "{}/api/logs/live/builder-api-live-1/events?since=%27%3B%20id",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bad_since = res.text().await.unwrap();
    assert!(
        bad_since.contains("event: ended")
            && bad_since.contains("is not a time journalctl is given here"),
        "{bad_since}"
    );
    assert!(!marks.exists(), "a command ran on the host");
}

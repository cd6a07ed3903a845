//! A host's log through the server, over a real sshd whose `journalctl` (the demo's) follows the
//! simulator: lines as events, a fault appearing as a line without a reload, the watch audited
//! from its start to its end (the page closing), and a host Onwatch cannot reach saying why.

use std::time::Duration;

use fleet_sim::{demo_layout, Fault, FleetSim};
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

/// A log watch lives only as long as the access that opened it: signing out (the session ends)
/// ends a watch that is running, within the stream's session check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_watch_ends_when_its_session_ends() {
    let sim = FleetSim::start(demo_layout(55)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = ssh_through(&sshd, &sim);
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
    })
    .await;
    let vic = app.signed_in("vic", "viewer").await;
    let mut resp = vic
        .get(format!(
            "{}/api/logs/acceptance/builder-api-acceptance-1/events?source=supervisor&lines=5",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    until(&mut resp, &mut seen, "event: lines").await;
    let out = vic
        .post(format!("{}/auth/signout", app.address))
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    until(&mut resp, &mut seen, "your session ended").await;
    assert!(seen.contains("event: ended"), "{seen}");
}

/// Each watch is an SSH session and a `journalctl -f` on a production host: a person may keep
/// `per_person` open at once, a host `per_host`; past either the watch is refused, saying why,
/// and a closed one makes room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_watches_are_bounded_per_person_and_per_host() {
    let sim = FleetSim::start(demo_layout(56)).await.unwrap();
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = ssh_through(&sshd, &sim);
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        for env in c.environments.values_mut() {
            env.ssh = Some(ssh.clone());
        }
        c.logs.per_person = 2;
        c.logs.per_host = 3;
    })
    .await;
    let open = |client: &reqwest::Client, host: &str| {
        let req = client.get(format!(
            "{}/api/logs/acceptance/{host}/events?source=supervisor&lines=1",
            app.address
        ));
        async move {
            let mut resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut seen = String::new();
            until(&mut resp, &mut seen, "event: ").await;
            (resp, seen)
        }
    };
    let ana = app.signed_in("ana", "viewer").await;
    let (a1, s1) = open(&ana, "builder-api-acceptance-1").await;
    let (_a2, s2) = open(&ana, "builder-router-acceptance-1").await;
    assert!(
        !s1.contains("event: ended") && !s2.contains("event: ended"),
        "{s1}{s2}"
    );
    let (_a3, s3) = open(&ana, "builder-jobsrv-acceptance-1").await;
    assert!(
        s3.contains("event: ended") && s3.contains("at most 2 at once"),
        "{s3}"
    );
    // Two more people on api-1: the host's bound (3) is reached by the third watch on it.
    let bo = app.signed_in("bo", "viewer").await;
    let cy = app.signed_in("cy", "viewer").await;
    let (_b1, sb) = open(&bo, "builder-api-acceptance-1").await;
    assert!(!sb.contains("event: ended"), "{sb}");
    let (_c1, sc) = open(&cy, "builder-api-acceptance-1").await;
    assert!(!sc.contains("event: ended"), "{sc}");
    let dee = app.signed_in("dee", "viewer").await;
    let (_d1, sd) = open(&dee, "builder-api-acceptance-1").await;
    assert!(
        sd.contains("event: ended") && sd.contains("following acceptance/builder-api-acceptance-1"),
        "{sd}"
    );
    // Ana closes one: she may open another.
    drop(a1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_again, s) = open(&ana, "builder-jobsrv-acceptance-1").await;
        if !s.contains("event: ended") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Live streams are bounded per person too (`server.streams_per_person`): past it a stream is
/// refused with 429 saying why, and `/metrics` counts what is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_are_bounded_per_person_and_counted() {
    let sim = FleetSim::start(demo_layout(57)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, None, |c| {
        c.server.streams_per_person = 2;
    })
    .await;
    let ana = app.signed_in("ana", "viewer").await;
    let url = format!("{}{}", app.address, app::live::EVENTS_PATH);
    let s1 = ana.get(&url).send().await.unwrap();
    let s2 = ana.get(&url).send().await.unwrap();
    assert_eq!((s1.status().as_u16(), s2.status().as_u16()), (200, 200));
    let s3 = ana.get(&url).send().await.unwrap();
    assert_eq!(s3.status(), 429);
    assert!(s3.text().await.unwrap().contains("at most 2 at once"));
    // Someone else is not held back by Ana's streams.
    let bo = app.signed_in("bo", "viewer").await;
    let b1 = bo.get(&url).send().await.unwrap();
    assert_eq!(b1.status(), 200);
    let metrics = app.metrics().await.text().await.unwrap();
    assert!(metrics.contains("onwatch_streams_open 3"), "{metrics}");
    drop((s1, s2, b1));
}

use std::time::Duration;

use axum::Router;

use crate::helpers::{spawn_app_with, test_config, StoreKind};

/// SIGTERM to the real binary lets a request that is already running finish, then the process
/// exits 0 and the port is closed. Synchronised on events, never on sleeps: the `100 Continue`
/// that proves the handler is reading the request, and the log line that proves the signal
/// was taken.
#[test]
fn sigterm_lets_the_in_flight_request_finish() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onwatch"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ONWATCH_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .arg("serve")
        .current_dir(dir.path())
        .env("ONWATCH_SERVER__LISTEN", "127.0.0.1:0")
        .env(
            "ONWATCH_STORE__URL",
            format!("sqlite://{}/o.db", dir.path().display()),
        )
        .env("ONWATCH_AUTH__DEV_SIGNIN", "true")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut wait_for = |needle: &str| -> String {
        for line in log.by_ref() {
            let line = line.unwrap();
            if line.contains(needle) {
                return line;
            }
        }
        panic!("the server's log ended before `{needle}`");
    };
    let line = wait_for("listening on http://");
    let addr = line.rsplit("http://").next().unwrap().trim().to_owned();

    // A sign-in whose body has not been sent yet: in flight once the server asks for the body.
    let body = "name=late-one&role=viewer&next=%2F";
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /auth/dev HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut head = [0u8; 25];
    conn.read_exact(&mut head).unwrap();
    assert_eq!(
        &head, b"HTTP/1.1 100 Continue\r\n\r\n",
        "the handler reads the body"
    );

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    wait_for("shutting down: finishing in-flight requests");

    conn.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 303"),
        "the in-flight request completes: {answer}"
    );
    assert!(
        answer
            .to_lowercase()
            .contains("set-cookie: onwatch_session="),
        "{answer}"
    );

    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(TcpStream::connect(&addr).is_err(), "the port is closed");
}

/// An open event stream (every dashboard has one) does not hold a shutdown open.
#[tokio::test]
async fn open_event_streams_end_at_shutdown() {
    let (config, dir) = test_config(StoreKind::Sqlite).await;
    let app = spawn_app_with(config, dir, Router::new()).await;
    let mut events = app.get("/api/fleet/events").await;
    assert!(
        events.chunk().await.unwrap().is_some(),
        "the first event arrives"
    );
    app.shutdown.shutdown();
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(_)) = events.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends when the server shuts down");
    tokio::time::timeout(Duration::from_secs(3), app.handle)
        .await
        .expect("the server stops well before the grace period")
        .unwrap()
        .unwrap();
}

/// Every background task is started through the one registry, by name, once: with a fleet
/// file, audit checkpoints and Statuspage configured, each of the named tasks runs; a stop asked
/// before the server began to serve is not lost, and the stop is bounded.
#[tokio::test]
async fn every_background_task_starts_by_name_and_stops() {
    use ops::audit::checkpoint::CheckpointKey;
    use server::tasks::Task;

    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    let fleet_file = dir.path().join("fleet.toml");
    // A host nobody listens on: the poller runs and finds it unreachable at once.
    std::fs::write(
        &fleet_file,
        "[[hosts]]\nenvironment = \"live\"\nname = \"api-1\"\naddress = \"127.0.0.1\"\ngateway_port = 1\n",
    )
    .unwrap();
    config.inventory.source = server::config::InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    let key_file = dir.path().join("audit.key");
    CheckpointKey::write_new(&key_file).unwrap();
    config.audit.checkpoint_key_file = Some(key_file);
    config.audit.checkpoint_file = Some(dir.path().join("checkpoints.jsonl"));
    let sp_key = dir.path().join("statuspage.key");
    std::fs::write(&sp_key, "key\n").unwrap();
    config.incidents.statuspage = Some(ops::incidents::statuspage::StatuspageOptions {
        page_id: "page".into(),
        api_key_file: sp_key,
        api_url: "http://127.0.0.1:1/v1/".parse().unwrap(),
        timeout_secs: 5,
        max_backoff_secs: 300,
    });

    server::telemetry::init("warn");
    let app = server::startup::Application::build(config)
        .await
        .expect("the server builds");
    let mut started = app.tasks();
    started.sort();
    let mut expected = vec![
        Task::Inventory,
        Task::Poller,
        Task::Watching,
        Task::Retention,
        Task::Sweeper,
        Task::Checkpoints,
        Task::Statuspage,
        Task::OncallChores,
        Task::SessionCleanup,
    ];
    expected.sort();
    // No probes are configured, so no probe task; everything else, once.
    assert_eq!(started, expected);

    let stop = app.shutdown_handle();
    let running = tokio::spawn(app.run_until_stopped());
    stop.shutdown();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("a graceful stop ends every task")
        .unwrap()
        .unwrap();
    drop(dir);
}

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

//! Slow or idle clients cannot hold the server: request headers and bodies must arrive in time,
//! open connections are bounded, and none of it cuts a live-update stream.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app_with, test_config, StoreKind, TestApp};

async fn app_with(tweak: impl FnOnce(&mut server::config::Config)) -> TestApp {
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    tweak(&mut config);
    spawn_app_with(config, dir, axum::Router::new()).await
}

fn addr(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; `None` if it is still open after `limit`.
async fn closed_within(conn: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    tokio::time::timeout(limit, conn.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn unfinished_headers_and_idle_connections_are_closed() {
    let app = app_with(|c| c.server.header_timeout_secs = 1).await;
    // Headers that never end, in the middle of a Cookie header.
    let mut conn = TcpStream::connect(addr(&app)).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nCookie: onwatch_session=abc")
        .await
        .unwrap();
    assert!(
        closed_within(&mut conn, Duration::from_secs(5))
            .await
            .is_some(),
        "a request whose headers never end is cut"
    );
    // A connection that never says anything.
    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(5))
        .await
        .is_some());
}

#[tokio::test]
async fn a_stalled_request_body_is_cut() {
    let app = app_with(|c| c.server.body_timeout_secs = 1).await;
    let mut conn = TcpStream::connect(addr(&app)).await.unwrap();
    let a = addr(&app);
    conn.write_all(
        format!(
            "POST /auth/dev HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nname=slow"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = closed_within(&mut conn, Duration::from_secs(5))
        .await
        .expect("the server answers or closes instead of waiting for the rest");
    let status: u16 = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        answer.is_empty() || (400..500).contains(&status),
        "a client error, not a handler kept waiting: {answer}"
    );
}

#[tokio::test]
async fn open_connections_are_bounded() {
    let app = app_with(|c| {
        c.server.max_connections = 16;
        c.server.connections_per_address = 16;
        c.server.header_timeout_secs = 60;
    })
    .await;
    // Sixteen idle connections take every place.
    let mut held = Vec::new();
    for _ in 0..16 {
        let mut c = TcpStream::connect(addr(&app)).await.unwrap();
        // One byte, so that each is surely accepted and being read.
        c.write_all(b"G").await.unwrap();
        held.push(c);
    }
    let a = addr(&app);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n");
    let mut next = TcpStream::connect(&a).await.unwrap();
    next.write_all(request.as_bytes()).await.unwrap();
    assert!(
        closed_within(&mut next, Duration::from_millis(700))
            .await
            .is_none(),
        "a seventeenth connection waits"
    );
    // (The test's own signed-in client may hold one place with its pooled connection, so all
    // sixteen are let go, not one.)
    held.clear();
    let answer = closed_within(&mut next, Duration::from_secs(5))
        .await
        .expect("served once a place is free");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn the_limits_do_not_cut_a_live_update_stream() {
    let app = app_with(|c| {
        c.server.header_timeout_secs = 1;
        c.server.body_timeout_secs = 1;
    })
    .await;
    let mut stream = app.get(app::live::EVENTS_PATH).await;
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the first event");
    // Three times the limits later, the stream is still open (not ended: a read still waits).
    let waited = tokio::time::timeout(Duration::from_secs(3), stream.chunk()).await;
    match waited {
        Err(_) => {}
        Ok(Ok(Some(_))) => {}
        Ok(other) => panic!("the stream ended: {other:?}"),
    }
}

/// A client that asks for a large file and stops reading is cut off after the write timeout,
/// rather than holding its connection (and its place under `max_connections`) for as long as
/// it likes. Without the timeout, it could read the whole file at leisure.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    let app = app_with(|c| c.server.write_timeout_secs = 1).await;
    const SIZE: usize = 64 << 20;
    std::fs::create_dir_all(app.site_root.join("pkg")).unwrap();
    std::fs::write(app.site_root.join("pkg/big.bin"), vec![b'x'; SIZE]).unwrap();
    let a = addr(&app);
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    // A small receive buffer, so that the server's writes soon find no room.
    sock.set_recv_buffer_size(16 << 10).unwrap();
    let mut conn = sock.connect(a.parse().unwrap()).await.unwrap();
    conn.write_all(
        format!("GET /pkg/big.bin HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    // Read the head, then nothing for three write timeouts.
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = 12usize;
    let mut buf = vec![0u8; 1 << 20];
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection was not ended");
    assert!(
        got < SIZE,
        "the whole file ({got} bytes) reached a client that stopped reading"
    );
}

/// One address cannot take every connection: past `connections_per_address`, the next is
/// answered 503 with the reason, while another address is still served.
#[tokio::test]
async fn connections_from_one_address_are_bounded() {
    let app = app_with(|c| {
        c.server.connections_per_address = 8;
        c.server.header_timeout_secs = 60;
    })
    .await;
    let a = addr(&app);
    let port: u16 = a.rsplit(':').next().unwrap().parse().unwrap();
    // The test's own client may hold a pooled connection from 127.0.0.1: fill from another
    // loopback address the test owns alone.
    let from = |ip: [u8; 4]| async move {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(std::net::SocketAddr::from((ip, 0))).unwrap();
        sock.connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap()
    };
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = from([127, 0, 0, 2]).await;
        c.write_all(b"G").await.unwrap();
        held.push(c);
    }
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n");
    let mut ninth = from([127, 0, 0, 2]).await;
    let _ = ninth.write_all(request.as_bytes()).await;
    let answer = closed_within(&mut ninth, Duration::from_secs(5))
        .await
        .expect("the ninth is answered at once");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("Too many connections from your address"),
        "{answer}"
    );
    // Another address is served meanwhile.
    let mut other = from([127, 0, 0, 3]).await;
    other.write_all(request.as_bytes()).await.unwrap();
    let answer = closed_within(&mut other, Duration::from_secs(5))
        .await
        .expect("another address is served");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A place freed is a place again (as soon as the server has seen the close).
    held.pop();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = from([127, 0, 0, 2]).await;
        let _ = again.write_all(request.as_bytes()).await;
        let answer = closed_within(&mut again, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            std::time::Instant::now() < deadline,
            "the freed place never came back"
        );
    }
}

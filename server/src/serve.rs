//! Accepting and serving connections, with the limits a public address needs, which
//! `axum::serve` does not set:
//!
//! - **request headers must arrive in time** (`server.header_timeout_secs`): a client that opens
//!   a connection and never finishes its headers (or never sends any, on an idle keep-alive
//!   connection) is disconnected;
//! - **at most `server.max_connections` connections are open**: beyond that, new ones wait in
//!   the kernel's queue until one closes, so a crowd of slow clients cannot exhaust the
//!   process's file descriptors;
//! - **at most `server.connections_per_address` from one client address**: one more is answered
//!   503 and closed at once, so a few slow clients cannot take every permit of the limit above;
//! - **writes must make progress** (`server.write_timeout_secs`): a client that stops reading
//!   (or reads at a trickle) so that a response's bytes wait that long for room is
//!   disconnected, whatever the response (the bundle, a page, an event stream);
//! - graceful shutdown: on the signal the listener closes, connections in the middle of a
//!   request finish it, idle ones are closed.
//!
//! An idle keep-alive connection is closed after the header timeout (hyper starts it as soon as
//! it waits for a request's head). Request bodies that stall are cut by the router's body
//! timeout (`startup`).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits of [`serve`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// Open connections from one client address (the peer's IP: behind a load balancer, the
    /// balancer's, so set it to the balancer's own limit there).
    pub per_address: usize,
    /// How long a write may wait for the client to make room.
    pub write_timeout: Duration,
}

/// Serves `router` on `listener` until `signal` completes; then stops accepting and waits for
/// the open connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    signal: impl std::future::Future<Output = ()>,
) -> GracefulShutdown {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let by_address = PerAddress::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(signal);
    loop {
        let permit = tokio::select! {
            p = open.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut signal => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted: wait a
                    // moment rather than spin, and go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        let _ = stream.set_nodelay(true);
        let Some(counted) = by_address.enter(peer.ip(), limits.per_address) else {
            tracing::warn!(peer = %peer, limit = limits.per_address, "refused: too many connections from one address");
            tokio::spawn(too_many(stream));
            drop(permit);
            continue;
        };
        let stream = WriteDeadline::new(stream, limits.write_timeout);
        // Who is at the other end, for the handlers (as `into_make_service_with_connect_info`).
        let app = router
            .clone()
            .map_request(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, peer = %peer, "connection ended with an error");
            }
            drop(permit);
            drop(counted);
        });
    }
    drop(listener);
    graceful
}

/// Connections open per client address.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection counted for its address until dropped.
struct Counted {
    map: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    /// Counts a connection from `ip`, unless `limit` are open from it already.
    fn enter(&self, ip: IpAddr, limit: usize) -> Option<Counted> {
        // The map holds only counts: a panic elsewhere leaves it usable.
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= limit.max(1) {
            return None;
        }
        *n += 1;
        Some(Counted {
            map: self.clone(),
            ip,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut map = self.map.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The answer to one connection too many from an address: a plain 503 that says why, written
/// within a second or not at all.
async fn too_many(mut stream: tokio::net::TcpStream) {
    const BODY: &str = "Too many connections from your address: close some Onwatch tabs, or wait for them to finish.\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 5\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// A connection whose writes must make progress: a write (or flush) that finds no room for
/// `timeout` fails with `TimedOut`, which ends the connection. The clock starts when a write
/// first waits and stops at the next one that goes through, so a slow but moving client is
/// fine and one that stopped reading is not.
struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        WriteDeadline {
            inner,
            timeout,
            waiting: None,
        }
    }

    /// What a write that returned `poll` means, given how long writes have waited.
    fn judge<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(r) => {
                self.waiting = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match std::future::Future::poll(sleep.as_mut(), cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing for the write timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.judge(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.judge(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.judge(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

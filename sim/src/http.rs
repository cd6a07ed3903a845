//! A minimal HTTP/1 server on hyper for the simulator's listeners (ops stays free of axum).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub type Body = Full<Bytes>;

pub struct Req {
    pub method: hyper::Method,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Bytes,
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn raw(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// What a simulated server does with connections right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Serve,
    /// Close every connection (a host that is down).
    Drop,
    /// Accept, read nothing, answer nothing, keep the connection open (a hung Supervisor).
    Hold,
    /// Stop calling `accept`: connections wait in the kernel's backlog, unanswered.
    NotAccepting,
}

/// Serves `handler` on `listener`. `admit` decides, as connections come, what happens to them.
pub async fn serve<H, F, A>(listener: TcpListener, admit: A, handler: H)
where
    H: Fn(Req) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
    A: Fn() -> Admit + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let admit = Arc::new(admit);
    loop {
        if admit() == Admit::NotAccepting {
            // A simulator's fault flag, not a production wait: checked a few times a second.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        match admit() {
            Admit::Serve => {}
            Admit::Drop => {
                drop(stream);
                continue;
            }
            Admit::Hold | Admit::NotAccepting => {
                let admit = admit.clone();
                tokio::spawn(async move {
                    while matches!(admit(), Admit::Hold | Admit::NotAccepting) {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    drop(stream);
                });
                continue;
            }
        }
        let accept = {
            let admit = admit.clone();
            Arc::new(move || admit())
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let accept = accept.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let handler = handler.clone();
                let accept = accept.clone();
                async move {
                    match accept() {
                        // A host that went down also breaks its open keep-alive connections.
                        Admit::Drop => return Err(std::io::Error::other("simulated host is down")),
                        // One that hangs stops answering on them too.
                        Admit::Hold | Admit::NotAccepting => {
                            while matches!(accept(), Admit::Hold | Admit::NotAccepting) {
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            }
                            return Err(std::io::Error::other("simulated host hung"));
                        }
                        Admit::Serve => {}
                    }
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let req = Req {
                        method: parts.method,
                        path: parts.uri.path().to_owned(),
                        authorization: parts
                            .headers
                            .get(hyper::header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                        body,
                    };
                    Ok::<_, std::io::Error>(handler(req).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

//! The simulated HTTP gateway (port 9631 on a real Supervisor).

use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use tokio::net::TcpListener;

use crate::http::{self, Req};
use crate::state::SimHost;

pub async fn serve(listener: TcpListener, host: Arc<SimHost>) {
    let accept_host = host.clone();
    http::serve(
        listener,
        move || accept_host.admit(),
        move |req: Req| {
            let host = host.clone();
            async move { respond(&host, req).await }
        },
    )
    .await;
}

async fn respond(host: &SimHost, req: Req) -> hyper::Response<http::Body> {
    let (slow, garbage, server_error, oversized) = {
        let st = host.lock();
        (st.slow_ms, st.garbage, st.server_error, st.oversized)
    };
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    if let Some(token) = &host.gateway_token {
        // Like the real gateway: any missing or wrong header is a bare 401.
        if req.authorization.as_deref() != Some(&format!("Bearer {token}")) {
            return http::empty(StatusCode::UNAUTHORIZED);
        }
    }
    if req.method != Method::GET {
        return http::empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["services"] => {
            if let Some(status) = server_error {
                return http::raw(
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "text/plain",
                    "internal error",
                );
            }
            if oversized {
                // Valid JSON all the way, only too much of it.
                let mut body = String::with_capacity(9 << 20);
                body.push_str("{\"services\": [], \"padding\": \"");
                body.push_str(&"x".repeat(9 << 20));
                body.push_str("\"}");
                return http::raw(StatusCode::OK, "application/json", body);
            }
            if garbage {
                return http::raw(
                    StatusCode::OK,
                    "application/json",
                    "{\"services\": [oops, <html>",
                );
            }
            http::raw(StatusCode::OK, "application/json", host.services_body())
        }
        ["services", svc, group] => match host.service_json_by_group(svc, group) {
            Some(v) => http::json(StatusCode::OK, &v),
            None => http::empty(StatusCode::NOT_FOUND),
        },
        ["services", svc, group, "health"] => match host.health_json(svc, group) {
            Some((code, body)) => {
                http::json(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), &body)
            }
            None => http::empty(StatusCode::NOT_FOUND),
        },
        ["services", svc, group, "config"] => match host.service_json_by_group(svc, group) {
            Some(v) => http::json(StatusCode::OK, &v["cfg"]),
            None => http::empty(StatusCode::NOT_FOUND),
        },
        ["census"] => http::raw(StatusCode::OK, "application/json", host.census_body()),
        ["butterfly"] => http::json(StatusCode::OK, &host.butterfly_json()),
        [""] => http::raw(
            StatusCode::OK,
            "text/plain",
            "No API docs provided at build",
        ),
        _ => http::empty(StatusCode::NOT_FOUND),
    }
}

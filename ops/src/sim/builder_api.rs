//! A subset of the Builder API per environment: `/v1/status`, `/v1/depot/origins/{origin}` (what
//! Pingdom watched) and `POST /v1/depot/pkgs/schedule/{origin}/{pkg}` ("Request new build"). It
//! answers only while the environment's `builder-api` service is up and not critical.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;

use super::http::{self, Req};
use super::state::SimHost;
use crate::supervisor::habitat::HealthStatus;

pub async fn serve(listener: TcpListener, ring: Vec<Arc<SimHost>>) {
    let ring = Arc::new(ring);
    let next_group = Arc::new(AtomicU64::new(1_037_386_578_491_957_248));
    http::serve(
        listener,
        || http::Admit::Serve,
        move |req: Req| {
            let ring = ring.clone();
            let next_group = next_group.clone();
            async move { respond(&ring, &next_group, req) }
        },
    )
    .await;
}

fn api_is_up(ring: &[Arc<SimHost>]) -> bool {
    ring.iter().any(|h| {
        if h.is_down() {
            return false;
        }
        let st = h.lock();
        st.services.iter().any(|s| {
            s.spec.name == "builder-api"
                && s.process_up
                && s.health != HealthStatus::Critical
                && !s.flapping
        })
    })
}

fn respond(ring: &[Arc<SimHost>], next_group: &AtomicU64, req: Req) -> hyper::Response<http::Body> {
    if !api_is_up(ring) {
        return http::raw(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html",
            "<html><body>503 Service Unavailable</body></html>",
        );
    }
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (&req.method, parts.as_slice()) {
        (&Method::GET, ["v1", "status"]) => http::empty(StatusCode::OK),
        (&Method::GET, ["v1", "depot", "origins", origin]) => match *origin {
            "core" => http::json(
                StatusCode::OK,
                &json!({"id": "730632763933204510", "name": "core",
                "owner_id": "730632763933204480", "private_key_name": "core-20160810182414",
                "default_package_visibility": "public"}),
            ),
            "habitat" => http::json(
                StatusCode::OK,
                &json!({"id": "730632763933204560", "name": "habitat",
                "owner_id": "730632763933204480", "private_key_name": "habitat-20160810182414",
                "default_package_visibility": "public"}),
            ),
            _ => http::json(
                StatusCode::NOT_FOUND,
                &json!({"code": "ENTITY_NOT_FOUND", "msg": "origin not found"}),
            ),
        },
        (&Method::POST, ["v1", "depot", "pkgs", "schedule", origin, pkg]) => {
            if !req
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Bearer "))
            {
                return http::json(
                    StatusCode::UNAUTHORIZED,
                    &json!({"code": "net:auth:no-token"}),
                );
            }
            let id = next_group.fetch_add(1, Ordering::Relaxed);
            let name = format!("{origin}/{pkg}");
            http::json(
                StatusCode::OK,
                &json!({"id": id.to_string(), "state": "Pending", "project_name": name,
                "created_at": "2018-05-29 20:13:42.123+00",
                "projects": [{"name": name, "ident": name, "state": "NotStarted", "job_id": "0"}]}),
            )
        }
        _ => http::empty(StatusCode::NOT_FOUND),
    }
}

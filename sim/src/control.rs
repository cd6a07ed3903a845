//! The simulator's control API: read its state, inject and lift faults, fetch the fleet file.
//!
//! - `GET /state`
//! - `GET /fleet.toml`
//! - `POST /faults` with `{"host": "builder-api-live-1", "fault": "health", "service": "builder-api", "status": "Critical"}`
//!   (`fault` is one of down, up, hang, no_accept, slow{ms}, garbage, server_error{status}, oversized,
//!   health{service,status}, flapping{service}, wedged{service} (critical until restarted),
//!   stopped{service}, started{service}, sup_version{version}, release{service,version,release},
//!   restart_supervisor (as `systemctl restart hab-sup`), clear)
//! - `POST /builds` with `{"environment": "acceptance", "fault": "stall"}`: a fault of an
//!   environment's build service (stall, stall_running, fail, throttle{count, retry_after_secs},
//!   build_ms{ms}, clear; see `builder_api`)
//! - `POST /reset`: clear every host and build service
//! - `POST /churn`: every host's next `/services` answer differs (new pids), states unchanged;
//!   answered once the new bodies are built
//! - `/statuspage/…`: a small Statuspage for the demo (see `statuspage`)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use crate::http::{self, Req};
use crate::state::{Fault, SimHost};

#[derive(Deserialize)]
struct BuildFaultRequest {
    environment: String,
    #[serde(flatten)]
    fault: crate::builder_api::BuildFault,
}

type Desks = BTreeMap<String, Arc<crate::builder_api::BuildDesk>>;

#[derive(Deserialize)]
struct FaultRequest {
    host: String,
    #[serde(flatten)]
    fault: Fault,
}

pub async fn serve(
    listener: TcpListener,
    hosts: Vec<Arc<SimHost>>,
    api: BTreeMap<String, SocketAddr>,
    desks: Desks,
) {
    let hosts = Arc::new(hosts);
    let api = Arc::new(api);
    let desks = Arc::new(desks);
    let status = Arc::new(crate::statuspage::StatusDesk::default());
    http::serve(
        listener,
        || http::Admit::Serve,
        move |req: Req| {
            let hosts = hosts.clone();
            let api = api.clone();
            let desks = desks.clone();
            let status = status.clone();
            async move {
                if req.path.starts_with("/statuspage") {
                    return status.respond(&req);
                }
                respond(&hosts, &api, &desks, req)
            }
        },
    )
    .await;
}

fn respond(
    hosts: &[Arc<SimHost>],
    api: &BTreeMap<String, SocketAddr>,
    desks: &Desks,
    req: Req,
) -> hyper::Response<http::Body> {
    match (&req.method, req.path.as_str()) {
        (&Method::GET, "/state") => http::json(
            StatusCode::OK,
            &json!({
                "hosts": hosts.iter().map(|h| h.state_json()).collect::<Vec<_>>(),
                "builder_api": api.iter().map(|(e, a)| (e.clone(), format!("http://{a}"))).collect::<BTreeMap<_, _>>(),
            }),
        ),
        (&Method::GET, "/fleet.toml") => http::raw(
            StatusCode::OK,
            "application/toml",
            crate::fleet_file(hosts, api).to_toml(),
        ),
        (&Method::POST, "/faults") => {
            let fr: FaultRequest = match serde_json::from_slice(&req.body) {
                Ok(f) => f,
                Err(e) => {
                    return http::json(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("bad fault request: {e}")}),
                    )
                }
            };
            let Some(host) = hosts.iter().find(|h| h.spec.name == fr.host) else {
                return http::json(
                    StatusCode::NOT_FOUND,
                    &json!({"error": format!("no simulated host `{}`", fr.host)}),
                );
            };
            match host.inject(&fr.fault) {
                Ok(()) => http::json(StatusCode::OK, &host.state_json()),
                Err(e) => http::json(StatusCode::BAD_REQUEST, &json!({"error": e})),
            }
        }
        // Every Supervisor's next answer differs from its last (each process gets a new pid, as
        // after a restart), with no change of state: benchmarks measure parsing this way. The
        // new bodies are built before the answer (each host's `/services`, and the census its
        // ring shares), so the simulator's own rebuilding is not charged to whichever client
        // happens to ask first after the churn.
        (&Method::POST, "/churn") => {
            for h in hosts {
                h.churn();
            }
            for h in hosts {
                drop(h.services_body());
            }
            // One member per environment: the environment's ring shares one census text.
            let mut rings = std::collections::BTreeSet::new();
            for h in hosts {
                if rings.insert(h.spec.environment.as_str()) {
                    drop(h.census_body());
                }
            }
            http::json(StatusCode::OK, &json!({"churned": hosts.len()}))
        }
        (&Method::POST, "/builds") => {
            let fr: BuildFaultRequest = match serde_json::from_slice(&req.body) {
                Ok(f) => f,
                Err(e) => {
                    return http::json(
                        StatusCode::BAD_REQUEST,
                        &json!({"error": format!("bad build fault request: {e}")}),
                    )
                }
            };
            match desks.get(&fr.environment) {
                Some(d) => {
                    d.inject(&fr.fault);
                    http::json(StatusCode::OK, &json!({"environment": fr.environment}))
                }
                None => http::json(
                    StatusCode::NOT_FOUND,
                    &json!({"error": format!("no simulated environment `{}`", fr.environment)}),
                ),
            }
        }
        (&Method::POST, "/reset") => {
            for h in hosts {
                let _ = h.inject(&Fault::Clear);
            }
            for d in desks.values() {
                d.inject(&crate::builder_api::BuildFault::Clear);
            }
            http::json(StatusCode::OK, &json!({"reset": hosts.len()}))
        }
        _ => http::empty(StatusCode::NOT_FOUND),
    }
}

//! A subset of the Builder API per environment: `/v1/status`, `/v1/depot/origins/{origin}` (what
//! Pingdom watched), `POST /v1/depot/pkgs/schedule/{origin}/{pkg}` ("Request new build") and
//! `GET /v1/depot/pkgs/schedule/{group_id}` (the job group). It answers only while the
//! environment's `builder-api` service is up and not critical.
//!
//! A requested build walks its job group as Builder's does — Pending, then Dispatching with the
//! project InProgress, then Complete with the project's new ident — and when it completes, every
//! Supervisor of the environment that runs the package reports the new release (as after an
//! update from its channel). Faults (`POST /builds` on the control API): `stall` (the group stays
//! Pending: the runbook's scheduler symptom), `stall_running` (accepted, never finishes: jobsrv),
//! `fail`, `throttle{count, retry_after_secs}` (the next requests answer 429), `build_ms{ms}`,
//! `clear`. Tokens as Builder judges them: none → 401 `net:auth:no-token`; one containing
//! `expired` → 401 `SESSION_EXPIRED`; one not starting with `_` (a personal access token) → 403.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use crate::http::{self, Req};
use crate::state::{Fault, SimHost};
use ops::supervisor::habitat::HealthStatus;

/// How long a new group stays Pending before it is dispatched.
const PENDING: Duration = Duration::from_millis(500);

/// A fault of an environment's build service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum BuildFault {
    /// Groups requested from now on stay Pending (nothing is dispatched).
    Stall,
    /// Groups requested from now on are dispatched and never finish.
    StallRunning,
    /// Groups requested from now on fail.
    Fail,
    /// The next `count` requests answer 429 with `Retry-After`.
    Throttle {
        count: u32,
        retry_after_secs: u64,
    },
    /// The package's project is not connected in Builder: requests for it answer 404.
    Disconnected {
        package: String,
    },
    /// How long a build takes once dispatched.
    BuildMs {
        ms: u64,
    },
    /// The members of an origin (`GET /v1/depot/origins/{origin}/users`); not a fault, but set
    /// the same way. An origin never set has no members.
    OriginMembers {
        origin: String,
        members: Vec<String>,
    },
    Clear,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Complete,
    Fail,
    StallPending,
    StallRunning,
}

struct Mode {
    disconnected: Vec<String>,
    ending: Ending,
    throttle: u32,
    retry_after_secs: u64,
    build: Duration,
    members: BTreeMap<String, Vec<String>>,
}

struct Group {
    origin: String,
    pkg: String,
    created: Instant,
    ending: Ending,
    build: Duration,
    /// `version/release` of the build, once known.
    built: String,
}

/// One environment's build service.
pub struct BuildDesk {
    ring: Vec<Arc<SimHost>>,
    next_group: AtomicU64,
    mode: Mutex<Mode>,
    groups: Mutex<BTreeMap<u64, Group>>,
    /// Every schedule request that reached the desk, whatever its answer.
    pub schedule_requests: AtomicU64,
}

impl BuildDesk {
    pub fn new(ring: Vec<Arc<SimHost>>) -> Arc<BuildDesk> {
        Arc::new(BuildDesk {
            ring,
            next_group: AtomicU64::new(1_037_386_578_491_957_248),
            schedule_requests: AtomicU64::new(0),
            mode: Mutex::new(Mode {
                disconnected: Vec::new(),
                ending: Ending::Complete,
                throttle: 0,
                retry_after_secs: 1,
                build: Duration::from_millis(1_500),
                members: BTreeMap::new(),
            }),
            groups: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn inject(&self, fault: &BuildFault) {
        let mut m = self.mode.lock().unwrap_or_else(|p| p.into_inner());
        match fault {
            BuildFault::Stall => m.ending = Ending::StallPending,
            BuildFault::StallRunning => m.ending = Ending::StallRunning,
            BuildFault::Fail => m.ending = Ending::Fail,
            BuildFault::Throttle {
                count,
                retry_after_secs,
            } => {
                m.throttle = *count;
                m.retry_after_secs = *retry_after_secs;
            }
            BuildFault::BuildMs { ms } => m.build = Duration::from_millis(*ms),
            BuildFault::Disconnected { package } => m.disconnected.push(package.clone()),
            BuildFault::OriginMembers { origin, members } => {
                m.members.insert(origin.clone(), members.clone());
            }
            BuildFault::Clear => {
                m.disconnected.clear();
                m.ending = Ending::Complete;
                m.throttle = 0;
                m.build = Duration::from_millis(1_500);
            }
        }
    }

    /// The package `origin/name` as the environment's Supervisors run it: `(version, release)`.
    fn running(&self, origin: &str, name: &str) -> Option<(String, String)> {
        self.ring.iter().find_map(|h| {
            let st = h.lock();
            st.services
                .iter()
                .find(|s| s.spec.name == name && s.spec.origin == origin)
                .map(|s| (s.spec.version.clone(), s.spec.release.clone()))
        })
    }

    fn group_json(&self, id: u64, g: &Group) -> serde_json::Value {
        let age = g.created.elapsed();
        let name = format!("{}/{}", g.origin, g.pkg);
        let (state, project, job) = match g.ending {
            Ending::StallPending => ("Pending", "NotStarted", 0),
            _ if age < PENDING => ("Pending", "NotStarted", 0),
            Ending::StallRunning => ("Dispatching", "InProgress", id + 1),
            _ if age < PENDING + g.build => ("Dispatching", "InProgress", id + 1),
            Ending::Fail => ("Failed", "Failure", id + 1),
            Ending::Complete => ("Complete", "Success", id + 1),
        };
        let ident = if project == "Success" {
            format!("{name}/{}", g.built)
        } else {
            name.clone()
        };
        json!({"id": id.to_string(), "state": state, "project_name": name,
            "created_at": "2018-05-29 20:13:42.123+00",
            "projects": [{"name": name, "ident": ident, "state": project, "job_id": job.to_string()}]})
    }
}

pub async fn serve(listener: TcpListener, desk: Arc<BuildDesk>) {
    http::serve(
        listener,
        || http::Admit::Serve,
        move |req: Req| {
            let desk = desk.clone();
            async move { respond(&desk, req) }
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

/// A release stamp after `after` (Builder's `YYYYMMDDhhmmss`).
fn next_release(after: &str) -> String {
    let now = ops::time::utc_stamp(ops::time::now_ms());
    if now.as_str() > after {
        now
    } else {
        after
            .parse::<u64>()
            .map(|n| (n + 1).to_string())
            .unwrap_or(now)
    }
}

/// Builder's judgement of the request's token: `None` when it may proceed.
fn refuse_token(req: &Req) -> Option<hyper::Response<http::Body>> {
    let token = req
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match token {
        None => Some(http::json(
            StatusCode::UNAUTHORIZED,
            &json!({"code": "net:auth:no-token"}),
        )),
        Some(t) if t.contains("expired") => Some(http::json(
            StatusCode::UNAUTHORIZED,
            &json!({"code": "SESSION_EXPIRED", "msg": "session expired"}),
        )),
        Some(t) if !t.starts_with('_') => Some(http::json(
            StatusCode::FORBIDDEN,
            &json!({"code": "BAD_TOKEN", "msg": "bad token"}),
        )),
        Some(_) => None,
    }
}

fn respond(desk: &Arc<BuildDesk>, req: Req) -> hyper::Response<http::Body> {
    if !api_is_up(&desk.ring) {
        return http::raw(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html",
            "<html><body>503 Service Unavailable</body></html>",
        );
    }
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let schedule = matches!(parts.as_slice(), ["v1", "depot", "pkgs", "schedule", ..]);
    if schedule && req.method == Method::POST {
        desk.schedule_requests.fetch_add(1, Ordering::Relaxed);
    }
    if schedule {
        let mut m = desk.mode.lock().unwrap_or_else(|p| p.into_inner());
        if m.throttle > 0 {
            m.throttle -= 1;
            let mut r = http::json(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"code": "TOO_MANY_REQUESTS", "msg": "rate limited"}),
            );
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from(m.retry_after_secs),
            );
            return r;
        }
    }
    match (&req.method, parts.as_slice()) {
        (&Method::GET, ["v1", "status"]) => http::empty(StatusCode::OK),
        (&Method::GET, ["v1", "depot", "origins", origin, "users"]) => {
            if let Some(refusal) = refuse_token(&req) {
                return refusal;
            }
            let m = desk.mode.lock().unwrap_or_else(|p| p.into_inner());
            match *origin {
                "core" | "habitat" => http::json(
                    StatusCode::OK,
                    &json!({"origin_id": "730632763933204510", "origin_name": origin,
                        "members": m.members.get(*origin).cloned().unwrap_or_default()}),
                ),
                _ => http::json(
                    StatusCode::NOT_FOUND,
                    &json!({"code": "ENTITY_NOT_FOUND", "msg": "origin not found"}),
                ),
            }
        }
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
            if let Some(refusal) = refuse_token(&req) {
                return refusal;
            }
            let connected = !desk
                .mode
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .disconnected
                .iter()
                .any(|d| d == pkg);
            let Some((version, release)) = desk.running(origin, pkg).filter(|_| connected) else {
                return http::json(
                    StatusCode::NOT_FOUND,
                    &json!({"code": "ENTITY_NOT_FOUND", "msg": format!("no project {origin}/{pkg}")}),
                );
            };
            let (ending, build) = {
                let m = desk.mode.lock().unwrap_or_else(|p| p.into_inner());
                (m.ending, m.build)
            };
            let id = desk.next_group.fetch_add(16, Ordering::Relaxed);
            let release = next_release(&release);
            let group = Group {
                origin: (*origin).to_owned(),
                pkg: (*pkg).to_owned(),
                created: Instant::now(),
                ending,
                build,
                built: format!("{version}/{release}"),
            };
            let body = desk.group_json(id, &group);
            desk.groups
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, group);
            if ending == Ending::Complete {
                // The Supervisors update from the channel a moment after the build completes.
                let desk = desk.clone();
                let pkg = (*pkg).to_owned();
                tokio::spawn(async move {
                    tokio::time::sleep(PENDING + build + Duration::from_millis(300)).await;
                    for h in &desk.ring {
                        let _ = h.inject(&Fault::Release {
                            service: pkg.clone(),
                            version: version.clone(),
                            release: release.clone(),
                        });
                    }
                });
            }
            http::json(StatusCode::OK, &body)
        }
        (&Method::GET, ["v1", "depot", "pkgs", "schedule", group]) => {
            let groups = desk.groups.lock().unwrap_or_else(|p| p.into_inner());
            match group
                .parse::<u64>()
                .ok()
                .and_then(|id| groups.get(&id).map(|g| (id, g)))
            {
                Some((id, g)) => http::json(StatusCode::OK, &desk.group_json(id, g)),
                None => http::json(
                    StatusCode::NOT_FOUND,
                    &json!({"code": "ENTITY_NOT_FOUND", "msg": "no such job group"}),
                ),
            }
        }
        _ => http::empty(StatusCode::NOT_FOUND),
    }
}

//! The state of one simulated Supervisor and what it reports.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use ops::supervisor::habitat::HealthStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimServiceSpec {
    pub origin: String,
    pub name: String,
    pub group: String,
    pub version: String,
    pub release: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHostSpec {
    pub environment: String,
    pub name: String,
    /// `sys.version`, e.g. `0.59.0/20180712155441`.
    pub sup_version: String,
    pub services: Vec<SimServiceSpec>,
}

/// A fault to inject (or lift) through the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// The gateway drops every connection.
    Down,
    /// Answers again (also ends `hang` and `no_accept`).
    Up,
    /// The gateway accepts connections and never answers (a hung Supervisor or host).
    Hang,
    /// The gateway stops accepting connections: they wait in the kernel's backlog, unanswered.
    NoAccept,
    /// Every gateway answer waits this long.
    Slow { ms: u64 },
    /// `/services` answers 200 with a body that is not JSON.
    Garbage,
    /// `/services` answers this 5xx status (the gateway failing inside).
    ServerError { status: u16 },
    /// `/services` answers a body larger than any client should read (9 MiB).
    Oversized,
    /// The service's health check reports this.
    Health {
        service: String,
        status: HealthStatus,
    },
    /// Health alternates Ok/Critical every second.
    Flapping { service: String },
    /// The process is wedged: its health check says Critical until the process is restarted
    /// (stop, then start: what a restart through Onwatch does), then Ok again.
    Wedged { service: String },
    /// As `hab svc stop`: desired down, process stops.
    Stopped { service: String },
    /// As `hab svc start`.
    Started { service: String },
    /// The Supervisor now reports another version (as after an update).
    SupVersion { version: String },
    /// A new release of a service (as after a package update).
    Release {
        service: String,
        version: String,
        release: String,
    },
    /// `systemctl restart hab-sup`: the Supervisor goes away with every service, and comes back
    /// after the transition delay with each service it should run started anew.
    RestartSupervisor,
    /// The control gateway answers every stop and start with this many console frames of this
    /// many bytes each before completing (a broken gateway, or one in the middle).
    CtlFlood { frames: usize, bytes: usize },
    /// The control gateway takes every stop and start, then closes the connection without a
    /// reply (a reply lost on the network).
    CtlLoseReply,
    /// The service's process takes this long to exit after SIGTERM, and the Supervisor behaves
    /// as hab-sup 2.1.78 does then: a stop reports the service down (no pid) at once while the
    /// old process drains; a start during the drain reattaches to the old process (up, the
    /// same pid); when the old process exits, the Supervisor starts a new one by itself.
    Drain { service: String, ms: u64 },
    /// Lift every fault of the host.
    Clear,
}

#[derive(Debug, Clone)]
pub(super) struct SvcState {
    pub spec: SimServiceSpec,
    pub desired_up: bool,
    pub process_up: bool,
    pub pid: u32,
    pub state_entered: i64,
    pub health: HealthStatus,
    pub flapping: bool,
    /// Critical until the next start of the process (see `Fault::Wedged`).
    pub wedged: bool,
    /// A stop/start in progress: the process changes at this instant.
    pub pending: Option<(Instant, bool)>,
    /// How long the process takes to exit after SIGTERM (`Fault::Drain`).
    pub drain: Duration,
    /// The old process still draining after a stop: it exits at this instant.
    pub draining: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct HostState {
    pub down: bool,
    pub hang: bool,
    pub no_accept: bool,
    pub slow_ms: u64,
    pub garbage: bool,
    pub server_error: Option<u16>,
    pub oversized: bool,
    pub ctl_flood: Option<(usize, usize)>,
    pub ctl_lose_reply: bool,
    pub sup_version: String,
    pub services: Vec<SvcState>,
    pub next_pid: u32,
    /// A Supervisor restart in progress (`systemctl restart hab-sup`): the gateway is away and
    /// every process down until this instant, then each desired service starts anew.
    pub restarting_until: Option<Instant>,
}

impl SimHost {
    /// The control gateway's misbehaviour for a stop or start: a flood of console frames, or a
    /// reply lost after the request was taken.
    pub(super) fn ctl_faults(&self) -> (Option<(usize, usize)>, bool) {
        let st = self.lock();
        (st.ctl_flood, st.ctl_lose_reply)
    }
}

pub struct SimHost {
    pub spec: SimHostSpec,
    pub gateway_addr: SocketAddr,
    pub ctl_addr: SocketAddr,
    pub member_id: String,
    pub(super) ctl_secret: String,
    pub(super) gateway_token: Option<String>,
    pub(super) transition_delay: Duration,
    pub(super) state: Mutex<HostState>,
    ring: OnceLock<(Vec<Arc<SimHost>>, Arc<RingCensus>)>,
    /// The last `/services` body and the fingerprint of the state it was made from: a steady
    /// host serves the same bytes without rebuilding them (a simulated fleet of 1,000 hosts
    /// shares its machine with the Onwatch under test; real Supervisors do not).
    services_cache: Mutex<Option<(u64, bytes::Bytes)>>,
}

/// The census of a ring, shared by its members: every member's census lists the whole ring, so
/// it is built once per change of the ring (with a placeholder where each member writes its own
/// id) rather than once per request.
#[derive(Default)]
pub struct RingCensus {
    last: Mutex<Option<(u64, String)>>,
}

/// Stands for the asking member's id in the shared census text.
const LOCAL_MEMBER_PLACEHOLDER: &str = "@@local-member-id@@";

impl std::fmt::Debug for SimHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHost")
            .field("name", &self.spec.name)
            .finish()
    }
}

fn now_s() -> i64 {
    ops::time::now_ms() / 1000
}

impl SimHost {
    pub(super) fn new(
        spec: SimHostSpec,
        seed: u64,
        gateway_addr: SocketAddr,
        ctl_addr: SocketAddr,
        ctl_secret: String,
        gateway_token: Option<String>,
        transition_delay_ms: u64,
    ) -> SimHost {
        let member_id = format!(
            "{:016x}{:016x}",
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            seed ^ 0xA5A5_5A5A_DEAD_BEEF
        );
        let started = now_s() - 3600 - (seed % 86_400) as i64;
        let services = spec
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| SvcState {
                spec: s.clone(),
                desired_up: true,
                process_up: true,
                pid: 200 + i as u32 + (seed % 1000) as u32,
                state_entered: started,
                health: HealthStatus::Ok,
                flapping: false,
                wedged: false,
                pending: None,
                drain: Duration::ZERO,
                draining: None,
            })
            .collect();
        SimHost {
            state: Mutex::new(HostState {
                down: false,
                hang: false,
                no_accept: false,
                slow_ms: 0,
                garbage: false,
                server_error: None,
                oversized: false,
                ctl_flood: None,
                ctl_lose_reply: false,
                sup_version: spec.sup_version.clone(),
                services,
                next_pid: 5000 + (seed % 1000) as u32,
                restarting_until: None,
            }),
            spec,
            gateway_addr,
            ctl_addr,
            member_id,
            ctl_secret,
            gateway_token,
            transition_delay: Duration::from_millis(transition_delay_ms),
            ring: OnceLock::new(),
            services_cache: Mutex::new(None),
        }
    }

    pub(super) fn set_ring(&self, ring: Vec<Arc<SimHost>>, census: Arc<RingCensus>) {
        let _ = self.ring.set((ring, census));
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HostState> {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Apply stops/starts whose time has come.
        let now = Instant::now();
        let mut next_pid = guard.next_pid;
        for s in guard.services.iter_mut() {
            if let Some((at, up)) = s.pending {
                if at <= now {
                    s.pending = None;
                    if s.process_up != up {
                        s.process_up = up;
                        s.state_entered = now_s();
                        if up {
                            next_pid += 1;
                            s.pid = next_pid;
                            if s.wedged {
                                // A new process is not wedged.
                                s.wedged = false;
                                s.health = HealthStatus::Ok;
                            }
                        }
                    }
                }
            }
        }
        for s in guard.services.iter_mut() {
            if s.draining.is_some_and(|at| at <= now) {
                s.draining = None;
                s.state_entered = now_s();
                // The old process is gone; a service that should run gets a new one.
                s.process_up = s.desired_up;
                if s.desired_up {
                    next_pid += 1;
                    s.pid = next_pid;
                    if s.wedged {
                        s.wedged = false;
                        s.health = HealthStatus::Ok;
                    }
                }
            }
        }
        guard.next_pid = next_pid;
        if guard.restarting_until.is_some_and(|t| t <= now) {
            guard.restarting_until = None;
            guard.down = false;
            let mut next_pid = guard.next_pid;
            for s in guard.services.iter_mut().filter(|s| s.desired_up) {
                next_pid += 1;
                s.pid = next_pid;
                s.process_up = true;
                s.state_entered = now_s();
                if s.wedged {
                    s.wedged = false;
                    s.health = HealthStatus::Ok;
                }
            }
            guard.next_pid = next_pid;
        }
        guard
    }

    pub fn is_down(&self) -> bool {
        self.lock().down
    }

    /// What the gateway does with connections under the current faults.
    pub(super) fn admit(&self) -> crate::http::Admit {
        use crate::http::Admit;
        let st = self.lock();
        if st.down {
            Admit::Drop
        } else if st.no_accept {
            Admit::NotAccepting
        } else if st.hang {
            Admit::Hold
        } else {
            Admit::Serve
        }
    }

    /// Injects a fault. Errors name what was wrong (unknown service).
    pub fn inject(&self, fault: &Fault) -> Result<(), String> {
        let mut st = self.lock();
        let find = |st: &mut HostState, name: &str| -> Result<usize, String> {
            st.services
                .iter()
                .position(|s| {
                    s.spec.name == name || format!("{}.{}", s.spec.name, s.spec.group) == name
                })
                .ok_or_else(|| format!("host {} runs no service `{name}`", self.spec.name))
        };
        match fault {
            Fault::Down => st.down = true,
            Fault::Up => {
                st.down = false;
                st.hang = false;
                st.no_accept = false;
            }
            Fault::Hang => st.hang = true,
            Fault::NoAccept => st.no_accept = true,
            Fault::Slow { ms } => st.slow_ms = *ms,
            Fault::Garbage => st.garbage = true,
            Fault::ServerError { status } => st.server_error = Some(*status),
            Fault::Oversized => st.oversized = true,
            Fault::CtlFlood { frames, bytes } => st.ctl_flood = Some((*frames, *bytes)),
            Fault::CtlLoseReply => st.ctl_lose_reply = true,
            Fault::Health { service, status } => {
                let i = find(&mut st, service)?;
                st.services[i].health = *status;
                st.services[i].flapping = false;
            }
            Fault::Flapping { service } => {
                let i = find(&mut st, service)?;
                st.services[i].flapping = true;
            }
            Fault::Drain { service, ms } => {
                let i = find(&mut st, service)?;
                st.services[i].drain = Duration::from_millis(*ms);
            }
            Fault::Wedged { service } => {
                let i = find(&mut st, service)?;
                st.services[i].wedged = true;
                st.services[i].health = HealthStatus::Critical;
                st.services[i].flapping = false;
            }
            Fault::Stopped { service } => {
                let i = find(&mut st, service)?;
                st.services[i].desired_up = false;
                st.services[i].pending = Some((Instant::now(), false));
            }
            Fault::Started { service } => {
                let i = find(&mut st, service)?;
                st.services[i].desired_up = true;
                st.services[i].pending = Some((Instant::now(), true));
            }
            Fault::SupVersion { version } => st.sup_version = version.clone(),
            Fault::RestartSupervisor => {
                st.down = true;
                st.restarting_until = Some(Instant::now() + self.transition_delay);
                for s in st.services.iter_mut() {
                    s.process_up = false;
                    s.pending = None;
                    s.state_entered = now_s();
                }
            }
            Fault::Release {
                service,
                version,
                release,
            } => {
                let i = find(&mut st, service)?;
                st.services[i].spec.version = version.clone();
                st.services[i].spec.release = release.clone();
                st.services[i].state_entered = now_s();
            }
            Fault::Clear => {
                st.down = false;
                st.hang = false;
                st.no_accept = false;
                st.slow_ms = 0;
                st.garbage = false;
                st.server_error = None;
                st.oversized = false;
                st.ctl_flood = None;
                st.ctl_lose_reply = false;
                st.sup_version = self.spec.sup_version.clone();
                for s in st.services.iter_mut() {
                    s.health = HealthStatus::Ok;
                    s.flapping = false;
                    s.wedged = false;
                    s.drain = Duration::ZERO;
                    if !s.process_up || !s.desired_up {
                        s.desired_up = true;
                        s.pending = Some((Instant::now(), true));
                    }
                }
            }
        }
        drop(st);
        // Apply an immediate pending change right away.
        drop(self.lock());
        Ok(())
    }

    /// `hab svc stop/start` through the control gateway: asynchronous, like the real one.
    /// Returns whether anything changed, or `None` if no loaded service matches.
    pub(super) fn set_desired(&self, origin: &str, name: &str, up: bool) -> Option<(bool, String)> {
        let mut st = self.lock();
        let delay = self.transition_delay;
        let s = st
            .services
            .iter_mut()
            .find(|s| s.spec.origin == origin && s.spec.name == name)?;
        let ident = format!(
            "{}/{}/{}/{}",
            s.spec.origin, s.spec.name, s.spec.version, s.spec.release
        );
        if s.desired_up == up {
            return Some((false, ident));
        }
        s.desired_up = up;
        if !s.drain.is_zero() && (s.process_up || s.draining.is_some()) {
            // As hab-sup does with a process slow to exit: down is reported when the stop
            // begins, and a start while the old process drains reattaches to it.
            s.pending = None;
            s.process_up = up;
            s.state_entered = now_s();
            if !up && s.draining.is_none() {
                s.draining = Some(Instant::now() + s.drain);
            }
            return Some((true, ident));
        }
        s.pending = Some((Instant::now() + delay, up));
        Some((true, ident))
    }

    fn effective_health(s: &SvcState) -> HealthStatus {
        if !s.process_up {
            return HealthStatus::Unknown;
        }
        if s.flapping {
            return if now_s() % 2 == 0 {
                HealthStatus::Critical
            } else {
                HealthStatus::Ok
            };
        }
        s.health
    }

    /// The `/services` body, in the shape of a real Supervisor's (cut to the fields that matter,
    /// plus enough of the rest to be realistic in size).
    /// A hash of everything `/services` and `/census` show of this host.
    /// Every running service gets a new pid: the next `/services` body differs, the states do
    /// not.
    pub fn churn(&self) {
        let mut st = self.lock();
        let mut next = st.next_pid;
        for s in st.services.iter_mut().filter(|s| s.process_up) {
            next = next.wrapping_add(1).max(1000);
            s.pid = next;
        }
        st.next_pid = next;
    }

    fn fingerprint(st: &HostState) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (st.down, &st.sup_version).hash(&mut h);
        for s in &st.services {
            (
                &s.spec.version,
                &s.spec.release,
                s.desired_up,
                s.process_up,
                s.pid,
                s.state_entered,
                Self::effective_health(s),
            )
                .hash(&mut h);
        }
        h.finish()
    }

    /// The `/census` body for this member: the ring's shared census with this member's id.
    pub(super) fn census_body(&self) -> String {
        use std::hash::{Hash, Hasher};
        let Some((ring, shared)) = self.ring.get() else {
            return self.census_json().to_string();
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for member in ring {
            (member.is_down(), Self::fingerprint(&member.lock())).hash(&mut h);
        }
        let key = h.finish();
        let mut last = match shared.last.lock() {
            Ok(l) => l,
            Err(_) => return self.census_json().to_string(),
        };
        let text = match last.as_ref() {
            Some((k, text)) if *k == key => text,
            _ => {
                let text = self.census_json_as(LOCAL_MEMBER_PLACEHOLDER).to_string();
                &last.insert((key, text)).1
            }
        };
        text.replace(LOCAL_MEMBER_PLACEHOLDER, &self.member_id)
    }

    /// The `/services` body as bytes, rebuilt only when what it shows has changed.
    pub(super) fn services_body(&self) -> bytes::Bytes {
        let st = self.lock();
        let fingerprint = Self::fingerprint(&st);
        if let Ok(cache) = self.services_cache.lock() {
            if let Some((k, body)) = cache.as_ref() {
                if *k == fingerprint {
                    return body.clone();
                }
            }
        }
        let value = Value::Array(
            st.services
                .iter()
                .map(|s| self.service_json(&st, s))
                .collect(),
        );
        let body = bytes::Bytes::from(value.to_string());
        if let Ok(mut cache) = self.services_cache.lock() {
            *cache = Some((fingerprint, body.clone()));
        }
        body
    }

    pub(super) fn service_json_by_group(&self, svc: &str, group: &str) -> Option<Value> {
        let st = self.lock();
        st.services
            .iter()
            .find(|s| s.spec.name == svc && s.spec.group == group)
            .map(|s| self.service_json(&st, s))
    }

    fn service_json(&self, st: &HostState, s: &SvcState) -> Value {
        let sp = &s.spec;
        let health = Self::effective_health(s);
        let svc_path = format!("/hab/svc/{}", sp.name);
        json!({
            "service_group": format!("{}.{}", sp.name, sp.group),
            "bldr_url": "https://bldr.habitat.sh",
            "channel": "stable",
            "spec_file": format!("/hab/sup/default/specs/{}.spec", sp.name),
            "spec_ident": {"origin": sp.origin, "name": sp.name, "version": null, "release": null},
            "topology": "standalone",
            "update_strategy": "at-once",
            "update_condition": "latest",
            "desired_state": if s.desired_up { "Up" } else { "Down" },
            "health_check": match health {
                HealthStatus::Ok => "Ok",
                HealthStatus::Warning => "Warning",
                HealthStatus::Critical => "Critical",
                HealthStatus::Unknown => "Unknown",
            },
            "health_check_interval": {"secs": 30, "nanos": 0},
            "initialized": true,
            "last_election_status": "None",
            "binds": ["router:builder-router.".to_owned() + &sp.group],
            "binding_mode": "strict",
            "all_pkg_binds": [{"service": "router", "exports": ["port"]}],
            "cfg": {"http": {"listen": "0.0.0.0", "port": 9636}, "log_level": "info"},
            "config_from": null,
            "hooks": {
                "run": {"render_pair": format!("{svc_path}/hooks/run"),
                        "stdout_log_path": format!("{svc_path}/logs/run.stdout.log"),
                        "stderr_log_path": format!("{svc_path}/logs/run.stderr.log")},
                "health_check": {"render_pair": format!("{svc_path}/hooks/health_check"),
                        "stdout_log_path": format!("{svc_path}/logs/health_check.stdout.log"),
                        "stderr_log_path": format!("{svc_path}/logs/health_check.stderr.log")},
                "init": null, "post_run": null, "post_stop": null, "reload": null,
                "reconfigure": null, "file_updated": null, "suitability": null
            },
            "manager_fs_cfg": {"sup_root": "/hab/sup/default", "data_path": "/hab/sup/default/data",
                "specs_path": "/hab/sup/default/specs", "member_id_file": "/hab/sup/default/MEMBER_ID",
                "proc_lock_file": "/hab/sup/default/LOCK"},
            "pkg": {
                "ident": format!("{}/{}/{}/{}", sp.origin, sp.name, sp.version, sp.release),
                "origin": sp.origin, "name": sp.name, "version": sp.version, "release": sp.release,
                "deps": [], "dependencies": ["core/glibc/2.27/20180608041157", "core/openssl/1.0.2n/20180608102213"],
                "env": {"PATH": format!("/hab/pkgs/{}/{}/{}/{}/bin", sp.origin, sp.name, sp.version, sp.release)},
                "exports": {"port": "http.port"}, "exposes": ["9636"],
                "path": format!("/hab/pkgs/{}/{}/{}/{}", sp.origin, sp.name, sp.version, sp.release),
                "svc_path": svc_path, "svc_user": "hab", "svc_group": "hab",
                "svc_pid_file": format!("/hab/svc/{}/PID", sp.name),
                "shutdown_signal": "TERM", "shutdown_timeout": 8
            },
            "process": {
                "pid": if s.process_up { Value::from(s.pid) } else { Value::Null },
                "state": if s.process_up { "up" } else { "down" },
                "state_entered": s.state_entered
            },
            "last_process_state": null,
            "next_restart_at": null,
            "restart_count": 0,
            "sys": {
                "version": st.sup_version,
                "member_id": self.member_id,
                "ip": "127.0.0.1",
                "hostname": self.spec.name,
                "gossip_ip": "0.0.0.0", "gossip_port": 9638,
                "http_gateway_ip": "127.0.0.1", "http_gateway_port": self.gateway_addr.port(),
                "ctl_gateway_ip": "127.0.0.1", "ctl_gateway_port": self.ctl_addr.port(),
                "permanent": false
            },
            "user_config_updated": false
        })
    }

    /// `(http status, body)` of `/services/{svc}/{group}/health`.
    pub(super) fn health_json(&self, svc: &str, group: &str) -> Option<(u16, Value)> {
        let st = self.lock();
        let s = st
            .services
            .iter()
            .find(|s| s.spec.name == svc && s.spec.group == group)?;
        let health = Self::effective_health(s);
        let (code, word, out) = match health {
            HealthStatus::Ok => (200, "OK", format!("{svc} answers on its port\n")),
            HealthStatus::Warning => (
                200,
                "WARNING",
                format!("{svc}: responses are slow (p99 2.4 s)\n"),
            ),
            HealthStatus::Critical => (
                503,
                "CRITICAL",
                format!("{svc}: cannot reach the router: connection refused\n"),
            ),
            HealthStatus::Unknown => (500, "UNKNOWN", String::new()),
        };
        Some((code, json!({"status": word, "stdout": out, "stderr": ""})))
    }

    /// The census as this member sees the ring of its environment.
    pub(super) fn census_json(&self) -> Value {
        self.census_json_as(&self.member_id)
    }

    fn census_json_as(&self, local_member_id: &str) -> Value {
        let ring: Vec<Arc<SimHost>> = self.ring.get().map(|(r, _)| r.clone()).unwrap_or_default();
        let mut groups = serde_json::Map::new();
        for member in &ring {
            let alive = !member.is_down();
            let st = member.lock();
            for s in &st.services {
                let sg = format!("{}.{}", s.spec.name, s.spec.group);
                let entry = groups.entry(sg.clone()).or_insert_with(|| {
                    json!({"service_group": sg, "election_status": "None", "update_election_status": "None",
                           "leader_id": null, "service_config": null, "local_member_id": local_member_id,
                           "population": {}})
                });
                if let Some(pop) = entry.get_mut("population").and_then(|p| p.as_object_mut()) {
                    pop.insert(member.member_id.clone(), json!({
                        "member_id": member.member_id,
                        "package": format!("{}/{}/{}/{}", s.spec.origin, s.spec.name, s.spec.version, s.spec.release),
                        "service": s.spec.name, "group": s.spec.group, "org": null,
                        "sys": {"ip": "127.0.0.1", "hostname": member.spec.name, "gossip_ip": "127.0.0.1", "gossip_port": 9638,
                                "http_gateway_ip": "127.0.0.1", "http_gateway_port": member.gateway_addr.port(),
                                "ctl_gateway_ip": "127.0.0.1", "ctl_gateway_port": member.ctl_addr.port()},
                        "alive": alive, "suspect": !alive, "confirmed": false, "departed": false, "persistent": false,
                        "leader": false, "follower": false
                    }));
                }
            }
        }
        json!({"changed": false, "local_member_id": local_member_id, "census_groups": groups})
    }

    pub(super) fn butterfly_json(&self) -> Value {
        let ring: Vec<Arc<SimHost>> = self.ring.get().map(|(r, _)| r.clone()).unwrap_or_default();
        let membership: serde_json::Map<String, Value> = ring
            .iter()
            .map(|m| {
                (
                    m.member_id.clone(),
                    json!({"address": "127.0.0.1", "swim_port": 9638, "gossip_port": 9638,
                    "incarnation": 0, "persistent": false,
                    "health": if m.is_down() { "Suspect" } else { "Alive" }}),
                )
            })
            .collect();
        json!({"membership": membership, "departed_members": []})
    }

    /// State for the control API.
    pub fn state_json(&self) -> Value {
        let st = self.lock();
        json!({
            "name": self.spec.name,
            "environment": self.spec.environment,
            "gateway": self.gateway_addr.to_string(),
            "ctl": self.ctl_addr.to_string(),
            "down": st.down, "slow_ms": st.slow_ms, "garbage": st.garbage,
            "sup_version": st.sup_version,
            "services": st.services.iter().map(|s| json!({
                "name": s.spec.name, "group": s.spec.group,
                "ident": format!("{}/{}/{}/{}", s.spec.origin, s.spec.name, s.spec.version, s.spec.release),
                "desired_up": s.desired_up, "process_up": s.process_up, "pid": s.pid,
                "health": format!("{:?}", Self::effective_health(s)), "flapping": s.flapping,
            })).collect::<Vec<_>>()
        })
    }
}

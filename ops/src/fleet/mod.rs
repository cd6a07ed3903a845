//! The fleet model: environment → host → service, as last seen by the poller.
//!
//! One rule runs through it: nothing is shown as healthy that was not seen healthy. A host that
//! does not answer is `unreachable`, not "up as before"; data older than `stale_after` is `stale`;
//! a failed inventory keeps the last good host list, marked stale with its error and age.

mod alarms;
pub mod dashboard;
pub mod feeds;
pub mod history;
pub mod poller;
pub mod watch;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use alarms::{is_development_build, Alarm, AlarmKind};
pub use history::{History, Subject, Transition};
pub use watch::{Gap, WatchLog};

use crate::inventory::{Host, Inventory};
use crate::probe::ProbeStatus;
use crate::supervisor::gateway::{
    parse_service_records, CensusSummary, GatewayError, HealthReport, ServiceRecord, ServiceStatus,
    ServicesBody,
};
use crate::supervisor::habitat::{HealthStatus, PackageIdent, ProcessState};
pub use vocab::CellState;

/// Census members kept per host (the counts always cover the whole census).
pub const CENSUS_MEMBERS_KEPT: usize = 64;

/// Whether the poller reaches a host's Supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// In the inventory, not polled yet.
    NotPolled,
    Reachable,
    Unreachable,
    /// The instance is not running (EC2 state), so it is not polled.
    NotRunning,
}

/// The inventory of one environment: when it was last read and whether that worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InventoryStatus {
    pub source: String,
    /// Last successful read.
    pub refreshed_ms: Option<i64>,
    /// Set while the last read failed: the hosts shown are the last good ones.
    pub error: Option<String>,
    pub error_since_ms: Option<i64>,
    /// What the last good read left out of this environment and why (instances tagged for it
    /// outside its scope, names held by two hosts): never polled, never sent a secret.
    #[serde(default)]
    pub refused: Vec<String>,
}

impl InventoryStatus {
    pub fn is_stale(&self) -> bool {
        self.error.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    pub service_group: String,
    /// `builder-api`
    pub service: String,
    /// `live`
    pub group: String,
    pub ident: PackageIdent,
    pub process: ProcessState,
    pub desired_up: Option<bool>,
    pub health: HealthStatus,
    /// The health hook's output, fetched when the service is not `Ok`.
    pub health_report: Option<HealthReport>,
    pub pid: Option<u32>,
    pub state_entered: Option<i64>,
    pub update_strategy: Option<String>,
    pub channel: Option<String>,
    pub cell: CellState,
    /// When `cell` last changed (epoch ms).
    pub since_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSnapshot {
    pub host: Host,
    pub reachability: Reachability,
    /// The worst cell of the host (its Supervisor counts as a cell: unreachable, stale).
    pub cell: CellState,
    pub since_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub sup_version: Option<String>,
    /// Since when the Supervisor has reported this version (first seen, or changed).
    pub sup_version_since_ms: Option<i64>,
    pub member_id: Option<String>,
    pub services: Vec<ServiceSnapshot>,
    pub census: Option<CensusSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSnapshot {
    pub name: String,
    pub production: bool,
    pub inventory: InventoryStatus,
    pub hosts: Vec<HostSnapshot>,
    /// Services (and unreachable/stale hosts without services) per state.
    pub counts: BTreeMap<CellState, usize>,
}

/// The whole fleet at one moment, as pages render it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetSnapshot {
    /// Increases with every change; pages use it to know they are current.
    pub version: u64,
    pub generated_ms: i64,
    pub environments: Vec<EnvironmentSnapshot>,
    pub alarms: Vec<Alarm>,
    pub probes: Vec<ProbeStatus>,
    /// Instances whose environment tag names no configured environment: not shown, not polled,
    /// only counted (a misspelt tag is a finding of its own).
    pub unconfigured: Vec<UnconfiguredTag>,
}

/// Instances carrying an environment tag that is not configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnconfiguredTag {
    pub tag: String,
    pub instances: usize,
    /// The configured environment it most likely meant (same name but for case, or one or two
    /// letters apart).
    pub suggestion: Option<String>,
}

/// The configured environment that `tag` most likely means.
pub fn suggest_environment<'a>(
    tag: &str,
    configured: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let tag_l = tag.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for name in configured {
        let d = edit_distance(&tag_l, &name.to_ascii_lowercase());
        if d <= 2 && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, name));
        }
    }
    best.map(|(_, n)| n.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl FleetSnapshot {
    pub fn environment(&self, name: &str) -> Option<&EnvironmentSnapshot> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn host(&self, environment: &str, host: &str) -> Option<&HostSnapshot> {
        self.environment(environment)?
            .hosts
            .iter()
            .find(|h| h.host.name == host)
    }
}

/// A change the UI and the store hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetChange {
    pub version: u64,
    pub transitions: Vec<Transition>,
}

/// Result of polling one host.
#[derive(Debug, Clone)]
pub struct HostPoll {
    pub result: Result<ServicesAnswer, GatewayError>,
    /// Health reports for the services that were not `Ok`, by service group.
    pub health: BTreeMap<String, HealthReport>,
    pub census: Option<CensusSummary>,
    pub at_ms: i64,
}

/// What a host's `/services` said, as the poller hands it to the model.
#[derive(Debug, Clone)]
pub enum ServicesAnswer {
    /// Every service the Supervisor has loaded. `digest` names the body they were read from
    /// (see [`ServicesBody`]); `None` when there is no body to name.
    Parsed {
        services: Vec<ServiceRecord>,
        digest: Option<u64>,
    },
    /// The very body the model's services of this host were last read from (same digest, see
    /// [`FleetModel::services_seen`]), not parsed again. The body comes along for the rare
    /// case that the model's services changed between that look and this answer: then it is
    /// parsed after all.
    Same(ServicesBody),
}

impl ServicesAnswer {
    /// Services given as [`ServiceStatus`]es (tests, and callers that parsed them themselves).
    pub fn from_statuses(services: &[ServiceStatus]) -> Result<ServicesAnswer, GatewayError> {
        Ok(ServicesAnswer::Parsed {
            services: services
                .iter()
                .map(ServiceStatus::to_record)
                .collect::<Result<_, _>>()?,
            digest: None,
        })
    }
}

#[derive(Debug, Clone)]
struct ServiceEntry {
    /// As the Supervisor last sent it, compactly (one allocation per service).
    status: ServiceRecord,
    health_report: Option<HealthReport>,
    cell: CellState,
    since_ms: i64,
}

#[derive(Debug, Clone)]
struct HostEntry {
    host: Host,
    reachability: Reachability,
    host_since_ms: i64,
    last_seen_ms: Option<i64>,
    last_error: Option<String>,
    consecutive_failures: u32,
    sup_version: Option<String>,
    sup_version_since_ms: Option<i64>,
    member_id: Option<String>,
    services: BTreeMap<String, ServiceEntry>,
    /// The digest of the `/services` body that `services` were read from, if they were read
    /// from one: an answer with the same digest changes nothing in them, and is not parsed.
    services_digest: Option<u64>,
    census: Option<CensusSummary>,
}

#[derive(Debug, Clone, Default)]
struct EnvEntry {
    production: bool,
    inventory: InventoryStatus,
    hosts: BTreeMap<String, HostEntry>,
}

#[derive(Default)]
struct State {
    envs: BTreeMap<String, EnvEntry>,
    /// Instances per environment tag that is not configured (from the last inventory read).
    unconfigured: BTreeMap<String, usize>,
    /// What the store says each subject last was before this process started, until the
    /// subject is first seen: a restart of Onwatch is not a change of the fleet.
    remembered: BTreeMap<(String, Subject), (String, i64)>,
    probes: BTreeMap<String, ProbeStatus>,
    version: u64,
    /// When the model was last recovered after a panic left its lock poisoned.
    recovered_ms: Option<i64>,
}

/// How long the dashboard says that the model was recovered after an internal error.
pub const RECOVERY_NOTICE_MS: i64 = 15 * 60 * 1000;

impl State {
    /// After a panic mid-update nothing in the model can be trusted to be whole, but most of it
    /// is still a fair record of what was seen: the hosts and their history stay, and every host
    /// and service reads `unknown` until it is polled again (within a poll interval), so nothing
    /// is shown healthy that was not seen healthy since. The dashboard says what happened.
    fn recover(&mut self, now_ms: i64) {
        for env in self.envs.values_mut() {
            for host in env.hosts.values_mut() {
                if host.reachability != Reachability::NotRunning {
                    host.reachability = Reachability::NotPolled;
                    host.host_since_ms = now_ms;
                }
                for svc in host.services.values_mut() {
                    svc.cell = CellState::Unknown;
                    svc.since_ms = now_ms;
                }
            }
        }
        self.recovered_ms = Some(now_ms);
        self.version += 1;
    }
}

/// How the fleet is watched: the `[fleet]` section of the configuration, read straight into
/// this struct (the configuration declares none of these fields again).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetOptions {
    /// Each host is polled about this often.
    #[serde(rename = "poll_interval_ms", deserialize_with = "crate::time::millis")]
    pub interval: Duration,
    /// Each round waits `interval × (1 ± jitter)`, so many Onwatch replicas do not poll in step.
    #[serde(rename = "poll_jitter")]
    pub jitter: f64,
    /// Hosts polled at once.
    #[serde(rename = "poll_concurrency")]
    pub concurrency: usize,
    /// For the whole visit of one host (services + health of unhealthy ones + census).
    #[serde(rename = "host_timeout_ms", deserialize_with = "crate::time::millis")]
    pub host_timeout: Duration,
    /// A failing host is retried after interval × 2^(failures−1), at most this long.
    #[serde(rename = "max_backoff_secs", deserialize_with = "crate::time::secs")]
    pub max_backoff: Duration,
    /// Read each host's `/census` about every this many rounds (0 = never).
    pub census_every: u64,
    /// At most this many `/census` reads per round. Every Supervisor's census lists the whole
    /// ring, so reading all of them costs O(hosts²) bytes: in a large fleet each host's census is
    /// read less often instead (every ⌈hosts / this⌉ rounds).
    pub census_max_per_round: usize,
    /// A round's visits start spread over this fraction of the interval (0 = all at once), so
    /// the poller's work, and the Supervisors' answers, come as a steady trickle rather than a
    /// burst each second.
    #[serde(rename = "poll_spread")]
    pub spread: f64,
    /// A reachable host not heard from for this long shows as stale.
    #[serde(rename = "stale_after_secs", deserialize_with = "crate::time::secs")]
    pub stale_after: Duration,
    /// The inventory is read again this often (at least every 5 s).
    #[serde(
        rename = "inventory_refresh_secs",
        deserialize_with = "crate::time::secs"
    )]
    pub inventory_refresh: Duration,
    /// On the dashboard, an environment of more hosts than this lists only the hosts with a
    /// problem (the healthy ones are counted); its own page lists them all.
    pub dashboard_collapse_above: usize,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            interval: Duration::from_secs(1),
            jitter: 0.1,
            concurrency: 64,
            host_timeout: Duration::from_secs(3),
            max_backoff: Duration::from_secs(60),
            census_every: 10,
            census_max_per_round: 4,
            spread: 0.5,
            stale_after: Duration::from_secs(15),
            inventory_refresh: Duration::from_secs(60),
            dashboard_collapse_above: 40,
        }
    }
}

impl FleetOptions {
    /// What is wrong with these options, as (key within `[fleet]`, what is expected).
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if self.interval < Duration::from_millis(100) {
            return Err(("poll_interval_ms", "must be at least 100"));
        }
        if !(0.0..=0.9).contains(&self.spread) {
            return Err((
                "poll_spread",
                "must be between 0 (all visits at once) and 0.9 (spread over 90% of the interval)",
            ));
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(("poll_jitter", "must be between 0 and 0.5"));
        }
        if self.concurrency == 0 {
            return Err(("poll_concurrency", "must be at least 1"));
        }
        Ok(())
    }
}

/// Settings of the model.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Environments known from the configuration, with their production flag, in display order.
    pub environments: Vec<(String, bool)>,
    /// After this long without a successful poll, a reachable host's services show as stale.
    pub stale_after_ms: i64,
}

/// The shared, in-memory fleet model. Writers: the inventory refresher, the poller, the probes.
/// Readers: pages (through [`FleetModel::snapshot`]) and the SSE stream (through
/// [`FleetModel::subscribe`]).
pub struct FleetModel {
    state: RwLock<State>,
    options: ModelOptions,
    changes: broadcast::Sender<FleetChange>,
    cached: Mutex<Option<Arc<FleetSnapshot>>>,
    /// Held by the one reader rebuilding the snapshot.
    building: Mutex<()>,
    /// `state.version`, readable without the lock.
    published: std::sync::atomic::AtomicU64,
}

/// How old a snapshot readers may get while another reader rebuilds it.
pub const SNAPSHOT_GRACE_MS: i64 = 3000;

impl FleetModel {
    pub fn new(options: ModelOptions) -> FleetModel {
        let mut state = State::default();
        for (name, production) in &options.environments {
            state.envs.insert(
                name.clone(),
                EnvEntry {
                    production: *production,
                    ..EnvEntry::default()
                },
            );
        }
        let (changes, _) = broadcast::channel(1024);
        FleetModel {
            state: RwLock::new(state),
            options,
            changes,
            cached: Mutex::new(None),
            building: Mutex::new(()),
            published: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The model for writing. A lock poisoned by a panic in another writer is recovered loudly
    /// (see [`State::recover`]), never silently left to freeze the model or read it as empty.
    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        match self.state.write() {
            Ok(state) => state,
            Err(poisoned) => {
                let mut state = poisoned.into_inner();
                self.state.clear_poison();
                let now = crate::time::now_ms();
                tracing::error!(
                    "the fleet model's lock was poisoned by a panic; every host reads unknown until polled again"
                );
                state.recover(now);
                self.published
                    .store(state.version, std::sync::atomic::Ordering::Release);
                state
            }
        }
    }

    /// The model for reading; a poisoned lock is first recovered as [`Self::write_state`] does.
    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        if self.state.is_poisoned() {
            drop(self.write_state());
        }
        // A panic between the recovery and this read poisons it again: read what is there (the
        // next write recovers it, and says so).
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FleetChange> {
        self.changes.subscribe()
    }

    /// The model's version, without touching the model's lock (pages and streams ask often).
    pub fn version(&self) -> u64 {
        self.published.load(std::sync::atomic::Ordering::Acquire)
    }

    fn production_default(&self, env: &str) -> bool {
        self.options
            .environments
            .iter()
            .find(|(n, _)| n == env)
            .map(|(_, p)| *p)
            .unwrap_or(matches!(env, "live" | "prod" | "production"))
    }

    /// Replaces an environment's host list after a successful inventory read. Hosts that left
    /// the inventory are dropped; new ones start as not polled.
    pub fn set_inventory(&self, source: &str, read: Inventory, now_ms: i64) {
        let Inventory {
            hosts: hosts_by_env,
            mut refused,
        } = read;
        let mut transitions = Vec::new();
        // Only configured environments exist; instances tagged otherwise are counted, so the
        // dashboard can say "58 instances tagged `Live`", and never polled. (A model built
        // without a list of environments takes every tag as one.)
        let (hosts_by_env, unconfigured): (BTreeMap<_, _>, BTreeMap<_, _>) =
            if self.options.environments.is_empty() {
                (hosts_by_env, BTreeMap::new())
            } else {
                let mut kept = BTreeMap::new();
                let mut other = BTreeMap::new();
                for (env, hosts) in hosts_by_env {
                    if self.options.environments.iter().any(|(n, _)| *n == env) {
                        kept.insert(env, hosts);
                    } else {
                        other.insert(env, hosts.len());
                    }
                }
                (kept, other)
            };
        {
            let mut state = self.write_state();
            state.unconfigured = unconfigured;
            // Environments the source knows nothing about keep their (empty) entry.
            let env_names: std::collections::BTreeSet<String> = state
                .envs
                .keys()
                .cloned()
                .chain(hosts_by_env.keys().cloned())
                .collect();
            for env_name in env_names {
                let hosts = hosts_by_env.get(&env_name).cloned().unwrap_or_default();
                let production = self.production_default(&env_name);
                let env = state
                    .envs
                    .entry(env_name.clone())
                    .or_insert_with(|| EnvEntry {
                        production,
                        ..EnvEntry::default()
                    });
                let was_stale = env.inventory.is_stale();
                env.inventory = InventoryStatus {
                    source: source.to_owned(),
                    refreshed_ms: Some(now_ms),
                    error: None,
                    error_since_ms: None,
                    refused: refused.remove(&env_name).unwrap_or_default(),
                };
                if was_stale {
                    transitions.push(Transition::new(
                        &env_name,
                        Subject::Inventory,
                        Some("inventory-stale"),
                        "inventory-ok",
                        "inventory read again",
                        now_ms,
                    ));
                }
                let mut next = BTreeMap::new();
                for host in hosts {
                    let running = host.is_running();
                    let entry = match env.hosts.remove(&host.name) {
                        Some(mut existing) => {
                            existing.host = host.clone();
                            if !running {
                                existing.reachability = Reachability::NotRunning;
                            } else if existing.reachability == Reachability::NotRunning {
                                existing.reachability = Reachability::NotPolled;
                            }
                            existing
                        }
                        None => HostEntry {
                            host: host.clone(),
                            reachability: if running {
                                Reachability::NotPolled
                            } else {
                                Reachability::NotRunning
                            },
                            host_since_ms: now_ms,
                            last_seen_ms: None,
                            last_error: None,
                            consecutive_failures: 0,
                            sup_version: None,
                            sup_version_since_ms: None,
                            member_id: None,
                            services: BTreeMap::new(),
                            services_digest: None,
                            census: None,
                        },
                    };
                    next.insert(host.name.clone(), entry);
                }
                env.hosts = next;
            }
            state.version += 1;
            self.published
                .store(state.version, std::sync::atomic::Ordering::Release);
        }
        self.publish(transitions);
    }

    /// Records a failed inventory read: the last good hosts stay, marked stale.
    pub fn inventory_failed(&self, source: &str, error: &str, now_ms: i64) {
        let mut transitions = Vec::new();
        {
            let mut state = self.write_state();
            for (name, env) in state.envs.iter_mut() {
                if env.inventory.error.is_none() {
                    transitions.push(Transition::new(
                        name,
                        Subject::Inventory,
                        Some("inventory-ok"),
                        "inventory-stale",
                        error,
                        now_ms,
                    ));
                    env.inventory.error_since_ms = Some(now_ms);
                }
                env.inventory.source = source.to_owned();
                env.inventory.error = Some(error.to_owned());
            }
            state.version += 1;
            self.published
                .store(state.version, std::sync::atomic::Ordering::Release);
        }
        self.publish(transitions);
    }

    /// Takes the last state of every subject from the store (`History::last_states`), so that
    /// the first poll after a restart records only what really changed since, and a service
    /// that is as it was keeps its "since".
    pub fn remember(&self, last: Vec<Transition>) {
        let mut state = self.write_state();
        for t in last {
            state
                .remembered
                .insert((t.environment, t.subject), (t.to_state, t.at_ms));
        }
    }

    /// Hosts to poll: every running host of every environment.
    pub fn pollable_hosts(&self) -> Vec<Host> {
        let state = self.read_state();
        state
            .envs
            .values()
            .flat_map(|e| e.hosts.values())
            .filter(|h| h.reachability != Reachability::NotRunning)
            .map(|h| h.host.clone())
            .collect()
    }

    /// When this host's services were last read from a `/services` body with this digest: the
    /// service groups among them that are not `Ok` (the poller fetches their health reports),
    /// and the poller need not parse the body again. `None` when the body must be parsed.
    pub fn services_seen(&self, environment: &str, host: &str, digest: u64) -> Option<Vec<String>> {
        let state = self.read_state();
        let host = state.envs.get(environment)?.hosts.get(host)?;
        if host.services_digest != Some(digest) {
            return None;
        }
        Some(
            host.services
                .iter()
                .filter(|(_, s)| s.status.health != HealthStatus::Ok)
                .map(|(key, _)| key.clone())
                .collect(),
        )
    }

    /// Consecutive failures of a host (for the poller's backoff).
    pub fn failures(&self, environment: &str, host: &str) -> u32 {
        let state = self.read_state();
        state
            .envs
            .get(environment)
            .and_then(|e| e.hosts.get(host))
            .map(|h| h.consecutive_failures)
            .unwrap_or(0)
    }

    /// Folds one host's poll into the model. Returns the transitions it caused (also published).
    pub fn apply_poll(
        &self,
        environment: &str,
        host_name: &str,
        poll: HostPoll,
    ) -> Vec<Transition> {
        let now = poll.at_ms;
        let mut transitions = Vec::new();
        // Whether anything a page shows has changed (a steady poll changes nothing but the time).
        let mut changed = false;
        {
            let mut guard = self.write_state();
            let state = &mut *guard;
            let remembered = &mut state.remembered;
            let Some(host) = state
                .envs
                .get_mut(environment)
                .and_then(|e| e.hosts.get_mut(host_name))
            else {
                return transitions; // left the inventory while being polled
            };
            // What the store said this subject last was, the first time it is seen.
            let mut recall =
                |subject: &Subject| remembered.remove(&(environment.to_owned(), subject.clone()));
            let result = match poll.result {
                // The model's services of this host changed since the poller looked (a
                // recovery, an inventory change): the body is not the one they came from after
                // all, so it is read now.
                Ok(ServicesAnswer::Same(body)) if host.services_digest != Some(body.digest) => {
                    parse_service_records(&body.body).map(|services| ServicesAnswer::Parsed {
                        services,
                        digest: Some(body.digest),
                    })
                }
                other => other,
            };
            match result {
                Ok(answer) => {
                    if host.reachability != Reachability::Reachable {
                        let subject = Subject::supervisor(host_name);
                        let before = (host.reachability == Reachability::NotPolled)
                            .then(|| recall(&subject))
                            .flatten();
                        let (transition, since) =
                            supervisor_change(environment, host, before, "reachable", "", now);
                        transitions.extend(transition);
                        host.host_since_ms = since;
                    }
                    host.reachability = Reachability::Reachable;
                    host.last_seen_ms = Some(now);
                    host.last_error = None;
                    host.consecutive_failures = 0;
                    if let Some(mut c) = poll.census {
                        // The ring of a large fleet lists every host; keep a page's worth.
                        c.truncate(CENSUS_MEMBERS_KEPT);
                        if host.census.as_ref() != Some(&c) {
                            changed = true;
                            host.census = Some(c);
                        }
                    }
                    match answer {
                        ServicesAnswer::Same(_) => {
                            // The services are exactly as the same body said last time: only
                            // their cells (an unreachable spell or a recovery in between
                            // changes those) and the health reports are looked at again.
                            for (key, entry) in host.services.iter_mut() {
                                let report = poll.health.get(key).cloned();
                                let cell = cell_of(entry.status.process_state, entry.status.health);
                                if entry.cell == cell {
                                    if entry.health_report != report {
                                        changed = true;
                                        entry.health_report = report;
                                    }
                                    continue;
                                }
                                transitions.push(service_transition(
                                    environment,
                                    Subject::service(host_name, key),
                                    Some(entry.cell.as_str()),
                                    cell,
                                    report.as_ref(),
                                    now,
                                ));
                                entry.cell = cell;
                                entry.since_ms = now;
                                entry.health_report = report;
                            }
                        }
                        ServicesAnswer::Parsed { services, digest } => {
                            fold_services(
                                environment,
                                host_name,
                                host,
                                services,
                                &poll.health,
                                now,
                                &mut recall,
                                &mut transitions,
                                &mut changed,
                            );
                            host.services_digest = digest;
                        }
                    }
                }
                Err(err) => {
                    host.consecutive_failures = host.consecutive_failures.saturating_add(1);
                    let msg = err.to_string();
                    if host.reachability != Reachability::Unreachable {
                        let subject = Subject::supervisor(host_name);
                        let before = (host.reachability == Reachability::NotPolled)
                            .then(|| recall(&subject))
                            .flatten();
                        let (transition, since) =
                            supervisor_change(environment, host, before, "unreachable", &msg, now);
                        transitions.extend(transition);
                        host.host_since_ms = since;
                    }
                    host.reachability = Reachability::Unreachable;
                    if host.last_error.as_deref() != Some(msg.as_str()) {
                        changed = true;
                    }
                    host.last_error = Some(msg);
                    // Service entries stay as last seen, but every one now reads `unreachable`.
                    for svc in host.services.values_mut() {
                        if svc.cell != CellState::Unreachable {
                            svc.cell = CellState::Unreachable;
                            svc.since_ms = now;
                            changed = true;
                        }
                    }
                }
            }
            changed |= !transitions.is_empty();
            if changed {
                state.version += 1;
                self.published
                    .store(state.version, std::sync::atomic::Ordering::Release);
            }
        }
        if changed {
            self.publish(transitions.clone());
        }
        transitions
    }

    /// Records the latest result of an endpoint probe.
    pub fn set_probe(&self, status: ProbeStatus) {
        let mut transitions = Vec::new();
        {
            let mut state = self.write_state();
            let prev_ok = state.probes.get(&status.name).and_then(|p| p.last_ok());
            if prev_ok != status.last_ok() {
                transitions.push(Transition::new(
                    &status.environment,
                    Subject::probe(&status.name),
                    prev_ok.map(|ok| if ok { "ok" } else { "failing" }),
                    if status.last_ok() == Some(true) {
                        "ok"
                    } else {
                        "failing"
                    },
                    status.last_error().unwrap_or(""),
                    status.history.last().map(|r| r.at_ms).unwrap_or(0),
                ));
            }
            state.probes.insert(status.name.clone(), status);
            state.version += 1;
            self.published
                .store(state.version, std::sync::atomic::Ordering::Release);
        }
        self.publish(transitions);
    }

    fn publish(&self, transitions: Vec<Transition>) {
        let version = self.version();
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(FleetChange {
            version,
            transitions,
        });
    }

    /// The fleet as pages show it. Shared by every reader until the model changes, or for a
    /// second at most (ages and staleness depend on the clock). A poll that sees nothing new does
    /// not change the model, so a steady fleet of any size costs one rebuild a second.
    ///
    /// One reader rebuilds; readers that arrive meanwhile get the previous snapshot if it is at
    /// most [`SNAPSHOT_GRACE_MS`] old (instead of all rebuilding a 1,000-host fleet at once), or
    /// wait for the rebuild.
    pub fn snapshot(&self, now_ms: i64) -> Arc<FleetSnapshot> {
        let version = self.version();
        // The snapshot cache and the builder's lock hold no state of their own worth
        // distrusting: a panic while holding them is recovered by using them as they are.
        let cached = self
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(s) = &cached {
            if s.version == version && now_ms - s.generated_ms < 1000 {
                return s.clone();
            }
        }
        let building = match self.building.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::WouldBlock) => {
                if let Some(s) = cached.filter(|s| now_ms - s.generated_ms < SNAPSHOT_GRACE_MS) {
                    return s;
                }
                match self.building.lock() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                }
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        // Someone may have rebuilt while this reader waited.
        if let Some(s) = self
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            if s.version == self.version() && now_ms - s.generated_ms < 1000 {
                return s;
            }
        }
        let snap = Arc::new(self.build_snapshot(now_ms));
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some(snap.clone());
        drop(building);
        snap
    }

    fn build_snapshot(&self, now_ms: i64) -> FleetSnapshot {
        let state = self.read_state();
        let order: Vec<String> = self
            .options
            .environments
            .iter()
            .map(|(n, _)| n.clone())
            .chain(state.envs.keys().cloned())
            .fold(Vec::new(), |mut acc, n| {
                if !acc.contains(&n) {
                    acc.push(n);
                }
                acc
            });
        let mut environments = Vec::new();
        for name in order {
            let Some(env) = state.envs.get(&name) else {
                continue;
            };
            let hosts: Vec<HostSnapshot> = env
                .hosts
                .values()
                .map(|h| self.host_snapshot(h, now_ms))
                .collect();
            let mut counts = BTreeMap::new();
            for h in &hosts {
                if h.services.is_empty() {
                    *counts.entry(h.cell).or_insert(0) += 1;
                }
                for s in &h.services {
                    *counts.entry(s.cell).or_insert(0) += 1;
                }
            }
            environments.push(EnvironmentSnapshot {
                name: name.clone(),
                production: env.production,
                inventory: env.inventory.clone(),
                hosts,
                counts,
            });
        }
        let probes: Vec<ProbeStatus> = state.probes.values().cloned().collect();
        let mut alarms = alarms::compute(&environments, &probes, now_ms);
        if let Some(at) = state
            .recovered_ms
            .filter(|at| now_ms - at < RECOVERY_NOTICE_MS)
        {
            alarms.insert(0, alarms::model_recovered(at));
        }
        let unconfigured = state
            .unconfigured
            .iter()
            .map(|(tag, n)| UnconfiguredTag {
                tag: tag.clone(),
                instances: *n,
                suggestion: suggest_environment(
                    tag,
                    self.options.environments.iter().map(|(n, _)| n.as_str()),
                ),
            })
            .collect();
        FleetSnapshot {
            version: state.version,
            generated_ms: now_ms,
            environments,
            alarms,
            probes,
            unconfigured,
        }
    }

    fn host_snapshot(&self, h: &HostEntry, now_ms: i64) -> HostSnapshot {
        let stale = h.reachability == Reachability::Reachable
            && h.last_seen_ms
                .map(|seen| now_ms - seen > self.options.stale_after_ms)
                .unwrap_or(false);
        let services: Vec<ServiceSnapshot> = h
            .services
            .values()
            .map(|s| {
                let cell = if h.reachability == Reachability::NotRunning {
                    CellState::Stopped
                } else if stale {
                    CellState::Stale
                } else {
                    s.cell
                };
                let (service, group) = s.status.service_and_group();
                ServiceSnapshot {
                    service_group: s.status.service_group().to_owned(),
                    service: service.to_owned(),
                    group: group.to_owned(),
                    ident: s.status.ident(),
                    process: s.status.process_state,
                    desired_up: s.status.desired_up,
                    health: s.status.health,
                    health_report: s.health_report.clone(),
                    pid: s.status.pid,
                    state_entered: s.status.state_entered,
                    update_strategy: s.status.update_strategy().map(str::to_owned),
                    channel: s.status.channel().map(str::to_owned),
                    cell,
                    since_ms: s.since_ms,
                }
            })
            .collect();
        let host_cell = match h.reachability {
            Reachability::Unreachable => CellState::Unreachable,
            Reachability::NotPolled => CellState::Unknown,
            Reachability::NotRunning => CellState::Stopped,
            Reachability::Reachable if stale => CellState::Stale,
            Reachability::Reachable => services
                .iter()
                .map(|s| s.cell)
                .min()
                .unwrap_or(CellState::Healthy),
        };
        HostSnapshot {
            host: h.host.clone(),
            reachability: h.reachability,
            cell: host_cell,
            since_ms: h.host_since_ms,
            last_seen_ms: h.last_seen_ms,
            last_error: h.last_error.clone(),
            consecutive_failures: h.consecutive_failures,
            sup_version: h.sup_version.clone(),
            sup_version_since_ms: h.sup_version_since_ms,
            member_id: h.member_id.clone(),
            services,
            census: h.census.clone(),
        }
    }
}

/// The cell of one service from what its Supervisor said.
pub fn service_cell(s: &ServiceStatus) -> CellState {
    cell_of(s.process_state, s.health)
}

/// The cell of a service in this process state and health.
fn cell_of(process: ProcessState, health: HealthStatus) -> CellState {
    match (process, health) {
        (ProcessState::Down, _) => CellState::Down,
        (ProcessState::Up, HealthStatus::Ok) => CellState::Healthy,
        (ProcessState::Up, HealthStatus::Warning) => CellState::Warning,
        (ProcessState::Up, HealthStatus::Critical) => CellState::Critical,
        (ProcessState::Up, HealthStatus::Unknown) => CellState::Unknown,
    }
}

/// Folds a parsed `/services` answer into a host's entry: the Supervisor's version and member
/// id, every service's record, cell and "since", a transition for each cell that changed, and
/// one for each service no longer loaded.
#[allow(clippy::too_many_arguments)]
fn fold_services(
    environment: &str,
    host_name: &str,
    host: &mut HostEntry,
    services: Vec<ServiceRecord>,
    health: &BTreeMap<String, HealthReport>,
    now: i64,
    recall: &mut impl FnMut(&Subject) -> Option<(String, i64)>,
    transitions: &mut Vec<Transition>,
    changed: &mut bool,
) {
    // The Supervisor's version and member id are on every service element.
    if let Some(first) = services.first() {
        let version = first.sup_version();
        if version != host.sup_version.as_deref() {
            if host.sup_version.is_some() {
                transitions.push(Transition::new(
                    environment,
                    Subject::supervisor(host_name),
                    host.sup_version.as_deref(),
                    version.unwrap_or("unknown"),
                    "Supervisor version changed",
                    now,
                ));
            }
            host.sup_version_since_ms = Some(now);
            host.sup_version = version.map(str::to_owned);
        }
        if first.member_id() != host.member_id.as_deref() {
            host.member_id = first.member_id().map(str::to_owned);
        }
    }
    let mut next = BTreeMap::new();
    for status in services {
        let report = health.get(status.service_group()).cloned();
        let cell = cell_of(status.process_state, status.health);
        // `Some(from)` when the cell changed; `from` is `None` for a new service. (The key of a
        // service seen before is reused: nothing is allocated for a service as it was.)
        let (key, since, changed_from) = match host.services.remove_entry(status.service_group()) {
            Some((key, prev)) if prev.cell == cell => {
                if prev.status != status || prev.health_report != report {
                    *changed = true;
                }
                (key, prev.since_ms, None)
            }
            Some((key, prev)) => (key, now, Some(Some(prev.cell.as_str().to_owned()))),
            None => {
                let key = status.service_group().to_owned();
                match recall(&Subject::service(host_name, &key)) {
                    // As it was before the restart: no change, and the same since.
                    Some((was, since)) if was == cell.as_str() => (key, since, None),
                    Some((was, _)) => (key, now, Some(Some(was))),
                    None => (key, now, Some(None)),
                }
            }
        };
        if let Some(from) = changed_from {
            transitions.push(service_transition(
                environment,
                Subject::service(host_name, &key),
                from.as_deref(),
                cell,
                report.as_ref(),
                now,
            ));
        }
        next.insert(
            key,
            ServiceEntry {
                status,
                health_report: report,
                cell,
                since_ms: since,
            },
        );
    }
    for gone in host.services.keys() {
        transitions.push(Transition::new(
            environment,
            Subject::service(host_name, gone),
            None,
            "unloaded",
            "no longer loaded on the Supervisor",
            now,
        ));
    }
    host.services = next;
}

/// A Supervisor's change to `to`: the transition to record, if any, and the state's "since".
/// `before` is what the store said it was before this process started (on its first sighting):
/// the same state then is no change, and keeps its "since".
fn supervisor_change(
    environment: &str,
    host: &HostEntry,
    before: Option<(String, i64)>,
    to: &str,
    detail: &str,
    now: i64,
) -> (Option<Transition>, i64) {
    match before {
        Some((was, since)) if was == to => (None, since),
        before => {
            let from = before
                .map(|(was, _)| was)
                .unwrap_or_else(|| reach_word(host.reachability).to_owned());
            (
                Some(Transition::new(
                    environment,
                    Subject::supervisor(&host.host.name),
                    Some(&from),
                    to,
                    detail,
                    now,
                )),
                now,
            )
        }
    }
}

fn reach_word(r: Reachability) -> &'static str {
    match r {
        Reachability::NotPolled => "not-polled",
        Reachability::Reachable => "reachable",
        Reachability::Unreachable => "unreachable",
        Reachability::NotRunning => "not-running",
    }
}

/// A service's cell changed: its transition, with its health check's first line as the detail.
fn service_transition(
    environment: &str,
    subject: Subject,
    from: Option<&str>,
    to: CellState,
    report: Option<&HealthReport>,
    now: i64,
) -> Transition {
    let detail = report
        .map(|r| first_line(&r.stdout, &r.stderr))
        .unwrap_or_default();
    Transition::new(environment, subject, from, to.as_str(), &detail, now)
}

fn first_line(stdout: &str, stderr: &str) -> String {
    let text = if stdout.trim().is_empty() {
        stderr
    } else {
        stdout
    };
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests;

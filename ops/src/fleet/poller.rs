//! The poller: visits every running host's Supervisor gateway with bounded concurrency, a per-host
//! timeout, a jittered interval and exponential backoff for hosts that keep failing, and folds the
//! results into the [`FleetModel`]. Transitions go to the [`History`] so that it survives a restart.
//!
//! Each host is scheduled on its own (see [`Poller::run`]): a result is applied the moment it
//! arrives, a host that times out is retried on its own backoff, and nothing waits for the
//! slowest host. A visit holds one of the `concurrency` slots only while it is quick
//! ([`SLOW_AFTER`]); a visit still waiting after that gives its slot back and waits on its own,
//! so a few hundred hung hosts cannot keep the healthy ones from being visited.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use tokio::sync::{mpsc, watch, Semaphore};

use super::history::History;
use super::{FleetModel, FleetOptions, HostPoll, ServicesAnswer, CENSUS_MEMBERS_KEPT};
use crate::inventory::Host;
use crate::supervisor::gateway::{
    parse_service_records, GatewayClient, GatewayError, GatewayTarget,
};
use crate::supervisor::habitat::{self, HealthStatus};

/// A visit still unanswered after this long gives its concurrency slot back (a Supervisor on a
/// healthy host answers in milliseconds) and goes on waiting, up to the host timeout, outside
/// the bound.
pub const SLOW_AFTER: Duration = Duration::from_millis(250);
/// How often the scheduler looks for hosts that are due.
const TICK: Duration = Duration::from_millis(50);

/// How to talk to one environment's gateways.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentAccess {
    pub token: Option<secrecy::SecretString>,
    pub tls: bool,
    /// Hosts with a gateway token of their own (`[[environments.NAME.secrets]]`), in place of
    /// `token`.
    pub groups: Vec<crate::secret::HostGroup<secrecy::SecretString>>,
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundStats {
    pub polled: usize,
    pub ok: usize,
    pub failed: usize,
    /// Hosts skipped because they are backing off.
    pub deferred: usize,
    pub transitions: usize,
}

pub struct Poller {
    model: Arc<FleetModel>,
    client: GatewayClient,
    access: BTreeMap<String, EnvironmentAccess>,
    history: Option<History>,
    options: FleetOptions,
    /// Where the next round's census reads start (see `census_hosts`).
    census_cursor: AtomicU64,
    next_due: Mutex<HashMap<(String, String), Instant>>,
    rng: Mutex<u64>,
    observer: Option<PollObserver>,
}

/// Told of every host visit: its environment, how long it took, whether it succeeded (the
/// server's metrics listen here; `ops` knows no metrics library).
pub type PollObserver = Arc<dyn Fn(&str, Duration, bool) + Send + Sync>;

impl Poller {
    pub fn new(
        model: Arc<FleetModel>,
        client: GatewayClient,
        access: BTreeMap<String, EnvironmentAccess>,
        history: Option<History>,
        options: FleetOptions,
    ) -> Poller {
        let seed = crate::time::now_ms() as u64 | 1;
        Poller {
            model,
            client,
            access,
            history,
            options,
            census_cursor: AtomicU64::new(0),
            next_due: Mutex::new(HashMap::new()),
            rng: Mutex::new(seed),
            observer: None,
        }
    }

    /// Reports every host visit to `observer`.
    pub fn with_observer(mut self, observer: PollObserver) -> Poller {
        self.observer = Some(observer);
        self
    }

    fn target(&self, host: &Host) -> GatewayTarget {
        let (token, tls) = match self.access.get(&host.environment) {
            Some(access) => (
                crate::secret::for_host(access.token.as_ref(), &access.groups, &host.name).cloned(),
                access.tls,
            ),
            None => (None, false),
        };
        GatewayTarget::new(&host.address, host.gateway_port, tls, token)
    }

    /// Visits one host: `/services`, then the health endpoint of each service that is not `Ok`
    /// (for the hook's output), then `/census` when asked.
    ///
    /// The `/services` body is parsed only when it differs from the one the model's services of
    /// this host were read from (by digest): a steady Supervisor's answer is read once.
    pub async fn poll_host(&self, host: &Host, with_census: bool) -> HostPoll {
        let target = self.target(host);
        let visit = async {
            let answer = self.client.services_digest(&target).await?;
            let (services, unhealthy) =
                match self
                    .model
                    .services_seen(&host.environment, &host.name, answer.digest)
                {
                    Some(unhealthy) => (ServicesAnswer::Same(answer), unhealthy),
                    None => {
                        let services = parse_service_records(&answer.body)?;
                        let unhealthy = services
                            .iter()
                            .filter(|s| s.health != HealthStatus::Ok)
                            .map(|s| s.service_group().to_owned())
                            .collect::<Vec<_>>();
                        let digest = Some(answer.digest);
                        (ServicesAnswer::Parsed { services, digest }, unhealthy)
                    }
                };
            let mut health = BTreeMap::new();
            for service_group in unhealthy {
                let (svc, group) = habitat::split(&service_group);
                if let Ok(report) = self.client.health(&target, svc, group).await {
                    health.insert(service_group, report);
                }
            }
            let census = if with_census {
                // The model keeps a page's worth of members; the rest are only counted.
                self.client
                    .census_summary(&target, CENSUS_MEMBERS_KEPT)
                    .await
                    .ok()
            } else {
                None
            };
            Ok::<_, GatewayError>((services, health, census))
        };
        let started = Instant::now();
        let result = tokio::time::timeout(self.options.host_timeout, visit).await;
        if let Some(observe) = &self.observer {
            observe(
                &host.environment,
                started.elapsed(),
                matches!(result, Ok(Ok(_))),
            );
        }
        let at_ms = crate::time::now_ms();
        match result {
            Ok(Ok((services, health, census))) => HostPoll {
                result: Ok(services),
                health,
                census,
                at_ms,
            },
            Ok(Err(e)) => HostPoll {
                result: Err(e),
                health: BTreeMap::new(),
                census: None,
                at_ms,
            },
            Err(_) => HostPoll {
                result: Err(GatewayError::Timeout(
                    self.options.host_timeout.as_millis() as u64
                )),
                health: BTreeMap::new(),
                census: None,
                at_ms,
            },
        }
    }

    /// One round over every due host, all visits at once (start-up, tests, benchmarks). Returns
    /// what happened; transitions are recorded in the store.
    pub async fn poll_once(&self) -> RoundStats {
        self.poll_round().await
    }

    /// One round over every due host, visits at once within the concurrency bound, each result
    /// applied as it arrives (start-up, tests, benchmarks; the steady loop is [`Poller::run`]).
    async fn poll_round(&self) -> RoundStats {
        let now = Instant::now();
        let hosts = self.model.pollable_hosts();
        let census_hosts = self.census_hosts(&hosts);
        let mut stats = RoundStats::default();
        let due: Vec<Host> = {
            let next_due = self.next_due.lock().map(|g| g.clone()).unwrap_or_default();
            hosts
                .into_iter()
                .filter(|h| {
                    // A round visits every host except those backing off after failures.
                    let key = (h.environment.clone(), h.name.clone());
                    let is_due = next_due.get(&key).is_none_or(|t| *t <= now)
                        || self.model.failures(&h.environment, &h.name) <= 1;
                    if !is_due {
                        stats.deferred += 1;
                    }
                    is_due
                })
                .collect()
        };
        let census_hosts = &census_hosts;
        let mut results = stream::iter(due)
            .map(|h| async move {
                let census = census_hosts.contains(&(h.environment.clone(), h.name.clone()));
                let started = Instant::now();
                let poll = self.poll_host(&h, census).await;
                (h, poll, started)
            })
            .buffer_unordered(self.options.concurrency.max(1));
        while let Some((host, poll, started)) = results.next().await {
            stats.polled += 1;
            if poll.result.is_err() {
                stats.failed += 1;
            } else {
                stats.ok += 1;
            }
            stats.transitions += self.apply(&host, poll, started).await;
        }
        stats
    }

    /// Folds one visit's result into the model, records its transitions, and schedules the
    /// host's next visit: one interval after this one began (jittered), or, for a host that
    /// keeps failing, after its backoff. Returns the number of transitions.
    async fn apply(&self, host: &Host, poll: HostPoll, started: Instant) -> usize {
        let transitions = self.model.apply_poll(&host.environment, &host.name, poll);
        let failures = self.model.failures(&host.environment, &host.name);
        let key = (host.environment.clone(), host.name.clone());
        let next = if failures > 1 {
            let factor = 1u32 << (failures - 1).min(16);
            Instant::now() + (self.options.interval * factor).min(self.options.max_backoff)
        } else {
            started + self.jittered(self.options.interval)
        };
        if let Ok(mut next_due) = self.next_due.lock() {
            next_due.insert(key, next);
        }
        if let (Some(history), false) = (&self.history, transitions.is_empty()) {
            if let Err(e) = history.record(&transitions).await {
                // The live view is still right; only history misses these rows.
                tracing::warn!(error = %e, n = transitions.len(), "cannot record fleet transitions");
            }
        }
        transitions.len()
    }

    /// The hosts whose census this round reads: ⌈hosts / census_every⌉ of them (at most
    /// `census_max_per_round`), taking turns, so each host's census is read about every
    /// `census_every` rounds and the cost is spread over rounds instead of coming in bursts.
    pub(super) fn census_hosts(
        &self,
        hosts: &[Host],
    ) -> std::collections::HashSet<(String, String)> {
        let n = hosts.len();
        if self.options.census_every == 0 || n == 0 {
            return Default::default();
        }
        let per_round = n
            .div_ceil(self.options.census_every as usize)
            .clamp(1, self.options.census_max_per_round.max(1))
            .min(n);
        let start = self
            .census_cursor
            .fetch_add(per_round as u64, Ordering::Relaxed) as usize;
        (0..per_round)
            .map(|k| &hosts[(start + k) % n])
            .map(|h| (h.environment.clone(), h.name.clone()))
            .collect()
    }

    fn jittered(&self, base: Duration) -> Duration {
        let Ok(mut state) = self.rng.lock() else {
            return base;
        };
        // xorshift64: fine for spreading timers.
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        let unit = (x % 10_000) as f64 / 10_000.0; // [0, 1)
        let factor = 1.0 + self.options.jitter * (2.0 * unit - 1.0);
        base.mul_f64(factor.max(0.0))
    }

    /// Polls until `shutdown` turns true, each host on its own schedule.
    ///
    /// Every [`TICK`] the scheduler starts a visit to each host that is due and not already being
    /// visited. A visit takes one of `concurrency` slots, gives it back after [`SLOW_AFTER`] if
    /// the host has not answered yet, and ends at the host timeout at the latest; its result is
    /// applied as soon as it arrives. At most `16 × concurrency` visits are open at once (a
    /// bound on sockets, whatever the fleet does). A host's first visit comes at once (the
    /// first view appears within a moment of start-up); after it, each host's phase is moved by
    /// up to `spread` of the interval so that visits do not come in bursts.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let max_open = self.options.concurrency.max(1) * 16;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Host, HostPoll, Instant)>();
        let mut open: std::collections::HashSet<(String, String)> = Default::default();
        let mut census: std::collections::HashSet<(String, String)> = Default::default();
        let mut census_epoch = Instant::now() - self.options.interval;
        let mut first_seen: std::collections::HashSet<(String, String)> = Default::default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // (The guard `wait_for` returns must not live across the other arms' awaits.)
                _ = async { let _ = shutdown.wait_for(|s| *s).await; } => return,
                Some((host, poll, started)) = done_rx.recv() => {
                    let key = (host.environment.clone(), host.name.clone());
                    open.remove(&key);
                    self.apply(&host, poll, started).await;
                    // The first visit done: move this host's phase (see above).
                    if first_seen.insert(key.clone()) && self.options.spread > 0.0 {
                        let offset = self.jittered_fraction() * self.options.spread;
                        if let Ok(mut next_due) = self.next_due.lock() {
                            if let Some(t) = next_due.get_mut(&key) {
                                *t += self.options.interval.mul_f64(offset);
                            }
                        }
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let hosts = self.model.pollable_hosts();
                    if now.duration_since(census_epoch) >= self.options.interval {
                        census = self.census_hosts(&hosts);
                        census_epoch = now;
                    }
                    let next_due = self.next_due.lock().map(|g| g.clone()).unwrap_or_default();
                    for host in hosts {
                        if open.len() >= max_open {
                            break;
                        }
                        let key = (host.environment.clone(), host.name.clone());
                        if open.contains(&key) || next_due.get(&key).is_some_and(|t| *t > now) {
                            continue;
                        }
                        let with_census = census.remove(&key);
                        open.insert(key);
                        let this = self.clone();
                        let slots = slots.clone();
                        let done = done_tx.clone();
                        tokio::spawn(async move {
                            let started = Instant::now();
                            let permit = slots.acquire_owned().await;
                            let poll = {
                                let visit = this.poll_host(&host, with_census);
                                tokio::pin!(visit);
                                tokio::select! {
                                    poll = &mut visit => poll,
                                    _ = tokio::time::sleep(SLOW_AFTER) => {
                                        // Slow: let a quick host have the slot meanwhile.
                                        drop(permit);
                                        visit.await
                                    }
                                }
                            };
                            let _ = done.send((host, poll, started));
                        });
                    }
                }
            }
        }
    }

    /// A number in [0, 1) from the poller's generator.
    fn jittered_fraction(&self) -> f64 {
        let Ok(mut state) = self.rng.lock() else {
            return 0.5;
        };
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        (x % 10_000) as f64 / 10_000.0
    }
}

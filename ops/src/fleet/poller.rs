//! The poller: visits every running host's Supervisor gateway with bounded concurrency, a per-host
//! timeout, a jittered interval and exponential backoff for hosts that keep failing, and folds the
//! results into the [`FleetModel`]. Transitions go to the [`History`] so that it survives a restart.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use tokio::sync::watch;

use super::history::{History, Transition};
use super::{FleetModel, FleetOptions, HostPoll};
use crate::inventory::Host;
use crate::supervisor::gateway::{GatewayClient, GatewayError, GatewayTarget};
use crate::supervisor::habitat::HealthStatus;

/// How to talk to one environment's gateways.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentAccess {
    pub token: Option<secrecy::SecretString>,
    pub tls: bool,
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
        let access = self
            .access
            .get(&host.environment)
            .cloned()
            .unwrap_or_default();
        GatewayTarget::new(&host.address, host.gateway_port, access.tls, access.token)
    }

    /// Visits one host: `/services`, then the health endpoint of each service that is not `Ok`
    /// (for the hook's output), then `/census` when asked.
    pub async fn poll_host(&self, host: &Host, with_census: bool) -> HostPoll {
        let target = self.target(host);
        let visit = async {
            let services = self.client.services_memo(&target).await?;
            let mut health = BTreeMap::new();
            for s in services.iter().filter(|s| s.health != HealthStatus::Ok) {
                let (svc, group) = s.service_and_group();
                if let Ok(report) = self.client.health(&target, svc, group).await {
                    health.insert(s.service_group.clone(), report);
                }
            }
            let census = if with_census {
                self.client.census(&target).await.ok()
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
        self.poll_round(false).await
    }

    /// One round; `spread` starts the visits over `options.spread` of the interval (the steady
    /// loop), otherwise all at once.
    async fn poll_round(&self, spread: bool) -> RoundStats {
        let now = Instant::now();
        let hosts = self.model.pollable_hosts();
        let census_hosts = self.census_hosts(&hosts);
        let mut stats = RoundStats::default();
        let due: Vec<Host> = {
            let next_due = self.next_due.lock().map(|g| g.clone()).unwrap_or_default();
            hosts
                .into_iter()
                .filter(|h| {
                    let key = (h.environment.clone(), h.name.clone());
                    let is_due = next_due.get(&key).is_none_or(|t| *t <= now);
                    if !is_due {
                        stats.deferred += 1;
                    }
                    is_due
                })
                .collect()
        };
        let census_hosts = &census_hosts;
        let round_start = tokio::time::Instant::now();
        let fraction = if spread {
            self.options.spread.clamp(0.0, 0.9)
        } else {
            0.0
        };
        let slot = self
            .options
            .interval
            .mul_f64(fraction)
            .checked_div(due.len().max(1) as u32)
            .unwrap_or_default();
        let results: Vec<(Host, HostPoll)> = stream::iter(due.into_iter().enumerate())
            .map(|(i, h)| async move {
                if !slot.is_zero() {
                    tokio::time::sleep_until(round_start + slot * i as u32).await;
                }
                let census = census_hosts.contains(&(h.environment.clone(), h.name.clone()));
                let poll = self.poll_host(&h, census).await;
                (h, poll)
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        let mut transitions: Vec<Transition> = Vec::new();
        for (host, poll) in results {
            stats.polled += 1;
            let failed = poll.result.is_err();
            if failed {
                stats.failed += 1;
            } else {
                stats.ok += 1;
            }
            transitions.extend(self.model.apply_poll(&host.environment, &host.name, poll));
            let failures = self.model.failures(&host.environment, &host.name);
            let key = (host.environment.clone(), host.name.clone());
            if let Ok(mut next_due) = self.next_due.lock() {
                if failures > 1 {
                    let factor = 1u32 << (failures - 1).min(16);
                    let wait = (self.options.interval * factor).min(self.options.max_backoff);
                    next_due.insert(key, Instant::now() + wait);
                } else {
                    next_due.remove(&key);
                }
            }
        }
        stats.transitions = transitions.len();
        if let Some(history) = &self.history {
            if let Err(e) = history.record(&transitions).await {
                // The live view is still right; only history misses these rows.
                tracing::warn!(error = %e, n = transitions.len(), "cannot record fleet transitions");
            }
        }
        stats
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

    /// Polls until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let started = Instant::now();
            let stats = self.poll_round(true).await;
            tracing::debug!(?stats, elapsed = ?started.elapsed(), "poll round");
            let wait = self
                .jittered(self.options.interval)
                .saturating_sub(started.elapsed());
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

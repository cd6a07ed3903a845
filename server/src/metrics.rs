//! Prometheus metrics, through the Prometheus project's client library (`prometheus-client`):
//!
//! - HTTP: requests by method, route and status, and latency by method and route. Routes are the
//!   router's patterns (`/services/{slug}`), never raw paths, and methods other than the known
//!   ones count as `OTHER`, so no visitor can grow the number of series.
//! - The fleet as Onwatch sees it, so the team's Prometheus can alert on it: Supervisor visit
//!   latency by environment, hosts by reachability, services by state, the inventory's age, and
//!   each probe's last result. These are read from the fleet model at scrape time.
//! - The audit chain's last signed checkpoint (`onwatch_audit_checkpoint_seq`, its head hash and
//!   key as labels), so that the team's Prometheus keeps a record of the head outside the store.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the HTTP latency buckets, in seconds.
const HTTP_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Upper bounds of the Supervisor visit latency buckets, in seconds.
const POLL_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The HTTP methods that get their own label value.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(clippy::upper_case_acronyms)]
pub enum HttpMethod {
    GET,
    HEAD,
    POST,
    PUT,
    PATCH,
    DELETE,
    OPTIONS,
    OTHER,
}

impl From<&Method> for HttpMethod {
    fn from(m: &Method) -> HttpMethod {
        match *m {
            Method::GET => HttpMethod::GET,
            Method::HEAD => HttpMethod::HEAD,
            Method::POST => HttpMethod::POST,
            Method::PUT => HttpMethod::PUT,
            Method::PATCH => HttpMethod::PATCH,
            Method::DELETE => HttpMethod::DELETE,
            Method::OPTIONS => HttpMethod::OPTIONS,
            _ => HttpMethod::OTHER,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: HttpMethod,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: HttpMethod,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    environment: String,
    outcome: &'static str,
}

/// Every metric Onwatch exports. Cheap to clone.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PageCacheLabels {
    result: &'static str,
}

/// The dashboard's page cache (`crate::page_cache`): pages sent as kept (`hit`), drawn and kept
/// (`miss`), and requests it does not keep (`passed`).
#[derive(Clone, Debug)]
pub struct PageCacheCounts {
    pub hit: Counter,
    pub miss: Counter,
    pub passed: Counter,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pub page_cache: PageCacheCounts,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Builds the registry; the fleet collector joins once the fleet model exists.
pub struct MetricsBuilder {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    poll: Family<PollLabels, Histogram>,
    page_cache: PageCacheCounts,
}

impl Default for MetricsBuilder {
    fn default() -> Self {
        MetricsBuilder::new()
    }
}

impl MetricsBuilder {
    pub fn new() -> MetricsBuilder {
        let mut registry = Registry::with_prefix("onwatch");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(HTTP_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the response head, by method and route",
            latency.clone(),
        );
        let poll = Family::<PollLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(POLL_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "supervisor_poll_duration_seconds",
            "Time of one visit to a Supervisor's HTTP gateway, by environment and outcome (ok, failed)",
            poll.clone(),
        );
        let page_cache = Family::<PageCacheLabels, Counter>::default();
        registry.register(
            "page_cache",
            "Dashboard pages sent as kept (hit), drawn and kept (miss), or not kept (passed)",
            page_cache.clone(),
        );
        // One statement each: `get_or_create` holds the family's read lock until its guard is
        // dropped, and the next one's write would wait on it forever.
        let counter = |result| {
            page_cache
                .get_or_create(&PageCacheLabels { result })
                .clone()
        };
        let hit = counter("hit");
        let miss = counter("miss");
        let passed = counter("passed");
        let page_cache = PageCacheCounts { hit, miss, passed };
        MetricsBuilder {
            registry,
            requests,
            latency,
            poll,
            page_cache,
        }
    }

    /// What the poller calls after each host visit.
    pub fn poll_observer(&self) -> ops::fleet::poller::PollObserver {
        let poll = self.poll.clone();
        Arc::new(move |environment: &str, took: Duration, ok: bool| {
            poll.get_or_create(&PollLabels {
                environment: environment.to_owned(),
                outcome: if ok { "ok" } else { "failed" },
            })
            .observe(took.as_secs_f64());
        })
    }

    /// Adds the fleet gauges, read from `model` at every scrape.
    pub fn with_fleet(mut self, model: Arc<ops::fleet::FleetModel>) -> MetricsBuilder {
        self.registry
            .register_collector(Box::new(FleetCollector { model }));
        self
    }

    /// Adds the audit chain's last signed checkpoint, read at every scrape.
    pub fn with_audit_checkpoints(
        mut self,
        latest: tokio::sync::watch::Receiver<Option<ops::audit::checkpoint::Checkpoint>>,
    ) -> MetricsBuilder {
        self.registry
            .register_collector(Box::new(CheckpointCollector { latest }));
        self
    }

    pub fn build(self) -> Metrics {
        Metrics {
            registry: Arc::new(self.registry),
            requests: self.requests,
            latency: self.latency,
            page_cache: self.page_cache,
        }
    }
}

impl Metrics {
    pub fn observe(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let method = HttpMethod::from(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

/// The fleet gauges, computed from one snapshot of the model per scrape.
struct FleetCollector {
    model: Arc<ops::fleet::FleetModel>,
}

impl std::fmt::Debug for FleetCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FleetCollector")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    environment: String,
    reachability: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    environment: String,
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvLabels {
    environment: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeLabels {
    probe: String,
    environment: String,
}

type IntGauge = Gauge<i64, AtomicI64>;

fn encode_family<L, M>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    family: &Family<L, M>,
) -> Result<(), std::fmt::Error>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug,
    M: EncodeMetric + prometheus_client::metrics::TypedMetric + std::fmt::Debug,
{
    let metric = encoder.encode_descriptor(name, help, None, family.metric_type())?;
    family.encode(metric)
}

// Names are given without the `onwatch_` prefix: the registry adds it to collectors too.
impl Collector for FleetCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use ops::fleet::Reachability;
        let now = ops::time::now_ms();
        let snap = self.model.snapshot(now);
        let hosts = Family::<HostLabels, IntGauge>::default();
        let services = Family::<ServiceLabels, IntGauge>::default();
        let inventory_age =
            Family::<EnvLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let inventory_failing = Family::<EnvLabels, IntGauge>::default();
        let oldest_seen = Family::<EnvLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for env in &snap.environments {
            for reachability in ["reachable", "unreachable", "not_polled", "not_running"] {
                // Every series exists, at 0 when nothing is in it: an alert on "> 0" needs it.
                hosts
                    .get_or_create(&HostLabels {
                        environment: env.name.clone(),
                        reachability,
                    })
                    .set(0);
            }
            for state in vocab::CellState::ALL {
                services
                    .get_or_create(&ServiceLabels {
                        environment: env.name.clone(),
                        state: state.as_str(),
                    })
                    .set(0);
            }
            for host in &env.hosts {
                let reachability = match host.reachability {
                    Reachability::Reachable => "reachable",
                    Reachability::Unreachable => "unreachable",
                    Reachability::NotPolled => "not_polled",
                    Reachability::NotRunning => "not_running",
                };
                hosts
                    .get_or_create(&HostLabels {
                        environment: env.name.clone(),
                        reachability,
                    })
                    .inc();
                for service in &host.services {
                    services
                        .get_or_create(&ServiceLabels {
                            environment: env.name.clone(),
                            state: service.cell.as_str(),
                        })
                        .inc();
                }
            }
            let labels = EnvLabels {
                environment: env.name.clone(),
            };
            // Never refreshed: the age since Onwatch started is unknown; report -1 so that an
            // alert on "age > N" does not fire before the first refresh, and "== -1" can.
            let age = env
                .inventory
                .refreshed_ms
                .map(|t| (now - t).max(0) as f64 / 1000.0)
                .unwrap_or(-1.0);
            inventory_age.get_or_create(&labels).set(age);
            inventory_failing
                .get_or_create(&labels)
                .set(i64::from(env.inventory.error.is_some()));
            // Whether the poller keeps up: a healthy fleet stays near the poll interval, and a
            // value nearing `stale_after` means reachable hosts are about to show as stale.
            let oldest = env
                .hosts
                .iter()
                .filter(|h| h.reachability == Reachability::Reachable)
                .filter_map(|h| h.last_seen_ms)
                .map(|seen| (now - seen).max(0))
                .max()
                .unwrap_or(0);
            oldest_seen
                .get_or_create(&labels)
                .set(oldest as f64 / 1000.0);
        }
        let probe_up = Family::<ProbeLabels, IntGauge>::default();
        let probe_latency =
            Family::<ProbeLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for probe in &snap.probes {
            let Some(last) = probe.history.last() else {
                continue;
            };
            let labels = ProbeLabels {
                probe: probe.name.clone(),
                environment: probe.environment.clone(),
            };
            probe_up.get_or_create(&labels).set(i64::from(last.ok));
            probe_latency
                .get_or_create(&labels)
                .set(last.latency_ms as f64 / 1000.0);
        }
        encode_family(
            &mut encoder,
            "fleet_hosts",
            "Hosts in the inventory, by environment and reachability of their Supervisor",
            &hosts,
        )?;
        encode_family(
            &mut encoder,
            "fleet_services",
            "Services, by environment and state (ok, warning, critical, down, unknown, …)",
            &services,
        )?;
        encode_family(
            &mut encoder,
            "inventory_age_seconds",
            "Seconds since the environment's inventory was last refreshed (-1: never)",
            &inventory_age,
        )?;
        encode_family(
            &mut encoder,
            "inventory_failing",
            "1 when the environment's last inventory refresh failed (the last good view is kept, marked stale)",
            &inventory_failing,
        )?;
        encode_family(
            &mut encoder,
            "fleet_oldest_seen_seconds",
            "Age of the least recently seen reachable Supervisor in the environment (0: none reachable)",
            &oldest_seen,
        )?;
        encode_family(
            &mut encoder,
            "probe_up",
            "1 when the probe's last check succeeded, 0 when it failed",
            &probe_up,
        )?;
        encode_family(
            &mut encoder,
            "probe_duration_seconds",
            "Duration of the probe's last check",
            &probe_latency,
        )
    }
}

/// The last checkpoint as one series. Only the current one is exported (a `Family` would keep
/// every hash ever signed in memory); Prometheus keeps the history, which is the point: a head
/// recorded where the store's writer cannot reach.
#[derive(Debug)]
struct CheckpointCollector {
    latest: tokio::sync::watch::Receiver<Option<ops::audit::checkpoint::Checkpoint>>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckpointLabels {
    hash: String,
    public_key: String,
}

impl Collector for CheckpointCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let seq = Family::<CheckpointLabels, IntGauge>::default();
        if let Some(c) = self.latest.borrow().as_ref() {
            seq.get_or_create(&CheckpointLabels {
                hash: c.hash.clone(),
                public_key: c.public_key.clone(),
            })
            .set(c.seq);
        }
        encode_family(
            &mut encoder,
            "audit_checkpoint_seq",
            "The audit chain's last signed checkpoint: the row number of its head (labels: that row's hash, the signing key)",
            &seq,
        )
    }
}

/// Middleware that records every request.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            // Unmatched requests: static files under /pkg, or pages that do not exist.
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/{file}".to_owned()
            } else {
                "unmatched".to_owned()
            }
        });
    let response = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = MetricsBuilder::new().build();
        m.observe(&Method::GET, "/", 200, 0.0005);
        m.observe(&Method::GET, "/", 200, 0.02);
        m.observe(&Method::GET, "/", 500, 3.0);
        let text = m.render();
        assert!(
            text.contains(
                "onwatch_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text
            .contains("onwatch_http_requests_total{method=\"GET\",route=\"/\",status=\"500\"} 1"));
        assert!(text.contains(
            "onwatch_http_request_duration_seconds_bucket{le=\"0.001\",method=\"GET\",route=\"/\"} 1"
        ) || text.contains(
            "onwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.001\"} 1"
        ), "{text}");
        assert!(text
            .contains("onwatch_http_request_duration_seconds_count{method=\"GET\",route=\"/\"} 3"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = MetricsBuilder::new().build();
        for verb in ["BREW", "PROPFIND", "X-ANYTHING"] {
            let method = Method::from_bytes(verb.as_bytes()).unwrap();
            m.observe(&method, "unmatched", 405, 0.001);
        }
        let text = m.render();
        assert!(
            text.contains(
                "onwatch_http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"405\"} 3"
            ),
            "{text}"
        );
        assert!(!text.contains("BREW") && !text.contains("PROPFIND"));
    }
}

/// Who may read `/metrics` on the public address (`[metrics]`).
#[derive(Clone)]
pub enum ScrapeAccess {
    /// Served on its own address (`metrics.listen`): the public address answers 404.
    Elsewhere,
    /// A bearer token from a file, or a signed-in person with at least `role`.
    Guarded {
        token: Option<ops::secret::SecretSource>,
        role: vocab::Role,
    },
}

impl ScrapeAccess {
    pub fn from_config(c: &crate::config::MetricsConfig) -> ScrapeAccess {
        if c.listen.is_some() {
            return ScrapeAccess::Elsewhere;
        }
        ScrapeAccess::Guarded {
            token: c.token_file.clone().map(ops::secret::SecretSource::File),
            role: c.role,
        }
    }
}

//! The fleet as pages show it: view types shared by server and browser, and the server
//! functions that build them from the `ops` fleet model.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use vocab::{AlarmKind, CellState, HealthStatus, ProcessState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetView {
    pub version: u64,
    /// The moment the snapshot was taken; every age on the page is relative to it.
    pub now_ms: i64,
    /// `None` when no inventory source is configured.
    pub source: Option<String>,
    pub alarms: Vec<AlarmView>,
    pub environments: Vec<EnvView>,
    pub probes: Vec<ProbeView>,
    /// Instances tagged with an environment that is not configured (not shown, not polled).
    #[serde(default)]
    pub unconfigured: Vec<UnconfiguredView>,
}

/// Instances carrying an environment tag that is not configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnconfiguredView {
    pub tag: String,
    pub instances: usize,
    pub suggestion: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmView {
    pub kind: AlarmKind,
    pub environment: String,
    pub subject: String,
    pub message: String,
    pub since_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvView {
    pub name: String,
    pub production: bool,
    pub inventory_source: String,
    pub inventory_refreshed_ms: Option<i64>,
    pub inventory_error: Option<String>,
    /// (state, count), worst first.
    pub counts: Vec<(CellState, usize)>,
    /// Service names found in the environment, in runbook order.
    pub services: Vec<String>,
    pub hosts: Vec<HostView>,
    /// Newest successful poll of any host.
    pub last_poll_ms: Option<i64>,
    /// Set when healthy hosts were left out (large environments on the dashboard): the number
    /// of healthy instances left out, per service.
    pub healthy_omitted: Option<Vec<(String, usize)>>,
}

/// A host. Empty and absent fields are left out of the JSON: the dashboard's view leaves out
/// everything it does not draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostView {
    pub environment: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    pub gateway_port: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    pub cell: CellState,
    pub reachability: String,
    pub since_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sup_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    pub services: Vec<ServiceView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<CensusView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// `builder-api`
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ident: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_up: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    pub cell: CellState,
    pub since_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_entered_s: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_stdout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_stderr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusView {
    /// (gossip health, members)
    pub counts: Vec<(String, usize)>,
    /// Members not listed (large rings).
    pub omitted: usize,
    /// (service group, member hostname or id, health)
    pub members: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeView {
    pub name: String,
    pub environment: String,
    pub url: String,
    pub last_ok: Option<bool>,
    pub last_status: Option<u16>,
    pub last_latency_ms: Option<u64>,
    pub last_error: Option<String>,
    pub failing_since_ms: Option<i64>,
    /// (at_ms, ok, latency_ms), oldest first.
    pub history: Vec<(i64, bool, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionView {
    pub host: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub detail: String,
    pub at_ms: i64,
}

/// A service page's live part: every instance of the service, and its recent history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInstances {
    pub now_ms: i64,
    /// (environment, production, host, service view)
    pub instances: Vec<(String, bool, String, ServiceView)>,
    /// The newest changes of every instance, newest first, as many as the page draws.
    pub history: Vec<(String, TransitionView)>,
    /// When no Onwatch was watching, over the stretch `history` covers, newest first.
    pub gaps: Vec<GapView>,
}

/// A stretch of time when no Onwatch process was watching the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapView {
    pub from_ms: i64,
    pub to_ms: i64,
    /// The Onwatch before the gap shut down cleanly; otherwise `from_ms` is its last heartbeat.
    pub clean: bool,
}

pub use vocab::{service_rank, slug_of, SERVICE_ORDER};

/// How many changes a service page draws (its strip; the table shows the newest half).
pub const HISTORY_SHOWN: usize = 40;

/// The whole fleet, without the census of each host (the host page has it).
#[server(prefix = "/api/read", endpoint = "fleet")]
pub async fn load_fleet() -> Result<FleetView, ServerFnError> {
    crate::portal::require(ops::auth::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let mut view = ssr::view(&portal);
    for h in view
        .environments
        .iter_mut()
        .flat_map(|e| e.hosts.iter_mut())
    {
        h.census = None;
    }
    Ok(view)
}

/// One host, in full.
#[server(prefix = "/api/read", endpoint = "host")]
pub async fn load_host(
    environment: String,
    host: String,
) -> Result<Option<(bool, HostView, i64)>, ServerFnError> {
    crate::portal::require(ops::auth::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let now = ops::time::now_ms();
    let snap = portal.fleet.snapshot(now);
    let found = snap.environment(&environment).and_then(|e| {
        e.hosts
            .iter()
            .find(|h| h.host.name == host)
            .map(|h| (e.production, ssr::host_view(h), now))
    });
    Ok(found)
}

#[server(prefix = "/api/read", endpoint = "service-instances")]
pub async fn load_service_instances(slug: String) -> Result<ServiceInstances, ServerFnError> {
    let who = crate::portal::require(ops::auth::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    // The onboarding checklist's "knows the services" counts the service pages opened.
    if ops::catalog::SERVICES.iter().any(|s| s.slug == slug) {
        if let Err(e) = portal
            .onboarding
            .viewed(&who.login, &format!("service:{slug}"), ops::time::now_ms())
            .await
        {
            tracing::warn!(error = %e, "a page view could not be recorded");
        }
    }
    ssr::service_instances(&portal, &slug)
        .await
        .map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use ops::fleet::{
        EnvironmentSnapshot, FleetSnapshot, HostSnapshot, Reachability, ServiceSnapshot,
    };

    use crate::portal::Portal;

    pub fn view(portal: &Portal) -> FleetView {
        let now = ops::time::now_ms();
        let snap = portal.fleet.snapshot(now);
        from_snapshot(&snap, portal.fleet_source.clone(), now)
    }

    pub fn from_snapshot(snap: &FleetSnapshot, source: Option<String>, now: i64) -> FleetView {
        FleetView {
            version: snap.version,
            now_ms: now,
            source,
            alarms: snap
                .alarms
                .iter()
                .map(|a| AlarmView {
                    kind: a.kind,
                    environment: a.environment.clone(),
                    subject: a.subject.clone(),
                    message: a.message.clone(),
                    since_ms: a.since_ms,
                })
                .collect(),
            environments: snap
                .environments
                .iter()
                .map(|e| env_view(e, e.hosts.iter().map(host_view).collect(), None))
                .collect(),
            unconfigured: snap
                .unconfigured
                .iter()
                .map(|u| UnconfiguredView {
                    tag: u.tag.clone(),
                    instances: u.instances,
                    suggestion: u.suggestion.clone(),
                })
                .collect(),
            probes: snap
                .probes
                .iter()
                .map(|p| {
                    let last = p.history.last();
                    ProbeView {
                        name: p.name.clone(),
                        environment: p.environment.clone(),
                        url: p.url.clone(),
                        last_ok: p.last_ok(),
                        last_status: last.and_then(|r| r.status),
                        last_latency_ms: last.map(|r| r.latency_ms),
                        last_error: p.last_error().map(str::to_owned),
                        failing_since_ms: p.failing_since_ms(),
                        history: p
                            .history
                            .iter()
                            .map(|r| (r.at_ms, r.ok, r.latency_ms))
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    /// The dashboard's slim view, built straight from the snapshot: what each environment draws
    /// is the fleet's policy ([`ops::fleet::dashboard::cut`]); this only converts it.
    pub fn dashboard(
        snap: &FleetSnapshot,
        source: Option<String>,
        now: i64,
        collapse_above: usize,
    ) -> FleetView {
        let slim = FleetSnapshot {
            version: snap.version,
            generated_ms: snap.generated_ms,
            alarms: snap.alarms.clone(),
            probes: snap.probes.clone(),
            environments: Vec::new(),
            unconfigured: snap.unconfigured.clone(),
        };
        let mut view = from_snapshot(&slim, source, now);
        for e in &snap.environments {
            let cut = ops::fleet::dashboard::cut(e, collapse_above);
            let hosts = cut
                .hosts
                .into_iter()
                .map(|(h, services)| {
                    let mut hv =
                        host_view_with(h, services.into_iter().map(service_view).collect());
                    slim_for_dashboard(&mut hv);
                    hv
                })
                .collect();
            view.environments
                .push(env_view(e, hosts, cut.healthy_omitted));
        }
        view
    }

    /// Leaves out of a host's view what the dashboard does not draw: it reaches every browser on
    /// each live update, so it carries names, states and ages only.
    fn slim_for_dashboard(hv: &mut HostView) {
        hv.census = None;
        hv.labels.clear();
        hv.instance_id = None;
        hv.instance_state = None;
        hv.launch_time = None;
        hv.private_ip = None;
        hv.public_ip = None;
        hv.sup_version = None;
        hv.member_id = None;
        for s in &mut hv.services {
            s.group.clear();
            s.ident.clear();
            s.release.clear();
            s.process = None;
            s.health = None;
            s.desired_up = None;
            s.pid = None;
            s.state_entered_s = None;
            s.update_strategy = None;
            s.channel = None;
            s.health_stdout = None;
            s.health_stderr = None;
        }
    }

    /// An environment's view with the given (possibly filtered) hosts.
    fn env_view(
        e: &EnvironmentSnapshot,
        hosts: Vec<HostView>,
        healthy_omitted: Option<Vec<(String, usize)>>,
    ) -> EnvView {
        EnvView {
            name: e.name.clone(),
            production: e.production,
            inventory_source: e.inventory.source.clone(),
            inventory_refreshed_ms: e.inventory.refreshed_ms,
            inventory_error: e.inventory.error.clone(),
            counts: CellState::ALL
                .iter()
                .filter_map(|c| e.counts.get(c).map(|n| (*c, *n)))
                .collect(),
            services: ops::fleet::dashboard::services_of(e),
            hosts,
            last_poll_ms: e.hosts.iter().filter_map(|h| h.last_seen_ms).max(),
            healthy_omitted,
        }
    }

    pub fn host_view(h: &HostSnapshot) -> HostView {
        let mut services: Vec<ServiceView> = h.services.iter().map(service_view).collect();
        services.sort_by_cached_key(|s| service_rank(&s.service));
        host_view_with(h, services)
    }

    /// A host's view with the given services.
    fn host_view_with(h: &HostSnapshot, services: Vec<ServiceView>) -> HostView {
        HostView {
            environment: h.host.environment.clone(),
            name: h.host.name.clone(),
            address: h.host.address.clone(),
            instance_id: h.host.instance_id.clone(),
            instance_state: h.host.state.clone(),
            launch_time: h.host.launch_time.clone(),
            private_ip: h.host.private_ip.clone(),
            public_ip: h.host.public_ip.clone(),
            gateway_port: h.host.gateway_port,
            labels: h
                .host
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            cell: h.cell,
            reachability: match h.reachability {
                Reachability::NotPolled => "not polled yet",
                Reachability::Reachable => "reachable",
                Reachability::Unreachable => "unreachable",
                Reachability::NotRunning => "instance not running",
            }
            .to_owned(),
            since_ms: h.since_ms,
            last_seen_ms: h.last_seen_ms,
            last_error: h.last_error.clone(),
            sup_version: h.sup_version.clone(),
            member_id: h.member_id.clone(),
            services,
            census: h.census.as_ref().map(|c| CensusView {
                counts: c.counts.clone().into_iter().collect(),
                omitted: c.omitted,
                members: c
                    .groups
                    .iter()
                    .flat_map(|(g, ms)| {
                        ms.iter().map(move |m| {
                            (
                                g.clone(),
                                m.hostname.clone().unwrap_or_else(|| m.member_id.clone()),
                                m.health.clone(),
                            )
                        })
                    })
                    .collect(),
            }),
        }
    }

    fn service_view(s: &ServiceSnapshot) -> ServiceView {
        ServiceView {
            service: s.service.clone(),
            group: s.group.clone(),
            ident: s.ident.to_string(),
            release: s
                .ident
                .release_label()
                .unwrap_or_else(|| "unknown".to_owned()),
            process: Some(s.process),
            desired_up: s.desired_up,
            health: Some(s.health),
            cell: s.cell,
            since_ms: s.since_ms,
            pid: s.pid,
            state_entered_s: s.state_entered,
            update_strategy: s.update_strategy.clone(),
            channel: s.channel.clone(),
            health_stdout: s.health_report.as_ref().map(|r| r.stdout.clone()),
            health_stderr: s.health_report.as_ref().map(|r| r.stderr.clone()),
        }
    }

    pub async fn service_instances(
        portal: &Portal,
        slug: &str,
    ) -> Result<ServiceInstances, String> {
        let info = ops::catalog::service(slug).ok_or_else(|| format!("no service `{slug}`"))?;
        let now = ops::time::now_ms();
        let snap = portal.fleet.snapshot(now);
        let mut instances = Vec::new();
        for e in &snap.environments {
            for h in &e.hosts {
                for s in h.services.iter().filter(|s| s.service == info.package) {
                    instances.push((
                        e.name.clone(),
                        e.production,
                        h.host.name.clone(),
                        service_view(s),
                    ));
                }
            }
        }
        let mut history = Vec::new();
        for (env, _, host, s) in &instances {
            let group = format!("{}.{}", s.service, s.group);
            let rows = portal
                .history
                .of(env, &ops::fleet::Subject::service(host, &group), 50)
                .await
                .map_err(|e| e.to_string())?;
            history.extend(rows.into_iter().map(|t| {
                (
                    env.clone(),
                    TransitionView {
                        host: t.subject.host().unwrap_or_default().to_owned(),
                        from_state: t.from_state,
                        to_state: t.to_state,
                        detail: t.detail,
                        at_ms: t.at_ms,
                    },
                )
            }));
        }
        history.sort_by_key(|h| std::cmp::Reverse(h.1.at_ms));
        history.truncate(HISTORY_SHOWN);
        // The gaps over the stretch the shown changes cover (the last day when there are none).
        let from = history
            .last()
            .map(|h| h.1.at_ms)
            .unwrap_or(now - 86_400_000);
        let mut gaps: Vec<GapView> = ops::fleet::WatchLog::new(portal.store.clone())
            .gaps(from, now)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|g| GapView {
                from_ms: g.from_ms,
                to_ms: g.to_ms,
                clean: g.clean,
            })
            .collect();
        gaps.reverse();
        Ok(ServiceInstances {
            now_ms: now,
            instances,
            history,
            gaps,
        })
    }
}

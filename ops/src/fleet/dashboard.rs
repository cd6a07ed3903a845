//! What the dashboard draws of an environment: the fleet policy that keeps a 1,000-host
//! environment's grid readable above the fold. Small environments are drawn whole; in a large
//! one, healthy hosts and healthy services are counted instead of drawn, and a host whose
//! Supervisor does not answer is one chip, not one per service. The environment page draws
//! everything.

use super::{EnvironmentSnapshot, HostSnapshot, Reachability, ServiceSnapshot};

/// Above this many hosts an environment is large (the dashboard's default).
pub const COLLAPSE_ABOVE: usize = 40;

/// What the dashboard draws of one environment.
#[derive(Debug)]
pub struct DashboardCut<'a> {
    /// The hosts drawn, each with the services drawn on it (runbook order).
    pub hosts: Vec<(&'a HostSnapshot, Vec<&'a ServiceSnapshot>)>,
    /// For a large environment: the healthy instances left out, per service (every service of
    /// the environment, in runbook order, zero included). `None` when everything is drawn.
    pub healthy_omitted: Option<Vec<(String, usize)>>,
}

/// The service names of an environment, in runbook order. Unique names first, then the sort:
/// a 1,000-host environment has 8,000 service entries but a handful of names.
pub fn services_of(e: &EnvironmentSnapshot) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for s in e.hosts.iter().flat_map(|h| h.services.iter()) {
        if !names.contains(&s.service.as_str()) {
            names.push(&s.service);
        }
    }
    let mut services: Vec<String> = names.into_iter().map(str::to_owned).collect();
    services.sort_by_cached_key(|s| vocab::service_rank(s));
    services
}

/// Cuts an environment for the dashboard: whole when it has at most `collapse_above` hosts.
pub fn cut(e: &EnvironmentSnapshot, collapse_above: usize) -> DashboardCut<'_> {
    let large = e.hosts.len() > collapse_above;
    let mut omitted: Vec<(String, usize)> = services_of(e).into_iter().map(|s| (s, 0)).collect();
    let mut count = |service: &str| {
        if let Some(o) = omitted.iter_mut().find(|(n, _)| n == service) {
            o.1 += 1;
        }
    };
    let mut hosts = Vec::new();
    for h in &e.hosts {
        if large && h.cell.is_healthy() {
            h.services.iter().for_each(|s| count(&s.service));
            continue;
        }
        let mut services: Vec<&ServiceSnapshot> = h.services.iter().collect();
        services.sort_by_cached_key(|s| vocab::service_rank(&s.service));
        if large {
            // A Supervisor that does not answer is one problem: one chip in the whole-host row.
            if h.reachability != Reachability::Reachable
                && services.iter().all(|s| s.cell == h.cell)
            {
                services.clear();
            }
            // The healthy services of a host with a problem are counted, not drawn (unless all
            // of them are healthy: then the host's own state is the problem and they stay).
            if services.iter().any(|s| !s.cell.is_healthy()) {
                services.retain(|s| {
                    let healthy = s.cell.is_healthy();
                    if healthy {
                        count(&s.service);
                    }
                    !healthy
                });
            }
        }
        hosts.push((h, services));
    }
    DashboardCut {
        hosts,
        healthy_omitted: large.then_some(omitted),
    }
}

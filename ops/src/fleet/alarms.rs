//! Alarms: what the dashboard shows at the top, derived from a snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CellState, EnvironmentSnapshot, Reachability};
use crate::probe::ProbeStatus;

pub use vocab::AlarmKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    pub kind: AlarmKind,
    pub environment: String,
    /// The host, probe or `""` for the whole environment.
    pub subject: String,
    pub message: String,
    pub since_ms: Option<i64>,
}

/// A Supervisor version that is not a released build: releases read `X.Y.Z/YYYYMMDDhhmmss`; a
/// locally built Supervisor has no release timestamp, or says `dev`.
pub fn is_development_build(version: &str) -> bool {
    let lower = version.to_ascii_lowercase();
    if lower.contains("dev") {
        return true;
    }
    match version.split_once('/') {
        Some((_, release)) => !(release.len() == 14 && release.bytes().all(|b| b.is_ascii_digit())),
        None => true,
    }
}

/// The alarm that says the model was recovered after a panic (see `State::recover`).
pub(super) fn model_recovered(at_ms: i64) -> Alarm {
    Alarm {
        kind: AlarmKind::ModelRecovered,
        environment: String::new(),
        subject: "Onwatch".to_owned(),
        message: "the fleet model was recovered after an internal error (a panic while it was \
                  being updated; the server log has it): every host reads unknown until it is \
                  polled again"
            .to_owned(),
        since_ms: Some(at_ms),
    }
}

pub(super) fn compute(
    envs: &[EnvironmentSnapshot],
    probes: &[ProbeStatus],
    now_ms: i64,
) -> Vec<Alarm> {
    let mut alarms = Vec::new();
    for env in envs {
        if let Some(err) = &env.inventory.error {
            let age = env
                .inventory
                .refreshed_ms
                .map(|r| format!("last good read {} ago", crate::time::human_age(now_ms - r)))
                .unwrap_or_else(|| "never read successfully".to_owned());
            alarms.push(Alarm {
                kind: AlarmKind::StaleInventory,
                environment: env.name.clone(),
                subject: String::new(),
                message: format!("inventory is stale ({age}): {err}"),
                since_ms: env.inventory.error_since_ms,
            });
        }
        if !env.inventory.refused.is_empty() {
            let n = env.inventory.refused.len();
            alarms.push(Alarm {
                kind: AlarmKind::RefusedInstances,
                environment: env.name.clone(),
                subject: String::new(),
                message: format!(
                    "{n} refused as hosts of {} (never polled, sent no secret): {}",
                    env.name,
                    env.inventory.refused.join("; ")
                ),
                // Read again at every refresh: no first-seen time is kept.
                since_ms: None,
            });
        }
        for h in &env.hosts {
            // In production, a service that is critical or down is an alarm of its own, not
            // only a chip in the grid.
            if env.production && h.reachability == Reachability::Reachable {
                for s in h
                    .services
                    .iter()
                    .filter(|s| matches!(s.cell, CellState::Critical | CellState::Down))
                {
                    alarms.push(Alarm {
                        kind: AlarmKind::FailingService,
                        environment: env.name.clone(),
                        subject: format!("{} on {}", s.service_group, h.host.name),
                        // The subject names the service: the message says its state, and the
                        // health check's own first words when it gave some.
                        message: match health_reason(s) {
                            Some(why) => format!("{}: {why}", s.cell),
                            None => s.cell.to_string(),
                        },
                        since_ms: Some(s.since_ms),
                    });
                }
            }
            if h.reachability == Reachability::Unreachable {
                alarms.push(Alarm {
                    kind: AlarmKind::UnreachableHost,
                    environment: env.name.clone(),
                    subject: h.host.name.clone(),
                    message: format!(
                        "Supervisor unreachable: {}",
                        h.last_error.as_deref().unwrap_or("no answer")
                    ),
                    since_ms: Some(h.since_ms),
                });
            }
        }
        // Version drift: the hosts of one environment should run one Supervisor version.
        let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        // Since when each version has been seen: a drift began when the last host changed.
        let mut since: BTreeMap<&str, i64> = BTreeMap::new();
        for h in &env.hosts {
            if let Some(v) = &h.sup_version {
                versions
                    .entry(v.as_str())
                    .or_default()
                    .push(h.host.name.as_str());
                if let Some(t) = h.sup_version_since_ms {
                    let e = since.entry(v.as_str()).or_insert(t);
                    *e = (*e).min(t);
                }
            }
        }
        if versions.len() > 1 {
            let detail: Vec<String> = versions
                .iter()
                .map(|(v, hosts)| format!("{v} on {}", hosts.join(", ")))
                .collect();
            alarms.push(Alarm {
                kind: AlarmKind::VersionDrift,
                environment: env.name.clone(),
                subject: String::new(),
                message: format!(
                    "hosts run different Supervisor versions: {}",
                    detail.join("; ")
                ),
                since_ms: since.values().copied().max(),
            });
        }
        if env.production {
            for (v, hosts) in &versions {
                if is_development_build(v) {
                    alarms.push(Alarm {
                        kind: AlarmKind::DevelopmentSupervisor,
                        environment: env.name.clone(),
                        subject: hosts.join(", "),
                        message: format!(
                            "development Supervisor build {v} in production on {}; do a Supervisor release instead",
                            hosts.join(", ")
                        ),
                        since_ms: since.get(v).copied(),
                    });
                }
            }
        }
    }
    for p in probes {
        if p.last_ok() == Some(false) {
            alarms.push(Alarm {
                kind: AlarmKind::FailingProbe,
                environment: p.environment.clone(),
                subject: p.name.clone(),
                message: format!(
                    "{} {}: {}",
                    p.method,
                    p.url,
                    p.last_error().unwrap_or("failed")
                ),
                since_ms: p.failing_since_ms(),
            });
        }
    }
    // In the order a person on call reads them: production environments first, then by
    // severity (the kind's order), then the oldest first.
    let production = |env: &str| envs.iter().any(|e| e.name == env && e.production);
    alarms.sort_by(|a, b| {
        production(&b.environment)
            .cmp(&production(&a.environment))
            .then(a.kind.cmp(&b.kind))
            .then(a.environment.cmp(&b.environment))
            .then(
                a.since_ms
                    .unwrap_or(i64::MAX)
                    .cmp(&b.since_ms.unwrap_or(i64::MAX)),
            )
    });
    alarms
}

/// The first line the health check wrote (its output, else its errors), as plain text: a
/// service's own words, so control characters go and it is cut short.
fn health_reason(s: &super::ServiceSnapshot) -> Option<String> {
    let r = s.health_report.as_ref()?;
    let line = [&r.stdout, &r.stderr]
        .into_iter()
        .flat_map(|t| t.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())?;
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    (!clean.is_empty()).then(|| crate::text::cut(&clean, 160))
}

//! What a Supervisor's HTTP gateway sends, and how it parses: the JSON of `/services`, of a
//! service's health and of `/census`, reduced to what Onwatch uses. No I/O here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::GatewayError;
use crate::supervisor::habitat::{self, HealthStatus, PackageIdent, ProcessState};

/// One element of `GET /services`, reduced to what the portal uses. Unknown fields are ignored,
/// so Supervisors from 0.5x to 2.x parse alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    /// `builder-api.live`
    pub service_group: String,
    pub ident: PackageIdent,
    pub process_state: ProcessState,
    pub pid: Option<u32>,
    /// Epoch seconds when the current process state was entered.
    pub state_entered: Option<i64>,
    /// `None` before 0.61.
    pub desired_up: Option<bool>,
    pub health: HealthStatus,
    pub update_strategy: Option<String>,
    pub channel: Option<String>,
    pub topology: Option<String>,
    /// The Supervisor's own version, `"0.61.0/20180815173401"`.
    pub sup_version: Option<String>,
    pub member_id: Option<String>,
    pub hostname: Option<String>,
    pub ip: Option<String>,
}

impl ServiceStatus {
    /// `(service, group)` from the service group, without an `@org` suffix.
    pub fn service_and_group(&self) -> (&str, &str) {
        habitat::split(&self.service_group)
    }
}

#[derive(Deserialize)]
struct RawService {
    service_group: String,
    pkg: RawPkg,
    process: RawProcess,
    #[serde(default)]
    desired_state: Option<String>,
    #[serde(default)]
    health_check: Option<String>,
    #[serde(default)]
    update_strategy: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    topology: Option<String>,
    #[serde(default)]
    sys: Option<RawSys>,
}

#[derive(Deserialize)]
struct RawPkg {
    #[serde(default)]
    ident: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    release: Option<String>,
}

#[derive(Deserialize)]
struct RawProcess {
    #[serde(default)]
    pid: Option<u32>,
    state: String,
    #[serde(default)]
    state_entered: Option<i64>,
}

#[derive(Deserialize)]
struct RawSys {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    member_id: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    ip: Option<String>,
}

/// Parses a `/services` body.
pub fn parse_services(body: &[u8]) -> Result<Vec<ServiceStatus>, GatewayError> {
    let raw: Vec<RawService> = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Garbage(format!("/services is not a service list: {e}")))?;
    raw.into_iter().map(convert).collect()
}

fn convert(r: RawService) -> Result<ServiceStatus, GatewayError> {
    let process_state = ProcessState::parse(&r.process.state).ok_or_else(|| {
        GatewayError::Garbage(format!(
            "{}: unknown process state `{}`",
            r.service_group,
            r.process.state.to_ascii_lowercase()
        ))
    })?;
    let ident = match (&r.pkg.origin, &r.pkg.name) {
        (Some(origin), Some(name)) => PackageIdent {
            origin: origin.clone(),
            name: name.clone(),
            version: r.pkg.version.clone(),
            release: r.pkg.release.clone(),
        },
        _ => r
            .pkg
            .ident
            .as_deref()
            .and_then(PackageIdent::parse)
            .ok_or_else(|| {
                GatewayError::Garbage(format!("{}: package has no ident", r.service_group))
            })?,
    };
    let sys = r.sys.unwrap_or(RawSys {
        version: None,
        member_id: None,
        hostname: None,
        ip: None,
    });
    Ok(ServiceStatus {
        service_group: r.service_group,
        ident,
        process_state,
        pid: r.process.pid,
        state_entered: r.process.state_entered,
        desired_up: r
            .desired_state
            .map(|d| d.eq_ignore_ascii_case("up") || d.eq_ignore_ascii_case("desiredup")),
        health: r
            .health_check
            .as_deref()
            .map(HealthStatus::parse)
            .unwrap_or(HealthStatus::Unknown),
        update_strategy: r.update_strategy,
        channel: r.channel,
        topology: r.topology,
        sup_version: sys.version,
        member_id: sys.member_id,
        hostname: sys.hostname,
        ip: sys.ip,
    })
}

/// The body of `/services/{svc}/{group}/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Deserialize)]
struct RawHealth {
    status: String,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
}

pub fn parse_health(body: &[u8]) -> Result<HealthReport, GatewayError> {
    let raw: RawHealth = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Garbage(format!("health body: {e}")))?;
    Ok(HealthReport {
        status: HealthStatus::parse(&raw.status),
        stdout: raw.stdout,
        stderr: raw.stderr,
    })
}

/// What the census says about the ring, summarised for a host page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CensusSummary {
    pub local_member_id: Option<String>,
    /// service group → members (id, package, ip, alive/suspect/confirmed/departed); at most
    /// [`CensusSummary::truncate`]'s limit of them in all.
    pub groups: BTreeMap<String, Vec<CensusMember>>,
    /// Distinct members by gossip health, over the whole census (before any truncation).
    pub counts: BTreeMap<String, usize>,
    /// Members left out by truncation.
    pub omitted: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CensusMember {
    pub member_id: String,
    pub package: Option<String>,
    pub ip: Option<String>,
    pub hostname: Option<String>,
    /// `alive`, `suspect`, `confirmed` or `departed`.
    pub health: String,
    pub leader: bool,
}

impl CensusSummary {
    /// Keeps at most `max` members (the ring of a large fleet lists every host in every group);
    /// the counts still describe the whole census.
    pub fn truncate(&mut self, max: usize) {
        let mut kept = 0;
        for members in self.groups.values_mut() {
            let room = max.saturating_sub(kept);
            if members.len() > room {
                self.omitted += members.len() - room;
                members.truncate(room);
            }
            kept += members.len();
        }
        self.groups.retain(|_, m| !m.is_empty());
    }

    /// Members by gossip health across all groups (a member counted once).
    pub fn health_counts(&self) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for m in self.groups.values().flatten() {
            seen.insert(m.member_id.clone(), m.health.clone());
        }
        let mut counts = BTreeMap::new();
        for h in seen.values() {
            *counts.entry(h.clone()).or_insert(0) += 1;
        }
        counts
    }
}

#[derive(Deserialize)]
struct RawCensus {
    local_member_id: Option<String>,
    census_groups: BTreeMap<String, RawCensusGroup>,
}

#[derive(Deserialize)]
struct RawCensusGroup {
    #[serde(default)]
    population: Option<BTreeMap<String, RawCensusMember>>,
}

#[derive(Deserialize)]
struct RawCensusMember {
    package: Option<String>,
    sys: Option<RawMemberSys>,
    alive: Option<bool>,
    suspect: Option<bool>,
    confirmed: Option<bool>,
    departed: Option<bool>,
    leader: Option<bool>,
}

#[derive(Deserialize)]
struct RawMemberSys {
    ip: Option<String>,
    hostname: Option<String>,
}

/// Parses `/census` straight into the summary (typed: a large ring's census is megabytes, and
/// everything Onwatch does not show is skipped without being built).
pub fn parse_census(body: &[u8]) -> Result<CensusSummary, GatewayError> {
    let raw: RawCensus = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Garbage(format!("census body: {e}")))?;
    let mut groups = BTreeMap::new();
    for (name, group) in raw.census_groups {
        let mut members = Vec::new();
        for (id, m) in group.population.unwrap_or_default() {
            let flag = |f: Option<bool>| f.unwrap_or(false);
            let health = if flag(m.departed) {
                "departed"
            } else if flag(m.confirmed) {
                "confirmed"
            } else if flag(m.suspect) {
                "suspect"
            } else if flag(m.alive) {
                "alive"
            } else {
                "unknown"
            };
            let (ip, hostname) = match m.sys {
                Some(sys) => (sys.ip, sys.hostname),
                None => (None, None),
            };
            members.push(CensusMember {
                member_id: id,
                package: m.package,
                ip,
                hostname,
                health: health.to_owned(),
                leader: flag(m.leader),
            });
        }
        groups.insert(name, members);
    }
    let mut summary = CensusSummary {
        local_member_id: raw.local_member_id,
        groups,
        counts: BTreeMap::new(),
        omitted: 0,
    };
    summary.counts = summary.health_counts();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES_2_1_78: &[u8] =
        include_bytes!("../../../tests/fixtures/supervisor-2.1.78/services.json");
    const CENSUS_2_1_78: &[u8] =
        include_bytes!("../../../tests/fixtures/supervisor-2.1.78/census.json");

    #[test]
    fn parses_a_real_2_1_78_services_payload() {
        let s = parse_services(SERVICES_2_1_78).unwrap();
        assert_eq!(s.len(), 1);
        let svc = &s[0];
        assert_eq!(svc.service_group, "httpd.default");
        assert_eq!(svc.service_and_group(), ("httpd", "default"));
        assert_eq!(svc.ident.to_string(), "probe/httpd/0.1.0/20260101000000");
        assert_eq!(svc.process_state, ProcessState::Up);
        assert_eq!(svc.pid, Some(22437));
        assert_eq!(svc.desired_up, Some(true));
        assert_eq!(svc.health, HealthStatus::Ok);
        assert_eq!(svc.sup_version.as_deref(), Some("2.1.78"));
        assert_eq!(svc.update_strategy.as_deref(), Some("none"));
        assert_eq!(svc.channel.as_deref(), Some("base"));
    }

    #[test]
    fn parses_2018_style_payloads() {
        // 0.56-era: "Up" capitalised, no desired_state, no health_check, ident only as a string.
        let body = br#"[{"service_group":"builder-api.live","pkg":{"ident":"habitat/builder-api/7602/20180906202535"},
            "process":{"pid":221,"state":"Up","state_entered":1536689926},
            "sys":{"version":"0.56.0/20180530235935"}}]"#;
        let s = parse_services(body).unwrap();
        assert_eq!(s[0].process_state, ProcessState::Up);
        assert_eq!(s[0].desired_up, None);
        assert_eq!(s[0].health, HealthStatus::Unknown);
        assert_eq!(s[0].ident.release.as_deref(), Some("20180906202535"));
        assert_eq!(s[0].sup_version.as_deref(), Some("0.56.0/20180530235935"));
        let down = br#"[{"service_group":"x.y","pkg":{"origin":"o","name":"x"},"process":{"pid":null,"state":"Down"},"desired_state":"Down"}]"#;
        let s = parse_services(down).unwrap();
        assert_eq!(s[0].process_state, ProcessState::Down);
        assert_eq!(s[0].desired_up, Some(false));
        assert_eq!(parse_services(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            &b"<html>502 Bad Gateway</html>"[..],
            b"{\"services\": []}",
            b"[{\"service_group\": 5}]",
            b"[{\"service_group\":\"a.b\",\"pkg\":{},\"process\":{\"state\":\"up\"}}]",
            b"[{\"service_group\":\"a.b\",\"pkg\":{\"origin\":\"o\",\"name\":\"n\"},\"process\":{\"state\":\"sideways\"}}]",
            b"",
            &[0xff, 0xfe, 0x00][..],
        ] {
            assert!(matches!(parse_services(body), Err(GatewayError::Garbage(_))), "{body:?}");
        }
    }

    #[test]
    fn health_bodies_in_both_casings() {
        let r = parse_health(br#"{"status":"CRITICAL","stdout":"db down\n","stderr":""}"#).unwrap();
        assert_eq!(r.status, HealthStatus::Critical);
        assert_eq!(r.stdout, "db down\n");
        assert_eq!(HealthStatus::parse("Ok"), HealthStatus::Ok);
        assert_eq!(HealthStatus::parse("WARNING"), HealthStatus::Warning);
        assert_eq!(HealthStatus::parse("bogus"), HealthStatus::Unknown);
    }

    #[test]
    fn parses_a_real_census() {
        let c = parse_census(CENSUS_2_1_78).unwrap();
        assert_eq!(
            c.local_member_id.as_deref(),
            Some("8a689e66d8dd444a9871474bde658f1f")
        );
        let members = &c.groups["httpd.default"];
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].health, "alive");
        assert_eq!(
            members[0].package.as_deref(),
            Some("probe/httpd/0.1.0/20260101000000")
        );
        assert_eq!(c.health_counts().get("alive"), Some(&1));
        assert_eq!(c.counts.get("alive"), Some(&1));
        let mut t = c.clone();
        t.truncate(0);
        assert!(t.groups.is_empty());
        assert_eq!(t.omitted, 1);
        assert_eq!(
            t.counts.get("alive"),
            Some(&1),
            "counts describe the whole census"
        );
        assert!(parse_census(b"[]").is_err());
    }
}

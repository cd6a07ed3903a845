//! The vocabulary Onwatch's server and browser share. Each type has one spelling on the wire
//! (its serde form) and one in words ([`std::fmt::Display`]); the browser compares these types,
//! never strings, so that an unknown role cannot pass for a known one.
//!
//! serde only: this crate compiles for the server and for wasm32.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a person may do. Ordered: each role can do everything the ones before it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees everything, changes nothing.
    #[default]
    Viewer,
    /// Production actions and the query console.
    Responder,
    /// Everything, plus audit export and session revocation.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Responder, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "responder" => Ok(Role::Responder),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "`{other}` is not a role; expected viewer, responder or admin"
            )),
        }
    }
}

/// What a dashboard cell says about a service (or a host). Every value has a word; colour is
/// extra. Ordered worst first, so the worst of several is their minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellState {
    Critical,
    Down,
    Unreachable,
    Stale,
    Warning,
    Unknown,
    /// The instance is stopped (its EC2 state): not polled, not a fault of its Supervisor.
    Stopped,
    Healthy,
}

impl CellState {
    pub const ALL: [CellState; 8] = [
        CellState::Critical,
        CellState::Down,
        CellState::Unreachable,
        CellState::Stale,
        CellState::Warning,
        CellState::Unknown,
        CellState::Stopped,
        CellState::Healthy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Healthy => "healthy",
            CellState::Warning => "warning",
            CellState::Critical => "critical",
            CellState::Down => "down",
            CellState::Unreachable => "unreachable",
            CellState::Unknown => "unknown",
            CellState::Stale => "stale",
            CellState::Stopped => "stopped",
        }
    }

    pub fn is_healthy(self) -> bool {
        self == CellState::Healthy
    }
}

impl FromStr for CellState {
    type Err = String;
    fn from_str(s: &str) -> Result<CellState, String> {
        CellState::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a cell state"))
    }
}

impl fmt::Display for CellState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Supervisor's process state (`"up"` since 0.57, `"Up"` before; parsed without regard to
/// case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ProcessState {
    Up,
    Down,
}

impl ProcessState {
    pub fn parse(s: &str) -> Option<ProcessState> {
        if s.eq_ignore_ascii_case("up") {
            Some(ProcessState::Up)
        } else if s.eq_ignore_ascii_case("down") {
            Some(ProcessState::Down)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Up => "up",
            ProcessState::Down => "down",
        }
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service's last health-check result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
pub enum HealthStatus {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl HealthStatus {
    /// Parses both the capitalised form of `/services` (`"Ok"`) and the upper-case form of the
    /// health endpoint (`"OK"`). Anything else is `Unknown`.
    pub fn parse(s: &str) -> HealthStatus {
        match s.to_ascii_lowercase().as_str() {
            "ok" => HealthStatus::Ok,
            "warning" => HealthStatus::Warning,
            "critical" => HealthStatus::Critical,
            _ => HealthStatus::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Ok => "Ok",
            HealthStatus::Warning => "Warning",
            HealthStatus::Critical => "Critical",
            HealthStatus::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an alarm on the dashboard is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// Onwatch itself: its fleet model was recovered after an internal error.
    ModelRecovered,
    /// A service critical or down in a production environment.
    FailingService,
    /// Instances tagged for an environment but refused as its hosts (outside its configured
    /// scope, or two hosts of one name): a finding to look at, never polled.
    RefusedInstances,
    UnreachableHost,
    FailingProbe,
    StaleInventory,
    DevelopmentSupervisor,
    VersionDrift,
}

impl AlarmKind {
    /// The wire and CSS name (`unreachable_host`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::ModelRecovered => "model_recovered",
            AlarmKind::FailingService => "failing_service",
            AlarmKind::RefusedInstances => "refused_instances",
            AlarmKind::UnreachableHost => "unreachable_host",
            AlarmKind::FailingProbe => "failing_probe",
            AlarmKind::StaleInventory => "stale_inventory",
            AlarmKind::DevelopmentSupervisor => "development_supervisor",
            AlarmKind::VersionDrift => "version_drift",
        }
    }

    /// In words, for a person (`unreachable host`).
    pub fn label(self) -> &'static str {
        match self {
            AlarmKind::ModelRecovered => "model recovered",
            AlarmKind::FailingService => "failing service",
            AlarmKind::RefusedInstances => "refused instances",
            AlarmKind::UnreachableHost => "unreachable host",
            AlarmKind::FailingProbe => "failing probe",
            AlarmKind::StaleInventory => "stale inventory",
            AlarmKind::DevelopmentSupervisor => "development supervisor",
            AlarmKind::VersionDrift => "version drift",
        }
    }
}

impl fmt::Display for AlarmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Habitat package identifier: `origin/name[/version[/release]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct PackageIdent {
    pub origin: String,
    pub name: String,
    pub version: Option<String>,
    pub release: Option<String>,
}

impl PackageIdent {
    pub fn new(origin: &str, name: &str) -> PackageIdent {
        PackageIdent {
            origin: origin.to_owned(),
            name: name.to_owned(),
            version: None,
            release: None,
        }
    }

    /// Parses `origin/name[/version[/release]]`; `None` for anything else.
    pub fn parse(ident: &str) -> Option<PackageIdent> {
        let mut parts = ident.split('/');
        let origin = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let name = parts.next().filter(|s| !s.is_empty())?.to_owned();
        let version = parts.next().map(str::to_owned);
        let release = parts.next().map(str::to_owned);
        if parts.next().is_some() {
            return None;
        }
        Some(PackageIdent {
            origin,
            name,
            version,
            release,
        })
    }

    /// `version/release`, `version`, or `None` when the version is not known.
    pub fn release_label(&self) -> Option<String> {
        match (&self.version, &self.release) {
            (Some(v), Some(r)) => Some(format!("{v}/{r}")),
            (Some(v), None) => Some(v.clone()),
            _ => None,
        }
    }
}

/// `origin/name/version/release`, with whatever parts are known (a release without a version
/// is not a valid ident, so it is left out). The one formatter of idents.
impl fmt::Display for PackageIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.origin, self.name)?;
        if let Some(v) = &self.version {
            write!(f, "/{v}")?;
            if let Some(r) = &self.release {
                write!(f, "/{r}")?;
            }
        }
        Ok(())
    }
}

/// The name of an environment (`live`, `acceptance`): lower-case letters, digits, `-` and `_`,
/// because it appears in URLs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    pub fn new(name: &str) -> Result<EnvironmentName, String> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(EnvironmentName(name.to_owned()))
        } else {
            Err(format!(
                "`{name}` is not an environment name: lower-case letters, digits, '-' and '_' (they appear in URLs)"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EnvironmentName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EnvironmentName::new(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EnvironmentName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The Builder services in the runbook's order (how every grid and list orders them); others
/// follow alphabetically.
pub const SERVICE_ORDER: &[&str] = &[
    "builder-api",
    "builder-router",
    "builder-sessionsrv",
    "builder-originsrv",
    "builder-jobsrv",
    "builder-scheduler",
    "builder-datastore",
    "sentinel",
];

/// The sort key of a service name: runbook order first, then by name.
pub fn service_rank(name: &str) -> (usize, String) {
    (
        SERVICE_ORDER
            .iter()
            .position(|s| *s == name)
            .unwrap_or(usize::MAX),
        name.to_owned(),
    )
}

/// The short slug of a package name (`builder-api` → `api`), as URLs and the runbook say it.
pub fn slug_of(service: &str) -> String {
    service.trim_start_matches("builder-").to_owned()
}

/// The UTC civil date `(year, month, day)` of the epoch milliseconds `ms` (H. Hinnant's
/// algorithm): one implementation for the pages (in the browser too) and the server.
pub fn civil_date(ms: i64) -> (i64, i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_unknown_ones_are_refused() {
        assert!(Role::Admin.allows(Role::Responder));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert!("admn".parse::<Role>().is_err());
        assert!(serde_json::from_str::<Role>("\"admn\"").is_err());
        assert_eq!(
            serde_json::to_string(&Role::Responder).unwrap(),
            "\"responder\""
        );
    }

    #[test]
    fn wire_names_match_as_str() {
        for c in CellState::ALL {
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        for k in [
            AlarmKind::ModelRecovered,
            AlarmKind::UnreachableHost,
            AlarmKind::FailingProbe,
            AlarmKind::StaleInventory,
            AlarmKind::DevelopmentSupervisor,
            AlarmKind::VersionDrift,
        ] {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
            assert_eq!(k.label(), k.as_str().replace('_', " "));
        }
        assert_eq!(ProcessState::parse("Up"), Some(ProcessState::Up));
        assert_eq!(ProcessState::parse("sideways"), None);
    }

    #[test]
    fn idents() {
        let i = PackageIdent::parse("habitat/builder-api/7602/20180906202535").unwrap();
        assert_eq!(i.version.as_deref(), Some("7602"));
        assert_eq!(i.to_string(), "habitat/builder-api/7602/20180906202535");
        assert_eq!(i.release_label().as_deref(), Some("7602/20180906202535"));
        assert_eq!(PackageIdent::parse("core/hab").unwrap().version, None);
        assert_eq!(PackageIdent::new("core", "hab").to_string(), "core/hab");
        assert!(PackageIdent::parse("core").is_none());
        assert!(PackageIdent::parse("a/b/c/d/e").is_none());
        assert!(PackageIdent::parse("/b").is_none());
    }

    #[test]
    fn environment_names() {
        assert!(EnvironmentName::new("live").is_ok());
        assert!(EnvironmentName::new("Live").is_err());
        assert!(EnvironmentName::new("").is_err());
        assert!(serde_json::from_str::<EnvironmentName>("\"a/b\"").is_err());
    }
}

/// An environment as every page names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSummary {
    pub name: String,
    /// Production environments get the unmistakable red badge and extra guards.
    pub production: bool,
    pub description: String,
}

/// "1 row", "2 rows", "0 lock files": a count with its noun (regular plurals only), for the
/// server's sentences and the browser's alike.
pub fn count(n: impl Into<i64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "3 s", "5 min", "2 h 10 min", "4 d": an age for people (negative ages read as 0 s). One
/// routine for the server's sentences and the browser's.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => {
            let m = (s % 3600) / 60;
            if m == 0 {
                format!("{} h", s / 3600)
            } else {
                format!("{} h {m} min", s / 3600)
            }
        }
        _ => format!("{} d", s / 86_400),
    }
}

pub mod zone;
pub use zone::{Zone, ZoneSpan};

//! The Supervisor's HTTP gateway (default port 9631): `/services`, `/services/{svc}/{group}/health`,
//! `/census`, `/butterfly`. Read-only; optional bearer token and TLS.
//!
//! Every failure — refused connection, timeout, 401, 503, a body that is not the JSON we expect —
//! becomes a [`GatewayError`] with the reason. Nothing here panics on what a host sends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The largest body we accept from a gateway. A Supervisor with a few services sends a few KB per
/// service; anything this large is a wrong endpoint or an attack.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum GatewayError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("HTTP 401: the gateway wants a bearer token (set the environment's supervisor token)")]
    Unauthorized,
    #[error("HTTP 404: not found (service not loaded, or the gateway redacts this endpoint)")]
    NotFound,
    #[error("HTTP {status}: {reason}")]
    Status { status: u16, reason: String },
    #[error("unexpected response body: {0}")]
    Garbage(String),
    #[error("response larger than {} MiB", MAX_BODY_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("bad gateway address `{0}`")]
    BadAddress(String),
}

/// Process state, parsed without regard to case (`"up"` since 0.57, `"Up"` before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ProcessState {
    Up,
    Down,
}

/// The last health-check result.
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PackageIdent {
    pub origin: String,
    pub name: String,
    pub version: Option<String>,
    pub release: Option<String>,
}

impl PackageIdent {
    /// `origin/name/version/release`, with whatever parts are known.
    pub fn to_ident_string(&self) -> String {
        let mut s = format!("{}/{}", self.origin, self.name);
        if let Some(v) = &self.version {
            s.push('/');
            s.push_str(v);
            if let Some(r) = &self.release {
                s.push('/');
                s.push_str(r);
            }
        }
        s
    }

    /// Parses `origin/name[/version[/release]]`.
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
}

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
        let sg = self.service_group.split('@').next().unwrap_or("");
        sg.split_once('.').unwrap_or((sg, "default"))
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
    let process_state = match r.process.state.to_ascii_lowercase().as_str() {
        "up" => ProcessState::Up,
        "down" => ProcessState::Down,
        other => {
            return Err(GatewayError::Garbage(format!(
                "{}: unknown process state `{other}`",
                r.service_group
            )))
        }
    };
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

/// Where a Supervisor's HTTP gateway is, and how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayTarget {
    /// `http://10.0.0.5:9631` or `https://…` (no trailing slash).
    pub base_url: String,
    pub token: Option<String>,
}

impl GatewayTarget {
    pub fn new(host: &str, port: u16, tls: bool, token: Option<String>) -> GatewayTarget {
        let scheme = if tls { "https" } else { "http" };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        GatewayTarget {
            base_url: format!("{scheme}://{host}:{port}"),
            token,
        }
    }
}

/// Client settings shared by every host.
#[derive(Debug, Clone)]
pub struct GatewayClientOptions {
    pub connect_timeout: Duration,
    /// For the whole request, body included.
    pub request_timeout: Duration,
    /// Extra CA certificate (PEM) for gateways with their own TLS certificates.
    pub ca_pem: Option<Vec<u8>>,
    pub max_idle_per_host: usize,
}

impl Default for GatewayClientOptions {
    fn default() -> Self {
        GatewayClientOptions {
            connect_timeout: Duration::from_millis(1500),
            request_timeout: Duration::from_secs(3),
            ca_pem: None,
            max_idle_per_host: 2,
        }
    }
}

/// A pooled HTTP client for Supervisor gateways. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    request_timeout: Duration,
    /// Per gateway: a keyed hash of the last `/services` body and what it parsed to. A steady
    /// Supervisor sends the same bytes every poll; they are parsed once.
    services_memo: Arc<Mutex<ServicesMemo>>,
    /// The key of those hashes (random per client: a host cannot aim for a collision).
    memo_keys: std::collections::hash_map::RandomState,
}

/// By gateway URL: the keyed hash of the last `/services` body and what it parsed to.
type ServicesMemo = HashMap<String, (u64, Vec<ServiceStatus>)>;

/// Gateways remembered by the `/services` memo before it starts afresh (inventories change).
const SERVICES_MEMO_MAX: usize = 20_000;

impl GatewayClient {
    pub fn new(options: &GatewayClientOptions) -> Result<GatewayClient, GatewayError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .pool_max_idle_per_host(options.max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("onwatch/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| GatewayError::BadAddress(format!("CA certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| GatewayError::Connect(format!("HTTP client: {e}")))?;
        Ok(GatewayClient {
            http,
            request_timeout: options.request_timeout,
            services_memo: Arc::default(),
            memo_keys: Default::default(),
        })
    }

    /// `GET /services`, parsed only when the body differs from the last one this client read
    /// from the same gateway (the poller's steady state: same bytes every second).
    pub async fn services_memo(
        &self,
        target: &GatewayTarget,
    ) -> Result<Vec<ServiceStatus>, GatewayError> {
        use std::hash::BuildHasher;
        let body = self.services_body(target).await?;
        let hash = self.memo_keys.hash_one(&body);
        let seen = self.services_memo.lock().ok().and_then(|memo| {
            memo.get(&target.base_url)
                .filter(|(h, _)| *h == hash)
                .map(|(_, parsed)| parsed.clone())
        });
        if let Some(parsed) = seen {
            return Ok(parsed);
        }
        let parsed = parse_services(&body)?;
        if let Ok(mut memo) = self.services_memo.lock() {
            if memo.len() >= SERVICES_MEMO_MAX {
                memo.clear();
            }
            memo.insert(target.base_url.clone(), (hash, parsed.clone()));
        }
        Ok(parsed)
    }

    /// GETs `path`, returning the status and the body (up to [`MAX_BODY_BYTES`]).
    async fn get(
        &self,
        target: &GatewayTarget,
        path: &str,
    ) -> Result<(u16, Vec<u8>), GatewayError> {
        let url = format!("{}{path}", target.base_url);
        let mut req = self.http.get(&url);
        if let Some(token) = &target.token {
            req = req.bearer_auth(token);
        }
        let mut resp = req.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status().as_u16();
        if let Some(len) = resp.content_length() {
            if len as usize > MAX_BODY_BYTES {
                return Err(GatewayError::TooLarge);
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(GatewayError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    fn classify(&self, e: reqwest::Error) -> GatewayError {
        if e.is_timeout() {
            GatewayError::Timeout(self.request_timeout.as_millis() as u64)
        } else if e.is_builder() {
            GatewayError::BadAddress(e.to_string())
        } else {
            // The innermost cause says the most ("Connection refused").
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg = s.to_string();
                source = s.source();
            }
            GatewayError::Connect(msg)
        }
    }

    fn check(status: u16, body: &[u8]) -> Result<(), GatewayError> {
        match status {
            200 => Ok(()),
            401 => Err(GatewayError::Unauthorized),
            404 => Err(GatewayError::NotFound),
            s => Err(GatewayError::Status {
                status: s,
                reason: String::from_utf8_lossy(&body[..body.len().min(200)])
                    .trim()
                    .to_owned(),
            }),
        }
    }

    /// `GET /services`: every loaded service.
    pub async fn services(
        &self,
        target: &GatewayTarget,
    ) -> Result<Vec<ServiceStatus>, GatewayError> {
        parse_services(&self.services_body(target).await?)
    }

    /// The body of a successful `GET /services`.
    async fn services_body(&self, target: &GatewayTarget) -> Result<Vec<u8>, GatewayError> {
        let (status, body) = self.get(target, "/services").await?;
        GatewayClient::check(status, &body)?;
        Ok(body)
    }

    /// `GET /services/{svc}/{group}/health`. 200 (OK/WARNING), 503 (CRITICAL) and 500 (UNKNOWN)
    /// all carry the report.
    pub async fn health(
        &self,
        target: &GatewayTarget,
        service: &str,
        group: &str,
    ) -> Result<HealthReport, GatewayError> {
        let (status, body) = self
            .get(target, &format!("/services/{service}/{group}/health"))
            .await?;
        match status {
            200 | 500 | 503 => parse_health(&body),
            s => {
                GatewayClient::check(s, &body)?;
                parse_health(&body)
            }
        }
    }

    /// `GET /census`, summarised.
    pub async fn census(&self, target: &GatewayTarget) -> Result<CensusSummary, GatewayError> {
        let (status, body) = self.get(target, "/census").await?;
        GatewayClient::check(status, &body)?;
        parse_census(&body)
    }

    /// `GET /butterfly`, as raw JSON (shown for debugging on the host page).
    pub async fn butterfly(
        &self,
        target: &GatewayTarget,
    ) -> Result<serde_json::Value, GatewayError> {
        let (status, body) = self.get(target, "/butterfly").await?;
        GatewayClient::check(status, &body)?;
        serde_json::from_slice(&body).map_err(|e| GatewayError::Garbage(format!("butterfly: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES_2_1_78: &[u8] =
        include_bytes!("../../tests/fixtures/supervisor-2.1.78/services.json");
    const CENSUS_2_1_78: &[u8] =
        include_bytes!("../../tests/fixtures/supervisor-2.1.78/census.json");

    #[test]
    fn parses_a_real_2_1_78_services_payload() {
        let s = parse_services(SERVICES_2_1_78).unwrap();
        assert_eq!(s.len(), 1);
        let svc = &s[0];
        assert_eq!(svc.service_group, "httpd.default");
        assert_eq!(svc.service_and_group(), ("httpd", "default"));
        assert_eq!(
            svc.ident.to_ident_string(),
            "probe/httpd/0.1.0/20260101000000"
        );
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

    #[test]
    fn idents() {
        let i = PackageIdent::parse("habitat/builder-api/7602/20180906202535").unwrap();
        assert_eq!(i.version.as_deref(), Some("7602"));
        assert_eq!(PackageIdent::parse("core/hab").unwrap().version, None);
        assert!(PackageIdent::parse("core").is_none());
        assert!(PackageIdent::parse("a/b/c/d/e").is_none());
        assert_eq!(
            GatewayTarget::new("::1", 9631, false, None).base_url,
            "http://[::1]:9631"
        );
    }
}

//! What a Supervisor's HTTP gateway sends, and how it parses: the JSON of `/services`, of a
//! service's health and of `/census`, reduced to what Onwatch uses. No I/O here.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::de::{self, SeqAccess, Visitor};
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

impl ServiceStatus {
    /// This element as the fleet model keeps it (see [`ServiceRecord`]); an error for a field
    /// longer than [`MAX_FIELD_BYTES`].
    pub fn to_record(&self) -> Result<ServiceRecord, GatewayError> {
        let mut b = RecordBuilder::new(&self.service_group);
        b.push(Some(&self.service_group))?;
        b.push(Some(&self.ident.origin))?;
        b.push(Some(&self.ident.name))?;
        b.push(self.ident.version.as_deref())?;
        b.push(self.ident.release.as_deref())?;
        b.push(self.update_strategy.as_deref())?;
        b.push(self.channel.as_deref())?;
        b.push(self.topology.as_deref())?;
        b.push(self.sup_version.as_deref())?;
        b.push(self.member_id.as_deref())?;
        b.push(self.hostname.as_deref())?;
        b.push(self.ip.as_deref())?;
        Ok(b.finish(
            self.process_state,
            self.health,
            self.desired_up,
            self.pid,
            self.state_entered,
        ))
    }
}

/// At most this many services in one `/services` answer. A Supervisor runs a handful; a list
/// this long is a wrong endpoint or a hostile host, and is refused before it is kept.
pub const MAX_SERVICES: usize = 256;
/// At most this many bytes in one text field the model keeps (service group, ident parts,
/// channel, versions, ids). Real values are tens of bytes.
pub const MAX_FIELD_BYTES: usize = 512;

/// The text fields of a [`ServiceRecord`], in the order they are stored.
#[derive(Clone, Copy)]
enum Field {
    ServiceGroup,
    Origin,
    Name,
    Version,
    Release,
    UpdateStrategy,
    Channel,
    Topology,
    SupVersion,
    MemberId,
    Hostname,
    Ip,
}
const FIELDS: usize = 12;
const FIELD_NAMES: [&str; FIELDS] = [
    "service_group",
    "pkg.origin",
    "pkg.name",
    "pkg.version",
    "pkg.release",
    "update_strategy",
    "channel",
    "topology",
    "sys.version",
    "sys.member_id",
    "sys.hostname",
    "sys.ip",
];

/// One element of `/services` as the fleet model keeps it, for as long as the host keeps
/// sending it: the same fields as [`ServiceStatus`], but every text field in one allocation
/// (about 150 bytes) instead of twelve `String`s. A fleet of 1,000 hosts keeps 8,000 of these;
/// parsing one costs one allocation, and two records compare with one `memcmp` of their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// The text fields, one after the other.
    text: Box<str>,
    /// Where each field ends in `text` (it starts where the one before it ends). Every field is
    /// at most [`MAX_FIELD_BYTES`], so the whole text fits in a `u16`.
    ends: [u16; FIELDS],
    /// Bit `i`: field `i` was sent (an absent field and an empty one differ).
    present: u16,
    pub process_state: ProcessState,
    pub health: HealthStatus,
    /// `None` before 0.61.
    pub desired_up: Option<bool>,
    pub pid: Option<u32>,
    /// Epoch seconds when the current process state was entered.
    pub state_entered: Option<i64>,
}

impl ServiceRecord {
    fn field(&self, f: Field) -> Option<&str> {
        let i = f as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Always in range and on a character boundary (built from whole `str`s); `get` keeps
        // even a bug here from panicking.
        self.text.get(start..self.ends[i] as usize)
    }

    /// `builder-api.live`
    pub fn service_group(&self) -> &str {
        self.field(Field::ServiceGroup).unwrap_or_default()
    }

    /// `(service, group)` from the service group, without an `@org` suffix.
    pub fn service_and_group(&self) -> (&str, &str) {
        habitat::split(self.service_group())
    }

    pub fn ident(&self) -> PackageIdent {
        PackageIdent {
            origin: self.field(Field::Origin).unwrap_or_default().to_owned(),
            name: self.field(Field::Name).unwrap_or_default().to_owned(),
            version: self.field(Field::Version).map(str::to_owned),
            release: self.field(Field::Release).map(str::to_owned),
        }
    }

    pub fn update_strategy(&self) -> Option<&str> {
        self.field(Field::UpdateStrategy)
    }

    pub fn channel(&self) -> Option<&str> {
        self.field(Field::Channel)
    }

    pub fn topology(&self) -> Option<&str> {
        self.field(Field::Topology)
    }

    /// The Supervisor's own version, `"0.61.0/20180815173401"`.
    pub fn sup_version(&self) -> Option<&str> {
        self.field(Field::SupVersion)
    }

    pub fn member_id(&self) -> Option<&str> {
        self.field(Field::MemberId)
    }

    pub fn hostname(&self) -> Option<&str> {
        self.field(Field::Hostname)
    }

    pub fn ip(&self) -> Option<&str> {
        self.field(Field::Ip)
    }

    /// The record as a [`ServiceStatus`] (owned fields, for callers that want them).
    pub fn to_status(&self) -> ServiceStatus {
        let owned = |f: Field| self.field(f).map(str::to_owned);
        ServiceStatus {
            service_group: self.service_group().to_owned(),
            ident: self.ident(),
            process_state: self.process_state,
            pid: self.pid,
            state_entered: self.state_entered,
            desired_up: self.desired_up,
            health: self.health,
            update_strategy: owned(Field::UpdateStrategy),
            channel: owned(Field::Channel),
            topology: owned(Field::Topology),
            sup_version: owned(Field::SupVersion),
            member_id: owned(Field::MemberId),
            hostname: owned(Field::Hostname),
            ip: owned(Field::Ip),
        }
    }
}

/// Fills a [`ServiceRecord`]'s text, field by field in [`Field`] order.
struct RecordBuilder<'a> {
    /// For error messages.
    service_group: &'a str,
    text: String,
    ends: [u16; FIELDS],
    present: u16,
    next: usize,
}

impl<'a> RecordBuilder<'a> {
    fn new(service_group: &'a str) -> RecordBuilder<'a> {
        RecordBuilder {
            service_group,
            text: String::new(),
            ends: [0; FIELDS],
            present: 0,
            next: 0,
        }
    }

    fn push(&mut self, value: Option<&str>) -> Result<(), GatewayError> {
        let i = self.next;
        if let Some(v) = value {
            if v.len() > MAX_FIELD_BYTES {
                return Err(GatewayError::Garbage(format!(
                    "{}: `{}` longer than {MAX_FIELD_BYTES} bytes",
                    truncated(self.service_group),
                    FIELD_NAMES[i]
                )));
            }
            if self.text.capacity() == 0 {
                // One allocation for the whole record, as a rule (the fields are short).
                self.text.reserve(FIELDS * 16);
            }
            self.text.push_str(v);
            self.present |= 1 << i;
        }
        // At most FIELDS × MAX_FIELD_BYTES = 6,144 bytes: fits.
        self.ends[i] = self.text.len() as u16;
        self.next += 1;
        Ok(())
    }

    fn finish(
        self,
        process_state: ProcessState,
        health: HealthStatus,
        desired_up: Option<bool>,
        pid: Option<u32>,
        state_entered: Option<i64>,
    ) -> ServiceRecord {
        debug_assert_eq!(self.next, FIELDS);
        ServiceRecord {
            text: self.text.into_boxed_str(),
            ends: self.ends,
            present: self.present,
            process_state,
            health,
            desired_up,
            pid,
            state_entered,
        }
    }
}

/// At most 80 characters of what a host sent, for an error message.
fn truncated(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A JSON string borrowed from the body when it has no escapes (nearly always), owned when it
/// has: reading `/services` allocates nothing per field. (serde borrows `Cow<str>` only as a
/// field's own type, not inside an `Option`; this one borrows in both.)
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

fn text<'t>(t: &'t Option<Text<'_>>) -> Option<&'t str> {
    t.as_ref().map(|t| &*t.0)
}

#[derive(Deserialize)]
struct RawService<'a> {
    #[serde(borrow)]
    service_group: Text<'a>,
    #[serde(borrow)]
    pkg: RawPkg<'a>,
    #[serde(borrow)]
    process: RawProcess<'a>,
    #[serde(default, borrow)]
    desired_state: Option<Text<'a>>,
    #[serde(default, borrow)]
    health_check: Option<Text<'a>>,
    #[serde(default, borrow)]
    update_strategy: Option<Text<'a>>,
    #[serde(default, borrow)]
    channel: Option<Text<'a>>,
    #[serde(default, borrow)]
    topology: Option<Text<'a>>,
    #[serde(default, borrow)]
    sys: Option<RawSys<'a>>,
}

#[derive(Deserialize)]
struct RawPkg<'a> {
    #[serde(default, borrow)]
    ident: Option<Text<'a>>,
    #[serde(default, borrow)]
    origin: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    version: Option<Text<'a>>,
    #[serde(default, borrow)]
    release: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct RawProcess<'a> {
    #[serde(default)]
    pid: Option<u32>,
    #[serde(borrow)]
    state: Text<'a>,
    #[serde(default)]
    state_entered: Option<i64>,
}

#[derive(Deserialize)]
struct RawSys<'a> {
    #[serde(default, borrow)]
    version: Option<Text<'a>>,
    #[serde(default, borrow)]
    member_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    hostname: Option<Text<'a>>,
    #[serde(default, borrow)]
    ip: Option<Text<'a>>,
}

/// Parses a `/services` body.
pub fn parse_services(body: &[u8]) -> Result<Vec<ServiceStatus>, GatewayError> {
    Ok(parse_service_records(body)?
        .iter()
        .map(ServiceRecord::to_status)
        .collect())
}

/// Parses a `/services` body into what the fleet model keeps: borrowed from the body while it
/// is read (nothing allocated per field, everything the portal does not use skipped), one
/// allocation per service for what is kept. At most [`MAX_SERVICES`] services, each text field
/// at most [`MAX_FIELD_BYTES`]; anything else is [`GatewayError::Garbage`] with the reason.
pub fn parse_service_records(body: &[u8]) -> Result<Vec<ServiceRecord>, GatewayError> {
    /// The list, converted element by element as it is read, and refused at the element past
    /// the bound (not after a hostile body's millions of elements have been collected).
    struct Records(Vec<ServiceRecord>);
    impl<'de> Deserialize<'de> for Records {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Records, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Records;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a list of services")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Records, A::Error> {
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(16));
                    while let Some(raw) = seq.next_element::<RawService<'de>>()? {
                        if out.len() == MAX_SERVICES {
                            return Err(de::Error::custom(format!(
                                "more than {MAX_SERVICES} services"
                            )));
                        }
                        out.push(convert(raw).map_err(|e| match e {
                            GatewayError::Garbage(m) => de::Error::custom(m),
                            other => de::Error::custom(other),
                        })?);
                    }
                    Ok(Records(out))
                }
            }
            d.deserialize_seq(V)
        }
    }
    let Records(records) = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Garbage(format!("/services is not a service list: {e}")))?;
    Ok(records)
}

fn convert(r: RawService<'_>) -> Result<ServiceRecord, GatewayError> {
    let sg: &str = &r.service_group.0;
    let state: &str = &r.process.state.0;
    let process_state = ProcessState::parse(state).ok_or_else(|| {
        GatewayError::Garbage(format!(
            "{}: unknown process state `{}`",
            truncated(sg),
            truncated(state).to_ascii_lowercase()
        ))
    })?;
    let mut b = RecordBuilder::new(sg);
    b.push(Some(sg))?;
    match (text(&r.pkg.origin), text(&r.pkg.name)) {
        (Some(origin), Some(name)) => {
            b.push(Some(origin))?;
            b.push(Some(name))?;
            b.push(text(&r.pkg.version))?;
            b.push(text(&r.pkg.release))?;
        }
        _ => {
            // Before 0.6x only the ident string: `origin/name[/version[/release]]`.
            let ident = text(&r.pkg.ident).and_then(split_ident).ok_or_else(|| {
                GatewayError::Garbage(format!("{}: package has no ident", truncated(sg)))
            })?;
            b.push(Some(ident.0))?;
            b.push(Some(ident.1))?;
            b.push(ident.2)?;
            b.push(ident.3)?;
        }
    }
    b.push(text(&r.update_strategy))?;
    b.push(text(&r.channel))?;
    b.push(text(&r.topology))?;
    let sys = r.sys.as_ref();
    b.push(sys.and_then(|s| text(&s.version)))?;
    b.push(sys.and_then(|s| text(&s.member_id)))?;
    b.push(sys.and_then(|s| text(&s.hostname)))?;
    b.push(sys.and_then(|s| text(&s.ip)))?;
    let desired_up = text(&r.desired_state)
        .map(|d| d.eq_ignore_ascii_case("up") || d.eq_ignore_ascii_case("desiredup"));
    let health = text(&r.health_check)
        .map(health_status)
        .unwrap_or(HealthStatus::Unknown);
    Ok(b.finish(
        process_state,
        health,
        desired_up,
        r.process.pid,
        r.process.state_entered,
    ))
}

/// `origin/name[/version[/release]]` in its parts, as [`PackageIdent::parse`] reads it.
fn split_ident(ident: &str) -> Option<(&str, &str, Option<&str>, Option<&str>)> {
    let mut parts = ident.split('/');
    let origin = parts.next().filter(|s| !s.is_empty())?;
    let name = parts.next().filter(|s| !s.is_empty())?;
    let version = parts.next();
    let release = parts.next();
    if parts.next().is_some() {
        return None;
    }
    Some((origin, name, version, release))
}

/// [`HealthStatus::parse`] without its lower-cased copy (this runs for every service polled).
fn health_status(s: &str) -> HealthStatus {
    if s.eq_ignore_ascii_case("ok") {
        HealthStatus::Ok
    } else if s.eq_ignore_ascii_case("warning") {
        HealthStatus::Warning
    } else if s.eq_ignore_ascii_case("critical") {
        HealthStatus::Critical
    } else {
        HealthStatus::Unknown
    }
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
struct RawCensus<'a> {
    #[serde(default, borrow)]
    local_member_id: Option<Text<'a>>,
    #[serde(borrow)]
    census_groups: BTreeMap<Text<'a>, RawCensusGroup<'a>>,
}

#[derive(Deserialize)]
struct RawCensusGroup<'a> {
    #[serde(default, borrow)]
    population: Option<BTreeMap<Text<'a>, RawCensusMember<'a>>>,
}

#[derive(Deserialize)]
struct RawCensusMember<'a> {
    #[serde(default, borrow)]
    package: Option<Text<'a>>,
    #[serde(default, borrow)]
    sys: Option<RawMemberSys<'a>>,
    alive: Option<bool>,
    suspect: Option<bool>,
    confirmed: Option<bool>,
    departed: Option<bool>,
    leader: Option<bool>,
}

#[derive(Deserialize)]
struct RawMemberSys<'a> {
    #[serde(default, borrow)]
    ip: Option<Text<'a>>,
    #[serde(default, borrow)]
    hostname: Option<Text<'a>>,
}

/// Parses `/census` straight into the summary, every member kept.
pub fn parse_census(body: &[u8]) -> Result<CensusSummary, GatewayError> {
    parse_census_summary(body, usize::MAX)
}

/// Parses `/census` into the summary with at most `max_members` members (as
/// [`CensusSummary::truncate`] keeps them; the counts still cover the whole census). Every
/// Supervisor's census lists the whole ring, megabytes in a large fleet: it is read borrowed
/// from the body, and only the members kept are copied out of it.
pub fn parse_census_summary(
    body: &[u8],
    max_members: usize,
) -> Result<CensusSummary, GatewayError> {
    let raw: RawCensus<'_> = serde_json::from_slice(body)
        .map_err(|e| GatewayError::Garbage(format!("census body: {e}")))?;
    let mut groups = BTreeMap::new();
    // Each member's gossip health, a member counted once (the last group it is listed in
    // says, as `health_counts` has it).
    let mut seen: HashMap<&str, &'static str> = HashMap::new();
    let mut kept = 0usize;
    let mut omitted = 0usize;
    for (name, group) in &raw.census_groups {
        let mut members = Vec::new();
        for (id, m) in group.population.iter().flatten() {
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
            seen.insert(&id.0, health);
            if kept >= max_members {
                omitted += 1;
                continue;
            }
            kept += 1;
            let sys = m.sys.as_ref();
            members.push(CensusMember {
                member_id: id.0.to_string(),
                package: text(&m.package).map(str::to_owned),
                ip: sys.and_then(|s| text(&s.ip)).map(str::to_owned),
                hostname: sys.and_then(|s| text(&s.hostname)).map(str::to_owned),
                health: health.to_owned(),
                leader: flag(m.leader),
            });
        }
        // Every group is listed when nothing is left out; a truncated summary lists only the
        // groups it kept members of (as `truncate` does).
        if !members.is_empty() || max_members == usize::MAX {
            groups.insert(name.0.to_string(), members);
        }
    }
    let mut counts = BTreeMap::new();
    for h in seen.values() {
        *counts.entry((*h).to_owned()).or_insert(0) += 1;
    }
    Ok(CensusSummary {
        local_member_id: text(&raw.local_member_id).map(str::to_owned),
        groups,
        counts,
        omitted,
    })
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

    #[test]
    fn records_keep_every_field_and_compare_as_the_statuses_do() {
        let records = parse_service_records(SERVICES_2_1_78).unwrap();
        let r = &records[0];
        assert_eq!(r.service_group(), "httpd.default");
        assert_eq!(r.ident().to_string(), "probe/httpd/0.1.0/20260101000000");
        assert_eq!(r.channel(), Some("base"));
        assert_eq!(r.topology(), Some("standalone"));
        assert_eq!(r.sup_version(), Some("2.1.78"));
        assert_eq!(r.member_id(), Some("8a689e66d8dd444a9871474bde658f1f"));
        assert_eq!(r.hostname(), Some("builder-api-1"));
        assert_eq!(r.ip(), Some("192.0.2.2"));
        // Through the owned form and back: the same record.
        assert_eq!(r.to_status().to_record().unwrap(), *r);
        // An absent field and an empty one differ.
        let absent = br#"[{"service_group":"a.b","pkg":{"origin":"o","name":"n"},"process":{"state":"up"}}]"#;
        let empty = br#"[{"service_group":"a.b","pkg":{"origin":"o","name":"n"},"process":{"state":"up"},"channel":""}]"#;
        let (a, e) = (
            parse_service_records(absent).unwrap(),
            parse_service_records(empty).unwrap(),
        );
        assert_eq!(a[0].channel(), None);
        assert_eq!(e[0].channel(), Some(""));
        assert_ne!(a, e);
        assert_eq!(a[0].ident().version, None);
    }

    #[test]
    fn escaped_strings_are_read_too() {
        // Escapes cannot be borrowed from the body; they are unescaped, not refused.
        let body = br#"[{"service_group":"api\u002elive","pkg":{"ident":"core\/api\/1.0\/2020"},
            "process":{"state":"up","pid":7},"channel":"st\"able","sys":{"hostname":"h\u00e9te"}}]"#;
        let r = &parse_service_records(body).unwrap()[0];
        assert_eq!(r.service_group(), "api.live");
        assert_eq!(r.service_and_group(), ("api", "live"));
        assert_eq!(r.ident().to_string(), "core/api/1.0/2020");
        assert_eq!(r.channel(), Some("st\"able"));
        assert_eq!(r.hostname(), Some("h\u{e9}te"));
        assert_eq!(r.pid, Some(7));
    }

    #[test]
    fn hostile_services_bodies_are_clear_errors() {
        let garbage = |body: &[u8]| match parse_service_records(body) {
            Err(GatewayError::Garbage(m)) => m,
            other => panic!(
                "{:?}: {other:?}",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            ),
        };
        // Too many services: refused at the first one past the bound.
        let one =
            r#"{"service_group":"a.b","pkg":{"origin":"o","name":"n"},"process":{"state":"up"}}"#;
        let many = format!("[{}]", vec![one; MAX_SERVICES + 1].join(","));
        assert!(garbage(many.as_bytes()).contains("more than 256 services"));
        let enough = format!("[{}]", vec![one; MAX_SERVICES].join(","));
        assert_eq!(
            parse_service_records(enough.as_bytes()).unwrap().len(),
            MAX_SERVICES
        );
        // A field longer than the model keeps.
        let long = format!(
            r#"[{{"service_group":"a.b","pkg":{{"origin":"o","name":"n"}},"process":{{"state":"up"}},"channel":"{}"}}]"#,
            "x".repeat(MAX_FIELD_BYTES + 1)
        );
        assert!(garbage(long.as_bytes()).contains("`channel` longer than 512 bytes"));
        let sg = format!(
            r#"[{{"service_group":"{}","pkg":{{"origin":"o","name":"n"}},"process":{{"state":"up"}}}}]"#,
            "y".repeat(100_000)
        );
        let m = garbage(sg.as_bytes());
        assert!(m.contains("`service_group` longer than"), "{m}");
        assert!(
            m.len() < 400,
            "the error quotes a little of the field, not all of it"
        );
        // Nested a hundred thousand deep, in a field that is skipped: an error (serde_json skips
        // without recursing), not a stack overflow.
        let deep = format!(
            r#"[{{"service_group":"a.b","cfg":{}{}}}]"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        garbage(deep.as_bytes());
        // Truncated anywhere: an error.
        for cut in [1, 10, 100, 1000, SERVICES_2_1_78.len() - 2] {
            garbage(&SERVICES_2_1_78[..cut]);
        }
        // Wrong types where the portal reads, broken UTF-8 in a field it keeps, trailing bytes,
        // an overflowing pid, an ident of five parts, a null service. (Broken UTF-8 inside a
        // string that is skipped is not looked at, by serde_json as before: nothing of it is
        // kept.)
        for body in [
            &br#"[{"service_group":"a.b","pkg":{"origin":"o","name":"n"},"process":{"state":"up","pid":"7"}}]"#[..],
            br#"[{"service_group":"a.b","pkg":{"origin":"o","name":"n"},"process":{"state":"up","pid":99999999999}}]"#,
            br#"[{"service_group":"a.b","pkg":{"origin":["o"],"name":"n"},"process":{"state":"up"}}]"#,
            b"[{\"service_group\":\"a.\xff\",\"pkg\":{\"origin\":\"o\",\"name\":\"n\"},\"process\":{\"state\":\"up\"}}]",
            br#"[] []"#,
            br#"[{"service_group":"a.b","pkg":{"ident":"o/n/1/2/3"},"process":{"state":"up"}}]"#,
            br#"[null]"#,
        ] {
            garbage(body);
        }
    }

    #[test]
    fn a_census_summary_is_the_census_truncated() {
        // A ring of three groups, one empty, a member in two groups with two healths.
        let body = br#"{"local_member_id":"me","census_groups":{
            "a.x":{"population":{"m1":{"alive":true,"package":"o/a/1/2","sys":{"ip":"10.0.0.1","hostname":"h1"}},
                                 "m2":{"suspect":true,"alive":true},"m3":{"departed":true}}},
            "b.x":{"population":{"m1":{"confirmed":true,"leader":true},"m4":{}}},
            "c.x":{"population":{}},
            "d.x":{}}}"#;
        let full = parse_census(body).unwrap();
        assert_eq!(full.groups.len(), 4, "every group listed");
        assert_eq!(full.omitted, 0);
        assert_eq!(full.counts, full.health_counts());
        assert_eq!(
            full.counts.get("confirmed"),
            Some(&1),
            "m1 counted once, as last listed"
        );
        for max in [0, 1, 2, 3, 4, 5, 100] {
            let mut expected = full.clone();
            expected.truncate(max);
            let summary = parse_census_summary(body, max).unwrap();
            assert_eq!(summary, expected, "max {max}");
            // What the model does with it changes nothing more.
            let mut again = summary.clone();
            again.truncate(max);
            assert_eq!(again, summary);
        }
        let real = parse_census_summary(CENSUS_2_1_78, 64).unwrap();
        let mut expected = parse_census(CENSUS_2_1_78).unwrap();
        expected.truncate(64);
        assert_eq!(real, expected);
        for hostile in [
            &b"{\"census_groups\": 5}"[..],
            b"{\"census_groups\":{\"a\":{\"population\":{\"m\":{\"alive\":\"yes\"}}}}}",
            b"{\"census_groups\":{\"a\":{\"population\":[]}}}",
            &CENSUS_2_1_78[..CENSUS_2_1_78.len() / 2],
        ] {
            assert!(matches!(
                parse_census_summary(hostile, 64),
                Err(GatewayError::Garbage(_))
            ));
        }
    }
}

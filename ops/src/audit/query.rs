//! Reading the audit log: the audit page's filters, exports, and a target's recent actions; and
//! what of a row each role may read ([`Reader`]).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{AuditLog, Event};
use crate::store::StoreError;

/// One row as stored (the chain's hashes included: an export can be verified elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    /// The stored text of the row's kind ([`AuditRow::event`] for the [`Event`]). Text, so that
    /// a row of a kind this version does not know (a newer one wrote it) is still read.
    pub kind: String,
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub action_id: String,
    pub outcome: String,
    /// JSON text, exactly as hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The audit page's filters; an empty field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Matches the actor's identity or display name, case-insensitively, as a substring.
    pub who: String,
    pub environment: String,
    pub host: String,
    /// Matches the service group's prefix (`builder-api` finds `builder-api.live`).
    pub service: String,
    /// A kind (`action.intent`) or its prefix (`action`).
    pub kind: String,
    pub outcome: String,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl AuditLog {
    /// The newest rows matching `filter`, newest first, at most `limit`, below `before_seq` when
    /// given (for paging).
    pub async fn search(
        &self,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        // Every condition is bound, never spliced: the filter comes from a form.
        let like = |s: &str| format!("%{}%", s.to_lowercase());
        let rows = sqlx::query(
            "SELECT seq, at_ms, kind, actor, actor_name, role, environment, host, service, \
             action_id, outcome, detail, prev_hash, hash FROM audit_log \
             WHERE ($1 = '' OR LOWER(actor) LIKE $2 OR LOWER(actor_name) LIKE $2) \
               AND ($3 = '' OR environment = $3) \
               AND ($4 = '' OR host = $4) \
               AND ($5 = '' OR service = $5 OR service LIKE $6) \
               AND ($7 = '' OR kind = $7 OR kind LIKE $8) \
               AND ($9 = '' OR outcome = $9) \
               AND at_ms >= $10 AND at_ms <= $11 AND seq < $12 \
             ORDER BY seq DESC LIMIT $13",
        )
        .bind(&filter.who)
        .bind(like(&filter.who))
        .bind(&filter.environment)
        .bind(&filter.host)
        .bind(&filter.service)
        .bind(format!("{}.%", filter.service))
        .bind(&filter.kind)
        .bind(format!("{}.%", filter.kind))
        .bind(&filter.outcome)
        .bind(filter.from_ms.unwrap_or(i64::MIN))
        .bind(filter.to_ms.unwrap_or(i64::MAX))
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(row).collect()
    }

    /// [`AuditLog::search`] as `reader` may read it: what every route that hands audit rows to
    /// a person uses (the audit page, its exports).
    pub async fn search_as(
        &self,
        reader: Reader,
        filter: &AuditFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(self
            .search(filter, before_seq, limit)
            .await?
            .into_iter()
            .map(|r| r.for_reader(reader))
            .collect())
    }

    /// Every row of one action (its intent, output marks, outcome), oldest first.
    pub async fn of_action(&self, action_id: &str) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, kind, actor, actor_name, role, environment, host, service, \
             action_id, outcome, detail, prev_hash, hash FROM audit_log \
             WHERE action_id = $1 ORDER BY seq",
        )
        .bind(action_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(row).collect()
    }
}

fn row(r: &sqlx::any::AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        at_ms: r.try_get("at_ms")?,
        kind: r.try_get("kind")?,
        actor: r.try_get("actor")?,
        actor_name: r.try_get("actor_name")?,
        role: r.try_get("role")?,
        environment: r.try_get("environment")?,
        host: r.try_get("host")?,
        service: r.try_get("service")?,
        action_id: r.try_get("action_id")?,
        outcome: r.try_get("outcome")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// The rows as CSV (RFC 4180: every field quoted, quotes doubled), with a header line.
///
/// `at` is the instant in the reader's zone with its offset (RFC 3339), the same zone their
/// pages speak; `at_ms` is the stored instant, as the chain hashes it.
pub fn to_csv(rows: &[AuditRow], zone: &vocab::Zone) -> String {
    // The header bare (its names need no quotes), every row's cells quoted.
    let mut head = crate::text::csv_writer(false);
    crate::text::csv_record(
        &mut head,
        [
            "seq",
            "at_ms",
            "at",
            "kind",
            "actor",
            "actor_name",
            "role",
            "environment",
            "host",
            "service",
            "action_id",
            "outcome",
            "detail",
            "prev_hash",
            "hash",
        ],
    );
    let mut w = crate::text::csv_writer(true);
    for r in rows {
        let (seq, at_ms, at) = (
            r.seq.to_string(),
            r.at_ms.to_string(),
            zone.rfc3339(r.at_ms),
        );
        crate::text::csv_record(
            &mut w,
            [
                seq.as_str(),
                &at_ms,
                &at,
                &r.kind,
                &r.actor,
                &r.actor_name,
                &r.role,
                &r.environment,
                &r.host,
                &r.service,
                &r.action_id,
                &r.outcome,
                &r.detail,
                &r.prev_hash,
                &r.hash,
            ],
        );
    }
    let mut out = crate::text::csv_finish(head);
    out.extend(crate::text::csv_finish(w));
    String::from_utf8_lossy(&out).into_owned()
}

/// Who reads audit rows, and so how much of each row's detail they get.
///
/// Responders and admins read rows whole. A viewer may not run console queries nor see who
/// signed in from where, so a viewer reads that something happened, who did it, when, where and
/// how it ended, and of the detail only the fields [`viewer_fields`] lists for the row's kind:
/// an allow list, so a field added later (or a kind nobody listed) is withheld until someone
/// decides a viewer may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Responders and admins: every field.
    Full,
    /// Viewers: the allowed fields of the detail; the rest withheld, and said so.
    Viewer,
}

impl Reader {
    pub fn of_role(role: vocab::Role) -> Reader {
        if role.allows(vocab::Role::Responder) {
            Reader::Full
        } else {
            Reader::Viewer
        }
    }
}

/// The detail's key naming what was withheld from a viewer (top-level fields, and
/// `field[].inner` for fields inside a list's objects).
pub const WITHHELD: &str = "withheld";

/// What an action's rows may show a viewer: what the action page already shows them (the
/// reason, the guards' verdicts, health, the redacted output), not how it was executed
/// (addresses, command lines, the executor's own steps).
const ACTION: &[&str] = &[
    "action",
    "reason",
    "tried_in_acceptance",
    "verdicts",
    "health_before",
    "health_after",
    "summary",
    "duration_ms",
    "executor",
    "exit_status",
    "exit_signal",
    "output_excerpt",
    "output_bytes",
    "requested_by",
    "seen",
    "note",
    "package",
    "blast_radius",
];

/// Team records (on-call, onboarding, incidents): what their own pages show every viewer.
/// Not `why` (a refusal's text, which may carry a store's error) nor a contact's `phone`.
const TEAM: &[&str] = &[
    "what",
    "kind",
    "shift",
    "from",
    "to",
    "covering",
    "theirs",
    "their_shift",
    "counterpart",
    "requested_by",
    "reason",
    "covers",
    "scope",
    "note",
    "item",
    "person",
    "id",
    "text",
    "verify",
    "title",
    "impact",
    "services",
    "body",
    "status",
    "components",
    "owner",
    "rule",
    "what_done",
    "name",
    "time_zone",
    "areas",
    "seniority",
];

/// The fields of a row's detail a viewer may read, by the row's kind; `list[].field` keeps
/// only `field` of each object in the list `list`. Everything else is withheld:
/// - `console.query`: which shards, how many rows (in all and per shard), how long, whether cut,
///   which shards failed; never the SQL text (`sql`, `ran`), a refusal's `reason` (which quotes
///   the SQL) or any error (a shard's Postgres error can echo values from the datastore).
/// - `signin`, `signin.refused`, `signout`: the provider (and the login); never the address,
///   the browser (`user_agent`) or the provider's error.
/// - `logs.watch`: how many lines, from when, how long; not the remote command line nor the
///   reason it ended (a host's or SSH's error text).
/// - `locks.read`: which hosts and lock files; not a host's error.
/// - `session.revoked`: nothing (the handle names a live session).
/// - `sentinel.status`: nothing (the remote command line, a host's error text).
///
/// The match has no catch-all: a kind added to [`Event`] needs a decision here. A row whose
/// kind this version does not know shows a viewer nothing of its detail.
pub fn viewer_fields(kind: Event) -> &'static [&'static str] {
    match kind {
        Event::ConsoleQuery => &[
            "shards",
            "shard_count",
            "duration_ms",
            "rows",
            "rows_per_shard",
            "truncated",
            "failed[].shard",
        ],
        Event::ConsoleExport | Event::AuditExport => &["format", "rows"],
        Event::Signin => &["provider", "login"],
        Event::SigninRefused | Event::Signout => &["provider"],
        Event::LogsWatch => &["lines", "since", "seconds", "dropped"],
        Event::LocksRead => &["hosts[].environment", "hosts[].host", "hosts[].files"],
        Event::ActionIntent
        | Event::ActionOutcome
        | Event::ActionRefused
        | Event::ActionDuplicate
        | Event::ActionSuperseded
        | Event::ActionCancel => ACTION,
        Event::Onboarding
        | Event::Incident
        | Event::OncallOverride
        | Event::OncallFeed
        | Event::OncallHandoff => TEAM,
        Event::SessionRevoked | Event::SentinelStatus => &[],
    }
}

impl AuditRow {
    /// The row's kind, or `None` for a kind this version does not know.
    pub fn event(&self) -> Option<Event> {
        Event::parse(&self.kind)
    }

    /// This row as `reader` may read it. For a viewer the detail keeps only the fields
    /// [`viewer_fields`] allows, plus [`WITHHELD`] naming the fields left out, and the chain's
    /// hashes are dropped (with the rest of the row known, a hash would confirm a guess of what
    /// was withheld; a withheld row does not verify anyway).
    pub fn for_reader(self, reader: Reader) -> AuditRow {
        match reader {
            Reader::Full => self,
            Reader::Viewer => {
                let detail = viewer_detail(&self.kind, &self.detail);
                AuditRow {
                    detail,
                    prev_hash: String::new(),
                    hash: String::new(),
                    ..self
                }
            }
        }
    }
}

/// The detail (JSON text) as a viewer may read it.
fn viewer_detail(kind: &str, detail: &str) -> String {
    use serde_json::{Map, Value};
    let allowed = Event::parse(kind).map_or(&[][..], viewer_fields);
    let mut kept = Map::new();
    let mut withheld: Vec<String> = Vec::new();
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(fields)) => {
            for (key, value) in fields {
                if key == WITHHELD {
                    withheld.push(key);
                    continue;
                }
                if allowed.contains(&key.as_str()) {
                    kept.insert(key, value);
                    continue;
                }
                let prefix = format!("{key}[].");
                let inner: Vec<&str> = allowed
                    .iter()
                    .filter_map(|a| a.strip_prefix(prefix.as_str()))
                    .collect();
                match value {
                    Value::Array(items) if !inner.is_empty() => {
                        let mut cut = std::collections::BTreeSet::new();
                        let items: Vec<Value> = items
                            .into_iter()
                            .map(|item| match item {
                                Value::Object(o) => Value::Object(
                                    o.into_iter()
                                        .filter(|(k, _)| {
                                            let keep = inner.contains(&k.as_str());
                                            if !keep {
                                                cut.insert(format!("{prefix}{k}"));
                                            }
                                            keep
                                        })
                                        .collect(),
                                ),
                                _ => {
                                    cut.insert(format!("{key}[]"));
                                    Value::Null
                                }
                            })
                            .collect();
                        withheld.extend(cut);
                        kept.insert(key, Value::Array(items));
                    }
                    _ => withheld.push(key),
                }
            }
        }
        Ok(Value::Null) => {}
        // Not an object (or not JSON): nothing of it is a listed field.
        _ => withheld.push("detail".into()),
    }
    if !withheld.is_empty() {
        withheld.sort();
        withheld.dedup();
        kept.insert(
            WITHHELD.into(),
            Value::Array(withheld.into_iter().map(Value::String).collect()),
        );
    }
    Value::Object(kept).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, detail: serde_json::Value) -> AuditRow {
        AuditRow {
            seq: 7,
            at_ms: 1,
            kind: kind.into(),
            actor: "dev:ana".into(),
            actor_name: "ana".into(),
            role: "responder".into(),
            environment: "live".into(),
            host: String::new(),
            service: "builder_originsrv".into(),
            action_id: "q1".into(),
            outcome: "failed".into(),
            detail: detail.to_string(),
            prev_hash: "a".repeat(64),
            hash: "b".repeat(64),
        }
    }

    fn detail(r: &AuditRow) -> serde_json::Value {
        serde_json::from_str(&r.detail).unwrap()
    }

    #[test]
    fn a_viewer_reads_that_a_query_ran_and_how_many_rows_but_no_sql_nor_error() {
        let r = row(
            Event::ConsoleQuery.as_str(),
            serde_json::json!({
                "sql": "SELECT token FROM accounts",
                "shard_count": 2, "duration_ms": 12, "rows": 3,
                "rows_per_shard": {"30": 3}, "truncated": false,
                "failed": [{"shard": 31, "error": "invalid input syntax: \"hunter2\""}],
            }),
        );
        let full = r.clone().for_reader(Reader::Full);
        assert_eq!(full, r, "a responder reads the row as stored");
        let v = r.for_reader(Reader::Viewer);
        assert!(
            !v.detail.contains("SELECT") && !v.detail.contains("hunter2"),
            "{}",
            v.detail
        );
        assert_eq!(
            detail(&v),
            serde_json::json!({
                "shard_count": 2, "duration_ms": 12, "rows": 3,
                "rows_per_shard": {"30": 3}, "truncated": false,
                "failed": [{"shard": 31}],
                "withheld": ["failed[].error", "sql"],
            })
        );
        assert_eq!((v.hash.as_str(), v.prev_hash.as_str()), ("", ""));
        assert_eq!(
            (v.actor_name.as_str(), v.outcome.as_str()),
            ("ana", "failed")
        );
    }

    #[test]
    fn a_viewer_reads_no_address_nor_browser_of_a_sign_in() {
        let v = row(
            Event::Signin.as_str(),
            serde_json::json!({"provider": "github", "login": "ana",
                "address": "203.0.113.9", "user_agent": "Mozilla/5.0 Secret"}),
        )
        .for_reader(Reader::Viewer);
        assert_eq!(
            detail(&v),
            serde_json::json!({"provider": "github", "login": "ana",
                "withheld": ["address", "user_agent"]})
        );
    }

    #[test]
    fn an_unlisted_kind_or_field_is_withheld_from_a_viewer() {
        let v =
            row("something.new", serde_json::json!({"anything": "x"})).for_reader(Reader::Viewer);
        assert_eq!(detail(&v), serde_json::json!({"withheld": ["anything"]}));
        // A kind this version does not know is read, but nothing of its detail is shown, even
        // when it looks like a known family's.
        let r = row("action.new", serde_json::json!({"reason": "x"}));
        assert_eq!(r.event(), None);
        let v = r.for_reader(Reader::Viewer);
        assert_eq!(detail(&v), serde_json::json!({"withheld": ["reason"]}));
        let v = row(
            Event::Signin.as_str(),
            serde_json::json!({"provider": "x", "new_field": "y"}),
        )
        .for_reader(Reader::Viewer);
        assert_eq!(
            detail(&v),
            serde_json::json!({"provider": "x", "withheld": ["new_field"]})
        );
        // A detail that is not an object, or a stored `withheld` key, is no way around it.
        let mut r = row(Event::Signin.as_str(), serde_json::json!({}));
        r.detail = "\"203.0.113.9\"".into();
        let v = r.for_reader(Reader::Viewer);
        assert!(!v.detail.contains("203.0.113.9"));
        let v = row(
            Event::Signin.as_str(),
            serde_json::json!({"withheld": "203.0.113.9", "provider": "x"}),
        )
        .for_reader(Reader::Viewer);
        assert!(!v.detail.contains("203.0.113.9"), "{}", v.detail);
        // A list of something else than objects, where objects are expected.
        let v = row(
            Event::ConsoleQuery.as_str(),
            serde_json::json!({"failed": ["secret"]}),
        )
        .for_reader(Reader::Viewer);
        assert!(!v.detail.contains("secret"), "{}", v.detail);
    }

    #[test]
    fn roles_map_to_readers() {
        assert_eq!(Reader::of_role(vocab::Role::Viewer), Reader::Viewer);
        assert_eq!(Reader::of_role(vocab::Role::Responder), Reader::Full);
        assert_eq!(Reader::of_role(vocab::Role::Admin), Reader::Full);
    }
}

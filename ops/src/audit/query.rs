//! Reading the audit log: the audit page's filters, exports, and a target's recent actions.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::AuditLog;
use crate::store::StoreError;

/// One row as stored (the chain's hashes included: an export can be verified elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
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
pub fn to_csv(rows: &[AuditRow]) -> String {
    let mut out = String::from(
        "seq,at_ms,kind,actor,actor_name,role,environment,host,service,action_id,outcome,detail,prev_hash,hash\n",
    );
    for r in rows {
        let fields = [
            r.seq.to_string(),
            r.at_ms.to_string(),
            r.kind.clone(),
            r.actor.clone(),
            r.actor_name.clone(),
            r.role.clone(),
            r.environment.clone(),
            r.host.clone(),
            r.service.clone(),
            r.action_id.clone(),
            r.outcome.clone(),
            r.detail.clone(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::text::csv_cell(&mut out, f);
        }
        out.push('\n');
    }
    out
}

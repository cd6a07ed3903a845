//! The audit log: every attempt of anything a person does through Onwatch, allowed or refused,
//! in an append-only table whose rows are hash-chained (see `migrations/*/0006_audit_log.sql`).
//!
//! A row's hash is SHA-256 over the previous row's hash, a newline, and the row's canonical
//! content: the JSON of [`Canonical`] (fields in a fixed order, `detail` as the exact text
//! stored). Appends take the `audit_head` row first, which serialises them across replicas
//! sharing one Postgres, so the chain never forks; the head also remembers the last row, so that
//! rows deleted at the end are seen by [`AuditLog::verify`].

pub mod query;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::{Store, StoreError};

pub use query::{AuditFilter, AuditRow};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something: the stable identity, the name shown at the time, the role then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `github:#1234`, `oidc:<sub>`, `dev:<name>`, or `onwatch` for Onwatch itself.
    pub id: String,
    pub name: String,
    pub role: String,
}

impl Actor {
    /// Onwatch itself (marking an interrupted action at start, for example).
    pub fn onwatch() -> Actor {
        Actor {
            id: "onwatch".into(),
            name: "Onwatch".into(),
            role: "system".into(),
        }
    }
}

/// A row to append. Empty strings stand for "not about a host" and so on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub action_id: String,
    pub outcome: String,
    /// Anything else, as JSON (an object).
    pub detail: serde_json::Value,
}

/// The content a row's hash covers, in this order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at_ms: i64,
    kind: &'a str,
    actor: &'a str,
    actor_name: &'a str,
    role: &'a str,
    environment: &'a str,
    host: &'a str,
    service: &'a str,
    action_id: &'a str,
    outcome: &'a str,
    detail: &'a str,
}

fn hash_of(prev: &str, row: &Canonical<'_>) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    // Serialising a struct of strings and integers cannot fail.
    h.update(serde_json::to_vec(row).unwrap_or_default());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an append wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    pub at_ms: i64,
    pub hash: String,
}

/// What [`AuditLog::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Rows read.
    pub rows: i64,
    /// The first row that breaks the chain and why, or `None` when the chain holds.
    pub broken: Option<Broken>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broken {
    /// The sequence number of the row at fault (or where a missing row should be).
    pub seq: i64,
    pub why: String,
}

/// The audit log of the portal's store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Store,
}

impl AuditLog {
    pub fn new(store: Store) -> AuditLog {
        AuditLog { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Appends one row, committed when this returns `Ok`. The time is the store's clock.
    pub async fn append(&self, actor: &Actor, entry: &Entry) -> Result<Appended, StoreError> {
        let detail = serde_json::to_string(&entry.detail).map_err(|e| {
            StoreError::Corrupt(format!("an audit detail cannot be written as JSON: {e}"))
        })?;
        let mut tx = self.store.begin_write().await?;
        // First a write to the head, which returns it and the store's clock in the same round
        // trip: on Postgres it holds the row lock until commit (so a second replica waits
        // here), on SQLite it takes the write lock before anything is read.
        let clock = self
            .store
            .clock_sql()
            .strip_prefix("SELECT ")
            .unwrap_or("0");
        let head = sqlx::query(&format!(
            "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash, {clock} AS now_ms"
        ))
        .fetch_one(&mut *tx)
        .await?;
        let prev_seq: i64 = head.try_get("seq")?;
        let prev_hash: String = head.try_get("hash")?;
        let at_ms: i64 = head.try_get("now_ms")?;
        let seq = prev_seq + 1;
        let canonical = Canonical {
            seq,
            at_ms,
            kind: &entry.kind,
            actor: &actor.id,
            actor_name: &actor.name,
            role: &actor.role,
            environment: &entry.environment,
            host: &entry.host,
            service: &entry.service,
            action_id: &entry.action_id,
            outcome: &entry.outcome,
            detail: &detail,
        };
        let hash = hash_of(&prev_hash, &canonical);
        sqlx::query(
            "INSERT INTO audit_log (seq, at_ms, kind, actor, actor_name, role, environment, host, \
             service, action_id, outcome, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(seq)
        .bind(at_ms)
        .bind(&entry.kind)
        .bind(&actor.id)
        .bind(&actor.name)
        .bind(&actor.role)
        .bind(&entry.environment)
        .bind(&entry.host)
        .bind(&entry.service)
        .bind(&entry.action_id)
        .bind(&entry.outcome)
        .bind(&detail)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Appended { seq, at_ms, hash })
    }

    /// Reads the whole chain in order and checks every row: its number follows the last, its
    /// `prev_hash` is the last row's hash, its hash is that of its content; and the last row is
    /// the one the head names. Names the first row that fails.
    pub async fn verify(&self) -> Result<Verification, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT seq, at_ms, kind, actor, actor_name, role, environment, host, service, \
             action_id, outcome, detail, prev_hash, hash FROM audit_log ORDER BY seq",
        )
        .fetch(self.store.pool());
        let mut expected_seq = 1i64;
        let mut prev = GENESIS.to_owned();
        let mut n = 0i64;
        let broken = |seq: i64, why: String| Verification {
            rows: 0,
            broken: Some(Broken { seq, why }),
        };
        while let Some(r) = rows.try_next().await? {
            n += 1;
            let seq: i64 = r.try_get("seq")?;
            let stored_prev: String = r.try_get("prev_hash")?;
            let stored_hash: String = r.try_get("hash")?;
            let text = |c: &str| r.try_get::<String, _>(c);
            let (kind, actor, actor_name, role) = (
                text("kind")?,
                text("actor")?,
                text("actor_name")?,
                text("role")?,
            );
            let (environment, host, service) =
                (text("environment")?, text("host")?, text("service")?);
            let (action_id, outcome, detail) =
                (text("action_id")?, text("outcome")?, text("detail")?);
            if seq != expected_seq {
                let why = if seq > expected_seq {
                    format!("row {expected_seq} is missing (the next row is {seq}): it was deleted")
                } else {
                    format!(
                        "row {seq} appears out of order after row {}",
                        expected_seq - 1
                    )
                };
                return Ok(with_rows(broken(expected_seq.min(seq), why), n));
            }
            if stored_prev != prev {
                return Ok(with_rows(
                    broken(
                        seq,
                        format!(
                            "row {seq} does not follow row {}: its previous hash is not that row's hash (a row was deleted, inserted or reordered)",
                            seq - 1
                        ),
                    ),
                    n,
                ));
            }
            let canonical = Canonical {
                seq,
                at_ms: r.try_get("at_ms")?,
                kind: &kind,
                actor: &actor,
                actor_name: &actor_name,
                role: &role,
                environment: &environment,
                host: &host,
                service: &service,
                action_id: &action_id,
                outcome: &outcome,
                detail: &detail,
            };
            if hash_of(&prev, &canonical) != stored_hash {
                return Ok(with_rows(
                    broken(
                        seq,
                        format!("row {seq} was changed after it was written: its content does not match its hash"),
                    ),
                    n,
                ));
            }
            prev = stored_hash;
            expected_seq += 1;
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(self.store.pool())
            .await?;
        let Some(head) = head else {
            return Ok(with_rows(
                broken(expected_seq, "the chain's head row is missing".into()),
                n,
            ));
        };
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        if head_seq != expected_seq - 1 || head_hash != prev {
            return Ok(with_rows(
                broken(
                    expected_seq,
                    format!(
                        "the chain ends at row {} but its head names row {head_seq}: rows at the end were deleted",
                        expected_seq - 1
                    ),
                ),
                n,
            ));
        }
        Ok(Verification {
            rows: n,
            broken: None,
        })
    }
}

fn with_rows(mut v: Verification, n: i64) -> Verification {
    v.rows = n;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let base = Canonical {
            seq: 1,
            at_ms: 5,
            kind: "action.intent",
            actor: "github:#1",
            actor_name: "ada",
            role: "responder",
            environment: "live",
            host: "h",
            service: "builder-api.live",
            action_id: "a",
            outcome: "",
            detail: "{}",
        };
        let h = hash_of(GENESIS, &base);
        assert_eq!(h.len(), 64);
        assert_ne!(h, hash_of("x", &base), "the previous hash counts");
        assert_ne!(h, hash_of(GENESIS, &Canonical { seq: 2, ..base }));
        assert_ne!(
            h,
            hash_of(
                GENESIS,
                &Canonical {
                    detail: "{\"reason\":\"\"}",
                    ..base
                }
            )
        );
        assert_ne!(
            h,
            hash_of(
                GENESIS,
                &Canonical {
                    role: "admin",
                    ..base
                }
            )
        );
    }
}

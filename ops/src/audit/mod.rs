//! The audit log: every attempt of anything a person does through Onwatch, allowed or refused,
//! in an append-only table whose rows are hash-chained (see `migrations/*/0006_audit_log.sql`).
//!
//! A row's hash is SHA-256 over the previous row's hash, a newline, and the row's canonical
//! content: the JSON of [`Canonical`] (fields in a fixed order, `detail` as the exact text
//! stored). Appends take the `audit_head` row first, which serialises them across replicas
//! sharing one Postgres, so the chain never forks; the head also remembers the last row, so that
//! rows deleted at the end are seen by [`AuditLog::verify`].
//!
//! The database guards the head too (`0011_audit_guard.sql`: it moves only forward onto the
//! newest row, `TRUNCATE` is refused), but a person who can drop triggers can still cut the end
//! and put the head back, or re-hash the whole chain: nothing inside the store shows that. Signed
//! checkpoints of the head kept elsewhere do ([`checkpoint`], [`AuditLog::verify_against`]).

pub mod checkpoint;
mod event;
pub mod query;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::{Backend, Store, StoreError};

pub use event::{Event, UnknownEvent};
pub use query::{AuditFilter, AuditRow, Reader};

/// The most bytes of one short field of a row (kind, names, host, …): longer ones are cut,
/// saying so.
pub const MAX_FIELD: usize = 512;
/// The most bytes of a row's detail (JSON): a longer one is replaced by its beginning and a note.
pub const MAX_DETAIL: usize = 64 * 1024;

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

/// A row to append. Empty strings stand for "not about a host" and so on: start from
/// [`Entry::new`] with the row's kind and set what applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Event,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub action_id: String,
    pub outcome: String,
    /// Anything else, as JSON (an object).
    pub detail: serde_json::Value,
}

impl Entry {
    /// A row of `kind` about nothing in particular yet (every other field empty).
    pub fn new(kind: Event) -> Entry {
        Entry {
            kind,
            environment: String::new(),
            host: String::new(),
            service: String::new(),
            action_id: String::new(),
            outcome: String::new(),
            detail: serde_json::Value::Null,
        }
    }
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

    /// How many times `actor` attempted `event` since `since_ms` (their attempt rows, whatever
    /// came of them): the rate limits of the reads that open an SSH session count these.
    pub async fn attempts_since(
        &self,
        event: Event,
        actor: &str,
        since_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM audit_log WHERE kind = $1 AND actor = $2 AND outcome = '' \
             AND at_ms >= $3",
        )
        .bind(event.as_str())
        .bind(actor)
        .bind(since_ms)
        .fetch_one(self.store.pool())
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Appends one row, committed when this returns `Ok`. The time is the store's clock.
    pub async fn append(&self, actor: &Actor, entry: &Entry) -> Result<Appended, StoreError> {
        // Bounded before anything is stored: a field can carry what a person typed or a host
        // answered, and the log keeps it forever. A cut field says so (the detail as an object
        // with what was kept and how much was cut).
        let detail = serde_json::to_string(&entry.detail).map_err(|e| {
            StoreError::Corrupt(format!("an audit detail cannot be written as JSON: {e}"))
        })?;
        let detail = if detail.len() > MAX_DETAIL {
            serde_json::json!({
                "cut": format!("the detail was {} bytes, more than the {MAX_DETAIL} an audit row keeps; its beginning is kept", detail.len()),
                "excerpt": crate::text::cut(&detail, MAX_DETAIL / 2),
            })
            .to_string()
        } else {
            detail
        };
        let field = |s: &str| crate::text::cut(s, MAX_FIELD);
        let actor = &Actor {
            id: field(&actor.id),
            name: field(&actor.name),
            role: field(&actor.role),
        };
        let entry = &Entry {
            kind: entry.kind,
            environment: field(&entry.environment),
            host: field(&entry.host),
            service: field(&entry.service),
            action_id: field(&entry.action_id),
            outcome: field(&entry.outcome),
            detail: serde_json::Value::Null,
        };
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
            kind: entry.kind.as_str(),
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
        .bind(entry.kind.as_str())
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
    ///
    /// Only what the store holds is checked: a chain cut at its end with the head put back, or
    /// re-hashed whole, holds by itself. [`AuditLog::verify_against`] checks it against
    /// checkpoints kept elsewhere too.
    pub async fn verify(&self) -> Result<Verification, StoreError> {
        Ok(self.walk(0, GENESIS, &[]).await?.0)
    }

    /// [`AuditLog::verify`], and the chain must contain every anchor: a row with a checkpoint's
    /// number and hash (so a chain shorter than a checkpoint, or rewritten up to it, fails), or
    /// some row with a bare head hash.
    pub async fn verify_against(&self, anchors: &[Anchor]) -> Result<Verification, StoreError> {
        Ok(self.walk(0, GENESIS, anchors).await?.0)
    }

    /// Checks the chain from `since` (a head signed before; `None`: from the start) to its head,
    /// all in one snapshot of the store, and returns that head, or the first row that breaks it.
    /// With `since`, that row must be there with that hash, and only the rows after it are read,
    /// so that signing a checkpoint every few minutes costs the rows since the last one.
    pub async fn verified_head(
        &self,
        since: Option<&Head>,
    ) -> Result<Result<Head, Broken>, StoreError> {
        let (seq, hash) = since.map_or((0, GENESIS), |h| (h.seq, h.hash.as_str()));
        let (v, head) = self.walk(seq, hash, &[]).await?;
        Ok(match v.broken {
            None => Ok(head),
            Some(b) => Err(b),
        })
    }

    /// The walk behind the checks above: from row `from_seq` (whose hash is `from_hash`; 0 and
    /// [`GENESIS`] for the whole chain) to the head. Returns what it found and the last row that
    /// held (the head, when nothing is broken).
    async fn walk(
        &self,
        from_seq: i64,
        from_hash: &str,
        anchors: &[Anchor],
    ) -> Result<(Verification, Head), StoreError> {
        // One snapshot for the rows and the head: an append between reading the last row and
        // reading the head would otherwise look like rows deleted at the end. SQLite's read
        // transaction (WAL) is a snapshot already; Postgres's default is one per statement.
        let mut tx = self.store.pool().begin().await?;
        if self.store.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let mut walk = Walk {
            last: Head {
                seq: from_seq,
                hash: from_hash.to_owned(),
            },
            rows: 0,
            hash_found: anchors
                .iter()
                .map(|a| matches!(a, Anchor::Hash(h) if h == from_hash))
                .collect(),
        };
        let broken = walk.rows_from(&mut tx, anchors).await?;
        let broken = match broken {
            Some(b) => Some(b),
            None => walk.ends_right(&mut tx, anchors).await?,
        };
        Ok((
            Verification {
                rows: walk.rows,
                broken,
            },
            walk.last,
        ))
    }
}

/// A walk along the chain: the last row that held, how many were read, which bare hashes were
/// seen.
struct Walk {
    last: Head,
    rows: i64,
    hash_found: Vec<bool>,
}

impl Walk {
    /// The start row (when not the chain's start), then every row after it in order. The first
    /// row that breaks the chain, if one does.
    async fn rows_from(
        &mut self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        anchors: &[Anchor],
    ) -> Result<Option<Broken>, StoreError> {
        use futures_util::TryStreamExt;
        let broken = |seq: i64, why: String| Ok(Some(Broken { seq, why }));
        let from_seq = self.last.seq;
        if from_seq > 0 {
            let start: Option<String> =
                sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                    .bind(from_seq)
                    .fetch_optional(&mut **tx)
                    .await?;
            if start.as_deref() != Some(self.last.hash.as_str()) {
                let what = if start.is_some() {
                    "has another hash"
                } else {
                    "is missing"
                };
                return broken(
                    from_seq,
                    format!(
                        "row {from_seq}, signed before, {what}: the chain was cut or rewritten up to it"
                    ),
                );
            }
        }
        let mut rows = sqlx::query(
            "SELECT seq, at_ms, kind, actor, actor_name, role, environment, host, service, \
             action_id, outcome, detail, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq",
        )
        .bind(from_seq)
        .fetch(&mut **tx);
        while let Some(r) = rows.try_next().await? {
            self.rows += 1;
            let expected_seq = self.last.seq + 1;
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
                return broken(expected_seq.min(seq), why);
            }
            if stored_prev != self.last.hash {
                return broken(
                    seq,
                    format!(
                        "row {seq} does not follow row {}: its previous hash is not that row's hash (a row was deleted, inserted or reordered)",
                        seq - 1
                    ),
                );
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
            if hash_of(&self.last.hash, &canonical) != stored_hash {
                return broken(
                    seq,
                    format!("row {seq} was changed after it was written: its content does not match its hash"),
                );
            }
            for (anchor, found) in anchors.iter().zip(self.hash_found.iter_mut()) {
                match anchor {
                    Anchor::Row { seq: at, hash } if *at == seq && *hash != stored_hash => {
                        return broken(
                            seq,
                            format!(
                                "row {seq} is not the row the checkpoint signed (its hash is {}…, the checkpoint's {}…): the chain was rewritten and re-hashed up to this row",
                                short(&stored_hash),
                                short(hash)
                            ),
                        );
                    }
                    Anchor::Hash(h) if *h == stored_hash => *found = true,
                    _ => {}
                }
            }
            self.last = Head {
                seq,
                hash: stored_hash,
            };
        }
        Ok(None)
    }

    /// After the last row: every checkpoint was reached, and the head names that row.
    async fn ends_right(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        anchors: &[Anchor],
    ) -> Result<Option<Broken>, StoreError> {
        let last = self.last.seq;
        let broken = |seq: i64, why: String| Ok(Some(Broken { seq, why }));
        // Checkpoints first: a chain cut at its end with its head put back holds by itself.
        for (anchor, found) in anchors.iter().zip(&self.hash_found) {
            match anchor {
                Anchor::Row { seq, .. } if *seq > last => {
                    return broken(
                        last + 1,
                        format!(
                            "the chain ends at row {last} but a checkpoint signed row {seq}: rows {}–{seq} were removed (cut or truncated)",
                            last + 1
                        ),
                    );
                }
                Anchor::Row { seq: 0, hash } if hash.as_str() != GENESIS => {
                    return broken(
                        0,
                        "the checkpoint names row 0 with a hash other than the chain's start"
                            .into(),
                    );
                }
                Anchor::Hash(h) if !found => {
                    return broken(
                        last + 1,
                        format!(
                            "no row of the chain has the hash {}…: the chain was cut or rewritten (or the hash is not from this store)",
                            short(h)
                        ),
                    );
                }
                _ => {}
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut **tx)
            .await?;
        let Some(head) = head else {
            return broken(last + 1, "the chain's head row is missing".into());
        };
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        if head_seq != last || head_hash != self.last.hash {
            return broken(
                last + 1,
                format!(
                    "the chain ends at row {last} but its head names row {head_seq}: rows at the end were deleted"
                ),
            );
        }
        Ok(None)
    }
}

/// The chain's last row, as its head names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// What [`AuditLog::verify_against`] expects to find in the chain, from a record kept outside
/// the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// Row `seq` has this hash (a signed checkpoint).
    Row { seq: i64, hash: String },
    /// Some row has this hash (a head hash written down elsewhere, without its number).
    Hash(String),
}

/// The start of a hash, enough to tell two apart in a message.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let base = Canonical {
            seq: 1,
            at_ms: 5,
            kind: Event::ActionIntent.as_str(),
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
        // Each field of the canonical form changed on its own. The list is checked against the
        // form's JSON, so a field added to `Canonical` without a line here fails the test.
        let changed: Vec<(&str, Canonical<'_>)> = vec![
            ("seq", Canonical { seq: 2, ..base }),
            ("at_ms", Canonical { at_ms: 6, ..base }),
            (
                "kind",
                Canonical {
                    kind: Event::ActionOutcome.as_str(),
                    ..base
                },
            ),
            (
                "actor",
                Canonical {
                    actor: "github:#2",
                    ..base
                },
            ),
            (
                "actor_name",
                Canonical {
                    actor_name: "bob",
                    ..base
                },
            ),
            (
                "role",
                Canonical {
                    role: "admin",
                    ..base
                },
            ),
            (
                "environment",
                Canonical {
                    environment: "acceptance",
                    ..base
                },
            ),
            ("host", Canonical { host: "h2", ..base }),
            (
                "service",
                Canonical {
                    service: "builder-jobsrv.live",
                    ..base
                },
            ),
            (
                "action_id",
                Canonical {
                    action_id: "b",
                    ..base
                },
            ),
            (
                "outcome",
                Canonical {
                    outcome: "succeeded",
                    ..base
                },
            ),
            (
                "detail",
                Canonical {
                    detail: "{\"reason\":\"\"}",
                    ..base
                },
            ),
        ];
        let fields: Vec<String> = match serde_json::to_value(&base) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            other => panic!("the canonical form is a JSON object: {other:?}"),
        };
        let mut named: Vec<String> = changed.iter().map(|(f, _)| (*f).to_owned()).collect();
        named.sort();
        let mut fields_sorted = fields.clone();
        fields_sorted.sort();
        assert_eq!(
            named, fields_sorted,
            "every field of the canonical form is changed once"
        );
        for (field, row) in &changed {
            assert_ne!(
                h,
                hash_of(GENESIS, row),
                "a changed {field} changes the hash"
            );
        }
    }
}

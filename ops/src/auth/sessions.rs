//! Sign-in sessions as rows of the portal's store, so that they survive a restart and are shared
//! by every Onwatch replica on the same Postgres store.
//!
//! Every request needs its session, so a session read from the store is kept in memory for a
//! moment (the [`SessionStore`]'s cache, `auth.session_cache_ms`, 2 s by default): a page view
//! then costs no store round trip. Whatever this process writes or deletes (sign-in, sign-out, revocation,
//! idle-expiry touch) updates the cache at once; a session revoked through another replica is
//! refused here within that moment.
//!
//! The session id is a bearer credential: it never leaves the server except in the person's own
//! cookie, and the store does not keep it: rows are keyed by [`store_key`] (SHA-256 of the id),
//! which the server computes from the cookie and hands to everything here. Whoever reads the
//! store cannot turn a row back into a cookie. The admin page names sessions by a separate
//! random `handle`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::{Store, StoreError};

/// The key of a session's row: SHA-256 of the session id (the cookie's value), in hex. Session
/// ids are 128 random bits, so no salt or slow hash is needed to make this irreversible.
pub fn store_key(session_id: &str) -> String {
    super::pending::hex(&Sha256::digest(session_id.as_bytes()))
}

/// The sessions table of the portal's store, with the cache in front of it. Cheap to clone: every
/// clone shares one cache, so a sign-out through one handle is seen by all.
#[derive(Debug, Clone)]
pub struct SessionStore {
    store: Store,
    cache: Arc<SessionCache>,
}

/// Sessions recently read from or written to the store, by id.
#[derive(Debug)]
struct SessionCache {
    ttl: Duration,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<String, CachedSession>,
    /// Moves on every deletion, so that a read that raced with one does not put back what
    /// was deleted.
    epoch: u64,
}

#[derive(Debug, Clone)]
struct CachedSession {
    data: String,
    expires_ms: i64,
    at: Instant,
}

/// Above this many cached sessions, stale entries are dropped (and, if all are fresh, all).
const SESSION_CACHE_MAX: usize = 10_000;

impl SessionCache {
    fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            entries: Mutex::new(Entries::default()),
        }
    }

    fn get(&self, id: &str, now_ms: i64) -> Option<(String, i64)> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let e = entries.by_id.get(id)?;
        (e.at.elapsed() < self.ttl && e.expires_ms > now_ms).then(|| (e.data.clone(), e.expires_ms))
    }

    fn epoch(&self) -> u64 {
        self.entries.lock().map(|e| e.epoch).unwrap_or(u64::MAX)
    }

    /// Remembers a session read from or written to the store when the cache was at `read_at`,
    /// unless a deletion happened since.
    fn put(&self, read_at: u64, id: &str, data: &str, expires_ms: i64) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if read_at != entries.epoch {
                return;
            }
            if entries.by_id.len() >= SESSION_CACHE_MAX && !entries.by_id.contains_key(id) {
                let ttl = self.ttl;
                entries.by_id.retain(|_, e| e.at.elapsed() < ttl);
                if entries.by_id.len() >= SESSION_CACHE_MAX {
                    entries.by_id.clear();
                }
            }
            entries.by_id.insert(
                id.to_owned(),
                CachedSession {
                    data: data.to_owned(),
                    expires_ms,
                    at: Instant::now(),
                },
            );
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.by_id.remove(id);
            entries.epoch = entries.epoch.wrapping_add(1);
        }
    }

    fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.by_id.clear();
            entries.epoch = entries.epoch.wrapping_add(1);
        }
    }
}

/// One stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The row's key: [`store_key`] of the session id, never the id itself.
    pub id: String,
    /// The session's data as the server hands it over (the server seals it: the identity and
    /// the provider's tokens are not readable in the store).
    pub data: String,
    /// The session ends at this moment unless activity moves it forward (idle expiry).
    pub expires_ms: i64,
    /// Copied out of `data` for the admin page; `None` before sign-in.
    pub meta: Option<SessionMeta>,
}

/// Who a session belongs to, as the admin page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMeta {
    pub login: String,
    pub name: String,
    pub provider: String,
    pub role: String,
    pub signed_in_ms: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

/// An active, signed-in session as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ActiveSession {
    /// Names the session for revocation; not the session id.
    pub handle: String,
    pub login: String,
    pub name: String,
    pub provider: String,
    pub role: String,
    pub signed_in_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
}

impl SessionStore {
    /// The sessions of `store`; a session read from it is trusted for `cache_ttl` (zero: read
    /// on every request).
    pub fn new(store: Store, cache_ttl: Duration) -> SessionStore {
        SessionStore {
            store,
            cache: Arc::new(SessionCache::new(cache_ttl)),
        }
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    /// Inserts a new session; `false` if the id is taken (the caller draws another).
    pub async fn create(&self, row: &SessionRow, now_ms: i64) -> Result<bool, StoreError> {
        let epoch = self.cache.epoch();
        let done = bind_row(
            concat!(insert_session!(), " ON CONFLICT (id) DO NOTHING"),
            row,
            now_ms,
        )
        .execute(self.pool())
        .await?;
        let created = done.rows_affected() == 1;
        if created {
            self.cache.put(epoch, &row.id, &row.data, row.expires_ms);
        }
        Ok(created)
    }

    /// Writes a session's data and expiry. A session that is no longer stored (revoked, signed
    /// out, cleaned up after expiry) stays gone: a request that was in flight when an admin
    /// revoked it cannot bring it back by saving it. New sessions go through
    /// [`SessionStore::create`].
    pub async fn save(&self, row: &SessionRow, now_ms: i64) -> Result<(), StoreError> {
        // Like a read, a write remembers only if no deletion (a revocation) came in between:
        // otherwise a save that raced with a revoke would put the revoked session back.
        let epoch = self.cache.epoch();
        let done = bind_row(
            "UPDATE sessions SET handle = COALESCE(handle, $2), data = $3, expires_ms = $4, \
             updated_ms = $5, login = $6, name = $7, provider = $8, role = $9, \
             signed_in_ms = $10, user_agent = $11, address = $12 WHERE id = $1",
            row,
            now_ms,
        )
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 1 {
            self.cache.put(epoch, &row.id, &row.data, row.expires_ms);
        }
        Ok(())
    }

    /// A session's data and expiry, if it exists and has not expired.
    pub async fn load(&self, id: &str, now_ms: i64) -> Result<Option<(String, i64)>, StoreError> {
        if let Some(hit) = self.cache.get(id, now_ms) {
            return Ok(Some(hit));
        }
        let epoch = self.cache.epoch();
        let row =
            sqlx::query("SELECT data, expires_ms FROM sessions WHERE id = $1 AND expires_ms > $2")
                .bind(id)
                .bind(now_ms)
                .fetch_optional(self.pool())
                .await?;
        match row {
            Some(r) => {
                let (data, expires_ms): (String, i64) =
                    (r.try_get("data")?, r.try_get("expires_ms")?);
                self.cache.put(epoch, id, &data, expires_ms);
                Ok(Some((data, expires_ms)))
            }
            None => {
                self.cache.forget(id);
                Ok(None)
            }
        }
    }

    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        // After the deletion: a read that began before it cannot put the session back (epoch).
        self.cache.forget(id);
        Ok(())
    }

    /// Ends the session named by `handle` (the admin page's revoke). `false` if there is none.
    pub async fn revoke(&self, handle: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE handle = $1")
            .bind(handle)
            .execute(self.pool())
            .await?;
        // The cache knows sessions by id, not by handle: forget them all (revocation is rare).
        self.cache.forget_all();
        Ok(done.rows_affected() > 0)
    }

    /// Every signed-in session that has not expired, most recently active first.
    pub async fn active(&self, now_ms: i64) -> Result<Vec<ActiveSession>, StoreError> {
        let rows = sqlx::query(
            "SELECT handle, login, name, provider, role, signed_in_ms, updated_ms, expires_ms, \
             user_agent, address FROM sessions \
             WHERE login IS NOT NULL AND expires_ms > $1 ORDER BY updated_ms DESC, handle",
        )
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ActiveSession {
                    handle: r.try_get("handle")?,
                    login: r.try_get("login")?,
                    name: r.try_get::<Option<String>, _>("name")?.unwrap_or_default(),
                    provider: r
                        .try_get::<Option<String>, _>("provider")?
                        .unwrap_or_default(),
                    role: r.try_get::<Option<String>, _>("role")?.unwrap_or_default(),
                    signed_in_ms: r.try_get::<Option<i64>, _>("signed_in_ms")?.unwrap_or(0),
                    last_seen_ms: r.try_get("updated_ms")?,
                    expires_ms: r.try_get("expires_ms")?,
                    user_agent: r.try_get("user_agent")?,
                    address: r.try_get("address")?,
                })
            })
            .collect()
    }

    /// Deletes sessions that expired before `now_ms`; returns how many.
    pub async fn delete_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// The INSERT of a new session ($1 id … $12 address; $5 is created and updated); the UPDATE of
/// [`SessionStore::save`] binds the same values.
macro_rules! insert_session {
    () => {
        "INSERT INTO sessions (id, handle, data, expires_ms, created_ms, updated_ms, \
         login, name, provider, role, signed_in_ms, user_agent, address) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12)"
    };
}
use insert_session;

/// `sql` (an [`insert_session!`] statement) with the row's values bound.
fn bind_row<'q>(
    sql: &'q str,
    row: &'q SessionRow,
    now_ms: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let meta = row.meta.as_ref();
    sqlx::query(sql)
        .bind(&row.id)
        .bind(new_handle())
        .bind(&row.data)
        .bind(row.expires_ms)
        .bind(now_ms)
        .bind(meta.map(|m| m.login.as_str()))
        .bind(meta.map(|m| m.name.as_str()))
        .bind(meta.map(|m| m.provider.as_str()))
        .bind(meta.map(|m| m.role.as_str()))
        .bind(meta.map(|m| m.signed_in_ms))
        .bind(meta.and_then(|m| m.user_agent.as_deref()))
        .bind(meta.and_then(|m| m.address.as_deref()))
}

/// A random handle for the admin page (not derived from the session id).
fn new_handle() -> String {
    let token = oauth2::CsrfToken::new_random_len(9);
    token.secret().replace(['-', '_'], "x")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that raced with a revocation: the write's epoch was taken before it, the
    /// revocation forgot everything after it, and the write's late `put` must not bring the
    /// revoked session back into the cache (`create` and `save` pass the epoch they started at).
    #[test]
    fn a_put_after_a_revocation_is_ignored() {
        let cache = SessionCache::new(Duration::from_secs(60));
        cache.put(cache.epoch(), "s1", "{}", i64::MAX);
        assert!(cache.get("s1", 0).is_some());
        let before_write = cache.epoch();
        cache.forget_all(); // the revocation lands while the write is in flight
        cache.put(before_write, "s1", "{\"touched\":1}", i64::MAX);
        assert_eq!(cache.get("s1", 0), None, "the revoked session stays out");
        cache.put(cache.epoch(), "s2", "{}", i64::MAX);
        assert!(cache.get("s2", 0).is_some(), "later writes are cached");
    }
}

//! Sign-ins in progress, as short-lived rows of the portal's store (table `pending_signins`).
//!
//! An anonymous visitor can start as many sign-ins as they like, so what a start writes is
//! bounded: a row lives [`PENDING_TTL_MS`], the table holds at most [`PENDING_CAP`] rows (the
//! oldest make room), and nothing about it is a session. A callback [`take`](PendingSignIns::take)s
//! its row — deletes it and gets it back in one statement — before the provider is asked
//! anything, so a callback works once, also when that one attempt failed.

use sqlx::Row;

use super::PendingSignIn;
use crate::store::{Store, StoreError};

/// How long a sign-in may take between leaving for the provider and coming back.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;
/// Most sign-ins in progress at once; beyond it the oldest are dropped (their callback then
/// says to start again).
pub const PENDING_CAP: i64 = 2_000;

#[derive(Debug, Clone)]
pub struct PendingSignIns {
    store: Store,
}

impl PendingSignIns {
    pub fn new(store: Store) -> PendingSignIns {
        PendingSignIns { store }
    }

    /// Remembers `pending` under `id` (the browser's cookie) until `now_ms + PENDING_TTL_MS`.
    pub async fn put(
        &self,
        id: &str,
        pending: &PendingSignIn,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_string(pending)
            .map_err(|e| StoreError::Corrupt(format!("pending sign-in: {e}")))?;
        let pool = self.store.pool();
        sqlx::query(
            "INSERT INTO pending_signins (id, data, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&data)
        .bind(now_ms)
        .bind(now_ms + PENDING_TTL_MS)
        .execute(pool)
        .await?;
        // Then trim: the expired, and everything older than the newest PENDING_CAP. Trimming
        // after the insert (not checking a count before it) keeps the bound under concurrent
        // starts: the last trim sees every insert before it.
        sqlx::query(
            "DELETE FROM pending_signins WHERE expires_ms <= $1 OR created_ms <= \
             (SELECT created_ms FROM pending_signins ORDER BY created_ms DESC LIMIT 1 OFFSET $2)",
        )
        .bind(now_ms)
        .bind(PENDING_CAP)
        .execute(pool)
        .await?;
        Ok(())
    }

    /// Deletes the sign-in `id` and returns it, if it existed and had not expired. A second
    /// take of the same id finds nothing.
    pub async fn take(&self, id: &str, now_ms: i64) -> Result<Option<PendingSignIn>, StoreError> {
        let row =
            sqlx::query("DELETE FROM pending_signins WHERE id = $1 RETURNING data, expires_ms")
                .bind(id)
                .fetch_optional(self.store.pool())
                .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let expires_ms: i64 = row.try_get("expires_ms")?;
        if expires_ms <= now_ms {
            return Ok(None);
        }
        let data: String = row.try_get("data")?;
        serde_json::from_str(&data)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("pending sign-in: {e}")))
    }

    /// How many sign-ins are in progress (for tests and the admin page).
    pub async fn count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM pending_signins")
            .fetch_one(self.store.pool())
            .await?
            .try_get("n")?)
    }
}

//! Person rules pinned to accounts. A GitHub role rule may name a login (`@jamie`), but logins
//! change hands: when Jamie renames or deletes the account, anyone can register `jamie`. So the
//! first time Onwatch resolves a login it keeps the account id it found (table
//! `identity_pins`), and from then on the rule means that account, whoever holds the login.
//! An operator who does mean the new holder writes the id (`#1234`) in the configuration.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::Row;

use crate::store::{Store, StoreError};

/// Pinned login → account id, for one provider, with an in-memory copy.
#[derive(Debug, Clone)]
pub struct IdentityPins {
    store: Store,
    provider: &'static str,
    known: Arc<RwLock<HashMap<String, u64>>>,
}

impl IdentityPins {
    pub fn new(store: Store, provider: &'static str) -> IdentityPins {
        IdentityPins {
            store,
            provider,
            known: Arc::default(),
        }
    }

    fn key(login: &str) -> String {
        // GitHub logins are case-insensitive.
        login.trim().to_ascii_lowercase()
    }

    /// The pinned id of `login`, if it was ever resolved (memory first, then the store).
    pub async fn get(&self, login: &str) -> Result<Option<u64>, StoreError> {
        let key = Self::key(login);
        if let Some(id) = self.known.read().ok().and_then(|k| k.get(&key).copied()) {
            return Ok(Some(id));
        }
        let row =
            sqlx::query("SELECT subject FROM identity_pins WHERE provider = $1 AND name = $2")
                .bind(self.provider)
                .bind(&key)
                .fetch_optional(self.store.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let subject: String = row.try_get("subject")?;
        let id = subject
            .parse::<u64>()
            .map_err(|_| StoreError::Corrupt(format!("identity pin {key}: `{subject}`")))?;
        if let Ok(mut k) = self.known.write() {
            k.insert(key, id);
        }
        Ok(Some(id))
    }

    /// Pins `login` to `id` unless it is pinned already; returns the id that is pinned now
    /// (the first one wins, also between replicas).
    pub async fn pin(&self, login: &str, id: u64, now_ms: i64) -> Result<u64, StoreError> {
        let key = Self::key(login);
        sqlx::query(
            "INSERT INTO identity_pins (provider, name, subject, pinned_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider, name) DO NOTHING",
        )
        .bind(self.provider)
        .bind(&key)
        .bind(id.to_string())
        .bind(now_ms)
        .execute(self.store.pool())
        .await?;
        if let Ok(mut k) = self.known.write() {
            k.remove(&key);
        }
        self.get(login)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("identity pin {key} vanished")))
    }

    /// Every pin already known in memory (after [`IdentityPins::get`] or `pin`).
    pub fn cached(&self, login: &str) -> Option<u64> {
        self.known.read().ok()?.get(&Self::key(login)).copied()
    }
}

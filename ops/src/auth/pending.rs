//! Sign-ins in progress. What must be remembered between sending a browser to the provider and
//! the provider sending it back (state, PKCE verifier, nonce, where to go next) travels with
//! the browser, sealed into a short-lived cookie ([`SignIns::seal`]): starting a sign-in writes
//! nothing to the store, so an anonymous visitor who starts sign-ins by the thousand changes
//! nothing for anyone else.
//!
//! A callback is used once, also when that one attempt failed: before the provider is asked
//! anything, the callback [`spend`](SignIns::spend)s its state, a row of `signins_used` that
//! lives as long as the cookie could (replicas on one store share it). Only a callback with a
//! cookie Onwatch sealed writes that row, and a row only ever refuses its own sign-in.

use sha2::{Digest, Sha256};

use super::sealed::{AuthKey, KeyError, Purpose};
use super::PendingSignIn;
use crate::store::{Store, StoreError};

/// How long a sign-in may take between leaving for the provider and coming back.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// Why a sign-in cookie was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// Not sealed by this Onwatch for this cookie name, or changed since.
    Tampered,
    /// Older than [`PENDING_TTL_MS`].
    Expired,
}

#[derive(Debug, Clone)]
pub struct SignIns {
    key: AuthKey,
    store: Store,
}

impl SignIns {
    pub fn new(key: AuthKey, store: Store) -> SignIns {
        SignIns { key, store }
    }

    /// `pending`, sealed into the value of the cookie `name` (the cookie name is part of what is
    /// authenticated: a value moved to another cookie does not open).
    pub async fn seal(&self, name: &str, pending: &PendingSignIn) -> Result<String, KeyError> {
        let json = serde_json::to_vec(pending)
            .map_err(|e| KeyError::Key(format!("cannot write the sign-in: {e}")))?;
        self.key.seal(Purpose::SignIn, name.as_bytes(), &json).await
    }

    /// The sign-in sealed in the cookie `name`'s `value`, if it is intact and not older than
    /// [`PENDING_TTL_MS`].
    pub async fn open(
        &self,
        name: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<Result<PendingSignIn, Unsealed>, KeyError> {
        let Some(json) = self
            .key
            .open(Purpose::SignIn, name.as_bytes(), value)
            .await?
        else {
            return Ok(Err(Unsealed::Tampered));
        };
        let Ok(pending) = serde_json::from_slice::<PendingSignIn>(&json) else {
            return Ok(Err(Unsealed::Tampered));
        };
        // A sign-in from the future is as old as can be: replicas' clocks differ by seconds,
        // not minutes.
        let age = now_ms - pending.started_ms;
        if !(-60_000..=PENDING_TTL_MS).contains(&age) {
            return Ok(Err(Unsealed::Expired));
        }
        Ok(Ok(pending))
    }

    /// Marks the sign-in of `state` used: `true` the first time, `false` ever after (until the
    /// cookie could no longer be taken anyway). Also forgets the marks that have outlived that.
    pub async fn spend(
        &self,
        state: &str,
        started_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let pool = self.store.pool();
        sqlx::query("DELETE FROM signins_used WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(pool)
            .await?;
        let done = sqlx::query(
            "INSERT INTO signins_used (state_hash, expires_ms) VALUES ($1, $2) \
             ON CONFLICT (state_hash) DO NOTHING",
        )
        .bind(state_hash(state))
        // As long as `open` could take the cookie, with the minute of clock skew it allows.
        .bind(started_ms.max(now_ms) + PENDING_TTL_MS + 60_000)
        .execute(pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// SHA-256 of a state, in hex: what `signins_used` keeps (the state itself is not needed).
fn state_hash(state: &str) -> String {
    hex(&Sha256::digest(state.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

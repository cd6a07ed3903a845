//! What Onwatch hands to browsers or keeps in its store, sealed: encrypted and authenticated
//! with AES-256-GCM (aws-lc-rs, the library rustls already builds). Two uses, each with a key of
//! its own derived from one secret (HKDF-SHA-256):
//!
//! - the sign-in cookie: a sign-in in progress (state, PKCE verifier, nonce, where to go next)
//!   travels with the browser, so that starting a sign-in writes nothing to the store;
//! - session data in the store: the identity and the provider's tokens that re-check a role
//!   are unreadable to whoever reads the store, its dumps or its backups without the secret.
//!
//! The secret comes from `auth.key_file` (every replica reads the same file), or, without one,
//! is drawn once and kept in the store (table `auth_keys`), so that replicas on one store and a
//! restarted Onwatch agree. Only the key file keeps the tokens from someone who has a copy of the
//! store: the README says so.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use base64::Engine;
use sqlx::Row;
use tokio::sync::OnceCell;

use crate::store::{Store, StoreError};

/// The shortest secret accepted from a key file.
pub const MIN_SECRET_LEN: usize = 32;

/// What a sealed value is for; each has its own key, so one can never be opened as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The browser's sign-in cookie.
    SignIn,
    /// A session's data in the store.
    Session,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file: unreadable, too short.
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The keys of both purposes.
struct Keys {
    signin: RandomizedNonceKey,
    session: RandomizedNonceKey,
}

impl Keys {
    fn derive(secret: &[u8]) -> Result<Keys, KeyError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"onwatch auth keys").extract(secret);
        let key = |info: &[u8]| -> Result<RandomizedNonceKey, KeyError> {
            let mut bytes = [0u8; 32];
            prk.expand(&[info], hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut bytes))
                .map_err(|_| KeyError::Key("cannot derive a key".to_owned()))?;
            let key = RandomizedNonceKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| KeyError::Key("cannot make an AES-256-GCM key".to_owned()));
            bytes.fill(0);
            key
        };
        Ok(Keys {
            signin: key(b"onwatch sign-in cookie v1")?,
            session: key(b"onwatch session data v1")?,
        })
    }

    fn of(&self, purpose: Purpose) -> &RandomizedNonceKey {
        match purpose {
            Purpose::SignIn => &self.signin,
            Purpose::Session => &self.session,
        }
    }
}

enum Source {
    Ready(Keys),
    /// Drawn once and kept in the store; read at first use (Onwatch starts while the store is
    /// busy, as it does for the rest).
    InStore {
        store: Store,
        keys: OnceCell<Keys>,
    },
}

/// The sealing keys. Cheap to clone; `Debug` shows no key.
#[derive(Clone)]
pub struct AuthKey(Arc<Source>);

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Source::Ready(_) => f.write_str("AuthKey(from a file)"),
            Source::InStore { .. } => f.write_str("AuthKey(kept in the store)"),
        }
    }
}

/// The row of `auth_keys` that holds the secret when no key file is configured.
const STORE_KEY_NAME: &str = "auth";

impl AuthKey {
    /// Keys derived from `secret` (at least [`MIN_SECRET_LEN`] bytes).
    pub fn from_secret(secret: &[u8]) -> Result<AuthKey, KeyError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(KeyError::Key(format!(
                "the key is {} bytes long; it must be at least {MIN_SECRET_LEN} (e.g. `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        Ok(AuthKey(Arc::new(Source::Ready(Keys::derive(secret)?))))
    }

    /// Keys derived from the content of a file (surrounding whitespace ignored).
    pub fn from_file(path: &Path) -> Result<AuthKey, KeyError> {
        let text = crate::secret::read_file(path).map_err(|e| {
            KeyError::Key(format!("{e}; make one with `openssl rand -hex 32 > FILE`"))
        })?;
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the sign-in key file can be read by others than its owner: chmod 600 it");
            }
        }
        let secret = secrecy::ExposeSecret::expose_secret(&text).as_bytes();
        AuthKey::from_secret(secret).map_err(|e| KeyError::Key(format!("{}: {e}", path.display())))
    }

    /// Keys from a secret drawn once and kept in `store`: every replica on the store uses the
    /// same. Read at first use.
    pub fn in_store(store: Store) -> AuthKey {
        AuthKey(Arc::new(Source::InStore {
            store,
            keys: OnceCell::new(),
        }))
    }

    async fn keys(&self) -> Result<&Keys, KeyError> {
        match &*self.0 {
            Source::Ready(k) => Ok(k),
            Source::InStore { store, keys } => {
                keys.get_or_try_init(|| async {
                    let secret = stored_secret(store).await?;
                    Keys::derive(secret.as_bytes())
                })
                .await
            }
        }
    }

    /// `plaintext`, encrypted and authenticated for `purpose` and bound to `context` (which must
    /// be given again to open it), as URL-safe base64 (no padding): a cookie value or a column.
    pub async fn seal(
        &self,
        purpose: Purpose,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<String, KeyError> {
        let key = self.keys().await?.of(purpose);
        let mut in_out = plaintext.to_vec();
        let nonce = key
            .seal_in_place_append_tag(Aad::from(context), &mut in_out)
            .map_err(|_| KeyError::Key("cannot encrypt".to_owned()))?;
        let nonce: &[u8; NONCE_LEN] = nonce.as_ref();
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(nonce);
        sealed.extend_from_slice(&in_out);
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
    }

    /// What [`AuthKey::seal`] sealed, or `None` when `sealed` was not sealed with this key for
    /// this purpose and context, or was changed since (one bit is enough).
    pub async fn open(
        &self,
        purpose: Purpose,
        context: &[u8],
        sealed: &str,
    ) -> Result<Option<Vec<u8>>, KeyError> {
        let key = self.keys().await?.of(purpose);
        let Ok(mut bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed) else {
            return Ok(None);
        };
        if bytes.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Ok(None);
        }
        let mut in_out = bytes.split_off(NONCE_LEN);
        let Ok(nonce) = Nonce::try_assume_unique_for_key(&bytes) else {
            return Ok(None);
        };
        Ok(key
            .open_in_place(nonce, Aad::from(context), &mut in_out)
            .ok()
            .map(|plain| plain.to_vec()))
    }
}

/// The secret kept in the store, drawn now if there is none yet. Two replicas that start at once
/// both try to insert theirs; the first one wins and both read it back.
async fn stored_secret(store: &Store) -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        KeyError::Key(format!(
            "cannot draw a random key from the operating system: {e}"
        ))
    })?;
    let drawn: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    bytes.fill(0);
    sqlx::query(
        "INSERT INTO auth_keys (name, secret, created_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(STORE_KEY_NAME)
    .bind(&drawn)
    .bind(crate::time::now_ms())
    .execute(store.pool())
    .await
    .map_err(StoreError::from)?;
    let row = sqlx::query("SELECT secret FROM auth_keys WHERE name = $1")
        .bind(STORE_KEY_NAME)
        .fetch_one(store.pool())
        .await
        .map_err(StoreError::from)?;
    row.try_get::<String, _>("secret")
        .map_err(|e| KeyError::Store(StoreError::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sealed_values_open_only_with_their_key_purpose_and_context() {
        let key = AuthKey::from_secret(&[7u8; 32]).unwrap();
        let other = AuthKey::from_secret(&[8u8; 32]).unwrap();
        let sealed = key.seal(Purpose::SignIn, b"ctx", b"secret").await.unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(
            key.open(Purpose::SignIn, b"ctx", &sealed).await.unwrap(),
            Some(b"secret".to_vec())
        );
        assert_eq!(
            key.open(Purpose::Session, b"ctx", &sealed).await.unwrap(),
            None
        );
        assert_eq!(
            key.open(Purpose::SignIn, b"ctx2", &sealed).await.unwrap(),
            None
        );
        assert_eq!(
            other.open(Purpose::SignIn, b"ctx", &sealed).await.unwrap(),
            None
        );
        let mut flipped = sealed.clone().into_bytes();
        flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            key.open(Purpose::SignIn, b"ctx", &flipped).await.unwrap(),
            None
        );
        assert_eq!(
            key.open(Purpose::SignIn, b"ctx", "garbage!").await.unwrap(),
            None
        );
        assert_eq!(key.open(Purpose::SignIn, b"ctx", "").await.unwrap(), None);
        assert_ne!(
            sealed,
            key.seal(Purpose::SignIn, b"ctx", b"secret").await.unwrap(),
            "a fresh nonce each time"
        );
        assert!(AuthKey::from_secret(b"short").is_err());
    }
}

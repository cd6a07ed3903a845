//! tower-sessions over the portal's store (SQLite or Postgres): the session rows of
//! `ops::auth::sessions`, with who signed in copied out for the admin page.
//!
//! At rest, a row holds neither the session id nor readable data: it is keyed by
//! [`store_key`] (SHA-256 of the id, which is the bearer credential in the cookie), and its data
//! (the identity, the provider's tokens that re-check the role) is sealed with the sessions'
//! key and bound to that row, so a copy moved to another row does not open.

use async_trait::async_trait;
use ops::auth::sealed::{AuthKey, Purpose};
use ops::auth::sessions::{store_key, SessionMeta, SessionRow};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use super::SignedIn;

/// The key under which a signed-in session keeps its [`SignedIn`].
pub const SIGNED_IN_KEY: &str = "signed_in";

#[derive(Debug, Clone)]
pub struct StoreSessions {
    pub sessions: ops::auth::sessions::SessionStore,
    /// Seals the data of every row.
    pub key: AuthKey,
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

impl StoreSessions {
    async fn to_row(&self, record: &Record) -> Result<SessionRow, session_store::Error> {
        let id = store_key(&record.id.to_string());
        let json = serde_json::to_vec(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let data = self
            .key
            .seal(Purpose::Session, id.as_bytes(), &json)
            .await
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let meta = record
            .data
            .get(SIGNED_IN_KEY)
            .and_then(|v| serde_json::from_value::<SignedIn>(v.clone()).ok())
            .map(|s| SessionMeta {
                login: s.identity.login,
                name: s.identity.name,
                provider: s.identity.provider,
                role: s.identity.role.as_str().to_owned(),
                signed_in_ms: s.signed_in_ms,
                user_agent: s.user_agent,
                address: s.address,
            });
        Ok(SessionRow {
            id,
            data,
            expires_ms: (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64,
            meta,
        })
    }
}

#[async_trait]
impl SessionStore for StoreSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, so a collision is all but impossible; still, never overwrite.
        for _ in 0..8 {
            let row = self.to_row(record).await?;
            if self
                .sessions
                .create(&row, ops::time::now_ms())
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(backend("could not find a free session id"))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.sessions
            .save(&self.to_row(record).await?, ops::time::now_ms())
            .await
            .map_err(backend)
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let id = store_key(&session_id.to_string());
        let Some((sealed, expires_ms)) = self
            .sessions
            .load(&id, ops::time::now_ms())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let Some(json) = self
            .key
            .open(Purpose::Session, id.as_bytes(), &sealed)
            .await
            .map_err(backend)?
        else {
            // Sealed with another key (auth.key_file changed) or changed in the store: the
            // session is not believed, and the browser is anonymous.
            tracing::warn!(
                "a stored session does not open with the sessions' key; treated as signed out"
            );
            return Ok(None);
        };
        let data = serde_json::from_slice(&json)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_ms) * 1_000_000)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.sessions
            .delete(&store_key(&session_id.to_string()))
            .await
            .map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for StoreSessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.sessions
            .delete_expired(ops::time::now_ms())
            .await
            .map(|_| ())
            .map_err(backend)
    }
}

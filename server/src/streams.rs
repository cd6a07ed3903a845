//! How many live-update streams each person holds open: each keeps a connection (of the
//! server's `max_connections`) and a task, so one person (or one stolen cookie) must not be
//! able to take them all. A stream counts from its start until it is dropped.

use std::collections::HashMap;
use std::time::Duration;

/// How often an open stream checks that its session still exists.
pub const SESSION_CHECK: Duration = Duration::from_secs(5);
use std::sync::{Arc, Mutex};

/// The open streams, per person (stable identity).
#[derive(Clone)]
pub struct Streams {
    per_person: u32,
    open: Arc<Mutex<(HashMap<String, u32>, u64)>>,
}

/// One open stream, counted until dropped.
pub struct StreamPermit {
    open: Arc<Mutex<(HashMap<String, u32>, u64)>>,
    person: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = o.0.get_mut(&self.person) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                o.0.remove(&self.person);
            }
        }
        o.1 = o.1.saturating_sub(1);
    }
}

impl Streams {
    pub fn new(per_person: u32) -> Streams {
        Streams {
            per_person,
            open: Arc::default(),
        }
    }

    /// A permit for one more stream of `person`, or why not.
    pub fn admit(&self, person: &str) -> Result<StreamPermit, String> {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = o.0.entry(person.to_owned()).or_default();
        if *n >= self.per_person {
            return Err(format!(
                "you have {n} live pages open (at most {} at once): close some tabs of Onwatch, then reload",
                self.per_person
            ));
        }
        *n += 1;
        o.1 += 1;
        Ok(StreamPermit {
            open: self.open.clone(),
            person: person.to_owned(),
        })
    }

    /// Streams open now, for `/metrics`.
    pub fn open(&self) -> u64 {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

/// Watches a stream's session: [`SessionGuard::ended`] resolves once the session is revoked,
/// expired or past its absolute lifetime (checked every [`SESSION_CHECK`]; a store that does
/// not answer is not taken for an ended session).
pub struct SessionGuard {
    sessions: ops::auth::sessions::SessionStore,
    key: crate::auth::wall::SessionKey,
    check: tokio::time::Interval,
}

impl SessionGuard {
    pub fn new(
        sessions: ops::auth::sessions::SessionStore,
        key: crate::auth::wall::SessionKey,
    ) -> SessionGuard {
        let mut check = tokio::time::interval(SESSION_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        check.reset();
        SessionGuard {
            sessions,
            key,
            check,
        }
    }

    /// Resolves when the session is gone (cancel-safe: used in `select!`).
    pub async fn ended(&mut self) {
        loop {
            self.check.tick().await;
            let now = ops::time::now_ms();
            if now >= self.key.ends_ms
                || matches!(self.sessions.load(&self.key.id, now).await, Ok(None))
            {
                return;
            }
        }
    }
}

/// `stream`, counted against its person's bound while it lasts, and ended (quietly: the page's
/// reconnect then meets the wall) once its session is gone.
pub fn bounded<S>(
    stream: S,
    permit: StreamPermit,
    mut guard: SessionGuard,
) -> impl futures_util::Stream<Item = S::Item>
where
    S: futures_util::Stream,
{
    use futures_util::StreamExt;
    stream
        .take_until(Box::pin(async move { guard.ended().await }))
        .map(move |e| {
            let _held = &permit;
            e
        })
}

/// The answer to a stream a person may not open now: 429, saying why.
pub fn refused(why: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::TOO_MANY_REQUESTS, why).into_response()
}

//! Server-sent events: `/api/fleet/events` announces the fleet model's version whenever it
//! changes, so pages refetch within a second. Changes are coalesced (at most one event per
//! 250 ms) so a busy fleet cannot flood a browser. The stream needs a session, and ends with a
//! `signed_out` event when that session is revoked, expires or reaches its absolute lifetime
//! (checked every [`SESSION_CHECK`]).
//!
//! It also announces what every page's header shows (open incidents, who is on call, who is not
//! ready) as a `header` event carrying [`ops::header::fingerprint`], at once and then
//! whenever it changes (looked at every [`HEADER_CHECK`]): pages whose header was drawn from
//! another fingerprint read it again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::wall::SessionKey;
use crate::state::AppState;

const MIN_GAP: Duration = Duration::from_millis(250);
/// How often an open stream looks whether the header changed (two in-memory reads and a hash).
pub const HEADER_CHECK: Duration = Duration::from_secs(1);
/// How often an open stream checks that its session still exists.
pub use crate::streams::SESSION_CHECK;

/// What the stream carries besides its receiver.
struct Watch {
    model: std::sync::Arc<ops::fleet::FleetModel>,
    stopping: tokio::sync::watch::Receiver<bool>,
    sessions: ops::auth::sessions::SessionStore,
    session: String,
    /// The session's absolute end: the stream ends then, however the store answers.
    ends_ms: i64,
    check: tokio::time::Interval,
    incidents: ops::incidents::Incidents,
    oncall: std::sync::Arc<ops::oncall::OnCall>,
    header_check: tokio::time::Interval,
    /// The header's fingerprint as last announced on this stream.
    header: Option<u64>,
    ended: bool,
    /// Counts this stream against its person's bound while it lasts.
    _permit: crate::streams::StreamPermit,
}

pub async fn fleet_events(
    State(state): State<AppState>,
    Extension(who): Extension<ops::auth::Identity>,
    Extension(SessionKey {
        id: session,
        ends_ms,
    }): Extension<SessionKey>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, axum::response::Response> {
    let permit = state
        .streams
        .admit(&who.actor().id)
        .map_err(crate::streams::refused)?;
    let rx = state.fleet.subscribe();
    let mut check = tokio::time::interval(SESSION_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    check.reset();
    let mut header_check = tokio::time::interval(HEADER_CHECK);
    header_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watch = Watch {
        incidents: state.incidents.clone(),
        oncall: state.oncall.clone(),
        header_check,
        header: None,
        model: state.fleet.clone(),
        stopping: state.stopping.clone(),
        sessions: state.auth.sessions.clone(),
        session,
        ends_ms,
        check,
        ended: false,
        _permit: permit,
    };
    // First event at once: the current version, so a (re)connected page knows where it stands.
    let initial = Some(watch.model.version());
    let stream = stream::unfold(
        (rx, watch, initial, 0u64),
        |(mut rx, mut w, pending, last)| async move {
            if w.ended {
                return None;
            }
            if let Some(v) = pending {
                let event = Event::default().event("fleet").data(v.to_string());
                return Some((Ok(event), (rx, w, None, v)));
            }
            let mut check = false;
            let mut header = false;
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return None,
                    },
                    // The server is shutting down: end the stream so that it does not hold the
                    // shutdown open; the browser's EventSource reconnects to the next instance.
                    _ = w.stopping.wait_for(|s| *s) => return None,
                    _ = w.check.tick() => check = true,
                    _ = w.header_check.tick() => header = true,
                }
                if header {
                    header = false;
                    let now = ops::header::fingerprint(&w.incidents.open_now(), &w.oncall.header());
                    if w.header != Some(now) {
                        w.header = Some(now);
                        let event = Event::default().event("header").data(now.to_string());
                        return Some((Ok(event), (rx, w, None, last)));
                    }
                    continue;
                }
                if check {
                    check = false;
                    // A revoked or expired session ends the stream, and so does the end of its
                    // absolute lifetime; a store hiccup does not.
                    let now = ops::time::now_ms();
                    let past_lifetime = now >= w.ends_ms;
                    if past_lifetime || matches!(w.sessions.load(&w.session, now).await, Ok(None)) {
                        w.ended = true;
                        let event = Event::default().event("signed_out").data("session ended");
                        return Some((Ok(event), (rx, w, None, last)));
                    }
                    continue;
                }
                tokio::time::sleep(MIN_GAP).await;
                // Drain what arrived meanwhile: one event stands for all of them.
                while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                    rx.try_recv()
                {}
                let v = w.model.version();
                if v != last {
                    let event = Event::default().event("fleet").data(v.to_string());
                    return Some((Ok(event), (rx, w, None, v)));
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

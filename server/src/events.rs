//! Server-sent events: `/api/fleet/events` announces the fleet model's version whenever it
//! changes, so pages refetch within a second. Changes are coalesced (at most one event per
//! 250 ms) so a busy fleet cannot flood a browser.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use crate::startup::AppState;

const MIN_GAP: Duration = Duration::from_millis(250);

pub async fn fleet_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.fleet.subscribe();
    let model = state.fleet.clone();
    let stopping = state.stopping.clone();
    // First event at once: the current version, so a (re)connected page knows where it stands.
    let initial = Some(model.version());
    let stream = stream::unfold(
        (rx, model, stopping, initial, 0u64),
        |(mut rx, model, mut stopping, pending, last)| async move {
            if let Some(v) = pending {
                let event = Event::default().event("fleet").data(v.to_string());
                return Some((Ok(event), (rx, model, stopping, None, v)));
            }
            loop {
                tokio::select! {
                    r = rx.recv() => match r {
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return None,
                    },
                    // The server is shutting down: end the stream so that it does not hold the
                    // shutdown open; the browser's EventSource reconnects to the next instance.
                    _ = stopping.wait_for(|s| *s) => return None,
                }
                tokio::time::sleep(MIN_GAP).await;
                // Drain what arrived meanwhile: one event stands for all of them.
                while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) =
                    rx.try_recv()
                {}
                let v = model.version();
                if v != last {
                    let event = Event::default().event("fleet").data(v.to_string());
                    return Some((Ok(event), (rx, model, stopping, None, v)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

//! Host logs as server-sent events: `lines` (the journal lines waiting, as a JSON array: one
//! event per line cost more than the line itself, and a fast log outran the stream), `dropped`
//! (how many lines the bounds dropped), `ended` (why the watch is over). A watch that cannot open answers with
//! one `ended` event carrying the reason, so that the page (an EventSource, which cannot read an
//! error's body) can say it. Closing the page drops the stream, which ends the remote
//! `journalctl` (see `ops::logs::follow`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream, StreamExt};

use crate::state::AppState;

#[derive(serde::Deserialize)]
pub struct LogParams {
    #[serde(default)]
    source: String,
    #[serde(default)]
    lines: Option<u32>,
    #[serde(default)]
    since: String,
}

/// The most lines in one `lines` event (the batches waiting are joined up to this).
const BATCH: usize = 8192;

fn lines_event(lines: &[ops::logs::LogLine]) -> Event {
    // Serialised whole, then handed over in one piece: `Event::json_data` writes each JSON
    // fragment separately, and the event's per-write newline search cost more than the
    // serialising (compact JSON holds no raw newline, so `data` writes one `data:` line).
    let json = serde_json::to_string(lines).unwrap_or_else(|_| "[]".into());
    Event::default().event("lines").data(json)
}

fn event(e: &ops::logs::LogEvent) -> Event {
    match e {
        ops::logs::LogEvent::Lines(l) => lines_event(l),
        ops::logs::LogEvent::Dropped(n) => Event::default().event("dropped").data(n.to_string()),
        ops::logs::LogEvent::Ended(why) => Event::default().event("ended").data(why.clone()),
    }
}

/// `GET /api/logs/{env}/{host}/events?source=supervisor|sentinel&lines=200&since=10 minutes ago`
pub async fn log_events(
    State(state): State<AppState>,
    Extension(who): Extension<ops::auth::Identity>,
    Extension(key): Extension<crate::auth::wall::SessionKey>,
    Path((environment, host)): Path<(String, String)>,
    Query(p): Query<LogParams>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let actor = who.actor();
    let opened = match ops::logs::LogSource::parse(&p.source) {
        Ok(source) => {
            let query = ops::logs::LogQuery {
                lines: p.lines.unwrap_or(200),
                since: p.since.clone(),
            };
            state
                .logs
                .open(&actor, &environment, &host, source, &query)
                .await
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    let stopping = state.stopping.clone();
    // The watch lives only as long as the access that opened it: the session is checked every
    // few seconds, as the fleet stream's is, and a revoked, expired or ended one ends it.
    let guard = crate::streams::SessionGuard::new(state.auth.sessions.clone(), key);
    let stream = match opened {
        Err(why) => stream::iter(vec![Ok(event(&ops::logs::LogEvent::Ended(why)))]).boxed(),
        Ok(watch) => stream::unfold(
            (watch, (stopping, guard), None::<ops::logs::LogEvent>, false),
            |(mut rx, (stopping, mut guard), held, done)| async move {
                if done {
                    return None;
                }
                let next = match held {
                    Some(e) => Some(e),
                    None => {
                        let mut stopping_rx = stopping.clone();
                        let stop = async move {
                            let _ = stopping_rx.wait_for(|v| *v).await;
                        };
                        tokio::select! {
                            e = rx.recv() => e,
                            _ = stop => Some(ops::logs::LogEvent::Ended("Onwatch is restarting: reopen the log".into())),
                            _ = guard.ended() => Some(ops::logs::LogEvent::Ended("your session ended (signed out, revoked or expired): sign in again to follow the log".into())),
                        }
                    }
                };
                let e = next?;
                if let ops::logs::LogEvent::Lines(mut batch) = e {
                    // The batches already waiting go in the same event; another kind of event
                    // waits for the next turn, in order.
                    let mut held = None;
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Some(ops::logs::LogEvent::Lines(more)) => batch.extend(more),
                            Some(other) => {
                                held = Some(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    return Some((Ok(lines_event(&batch)), (rx, (stopping, guard), held, false)));
                }
                let ended = matches!(e, ops::logs::LogEvent::Ended(_));
                Some((Ok(event(&e)), (rx, (stopping, guard), None, ended)))
            },
        )
        .boxed(),
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

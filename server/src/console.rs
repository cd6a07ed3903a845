//! The shard console's own routes: a query's progress as server-sent events (shards done of
//! total, failures as they happen, then the end), and a kept result as a CSV or JSON file
//! (the download is itself an audit row, written before the file goes out).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, Stream};

use crate::state::AppState;

/// The most progress events per second one stream sends.
const MIN_GAP: Duration = Duration::from_millis(100);

fn event(p: &ops::console::Progress) -> Event {
    Event::default()
        .event("progress")
        .data(serde_json::to_string(&app::console::ssr::progress_view(p)).unwrap_or_default())
}

fn refusal(e: ops::console::ConsoleError) -> Response {
    let status = match e {
        ops::console::ConsoleError::Gone(_) => StatusCode::NOT_FOUND,
        ops::console::ConsoleError::AuditDown(_) | ops::console::ConsoleError::Unavailable(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ops::console::ConsoleError::Refused(_) => StatusCode::CONFLICT,
    };
    (status, e.to_string()).into_response()
}

/// `GET /api/console/queries/{id}/events`: the progress now, then every change until the end.
/// Only the person who ran the query (or an admin) may follow it.
pub async fn query_events(
    State(state): State<AppState>,
    Extension(who): Extension<ops::auth::Identity>,
    Extension(key): Extension<crate::auth::wall::SessionKey>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let permit = state
        .streams
        .admit(&who.actor().id)
        .map_err(crate::streams::refused)?;
    let guard = crate::streams::SessionGuard::new(state.auth.sessions.clone(), key);
    let run = state.console.run(&id, &who.actor()).map_err(refusal)?;
    let rx = run.progress();
    let stopping = state.stopping.clone();
    let stream = stream::unfold(
        (rx, stopping, true, false),
        |(mut rx, stopping, first, done)| async move {
            if done {
                return None;
            }
            if !first {
                let mut stopping_rx = stopping.clone();
                let stop = async move {
                    let _ = stopping_rx.wait_for(|v| *v).await;
                };
                tokio::select! {
                    r = rx.changed() => {
                        if r.is_err() {
                            return None;
                        }
                        tokio::time::sleep(MIN_GAP).await;
                    }
                    _ = stop => return None,
                }
            }
            let p = rx.borrow_and_update().clone();
            let ended = p.state != ops::console::QueryState::Running;
            Some((Ok(event(&p)), (rx, stopping, false, ended)))
        },
    );
    let stream = crate::streams::bounded(stream, permit, guard);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/console/queries/{id}/export?format=csv|json`.
pub async fn query_export(
    State(state): State<AppState>,
    Extension(who): Extension<ops::auth::Identity>,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let format = match ops::console::export::Format::parse(q.format.as_deref().unwrap_or("csv")) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match state.console.export(&id, &who.actor(), format).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, format.content_type().to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"onwatch-{id}.{}\"", format.as_str()),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            body,
        )
            .into_response(),
        Err(e) => refusal(e),
    }
}

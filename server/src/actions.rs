//! The actions' and the audit log's own routes: an action's live progress as server-sent
//! events (a reload re-attaches: the first event is the whole progress so far), and the audit
//! export (CSV or JSON of the filtered rows; the export is itself an audit row).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, Stream};

use crate::state::AppState;

/// The most progress events per second one stream sends (output can come faster).
const MIN_GAP: Duration = Duration::from_millis(100);

fn progress_event(p: ops::change::ActionProgress) -> Event {
    let view = app::actions::ssr::progress_view(p);
    Event::default()
        .event("progress")
        .data(serde_json::to_string(&view).unwrap_or_default())
}

/// `GET /api/actions/{id}/events`: the action's progress now, then every change until it ends.
/// An action running on another replica is followed through the store (its state and summary;
/// its lines come with its end).
pub async fn action_events(
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
    let actions = state.actions.clone();
    let first = actions
        .progress(&id)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response())?
        .ok_or_else(|| (StatusCode::NOT_FOUND, "no such action").into_response())?;
    let live = actions.follow(&id);
    let stopping = state.stopping.clone();
    struct S {
        actions: std::sync::Arc<ops::change::Pipeline>,
        id: String,
        live: Option<tokio::sync::watch::Receiver<ops::change::ActionProgress>>,
        pending: Option<ops::change::ActionProgress>,
        done: bool,
        stopping: tokio::sync::watch::Receiver<bool>,
    }
    let s = S {
        actions,
        id,
        live,
        done: false,
        pending: Some(first),
        stopping,
    };
    let stream = stream::unfold(s, |mut s| async move {
        if s.done {
            return None;
        }
        if let Some(p) = s.pending.take() {
            s.done = p.state != ops::change::ActionState::Running;
            return Some((Ok(progress_event(p)), s));
        }
        // The guard `wait_for` returns is not `Send`: dropped inside its own future.
        let mut stopping_rx = s.stopping.clone();
        let stopping = async move {
            let _ = stopping_rx.wait_for(|v| *v).await;
        };
        let next = match s.live.as_mut() {
            Some(rx) => {
                tokio::select! {
                    r = rx.changed() => match r {
                        Ok(()) => {
                            tokio::time::sleep(MIN_GAP).await;
                            Some(rx.borrow_and_update().clone())
                        }
                        // The action ended and its channel went: read the record.
                        Err(_) => {
                            s.live = None;
                            s.actions.progress(&s.id).await.ok().flatten()
                        }
                    },
                    _ = stopping => return None,
                }
            }
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopping => return None,
                }
                s.actions.progress(&s.id).await.ok().flatten()
            }
        };
        match next {
            Some(p) => {
                s.done = p.state != ops::change::ActionState::Running;
                Some((Ok(progress_event(p)), s))
            }
            None => None,
        }
    });
    let stream = crate::streams::bounded(stream, permit, guard);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `GET /api/admin/audit/export?format=csv|json&who=…`: the filtered rows, newest first, at
/// most [`EXPORT_MAX`]; the export itself is audited before the rows go out.
pub async fn audit_export(
    State(state): State<AppState>,
    Extension(who): Extension<ops::auth::Identity>,
    Extension(zone): Extension<vocab::Zone>,
    Query(query): Query<ExportQuery>,
) -> Response {
    let filter = match app::actions::ssr::filter(&query.filter, &zone) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let json = match query.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown format `{other}`: ask for format=csv or format=json"),
            )
                .into_response()
        }
    };
    let audit = state.actions.audit();
    // Admin-only by its prefix, and read by the same rule as the page all the same.
    let reader = ops::audit::Reader::of_role(who.role);
    let rows = match audit.search_as(reader, &filter, None, EXPORT_MAX).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "audit export failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log could not be read: try again",
            )
                .into_response();
        }
    };
    let entry = ops::audit::Entry {
        detail: serde_json::json!({
            "format": if json { "json" } else { "csv" },
            "filter": query.filter,
            "rows": rows.len(),
        }),
        ..ops::audit::Entry::new(ops::audit::Event::AuditExport)
    };
    if let Err(e) = audit.append(&who.actor(), &entry).await {
        tracing::error!(error = %e, "cannot audit an audit export; not exported");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the export could not be audited, so it was not made: try again",
        )
            .into_response();
    }
    let (body, kind, ext) = if json {
        (
            serde_json::to_string_pretty(&rows).unwrap_or_default(),
            "application/json",
            "json",
        )
    } else {
        (
            ops::audit::query::to_csv(&rows, &zone),
            "text/csv; charset=utf-8",
            "csv",
        )
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"onwatch-audit.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// The most rows one export carries (narrow the filter for more).
pub const EXPORT_MAX: i64 = 50_000;

#[derive(Debug, serde::Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    #[serde(flatten)]
    filter: app::actions::AuditQuery,
}

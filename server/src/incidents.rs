//! The incidents capability's own route: one incident's timeline as Markdown, for its
//! post-incident review (the pages and changes are server functions in `app::incidents`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// `GET /api/incidents/{id}/timeline.md`: one incident's timeline as Markdown, for its
/// post-incident review.
/// Times are in the reader's zone, as their pages show them.
pub async fn incident_markdown(
    State(state): State<AppState>,
    axum::Extension(zone): axum::Extension<vocab::Zone>,
    Path(id): Path<String>,
) -> Response {
    let inc = &state.incidents;
    let unreadable = |e: ops::store::StoreError| {
        tracing::error!(error = %e, "incident export failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot be read: try again",
        )
            .into_response()
    };
    let incident = match inc.get(&id).await {
        Ok(Some(i)) => i,
        Ok(None) => return (StatusCode::NOT_FOUND, "no such incident").into_response(),
        Err(e) => return unreadable(e),
    };
    let (updates, events, rules) = match (
        inc.updates(&id).await,
        inc.events(&id).await,
        inc.rules(Some(&id), None).await,
    ) {
        (Ok(u), Ok(e), Ok(r)) => (u, e, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return unreadable(e),
    };
    let entries =
        match ops::incidents::timeline::timeline(inc.store(), &incident, &updates, &events).await {
            Ok(e) => e,
            Err(e) => return unreadable(e),
        };
    let md = ops::incidents::timeline::markdown(&incident, &inc.options, &entries, &rules, &zone);
    (
        [
            (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"incident-timeline.md\"",
            ),
        ],
        md,
    )
        .into_response()
}

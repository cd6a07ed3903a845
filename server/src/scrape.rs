//! `GET /metrics`: who may read it (`[metrics]`, see [`crate::metrics::ScrapeAccess`]) and the
//! text itself (the registry's series, and what people hold open now).

use axum::extract::{Request, State};
use axum::response::Response;

use crate::metrics::ScrapeAccess;
use crate::state::AppState;

/// Whether the request's `Authorization: Bearer …` is the scrape token. Both sides are hashed
/// first, so the comparison takes the same time however much of the token was right.
fn bearer_matches(req: &Request, token: &ops::secret::SecretSource) -> bool {
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};
    let Some(given) = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    match token.current() {
        Ok(expected) => {
            Sha256::digest(given.trim().as_bytes())
                == Sha256::digest(expected.expose_secret().as_bytes())
        }
        Err(e) => {
            tracing::error!(error = %e, "the metrics token cannot be read: scrapes are refused");
            false
        }
    }
}

/// `GET /metrics` on the public address: the token, or a signed-in person with the role.
pub async fn guarded(State(state): State<AppState>, req: Request) -> Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    let (token, role) = match &state.metrics_access {
        ScrapeAccess::Elsewhere => {
            return (
                StatusCode::NOT_FOUND,
                "Not found: /metrics is served on another address.\n",
            )
                .into_response()
        }
        ScrapeAccess::Guarded { token, role } => (token, *role),
    };
    if token.as_ref().is_some_and(|t| bearer_matches(&req, t)) {
        return text(&state);
    }
    match req.extensions().get::<ops::auth::Identity>() {
        Some(id) if id.role.allows(role) => text(&state),
        Some(id) => (
            StatusCode::FORBIDDEN,
            format!(
                "You are signed in as {} with the {} role; /metrics needs the {role} role.\n",
                id.login, id.role
            ),
        )
            .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"onwatch metrics\"")],
            format!("/metrics is for a signed-in {role}, or a scraper with the token of [metrics] token_file.\n"),
        )
            .into_response(),
    }
}

/// `GET /metrics` on `metrics.listen`: that address is the guard (and the token, when set).
pub async fn on_own_address(State(state): State<AppState>, req: Request) -> Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    if let Some(token) = &state.metrics_token {
        if !bearer_matches(&req, token) {
            return (
                StatusCode::UNAUTHORIZED,
                "/metrics needs the token of [metrics] token_file.\n",
            )
                .into_response();
        }
    }
    text(&state)
}

fn text(state: &AppState) -> Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let mut text = state.metrics.render();
    // What people hold open now: host-log watches (an SSH session each) and live streams.
    text.push_str(&format!(
        "# HELP onwatch_log_watches_open Host-log watches open now (an SSH session and journalctl -f each).\n\
         # TYPE onwatch_log_watches_open gauge\nonwatch_log_watches_open {}\n\
         # HELP onwatch_streams_open Live-update streams open now (fleet, actions, console).\n\
         # TYPE onwatch_streams_open gauge\nonwatch_streams_open {}\n",
        state.logs.open_watches(),
        state.streams.open(),
    ));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

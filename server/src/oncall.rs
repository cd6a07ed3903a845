//! The on-call capability's own route and task: the iCal feeds (public, behind their secret
//! URL), and the chores (who is on call for the header, each shift's handoff when it ends, who
//! is scheduled but not ready, the open incidents for the header).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use crate::state::AppState;

/// How far back and ahead a feed reaches.
const FEED_BEHIND_MS: i64 = 30 * 86_400_000;
const FEED_AHEAD_MS: i64 = 180 * 86_400_000;

/// A request's path as logs may show it: a feed's secret token (the URL is the credential) is
/// left out, `/ical/…`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with("/ical/") {
        "/ical/…".into()
    } else {
        path.into()
    }
}

/// The ways in that are configured now (a feed's owner must still have one of them).
fn sign_in_providers(auth: &crate::auth::Auth) -> Vec<&'static str> {
    let mut p = Vec::new();
    if auth.github.is_some() {
        p.push("github");
    }
    if auth.oidc.is_some() {
        p.push("oidc");
    }
    if auth.dev_signin {
        p.push("dev");
    }
    p
}

/// `GET /ical/{token}`: the feed whose secret this is, or 404 (unknown, revoked, and a feed
/// whose owner no longer has access alike, so a probe learns nothing). `token` may end in
/// `.ics`, as calendar apps like.
pub async fn ical_feed(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let token = token.trim_end_matches(".ics");
    let oncall = &state.oncall;
    let Some(rotation) = &oncall.rotation else {
        return (StatusCode::NOT_FOUND, "no rotation is configured").into_response();
    };
    let gone = || {
        (
            StatusCode::NOT_FOUND,
            "no such feed (it may have been revoked)",
        )
            .into_response()
    };
    let unreadable = |e: ops::store::StoreError| {
        tracing::error!(error = %e, "iCal feed lookup failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store cannot be read: try again",
        )
            .into_response()
    };
    let feed = match oncall.feeds.live(token).await {
        Ok(Some(f)) => f,
        Ok(None) => return gone(),
        Err(e) => return unreadable(e),
    };
    // A feed lives only as long as its owner's access: someone who left the team, or whose
    // provider Onwatch no longer takes, stops receiving the rotation.
    let owner = match oncall.feeds.owner_account(&feed).await {
        Ok(o) => o,
        Err(e) => return unreadable(e),
    };
    let providers = sign_in_providers(&state.auth);
    let allowed = match owner {
        Some(account) => match ops::oncall::accounts::still_allowed(
            &state.store,
            &account,
            &feed.created_by,
            &providers,
        )
        .await
        {
            Ok(a) => a,
            Err(e) => return unreadable(e),
        },
        None => false,
    };
    if !allowed {
        tracing::info!(feed = %feed.id, owner = %feed.created_by, "iCal feed refused: its owner no longer has access");
        return gone();
    }
    let scope = feed.scope;
    let covers = match oncall.overrides.accepted_covers().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "iCal feed overrides failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot be read: try again",
            )
                .into_response();
        }
    };
    let now = ops::time::now_ms();
    let person = (scope != "team").then_some(scope.as_str());
    let body = ops::oncall::feeds::calendar(
        rotation,
        &covers,
        person,
        now - FEED_BEHIND_MS,
        now + FEED_AHEAD_MS,
        now,
    );
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The on-call chores, every `every` until Onwatch stops: refresh who is on call for the
/// header, keep the handoff of a shift that just ended (once: a second replica or a restart
/// writes nothing twice), and, every twelfth time, work out who is scheduled but not ready.
pub async fn chores(
    portal: app::portal::Portal,
    mut stopping: watch::Receiver<bool>,
    every: Duration,
) {
    let oncall: Arc<ops::oncall::OnCall> = portal.oncall.clone();
    let mut round: u64 = 0;
    loop {
        let now = ops::time::now_ms();
        // Incidents change through their own functions, which refresh this at once; this
        // catches a second replica's changes.
        if let Err(e) = portal.incidents.refresh_open().await {
            tracing::warn!(error = %e, "the open incidents could not be read");
        }
        if let Err(e) = oncall.refresh_header(now).await {
            tracing::warn!(error = %e, "who is on call could not be worked out; trying again");
        }
        if oncall.rotation.is_some() {
            let unhealthy = ops::oncall::handoff::unhealthy(&portal.fleet.snapshot(now));
            match oncall.write_due_handoff(now, unhealthy).await {
                Ok(Some(index)) => tracing::info!(shift = index, "handoff summary kept"),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the handoff summary could not be kept; trying again")
                }
            }
            if round.is_multiple_of(12) {
                match portal.team().not_ready().await {
                    Ok(people) => oncall.set_not_ready(people),
                    Err(e) => {
                        tracing::warn!(error = %e, "onboarding readiness could not be read")
                    }
                }
            }
        }
        round += 1;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

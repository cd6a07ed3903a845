//! Admin: the active sign-in sessions, each revocable. Revoking ends the session at once on
//! every replica (sessions live in the store).

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::LoadError;
use crate::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub handle: String,
    pub login: String,
    pub name: String,
    pub provider: String,
    pub role: String,
    pub signed_in_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    /// The session belongs to the admin looking at the page.
    pub yours: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsView {
    pub now_ms: i64,
    pub sessions: Vec<SessionView>,
}

#[server(prefix = "/api/admin", endpoint = "sessions")]
pub async fn list_sessions() -> Result<SessionsView, ServerFnError> {
    let me = crate::portal::require(ops::auth::Role::Admin)?;
    let portal = crate::portal::portal()?;
    let now = ops::time::now_ms();
    let rows = portal
        .sessions
        .active(now)
        .await
        .map_err(|e| ServerFnError::new(format!("cannot read sessions: {e}")))?;
    Ok(SessionsView {
        now_ms: now,
        sessions: rows
            .into_iter()
            .map(|r| SessionView {
                yours: r.login == me.login && r.provider == me.provider,
                handle: r.handle,
                login: r.login,
                name: r.name,
                provider: r.provider,
                role: r.role,
                signed_in_ms: r.signed_in_ms,
                last_seen_ms: r.last_seen_ms,
                expires_ms: r.expires_ms,
                user_agent: r.user_agent,
                address: r.address,
            })
            .collect(),
    })
}

/// Ends the session named by `handle`. Not found is an error, so a double click says so.
#[server(prefix = "/api/admin", endpoint = "revoke-session")]
pub async fn revoke_session(handle: String) -> Result<String, ServerFnError> {
    let me = crate::portal::require(ops::auth::Role::Admin)?;
    let handle = handle.trim().to_owned();
    if handle.is_empty() || handle.len() > 64 || !handle.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ServerFnError::new(
            "That is not a session handle: reload the page and use its Revoke button.",
        ));
    }
    let portal = crate::portal::portal()?;
    let done = portal
        .sessions
        .revoke(&handle)
        .await
        .map_err(|e| ServerFnError::new(format!("cannot revoke the session: {e}")))?;
    if done {
        tracing::info!(handle = %handle, by = %me.label(), "session revoked");
        let entry = ops::audit::Entry {
            detail: serde_json::json!({"session": handle}),
            ..ops::audit::Entry::new(ops::audit::Event::SessionRevoked)
        };
        // The session is already gone: a failed row is logged loudly, not undone.
        if let Err(e) = portal.actions.audit().append(&me.actor(), &entry).await {
            tracing::error!(error = %e, handle = %handle, "cannot audit a session revocation");
        }
        Ok(format!("Session {handle} revoked."))
    } else {
        Err(ServerFnError::new(format!(
            "No active session {handle}: it has already ended or been revoked."
        )))
    }
}

/// Where the revoke form posts (the server function's own path).
const REVOKE_PATH: &str = <RevokeSession as leptos::server_fn::ServerFn>::PATH;

#[component]
pub fn AdminSessionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let sessions = crate::data::resource(move || revoke.version().get(), |_| list_sessions());
    view! {
        <Title text="Sessions"/>
        <section class="page">
            <p class="crumbs">"Admin"</p>
            <h1>"Active sessions"</h1>
            <p class="lede">
                "Everyone signed in to Onwatch now. Revoking a session signs that browser out at once; the person can sign in again if their memberships still allow it."
            </p>
            {move || revoke.value().get().map(|r| match r {
                Ok(msg) => view! { <div class="callout" role="status" data-testid="revoke-result">{msg}</div> }.into_any(),
                Err(e) => view! { <div class="callout callout-error" role="alert" data-testid="revoke-result">{e.to_string()}</div> }.into_any(),
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(v) => view! { <SessionTable view=v revoke=revoke/> }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SessionTable(view: SessionsView, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let now = view.now_ms;
    if view.sessions.is_empty() {
        return view! { <p class="muted">"No active sessions."</p> }.into_any();
    }
    view! {
        <div class="grid-wrap">
            <table class="table sessions" data-testid="sessions">
                <thead>
                    <tr>
                        <th scope="col">"Who"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last seen"</th>
                        <th scope="col">"Ends (if idle)"</th>
                        <th scope="col">"Browser"</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>
                    {view.sessions.into_iter().map(|s| {
                        let handle = s.handle.clone();
                        let for_submit = s.handle.clone();
                        view! {
                            <tr data-login=s.login.clone() data-handle=s.handle.clone()>
                                <td>
                                    <strong>{s.name.clone()}</strong>
                                    " " <span class="muted small">{s.login.clone()} " via " {s.provider.clone()}</span>
                                    {s.yours.then(|| view! { " " <span class="role">"you"</span> })}
                                </td>
                                <td><span class=format!("role role-{}", s.role)>{s.role.clone()}</span></td>
                                <td title=fmt::clock(s.signed_in_ms)>{fmt::age(now - s.signed_in_ms)} " ago"</td>
                                <td>{fmt::age(now - s.last_seen_ms)} " ago"</td>
                                <td>"in " {fmt::age(s.expires_ms - now)}</td>
                                <td class="small muted">
                                    {s.user_agent.clone().unwrap_or_else(|| "unknown".to_owned())}
                                    {s.address.clone().map(|a| view! { <br/> {a} })}
                                </td>
                                <td>
                                    // A plain form (posts and comes back without JavaScript); once
                                    // the page is interactive, the action runs in place.
                                    <form
                                        method="post"
                                        action=REVOKE_PATH
                                        on:submit=move |ev: leptos::ev::SubmitEvent| {
                                            ev.prevent_default();
                                            revoke.dispatch(RevokeSession { handle: for_submit.clone() });
                                        }
                                    >
                                        <input type="hidden" name="handle" value=handle/>
                                        <button class="button button-danger" type="submit">"Revoke"</button>
                                    </form>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

//! The sign-in routes: the sign-in page, each provider's start and callback, the development
//! sign-in, and sign-out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ops::auth::{AuthError, CsrfToken, Identity, PendingSignIn, Role};
use serde::Deserialize;
use tower_sessions::Session;

use super::session_store::SIGNED_IN_KEY;
use super::{pages, Auth, SignedIn, SIGN_IN_TIMEOUT_MS};

#[derive(Debug, Deserialize, Default)]
pub struct SigninQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    // `error_description` is not read: anyone can write it into the URL, so the page says a
    // fixed sentence for the `error` code instead (`provider_error_sentence`).
}

#[derive(Debug, Deserialize)]
pub struct DevForm {
    name: String,
    role: String,
    next: Option<String>,
}

/// A local path to return to after sign-in; anything else (another site, `//host`, a scheme)
/// becomes `/`, so the sign-in cannot be used as an open redirect.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control() || c == '\\')
                && !n.starts_with("/signin")
                && !n.starts_with("/auth/") =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn csrf(parts: &Parts) -> String {
    parts
        .extensions
        .get::<CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

pub async fn signin_page(
    State(auth): State<Auth>,
    Query(q): Query<SigninQuery>,
    parts: Parts,
) -> Response {
    let signed_in = parts.extensions.get::<Identity>();
    let notice = q.signed_out.is_some().then_some("You are signed out.");
    pages::signin(
        &auth,
        signed_in,
        &safe_next(q.next.as_deref()),
        notice,
        &csrf(&parts),
    )
    .into_response()
}

fn not_configured(provider: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        pages::problem(
            "Sign-in not configured",
            &format!("Sign-in with {provider} is not configured on this Onwatch. Use another way on the sign-in page."),
            &[],
        ),
    )
        .into_response()
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "session store error during sign-in");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        pages::problem(
            "Sign-in unavailable",
            "Onwatch cannot write the session to its store right now. Try again shortly; if it persists, check /healthz.",
            &[],
        ),
    )
        .into_response()
}

/// The short-lived cookies that carry a browser's sign-ins in progress: one per sign-in, named
/// `onwatch_signin_` + a digest of its state, so that sign-ins started in several tabs each
/// complete.
pub const SIGNIN_COOKIE: &str = "onwatch_signin";

/// At most this many sign-in cookies of one request are looked at.
const SIGNIN_COOKIES_READ: usize = 16;

/// A `next` longer than this is dropped (the cookie must stay well under 4 KiB).
const NEXT_MAX: usize = 1024;

/// The name of the cookie that carries the sign-in of `state`.
pub fn signin_cookie_name(state: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(state.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{SIGNIN_COOKIE}_{hex}")
}

/// The request's sign-in cookies, as (name, value).
fn signin_cookies(parts: &Parts) -> Vec<(String, String)> {
    let prefix = format!("{SIGNIN_COOKIE}_");
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| k.starts_with(&prefix))
        .take(SIGNIN_COOKIES_READ)
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

/// `Set-Cookie` for a sign-in cookie: `value` for `max_age` seconds (0 deletes it). Scoped to
/// `/auth`, where the callbacks are; `SameSite=Lax` so that the provider's redirect back (a
/// top-level GET from another site) carries it.
fn signin_cookie(
    auth: &Auth,
    name: &str,
    value: &str,
    max_age: i64,
) -> (header::HeaderName, String) {
    let secure = if auth.secure_cookies { "; Secure" } else { "" };
    (
        header::SET_COOKIE,
        format!("{name}={value}; Path=/auth; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"),
    )
}

/// Starts a sign-in: seals what the callback needs into a cookie of its own (nothing is
/// written to the store) and sends the browser to the provider.
async fn start(
    auth: &Auth,
    next: Option<String>,
    begun: Result<(url::Url, PendingSignIn), AuthError>,
) -> Response {
    match begun {
        Ok((url, mut pending)) => {
            let next = safe_next(next.as_deref());
            pending.next = Some(if next.len() > NEXT_MAX {
                "/".to_owned()
            } else {
                next
            });
            let name = signin_cookie_name(&pending.state);
            let sealed = match auth.signins.seal(&name, &pending).await {
                Ok(v) => v,
                Err(e) => return store_error(e),
            };
            (
                [signin_cookie(
                    auth,
                    &name,
                    &sealed,
                    SIGN_IN_TIMEOUT_MS / 1000,
                )],
                Redirect::to(url.as_str()),
            )
                .into_response()
        }
        Err(e) => failure(e),
    }
}

pub async fn github_start(State(auth): State<Auth>, Query(q): Query<StartQuery>) -> Response {
    let Some(gh) = &auth.github else {
        return not_configured("GitHub");
    };
    start(&auth, q.next, gh.begin(&auth.callback_url("github"))).await
}

pub async fn oidc_start(State(auth): State<Auth>, Query(q): Query<StartQuery>) -> Response {
    let Some(oidc) = &auth.oidc else {
        return not_configured("OpenID Connect");
    };
    let begun = oidc.provider.begin(&auth.callback_url("oidc")).await;
    start(&auth, q.next, begun).await
}

/// What a provider's error code means, in a fixed sentence: the code comes from the URL (anyone
/// can write one, and an `error_description` with it), so nothing of the URL's text is shown but
/// the code itself when it is a plain word.
pub fn provider_error_sentence(code: &str) -> &'static str {
    match code {
        "access_denied" => "You (or the provider) cancelled the sign-in, so Onwatch did not sign you in. Start again from the sign-in page if you meant to sign in.",
        "login_required" => "The sign-in provider needs you to sign in there first and could not ask you. Start again from the sign-in page.",
        "consent_required" => "The sign-in provider needs your consent for Onwatch and could not ask you. Start again from the sign-in page.",
        "interaction_required" | "account_selection_required" => "The sign-in provider needs you to answer a question there and could not ask you. Start again from the sign-in page.",
        "temporarily_unavailable" => "The sign-in provider is temporarily unavailable. Try again in a few minutes.",
        "server_error" => "The sign-in provider had an internal error. Try again in a few minutes; if it persists, check the provider's status.",
        "invalid_request" | "invalid_request_uri" | "invalid_request_object" | "request_not_supported" | "request_uri_not_supported" | "registration_not_supported" => "The sign-in provider found Onwatch's sign-in request invalid. Start again from the sign-in page; if it happens again, an Onwatch admin must compare the [auth] configuration with the application registered at the provider.",
        "unauthorized_client" => "The sign-in provider does not let Onwatch sign people in this way. An Onwatch admin must check the application registered at the provider (grant type: authorization code).",
        "unsupported_response_type" => "The sign-in provider does not offer the kind of sign-in Onwatch uses (authorization code). An Onwatch admin must check the application registered at the provider.",
        "invalid_scope" => "The sign-in provider refused the permissions Onwatch asks for (scopes). An Onwatch admin must check the scopes in the [auth] configuration and at the provider.",
        "redirect_uri_mismatch" => "The sign-in provider does not know Onwatch's callback address. An Onwatch admin must register https://ONWATCH/auth/PROVIDER/callback with the provider (see the README).",
        "application_suspended" => "The sign-in provider has suspended Onwatch's application. An Onwatch admin must ask the provider's owners to restore it.",
        _ => "The sign-in provider refused the sign-in. Start again from the sign-in page; if it happens again, an Onwatch admin can look up the error code in the provider's logs.",
    }
}

/// An error code that may be shown as it is: a plain word (`[a-z_]{1,40}`).
fn plain_code(code: &str) -> Option<&str> {
    (!code.is_empty()
        && code.len() <= 40
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    .then_some(code)
}

/// The page for a callback that brings the provider's error instead of a code.
fn provider_error(code: &str) -> Response {
    tracing::info!(
        code = plain_code(code).unwrap_or("(not a plain word)"),
        "the provider sent an error back instead of a code"
    );
    let title = if code == "access_denied" {
        "Sign-in cancelled"
    } else {
        "Sign-in refused by the provider"
    };
    let facts: Vec<(String, String)> = plain_code(code)
        .map(|c| vec![("Error code".to_owned(), c.to_owned())])
        .unwrap_or_default();
    (
        StatusCode::BAD_REQUEST,
        pages::problem(title, provider_error_sentence(code), &facts),
    )
        .into_response()
}

/// The page for a sign-in cookie that is too old, or was changed on the way.
fn expired() -> Response {
    (
        StatusCode::BAD_REQUEST,
        pages::problem(
            "Sign-in expired",
            "This sign-in took longer than 10 minutes, or its cookie was changed on the way, so Onwatch cannot finish it: start again from the sign-in page.",
            &[],
        ),
    )
        .into_response()
}

/// Why a callback stopped before the provider was asked anything, and the sign-in cookies to
/// delete with the answer.
struct Stopped {
    response: Response,
    forget: Vec<String>,
}

/// The checks every callback makes before the provider is asked anything: the provider's own
/// error, this browser's sign-in of the returned `state` (sealed in its cookie, intact, not too
/// old), and that it was not used before. It is used up here, whatever follows: a callback
/// works once, also when that one attempt fails.
async fn pending_for(
    auth: &Auth,
    parts: &Parts,
    provider: &str,
    q: &CallbackQuery,
) -> Result<(PendingSignIn, String, String), Stopped> {
    let cookies = signin_cookies(parts);
    let state = q.state.as_deref().unwrap_or("");
    let name = signin_cookie_name(state);
    let mine = cookies.iter().find(|(n, _)| *n == name);
    let stop = |response: Response, forget: Vec<String>| Stopped { response, forget };
    if let Some(err) = &q.error {
        let forget = mine.map(|(n, _)| vec![n.clone()]).unwrap_or_default();
        return Err(stop(provider_error(err), forget));
    }
    let now = ops::time::now_ms();
    let Some((_, value)) = mine else {
        if cookies.is_empty() || state.is_empty() {
            return Err(stop(
                failure(AuthError::Invalid(
                    "this browser has no sign-in in progress (it was started elsewhere, or already finished)".to_owned(),
                )),
                Vec::new(),
            ));
        }
        // A state this browser never sent to a provider, while it has sign-ins in progress: a
        // callback planted by someone else. Every sign-in of this browser ends here.
        for (n, v) in &cookies {
            if let Ok(Ok(p)) = auth.signins.open(n, v, now).await {
                if let Err(e) = auth.signins.spend(&p.state, p.started_ms, now).await {
                    return Err(stop(store_error(e), Vec::new()));
                }
            }
        }
        return Err(stop(
            failure(AuthError::Invalid(
                "the state parameter does not match this browser's sign-in".to_owned(),
            )),
            cookies.into_iter().map(|(n, _)| n).collect(),
        ));
    };
    let forget = vec![name.clone()];
    let pending = match auth.signins.open(&name, value, now).await {
        Ok(Ok(p)) => p,
        Ok(Err(why)) => {
            tracing::info!(why = ?why, "sign-in cookie refused");
            return Err(stop(expired(), forget));
        }
        Err(e) => return Err(stop(store_error(e), forget)),
    };
    if pending.provider != provider || !pending.state_matches(state) {
        return Err(stop(
            failure(AuthError::Invalid(
                "this browser has no sign-in in progress with this provider".to_owned(),
            )),
            forget,
        ));
    }
    match auth.signins.spend(&pending.state, pending.started_ms, now).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(stop(
                failure(AuthError::Invalid(
                    "this browser has no sign-in in progress (it was started elsewhere, or already finished)".to_owned(),
                )),
                forget,
            ))
        }
        Err(e) => return Err(stop(store_error(e), forget)),
    }
    let Some(code) = q.code.clone().filter(|c| !c.is_empty()) else {
        return Err(stop(
            failure(AuthError::Invalid(
                "the provider sent no authorization code".to_owned(),
            )),
            forget,
        ));
    };
    Ok((pending, code, name))
}

pub async fn github_callback(
    State(auth): State<Auth>,
    session: Session,
    Query(q): Query<CallbackQuery>,
    parts: Parts,
) -> Response {
    callback(&auth, &session, &q, &parts, Provider::GitHub).await
}

pub async fn oidc_callback(
    State(auth): State<Auth>,
    session: Session,
    Query(q): Query<CallbackQuery>,
    parts: Parts,
) -> Response {
    callback(&auth, &session, &q, &parts, Provider::Oidc).await
}

/// The providers that send people back to a callback.
#[derive(Debug, Clone, Copy)]
enum Provider {
    GitHub,
    Oidc,
}

impl Provider {
    /// As in `PendingSignIn::provider` and the callback path.
    fn key(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Oidc => "oidc",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::Oidc => "OpenID Connect",
        }
    }
}

/// The configured provider a callback hands the code to.
enum Finisher<'a> {
    GitHub(&'a ops::auth::github::GitHubProvider),
    Oidc(&'a ops::auth::oidc::OidcProvider),
}

/// A provider's callback: checks the browser's pending sign-in, lets the provider finish (code
/// exchange, identity, role), and signs the identity in.
async fn callback(
    auth: &Auth,
    session: &Session,
    q: &CallbackQuery,
    parts: &Parts,
    provider: Provider,
) -> Response {
    let finisher = match provider {
        Provider::GitHub => auth.github.as_ref().map(Finisher::GitHub),
        Provider::Oidc => auth.oidc.as_ref().map(|o| Finisher::Oidc(&o.provider)),
    };
    let Some(finisher) = finisher else {
        return not_configured(provider.title());
    };
    let (pending, code, name) = match pending_for(auth, parts, provider.key(), q).await {
        Ok(p) => p,
        Err(Stopped { response, forget }) => {
            let mut response = response;
            for n in forget {
                let (h, v) = signin_cookie(auth, &n, "", 0);
                if let Ok(v) = header::HeaderValue::from_str(&v) {
                    response.headers_mut().append(h, v);
                }
            }
            return response;
        }
    };
    let forget = signin_cookie(auth, &name, "", 0);
    let finished = match finisher {
        Finisher::GitHub(gh) => gh.finish(&pending, &code).await,
        Finisher::Oidc(oidc) => oidc.finish(&pending, &code).await,
    };
    let res = match finished {
        Ok(signed) => {
            complete(
                auth,
                session,
                parts,
                signed.identity,
                Some(signed.credential),
                pending.next,
            )
            .await
        }
        Err(e) => {
            audit_refusal(auth, provider.key(), &e).await;
            failure(e)
        }
    };
    ([forget], res).into_response()
}

pub async fn dev_signin(
    State(auth): State<Auth>,
    session: Session,
    parts: Parts,
    form: Result<Form<DevForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !auth.dev_signin {
        return not_configured("the development sign-in");
    }
    let Ok(Form(form)) = form else {
        return bad_dev_form("the form is incomplete: it needs a name and a role");
    };
    let name = form.name.trim();
    let valid_name = !name.is_empty()
        && name.chars().count() <= 40
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '@'));
    if !valid_name {
        return bad_dev_form("the name must be 1 to 40 letters, digits, spaces or - _ . @");
    }
    let role = match form.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => return bad_dev_form(&e),
    };
    let identity = Identity {
        provider: "dev".to_owned(),
        subject: name.to_owned(),
        login: name.to_owned(),
        name: name.to_owned(),
        email: None,
        role,
        memberships: Vec::new(),
    };
    complete(
        &auth,
        &session,
        &parts,
        identity,
        None,
        Some(safe_next(form.next.as_deref())),
    )
    .await
}

fn bad_dev_form(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        pages::problem(
            "Sign-in refused",
            &format!("Development sign-in: {message}. Go back and correct it."),
            &[],
        ),
    )
        .into_response()
}

/// Signs the identity in: a new session id (no fixation), the identity stored, then on to
/// where the person was going.
async fn complete(
    auth: &Auth,
    session: &Session,
    parts: &Parts,
    identity: Identity,
    credential: Option<ops::auth::Credential>,
    next: Option<String>,
) -> Response {
    let now = ops::time::now_ms();
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect::<String>());
    // `X-Forwarded-For` only through a configured proxy: anyone else could write anything there.
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| crate::edge::client_address(c.0.ip(), &parts.headers, &auth.trusted_proxies))
        .map(|ip| ip.to_string());
    let signed_in = SignedIn {
        identity: identity.clone(),
        signed_in_ms: now,
        last_seen_ms: now,
        user_agent,
        address,
        roles_checked_ms: now,
        credential,
    };
    // Audited first: a sign-in that cannot be recorded does not happen.
    let entry = ops::audit::Entry {
        detail: serde_json::json!({
            "provider": identity.provider,
            "login": identity.login,
            "address": signed_in.address,
            "user_agent": signed_in.user_agent,
        }),
        ..ops::audit::Entry::new(ops::audit::Event::Signin)
    };
    if let Err(e) = auth.audit.append(&identity.actor(), &entry).await {
        tracing::error!(error = %e, who = %identity.label(), "cannot audit a sign-in; refused");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            pages::problem(
                "Sign-in not recorded",
                "Onwatch could not write the sign-in to its audit log, so it did not sign you in. Try again in a minute; if it persists, Onwatch's store is failing.",
                &[],
            ),
        )
            .into_response();
    }
    if let Err(e) = session.cycle_id().await {
        return store_error(e);
    }
    if let Err(e) = session.insert(SIGNED_IN_KEY, &signed_in).await {
        return store_error(e);
    }
    tracing::info!(who = %identity.label(), role = %identity.role, "signed in");
    Redirect::to(&safe_next(next.as_deref())).into_response()
}

/// A refused sign-in is an audit row; the person is named as far as the provider said.
async fn audit_refusal(auth: &Auth, provider: &str, e: &AuthError) {
    let (id, name) = match e {
        AuthError::NoRole { login, .. } => (format!("{provider}:?"), login.clone()),
        _ => (format!("{provider}:?"), String::new()),
    };
    let entry = ops::audit::Entry {
        outcome: "refused".into(),
        detail: serde_json::json!({"provider": provider, "why": e.to_string()}),
        ..ops::audit::Entry::new(ops::audit::Event::SigninRefused)
    };
    let actor = ops::audit::Actor {
        id,
        name,
        role: String::new(),
    };
    if let Err(err) = auth.audit.append(&actor, &entry).await {
        tracing::error!(error = %err, "cannot audit a refused sign-in");
    }
}

/// A failed sign-in, as a page that says what happened and what to do.
fn failure(e: AuthError) -> Response {
    match &e {
        AuthError::NoRole {
            login,
            provider,
            seen,
            wanted,
        } => {
            tracing::info!(login = %login, provider = %provider, "sign-in refused: no role");
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.join(", ")
                }
            };
            (
                StatusCode::FORBIDDEN,
                pages::problem(
                    "No access to Onwatch",
                    &format!("{e}. Ask an Onwatch admin to add you to one of the groups below, then sign in again."),
                    &[
                        ("Your memberships".to_owned(), list(seen)),
                        ("Memberships with a role".to_owned(), list(wanted)),
                    ],
                ),
            )
                .into_response()
        }
        AuthError::NeedsAction(_) => {
            tracing::info!(error = %e, "sign-in refused: the person must act at the provider");
            (
                StatusCode::FORBIDDEN,
                pages::problem("No access to Onwatch yet", &e.to_string(), &[]),
            )
                .into_response()
        }
        AuthError::Provider(_) => {
            tracing::warn!(error = %e, "sign-in failed at the provider");
            (
                StatusCode::BAD_GATEWAY,
                pages::problem("Sign-in failed", &e.to_string(), &[]),
            )
                .into_response()
        }
        AuthError::Refused(_) | AuthError::Invalid(_) => {
            tracing::warn!(error = %e, "sign-in refused");
            (
                StatusCode::BAD_REQUEST,
                pages::problem("Sign-in failed", &e.to_string(), &[]),
            )
                .into_response()
        }
    }
}

pub async fn signout(State(auth): State<Auth>, session: Session) -> Response {
    if let Ok(Some(s)) = session.get::<SignedIn>(SIGNED_IN_KEY).await {
        tracing::info!(who = %s.identity.label(), "signed out");
        let entry = ops::audit::Entry {
            detail: serde_json::json!({"provider": s.identity.provider}),
            ..ops::audit::Entry::new(ops::audit::Event::Signout)
        };
        // The session ends either way: a sign-out is never refused.
        if let Err(e) = auth.audit.append(&s.identity.actor(), &entry).await {
            tracing::error!(error = %e, who = %s.identity.label(), "cannot audit a sign-out");
        }
    }
    if let Err(e) = session.flush().await {
        return store_error(e);
    }
    Redirect::to("/signin?signed_out=1").into_response()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_local_path_or_home() {
        assert_eq!(
            safe_next(Some("/environments/live?x=1")),
            "/environments/live?x=1"
        );
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("/signin?next=/")), "/", "no loops");
        assert_eq!(safe_next(Some("/x\r\nSet-Cookie: a=b")), "/");
        assert_eq!(safe_next(None), "/");
    }
}

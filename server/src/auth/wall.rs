//! The auth wall: every request passes here. It refuses cross-site state-changing requests,
//! finds out who is asking (ending sessions past their absolute lifetime), and checks the role
//! the route needs. What a route needs is decided by the [`RouteTable`] alone: by the pattern the
//! router matched, never by the raw path.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use ops::auth::{CsrfToken, Identity, Role};
use tower_sessions::Session;

use super::session_store::SIGNED_IN_KEY;
use super::{pages, Auth, SignedIn, TOUCH_EVERY_MS};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: sign-in, health, metrics, static assets.
    Public,
    /// A signed-in person with at least this role.
    Signed(Role),
    /// A route that nobody declared (or an `/api/…` path outside the conventions): refused for
    /// everyone, so a route that forgot to say what it needs fails closed.
    Undeclared,
}

/// The session's key in the store and the moment its absolute lifetime ends, for long-lived
/// streams that must end with the session.
#[derive(Debug, Clone)]
pub struct SessionKey {
    /// The session's row in the store ([`ops::auth::sessions::store_key`] of the session id),
    /// what `SessionStore::load` takes; never the id itself.
    pub id: String,
    pub ends_ms: i64,
}

/// The double-submit CSRF cookie, for requests that carry neither `Sec-Fetch-Site` nor `Origin`.
pub const CSRF_COOKIE: &str = "onwatch_csrf";
/// The form field and header that carry the token.
pub use super::CSRF_FIELD;
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The browser's own time zone, as the page's boot script reports it.
pub use vocab::zone::COOKIE as ZONE_COOKIE;

/// What every route of the router needs, by its pattern (`/services/{slug}`): the server's own
/// routes say it where they are declared, pages in [`app::PAGES`], server functions by their
/// prefix (`/api/read/` and `/api/attempt/` viewer, `/api/act/` responder, `/api/admin/` admin, `/api/public/`
/// anyone).
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    by_pattern: std::collections::HashMap<String, Access>,
}

impl RouteTable {
    /// The table of the server's routes and pages.
    pub fn new(server: impl IntoIterator<Item = (String, Access)>) -> RouteTable {
        let mut by_pattern: std::collections::HashMap<String, Access> =
            server.into_iter().collect();
        for (pattern, role) in app::PAGES {
            by_pattern.insert((*pattern).to_owned(), Access::Signed(*role));
        }
        RouteTable { by_pattern }
    }

    /// What a request needs: by the route the router matched (`None` when nothing matched, and
    /// the fallback serves a static file or the not-found page).
    pub fn access(&self, matched: Option<&str>, path: &str) -> Access {
        match matched {
            Some(pattern) => self
                .by_pattern
                .get(pattern)
                .copied()
                .unwrap_or_else(|| server_fn_access(pattern)),
            // Unrouted: the built site's files are public; anything else is the not-found page,
            // drawn in the signed-in layout.
            None if path.starts_with("/pkg/") || path == "/favicon.ico" => Access::Public,
            // No such endpoint: refused like an undeclared one, for everyone.
            None if path == "/api" || path.starts_with("/api/") => Access::Undeclared,
            None => Access::Signed(Role::Viewer),
        }
    }

    /// Every declared pattern and what it needs (the wall test walks these).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Access)> {
        self.by_pattern.iter().map(|(p, a)| (p.as_str(), *a))
    }
}

/// What a server function needs, by its prefix; anything else is undeclared.
pub fn server_fn_access(pattern: &str) -> Access {
    let under = |prefix: &str| pattern.starts_with(&format!("{prefix}/"));
    if under("/api/public") {
        Access::Public
    } else if under("/api/read") || under("/api/attempt") {
        // `/api/attempt`: an attempt anyone signed in may make, judged (and audited, refused
        // or not) by the capability itself: a viewer's restart is refused by its role guard.
        Access::Signed(Role::Viewer)
    } else if under("/api/act") {
        Access::Signed(Role::Responder)
    } else if under("/api/admin") {
        Access::Signed(Role::Admin)
    } else {
        Access::Undeclared
    }
}

/// The wall's state: the sign-in settings and the route table.
#[derive(Clone)]
pub struct WallState {
    pub auth: Auth,
    /// Each person's settings: the wall works out the zone a request's pages speak.
    pub prefs: ops::prefs::Preferences,
    pub routes: std::sync::Arc<RouteTable>,
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// A refusal in the shape the caller understands: server functions decode `ServerError|…`
/// bodies into an error message; pages get HTML.
fn refuse(status: StatusCode, path: &str, title: &str, message: &str) -> Response {
    if is_api(path) {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("ServerError|{message}"),
        )
            .into_response()
    } else {
        (status, pages::problem(title, message, &[])).into_response()
    }
}

pub async fn wall(State(wall): State<WallState>, req: Request, next: Next) -> Response {
    let auth = &wall.auth;
    let path = req.uri().path().to_owned();
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let access = wall.routes.access(matched.as_deref(), &path);
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        tracing::error!("the session layer is missing in front of the auth wall");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            &path,
            "Server error",
            "Onwatch is misconfigured (no session layer).",
        );
    };

    // 1. CSRF: a state-changing request must come from an Onwatch page.
    let (csrf, fresh_csrf) = match cookie(req.headers(), CSRF_COOKIE) {
        Some(t) if t.len() >= 20 => (t, false),
        _ => (ops::auth::random_token(), true),
    };
    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        match check_csrf(auth, req, &csrf, fresh_csrf).await {
            Ok(r) => req = r,
            Err(reason) => {
                tracing::warn!(path = %path, reason = %reason, "cross-site request refused");
                return refuse(
                    StatusCode::FORBIDDEN,
                    &path,
                    "Request refused",
                    &format!("Refused: this request did not come from an Onwatch page ({reason}). Reload Onwatch and try again."),
                );
            }
        }
    }

    // 1b. A GET of the API does things in the person's name (a log stream opens SSH and runs
    // `journalctl` on a production host, an export reads the whole audit log), and a
    // top-level navigation from another site carries the `SameSite=Lax` cookie: such a GET is
    // taken only with the browser's word that it comes from an Onwatch page (or from the
    // person's own address bar). Every browser Onwatch supports sends `Sec-Fetch-Site`; a
    // client without it (a script) sends it itself. Public paths (the iCal feeds) are not API.
    if req.method() == Method::GET && is_api(&path) && access != Access::Public {
        let site = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        if !matches!(site, Some("same-origin") | Some("none")) {
            let why = match site {
                Some(other) => format!("Sec-Fetch-Site: {other}"),
                None => "no Sec-Fetch-Site header".to_owned(),
            };
            tracing::warn!(path = %path, reason = %why, "cross-site API read refused");
            return refuse(
                StatusCode::FORBIDDEN,
                &path,
                "Request refused",
                &format!("Refused: this request did not come from an Onwatch page ({why}). Open it from Onwatch; a script sends `Sec-Fetch-Site: same-origin`."),
            );
        }
    }

    // 2. Who is asking. The built site's files are the same for everyone: they never cost a
    // session lookup.
    let static_file = matched.as_deref() == Some(crate::assets::PATTERN)
        || (matched.is_none() && path.starts_with("/pkg/"));
    let looked_up = if static_file {
        Ok(Current::Anonymous)
    } else {
        current(auth, &session).await
    };
    let signed_in = match looked_up {
        Ok(Current::Signed(s)) => Some(*s),
        Ok(Current::Anonymous) => None,
        // Public paths (the sign-in page) go on anonymously; anything else says why it ended.
        Ok(Current::Ended(_)) if access == Access::Public => None,
        Ok(Current::Ended(why)) => {
            return refuse(StatusCode::UNAUTHORIZED, &path, "Session ended", &why)
        }
        // Public paths (health, sign-in) work without the session store.
        Err(e) if access == Access::Public => {
            tracing::warn!(error = %e, path = %path, "cannot read the session; serving a public path anonymously");
            None
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the session");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                &path,
                "Sessions unavailable",
                "Onwatch cannot read sessions from its store right now. Try again shortly; if it persists, check /healthz.",
            );
        }
    };

    // 3. What the path needs.
    match access {
        Access::Public => {}
        Access::Undeclared => {
            tracing::error!(path = %path, route = ?matched, "refused: a route that does not declare the role it needs (fails closed)");
            return refuse(
                StatusCode::FORBIDDEN,
                &path,
                "Not allowed",
                "This address does not declare the role it needs, so Onwatch refuses it for everyone.",
            );
        }
        Access::Signed(needed) => match &signed_in {
            None => return unauthenticated(&req, &path),
            Some(s) if !s.identity.role.allows(needed) => {
                tracing::info!(path = %path, who = %s.identity.label(), role = %s.identity.role, needed = %needed, "refused: role too low");
                return refuse(
                    StatusCode::FORBIDDEN,
                    &path,
                    "Not allowed",
                    &format!(
                        "You are signed in as {} with the {} role; this needs the {needed} role. Ask an Onwatch admin if you should have it.",
                        s.identity.login, s.identity.role
                    ),
                );
            }
            Some(_) => {}
        },
    }

    if let Some(s) = &signed_in {
        req.extensions_mut().insert(s.identity.clone());
        if let Some(id) = session.id() {
            req.extensions_mut().insert(SessionKey {
                id: ops::auth::sessions::store_key(&id.to_string()),
                ends_ms: s.signed_in_ms + auth.absolute.as_millis() as i64,
            });
        }
    }
    req.extensions_mut().insert(CsrfToken(csrf.clone()));
    // The zone the pages speak (issue #28, point 12): the person's choice, else the zone their
    // browser reported in its cookie (checked against the zone database: a cookie is the
    // client's word), else UTC. Static files need none.
    if !static_file {
        let person = signed_in.as_ref().map(|s| s.identity.actor().id);
        let browser = cookie(req.headers(), ZONE_COOKIE);
        let zone = wall
            .prefs
            .zone_for(person.as_deref(), browser.as_deref(), ops::time::now_ms())
            .await;
        req.extensions_mut().insert(zone);
    }
    let mut res = next.run(req).await;
    if is_api(&path) && res.status() == StatusCode::INTERNAL_SERVER_ERROR {
        res = bad_arguments_are_400(res).await;
    }

    let headers = res.headers_mut();
    if fresh_csrf {
        let secure = if auth.secure_cookies { "; Secure" } else { "" };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Strict{secure}"
        )) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    if access != Access::Public || path == "/signin" {
        // Pages and data are personal and live: never from a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// Server functions answer 500 for every error, including arguments that could not be read (a
/// missing or malformed field): those are the caller's mistake, so they become 400 with a message
/// that says which argument.
async fn bad_arguments_are_400(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let caller_error = ["Args|", "MissingArg|", "Deserialization|"]
        .iter()
        .any(|p| text.starts_with(p));
    if !caller_error {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let detail = text.split_once('|').map(|(_, d)| d).unwrap_or_default();
    parts.status = StatusCode::BAD_REQUEST;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        Body::from(format!(
            "ServerError|The request's arguments could not be read ({detail}). Reload the page and try again."
        )),
    )
}

/// Not signed in: pages go to the sign-in page (and come back after); data gets 401.
fn unauthenticated(req: &Request, path: &str) -> Response {
    if !is_api(path) && req.method() == Method::GET {
        let back = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| path.to_owned());
        let to = format!("/signin?next={}", encode(&back));
        return Redirect::to(&to).into_response();
    }
    refuse(
        StatusCode::UNAUTHORIZED,
        path,
        "Sign in",
        "Not signed in, or your session has ended: sign in again at /signin.",
    )
}

/// Who a request's session says is asking.
enum Current {
    Anonymous,
    Signed(Box<SignedIn>),
    /// The session was signed in and has just ended; the reason is for the person.
    Ended(String),
}

/// The signed-in person of this session, if any. Ends a session past its absolute lifetime, and
/// one whose role can no longer be confirmed with its provider (checked every
/// `auth.role_recheck_secs` while the session is used); moves the idle expiry forward (at most
/// one store write a minute).
async fn current(auth: &Auth, session: &Session) -> Result<Current, String> {
    let Some(mut s) = session
        .get::<SignedIn>(SIGNED_IN_KEY)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(Current::Anonymous);
    };
    let now = ops::time::now_ms();
    if now - s.signed_in_ms > auth.absolute.as_millis() as i64 {
        tracing::info!(who = %s.identity.label(), "session past its absolute lifetime: signed out");
        session.flush().await.map_err(|e| e.to_string())?;
        return Ok(Current::Ended(
            "Your session reached its maximum length (auth.session_absolute_hours): sign in again."
                .to_owned(),
        ));
    }
    let mut changed = false;
    if s.credential.is_some() && now - s.roles_checked_ms > auth.role_recheck.as_millis() as i64 {
        match auth.recheck(&s).await {
            Ok((identity, credential)) => {
                if identity.role != s.identity.role {
                    tracing::info!(who = %identity.label(), from = %s.identity.role, to = %identity.role, "role changed at the provider");
                }
                s.identity = identity;
                s.credential = Some(credential);
                s.roles_checked_ms = now;
                changed = true;
            }
            Err(e) => {
                tracing::info!(who = %s.identity.label(), reason = %e, "role no longer confirmed: signed out");
                session.flush().await.map_err(|e| e.to_string())?;
                return Ok(Current::Ended(format!(
                    "Onwatch checks your role with {} every few minutes, and this time it could not confirm it: {e}. Your session has ended; sign in again.",
                    match s.identity.provider.as_str() {
                        "github" => "GitHub",
                        "oidc" => "your identity provider",
                        other => other,
                    }
                )));
            }
        }
    }
    if changed || now - s.last_seen_ms > TOUCH_EVERY_MS {
        s.last_seen_ms = now;
        session
            .insert(SIGNED_IN_KEY, &s)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(Current::Signed(Box::new(s)))
}

/// Same-origin check: `Sec-Fetch-Site` where the browser sends it, else `Origin`, else the
/// double-submit token (header or form field) against the CSRF cookie.
async fn check_csrf(
    auth: &Auth,
    req: Request,
    cookie_token: &str,
    fresh: bool,
) -> Result<Request, String> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str().unwrap_or("") {
            "same-origin" | "none" => Ok(req),
            other => Err(format!("Sec-Fetch-Site: {other}")),
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
        let public = auth.public_url.origin().ascii_serialization();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
        return if origin == public || (!host.is_empty() && authority == host) {
            Ok(req)
        } else {
            Err(format!("Origin: {origin}"))
        };
    }
    // Neither header: only the token will do.
    if fresh {
        return Err("no CSRF cookie".to_owned());
    }
    if let Some(t) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if same_token(t, cookie_token) {
            Ok(req)
        } else {
            Err("wrong CSRF token".to_owned())
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err("no Origin, no Sec-Fetch-Site and no CSRF token".to_owned());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|_| "form too large".to_owned())?;
    let found = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    match found {
        Some(t) if same_token(&t, cookie_token) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        Some(_) => Err("wrong CSRF token".to_owned()),
        None => Err("no Origin, no Sec-Fetch-Site and no CSRF token".to_owned()),
    }
}

fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

pub use super::pages::encode;

/// The signed-in identity of a request (set by the wall).
pub fn identity_of(req: &axum::http::request::Parts) -> Option<&Identity> {
    req.extensions.get::<Identity>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_by_route() {
        let t = RouteTable::new([
            ("/healthz".to_owned(), Access::Public),
            (
                app::live::EVENTS_PATH.to_owned(),
                Access::Signed(Role::Viewer),
            ),
        ]);
        assert_eq!(t.access(Some("/healthz"), "/healthz"), Access::Public);
        assert_eq!(t.access(None, "/pkg/onwatch.wasm"), Access::Public);
        assert_eq!(t.access(Some("/"), "/"), Access::Signed(Role::Viewer));
        assert_eq!(
            t.access(Some("/environments/{env}"), "/environments/live"),
            Access::Signed(Role::Viewer)
        );
        assert_eq!(
            t.access(Some("/admin/sessions"), "/admin/sessions"),
            Access::Signed(Role::Admin)
        );
        assert_eq!(
            t.access(Some("/api/read/fleet"), "/api/read/fleet"),
            Access::Signed(Role::Viewer)
        );
        assert_eq!(
            t.access(Some("/api/act/restart"), "/api/act/restart"),
            Access::Signed(Role::Responder)
        );
        assert_eq!(
            t.access(Some("/api/admin/sessions"), "/api/admin/sessions"),
            Access::Signed(Role::Admin)
        );
        // Matched but declared nowhere: refused, whatever it looks like.
        assert_eq!(t.access(Some("/reports"), "/reports"), Access::Undeclared);
        assert_eq!(
            t.access(Some("/api/readme"), "/api/readme"),
            Access::Undeclared
        );
        assert_eq!(t.access(Some("/pkg/x"), "/pkg/x"), Access::Undeclared);
        assert_eq!(t.access(None, "/api/nothing-here"), Access::Undeclared);
        // Unrouted pages are the not-found page, for the signed in.
        assert_eq!(t.access(None, "/nowhere"), Access::Signed(Role::Viewer));
    }

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; onwatch_csrf=tok; b=2"),
        );
        assert_eq!(cookie(&h, CSRF_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert_eq!(encode("/x?y=1&z"), "%2Fx%3Fy%3D1%26z");
    }
}

//! A local GitHub for the sign-in tests: the OAuth endpoints (authorize, access_token, with
//! PKCE checked) and the API endpoints Onwatch reads (`/user` with its `X-OAuth-Scopes`,
//! `/user/orgs`, `/user/teams`, `/users/{login}`, `/user/memberships/orgs/{org}`). The person
//! who "signs in" at the authorize step is whoever the test set with `sign_in_as`; tests change
//! the world behind Onwatch's back (rename an account, remove a team, restrict an organisation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::json;
use sha2::Digest;

pub const CLIENT_ID: &str = "gh-client";
pub const CLIENT_SECRET: &str = "gh-secret";

#[derive(Clone)]
pub struct FakeUser {
    pub id: u64,
    pub login: &'static str,
    pub orgs: Vec<&'static str>,
    /// (org, team slug)
    pub teams: Vec<(&'static str, &'static str)>,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, FakeUser>,
    next_login: String,
    /// code -> (login, code_challenge, redirect_uri)
    codes: HashMap<String, (String, String, String)>,
    tokens: HashMap<String, String>,
    /// The scopes of the last authorize request.
    pub last_scope: String,
    /// Make `/user` fail with 500 (GitHub having a bad day).
    pub api_down: bool,
    /// Make the next token request(s) fail with 502 (after using up the code, as a proxy that
    /// timed out after GitHub answered would).
    token_502: u32,
    /// The scopes GitHub reports as granted (`X-OAuth-Scopes`).
    granted: String,
    /// Organisations with OAuth app access restrictions: their memberships are hidden.
    restricted: Vec<String>,
    counter: u64,
}

#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGitHub {
    pub async fn start(users: Vec<FakeUser>) -> FakeGitHub {
        let inner = Arc::new(Mutex::new(Inner {
            users: users.into_iter().map(|u| (u.login.to_owned(), u)).collect(),
            granted: "read:org, read:user".to_owned(),
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(user))
            .route("/api/user/orgs", get(orgs))
            .route("/api/user/teams", get(teams))
            .route("/api/users/{login}", get(public_user))
            .route("/api/user/memberships/orgs/{org}", get(membership))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeGitHub {
            url: format!("http://{addr}"),
            inner,
        }
    }

    pub fn sign_in_as(&self, login: &str) {
        self.inner.lock().unwrap().next_login = login.to_owned();
    }

    pub fn last_scope(&self) -> String {
        self.inner.lock().unwrap().last_scope.clone()
    }

    pub fn set_api_down(&self, down: bool) {
        self.inner.lock().unwrap().api_down = down;
    }

    /// The next `n` token requests consume the code and answer 502.
    pub fn fail_token_requests(&self, n: u32) {
        self.inner.lock().unwrap().token_502 = n;
    }

    /// What `X-OAuth-Scopes` says from now on.
    pub fn grant_scopes(&self, scopes: &str) {
        self.inner.lock().unwrap().granted = scopes.to_owned();
    }

    /// `org` turns on OAuth app access restrictions.
    pub fn restrict(&self, org: &str) {
        self.inner.lock().unwrap().restricted.push(org.to_owned());
    }

    /// The account `login` is renamed `to` (its id stays); the old login is free again.
    pub fn rename(&self, login: &str, to: &'static str) {
        let mut inner = self.inner.lock().unwrap();
        let mut user = inner.users.remove(login).expect("a known login");
        user.login = to;
        inner.users.insert(to.to_owned(), user);
        for holder in inner.tokens.values_mut() {
            if holder == login {
                *holder = to.to_owned();
            }
        }
    }

    /// A new account appears.
    pub fn add_user(&self, user: FakeUser) {
        self.inner
            .lock()
            .unwrap()
            .users
            .insert(user.login.to_owned(), user);
    }

    /// `login` leaves the team `org/slug`.
    pub fn remove_from_team(&self, login: &str, org: &str, slug: &str) {
        let mut inner = self.inner.lock().unwrap();
        let user = inner.users.get_mut(login).expect("a known login");
        user.teams.retain(|(o, s)| !(*o == org && *s == slug));
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

async fn authorize(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = s.lock().unwrap();
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let (Some(redirect), Some(state), Some(challenge)) = (
        q.get("redirect_uri"),
        q.get("state"),
        q.get("code_challenge"),
    ) else {
        return (StatusCode::BAD_REQUEST, "missing parameters").into_response();
    };
    inner.last_scope = q.get("scope").cloned().unwrap_or_default();
    inner.counter += 1;
    let code = format!("code{}", inner.counter);
    let login = inner.next_login.clone();
    inner
        .codes
        .insert(code.clone(), (login, challenge.clone(), redirect.clone()));
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}

async fn access_token(State(s): Shared, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut inner = s.lock().unwrap();
    let err = |e: &str| Json(json!({"error": e, "error_description": e})).into_response();
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return err("incorrect_client_credentials");
    }
    let Some((login, challenge, redirect)) = f.get("code").and_then(|c| inner.codes.remove(c))
    else {
        // GitHub answers 200 with an error body for a bad or reused code.
        return err("bad_verification_code");
    };
    if f.get("redirect_uri") != Some(&redirect) {
        return err("redirect_uri_mismatch");
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    if computed != challenge {
        return err("bad_verification_code");
    }
    if inner.token_502 > 0 {
        inner.token_502 -= 1;
        return (StatusCode::BAD_GATEWAY, "upstream timed out").into_response();
    }
    inner.counter += 1;
    let token = format!("gho_token{}", inner.counter);
    inner.tokens.insert(token.clone(), login);
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:org,read:user"}))
        .into_response()
}

fn who(inner: &Inner, headers: &HeaderMap) -> Option<FakeUser> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))?;
    let login = inner.tokens.get(token)?;
    inner.users.get(login).cloned()
}

async fn user(State(s): Shared, headers: HeaderMap) -> Response {
    let inner = s.lock().unwrap();
    if inner.api_down {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "GitHub is having a bad day",
        )
            .into_response();
    }
    match who(&inner, &headers) {
        Some(u) => (
            [("x-oauth-scopes", inner.granted.clone())],
            Json(json!({"id": u.id, "login": u.login, "name": format!("{} Example", u.login), "email": null})),
        )
            .into_response(),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))).into_response(),
    }
}

async fn orgs(State(s): Shared, headers: HeaderMap) -> Response {
    let inner = s.lock().unwrap();
    match who(&inner, &headers) {
        Some(u) => Json(
            u.orgs
                .iter()
                .filter(|o| !inner.restricted.iter().any(|r| r == *o))
                .map(|o| json!({"login": o}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn teams(State(s): Shared, headers: HeaderMap) -> Response {
    let inner = s.lock().unwrap();
    match who(&inner, &headers) {
        Some(u) => Json(
            u.teams
                .iter()
                .filter(|(org, _)| !inner.restricted.iter().any(|r| r == *org))
                .map(|(org, slug)| json!({"slug": slug, "name": slug, "organization": {"login": org}}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn public_user(
    State(s): Shared,
    axum::extract::Path(login): axum::extract::Path<String>,
) -> Response {
    let inner = s.lock().unwrap();
    match inner
        .users
        .values()
        .find(|u| u.login.eq_ignore_ascii_case(&login))
    {
        Some(u) => Json(json!({"id": u.id, "login": u.login})).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response(),
    }
}

async fn membership(
    State(s): Shared,
    headers: HeaderMap,
    axum::extract::Path(org): axum::extract::Path<String>,
) -> Response {
    let inner = s.lock().unwrap();
    let Some(u) = who(&inner, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if inner.restricted.contains(&org) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"message": format!("Although you appear to have the correct authorization credentials, the `{org}` organization has enabled OAuth App access restrictions, meaning that data access to third-parties is limited.")})),
        )
            .into_response();
    }
    if u.orgs.iter().any(|o| *o == org) {
        Json(json!({"state": "active", "role": "member", "organization": {"login": org}}))
            .into_response()
    } else {
        (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response()
    }
}

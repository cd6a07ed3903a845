//! A local GitHub for the sign-in tests: the OAuth endpoints (authorize, access_token, with
//! PKCE checked) and the API endpoints Onwatch reads (`/user`, `/user/orgs`, `/user/teams`).
//! The person who "signs in" at the authorize step is whoever the test set with `sign_in_as`.

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
            ..Inner::default()
        }));
        let router = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(user))
            .route("/api/user/orgs", get(orgs))
            .route("/api/user/teams", get(teams))
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
        Some(u) => Json(json!({"id": u.id, "login": u.login, "name": format!("{} Example", u.login), "email": null})).into_response(),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"}))).into_response(),
    }
}

async fn orgs(State(s): Shared, headers: HeaderMap) -> Response {
    let inner = s.lock().unwrap();
    match who(&inner, &headers) {
        Some(u) => Json(
            u.orgs
                .iter()
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
                .map(|(org, slug)| json!({"slug": slug, "name": slug, "organization": {"login": org}}))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

//! Sign-in with GitHub against a local GitHub (`fake_github`): roles from organisations, teams
//! and logins; a person in no mapped team is refused with a page that says why; state, replay
//! and provider failures.

use reqwest::{Client, StatusCode};

use crate::fake_github::{FakeGitHub, FakeUser, CLIENT_ID, CLIENT_SECRET};
use crate::helpers::{cookie_client, spawn_app_with, test_config, StoreKind, TestApp};

fn users() -> Vec<FakeUser> {
    vec![
        FakeUser {
            id: 1,
            login: "alice",
            orgs: vec!["habitat-sh"],
            teams: vec![("habitat-sh", "builder-oncall")],
        },
        FakeUser {
            id: 2,
            login: "bob",
            orgs: vec!["habitat-sh"],
            teams: vec![("habitat-sh", "docs")],
        },
        FakeUser {
            id: 3,
            login: "Jamie",
            orgs: vec![],
            teams: vec![],
        },
        FakeUser {
            id: 4,
            login: "mallory",
            orgs: vec!["chef"],
            teams: vec![("chef", "builder-oncall")],
        },
    ]
}

async fn app_with_github(kind: StoreKind) -> (TestApp, FakeGitHub) {
    let gh = FakeGitHub::start(users()).await;
    let (mut config, dir) = test_config(kind).await;
    let secret = dir.path().join("gh-secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    config.auth.github = Some(server::config::GitHubAuthConfig {
        client_id: CLIENT_ID.to_owned(),
        client_secret_file: secret,
        client_secret: CLIENT_SECRET.to_owned(),
        web_url: gh.url.parse().unwrap(),
        api_url: format!("{}/api", gh.url).parse().unwrap(),
        roles: ops::auth::RoleRules {
            viewer: vec!["habitat-sh".into()],
            responder: vec!["habitat-sh/builder-oncall".into()],
            admin: vec!["@jamie".into()],
            case_insensitive: true,
        },
    });
    // The dev sign-in stays on for the app's default client; these tests use their own.
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    (app, gh)
}

/// Walks the browser's path: Onwatch → GitHub authorize → Onwatch callback. Returns the
/// callback's response.
async fn sign_in(
    app: &TestApp,
    gh: &FakeGitHub,
    client: &Client,
    login: &str,
    next: &str,
) -> reqwest::Response {
    gh.sign_in_as(login);
    let start = client
        .get(format!("{}/auth/github?next={next}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to_github = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to_github.starts_with(&format!("{}/login/oauth/authorize?", gh.url)),
        "{to_github}"
    );
    let back = client.get(&to_github).send().await.unwrap();
    assert!(
        back.status().is_redirection(),
        "GitHub answered {}",
        back.status()
    );
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("{}/auth/github/callback?", app.address)),
        "{callback}"
    );
    client.get(&callback).send().await.unwrap()
}

async fn whoami(app: &TestApp, client: &Client) -> serde_json::Value {
    let res = app.call(client, "/api/read/shell-info", &[]).await;
    assert_eq!(res.status(), 200);
    res.json::<serde_json::Value>().await.unwrap()["signed_in"].clone()
}

#[tokio::test]
async fn roles_come_from_teams_orgs_and_logins() {
    let (app, gh) = app_with_github(StoreKind::Sqlite).await;
    for (login, role) in [
        ("alice", "responder"),
        ("bob", "viewer"),
        ("Jamie", "admin"),
    ] {
        let client = cookie_client();
        let res = sign_in(&app, &gh, &client, login, "/releases").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{login}");
        assert_eq!(
            res.headers()["location"],
            "/releases",
            "back where {login} was going"
        );
        let me = whoami(&app, &client).await;
        assert_eq!(me["login"], login);
        assert_eq!(me["role"], role, "{login}");
        assert_eq!(me["provider"], "github");
    }
    let scope = gh.last_scope();
    assert!(
        scope.contains("read:org") && scope.contains("read:user"),
        "{scope}"
    );
}

#[tokio::test]
async fn a_person_in_no_mapped_team_is_refused_with_the_reason() {
    let (app, gh) = app_with_github(StoreKind::Postgres).await;
    let client = cookie_client();
    let res = sign_in(&app, &gh, &client, "mallory", "/").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("No access to Onwatch"), "{page}");
    assert!(page.contains("mallory signed in with github"), "{page}");
    assert!(
        page.contains("chef/builder-oncall"),
        "shows what was seen: {page}"
    );
    assert!(
        page.contains("habitat-sh/builder-oncall"),
        "and what would do: {page}"
    );
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "not signed in");
}

#[tokio::test]
async fn a_forged_state_or_a_replayed_callback_is_refused() {
    let (app, gh) = app_with_github(StoreKind::Sqlite).await;
    let client = cookie_client();
    gh.sign_in_as("alice");
    let start = client
        .get(format!("{}/auth/github", app.address))
        .send()
        .await
        .unwrap();
    let to_github = start.headers()["location"].to_str().unwrap().to_owned();
    let back = client.get(&to_github).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    // The state in the URL is changed: refused, and the pending sign-in is spent.
    let forged = callback.replace("state=", "state=x");
    let res = client.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("state parameter does not match"));
    let res = client.get(&callback).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "no second try with the same sign-in"
    );
    assert!(res.text().await.unwrap().contains("no sign-in in progress"));

    // A callback in a browser that never started a sign-in (login CSRF): refused.
    let other = cookie_client();
    let res = other.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = other.get(format!("{}/", app.address)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // A completed sign-in's callback cannot be replayed either.
    let fresh = cookie_client();
    let res = sign_in(&app, &gh, &fresh, "alice", "/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let replay = fresh.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn provider_errors_are_explained() {
    let (app, gh) = app_with_github(StoreKind::Sqlite).await;
    // The person clicked "Cancel" at GitHub.
    let client = cookie_client();
    let start = client
        .get(format!("{}/auth/github", app.address))
        .send()
        .await
        .unwrap();
    let to_github = start.headers()["location"].to_str().unwrap();
    let state = url::Url::parse(to_github)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let res = client
        .get(format!(
            "{}/auth/github/callback?error=access_denied&error_description=The+user+has+denied+your+application+access.&state={state}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("access_denied"), "{page}");

    // GitHub's API fails after the token exchange.
    gh.set_api_down(true);
    let client = cookie_client();
    let res = sign_in(&app, &gh, &client, "alice", "/").await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("could not be reached or answered badly"),
        "{page}"
    );
    assert!(!page.contains("gho_token"), "no token in the page");
    gh.set_api_down(false);

    // Sign-in with a provider that is not configured.
    let res = client
        .get(format!("{}/auth/oidc", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_signin_page_offers_github_and_keeps_next() {
    let (app, _gh) = app_with_github(StoreKind::Sqlite).await;
    let res = cookie_client()
        .get(format!("{}/environments/live", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        "/signin?next=%2Fenvironments%2Flive"
    );
    let page = app
        .html(&cookie_client(), "/signin?next=%2Fenvironments%2Flive")
        .await;
    assert!(
        page.contains("href=\"/auth/github?next=%2Fenvironments%2Flive\""),
        "{page}"
    );
    let page = app
        .html(&cookie_client(), "/signin?next=https://evil.example/")
        .await;
    assert!(
        page.contains("href=\"/auth/github?next=%2F\""),
        "no open redirect: {page}"
    );
}

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
    app_with_github_and(kind, |_| {}).await
}

pub(crate) async fn app_with_github_and(
    kind: StoreKind,
    tweak: impl FnOnce(&mut server::config::Config),
) -> (TestApp, FakeGitHub) {
    let gh = FakeGitHub::start(users()).await;
    let (mut config, dir) = test_config(kind).await;
    let secret = dir.path().join("gh-secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    config.auth.github = Some(server::config::GitHubAuthConfig {
        client_id: CLIENT_ID.to_owned(),
        client_secret_file: secret,
        client_secret: CLIENT_SECRET.into(),
        web_url: gh.url.parse().unwrap(),
        api_url: format!("{}/api", gh.url).parse().unwrap(),
        roles: ops::auth::RoleRules {
            viewer: vec!["habitat-sh".into()],
            responder: vec!["habitat-sh/builder-oncall".into()],
            admin: vec!["@jamie".into()],
            case_insensitive: true,
        },
    });
    // The development sign-in cannot be on beside a real provider.
    config.auth.dev_signin = false;
    tweak(&mut config);
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    (app, gh)
}

/// Walks the browser's path: Onwatch → GitHub authorize → Onwatch callback. Returns the
/// callback's response.
pub(crate) async fn sign_in(
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

/// The browser's trip to GitHub and back, stopping before the callback: the callback URL and
/// the sign-in cookie the start handed out.
async fn to_callback(app: &TestApp, gh: &FakeGitHub, login: &str) -> (String, String) {
    gh.sign_in_as(login);
    let client = cookie_client();
    let start = client
        .get(format!("{}/auth/github", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let set_cookie = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(server::auth::SIGNIN_COOKIE))
        .expect("a sign-in cookie");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("Max-Age=600"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let to_github = start.headers()["location"].to_str().unwrap().to_owned();
    let back = client.get(&to_github).send().await.unwrap();
    (
        back.headers()["location"].to_str().unwrap().to_owned(),
        cookie,
    )
}

/// The callback request exactly as an attacker who captured it would send it again: the same
/// URL and the same cookie.
async fn replay(callback: &str, cookie: &str) -> reqwest::Response {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(callback)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_callback_is_used_once_even_when_it_failed() {
    let (app, gh) = app_with_github(StoreKind::Sqlite).await;
    // Completed, then replayed with its own cookie: refused, no second session.
    let (callback, cookie) = to_callback(&app, &gh, "alice").await;
    let res = replay(&callback, &cookie).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the first use signs in"
    );
    let res = replay(&callback, &cookie).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("no sign-in in progress"));

    // The first try got a 502 from the token endpoint: the retry is refused too (start again).
    let (callback, cookie) = to_callback(&app, &gh, "alice").await;
    gh.fail_token_requests(1);
    let res = replay(&callback, &cookie).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let res = replay(&callback, &cookie).await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "used once, also after a 5xx"
    );
    assert!(res.headers().get_all("set-cookie").iter().all(|c| !c
        .to_str()
        .unwrap()
        .starts_with(server::auth::SESSION_COOKIE)));
}

#[tokio::test]
async fn a_new_account_on_a_departed_admins_login_gets_no_admin() {
    let (app, gh) = app_with_github(StoreKind::Postgres).await;
    // Jamie (account #3) is named `@jamie` in the admin rule, and signs in as an admin.
    let jamie = cookie_client();
    sign_in(&app, &gh, &jamie, "Jamie", "/").await;
    assert_eq!(whoami(&app, &jamie).await["role"], "admin");
    // Jamie leaves: the account is renamed, and a new account (#99) registers `jamie`.
    gh.rename("Jamie", "jamie-departed");
    gh.add_user(FakeUser {
        id: 99,
        login: "jamie",
        orgs: vec!["habitat-sh"],
        teams: vec![],
    });
    let impostor = cookie_client();
    let res = sign_in(&app, &gh, &impostor, "jamie", "/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let me = whoami(&app, &impostor).await;
    assert_eq!(me["login"], "jamie");
    assert_eq!(
        me["role"], "viewer",
        "the org's role only, never the departed admin's"
    );
    // The renamed account is still the admin the rule meant.
    let renamed = cookie_client();
    sign_in(&app, &gh, &renamed, "jamie-departed", "/").await;
    assert_eq!(whoami(&app, &renamed).await["role"], "admin");
}

#[tokio::test]
async fn roles_follow_membership_changes_while_the_session_is_used() {
    let (app, gh) = app_with_github_and(StoreKind::Sqlite, |c| {
        c.auth.role_recheck_secs = 1;
    })
    .await;
    let alice = cookie_client();
    sign_in(&app, &gh, &alice, "alice", "/").await;
    let me = whoami(&app, &alice).await;
    assert_eq!(me["role"], "responder");
    assert!(
        !me.to_string().contains("gho_token"),
        "no token in a page: {me}"
    );

    // Alice leaves the on-call team: within the interval, her next request is a viewer's.
    gh.remove_from_team("alice", "habitat-sh", "builder-oncall");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the interval itself
    assert_eq!(whoami(&app, &alice).await["role"], "viewer");

    // And out of the organisation: the session ends, with a page that says why.
    gh.add_user(FakeUser {
        id: 1,
        login: "alice",
        orgs: vec![],
        teams: vec![],
    });
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = alice
        .get(format!("{}/releases", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let page = res.text().await.unwrap();
    assert!(page.contains("could not confirm"), "{page}");
    assert!(page.contains("gives a role in Onwatch"), "{page}");
    let res = alice
        .get(format!("{}/releases", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out for good");
}

#[tokio::test]
async fn a_missing_read_org_scope_or_a_restricting_org_is_explained() {
    let (app, gh) = app_with_github(StoreKind::Sqlite).await;
    gh.grant_scopes("read:user");
    let res = sign_in(&app, &gh, &cookie_client(), "alice", "/").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("not read:org"), "{page}");
    assert!(
        page.contains("/settings/applications"),
        "says what to do: {page}"
    );

    gh.grant_scopes("read:org, read:user");
    gh.restrict("habitat-sh");
    let res = sign_in(&app, &gh, &cookie_client(), "bob", "/").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("habitat-sh restricts OAuth apps"), "{page}");
    assert!(!page.contains("ask an admin"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_sign_in_starts_do_not_fill_the_store_or_the_metrics() {
    use futures_util::StreamExt;
    let (app, _gh) = app_with_github(StoreKind::Sqlite).await;
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // `n` anonymous sign-in starts, and requests with made-up methods.
    let attack = |from: usize, n: usize| {
        let client = client.clone();
        let base = app.address.clone();
        async move {
            let statuses: Vec<u16> = futures_util::stream::iter(from..from + n)
                .map(|i| {
                    let client = client.clone();
                    let url = format!("{base}/auth/github?next=/x{i}");
                    async move { client.get(url).send().await.unwrap().status().as_u16() }
                })
                .buffer_unordered(16)
                .collect()
                .await;
            assert!(
                statuses.iter().all(|s| *s == 303),
                "every start redirects to GitHub"
            );
            for i in from..from + 4 {
                let verb = format!("X-ATTACK-{i}");
                client
                    .request(
                        reqwest::Method::from_bytes(verb.as_bytes()).unwrap(),
                        format!("{base}/signin"),
                    )
                    .send()
                    .await
                    .unwrap();
            }
        }
    };
    // The first few create the series they need; the next ten thousand must add none.
    attack(0, 100).await;
    app.get("/metrics").await; // a scrape's own series appear in the next one
    let before = app.get("/metrics").await.text().await.unwrap();
    let metrics_before = before.len();
    attack(100, 9_900).await;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.store_url)
        .await
        .unwrap();
    let sessions: i64 = sqlx::Row::get(
        &sqlx::Executor::fetch_one(&mut conn, "SELECT COUNT(*) AS n FROM sessions")
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(sessions, 0, "a sign-in start is not a session");
    let pending: i64 = sqlx::Row::get(
        &sqlx::Executor::fetch_one(&mut conn, "SELECT COUNT(*) AS n FROM pending_signins")
            .await
            .unwrap(),
        "n",
    );
    assert!(
        pending <= ops::auth::pending::PENDING_CAP,
        "{pending} sign-ins in progress kept; the cap is {}",
        ops::auth::pending::PENDING_CAP
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    // Counters gain digits; a series per request would add megabytes.
    let series = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| k.to_owned()))
            .collect()
    };
    let new: Vec<String> = series(&metrics)
        .difference(&series(&before))
        .cloned()
        .collect();
    assert!(
        metrics.len() < metrics_before + 600,
        "metrics grew from {metrics_before} to {} bytes; new series: {new:?}",
        metrics.len()
    );
    assert!(!metrics.contains("X-ATTACK"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

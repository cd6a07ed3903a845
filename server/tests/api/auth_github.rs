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
    app.metrics().await; // a scrape's own series appear in the next one
    let before = app.metrics().await.text().await.unwrap();
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
    let used: i64 = sqlx::Row::get(
        &sqlx::Executor::fetch_one(&mut conn, "SELECT COUNT(*) AS n FROM signins_used")
            .await
            .unwrap(),
        "n",
    );
    assert_eq!(
        used, 0,
        "a sign-in start writes nothing: it travels in the browser's cookie"
    );
    let metrics = app.metrics().await.text().await.unwrap();
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

/// The provider's `error_description` comes from the URL, so anyone can write it: the page says
/// a fixed sentence for the error code and shows none of the description.
#[tokio::test]
async fn a_providers_error_is_a_fixed_sentence_never_the_urls_text() {
    let (app, _gh) = app_with_github(StoreKind::Sqlite).await;
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
            "{}/auth/github/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3EYour+account+is+locked.+Call++1-555+to+restore+access&state={state}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    let page = crate::dom::Page::parse(&html);
    let message = page.text("[data-testid=\"problem\"]");
    assert_eq!(
        message,
        "You (or the provider) cancelled the sign-in, so Onwatch did not sign you in. Start again from the sign-in page if you meant to sign in."
    );
    assert!(!page.one("main").html().contains("<script"));
    let main = page.text("main");
    for text in ["1-555", "restore access", "locked", "script", "alert("] {
        assert!(
            !main.contains(text),
            "`{text}` from the URL is on the page: {main}"
        );
    }
    assert!(!html.contains("1-555") && !html.contains("<script>alert"));

    // A code Onwatch does not know: a general sentence; a code that is not a plain word is not
    // shown at all.
    for (code, shown) in [
        ("made_up_code", true),
        ("%3Cb%3Ebold%3C/b%3E+Call+now", false),
    ] {
        let res = cookie_client()
            .get(format!(
                "{}/auth/github/callback?error={code}&error_description=Call+1-555",
                app.address
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.unwrap();
        let page = crate::dom::Page::parse(&html);
        assert!(
            page.text("[data-testid=\"problem\"]")
                .starts_with("The sign-in provider refused the sign-in"),
            "{html}"
        );
        assert_eq!(html.contains("made_up_code"), shown, "{html}");
        assert!(!html.contains("1-555") && !html.contains("bold") && !html.contains("Call now"));
    }
}

/// A sign-in cookie that was changed on the way, or that is older than a sign-in may take, is
/// refused with a page that says to start again.
#[tokio::test]
async fn a_tampered_or_expired_sign_in_cookie_says_start_again() {
    let (app, gh) = app_with_github(StoreKind::Sqlite).await;
    let (callback, cookie) = to_callback(&app, &gh, "alice").await;
    let (name, value) = cookie.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).unwrap());
    let res = replay(&callback, &tampered).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = crate::dom::Page::parse(&res.text().await.unwrap());
    assert_eq!(page.text("h1"), "Sign-in expired");
    assert!(
        page.text("[data-testid=\"problem\"]")
            .contains("start again from the sign-in page"),
        "{}",
        page.text("[data-testid=\"problem\"]")
    );
    let res = replay(&callback, &cookie).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the untouched cookie still signs in"
    );

    // Older than a sign-in may take: sealed with this Onwatch's own key (kept in the test's
    // store), eleven minutes ago.
    let (callback, cookie) = to_callback(&app, &gh, "alice").await;
    let (name, _) = cookie.split_once('=').unwrap();
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let store = ops::store::Store::open(&app.store_url, &Default::default())
        .await
        .unwrap();
    let signins = ops::auth::pending::SignIns::new(
        ops::auth::sealed::AuthKey::in_store(store.clone()),
        store,
    );
    let old = ops::auth::PendingSignIn {
        provider: "github".into(),
        state,
        pkce_verifier: "verifier".into(),
        nonce: None,
        redirect_uri: format!("{}/auth/github/callback", app.address),
        next: Some("/".into()),
        started_ms: ops::time::now_ms() - 11 * 60_000,
    };
    let sealed = signins.seal(name, &old).await.unwrap();
    let res = replay(&callback, &format!("{name}={sealed}")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = crate::dom::Page::parse(&res.text().await.unwrap());
    assert_eq!(page.text("h1"), "Sign-in expired");
}

/// Every text value of every table of the store, as `table.column = value`.
async fn every_text_in_the_store(store_url: &str) -> Vec<String> {
    use sqlx::{Column, Connection, Executor, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(store_url).await.unwrap();
    let list = if store_url.starts_with("sqlite:") {
        "SELECT name AS t FROM sqlite_master WHERE type = 'table'"
    } else {
        "SELECT table_name::text AS t FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    };
    let tables: Vec<String> = conn
        .fetch_all(list)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("t"))
        .collect();
    assert!(tables.iter().any(|t| t == "sessions"), "{tables:?}");
    let mut texts = Vec::new();
    for table in tables {
        // The text columns only (the Any driver reads no timestamps).
        let columns = if store_url.starts_with("sqlite:") {
            format!("SELECT name AS c FROM pragma_table_info('{table}') WHERE upper(type) LIKE '%TEXT%' OR upper(type) LIKE '%CHAR%'")
        } else {
            format!("SELECT column_name::text AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}' AND data_type IN ('text', 'character varying', 'character')")
        };
        let columns: Vec<String> = conn
            .fetch_all(columns.as_str())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("c"))
            .collect();
        if columns.is_empty() {
            continue;
        }
        let list = columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = conn
            .fetch_all(format!("SELECT {list} FROM \"{table}\"").as_str())
            .await
            .unwrap();
        for row in rows {
            for (i, column) in row.columns().iter().enumerate() {
                if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                    texts.push(format!("{table}.{} = {v}", column.name()));
                }
            }
        }
    }
    texts
}

/// At rest, the store holds neither the session ids (bearer credentials) nor the provider's
/// tokens: after a sign-in and a role re-check (which writes the session again), no text in any
/// table equals or contains the session cookie's value or a GitHub token.
async fn nothing_secret_is_stored_readably(kind: StoreKind) {
    let (app, gh) = app_with_github_and(kind, |c| c.auth.role_recheck_secs = 1).await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let mut same_site = reqwest::header::HeaderMap::new();
    same_site.insert("sec-fetch-site", "same-origin".parse().unwrap());
    let client = Client::builder()
        .default_headers(same_site)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let res = sign_in(&app, &gh, &client, "alice", "/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(whoami(&app, &client).await["login"], "alice");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // a role re-check is due
    assert_eq!(whoami(&app, &client).await["role"], "responder");
    let cookies =
        reqwest::cookie::CookieStore::cookies(&*jar, &app.address.parse().unwrap()).unwrap();
    let session_id = cookies
        .to_str()
        .unwrap()
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == server::auth::SESSION_COOKIE)
        .map(|(_, v)| v.to_owned())
        .expect("a session cookie");
    assert!(session_id.len() >= 20, "{session_id}");
    let texts = every_text_in_the_store(&app.store_url).await;
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("sessions.login = alice")),
        "the session is stored: {texts:?}"
    );
    for t in &texts {
        assert!(!t.contains(&session_id), "the session id is stored: {t}");
        assert!(!t.contains("gho_token"), "a provider token is stored: {t}");
    }
}

#[tokio::test]
async fn nothing_secret_is_stored_readably_on_sqlite() {
    nothing_secret_is_stored_readably(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn nothing_secret_is_stored_readably_on_postgres() {
    nothing_secret_is_stored_readably(StoreKind::Postgres).await;
}

//! Sign-in with OpenID Connect against a real provider on loopback (npm `oidc-provider`, the
//! certified implementation): discovery, PKCE, state, nonce, id_token validation, userinfo and
//! the groups claim, driven through its login and consent pages over HTTP.

use reqwest::{Client, StatusCode};

use crate::helpers::{cookie_client, spawn_app_with, test_config, StoreKind, TestApp};

async fn app_with_oidc(kind: StoreKind) -> (TestApp, testkit::OidcProvider) {
    app_with_oidc_and(kind, |_| {}).await
}

async fn app_with_oidc_and(
    kind: StoreKind,
    tweak: impl FnOnce(&mut server::config::Config),
) -> (TestApp, testkit::OidcProvider) {
    let port = testkit::free_port().unwrap();
    let issuer = format!("http://127.0.0.1:{port}");
    let (mut config, dir) = test_config(kind).await;
    let secret = dir.path().join("oidc-secret");
    std::fs::write(&secret, "onwatch-secret").unwrap();
    config.auth.oidc = Some(server::config::OidcAuthConfig {
        display_name: "Example SSO".to_owned(),
        issuer_url: issuer.clone(),
        client_id: "onwatch".to_owned(),
        client_secret_file: secret,
        client_secret: "onwatch-secret".into(),
        scopes: ["openid", "email", "profile", "groups"]
            .map(str::to_owned)
            .to_vec(),
        groups_claim: "groups".to_owned(),
        roles: ops::auth::RoleRules {
            viewer: vec!["builder-team".into()],
            responder: vec!["builder-oncall".into()],
            // A person by verified e-mail: frank's provider verified it, erin's claims it unverified.
            admin: vec!["builder-admins".into(), "@frank@example.test".into()],
            case_insensitive: false,
        },
    });
    // The development sign-in cannot be on beside a real provider.
    config.auth.dev_signin = false;
    tweak(&mut config);
    // Onwatch discovers the provider on first use, so it can start first and tell the provider
    // its callback address.
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let provider =
        testkit::OidcProvider::start(port, &[format!("{}/auth/oidc/callback", app.address)])
            .await
            .expect("oidc-provider (run scripts/bootstrap.sh test)");
    (app, provider)
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// The browser's path through the provider's login and consent pages, until the provider
/// sends it back to Onwatch. Returns Onwatch's callback URL.
async fn through_provider(client: &Client, provider: &str, mut url: String, login: &str) -> String {
    for _ in 0..12 {
        if !url.starts_with(provider) {
            return url;
        }
        let res = client.get(&url).send().await.unwrap();
        if res.status().is_redirection() {
            url = absolute(&url, res.headers()["location"].to_str().unwrap());
            continue;
        }
        assert_eq!(res.status(), 200, "{url}");
        let page = res.text().await.unwrap();
        let form: Vec<(&str, &str)> = if page.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            assert!(page.contains("value=\"consent\""), "a consent page: {page}");
            vec![("prompt", "consent")]
        };
        let res = client.post(&url).form(&form).send().await.unwrap();
        assert!(res.status().is_redirection(), "{url}: {}", res.status());
        url = absolute(&url, res.headers()["location"].to_str().unwrap());
    }
    panic!("the provider never sent the browser back");
}

async fn sign_in(
    app: &TestApp,
    provider: &str,
    client: &Client,
    login: &str,
    next: &str,
) -> reqwest::Response {
    let start = client
        .get(format!("{}/auth/oidc?next={next}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        start.status(),
        StatusCode::SEE_OTHER,
        "{}",
        start.text().await.unwrap_or_default()
    );
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();
    let q: std::collections::HashMap<String, String> = url::Url::parse(&to_provider)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge_method"], "S256", "PKCE");
    assert!(!q["nonce"].is_empty() && !q["state"].is_empty());
    assert!(
        q["scope"].split(' ').any(|s| s == "groups"),
        "{}",
        q["scope"]
    );
    let callback = through_provider(client, provider, to_provider, login).await;
    assert!(
        callback.starts_with(&format!("{}/auth/oidc/callback?", app.address)),
        "{callback}"
    );
    client.get(&callback).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_oidc_flow_against_a_real_provider() {
    let (app, provider) = app_with_oidc(StoreKind::Sqlite).await;
    for (login, role) in [("alice", "responder"), ("bob", "viewer"), ("root", "admin")] {
        let client = cookie_client();
        let res = sign_in(&app, &provider.issuer, &client, login, "/services").await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "{login}: {}",
            res.text().await.unwrap_or_default()
        );
        assert_eq!(res.headers()["location"], "/services");
        let me: serde_json::Value = app
            .call(&client, "/api/read/shell-info", &[])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            me["signed_in"]["login"], login,
            "preferred_username from the provider"
        );
        assert_eq!(
            me["signed_in"]["role"], role,
            "{login}: groups claim → role"
        );
        assert_eq!(me["signed_in"]["provider"], "oidc");
        assert!(me["signed_in"]["name"]
            .as_str()
            .unwrap()
            .ends_with("Example"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_group_no_access_and_tampering_is_refused() {
    let (app, provider) = app_with_oidc(StoreKind::Postgres).await;
    // carol has no groups.
    let client = cookie_client();
    let res = sign_in(&app, &provider.issuer, &client, "carol", "/").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("carol signed in with oidc"), "{page}");
    assert!(
        page.contains("builder-oncall"),
        "says which groups give a role: {page}"
    );

    // A code from the provider presented with a forged state is refused; the code is not
    // exchanged.
    let client = cookie_client();
    let start = client
        .get(format!("{}/auth/oidc", app.address))
        .send()
        .await
        .unwrap();
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();
    let callback = through_provider(&client, &provider.issuer, to_provider, "alice").await;
    let forged = callback.replace("state=", "state=forged");
    let res = client.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "not signed in");

    // The person cancels at the provider: the provider's error is shown.
    let client = cookie_client();
    let start = client
        .get(format!("{}/auth/oidc", app.address))
        .send()
        .await
        .unwrap();
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();
    let res = client.get(&to_provider).send().await.unwrap();
    let interaction = absolute(&to_provider, res.headers()["location"].to_str().unwrap());
    let abort = client
        .get(format!("{interaction}/abort"))
        .send()
        .await
        .unwrap();
    let mut url = absolute(&interaction, abort.headers()["location"].to_str().unwrap());
    while url.starts_with(&provider.issuer) {
        let r = client.get(&url).send().await.unwrap();
        url = absolute(&url, r.headers()["location"].to_str().unwrap());
    }
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("access_denied"));
}

#[tokio::test]
async fn an_unreachable_provider_is_explained_not_fatal() {
    let port = testkit::free_port().unwrap();
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    config.auth.oidc = Some(server::config::OidcAuthConfig {
        display_name: "Nowhere SSO".to_owned(),
        issuer_url: format!("http://127.0.0.1:{port}"),
        client_id: "onwatch".to_owned(),
        client_secret_file: dir.path().join("unused"),
        client_secret: "x".into(),
        scopes: vec!["openid".to_owned()],
        groups_claim: "groups".to_owned(),
        roles: ops::auth::RoleRules {
            viewer: vec!["x".into()],
            ..Default::default()
        },
    });
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let res = cookie_client()
        .get(format!("{}/auth/oidc", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let page = res.text().await.unwrap();
    assert!(page.contains("discovery"), "{page}");
    assert!(page.contains("Try again in a minute"), "{page}");
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "Onwatch itself is fine"
    );
}

/// Person rules see a verified e-mail and never an unverified one: erin's profile claims
/// frank's address, unverified, and gets nothing; frank, verified, is the admin the rule names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_verified_email_matches_a_person_rule() {
    let (app, provider) = app_with_oidc(StoreKind::Sqlite).await;
    let frank = cookie_client();
    let res = sign_in(&app, &provider.issuer, &frank, "frank", "/").await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let me: serde_json::Value = app
        .call(&frank, "/api/read/shell-info", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["signed_in"]["role"], "admin");

    let erin = cookie_client();
    let res = sign_in(&app, &provider.issuer, &erin, "erin", "/").await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "an unverified e-mail inherits nothing"
    );
}

/// While a session is used its role is confirmed with the provider; when the provider cannot
/// confirm it (here: it is gone), the session ends with a page that says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_confirmed_ends_the_session_with_the_reason() {
    let (app, provider) = app_with_oidc_and(StoreKind::Sqlite, |c| {
        c.auth.role_recheck_secs = 1;
    })
    .await;
    let alice = cookie_client();
    let res = sign_in(&app, &provider.issuer, &alice, "alice", "/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the interval itself
    let res = alice
        .get(format!("{}/services", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "confirmed at the provider's userinfo endpoint"
    );

    drop(provider);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = alice
        .get(format!("{}/services", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let page = crate::dom::Page::parse(&res.text().await.unwrap());
    let why = page.text("[data-testid=\"problem\"]");
    assert!(why.contains("could not confirm"), "{why}");
    assert!(why.contains("sign in again"), "{why}");
    let res = alice
        .get(format!("{}/services", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out");
}

/// Starting a sign-in writes nothing that others can fill: an anonymous client that starts
/// 3,000 sign-ins (more than the old table of sign-ins in progress held) does not end the one a
/// person started before the flood, whose callback then completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_in_starts_does_not_end_one_in_progress() {
    use futures_util::StreamExt;
    let (app, provider) = app_with_oidc(StoreKind::Sqlite).await;
    let alice = cookie_client();
    let start = alice
        .get(format!("{}/auth/oidc?next=/services", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();

    let flood = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}/auth/oidc", app.address);
    let statuses: Vec<u16> = futures_util::stream::iter(0..3_000)
        .map(|_| {
            let (flood, url) = (flood.clone(), url.clone());
            async move { flood.get(url).send().await.unwrap().status().as_u16() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 303),
        "every start goes to the provider"
    );

    let callback = through_provider(&alice, &provider.issuer, to_provider, "alice").await;
    let res = alice.get(&callback).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the sign-in started before the flood completes: {}",
        res.text().await.unwrap_or_default()
    );
    assert_eq!(res.headers()["location"], "/services");
    let me: serde_json::Value = app
        .call(&alice, "/api/read/shell-info", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["signed_in"]["login"], "alice");
}

/// A provider that is down is asked for its discovery document at most once in a short while,
/// however many sign-ins are started meanwhile: 50 starts reach it once or twice, not 50 times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_failures_are_remembered_briefly() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The provider, down: every request is answered 503.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = conn
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    config.auth.dev_signin = false;
    config.auth.oidc = Some(server::config::OidcAuthConfig {
        display_name: "Down SSO".to_owned(),
        issuer_url: format!("http://127.0.0.1:{port}"),
        client_id: "onwatch".to_owned(),
        client_secret_file: dir.path().join("unused"),
        client_secret: "x".into(),
        scopes: vec!["openid".to_owned()],
        groups_claim: "groups".to_owned(),
        roles: ops::auth::RoleRules {
            viewer: vec!["x".into()],
            ..Default::default()
        },
    });
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    for _ in 0..50 {
        let res = cookie_client()
            .get(format!("{}/auth/oidc", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
        let page = crate::dom::Page::parse(&res.text().await.unwrap());
        assert!(
            page.text("[data-testid=\"problem\"]").contains("discovery"),
            "says what failed"
        );
    }
    let n = requests.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&n),
        "{n} discovery requests reached the provider that is down"
    );
}

//! The auth wall, CSRF and sessions, against the real server. Routes and server functions are
//! enumerated from the router itself (the server's route table, Leptos's route list and the
//! server-function registry), so a new endpoint is covered without editing this file.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, Method, StatusCode};
use sqlx::{Connection, Executor, Row};

use crate::helpers::{spawn_app, StoreKind, TestApp};

/// What the tests expect of a path, from the documented conventions (not from the server's own
/// policy function): `/api/act/` needs a responder, `/api/admin/` and `/admin` pages an admin.
fn needs(path: &str) -> &'static str {
    if path.starts_with("/api/admin/") || path == "/admin" || path.starts_with("/admin/") {
        "admin"
    } else if path.starts_with("/api/act/") {
        "responder"
    } else {
        "viewer"
    }
}

fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/metrics" | "/signin")
        || path.starts_with("/auth/")
        || path.starts_with("/api/public/")
}

/// Every endpoint: (method, path as requested).
fn every_endpoint() -> Vec<(Method, String)> {
    let mut all = Vec::new();
    for route in leptos_axum::generate_route_list(app::App) {
        let path = route
            .path()
            .replace("{slug}", "api")
            .replace(":slug", "api");
        all.push((Method::GET, path));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let m = Method::from_bytes(method.as_str().as_bytes()).unwrap();
        all.push((m, path.to_owned()));
    }
    for route in server::startup::server_routes() {
        let m = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
        all.push((m, route.path.to_owned()));
    }
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all.dedup();
    all
}

async fn request(app: &TestApp, client: &Client, method: &Method, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", app.address);
    let req = client
        .request(method.clone(), &url)
        .header("origin", &app.address);
    let req = if *method == Method::POST {
        req.header("content-type", "application/x-www-form-urlencoded")
            .body("")
    } else {
        req
    };
    // Event streams never end: the status line is all the test needs.
    tokio::time::timeout(Duration::from_secs(10), req.send())
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: no answer within 10 s"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_covers_every_route_and_server_function() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let endpoints = every_endpoint();
    let fns: Vec<_> = endpoints
        .iter()
        .filter(|(_, p)| p.starts_with("/api/") && *p != app::live::EVENTS_PATH)
        .collect();
    assert!(fns.len() >= 9, "server functions found: {fns:?}");
    assert!(
        endpoints.iter().any(|(_, p)| p.starts_with("/api/admin/")),
        "admin endpoints exist to be refused"
    );
    for (_, p) in &fns {
        assert!(
            ["/api/read/", "/api/act/", "/api/admin/", "/api/public/"]
                .iter()
                .any(|prefix| p.starts_with(prefix)),
            "{p}: every server function declares the role it needs through its prefix"
        );
    }

    let anonymous = app.anonymous();
    let viewer = app.client.clone();
    let responder = app.signed_in("wall-responder", "responder").await;
    let admin = app.signed_in("wall-admin", "admin").await;
    let rank = |r: &str| {
        ["viewer", "responder", "admin"]
            .iter()
            .position(|x| *x == r)
            .unwrap()
    };

    for (method, path) in &endpoints {
        // Anonymous: public paths answer, pages redirect to sign-in, data is 401.
        let res = request(&app, &anonymous, method, path).await;
        let status = res.status();
        if is_public(path) {
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{method} {path}: public, got {status}"
            );
        } else if path.starts_with("/api/") {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} anonymous"
            );
        } else {
            assert_eq!(status, StatusCode::SEE_OTHER, "{method} {path} anonymous");
            let to = res.headers()["location"].to_str().unwrap();
            assert!(
                to.starts_with("/signin?next="),
                "{path}: redirected to {to}"
            );
        }
        if is_public(path) {
            continue;
        }
        for (who, client) in [
            ("viewer", &viewer),
            ("responder", &responder),
            ("admin", &admin),
        ] {
            let status = request(&app, client, method, path).await.status();
            if rank(who) < rank(needs(path)) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {who}");
            } else {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} as {who}: allowed, got {status}"
                );
            }
        }
    }

    // An /api/ path outside the conventions fails closed, even for an admin.
    let res = request(&app, &admin, &Method::POST, "/api/unclassified-thing").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Static assets stay public (the sign-in page needs its stylesheet).
    let res = request(&app, &anonymous, &Method::GET, "/pkg/onwatch.css").await;
    assert_ne!(res.status(), StatusCode::SEE_OTHER);
}

fn jar_client() -> (Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

fn cookie(jar: &Jar, app: &TestApp, name: &str) -> Option<String> {
    let url = app.address.parse().unwrap();
    let header = jar.cookies(&url)?;
    header
        .to_str()
        .unwrap()
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A client carrying exactly this Cookie header and nothing else.
async fn with_cookie(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let (admin, jar) = jar_client();
    app.dev_signin(&admin, "csrf-admin", "admin").await;
    // A page visit hands out the CSRF cookie (the fallback token).
    assert_eq!(
        admin
            .get(format!("{}/", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let token = cookie(&jar, &app, "onwatch_csrf").expect("a CSRF cookie");

    let posts: Vec<String> = every_endpoint()
        .into_iter()
        .filter(|(m, _)| *m == Method::POST)
        .map(|(_, p)| p)
        .collect();
    assert!(posts.iter().any(|p| p == "/auth/signout"), "{posts:?}");
    assert!(
        posts.iter().any(|p| p.starts_with("/api/admin/")),
        "{posts:?}"
    );
    let url = |p: &str| format!("{}{p}", app.address);
    let form = "content-type";
    for path in &posts {
        let attacks = [
            admin
                .post(url(path))
                .header("origin", "https://evil.example"),
            admin.post(url(path)).header("origin", "null"),
            admin.post(url(path)).header("sec-fetch-site", "cross-site"),
            admin.post(url(path)).header("sec-fetch-site", "same-site"),
            // Neither header: the token is required, and this one is wrong or missing.
            admin.post(url(path)),
            admin
                .post(url(path))
                .header("x-csrf-token", "not-the-token"),
        ];
        for (i, attack) in attacks.into_iter().enumerate() {
            let res = attack
                .header(form, "application/x-www-form-urlencoded")
                .body("")
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "POST {path}: attack #{i} refused"
            );
        }
    }
    // Still signed in: none of the refused sign-outs went through.
    let res = admin.get(url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Same-origin requests pass, by header or by token.
    let ok = |r: reqwest::Response| {
        assert_ne!(r.status(), StatusCode::FORBIDDEN);
        assert_ne!(r.status(), StatusCode::UNAUTHORIZED);
    };
    let fnpath = "/api/read/shell-info";
    ok(admin
        .post(url(fnpath))
        .header("sec-fetch-site", "same-origin")
        .header(form, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap());
    ok(admin
        .post(url(fnpath))
        .header("origin", &app.address)
        .header(form, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap());
    ok(admin
        .post(url(fnpath))
        .header("x-csrf-token", &token)
        .header(form, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap());
    // The form field works for forms posted by browsers that send no Origin.
    let res = admin
        .post(url("/auth/signout"))
        .header(form, "application/x-www-form-urlencoded")
        .body(format!("_csrf={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/signin?signed_out=1");
    let res = admin.get(url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed out");
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_a_planted_id_is_not_adopted() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let (client, jar) = jar_client();
    app.dev_signin(&client, "fix-one", "viewer").await;
    let first = cookie(&jar, &app, "onwatch_session").expect("a session cookie");
    // Signing in again (as someone else) issues a new id and ends the old one.
    app.dev_signin(&client, "fix-two", "responder").await;
    let second = cookie(&jar, &app, "onwatch_session").unwrap();
    assert_ne!(first, second, "the id changes at sign-in");
    let res = with_cookie(&app, &format!("onwatch_session={first}"), "/").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the old id is dead");

    // An attacker plants a well-formed id in the victim's browser; the victim signs in.
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    let (victim, vjar) = jar_client();
    vjar.add_cookie_str(
        &format!("onwatch_session={planted}; Path=/"),
        &app.address.parse().unwrap(),
    );
    app.dev_signin(&victim, "victim", "admin").await;
    let got = cookie(&vjar, &app, "onwatch_session").unwrap();
    assert_ne!(got, planted, "the planted id is never adopted");
    let res = with_cookie(&app, &format!("onwatch_session={planted}"), "/").await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the planted id gives no access"
    );
}

#[tokio::test]
async fn session_cookie_attributes() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let res = app
        .anonymous()
        .post(format!("{}/auth/dev", app.address))
        .header("origin", &app.address)
        .form(&[("name", "cookie-check"), ("role", "viewer")])
        .send()
        .await
        .unwrap();
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("onwatch_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain http on loopback: no Secure ({session})"
    );
    assert!(session.contains("Max-Age="), "idle expiry: {session}");
}

async fn store_conn(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&app.store_url).await.unwrap()
}

#[tokio::test]
async fn idle_and_absolute_expiry_end_sessions_on_sqlite() {
    expiry(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn idle_and_absolute_expiry_end_sessions_on_postgres() {
    expiry(StoreKind::Postgres).await;
}

async fn expiry(kind: StoreKind) {
    let app = spawn_app(kind).await;
    let mut conn = store_conn(&app).await;
    let login = |l: &str| format!("SELECT id, expires_ms, data FROM sessions WHERE login = '{l}'");

    // Activity moves the idle expiry forward (at most once a minute: pretend a minute passed).
    let a = app.signed_in("idle-a", "viewer").await;
    let row = conn.fetch_one(login("idle-a").as_str()).await.unwrap();
    let id: String = row.get("id");
    let before: i64 = row.get("expires_ms");
    let data: String = row.get("data");
    let mut v: serde_json::Value = serde_json::from_str(&data).unwrap();
    v["signed_in"]["last_seen_ms"] = serde_json::json!(ops::time::now_ms() - 120_000);
    sqlx::query("UPDATE sessions SET data = $1, expires_ms = $2 WHERE id = $3")
        .bind(v.to_string())
        .bind(before - 120_000)
        .bind(&id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        a.get(format!("{}/", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let after: i64 = conn
        .fetch_one(login("idle-a").as_str())
        .await
        .unwrap()
        .get("expires_ms");
    assert!(
        after > before - 120_000 + 60_000,
        "activity extended the session"
    );

    // Idle too long: the session is gone.
    sqlx::query("UPDATE sessions SET expires_ms = $1 WHERE id = $2")
        .bind(ops::time::now_ms() - 1)
        .bind(&id)
        .execute(&mut conn)
        .await
        .unwrap();
    let res = a
        .get(format!("{}/environments", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/signin?next=%2Fenvironments");

    // Signed in longer ago than the absolute lifetime (24 h), however active: gone.
    let b = app.signed_in("absolute-b", "viewer").await;
    let row = conn.fetch_one(login("absolute-b").as_str()).await.unwrap();
    let id: String = row.get("id");
    let mut v: serde_json::Value = serde_json::from_str(&row.get::<String, _>("data")).unwrap();
    v["signed_in"]["signed_in_ms"] = serde_json::json!(ops::time::now_ms() - 25 * 3_600_000);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(v.to_string())
        .bind(&id)
        .execute(&mut conn)
        .await
        .unwrap();
    let res = b
        .post(format!("{}/api/read/shell-info", app.address))
        .header("origin", &app.address)
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("sign in again"));
    let n: i64 = conn
        .fetch_one(format!("SELECT COUNT(*) AS n FROM sessions WHERE id = '{id}'").as_str())
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 0, "the expired session's row is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_a_session_and_its_live_stream_ends() {
    let app = spawn_app(StoreKind::Postgres).await;
    let admin = app.signed_in("rev-admin", "admin").await;
    let victim = app.signed_in("rev-victim", "responder").await;
    let mut stream = victim
        .get(format!("{}{}", app.address, app::live::EVENTS_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let list: serde_json::Value = app
        .call(&admin, "/api/admin/sessions", &[])
        .await
        .json()
        .await
        .unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    let row = sessions
        .iter()
        .find(|s| s["login"] == "rev-victim")
        .expect("listed");
    assert_eq!(row["role"], "responder");
    assert_eq!(row["provider"], "dev");
    assert!(sessions
        .iter()
        .any(|s| s["login"] == "rev-admin" && s["yours"] == true));
    let handle = row["handle"].as_str().unwrap().to_owned();
    assert!(
        !list.to_string().contains("onwatch_session"),
        "no session ids in the listing"
    );

    // A viewer or responder cannot revoke.
    let res = app
        .call(&victim, "/api/admin/revoke-session", &[("handle", &handle)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app
        .call(&admin, "/api/admin/revoke-session", &[("handle", &handle)])
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = victim
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "revoked: back to sign-in"
    );
    // Revoking again says it is gone; a malformed handle is refused with a reason.
    let res = app
        .call(&admin, "/api/admin/revoke-session", &[("handle", &handle)])
        .await;
    assert!(res.text().await.unwrap().contains("already ended"));
    let res = app
        .call(
            &admin,
            "/api/admin/revoke-session",
            &[("handle", "'; DROP TABLE x")],
        )
        .await;
    assert!(res.text().await.unwrap().contains("not a session handle"));

    // The victim's open event stream ends with `signed_out` within the check interval.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        let mut seen = String::new();
        while let Ok(Some(chunk)) = stream.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: signed_out") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(ended, "the stream announced the end of the session");
}

#[tokio::test]
async fn tampered_or_garbage_cookies_are_anonymous() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let (client, jar) = jar_client();
    app.dev_signin(&client, "tamper", "admin").await;
    let real = cookie(&jar, &app, "onwatch_session").unwrap();
    let mut bytes = real.clone().into_bytes();
    bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    for bad in [
        flipped.as_str(),
        "garbage",
        "",
        "%00%01",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let res = with_cookie(&app, &format!("onwatch_session={bad}"), "/admin/sessions").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "cookie {bad:?}");
    }
    let res = with_cookie(&app, &format!("onwatch_session={real}"), "/admin/sessions").await;
    assert_eq!(res.status(), 200, "the untouched cookie still works");
}

#[tokio::test]
async fn the_identity_is_in_the_ui() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let client = app.signed_in("Ada Oncall", "responder").await;
    let html = app.html(&client, "/").await;
    assert!(html.contains("Ada Oncall"), "name in the shell");
    let role_at = html
        .find("data-testid=\"viewer-role\"")
        .expect("a role badge");
    assert!(
        html[role_at..role_at + 80].contains(">responder"),
        "role in the shell"
    );
    assert!(
        html.contains("action=\"/auth/signout\""),
        "a sign-out button"
    );
    assert!(
        html.contains("data-testid=\"dev-banner\""),
        "the dev sign-in banner"
    );
    assert!(
        !html.contains("href=\"/admin/sessions\""),
        "no admin link for a responder"
    );
    let admin = app.signed_in("Root Admin", "admin").await;
    let html = app.html(&admin, "/").await;
    assert!(
        html.contains("href=\"/admin/sessions\""),
        "admins see the admin link"
    );
    let info: serde_json::Value = app
        .call(&client, "/api/read/shell-info", &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["signed_in"]["name"], "Ada Oncall");
    assert_eq!(info["signed_in"]["role"], "responder");
    assert_eq!(info["signed_in"]["provider"], "dev");
}

#[tokio::test]
async fn dev_signin_rejects_bad_forms_with_a_reason() {
    let app = spawn_app(StoreKind::Sqlite).await;
    for (name, role, expect) in [
        ("", "viewer", "1 to 40"),
        ("<script>", "viewer", "1 to 40"),
        ("ok", "root", "not a role"),
    ] {
        let res = app
            .anonymous()
            .post(format!("{}/auth/dev", app.address))
            .header("origin", &app.address)
            .form(&[("name", name), ("role", role)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{name} {role}");
        assert!(res.text().await.unwrap().contains(expect), "{name} {role}");
    }
    let res = app
        .anonymous()
        .post(format!("{}/auth/dev", app.address))
        .header("origin", &app.address)
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "missing role");
}

#[tokio::test]
async fn revoking_works_as_a_plain_form_before_the_page_is_interactive() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let admin = app.signed_in("form-admin", "admin").await;
    let _victim = app.signed_in("form-victim", "viewer").await;
    let handle = app.session_handle(&admin, "form-victim").await;
    // What a browser sends for the page's form without JavaScript.
    let page = format!("{}/admin/sessions", app.address);
    let res = admin
        .post(format!("{}/api/admin/revoke-session", app.address))
        .header("origin", &app.address)
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", &page)
        .form(&[("handle", handle.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let back = res.headers()["location"].to_str().unwrap();
    assert_eq!(
        back.trim_end_matches('?'),
        page.as_str(),
        "back to the page"
    );
    let html = app.html(&admin, "/admin/sessions").await;
    assert!(
        !html.contains("form-victim"),
        "the session is gone from the list"
    );
}

#[tokio::test]
async fn malformed_arguments_are_the_callers_error() {
    let app = spawn_app(StoreKind::Sqlite).await;
    // get-service needs a slug; a missing one is a 400 that names the problem.
    let res = app.call(&app.client, "/api/read/get-service", &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body = res.text().await.unwrap();
    assert!(body.contains("arguments could not be read"), "{body}");
    assert!(body.contains("slug"), "names the argument: {body}");
    let res = app
        .call(
            &app.client,
            "/api/read/dashboard",
            &[("collapse_above", "lots")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // A well-formed call still works.
    let res = app
        .call(&app.client, "/api/read/get-service", &[("slug", "api")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

//! The auth wall, CSRF and sessions, against the real server. Routes and server functions are
//! enumerated from the router itself (the server's route table, Leptos's route list and the
//! server-function registry), so a new endpoint is covered without editing this file.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, Method, StatusCode};
use sqlx::{Connection, Executor, Row};

use crate::helpers::{spawn_app, StoreKind, TestApp};

/// The role a route needs, from the documented conventions (not from the server's own table):
/// `/api/act/` a responder, `/api/admin/` and `/admin` pages an admin, other pages and
/// `/api/read/` a viewer, `/metrics` a responder (or the scrape token); sign-in, health and the
/// built site's files anyone.
fn needs(pattern: &str) -> Option<&'static str> {
    if pattern == "/metrics" {
        return Some("responder");
    }
    if matches!(pattern, "/healthz" | "/signin")
        || pattern.starts_with("/pkg/")
        || pattern.starts_with("/auth/")
        || pattern.starts_with("/api/public/")
        // The iCal feeds: the secret in the URL is the credential (a calendar cannot sign in).
        || pattern.starts_with("/ical/")
    {
        None
    } else if pattern.starts_with("/api/admin/") || pattern.starts_with("/admin") {
        Some("admin")
    } else if pattern.starts_with("/api/act/") {
        Some("responder")
    } else {
        Some("viewer")
    }
}

/// How to call a route for real, and the status that means it worked. `prepare` runs before
/// each call (e.g. a fresh session to revoke) and returns the form to send.
struct Recipe {
    method: Method,
    path: String,
    form: Vec<(String, String)>,
    success: StatusCode,
}

/// Every route the server declares or Leptos registers, with how to call it. A route without a
/// recipe here fails the test: adding an endpoint means saying how it succeeds.
async fn recipe(app: &TestApp, admin: &Client, pattern: &str) -> Option<Recipe> {
    let host = "builder-api-live-1";
    let get = |path: &str, success: StatusCode| Recipe {
        method: Method::GET,
        path: path.to_owned(),
        form: Vec::new(),
        success,
    };
    let post = |path: &str, form: &[(&str, &str)]| Recipe {
        method: Method::POST,
        path: path.to_owned(),
        form: form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        success: StatusCode::OK,
    };
    Some(match pattern {
        "/healthz" | "/metrics" | "/signin" => get(pattern, StatusCode::OK),
        "/pkg/{*file}" => get("/pkg/onwatch.css", StatusCode::OK),
        // Not configured here: the provider routes answer 404 "not configured" to everyone.
        "/auth/github" | "/auth/github/callback" | "/auth/oidc" | "/auth/oidc/callback" => {
            get(pattern, StatusCode::NOT_FOUND)
        }
        "/auth/dev" => Recipe {
            form: vec![
                ("name".into(), "wall-dev".into()),
                ("role".into(), "viewer".into()),
            ],
            success: StatusCode::SEE_OTHER,
            ..post(pattern, &[])
        },
        "/auth/signout" => Recipe {
            success: StatusCode::SEE_OTHER,
            ..post(pattern, &[])
        },
        p if p == app::live::EVENTS_PATH => get(p, StatusCode::OK),
        "/" | "/environments" | "/releases" | "/broken" | "/services" | "/actions" | "/audit"
        | "/console" | "/oncall" | "/onboarding" | "/settings" | "/admin/sessions" => {
            get(pattern, StatusCode::OK)
        }
        "/environments/{env}" => get("/environments/live", StatusCode::OK),
        "/environments/{env}/hosts/{host}" => {
            get(&format!("/environments/live/hosts/{host}"), StatusCode::OK)
        }
        "/services/{slug}" => get("/services/datastore", StatusCode::OK),
        "/api/read/fleet"
        | "/api/read/shell-info"
        | "/api/read/list-services"
        | "/api/admin/sessions"
        | "/api/read/dashboard" => post(pattern, &[]),
        "/api/read/host" => post(pattern, &[("environment", "live"), ("host", host)]),
        "/api/read/service-instances" | "/api/read/get-service" => {
            post(pattern, &[("slug", "datastore")])
        }
        "/actions/{id}" => get(
            &format!("/actions/{}", an_action(app, admin).await),
            StatusCode::OK,
        ),
        "/api/actions/{id}/events" => get(
            &format!("/api/actions/{}/events", an_action(app, admin).await),
            StatusCode::OK,
        ),
        "/api/admin/audit/export" => get("/api/admin/audit/export?format=csv", StatusCode::OK),
        "/api/read/actions"
        | "/api/admin/audit-verify"
        | "/api/read/sentinel"
        | "/api/act/datastore-locks" => post(pattern, &[]),
        // No [sentinel] in this test's configuration: nothing to check, a 404 that says so.
        "/api/act/sentinel-status" => Recipe {
            success: StatusCode::NOT_FOUND,
            ..post(pattern, &[])
        },
        "/api/read/audit" => post(pattern, &[("query[who]", "")]),
        "/api/read/action" => post(pattern, &[("id", "no-such-action")]),
        // A responder's; an action that is not there is refused by the rule, not the wall.
        "/api/act/action-cancel" => Recipe {
            success: StatusCode::CONFLICT,
            ..post(pattern, &[("id", "no-such-action")])
        },
        "/api/read/actions-for" => post(
            pattern,
            &[("environment", "live"), ("host", host), ("service", "")],
        ),
        "/api/read/action-preview" => post(
            pattern,
            &[
                ("kind", "restart_service"),
                ("environment", "live"),
                ("host", host),
                ("service_group", "builder-api.live"),
            ],
        ),
        // A request every role may make; the action's own guards refuse this one (a wrong
        // confirmation), which is a 200 with the verdicts.
        "/api/attempt/action" => post(
            pattern,
            &[
                ("kind", "restart_service"),
                ("environment", "live"),
                ("host", host),
                ("service_group", "builder-api.live"),
                ("reason", "wall test"),
                ("confirmation", "not it"),
                ("idempotency_key", &ops::auth::random_token()),
            ],
        ),
        // The console, on a seeded datastore (see the test's set-up). Every role may ask; a
        // viewer's query is refused (a 200 with the reason), a query that is not here is None.
        "/api/read/console-setup" | "/api/read/console-history" | "/api/read/console-saved" => {
            post(pattern, &[])
        }
        "/api/read/console-databases" => post(pattern, &[("environment", "live")]),
        "/api/read/console-tables" => post(
            pattern,
            &[
                ("environment", "live"),
                ("database", "builder_originsrv"),
                ("shard", "30"),
            ],
        ),
        "/api/read/console-locate" => post(pattern, &[("input", "core")]),
        "/api/attempt/console-start" => post(
            pattern,
            &[
                ("environment", "live"),
                ("database", "builder_jobsrv"),
                ("shards", "all"),
                ("sql", "SELECT 1"),
            ],
        ),
        "/api/read/console-result" => post(pattern, &[("id", "no-such-query"), ("wait", "false")]),
        "/api/attempt/console-cancel" | "/api/attempt/console-delete-saved" => {
            post(pattern, &[("id", "no-such-query")])
        }
        "/api/attempt/console-save" => post(
            pattern,
            &[
                ("name", "wall"),
                ("database", "builder_jobsrv"),
                ("shards", "all"),
                ("sql", "SELECT 1"),
            ],
        ),
        // No SSH in this test: the stream answers with one `ended` event saying so.
        "/api/logs/{env}/{host}/events" => {
            get(&format!("/api/logs/live/{host}/events"), StatusCode::OK)
        }
        "/api/console/queries/{id}/events" => get(
            "/api/console/queries/no-such-query/events",
            StatusCode::NOT_FOUND,
        ),
        "/api/console/queries/{id}/export" => get(
            "/api/console/queries/no-such-query/export?format=csv",
            StatusCode::NOT_FOUND,
        ),
        // Public: a calendar cannot sign in. An unknown (or revoked) secret is a 404 for all.
        "/ical/{token}" => get("/ical/no-such-feed.ics", StatusCode::NOT_FOUND),
        "/api/read/oncall" | "/api/read/onboarding" | "/api/read/settings" => post(pattern, &[]),
        // Following the browser's zone: a change only to the caller's own display.
        "/api/attempt/set-time-zone" => post(pattern, &[("zone", "")]),
        // No rotation in this test's configuration: each change is refused in words (a 200).
        "/api/attempt/oncall-ask" => post(
            pattern,
            &[("kind", "cover"), ("shift", "0"), ("reason", "wall")],
        ),
        "/api/attempt/oncall-answer" => post(pattern, &[("id", "none"), ("answer", "accept")]),
        "/api/attempt/oncall-feed" => post(pattern, &[("scope", "me")]),
        "/api/attempt/oncall-feed-revoke" => post(pattern, &[("id", "none")]),
        "/api/attempt/handoff-note" => post(pattern, &[("shift", "0"), ("note", "wall")]),
        "/api/attempt/handoff-ack" => post(pattern, &[("shift", "0")]),
        "/api/attempt/onboarding-tick" => post(pattern, &[("item", "vault"), ("done", "true")]),
        "/api/attempt/onboarding-key" => post(pattern, &[("key", "")]),
        "/api/admin/onboarding-mark" => post(
            pattern,
            &[("person", "wall"), ("item", "vault"), ("mark", "confirmed")],
        ),
        "/api/admin/onboarding-edit" => post(pattern, &[("op", "up"), ("id", "vault")]),
        "/incidents" => get(pattern, StatusCode::OK),
        "/incidents/{id}" => get(
            &format!("/incidents/{}", an_incident(app, admin).await),
            StatusCode::OK,
        ),
        "/api/incidents/{id}/timeline.md" => get(
            &format!(
                "/api/incidents/{}/timeline.md",
                an_incident(app, admin).await
            ),
            StatusCode::OK,
        ),
        "/api/read/incidents" => post(pattern, &[]),
        "/api/read/incident" => post(pattern, &[("id", &an_incident(app, admin).await)]),
        "/api/read/incident-template" => {
            post(pattern, &[("status", "investigating"), ("services", "api")])
        }
        "/api/read/incident-preview" => post(
            pattern,
            &[
                ("title", "wall"),
                ("impact", "minor"),
                ("services", "api"),
                ("status", "investigating"),
                ("body", "We're looking."),
            ],
        ),
        "/api/act/incident-declare" => post(
            pattern,
            &[
                ("title", "wall"),
                ("impact", "minor"),
                ("services", "api"),
                ("body", "We're looking."),
            ],
        ),
        "/api/act/incident-update" => post(
            pattern,
            &[
                ("id", &an_incident(app, admin).await),
                ("status", "investigating"),
                ("body", "Still looking."),
            ],
        ),
        "/api/act/incident-note" => post(
            pattern,
            &[("id", &an_incident(app, admin).await), ("body", "a note")],
        ),
        "/api/act/incident-owner" => post(
            pattern,
            &[("id", &an_incident(app, admin).await), ("action", "take")],
        ),
        "/api/act/rule-broken" => post(
            pattern,
            &[
                ("incident", &an_incident(app, admin).await),
                ("rule", "a rule"),
                ("what_done", "what was done"),
            ],
        ),
        "/api/admin/contact" => post(
            pattern,
            &[
                ("login", "wall"),
                ("name", "Wall"),
                ("phone", "+1 206 555 0100"),
                ("time_zone", "UTC"),
                ("seniority", "1"),
            ],
        ),
        "/api/admin/revoke-session" => {
            // A fresh session each time, so that each allowed call has one to revoke.
            let victim = format!("victim-{}", ops::auth::random_token()[..8].to_lowercase());
            app.signed_in(&victim, "viewer").await;
            let handle = app.session_handle(admin, &victim).await;
            post(pattern, &[("handle", &handle)])
        }
        _ => return None,
    })
}

/// One real action (a restart in acceptance, made once per test run) for the routes that
/// show an action.
/// An incident declared by the admin (once per test run), for the routes that need one.
async fn an_incident(app: &TestApp, admin: &Client) -> String {
    static INCIDENT: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    INCIDENT
        .get_or_init(|| async {
            let answer: serde_json::Value = app
                .call(
                    admin,
                    "/api/act/incident-declare",
                    &[
                        ("title", "wall test"),
                        ("impact", "minor"),
                        ("services", "api"),
                        ("body", "We're looking into it."),
                    ],
                )
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(answer["ok"], true, "{answer}");
            answer["message"].as_str().unwrap().to_owned()
        })
        .await
        .clone()
}

async fn an_action(app: &TestApp, admin: &Client) -> String {
    static ACTION: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    ACTION
        .get_or_init(|| async {
            let answer: serde_json::Value = app
                .call(
                    admin,
                    "/api/attempt/action",
                    &[
                        ("kind", "restart_service"),
                        ("environment", "acceptance"),
                        ("host", "builder-api-acceptance-1"),
                        ("service_group", "builder-api.acceptance"),
                        ("reason", "wall test"),
                        ("confirmation", "builder-api"),
                        ("idempotency_key", "wall-test-action"),
                    ],
                )
                .await
                .json()
                .await
                .unwrap();
            answer["Started"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("the wall test's action did not start: {answer}"))
                .to_owned()
        })
        .await
        .clone()
}

async fn call(app: &TestApp, client: &Client, r: &Recipe) -> reqwest::Response {
    let url = format!("{}{}", app.address, r.path);
    let mut req = client
        .request(r.method.clone(), &url)
        .header("origin", &app.address);
    if r.method == Method::POST {
        req = req.form(&r.form);
    }
    // Event streams never end: the status line is all the test needs.
    tokio::time::timeout(Duration::from_secs(10), req.send())
        .await
        .unwrap_or_else(|_| panic!("{} {}: no answer within 10 s", r.method, r.path))
        .unwrap_or_else(|e| panic!("{} {}: {e}", r.method, r.path))
}

/// Walks every route of the server — its own, Leptos's pages and the registered server
/// functions — against a real fleet, as each role: refused below the role the route needs,
/// and its real success status at or above it. A route added to the router without a
/// declaration is refused for everyone, even an admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_covers_every_route_and_server_function() {
    use axum::routing::get;
    let sim = fleet_sim::FleetSim::start(fleet_sim::demo_layout(2))
        .await
        .unwrap();
    let (mut config, dir) = crate::helpers::test_config(StoreKind::Sqlite).await;
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, sim.fleet_file().to_toml()).unwrap();
    config.inventory.source = server::config::InventorySourceKind::Static;
    config.inventory.fleet_file = Some(fleet_file);
    for env in config.environments.values_mut() {
        env.ctl_secret = Some("demo-ctl-secret".to_owned().into());
    }
    let seeded = fleet_sim::datastore::shared(&testkit::postgres_admin_url().unwrap())
        .await
        .unwrap();
    config.environments.get_mut("live").unwrap().databases = seeded
        .databases
        .iter()
        .map(|(db, _, ro)| {
            let c = server::config::DatabaseConfig {
                url: ro.clone(),
                ..Default::default()
            };
            (db.clone(), c)
        })
        .collect();
    std::fs::create_dir_all(config.server.site_root.join("pkg")).unwrap();
    std::fs::write(config.server.site_root.join("pkg/onwatch.css"), "body {}").unwrap();
    // Added here, declared nowhere: the wall must refuse it.
    let added = axum::Router::new()
        .route("/reports", get(|| async { "a report" }))
        .route("/api/read2/thing", get(|| async { "data" }));
    let app = crate::helpers::spawn_app_with(config, dir, added).await;

    let table = server::startup::route_table();
    let mut patterns: Vec<String> = table.entries().map(|(p, _)| p.to_owned()).collect();
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        patterns.push(path.to_owned());
    }
    for route in leptos_axum::generate_route_list(app::App) {
        patterns.push(route.path().to_owned());
    }
    patterns.sort();
    patterns.dedup();
    assert!(patterns.len() >= 30, "routes found: {patterns:?}");

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

    for pattern in &patterns {
        let Some(r) = recipe(&app, &admin, pattern).await else {
            panic!("{pattern}: no recipe in this test; say how the new route succeeds");
        };
        match needs(pattern) {
            None => {
                let res = call(&app, &anonymous, &r).await;
                assert_eq!(res.status(), r.success, "{} {} anonymous", r.method, r.path);
                continue;
            }
            // What machines read answers 401, never a redirect to the sign-in page.
            Some(_) if r.path.starts_with("/api/") || r.path == "/metrics" => {
                let res = call(&app, &anonymous, &r).await;
                assert_eq!(
                    res.status(),
                    StatusCode::UNAUTHORIZED,
                    "{} {} anonymous",
                    r.method,
                    r.path
                );
            }
            Some(_) => {
                let res = call(&app, &anonymous, &r).await;
                assert_eq!(
                    res.status(),
                    StatusCode::SEE_OTHER,
                    "{} {} anonymous",
                    r.method,
                    r.path
                );
                let to = res.headers()["location"].to_str().unwrap();
                assert!(
                    to.starts_with("/signin?next="),
                    "{}: redirected to {to}",
                    r.path
                );
            }
        }
        let needed = needs(pattern).unwrap();
        for (who, client) in [
            ("viewer", &viewer),
            ("responder", &responder),
            ("admin", &admin),
        ] {
            // Each call gets its own preparation (a revocation needs a fresh session).
            let r = recipe(&app, &admin, pattern).await.unwrap();
            let res = call(&app, client, &r).await;
            let status = res.status();
            if rank(who) < rank(needed) {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {} as {who}",
                    r.method,
                    r.path
                );
            } else {
                let body = if r.path == app::live::EVENTS_PATH || r.path.ends_with("/events") {
                    String::new()
                } else {
                    res.text().await.unwrap_or_default()
                };
                assert_eq!(
                    status, r.success,
                    "{} {} as {who}: {body}",
                    r.method, r.path
                );
            }
        }
    }

    for added in ["/reports", "/api/read2/thing", "/api/unclassified-thing"] {
        for client in [&anonymous, &viewer, &admin] {
            let res = client
                .get(format!("{}{added}", app.address))
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{added}: declared nowhere"
            );
        }
    }
    // Static files stay public (the sign-in page needs its stylesheet); they are not routes.
    let res = anonymous
        .get(format!("{}/pkg/onwatch.css", app.address))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(res.status(), StatusCode::FORBIDDEN);
}

/// `/pkg/../admin/sessions` is the admin page, as a browser resolves it: the wall judges the
/// path the router routes, not a prefix of the raw one.
#[tokio::test]
async fn dot_segments_cannot_walk_past_the_wall() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let raw = |client: &Client, path: &str| {
        // reqwest would resolve the dots itself; send the raw request line.
        let addr = app.address.trim_start_matches("http://").to_owned();
        let path = path.to_owned();
        let cookie = client.clone();
        async move {
            let _ = cookie;
            raw_get(&addr, &path, None).await
        }
    };
    let anon = raw(&app.anonymous(), "/pkg/../admin/sessions").await;
    assert!(anon.starts_with("HTTP/1.1 303"), "{anon}");
    assert!(
        anon.contains("location: /signin?next=%2fadmin%2fsessions"),
        "{anon}"
    );
    for encoded in ["/pkg/%2e%2e/admin/sessions", "/pkg%2F..%2Fadmin/sessions"] {
        let res = raw(&app.anonymous(), encoded).await;
        assert!(res.starts_with("HTTP/1.1 400"), "{encoded}: {res}");
    }
    // A viewer's session cookie, sent on the raw request: the admin page refuses.
    let (viewer, jar) = jar_client();
    app.dev_signin(&viewer, "dots-viewer", "viewer").await;
    let session = cookie(&jar, &app, server::auth::SESSION_COOKIE).unwrap();
    let addr = app.address.trim_start_matches("http://");
    let res = raw_get(
        addr,
        "/pkg/../admin/sessions",
        Some(&format!("{}={session}", server::auth::SESSION_COOKIE)),
    )
    .await;
    assert!(
        res.starts_with("HTTP/1.1 403"),
        "a viewer on the admin page: {res}"
    );
}

/// A GET written by hand on a TCP connection: the request line exactly as given.
async fn raw_get(addr: &str, path: &str, cookie: Option<&str>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    conn.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out)
        .to_lowercase()
        .replacen("http/1.1", "HTTP/1.1", 1)
}

/// A page that a DNS-rebinding attacker serves from `a.evil.example:3000` (resolving to
/// 127.0.0.1) reaches nothing: not the development sign-in, not an admin server function, even
/// with a valid admin session in the browser.
#[tokio::test]
async fn a_dns_rebinding_page_gets_nothing() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let evil = format!("a.evil.example:{port}");
    let evil_origin = format!("http://{evil}");
    let (admin, jar) = jar_client();
    app.dev_signin(&admin, "rebind-admin", "admin").await;
    let session = cookie(&jar, &app, server::auth::SESSION_COOKIE).unwrap();
    let plain = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = plain
        .post(format!("{}/auth/dev", app.address))
        .header("host", &evil)
        .header("origin", &evil_origin)
        .form(&[("name", "mallory"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no session handed out"
    );
    let res = plain
        .post(format!("{}/api/admin/sessions", app.address))
        .header("host", &evil)
        .header("origin", &evil_origin)
        .header(
            "cookie",
            format!("{}={session}", server::auth::SESSION_COOKIE),
        )
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(!res.text().await.unwrap().contains("rebind-admin"));
    // The same requests with this Onwatch's own Host work.
    let res = admin
        .post(format!("{}/api/admin/sessions", app.address))
        .header("origin", &app.address)
        .form(&[("x", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = plain
        .get(format!("{}/healthz", app.address))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "loopback names are ours on loopback"
    );
}

/// With the development sign-in off, posting to it over HTTP signs nobody in.
#[tokio::test]
async fn a_disabled_development_sign_in_is_refused() {
    let (mut config, dir) = crate::helpers::test_config(StoreKind::Sqlite).await;
    config.auth.dev_signin = false;
    let secret = dir.path().join("gh-secret");
    std::fs::write(&secret, "s").unwrap();
    config.auth.github = Some(server::config::GitHubAuthConfig {
        client_id: "c".to_owned(),
        client_secret_file: secret,
        client_secret: "s".into(),
        web_url: "http://127.0.0.1:9".parse().unwrap(),
        api_url: "http://127.0.0.1:9".parse().unwrap(),
        roles: ops::auth::RoleRules {
            viewer: vec!["habitat-sh".into()],
            ..Default::default()
        },
    });
    let app = crate::helpers::spawn_app_with(config, dir, axum::Router::new()).await;
    let client = app.anonymous();
    let res = client
        .post(format!("{}/auth/dev", app.address))
        .header("origin", &app.address)
        .form(&[("name", "mallory"), ("role", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get("set-cookie").is_none_or(|c| !c
        .to_str()
        .unwrap()
        .starts_with(server::auth::SESSION_COOKIE)));
    let res = client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "still signed out");
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

    // Every route (whatever methods it answers today: a route that gains a PUT tomorrow is
    // covered), with every method that changes state.
    let mut paths: Vec<String> = server::startup::route_table()
        .entries()
        .map(|(p, _)| {
            p.replace("{env}", "live")
                .replace("{host}", "h")
                .replace("{slug}", "api")
        })
        .collect();
    paths.extend(leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p.to_owned()));
    paths.sort();
    paths.dedup();
    assert!(paths.iter().any(|p| p == "/auth/signout"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.starts_with("/api/admin/")),
        "{paths:?}"
    );
    let url = |p: &str| format!("{}{p}", app.address);
    let form = "content-type";
    for path in &paths {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let m = || admin.request(method.clone(), url(path));
            let attacks = [
                m().header("origin", "https://evil.example"),
                m().header("origin", "null"),
                m().header("sec-fetch-site", "cross-site"),
                m().header("sec-fetch-site", "same-site"),
                // Neither header: the token is required, and this one is wrong or missing.
                m(),
                m().header("x-csrf-token", "not-the-token"),
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
                    "{method} {path}: attack #{i} refused"
                );
            }
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

/// The key that seals session data in the test's store (no `auth.key_file`: kept in the store).
async fn session_key(app: &TestApp) -> ops::auth::sealed::AuthKey {
    let store = ops::store::Store::open(&app.store_url, &Default::default())
        .await
        .unwrap();
    ops::auth::sealed::AuthKey::in_store(store)
}

/// A session row's data, opened as the server opens it (the row's `id` is part of the seal).
async fn open_session(app: &TestApp, id: &str, sealed: &str) -> serde_json::Value {
    let json = session_key(app)
        .await
        .open(ops::auth::sealed::Purpose::Session, id.as_bytes(), sealed)
        .await
        .unwrap()
        .expect("the session data opens with the store's key");
    serde_json::from_slice(&json).unwrap()
}

/// `data` sealed for the session row `id`, as the server would write it.
async fn seal_session(app: &TestApp, id: &str, data: &serde_json::Value) -> String {
    session_key(app)
        .await
        .seal(
            ops::auth::sealed::Purpose::Session,
            id.as_bytes(),
            data.to_string().as_bytes(),
        )
        .await
        .unwrap()
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
    let mut v = open_session(&app, &id, &data).await;
    v["signed_in"]["last_seen_ms"] = serde_json::json!(ops::time::now_ms() - 120_000);
    sqlx::query("UPDATE sessions SET data = $1, expires_ms = $2 WHERE id = $3")
        .bind(seal_session(&app, &id, &v).await)
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
    let mut v = open_session(&app, &id, &row.get::<String, _>("data")).await;
    v["signed_in"]["signed_in_ms"] = serde_json::json!(ops::time::now_ms() - 25 * 3_600_000);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(seal_session(&app, &id, &v).await)
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
        .call(&app.client, "/api/read/host", &[("environment", "live")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // A well-formed call still works.
    let res = app
        .call(&app.client, "/api/read/get-service", &[("slug", "api")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// An open event stream ends when its session reaches its absolute lifetime, even though the
/// session row is still there (idle expiry keeps moving while the page is open).
#[tokio::test]
async fn an_event_stream_ends_at_the_sessions_absolute_lifetime() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let mut conn = store_conn(&app).await;
    let client = app.signed_in("lifetime", "viewer").await;
    // Signed in 24 h minus 2 s ago: the stream opens, and the lifetime ends while it is open.
    let row = conn
        .fetch_one("SELECT id, data FROM sessions WHERE login = 'lifetime'")
        .await
        .unwrap();
    let id: String = row.get("id");
    let mut v = open_session(&app, &id, &row.get::<String, _>("data")).await;
    let now = ops::time::now_ms();
    v["signed_in"]["signed_in_ms"] = serde_json::json!(now - 24 * 3_600_000 + 2_000);
    v["signed_in"]["last_seen_ms"] = serde_json::json!(now);
    sqlx::query("UPDATE sessions SET data = $1 WHERE id = $2")
        .bind(seal_session(&app, &id, &v).await)
        .bind(&id)
        .execute(&mut conn)
        .await
        .unwrap();
    let mut stream = client
        .get(format!("{}{}", app.address, app::live::EVENTS_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
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
    assert!(ended, "the stream ended with the session's lifetime");
    let n: i64 = conn
        .fetch_one(format!("SELECT COUNT(*) AS n FROM sessions WHERE id = '{id}'").as_str())
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        n, 1,
        "the row was still there: only the lifetime ended the stream"
    );
}

/// A top-level navigation from another site carries the `SameSite=Lax` cookie: the API's GETs
/// (a log stream opens SSH on a production host, the audit export reads the whole log) must
/// not run for it, nor for a request without the browser's same-origin word; the page's own
/// requests and the person's address bar do.
#[tokio::test]
async fn the_apis_gets_refuse_a_navigation_from_another_site() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let (admin, jar) = jar_client();
    app.dev_signin(&admin, "xsite-admin", "admin").await;
    let session = cookie(&jar, &app, server::auth::SESSION_COOKIE).unwrap();
    let bare = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/api/admin/audit/export?format=csv",
        "/api/logs/live/host-1/events",
        app::live::EVENTS_PATH,
    ] {
        for site in [Some("cross-site"), Some("same-site"), None] {
            let mut req = bare
                .get(format!("{}{path}", app.address))
                .header("cookie", format!("onwatch_session={session}"));
            if let Some(s) = site {
                req = req.header("sec-fetch-site", s);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {site:?}");
            let body = res.text().await.unwrap();
            assert!(body.contains("did not come from an Onwatch page"), "{body}");
        }
        for site in ["same-origin", "none"] {
            let res = bare
                .get(format!("{}{path}", app.address))
                .header("cookie", format!("onwatch_session={session}"))
                .header("sec-fetch-site", site)
                .send()
                .await
                .unwrap();
            assert_ne!(res.status(), StatusCode::FORBIDDEN, "{path} with {site}");
        }
    }
    // The export was refused before it was made: no `audit.export` row for the refusals.
    let res = bare
        .get(format!("{}/api/admin/audit/export?format=csv", app.address))
        .header("cookie", format!("onwatch_session={session}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    let exports = csv.lines().filter(|l| l.contains("audit.export")).count();
    assert_eq!(
        exports, 2,
        "one row per export made (same-origin and none): {csv}"
    );
}

/// Every route has a body limit: a body larger than any form Onwatch takes is refused with 413
/// before a handler or server function reads it.
#[tokio::test]
async fn a_body_larger_than_any_form_is_refused_on_every_route() {
    let app = spawn_app(StoreKind::Sqlite).await;
    let (client, _jar) = jar_client();
    app.dev_signin(&client, "big-body", "responder").await;
    let big = "x".repeat(server::startup::MAX_REQUEST_BODY + 1);
    for path in [
        "/api/attempt/action",
        "/api/attempt/console-start",
        "/auth/dev",
    ] {
        let res = client
            .post(format!("{}{path}", app.address))
            .header("origin", &app.address)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("sql={big}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
}

//! `spawn_app()`: the whole Onwatch server on a random port with a fresh store, in the style of
//! zero2prod. The app's `client` is signed in as a viewer through the development sign-in;
//! [`TestApp::signed_in`] gives clients of other roles, [`TestApp::anonymous`] one without a
//! session.

use axum::Router;
use server::config::Config;
use server::startup::{Application, ShutdownHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    /// Signed in as `test-viewer` (role viewer) when the development sign-in is on; without a
    /// session otherwise.
    pub client: reqwest::Client,
    pub store_url: String,
    /// The built site this server serves (`server.site_root`).
    pub site_root: std::path::PathBuf,
    pub shutdown: ShutdownHandle,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The scrape token of `/metrics` (`metrics.token_file`), when one is configured.
    pub metrics_token: Option<String>,
    _dir: tempfile::TempDir,
}

/// A client that keeps cookies and does not follow redirects (tests look at them).
/// A client that behaves as a browser on an Onwatch page: it keeps cookies and says its
/// requests come from the same site (`Sec-Fetch-Site`, which every supported browser sends).
pub fn cookie_client() -> reqwest::Client {
    let mut same_site = reqwest::header::HeaderMap::new();
    same_site.insert(
        "sec-fetch-site",
        reqwest::header::HeaderValue::from_static("same-origin"),
    );
    reqwest::Client::builder()
        .default_headers(same_site)
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("a reqwest client")
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request to the test server")
    }

    /// `GET /metrics` as the team's Prometheus does it: with the scrape token.
    pub async fn metrics(&self) -> reqwest::Response {
        let token = self
            .metrics_token
            .as_deref()
            .expect("this test server has a metrics token");
        reqwest::Client::new()
            .get(format!("{}/metrics", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request to the test server")
    }

    /// A client with no session.
    pub fn anonymous(&self) -> reqwest::Client {
        cookie_client()
    }

    /// A new client signed in with the development sign-in as `name` with `role`.
    pub async fn signed_in(&self, name: &str, role: &str) -> reqwest::Client {
        let client = cookie_client();
        self.dev_signin(&client, name, role).await;
        client
    }

    /// Signs `client` in (a same-origin form post, as the sign-in page makes it).
    pub async fn dev_signin(&self, client: &reqwest::Client, name: &str, role: &str) {
        let res = client
            .post(format!("{}/auth/dev", self.address))
            .header("origin", &self.address)
            .form(&[("name", name), ("role", role), ("next", "/")])
            .send()
            .await
            .expect("dev sign-in request");
        assert_eq!(res.status(), 303, "dev sign-in as {name} ({role})");
    }

    /// The HTML of `path` as `client` sees it.
    pub async fn html(&self, client: &reqwest::Client, path: &str) -> String {
        client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("page request")
            .text()
            .await
            .expect("page body")
    }

    /// The admin page's handle of `login`'s session (as `admin` lists them).
    pub async fn session_handle(&self, admin: &reqwest::Client, login: &str) -> String {
        let list: serde_json::Value = self
            .call(admin, "/api/admin/sessions", &[])
            .await
            .json()
            .await
            .expect("session list");
        list["sessions"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["login"] == login))
            .and_then(|s| s["handle"].as_str())
            .unwrap_or_else(|| panic!("{login} has no active session: {list}"))
            .to_owned()
    }

    /// POSTs a server function as the browser's client does (same origin, form encoded).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(format!("{}{path}", self.address))
            .header("origin", &self.address)
            .form(form)
            .send()
            .await
            .expect("server function request")
    }
}

/// A configuration for tests: loopback, random port, a store of the given kind, and the
/// development sign-in (allowed because the address is loopback).
pub async fn test_config(kind: StoreKind) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    // Tests change session rows behind the server's back (as another replica would) and expect
    // the next request to see it.
    config.auth.session_cache_ms = 0;
    config.server.site_root = dir.path().join("site");
    config.server.shutdown_grace_secs = 5;
    config.auth.dev_signin = true;
    // The scrape token of /metrics (`TestApp::metrics`).
    let token = dir.path().join("metrics-token");
    std::fs::write(&token, "test-scrape-token-0123456789\n").expect("the metrics token file");
    config.metrics.token_file = Some(token);
    config.store.url = match kind {
        StoreKind::Sqlite => format!("sqlite://{}/onwatch.db", dir.path().display()),
        StoreKind::Postgres => testkit::postgres_database()
            .await
            .expect("a Postgres test database"),
    };
    (config, dir)
}

pub async fn spawn_app(kind: StoreKind) -> TestApp {
    let (config, dir) = test_config(kind).await;
    spawn_app_with(config, dir, Router::new()).await
}

pub async fn spawn_app_with(config: Config, dir: tempfile::TempDir, extra: Router) -> TestApp {
    server::telemetry::init("warn");
    let store_url = config.store.url.clone();
    let dev_signin = config.auth.dev_signin;
    let site_root = config.server.site_root.clone();
    let metrics_token = config
        .metrics
        .token_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.trim_end().to_owned());
    let app = Application::build_with_routes(config, extra)
        .await
        .expect("the server builds");
    let addr = app.local_addr();
    let shutdown = app.shutdown_handle();
    let handle = tokio::spawn(app.run_until_stopped());
    let mut app = TestApp {
        address: format!("http://{addr}"),
        client: cookie_client(),
        store_url,
        site_root,
        shutdown,
        handle,
        metrics_token,
        _dir: dir,
    };
    if dev_signin {
        app.client = app.signed_in("test-viewer", "viewer").await;
    }
    app
}

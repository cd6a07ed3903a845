//! `spawn_app()`: the whole Onwatch server on a random port with a fresh store, in the style of
//! zero2prod. Later capabilities add their fixtures (fleet simulator, identity provider) here.

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
    pub client: reqwest::Client,
    pub store_url: String,
    pub shutdown: ShutdownHandle,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request to the test server")
    }
}

/// A configuration for tests: loopback, random port, a store of the given kind.
pub async fn test_config(kind: StoreKind) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.server.site_root = dir.path().join("site");
    config.server.shutdown_grace_secs = 5;
    config.store.url = match kind {
        StoreKind::Sqlite => format!("sqlite://{}/onwatch.db", dir.path().display()),
        StoreKind::Postgres => ops::testkit::postgres_database()
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
    let app = Application::build_with_routes(config, extra)
        .await
        .expect("the server builds");
    let addr = app.local_addr();
    let shutdown = app.shutdown_handle();
    let handle = tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        store_url,
        shutdown,
        handle,
        _dir: dir,
    }
}

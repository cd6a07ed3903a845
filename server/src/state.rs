//! What every handler shares (the application's state) and how a route the server answers
//! itself is stated: the floor the handlers and the router stand on, importing none of them.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use ops::store::Store;
use tokio::sync::watch;

use crate::auth::wall::Access;
use crate::auth::Auth;
use crate::metrics::Metrics;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub metrics: Metrics,
    pub fleet: Arc<ops::fleet::FleetModel>,
    /// Turns true when shutdown begins (long-lived streams end then).
    pub stopping: watch::Receiver<bool>,
    pub auth: Auth,
    pub actions: Arc<ops::change::Pipeline>,
    pub console: Arc<ops::console::ShardConsole>,
    pub logs: Arc<ops::logs::Logs>,
    /// Live-update streams open, per person (`server.streams_per_person`).
    pub streams: crate::streams::Streams,
    pub oncall: Arc<ops::oncall::OnCall>,
    pub incidents: ops::incidents::Incidents,
    /// Who may read `/metrics` on the public address.
    pub metrics_access: crate::metrics::ScrapeAccess,
    /// The scrape token (`metrics.token_file`), also asked for on `metrics.listen`.
    pub metrics_token: Option<ops::secret::SecretSource>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// A route the server answers itself. The method and who may call it are stated once, here: the
/// router and the auth wall's table are both built from it.
pub struct ServerRoute {
    pub method: axum::http::Method,
    pub path: &'static str,
    pub access: Access,
    pub handler: axum::routing::MethodRouter<AppState>,
}

/// A [`ServerRoute`] for `method` and `path`.
pub fn route<H, T>(
    method: axum::http::Method,
    path: &'static str,
    access: Access,
    handler: H,
) -> ServerRoute
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let filter = axum::routing::MethodFilter::try_from(method.clone())
        .unwrap_or(axum::routing::MethodFilter::GET);
    ServerRoute {
        method,
        path,
        access,
        handler: axum::routing::on(filter, handler),
    }
}

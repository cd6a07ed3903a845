//! What the server hands to every page render and server function (server build only).

use leptos::prelude::{use_context, ServerFnError};
use ops::auth::{Identity, Role};

use crate::api::EnvironmentSummary;

/// The portal's services, provided as Leptos context by the server for each request.
#[derive(Clone)]
pub struct Portal {
    pub store: ops::store::Store,
    pub environments: Vec<EnvironmentSummary>,
    pub fleet: std::sync::Arc<ops::fleet::FleetModel>,
    /// "fleet file data/demo-fleet.toml", "EC2 us-west-2", or `None` when no inventory is set up.
    pub fleet_source: Option<String>,
    /// The loopback-only development sign-in is on: every page says so.
    pub dev_signin: bool,
    /// The dashboard's view of the latest fleet snapshot: (version, generated_ms, collapse_above).
    pub dashboard_cache: DashboardCache,
    /// The dashboard's grid as HTML, for the snapshot (version, generated_ms) it shows.
    pub dashboard_markup: MarkupCache,
}

/// The last markup written, keyed by the snapshot it shows.
pub type MarkupCache = std::sync::Arc<std::sync::Mutex<Option<((u64, i64), std::sync::Arc<str>)>>>;

impl Portal {
    /// The dashboard's alarms and grids as HTML: written once per fleet snapshot, then shared by
    /// every page view of it (under the lock, so that concurrent views wait for one writer).
    pub fn dashboard_markup(&self, fleet: &crate::fleet::FleetView) -> std::sync::Arc<str> {
        let key = (fleet.version, fleet.now_ms);
        let Ok(mut cache) = self.dashboard_markup.lock() else {
            return crate::pages::markup::dashboard(fleet).into();
        };
        match cache.as_ref() {
            Some((k, html)) if *k == key => html.clone(),
            _ => {
                let html: std::sync::Arc<str> = crate::pages::markup::dashboard(fleet).into();
                *cache = Some((key, html.clone()));
                html
            }
        }
    }
}

/// The last dashboard view built, keyed by the snapshot it came from.
pub type DashboardCache = std::sync::Arc<
    std::sync::Mutex<Option<((u64, i64, usize), std::sync::Arc<crate::fleet::FleetView>)>>,
>;

/// The portal from the request's context, or a server error that says it is missing.
pub fn portal() -> Result<Portal, ServerFnError> {
    use_context::<Portal>().ok_or_else(|| ServerFnError::new("the portal context is missing"))
}

/// The signed-in person of the current request (the server's auth wall put it there).
pub fn viewer() -> Option<Identity> {
    use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<Identity>().cloned())
}

/// The CSRF token of the current request, for forms that post without JavaScript.
pub fn csrf_token() -> String {
    use_context::<http::request::Parts>()
        .and_then(|p| {
            p.extensions
                .get::<ops::auth::CsrfToken>()
                .map(|t| t.0.clone())
        })
        .unwrap_or_default()
}

/// The signed-in person if their role includes `needed`; otherwise an error, with the HTTP
/// status set to 401 or 403. The wall has already checked the path; this is the server
/// function's own check, so that a misrouted function still refuses.
pub fn require(needed: Role) -> Result<Identity, ServerFnError> {
    let status = |code: u16| {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(s) = http::StatusCode::from_u16(code) {
                resp.set_status(s);
            }
        }
    };
    match viewer() {
        None => {
            status(401);
            Err(ServerFnError::new(
                "Not signed in, or your session has ended: sign in again at /signin.",
            ))
        }
        Some(id) if !id.role.allows(needed) => {
            status(403);
            Err(ServerFnError::new(format!(
                "You are signed in as {} with the {} role; this needs the {needed} role.",
                id.login, id.role
            )))
        }
        Some(id) => Ok(id),
    }
}

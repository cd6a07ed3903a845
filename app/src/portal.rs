//! What the server hands to every page render and server function (server build only).

use leptos::prelude::{use_context, ServerFnError};
use ops::auth::{Identity, Role};

use vocab::EnvironmentSummary;

/// The portal's services, provided as Leptos context by the server for each request.
#[derive(Clone)]
pub struct Portal {
    pub store: ops::store::Store,
    pub sessions: ops::auth::sessions::SessionStore,
    pub history: ops::fleet::History,
    /// Guarded actions: the change pipeline.
    pub actions: std::sync::Arc<ops::change::Pipeline>,
    /// The audit log: recorded changes (`ops::change::record`) write their rows here.
    pub audit: ops::audit::AuditLog,
    /// The shard console (its databases, runs and history).
    pub console: std::sync::Arc<ops::console::ShardConsole>,
    pub environments: Vec<EnvironmentSummary>,
    pub fleet: std::sync::Arc<ops::fleet::FleetModel>,
    /// "fleet file data/demo-fleet.toml", "EC2 us-west-2", or `None` when no inventory is set up.
    pub fleet_source: Option<String>,
    /// The loopback-only development sign-in is on: every page says so.
    pub dev_signin: bool,
    /// The rotation, overrides, feeds, handoffs and PagerDuty.
    pub oncall: std::sync::Arc<ops::oncall::OnCall>,
    /// Incidents, their updates (and the status page), rules broken, the directory.
    pub incidents: ops::incidents::Incidents,
    /// The onboarding checklist.
    pub onboarding: std::sync::Arc<ops::onboarding::Onboarding>,
    /// Environments of more than this many hosts list only their hosts with a problem on the
    /// dashboard (`[fleet] dashboard_collapse_above`): configuration, never a request's choice.
    pub dashboard_collapse_above: usize,
    /// Each person's settings (the time zone the pages speak).
    pub prefs: ops::prefs::Preferences,
}

impl Portal {
    /// What the team's readiness is read from (`ops::onboarding::team`): the onboarding page
    /// and the on-call chores ask the same sources.
    pub fn team(&self) -> ops::onboarding::team::Sources<'_> {
        ops::onboarding::team::Sources {
            onboarding: &self.onboarding,
            oncall: &self.oncall,
            access: self.actions.access(),
            fleet: &self.fleet,
        }
    }
}

/// The portal from the request's context, or a server error that says it is missing.
pub fn portal() -> Result<Portal, ServerFnError> {
    use_context::<Portal>().ok_or_else(|| ServerFnError::new("the portal context is missing"))
}

/// The signed-in person of the current request (the server's auth wall put it there).
pub fn viewer() -> Option<Identity> {
    use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<Identity>().cloned())
}

/// The zone this request's pages speak (the auth wall worked it out: the person's choice, else
/// their browser's, else UTC).
pub fn zone() -> vocab::Zone {
    use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<vocab::Zone>().cloned())
        .unwrap_or_default()
}

/// The zone the browser reported in its cookie (unchecked: the caller checks it against the
/// zone database).
pub fn browser_zone() -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == vocab::zone::COOKIE)
        .map(|(_, v)| v.trim().to_owned())
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

/// Sets the HTTP status of the current server function's answer (a refusal's 403, 429, 503).
pub fn set_status(code: u16) {
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(s) = http::StatusCode::from_u16(code) {
            resp.set_status(s);
        }
    }
}

/// The signed-in person if their role includes `needed`; otherwise an error, with the HTTP
/// status set to 401 or 403. The wall has already checked the path; this is the server
/// function's own check, so that a misrouted function still refuses.
pub fn require(needed: Role) -> Result<Identity, ServerFnError> {
    let status = set_status;
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

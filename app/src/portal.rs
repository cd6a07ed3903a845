//! What the server hands to every page render and server function (server build only).

use crate::api::EnvironmentSummary;

/// The portal's services, provided as Leptos context by the server for each request.
#[derive(Clone)]
pub struct Portal {
    pub store: ops::store::Store,
    pub environments: Vec<EnvironmentSummary>,
    pub fleet: std::sync::Arc<ops::fleet::FleetModel>,
    /// "fleet file data/demo-fleet.toml", "EC2 us-west-2", or `None` when no inventory is set up.
    pub fleet_source: Option<String>,
}

/// The portal from the request's context, or a server error that says it is missing.
pub fn portal() -> Result<Portal, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<Portal>()
        .ok_or_else(|| leptos::prelude::ServerFnError::new("the portal context is missing"))
}

//! What the server hands to every page render and server function (server build only).

use crate::api::EnvironmentSummary;

/// The portal's services, provided as Leptos context by the server for each request.
#[derive(Clone, Debug)]
pub struct Portal {
    pub store: ops::store::Store,
    pub environments: Vec<EnvironmentSummary>,
}

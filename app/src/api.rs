//! Server functions and the data they return. Types here are shared by the server and the browser.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An environment as the shell shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSummary {
    pub name: String,
    /// Production environments get the unmistakable red badge and extra guards.
    pub production: bool,
    pub description: String,
}

/// Who is signed in. `None` until a sign-in provider is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub name: String,
    pub role: String,
}

/// What the app shell needs on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellData {
    pub version: String,
    pub store_backend: String,
    pub environments: Vec<EnvironmentSummary>,
    pub viewer: Option<Viewer>,
}

/// A Builder service as the catalogue describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSynopsis {
    pub slug: String,
    pub package: String,
    pub title: String,
    pub role: String,
    pub runner: String,
    pub symptoms: Vec<(String, String)>,
    pub cautions: Vec<String>,
}

#[server(endpoint = "shell-info")]
pub async fn shell_info() -> Result<ShellData, ServerFnError> {
    let portal = use_context::<crate::portal::Portal>()
        .ok_or_else(|| ServerFnError::new("the portal context is missing"))?;
    Ok(ShellData {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        store_backend: portal.store.backend().name().to_owned(),
        environments: portal.environments.clone(),
        viewer: None,
    })
}

#[server(endpoint = "list-services")]
pub async fn list_services() -> Result<Vec<ServiceSynopsis>, ServerFnError> {
    Ok(ops::catalog::SERVICES.iter().map(synopsis).collect())
}

#[server(endpoint = "get-service")]
pub async fn get_service(slug: String) -> Result<Option<ServiceSynopsis>, ServerFnError> {
    Ok(ops::catalog::service(&slug).map(synopsis))
}

#[cfg(feature = "ssr")]
fn synopsis(s: &ops::catalog::ServiceInfo) -> ServiceSynopsis {
    ServiceSynopsis {
        slug: s.slug.to_owned(),
        package: s.package.to_owned(),
        title: s.title.to_owned(),
        role: s.role.to_owned(),
        runner: match s.runner {
            ops::catalog::Runner::Supervisor => "Habitat Supervisor".to_owned(),
            ops::catalog::Runner::Systemd => "systemd unit".to_owned(),
        },
        symptoms: s
            .symptoms
            .iter()
            .map(|x| (x.observed.to_owned(), x.remedy.to_owned()))
            .collect(),
        cautions: s.cautions.iter().map(|c| (*c).to_owned()).collect(),
    }
}

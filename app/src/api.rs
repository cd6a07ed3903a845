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

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub name: String,
    pub login: String,
    /// `viewer`, `responder` or `admin`.
    pub role: String,
    /// `github`, `oidc` or `dev`.
    pub provider: String,
}

impl Viewer {
    /// Whether the role includes `needed` (`viewer` < `responder` < `admin`). The UI uses this to
    /// hide what the role cannot do; the server checks again on every request.
    pub fn can(&self, needed: &str) -> bool {
        let rank = |r: &str| match r {
            "admin" => 2,
            "responder" => 1,
            _ => 0,
        };
        rank(&self.role) >= rank(needed)
    }
}

/// What the app shell needs on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellData {
    pub version: String,
    pub store_backend: String,
    pub environments: Vec<EnvironmentSummary>,
    pub viewer: Option<Viewer>,
    /// The development sign-in is on: the shell shows a banner on every page.
    pub dev_signin: bool,
    /// For the sign-out form, which posts without JavaScript.
    pub csrf_token: String,
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

#[server(prefix = "/api/read", endpoint = "shell-info")]
pub async fn shell_info() -> Result<ShellData, ServerFnError> {
    shell_data_now()
}

/// The shell's data for the current request, at once (no I/O: the wall has put the identity and
/// the CSRF token on the request).
#[cfg(feature = "ssr")]
pub fn shell_data_now() -> Result<ShellData, ServerFnError> {
    let id = crate::portal::require(ops::auth::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ShellData {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        store_backend: portal.store.backend().name().to_owned(),
        environments: portal.environments.clone(),
        viewer: Some(Viewer {
            name: id.name,
            login: id.login,
            role: id.role.as_str().to_owned(),
            provider: id.provider,
        }),
        dev_signin: portal.dev_signin,
        csrf_token: crate::portal::csrf_token(),
    })
}

#[server(prefix = "/api/read", endpoint = "list-services")]
pub async fn list_services() -> Result<Vec<ServiceSynopsis>, ServerFnError> {
    crate::portal::require(ops::auth::Role::Viewer)?;
    Ok(ops::catalog::SERVICES.iter().map(synopsis).collect())
}

#[server(prefix = "/api/read", endpoint = "get-service")]
pub async fn get_service(slug: String) -> Result<Option<ServiceSynopsis>, ServerFnError> {
    crate::portal::require(ops::auth::Role::Viewer)?;
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

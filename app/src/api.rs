//! Server functions and the data they return. Types here are shared by the server and the browser.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use vocab::EnvironmentSummary;

/// The person signed in (whatever their role: a viewer is one of the roles, not the person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub name: String,
    pub login: String,
    /// A role the browser does not know fails to decode: it never passes for a known one.
    pub role: vocab::Role,
    /// `github`, `oidc` or `dev`.
    pub provider: String,
}

impl SignedIn {
    /// Whether the role includes `needed`. The UI uses this to hide what the role cannot do;
    /// the server checks again on every request.
    pub fn can(&self, needed: vocab::Role) -> bool {
        self.role.allows(needed)
    }
}

/// What the app shell needs on every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellData {
    pub version: String,
    pub store_backend: String,
    pub environments: Vec<EnvironmentSummary>,
    pub signed_in: Option<SignedIn>,
    /// What the header shows, as one number (`ops::header::fingerprint`): the live
    /// stream announces it, and the header is read again when it differs.
    pub header_version: u64,
    /// The development sign-in is on: the shell shows a banner on every page.
    pub dev_signin: bool,
    /// For the sign-out form, which posts without JavaScript.
    pub csrf_token: String,
    /// Who is on call now and next (`None`: no rotation and no PagerDuty configured).
    pub oncall: Option<crate::oncall::NowView>,
    /// People scheduled in the coming shifts who are not ready for on-call (shown to admins
    /// and to the person themselves).
    pub not_ready: Vec<String>,
    /// The open incidents (with who is in charge of each).
    pub incidents: Vec<crate::incidents::OpenView>,
    /// The zone every time on the page is shown in (see [`crate::fmt::zone`]).
    pub zone: vocab::Zone,
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
    let header = portal.oncall.header();
    let header_version = ops::header::fingerprint(&portal.incidents.open_now(), &header);
    portal
        .onboarding
        .touch(&id.login, &id.name, &id.provider, &id.memberships);
    let admin = id.role.allows(ops::auth::Role::Admin);
    let login = id.login.clone();
    Ok(ShellData {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        store_backend: portal.store.backend().name().to_owned(),
        header_version,
        environments: portal.environments.clone(),
        signed_in: Some(SignedIn {
            name: id.name,
            login: id.login,
            role: id.role,
            provider: id.provider,
        }),
        dev_signin: portal.dev_signin,
        csrf_token: crate::portal::csrf_token(),
        oncall: header.now.as_ref().map(crate::oncall::ssr::now_view),
        not_ready: header
            .not_ready
            .into_iter()
            .filter(|p| admin || p.eq_ignore_ascii_case(&login))
            .collect(),
        incidents: crate::incidents::ssr::open_views(&portal),
        zone: crate::portal::zone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_role_is_no_role_at_all() {
        let with_role =
            |role: &str| format!(r#"{{"name":"A","login":"a","role":"{role}","provider":"dev"}}"#);
        // Before the shared vocabulary, "admn" ranked like a viewer and `can("admn")` was true
        // for everyone: now a role the browser does not know does not decode.
        assert!(serde_json::from_str::<SignedIn>(&with_role("admn")).is_err());
        let responder: SignedIn = serde_json::from_str(&with_role("responder")).unwrap();
        assert!(responder.can(vocab::Role::Viewer));
        assert!(responder.can(vocab::Role::Responder));
        assert!(!responder.can(vocab::Role::Admin));
    }
}

//! One component per page.

pub mod actions;
pub mod admin;
mod audit;
mod console;
mod environments;
mod fleet_common;
mod fleet_pages;
pub mod home;
pub mod incidents;
pub mod locks;
pub mod logs;
pub mod markup;
pub mod onboarding;
pub mod oncall;
pub mod sentinel;
mod services;
pub mod settings;

pub use actions::{ActionPage, ActionsPage};
pub use admin::AdminSessionsPage;
pub use audit::AuditPage;
pub use console::ConsolePage;
pub use environments::EnvironmentsPage;
pub use fleet_common::host_href;
pub use fleet_pages::{BrokenPage, EnvironmentPage, HostPage, ReleasesPage};
pub use home::HomePage;
pub use incidents::{IncidentPage, IncidentsPage};
pub use onboarding::OnboardingPage;
pub use oncall::{OnCallCard, OnCallPage};
pub use services::{ServicePage, ServicesPage};
pub use settings::SettingsPage;

use leptos::prelude::*;
use leptos_meta::Title;

/// Makes the page being drawn on the server answer 404: a deep link to an environment, host or
/// service that does not exist says so to a script as well as to a person. (In the browser the
/// page is already there; nothing to answer.)
pub fn answer_not_found() {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http_not_found());
        }
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    answer_not_found();
    view! {
        <Title text="Not found"/>
        <section class="page">
            <h1>"Nothing here"</h1>
            <p>"This address is not a page of Onwatch. Check the link, or pick a section above."</p>
            <p><a href="/">"Back to the overview"</a></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn http_not_found() -> http::StatusCode {
    http::StatusCode::NOT_FOUND
}

/// Shows a server function's error where its data would be.
#[component]
pub fn LoadError(message: String) -> impl IntoView {
    view! {
        <div class="callout callout-error" role="alert">
            <strong>"Could not load this: "</strong>
            {message}
            <p class="muted">"Reload the page; if it persists, check that the Onwatch server is up (/healthz)."</p>
        </div>
    }
}

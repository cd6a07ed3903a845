//! One component per page. Pages that later capabilities fill describe what they will hold and,
//! until then, the runbook procedure the on-call engineer follows by hand.

pub mod admin;
mod dashboard;
mod fleet_common;
mod fleet_pages;
mod home;
pub mod markup;
mod sections;
mod services;

pub use admin::AdminSessionsPage;
pub use dashboard::HomePage;
pub use fleet_common::host_href;
pub use fleet_pages::{BrokenPage, EnvironmentPage, HostPage, ReleasesPage};
pub use home::EnvironmentsPage;
pub use sections::{ActionsPage, AuditPage, ConsolePage, OnCallPage, OnboardingPage};
pub use services::{ServicePage, ServicesPage};

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http_not_found());
        }
    }
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

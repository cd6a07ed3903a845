#![recursion_limit = "256"]
//! Onwatch's user interface: the app shell, the pages and the server functions they call.
//!
//! Server functions stay thin: they check the caller and hand the work to the `ops` crate, which
//! is only linked into the server build (feature `ssr`).

pub mod actions;
pub mod api;
pub mod components;
pub mod console;
pub mod data;
pub mod fleet;
pub mod fmt;
pub mod html;
pub mod incidents;
pub mod lazy;
pub mod live;
pub mod locks;
pub mod onboarding;
pub mod oncall;
pub mod pages;
pub mod palette;
#[cfg(feature = "ssr")]
pub mod portal;
pub mod sentinel;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use leptos_router::{Lazy, SsrMode};

use crate::components::Layout;
use crate::lazy::*;
use crate::pages::*;

/// Every page route (as the router writes it) and the role it needs. The auth wall refuses a
/// page route that is missing here, so a page added to [`App`] without saying who may see it
/// fails closed (a test checks that the two lists agree).
pub const PAGES: &[(&str, vocab::Role)] = {
    use vocab::Role::{Admin, Viewer};
    &[
        ("/", Viewer),
        ("/environments", Viewer),
        ("/environments/{env}", Viewer),
        ("/environments/{env}/hosts/{host}", Viewer),
        ("/releases", Viewer),
        ("/broken", Viewer),
        ("/services", Viewer),
        ("/services/{slug}", Viewer),
        ("/actions", Viewer),
        ("/actions/{id}", Viewer),
        ("/audit", Viewer),
        ("/console", Viewer),
        ("/incidents", Viewer),
        ("/incidents/{id}", Viewer),
        ("/oncall", Viewer),
        ("/onboarding", Viewer),
        ("/settings", Viewer),
        ("/admin/sessions", Admin),
    ]
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="data:,"/>
                // Apply a saved theme before the first paint, so a dark-theme user never sees a
                // white flash at 3 a.m.
                <script nonce=leptos::nonce::use_nonce()>{components::THEME_BOOT_SCRIPT}</script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/onwatch.css"/>
        <Title formatter=|text: String| {
            if text.is_empty() { "Onwatch".to_owned() } else { format!("{text} · Onwatch") }
        }/>
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/environments") view={Lazy::<EnvironmentsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/environments/:env") view={Lazy::<EnvironmentRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/environments/:env/hosts/:host") view={Lazy::<HostRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/releases") view={Lazy::<ReleasesRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/broken") view={Lazy::<BrokenRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/services") view={Lazy::<ServicesRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/services/:slug") view={Lazy::<ServiceRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/actions") view={Lazy::<ActionsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/actions/:id") view={Lazy::<ActionRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/console") view={Lazy::<ConsoleRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/incidents") view={Lazy::<IncidentsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/incidents/:id") view={Lazy::<IncidentRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/oncall") view={Lazy::<OnCallRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/onboarding") view={Lazy::<OnboardingRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/sessions") view={Lazy::<AdminSessionsRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </Layout>
        </Router>
    }
}

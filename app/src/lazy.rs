//! Pages whose code the browser fetches when they are first visited, not with the dashboard.
//!
//! The dashboard must be usable quickly on a bad connection at 3 a.m., so its first load carries
//! the shell and the dashboard only (the fleet pages too did not fit the budget). Each page below is a split point: after the build, `wasm-split`
//! (scripts/build-site.sh) moves the code reachable only from it into its own chunk, which the
//! browser loads on the first visit (or, for a page rendered by the server, which the page's head
//! preloads alongside the main module, so hydration does not wait on a second round trip).
//!
//! A chunk can fail to arrive: the network drops, or Onwatch was redeployed while the tab was open
//! (each build's chunks import a canary only that build's main module has, so an old page refuses a
//! new chunk with a link error rather than running it). Then the page says so and offers to load
//! it again, instead of the panic a failed split load would otherwise be.

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;
use leptos_meta::Title;

use crate::pages::*;

/// A page's chunk did not load. The browser's console has the details the loader logged.
#[derive(Debug)]
pub struct ChunkLost;

impl From<SplitLoaderError> for ChunkLost {
    fn from(_: SplitLoaderError) -> Self {
        ChunkLost
    }
}

/// Declares one route type per page, each a split point with its chunk's name.
///
/// The router first runs a route's `preload` (fetching the chunk) and only then its `view`, so
/// that when the server's markup is taken over the page's code is there to take it over at once;
/// a view still waiting would meet markup it did not expect.
macro_rules! lazy_pages {
    ($( $(#[$doc:meta])* $route:ident => $chunk:ident :: $load:ident => $page:ident ),* $(,)?) => { $(
        $(#[$doc])*
        pub struct $route;

        mod $load {
            use super::*;

            // The page is the split point: everything only it reaches goes to the chunk.
            #[::leptos::wasm_split::wasm_split(
                $chunk,
                fallible,
                wasm_split_path = ::leptos::wasm_split,
                preload(#[doc(hidden)] preload)
            )]
            pub fn $load() -> Result<AnyView, ChunkLost> {
                Ok(view! { <$page/> }.into_any())
            }
        }

        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn preload() {
                if $load::preload().await.is_err() {
                    // While the server's page is being taken over, nothing can stand in for the
                    // page's code (any other view would contradict the markup): say so, and stop.
                    #[cfg(feature = "hydrate")]
                    if hydrating() {
                        page_code_missing().await;
                    }
                    // Otherwise `view` meets the failure again (it tries once more) and shows it.
                }
            }

            async fn view(_: Self) -> AnyView {
                // Rendered on the server: the head preloads the chunk (by its name in the
                // split manifest) so that hydration finds it already fetched.
                #[cfg(feature = "ssr")]
                leptos::prefetch_lazy_fn_on_server(stringify!($chunk));
                match $load::$load().await {
                    Ok(page) => page,
                    Err(ChunkLost) => view! { <ChunkFailed/> }.into_any(),
                }
            }
        }
    )* };
}

lazy_pages! {
    /// `/environments`: both environments at a glance.
    EnvironmentsRoute => environments::environments_page => EnvironmentsPage,
    /// `/environments/{env}`: one environment's hosts.
    EnvironmentRoute => environment::environment_page => EnvironmentPage,
    /// `/environments/{env}/hosts/{host}`: one host, its Supervisor, services and logs.
    HostRoute => host::host_page => HostPage,
    /// `/releases`: what runs where.
    ReleasesRoute => releases::releases_page => ReleasesPage,
    /// `/broken`: everything not seen healthy.
    BrokenRoute => broken::broken_page => BrokenPage,
    /// `/services`: every service's synopsis.
    ServicesRoute => services::services_page => ServicesPage,
    /// `/services/{slug}`: one service's synopsis page.
    ServiceRoute => service::service_page => ServicePage,
    /// `/actions`: the list of changes.
    ActionsRoute => actions::actions_page => ActionsPage,
    /// `/actions/{id}`: one change, its output and outcome.
    ActionRoute => actions::action_page => ActionPage,
    /// `/audit`: the audit log.
    AuditRoute => audit::audit_page => AuditPage,
    /// `/console`: the read-only query console.
    ConsoleRoute => console::console_page => ConsolePage,
    /// `/incidents`.
    IncidentsRoute => incidents::incidents_page => IncidentsPage,
    /// `/incidents/{id}`.
    IncidentRoute => incidents::incident_page => IncidentPage,
    /// `/oncall`: the rotation and handoffs.
    OnCallRoute => oncall::oncall_page => OnCallPage,
    /// `/onboarding`.
    OnboardingRoute => onboarding::onboarding_page => OnboardingPage,
    /// `/settings`.
    SettingsRoute => settings::settings_page => SettingsPage,
    /// `/admin/sessions`.
    AdminSessionsRoute => admin::admin_sessions_page => AdminSessionsPage,
}

/// Whether the server's page is being taken over right now.
#[cfg(feature = "hydrate")]
fn hydrating() -> bool {
    Owner::current_shared_context().is_some_and(|sc| sc.during_hydration())
}

/// A server-drawn page whose code did not load: its route is never taken over (the router waits
/// for this forever, so nothing contradicts the markup). The page stays readable, a banner says
/// that its buttons do not work and offers to load it again, and the header, taken over before
/// the page, keeps working; its links load their page in full, because the router, waiting
/// here, cannot draw another.
#[cfg(feature = "hydrate")]
async fn page_code_missing() {
    inert_page_banner();
    links_load_in_full();
    std::future::pending::<()>().await;
}

/// The banner over a server-drawn page whose code did not load, made outside the framework (which
/// is exactly what could not take the page over). The link reloads the page.
#[cfg(feature = "hydrate")]
fn inert_page_banner() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let (Some(body), Ok(banner), Ok(link)) = (
        document.body(),
        document.create_element("div"),
        document.create_element("a"),
    ) else {
        return;
    };
    let href = document
        .location()
        .and_then(|l| l.href().ok())
        .unwrap_or_default();
    let _ = banner.set_attribute("class", "stale-banner");
    let _ = banner.set_attribute("role", "alert");
    let _ = banner.set_attribute("data-testid", "chunk-failed-banner");
    banner.set_text_content(Some(
        "This page's code did not load: what you see is as the server drew it, and its buttons \
         do not work. ",
    ));
    let _ = link.set_attribute("href", &href);
    // The browser's own navigation: a full load, never the router's (which is stuck here).
    let _ = link.set_attribute("rel", "external");
    let _ = link.set_attribute("data-testid", "chunk-retry");
    link.set_text_content(Some("Load the page again"));
    let _ = banner.append_child(&link);
    let _ = body.prepend_with_node_1(&banner);
}

/// From now on a plain click on a link of this site loads its page in full. The listener is on
/// the document, which an event reaches before the window, where the router listens; the router
/// leaves alone a click whose default was prevented.
#[cfg(feature = "hydrate")]
fn links_load_in_full() {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    let on_click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(move |ev: web_sys::MouseEvent| {
        // New tabs, downloads and the like stay the browser's.
        if ev.default_prevented()
            || ev.button() != 0
            || ev.meta_key()
            || ev.ctrl_key()
            || ev.shift_key()
            || ev.alt_key()
        {
            return;
        }
        let Some(link) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a[href]").ok().flatten())
        else {
            return;
        };
        if link.has_attribute("target") || link.has_attribute("download") {
            return;
        }
        let Some(href) = link.get_attribute("href") else {
            return;
        };
        // This site's links only; a link elsewhere was never the router's.
        let origin = web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default();
        let ours = (href.starts_with('/') && !href.starts_with("//"))
            || href
                .strip_prefix(origin.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if ours && !origin.is_empty() {
            ev.prevent_default();
            if let Some(window) = web_sys::window() {
                let _ = window.location().assign(&href);
            }
        }
    });
    let _ = document.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    // The page lives as long as the listener is needed: until the next full load.
    on_click.forget();
}

/// What a person sees when a page's code did not arrive: what happened, and a way to try again.
/// Trying again reloads the page from the server, which also picks up a new deployment's chunks.
#[component]
fn ChunkFailed() -> impl IntoView {
    let retry = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        }
    };
    view! {
        <Title text="Page not loaded"/>
        <section class="page">
            <div class="callout callout-error" role="alert" data-testid="chunk-failed">
                <h1>"This page could not be loaded"</h1>
                <p>
                    "Its code did not reach the browser: the connection dropped, or Onwatch was "
                    "updated since this tab was opened. Nothing was changed. Load it again; if it "
                    "keeps failing, check the connection to Onwatch."
                </p>
                <button type="button" class="btn" data-testid="chunk-retry" on:click=retry>
                    "Load the page again"
                </button>
            </div>
        </section>
    }
}

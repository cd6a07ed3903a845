//! The home dashboard: alarms first, then each environment (production first) as a grid of
//! hosts × services whose cells say their state in a word, an icon and a colour.

use leptos::prelude::*;
use leptos_meta::Title;

use super::markup::{self, FULL_GRID_MAX_HOSTS};
use super::LoadError;
use crate::fleet::{load_dashboard, FleetView};
use crate::live::use_live_fleet;

#[component]
pub fn HomePage() -> impl IntoView {
    let live = use_live_fleet();
    let fleet = crate::data::resource(
        move || live.version.get(),
        |_| load_dashboard(FULL_GRID_MAX_HOSTS),
    );
    view! {
        <Title text="Dashboard"/>
        <section class="page dashboard">
            <Transition fallback=|| view! { <p class="muted">"Loading the fleet…"</p> }>
                {move || Suspend::new(async move {
                    match fleet.await {
                        Ok(f) => view! { <Dashboard fleet=f/> }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Dashboard(fleet: crate::data::Shared<FleetView>) -> impl IntoView {
    let now = fleet.now_ms;
    if fleet.source.is_none() && fleet.environments.iter().all(|e| e.hosts.is_empty()) {
        return view! {
            <h1>"Dashboard"</h1>
            <div class="callout">
                <h2>"No fleet configured"</h2>
                <p>"Set [inventory] source = \"ec2\" (instances by their X-Environment tag) or source = \"static\" with a fleet file, then restart Onwatch. See the README."</p>
            </div>
        }
        .into_any();
    }
    view! {
        <div class="dash-head">
            <h1>"Dashboard"</h1>
            <span class="muted small" data-testid="refreshed">
                "as of " {crate::fmt::utc_clock(now)} " · " {fleet.source.clone().unwrap_or_default()}
            </span>
            <a class="small" href="/broken">"What's broken? →"</a>
            <a class="small" href="/releases">"Acceptance vs live →"</a>
        </div>
        <div class="dash-body" inner_html=dashboard_markup(&fleet)></div>
    }
    .into_any()
}

/// The alarms and the grids (see [`markup`]): on the server, written once per snapshot for every
/// viewer; in the browser, written again on each live update.
fn dashboard_markup(fleet: &FleetView) -> std::sync::Arc<str> {
    #[cfg(feature = "ssr")]
    if let Ok(portal) = crate::portal::portal() {
        return portal.dashboard_markup(fleet);
    }
    markup::dashboard(fleet).into()
}

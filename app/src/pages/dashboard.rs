//! The home dashboard: alarms first, then each environment (production first) as a grid of
//! hosts × services whose cells say their state in a word, an icon and a colour.

use leptos::prelude::*;
use leptos_meta::Title;

use super::fleet_common::*;
use super::LoadError;
use crate::fleet::{load_dashboard, EnvView, FleetView};
use crate::live::use_live_fleet;

/// Above this many hosts, an environment's grid lists only the hosts with a problem; the
/// environment page has them all.
pub const FULL_GRID_MAX_HOSTS: usize = 40;

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
fn Dashboard(fleet: FleetView) -> impl IntoView {
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
        <Alarms alarms=fleet.alarms now_ms=now/>
        <div class="env-columns">
            {fleet
                .environments
                .into_iter()
                .map(|env| view! { <EnvGrid env=env now_ms=now/> })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// One environment: a row per service; in it, one chip per host that runs the service, saying
/// the state of that (service, host) pair. Hosts whose Supervisor has reported no services (not
/// polled yet, unreachable from the start) get their own row.
#[component]
pub fn EnvGrid(env: EnvView, now_ms: i64, #[prop(optional)] full: bool) -> impl IntoView {
    let total = env.hosts.len()
        + env
            .healthy_omitted
            .as_ref()
            .map(|o| o.iter().map(|(_, n)| *n).max().unwrap_or(0))
            .unwrap_or(0);
    let show_all = full || env.healthy_omitted.is_none() && total <= FULL_GRID_MAX_HOSTS;
    let class = if env.production {
        "env-panel env-panel-prod"
    } else {
        "env-panel"
    };
    let name = env.name.clone();
    let rows = env
        .services
        .iter()
        .map(|svc| {
            let mut chips: Vec<(String, String, String, String)> = Vec::new(); // host, state, title, env
            for h in &env.hosts {
                for s in h.services.iter().filter(|s| &s.service == svc) {
                    let title = format!("{} on {}: {} {}", s.service, h.name, s.cell, crate::fmt::since(now_ms, s.since_ms));
                    chips.push((h.name.clone(), s.cell.clone(), title, h.environment.clone()));
                }
            }
            let omitted_here = env
                .healthy_omitted
                .as_ref()
                .and_then(|o| o.iter().find(|(n, _)| n == svc).map(|(_, n)| *n))
                .unwrap_or(0);
            let healthy_hidden = omitted_here + if show_all { 0 } else { chips.iter().filter(|c| c.1 == "healthy").count() };
            if !show_all {
                chips.retain(|c| c.1 != "healthy");
            }
            let svc_name = svc.clone();
            view! {
                <tr data-service=svc_name.clone()>
                    <th scope="row"><a href=service_href(&svc_name)>{crate::fleet::slug_of(&svc_name)}</a></th>
                    <td class="chips">
                        {chips.into_iter().map(|(host, state, title, env)| view! {
                            <span class="chip" data-host=host.clone() data-service=svc_name.clone() title=title>
                                <a href=service_href(&svc_name)><StateCell state=state/></a>
                                <a class="chip-host" href=host_href(&env, &host)>{host.clone()}</a>
                            </span>
                        }).collect_view()}
                        {(healthy_hidden > 0).then(|| view! { <span class="muted small">"+" {healthy_hidden} " healthy"</span> })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    let bare: Vec<_> = env
        .hosts
        .iter()
        .filter(|h| h.services.is_empty())
        .cloned()
        .collect();
    view! {
        <section class=class data-env=name.clone() aria-label=format!("environment {name}")>
            <EnvHeader env=env.clone() now_ms=now_ms/>
            <Counts counts=env.counts.clone()/>
            {if total == 0 {
                view! { <p class="muted">"No hosts in this environment's inventory."</p> }.into_any()
            } else {
                view! {
                    <table class="fleet-grid">
                        <thead><tr><th scope="col">"Service"</th><th scope="col">"Hosts"</th></tr></thead>
                        <tbody>
                            {rows}
                            {(!bare.is_empty()).then(|| view! {
                                <tr data-service="">
                                    <th scope="row">"no services seen"</th>
                                    <td class="chips">
                                        {bare.into_iter().map(|h| view! {
                                            <a class="chip" href=host_href(&h.environment, &h.name) data-host=h.name.clone() title=h.last_error.clone().unwrap_or_default()>
                                                <StateCell state=h.cell.clone()/>
                                                <span class="chip-host">{h.name.clone()}</span>
                                            </a>
                                        }).collect_view()}
                                    </td>
                                </tr>
                            })}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

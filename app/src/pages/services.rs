//! The services list and one page per service: its synopsis, symptoms and every instance.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::fleet_common::{host_href, icon, StateCell};
use super::LoadError;
use crate::api::{get_service, list_services, ServiceSynopsis};
use crate::fleet::load_service_instances;
use crate::fmt;
use crate::live::use_live_fleet;

#[component]
pub fn ServicesPage() -> impl IntoView {
    let services = crate::data::resource(|| (), |_| list_services());
    view! {
        <Title text="Services"/>
        <section class="page">
            <h1>"Services"</h1>
            <p class="lede">"The Builder services and the sentinel bot: what each does and what to do when it misbehaves."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(list) => view! {
                            <div class="service-cards">
                                {list.into_iter().map(|s| view! { <ServiceCard service=s/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ServiceCard(service: ServiceSynopsis) -> impl IntoView {
    let href = format!("/services/{}", service.slug);
    view! {
        <article class="service-card" data-service=service.slug.clone()>
            <h2><a href=href>{service.slug.clone()}</a><span class="muted small">" " {service.title}</span></h2>
            <p>{service.role}</p>
        </article>
    }
}

#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let service = crate::data::resource(slug, get_service);
    // Created here, once per page, not inside the Suspense below: a resource created in a
    // Suspense's children is created again each time they render, and on the server each copy
    // was written into the page (the instances and history went out three times).
    let live = use_live_fleet();
    let instances = crate::data::resource(
        move || (slug(), live.version.get()),
        |(slug, _)| load_service_instances(slug),
    );
    // The restart dialog and the recent actions are drawn outside the Suspense too (see above).
    let recent = super::actions::recent_actions_resource(String::new, String::new, slug);
    let sentinel = super::actions::sentinel_target_resource();
    let dialog = super::actions::provide_dialog_slot();
    // `?restart=ENV/HOST/GROUP` (the link of an alarm) opens that instance's dialog at once.
    let query = leptos_router::hooks::use_query_map();
    let may_act = crate::components::my_role().is_some_and(|r| r.allows(vocab::Role::Responder));
    if let Some(asked) = query.read_untracked().get("restart").filter(|_| may_act) {
        let mut parts = asked.splitn(3, '/').map(str::to_owned);
        if let (Some(environment), Some(host), Some(service_group)) =
            (parts.next(), parts.next(), parts.next())
        {
            dialog.0.set(Some(super::actions::ActionTarget {
                kind: "restart_service",
                environment,
                host,
                service_group,
                paths: Vec::new(),
            }));
        }
    }
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="muted">"Loading service…"</p> }>
                {move || Suspend::new(async move {
                    match service.await {
                        Ok(Some(s)) => view! { <ServiceDetail service=s instances=instances/> }.into_any(),
                        Ok(None) => view! {
                            {super::answer_not_found()}
                            <Title text="Unknown service"/>
                            <h1>"Unknown service"</h1>
                            <p>"Onwatch knows no service by that name. "<a href="/services">"See all services"</a>"."</p>
                        }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
            <super::actions::RestartDialogSlot dialog/>
            {move || {
                let slug = slug();
                let known = vocab::SERVICE_ORDER.iter().any(|p| vocab::slug_of(p) == slug);
                known.then(|| view! {
                    {(slug == "sentinel").then(|| view! { <super::actions::SentinelControl target=sentinel/> })}
                    <section class="recent-actions" data-testid="recent-actions">
                        <h2>"Recent actions"</h2>
                        <super::actions::RecentActions list=recent/>
                    </section>
                })
            }}
        </section>
    }
}

#[component]
fn ServiceDetail(service: ServiceSynopsis, instances: Instances) -> impl IntoView {
    let cautions = service.cautions.clone();
    view! {
        <Title text=service.slug.clone()/>
        <p class="crumbs"><a href="/services">"Services"</a>" / "{service.slug.clone()}</p>
        <h1>{service.slug.clone()}<span class="muted">" · " {service.title.clone()}</span></h1>
        <p class="lede">{with_code(&service.role)}</p>
        <dl class="facts">
            <dt>"Package"</dt><dd><code>{service.package.clone()}</code></dd>
            <dt>"Runs as"</dt><dd>{service.runner.clone()}</dd>
        </dl>
        <h2>"Symptoms and remedy"</h2>
        <table class="symptoms">
            <thead><tr><th>"If you see"</th><th>"Do this"</th></tr></thead>
            <tbody>
                {service
                    .symptoms
                    .into_iter()
                    .map(|(seen, remedy)| view! { <tr><td>{with_code(&seen)}</td><td>{with_code(&remedy)}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
        {(!cautions.is_empty()).then(|| view! {
            <h2>"Before you restart it"</h2>
            <ul class="cautions">{cautions.into_iter().map(|c| view! { <li>{with_code(&c)}</li> }).collect_view()}</ul>
        })}
        // The sentinel runs as a systemd unit outside the Supervisors' inventory: its section
        // below says where, and how it is restarted; "no host runs it" would be untrue.
        {(service.slug != "sentinel").then(|| view! { <ServiceLive data=instances package=service.package.clone()/> })}
        {(service.slug != "sentinel").then(|| view! { <DeployFix package=service.package.clone()/> })}
        {(service.package == DATASTORE_PACKAGE).then(|| view! { <super::locks::LockFilesPanel/> })}
    }
}

/// The datastore's package: its page offers the stale-lock-file cleanup.
const DATASTORE_PACKAGE: &str = "builder-datastore";

/// The runbook's "Deploying code": once the fix is merged, request a new build; each
/// environment's Supervisors then update themselves. A guarded, audited action per environment,
/// acceptance first.
#[component]
fn DeployFix(package: String) -> impl IntoView {
    let mut environments = use_context::<crate::components::Shell>()
        .and_then(|s| s.0.ok())
        .map(|d| d.environments)
        .unwrap_or_default();
    environments.sort_by_key(|e| e.production);
    view! {
        <section class="deploy-fix" data-testid="deploy-fix">
            <h2>"Deploy a fix"</h2>
            <p class="muted small">"Once the fix is merged to master, request a new build of " <code>{package.clone()}</code>
                " (as a member of the origin); Onwatch follows the job group and watches the Supervisors update. Acceptance first."</p>
            <p class="deploy-buttons">
                {environments.into_iter().map(|e| view! {
                    <super::actions::RestartControl environment=e.name.clone() host="depot".to_owned()
                        service_group=package.clone() kind="request_build"
                        label=format!("Request a build in {}…", e.name)/>
                    " "
                }).collect_view()}
            </p>
        </section>
    }
}

/// The service page's live part, as a resource (see [`ServicePage`]).
type Instances =
    Resource<Result<crate::fleet::ServiceInstances, ServerFnError>, crate::data::SliceJson>;

/// Where the service runs now, its health hook's output, and its recent history.
#[component]
fn ServiceLive(data: Instances, package: String) -> impl IntoView {
    view! {
        <h2>"Instances now"</h2>
        <Transition fallback=|| view! { <p class="muted">"Loading instances…"</p> }>
            {move || {
                let package = package.clone();
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                        Ok(d) if d.instances.is_empty() => view! {
                            <p class="muted" data-testid="no-instances">"No host in the inventory runs " <code>{package.clone()}</code> " right now."</p>
                        }.into_any(),
                        Ok(d) => {
                            let now = d.now_ms;
                            view! {
                                // The host page's stacked rows at phone width (`services-table`):
                                // each instance's Restart… button stays on screen.
                                <table class="instances services-table" data-testid="instances">
                                    <thead><tr><th>"Environment"</th><th>"Host"</th><th>"State"</th><th>"Release"</th><th>"Health hook output"</th><th>"Act"</th></tr></thead>
                                    <tbody>
                                        {d.instances.into_iter().map(|(env, production, host, s)| {
                                            let badge = crate::api::EnvironmentSummary { name: env.clone(), production, description: String::new() };
                                            let out = [s.health_stdout.clone(), s.health_stderr.clone()].into_iter().flatten().filter(|o| !o.trim().is_empty()).collect::<Vec<_>>().join("\n");
                                            view! {
                                                <tr data-host=host.clone()>
                                                    <td class="svc-env"><crate::components::EnvBadge env=badge/></td>
                                                    <td class="svc-host"><a href=host_href(&env, &host)>{host.clone()}</a></td>
                                                    <td class="svc-state"><StateCell state=s.cell/><div class="muted small">{fmt::since(now, s.since_ms)}</div></td>
                                                    <td class="mono small svc-ident" data-label="Release">{s.release.clone()}</td>
                                                    <td class="svc-hook">{if out.is_empty() { view! { <span class="muted">"—"</span> }.into_any() } else { view! { <pre class="hook-output">{out}</pre> }.into_any() }}</td>
                                                    <td class="svc-act">
                                                        <super::actions::RestartControl environment=env.clone() host=host.clone() service_group=format!("{}.{}", s.service, s.group)/>
                                                        " "<a class="small" data-testid="service-log" href=format!("{}?service={}#log", host_href(&env, &host), s.service)>"Log"</a>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <h2>"Recent history"</h2>
                                <History history=d.history gaps=d.gaps now_ms=now/>
                            }.into_any()
                        }
                    }
                })
            }}
        </Transition>

    }
}

/// One row of a service's history: a change seen, or a stretch when no Onwatch was watching.
enum Entry {
    Change(String, crate::fleet::TransitionView),
    Gap(crate::fleet::GapView),
}

impl Entry {
    fn at_ms(&self) -> i64 {
        match self {
            Entry::Change(_, t) => t.at_ms,
            Entry::Gap(g) => g.to_ms,
        }
    }
}

/// The newest changes with the gaps among them, newest first. A change found by the first poll
/// after a gap happened at some moment during it, which its row says.
#[component]
fn History(
    history: Vec<(String, crate::fleet::TransitionView)>,
    gaps: Vec<crate::fleet::GapView>,
    now_ms: i64,
) -> impl IntoView {
    if history.is_empty() && gaps.is_empty() {
        return view! { <p class="muted">"No state changes recorded yet."</p> }.into_any();
    }
    // A strip of the last changes, oldest left: one block per change, coloured and titled by state.
    let strip: Vec<_> = history.iter().rev().cloned().collect();
    let after_gap = |at: i64| {
        gaps.iter()
            .find(|g| at >= g.to_ms && at - g.to_ms < 60_000)
            .copied()
    };
    let mut rows: Vec<Entry> = history
        .into_iter()
        .take(crate::fleet::HISTORY_SHOWN / 2)
        .map(|(env, t)| Entry::Change(env, t))
        .collect();
    // Only the gaps among the rows shown (or newer): an older one explains nothing on the page.
    let oldest = rows.last().map(Entry::at_ms).unwrap_or(i64::MIN);
    rows.extend(
        gaps.iter()
            .filter(|g| g.to_ms >= oldest)
            .copied()
            .map(Entry::Gap),
    );
    rows.sort_by_key(|e| std::cmp::Reverse(e.at_ms()));
    view! {
        <div class="history-strip" role="img" aria-label="recent state changes, oldest first">
            {strip.into_iter().map(|(env, t)| {
                let title = format!("{} {} → {} {}", t.host, t.from_state.clone().unwrap_or_else(|| "—".into()), t.to_state, fmt::clock(t.at_ms));
                view! { <span class=format!("hblock state-{}", t.to_state) title=title data-env=env>{t.to_state.parse().map(icon).unwrap_or("·")}</span> }
            }).collect_view()}
        </div>
        <table class="history" data-testid="history">
            <thead><tr><th>"When"</th><th>"Where"</th><th>"Change"</th><th>"Why"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|e| match e {
                    Entry::Change(env, t) => {
                        let found = t.from_state.is_some().then(|| after_gap(t.at_ms)).flatten();
                        view! {
                            <tr data-kind="change">
                                <td class="small">{fmt::clock(t.at_ms)} " (" {fmt::age(now_ms - t.at_ms)} " ago)"</td>
                                <td>{env} " / " {t.host}</td>
                                <td>{t.from_state.unwrap_or_else(|| "—".into())} " → " <strong>{t.to_state}</strong></td>
                                <td class="small">{t.detail}{found.map(|g| view! {
                                    <div class="muted">"Found so when Onwatch started watching again: it changed at some moment since " {fmt::clock(g.from_ms)} "."</div>
                                })}</td>
                            </tr>
                        }.into_any()
                    }
                    Entry::Gap(g) => view! {
                        <tr class="gap" data-kind="gap">
                            <td class="small">{fmt::clock(g.from_ms)} " – " {fmt::clock(g.to_ms)}</td>
                            <td colspan="3">
                                <strong>"Onwatch was not watching"</strong>
                                " for " {fmt::age(g.to_ms - g.from_ms)} ": changes in this time were not seen. "
                                <span class="muted small">{if g.clean {
                                    "It was shut down cleanly."
                                } else {
                                    "It stopped without a clean shutdown; it may have watched up to 15 s past the start shown."
                                }}</span>
                            </td>
                        </tr>
                    }.into_any(),
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Runbook text with its `code` spans drawn as code (the catalog writes commands between
/// backticks), the rest as plain text.
fn with_code(text: &str) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                view! { <code>{part.to_owned()}</code> }.into_any()
            } else {
                part.to_owned().into_any()
            }
        })
        .collect_view()
}

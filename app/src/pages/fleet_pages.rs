//! Environment, host, release-comparison and "What's broken?" pages.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::fleet_common::*;
use super::LoadError;
use crate::fleet::{load_fleet, service_rank, slug_of, FleetView, HostView, ProbeView};
use crate::fmt;
use crate::live::use_live_fleet;

/// A page that needs the fleet: fetches it, refetches on every live update.
fn with_fleet<V: IntoView + 'static>(
    render: impl Fn(FleetView) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView {
    let live = use_live_fleet();
    let fleet = crate::data::resource(move || live.version.get(), |_| load_fleet());
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the fleet…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match fleet.await {
                        Ok(f) => render(f).into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
pub fn EnvironmentPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("env").unwrap_or_default();
    let zone = crate::fmt::zone();
    view! {
        <section class="page">
            {move || {
                let name = name();
                let zone = zone.clone();
                with_fleet(move |f: FleetView| {
                    let now = f.now_ms;
                    match f.environments.iter().find(|e| e.name == name).cloned() {
                        None => view! {
                            {super::answer_not_found()}
                            <Title text="Unknown environment"/>
                            <h1>"Unknown environment"</h1>
                            <p>"No environment is called " <code>{name.clone()}</code> ". "<a href="/environments">"See all environments"</a></p>
                        }.into_any(),
                        Some(env) => {
                            let probes: Vec<ProbeView> = f.probes.iter().filter(|p| p.environment == env.name).cloned().collect();
                            let grid = super::markup::environment(&f, &env, &zone);
                            let hosts = env.hosts.clone();
                            view! {
                                <Title text=env.name.clone()/>
                                <p class="crumbs"><a href="/environments">"Environments"</a>" / "{env.name.clone()}</p>
                                <h1>"Environment " {env.name.clone()}</h1>
                                <div class="env-body" inner_html=grid></div>
                                <h2>"Instances"</h2>
                                <div class="grid-wrap">
                                <table class="instances">
                                    <thead><tr><th>"Host"</th><th>"State"</th><th>"Instance"</th><th>"EC2 state"</th><th>"Private IP"</th><th>"Public IP"</th><th>"Launched"</th><th>"Supervisor"</th></tr></thead>
                                    <tbody>
                                        {hosts.into_iter().map(|h| view! {
                                            <tr>
                                                <td><a href=host_href(&h.environment, &h.name)>{h.name.clone()}</a></td>
                                                <td><StateCell state=h.cell/></td>
                                                <td class="mono">{h.instance_id.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td>{h.instance_state.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td class="mono">{h.private_ip.clone().unwrap_or_else(|| h.address.clone())}</td>
                                                <td class="mono">{h.public_ip.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td class="small">{h.launch_time.clone().unwrap_or_else(|| "—".into())}</td>
                                                <td class="mono small">{h.sup_version.clone().unwrap_or_else(|| "—".into())}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                </div>
                                <Probes probes=probes now_ms=now/>
                            }.into_any()
                        }
                    }
                })
            }}
        </section>
    }
}

#[component]
fn Probes(probes: Vec<ProbeView>, now_ms: i64) -> impl IntoView {
    view! {
        <h2>"Endpoint probes"</h2>
        {if probes.is_empty() {
            view! { <p class="muted">"No probes for this environment. Set environments.NAME.builder_api_url to probe /v1/depot/origins/core."</p> }.into_any()
        } else {
            view! {
                <table class="probes">
                    <thead><tr><th>"Probe"</th><th>"State"</th><th>"Last"</th><th>"Latency"</th><th>"Recent"</th></tr></thead>
                    <tbody>
                        {probes.into_iter().map(|p| {
                            let state = match p.last_ok { Some(true) => vocab::CellState::Healthy, Some(false) => vocab::CellState::Critical, None => vocab::CellState::Unknown };
                            let last = match (p.last_status, &p.last_error) {
                                (_, Some(e)) => e.clone(),
                                (Some(s), None) => format!("HTTP {s}"),
                                _ => "not run yet".into(),
                            };
                            let since = p.failing_since_ms.map(|s| fmt::since(now_ms, s)).unwrap_or_default();
                            view! {
                                <tr data-probe=p.name.clone()>
                                    <td><code>"GET " {p.url.clone()}</code></td>
                                    <td><StateCell state=state/>" "<span class="muted small">{since}</span></td>
                                    <td>{last}</td>
                                    <td>{p.last_latency_ms.map(|l| format!("{l} ms")).unwrap_or_default()}</td>
                                    <td><Spark points=p.history.iter().map(|(_, ok, ms)| (*ok, *ms)).collect()/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// A small bar chart: one bar per result, height by latency, red when failed.
#[component]
fn Spark(points: Vec<(bool, u64)>) -> impl IntoView {
    // Whole pixels: integer attributes keep float formatting out of the browser bundle.
    let max = points.iter().map(|(_, ms)| *ms).max().unwrap_or(1).max(1);
    let w: u64 = 4;
    let width = (points.len() as u64 * w).max(4);
    view! {
        <svg class="spark" width=width height="20" role="img" aria-label="recent results">
            {points.into_iter().enumerate().map(|(i, (ok, ms))| {
                let h = if ok { (ms * 18 / max).max(2) } else { 20 };
                view! { <rect x=i as u64 * w y=20 - h width=w - 1 height=h class=if ok { "bar-ok" } else { "bar-fail" }/> }
            }).collect_view()}
        </svg>
    }
}

#[component]
pub fn HostPage() -> impl IntoView {
    let params = use_params_map();
    let live = use_live_fleet();
    let key = move || {
        let p = params.read();
        (
            p.get("env").unwrap_or_default(),
            p.get("host").unwrap_or_default(),
        )
    };
    let data = crate::data::resource(
        move || (key(), live.version.get()),
        |((env, host), _)| crate::fleet::load_host(env, host),
    );
    let slot = super::actions::provide_dialog_slot();
    // `?service=builder-api` (a service page's "Log" link): only that service's lines.
    let query = leptos_router::hooks::use_query_map();
    let log_service = query
        .read_untracked()
        .get("service")
        .filter(|s| !s.is_empty());
    let (log_env, log_host) = key();
    let recent =
        super::actions::recent_actions_resource(move || key().0, move || key().1, String::new);
    view! {
        <section class="page">
            <Transition fallback=|| view! { <p class="muted">"Loading the host…"</p> }>
                {move || Suspend::new(async move {
                    let (env, host) = key();
                    match data.await {
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                        Ok(None) => view! {
                            {super::answer_not_found()}
                            <Title text="Unknown host"/>
                            <h1>"Unknown host"</h1>
                            <p>"No host " <code>{host.clone()}</code> " in environment " <code>{env.clone()}</code>
                               ". It may have left the inventory. "<a href=env_href(&env)>"See the environment"</a></p>
                        }.into_any(),
                        Ok(Some((production, h, now))) => view! { <HostDetail host=h production=production now_ms=now/> }.into_any(),
                    }
                })}
            </Transition>
            <super::actions::RestartDialogSlot dialog=slot/>
            <section class="recent-actions" data-testid="recent-actions">
                <h2>"Recent actions"</h2>
                <super::actions::RecentActions list=recent/>
            </section>
            <super::logs::LogPanel environment=log_env host=log_host source="supervisor" service=log_service/>
        </section>
    }
}

#[component]
fn HostDetail(host: HostView, production: bool, now_ms: i64) -> impl IntoView {
    let h = host;
    let badge = crate::api::EnvironmentSummary {
        name: h.environment.clone(),
        production,
        description: String::new(),
    };
    let seen = h
        .last_seen_ms
        .map(|t| format!("{} ago", fmt::age(now_ms - t)))
        .unwrap_or_else(|| "never".into());
    let census = h.census.clone();
    view! {
        <Title text=h.name.clone()/>
        <p class="crumbs"><a href="/environments">"Environments"</a>" / "<a href=env_href(&h.environment)>{h.environment.clone()}</a>" / "{h.name.clone()}</p>
        <h1><crate::components::EnvBadge env=badge/>" " {h.name.clone()}" "<StateCell state=h.cell/></h1>
        {h.last_error.clone().map(|e| view! {
            <div class="callout callout-error" role="alert">
                <strong>"Supervisor unreachable " {fmt::since(now_ms, h.since_ms)} ": "</strong>{e}
                <p class="muted">"The services below are as last seen, shown as unreachable. Check the instance and the hab-sup unit (journalctl -fu hab-sup)."</p>
            </div>
        })}
        <dl class="facts">
            <dt>"Reachability"</dt><dd>{h.reachability.clone()}</dd>
            <dt>"Last poll"</dt><dd>{seen}</dd>
            <dt>"Gateway"</dt><dd class="mono">{format!("{}:{}", h.address, h.gateway_port)}</dd>
            <dt>"Supervisor"</dt><dd class="mono">{h.sup_version.clone().unwrap_or_else(|| "unknown".into())}</dd>
            <dt>"Member id"</dt><dd class="mono small">{h.member_id.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Instance"</dt><dd class="mono">{h.instance_id.clone().unwrap_or_else(|| "—".into())} " " {h.instance_state.clone().unwrap_or_default()}</dd>
            <dt>"IPs"</dt><dd class="mono">{h.private_ip.clone().unwrap_or_default()} " " {h.public_ip.clone().unwrap_or_default()}</dd>
            <dt>"Launched"</dt><dd>{h.launch_time.clone().unwrap_or_else(|| "—".into())}</dd>
            <dt>"Tags"</dt><dd class="small">{h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" · ")}</dd>
        </dl>
        <h2>"Services"</h2>
        <p class="supervisor-restart">
            <super::actions::RestartControl environment=h.environment.clone() host=h.name.clone()
                kind="restart_supervisor" label="Restart the Supervisor…"/>
            <span class="muted small">" Every service on this host goes down with it (" <code>"systemctl restart hab-sup"</code> ")."</span>
        </p>
        <table class="services-table">
            <thead><tr><th>"Service"</th><th>"State"</th><th>"Package"</th><th>"Process"</th><th>"Desired"</th><th>"PID"</th><th>"Up or down for"</th><th>"Update"</th><th>"Act"</th></tr></thead>
            <tbody>
                {h.services.into_iter().map(|s| {
                    // How long the process has been in its state: up for, or down for — never an
                    // "uptime" of a process that is down.
                    let uptime = s.state_entered_s.map(|t| {
                        let age = fmt::age(now_ms - t * 1000);
                        match s.process {
                            Some(vocab::ProcessState::Down) => format!("down for {age}"),
                            _ => format!("up for {age}"),
                        }
                    }).unwrap_or_default();
                    let output = s.health_stdout.clone().filter(|o| !o.trim().is_empty()).or(s.health_stderr.clone().filter(|o| !o.trim().is_empty()));
                    view! {
                        <tr data-service=s.service.clone()>
                            <td class="svc-name"><a href=service_href(&s.service)>{s.service.clone()}"."{s.group.clone()}</a></td>
                            <td class="svc-state"><StateCell state=s.cell/><div class="muted small">{fmt::since(now_ms, s.since_ms)}</div>
                                {output.map(|o| view! { <pre class="hook-output">{o}</pre> })}</td>
                            <td class="mono small svc-ident" data-label="Package">{s.ident.clone()}</td>
                            <td data-label="Process">{s.process.map(|p| p.as_str())}</td>
                            <td data-label="Desired">{match s.desired_up { Some(true) => "up", Some(false) => "down", None => "—" }}</td>
                            <td class="mono" data-label="PID">{s.pid.map(|p| p.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td data-testid="up-for">{uptime}</td>
                            <td class="small" data-label="Update">{s.update_strategy.clone().unwrap_or_default()} " " {s.channel.clone().unwrap_or_default()}</td>
                            <td class="svc-act"><super::actions::RestartControl environment=h.environment.clone() host=h.name.clone() service_group=format!("{}.{}", s.service, s.group)/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Census and gossip"</h2>
        {match census {
            None => view! { <p class="muted">"No census read yet (it is read every few polls)."</p> }.into_any(),
            Some(c) => view! {
                <p>{c.counts.iter().map(|(h, n)| format!("{n} {h}")).collect::<Vec<_>>().join(" · ")}
                   {(c.omitted > 0).then(|| format!(" — {} more members not listed", c.omitted))}</p>
                <table class="census">
                    <thead><tr><th>"Service group"</th><th>"Member"</th><th>"Gossip health"</th></tr></thead>
                    <tbody>{c.members.into_iter().map(|(g, m, health)| view! { <tr><td>{g}</td><td>{m}</td><td>{health}</td></tr> }).collect_view()}</tbody>
                </table>
            }.into_any(),
        }}
        <p class="muted small">"Supervisor log on the host: journalctl -fu hab-sup"</p>
    }
}

/// Package releases of each service in each environment, side by side.
#[component]
pub fn ReleasesPage() -> impl IntoView {
    view! {
        <Title text="Acceptance vs live"/>
        <section class="page">
            <h1>"Acceptance vs live"</h1>
            <p class="lede">"The package release each service runs, per environment. Marked: where acceptance runs a newer release than production, and where hosts of one environment disagree."</p>
            {with_fleet(|f: FleetView| {
                let envs: Vec<String> = f.environments.iter().map(|e| e.name.clone()).collect();
                let mut services: Vec<String> = f.environments.iter().flat_map(|e| e.services.clone()).collect();
                services.sort_by_cached_key(|s| service_rank(s));
                services.dedup();
                let prod: Vec<String> = f.environments.iter().filter(|e| e.production).map(|e| e.name.clone()).collect();
                let rows = services.into_iter().map(|svc| {
                    let per_env: Vec<(String, Vec<String>)> = f.environments.iter().map(|e| {
                        let mut rel: Vec<String> = e.hosts.iter().flat_map(|h| h.services.iter()).filter(|s| s.service == svc).map(|s| s.release.clone()).collect();
                        rel.sort();
                        rel.dedup();
                        (e.name.clone(), rel)
                    }).collect();
                    let prod_rel: Vec<String> = per_env.iter().filter(|(e, _)| prod.contains(e)).flat_map(|(_, r)| r.clone()).collect();
                    let cells = per_env.into_iter().map(|(env, rel)| {
                        let disagree = rel.len() > 1;
                        let ahead = !prod.contains(&env) && !prod_rel.is_empty() && rel.iter().any(|r| prod_rel.iter().all(|p| release_newer(r, p)));
                        let class = if disagree { "rel rel-disagree" } else if ahead { "rel rel-ahead" } else { "rel" };
                        let note = if disagree { " ⚠ hosts disagree" } else if ahead { " ▲ ahead of production" } else { "" };
                        view! {
                            <td class=class data-env=env>
                                {if rel.is_empty() { "—".to_string() } else { rel.join(", ") }}
                                <span class="rel-note">{note}</span>
                            </td>
                        }
                    }).collect_view();
                    view! { <tr data-service=svc.clone()><th scope="row"><a href=service_href(&svc)>{slug_of(&svc)}</a></th>{cells}</tr> }
                }).collect_view();
                view! {
                    <table class="releases">
                        <thead><tr><th>"Service"</th>{envs.into_iter().map(|e| view! { <th>{e}</th> }).collect_view()}</tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }
            })}
        </section>
    }
}

/// Builder releases are `version/timestamp`; compare numerically where possible.
fn release_newer(a: &str, b: &str) -> bool {
    let key = |s: &str| -> Vec<u64> {
        s.split(['/', '.', '-'])
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    key(a) > key(b)
}

/// "What's broken?": pick what you see, get the service to look at.
#[component]
pub fn BrokenPage() -> impl IntoView {
    let services = crate::data::resource(|| (), |_| crate::api::list_services());
    view! {
        <Title text="What's broken?"/>
        <section class="page">
            <h1>"What's broken?"</h1>
            <p class="lede">"Pick what you see. Each answer leads to the service to check, with its live health and the remedy."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(list) => view! {
                            <ul class="symptom-picker">
                                {list.into_iter().flat_map(|s| {
                                    let slug = s.slug.clone();
                                    s.symptoms.into_iter().map(move |(seen, remedy)| {
                                        let href = format!("/services/{slug}");
                                        view! {
                                            <li>
                                                <a class="symptom" href=href data-service=slug.clone()>
                                                    <span class="symptom-seen">{seen}</span>
                                                    <span class="symptom-go">"→ " {slug.clone()} ": " {remedy}</span>
                                                </a>
                                            </li>
                                        }
                                    }).collect::<Vec<_>>()
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn releases_compare_numerically() {
        assert!(super::release_newer(
            "7611/20180912181703",
            "7602/20180906202535"
        ));
        assert!(!super::release_newer(
            "7602/20180906202535",
            "7602/20180906202535"
        ));
        assert!(super::release_newer("10/1", "9/9"));
    }
}

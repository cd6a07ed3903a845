//! The incidents pages: the list with the declaration form (filled in from a dashboard alarm),
//! and one incident's page — who is in charge, the public updates with a preview of exactly
//! what the public reads, internal notes, rules broken, whom to call, and the timeline.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::incidents::*;
use crate::oncall::settle;

fn flash(message: RwSignal<Option<Done>>) -> impl IntoView {
    move || {
        message.get().map(|d| {
            view! {
                <p class=if d.ok { "flash ok" } else { "flash error-text" } role=if d.ok { "status" } else { "alert" } data-testid="incident-message">{d.message}</p>
            }
        })
    }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let board = Resource::new(move || version.get(), |_| load_incidents());
    let message = RwSignal::new(None::<Done>);
    view! {
        <Title text="Incidents"/>
        <section class="page incidents">
            <h1>"Incidents"</h1>
            <p class="lede">"Declare the operational issue, say who is in charge, keep the status page current — friendly, professional, and only when something material changed — escalate early, and clean up any rule you broke."</p>
            {flash(message)}
            <Transition fallback=|| view! { <p class="muted">"Loading incidents…"</p> }>
                {move || board.get().map(|b| match b {
                    Err(e) => view! { <p class="error-text" role="alert">"Incidents cannot be read: " {e.to_string()}</p> }.into_any(),
                    Ok(b) => view! { <Board b version message/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn incident_list(rows: Vec<IncidentRow>, testid: &'static str) -> impl IntoView {
    view! {
        <ul class="incident-list" data-testid=testid>
            {rows.into_iter().map(|r| view! {
                <li data-id=r.id.clone()>
                    <a href=format!("/incidents/{}", r.id)><strong>{r.title.clone()}</strong></a>
                    " " <span class=format!("pill {}", r.status)>{r.status.clone()}</span>
                    " " <span class=format!("pill impact-{}", r.impact)>{format!("impact {}", r.impact)}</span>
                    <span class="muted small">{format!(" · {} · declared {}", r.services.join(", "), r.declared)}</span>
                    {if r.resolved.is_some() {
                        view! { <span class="muted small">{format!(" · resolved {}", r.resolved.clone().unwrap_or_default())}</span> }.into_any()
                    } else if r.owner.is_empty() {
                        view! { <strong class="nobody">" · nobody in charge"</strong> }.into_any()
                    } else {
                        view! { <span class="small">{format!(" · {} in charge", r.owner)}</span> }.into_any()
                    }}
                </li>
            }).collect_view()}
        </ul>
    }
}

#[component]
fn Board(
    b: IncidentsBoard,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    view! {
        {(!b.publishes).then(|| view! {
            <p class="callout" data-testid="no-statuspage">"No status page is configured: incidents and their updates live in Onwatch alone. Post them on statuspage.io by hand, or configure [incidents.statuspage]."</p>
        })}
        <section class="card">
            <h2>"Open"</h2>
            {if b.open.is_empty() {
                view! { <p class="muted">"No open incident."</p> }.into_any()
            } else {
                incident_list(b.open.clone(), "open-incidents").into_any()
            }}
        </section>
        {b.may_declare.then(|| view! { <DeclareForm services=b.services.clone() version message/> })}
        {(!b.my_cleanups.is_empty()).then(|| view! {
            <section class="card attention" data-testid="my-cleanups">
                <h2>"Your open cleanups"</h2>
                <Rules rules=b.my_cleanups.clone() incident=String::new() may_act=b.may_declare version message/>
            </section>
        })}
        <section class="card">
            <h2>"Resolved"</h2>
            {if b.recent.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                incident_list(b.recent.clone(), "resolved-incidents").into_any()
            }}
        </section>
        <Directory contacts=b.contacts.clone() admin=b.is_admin version message/>
    }
}

#[component]
fn DeclareForm(
    services: Vec<(String, String)>,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let query = use_query_map();
    let q = |k: &str| query.with_untracked(|m| m.get(k).unwrap_or_default());
    let prefilled: Vec<String> = q("services")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let open = q("declare") == "1";
    let title = RwSignal::new(q("title"));
    let impact = RwSignal::new("major".to_owned());
    let chosen = RwSignal::new(prefilled);
    let body = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<Result<PreviewView, String>>);
    // The template fills the message whenever the services change, until the person edits it.
    let edited = RwSignal::new(false);
    Effect::new(move |_| {
        let svcs = chosen.get().join(",");
        if edited.get_untracked() {
            return;
        }
        leptos::task::spawn_local(async move {
            if let Ok(t) = incident_template("investigating".into(), svcs).await {
                if !edited.get_untracked() {
                    body.set(t);
                }
            }
        });
    });
    let show_preview = move || {
        let (t, i, s, b) = (
            title.get_untracked(),
            impact.get_untracked(),
            chosen.get_untracked().join(","),
            body.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            let p = incident_preview(
                String::new(),
                t,
                i,
                s,
                "investigating".into(),
                b,
                String::new(),
            )
            .await;
            preview.set(Some(p.map_err(|e| e.to_string())));
        });
    };
    let publish = move || {
        let (t, i, s, b) = (
            title.get_untracked(),
            impact.get_untracked(),
            chosen.get_untracked().join(","),
            body.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            match declare_incident(t, i, s, b).await {
                Ok(d) if d.ok => {
                    let _ = window()
                        .location()
                        .set_href(&format!("/incidents/{}", d.message));
                }
                other => settle(version, message, other),
            }
        });
    };
    view! {
        <details class="card" open=open data-testid="declare">
            <summary><h2 class="inline">"Declare an incident"</h2></summary>
            <form class="stack-form" on:submit=move |ev| { ev.prevent_default(); show_preview(); }>
                <label for="inc-title">"Title (public)"</label>
                <input id="inc-title" type="text" data-testid="declare-title" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/>
                <label for="inc-impact">"Impact"</label>
                <select id="inc-impact" data-testid="declare-impact" prop:value=move || impact.get() on:change=move |ev| impact.set(event_target_value(&ev))>
                    <option value="none">"none"</option>
                    <option value="minor">"minor"</option>
                    <option value="major">"major"</option>
                    <option value="critical">"critical"</option>
                </select>
                <fieldset class="services-pick" data-testid="declare-services">
                    <legend>"Affected services (their status-page components)"</legend>
                    {services.into_iter().map(|(slug, name)| {
                        let s1 = slug.clone();
                        let s2 = slug.clone();
                        view! {
                            <label class="check">
                                <input type="checkbox" value=slug.clone()
                                    prop:checked=move || chosen.with(|c| c.contains(&s1))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let s = s2.clone();
                                        chosen.update(|c| { c.retain(|x| x != &s); if on { c.push(s); } });
                                    }/>
                                {format!(" {slug} — {name}")}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <label for="inc-body">"First public message"</label>
                <textarea id="inc-body" rows="4" data-testid="declare-body" prop:value=move || body.get()
                    on:input=move |ev| { edited.set(true); body.set(event_target_value(&ev)); }></textarea>
                <button type="submit" class="button">"Preview what the public will read"</button>
            </form>
            <PreviewBox preview on_publish=Callback::new(move |_| publish()) label="Declare and publish"/>
        </details>
    }
}

/// The preview, and the button that sends exactly it.
#[component]
fn PreviewBox(
    preview: RwSignal<Option<Result<PreviewView, String>>>,
    on_publish: Callback<()>,
    label: &'static str,
) -> impl IntoView {
    move || {
        preview.get().map(|p| match p {
            Err(e) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
            Ok(p) => view! {
                <div class="preview" data-testid="public-preview">
                    <p class="muted small">{format!("Exactly what the public will read, on {}:", p.destination)}</p>
                    <div class="public">
                        <h3 data-testid="preview-title">{p.title.clone()}</h3>
                        <p><strong data-testid="preview-status">{p.status.clone()}</strong>" — "<span data-testid="preview-body">{p.body.clone()}</span></p>
                        <ul class="plain small" data-testid="preview-components">
                            {p.components.iter().map(|(n, s)| view! { <li>{format!("{n}: {s}")}</li> }).collect_view()}
                        </ul>
                    </div>
                    <button type="button" class="button button-primary" data-testid="publish" on:click=move |_| on_publish.run(())>{label}</button>
                </div>
            }.into_any(),
        })
    }
}

#[component]
pub fn IncidentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let version = RwSignal::new(0u32);
    let data = Resource::new(move || (id(), version.get()), |(id, _)| load_incident(id));
    let message = RwSignal::new(None::<Done>);
    view! {
        <Title text="Incident"/>
        <section class="page incident">
            <p class="crumbs"><a href="/incidents">"Incidents"</a></p>
            {flash(message)}
            <Transition fallback=|| view! { <p class="muted">"Loading the incident…"</p> }>
                {move || data.get().map(|d| match d {
                    Err(e) => view! { <p class="error-text" role="alert">"The incident cannot be read: " {e.to_string()}</p> }.into_any(),
                    Ok(None) => {
                        super::answer_not_found();
                        view! { <h1>"No such incident"</h1><p><a href="/incidents">"All incidents"</a></p> }.into_any()
                    }
                    Ok(Some(v)) => view! { <Incident v version message/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Incident(
    v: IncidentView,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let id = v.row.id.clone();
    let resolved = v.row.resolved.is_some();
    let act = v.may_act && !resolved;
    let owner_line = if resolved {
        view! { <p class="small">{format!("Resolved {}", v.row.resolved.clone().unwrap_or_default())}</p> }.into_any()
    } else if v.row.owner.is_empty() {
        view! { <p class="nobody-banner" role="alert" data-testid="incident-owner">"Nobody is in charge."</p> }.into_any()
    } else {
        view! { <p class="owner-line" data-testid="incident-owner">{format!("{} is in charge since {}", v.row.owner, v.owner_since)}</p> }.into_any()
    };
    let md = format!("/api/incidents/{}/timeline.md", v.row.id);
    view! {
        <h1>{v.row.title.clone()}</h1>
        <p>
            <span class=format!("pill {}", v.row.status) data-testid="incident-status">{v.row.status.clone()}</span>
            " " <span class=format!("pill impact-{}", v.row.impact)>{format!("impact {}", v.row.impact)}</span>
            <span class="muted small">{format!(" · {} · declared {}", v.row.services.join(", "), v.row.declared)}</span>
        </p>
        {owner_line}
        {act.then(|| view! { <Ownership id=id.clone() mine=v.in_charge version message/> })}
        {(!v.publishes).then(|| view! { <p class="muted small">"No status page is configured: these updates live in Onwatch alone."</p> })}
        {v.reminder.clone().map(|r| view! { <p class="callout callout-warn" data-testid="update-reminder">{r}</p> })}
        <section class="card">
            <h2>"Public updates"</h2>
            <ol class="updates" data-testid="public-updates">
                {v.updates.iter().rev().map(|u| view! {
                    <li data-seq=u.seq>
                        <strong>{u.status.clone()}</strong>" — " {u.body.clone()}
                        <span class="muted small">{format!(" · {} by {}", u.at, u.author)}</span>
                        " " <span class=format!("pill publish-{}", u.publish_state) data-testid="publish-state">{match u.publish_state.as_str() {
                            "published" => "public".to_owned(),
                            "queued" => "not yet public".to_owned(),
                            "refused" => "refused by Statuspage".to_owned(),
                            _ => "in Onwatch only".to_owned(),
                        }}</span>
                        {(!u.last_error.is_empty()).then(|| view! { <span class="error-text small">{format!(" {}", u.last_error)}</span> })}
                    </li>
                }).collect_view()}
            </ol>
            {act.then(|| view! { <UpdateForm v=v.clone() version message/> })}
        </section>
        {v.may_act.then(|| view! { <NoteForm id=id.clone() version message/> })}
        <section class="card">
            <h2>"Rules broken"</h2>
            <p class="muted small">"The runbook: say which rule you broke and how, so that proper cleanup can occur; you are responsible for it."</p>
            <Rules rules=v.rules.clone() incident=id.clone() may_act=v.may_act version message/>
        </section>
        <section class="card" data-testid="escalation">
            <h2>"Call someone more senior"</h2>
            <p class="muted small">"Escalate early: phone people, whatever the time. Who knows these services first, then who is awake, then seniority."</p>
            <Contacts contacts=v.call.clone()/>
        </section>
        <section class="card">
            <h2>"Timeline " <a class="small" href=md data-testid="timeline-markdown" download="">"Markdown"</a></h2>
            <ol class="timeline" data-testid="timeline">
                {v.timeline.iter().map(|e| view! {
                    <li class=format!("entry entry-{}", e.kind) data-kind=e.kind.clone()>
                        <span class="muted small mono">{e.at.clone()}</span>
                        " " <span class=format!("pill kind-{}", e.kind)>{match e.kind.as_str() {
                            "public" => "public update", "note" => "internal note", "owner" => "ownership",
                            "alarm" => "alarm", _ => "action" }}</span>
                        " " {if e.kind == "action" {
                            view! { <a href=format!("/actions/{}", e.reference)>{e.text.clone()}</a> }.into_any()
                        } else {
                            view! { <span>{e.text.clone()}</span> }.into_any()
                        }}
                        <span class="muted small">{format!(" — {}", e.who)}</span>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn Ownership(
    id: String,
    /// The signed-in account is in charge (judged on the server by account, not login).
    mine: bool,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let go = move |action: &'static str, id: String| {
        let t = to.get_untracked();
        leptos::task::spawn_local(async move {
            settle(version, message, incident_owner(id, action.into(), t).await)
        });
    };
    let (a, b, c) = (id.clone(), id.clone(), id);
    view! {
        <div class="button-row" data-testid="ownership">
            {(!mine).then(|| view! { <button type="button" class="button" on:click=move |_| go("take", a.clone())>"I'm taking charge"</button> })}
            {mine.then(|| view! { <button type="button" class="button secondary" on:click=move |_| go("step_away", b.clone())>"I'm stepping away"</button> })}
            <form class="inline-form" on:submit=move |ev| { ev.prevent_default(); go("hand", c.clone()); }>
                <input type="text" aria-label="Hand charge to (login)" placeholder="hand charge to (login)" data-testid="hand-to" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev))/>
                <button type="submit" class="button secondary">"Hand over"</button>
            </form>
        </div>
    }
}

#[component]
fn UpdateForm(
    v: IncidentView,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let id = v.row.id.clone();
    let next = v.next.clone();
    // The next status is the usual update; the current one stays available for a new message.
    let first = next.get(1).or(next.first()).cloned().unwrap_or_default();
    let status = RwSignal::new(first.0.clone());
    let body = RwSignal::new(first.1.clone());
    // Each component at its status now; a resolve puts every one back to operational (the
    // person may still choose otherwise before publishing).
    let suggested = |status: &str, now: &str| {
        if status == "resolved" {
            "operational".to_owned()
        } else {
            now.to_owned()
        }
    };
    let comps: Vec<(String, String, String, RwSignal<String>)> = v
        .components
        .iter()
        .map(|(slug, name, st)| {
            let shown = RwSignal::new(suggested(&first.0, st));
            (slug.clone(), name.clone(), st.clone(), shown)
        })
        .collect();
    // Asked again before resolving while an affected service still alarms: the question, shown
    // in the form, with its answer next to it.
    let confirm = RwSignal::new(None::<String>);
    let comps_value = {
        let comps = comps.clone();
        move || {
            comps
                .iter()
                .map(|(s, _, _, st)| format!("{s}={}", st.get_untracked()))
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    let preview = RwSignal::new(None::<Result<PreviewView, String>>);
    let templates = next.clone();
    let comps_now = comps.clone();
    let on_status = move |s: String| {
        if let Some((_, t)) = templates.iter().find(|(k, _)| *k == s) {
            body.set(t.clone());
        }
        for (_, _, now, shown) in &comps_now {
            shown.set(suggested(&s, now));
        }
        status.set(s);
        preview.set(None);
        confirm.set(None);
    };
    let (id1, id2) = (id.clone(), id);
    let cv1 = comps_value.clone();
    let show = move || {
        let (i, s, b, c) = (
            id1.clone(),
            status.get_untracked(),
            body.get_untracked(),
            cv1(),
        );
        leptos::task::spawn_local(async move {
            let p = incident_preview(i, String::new(), String::new(), String::new(), s, b, c).await;
            preview.set(Some(p.map_err(|e| e.to_string())));
        });
    };
    let publish = Callback::new(move |confirmed: bool| {
        let (i, s, b, c) = (
            id2.clone(),
            status.get_untracked(),
            body.get_untracked(),
            comps_value(),
        );
        leptos::task::spawn_local(async move {
            let r = update_incident(i, s, b, c, confirmed).await;
            match &r {
                // The question stays by the form that asked it, not at the top of the page.
                Ok(d) if d.confirm => {
                    confirm.set(Some(d.message.clone()));
                    return;
                }
                Ok(d) if d.ok => {
                    preview.set(None);
                    confirm.set(None);
                }
                _ => {}
            }
            settle(version, message, r);
        });
    });
    view! {
        <form class="stack-form" data-testid="update-form" on:submit=move |ev| { ev.prevent_default(); show(); }>
            <h3>"Post an update"</h3>
            <label for="upd-status">"Status"</label>
            <select id="upd-status" data-testid="update-status" prop:value=move || status.get() on:change=move |ev| on_status(event_target_value(&ev))>
                {next.iter().map(|(s, _)| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
            </select>
            <label for="upd-body">"Public message"</label>
            <textarea id="upd-body" rows="3" data-testid="update-body" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
            <fieldset class="components-pick">
                <legend>"Component statuses"</legend>
                {comps.into_iter().map(|(slug, name, _, st)| view! {
                    <label class="check">{format!("{name} ")}
                        <select aria-label=format!("Status of {name}") data-component=slug prop:value=move || st.get() on:change=move |ev| st.set(event_target_value(&ev))>
                            <option value="operational">"operational"</option>
                            <option value="degraded_performance">"degraded performance"</option>
                            <option value="partial_outage">"partial outage"</option>
                            <option value="major_outage">"major outage"</option>
                        </select>
                    </label>
                }).collect_view()}
            </fieldset>
            <button type="submit" class="button">"Preview what the public will read"</button>
        </form>
        <PreviewBox preview on_publish=Callback::new(move |_| publish.run(false)) label="Publish this update"/>
        {move || confirm.get().map(|question| view! {
            <div class="callout callout-warn" role="alertdialog" aria-live="assertive" data-testid="resolve-confirm">
                <p>{question}</p>
                <button type="button" class="button button-danger" data-testid="resolve-anyway" on:click=move |_| publish.run(true)>"Resolve anyway"</button>
                " "
                <button type="button" class="button" on:click=move |_| confirm.set(None)>"Not yet"</button>
            </div>
        })}
    }
}

#[component]
fn NoteForm(id: String, version: RwSignal<u32>, message: RwSignal<Option<Done>>) -> impl IntoView {
    let body = RwSignal::new(String::new());
    let save = move || {
        let (i, b) = (id.clone(), body.get_untracked());
        leptos::task::spawn_local(async move {
            let r = incident_note(i, b).await;
            if matches!(&r, Ok(d) if d.ok) {
                body.set(String::new());
            }
            settle(version, message, r);
        });
    };
    view! {
        <section class="card internal" data-testid="note-form">
            <h2>"Internal notes " <span class="pill internal-pill">"never public"</span></h2>
            <form class="stack-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                <textarea rows="2" aria-label="Internal note" prop:value=move || body.get() on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                <button type="submit" class="button secondary">"Add the note"</button>
            </form>
        </section>
    }
}

#[component]
fn Rules(
    rules: Vec<RuleView>,
    incident: String,
    may_act: bool,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let rule = RwSignal::new(String::new());
    let what = RwSignal::new(String::new());
    let owner = RwSignal::new(String::new());
    let inc = incident.clone();
    let add = move || {
        let (i, r, w, o) = (
            inc.clone(),
            rule.get_untracked(),
            what.get_untracked(),
            owner.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            settle(
                version,
                message,
                rule_broken(i, r, w, o, String::new()).await,
            );
        });
    };
    let on_incident = !incident.is_empty();
    view! {
        <ul class="plain rules" data-testid="rules">
            {rules.into_iter().map(|r| {
                let id = r.id.clone();
                view! {
                    <li class=if r.done.is_some() { "done" } else { "open" }>
                        <strong>{r.rule.clone()}</strong>" — " {r.what_done.clone()}
                        <span class="muted small">{format!(" · owner {} · {}", r.owner, r.created)}</span>
                        {match r.done.clone() {
                            Some(d) => view! { <span class="ok-text small">{format!(" · cleaned up {d}")}</span> }.into_any(),
                            None if may_act => view! {
                                <button type="button" class="link-button small" on:click=move |_| {
                                    let id = id.clone();
                                    leptos::task::spawn_local(async move {
                                        settle(version, message, rule_broken(String::new(), String::new(), String::new(), String::new(), id).await);
                                    });
                                }>" mark the cleanup done"</button>
                            }.into_any(),
                            None => view! { <span class="warn-text small">" · cleanup open"</span> }.into_any(),
                        }}
                    </li>
                }
            }).collect_view()}
        </ul>
        {(may_act && on_incident).then(|| view! {
            <form class="stack-form" data-testid="rule-form" on:submit=move |ev| { ev.prevent_default(); add(); }>
                <label for="rule-rule">"The rule broken"</label>
                <input id="rule-rule" type="text" placeholder="restart in acceptance first" prop:value=move || rule.get() on:input=move |ev| rule.set(event_target_value(&ev))/>
                <label for="rule-what">"What was done"</label>
                <input id="rule-what" type="text" placeholder="restarted builder-api in live directly" prop:value=move || what.get() on:input=move |ev| what.set(event_target_value(&ev))/>
                <label for="rule-owner">"Who cleans up (blank: you)"</label>
                <input id="rule-owner" type="text" prop:value=move || owner.get() on:input=move |ev| owner.set(event_target_value(&ev))/>
                <button type="submit" class="button secondary">"Record the rule broken"</button>
            </form>
        })}
    }
}

fn contact_rows(contacts: Vec<ContactView>) -> impl IntoView {
    view! {
        <div class="table-wrap">
        <table class="data" data-testid="contacts">
            <thead><tr><th scope="col">"Who"</th><th scope="col">"Phone"</th><th scope="col">"Their time"</th><th scope="col">"Knows"</th><th scope="col">"Seniority"</th></tr></thead>
            <tbody>
            {contacts.into_iter().map(|c| view! {
                <tr data-login=c.login.clone()>
                    <th scope="row">{c.name.clone()}<span class="muted small">{format!(" {}", c.login)}</span>
                        {c.more_senior.then(|| view! { <span class="pill">" more senior"</span> })}</th>
                    <td><a href=format!("tel:{}", c.phone.replace(' ', "")) data-testid="contact-phone">{c.phone.clone()}</a></td>
                    <td>{c.local_time.clone()}{(!c.awake).then(|| view! { <span class="warn-text small">" (night there)"</span> })}<span class="muted small">{format!(" {}", c.time_zone)}</span></td>
                    <td>{if c.knows.is_empty() { c.areas.join(", ") } else { format!("{} (affected)", c.knows.join(", ")) }}</td>
                    <td>{c.seniority}</td>
                </tr>
            }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

#[component]
fn Contacts(contacts: Vec<ContactView>) -> impl IntoView {
    if contacts.is_empty() {
        view! { <p class="muted">"The directory is empty: an admin adds people on the Incidents page."</p> }.into_any()
    } else {
        contact_rows(contacts).into_any()
    }
}

#[component]
fn Directory(
    contacts: Vec<ContactView>,
    admin: bool,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let f = [(); 6].map(|_| RwSignal::new(String::new()));
    let [login, name, phone, tz, areas, seniority] = f;
    let save = move || {
        let args = (
            login.get_untracked(),
            name.get_untracked(),
            phone.get_untracked(),
            tz.get_untracked(),
            areas.get_untracked(),
            seniority
                .get_untracked()
                .trim()
                .parse::<i64>()
                .unwrap_or(-1),
        );
        leptos::task::spawn_local(async move {
            settle(
                version,
                message,
                save_contact(args.0, args.1, args.2, args.3, args.4, args.5, false).await,
            );
        });
    };
    view! {
        <section class="card">
            <h2>"Escalation directory"</h2>
            <Contacts contacts/>
            {admin.then(|| view! {
                <form class="stack-form" data-testid="contact-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                    <h3>"Add or change a contact (admins)"</h3>
                    <label for="c-login">"Login"</label><input id="c-login" type="text" prop:value=move || login.get() on:input=move |ev| login.set(event_target_value(&ev))/>
                    <label for="c-name">"Name"</label><input id="c-name" type="text" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    <label for="c-phone">"Phone"</label><input id="c-phone" type="tel" placeholder="+1 206 555 0100" prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev))/>
                    <label for="c-tz">"Time zone"</label><input id="c-tz" type="text" placeholder="America/Los_Angeles" prop:value=move || tz.get() on:input=move |ev| tz.set(event_target_value(&ev))/>
                    <label for="c-areas">"Knows (service slugs, comma-separated)"</label><input id="c-areas" type="text" placeholder="api, router" prop:value=move || areas.get() on:input=move |ev| areas.set(event_target_value(&ev))/>
                    <label for="c-sen">"Seniority (0–10)"</label><input id="c-sen" type="number" min="0" max="10" prop:value=move || seniority.get() on:input=move |ev| seniority.set(event_target_value(&ev))/>
                    <button type="submit" class="button secondary">"Save the contact"</button>
                </form>
            })}
        </section>
    }
}

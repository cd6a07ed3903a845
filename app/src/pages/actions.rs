//! Guarded actions in the browser: the restart control (a button, or for a viewer the reason it
//! is not theirs), the confirmation dialog with its preview, one page per action with its live
//! output, and the list of recent actions.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::fleet_common::host_href;
use super::LoadError;
use crate::actions::{
    action_preview, action_progress, cancel_action, recent_actions, start_action, ActionSummary,
    BuildView, PreviewView, ProgressView, SubmitView, VerdictView,
};
use crate::fmt;

use crate::components::my_role;

/// A fresh idempotency key for one dialog: a double click or a retried request carries the
/// same key and runs once. Not a secret, only unique.
fn new_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        let mut s = String::new();
        for _ in 0..4 {
            let n = (js_sys::Math::random() * 4_294_967_296.0) as u64;
            s.push_str(&format!("{n:08x}"));
        }
        s.push_str(&format!("{:x}", js_sys::Date::now() as u64));
        s
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// Which restart dialog is open on the page. The dialog is
/// drawn once by [`RestartDialogSlot`], outside the live tables, so that a fleet update that
/// redraws a table never closes it or loses what was typed.
#[derive(Clone, Copy)]
pub struct DialogSlot(pub RwSignal<Option<ActionTarget>>);

/// What a dialog acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionTarget {
    /// `restart_service`, `restart_supervisor`, `restart_sentinel`.
    pub kind: &'static str,
    pub environment: String,
    pub host: String,
    /// Empty for a whole Supervisor.
    pub service_group: String,
    /// For a lock-file removal: the exact files.
    pub paths: Vec<String>,
}

impl ActionTarget {
    fn title(&self) -> String {
        match self.kind {
            "restart_supervisor" => format!("Restart the Supervisor on {}", self.host),
            "restart_sentinel" => format!("Restart the sentinel on {}", self.host),
            "request_build" => format!(
                "Request a build of {} in {}",
                self.service_group, self.environment
            ),
            "remove_lock_files" => format!(
                "Remove the datastore's stale lock files on {}, then start it",
                self.host
            ),
            _ => format!("Restart {} on {}", self.service_group, self.host),
        }
    }
}

/// Makes the page's [`DialogSlot`]; call it before drawing any [`RestartControl`].
pub fn provide_dialog_slot() -> DialogSlot {
    let slot = DialogSlot(RwSignal::new(None));
    provide_context(slot);
    slot
}

/// Draws the open dialog, if any.
#[component]
pub fn RestartDialogSlot(dialog: DialogSlot) -> impl IntoView {
    move || {
        dialog.0.get().map(|target| {
            view! {
                <RestartDialog target=target.clone() on_close=Callback::new(move |_| {
                    dialog.0.set(None);
                    refocus_opener(&target.title());
                })/>
            }
        })
    }
}

/// One line of an action's output, as a person reads it. Lines are what the host and the
/// Supervisor said; two kinds are data rather than words, and are said in words with the data
/// behind a toggle: a lock-file check's report (`F<TAB>path<TAB>kind<TAB>size<TAB>owner<TAB>
/// mtime<TAB>now<TAB>held<TAB>unsafe`) and a JSON document.
fn output_line(line: &str) -> AnyView {
    if let Some(words) = lock_report_words(line) {
        return view! {
            <div class="out-line">{words}
                <details class="out-raw"><summary>"details"</summary><code>{line.replace('\t', " ⇥ ")}</code></details>
            </div>
        }
        .into_any();
    }
    let t = line.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(t).is_ok()
    {
        let pretty = serde_json::from_str::<serde_json::Value>(t)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| t.to_owned());
        return view! {
            <details class="out-raw"><summary>"data the host sent (JSON) — details"</summary><pre>{pretty}</pre></details>
        }
        .into_any();
    }
    view! { <div class="out-line">{line.to_owned()}</div> }.into_any()
}

/// A lock-file check's report line in words: "postmaster.pid in /hab/svc/…: a regular file of
/// 64 B, owned by hab, 3 min old, held by nothing".
fn lock_report_words(line: &str) -> Option<String> {
    let f: Vec<&str> = line.strip_prefix("F\t")?.split('\t').collect();
    if f.len() != 8 {
        return None;
    }
    let (path, kind, size, owner) = (f[0], f[1], f[2], f[3]);
    let age = match (f[4].parse::<i64>(), f[5].parse::<i64>()) {
        (Ok(m), Ok(now)) => format!(", {} old", fmt::age((now - m).max(0) * 1000)),
        _ => String::new(),
    };
    let held = if f[6].is_empty() {
        "held by nothing".to_owned()
    } else {
        format!("held by {}", f[6])
    };
    let refused = if f[7].is_empty() {
        String::new()
    } else {
        format!("; refused: {}", f[7])
    };
    let size = if size.is_empty() {
        "—".to_owned()
    } else {
        format!("{size} B")
    };
    let owner = if owner.is_empty() {
        "nobody known"
    } else {
        owner
    };
    Some(format!(
        "{path}: {kind}, {size}, owned by {owner}{age}, {held}{refused}"
    ))
}

/// The host an action names, linked to its page, except the sentinel's: it runs outside the
/// Supervisors' inventory, so it has no host page (its service page says where it runs).
fn host_link(kind: &str, environment: &str, host: &str) -> AnyView {
    if kind == "restart_sentinel" {
        view! { <a href="/services/sentinel">{host.to_owned()}</a> }.into_any()
    } else {
        view! { <a href=host_href(environment, host)>{host.to_owned()}</a> }.into_any()
    }
}

/// Gives the focus back to the button that opened the dialog (found again by its label: a
/// live update may have drawn the table anew meanwhile), so that Escape leaves a keyboard user
/// where they were, not at the top of the page.
fn refocus_opener(label: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Ok(buttons) = doc.query_selector_all("[data-testid=\"restart-open\"]") else {
            return;
        };
        for i in 0..buttons.length() {
            let Some(el) = buttons
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            else {
                continue;
            };
            if el.get_attribute("aria-label").as_deref() == Some(label) {
                let _ = el.focus();
                return;
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = label;
}

/// "Restart…" for a responder, or, for a viewer, a disabled button and why it is not theirs.
#[component]
pub fn RestartControl(
    environment: String,
    host: String,
    #[prop(optional)] service_group: String,
    /// `restart_service` (the default), `restart_supervisor`, `restart_sentinel`.
    #[prop(optional)]
    kind: Option<&'static str>,
    /// The button's words (default "Restart…").
    #[prop(optional, into)]
    label: Option<String>,
    /// For a lock-file removal: the exact files.
    #[prop(optional)]
    paths: Vec<String>,
) -> impl IntoView {
    let kind = kind.unwrap_or("restart_service");
    let words = label.unwrap_or_else(|| "Restart…".to_owned());
    let role = my_role();
    if !role.is_some_and(|r| r.allows(vocab::Role::Responder)) {
        let you = role.map(|r| r.as_str()).unwrap_or("not signed in");
        return view! {
            <span class="act-denied">
                <button type="button" class="button btn-act" disabled=true>{words.trim_end_matches('…').to_owned()}</button>
                <span class="muted small" data-testid="restart-denied">" Needs the responder role (you: " {you} "); ask an admin."</span>
            </span>
        }
        .into_any();
    }
    let slot = use_context::<DialogSlot>();
    let target = ActionTarget {
        kind,
        environment,
        host,
        service_group,
        paths,
    };
    let aria = target.title();
    view! {
        <button type="button" class="button btn-act" aria-label=aria data-testid="restart-open" data-kind=kind
            on:click=move |_| {
                if let Some(slot) = slot {
                    slot.0.set(Some(target.clone()));
                }
            }>{words}</button>
    }
    .into_any()
}

/// The confirmation dialog: what will happen and to what, every guard's verdict, the reason,
/// the acceptance question for production, and the typed confirmation.
#[component]
fn RestartDialog(target: ActionTarget, on_close: Callback<()>) -> impl IntoView {
    let t = target.clone();
    let preview = crate::data::resource(
        || (),
        move |_| {
            action_preview(
                t.kind.to_owned(),
                t.environment.clone(),
                t.host.clone(),
                t.service_group.clone(),
            )
        },
    );
    let key = StoredValue::new(new_key());
    let reason = RwSignal::new(String::new());
    let confirmation = RwSignal::new(String::new());
    let tried = RwSignal::new(String::new());
    let refused = RwSignal::new(Vec::<VerdictView>::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = leptos_router::hooks::use_navigate();
    let asked = target.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let t = asked.clone();
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let result = start_action(
                t.kind.to_owned(),
                t.environment,
                t.host,
                t.service_group,
                reason.get_untracked(),
                confirmation.get_untracked(),
                tried.get_untracked(),
                key.get_value(),
                t.paths.join("\n"),
            )
            .await;
            busy.set(false);
            match result {
                Ok(SubmitView::Started { id, .. }) => {
                    navigate(&format!("/actions/{id}"), Default::default())
                }
                Ok(SubmitView::Refused { verdicts }) => {
                    refused.set(verdicts.into_iter().filter(VerdictView::refuses).collect());
                    // A refused request ran nothing: the next try is a new request.
                    key.set_value(new_key());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let close = move |_| on_close.run(());
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            on_close.run(());
        }
    };
    let title = target.title();
    let verb = match target.kind {
        "request_build" => "Request the build",
        "remove_lock_files" => "Remove them and start",
        _ => "Restart",
    };
    let files = target.paths.clone();
    view! {
        <div class="modal-backdrop">
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="restart-title" data-testid="restart-dialog" on:keydown=on_key>
                <h2 id="restart-title">{title}</h2>
                {(!files.is_empty()).then(|| view! {
                    <p>"Exactly these files, each checked again on the host (a regular file, no symlink, held by nothing); if any fails, none is removed:"</p>
                    <ul class="lock-paths" data-testid="lock-paths">{files.iter().map(|p| view! { <li><code>{p.clone()}</code></li> }).collect_view()}</ul>
                })}
                <Suspense fallback=|| view! { <p class="muted">"Reading the target's state…"</p> }>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                            Ok(p) => view! { <PreviewPanel preview=p.clone()/> <RestartForm preview=p reason confirmation tried busy/> }.into_any(),
                        }
                    })}
                </Suspense>
                {move || (!refused.get().is_empty()).then(|| view! {
                    <div class="callout callout-error" role="alert" data-testid="restart-refused">
                        <strong>"Refused: nothing ran."</strong>
                        <ul>{refused.get().into_iter().map(|v| view! { <li data-guard=v.guard.clone()><strong>{v.guard.clone()}</strong>": " {v.message}</li> }).collect_view()}</ul>
                    </div>
                })}
                {move || error.get().map(|e| view! { <div class="callout callout-error" role="alert">"Could not send the request: " {e}</div> })}
                <form on:submit=submit id="restart-form">
                    <div class="modal-buttons">
                        <button type="submit" class="button btn-danger" data-testid="restart-submit" disabled=move || busy.get()>
                            {move || if busy.get() { "Sending…" } else { verb }}
                        </button>
                        <button type="button" class="button" on:click=close>"Cancel"</button>
                    </div>
                </form>
            </div>
        </div>
    }
}

/// What the preview says before anything runs.
#[component]
fn PreviewPanel(preview: PreviewView) -> impl IntoView {
    let now = preview.now_ms;
    let badge = crate::api::EnvironmentSummary {
        name: preview.environment.clone(),
        production: preview.production,
        description: String::new(),
    };
    let build = preview.kind == "request_build";
    view! {
        <dl class="facts" data-testid="restart-preview">
            <dt>"Environment"</dt><dd><crate::components::EnvBadge env=badge/></dd>
            {if build {
                view! {
                    <dt>"Package"</dt><dd><code>{preview.service_group.clone()}</code>" — built by " {preview.environment.clone()} "'s Builder, then each Supervisor below updates from its channel"</dd>
                }.into_any()
            } else {
                view! {
                    <dt>"Host"</dt><dd>{host_link(&preview.kind, &preview.environment, &preview.host)}
                        {(!preview.host_reachable).then(|| view! { <span class="warn-inline">" (its Supervisor is not answering now)"</span> })}</dd>
                }.into_any()
            }}
            <dt>{if build { "Updates" } else { "Goes down" }}</dt><dd data-testid="blast-radius">
                {(build && preview.affected.is_empty()).then(|| view! { <div class="muted">"no Supervisor here runs it now"</div> })}
                {(preview.kind == "restart_sentinel").then(|| view! { <div>"the sentinel bot (systemd unit " <code>"sentinel"</code> ")"</div> })}
                {(preview.kind == "restart_supervisor").then(|| view! { <div class="warn-inline">"The Supervisor and every service it runs:"</div> })}
                {preview.affected.iter().map(|(g, cell, since)| view! {
                    <div><code>{g.clone()}</code>" — " <super::fleet_common::StateCell state=*cell/> " " <span class="muted small">{fmt::since(now, *since)}</span></div>
                }).collect_view()}
            </dd>
            <dt>"On call"</dt><dd data-testid="dialog-on-call">{preview.on_call.clone().unwrap_or_else(|| "not known: no rotation is set up in Onwatch yet".into())}</dd>
        </dl>
        <ul class="verdicts" data-testid="verdicts">
            {preview.verdicts.iter().map(|v| {
                let icon = match v.level.as_str() { "pass" => "✔", "warn" => "▲", _ => "✖" };
                view! { <li class=format!("verdict verdict-{}", v.level) data-guard=v.guard.clone()><span aria-hidden="true">{icon}</span>" " <strong>{v.guard.clone()}</strong>": " {v.message.clone()}</li> }
            }).collect_view()}
        </ul>
        {(!preview.recent.is_empty()).then(|| view! {
            <h3>{if build { "Recent build requests of this package" } else { "Recent actions on this host" }}</h3>
            <ActionList actions=preview.recent.clone() now_ms=now/>
        })}
    }
}

/// The fields: reason, the acceptance question (production), the typed confirmation.
#[component]
fn RestartForm(
    preview: PreviewView,
    reason: RwSignal<String>,
    confirmation: RwSignal<String>,
    tried: RwSignal<String>,
    busy: RwSignal<bool>,
) -> impl IntoView {
    let expected = preview.confirmation.clone();
    let expected2 = expected.clone();
    // The dialog appears without a page load, so `autofocus` alone does nothing: focus the
    // first field once it is in the document (the keyboard path starts typing at once).
    let first = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if let Some(el) = first.get() {
            // The node exists before it is in the document: focus it on the next frame.
            request_animation_frame(move || {
                let _ = el.focus();
            });
        }
    });
    let matches = move || confirmation.get().trim() == expected2;
    // A build outside production changes no running service by itself: no typed confirmation,
    // and "tried in acceptance first?" is a question about acting on running services.
    let build = preview.kind == "request_build";
    let confirm = !build || preview.production;
    view! {
        <div class="restart-fields">
            <label for="restart-reason">"Why (kept in the audit log)"</label>
            <textarea id="restart-reason" form="restart-form" required=true rows="2" node_ref=first
                data-testid="restart-reason" maxlength="2000"
                prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))
                disabled=move || busy.get()></textarea>
            // Not for the sentinel either: one systemd unit, with no acceptance twin.
            {(preview.production && !build && preview.kind != "restart_sentinel").then(|| view! {
                <fieldset class="acceptance-first" data-testid="acceptance-first">
                    <legend>"Was this tried in acceptance first? (the runbook asks)"</legend>
                    <label><input type="radio" name="tried" form="restart-form" value="yes" on:change=move |_| tried.set("yes".into())/>" Yes"</label>
                    <label><input type="radio" name="tried" form="restart-form" value="no" on:change=move |_| tried.set("no".into())/>" No"</label>
                </fieldset>
            })}
            {confirm.then(|| view! {
                <label for="restart-confirm" class=if preview.production { "confirm-prod" } else { "" }>
                    "Type " <code>{expected.clone()}</code> " to confirm"
                </label>
                <input id="restart-confirm" form="restart-form" type="text" autocomplete="off" spellcheck="false"
                    data-testid="restart-confirm" class=move || if matches() { "confirm-ok" } else { "" }
                    prop:value=move || confirmation.get() on:input=move |ev| confirmation.set(event_target_value(&ev))
                    disabled=move || busy.get()/>
            })}
        </div>
    }
}

/// Actions as a table: when, what, where, who, how it ended.
#[component]
pub fn ActionList(actions: Vec<ActionSummary>, now_ms: i64) -> impl IntoView {
    view! {
        <div class="table-scroll">
        <table class="actions-list" data-testid="actions-list">
            <thead><tr><th>"When"</th><th>"What"</th><th>"Where"</th><th>"Who"</th><th>"Outcome"</th></tr></thead>
            <tbody>
                {actions.into_iter().map(|a| view! {
                    <tr data-action=a.id.clone() data-state=a.state.clone()>
                        <td class="small">{fmt::clock(a.requested_ms)} " (" {fmt::age(now_ms - a.requested_ms)} " ago)"</td>
                        <td><a href=format!("/actions/{}", a.id)>{action_words(&a.kind, &a.service)}</a></td>
                        <td>{a.environment.clone()} " / " {a.host.clone()}</td>
                        <td>{a.actor_name.clone()}<div class="muted small">{a.reason.clone()}</div></td>
                        <td><span class=format!("outcome outcome-{}", a.state)>{a.state.clone()}</span><div class="muted small">{a.summary.clone()}</div></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// "restart builder-api.live", "restart the Supervisor", "restart the sentinel".
pub fn action_words(kind: &str, service: &str) -> String {
    match kind {
        "restart_supervisor" => "restart the Supervisor".into(),
        "restart_sentinel" => "restart the sentinel".into(),
        "remove_lock_files" => "remove stale lock files and start the datastore".into(),
        "request_build" => format!("request a build of {service}"),
        _ => format!("restart {service}"),
    }
}

/// The sentinel page's restart: where the sentinel runs comes from the server's configuration.
/// Where the sentinel runs, as configured (see [`sentinel_target_resource`]).
pub type SentinelTarget =
    Resource<Result<Option<(String, String)>, ServerFnError>, crate::data::SliceJson>;

/// Created by the page's component itself, before anything is drawn, like every resource that
/// a page hydrates: one created later (inside a closure, after a `Suspense` that waits) saw the
/// live version the event stream had meanwhile announced, not the one the server drew with,
/// refetched, and the page failed to hydrate now and then.
pub fn sentinel_target_resource() -> SentinelTarget {
    crate::data::resource(|| (), |_| crate::actions::sentinel_target())
}

/// The sentinel's restart button and its log, on the sentinel's service page.
#[component]
pub fn SentinelControl(target: SentinelTarget) -> impl IntoView {
    view! {
        <section class="sentinel-restart" data-testid="sentinel-restart">
            <h2>"Restart the sentinel"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Finding the sentinel…"</p> }>
                {move || Suspend::new(async move {
                    match target.await {
                        Ok(Some((environment, host))) => view! {
                            <p>"The sentinel bot runs as the systemd unit " <code>"sentinel"</code> " on " <strong>{host.clone()}</strong>
                               " (" {environment.clone()} "). Restarting it runs " <code>"systemctl restart sentinel"</code> " there over SSH, then checks that it runs."</p>
                            <super::sentinel::SentinelStatus host=host.clone()/>
                            <RestartControl environment=environment.clone() host=host.clone() service_group="sentinel".to_owned() kind="restart_sentinel" label="Restart the sentinel…"/>
                            <super::logs::LogPanel environment host source="sentinel"/>
                        }.into_any(),
                        Ok(None) => view! {
                            <p class="muted" data-testid="sentinel-unconfigured">"Onwatch does not know where the sentinel runs: set " <code>"[sentinel]"</code>
                               " (environment, host) and that environment's " <code>"[environments.NAME.ssh]"</code> ". By hand: "
                               <code>"ssh bots.habitat.sh sudo systemctl restart sentinel"</code> "."</p>
                        }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The newest actions on a service or a host (see [`recent_actions_resource`]).
pub type RecentActionsData =
    Resource<Result<Vec<ActionSummary>, ServerFnError>, crate::data::SliceJson>;

/// The newest actions on a service (any host: `service`) or on a host (`environment`, `host`),
/// refetched when the fleet changes. Create it in the page's component body (see
/// [`sentinel_target_resource`] for why).
pub fn recent_actions_resource(
    environment: impl Fn() -> String + Send + Sync + 'static,
    host: impl Fn() -> String + Send + Sync + 'static,
    service: impl Fn() -> String + Send + Sync + 'static,
) -> RecentActionsData {
    let live = crate::live::use_live_fleet();
    crate::data::resource(
        move || (environment(), host(), service(), live.version.get()),
        |(environment, host, service, _)| crate::actions::actions_for(environment, host, service),
    )
}

/// The newest actions on a service or a host: for the service and host pages.
#[component]
pub fn RecentActions(list: RecentActionsData) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading recent actions…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    Ok(v) if v.is_empty() => view! { <p class="muted" data-testid="no-actions">"No action taken through Onwatch here yet."</p> }.into_any(),
                    Ok(v) => view! { <ActionList actions=v now_ms=now()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `/actions`: the newest actions everywhere.
#[component]
pub fn ActionsPage() -> impl IntoView {
    let live = crate::live::use_live_fleet();
    let list = crate::data::resource(move || live.version.get(), |_| recent_actions());
    view! {
        <Title text="Actions"/>
        <section class="page">
            <h1>"Actions"</h1>
            <p class="lede">"Every restart started through Onwatch, newest first. Each is in the "<a href="/audit">"audit log"</a>" with its guards' verdicts. Restart a service from its page or from an alarm."</p>
            <Transition fallback=|| view! { <p class="muted">"Loading actions…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                        Ok(v) if v.is_empty() => view! { <p class="muted" data-testid="no-actions">"No action has been taken through Onwatch yet."</p> }.into_any(),
                        Ok(v) => view! { <ActionList actions=v now_ms=now()/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn now() -> i64 {
    #[cfg(feature = "hydrate")]
    return js_sys::Date::now() as i64;
    #[cfg(not(feature = "hydrate"))]
    return std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
}

/// `/actions/{id}`: one action, its output as it comes, its outcome. A reload re-attaches.
#[component]
pub fn ActionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let first = crate::data::resource(id, action_progress);
    let live = RwSignal::new(None::<ProgressView>);
    follow(id, live);
    // Kept here, not in the detail (drawn again at each event): the answer to a cancel stays.
    let cancel = CancelState::default();
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="muted">"Loading the action…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                        Ok(None) => view! {
                            {super::answer_not_found()}
                            <Title text="Unknown action"/>
                            <h1>"Unknown action"</h1>
                            <p>"Onwatch knows no action by that id. "<a href="/actions">"See all actions"</a>"."</p>
                        }.into_any(),
                        Ok(Some(p)) => {
                            let shown = move || live.get().unwrap_or_else(|| p.clone());
                            view! { {move || view! { <ActionDetail p=shown() cancel/> }} }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The cancel control's state, kept across the page's redraws.
#[derive(Clone, Copy)]
struct CancelState {
    /// The confirmation is shown.
    asking: RwSignal<bool>,
    busy: RwSignal<bool>,
    /// The answer: (asked, the sentence to show).
    said: RwSignal<Option<(bool, String)>>,
}

impl Default for CancelState {
    fn default() -> Self {
        CancelState {
            asking: RwSignal::new(false),
            busy: RwSignal::new(false),
            said: RwSignal::new(None),
        }
    }
}

/// A server function's own sentence (its error), without the framework's prefix.
fn said_by_server(e: ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m,
        e => e.to_string(),
    }
}

/// "Cancel this action…" while it runs, for someone who may (the responder role, as to start
/// it), with a confirmation; the answer (or the refusal's sentence) stays on the page.
#[component]
fn CancelControl(id: String, running: bool, state: CancelState) -> impl IntoView {
    let allowed = my_role().is_some_and(|r| r.allows(vocab::Role::Responder));
    let id = StoredValue::new(id);
    let CancelState { asking, busy, said } = state;
    let confirm = move |_| {
        busy.set(true);
        let id = id.get_value();
        leptos::task::spawn_local(async move {
            let r = cancel_action(id).await;
            busy.set(false);
            asking.set(false);
            said.set(Some(match r {
                Ok(m) => (true, m),
                Err(e) => (false, said_by_server(e)),
            }));
        });
    };
    view! {
        {move || (allowed && running && said.get().is_none()).then(|| if asking.get() {
            view! {
                <div class="callout callout-warn cancel-confirm" role="alertdialog" aria-labelledby="cancel-q" data-testid="cancel-confirm">
                    <p id="cancel-q">"Stop this action where it stands? Whatever it has sent stays done (a service it stopped stays stopped until someone starts it); nothing more is sent."</p>
                    <button type="button" class="button btn-danger" data-testid="cancel-yes" disabled=move || busy.get() on:click=confirm>"Cancel it now"</button>
                    " "
                    <button type="button" class="button" data-testid="cancel-no" on:click=move |_| asking.set(false)>"Keep it running"</button>
                </div>
            }.into_any()
        } else {
            view! {
                <p><button type="button" class="button btn-act" data-testid="cancel-open" on:click=move |_| asking.set(true)>"Cancel this action…"</button></p>
            }.into_any()
        })}
        {move || said.get().map(|(ok, m)| view! {
            <p class=if ok { "callout" } else { "callout callout-error" } role="status" data-testid="cancel-result">{m}</p>
        })}
    }
}

#[component]
fn ActionDetail(p: ProgressView, cancel: CancelState) -> impl IntoView {
    let running = p.state == "running";
    let build = p.kind == "request_build";
    let title = match p.kind.as_str() {
        "request_build" => format!("Build request of {} in {}", p.service, p.environment),
        "restart_supervisor" => format!("Supervisor restart on {}", p.host),
        "restart_sentinel" => format!("Restart of the sentinel on {}", p.host),
        "remove_lock_files" => format!("Stale lock files removed on {}", p.host),
        _ => format!("Restart of {} on {}", p.service, p.host),
    };
    let build_view = p.build.clone();
    view! {
        <Title text=title.clone()/>
        <p class="crumbs"><a href="/actions">"Actions"</a>" / "{p.id.clone()}</p>
        <h1>{title}</h1>
        <dl class="facts">
            <dt>"State"</dt><dd><span class=format!("outcome outcome-{}", p.state) data-testid="action-state" aria-live="polite">{p.state.clone()}</span>
                {running.then(|| view! { <span class="muted">" — " {p.step.clone()} "…"</span> })}</dd>
            <dt>"Where"</dt><dd>{if build {
                view! { {p.environment.clone()} "'s Builder — " <a href=format!("/services/{}", vocab::slug_of(&p.service))>{p.service.clone()}</a> }.into_any()
            } else {
                view! { {p.environment.clone()} " / " {host_link(&p.kind, &p.environment, &p.host)} }.into_any()
            }}</dd>
            <dt>"Who"</dt><dd>{p.actor_name.clone()}</dd>
            <dt>"Why"</dt><dd>{p.reason.clone()}</dd>
            <dt>"Started"</dt><dd>{fmt::clock(p.requested_ms)}</dd>
            {(!p.summary.is_empty()).then(|| view! { <dt>"Outcome"</dt><dd data-testid="action-summary">{p.summary.clone()}</dd> })}
        </dl>
        <CancelControl id=p.id.clone() running state=cancel/>
        {build_view.map(|b| view! { <BuildPanel b/> })}
        <h2>"Output"</h2>
        <div class="action-output" data-testid="action-output" aria-live="polite">{p.lines.iter().map(|l| output_line(l)).collect_view()}</div>
        <p class="muted small">"The same rows are in the "<a href=format!("/audit?action={}", p.id)>"audit log"</a>"."</p>
    }
}

/// A build request's job group (each project's state), the runbook's reading when it stalls,
/// and where the new release has landed.
#[component]
fn BuildPanel(b: BuildView) -> impl IntoView {
    let on = b.rollout.iter().filter(|(_, on)| *on).count();
    let of = b.rollout.len();
    view! {
        <section class="build-progress" data-testid="build-progress">
            <h2>"Job group " <code>{b.group_id.clone()}</code> " — " <span data-testid="group-state">{b.group_state.clone()}</span></h2>
            {b.stalled.clone().map(|s| view! {
                <div class="callout callout-error" role="alert" data-testid="build-stalled"><strong>"Stalled: "</strong>{s}</div>
            })}
            <div class="table-scroll">
                <table data-testid="build-projects">
                    <thead><tr><th>"Project"</th><th>"State"</th><th>"Job"</th><th>"Ident"</th></tr></thead>
                    <tbody>
                        {b.projects.into_iter().map(|(name, ident, state, job)| view! {
                            <tr data-project=name.clone()>
                                <td>{name.clone()}</td>
                                <td class=format!("project-{}", state.to_lowercase()) data-testid="project-state">{state.clone()}</td>
                                <td class="mono small">{if job.is_empty() || job == "0" { "—".to_owned() } else { job }}</td>
                                <td class="mono small">{ident}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
            {b.built.clone().map(|r| view! {
                <p data-testid="build-rollout">"Built " <code>{r}</code> ": the new release runs on " <strong>{on}" of "{of}</strong> " Supervisors"
                    {(of > 0).then(|| view! { " (" {b.rollout.iter().map(|(h, on)| format!("{h} {}", if *on { "✓" } else { "…" })).collect::<Vec<_>>().join(", ")} ")" })}</p>
            })}
        </section>
    }
}

/// Follows the action's events in the browser: each event is its whole progress.
#[cfg(feature = "hydrate")]
fn follow(id: impl Fn() -> String + 'static, live: RwSignal<Option<ProgressView>>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    Effect::new(move |prev: Option<Option<web_sys::EventSource>>| {
        if let Some(Some(old)) = prev {
            old.close();
        }
        let url = format!("/api/actions/{}/events", id());
        let source = web_sys::EventSource::new(&url).ok()?;
        let closer = source.clone();
        let on_progress =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(text) = ev.data().as_string() else {
                    return;
                };
                if let Ok(p) = serde_json::from_slice::<ProgressView>(text.as_bytes()) {
                    if p.state != "running" {
                        closer.close();
                    }
                    live.set(Some(p));
                }
            });
        let _ = source
            .add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
        on_progress.forget();
        Some(source)
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow(_id: impl Fn() -> String + 'static, _live: RwSignal<Option<ProgressView>>) {}

#[cfg(test)]
mod output_tests {
    #[test]
    fn a_lock_files_report_is_said_in_words() {
        let line =
            "F\t/hab/svc/builder-datastore/data/postmaster.pid\tfile\t64\thab\t1000\t1180\t\t";
        assert_eq!(
            super::lock_report_words(line).as_deref(),
            Some("/hab/svc/builder-datastore/data/postmaster.pid: file, 64 B, owned by hab, 3 min old, held by nothing")
        );
        let held = "F\t/x/postmaster.pid\tfile\t64\thab\t1000\t1000\tpostgres 812\t";
        assert!(super::lock_report_words(held)
            .unwrap()
            .ends_with("held by postgres 812"));
        assert_eq!(super::lock_report_words("plain words"), None);
    }
}

//! Pieces every fleet page uses: state cells (word + icon + colour), alarms, env headers.

use leptos::prelude::*;

use crate::fleet::{AlarmView, EnvView};
use crate::fmt;

/// The icon of a state word. Colour is never the only signal: the word is always there too.
pub fn icon(state: &str) -> &'static str {
    match state {
        "healthy" => "✔",
        "warning" => "▲",
        "critical" => "✖",
        "down" => "■",
        "unreachable" => "⊘",
        "stale" => "⌛",
        _ => "?",
    }
}

#[component]
pub fn StateCell(state: String, #[prop(optional)] title: String) -> impl IntoView {
    let class = format!("state state-{state}");
    view! {
        <span class=class title=title data-state=state.clone()>
            <span class="state-icon" aria-hidden="true">{icon(&state)}</span>
            " "
            <span class="state-word">{state.clone()}</span>
        </span>
    }
}

pub fn env_href(env: &str) -> String {
    format!("/environments/{env}")
}

pub fn host_href(env: &str, host: &str) -> String {
    format!("/environments/{env}/hosts/{}", urlencode(host))
}

pub fn service_href(service: &str) -> String {
    format!("/services/{}", crate::fleet::slug_of(service))
}

/// Percent-encodes what a host name may contain that a path segment may not.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn Alarms(alarms: Vec<AlarmView>, now_ms: i64) -> impl IntoView {
    if alarms.is_empty() {
        return view! {
            <div class="alarms alarms-none" data-testid="alarms">"✔ No alarms: no unreachable host, no version drift, no development Supervisor in production, inventories fresh, probes passing."</div>
        }
        .into_any();
    }
    view! {
        <ul class="alarms" data-testid="alarms" aria-label="Alarms">
            {alarms
                .into_iter()
                .map(|a| {
                    let since = a.since_ms.map(|s| fmt::since(now_ms, s)).unwrap_or_default();
                    let kind = a.kind.replace('_', " ");
                    let env = a.environment.clone();
                    view! {
                        <li class=format!("alarm alarm-{}", a.kind) data-kind=a.kind.clone()>
                            <span class="alarm-kind">"⚠ " {kind}</span>
                            <a class="alarm-env" href=env_href(&env)>{env.clone()}</a>
                            {(!a.subject.is_empty()).then(|| view! { <strong class="alarm-subject">{a.subject.clone()}</strong> })}
                            <span class="alarm-msg">{a.message}</span>
                            <span class="muted small">{since}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
pub fn Counts(counts: Vec<(String, usize)>) -> impl IntoView {
    view! {
        <ul class="counts" aria-label="Counts by state">
            {counts
                .into_iter()
                .map(|(state, n)| view! {
                    <li class=format!("count state-{state}") data-state=state.clone()>
                        <span aria-hidden="true">{icon(&state)}</span>" "<strong>{n}</strong>" "{state.clone()}
                    </li>
                })
                .collect_view()}
        </ul>
    }
}

/// The header of an environment: name badge, inventory freshness, last poll.
#[component]
pub fn EnvHeader(env: EnvView, now_ms: i64) -> impl IntoView {
    let badge = crate::api::EnvironmentSummary {
        name: env.name.clone(),
        production: env.production,
        description: String::new(),
    };
    let poll = env
        .last_poll_ms
        .map(|t| format!("last poll {} ago", fmt::age(now_ms - t)))
        .unwrap_or_else(|| "not polled yet".to_owned());
    let inventory = match (&env.inventory_error, env.inventory_refreshed_ms) {
        (Some(err), Some(t)) => format!(
            "inventory STALE (last good read {} ago): {err}",
            fmt::age(now_ms - t)
        ),
        (Some(err), None) => format!("inventory never read: {err}"),
        (None, Some(t)) => format!("inventory read {} ago", fmt::age(now_ms - t)),
        (None, None) => "no inventory".to_owned(),
    };
    let inv_class = if env.inventory_error.is_some() {
        "inv inv-stale"
    } else {
        "inv"
    };
    view! {
        <header class="env-head">
            <a href=env_href(&env.name) class="env-link"><crate::components::EnvBadge env=badge/></a>
            <span class="muted small">{poll}</span>
            <span class=inv_class>{inventory}</span>
        </header>
    }
}

//! `/audit`: the audit log with its filters (they live in the URL, so a filtered view is a link
//! to send), CSV and JSON export for admins (the export is itself audited), and the check of the
//! hash chain.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::LoadError;
use crate::actions::{audit_rows, audit_verify, AuditQuery, AuditRowView};
use crate::fmt;

/// The filters' query parameters, in the form's order.
const FIELDS: &[(&str, &str, &str)] = &[
    ("who", "Who", "login or id"),
    ("environment", "Environment", "live"),
    ("host", "Host", "exact host name"),
    ("service", "Service", "builder-api"),
    ("kind", "What", "action, signin, audit.export…"),
    ("outcome", "Outcome", "succeeded, failed, refused…"),
    ("from", "From (your zone)", "YYYY-MM-DD"),
    ("to", "To (your zone)", "YYYY-MM-DD"),
];

fn query_of(q: &leptos_router::params::ParamsMap) -> AuditQuery {
    let get = |k: &str| q.get(k).unwrap_or_default();
    AuditQuery {
        who: get("who"),
        environment: get("environment"),
        host: get("host"),
        service: get("service"),
        kind: get("kind"),
        outcome: get("outcome"),
        from: get("from"),
        to: get("to"),
    }
}

fn export_href(q: &AuditQuery, format: &str) -> String {
    let mut url = format!("/api/admin/audit/export?format={format}");
    for (k, v) in [
        ("who", &q.who),
        ("environment", &q.environment),
        ("host", &q.host),
        ("service", &q.service),
        ("kind", &q.kind),
        ("outcome", &q.outcome),
        ("from", &q.from),
        ("to", &q.to),
    ] {
        if !v.is_empty() {
            url.push_str(&format!("&{k}={}", super::fleet_common::urlencode(v)));
        }
    }
    url
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || query_of(&query.read());
    let action = move || query.read().get("action").unwrap_or_default();
    let rows = crate::data::resource(filter, |q| audit_rows(q, None));
    let role = crate::components::my_role();
    let admin = role.is_some_and(|r| r.allows(vocab::Role::Admin));
    // The server withholds these before the rows leave it; this only says so.
    let withheld = !role.is_some_and(|r| r.allows(vocab::Role::Responder));
    view! {
        <Title text="Audit"/>
        <section class="page">
            <h1>"Audit log"</h1>
            <p class="lede">"Every attempt made through Onwatch — actions allowed or refused, sign-ins, exports — newest first. Rows are hash-chained: a changed, deleted or reordered row is found by the check below or by "<code>"onwatch audit verify"</code>"."</p>
            {withheld.then(|| view! {
                <p class="muted small" data-testid="audit-withheld">"As a viewer you read what happened, who did it, when, where, how it ended and how many rows; a console query's SQL and errors, a host's error text and a sign-in's address and browser are for responders and admins (each row's detail names what it leaves out under "<code>"withheld"</code>")."</p>
            })}
            <form method="get" action="/audit" class="audit-filters" data-testid="audit-filters">
                {FIELDS.iter().map(|(name, label, hint)| {
                    let name = *name;
                    view! {
                        <label>{*label}
                            <input type="text" name=name placeholder=*hint prop:value=move || query.read().get(name).unwrap_or_default()/>
                        </label>
                    }
                }).collect_view()}
                <button type="submit" class="button">"Filter"</button>
                <a class="button" href="/audit">"Clear"</a>
            </form>
            {admin.then(|| view! { <AdminTools filter=Signal::derive(filter)/> })}
            <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                        Ok(v) => {
                            let only = action();
                            let v: Vec<AuditRowView> = if only.is_empty() { v } else { v.into_iter().filter(|r| r.action_id == only).collect() };
                            if v.is_empty() {
                                view! { <p class="muted" data-testid="no-audit-rows">"No audit row matches these filters."</p> }.into_any()
                            } else {
                                view! { <AuditTable rows=v/> }.into_any()
                            }
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRowView>) -> impl IntoView {
    view! {
        <div class="table-scroll">
        <table class="audit" data-testid="audit-rows">
            <thead><tr><th>"#"</th><th>"When"</th><th>"What"</th><th>"Who"</th><th>"Where"</th><th>"Outcome"</th><th>"Detail"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let target = [r.environment.as_str(), r.host.as_str(), r.service.as_str()]
                        .into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" / ");
                    view! {
                        <tr data-seq=r.seq data-kind=r.kind.clone() data-action=r.action_id.clone()>
                            <td class="mono small">{r.seq}</td>
                            <td class="small">{fmt::date_time(r.at_ms)}</td>
                            <td><code>{r.kind.clone()}</code>
                                {(!r.action_id.is_empty()).then(|| view! { <div class="small"><a href=format!("/actions/{}", r.action_id)>"the action"</a></div> })}</td>
                            <td>{r.actor_name.clone()}<div class="muted small">{r.actor.clone()} " · " {r.role.clone()}</div></td>
                            <td>{target}</td>
                            <td>{(!r.outcome.is_empty()).then(|| view! { <span class=format!("outcome outcome-{}", r.outcome.replace(':', "-")) title=r.outcome.clone() data-outcome=r.outcome.clone()>{outcome_words(&r.outcome)}</span> })}</td>
                            <td><details><summary>"detail"</summary><pre class="audit-detail">{r.detail.clone()}</pre></details></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// Export and chain check, for admins.
#[component]
fn AdminTools(filter: Signal<AuditQuery>) -> impl IntoView {
    let verify = Action::new(|_: &()| audit_verify());
    view! {
        <div class="audit-tools">
            <a class="button" href=move || export_href(&filter.get(), "csv") data-testid="export-csv" rel="external" download="">"Export CSV"</a>
            <a class="button" href=move || export_href(&filter.get(), "json") rel="external" download="">"Export JSON"</a>
            <button type="button" class="button" data-testid="verify-chain" on:click=move |_| { verify.dispatch(()); }>"Check the chain"</button>
            <span role="status" data-testid="verify-result">
                {move || verify.value().get().map(|r| match r {
                    Ok(v) => match v.broken {
                        None => view! { <span class="ok-inline">"✔ The chain holds: " {v.rows} " rows checked."</span> }.into_any(),
                        Some((seq, why)) => view! { <span class="error-inline">"✖ Broken at row " {seq} ": " {why}</span> }.into_any(),
                    },
                    Err(e) => view! { <span class="error-inline">"Could not check: " {e.to_string()}</span> }.into_any(),
                })}
            </span>
            <p class="muted small">"Exports are themselves written to the audit log."</p>
        </div>
    }
}

/// An outcome as a person reads it: `update:attempt` is "update (asked)", `accepted:done`
/// "accepted (done)"; the stored word stays in the cell's title for whoever searches by it.
fn outcome_words(outcome: &str) -> String {
    match outcome.split_once(':') {
        Some((what, stage)) => {
            let stage = match stage {
                "attempt" => "asked",
                "done" => "done",
                "refused" => "refused",
                "failed" => "failed",
                other => other,
            };
            format!("{} ({stage})", what.replace('_', " "))
        }
        None => outcome.replace('_', " "),
    }
}

#[cfg(test)]
mod outcome_tests {
    #[test]
    fn outcomes_read_as_words() {
        assert_eq!(super::outcome_words("update:attempt"), "update (asked)");
        assert_eq!(
            super::outcome_words("cleanup_done:refused"),
            "cleanup done (refused)"
        );
        assert_eq!(super::outcome_words("succeeded"), "succeeded");
    }
}

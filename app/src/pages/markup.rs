//! The fleet grid, its alarms and its counts written as HTML text by plain functions.
//!
//! These are the biggest and busiest parts of the fleet pages: on the dashboard of a 1,000-host
//! fleet they are most of the page, and every person on call reloads it. Written as text they
//! cost a fraction of a component tree to render, and the server renders the dashboard's once
//! per fleet snapshot for everyone ([`crate::pages::home::cache::DashboardBuilt::markup`]). The browser runs
//! the same functions on every live update, so server and browser always agree on the markup.
//! Every piece of data goes through [`text`] or [`attr`]: host names, messages and errors come
//! from Supervisors and EC2 tags, never trusted as markup.
//!
//! Nothing here is interactive: links are plain anchors, which the router turns into in-app
//! navigation.

use std::fmt::Write as _;

use vocab::{AlarmKind, CellState};

use crate::fleet::{AlarmView, EnvView, FleetView};
use crate::fmt as tfmt;
use crate::html::{attr, text};

use super::fleet_common::{env_href, host_href, icon, service_href, urlencode};

/// `<tag class="…" data-x="…">`: attribute values escaped.
fn open(out: &mut String, tag: &str, attrs: &[(&str, &str)]) {
    out.push('<');
    out.push_str(tag);
    for (name, value) in attrs {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        attr(out, value);
        out.push('"');
    }
    out.push('>');
}

/// `<tag …>text</tag>`: attribute values and text escaped.
fn element(out: &mut String, tag: &str, attrs: &[(&str, &str)], content: &str) {
    open(out, tag, attrs);
    text(out, content);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// A state in a word, an icon and a colour (never colour alone).
pub fn state_cell(out: &mut String, state: CellState) {
    let word = state.as_str();
    open(
        out,
        "span",
        &[
            ("class", &format!("state state-{word}")),
            ("data-state", word),
        ],
    );
    out.push_str("<span class=\"state-icon\" aria-hidden=\"true\">");
    out.push_str(icon(state));
    out.push_str("</span> <span class=\"state-word\">");
    text(out, word);
    out.push_str("</span></span>");
}

/// An environment's name, impossible to miss when it is production (as
/// [`crate::components::EnvBadge`]).
pub fn env_badge(out: &mut String, name: &str, production: bool) {
    let (class, title, label) = crate::components::badge_parts(name, production);
    element(
        out,
        "span",
        &[("class", class), ("title", &title), ("data-env", name)],
        &label,
    );
}

/// Above this many alarms of one kind in one environment, they are one line that names them all
/// (ten unreachable hosts are one outage to read about, not ten lines pushing the grid down).
pub const ALARM_GROUP_ABOVE: usize = 3;

/// The fleet model's alarms, or a line that says there are none.
pub fn alarms<'a>(
    out: &mut String,
    alarms: impl IntoIterator<Item = &'a AlarmView>,
    now_ms: i64,
    zone: &vocab::Zone,
) {
    alarms_listed(out, alarms, now_ms, zone, Some(ALARM_SUBJECTS_SHOWN));
}

/// How many subjects a grouped alarm names on the dashboard before "and N more": the block
/// stays a few lines high, so the grids stay above the fold on a bad night.
pub const ALARM_SUBJECTS_SHOWN: usize = 6;

/// As [`alarms`], naming at most `shown` subjects per group (`None`: every one, as the
/// environment page does, where "and N more" leads).
pub fn alarms_listed<'a>(
    out: &mut String,
    alarms: impl IntoIterator<Item = &'a AlarmView>,
    now_ms: i64,
    zone: &vocab::Zone,
    shown: Option<usize>,
) {
    // Groups of (kind, environment), in the order the model lists them (worst first).
    let mut groups: Vec<Vec<&AlarmView>> = Vec::new();
    for a in alarms {
        match groups
            .iter_mut()
            .find(|g| g[0].kind == a.kind && g[0].environment == a.environment)
        {
            Some(g) => g.push(a),
            None => groups.push(vec![a]),
        }
    }
    if groups.is_empty() {
        out.push_str("<div class=\"alarms alarms-none\" data-testid=\"alarms\">✔ No alarms: no unreachable host, no version drift, no development Supervisor in production, inventories fresh, probes passing.</div>");
        return;
    }
    out.push_str("<ul class=\"alarms\" data-testid=\"alarms\" aria-label=\"Alarms\">");
    for group in groups {
        if group.len() > ALARM_GROUP_ABOVE {
            alarm_group(out, &group, now_ms, zone, shown);
        } else {
            for a in group {
                alarm(out, a, now_ms, zone);
            }
        }
    }
    out.push_str("</ul>");
}

/// `<li class="alarm alarm-KIND" data-kind="KIND"><span class="alarm-kind">⚠ KIND</span>ENV`
fn alarm_head(out: &mut String, a: &AlarmView, count: Option<usize>) {
    let class = format!("alarm alarm-{}", a.kind);
    let n = count.map(|n| n.to_string());
    let mut attrs = vec![("class", class.as_str()), ("data-kind", a.kind.as_str())];
    if let Some(n) = &n {
        attrs.push(("data-count", n));
    }
    open(out, "li", &attrs);
    out.push_str("<span class=\"alarm-kind\">⚠ ");
    text(out, a.kind.label());
    if let Some(n) = count {
        let _ = write!(out, " ×{n}");
    }
    out.push_str("</span>");
    if a.environment.is_empty() {
        // About Onwatch or the whole fleet, not one environment.
        element(out, "span", &[("class", "alarm-env")], "all environments");
    } else {
        element(
            out,
            "a",
            &[("class", "alarm-env"), ("href", &env_href(&a.environment))],
            &a.environment,
        );
    }
}

fn alarm_since(out: &mut String, since_ms: Option<i64>, now_ms: i64, zone: &vocab::Zone) {
    out.push_str("<span class=\"muted small\">");
    if let Some(since) = since_ms {
        text(out, &zone.since(now_ms, since));
    }
    out.push_str("</span></li>");
}

/// For a failing service's alarm: its service page with the restart dialog of that instance
/// open (one click from the alarm to the confirmation).
fn restart_href(a: &AlarmView) -> Option<String> {
    if a.kind != AlarmKind::FailingService {
        return None;
    }
    let (group, host) = a.subject.split_once(" on ")?;
    let service = group.split_once('.').map(|(s, _)| s).unwrap_or(group);
    Some(format!(
        "/services/{}?restart={}/{}/{}",
        crate::fleet::slug_of(service),
        urlencode(&a.environment),
        urlencode(host),
        urlencode(group)
    ))
}

/// For failing services' alarms: the incidents page with a declaration filled in (the
/// services, a title naming them and the environment).
fn declare_href(group: &[&AlarmView]) -> Option<String> {
    let mut slugs: Vec<String> = Vec::new();
    for a in group {
        if a.kind != AlarmKind::FailingService {
            continue;
        }
        let Some((svc_group, _)) = a.subject.split_once(" on ") else {
            continue;
        };
        let service = svc_group
            .split_once('.')
            .map(|(s, _)| s)
            .unwrap_or(svc_group);
        let slug = crate::fleet::slug_of(service);
        if !slugs.contains(&slug) {
            slugs.push(slug);
        }
    }
    let first = group.first()?;
    if slugs.is_empty() {
        return None;
    }
    let title = format!("{} failing in {}", slugs.join(", "), first.environment);
    Some(format!(
        "/incidents?declare=1&services={}&title={}",
        urlencode(&slugs.join(",")),
        urlencode(&title)
    ))
}

fn declare_link(out: &mut String, group: &[&AlarmView]) {
    if let Some(href) = declare_href(group) {
        element(
            out,
            "a",
            &[
                ("class", "alarm-act"),
                ("href", &href),
                ("data-testid", "alarm-declare"),
            ],
            "Declare an incident…",
        );
    }
}

fn alarm(out: &mut String, a: &AlarmView, now_ms: i64, zone: &vocab::Zone) {
    alarm_head(out, a, None);
    if !a.subject.is_empty() {
        element(out, "strong", &[("class", "alarm-subject")], &a.subject);
    }
    element(out, "span", &[("class", "alarm-msg")], &a.message);
    if let Some(href) = restart_href(a) {
        element(
            out,
            "a",
            &[
                ("class", "alarm-act"),
                ("href", &href),
                ("data-testid", "alarm-restart"),
            ],
            "Restart…",
        );
    }
    declare_link(out, &[a]);
    alarm_since(out, a.since_ms, now_ms, zone);
}

/// Many alarms of one kind in one environment: every subject (hosts linked to their page), the
/// first message as an example, since the earliest.
fn alarm_group(
    out: &mut String,
    group: &[&AlarmView],
    now_ms: i64,
    zone: &vocab::Zone,
    shown: Option<usize>,
) {
    let first = group[0];
    alarm_head(out, first, Some(group.len()));
    out.push_str("<span class=\"alarm-subjects\">");
    let limit = shown.unwrap_or(usize::MAX).min(group.len());
    for (i, a) in group.iter().take(limit).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if let Some(href) = restart_href(a) {
            // The subject is the way to its restart dialog.
            element(
                out,
                "a",
                &[
                    ("class", "alarm-subject"),
                    ("href", &href),
                    ("title", "Restart…"),
                ],
                &a.subject,
            );
        } else if a.kind == AlarmKind::UnreachableHost {
            let href = host_href(&a.environment, &a.subject);
            element(
                out,
                "a",
                &[("class", "alarm-subject"), ("href", &href)],
                &a.subject,
            );
        } else {
            element(out, "strong", &[("class", "alarm-subject")], &a.subject);
        }
    }
    let more = group.len() - limit;
    if more > 0 {
        // The full list is on the environment's page.
        let href = format!("{}#alarms", env_href(&first.environment));
        out.push(' ');
        element(
            out,
            "a",
            &[("class", "alarm-more"), ("href", &href)],
            &format!("and {more} more"),
        );
    }
    out.push_str("</span>");
    let example = format!("e.g. {}: {}", first.subject, first.message);
    element(out, "span", &[("class", "alarm-msg")], &example);
    declare_link(out, group);
    alarm_since(
        out,
        group.iter().filter_map(|a| a.since_ms).min(),
        now_ms,
        zone,
    );
}

/// How many cells are in each state, worst first.
pub fn counts(out: &mut String, counts: &[(CellState, usize)]) {
    out.push_str("<ul class=\"counts\" aria-label=\"Counts by state\">");
    for &(state, n) in counts {
        let word = state.as_str();
        open(
            out,
            "li",
            &[
                ("class", &format!("count state-{word}")),
                ("data-state", word),
            ],
        );
        let _ = write!(
            out,
            "<span aria-hidden=\"true\">{}</span> <strong>{n}</strong> ",
            icon(state)
        );
        text(out, word);
        out.push_str("</li>");
    }
    out.push_str("</ul>");
}

/// The header of an environment: name badge, last poll, inventory freshness.
pub fn env_header(out: &mut String, env: &EnvView, now_ms: i64) {
    out.push_str("<header class=\"env-head\">");
    open(
        out,
        "a",
        &[("href", &env_href(&env.name)), ("class", "env-link")],
    );
    env_badge(out, &env.name, env.production);
    out.push_str("</a><span class=\"muted small\">");
    match env.last_poll_ms {
        Some(t) => {
            let _ = write!(out, "Last poll {} ago", tfmt::age(now_ms - t));
        }
        None => out.push_str("Not polled yet"),
    }
    out.push_str("</span>");
    let inventory = match (&env.inventory_error, env.inventory_refreshed_ms) {
        (Some(err), Some(t)) => format!(
            "Inventory STALE (last good read {} ago): {err}",
            tfmt::age(now_ms - t)
        ),
        (Some(err), None) => format!("Inventory never read: {err}"),
        (None, Some(t)) => format!("Inventory read {} ago", tfmt::age(now_ms - t)),
        (None, None) => "No inventory".to_owned(),
    };
    let class = if env.inventory_error.is_some() {
        "inv inv-stale"
    } else {
        "inv"
    };
    element(out, "span", &[("class", class)], &inventory);
    out.push_str("</header>");
}

/// One environment: a row per service; in it, one chip per host that runs the service, saying
/// the state of that (service, host) pair. Hosts without service states (not polled yet,
/// unreachable from the start, or, in a large environment, any host whose Supervisor does not
/// answer) get one chip each in the whole-host row. Unless `full`, an environment the fleet cut
/// for the dashboard (`healthy_omitted`: more hosts than `[fleet] dashboard_collapse_above`,
/// decided once in `ops::fleet::dashboard::cut`) shows only the chips that are not healthy.
pub fn env_grid(out: &mut String, env: &EnvView, now_ms: i64, zone: &vocab::Zone, full: bool) {
    let omitted = |svc: &str| {
        env.healthy_omitted
            .as_ref()
            .and_then(|o| o.iter().find(|(n, _)| n == svc).map(|(_, n)| *n))
            .unwrap_or(0)
    };
    let total = env.hosts.len()
        + env
            .healthy_omitted
            .as_ref()
            .map(|o| o.iter().map(|(_, n)| *n).max().unwrap_or(0))
            .unwrap_or(0);
    let show_all = full || env.healthy_omitted.is_none();
    let class = if env.production {
        "env-panel env-panel-prod"
    } else {
        "env-panel"
    };
    open(
        out,
        "section",
        &[
            ("class", class),
            ("data-env", &env.name),
            ("aria-label", &format!("environment {}", env.name)),
        ],
    );
    env_header(out, env, now_ms);
    counts(out, &env.counts);
    if total == 0 {
        out.push_str("<p class=\"muted\">No hosts in this environment's inventory.</p></section>");
        return;
    }
    out.push_str("<table class=\"fleet-grid\"><thead><tr><th scope=\"col\">Service</th><th scope=\"col\">Hosts</th></tr></thead><tbody>");
    for svc in &env.services {
        let href = service_href(svc);
        open(out, "tr", &[("data-service", svc)]);
        out.push_str("<th scope=\"row\">");
        element(out, "a", &[("href", &href)], &crate::fleet::slug_of(svc));
        out.push_str("</th><td class=\"chips\">");
        let mut healthy_hidden = omitted(svc);
        for h in &env.hosts {
            for s in h.services.iter().filter(|s| &s.service == svc) {
                if !show_all && s.cell.is_healthy() {
                    healthy_hidden += 1;
                    continue;
                }
                let title = format!(
                    "{} on {}: {} {}",
                    s.service,
                    h.name,
                    s.cell,
                    zone.since(now_ms, s.since_ms)
                );
                open(
                    out,
                    "span",
                    &[
                        ("class", "chip"),
                        ("data-host", &h.name),
                        ("data-service", svc),
                        ("title", &title),
                    ],
                );
                open(out, "a", &[("href", &href)]);
                state_cell(out, s.cell);
                out.push_str("</a>");
                let host = host_href(&h.environment, &h.name);
                element(
                    out,
                    "a",
                    &[("class", "chip-host"), ("href", &host)],
                    &h.name,
                );
                out.push_str("</span>");
            }
        }
        if healthy_hidden > 0 {
            let _ = write!(
                out,
                "<span class=\"muted small\">+{healthy_hidden} healthy</span>"
            );
        }
        out.push_str("</td></tr>");
    }
    let mut bare = env
        .hosts
        .iter()
        .filter(|h| h.services.is_empty())
        .peekable();
    if bare.peek().is_some() {
        out.push_str(
            "<tr data-service=\"\"><th scope=\"row\" title=\"Hosts without service states: not polled yet, or their Supervisor does not answer\">whole host</th><td class=\"chips\">",
        );
        for h in bare {
            open(
                out,
                "a",
                &[
                    ("class", "chip"),
                    ("href", &host_href(&h.environment, &h.name)),
                    ("data-host", &h.name),
                    ("title", h.last_error.as_deref().unwrap_or_default()),
                ],
            );
            state_cell(out, h.cell);
            element(out, "span", &[("class", "chip-host")], &h.name);
            out.push_str("</a>");
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// The dashboard under its heading: the alarms, then every environment side by side
/// (production first, as the fleet view orders them).
/// Times are in `zone`, the reader's (see [`crate::fmt::zone`]).
pub fn dashboard(fleet: &FleetView, zone: &vocab::Zone) -> String {
    let mut out = String::with_capacity(16 * 1024);
    alarms(&mut out, &fleet.alarms, fleet.now_ms, zone);
    not_alarms(&mut out, fleet);
    unconfigured(&mut out, &fleet.unconfigured);
    out.push_str("<div class=\"env-columns\">");
    for env in &fleet.environments {
        env_grid(&mut out, env, fleet.now_ms, zone, false);
    }
    out.push_str("</div>");
    out
}

/// Under "No alarms", what is not healthy where it is not an alarm (a service failing outside
/// production): a green line must not be all an engineer reads while a grid below shows red.
fn not_alarms(out: &mut String, fleet: &FleetView) {
    if !fleet.alarms.is_empty() {
        return;
    }
    let parts: Vec<String> = fleet
        .environments
        .iter()
        .filter(|e| !e.production)
        .filter_map(|e| {
            let bad: Vec<String> = e
                .counts
                .iter()
                .filter(|(state, n)| !state.is_healthy() && *n > 0)
                .map(|(state, n)| format!("{n} {state}"))
                .collect();
            (!bad.is_empty()).then(|| format!("{}: {}", e.name, bad.join(", ")))
        })
        .collect();
    if parts.is_empty() {
        return;
    }
    out.push_str("<p class=\"alarms-note\" data-testid=\"alarms-note\"><span aria-hidden=\"true\">⚠</span> Not healthy, and not an alarm outside production: ");
    text(out, &parts.join("; "));
    out.push_str(". See the grid below.</p>");
}

/// One line for the instances whose environment tag is not configured: "58 instances tagged
/// `Live` — did you mean `live`?". They are neither shown nor polled, so the line is the only
/// place they appear.
pub fn unconfigured(out: &mut String, tags: &[crate::fleet::UnconfiguredView]) {
    if tags.is_empty() {
        return;
    }
    out.push_str("<p class=\"unconfigured\" data-testid=\"unconfigured\"><span aria-hidden=\"true\">⚑</span> ");
    let parts: Vec<String> = tags
        .iter()
        .map(|t| {
            let noun = if t.instances == 1 {
                "instance"
            } else {
                "instances"
            };
            let mut part = format!(
                "{} {noun} tagged <code>{}</code>",
                t.instances,
                crate::html::escape(&t.tag)
            );
            if let Some(s) = &t.suggestion {
                let _ = write!(
                    part,
                    " — did you mean <code>{}</code>?",
                    crate::html::escape(s)
                );
            }
            part
        })
        .collect();
    out.push_str(&parts.join("; "));
    out.push_str(
        " <span class=\"muted\">Not shown or polled: fix the instances' X-Environment tag, or configure the environment.</span></p>",
    );
}

/// An environment page's alarms and full grid.
pub fn environment(fleet: &FleetView, env: &EnvView, zone: &vocab::Zone) -> String {
    let mut out = String::with_capacity(8 * 1024);
    out.push_str("<div id=\"alarms\">");
    alarms_listed(
        &mut out,
        fleet.alarms.iter().filter(|a| a.environment == env.name),
        fleet.now_ms,
        zone,
        None,
    );
    out.push_str("</div>");
    env_grid(&mut out, env, fleet.now_ms, zone, true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{HostView, ServiceView};

    fn service(name: &str, cell: &str) -> ServiceView {
        serde_json::from_value(serde_json::json!({
            "service": name, "group": "default", "ident": format!("habitat/{name}/1.0.0/1"),
            "release": "1", "process": "up", "health": "Ok", "cell": cell, "since_ms": 0,
        }))
        .expect("a minimal service view")
    }

    fn host(name: &str, services: Vec<ServiceView>) -> HostView {
        serde_json::from_value(serde_json::json!({
            "environment": "live", "name": name, "address": "10.0.0.1", "gateway_port": 9631,
            "labels": [], "cell": "healthy", "reachability": "reachable", "since_ms": 0,
            "services": services,
        }))
        .expect("a minimal host view")
    }

    fn env(hosts: Vec<HostView>, omitted: Option<Vec<(String, usize)>>) -> EnvView {
        EnvView {
            name: "live".to_owned(),
            production: true,
            inventory_source: "static".to_owned(),
            inventory_refreshed_ms: Some(0),
            inventory_error: None,
            counts: vec![(CellState::Critical, 1), (CellState::Healthy, 1)],
            services: vec!["builder-api".to_owned()],
            hosts,
            last_poll_ms: Some(0),
            healthy_omitted: omitted,
        }
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut out = String::new();
        text(&mut out, "<script>alert('x')</script> & \"q\"");
        assert_eq!(out, "&lt;script&gt;alert('x')&lt;/script&gt; &amp; \"q\"");
        out.clear();
        attr(&mut out, "a\"b'c<d>&");
        assert_eq!(out, "a&quot;b&#39;c&lt;d&gt;&amp;");
        out.clear();
        attr(&mut out, "plain-ünïcode");
        assert_eq!(out, "plain-ünïcode");
    }

    #[test]
    fn hostile_host_names_and_errors_stay_text() {
        let mut bad = host("<img src=x onerror=alert(1)>", vec![]);
        bad.cell = CellState::Unreachable;
        bad.last_error = Some("\"><script>x</script>".to_owned());
        let mut out = String::new();
        env_grid(
            &mut out,
            &env(vec![bad], None),
            0,
            &vocab::Zone::utc(),
            false,
        );
        assert!(!out.contains("<img"), "{out}");
        assert!(!out.contains("<script"), "{out}");
        assert!(out.contains("&lt;img src=x onerror=alert(1)&gt;"), "{out}");
        assert!(
            out.contains("title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""),
            "{out}"
        );
        assert!(
            out.contains("%3Cimg%20src%3Dx"),
            "host links are percent-encoded: {out}"
        );
    }

    #[test]
    fn cells_say_their_state_in_a_word_and_an_icon() {
        let hosts = vec![
            host("api-1", vec![service("builder-api", "critical")]),
            host("api-2", vec![service("builder-api", "healthy")]),
        ];
        let mut out = String::new();
        env_grid(&mut out, &env(hosts, None), 0, &vocab::Zone::utc(), false);
        assert!(out.contains("data-host=\"api-1\""));
        assert!(out.contains(
            "<span class=\"state state-critical\" data-state=\"critical\"><span class=\"state-icon\" aria-hidden=\"true\">✖</span> <span class=\"state-word\">critical</span></span>"
        ));
        // A small environment shows every host, the healthy ones too.
        assert!(out.contains("data-host=\"api-2\""));
        assert!(!out.contains("healthy</span>\n"));
        assert!(out.contains("env-panel env-panel-prod"));
        assert!(out.contains("⚠ LIVE"));
    }

    #[test]
    fn large_environments_count_their_healthy_hosts_instead_of_listing_them() {
        let hosts = vec![
            host("api-1", vec![service("builder-api", "critical")]),
            host("api-2", vec![service("builder-api", "healthy")]),
        ];
        let mut out = String::new();
        env_grid(
            &mut out,
            &env(hosts.clone(), Some(vec![("builder-api".to_owned(), 998)])),
            0,
            &vocab::Zone::utc(),
            false,
        );
        assert!(out.contains("data-host=\"api-1\""));
        assert!(!out.contains("data-host=\"api-2\""));
        assert!(out.contains("+999 healthy"), "{out}");
        // The environment page (full) lists every host it has.
        out.clear();
        env_grid(
            &mut out,
            &env(hosts, Some(vec![("builder-api".to_owned(), 998)])),
            0,
            &vocab::Zone::utc(),
            true,
        );
        assert!(out.contains("data-host=\"api-2\""));
        assert!(out.contains("+998 healthy"), "{out}");
    }

    #[test]
    fn a_failing_service_outside_production_is_said_under_no_alarms() {
        let mut acceptance = env(vec![], None);
        acceptance.name = "acceptance".to_owned();
        acceptance.production = false;
        let mut fleet = FleetView {
            version: 1,
            now_ms: 0,
            source: None,
            alarms: vec![],
            environments: vec![acceptance],
            probes: vec![],
            unconfigured: vec![],
        };
        let out = dashboard(&fleet, &vocab::Zone::utc());
        assert!(out.contains("No alarms"), "{out}");
        assert!(
            out.contains("not an alarm outside production: acceptance: 1 critical."),
            "{out}"
        );
        // All healthy: no note.
        fleet.environments[0].counts = vec![(CellState::Healthy, 2)];
        assert!(!dashboard(&fleet, &vocab::Zone::utc()).contains("alarms-note"));
    }

    #[test]
    fn no_alarms_is_said_and_alarms_link_their_environment() {
        let mut out = String::new();
        alarms(&mut out, &[], 0, &vocab::Zone::utc());
        assert!(out.contains("No alarms"));
        out.clear();
        let alarm = AlarmView {
            kind: AlarmKind::VersionDrift,
            environment: "live".to_owned(),
            subject: "builder-api".to_owned(),
            message: "2 releases <in> live".to_owned(),
            since_ms: Some(0),
        };
        alarms(&mut out, [&alarm], 60_000, &vocab::Zone::utc());
        assert!(!out.contains("data-count"));
        assert!(out.contains("data-kind=\"version_drift\""));
        assert!(out.contains("⚠ version drift"));
        assert!(out.contains("href=\"/environments/live\""));
        assert!(out.contains("2 releases &lt;in&gt; live"));
        // An alarm about Onwatch itself belongs to no environment: no link to nowhere.
        out.clear();
        let recovered = AlarmView {
            kind: AlarmKind::ModelRecovered,
            environment: String::new(),
            subject: "Onwatch".to_owned(),
            message: "recovered".to_owned(),
            since_ms: Some(0),
        };
        alarms(&mut out, [&recovered], 0, &vocab::Zone::utc());
        assert!(out.contains("all environments"), "{out}");
        assert!(!out.contains("href=\"/environments/\""), "{out}");
    }

    #[test]
    fn many_alarms_of_one_kind_are_one_line_naming_them_all() {
        let unreachable = |host: &str, since: i64| AlarmView {
            kind: AlarmKind::UnreachableHost,
            environment: "acceptance".to_owned(),
            subject: host.to_owned(),
            message: format!("Supervisor unreachable: {host} <refused>"),
            since_ms: Some(since),
        };
        let many: Vec<AlarmView> = (0..10)
            .map(|i| unreachable(&format!("host-{i:04}"), 1_000 + i))
            .collect();
        let probe = AlarmView {
            kind: AlarmKind::FailingProbe,
            environment: "live".to_owned(),
            subject: "live-depot".to_owned(),
            message: "HTTP 503".to_owned(),
            since_ms: None,
        };
        let mut out = String::new();
        alarms(
            &mut out,
            many.iter().chain([&probe]),
            61_000,
            &vocab::Zone::utc(),
        );
        assert_eq!(out.matches("<li ").count(), 2, "{out}");
        assert!(out.contains("data-count=\"10\""));
        assert!(out.contains("⚠ unreachable host ×10"));
        assert!(out.contains("href=\"/environments/acceptance/hosts/host-0005\""));
        assert!(
            !out.contains("host-0006\""),
            "the dashboard names the first {ALARM_SUBJECTS_SHOWN} only"
        );
        assert!(out.contains(">and 4 more</a>"), "{out}");
        assert!(out.contains("href=\"/environments/acceptance#alarms\""));
        assert!(out.contains("e.g. host-0000: Supervisor unreachable: host-0000 &lt;refused&gt;"));
        assert!(
            out.contains(&crate::fmt::since(61_000, 1_000)),
            "since the earliest"
        );
        // A few of a kind stay one line each.
        out.clear();
        alarms(
            &mut out,
            many.iter().take(ALARM_GROUP_ABOVE),
            61_000,
            &vocab::Zone::utc(),
        );
        assert_eq!(out.matches("<li ").count(), ALARM_GROUP_ABOVE);
        // The environment page lists every subject.
        out.clear();
        alarms_listed(&mut out, many.iter(), 61_000, &vocab::Zone::utc(), None);
        assert!(out.contains("host-0009"));
        assert!(!out.contains("more</a>"));
    }
}

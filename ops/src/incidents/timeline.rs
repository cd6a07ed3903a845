//! One incident's story in time order: its public updates, internal notes, ownership changes,
//! the alarms on its services and the audited actions taken on them while it was open;
//! exportable as Markdown for the post-incident review.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Event, Incident, IncidentOptions, Update};
use crate::change::ledger::ActionTaken;
use crate::store::{Store, StoreError};

/// A service's state change (from the fleet's history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub environment: String,
    pub host: String,
    pub service: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub detail: String,
    pub at_ms: i64,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at_ms: i64,
    /// `public`, `note`, `owner`, `alarm`, `action`
    pub kind: String,
    pub who: String,
    pub text: String,
    /// An action's id (a link), an update's publish state.
    pub reference: String,
}

/// The packages (`builder-api`) of service slugs, for the history's service groups.
fn packages(services: &[String]) -> Vec<String> {
    services
        .iter()
        .filter_map(|s| {
            crate::catalog::SERVICES
                .iter()
                .find(|c| c.slug == s.as_str())
        })
        .map(|c| c.package.to_owned())
        .collect()
}

fn of_package(group: &str, packages: &[String]) -> bool {
    let name = group.split('.').next().unwrap_or(group);
    packages.iter().any(|p| p == name)
}

/// The affected services' state changes in `[from_ms, to_ms)`.
pub async fn transitions(
    store: &Store,
    services: &[String],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Transition>, StoreError> {
    let packages = packages(services);
    let rows = sqlx::query(
        "SELECT environment, host, service, from_state, to_state, detail, at_ms \
         FROM service_transitions WHERE at_ms >= $1 AND at_ms < $2 AND service <> '' \
         ORDER BY at_ms LIMIT 5000",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let service: String = r.try_get(2)?;
        if of_package(&service, &packages) {
            out.push(Transition {
                environment: r.try_get(0)?,
                host: r.try_get(1)?,
                service,
                from_state: r.try_get(3)?,
                to_state: r.try_get(4)?,
                detail: r.try_get(5)?,
                at_ms: r.try_get(6)?,
            });
        }
    }
    Ok(out)
}

/// The actions on the affected services in `[from_ms, to_ms)`.
pub async fn actions(
    store: &Store,
    services: &[String],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<ActionTaken>, StoreError> {
    let packages = packages(services);
    let mut taken = crate::change::ledger::taken_between(store, from_ms, to_ms).await?;
    // A Supervisor restart has no service group: it is on the incident's services when its
    // host runs one of them, which the history cannot say; it is listed by kind instead.
    taken.retain(|a| of_package(&a.service, &packages) || a.kind == "restart_supervisor");
    Ok(taken)
}

/// How far before the declaration the timeline's alarms reach.
pub const LEAD_IN_MS: i64 = 30 * 60_000;

/// Everything about `inc`, merged in time order (ties keep the order of the kinds above).
pub async fn timeline(
    store: &Store,
    inc: &Incident,
    updates: &[Update],
    events: &[Event],
) -> Result<Vec<Entry>, StoreError> {
    let end = inc
        .resolved_ms
        .map(|r| r + 1)
        .unwrap_or(crate::time::now_ms() + 1);
    let mut out: Vec<Entry> = Vec::new();
    for u in updates {
        out.push(Entry {
            at_ms: u.created_ms,
            kind: "public".into(),
            who: u.author.clone(),
            text: format!("{}: {}", u.status.label(), u.body),
            reference: u.publish_state.clone(),
        });
    }
    for e in events {
        let (kind, text) = match e.kind.as_str() {
            "note" => ("note", e.body.clone()),
            "take_charge" => ("owner", format!("{} is taking charge", e.author)),
            "step_away" => (
                "owner",
                format!("{} stepped away: nobody is in charge", e.author),
            ),
            _ => ("owner", format!("{} handed charge to {}", e.author, e.body)),
        };
        out.push(Entry {
            at_ms: e.at_ms,
            kind: kind.into(),
            who: e.author.clone(),
            text,
            reference: String::new(),
        });
    }
    // The alarms from a little before the declaration too: what led to it.
    for t in transitions(store, &inc.services, inc.declared_ms - LEAD_IN_MS, end).await? {
        // A service first seen healthy (Onwatch starting) is not news.
        if t.from_state.is_none() && t.to_state == "healthy" {
            continue;
        }
        out.push(Entry {
            at_ms: t.at_ms,
            kind: "alarm".into(),
            who: "Onwatch".into(),
            text: format!(
                "{}/{} {}: {} → {}{}",
                t.environment,
                t.host,
                t.service,
                t.from_state.as_deref().unwrap_or("—"),
                t.to_state,
                if t.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.detail)
                }
            ),
            reference: String::new(),
        });
    }
    for a in actions(store, &inc.services, inc.declared_ms, end).await? {
        out.push(Entry {
            at_ms: a.requested_ms,
            kind: "action".into(),
            who: a.actor.clone(),
            text: format!(
                "{} {}/{} {}: {} — {}",
                a.kind.replace('_', " "),
                a.environment,
                a.host,
                a.service,
                a.state,
                a.summary
            ),
            reference: a.id,
        });
    }
    out.sort_by_key(|e| e.at_ms);
    Ok(out)
}

/// The timeline as Markdown, for a post-incident review. Every field that came from a person
/// or a machine (the title, names, notes, updates, alarms, actions' summaries, rules) is written
/// as inline text ([`crate::text::markdown_inline`]): it cannot open a link, an image, a tag,
/// a heading, a list item or a code fence, nor break out of its table cell or its line.
pub fn markdown(
    inc: &Incident,
    options: &IncidentOptions,
    entries: &[Entry],
    rules: &[super::RuleBroken],
    zone: &vocab::Zone,
) -> String {
    let text = crate::text::markdown_inline;
    let mut md = format!("# {}\n\n", text(&inc.title));
    md.push_str(&format!(
        "- Impact: {}\n- Status: {}\n- Affected: {}\n- Declared by {} at {}\n",
        text(inc.impact.as_str()),
        text(inc.status.label()),
        text(&super::templates::join_names(&options.names(&inc.services))),
        text(&inc.declared_by),
        zone.date_time(inc.declared_ms),
    ));
    if let Some(r) = inc.resolved_ms {
        md.push_str(&format!(
            "- Resolved at {} (after {})\n",
            zone.date_time(r),
            crate::time::human_age(r - inc.declared_ms)
        ));
    }
    md.push_str(&format!(
        "\n## Timeline\n\nTimes in {}.\n\n| time | what | who | |\n|---|---|---|---|\n",
        text(&zone.name)
    ));
    for e in entries {
        let what = match e.kind.as_str() {
            "public" => "public update",
            "note" => "internal note",
            "owner" => "ownership",
            "alarm" => "alarm",
            _ => "action",
        };
        md.push_str(&format!(
            "| {} | {what} | {} | {} |\n",
            zone.date_time(e.at_ms),
            text(&e.who),
            text(&e.text)
        ));
    }
    if !rules.is_empty() {
        md.push_str("\n## Rules broken\n\n");
        for r in rules {
            md.push_str(&format!(
                "- **{}** — {} (owner {}; {})\n",
                text(&r.rule),
                text(&r.what_done),
                text(&r.owner),
                match r.done_ms {
                    Some(d) => format!("cleaned up {}", zone.date_time(d)),
                    None => "cleanup OPEN".into(),
                }
            ));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{History, Subject, Transition as FleetTransition};

    /// Titles, names, notes, alarms and rules written by people or hosts stay text in the
    /// Markdown export: no link, image, tag, heading, list item, code fence, escape sequence or
    /// bidi override, and no line of their own.
    #[test]
    fn the_markdown_export_writes_hostile_fields_as_text() {
        const HOSTILE: &[&str] = &[
            "[click](javascript:alert(1))",
            "<img src=x onerror=alert(1)>",
            "# heading",
            "```\nfenced",
            "\u{1b}[31mred",
            "gpj\u{202e}exe.txt",
            "ok\n- [x] fake item",
            "a | b",
        ];
        let all = HOSTILE.join(" ");
        let inc = Incident {
            id: "i1".into(),
            title: all.clone(),
            impact: super::super::Impact::Major,
            status: super::super::Status::Investigating,
            services: vec!["api".into()],
            declared_by: all.clone(),
            declared_by_id: String::new(),
            declared_ms: 1_000_000,
            owner: all.clone(),
            owner_id: String::new(),
            owner_since_ms: 1_000_000,
            resolved_ms: None,
            statuspage_id: None,
        };
        let entries: Vec<Entry> = HOSTILE
            .iter()
            .enumerate()
            .map(|(i, h)| Entry {
                at_ms: 1_000_000 + i as i64,
                kind: if i % 2 == 0 { "alarm" } else { "note" }.into(),
                who: (*h).into(),
                text: (*h).into(),
                reference: String::new(),
            })
            .collect();
        let rules = vec![super::super::RuleBroken {
            id: "r1".into(),
            incident_id: Some("i1".into()),
            rule: all.clone(),
            what_done: all.clone(),
            owner: all.clone(),
            created_by: all.clone(),
            created_by_id: String::new(),
            created_ms: 1_000_000,
            done_by: None,
            done_by_id: None,
            done_ms: None,
        }];
        let md = markdown(
            &inc,
            &IncidentOptions::default(),
            &entries,
            &rules,
            &vocab::Zone::utc(),
        );
        for raw in [
            "](", "[click]", "<img", "```", "\u{1b}", "\u{202e}", "- [x]",
        ] {
            assert!(!md.contains(raw), "{raw:?} is in the export:\n{md}");
        }
        // Exactly the lines the export writes itself: no field made one of its own.
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines.len(),
            // 11 lines of head, the zone's line and a blank line, then the table and rules.
            13 + entries.len() + 4,
            "a field broke a line:\n{md}"
        );
        let headings: Vec<&&str> = lines.iter().filter(|l| l.starts_with('#')).collect();
        assert_eq!(headings.len(), 3, "{headings:?}");
        assert!(md.contains("\\# heading"), "{md}");
        assert!(
            lines[0].starts_with("# \\[click\\]\\(javascript:alert\\(1\\)\\) &lt;img"),
            "{md}"
        );
        for row in lines.iter().filter(|l| l.starts_with("| 19")) {
            // time, what, who, text: a `|` of a field is escaped, so five bars in all.
            assert_eq!(
                row.matches('|').count() - row.matches("\\|").count(),
                5,
                "{row}"
            );
        }
        assert!(md.contains("\\- \\[x\\] fake item"), "{md}");
        assert!(md.contains("gpjexe\\.txt"), "{md}");
    }

    /// The alarms from the 30 minutes before the declaration are in (what led to it); older
    /// ones are not.
    #[tokio::test]
    async fn the_timeline_reaches_30_minutes_back_and_no_further() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/store/onwatch.db", dir.path().display());
        let store = Store::open(&url, &Default::default()).await.unwrap();
        let declared = 10_000_000;
        let api = || Subject::service("api-1", "builder-api.live");
        let at = |mins_before: i64, to: &str| {
            FleetTransition::new(
                "live",
                api(),
                Some("healthy"),
                to,
                &format!("{mins_before} min before"),
                declared - mins_before * 60_000,
            )
        };
        History::new(store.clone())
            .record(&[at(31, "critical"), at(29, "down")])
            .await
            .unwrap();
        let inc = Incident {
            id: "i1".into(),
            title: "API down".into(),
            impact: super::super::Impact::Major,
            status: super::super::Status::Investigating,
            services: vec!["api".into()],
            declared_by: "ana".into(),
            declared_by_id: String::new(),
            declared_ms: declared,
            owner: "ana".into(),
            owner_id: String::new(),
            owner_since_ms: declared,
            resolved_ms: Some(declared + 60_000),
            statuspage_id: None,
        };
        let alarms: Vec<String> = timeline(&store, &inc, &[], &[])
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "alarm")
            .map(|e| e.text)
            .collect();
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].contains("29 min before"), "{alarms:?}");
    }
}

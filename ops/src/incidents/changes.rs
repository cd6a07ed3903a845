//! The incidents' recorded changes, each made through [`change::record`]: an incident
//! declared, a public update, an internal note, a change of owner, a rule broken and its
//! cleanup done, an entry of the escalation directory.
//!
//! Each takes the form's fields as text and who sent them. What cannot even be asked (an
//! impact or status that is not one, a malformed component list, a resolution that needs
//! confirming first) is refused before the attempt row; everything after it ends in exactly one
//! outcome row.

use std::collections::BTreeMap;

use serde_json::json;

use super::contacts::{self, Contact};
use super::{ComponentStatus, Declare, Impact, Incident, Incidents, RuleBroken, Status, Update};
use crate::audit::{AuditLog, Event};
use crate::auth::Identity;
use crate::change::{self, Attempt, Done, Error};
use crate::oncall::accounts::Who;

/// The guard that asks for a confirmation first: resolving while an affected service still
/// alarms. Nothing was recorded; the same request with its confirmation goes through.
pub const CONFIRM: &str = "confirm";

/// `a, b,,c` → `["a", "b", "c"]`.
pub fn split(csv: &str) -> Vec<String> {
    csv.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A form error: refused before anything is recorded.
fn form(why: impl Into<String>) -> Error {
    Error::refused("form", why)
}

/// `api=major_outage,router=operational`
pub fn chosen(csv: &str) -> Result<BTreeMap<String, ComponentStatus>, Error> {
    split(csv)
        .into_iter()
        .map(|pair| {
            let (slug, st) = pair
                .split_once('=')
                .ok_or_else(|| form(format!("{pair:?}: a component status is service=status")))?;
            let st = ComponentStatus::parse(st.trim()).ok_or_else(|| {
                form(format!("{st:?} is not a component status (operational, degraded_performance, partial_outage, major_outage)"))
            })?;
            Ok((slug.trim().to_owned(), st))
        })
        .collect()
}

/// Declares an incident; the declarer is in charge.
#[allow(clippy::too_many_arguments)]
pub async fn declare(
    incidents: &Incidents,
    log: &AuditLog,
    who: &Identity,
    title: &str,
    impact: &str,
    services: &str,
    body: &str,
    now_ms: i64,
) -> Result<Incident, Error> {
    let Some(impact) = Impact::parse(impact) else {
        return Err(form(format!(
            "{impact:?}: the impact is none, minor, major or critical."
        )));
    };
    let d = Declare {
        title: title.into(),
        impact,
        services: split(services),
        body: body.into(),
    };
    let attempt = Attempt::new(Event::Incident, "", "declare:attempt").asked(json!({
        "title": title, "impact": impact.as_str(), "services": d.services, "body": body,
    }));
    change::record(log, &who.actor(), attempt, || async {
        let i = incidents.declare_as(&d, &Who::of(who), now_ms).await?;
        let id = i.id.clone();
        Ok(Done::new(i, json!({})).labelled("declared").about(id))
    })
    .await
}

/// A public update. Resolving tells the public everything works: while an affected service
/// still alarms (in `fleet`), it is refused by [`CONFIRM`] (nothing recorded) unless
/// `confirm_alarming`.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    incidents: &Incidents,
    fleet: &crate::fleet::FleetModel,
    log: &AuditLog,
    who: &Identity,
    id: &str,
    status: &str,
    body: &str,
    components: &str,
    confirm_alarming: bool,
    now_ms: i64,
) -> Result<Update, Error> {
    let Some(status) = Status::parse(status) else {
        return Err(form(format!("{status:?} is not a status.")));
    };
    let chosen = chosen(components)?;
    if status == Status::Resolved && !confirm_alarming {
        let services = incidents
            .get(id)
            .await?
            .map(|i| i.services)
            .unwrap_or_default();
        let alarming = super::still_alarming(&services, &fleet.snapshot(now_ms));
        if !alarming.is_empty() {
            return Err(Error::refused(
                CONFIRM,
                format!(
                    "Still alarming: {}. Resolving tells the public everything works again. Resolve anyway?",
                    alarming.join("; ")
                ),
            ));
        }
    }
    let attempt = Attempt::new(Event::Incident, id, "update:attempt").asked(json!({
        "status": status.as_str(), "body": body, "components": components,
    }));
    change::record(log, &who.actor(), attempt, || async {
        let u = incidents
            .update(id, status, body, &chosen, &who.login, now_ms)
            .await?;
        Ok(Done::new(u, json!({ "what": "update" })))
    })
    .await
}

/// An internal note (never public).
pub async fn note(
    incidents: &Incidents,
    log: &AuditLog,
    who: &Identity,
    id: &str,
    body: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let attempt = Attempt::new(Event::Incident, id, "note:attempt").asked(json!({ "body": body }));
    change::record(log, &who.actor(), attempt, || async {
        incidents.note(id, body, &Who::of(who), now_ms).await?;
        Ok(Done::new((), json!({ "what": "note" })))
    })
    .await
}

/// `take` charge, `step_away` (only who is in charge), or `hand` to `to`, who must be someone
/// Onwatch knows: in `known` (people seen signed in, the rotation) or in the directory, so that
/// a mistyped name does not leave the incident to nobody while the page says otherwise.
#[allow(clippy::too_many_arguments)]
pub async fn owner(
    incidents: &Incidents,
    log: &AuditLog,
    who: &Identity,
    id: &str,
    action: &str,
    to: &str,
    known: &[String],
    now_ms: i64,
) -> Result<Incident, Error> {
    let target = match action {
        "take" => Some(who.login.as_str()),
        "step_away" => None,
        "hand" => Some(to.trim()),
        other => return Err(form(format!("{other:?}: take, step_away or hand."))),
    };
    let attempt =
        Attempt::new(Event::Incident, id, format!("{action}:attempt")).asked(json!({ "to": to }));
    change::record(log, &who.actor(), attempt, || async {
        if action == "hand" && !to.trim().eq_ignore_ascii_case(&who.login) {
            let in_directory = contacts::list(incidents.store())
                .await?
                .into_iter()
                .any(|c| c.login.eq_ignore_ascii_case(to.trim()));
            let knows = in_directory || known.iter().any(|l| l.eq_ignore_ascii_case(to.trim()));
            if !knows {
                return Err(Error::refused(
                    "known",
                    format!(
                        "Onwatch does not know {:?}: hand over to someone who has signed in, is in the rotation or in the directory (their login).",
                        to.trim()
                    ),
                ));
            }
        }
        let i = incidents
            .set_owner(id, target, &Who::of(who), now_ms)
            .await?;
        let detail = json!({ "what": action, "owner": i.owner });
        Ok(Done::new(i, detail))
    })
    .await
}

/// Records a rule broken (on `incident`, or on none when it is empty), its cleanup owned by
/// `owner` (blank: the person recording it).
#[allow(clippy::too_many_arguments)]
pub async fn rule_broken(
    incidents: &Incidents,
    log: &AuditLog,
    who: &Identity,
    incident: &str,
    rule: &str,
    what_done: &str,
    owner: &str,
    now_ms: i64,
) -> Result<RuleBroken, Error> {
    let owner = if owner.trim().is_empty() {
        who.login.as_str()
    } else {
        owner
    };
    let attempt = Attempt::new(Event::Incident, incident, "rule_broken:attempt").asked(json!({
        "rule": rule, "what_done": what_done, "owner": owner,
    }));
    change::record(log, &who.actor(), attempt, || async {
        let r = incidents
            .break_rule(
                (!incident.is_empty()).then_some(incident),
                rule,
                what_done,
                owner,
                &Who::of(who),
                now_ms,
            )
            .await?;
        let detail = json!({ "what": "rule_broken", "rule": r.id });
        Ok(Done::new(r, detail))
    })
    .await
}

/// Marks the cleanup of rule broken `id` done.
pub async fn cleanup_done(
    incidents: &Incidents,
    log: &AuditLog,
    who: &Identity,
    id: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let attempt = Attempt::new(Event::Incident, id, "cleanup_done:attempt");
    change::record(log, &who.actor(), attempt, || async {
        incidents.cleanup_done(id, &Who::of(who), now_ms).await?;
        Ok(Done::new((), json!({ "what": "cleanup_done" })))
    })
    .await
}

/// Adds or replaces (or, with `remove`, removes) an entry of the escalation directory.
pub async fn contact(
    incidents: &Incidents,
    log: &AuditLog,
    who: &Identity,
    c: Contact,
    remove: bool,
    now_ms: i64,
) -> Result<(), Error> {
    let what = if remove {
        "contact_removed"
    } else {
        "contact_saved"
    };
    let attempt = Attempt::new(Event::Incident, &c.login, format!("{what}:attempt")).asked(json!({
        "name": c.name, "phone": c.phone, "time_zone": c.time_zone, "areas": c.areas.join(","),
        "seniority": c.seniority,
    }));
    let store = incidents.store();
    change::record(log, &who.actor(), attempt, || async {
        if remove {
            contacts::remove(store, &c.login).await?;
        } else {
            contacts::save(store, &c, &who.login, now_ms).await?;
        }
        Ok(Done::new((), json!({ "what": what })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::oncall::accounts::tests::stores;
    use crate::oncall::changes::tests::{person, rows};

    /// The rule first: only the person in charge steps away, and charge goes only to someone
    /// Onwatch knows. Each refusal is recorded with its guard; the owner does not change.
    #[tokio::test]
    async fn only_the_person_in_charge_steps_away_and_charge_goes_to_someone_known() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let incidents = Incidents::new(store.clone(), Default::default());
            let log = AuditLog::new(store.clone());
            let ana = person(&store, "github", "1", "ana", Role::Responder).await;
            let bo = person(&store, "github", "2", "bo", Role::Responder).await;
            let i = declare(
                &incidents,
                &log,
                &ana,
                "Builder API errors",
                "major",
                "api",
                "We are looking into errors.",
                1_000,
            )
            .await
            .unwrap();
            assert_eq!(i.owner, "ana");
            let e = owner(&incidents, &log, &bo, &i.id, "step_away", "", &[], 2_000)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("owner"), "{e}");
            let e = owner(
                &incidents,
                &log,
                &ana,
                &i.id,
                "hand",
                "zed",
                &["bo".into()],
                2_000,
            )
            .await
            .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("known"), "{e}");
            assert_eq!(incidents.get(&i.id).await.unwrap().unwrap().owner, "ana");
            let e = owner(&incidents, &log, &ana, &i.id, "grab", "", &[], 2_000)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("form"));

            let handed = owner(
                &incidents,
                &log,
                &ana,
                &i.id,
                "hand",
                "bo",
                &["bo".into()],
                3_000,
            )
            .await
            .unwrap();
            assert_eq!(handed.owner, "bo");
            let r = rows(&store, Event::Incident).await;
            let seen: Vec<(&str, &str)> = r.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
            assert_eq!(
                seen,
                [
                    ("", "declare:attempt"),
                    (i.id.as_str(), "declared"),
                    (i.id.as_str(), "step_away:attempt"),
                    (i.id.as_str(), "refused"),
                    (i.id.as_str(), "hand:attempt"),
                    (i.id.as_str(), "refused"),
                    (i.id.as_str(), "hand:attempt"),
                    (i.id.as_str(), "done"),
                ]
            );
            assert_eq!(r[3].2["guard"], "owner");
            assert_eq!(r[7].2, json!({ "what": "hand", "owner": "bo" }));
        }
    }

    /// Resolving while a service alarms asks first (nothing recorded); an update to a resolved
    /// incident is refused and recorded so.
    #[tokio::test]
    async fn updates_move_forward_and_a_resolved_incident_takes_none() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let incidents = Incidents::new(store.clone(), Default::default());
            let fleet = crate::fleet::FleetModel::new(crate::fleet::ModelOptions {
                environments: Vec::new(),
                stale_after_ms: 60_000,
            });
            let log = AuditLog::new(store.clone());
            let ana = person(&store, "github", "1", "ana", Role::Responder).await;
            let i = declare(
                &incidents, &log, &ana, "Slow", "minor", "api", "Slow.", 1_000,
            )
            .await
            .unwrap();
            let e = update(
                &incidents, &fleet, &log, &ana, &i.id, "later", "x", "", false, 2_000,
            )
            .await
            .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("form"));
            update(
                &incidents, &fleet, &log, &ana, &i.id, "resolved", "Fixed.", "", false, 2_000,
            )
            .await
            .unwrap();
            let e = update(
                &incidents, &fleet, &log, &ana, &i.id, "resolved", "Again.", "", true, 3_000,
            )
            .await
            .unwrap_err();
            assert_eq!(
                e.refusal().map(|r| r.guard.as_str()),
                Some("resolved"),
                "{e}"
            );
            let r = rows(&store, Event::Incident).await;
            let seen: Vec<&str> = r.iter().map(|r| r.1.as_str()).collect();
            assert_eq!(
                seen,
                [
                    "declare:attempt",
                    "declared",
                    "update:attempt",
                    "done",
                    "update:attempt",
                    "refused"
                ]
            );
        }
    }
}

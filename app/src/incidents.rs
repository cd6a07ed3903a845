//! The incidents pages' data and server functions (`ops::incidents`): declare, preview, update,
//! note, take charge, hand over, step away, rules broken, whom to call, the directory.

// A form's fields are a server function's arguments (the macro expands to a client function of
// the same shape, where an attribute on the function does not reach).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::oncall::Done;

/// An open incident as every page's header shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenView {
    pub id: String,
    pub title: String,
    /// `""`: nobody is in charge.
    pub owner: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub impact: String,
    pub status: String,
    pub services: Vec<String>,
    pub owner: String,
    pub declared: String,
    pub resolved: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    pub id: String,
    pub incident_id: Option<String>,
    pub rule: String,
    pub what_done: String,
    pub owner: String,
    pub created: String,
    pub done: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    pub login: String,
    pub name: String,
    pub phone: String,
    pub time_zone: String,
    pub areas: Vec<String>,
    pub seniority: i64,
    pub local_time: String,
    pub awake: bool,
    pub knows: Vec<String>,
    pub more_senior: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentsBoard {
    pub open: Vec<IncidentRow>,
    pub recent: Vec<IncidentRow>,
    /// Whether updates go to Statuspage (else they stay in Onwatch).
    pub publishes: bool,
    /// (slug, public name) of every service.
    pub services: Vec<(String, String)>,
    pub may_declare: bool,
    pub is_admin: bool,
    pub my_cleanups: Vec<RuleView>,
    pub contacts: Vec<ContactView>,
}

/// Exactly what the public will read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    pub title: String,
    pub status: String,
    pub body: String,
    /// (public name, status label)
    pub components: Vec<(String, String)>,
    /// "on status.habitat.sh through Statuspage" or "in Onwatch only".
    pub destination: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateView {
    pub seq: i64,
    pub status: String,
    pub body: String,
    pub author: String,
    pub at: String,
    /// `local`, `queued`, `published`, `refused`
    pub publish_state: String,
    pub last_error: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub at: String,
    pub kind: String,
    pub who: String,
    pub text: String,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentView {
    pub row: IncidentRow,
    pub owner_since: String,
    pub me: String,
    /// The signed-in account is the one in charge.
    pub in_charge: bool,
    pub may_act: bool,
    pub publishes: bool,
    pub updates: Vec<UpdateView>,
    pub timeline: Vec<EntryView>,
    pub rules: Vec<RuleView>,
    pub reminder: Option<String>,
    pub call: Vec<ContactView>,
    /// The statuses an update may move to, with their template message.
    pub next: Vec<(String, String)>,
    /// (slug, public name, suggested component status) for the update form.
    pub components: Vec<(String, String, String)>,
}

#[server(prefix = "/api/read", endpoint = "incidents")]
pub async fn load_incidents() -> Result<IncidentsBoard, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    ssr::board(&portal, &who).await.map_err(ServerFnError::new)
}

#[server(prefix = "/api/read", endpoint = "incident")]
pub async fn load_incident(id: String) -> Result<Option<IncidentView>, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    ssr::incident(&portal, &who, &id)
        .await
        .map_err(ServerFnError::new)
}

/// The template message of a status for some services.
#[server(prefix = "/api/read", endpoint = "incident-template")]
pub async fn incident_template(status: String, services: String) -> Result<String, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let status = ops::incidents::Status::parse(&status)
        .ok_or_else(|| ServerFnError::new(format!("{status:?} is not a status")))?;
    let names = portal.incidents.options.names(&ssr::split(&services));
    Ok(ops::incidents::templates::message(status, &names))
}

/// What the public will read: a declaration (`incident` empty) or an update of `incident`.
#[server(prefix = "/api/read", endpoint = "incident-preview")]
pub async fn incident_preview(
    #[server(default)] incident: String,
    #[server(default)] title: String,
    #[server(default)] impact: String,
    #[server(default)] services: String,
    status: String,
    body: String,
    #[server(default)] components: String,
) -> Result<PreviewView, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    ssr::preview(
        &portal,
        &incident,
        &title,
        &impact,
        &services,
        &status,
        &body,
        &components,
    )
    .await
    .map_err(ServerFnError::new)
}

#[server(prefix = "/api/act", endpoint = "incident-declare")]
pub async fn declare_incident(
    title: String,
    impact: String,
    services: String,
    body: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::declare(&portal, &who, &title, &impact, &services, &body).await)
}

/// A public update: `components` is `slug=status` pairs, comma-separated.
#[server(prefix = "/api/act", endpoint = "incident-update")]
pub async fn update_incident(
    id: String,
    status: String,
    body: String,
    #[server(default)] components: String,
    #[server(default)] confirm_alarming: bool,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::update(
        &portal,
        &who,
        &id,
        &status,
        &body,
        &components,
        confirm_alarming,
    )
    .await)
}

/// An internal note (never public).
#[server(prefix = "/api/act", endpoint = "incident-note")]
pub async fn incident_note(id: String, body: String) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::note(&portal, &who, &id, &body).await)
}

/// `take` (I'm taking charge), `step_away`, or `hand` to `to`.
#[server(prefix = "/api/act", endpoint = "incident-owner")]
pub async fn incident_owner(
    id: String,
    action: String,
    #[server(default)] to: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::owner(&portal, &who, &id, &action, &to).await)
}

/// A rule broken (on an incident, or `incident` empty), or `done` = the cleanup of `id` is done.
#[server(prefix = "/api/act", endpoint = "rule-broken")]
pub async fn rule_broken(
    #[server(default)] incident: String,
    #[server(default)] rule: String,
    #[server(default)] what_done: String,
    #[server(default)] owner: String,
    #[server(default)] done: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::rule(&portal, &who, &incident, &rule, &what_done, &owner, &done).await)
}

/// Adds or replaces (or with `remove`, removes) a contact of the escalation directory.
#[server(prefix = "/api/admin", endpoint = "contact")]
pub async fn save_contact(
    login: String,
    #[server(default)] name: String,
    #[server(default)] phone: String,
    #[server(default)] time_zone: String,
    #[server(default)] areas: String,
    #[server(default)] seniority: i64,
    #[server(default)] remove: bool,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Admin)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::contact(
        &portal, &who, login, name, phone, time_zone, areas, seniority, remove,
    )
    .await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use std::collections::BTreeMap;

    use super::*;
    use crate::oncall::ssr::refused;
    use crate::portal::Portal;
    use ops::auth::Identity;
    use ops::incidents::changes;
    use ops::incidents::{contacts, templates, ComponentStatus, Impact, Incident, Status};
    use ops::oncall::Who;

    pub use ops::incidents::changes::split;

    /// `api=major_outage,router=operational`
    fn chosen(csv: &str) -> Result<BTreeMap<String, ComponentStatus>, String> {
        changes::chosen(csv).map_err(|e| e.to_string())
    }

    pub fn open_views(portal: &Portal) -> Vec<OpenView> {
        portal
            .incidents
            .open_now()
            .into_iter()
            .map(|o| OpenView {
                id: o.id,
                title: o.title,
                owner: o.owner,
                status: o.status.as_str().into(),
            })
            .collect()
    }

    fn row(i: &Incident) -> IncidentRow {
        IncidentRow {
            id: i.id.clone(),
            title: i.title.clone(),
            impact: i.impact.as_str().into(),
            status: i.status.as_str().into(),
            services: i.services.clone(),
            owner: i.owner.clone(),
            declared: crate::fmt::date_time(i.declared_ms),
            resolved: i.resolved_ms.map(crate::fmt::date_time),
        }
    }

    fn rule_view(r: ops::incidents::RuleBroken) -> RuleView {
        RuleView {
            id: r.id,
            incident_id: r.incident_id,
            rule: r.rule,
            what_done: r.what_done,
            owner: r.owner,
            created: crate::fmt::date_time(r.created_ms),
            done: r.done_ms.map(|d| {
                format!(
                    "{} by {}",
                    crate::fmt::date_time(d),
                    r.done_by.unwrap_or_default()
                )
            }),
        }
    }

    fn contact_view(r: contacts::Ranked) -> ContactView {
        ContactView {
            login: r.contact.login,
            name: r.contact.name,
            phone: r.contact.phone,
            time_zone: r.contact.time_zone,
            areas: r.contact.areas,
            seniority: r.contact.seniority,
            local_time: r.local_time,
            awake: r.awake,
            knows: r.knows,
            more_senior: r.more_senior,
        }
    }

    pub async fn board(portal: &Portal, who: &Identity) -> Result<IncidentsBoard, String> {
        let inc = &portal.incidents;
        let open = inc.list(true, 100).await.map_err(|e| e.to_string())?;
        let recent = inc.list(false, 30).await.map_err(|e| e.to_string())?;
        let everyone = contacts::list(inc.store())
            .await
            .map_err(|e| e.to_string())?;
        Ok(IncidentsBoard {
            open: open.iter().map(row).collect(),
            recent: recent
                .iter()
                .filter(|i| i.resolved_ms.is_some())
                .map(row)
                .collect(),
            publishes: inc.publishes(),
            services: ops::catalog::SERVICES
                .iter()
                .map(|s| (s.slug.to_owned(), inc.options.component(s.slug).name))
                .collect(),
            may_declare: who.role.allows(vocab::Role::Responder),
            is_admin: who.role.allows(vocab::Role::Admin),
            my_cleanups: inc
                .rules(None, Some(&who.login))
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(rule_view)
                .collect(),
            contacts: contacts::rank(&everyone, &[], "", ops::time::now_ms())
                .into_iter()
                .map(contact_view)
                .collect(),
        })
    }

    pub async fn incident(
        portal: &Portal,
        who: &Identity,
        id: &str,
    ) -> Result<Option<IncidentView>, String> {
        let inc = &portal.incidents;
        let Some(i) = inc.get(id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let updates = inc.updates(id).await.map_err(|e| e.to_string())?;
        let events = inc.events(id).await.map_err(|e| e.to_string())?;
        let entries = ops::incidents::timeline::timeline(inc.store(), &i, &updates, &events)
            .await
            .map_err(|e| e.to_string())?;
        let everyone = contacts::list(inc.store())
            .await
            .map_err(|e| e.to_string())?;
        let names = inc.options.names(&i.services);
        let in_charge = !i.owner.is_empty()
            && ops::oncall::accounts::is(inc.store(), &Who::of(who), &i.owner, Some(&i.owner_id))
                .await
                .map_err(|e| e.to_string())?;
        Ok(Some(IncidentView {
            in_charge,
            owner_since: crate::fmt::date_time(i.owner_since_ms),
            me: who.login.clone(),
            may_act: who.role.allows(vocab::Role::Responder),
            publishes: inc.publishes(),
            updates: updates
                .into_iter()
                .map(|u| UpdateView {
                    seq: u.seq,
                    status: u.status.as_str().into(),
                    body: u.body,
                    author: u.author,
                    at: crate::fmt::date_time(u.created_ms),
                    publish_state: u.publish_state,
                    last_error: u.last_error,
                })
                .collect(),
            timeline: entries
                .into_iter()
                .map(|e| EntryView {
                    at: crate::fmt::date_time(e.at_ms),
                    kind: e.kind,
                    who: e.who,
                    text: e.text,
                    reference: e.reference,
                })
                .collect(),
            rules: inc
                .rules(Some(id), None)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(rule_view)
                .collect(),
            reminder: inc.reminder(&i).await.map_err(|e| e.to_string())?,
            call: contacts::rank(&everyone, &i.services, &who.login, ops::time::now_ms())
                .into_iter()
                .map(contact_view)
                .collect(),
            next: Status::ALL
                .into_iter()
                .filter(|s| *s >= i.status)
                .map(|s| (s.as_str().to_owned(), templates::message(s, &names)))
                .collect(),
            components: i
                .services
                .iter()
                .map(|s| {
                    (
                        s.clone(),
                        inc.options.component(s).name,
                        templates::component_status(i.status, i.impact)
                            .as_str()
                            .to_owned(),
                    )
                })
                .collect(),
            row: row(&i),
        }))
    }

    pub async fn preview(
        portal: &Portal,
        incident: &str,
        title: &str,
        impact: &str,
        services: &str,
        status: &str,
        body: &str,
        components: &str,
    ) -> Result<PreviewView, String> {
        let inc = &portal.incidents;
        let status = Status::parse(status).ok_or_else(|| format!("{status:?} is not a status"))?;
        let (title, impact, services) = if incident.is_empty() {
            (
                title.trim().to_owned(),
                Impact::parse(impact).ok_or_else(|| format!("{impact:?} is not an impact"))?,
                split(services),
            )
        } else {
            let i = inc
                .get(incident)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("No incident {incident}."))?;
            (i.title, i.impact, i.services)
        };
        let statuses = inc.component_statuses(&services, status, impact, &chosen(components)?);
        Ok(PreviewView {
            title,
            status: status.label().into(),
            body: body.trim().to_owned(),
            components: statuses
                .iter()
                .map(|(s, st)| (inc.options.component(s).name, st.label().to_owned()))
                .collect(),
            destination: if inc.publishes() {
                "the public status page, through Statuspage".into()
            } else {
                "Onwatch only: no status page is configured ([incidents.statuspage])".into()
            },
        })
    }

    pub async fn declare(
        portal: &Portal,
        who: &Identity,
        title: &str,
        impact: &str,
        services: &str,
        body: &str,
    ) -> Done {
        let now_ms = ops::time::now_ms();
        let inc = &portal.incidents;
        match changes::declare(
            inc,
            &portal.audit,
            who,
            title,
            impact,
            services,
            body,
            now_ms,
        )
        .await
        {
            Ok(i) => Done::of(true, i.id),
            Err(e) => refused(e),
        }
    }

    pub async fn update(
        portal: &Portal,
        who: &Identity,
        id: &str,
        status: &str,
        body: &str,
        components: &str,
        confirm_alarming: bool,
    ) -> Done {
        let now_ms = ops::time::now_ms();
        let result = changes::update(
            &portal.incidents,
            &portal.fleet,
            &portal.audit,
            who,
            id,
            status,
            body,
            components,
            confirm_alarming,
            now_ms,
        )
        .await;
        match result {
            Ok(u) => Done::of(
                true,
                match u.publish_state.as_str() {
                    "queued" => "Saved; on its way to the status page.".to_owned(),
                    _ => "Saved (in Onwatch only: no status page is configured).".to_owned(),
                },
            ),
            // Nothing changed: the person is asked again, with what alarms named.
            Err(ops::change::Error::Refused(r)) if r.guard == changes::CONFIRM => Done::ask(r.why),
            Err(e) => refused(e),
        }
    }

    pub async fn note(portal: &Portal, who: &Identity, id: &str, body: &str) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::note(&portal.incidents, &portal.audit, who, id, body, now_ms).await {
            Ok(()) => Done::of(true, "Internal note saved (never public)."),
            Err(e) => refused(e),
        }
    }

    /// Everyone Onwatch knows by login apart from the directory (which `ops` reads itself):
    /// people seen signed in, the rotation.
    async fn known(portal: &Portal) -> Result<Vec<String>, ops::change::Error> {
        let mut known: Vec<String> = portal
            .onboarding
            .people()
            .await?
            .into_iter()
            .map(|p| p.login)
            .collect();
        if let Some(r) = &portal.oncall.rotation {
            known.extend(r.members().iter().cloned());
        }
        Ok(known)
    }

    pub async fn owner(portal: &Portal, who: &Identity, id: &str, action: &str, to: &str) -> Done {
        let known = if action == "hand" {
            match known(portal).await {
                Ok(k) => k,
                Err(e) => return refused(e),
            }
        } else {
            Vec::new()
        };
        let now_ms = ops::time::now_ms();
        let inc = &portal.incidents;
        match changes::owner(inc, &portal.audit, who, id, action, to, &known, now_ms).await {
            Ok(i) if i.owner.is_empty() => Done::of(
                true,
                "You stepped away: nobody is in charge until someone takes it.",
            ),
            Ok(i) => Done::of(true, format!("{} is in charge.", i.owner)),
            Err(e) => refused(e),
        }
    }

    pub async fn rule(
        portal: &Portal,
        who: &Identity,
        incident: &str,
        rule: &str,
        what_done: &str,
        owner: &str,
        cleanup_done: &str,
    ) -> Done {
        let now = ops::time::now_ms();
        let (inc, log) = (&portal.incidents, &portal.audit);
        if !cleanup_done.is_empty() {
            return match changes::cleanup_done(inc, log, who, cleanup_done, now).await {
                Ok(()) => Done::of(true, "Cleanup done."),
                Err(e) => refused(e),
            };
        }
        match changes::rule_broken(inc, log, who, incident, rule, what_done, owner, now).await {
            Ok(r) => Done::of(
                true,
                format!("Recorded; the cleanup is {}'s until marked done.", r.owner),
            ),
            Err(e) => refused(e),
        }
    }

    pub async fn contact(
        portal: &Portal,
        who: &Identity,
        login: String,
        name: String,
        phone: String,
        time_zone: String,
        areas: String,
        seniority: i64,
        remove: bool,
    ) -> Done {
        let c = contacts::Contact {
            login,
            name,
            phone,
            time_zone,
            areas: split(&areas),
            seniority,
        };
        let now_ms = ops::time::now_ms();
        match changes::contact(&portal.incidents, &portal.audit, who, c, remove, now_ms).await {
            Ok(()) => Done::of(true, if remove { "Removed." } else { "Saved." }),
            Err(e) => refused(e),
        }
    }
}

//! Incidents, as the runbook's communication rules: declare the operational issue on the status
//! page, say who is taking charge and when they step away, keep the status page current (only
//! when something material changed), escalate early, and clean up any rule that was broken.
//!
//! Public updates are kept in the store before anything is sent, and sent in order by
//! [`statuspage::Publisher`] when a Statuspage page is configured; without one they stay in
//! Onwatch and the pages say so.

pub mod changes;
pub mod contacts;
pub mod statuspage;
pub mod templates;
pub mod timeline;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::change::{self, Error, Refusal};
use crate::oncall::accounts::{self, Who};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Impact> {
        Some(match s {
            "none" => Impact::None,
            "minor" => Impact::Minor,
            "major" => Impact::Major,
            "critical" => Impact::Critical,
            _ => return None,
        })
    }
}

/// Statuspage's incident statuses, in their order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Investigating,
        Status::Identified,
        Status::Monitoring,
        Status::Resolved,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Identified => "identified",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
        }
    }
    /// As the status page shows it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Investigating => "Investigating",
            Status::Identified => "Identified",
            Status::Monitoring => "Monitoring",
            Status::Resolved => "Resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Statuspage's component statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 4] = [
        ComponentStatus::Operational,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }
    pub fn parse(s: &str) -> Option<ComponentStatus> {
        ComponentStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A status-page component a service maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Statuspage's component id (empty: the component is named in messages, not set there).
    #[serde(default)]
    pub id: String,
    /// Its public name ("Builder API").
    pub name: String,
}

/// `[incidents]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentOptions {
    /// Service slug (`api`, `router`, …) → its status-page component. A service not listed is
    /// named by its title in the catalogue and sets no component.
    #[serde(default)]
    pub components: BTreeMap<String, Component>,
    #[serde(default)]
    pub statuspage: Option<statuspage::StatuspageOptions>,
}

impl IncidentOptions {
    /// The component of a service (configured, or its catalogue title).
    pub fn component(&self, slug: &str) -> Component {
        self.components
            .get(slug)
            .cloned()
            .unwrap_or_else(|| Component {
                id: String::new(),
                name: crate::catalog::SERVICES
                    .iter()
                    .find(|s| s.slug == slug)
                    .map(|s| format!("the {}", s.title))
                    .unwrap_or_else(|| slug.to_owned()),
            })
    }

    /// The public names of the services' components, each once (two services may share one
    /// component, as the scheduler and jobsrv share "package builds").
    pub fn names(&self, services: &[String]) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for s in services {
            let n = self.component(s).name;
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub impact: Impact,
    pub status: Status,
    pub services: Vec<String>,
    pub declared_by: String,
    /// The declarer's account (`github:1234`); empty when not known.
    #[serde(default)]
    pub declared_by_id: String,
    pub declared_ms: i64,
    /// `""`: nobody is in charge.
    pub owner: String,
    /// The account in charge: who took charge, or the account that first signed in as the
    /// login it was handed to; empty when nobody is or it is not known.
    #[serde(default)]
    pub owner_id: String,
    pub owner_since_ms: i64,
    pub resolved_ms: Option<i64>,
    pub statuspage_id: Option<String>,
}

/// A public update, with where it is on its way to the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub id: String,
    pub incident_id: String,
    pub seq: i64,
    pub status: Status,
    pub body: String,
    pub components: BTreeMap<String, ComponentStatus>,
    pub author: String,
    pub created_ms: i64,
    /// `local`, `queued`, `published`, `refused`
    pub publish_state: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: String,
    pub published_ms: Option<i64>,
}

/// An internal note or an ownership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub incident_id: String,
    /// `note`, `take_charge`, `step_away`, `hand_over`
    pub kind: String,
    pub author: String,
    #[serde(default)]
    pub author_id: String,
    pub body: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleBroken {
    pub id: String,
    pub incident_id: Option<String>,
    pub rule: String,
    pub what_done: String,
    pub owner: String,
    pub created_by: String,
    #[serde(default)]
    pub created_by_id: String,
    pub created_ms: i64,
    pub done_by: Option<String>,
    #[serde(default)]
    pub done_by_id: Option<String>,
    pub done_ms: Option<i64>,
}

/// What someone declares.
#[derive(Debug, Clone)]
pub struct Declare {
    pub title: String,
    pub impact: Impact,
    pub services: Vec<String>,
    pub body: String,
}

/// What every page's header shows of the open incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncident {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub status: Status,
}

const INCIDENT_COLUMNS: &str = "id, title, impact, status, services, declared_by, declared_ms, \
                                owner, owner_since_ms, resolved_ms, statuspage_id, \
                                declared_by_id, owner_id";
const UPDATE_COLUMNS: &str = "id, incident_id, seq, status, body, components, author, created_ms, \
                              publish_state, attempts, next_attempt_ms, last_error, published_ms";

fn incident_from(r: &sqlx::any::AnyRow) -> Result<Incident, sqlx::Error> {
    let services: String = r.try_get(4)?;
    Ok(Incident {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        impact: Impact::parse(&r.try_get::<String, _>(2)?).unwrap_or(Impact::Minor),
        status: Status::parse(&r.try_get::<String, _>(3)?).unwrap_or(Status::Investigating),
        services: serde_json::from_str(&services).unwrap_or_default(),
        declared_by: r.try_get(5)?,
        declared_ms: r.try_get(6)?,
        owner: r.try_get(7)?,
        owner_since_ms: r.try_get(8)?,
        resolved_ms: r.try_get(9)?,
        statuspage_id: r.try_get(10)?,
        declared_by_id: r.try_get(11)?,
        owner_id: r.try_get(12)?,
    })
}

pub(crate) fn update_from(r: &sqlx::any::AnyRow) -> Result<Update, sqlx::Error> {
    let components: String = r.try_get(5)?;
    Ok(Update {
        id: r.try_get(0)?,
        incident_id: r.try_get(1)?,
        seq: r.try_get(2)?,
        status: Status::parse(&r.try_get::<String, _>(3)?).unwrap_or(Status::Investigating),
        body: r.try_get(4)?,
        components: serde_json::from_str(&components).unwrap_or_default(),
        author: r.try_get(6)?,
        created_ms: r.try_get(7)?,
        publish_state: r.try_get(8)?,
        attempts: r.try_get(9)?,
        next_attempt_ms: r.try_get(10)?,
        last_error: r.try_get(11)?,
        published_ms: r.try_get(12)?,
    })
}

fn rule_from(r: &sqlx::any::AnyRow) -> Result<RuleBroken, sqlx::Error> {
    Ok(RuleBroken {
        id: r.try_get(0)?,
        incident_id: r.try_get(1)?,
        rule: r.try_get(2)?,
        what_done: r.try_get(3)?,
        owner: r.try_get(4)?,
        created_by: r.try_get(5)?,
        created_ms: r.try_get(6)?,
        done_by: r.try_get(7)?,
        done_ms: r.try_get(8)?,
        created_by_id: r.try_get(9)?,
        done_by_id: r.try_get(10)?,
    })
}

const RULE_COLUMNS: &str = "id, incident_id, rule, what_done, owner, created_by, created_ms, \
                            done_by, done_ms, created_by_id, done_by_id";

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", &crate::auth::random_token()[..20])
}

fn text(what: &str, s: &str, max: usize) -> Result<String, Error> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::refused("text", format!("{what} is empty.")));
    }
    if t.chars().count() > max {
        return Err(Error::refused(
            "text",
            format!("{what} is longer than {max} characters."),
        ));
    }
    Ok(t.to_owned())
}

/// An internal note or an ownership change, in `tx`.
async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    incident: &str,
    kind: &str,
    by: &Who,
    body: &str,
    now_ms: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO incident_events (id, incident_id, kind, author, body, at_ms, author_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id("e"))
    .bind(incident)
    .bind(kind)
    .bind(&by.login)
    .bind(body)
    .bind(now_ms)
    .bind(&by.account)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The incidents in the store.
#[derive(Clone)]
pub struct Incidents {
    store: Store,
    pub options: IncidentOptions,
    open: std::sync::Arc<std::sync::RwLock<Vec<OpenIncident>>>,
    /// Wakes the status-page publisher when an update is queued.
    pub kick: std::sync::Arc<tokio::sync::Notify>,
}

impl Incidents {
    pub fn new(store: Store, options: IncidentOptions) -> Incidents {
        Incidents {
            store,
            options,
            open: Default::default(),
            kick: Default::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether updates go to a status page.
    pub fn publishes(&self) -> bool {
        self.options.statuspage.is_some()
    }

    /// The open incidents as last read (every page's header).
    pub fn open_now(&self) -> Vec<OpenIncident> {
        self.open.read().map(|o| o.clone()).unwrap_or_default()
    }

    /// Reads the open incidents again for the header.
    pub async fn refresh_open(&self) -> Result<(), StoreError> {
        let open: Vec<OpenIncident> = self
            .list(true, 100)
            .await?
            .into_iter()
            .map(|i| OpenIncident {
                id: i.id,
                title: i.title,
                owner: i.owner,
                status: i.status,
            })
            .collect();
        if let Ok(mut o) = self.open.write() {
            *o = open;
        }
        Ok(())
    }

    /// The incidents, newest first (only the open ones with `open_only`).
    pub async fn list(&self, open_only: bool, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ($1 = 0 OR resolved_ms IS NULL) \
             ORDER BY declared_ms DESC LIMIT $2"
        ))
        .bind(i64::from(open_only))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .iter()
            .map(incident_from)
            .collect::<Result<_, sqlx::Error>>()?)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(incident_from).transpose()?)
    }

    pub async fn updates(&self, incident: &str) -> Result<Vec<Update>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {UPDATE_COLUMNS} FROM incident_updates WHERE incident_id = $1 ORDER BY seq"
        ))
        .bind(incident)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(update_from).collect::<Result<_, _>>()?)
    }

    pub async fn events(&self, incident: &str) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, incident_id, kind, author, body, at_ms, author_id FROM incident_events \
             WHERE incident_id = $1 ORDER BY at_ms, id",
        )
        .bind(incident)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Event {
                    id: r.try_get(0)?,
                    incident_id: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    author: r.try_get(3)?,
                    body: r.try_get(4)?,
                    at_ms: r.try_get(5)?,
                    author_id: r.try_get(6)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    fn check_services(&self, services: &[String]) -> Result<(), Error> {
        if services.is_empty() {
            return Err(Error::refused(
                "services",
                "Choose at least one affected service.",
            ));
        }
        if let Some(s) = services.iter().find(|s| {
            !crate::catalog::SERVICES
                .iter()
                .any(|c| c.slug == s.as_str())
        }) {
            return Err(Error::refused(
                "services",
                format!("{s:?} is not one of the Builder services."),
            ));
        }
        Ok(())
    }

    /// The component statuses an update sets: each affected service's component, at the
    /// status its impact suggests unless `chosen` says otherwise.
    pub fn component_statuses(
        &self,
        services: &[String],
        status: Status,
        impact: Impact,
        chosen: &BTreeMap<String, ComponentStatus>,
    ) -> BTreeMap<String, ComponentStatus> {
        services
            .iter()
            .map(|s| {
                let st = chosen
                    .get(s)
                    .copied()
                    .unwrap_or_else(|| templates::component_status(status, impact));
                (s.clone(), st)
            })
            .collect()
    }

    /// Declares an incident for `by`, a login whose account is not known (tools, tests): see
    /// [`Incidents::declare_as`].
    pub async fn declare(&self, d: &Declare, by: &str, now_ms: i64) -> Result<Incident, Error> {
        self.declare_as(d, &Who::login_only(by), now_ms).await
    }

    /// Declares an incident with its first public update (queued for the status page when
    /// one is configured). The declarer is in charge.
    pub async fn declare_as(&self, d: &Declare, who: &Who, now_ms: i64) -> Result<Incident, Error> {
        let by = who.login.as_str();
        let title = text("The title", &d.title, 200)?;
        let body = text("The first message", &d.body, 5000)?;
        self.check_services(&d.services)?;
        let id = new_id("i");
        let components = self.component_statuses(
            &d.services,
            Status::Investigating,
            d.impact,
            &BTreeMap::new(),
        );
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO incidents (id, title, impact, status, services, declared_by, declared_ms, \
             owner, owner_since_ms, declared_by_id, owner_id) \
             VALUES ($1, $2, $3, 'investigating', $4, $5, $6, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(&title)
        .bind(d.impact.as_str())
        .bind(serde_json::to_string(&d.services).unwrap_or_default())
        .bind(by)
        .bind(now_ms)
        .bind(&who.account)
        .execute(&mut *tx)
        .await
        ?;
        self.insert_update(
            &mut tx,
            &id,
            0,
            Status::Investigating,
            &body,
            &components,
            by,
            now_ms,
        )
        .await?;
        insert_event(&mut tx, &id, "take_charge", who, "", now_ms).await?;
        tx.commit().await?;
        self.kick.notify_one();
        if let Err(e) = self.refresh_open().await {
            tracing::warn!(error = %e, "the open incidents could not be read again");
        }
        self.get(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the incident vanished".into()).into())
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_update(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        incident: &str,
        seq: i64,
        status: Status,
        body: &str,
        components: &BTreeMap<String, ComponentStatus>,
        by: &str,
        now_ms: i64,
    ) -> Result<String, Error> {
        let id = new_id("u");
        let state = if self.publishes() { "queued" } else { "local" };
        sqlx::query(
            "INSERT INTO incident_updates (id, incident_id, seq, status, body, components, author, \
             created_ms, publish_state, next_attempt_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)",
        )
        .bind(&id)
        .bind(incident)
        .bind(seq)
        .bind(status.as_str())
        .bind(body)
        .bind(serde_json::to_string(components).unwrap_or_default())
        .bind(by)
        .bind(now_ms)
        .bind(state)
        .execute(&mut **tx)
        .await
        ?;
        Ok(id)
    }

    /// A public update: a status (not back to an earlier one), a message, component statuses.
    pub async fn update(
        &self,
        incident: &str,
        status: Status,
        body: &str,
        chosen: &BTreeMap<String, ComponentStatus>,
        by: &str,
        now_ms: i64,
    ) -> Result<Update, Error> {
        let body = text("The message", body, 5000)?;
        let mut tx = self.store.begin_write().await?;
        // A write to the incident's row first: it holds the row (Postgres) or the store
        // (SQLite) until commit, so that two updates at once cannot both read the same next
        // `seq`, nor both pass the forward-only check against a status that is about to change.
        let held = sqlx::query("UPDATE incidents SET id = id WHERE id = $1")
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        if held.rows_affected() != 1 {
            return Err(Error::refused(
                "incident",
                format!("No incident {incident}."),
            ));
        }
        let inc = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(incident)
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::from)
        .and_then(|r| incident_from(&r).map_err(Error::from))?;
        if inc.resolved_ms.is_some() {
            return Err(Error::refused(
                "resolved",
                "This incident is resolved; declare a new one if it is back.",
            ));
        }
        if status < inc.status {
            return Err(Error::refused("status", format!(
                "The incident is {} already; an update moves forward (investigating → identified → monitoring → resolved).",
                inc.status.as_str()
            )));
        }
        let components = self.component_statuses(&inc.services, status, inc.impact, chosen);
        let seq: i64 = sqlx::query(
            "SELECT COALESCE(MAX(seq), -1) + 1 FROM incident_updates WHERE incident_id = $1",
        )
        .bind(incident)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))?;
        let id = self
            .insert_update(
                &mut tx,
                incident,
                seq,
                status,
                &body,
                &components,
                by,
                now_ms,
            )
            .await?;
        sqlx::query("UPDATE incidents SET status = $1, resolved_ms = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind((status == Status::Resolved).then_some(now_ms))
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.kick.notify_one();
        if let Err(e) = self.refresh_open().await {
            tracing::warn!(error = %e, "the open incidents could not be read again");
        }
        self.updates(incident)
            .await?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or_else(|| StoreError::Corrupt("the update vanished".into()).into())
    }

    /// An internal note (never public).
    pub async fn note(
        &self,
        incident: &str,
        body: &str,
        by: &Who,
        now_ms: i64,
    ) -> Result<(), Error> {
        let body = text("The note", body, 5000)?;
        self.get(incident)
            .await?
            .ok_or_else(|| Error::refused("incident", format!("No incident {incident}.")))?;
        let mut tx = self.store.begin_write().await?;
        insert_event(&mut tx, incident, "note", by, &body, now_ms).await?;
        tx.commit().await?;
        Ok(())
    }

    /// "I'm taking charge" (`to` = my login), a hand-over (`to` = someone else's login) or
    /// "I'm stepping away" (`to` = None: nobody is in charge until someone takes it; only the
    /// account in charge may). Checked and written in one transaction that holds the
    /// incident's row, so that two changes at once are judged one after the other.
    pub async fn set_owner(
        &self,
        incident: &str,
        to: Option<&str>,
        by: &Who,
        now_ms: i64,
    ) -> Result<Incident, Error> {
        // A hand-over names a login: it goes to the account that first signed in with it
        // (unknown, '', until one has; then that account is matched when it acts).
        let handed_to = match to.map(str::trim) {
            Some(t) if !t.is_empty() && !t.eq_ignore_ascii_case(&by.login) => {
                accounts::first_account(&self.store, t)
                    .await?
                    .unwrap_or_default()
            }
            _ => String::new(),
        };
        let mut tx = self.store.begin_write().await?;
        let held = sqlx::query("UPDATE incidents SET id = id WHERE id = $1")
            .bind(incident)
            .execute(&mut *tx)
            .await?;
        if held.rows_affected() != 1 {
            return Err(Error::refused(
                "incident",
                format!("No incident {incident}."),
            ));
        }
        let inc = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(incident)
        .fetch_one(&mut *tx)
        .await
        .map_err(Error::from)
        .and_then(|r| incident_from(&r).map_err(Error::from))?;
        if inc.resolved_ms.is_some() {
            return Err(Error::refused("resolved", "This incident is resolved."));
        }
        let (kind, owner, owner_id) = match to.map(str::trim) {
            Some(t) if t.eq_ignore_ascii_case(&by.login) => {
                ("take_charge", by.login.clone(), by.account.clone())
            }
            Some("") => return Err(Error::refused("owner", "Name who takes charge.")),
            Some(t) => ("hand_over", t.to_owned(), handed_to),
            None => {
                let in_charge = !inc.owner.is_empty()
                    && accounts::is(&self.store, by, &inc.owner, Some(&inc.owner_id)).await?;
                if !in_charge {
                    return Err(Error::refused(
                        "owner",
                        format!(
                            "Only the person in charge ({}) steps away.",
                            if inc.owner.is_empty() {
                                "nobody"
                            } else {
                                &inc.owner
                            }
                        ),
                    ));
                }
                ("step_away", String::new(), String::new())
            }
        };
        sqlx::query(
            "UPDATE incidents SET owner = $1, owner_id = $2, owner_since_ms = $3 WHERE id = $4",
        )
        .bind(&owner)
        .bind(&owner_id)
        .bind(now_ms)
        .bind(incident)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, incident, kind, by, &owner, now_ms).await?;
        tx.commit().await?;
        if let Err(e) = self.refresh_open().await {
            tracing::warn!(error = %e, "the open incidents could not be read again");
        }
        self.get(incident)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the incident vanished".into()).into())
    }

    /// Records a rule broken (on an incident or not), owned by `owner` until cleaned up.
    pub async fn break_rule(
        &self,
        incident: Option<&str>,
        rule: &str,
        what_done: &str,
        owner: &str,
        by: &Who,
        now_ms: i64,
    ) -> Result<RuleBroken, Error> {
        let rule = text("The rule", rule, 300)?;
        let what_done = text("What was done", what_done, 2000)?;
        let owner = text("The owner of the cleanup", owner, 100)?;
        let id = new_id("r");
        sqlx::query(
            "INSERT INTO rules_broken (id, incident_id, rule, what_done, owner, created_by, \
             created_ms, created_by_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(incident)
        .bind(&rule)
        .bind(&what_done)
        .bind(&owner)
        .bind(&by.login)
        .bind(now_ms)
        .bind(&by.account)
        .execute(self.store.pool())
        .await?;
        Ok(RuleBroken {
            id,
            incident_id: incident.map(str::to_owned),
            rule,
            what_done,
            owner,
            created_by: by.login.clone(),
            created_by_id: by.account.clone(),
            created_ms: now_ms,
            done_by: None,
            done_by_id: None,
            done_ms: None,
        })
    }

    /// Marks a cleanup done.
    pub async fn cleanup_done(&self, id: &str, by: &Who, now_ms: i64) -> Result<(), Error> {
        change::one(
            &self.store,
            sqlx::query(
                "UPDATE rules_broken SET done_by = $1, done_ms = $2, done_by_id = $3 \
                     WHERE id = $4 AND done_ms IS NULL",
            )
            .bind(&by.login)
            .bind(now_ms)
            .bind(&by.account)
            .bind(id),
            || Refusal::new("cleanup", "No open cleanup with that id (done already?)."),
        )
        .await
    }

    /// Rules broken: of an incident, or (with `open_of`) the open cleanups someone owns, or
    /// every open one.
    pub async fn rules(
        &self,
        incident: Option<&str>,
        open_of: Option<&str>,
    ) -> Result<Vec<RuleBroken>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM rules_broken WHERE ($1 = '' OR incident_id = $1) \
             AND ($2 = 0 OR done_ms IS NULL) AND ($3 = '' OR LOWER(owner) = LOWER($3)) \
             ORDER BY created_ms"
        ))
        .bind(incident.unwrap_or(""))
        .bind(i64::from(open_of.is_some() || incident.is_none()))
        .bind(open_of.unwrap_or(""))
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(rule_from).collect::<Result<_, _>>()?)
    }

    /// Incidents that were open at some time in `[from_ms, to_ms)` (the handoff's).
    pub async fn during(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE declared_ms < $2 \
             AND (resolved_ms IS NULL OR resolved_ms >= $1) ORDER BY declared_ms"
        ))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(incident_from).collect::<Result<_, _>>()?)
    }

    /// When the state has materially changed since the last public update: an alarm that fired
    /// or cleared on an affected service after it. `None`: nothing new to say.
    pub async fn reminder(&self, inc: &Incident) -> Result<Option<String>, StoreError> {
        if inc.resolved_ms.is_some() {
            return Ok(None);
        }
        let last = sqlx::query(
            "SELECT COALESCE(MAX(created_ms), 0) FROM incident_updates WHERE incident_id = $1",
        )
        .bind(&inc.id)
        .fetch_one(self.store.pool())
        .await?
        .try_get::<i64, _>(0)?;
        let changes =
            timeline::transitions(&self.store, &inc.services, last, crate::time::now_ms() + 1)
                .await?;
        let material: Vec<String> = changes
            .iter()
            .filter(|t| {
                t.to_state == "healthy"
                    || matches!(t.to_state.as_str(), "critical" | "down" | "unreachable")
            })
            .map(|t| {
                if t.to_state == "healthy" {
                    format!("{} recovered on {}", t.service, t.host)
                } else {
                    format!("{} went {} on {}", t.service, t.to_state, t.host)
                }
            })
            .collect();
        if material.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!(
            "Since the last public update: {}. Post an update if it changes what the public should know.",
            material.join("; ")
        )))
    }
}

/// What of an incident's services still alarms in a production environment, as a person reads
/// it ("builder-api on builder-api-live-1 (live): critical"): resolving says to the public that
/// everything works, so a resolve while this is not empty is asked again, naming it.
pub fn still_alarming(services: &[String], fleet: &crate::fleet::FleetSnapshot) -> Vec<String> {
    let mut out = Vec::new();
    for env in fleet.environments.iter().filter(|e| e.production) {
        for h in &env.hosts {
            for s in &h.services {
                let slug = vocab::slug_of(&s.service);
                if !s.cell.is_healthy() && services.contains(&slug) {
                    out.push(format!(
                        "{} on {} ({}): {}",
                        s.service, h.host.name, env.name, s.cell
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::accounts::tests::{sign_in, stores};

    fn declaration() -> Declare {
        Declare {
            title: "API errors".into(),
            impact: Impact::Major,
            services: vec!["api".into()],
            body: "looking".into(),
        }
    }

    #[tokio::test]
    async fn an_account_that_shares_the_owners_login_cannot_act_as_the_owner() {
        for (store, _dir) in stores().await {
            let incidents = Incidents::new(store.clone(), Default::default());
            let ana = sign_in(&store, "github", "1", "ana").await;
            let bo = sign_in(&store, "github", "2", "bo").await;
            let other_ana = sign_in(&store, "oidc", "s-ana", "ana").await;
            let other_bo = sign_in(&store, "oidc", "s-bo", "bo").await;
            let i = incidents
                .declare_as(&declaration(), &ana, 1_000)
                .await
                .unwrap();
            assert_eq!(i.owner_id, "github:1");
            let e = incidents
                .set_owner(&i.id, None, &other_ana, 2_000)
                .await
                .unwrap_err();
            assert!(
                e.to_string().contains("Only the person in charge (ana)"),
                "{e}"
            );
            // Handed to "bo": the account that first signed in as bo.
            let i = incidents
                .set_owner(&i.id, Some("bo"), &ana, 3_000)
                .await
                .unwrap();
            assert_eq!((i.owner.as_str(), i.owner_id.as_str()), ("bo", "github:2"));
            let e = incidents
                .set_owner(&i.id, None, &other_bo, 4_000)
                .await
                .unwrap_err();
            assert!(
                e.to_string().contains("Only the person in charge (bo)"),
                "{e}"
            );
            let i = incidents.set_owner(&i.id, None, &bo, 5_000).await.unwrap();
            assert_eq!((i.owner.as_str(), i.owner_id.as_str()), ("", ""));
            let kinds: Vec<(String, String)> = incidents
                .events(&i.id)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.author_id))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("take_charge".to_owned(), "github:1".to_owned()),
                    ("hand_over".to_owned(), "github:1".to_owned()),
                    ("step_away".to_owned(), "github:2".to_owned()),
                ]
            );
        }
    }

    /// Two people stepping away at once from one incident: one does, the other is told that
    /// nobody is in charge (checked and written in one transaction).
    #[tokio::test]
    async fn two_changes_of_owner_at_once_are_judged_one_after_the_other() {
        for (store, _dir) in stores().await {
            let incidents = Incidents::new(store.clone(), Default::default());
            let ana = sign_in(&store, "github", "1", "ana").await;
            for round in 0..5 {
                let i = incidents
                    .declare_as(&declaration(), &ana, 1_000 + round)
                    .await
                    .unwrap();
                let (x, y) = tokio::join!(
                    incidents.set_owner(&i.id, None, &ana, 2_000),
                    incidents.set_owner(&i.id, None, &ana, 2_000),
                );
                assert!(x.is_ok() != y.is_ok(), "round {round}: {x:?} {y:?}");
                let steps = incidents
                    .events(&i.id)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|e| e.kind == "step_away")
                    .count();
                assert_eq!(steps, 1);
            }
        }
    }
}

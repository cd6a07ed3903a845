//! Publishing public updates through Statuspage's REST API (v1): the first update creates the
//! incident (`POST /pages/{page}/incidents`), later ones update it (`PATCH
//! /pages/{page}/incidents/{id}`), each with its component statuses.
//!
//! Never lost, never sent twice: an update is in the store before anything is sent, and its
//! attempt is counted in the store before each request. Onwatch's incident and update ids travel
//! in the Statuspage incident's `metadata`, so when an earlier attempt's answer was lost (a
//! timeout, a 5xx, a crash), Onwatch first asks Statuspage whether it landed. 429 and 5xx are
//! retried with backoff, honouring `Retry-After`; a 401 stays queued (a fixed key publishes it);
//! a 422 is refused and shown with Statuspage's words.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{update_from, Incident, Incidents, Update, UPDATE_COLUMNS};
use crate::store::StoreError;

/// `[incidents.statuspage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatuspageOptions {
    pub page_id: String,
    /// A file holding the API key (Statuspage → API info).
    pub api_key_file: PathBuf,
    #[serde(default = "default_api")]
    pub api_url: url::Url,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The longest wait between two attempts of one update.
    #[serde(default = "default_backoff")]
    pub max_backoff_secs: u64,
}

fn default_api() -> url::Url {
    url::Url::parse("https://api.statuspage.io/v1/").expect("a valid URL")
}
fn default_timeout() -> u64 {
    15
}
fn default_backoff() -> u64 {
    300
}

#[derive(Debug, thiserror::Error)]
pub enum SpError {
    #[error("Statuspage refused the API key (401): put a valid key in incidents.statuspage.api_key_file; the update stays queued")]
    Unauthorized,
    #[error("Statuspage refused the update (422): {0}")]
    Unprocessable(String),
    #[error("Statuspage has no such page or incident (404): check incidents.statuspage.page_id")]
    NotFound,
    #[error("Statuspage is rate-limiting Onwatch (429)")]
    Throttled(Option<u64>),
    #[error("Statuspage answered {0}")]
    Server(u16),
    #[error("Statuspage cannot be reached: {0}")]
    Unreachable(String),
    #[error("Statuspage's answer is not what its API documents: {0}")]
    Garbled(String),
    #[error("the Statuspage API key file cannot be read: {0}")]
    Key(String),
}

impl SpError {
    /// Whether the update should stay queued and be tried again (everything but a 422).
    fn retry(&self) -> bool {
        !matches!(self, SpError::Unprocessable(_))
    }
    /// Whether an earlier attempt may have landed although its answer said otherwise or was
    /// lost (then Statuspage is asked before sending again).
    fn uncertain(&self) -> bool {
        matches!(
            self,
            SpError::Server(_) | SpError::Unreachable(_) | SpError::Garbled(_)
        )
    }
}

fn severity(s: super::ComponentStatus) -> usize {
    super::ComponentStatus::ALL
        .iter()
        .position(|x| *x == s)
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct SpIncident {
    id: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Statuspage's API with Onwatch's key.
#[derive(Clone)]
pub struct Statuspage {
    options: StatuspageOptions,
    http: reqwest::Client,
}

fn onwatch_ids(meta: &Option<serde_json::Value>) -> (Option<String>, Option<String>) {
    let o = meta.as_ref().and_then(|m| m.get("onwatch"));
    let get = |k: &str| {
        o.and_then(|o| o.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    (get("incident"), get("update"))
}

impl Statuspage {
    /// `Err`: the HTTP client could not be set up (its TLS backend, say).
    pub fn new(options: StatuspageOptions) -> Result<Statuspage, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(options.timeout_secs.max(1)))
            .build()?;
        Ok(Statuspage { options, http })
    }

    /// Read at each use, so that a rotated key is used from the next update on.
    fn key(&self) -> Result<secrecy::SecretString, SpError> {
        crate::secret::read_file(&self.options.api_key_file)
            .map_err(|e| SpError::Key(e.to_string()))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<String, SpError> {
        let url = self
            .options
            .api_url
            .join(&format!("pages/{}/{path}", self.options.page_id))
            .map_err(|e| SpError::Garbled(e.to_string()))?;
        let mut req = self.http.request(method, url).header(
            "Authorization",
            format!(
                "OAuth {}",
                secrecy::ExposeSecret::expose_secret(&self.key()?)
            ),
        );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| SpError::Unreachable(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text = resp
            .text()
            .await
            .map_err(|e| SpError::Unreachable(e.without_url().to_string()))?;
        match status {
            200..=299 => Ok(text),
            401 | 403 => Err(SpError::Unauthorized),
            404 => Err(SpError::NotFound),
            422 => {
                // `{"error": "…"}` or `{"error": ["…", …]}`.
                let why = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        v.get("error").map(|e| match e {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Array(a) => a
                                .iter()
                                .filter_map(|x| x.as_str())
                                .collect::<Vec<_>>()
                                .join("; "),
                            other => other.to_string(),
                        })
                    })
                    .unwrap_or_else(|| text.chars().take(300).collect());
                Err(SpError::Unprocessable(why))
            }
            429 => Err(SpError::Throttled(retry_after)),
            s => Err(SpError::Server(s)),
        }
    }

    fn incident_body(
        &self,
        inc: &Incident,
        u: &Update,
        ids: &Incidents,
        create: bool,
    ) -> serde_json::Value {
        let mut components = serde_json::Map::new();
        let mut component_ids = Vec::new();
        for (slug, st) in &u.components {
            let c = ids.options.component(slug);
            // Two services may share a component: it is sent once, at the worse status.
            if !c.id.is_empty() && !component_ids.contains(&c.id) {
                components.insert(c.id.clone(), serde_json::json!(st.as_str()));
                component_ids.push(c.id);
            } else if !c.id.is_empty() {
                let worse = components
                    .get(&c.id)
                    .and_then(|v| v.as_str())
                    .and_then(super::ComponentStatus::parse)
                    .is_some_and(|had| severity(*st) > severity(had));
                if worse {
                    components.insert(c.id.clone(), serde_json::json!(st.as_str()));
                }
            }
        }
        let mut body = serde_json::json!({
            "status": u.status.as_str(),
            "body": u.body,
            "components": components,
            "component_ids": component_ids,
            "metadata": { "onwatch": { "incident": inc.id, "update": u.id } },
        });
        if create {
            body["name"] = serde_json::json!(inc.title);
            body["impact_override"] = serde_json::json!(inc.impact.as_str());
            body["deliver_notifications"] = serde_json::json!(true);
        }
        serde_json::json!({ "incident": body })
    }

    /// The Statuspage incident Onwatch made for `incident`, if an earlier attempt created it.
    async fn find(&self, incident: &str) -> Result<Option<SpIncident>, SpError> {
        let text = self
            .send(reqwest::Method::GET, "incidents/unresolved", None)
            .await?;
        let list: Vec<SpIncident> =
            serde_json::from_str(&text).map_err(|e| SpError::Garbled(e.to_string()))?;
        Ok(list
            .into_iter()
            .find(|i| onwatch_ids(&i.metadata).0.as_deref() == Some(incident)))
    }

    /// Sends one update. `maybe_sent`: an earlier attempt's outcome is unknown, so Statuspage
    /// is asked first. Returns the Statuspage incident's id.
    pub async fn publish(
        &self,
        inc: &Incident,
        u: &Update,
        ids: &Incidents,
        maybe_sent: bool,
    ) -> Result<String, SpError> {
        match &inc.statuspage_id {
            None => {
                if maybe_sent {
                    if let Some(found) = self.find(&inc.id).await? {
                        if onwatch_ids(&found.metadata).1.as_deref() == Some(u.id.as_str()) {
                            return Ok(found.id);
                        }
                    }
                }
                let text = self
                    .send(
                        reqwest::Method::POST,
                        "incidents",
                        Some(self.incident_body(inc, u, ids, true)),
                    )
                    .await?;
                let made: SpIncident =
                    serde_json::from_str(&text).map_err(|e| SpError::Garbled(e.to_string()))?;
                Ok(made.id)
            }
            Some(sid) => {
                let path = format!("incidents/{sid}");
                if maybe_sent {
                    let text = self.send(reqwest::Method::GET, &path, None).await?;
                    let now: SpIncident =
                        serde_json::from_str(&text).map_err(|e| SpError::Garbled(e.to_string()))?;
                    if onwatch_ids(&now.metadata).1.as_deref() == Some(u.id.as_str()) {
                        return Ok(sid.clone());
                    }
                }
                self.send(
                    reqwest::Method::PATCH,
                    &path,
                    Some(self.incident_body(inc, u, ids, false)),
                )
                .await?;
                Ok(sid.clone())
            }
        }
    }
}

/// What one round of publishing did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub published: usize,
    pub failed: usize,
}

impl Incidents {
    /// Sends every queued update whose time has come, oldest first, one incident's in order (a
    /// later update waits for an earlier one). Each attempt is counted in the store before it
    /// is made.
    pub async fn publish_due(&self, sp: &Statuspage, now_ms: i64) -> Result<Round, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {UPDATE_COLUMNS} FROM incident_updates WHERE publish_state = 'queued' \
             ORDER BY incident_id, seq"
        ))
        .fetch_all(self.store.pool())
        .await?;
        let queued: Vec<Update> = rows.iter().map(update_from).collect::<Result<_, _>>()?;
        let mut round = Round::default();
        let mut seen = std::collections::BTreeSet::new();
        for u in queued {
            // Only the first queued update of each incident may go.
            if !seen.insert(u.incident_id.clone()) || u.next_attempt_ms > now_ms {
                continue;
            }
            let Some(inc) = self.get(&u.incident_id).await? else {
                continue;
            };
            let maybe_sent = u.attempts > 0 && last_uncertain(&u.last_error);
            // Claim it: count the attempt and hold it for a while, only if nobody else did
            // since it was read (the attempts count is the compare-and-set). Of two publishers
            // (replicas) that read it at once, one sends; a publisher that dies mid-request
            // leaves the claim to lapse, and the next attempt asks Statuspage first.
            let claimed = sqlx::query(
                "UPDATE incident_updates SET attempts = attempts + 1, next_attempt_ms = $1 \
                 WHERE id = $2 AND publish_state = 'queued' AND attempts = $3 \
                 AND next_attempt_ms <= $4",
            )
            .bind(now_ms + CLAIM_MS)
            .bind(&u.id)
            .bind(u.attempts)
            .bind(now_ms)
            .execute(self.store.pool())
            .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            match sp.publish(&inc, &u, self, maybe_sent).await {
                Ok(sid) => {
                    let mut tx = self.store.begin_write().await?;
                    sqlx::query("UPDATE incidents SET statuspage_id = $1 WHERE id = $2")
                        .bind(&sid)
                        .bind(&inc.id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "UPDATE incident_updates SET publish_state = 'published', published_ms = $1, \
                         last_error = '' WHERE id = $2",
                    )
                    .bind(now_ms)
                    .bind(&u.id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    round.published += 1;
                }
                Err(e) => {
                    round.failed += 1;
                    let attempts = u.attempts + 1;
                    let wait_s = match &e {
                        SpError::Throttled(Some(s)) => *s,
                        _ => 1u64 << ((attempts - 1).clamp(0, 16) as u32),
                    }
                    .min(sp.options.max_backoff_secs.max(1));
                    let state = if e.retry() { "queued" } else { "refused" };
                    let marker = if e.uncertain() { UNCERTAIN } else { "" };
                    tracing::warn!(update = %u.id, error = %e, "a status-page update was not published");
                    sqlx::query(
                        "UPDATE incident_updates SET publish_state = $1, next_attempt_ms = $2, \
                         last_error = $3 WHERE id = $4",
                    )
                    .bind(state)
                    .bind(now_ms + wait_s as i64 * 1000)
                    .bind(format!("{marker}{e}"))
                    .bind(&u.id)
                    .execute(self.store.pool())
                    .await?;
                }
            }
        }
        Ok(round)
    }

    /// Queued updates that are not yet public, for the header and the incident page.
    pub async fn unpublished(&self) -> Result<i64, StoreError> {
        let r = sqlx::query("SELECT COUNT(*) FROM incident_updates WHERE publish_state = 'queued'")
            .fetch_one(self.store.pool())
            .await?;
        Ok(r.try_get(0)?)
    }
}

/// How long a publisher holds an update it is sending: longer than any request to Statuspage
/// with its retries takes.
const CLAIM_MS: i64 = 120_000;

/// Marks an error after which the update may have landed anyway (the next attempt asks first).
const UNCERTAIN: &str = "(may have reached Statuspage) ";

/// Whether the last attempt's error was uncertain. An update whose attempt was counted but
/// never recorded an outcome (Onwatch stopped mid-request) is uncertain too.
fn last_uncertain(last_error: &str) -> bool {
    last_error.is_empty() || last_error.starts_with(UNCERTAIN)
}

/// Runs the publisher until `stopping`: at once when kicked, else every second.
pub async fn run(
    incidents: Incidents,
    sp: Statuspage,
    kick: std::sync::Arc<tokio::sync::Notify>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = incidents.publish_due(&sp, crate::time::now_ms()).await {
            tracing::warn!(error = %e, "the status-page queue could not be read; trying again");
        }
        tokio::select! {
            _ = kick.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod shared_component_tests {
    use std::collections::BTreeMap;

    use super::super::{Component, ComponentStatus, IncidentOptions, Status};
    use super::*;

    /// The scheduler and jobsrv share "Package builds": one entry, at the worse of the two,
    /// whichever of them is worse.
    #[tokio::test]
    async fn a_component_shared_by_two_services_is_sent_once_at_the_worse_status() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/store/onwatch.db", dir.path().display());
        let store = crate::store::Store::open(&url, &Default::default())
            .await
            .unwrap();
        let builds = Component {
            id: "cmp-builds".into(),
            name: "Package builds".into(),
        };
        let options = IncidentOptions {
            components: [
                ("scheduler".to_owned(), builds.clone()),
                ("jobsrv".to_owned(), builds),
            ]
            .into_iter()
            .collect(),
            statuspage: None,
        };
        let ids = Incidents::new(store, options);
        let sp = Statuspage::new(StatuspageOptions {
            page_id: "p".into(),
            api_key_file: dir.path().join("key"),
            api_url: default_api(),
            timeout_secs: 1,
            max_backoff_secs: 1,
        })
        .unwrap();
        let inc = Incident {
            id: "i1".into(),
            title: "builds stuck".into(),
            impact: super::super::Impact::Major,
            status: Status::Identified,
            services: vec!["jobsrv".into(), "scheduler".into()],
            declared_by: "ana".into(),
            declared_by_id: String::new(),
            declared_ms: 0,
            owner: "ana".into(),
            owner_id: String::new(),
            owner_since_ms: 0,
            resolved_ms: None,
            statuspage_id: None,
        };
        for (jobsrv, scheduler) in [
            (
                ComponentStatus::MajorOutage,
                ComponentStatus::DegradedPerformance,
            ),
            (
                ComponentStatus::DegradedPerformance,
                ComponentStatus::MajorOutage,
            ),
        ] {
            let u = Update {
                id: "u1".into(),
                incident_id: "i1".into(),
                seq: 1,
                status: Status::Identified,
                body: "found it".into(),
                components: BTreeMap::from([
                    ("jobsrv".to_owned(), jobsrv),
                    ("scheduler".to_owned(), scheduler),
                ]),
                author: "ana".into(),
                created_ms: 0,
                publish_state: "queued".into(),
                attempts: 0,
                next_attempt_ms: 0,
                last_error: String::new(),
                published_ms: None,
            };
            let body = sp.incident_body(&inc, &u, &ids, false);
            assert_eq!(
                body["incident"]["components"],
                serde_json::json!({ "cmp-builds": "major_outage" }),
                "{body}"
            );
            assert_eq!(
                body["incident"]["component_ids"],
                serde_json::json!(["cmp-builds"])
            );
        }
    }
}

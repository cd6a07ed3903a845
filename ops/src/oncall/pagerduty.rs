//! Who is on call, from PagerDuty's REST API v2 when a token and schedules are configured:
//! `GET /oncalls` for now (paginated with `offset`/`more`), `GET /schedules/{id}` for what comes
//! next. The last answer is kept (in memory and in the store) and shown, marked stale with its
//! age, when PagerDuty cannot be reached; a 429 is honoured by not asking again before its
//! `Retry-After`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{Store, StoreError};

/// `[oncall.pagerduty]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyOptions {
    #[serde(default = "default_api")]
    pub api_url: url::Url,
    /// A file holding a REST API key (read-only is enough).
    pub token_file: PathBuf,
    /// The schedule whose on-call is the primary.
    pub primary_schedule: String,
    /// The schedule whose on-call is the secondary.
    pub secondary_schedule: String,
    /// How often the answer is read again.
    #[serde(default = "default_refresh")]
    pub refresh_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_api() -> url::Url {
    url::Url::parse("https://api.pagerduty.com/").expect("a valid URL")
}
fn default_refresh() -> u64 {
    60
}
fn default_timeout() -> u64 {
    10
}

/// Who holds a seat, as PagerDuty says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdOnCall {
    pub name: String,
    pub email: Option<String>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// PagerDuty's whole answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdAnswer {
    pub primary: Vec<PdOnCall>,
    pub secondary: Vec<PdOnCall>,
    pub next_primary: Option<PdOnCall>,
    pub next_secondary: Option<PdOnCall>,
}

/// The answer as pages show it: the last one read, when, and why it may be stale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdView {
    pub answer: Option<PdAnswer>,
    pub fetched_ms: Option<i64>,
    /// The last attempt failed: why (the answer, if any, is the one from `fetched_ms`).
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PdError {
    #[error("PagerDuty refused the API key (401): it was revoked or mistyped; put a valid REST API key in oncall.pagerduty.token_file")]
    Unauthorized,
    #[error(
        "PagerDuty says the key may not read this (403): give the key read access to the schedules"
    )]
    Forbidden,
    #[error("PagerDuty has no schedule {0} (404): check oncall.pagerduty.*_schedule")]
    NoSchedule(String),
    #[error("PagerDuty is rate-limiting Onwatch (429); asking again in {0} s")]
    Throttled(u64),
    #[error("PagerDuty answered {0}")]
    Status(u16),
    #[error("PagerDuty cannot be reached: {0}")]
    Unreachable(String),
    #[error("PagerDuty's answer is not what its API documents: {0}")]
    Garbled(String),
    #[error("the PagerDuty token file cannot be read: {0}")]
    Token(String),
}

#[derive(Deserialize)]
struct OncallsPage {
    oncalls: Vec<Oncall>,
    #[serde(default)]
    more: bool,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Deserialize)]
struct Oncall {
    user: UserRef,
    schedule: Option<Ref>,
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
struct UserRef {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct Ref {
    id: String,
}

#[derive(Deserialize)]
struct ScheduleBody {
    schedule: Schedule,
}

#[derive(Deserialize)]
struct Schedule {
    final_schedule: Option<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    #[serde(default)]
    rendered_schedule_entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    start: String,
    end: String,
    user: UserRef,
}

fn ms_of(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The client and its memory.
#[derive(Clone)]
pub struct PagerDuty {
    options: PagerDutyOptions,
    http: reqwest::Client,
    store: Store,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    view: PdView,
    /// Not before this instant (a 429's Retry-After, or the refresh interval).
    next_ms: i64,
}

impl PagerDuty {
    /// `Err`: the HTTP client could not be set up (its TLS backend, say).
    pub fn new(options: PagerDutyOptions, store: Store) -> Result<PagerDuty, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(options.timeout_secs.max(1)))
            .build()?;
        Ok(PagerDuty {
            options,
            http,
            store,
            state: Arc::default(),
        })
    }

    /// What is known now, without asking PagerDuty.
    pub fn view(&self) -> PdView {
        self.state
            .lock()
            .map(|s| s.view.clone())
            .unwrap_or_default()
    }

    /// Loads the last answer kept in the store (at start).
    pub async fn load(&self) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT answer, fetched_ms FROM pagerduty_answers WHERE id = 1")
            .fetch_optional(self.store.pool())
            .await?;
        if let Some(r) = row {
            let text: String = r.try_get(0)?;
            if let Ok(answer) = serde_json::from_str::<PdAnswer>(&text) {
                if let Ok(mut s) = self.state.lock() {
                    s.view.answer = Some(answer);
                    s.view.fetched_ms = Some(r.try_get(1)?);
                }
            }
        }
        Ok(())
    }

    /// Asks PagerDuty again if it is time (the refresh interval passed, no 429 pending), keeps
    /// the answer or the error, and returns the view.
    pub async fn refresh(&self, now_ms: i64) -> PdView {
        let due = self
            .state
            .lock()
            .map(|s| now_ms >= s.next_ms)
            .unwrap_or(true);
        if !due {
            return self.view();
        }
        let result = self.fetch(now_ms).await;
        let mut keep = None;
        if let Ok(mut s) = self.state.lock() {
            match result {
                Ok(answer) => {
                    s.view = PdView {
                        answer: Some(answer.clone()),
                        fetched_ms: Some(now_ms),
                        error: None,
                    };
                    s.next_ms = now_ms + self.options.refresh_secs as i64 * 1000;
                    keep = Some(answer);
                }
                Err(e) => {
                    s.next_ms = now_ms
                        + match e {
                            PdError::Throttled(secs) => secs as i64 * 1000,
                            _ => self.options.refresh_secs as i64 * 1000,
                        };
                    s.view.error = Some(e.to_string());
                }
            }
        }
        if let Some(answer) = keep {
            if let Err(e) = self.keep(&answer, now_ms).await {
                tracing::warn!(error = %e, "PagerDuty's answer could not be kept in the store");
            }
        }
        self.view()
    }

    async fn keep(&self, answer: &PdAnswer, now_ms: i64) -> Result<(), StoreError> {
        let text = serde_json::to_string(answer).unwrap_or_default();
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM pagerduty_answers WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO pagerduty_answers (id, answer, fetched_ms) VALUES (1, $1, $2)")
            .bind(text)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Read at each use, so that a rotated token is used from the next read on.
    fn token(&self) -> Result<secrecy::SecretString, PdError> {
        crate::secret::read_file(&self.options.token_file)
            .map_err(|e| PdError::Token(e.to_string()))
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<String, PdError> {
        let url = self
            .options
            .api_url
            .join(path)
            .map_err(|e| PdError::Garbled(e.to_string()))?;
        let resp = self
            .http
            .get(url)
            .header("Accept", "application/vnd.pagerduty+json;version=2")
            .header(
                "Authorization",
                format!(
                    "Token token={}",
                    secrecy::ExposeSecret::expose_secret(&self.token()?)
                ),
            )
            .query(query)
            .send()
            .await
            .map_err(|e| PdError::Unreachable(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        match status {
            200 => resp
                .text()
                .await
                .map_err(|e| PdError::Unreachable(e.without_url().to_string())),
            401 => Err(PdError::Unauthorized),
            403 => Err(PdError::Forbidden),
            404 => Err(PdError::NoSchedule(
                path.trim_start_matches("schedules/").to_owned(),
            )),
            429 => {
                let secs = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(60);
                Err(PdError::Throttled(secs.clamp(1, 3600)))
            }
            s => Err(PdError::Status(s)),
        }
    }

    /// One read of PagerDuty: who is on call now in each schedule (every page of `/oncalls`),
    /// and who comes next (each schedule's rendered entries for the next two weeks).
    pub async fn fetch(&self, now_ms: i64) -> Result<PdAnswer, PdError> {
        let o = &self.options;
        let mut primary = Vec::new();
        let mut secondary = Vec::new();
        let mut offset = 0u64;
        loop {
            let query = vec![
                ("schedule_ids[]".to_owned(), o.primary_schedule.clone()),
                ("schedule_ids[]".to_owned(), o.secondary_schedule.clone()),
                ("since".to_owned(), iso(now_ms)),
                ("until".to_owned(), iso(now_ms + 1000)),
                ("limit".to_owned(), "25".to_owned()),
                ("offset".to_owned(), offset.to_string()),
            ];
            let text = self.get("oncalls", &query).await?;
            let page: OncallsPage =
                serde_json::from_str(&text).map_err(|e| PdError::Garbled(e.to_string()))?;
            let n = page.oncalls.len() as u64;
            for oc in page.oncalls {
                let who = PdOnCall {
                    name: oc.user.name.clone().unwrap_or(oc.user.summary.clone()),
                    email: oc.user.email.clone(),
                    start_ms: oc.start.as_deref().and_then(ms_of),
                    end_ms: oc.end.as_deref().and_then(ms_of),
                };
                match oc.schedule.map(|s| s.id) {
                    Some(id) if id == o.primary_schedule => primary.push(who),
                    Some(id) if id == o.secondary_schedule => secondary.push(who),
                    _ => {}
                }
            }
            if !page.more || n == 0 {
                break;
            }
            offset += page.limit.unwrap_or(n).max(1);
            if offset > 10_000 {
                return Err(PdError::Garbled("more than 10,000 on-call entries".into()));
            }
        }
        let next = |id: String| async move {
            let query = vec![
                ("since".to_owned(), iso(now_ms)),
                ("until".to_owned(), iso(now_ms + 14 * 86_400_000)),
            ];
            let text = self.get(&format!("schedules/{id}"), &query).await?;
            let body: ScheduleBody =
                serde_json::from_str(&text).map_err(|e| PdError::Garbled(e.to_string()))?;
            Ok::<_, PdError>(
                body.schedule
                    .final_schedule
                    .map(|l| l.rendered_schedule_entries)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| {
                        let start = ms_of(&e.start)?;
                        (start > now_ms).then(|| PdOnCall {
                            name: e.user.name.clone().unwrap_or(e.user.summary.clone()),
                            email: e.user.email.clone(),
                            start_ms: Some(start),
                            end_ms: ms_of(&e.end),
                        })
                    })
                    .min_by_key(|e| e.start_ms),
            )
        };
        let next_primary = next(o.primary_schedule.clone()).await?;
        let next_secondary = next(o.secondary_schedule.clone()).await?;
        Ok(PdAnswer {
            primary,
            secondary,
            next_primary,
            next_secondary,
        })
    }
}

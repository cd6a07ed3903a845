//! The shard console: read-only SQL over the builder datastore, one shard, a list, or all 128,
//! in place of `psql` on the datastore host and a loop of 128 `psql` processes.
//!
//! In layers: [`guard`] (the statement: exactly one that reads, calling nothing the database
//! marks volatile), [`locator`] (Builder's shard rule), [`pool`] (bounded connections per
//! database, with their backend pids, reset before reuse), [`run`] (the fan-out, its caps and
//! its cancel), [`browse`] (databases, shards, tables, the role's privileges), [`history`] (each
//! person's queries, saved queries), [`export`] (CSV, JSON). This module holds the order of it
//! all: who may, the statement, then on the database the role (nothing runs where it could
//! write) and the statement's functions, audit first, then run, then audit the outcome; and the
//! results kept for a while so they can be downloaded.

pub mod browse;
pub mod export;
pub mod guard;
pub mod history;
pub mod locator;
pub mod pool;
pub mod run;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::audit::{Actor, AuditLog, Entry, Event};
use crate::store::Store;

pub use browse::{DatabaseInfo, Layout, RoleCheck, TableInfo};
pub use history::{HistoryEntry, NewSaved, SavedQuery};
pub use run::{Caps, Cell, Progress, QueryResult, QueryState, ResultRow, ShardReport, ShardState};

/// `[console]`: the bounds every query runs within.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleOptions {
    /// Rows kept from each shard (more are flagged as truncated).
    pub rows_per_shard: u64,
    /// Rows kept in all (the query stops there, flagged).
    pub rows_total: u64,
    /// Bytes of row data kept in all (the query stops there, flagged).
    pub bytes_total: u64,
    /// Each shard's statement timeout (also `SET LOCAL` on every statement).
    pub statement_timeout_secs: u64,
    /// Connections per database, which is also how many shards run at once.
    pub pool_size: usize,
    pub connect_timeout_secs: u64,
    /// How Onwatch's backends are named in `pg_stat_activity`.
    pub application_name: String,
    /// Finished results kept in memory for downloads (per replica), and for how long.
    pub keep_results: usize,
    pub keep_results_secs: u64,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            rows_per_shard: 1_000,
            rows_total: 20_000,
            bytes_total: 16 << 20,
            statement_timeout_secs: 30,
            pool_size: 8,
            connect_timeout_secs: 5,
            application_name: "onwatch-console".into(),
            keep_results: 32,
            keep_results_secs: 900,
        }
    }
}

impl ConsoleOptions {
    pub fn caps(&self) -> Caps {
        Caps {
            rows_per_shard: self.rows_per_shard.max(1),
            rows_total: self.rows_total.max(1),
            bytes_total: self.bytes_total.max(1024),
            statement_timeout: Duration::from_secs(self.statement_timeout_secs.max(1)),
            parallelism: self.pool_size.max(1),
        }
    }
}

/// One datastore database as configured: its URL and the password (from a file or a variable).
#[derive(Debug, Clone)]
pub struct DatabaseConn {
    pub url: String,
    pub password: Option<SecretString>,
}

/// What a person asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    pub environment: String,
    pub database: String,
    /// `all`, `30`, `1,2,5`, `0-15`.
    pub shards: String,
    pub sql: String,
}

/// Why a query did not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Refused (by the guard, the role, an unknown database or shard): audited, with the reason.
    #[error("{0}")]
    Refused(String),
    /// The datastore cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The audit log could not be written: nothing ran.
    #[error("nothing ran: the audit log could not be written ({0}); try again when Onwatch's store answers")]
    AuditDown(String),
    #[error("no such query here: results are kept {0} minutes, on the Onwatch replica that ran them; run it again")]
    Gone(u64),
}

/// A database's connection that is not usable: a configuration mistake (the key, and why).
#[derive(Debug, thiserror::Error)]
#[error("{key}: {error}")]
pub struct ConsoleConfigError {
    pub key: String,
    pub error: pool::NotAUrl,
}

struct Database {
    pool: Arc<pool::DbPool>,
    layout: tokio::sync::Mutex<Option<Layout>>,
}

/// A query that runs or ran here.
pub struct Run {
    pub id: String,
    pub actor: Actor,
    pub request: QueryRequest,
    pub shard_count: u32,
    pub started_ms: i64,
    control: Arc<run::Control>,
    cancel: watch::Sender<bool>,
    result: watch::Sender<Option<Arc<QueryResult>>>,
    ended: Mutex<Option<Instant>>,
}

impl Run {
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.control.progress.subscribe()
    }

    pub fn result(&self) -> Option<Arc<QueryResult>> {
        self.result.borrow().clone()
    }

    /// Waits for the end (or `timeout`).
    pub async fn wait(&self, timeout: Duration) -> Option<Arc<QueryResult>> {
        let mut rx = self.result.subscribe();
        let r = tokio::time::timeout(timeout, rx.wait_for(|r| r.is_some())).await;
        match r {
            Ok(Ok(v)) => v.clone(),
            _ => None,
        }
    }
}

/// The console: its databases per environment, the audit log, the store for history.
pub struct ShardConsole {
    options: ConsoleOptions,
    environments: BTreeMap<String, BTreeMap<String, Database>>,
    audit: AuditLog,
    history: history::History,
    runs: Mutex<HashMap<String, Arc<Run>>>,
}

/// Who may run queries: the datastore holds tokens and keys, so a viewer may browse but not
/// query.
pub fn may_query(role: &str) -> bool {
    role == "responder" || role == "admin"
}

impl ShardConsole {
    /// `environments`: environment → database name → connection. Nothing connects yet.
    pub fn new(
        options: ConsoleOptions,
        environments: BTreeMap<String, BTreeMap<String, DatabaseConn>>,
        store: Store,
    ) -> Result<ShardConsole, ConsoleConfigError> {
        let mut envs = BTreeMap::new();
        for (env, dbs) in environments {
            let mut out = BTreeMap::new();
            for (name, conn) in dbs {
                let label = format!("{env}/{name}");
                let password = conn.password.as_ref().map(|p| p.expose_secret().to_owned());
                let opts = pool::connect_options(
                    &conn.url,
                    password.as_deref(),
                    &options.application_name,
                )
                .map_err(|error| ConsoleConfigError {
                    key: format!("environments.{env}.databases.{name}.url"),
                    error,
                })?;
                out.insert(
                    name,
                    Database {
                        pool: pool::DbPool::new(
                            label,
                            opts,
                            options.pool_size,
                            Duration::from_secs(options.connect_timeout_secs.max(1)),
                        ),
                        layout: tokio::sync::Mutex::new(None),
                    },
                );
            }
            envs.insert(env, out);
        }
        Ok(ShardConsole {
            options,
            environments: envs,
            audit: AuditLog::new(store.clone()),
            history: history::History::new(store),
            runs: Mutex::new(HashMap::new()),
        })
    }

    pub fn options(&self) -> &ConsoleOptions {
        &self.options
    }

    pub fn history(&self) -> &history::History {
        &self.history
    }

    /// Environments with at least one database, and their databases' names.
    pub fn configured(&self) -> Vec<(String, Vec<String>)> {
        self.environments
            .iter()
            .filter(|(_, d)| !d.is_empty())
            .map(|(e, d)| (e.clone(), d.keys().cloned().collect()))
            .collect()
    }

    fn database(&self, environment: &str, database: &str) -> Result<&Database, String> {
        let env = self.environments.get(environment).ok_or_else(|| {
            let known: Vec<&str> = self.environments.keys().map(String::as_str).collect();
            format!(
                "no datastore is configured for environment `{environment}` (configured: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            )
        })?;
        env.get(database).ok_or_else(|| {
            let known: Vec<&str> = env.keys().map(String::as_str).collect();
            format!(
                "`{database}` is not a configured database of {environment} (configured: {})",
                known.join(", ")
            )
        })
    }

    /// The database's layout, read once (and again after a failure).
    async fn layout(&self, db: &Database) -> Result<Layout, String> {
        let mut cached = db.layout.lock().await;
        if let Some(l) = cached.as_ref() {
            return Ok(l.clone());
        }
        let l = browse::layout(&db.pool, self.options.caps().statement_timeout)
            .await
            .map_err(|e| e.to_string())?;
        *cached = Some(l.clone());
        Ok(l)
    }

    /// Every database of an environment, with its layout and its role's privileges.
    pub async fn databases(&self, environment: &str) -> Vec<DatabaseInfo> {
        let Some(env) = self.environments.get(environment) else {
            return Vec::new();
        };
        let checks = env.iter().map(|(name, db)| async move {
            let layout = self.layout(db).await;
            let role = match &layout {
                Ok(_) => browse::role_check(&db.pool)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.clone()),
            };
            DatabaseInfo {
                name: name.clone(),
                layout: layout.clone().ok(),
                role: role.clone().ok(),
                error: layout.err().or(role.err()),
            }
        });
        futures_util::future::join_all(checks).await
    }

    /// Tables of one shard (or the database's only schema). `Refused`: no such database or
    /// shard here; `Unavailable`: the datastore did not answer.
    pub async fn tables(
        &self,
        environment: &str,
        database: &str,
        shard: u32,
    ) -> Result<Vec<TableInfo>, ConsoleError> {
        let db = self
            .database(environment, database)
            .map_err(ConsoleError::Refused)?;
        let layout = self.layout(db).await.map_err(ConsoleError::Unavailable)?;
        let schema = layout
            .schema(shard)
            .map_err(|e| ConsoleError::Refused(e.to_string()))?;
        browse::tables(&db.pool, &schema)
            .await
            .map_err(|e| ConsoleError::Unavailable(e.to_string()))
    }

    /// Checks, audits and starts a query. Refusals are audited before they are returned.
    pub async fn start(&self, actor: &Actor, req: QueryRequest) -> Result<Arc<Run>, ConsoleError> {
        let id = new_id();
        let refuse = |reason: String| {
            let entry = Entry {
                environment: req.environment.clone(),
                service: req.database.clone(),
                action_id: id.clone(),
                outcome: "refused".into(),
                detail: serde_json::json!({
                    "sql": req.sql,
                    "shards": req.shards,
                    "reason": reason,
                }),
                ..Entry::new(Event::ConsoleQuery)
            };
            async move {
                match self.audit.append(actor, &entry).await {
                    Ok(_) => ConsoleError::Refused(reason),
                    Err(e) => ConsoleError::AuditDown(e.to_string()),
                }
            }
        };
        if !may_query(&actor.role) {
            return Err(refuse(format!(
                "Running queries needs the responder role (you: {}): the datastore holds tokens and keys. Ask an admin.",
                actor.role
            ))
            .await);
        }
        let db = match self.database(&req.environment, &req.database) {
            Ok(db) => db,
            Err(e) => return Err(refuse(e).await),
        };
        let checked = match guard::check(&req.sql) {
            Ok(c) => c,
            Err(r) => return Err(refuse(r.0).await),
        };
        let layout = match self.layout(db).await {
            Ok(l) => l,
            Err(e) => {
                let entry = Entry {
                    environment: req.environment.clone(),
                    service: req.database.clone(),
                    action_id: id.clone(),
                    outcome: "failed".into(),
                    detail: serde_json::json!({ "sql": req.sql, "shards": req.shards, "error": e }),
                    ..Entry::new(Event::ConsoleQuery)
                };
                self.audit
                    .append(actor, &entry)
                    .await
                    .map_err(|e| ConsoleError::AuditDown(e.to_string()))?;
                return Err(ConsoleError::Unavailable(e));
            }
        };
        let targets = match layout.targets(&req.shards) {
            Ok(t) => t,
            Err(e) => return Err(refuse(e.to_string()).await),
        };
        match preflight(&db.pool, &checked, self.options.caps().statement_timeout).await {
            Ok(()) => {}
            Err(Preflight::Refused(reason)) => return Err(refuse(reason).await),
            Err(Preflight::Unavailable(e)) => {
                let entry = Entry {
                    environment: req.environment.clone(),
                    service: req.database.clone(),
                    action_id: id.clone(),
                    outcome: "failed".into(),
                    detail: serde_json::json!({ "sql": req.sql, "shards": req.shards, "error": e }),
                    ..Entry::new(Event::ConsoleQuery)
                };
                self.audit
                    .append(actor, &entry)
                    .await
                    .map_err(|e| ConsoleError::AuditDown(e.to_string()))?;
                return Err(ConsoleError::Unavailable(e));
            }
        }
        let shard_list: Vec<u32> = targets.iter().map(|(s, _)| *s).collect();
        let intent = Entry {
            environment: req.environment.clone(),
            service: req.database.clone(),
            action_id: id.clone(),
            outcome: "started".into(),
            detail: serde_json::json!({
                "sql": req.sql,
                "ran": checked.sql,
                "shards": ranges(&shard_list),
                "shard_count": shard_list.len(),
            }),
            ..Entry::new(Event::ConsoleQuery)
        };
        // Nothing runs that was not audited first.
        self.audit
            .append(actor, &intent)
            .await
            .map_err(|e| ConsoleError::AuditDown(e.to_string()))?;
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let (progress, _) = watch::channel(Progress {
            total: targets.len() as u32,
            done: 0,
            failed: Vec::new(),
            rows: 0,
            state: QueryState::Running,
        });
        let control = Arc::new(run::Control {
            cancel: cancel_rx,
            pids: Mutex::new(HashSet::new()),
            progress,
        });
        let run = Arc::new(Run {
            id: id.clone(),
            actor: actor.clone(),
            request: req.clone(),
            shard_count: targets.len() as u32,
            started_ms: crate::time::now_ms(),
            control: control.clone(),
            cancel: cancel_tx,
            result: watch::channel(None).0,
            ended: Mutex::new(None),
        });
        self.remember(run.clone());
        let pool = db.pool.clone();
        let caps = self.options.caps();
        let audit = self.audit.clone();
        let history = self.history.clone();
        let task_run = run.clone();
        tokio::spawn(async move {
            let result = run::fan_out(&pool, &checked, &targets, caps, &control).await;
            let result = Arc::new(result);
            record_outcome(&audit, &history, &task_run, &result).await;
            if let Ok(mut e) = task_run.ended.lock() {
                *e = Some(Instant::now());
            }
            task_run.result.send_replace(Some(result));
        });
        Ok(run)
    }

    /// A run of this replica, if `actor` may see it (the person who ran it, or an admin).
    pub fn run(&self, id: &str, actor: &Actor) -> Result<Arc<Run>, ConsoleError> {
        let runs = self.runs.lock().map_err(|_| ConsoleError::Gone(0))?;
        match runs.get(id) {
            Some(r) if r.actor.id == actor.id || actor.role == "admin" => Ok(r.clone()),
            _ => Err(ConsoleError::Gone(self.options.keep_results_secs / 60)),
        }
    }

    /// Cancels a running query: its shards not yet started do not start, and its backends'
    /// statements are cancelled.
    pub fn cancel(&self, id: &str, actor: &Actor) -> Result<(), ConsoleError> {
        let run = self.run(id, actor)?;
        run.cancel.send_replace(true);
        Ok(())
    }

    /// A download of a kept result, audited before it is handed out.
    pub async fn export(
        &self,
        id: &str,
        actor: &Actor,
        format: export::Format,
    ) -> Result<Vec<u8>, ConsoleError> {
        let run = self.run(id, actor)?;
        let result = run.result().ok_or_else(|| {
            ConsoleError::Refused(
                "the query is still running: wait for its end, then download".into(),
            )
        })?;
        let entry = Entry {
            environment: run.request.environment.clone(),
            service: run.request.database.clone(),
            action_id: run.id.clone(),
            outcome: "exported".into(),
            detail: serde_json::json!({
                "format": format.as_str(),
                "rows": result.rows.len(),
                "sql": run.request.sql,
            }),
            ..Entry::new(Event::ConsoleExport)
        };
        self.audit
            .append(actor, &entry)
            .await
            .map_err(|e| ConsoleError::AuditDown(e.to_string()))?;
        Ok(match format {
            export::Format::Csv => export::csv(&result),
            export::Format::Json => export::json(&result),
        })
    }

    fn remember(&self, run: Arc<Run>) {
        let Ok(mut runs) = self.runs.lock() else {
            return;
        };
        let keep = Duration::from_secs(self.options.keep_results_secs);
        let ended_at = |r: &Run| r.ended.lock().ok().and_then(|e| *e);
        runs.retain(|_, r| ended_at(r).is_none_or(|t| t.elapsed() < keep));
        let mut ended: Vec<(Instant, String)> = runs
            .iter()
            .filter_map(|(id, r)| ended_at(r).map(|t| (t, id.clone())))
            .collect();
        if ended.len() >= self.options.keep_results.max(1) {
            ended.sort();
            let drop_n = ended.len() + 1 - self.options.keep_results.max(1);
            for (_, id) in ended.into_iter().take(drop_n) {
                runs.remove(&id);
            }
        }
        runs.insert(run.id.clone(), run);
    }

    /// Closes idle connections (shutdown).
    pub fn close(&self) {
        for dbs in self.environments.values() {
            for db in dbs.values() {
                db.pool.close_idle();
            }
        }
    }
}

/// Why [`preflight`] stopped a query.
enum Preflight {
    Refused(String),
    Unavailable(String),
}

/// What is checked on the target database before a query starts, on one connection: the role
/// (the console runs nothing where its role could write: the page's red warning alone let
/// queries run), then the statement's names against the catalog
/// ([`guard::check_on_database`]). Both are read again for every query: a GRANT, or a function
/// created since, counts at once.
async fn preflight(
    pool: &Arc<pool::DbPool>,
    checked: &guard::Checked,
    timeout: Duration,
) -> Result<(), Preflight> {
    let mut lease = pool
        .acquire()
        .await
        .map_err(|e| Preflight::Unavailable(e.to_string()))?;
    let checks = async {
        let conn = &mut lease.backend.conn;
        let role = browse::check_role(conn).await.map_err(|e| {
            Preflight::Unavailable(format!(
                "{}: the role's privileges could not be read: {}",
                pool.label,
                pool::describe(&e)
            ))
        })?;
        if let Some(refusal) = role.refusal(&pool.label) {
            return Err(Preflight::Refused(refusal));
        }
        guard::check_on_database(conn, checked)
            .await
            .map_err(|e| match e {
                guard::DatabaseCheckError::Refused(r) => Preflight::Refused(r.0),
                lookup @ guard::DatabaseCheckError::Lookup(_) => {
                    Preflight::Unavailable(format!("{}: {lookup}", pool.label))
                }
            })
    };
    let outcome = match tokio::time::timeout(timeout, checks).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Preflight::Unavailable(format!(
            "{}: the role and the statement's functions could not be checked within {} s",
            pool.label,
            timeout.as_secs()
        ))),
    };
    match &outcome {
        // A clean end (an answer, even a refusal): the connection goes back, reset.
        Ok(()) | Err(Preflight::Refused(_)) => lease.give_back().await,
        // A connection that failed or did not answer is closed.
        Err(Preflight::Unavailable(_)) => drop(lease),
    }
    outcome
}

/// The outcome row and the history row; retried while the store does not answer, because an
/// audit row that says a query started must be followed by one that says how it ended.
async fn record_outcome(
    audit: &AuditLog,
    history: &history::History,
    run: &Run,
    result: &QueryResult,
) {
    let rows_per_shard: BTreeMap<String, u64> = result
        .shards
        .iter()
        .filter(|s| s.rows > 0)
        .map(|s| (s.shard.to_string(), s.rows))
        .collect();
    let failed: Vec<serde_json::Value> = result
        .failed()
        .map(|s| serde_json::json!({ "shard": s.shard, "error": s.error }))
        .collect();
    let entry = Entry {
        environment: run.request.environment.clone(),
        service: run.request.database.clone(),
        action_id: run.id.clone(),
        outcome: result.state.as_str().into(),
        detail: serde_json::json!({
            "sql": run.request.sql,
            "shard_count": run.shard_count,
            "duration_ms": result.duration_ms,
            "rows": result.total_rows,
            "rows_per_shard": rows_per_shard,
            "truncated": result.truncated,
            "failed": failed,
        }),
        ..Entry::new(Event::ConsoleQuery)
    };
    for attempt in 0..30u32 {
        match audit.append(&run.actor, &entry).await {
            Ok(_) => break,
            Err(e) => {
                tracing::error!(error = %e, query = %run.id, attempt, "the console query's outcome could not be audited; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
    let entry = HistoryEntry {
        id: run.id.clone(),
        environment: run.request.environment.clone(),
        database: run.request.database.clone(),
        shards: run.request.shards.clone(),
        sql: run.request.sql.clone(),
        state: result.state.as_str().into(),
        rows: result.total_rows as i64,
        duration_ms: result.duration_ms as i64,
        started_ms: run.started_ms,
    };
    if let Err(e) = history.record(&run.actor, &entry).await {
        tracing::warn!(error = %e, "the console history row could not be written");
    }
}

/// `0-15,30` for the audit row.
pub fn ranges(shards: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let start = shards[i];
        let mut end = start;
        while i + 1 < shards.len() && shards[i + 1] == end + 1 {
            i += 1;
            end = shards[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// Random, so that one person cannot guess another's query id (the result is also checked
/// against its owner).
fn new_id() -> String {
    format!("q{}", crate::auth::random_token())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_are_compact() {
        assert_eq!(super::ranges(&[0, 1, 2, 3, 30, 32, 33]), "0-3,30,32-33");
        assert_eq!(super::ranges(&[]), "");
    }
}

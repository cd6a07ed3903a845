//! The shard console as the browser sees it: the types both builds share and the server
//! functions, which check the caller and hand the work to `ops::console`.
//!
//! At the wall: browsing, locating, results and history under `/api/read` (anyone signed in;
//! a result is only its owner's or an admin's), starting, cancelling and saving under
//! `/api/attempt` (anyone signed in: the console itself refuses a viewer's query, and audits
//! the refusal). Progress is a server-sent event stream and downloads are files
//! (`server/src/console.rs`).

// A server function's arguments are its form's fields, one each.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the page needs first: where it can query and within which bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSetupView {
    /// Environment → its databases, production first.
    pub environments: Vec<(String, Vec<String>)>,
    /// The caller may run queries (responder or admin).
    pub may_query: bool,
    pub role: String,
    pub rows_per_shard: u64,
    pub rows_total: u64,
    pub bytes_total: u64,
    pub statement_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseView {
    pub name: String,
    /// 128 for a sharded database, 1 otherwise.
    pub shard_count: u32,
    /// The one schema of an unsharded database (`shard_0`, `public`).
    pub schema: Option<String>,
    pub role_user: String,
    /// Every way the role could write; shown in red when not empty.
    pub can_write: Vec<String>,
    pub statement_timeout: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableView {
    pub name: String,
    pub kind: String,
    pub estimate: f64,
    pub columns: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocatedView {
    pub input: String,
    pub shard: u32,
    /// `name` or `id`.
    pub rule: String,
    pub warning: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartView {
    Started {
        id: String,
    },
    /// Nothing ran (audited): why, and what to do.
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardView {
    pub shard: u32,
    /// ok, truncated, failed, cancelled, skipped
    pub state: String,
    pub rows: u64,
    pub error: Option<String>,
    pub ms: u64,
}

/// A finished query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultView {
    pub id: String,
    pub environment: String,
    pub database: String,
    pub sql: String,
    /// complete, truncated, partial, failed, cancelled
    pub state: String,
    pub columns: Vec<String>,
    /// (shard, cells); `None` is NULL.
    pub rows: Vec<(u32, Vec<Option<String>>)>,
    /// Per column: every value is a number (the grid sorts it as one and aligns it right).
    pub numeric: Vec<bool>,
    pub shards: Vec<ShardView>,
    pub truncated: Vec<String>,
    pub duration_ms: u64,
    pub total_rows: u64,
    pub bytes: u64,
}

impl ResultView {
    pub fn failed(&self) -> impl Iterator<Item = &ShardView> {
        self.shards.iter().filter(|s| s.state == "failed")
    }
}

/// Progress while a query runs (the event stream's data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleProgress {
    pub total: u32,
    pub done: u32,
    pub failed: Vec<(u32, String)>,
    pub rows: u64,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub id: String,
    pub environment: String,
    pub database: String,
    pub shards: String,
    pub sql: String,
    pub state: String,
    pub rows: i64,
    pub duration_ms: i64,
    pub started_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub database: String,
    pub shards: String,
    pub sql: String,
    pub owner_name: String,
    pub shared: bool,
    /// The caller may delete it (owner or admin).
    pub deletable: bool,
}

#[server(prefix = "/api/read", endpoint = "console-setup")]
pub async fn console_setup() -> Result<ConsoleSetupView, ServerFnError> {
    let id = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let o = portal.console.options();
    let order: Vec<&str> = portal
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let mut environments = portal.console.configured();
    environments.sort_by_key(|(e, _)| order.iter().position(|o| o == e).unwrap_or(usize::MAX));
    Ok(ConsoleSetupView {
        environments,
        may_query: ops::console::may_query(id.role.as_str()),
        role: id.role.as_str().to_owned(),
        rows_per_shard: o.rows_per_shard,
        rows_total: o.rows_total,
        bytes_total: o.bytes_total,
        statement_timeout_secs: o.statement_timeout_secs,
    })
}

#[server(prefix = "/api/read", endpoint = "console-databases")]
pub async fn console_databases(environment: String) -> Result<Vec<DatabaseView>, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(portal
        .console
        .databases(&environment)
        .await
        .into_iter()
        .map(ssr::database_view)
        .collect())
}

#[server(prefix = "/api/read", endpoint = "console-tables")]
pub async fn console_tables(
    environment: String,
    database: String,
    shard: u32,
) -> Result<Vec<TableView>, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let tables = portal
        .console
        .tables(&environment, &database, shard)
        .await
        .map_err(ServerFnError::new)?;
    Ok(tables
        .into_iter()
        .map(|t| TableView {
            name: t.name,
            kind: t.kind,
            estimate: t.estimate,
            columns: t.columns,
        })
        .collect())
}

/// Builder's shard rule for a name or an id.
#[server(prefix = "/api/read", endpoint = "console-locate")]
pub async fn console_locate(input: String) -> Result<LocatedView, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let l = ops::console::locator::locate(&input).map_err(ServerFnError::new)?;
    Ok(LocatedView {
        input: l.input,
        shard: l.shard,
        rule: l.rule,
        warning: l.warning,
    })
}

#[server(prefix = "/api/attempt", endpoint = "console-start")]
pub async fn console_start(
    environment: String,
    database: String,
    shards: String,
    sql: String,
) -> Result<StartView, ServerFnError> {
    let id = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let actor = id.actor();
    let request = ops::console::QueryRequest {
        environment,
        database,
        shards,
        sql,
    };
    match portal.console.start(&actor, request).await {
        Ok(run) => Ok(StartView::Started { id: run.id.clone() }),
        Err(ops::console::ConsoleError::Refused(reason)) => Ok(StartView::Refused { reason }),
        Err(ops::console::ConsoleError::Unavailable(e)) => Ok(StartView::Refused {
            reason: format!("The datastore did not answer: {e}. Check that it runs and that Onwatch may connect (README: the query console)."),
        }),
        Err(e) => Err(ServerFnError::new(e.to_string())),
    }
}

/// A query's result; with `wait`, once it has ended. `None`: no such query on this replica
/// (results are kept for a while), or not the caller's.
#[server(prefix = "/api/read", endpoint = "console-result")]
pub async fn console_result(id: String, wait: bool) -> Result<Option<ResultView>, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let actor = who.actor();
    let Ok(run) = portal.console.run(&id, &actor) else {
        return Ok(None);
    };
    let limit =
        std::time::Duration::from_secs(portal.console.options().statement_timeout_secs + 30);
    let result = if wait {
        run.wait(limit).await
    } else {
        run.result()
    };
    let result = result.ok_or_else(|| ServerFnError::new("the query is still running"))?;
    Ok(Some(ssr::result_view(&run, &result)))
}

/// Cancels the caller's running query; `false` when there is no such query of theirs here.
#[server(prefix = "/api/attempt", endpoint = "console-cancel")]
pub async fn console_cancel(id: String) -> Result<bool, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(portal.console.cancel(&id, &who.actor()).is_ok())
}

#[server(prefix = "/api/read", endpoint = "console-history")]
pub async fn console_history() -> Result<Vec<HistoryView>, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let actor = who.actor();
    let rows = portal
        .console
        .history()
        .of(&actor.id, 20)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(rows
        .into_iter()
        .map(|h| HistoryView {
            id: h.id,
            environment: h.environment,
            database: h.database,
            shards: h.shards,
            sql: h.sql,
            state: h.state,
            rows: h.rows,
            duration_ms: h.duration_ms,
            started_ms: h.started_ms,
        })
        .collect())
}

#[server(prefix = "/api/read", endpoint = "console-saved")]
pub async fn console_saved() -> Result<Vec<SavedView>, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let actor = who.actor();
    // A query's text can carry values from the datastore (an origin, an account): like the
    // audit log's, it is for those who may run it.
    let may_read_sql = ops::console::may_query(&actor.role);
    let rows = portal
        .console
        .history()
        .saved(&actor.id)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(rows
        .into_iter()
        .map(|s| SavedView {
            deletable: s.owner == actor.id || actor.role == "admin",
            id: s.id,
            name: s.name,
            description: s.description,
            database: s.database,
            shards: s.shards,
            sql: if may_read_sql { s.sql } else { String::new() },
            owner_name: s.owner_name,
            shared: s.shared,
        })
        .collect())
}

/// Saves the query under a name (replacing the caller's own of that name); `shared`: `on`
/// shares it with everyone signed in. `Some(reason)` when it was not saved.
#[server(prefix = "/api/attempt", endpoint = "console-save")]
pub async fn console_save(
    name: String,
    database: String,
    shards: String,
    sql: String,
    #[server(default)] shared: String,
) -> Result<Option<String>, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let actor = who.actor();
    if !ops::console::may_query(&actor.role) {
        return Ok(Some(format!(
            "Saving queries needs the responder role (you: {}).",
            actor.role
        )));
    }
    Ok(portal
        .console
        .history()
        .save(
            &actor,
            &ops::console::NewSaved {
                name: &name,
                description: "",
                database: &database,
                shards: &shards,
                sql: &sql,
                shared: shared == "on" || shared == "true",
            },
        )
        .await
        .err()
        .map(|e| e.to_string()))
}

#[server(prefix = "/api/attempt", endpoint = "console-delete-saved")]
pub async fn console_delete_saved(id: String) -> Result<bool, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    portal
        .console
        .history()
        .delete_saved(&who.actor(), &id)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use ops::console::{Cell, DatabaseInfo, Layout, Progress, QueryResult, Run};

    pub fn database_view(d: DatabaseInfo) -> DatabaseView {
        let (shard_count, schema) = match &d.layout {
            Some(Layout::Sharded(n)) => (*n, None),
            Some(Layout::Single(s)) => (1, Some(s.clone())),
            None => (0, None),
        };
        DatabaseView {
            name: d.name,
            shard_count,
            schema,
            role_user: d.role.as_ref().map(|r| r.user.clone()).unwrap_or_default(),
            can_write: d
                .role
                .as_ref()
                .map(|r| r.can_write.clone())
                .unwrap_or_default(),
            statement_timeout: d
                .role
                .as_ref()
                .map(|r| r.statement_timeout.clone())
                .unwrap_or_default(),
            error: d.error,
        }
    }

    pub fn progress_view(p: &Progress) -> ConsoleProgress {
        ConsoleProgress {
            total: p.total,
            done: p.done,
            failed: p.failed.clone(),
            rows: p.rows,
            state: p.state.as_str().to_owned(),
        }
    }

    pub fn result_view(run: &Run, r: &QueryResult) -> ResultView {
        let numeric = (0..r.columns.len())
            .map(|i| {
                let mut any = false;
                let all = r.rows.iter().all(|row| match row.cells.get(i) {
                    Some(Cell::Json(s)) => {
                        any = true;
                        s.parse::<f64>().is_ok()
                    }
                    Some(Cell::Null) | None => true,
                    Some(Cell::Text(_)) => false,
                });
                all && any
            })
            .collect();
        ResultView {
            id: run.id.clone(),
            environment: run.request.environment.clone(),
            database: run.request.database.clone(),
            sql: run.request.sql.clone(),
            state: r.state.as_str().to_owned(),
            columns: r.columns.clone(),
            rows: r
                .rows
                .iter()
                .map(|row| {
                    (
                        row.shard,
                        row.cells
                            .iter()
                            .map(|c| c.as_text().map(str::to_owned))
                            .collect(),
                    )
                })
                .collect(),
            numeric,
            shards: r
                .shards
                .iter()
                .map(|s| ShardView {
                    shard: s.shard,
                    state: serde_json::to_value(s.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    rows: s.rows,
                    error: s.error.clone(),
                    ms: s.ms,
                })
                .collect(),
            truncated: r.truncated.clone(),
            duration_ms: r.duration_ms,
            total_rows: r.total_rows,
            bytes: r.bytes,
        }
    }
}

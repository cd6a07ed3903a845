//! One query over many shards: fanned out with bounded parallelism, each shard in its own
//! read-only transaction that is rolled back, rows streamed into a collector that applies the
//! caps as they arrive (so nothing is gathered whole before a cap applies), failed shards
//! listed while the others' rows still count.
//!
//! The walls after the guard, per shard: the statement goes through the extended protocol (one
//! statement per Parse: Postgres refuses a second), inside `BEGIN READ ONLY`, with
//! `statement_timeout` and `search_path` set LOCAL by `set_config(…, true)` (works on 9.6 as on
//! 15), `ROLLBACK` at the end, and `DISCARD ALL` before the connection serves another query (or
//! it is closed); the role itself can only read (the console refuses to start otherwise).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{Column, Executor, Row, TypeInfo, ValueRef};
use tokio::sync::watch;

use super::guard::{Checked, Shape};
use super::pool::{describe, DbPool};

/// One value as Postgres printed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cell {
    Null,
    /// A string value (text, timestamps, bytea as `\x…`, …).
    Text(String),
    /// A number, a boolean, an array or an object: its JSON text, exact (a numeric keeps every
    /// digit).
    Json(String),
}

impl Cell {
    pub fn len(&self) -> usize {
        match self {
            Cell::Null => 0,
            Cell::Text(s) | Cell::Json(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// As a CSV field or a grid cell shows it (NULL is empty in CSV; the grid says NULL).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Null => None,
            Cell::Text(s) | Cell::Json(s) => Some(s),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRow {
    pub shard: u32,
    pub cells: Vec<Cell>,
}

/// How one shard's part went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardState {
    Ok,
    /// Its rows reached the per-shard cap (or a total cap stopped it).
    Truncated,
    Failed,
    /// Not run or stopped: the query was cancelled.
    Cancelled,
    /// Not run: a total cap was reached before its turn.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    pub shard: u32,
    pub schema: String,
    pub state: ShardState,
    pub rows: u64,
    pub error: Option<String>,
    pub ms: u64,
}

/// The query as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryState {
    Running,
    /// Every shard answered, nothing cut.
    Complete,
    /// Every shard answered, but a cap cut the rows.
    Truncated,
    /// Some shards failed; the others' rows are there.
    Partial,
    /// Every shard failed.
    Failed,
    Cancelled,
}

impl QueryState {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryState::Running => "running",
            QueryState::Complete => "complete",
            QueryState::Truncated => "truncated",
            QueryState::Partial => "partial",
            QueryState::Failed => "failed",
            QueryState::Cancelled => "cancelled",
        }
    }
}

/// Progress while it runs (and its last value when it ended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub total: u32,
    pub done: u32,
    pub failed: Vec<(u32, String)>,
    pub rows: u64,
    pub state: QueryState,
}

/// What a query came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResult {
    pub columns: Vec<String>,
    /// Ordered by shard, then as each shard returned them.
    pub rows: Vec<ResultRow>,
    pub shards: Vec<ShardReport>,
    /// Why rows are missing, one sentence per cap that cut ("at most 1000 rows per shard:
    /// shards 3, 30 have more").
    pub truncated: Vec<String>,
    pub state: QueryState,
    pub duration_ms: u64,
    pub total_rows: u64,
    pub bytes: u64,
}

impl QueryResult {
    pub fn failed(&self) -> impl Iterator<Item = &ShardReport> {
        self.shards.iter().filter(|s| s.state == ShardState::Failed)
    }
}

/// The bounds of one query.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub rows_per_shard: u64,
    pub rows_total: u64,
    pub bytes_total: u64,
    pub statement_timeout: Duration,
    pub parallelism: usize,
}

/// A query on its way: the cancel switch, the backends it holds, its progress.
pub struct Control {
    pub cancel: watch::Receiver<bool>,
    pub pids: Mutex<HashSet<i32>>,
    pub progress: watch::Sender<Progress>,
}

/// Where the rows go while shards answer: the caps apply here, row by row.
struct Collector {
    by_shard: BTreeMap<u32, Vec<Vec<Cell>>>,
    columns: Option<Vec<String>>,
    total_rows: u64,
    bytes: u64,
    /// The total row cap or the byte cap was reached: every shard stops reading.
    full: Option<String>,
}

enum Take {
    More,
    /// This shard has reached its own cap.
    ShardFull,
    /// A total cap was reached.
    Stop,
}

impl Collector {
    fn push(&mut self, shard: u32, cells: Vec<Cell>, bytes: u64, caps: &Caps) -> Take {
        if self.full.is_some() {
            return Take::Stop;
        }
        if self.total_rows >= caps.rows_total {
            self.full = Some(format!(
                "at most {} rows in total: the query stopped there",
                caps.rows_total
            ));
            return Take::Stop;
        }
        if self.bytes + bytes > caps.bytes_total {
            self.full = Some(format!(
                "at most {} in total: the query stopped there",
                human_bytes(caps.bytes_total)
            ));
            return Take::Stop;
        }
        let rows = self.by_shard.entry(shard).or_default();
        if rows.len() as u64 >= caps.rows_per_shard {
            return Take::ShardFull;
        }
        rows.push(cells);
        self.total_rows += 1;
        self.bytes += bytes;
        Take::More
    }
}

pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// How one shard ended, before the report.
enum Ended {
    /// Clean: rolled back, the connection can be reused.
    Done {
        rows: u64,
        cut: bool,
    },
    /// Stopped early by a total cap: the connection is closed.
    Stopped {
        rows: u64,
    },
    /// Not started: a total cap was reached while it waited for a connection.
    NotRun,
    Error(String),
}

/// What every shard's task shares.
struct Shared {
    pool: Arc<DbPool>,
    sql: String,
    shape: Shape,
    caps: Caps,
    control: Arc<Control>,
    collector: Mutex<Collector>,
    stop: AtomicBool,
    cancelled: AtomicBool,
}

/// One shard's task, owning what it uses (so that it can be polled from anywhere).
fn shard_task(
    sh: Arc<Shared>,
    shard: u32,
    schema: String,
) -> futures_util::future::BoxFuture<'static, ShardReport> {
    Box::pin(async move {
        let t0 = Instant::now();
        let (state, rows, error) = if sh.cancelled.load(Ordering::SeqCst) {
            (ShardState::Cancelled, 0, None)
        } else if sh.stop.load(Ordering::SeqCst) {
            (ShardState::Skipped, 0, None)
        } else {
            match one_shard(&sh, &schema, shard).await {
                Ended::Done { rows, cut } => (
                    if cut {
                        ShardState::Truncated
                    } else {
                        ShardState::Ok
                    },
                    rows,
                    None,
                ),
                Ended::Stopped { rows } => (ShardState::Truncated, rows, None),
                Ended::NotRun if sh.cancelled.load(Ordering::SeqCst) => {
                    (ShardState::Cancelled, 0, None)
                }
                Ended::NotRun => (ShardState::Skipped, 0, None),
                Ended::Error(e) if sh.cancelled.load(Ordering::SeqCst) => {
                    (ShardState::Cancelled, 0, Some(e))
                }
                // Cancelled by Onwatch because a total cap was reached: not a failure.
                Ended::Error(e)
                    if sh.stop.load(Ordering::SeqCst)
                        && e.contains("canceling statement due to user request") =>
                {
                    (
                        ShardState::Skipped,
                        0,
                        Some("stopped: a total cap was reached".into()),
                    )
                }
                Ended::Error(e) => (ShardState::Failed, 0, Some(e)),
            }
        };
        ShardReport {
            shard,
            schema,
            state,
            rows,
            error,
            ms: t0.elapsed().as_millis() as u64,
        }
    })
}

/// Runs `checked` on each `(shard, schema)` of `pool`.
pub async fn fan_out(
    pool: &Arc<DbPool>,
    checked: &Checked,
    targets: &[(u32, String)],
    caps: Caps,
    control: &Arc<Control>,
) -> QueryResult {
    let started = Instant::now();
    let sql = match checked.shape {
        // The newline ends a trailing `--` comment the rendering could carry; the LIMIT is the
        // per-shard cap plus one, so that "more than the cap" is seen without reading it.
        // A row larger than a whole answer may hold never leaves the database: Postgres sends
        // its size instead (its text would otherwise cross the network and be copied here
        // before any bound could look at it).
        Shape::Query => format!(
            "SELECT CASE WHEN octet_length(onwatch_t) > {max} THEN NULL ELSE onwatch_t END, \
             octet_length(onwatch_t) FROM (SELECT row_to_json(onwatch_q)::text AS onwatch_t \
             FROM (\n{}\n) AS onwatch_q LIMIT {}) AS onwatch_r",
            checked.sql,
            caps.rows_per_shard + 1,
            max = caps.bytes_total
        ),
        Shape::Utility => checked.sql.clone(),
    };
    let sh = Arc::new(Shared {
        pool: pool.clone(),
        sql,
        shape: checked.shape,
        caps,
        control: control.clone(),
        collector: Mutex::new(Collector {
            by_shard: BTreeMap::new(),
            columns: None,
            total_rows: 0,
            bytes: 0,
            full: None,
        }),
        stop: AtomicBool::new(false),
        cancelled: AtomicBool::new(false),
    });
    let stop = &sh.stop;
    let cancelled = &sh.cancelled;
    let mut reports: Vec<ShardReport> = Vec::with_capacity(targets.len());
    let mut failed: Vec<(u32, String)> = Vec::new();
    let mut waiting = targets.iter().cloned();
    let mut shards = futures_util::stream::FuturesUnordered::new();
    for (shard, schema) in waiting.by_ref().take(caps.parallelism.max(1)) {
        shards.push(shard_task(sh.clone(), shard, schema));
    }
    let mut cancel = control.cancel.clone();
    let mut cancel_seen = *cancel.borrow();
    if cancel_seen {
        cancelled.store(true, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
    }
    // After a cancel, the backends still running are cancelled again until they end: a shard
    // between its BEGIN and its statement when the first cancel went out would miss it. Once a
    // total cap is reached, the shards still running are cancelled the same way: their rows
    // would not be kept, so the datastore need not compute them.
    let mut recancel = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            next = shards.next() => {
                let Some(report) = next else { break };
                if let Some((shard, schema)) = waiting.next() {
                    shards.push(shard_task(sh.clone(), shard, schema));
                }
                if report.state == ShardState::Failed {
                    failed.push((report.shard, report.error.clone().unwrap_or_default()));
                }
                reports.push(report);
                let rows = sh.collector.lock().map(|c| c.total_rows).unwrap_or(0);
                control.progress.send_modify(|p| {
                    p.done = reports.len() as u32;
                    p.failed = failed.clone();
                    p.rows = rows;
                });
            }
            changed = cancel.changed(), if !cancel_seen => {
                if changed.is_err() || !*cancel.borrow() {
                    cancel_seen = changed.is_err();
                    continue;
                }
                cancel_seen = true;
                cancelled.store(true, Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
                recancel.reset();
                let pids: Vec<i32> = control.pids.lock().map(|p| p.iter().copied().collect()).unwrap_or_default();
                cancel_backends(pool, &pids).await;
            }
            _ = recancel.tick(), if cancelled.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) => {
                let pids: Vec<i32> = control.pids.lock().map(|p| p.iter().copied().collect()).unwrap_or_default();
                cancel_backends(pool, &pids).await;
            }
        }
    }
    drop(shards);
    reports.sort_by_key(|r| r.shard);
    let collector = match sh.collector.lock() {
        Ok(mut c) => std::mem::replace(
            &mut *c,
            Collector {
                by_shard: BTreeMap::new(),
                columns: None,
                total_rows: 0,
                bytes: 0,
                full: None,
            },
        ),
        Err(e) => return failed_whole(e.to_string(), started),
    };
    let mut truncated = Vec::new();
    let cut: Vec<u32> = reports
        .iter()
        .filter(|r| r.state == ShardState::Truncated && collector.full.is_none())
        .map(|r| r.shard)
        .collect();
    if !cut.is_empty() {
        truncated.push(format!(
            "at most {} rows per shard: {} more",
            caps.rows_per_shard,
            shard_list("shard", &cut)
        ));
    }
    if let Some(full) = &collector.full {
        truncated.push(full.clone());
    }
    let any_failed = !failed.is_empty();
    let all_failed = any_failed && failed.len() == reports.len();
    let state = if cancelled.load(Ordering::SeqCst) {
        QueryState::Cancelled
    } else if all_failed {
        QueryState::Failed
    } else if any_failed {
        QueryState::Partial
    } else if !truncated.is_empty() {
        QueryState::Truncated
    } else {
        QueryState::Complete
    };
    let mut columns = collector.columns.clone().unwrap_or_default();
    if columns.is_empty() && checked.shape == Shape::Query {
        // No row anywhere: the columns come from one shard's description of the statement.
        if let Some(report) = reports.iter().find(|r| r.state == ShardState::Ok) {
            columns = describe_columns(pool, &checked.sql, &report.schema, caps)
                .await
                .unwrap_or_default();
        }
    }
    let mut rows = Vec::with_capacity(collector.total_rows as usize);
    for (shard, shard_rows) in collector.by_shard {
        rows.extend(
            shard_rows
                .into_iter()
                .map(|cells| ResultRow { shard, cells }),
        );
    }
    let result = QueryResult {
        columns,
        rows,
        shards: reports,
        truncated,
        state,
        duration_ms: started.elapsed().as_millis() as u64,
        total_rows: collector.total_rows,
        bytes: collector.bytes,
    };
    control.progress.send_modify(|p| {
        p.state = state;
        p.rows = result.total_rows;
    });
    result
}

fn failed_whole(why: String, started: Instant) -> QueryResult {
    QueryResult {
        columns: Vec::new(),
        rows: Vec::new(),
        shards: Vec::new(),
        truncated: vec![why],
        state: QueryState::Failed,
        duration_ms: started.elapsed().as_millis() as u64,
        total_rows: 0,
        bytes: 0,
    }
}

/// "shards 3, 30 and 4 others".
pub fn shard_list(word: &str, shards: &[u32]) -> String {
    let shown: Vec<String> = shards.iter().take(8).map(u32::to_string).collect();
    let rest = shards.len().saturating_sub(8);
    let plural = if shards.len() == 1 { "" } else { "s" };
    if rest > 0 {
        format!("{word}{plural} {} and {rest} others", shown.join(", "))
    } else {
        format!("{word}{plural} {}", shown.join(", "))
    }
}

/// The statement on one shard, start to rollback.
async fn one_shard(sh: &Shared, schema: &str, shard: u32) -> Ended {
    let (pool, caps, control, stop) = (&sh.pool, sh.caps, &sh.control, &sh.stop);
    let mut lease = match pool.acquire().await {
        Ok(l) => l,
        Err(e) => return Ended::Error(e.to_string()),
    };
    if stop.load(Ordering::SeqCst) {
        lease.give_back().await;
        return Ended::NotRun;
    }
    let pid = lease.backend.pid;
    if let Ok(mut p) = control.pids.lock() {
        p.insert(pid);
    }
    // Our own bound on top of the statement timeout: a datastore that stops answering costs
    // this shard, not the query.
    let deadline = caps.statement_timeout + Duration::from_secs(5);
    let body = shard_body(&mut lease.backend.conn, sh, schema, shard);
    let ended = match tokio::time::timeout(deadline, body).await {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => Ended::Error(describe(&e)),
        Err(_) => Ended::Error(format!(
            "no answer within {} s: the shard's connection was closed",
            deadline.as_secs()
        )),
    };
    if let Ok(mut p) = control.pids.lock() {
        p.remove(&pid);
    }
    let cancelled = *control.cancel.borrow();
    match &ended {
        // Clean end: reuse the connection (reset: see `Lease::give_back`).
        Ended::Done { .. } if !cancelled => lease.give_back().await,
        // A failed statement leaves an aborted transaction: roll it back, and reuse the
        // connection only if that works and nobody cancelled.
        Ended::Error(_) if !cancelled => {
            let ok = tokio::time::timeout(
                Duration::from_secs(2),
                lease.backend.conn.execute("ROLLBACK"),
            )
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false);
            if ok {
                lease.give_back().await;
            }
        }
        // Stopped mid-stream, or cancelled: the connection's state is not known; it is closed.
        _ => drop(lease),
    }
    ended
}

/// A read-only transaction whose search_path is the shard's schema and whose statements time
/// out: `set_config(…, true)` is `SET LOCAL` as a function (one round trip, and 9.6 has it).
async fn begin_on_shard(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    caps: Caps,
) -> Result<(), sqlx::Error> {
    (&mut *conn).execute("BEGIN READ ONLY").await?;
    sqlx::query(
        "SELECT set_config('search_path', $1, true), set_config('statement_timeout', $2, true)",
    )
    .bind(quote_ident(schema))
    .bind(caps.statement_timeout.as_millis().to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// BEGIN READ ONLY, the shard's settings, the rows into the collector, ROLLBACK.
async fn shard_body(
    conn: &mut sqlx::PgConnection,
    sh: &Shared,
    schema: &str,
    shard: u32,
) -> Result<Ended, sqlx::Error> {
    let (sql, shape, caps, collector, stop) =
        (sh.sql.as_str(), sh.shape, sh.caps, &sh.collector, &sh.stop);
    begin_on_shard(conn, schema, caps).await?;
    let mut rows = 0u64;
    let mut cut = false;
    let mut stopped = false;
    {
        let mut stream = sqlx::query(sql).persistent(false).fetch(&mut *conn);
        while let Some(row) = stream.try_next().await? {
            if stop.load(Ordering::SeqCst) {
                stopped = true;
                break;
            }
            let (cells, bytes, names) = match decode(&row, shape) {
                Ok(d) => d,
                Err(e) => return Err(sqlx::Error::Decode(e.into())),
            };
            let take = {
                let mut c = collector.lock().map_err(|_| sqlx::Error::PoolClosed)?;
                if c.columns.is_none() {
                    c.columns = Some(names);
                }
                c.push(shard, cells, bytes, &caps)
            };
            match take {
                Take::More => rows += 1,
                Take::ShardFull => {
                    cut = true;
                    // A query's LIMIT leaves one row at most; a SHOW or EXPLAIN is stopped.
                    if shape == Shape::Utility {
                        stopped = true;
                        break;
                    }
                }
                Take::Stop => {
                    stop.store(true, Ordering::SeqCst);
                    stopped = true;
                    break;
                }
            }
        }
    }
    if stopped {
        return Ok(Ended::Stopped { rows });
    }
    (&mut *conn).execute("ROLLBACK").await?;
    Ok::<_, sqlx::Error>(Ended::Done { rows, cut })
}

/// `shard_30` → `"shard_30"`.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One row's cells, its size, and its column names.
fn decode(row: &PgRow, shape: Shape) -> Result<(Vec<Cell>, u64, Vec<String>), String> {
    match shape {
        Shape::Query => {
            let size: i32 = row.try_get(1).map_err(|e| e.to_string())?;
            let Some(text): Option<String> = row.try_get(0).map_err(|e| e.to_string())? else {
                return Err(format!(
                    "a row of {} is more than a whole answer may hold: select fewer or shorter columns (left(col, 1000))",
                    human_bytes(size.max(0) as u64)
                ));
            };
            let OrderedRow(entries) = serde_json::from_str(&text)
                .map_err(|e| format!("a row Onwatch could not read: {e}"))?;
            let mut names = Vec::with_capacity(entries.len());
            let mut cells = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                names.push(k);
                cells.push(json_cell(v.get()));
            }
            Ok((cells, text.len() as u64, names))
        }
        Shape::Utility => {
            let mut cells = Vec::with_capacity(row.len());
            let mut names = Vec::with_capacity(row.len());
            let mut bytes = 0u64;
            for (i, col) in row.columns().iter().enumerate() {
                names.push(col.name().to_owned());
                let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
                if raw.is_null() {
                    cells.push(Cell::Null);
                    continue;
                }
                let type_name = raw.type_info().name().to_owned();
                let mut b = raw.as_bytes().map_err(|e| e.to_string())?;
                // jsonb's binary form is a version byte, then the text.
                if type_name == "JSONB" && b.first() == Some(&1) {
                    b = &b[1..];
                }
                let text = String::from_utf8_lossy(b).into_owned();
                bytes += text.len() as u64;
                cells.push(if type_name == "JSON" || type_name == "JSONB" {
                    Cell::Json(text)
                } else {
                    Cell::Text(text)
                });
            }
            Ok((cells, bytes, names))
        }
    }
}

fn json_cell(raw: &str) -> Cell {
    if raw == "null" {
        Cell::Null
    } else if raw.starts_with('"') {
        match serde_json::from_str::<String>(raw) {
            Ok(s) => Cell::Text(s),
            Err(_) => Cell::Json(raw.to_owned()),
        }
    } else {
        Cell::Json(raw.to_owned())
    }
}

/// A JSON object's entries in their order, duplicates kept (`SELECT 1 AS a, 2 AS a`).
struct OrderedRow(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> Deserialize<'de> for OrderedRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<OrderedRow, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) =
                    m.next_entry::<String, Box<serde_json::value::RawValue>>()?
                {
                    out.push((k, v));
                }
                Ok(OrderedRow(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The statement's columns, described on one shard (for a result without rows).
async fn describe_columns(
    pool: &Arc<DbPool>,
    sql: &str,
    schema: &str,
    caps: Caps,
) -> Result<Vec<String>, String> {
    let mut lease = pool.acquire().await.map_err(|e| e.to_string())?;
    let work = async {
        let conn = &mut lease.backend.conn;
        begin_on_shard(conn, schema, caps).await?;
        let d = (&mut *conn).describe(sql).await;
        (&mut *conn).execute("ROLLBACK").await?;
        let d = d?;
        Ok::<_, sqlx::Error>(d.columns().iter().map(|c| c.name().to_owned()).collect())
    };
    let r = tokio::time::timeout(caps.statement_timeout, work).await;
    match r {
        Ok(Ok(cols)) => {
            lease.give_back().await;
            Ok(cols)
        }
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err("no answer".into()),
    }
}

/// Cancels the running statements of these backends, which are the pool's own (the pids were
/// recorded when their connections were made): nobody else's query is touched.
pub async fn cancel_backends(pool: &Arc<DbPool>, pids: &[i32]) {
    if pids.is_empty() {
        return;
    }
    match pool.connect().await {
        Ok(mut b) => {
            let r = sqlx::query("SELECT pg_cancel_backend(pid) FROM unnest($1::int4[]) AS pid")
                .bind(pids.to_vec())
                .execute(&mut b.conn)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %describe(&e), "cancelling the console's backends failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot connect to cancel the console's backends"),
    }
}

//! What is in a datastore database: its layout (128 shard schemas, one `shard_0`, or the merged
//! `public` of Builder after 2018), the tables of a shard with their columns and row
//! estimates, and whether Onwatch's role could write (the console page warns in red, and no
//! query runs there). Every statement here is catalog SQL that PostgreSQL 9.6 understands.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::locator;
use super::pool::{describe, DbPool, PoolError};

/// How a database keeps its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// `shard_0` … `shard_{n-1}`.
    Sharded(u32),
    /// One schema (`shard_0` for jobsrv; `public` after the 2018 merge).
    Single(String),
}

impl Layout {
    pub fn shard_count(&self) -> u32 {
        match self {
            Layout::Sharded(n) => *n,
            Layout::Single(_) => 1,
        }
    }

    pub fn schema(&self, shard: u32) -> Result<String, locator::ShardsError> {
        match self {
            Layout::Sharded(n) if shard < *n => Ok(format!("shard_{shard}")),
            Layout::Sharded(n) => Err(locator::ShardsError::NoSuchShard { shard, count: *n }),
            Layout::Single(s) => Ok(s.clone()),
        }
    }

    /// The (shard, schema) pairs a shard list names. An unsharded database has one target,
    /// whatever was typed, unless it names a shard other than 0.
    pub fn targets(&self, shards: &str) -> Result<Vec<(u32, String)>, locator::ShardsError> {
        match self {
            Layout::Sharded(n) => Ok(locator::parse_shards(shards, *n)?
                .into_iter()
                .map(|s| (s, format!("shard_{s}")))
                .collect()),
            Layout::Single(schema) => {
                let t = shards.trim();
                if t.is_empty() || t.eq_ignore_ascii_case("all") || t == "0" || t == "shard_0" {
                    Ok(vec![(0, schema.clone())])
                } else {
                    Err(locator::ShardsError::NotSharded {
                        schema: schema.clone(),
                    })
                }
            }
        }
    }
}

/// A database as the console page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub name: String,
    pub layout: Option<Layout>,
    pub role: Option<RoleCheck>,
    /// Why it could not be read (unreachable, refused).
    pub error: Option<String>,
}

/// What Onwatch's role can do here. Anything but "only read" is shown in red.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleCheck {
    pub user: String,
    /// One sentence per way it could write; empty when it can only read.
    pub can_write: Vec<String>,
    pub statement_timeout: String,
}

/// A table (or view) of a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: String,
    /// `r` table, `v` view, `m` materialized view, `p` partitioned table.
    pub kind: String,
    /// `pg_class.reltuples`: an estimate; negative or zero when never analysed.
    pub estimate: f64,
    pub columns: Vec<(String, String)>,
}

/// Why a database's catalog could not be read: the datastore did not answer, or failed.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    /// No connection to it.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The statement failed (`why`: the database's words).
    #[error("{label}: {why}")]
    Failed { label: String, why: String },
    /// No answer within the timeout.
    #[error("{label}: no answer within {secs} s")]
    NoAnswer { label: String, secs: u64 },
}

async fn with_conn<T>(
    pool: &Arc<DbPool>,
    timeout: Duration,
    f: impl for<'c> FnOnce(
        &'c mut sqlx::PgConnection,
    ) -> futures_util::future::BoxFuture<'c, Result<T, sqlx::Error>>,
) -> Result<T, BrowseError> {
    let mut lease = pool.acquire().await?;
    match tokio::time::timeout(timeout, f(&mut lease.backend.conn)).await {
        Ok(Ok(v)) => {
            lease.give_back().await;
            Ok(v)
        }
        Ok(Err(e)) => Err(BrowseError::Failed {
            label: pool.label.clone(),
            why: describe(&e),
        }),
        Err(_) => Err(BrowseError::NoAnswer {
            label: pool.label.clone(),
            secs: timeout.as_secs(),
        }),
    }
}

/// Reads the schemas: 2 or more `shard_N` → sharded; only `shard_0` → single; none → `public`.
pub async fn layout(pool: &Arc<DbPool>, timeout: Duration) -> Result<Layout, BrowseError> {
    let numbers: Vec<i32> = with_conn(pool, timeout, |c| {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT substr(nspname, 7)::int FROM pg_namespace WHERE nspname ~ '^shard_[0-9]+$'",
            )
            .fetch_all(c)
            .await?;
            rows.iter().map(|r| r.try_get::<i32, _>(0)).collect()
        })
    })
    .await?;
    Ok(match numbers.len() {
        0 => Layout::Single("public".into()),
        1 if numbers[0] == 0 => Layout::Single("shard_0".into()),
        _ => {
            let max = numbers.iter().copied().max().unwrap_or(0).max(0) as u32;
            Layout::Sharded(max + 1)
        }
    })
}

/// Every way the role could change something, in words.
pub async fn role_check(pool: &Arc<DbPool>) -> Result<RoleCheck, BrowseError> {
    with_conn(pool, Duration::from_secs(10), |c| Box::pin(check_role(c))).await
}

/// [`role_check`] on a connection already held (the console checks before every query).
pub async fn check_role(conn: &mut sqlx::PgConnection) -> Result<RoleCheck, sqlx::Error> {
    let row = sqlx::query(
        "SELECT current_user::text, \
           coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false), \
           has_database_privilege(current_database(), 'CREATE'), \
           has_database_privilege(current_database(), 'TEMP'), \
           (SELECT count(*) FROM pg_namespace n WHERE n.nspname !~ '^pg_' \
              AND n.nspname <> 'information_schema' AND has_schema_privilege(n.oid, 'CREATE')), \
           (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' \
              AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE') \
                OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))), \
           (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE c.relkind = 'S' AND n.nspname !~ '^pg_' \
              AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'UPDATE') ELSE false END), \
           current_setting('statement_timeout')",
    )
    .fetch_one(conn)
    .await?;
    let user: String = row.try_get(0)?;
    let mut can_write = Vec::new();
    if row.try_get::<bool, _>(1)? {
        can_write.push(format!("{user} is a superuser: it can do anything"));
    }
    if row.try_get::<bool, _>(2)? {
        can_write.push("it can CREATE schemas in this database".to_owned());
    }
    if row.try_get::<bool, _>(3)? {
        can_write
            .push("it can create TEMP tables (REVOKE TEMP ON DATABASE … FROM PUBLIC)".to_owned());
    }
    let schemas: i64 = row.try_get(4)?;
    if schemas > 0 {
        can_write.push(format!("it can CREATE in {schemas} schemas"));
    }
    let tables: i64 = row.try_get(5)?;
    if tables > 0 {
        can_write.push(format!(
            "it can INSERT, UPDATE, DELETE or TRUNCATE {tables} tables"
        ));
    }
    let sequences: i64 = row.try_get(6)?;
    if sequences > 0 {
        can_write.push(format!("it can advance {sequences} sequences"));
    }
    Ok(RoleCheck {
        user,
        can_write,
        statement_timeout: row.try_get(7)?,
    })
}

impl RoleCheck {
    /// Why the console runs nothing on `database` as this role, if it could write there: a
    /// read-only transaction is one wall, but a role that can write makes every gap in the
    /// others a write.
    pub fn refusal(&self, database: &str) -> Option<String> {
        if self.can_write.is_empty() {
            return None;
        }
        Some(format!(
            "The console runs nothing on {database}: Onwatch connects there as `{}`, which can write ({}). \
             Connect Onwatch with a role that has only SELECT (see \"The read-only role\" in the README: \
             REVOKE what it can write, or set this database's url to such a role), then run the query again.",
            self.user,
            self.can_write.join("; ")
        ))
    }
}

/// Tables and views of one schema, with columns and row estimates.
pub async fn tables(pool: &Arc<DbPool>, schema: &str) -> Result<Vec<TableInfo>, BrowseError> {
    let schema = schema.to_owned();
    with_conn(pool, Duration::from_secs(10), move |c| {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT c.relname::text, c.relkind::text, c.reltuples::float8, \
                   coalesce(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}'), \
                   coalesce(array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) FILTER (WHERE a.attnum > 0), '{}') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p') \
                 GROUP BY c.oid, c.relname, c.relkind, c.reltuples ORDER BY c.relname",
            )
            .bind(&schema)
            .fetch_all(c)
            .await?;
            rows.iter()
                .map(|r| {
                    let names: Vec<String> = r.try_get(3)?;
                    let types: Vec<String> = r.try_get(4)?;
                    Ok(TableInfo {
                        name: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        estimate: r.try_get(2)?,
                        columns: names.into_iter().zip(types).collect(),
                    })
                })
                .collect()
        })
    })
    .await
}

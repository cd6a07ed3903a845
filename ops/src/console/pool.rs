//! A bounded pool of connections to one datastore database, separate from Onwatch's own store.
//! Written here rather than taken from sqlx because the console needs what sqlx's pool does not
//! give: each connection's backend pid (to cancel Onwatch's own backends, and only them), the
//! choice to close a connection instead of reusing it after a cancel or an early stop, when its
//! state is not known, and a reset (`DISCARD ALL`) of every connection that goes back, so that
//! nothing one query leaves in its session reaches the next.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, Row};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One connection and its server process.
pub struct Backend {
    pub conn: PgConnection,
    pub pid: i32,
}

struct Idle {
    backend: Backend,
    since: Instant,
}

/// Connections to one database: at most `size` at once.
pub struct DbPool {
    /// `live/builder_originsrv`, for messages.
    pub label: String,
    options: PgConnectOptions,
    idle: Mutex<Vec<Idle>>,
    slots: Arc<Semaphore>,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

/// A connection on loan; dropped without [`Lease::give_back`], it is closed.
pub struct Lease {
    pub backend: Backend,
    pool: Arc<DbPool>,
    _permit: OwnedSemaphorePermit,
}

/// How long a connection's reset may take before the connection is closed instead.
const RESET_TIMEOUT: Duration = Duration::from_secs(2);

impl Lease {
    /// Back to the pool, for the next query (only after a clean ROLLBACK), once reset: a ROLLBACK
    /// ends the transaction but not the session, and what a statement left there (a session
    /// advisory lock, a setting, a prepared statement, a cursor, a LISTEN, a temporary table)
    /// would outlive it on a pooled connection. `DISCARD ALL` drops all of it; a connection it
    /// fails on (still in a transaction, or not answering) is closed instead. The slot is held
    /// until then, so the reset counts against the pool's size.
    pub async fn give_back(self) {
        let Lease {
            mut backend,
            pool,
            _permit,
        } = self;
        let reset = tokio::time::timeout(RESET_TIMEOUT, backend.conn.execute("DISCARD ALL")).await;
        match reset {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(database = %pool.label, error = %describe(&e), "a console connection could not be reset; it is closed");
                return;
            }
            Err(_) => {
                tracing::warn!(database = %pool.label, "a console connection's reset did not answer; it is closed");
                return;
            }
        }
        let mut idle = match pool.idle.lock() {
            Ok(i) => i,
            Err(_) => return,
        };
        idle.push(Idle {
            backend,
            since: Instant::now(),
        });
    }
}

/// A database URL that is not a PostgreSQL URL: a configuration mistake.
#[derive(Debug, thiserror::Error)]
#[error("not a PostgreSQL URL ({0}): write postgres://user@host:5432/builder_originsrv")]
pub struct NotAUrl(pub sqlx::Error);

/// Why the pool gave no connection.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The pool was closed (shutting down).
    #[error("the pool is closed")]
    Closed,
    /// A thread panicked while holding the pool's lock.
    #[error("pool lock poisoned")]
    Poisoned,
    /// The database refused or failed the connection (`why`: its words, see [`describe`]).
    #[error("cannot connect to {label}: {why}")]
    Connect { label: String, why: String },
    /// The database did not answer within the connect timeout.
    #[error("cannot connect to {label}: no answer within {secs} s")]
    NoAnswer { label: String, secs: u64 },
}

/// Builds a database's connect options: the URL, then the password from a file or a variable.
pub fn connect_options(
    url: &str,
    password: Option<&str>,
    application_name: &str,
) -> Result<PgConnectOptions, NotAUrl> {
    let mut options = PgConnectOptions::from_str(url).map_err(NotAUrl)?;
    if let Some(p) = password {
        options = options.password(p);
    }
    // No server-side prepared statements kept: every statement is parsed once and dropped, so
    // a connection carries nothing from one person's query to the next.
    Ok(options
        .application_name(application_name)
        .statement_cache_capacity(0))
}

impl DbPool {
    pub fn new(
        label: String,
        options: PgConnectOptions,
        size: usize,
        connect_timeout: Duration,
    ) -> Arc<DbPool> {
        Arc::new(DbPool {
            label,
            options,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(size.max(1))),
            connect_timeout,
            idle_timeout: Duration::from_secs(300),
        })
    }

    /// A connection: an idle one, or a new one. Waits for a free slot.
    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, PoolError> {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Closed)?;
        let reused = {
            let mut idle = self.idle.lock().map_err(|_| PoolError::Poisoned)?;
            let now = Instant::now();
            // Connections idle too long are closed (the server or a proxy may have dropped them).
            idle.retain(|i| now.duration_since(i.since) < self.idle_timeout);
            idle.pop()
        };
        let backend = match reused {
            Some(i) => i.backend,
            None => self.connect().await?,
        };
        Ok(Lease {
            backend,
            pool: self.clone(),
            _permit: permit,
        })
    }

    /// A connection outside the pool's slots (to cancel the pool's own backends when every
    /// slot is busy).
    pub async fn connect(&self) -> Result<Backend, PoolError> {
        let connect = async {
            let mut conn = PgConnection::connect_with(&self.options).await?;
            let pid: i32 = sqlx::query("SELECT pg_backend_pid()")
                .fetch_one(&mut conn)
                .await?
                .try_get(0)?;
            Ok::<_, sqlx::Error>(Backend { conn, pid })
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => Err(PoolError::Connect {
                label: self.label.clone(),
                why: describe(&e),
            }),
            Err(_) => Err(PoolError::NoAnswer {
                label: self.label.clone(),
                secs: self.connect_timeout.as_secs(),
            }),
        }
    }

    /// Closes every idle connection (shutdown, tests).
    pub fn close_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// A database error in words: Postgres's own message, without sqlx's wrapping.
pub fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => format!("connection: {io}"),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string(),
    }
}

//! The portal's own store: SQLite (WAL) by default, Postgres when several Onwatch replicas share
//! one store. Both backends run the same schema (`migrations/sqlite`, `migrations/postgres`, kept
//! in step) and the same queries: every statement here is written in the SQL both understand, with
//! `$N` placeholders, through sqlx's `Any` driver.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a store URL names, or `None` for a scheme Onwatch does not support.
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':').map(|(s, _)| s)?;
        match scheme {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL `{0}` is not supported: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot create the directory for the SQLite store `{path}`: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the store at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply the store's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Tuning for the connection pool.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Password for a Postgres store, read from a secret file rather than written in the URL.
    pub password: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            password: None,
        }
    }
}

/// Handle to the portal's store: the pool, its backend and its migrations. What is stored in it
/// belongs to the capability that stores it (sessions in `auth::sessions`, service history in
/// `fleet::history`, …). Cheap to clone (it is a pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to the store at `url` and applies the embedded migrations.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let store = Store::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating (for `onwatch migrate --check` style tools and tests).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend =
            Backend::from_url(url).ok_or_else(|| StoreError::UnsupportedUrl(redact_url(url)))?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let mut connect_options =
            AnyConnectOptions::from_str(&url).map_err(|source| StoreError::Connect {
                url: redact_url(&url),
                source,
            })?;
        if let (Backend::Postgres, Some(password)) = (backend, &options.password) {
            // Rebuild the URL with the password from the secret file; it never reaches logs.
            let mut parsed = connect_options.database_url.clone();
            parsed
                .set_password(Some(password))
                .map_err(|()| StoreError::UnsupportedUrl(redact_url(&url)))?;
            connect_options = AnyConnectOptions::from_str(parsed.as_str()).map_err(|source| {
                StoreError::Connect {
                    url: redact_url(&url),
                    source,
                }
            })?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // A Postgres connection can die with its server, so it is checked before use. A
            // SQLite connection is a file handle in this process: checking it cost a round trip
            // to its worker thread on every query.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Wait for a competing writer instead of failing at once, and enforce
                        // foreign keys, which SQLite leaves off by default.
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect_options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(&url),
                source,
            })?;
        if backend == Backend::Sqlite {
            // WAL lets the poller write while pages read. The mode is stored in the file itself.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store { pool, backend })
    }

    /// Applies every embedded migration that has not run yet. Safe to call at every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A round trip to the database, for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT 1").fetch_one(&self.pool).await?;
        let one: i32 = row.try_get::<i32, _>(0).or_else(|_| {
            row.try_get::<i64, _>(0)
                .map(|v| i32::try_from(v).unwrap_or(0))
        })?;
        if one == 1 {
            Ok(())
        } else {
            Err(StoreError::Query(sqlx::Error::Protocol(
                "SELECT 1 did not return 1".into(),
            )))
        }
    }

    /// The SQLite journal mode (`wal` when the store is set up as intended); `None` on Postgres.
    pub async fn sqlite_journal_mode(&self) -> Result<Option<String>, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let row = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(row.try_get::<String, _>(0)?))
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Normalises a SQLite URL: creates the parent directory and asks SQLite to create the file.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::UnsupportedUrl(format!(
            "{url} (an in-memory SQLite store would lose everything at restart; give a file path)"
        )));
    }
    if let Some(parent) = Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
    }
    let query = match query {
        Some(q) if q.split('&').any(|kv| kv.starts_with("mode=")) => q.to_owned(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_owned(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// The URL with any password replaced by `***`, safe for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(
            Backend::from_url("sqlite://data/x.db"),
            Some(Backend::Sqlite)
        );
        assert_eq!(Backend::from_url("sqlite:x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::from_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::from_url("mysql://u@h/db"), None);
        assert_eq!(Backend::from_url("no scheme"), None);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://onwatch:s3cret@db.internal:5432/onwatch"),
            "postgres://onwatch:***@db.internal:5432/onwatch"
        );
        assert_eq!(
            redact_url("postgres://onwatch@db/onwatch"),
            "postgres://onwatch@db/onwatch"
        );
        assert_eq!(redact_url("sqlite://data/a.db"), "sqlite://data/a.db");
    }

    #[test]
    fn sqlite_url_adds_create_mode_and_refuses_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/onwatch.db");
        let url = sqlite_url(&format!("sqlite://{}", p.display())).unwrap();
        assert!(url.ends_with("?mode=rwc"), "{url}");
        assert!(p.parent().unwrap().is_dir(), "parent directory created");
        let url = sqlite_url(&format!("sqlite://{}?mode=ro", p.display())).unwrap();
        assert!(url.ends_with("?mode=ro"), "{url}");
        assert!(matches!(
            sqlite_url("sqlite::memory:"),
            Err(StoreError::UnsupportedUrl(_))
        ));
    }
}

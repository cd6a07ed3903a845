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
    /// What is wrong with the store URL and what is expected (the URL's password redacted).
    #[error("{0}")]
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
    #[error("the store holds a row Onwatch cannot read ({0}); it was written by another version or edited by hand")]
    Corrupt(String),
}

/// Where the store is and how to use it: the `[store]` section of the configuration, read
/// straight into this struct.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreOptions {
    /// `sqlite://PATH` (the default, a file under ./data) or `postgres://USER@HOST:PORT/DB`;
    /// [`check_url`] says whether it is usable.
    pub url: String,
    pub max_connections: u32,
    /// File holding the Postgres password, so that it need not be written in the URL.
    pub password_file: Option<std::path::PathBuf>,
    /// Days of service history to keep (`fleet::history` prunes older rows).
    pub history_retention_days: u32,
    #[serde(skip)]
    pub acquire_timeout: Duration,
    /// Read from `password_file` at start-up; never from the configuration itself.
    #[serde(skip)]
    pub password: Option<secrecy::SecretString>,
}

/// The password never prints (a `SecretString`), nor one written into the URL.
impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("password_file", &self.password_file)
            .field("history_retention_days", &self.history_retention_days)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("password", &self.password)
            .finish()
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            url: "sqlite://data/onwatch.db".to_owned(),
            max_connections: 8,
            password_file: None,
            history_retention_days: 30,
            acquire_timeout: Duration::from_secs(5),
            password: None,
        }
    }
}

/// Whether Onwatch can use a store at `url`, and which backend it names: the one place the
/// store-URL rules live (the configuration check and [`Store::connect`] both ask it).
pub fn check_url(url: &str) -> Result<Backend, StoreError> {
    let url = url.trim();
    match Backend::from_url(url) {
        Some(Backend::Postgres) => match url::Url::parse(url) {
            Ok(_) => Ok(Backend::Postgres),
            Err(e) => Err(StoreError::UnsupportedUrl(format!(
                "`{}` is not a valid URL ({e}); expected postgres://USER@HOST:PORT/DATABASE",
                redact_url(url)
            ))),
        },
        Some(Backend::Sqlite) => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or("");
            if path.is_empty() || path.starts_with(":memory:") {
                Err(StoreError::UnsupportedUrl(
                    "an in-memory SQLite store loses everything at restart; expected sqlite://PATH"
                        .to_owned(),
                ))
            } else {
                Ok(Backend::Sqlite)
            }
        }
        None => Err(StoreError::UnsupportedUrl(format!(
            "`{}` is not a supported store URL; expected sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
            redact_url(url)
        ))),
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
    /// Connects to the store at `url` (the configuration's `options.url`, or another for tools
    /// and tests) and applies the embedded migrations.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let store = Store::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating (for `onwatch migrate --check` style tools and tests).
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = check_url(url)?;
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
                .set_password(Some(secrecy::ExposeSecret::expose_secret(password)))
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

    /// A transaction that will write. On SQLite it takes the write lock at its start (`BEGIN
    /// IMMEDIATE`, waiting up to the busy timeout for another writer): a plain `BEGIN` that
    /// reads first and writes later fails at once with "database is locked" when another
    /// connection wrote in between, and the busy timeout does not apply to that upgrade.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// The store's clock, in epoch milliseconds. Cooldowns and audit times are read from it, so
    /// that replicas (and a browser) with clocks of their own cannot disagree about them.
    pub async fn now_ms(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(self.clock_sql()).fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// The statement that reads the store's clock (one BIGINT column), to run inside a
    /// transaction of one's own.
    pub fn clock_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => {
                "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
            }
            Backend::Postgres => {
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
            }
        }
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

/// Normalises a SQLite URL that [`check_url`] accepted: creates the parent directory and asks
/// SQLite to create the file.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
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
    let url = &redact_query(url);
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

/// Query parameters that carry secrets (`?password=…`, libpq's `sslpassword`, …) with their
/// values replaced by `***`.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            let k = key.to_ascii_lowercase();
            if pair.contains('=')
                && (k.contains("password") || k.contains("secret") || k.contains("token"))
            {
                format!("{key}=***")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    let mut out = format!("{base}?{}", redacted.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
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
        assert_eq!(
            redact_url("postgres://onwatch@db/onwatch?sslmode=require&password=s3cret"),
            "postgres://onwatch@db/onwatch?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://db/o?PASSWORD=a&sslpassword=b&application_name=x"),
            "postgres://db/o?PASSWORD=***&sslpassword=***&application_name=x"
        );
    }

    #[test]
    fn secrets_never_print_through_debug() {
        let options = StoreOptions {
            url: "postgres://onwatch:inurl@db/o?password=inquery".to_owned(),
            password: Some("fromfile".to_owned().into()),
            ..StoreOptions::default()
        };
        let printed = format!("{options:?}");
        for secret in ["inurl", "inquery", "fromfile"] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
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
        for bad in [
            "sqlite::memory:",
            "sqlite://",
            "sqlite://:memory:?cache=shared",
        ] {
            assert!(
                matches!(check_url(bad), Err(StoreError::UnsupportedUrl(_))),
                "{bad}"
            );
        }
        assert!(check_url("postgres://bad url with spaces").is_err());
        assert_eq!(check_url("postgres://u@h/db").unwrap(), Backend::Postgres);
    }
}

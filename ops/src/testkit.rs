//! Test helpers shared by every crate's test-suite.
//!
//! [`postgres_database`] gives each test its own database in one throwaway PostgreSQL cluster. The
//! cluster comes from `ONWATCH_TEST_PG_URL` (an admin URL; `make test` starts one and sets it) or,
//! when that is unset, from `scripts/pg-test-cluster.sh start`, which starts or reuses one.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

/// Admin URL of the shared test cluster.
pub fn postgres_admin_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("ONWATCH_TEST_PG_URL") {
        if !url.trim().is_empty() {
            return Ok(url);
        }
    }
    let script = workspace_root().join("scripts/pg-test-cluster.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("start")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} start failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Creates a fresh, empty database in the test cluster and returns its URL.
pub async fn postgres_database() -> Result<String, String> {
    let admin = postgres_admin_url()?;
    let name = unique_name("onwatch_test");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .map_err(|e| format!("cannot connect to the test cluster at {admin}: {e}"))?;
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    conn.close().await.ok();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b)
        .ok_or_else(|| format!("admin URL {admin} has no database part"))?;
    Ok(format!("{base}/{name}"))
}

/// A name unique to this process and call, safe as an SQL identifier.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The workspace root (the folder with the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

//! Test helpers shared by every crate's test-suite. A dev-dependency only: the release binary
//! contains none of this (no code that starts node, moto or Postgres ships in `onwatch`).
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

/// The developer cache the bootstrap fills (`ONWATCH_DEV_CACHE`, default `~/.cache/onwatch`).
pub fn dev_cache() -> PathBuf {
    match std::env::var_os("ONWATCH_DEV_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/onwatch"),
    }
}

/// The workspace root (the folder with the top-level Cargo.toml). Read when the test runs
/// (cargo and nextest set `CARGO_MANIFEST_DIR` to the tested crate, one level below the root),
/// not only when testkit was compiled: a shared target directory may hold a testkit built from
/// another checkout of the repository, whose path is gone.
pub fn workspace_root() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|d| d.join("Cargo.toml").exists())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.parent().map(PathBuf::from).unwrap_or_default()
}

/// A `moto_server` (the AWS API stand-in) on a free loopback port, stopped when dropped.
pub struct MotoServer {
    pub url: String,
    child: std::process::Child,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MotoServer {
    /// Starts moto from `ONWATCH_TEST_MOTO_SERVER` or the bootstrap's venv, and waits until it
    /// answers (the first EC2 call after start is slow; callers should allow for it).
    pub async fn start() -> Result<MotoServer, String> {
        let bin = std::env::var("ONWATCH_TEST_MOTO_SERVER")
            .unwrap_or_else(|_| format!("{}/venv/bin/moto_server", dev_cache().display()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {bin} (run scripts/bootstrap.sh test): {e}"))?;
        let server = MotoServer {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http
                .get(format!("{}/moto-api/", server.url))
                .send()
                .await
                .is_ok()
            {
                return Ok(server);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(format!("{bin} did not answer within 30 s"))
    }

    /// Makes every following call fail with `AuthFailure` (or, with `false`, work again).
    pub async fn fail_auth(&self, fail: bool) -> Result<(), String> {
        reqwest::Client::new()
            .post(format!("{}/moto-api/reset-auth", self.url))
            .header("content-type", "text/plain")
            .body(if fail { "0" } else { "inf" })
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A real OpenID Connect provider (npm `oidc-provider`, `end2end/lib/oidc-provider.mjs`) on a
/// loopback port, stopped when dropped. Client `onwatch` / `onwatch-secret`; see the script for
/// its users and groups.
pub struct OidcProvider {
    pub issuer: String,
    child: std::process::Child,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (for a server that must be named before it starts).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl OidcProvider {
    /// Starts the provider on `port`, accepting `redirect_uris`; waits for discovery to answer.
    pub async fn start(port: u16, redirect_uris: &[String]) -> Result<OidcProvider, String> {
        let script = workspace_root().join("end2end/lib/oidc-provider.mjs");
        if !workspace_root()
            .join("end2end/node_modules/oidc-provider")
            .exists()
        {
            return Err(
                "end2end/node_modules/oidc-provider is missing: run scripts/bootstrap.sh test"
                    .to_owned(),
            );
        }
        let child = Command::new("node")
            .arg(&script)
            .arg(port.to_string())
            .args(redirect_uris)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start node {}: {e}", script.display()))?;
        let provider = OidcProvider {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        };
        let http = reqwest::Client::new();
        let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
        for _ in 0..150 {
            if let Ok(r) = http.get(&discovery).send().await {
                if r.status().is_success() {
                    return Ok(provider);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(format!(
            "oidc-provider did not answer {discovery} within 15 s"
        ))
    }
}

/// A real OpenSSH server on a free loopback port (`scripts/loopback-sshd.sh`): its own host
/// key, Onwatch's client key authorized, a known_hosts file naming the host key. Stopped, and
/// its directory removed, when dropped.
pub struct Sshd {
    pub port: u16,
    pub dir: PathBuf,
    /// Onwatch's private key.
    pub key_file: PathBuf,
    pub known_hosts_file: PathBuf,
    /// The user the server lets in (whoever runs the tests).
    pub user: String,
    child: Option<std::process::Child>,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Sshd {
    /// Sets up and starts sshd; waits until it accepts connections.
    pub async fn start() -> Result<Sshd, String> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(unique_name("onwatch_sshd"));
        let script = workspace_root().join("scripts/loopback-sshd.sh");
        let out = Command::new("bash")
            .arg(&script)
            .args(["setup", &dir.display().to_string(), &port.to_string()])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .map_err(|e| format!("id -un: {e}"))?;
        let mut sshd = Sshd {
            port,
            key_file: dir.join("client_ed25519"),
            known_hosts_file: dir.join("known_hosts"),
            dir,
            user,
            child: None,
        };
        sshd.run().await?;
        Ok(sshd)
    }

    async fn run(&mut self) -> Result<(), String> {
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start sshd: {e}"))?;
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(format!(
            "sshd did not listen on port {} within 5 s",
            self.port
        ))
    }

    /// Kills every connection's server process (the listener stays): a host that cuts its
    /// sessions.
    pub fn cut_connections(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("pkill")
                .args(["-9", "-P", &c.id().to_string()])
                .status();
        }
    }

    /// Stops the server (a host whose sshd is down).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

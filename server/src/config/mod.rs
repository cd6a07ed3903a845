//! Configuration: one TOML file plus `ONWATCH_*` environment overrides (nested keys joined with
//! `__`, e.g. `ONWATCH_STORE__URL`), validated at start-up. Any problem stops start-up with one
//! message naming the key or file and what is expected.
//!
//! One file per section, each with its own check. Where `ops` has the options struct (the
//! store, the fleet, EC2, probes), the section is that struct, read straight from the file.

mod audit;
mod auth;
mod environments;
mod fleet;
mod inventory;
mod log;
mod metrics;
mod server;
mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

pub use audit::AuditConfig;
pub use auth::{AuthConfig, GitHubAuthConfig, OidcAuthConfig};
pub use environments::{DatabaseConfig, EnvironmentConfig, HostSecretsConfig};
pub use inventory::{InventoryConfig, InventorySourceKind};
pub use log::LogConfig;
pub use metrics::MetricsConfig;
pub use server::ServerConfig;

/// The whole configuration, as read from the file and the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: ops::store::StoreOptions,
    #[serde(default)]
    pub log: LogConfig,
    /// Environments by name (`live`, `acceptance`, …).
    #[serde(default = "environments::default_environments")]
    pub environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    pub inventory: InventoryConfig,
    #[serde(default)]
    pub fleet: ops::fleet::FleetOptions,
    /// Extra endpoint probes (each environment's Builder API is probed by default).
    #[serde(default)]
    pub probes: Vec<ops::probe::ProbeSpec>,
    #[serde(default)]
    pub auth: AuthConfig,
    /// Guarded actions: cooldowns, time limits, leases.
    #[serde(default)]
    pub actions: ops::actions::ActionsOptions,
    /// Where the sentinel bot runs, reached with that environment's SSH settings.
    #[serde(default)]
    pub sentinel: Option<SentinelConfig>,
    /// The shard console's bounds (its databases are per environment).
    #[serde(default)]
    pub console: ops::console::ConsoleOptions,
    /// Host logs: the bounds of each watch.
    #[serde(default)]
    pub logs: ops::logs::Limits,
    /// Build requests: the origin, polling, when a job group stalls, time limits.
    #[serde(default)]
    pub builds: ops::builds::BuildOptions,
    /// The datastore's stale lock files: its service directory, how much log is read.
    #[serde(default)]
    pub datastore_locks: ops::locks::LockOptions,
    /// The rotation (members, start, zone, shift length) and optionally PagerDuty.
    #[serde(default)]
    pub oncall: ops::oncall::OncallOptions,
    /// The onboarding checklist's automatic checks.
    #[serde(default)]
    pub onboarding: ops::onboarding::OnboardingOptions,
    /// Incidents: the services' status-page components, and Statuspage.
    #[serde(default)]
    pub incidents: ops::incidents::IncidentOptions,
    /// The audit log: signed checkpoints of its head.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Who may read `/metrics`.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// `[sentinel]`: the sentinel bot's host (a systemd unit, not in the fleet's inventory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The environment whose `[environments.NAME.ssh]` reaches it.
    pub environment: String,
    /// Its name (`bots.habitat.sh`), as pages and the audit log say it.
    pub host: String,
    /// Where to connect (default: `host`).
    #[serde(default)]
    pub address: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            store: ops::store::StoreOptions::default(),
            log: LogConfig::default(),
            environments: environments::default_environments(),
            inventory: InventoryConfig::default(),
            fleet: ops::fleet::FleetOptions::default(),
            probes: Vec::new(),
            auth: AuthConfig::default(),
            actions: ops::actions::ActionsOptions::default(),
            sentinel: None,
            console: ops::console::ConsoleOptions::default(),
            logs: ops::logs::Limits::default(),
            builds: ops::builds::BuildOptions::default(),
            datastore_locks: ops::locks::LockOptions::default(),
            oncall: ops::oncall::OncallOptions::default(),
            onboarding: ops::onboarding::OnboardingOptions::default(),
            incidents: ops::incidents::IncidentOptions::default(),
            audit: AuditConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// `[actions]`: limits that make sense, and overrides only for environments that exist.
fn check_actions(
    actions: &ops::actions::ActionsOptions,
    environments: &BTreeMap<String, EnvironmentConfig>,
) -> Result<(), ConfigError> {
    if actions.restart_timeout < std::time::Duration::from_secs(5) {
        return Err(ConfigError::key(
            "actions.restart_timeout_secs",
            "at least 5: a restart waits for the Supervisor and the health check",
        ));
    }
    if actions.lease < std::time::Duration::from_secs(1) {
        return Err(ConfigError::key("actions.lease_secs", "at least 1"));
    }
    if actions.output_limit_bytes < 1024 {
        return Err(ConfigError::key(
            "actions.output_limit_bytes",
            "at least 1024, so that an outcome keeps its last lines",
        ));
    }
    if let Some(name) = actions
        .cooldown_by_environment
        .keys()
        .find(|n| !environments.contains_key(*n))
    {
        return Err(ConfigError::key(
            &format!("actions.cooldown_secs_by_environment.{name}"),
            "no such environment: the keys are names of [environments.*]",
        ));
    }
    Ok(())
}

/// `[logs]`: bounds that keep a watch's cost on the server and the page small.
fn check_logs(l: &ops::logs::Limits) -> Result<(), ConfigError> {
    let bad = |key: &str, why: &str| Err(ConfigError::key(&format!("logs.{key}"), why));
    if !(1..=10_000_000).contains(&l.lines_per_sec) {
        return bad("lines_per_sec", "1 to 10000000");
    }
    if !(1..=100).contains(&l.per_person) {
        return bad("per_person", "1 to 100 watches open at once per person");
    }
    if !(1..=1000).contains(&l.per_host) {
        return bad("per_host", "1 to 1000 watches open at once per host");
    }
    if !(80..=1 << 20).contains(&l.line_bytes) {
        return bad("line_bytes", "80 bytes to 1 MiB");
    }
    if !(16..=65_536).contains(&l.queue) {
        return bad("queue", "16 to 65536 lines");
    }
    if l.max_secs < 60 {
        return bad("max_secs", "at least 60");
    }
    Ok(())
}

/// `[datastore_locks]`: plain absolute directories (never `/`) where postgres's own lock files
/// can be, plain owner names, and a log read that is bounded.
fn check_locks(l: &ops::locks::LockOptions) -> Result<(), ConfigError> {
    let dir = l.service_dir.trim_end_matches('/');
    if dir.is_empty() || dir.split('/').count() < 3 {
        return Err(ConfigError::key(
            "datastore_locks.service_dir",
            "an absolute, plain directory at least two levels deep, such as /hab/svc/builder-datastore",
        ));
    }
    let data = l.data_dir();
    if data.split('/').count() < 3
        || ops::locks::check_path(&format!("{data}/{}", ops::locks::POSTMASTER_PID), l).is_err()
    {
        return Err(ConfigError::key(
            "datastore_locks.data_dir",
            "an absolute, plain directory at least two levels deep (postgres's data directory, such as /hab/svc/builder-datastore/data)",
        ));
    }
    for sock in l.socket_dirs() {
        if sock.is_empty()
            || ops::locks::check_path(&format!("{sock}/.s.PGSQL.5432.lock"), l).is_err()
        {
            return Err(ConfigError::key(
                "datastore_locks.socket_dirs",
                "absolute, plain directories (where postgres keeps its unix sockets, such as /hab/svc/builder-datastore/var)",
            ));
        }
    }
    if l.owners.is_empty() || l.owners.iter().any(|o| ops::locks::check_owner(o).is_err()) {
        return Err(ConfigError::key(
            "datastore_locks.owners",
            "one or more plain user names (who may own a lock file and its directories, such as [\"root\", \"hab\"])",
        ));
    }
    if !(10..=100_000).contains(&l.log_lines) {
        return Err(ConfigError::key(
            "datastore_locks.log_lines",
            "10 to 100000 lines",
        ));
    }
    Ok(())
}

/// `[builds]`: an origin, and polling and limits that make sense.
fn check_builds(b: &ops::builds::BuildOptions) -> Result<(), ConfigError> {
    let bad = |key: &str, why: &str| Err(ConfigError::key(&format!("builds.{key}"), why));
    if !ops::builds::plain_name(&b.origin) {
        return bad(
            "origin",
            "an origin's name as Builder has it ([a-z0-9][a-z0-9_-]*), such as core",
        );
    }
    if b.build_origins.iter().any(|o| !ops::builds::plain_name(o)) {
        return bad(
            "build_origins",
            "origins' names as Builder has them ([a-z0-9][a-z0-9_-]*), such as [\"core\", \"habitat\"]",
        );
    }
    if !(100..=60_000).contains(&(b.poll.as_millis() as u64)) {
        return bad("poll_ms", "100 to 60000 ms");
    }
    if b.stall_after < b.poll || b.build_timeout < b.stall_after {
        return bad(
            "stall_secs",
            "at least one poll, and at most build_timeout_secs",
        );
    }
    if !(1..=300).contains(&b.request_timeout.as_secs()) {
        return bad("request_timeout_secs", "1 to 300 seconds");
    }
    Ok(())
}

/// `[oncall]` and `[onboarding]`: a rotation that computes, a PagerDuty key that can be read,
/// an environment that exists.
fn check_oncall(
    o: &ops::oncall::OncallOptions,
    b: &ops::onboarding::OnboardingOptions,
    environments: &BTreeMap<String, EnvironmentConfig>,
) -> Result<(), ConfigError> {
    if !o.members.is_empty() {
        if let Err(why) = ops::oncall::Rotation::new(&o.rotation()) {
            let (key, what) = why.split_once(": ").unwrap_or(("oncall", why.as_str()));
            return Err(ConfigError::key(key, what));
        }
    }
    if let Some(pd) = &o.pagerduty {
        match std::fs::read_to_string(&pd.token_file) {
            Ok(t) if !t.trim().is_empty() => {}
            Ok(_) => {
                return Err(ConfigError::key(
                    "oncall.pagerduty.token_file",
                    "the file is empty: put a PagerDuty REST API key in it",
                ))
            }
            Err(e) => {
                return Err(ConfigError::key(
                    "oncall.pagerduty.token_file",
                    format!("{} cannot be read ({e})", pd.token_file.display()),
                ))
            }
        }
        if pd.primary_schedule.trim().is_empty() || pd.secondary_schedule.trim().is_empty() {
            return Err(ConfigError::key(
                "oncall.pagerduty.primary_schedule",
                "the ids of the primary and the secondary schedules (such as PABC123)",
            ));
        }
        if !(10..=3600).contains(&pd.refresh_secs) {
            return Err(ConfigError::key(
                "oncall.pagerduty.refresh_secs",
                "10 to 3600",
            ));
        }
    }
    if let Some(name) = b
        .production_environment
        .as_ref()
        .filter(|n| !environments.contains_key(*n))
    {
        return Err(ConfigError::key(
            "onboarding.production_environment",
            format!("no environment {name:?}: the name of one of [environments.*]"),
        ));
    }
    if b.github_group.trim().is_empty() || b.origin.trim().is_empty() {
        return Err(ConfigError::key(
            "onboarding.github_group",
            "an organisation (habitat-sh) or team (habitat-sh/core), and an origin (core)",
        ));
    }
    Ok(())
}

/// `[incidents]`: components of services that exist, a Statuspage key that can be read.
fn check_incidents(i: &ops::incidents::IncidentOptions) -> Result<(), ConfigError> {
    if let Some(slug) = i
        .components
        .keys()
        .find(|s| !ops::catalog::SERVICES.iter().any(|c| c.slug == s.as_str()))
    {
        return Err(ConfigError::key(
            &format!("incidents.components.{slug}"),
            "a service's slug: api, sessionsrv, originsrv, router, datastore, scheduler, jobsrv or sentinel",
        ));
    }
    if let Some(sp) = &i.statuspage {
        if sp.page_id.trim().is_empty() {
            return Err(ConfigError::key(
                "incidents.statuspage.page_id",
                "the page's id (Statuspage → API info)",
            ));
        }
        match std::fs::read_to_string(&sp.api_key_file) {
            Ok(t) if !t.trim().is_empty() => {}
            Ok(_) => {
                return Err(ConfigError::key(
                    "incidents.statuspage.api_key_file",
                    "the file is empty: put the Statuspage API key in it",
                ))
            }
            Err(e) => {
                return Err(ConfigError::key(
                    "incidents.statuspage.api_key_file",
                    format!("{} cannot be read ({e})", sp.api_key_file.display()),
                ))
            }
        }
    }
    Ok(())
}

/// `[console]`: bounds that protect the datastore and Onwatch's memory.
fn check_console(c: &ops::console::ConsoleOptions) -> Result<(), ConfigError> {
    let bad = |key: &str, why: &str| Err(ConfigError::key(&format!("console.{key}"), why));
    if !(1..=64).contains(&c.pool_size) {
        return bad("pool_size", "1 to 64 connections per database");
    }
    if !(1..=3600).contains(&c.statement_timeout_secs) {
        return bad("statement_timeout_secs", "1 to 3600 seconds");
    }
    if c.rows_per_shard == 0 || c.rows_total == 0 {
        return bad("rows_total", "rows_per_shard and rows_total are at least 1");
    }
    if !(1024..=(1 << 30)).contains(&c.bytes_total) {
        return bad("bytes_total", "1 KiB to 1 GiB");
    }
    if c.application_name.trim().is_empty() || c.application_name.len() > 63 {
        return bad("application_name", "1 to 63 characters (Postgres's limit)");
    }
    Ok(())
}

/// Why the configuration could not be used. Its message names the key or file and what is
/// expected, and is printed as the single line of a failed start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `store.url`, when the problem is one key.
    pub key: Option<String>,
    /// Where the bad value came from: a file path or an environment variable.
    pub origin: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error")?;
        if let Some(key) = &self.key {
            write!(f, " in key `{key}`")?;
        }
        if let Some(origin) = &self.origin {
            write!(f, " (from {origin})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub(crate) fn key(key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.to_owned()),
            origin: None,
            message: message.into(),
        }
    }
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "onwatch.toml";

/// The prefix of the environment variables that override the file.
const ENV_PREFIX: &str = "ONWATCH_";

impl Config {
    /// Loads the configuration: `path` (must exist) or `./onwatch.toml` (if present), then the
    /// `ONWATCH_*` environment, then validation.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        if let Some(file) = &file {
            // Read it ourselves first: figment silently skips a missing file.
            if let Err(e) = std::fs::read_to_string(file) {
                return Err(ConfigError {
                    key: None,
                    origin: Some(file.display().to_string()),
                    message: format!(
                        "cannot read the configuration file: {e}. Give a readable TOML file with --config PATH"
                    ),
                });
            }
            figment = figment.merge(Toml::file(file));
        }
        // `ONWATCH_A__B=v` sets `a.b`. ONWATCH_CONFIG is the file's path; ONWATCH_TEST_* and
        // ONWATCH_DEV_* steer the test-suite and the build scripts, not the server.
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| {
                    let key = key.as_str();
                    !(key.eq_ignore_ascii_case("config")
                        || key.to_ascii_lowercase().starts_with("test_")
                        || key.to_ascii_lowercase().starts_with("dev_"))
                })
                .split("__"),
        );
        let mut config: Config = figment.extract().map_err(from_figment)?;
        config.validate()?;
        Ok(config)
    }

    /// Every section's own check, in the order a person reads the file.
    fn validate(&mut self) -> Result<(), ConfigError> {
        store::check(&mut self.store)?;
        server::check(&self.server)?;
        metrics::check(&self.metrics, self.server.listen)?;
        environments::check(&mut self.environments)?;
        inventory::check(&self.inventory)?;
        fleet::check(&self.fleet, &self.probes)?;
        auth::check(&mut self.auth, &self.server)?;
        check_actions(&self.actions, &self.environments)?;
        check_console(&self.console)?;
        check_logs(&self.logs)?;
        check_builds(&self.builds)?;
        check_locks(&self.datastore_locks)?;
        check_oncall(&self.oncall, &self.onboarding, &self.environments)?;
        check_incidents(&self.incidents)?;
        audit::check(&self.audit)?;
        if let Some(s) = &self.sentinel {
            match self.environments.get(&s.environment) {
                None => {
                    return Err(ConfigError::key(
                        "sentinel.environment",
                        format!("no environment `{}` is configured", s.environment),
                    ))
                }
                Some(e) if e.ssh.is_none() => {
                    return Err(ConfigError::key(
                        "sentinel.environment",
                        format!(
                        "environment `{}` has no [environments.{}.ssh], which reaches the sentinel",
                        s.environment, s.environment
                    ),
                    ))
                }
                Some(_) => {}
            }
            if ops::actions::ssh::command_for("{host}", &s.host).is_err() {
                return Err(ConfigError::key(
                    "sentinel.host",
                    "a host name: letters, digits, '.', '-' and '_'",
                ));
            }
        }
        Ok(())
    }

    /// Environments in display order: production first, then by name.
    pub fn environments_in_order(&self) -> Vec<(&String, &EnvironmentConfig)> {
        let mut envs: Vec<_> = self.environments.iter().collect();
        envs.sort_by(|a, b| b.1.production.cmp(&a.1.production).then(a.0.cmp(b.0)));
        envs
    }
}

/// Reads a secret from a file: it must exist, be readable and not be empty.
pub fn read_secret(key: &str, path: &Path) -> Result<String, ConfigError> {
    let value = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: Some(key.to_owned()),
        origin: None,
        message: format!(
            "cannot read the secret file {}: {e}; expected a readable file holding the secret",
            path.display()
        ),
    })?;
    let value = value.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(ConfigError::key(
            key,
            format!("the secret file {} is empty", path.display()),
        ));
    }
    Ok(value)
}

fn from_figment(err: figment::Error) -> ConfigError {
    let first = err.into_iter().next();
    match first {
        Some(e) => {
            let key = (!e.path.is_empty()).then(|| e.path.join("."));
            let origin = e.metadata.as_ref().map(|md| match &md.source {
                Some(figment::Source::File(p)) => p.display().to_string(),
                // The only other source is the ONWATCH_* environment.
                _ => "the ONWATCH_* environment variables".to_owned(),
            });
            ConfigError {
                key,
                origin,
                message: e.kind.to_string(),
            }
        }
        None => ConfigError {
            key: None,
            origin: None,
            message: "the configuration could not be read".to_owned(),
        },
    }
}

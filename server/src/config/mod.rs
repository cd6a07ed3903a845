//! Configuration: one TOML file plus `ONWATCH_*` environment overrides (nested keys joined with
//! `__`, e.g. `ONWATCH_STORE__URL`), validated at start-up. Any problem stops start-up with one
//! message naming the key or file and what is expected.
//!
//! One file per section, each with its own check. Where `ops` has the options struct (the
//! store, the fleet, EC2, probes), the section is that struct, read straight from the file.

mod actions;
mod audit;
mod auth;
mod builds;
mod console;
mod environments;
mod fleet;
mod incidents;
mod inventory;
mod locks;
mod log;
mod logs;
mod metrics;
mod oncall;
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
    pub actions: ops::change::ActionsOptions,
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
            actions: ops::change::ActionsOptions::default(),
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
        actions::check(&self.actions, &self.environments)?;
        console::check(&self.console)?;
        logs::check(&self.logs)?;
        builds::check(&self.builds)?;
        locks::check(&self.datastore_locks)?;
        oncall::check(&self.oncall, &self.onboarding, &self.environments)?;
        incidents::check(&self.incidents)?;
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
            if ops::exec::ssh::command_for("{host}", &s.host).is_err() {
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
/// A secret file named by configuration key `key`, read by the one secret reader
/// ([`ops::secret::read_file`]); its error names the key and the file, never the content.
pub fn read_secret(key: &str, path: &Path) -> Result<secrecy::SecretString, ConfigError> {
    ops::secret::read_file(path).map_err(|e| ConfigError::key(key, e.to_string()))
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

//! How Onwatch reaches each environment: per environment, whether it is production, the control
//! gateway's secret (and TLS), SSH (settings and key), the Builder API and its token; and where
//! the sentinel runs. The kinds of change, the log watcher and the team's readiness all borrow
//! their targets from here, so each of them reaches a host the same way.
//!
//! What is missing is said as a [`Refusal`]: `target` (no such environment or host), `executor`
//! (Onwatch has no way in: set this key).

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::change::Refusal;
use crate::exec::ssh::{SshOptions, SshTarget};
use crate::fleet::FleetModel;

/// How Onwatch reaches one environment's Supervisors to act on them.
#[derive(Clone, Default)]
pub struct EnvironmentExecutor {
    pub production: bool,
    /// The control gateway's shared secret (`CTL_SECRET`): service restarts. Read from its
    /// file at each action, so a rotated secret needs no restart of Onwatch.
    pub ctl_secret: Option<crate::secret::SecretSource>,
    /// Hosts with a control-gateway secret of their own (`[[environments.NAME.secrets]]`), in
    /// place of `ctl_secret`.
    pub ctl_secret_groups: Vec<crate::secret::HostGroup<crate::secret::SecretSource>>,
    /// TLS to the control gateways (hab's `--ctl-server-certificate`), when they speak it.
    pub ctl_tls: Option<crate::supervisor::ctl::CtlTls>,
    /// SSH to the environment's hosts: Supervisor (and sentinel) restarts.
    pub ssh: Option<SshAccess>,
    /// The environment's Builder API and token: build requests.
    pub builder: Option<BuilderAccess>,
}

/// Where an environment's Builder API is, and the token build requests carry.
#[derive(Clone)]
pub struct BuilderAccess {
    pub url: String,
    pub token: SecretString,
}

/// SSH settings with the key already read.
#[derive(Clone)]
pub struct SshAccess {
    pub options: SshOptions,
    pub key: Arc<russh::keys::PrivateKey>,
}

impl SshAccess {
    /// This access, to `address`.
    pub fn to(&self, address: &str) -> SshTarget {
        SshTarget {
            address: address.to_owned(),
            options: self.options.clone(),
            key: self.key.clone(),
        }
    }
}

/// Where the sentinel bot runs (it is a systemd unit, not a Habitat service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelHost {
    /// Whose SSH settings reach it.
    pub environment: String,
    /// The name targets and the audit log use (`bots.habitat.sh`).
    pub host: String,
    /// Where to connect.
    pub address: String,
}

/// The service group a sentinel action targets.
pub const SENTINEL: &str = "sentinel";

/// Every environment's access, the sentinel's host, and the options of the kinds that use them
/// (build requests, lock-file removal). Cheap to share (`Arc`).
pub struct Access {
    fleet: Arc<FleetModel>,
    environments: BTreeMap<String, EnvironmentExecutor>,
    sentinel: Option<SentinelHost>,
    builds: crate::builds::api::BuildOptions,
    locks: crate::locks::options::LockOptions,
}

impl Access {
    pub fn new(
        fleet: Arc<FleetModel>,
        environments: BTreeMap<String, EnvironmentExecutor>,
        sentinel: Option<SentinelHost>,
    ) -> Access {
        Access {
            fleet,
            environments,
            sentinel,
            builds: crate::builds::api::BuildOptions::default(),
            locks: crate::locks::options::LockOptions::default(),
        }
    }

    /// The `[builds]` options (origin, polling, stall, time limits).
    pub fn with_builds(mut self, builds: crate::builds::api::BuildOptions) -> Access {
        self.builds = builds;
        self
    }

    pub fn build_options(&self) -> &crate::builds::api::BuildOptions {
        &self.builds
    }

    /// The `[datastore_locks]` options (the service directory, how much log is read).
    pub fn with_locks(mut self, locks: crate::locks::options::LockOptions) -> Access {
        self.locks = locks;
        self
    }

    pub fn lock_options(&self) -> &crate::locks::options::LockOptions {
        &self.locks
    }

    /// The fleet model the hosts' addresses are read from.
    pub fn fleet(&self) -> &Arc<FleetModel> {
        &self.fleet
    }

    /// One environment's access, if it is configured.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentExecutor> {
        self.environments.get(name)
    }

    /// Whether `environment` is a configured production environment.
    pub fn production(&self, environment: &str) -> bool {
        self.environments
            .get(environment)
            .is_some_and(|e| e.production)
    }

    /// The configured environments and whether each is production.
    pub fn environments(&self) -> Vec<(String, bool)> {
        self.environments
            .iter()
            .map(|(n, e)| (n.clone(), e.production))
            .collect()
    }

    /// Where the sentinel runs, if configured.
    pub fn sentinel(&self) -> Option<&SentinelHost> {
        self.sentinel.as_ref()
    }

    /// Whether `host` is the configured sentinel host of `environment`.
    pub fn is_sentinel(&self, environment: &str, host: &str) -> bool {
        self.sentinel
            .as_ref()
            .is_some_and(|s| s.environment == environment && s.host == host)
    }

    /// The configured environment, or the refusal naming it.
    pub fn configured(&self, environment: &str) -> Result<&EnvironmentExecutor, Refusal> {
        self.environments.get(environment).ok_or_else(|| {
            Refusal::new(
                "target",
                format!("there is no environment `{environment}` in the configuration"),
            )
        })
    }

    /// The environment's SSH access for `what` (`Supervisor restarts`), or what to set.
    pub fn ssh_for(&self, environment: &str, what: &str) -> Result<&SshAccess, Refusal> {
        self.configured(environment)?.ssh.as_ref().ok_or_else(|| {
            Refusal::new(
                "executor",
                format!(
                    "Onwatch has no SSH access to {environment} for {what}: set [environments.{environment}.ssh] (user, key_file, known_hosts_file)"
                ),
            )
        })
    }

    /// Where SSH goes for a host of the fleet or the configured sentinel host, and as whom; or
    /// what is missing, in words.
    pub fn ssh_target(&self, environment: &str, host: &str) -> Result<SshTarget, Refusal> {
        let env = self.configured(environment)?;
        let ssh = env.ssh.as_ref().ok_or_else(|| {
            Refusal::new("executor", format!("Onwatch has no SSH access to {environment}: set [environments.{environment}.ssh] (user, key_file, known_hosts_file)"))
        })?;
        let address = match self
            .sentinel
            .as_ref()
            .filter(|s| s.environment == environment && s.host == host)
        {
            Some(s) => s.address.clone(),
            None => {
                let snap = self.fleet.snapshot(crate::time::now_ms());
                snap.host(environment, host)
                    .map(|h| h.host.address.clone())
                    .ok_or_else(|| {
                        Refusal::new(
                            "target",
                            format!("there is no host `{host}` in {environment}'s inventory"),
                        )
                    })?
            }
        };
        Ok(ssh.to(&address))
    }

    /// The control-gateway secret for `host` in `environment` (its group's, else the
    /// environment's), read now; or what to set.
    pub fn ctl_secret(&self, environment: &str, host: &str) -> Result<SecretString, Refusal> {
        let env = self.configured(environment)?;
        match crate::secret::for_host(env.ctl_secret.as_ref(), &env.ctl_secret_groups, host)
            .map(|s| s.current())
        {
            Some(Ok(s)) => Ok(s),
            Some(Err(why)) => Err(Refusal::new(
                "executor",
                format!("the control-gateway secret of {environment}: {why}"),
            )),
            None => Err(Refusal::new(
                "executor",
                format!(
                    "Onwatch has no control-gateway secret for {host} in {environment}: set environments.{environment}.ctl_secret_file (the Supervisors' CTL_SECRET), or that of the [[environments.{environment}.secrets]] group naming the host"
                ),
            )),
        }
    }

    /// The environment's Builder API with Onwatch's token, when both are configured.
    pub fn builder_api(
        &self,
        environment: &str,
    ) -> Option<Result<crate::builds::api::BuilderApi, Refusal>> {
        let b = self.environments.get(environment)?.builder.as_ref()?;
        Some(
            crate::builds::api::BuilderApi::new(
                &b.url,
                b.token.clone(),
                self.builds.request_timeout,
            )
            .map_err(|e| Refusal::new("executor", e.to_string())),
        )
    }

    /// The secrets of `environment` that no output may show (its Builder token).
    pub fn redactions(&self, environment: &str) -> Vec<String> {
        self.environments
            .get(environment)
            .and_then(|e| e.builder.as_ref())
            .map(|b| b.token.expose_secret().to_owned())
            .into_iter()
            .collect()
    }
}

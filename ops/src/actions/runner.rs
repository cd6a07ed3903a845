//! The order of an action, and its live progress.
//!
//! submit: idempotency → target known → guards (pure ones, executor, cooldown) → refused rows
//! audited → action recorded and the host's lock taken (both or neither) → intent row committed
//! → only then the executor runs, in a task of its own, renewing the action's lease → health after
//! → outcome row → lock freed. If the intent cannot be audited, nothing runs.
//!
//! A browser follows an action through a `watch` channel of its [`ActionProgress`] (lines,
//! step, state); after the action ended, from the `actions` table.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use vocab::Role;

use super::guards::{self, GuardContext, Verdict};
use super::ledger::{ActionRecord, Begun, Ledger};
pub use super::output::{ActionProgress, Sink};
use super::restart::RestartService;
use super::ssh::SshTarget;
use super::{ActionKind, ActionRequest, ActionState, ActionsOptions, Target};
use crate::audit::{Actor, AuditLog, Entry, Event};
use crate::fleet::{FleetModel, Reachability};
use crate::store::Store;
use crate::supervisor::ctl::{CtlClient, CtlTarget};

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
    pub token: secrecy::SecretString,
}

/// SSH settings with the key already read.
#[derive(Clone)]
pub struct SshAccess {
    pub options: super::ssh::SshOptions,
    pub key: Arc<russh::keys::PrivateKey>,
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

/// A judged target, ready to run.
enum Plan {
    // Boxed: a lock-file removal carries a whole restart besides its own fields.
    Service(RestartService),
    Supervisor(super::restart::RestartSupervisor),
    Sentinel(super::restart::RestartSentinel),
    Build(crate::builds::RequestBuild),
    Locks(Box<RemoveLocks>),
}

/// The datastore's stale lock files removed over SSH, then the service started through its
/// control gateway.
struct RemoveLocks {
    ssh: SshTarget,
    options: crate::locks::LockOptions,
    paths: Vec<String>,
    start: RestartService,
}

impl RemoveLocks {
    async fn run(&self, sink: &Sink) -> Result<super::restart::Restarted, String> {
        sink.step("removing the lock files");
        sink.held().await?;
        crate::locks::remove(&self.ssh, &self.options, &self.paths, sink).await?;
        sink.line(format!(
            "✓ {} removed",
            vocab::count(self.paths.len() as i64, "lock file")
        ));
        let mut started = self
            .start
            .start_only(sink)
            .await
            .map_err(|e| format!("the lock files were removed, but the start failed: {e}"))?;
        started.summary = format!(
            "{} removed; the datastore is {}",
            vocab::count(self.paths.len() as i64, "lock file"),
            started.summary
        );
        Ok(started)
    }
}

impl Plan {
    /// The control-gateway secret it sends, if any (to redact from its output).
    fn ctl_secret(&self) -> Option<&secrecy::SecretString> {
        match self {
            Plan::Service(r) => Some(&r.target.secret),
            Plan::Locks(r) => Some(&r.start.target.secret),
            _ => None,
        }
    }

    fn executor(&self) -> &'static str {
        match self {
            Plan::Service(_) => "control gateway",
            Plan::Supervisor(_) | Plan::Sentinel(_) => "ssh",
            Plan::Build(_) => "builder api",
            Plan::Locks(_) => "ssh, then control gateway",
        }
    }

    /// Where it acts, for the intent row (no secret in it).
    fn detail(&self) -> serde_json::Value {
        match self {
            Plan::Service(r) => json!({
                "executor": "control gateway",
                "executor_address": r.target.addr,
                "package": format!("{}/{}", r.origin, r.name),
            }),
            Plan::Supervisor(r) => json!({
                "executor": "ssh",
                "executor_address": format!("{}@{}:{}", r.ssh.options.user, r.ssh.address, r.ssh.options.port),
                "command": r.command,
                "blast_radius": r.before.iter().map(|(g, _)| g).collect::<Vec<_>>(),
            }),
            Plan::Sentinel(r) => json!({
                "executor": "ssh",
                "executor_address": format!("{}@{}:{}", r.ssh.options.user, r.ssh.address, r.ssh.options.port),
                "command": r.restart,
                "status_command": r.status,
            }),
            Plan::Build(r) => json!({
                "executor": "builder api",
                "executor_address": r.api.base(),
                "package": format!("{}/{}", r.origin, r.pkg),
            }),
            Plan::Locks(r) => json!({
                "executor": "ssh, then control gateway",
                "executor_address": format!("{}@{}:{}", r.ssh.options.user, r.ssh.address, r.ssh.options.port),
                "paths": r.paths,
                "service_dir": r.options.service_dir,
            }),
        }
    }

    async fn run(&self, sink: &Sink) -> Result<super::restart::Restarted, String> {
        match self {
            Plan::Service(r) => r.run(sink).await,
            Plan::Supervisor(r) => r.run(sink).await,
            Plan::Sentinel(r) => r.run(sink).await,
            Plan::Build(r) => r.run(sink).await,
            Plan::Locks(r) => r.run(sink).await,
        }
    }
}

/// What [`Actions::submit`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Submitted {
    /// Running: follow it by this id.
    Started { id: String },
    /// The same request (idempotency key) was made before: that action, not run again.
    Duplicate { id: String },
    /// Nothing ran; every guard's verdict (the refusing ones say why).
    Refused { verdicts: Vec<Verdict> },
}

/// What the confirmation dialog shows before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub kind: ActionKind,
    pub target: Target,
    pub production: bool,
    /// What to type to confirm.
    pub confirmation: String,
    /// The target's state now: (service group, cell, since) for each service that goes down.
    pub affected: Vec<(String, vocab::CellState, i64)>,
    pub host_reachable: bool,
    /// The newest actions on the same host.
    pub recent: Vec<ActionRecord>,
    /// The verdicts known before the form is filled: role, executor, cooldown, lock, versions,
    /// and for production a restart of the same service seen in acceptance.
    pub verdicts: Vec<Verdict>,
}

/// The actions capability. Cheap to share (`Arc`).
pub struct Actions {
    store: Store,
    audit: AuditLog,
    ledger: Ledger,
    fleet: Arc<FleetModel>,
    environments: BTreeMap<String, EnvironmentExecutor>,
    sentinel: Option<SentinelHost>,
    options: ActionsOptions,
    builds: crate::builds::BuildOptions,
    locks: crate::locks::LockOptions,
    ctl: CtlClient,
    running: Mutex<HashMap<String, watch::Receiver<ActionProgress>>>,
    /// This process, as the holder of the actions it runs (a fencing token: every update of
    /// an action's row compares it).
    instance: String,
}

/// A fault in the store: nothing ran, and the page says so.
#[derive(Debug, thiserror::Error)]
#[error("nothing ran: {0}")]
pub struct NothingRan(pub String);

impl Actions {
    pub fn new(
        store: Store,
        fleet: Arc<FleetModel>,
        environments: BTreeMap<String, EnvironmentExecutor>,
        sentinel: Option<SentinelHost>,
        options: ActionsOptions,
    ) -> Actions {
        Actions {
            audit: AuditLog::new(store.clone()),
            ledger: Ledger::new(store.clone()),
            store,
            fleet,
            environments,
            sentinel,
            options,
            builds: crate::builds::BuildOptions::default(),
            locks: crate::locks::LockOptions::default(),
            ctl: CtlClient::default(),
            running: Mutex::new(HashMap::new()),
            instance: crate::auth::random_token(),
        }
    }

    /// The `[builds]` options (origin, polling, stall, time limits).
    pub fn with_builds(mut self, builds: crate::builds::BuildOptions) -> Actions {
        self.builds = builds;
        self
    }

    pub fn build_options(&self) -> &crate::builds::BuildOptions {
        &self.builds
    }

    /// The `[datastore_locks]` options (the service directory, how much log is read).
    pub fn with_locks(mut self, locks: crate::locks::LockOptions) -> Actions {
        self.locks = locks;
        self
    }

    pub fn lock_options(&self) -> &crate::locks::LockOptions {
        &self.locks
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Where the sentinel runs, if configured.
    pub fn sentinel(&self) -> Option<&SentinelHost> {
        self.sentinel.as_ref()
    }

    /// The configured environments and whether each is production.
    pub fn environments(&self) -> Vec<(String, bool)> {
        self.environments
            .iter()
            .map(|(n, e)| (n.clone(), e.production))
            .collect()
    }

    /// The environment's Builder API with Onwatch's token, when both are configured.
    pub fn builder_api(
        &self,
        environment: &str,
    ) -> Option<Result<crate::builds::BuilderApi, String>> {
        let b = self.environments.get(environment)?.builder.as_ref()?;
        Some(crate::builds::BuilderApi::new(
            &b.url,
            b.token.clone(),
            self.builds.request_timeout,
        ))
    }

    /// Where SSH goes for a host of the fleet or the configured sentinel host, and as whom; or
    /// what is missing, in words.
    pub fn ssh_target(&self, environment: &str, host: &str) -> Result<SshTarget, String> {
        let env = self.environments.get(environment).ok_or_else(|| {
            format!("there is no environment `{environment}` in the configuration")
        })?;
        let ssh = env.ssh.as_ref().ok_or_else(|| {
            format!("Onwatch has no SSH access to {environment}: set [environments.{environment}.ssh] (user, key_file, known_hosts_file)")
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
                        format!("there is no host `{host}` in {environment}'s inventory")
                    })?
            }
        };
        Ok(SshTarget {
            address,
            options: ssh.options.clone(),
            key: ssh.key.clone(),
        })
    }

    /// Whether `host` is the configured sentinel host of `environment`.
    pub fn is_sentinel(&self, environment: &str, host: &str) -> bool {
        self.sentinel
            .as_ref()
            .is_some_and(|s| s.environment == environment && s.host == host)
    }

    /// The target as the fleet (or the configuration) knows it now, with its executor, as a
    /// plan to run; or the verdict that refuses it (`target`: unknown; `executor`: Onwatch
    /// cannot reach it), saying what to do.
    fn resolve(
        &self,
        kind: ActionKind,
        target: &Target,
        paths: &[String],
    ) -> Result<Plan, Verdict> {
        let unknown = |why: String| Verdict::refuse("target", why);
        let env = self.environments.get(&target.environment).ok_or_else(|| {
            unknown(format!(
                "there is no environment `{}` in the configuration",
                target.environment
            ))
        })?;
        let ssh_for = |what: &str| -> Result<&SshAccess, Verdict> {
            env.ssh.as_ref().ok_or_else(|| {
                Verdict::refuse(
                    "executor",
                    format!(
                        "Onwatch has no SSH access to {} for {what}: set [environments.{}.ssh] (user, key_file, known_hosts_file)",
                        target.environment, target.environment
                    ),
                )
            })
        };
        if kind == ActionKind::RequestBuild || target.is_build() {
            return self.resolve_build(kind, target, env);
        }
        if kind == ActionKind::RestartSentinel {
            let sentinel = self
                .sentinel
                .as_ref()
                .filter(|s| s.environment == target.environment && s.host == target.host);
            let Some(sentinel) = sentinel else {
                return Err(unknown(format!(
                    "the sentinel is not configured on {} in {}: set [sentinel] (environment, host, address)",
                    target.host, target.environment
                )));
            };
            let ssh = ssh_for("the sentinel")?;
            return Ok(Plan::Sentinel(super::restart::RestartSentinel {
                ssh: super::ssh::SshTarget {
                    address: sentinel.address.clone(),
                    options: ssh.options.clone(),
                    key: ssh.key.clone(),
                },
                restart: super::ssh::command_for(
                    &ssh.options.commands.restart_sentinel,
                    &sentinel.host,
                )
                .map_err(unknown)?,
                status: super::ssh::command_for(
                    &ssh.options.commands.sentinel_status,
                    &sentinel.host,
                )
                .map_err(unknown)?,
            }));
        }
        let snap = self.fleet.snapshot(crate::time::now_ms());
        let host = snap
            .host(&target.environment, &target.host)
            .ok_or_else(|| {
                unknown(format!(
                    "there is no host `{}` in {}'s inventory",
                    target.host, target.environment
                ))
            })?;
        if kind == ActionKind::RestartSupervisor {
            let ssh = ssh_for("Supervisor restarts")?;
            return Ok(Plan::Supervisor(super::restart::RestartSupervisor {
                ssh: super::ssh::SshTarget {
                    address: host.host.address.clone(),
                    options: ssh.options.clone(),
                    key: ssh.key.clone(),
                },
                command: super::ssh::command_for(
                    &ssh.options.commands.restart_supervisor,
                    &target.host,
                )
                .map_err(unknown)?,
                environment: target.environment.clone(),
                host: target.host.clone(),
                before: host
                    .services
                    .iter()
                    .filter(|s| s.desired_up != Some(false))
                    .map(|s| (s.service_group.clone(), s.pid))
                    .collect(),
                fleet: self.fleet.clone(),
                limit: self.options.restart_timeout,
            }));
        }
        let service = host
            .services
            .iter()
            .find(|s| s.service_group == target.service_group)
            .ok_or_else(|| {
                unknown(format!(
                    "the Supervisor on {} runs no service group `{}` (as last seen)",
                    target.host, target.service_group
                ))
            })?;
        let secret = match crate::secret::for_host(
            env.ctl_secret.as_ref(),
            &env.ctl_secret_groups,
            &target.host,
        )
        .map(|s| s.current())
        {
            Some(Ok(s)) => Some(s),
            Some(Err(why)) => {
                return Err(Verdict::refuse(
                    "executor",
                    format!(
                        "the control-gateway secret of {}: {why}",
                        target.environment
                    ),
                ))
            }
            None => None,
        };
        let Some(secret) = secret else {
            return Err(Verdict::refuse(
                "executor",
                format!(
                    "Onwatch has no control-gateway secret for {} in {}: set environments.{}.ctl_secret_file (the Supervisors' CTL_SECRET), or that of the [[environments.{}.secrets]] group naming the host",
                    target.host, target.environment, target.environment, target.environment
                ),
            ));
        };
        let restart = RestartService {
            client: self.ctl.clone(),
            target: CtlTarget {
                addr: format!("{}:{}", host.host.address, host.host.ctl_port),
                secret,
                tls: env.ctl_tls.clone().map(|t| (t, host.host.name.clone())),
            },
            origin: service.ident.origin.clone(),
            name: service.ident.name.clone(),
            environment: target.environment.clone(),
            host: target.host.clone(),
            service_group: target.service_group.clone(),
            fleet: self.fleet.clone(),
            limit: self.options.restart_timeout,
        };
        if kind == ActionKind::RemoveLockFiles {
            if target.service() != crate::locks::DATASTORE {
                return Err(unknown(format!(
                    "lock files are removed only for {} (asked: {})",
                    crate::locks::DATASTORE,
                    target.service_group
                )));
            }
            let ssh = ssh_for("the datastore's lock files")?;
            return Ok(Plan::Locks(Box::new(RemoveLocks {
                ssh: SshTarget {
                    address: host.host.address.clone(),
                    options: ssh.options.clone(),
                    key: ssh.key.clone(),
                },
                options: self.locks.clone(),
                paths: paths.to_vec(),
                start: restart,
            })));
        }
        Ok(Plan::Service(restart))
    }

    /// For a lock-file removal: each path plain and inside the service directory, and named by
    /// the datastore's log now (read again over SSH): Onwatch removes only what the datastore's
    /// own error names. One verdict, `paths`.
    async fn paths_verdict(&self, request: &ActionRequest) -> Verdict {
        let paths = &request.paths;
        if paths.is_empty() || paths.len() > crate::locks::MAX_FILES {
            return Verdict::refuse(
                "paths",
                format!(
                    "name 1 to {} lock files (as the page lists them from the log), not {}",
                    crate::locks::MAX_FILES,
                    paths.len()
                ),
            );
        }
        for p in paths {
            if let Err(why) = crate::locks::check_path(p, &self.locks) {
                return Verdict::refuse("paths", why);
            }
        }
        let snapshot = self.fleet.snapshot(crate::time::now_ms());
        if crate::locks::datastore_running(
            &snapshot,
            &request.target.environment,
            &request.target.host,
        ) {
            return Verdict::refuse(
                "paths",
                format!("{}: nothing is removed", crate::locks::RUNNING),
            );
        }
        let ssh = match self.ssh_target(&request.target.environment, &request.target.host) {
            Ok(s) => s,
            Err(why) => return Verdict::refuse("executor", why),
        };
        let log = match super::ssh::command_for(
            &ssh.options.commands.supervisor_log,
            &request.target.host,
        ) {
            Ok(c) => c,
            Err(why) => return Verdict::refuse("target", why),
        };
        match crate::locks::inspect(&ssh, &self.locks, &log).await {
            Err(why) => Verdict::refuse(
                "paths",
                format!("the log could not be read again, so nothing is removed: {why}"),
            ),
            Ok(seen) => {
                for p in paths {
                    match seen.iter().find(|f| &f.path == p) {
                        None => {
                            return Verdict::refuse(
                                "paths",
                                format!("`{p}` is not named by the datastore's log (its last {} lines): Onwatch removes only the lock files the datastore's own error names", self.locks.log_lines),
                            )
                        }
                        Some(f) => {
                            if let Some(why) = &f.refusal {
                                return Verdict::refuse("paths", format!("`{p}`: {why}"));
                            }
                        }
                    }
                }
                Verdict::pass(
                    "paths",
                    format!(
                        "{}, each named by the datastore's log, plain, held by nothing",
                        vocab::count(paths.len() as i64, "file")
                    ),
                )
            }
        }
    }

    fn resolve_build(
        &self,
        kind: ActionKind,
        target: &Target,
        env: &EnvironmentExecutor,
    ) -> Result<Plan, Verdict> {
        let unknown = |why: String| Verdict::refuse("target", why);
        if kind != ActionKind::RequestBuild || !target.is_build() {
            return Err(unknown(format!(
                "a build request targets the depot and a package, and only a build request does (asked: {} of {}/{})",
                kind.as_str(), target.host, target.service_group
            )));
        }
        let pkg = target.service_group.as_str();
        if !crate::catalog::SERVICES
            .iter()
            .any(|s| s.package == pkg && s.slug != "sentinel")
        {
            return Err(unknown(format!(
                "`{pkg}` is not a Builder service's package: Onwatch requests builds of {}",
                crate::catalog::SERVICES
                    .iter()
                    .filter(|s| s.slug != "sentinel")
                    .map(|s| s.package)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let Some(builder) = &env.builder else {
            return Err(Verdict::refuse(
                "executor",
                format!(
                    "Onwatch has no Builder API and token for {e}: set environments.{e}.builder_api_url and builder_token_file (a personal access token of a member of the {o} origin)",
                    o = self.builds.origin,
                    e = target.environment,
                ),
            ));
        };
        let api = crate::builds::BuilderApi::new(
            &builder.url,
            builder.token.clone(),
            self.builds.request_timeout,
        )
        .map_err(|e| Verdict::refuse("executor", e))?;
        // The origin the environment's Supervisors run the package from (else the configured
        // one), but only one of `build_origins`: a Supervisor's answer (whoever can run or fake
        // one) must not choose which origin's project is built with the production token.
        let seen = self
            .fleet
            .snapshot(crate::time::now_ms())
            .environment(&target.environment)
            .and_then(|e| {
                e.hosts
                    .iter()
                    .flat_map(|h| &h.services)
                    .find(|s| s.ident.name == pkg)
                    .map(|s| s.ident.origin.clone())
            });
        let origin = seen.unwrap_or_else(|| self.builds.origin.clone());
        if !crate::builds::plain_name(&origin) || !self.builds.build_origins.contains(&origin) {
            return Err(Verdict::refuse(
                "target",
                format!(
                    "the Supervisors run {pkg} from the origin `{}`, which is not one Onwatch builds ({}): set builds.build_origins if it should be",
                    crate::text::cut(&origin, 64),
                    self.builds.build_origins.join(", ")
                ),
            ));
        }
        Ok(Plan::Build(crate::builds::RequestBuild {
            api,
            origin,
            pkg: pkg.to_owned(),
            environment: target.environment.clone(),
            fleet: self.fleet.clone(),
            options: self.builds.clone(),
        }))
    }

    /// The verdicts that need more than the request: executor, cooldown, lock, versions, the
    /// acceptance restart. Also used by the preview.
    async fn context_verdicts(
        &self,
        role: Role,
        target: &Target,
    ) -> Result<(GuardContext, Vec<Verdict>), NothingRan> {
        let store_err = |e: crate::store::StoreError| NothingRan(format!("the store failed: {e}"));
        let mut verdicts = Vec::new();
        let env = self
            .environments
            .get(&target.environment)
            .cloned()
            .unwrap_or_default();
        let now = self.store.now_ms().await.map_err(store_err)?;
        let cooldown = self.options.cooldown_for(&target.environment);
        if let Some(last) = self.ledger.last_finished(target).await.map_err(store_err)? {
            let ended = last.finished_ms.unwrap_or(last.requested_ms);
            let left = ended + cooldown.as_millis() as i64 - now;
            verdicts.push(if left > 0 {
                Verdict::refuse(
                    "cooldown",
                    format!(
                        "{}'s {} ended {} ago; the cooldown is {} s: wait {} s",
                        last.actor_name,
                        last.what(),
                        crate::time::human_age(now - ended),
                        cooldown.as_secs(),
                        (left + 999) / 1000
                    ),
                )
            } else {
                Verdict::pass(
                    "cooldown",
                    format!(
                        "the last action here was {}'s {}, {} ago; the cooldown is {} s",
                        last.actor_name,
                        last.what(),
                        crate::time::human_age(now - ended),
                        cooldown.as_secs()
                    ),
                )
            });
        } else {
            // A build request has no host: it is judged by what it builds.
            let subject = if target.host.is_empty() {
                target.service_group.clone()
            } else {
                target.host.clone()
            };
            verdicts.push(Verdict::pass(
                "cooldown",
                format!(
                    "no action on {subject} has been recorded; the cooldown is {} s",
                    cooldown.as_secs()
                ),
            ));
        }
        let snap = self.fleet.snapshot(crate::time::now_ms());
        let versions: BTreeSet<String> = snap
            .environment(&target.environment)
            .map(|e| {
                e.hosts
                    .iter()
                    .filter(|h| h.reachability == Reachability::Reachable)
                    .filter_map(|h| h.sup_version.clone())
                    .collect()
            })
            .unwrap_or_default();
        let acceptance_restart = if env.production && !target.is_build() {
            self.ledger
                .recent_for_service(None, target.service(), 20)
                .await
                .map_err(store_err)?
                .into_iter()
                .filter(|a| {
                    self.environments
                        .get(&a.environment)
                        .is_some_and(|e| !e.production)
                })
                .find(|a| {
                    a.state == ActionState::Succeeded
                        && a.finished_ms.is_some_and(|f| now - f < 3_600_000)
                })
                .map(|a| (a.finished_ms.unwrap_or(a.requested_ms), a.actor_name))
        } else {
            None
        };
        Ok((
            GuardContext {
                role,
                production: env.production,
                supervisor_versions: versions,
                acceptance_restart,
            },
            verdicts,
        ))
    }

    /// What the dialog shows before anything runs.
    pub async fn preview(
        &self,
        kind: ActionKind,
        role: Role,
        target: &Target,
    ) -> Result<Preview, String> {
        let (ctx, mut verdicts) = self
            .context_verdicts(role, target)
            .await
            .map_err(|e| e.to_string())?;
        match self.resolve(kind, target, &[]) {
            Ok(plan) => verdicts.insert(0, Verdict::pass("executor", plan.executor())),
            Err(v) if v.guard == "target" => return Err(v.message),
            Err(v) => verdicts.insert(0, v),
        }
        let probe = ActionRequest {
            kind,
            target: target.clone(),
            reason: "preview".into(),
            confirmation: target.confirmation(ctx.production),
            tried_in_acceptance: Some(true),
            idempotency_key: String::new(),
            paths: Vec::new(),
        };
        // Only the guards the form cannot change: role and versions (and the acceptance note).
        for v in guards::check(&probe, &ctx) {
            if v.guard == "role" || v.guard == "versions" {
                verdicts.insert(0, v);
            }
        }
        if let Some((at, who)) = &ctx.acceptance_restart {
            verdicts.push(Verdict::pass(
                "acceptance_first",
                format!(
                    "{who} restarted {} in acceptance {} ago",
                    target.service(),
                    crate::time::human_age(crate::time::now_ms() - *at)
                ),
            ));
        }
        let recent = self
            .ledger
            .recent(
                &target.environment,
                &target.host,
                target.is_build().then_some(target.service_group.as_str()),
                5,
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(r) = recent.iter().find(|r| r.state == ActionState::Running) {
            verdicts.push(Verdict::refuse(
                "lock",
                format!("{}'s {} is running now", r.actor_name, r.what()),
            ));
        }
        let snap = self.fleet.snapshot(crate::time::now_ms());
        let host = snap.host(&target.environment, &target.host);
        let affected = match (kind, host) {
            // Where the new release will land: each Supervisor running the package.
            (ActionKind::RequestBuild, _) => snap
                .environment(&target.environment)
                .map(|e| {
                    e.hosts
                        .iter()
                        .flat_map(|h| {
                            h.services
                                .iter()
                                .filter(|s| s.ident.name == target.service_group)
                                .map(|s| {
                                    (
                                        format!("{}: {}", h.host.name, s.service_group),
                                        s.cell,
                                        s.since_ms,
                                    )
                                })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            (ActionKind::RestartSentinel, _) | (_, None) => Vec::new(),
            // The blast radius: every service that goes down with the Supervisor.
            (ActionKind::RestartSupervisor, Some(h)) => h
                .services
                .iter()
                .map(|s| (s.service_group.clone(), s.cell, s.since_ms))
                .collect(),
            (ActionKind::RestartService | ActionKind::RemoveLockFiles, Some(h)) => h
                .services
                .iter()
                .filter(|s| s.service_group == target.service_group)
                .map(|s| (s.service_group.clone(), s.cell, s.since_ms))
                .collect(),
        };
        Ok(Preview {
            kind,
            target: target.clone(),
            production: ctx.production,
            confirmation: target.confirmation(ctx.production),
            affected,
            host_reachable: host.is_some_and(|h| h.reachability == Reachability::Reachable)
                || kind == ActionKind::RestartSentinel
                || kind == ActionKind::RequestBuild,
            recent,
            verdicts,
        })
    }

    /// Judges the request, audits it, and starts it when every guard passed. `Err`: the store
    /// failed before anything ran.
    pub async fn submit(
        self: &Arc<Self>,
        actor: &Actor,
        role: Role,
        request: ActionRequest,
    ) -> Result<Submitted, NothingRan> {
        let store_err = |e: crate::store::StoreError| {
            NothingRan(format!("the audit log or the store could not be written ({e}); try again, or act by hand and say so"))
        };
        let key = request.idempotency_key.trim();
        if key.is_empty() || key.len() > 128 {
            return Ok(Submitted::Refused {
                verdicts: vec![Verdict::refuse(
                    "request",
                    "the request carries no valid idempotency key: reload the page",
                )],
            });
        }
        if let Some(before) = self
            .ledger
            .by_key(&actor.id, key)
            .await
            .map_err(store_err)?
        {
            self.audit_duplicate(actor, &request, &before.id).await?;
            return Ok(Submitted::Duplicate { id: before.id });
        }
        let resolved = self.resolve(request.kind, &request.target, &request.paths);
        let mut verdicts = Vec::new();
        let (ctx, more) = self.context_verdicts(role, &request.target).await?;
        verdicts.extend(guards::check(&request, &ctx));
        verdicts.extend(more);
        // The paths' check reads the log and runs a script on the host over SSH: only for a
        // request that every other guard let through (a viewer's request runs nothing).
        if request.kind == ActionKind::RemoveLockFiles
            && resolved.is_ok()
            && !verdicts.iter().any(Verdict::refuses)
        {
            verdicts.push(self.paths_verdict(&request).await);
        }
        match &resolved {
            Ok(plan) => verdicts.push(Verdict::pass("executor", plan.executor())),
            Err(v) => verdicts.insert(0, v.clone()),
        }
        let health_before = self.health_of(&request.target);
        if verdicts.iter().any(Verdict::refuses) {
            self.audit_refused(actor, &request, &verdicts, &health_before)
                .await?;
            return Ok(Submitted::Refused { verdicts });
        }
        let Ok(plan) = resolved else {
            unreachable!("a target that did not resolve was refused above")
        };
        let id = crate::auth::random_token();
        let cooldown = self.options.cooldown_for(&request.target.environment);
        match self
            .ledger
            .begin(
                &id,
                actor,
                &request,
                cooldown.as_millis() as i64,
                &self.instance,
            )
            .await
            .map_err(store_err)?
        {
            Begun::Started => {}
            Begun::Duplicate(before) => {
                self.audit_duplicate(actor, &request, &before.id).await?;
                return Ok(Submitted::Duplicate { id: before.id });
            }
            Begun::Locked(holder) => {
                verdicts.push(Verdict::refuse(
                    "lock",
                    format!(
                        "{}'s {} is running (started {} before this request): one action per host at a time",
                        holder.actor_name,
                        holder.what(),
                        crate::time::human_age(crate::time::now_ms() - holder.requested_ms)
                    ),
                ));
                self.audit_refused(actor, &request, &verdicts, &health_before)
                    .await?;
                return Ok(Submitted::Refused { verdicts });
            }
            Begun::Cooling { last, left_ms } => {
                // Judged again with the lock held: an action that ended since the first look.
                verdicts.retain(|v| v.guard != "cooldown");
                verdicts.push(Verdict::refuse(
                    "cooldown",
                    format!(
                        "{}'s {} ended moments ago; the cooldown is {} s: wait {} s",
                        last.actor_name,
                        last.what(),
                        cooldown.as_secs(),
                        (left_ms + 999) / 1000
                    ),
                ));
                self.audit_refused(actor, &request, &verdicts, &health_before)
                    .await?;
                return Ok(Submitted::Refused { verdicts });
            }
        }
        verdicts.push(Verdict::pass("lock", "host lock taken"));
        let mut detail = json!({
            "action": request.kind.as_str(),
            "reason": request.reason.trim(),
            "tried_in_acceptance": request.tried_in_acceptance,
            "verdicts": verdicts,
            "health_before": health_before,
        });
        if let (Some(d), serde_json::Value::Object(more)) = (detail.as_object_mut(), plan.detail())
        {
            d.extend(more);
        }
        let intent = Entry {
            kind: Event::ActionIntent,
            environment: request.target.environment.clone(),
            host: request.target.host.clone(),
            service: request.target.service_group.clone(),
            action_id: id.clone(),
            outcome: String::new(),
            detail,
        };
        if let Err(e) = self.audit.append(actor, &intent).await {
            // Nothing has run: say so in the ledger (best effort: the store may be gone).
            let why = format!("not run: the intent could not be audited ({e})");
            if let Err(e2) = self.ledger.refuse(&id, &self.instance, &why).await {
                tracing::error!(action = %id, error = %e2, "cannot record that an action was not run; its lease will expire");
            }
            return Err(store_err(e));
        }
        // Whatever secret the executor holds never reaches the output.
        let secrets: Vec<String> = self
            .environments
            .get(&request.target.environment)
            .and_then(|e| {
                e.builder
                    .as_ref()
                    .map(|b| b.token.expose_secret().to_owned())
            })
            .into_iter()
            .chain(plan.ctl_secret().map(|s| s.expose_secret().to_owned()))
            .collect();
        let progress = ActionProgress {
            id: id.clone(),
            kind: request.kind.as_str().into(),
            environment: request.target.environment.clone(),
            host: request.target.host.clone(),
            service: request.target.service_group.clone(),
            actor_name: actor.name.clone(),
            reason: request.reason.trim().to_owned(),
            state: ActionState::Running,
            step: "starting".into(),
            lines: Vec::new(),
            omitted: 0,
            summary: String::new(),
            requested_ms: crate::time::now_ms(),
            finished_ms: None,
            build: None,
        };
        // When this process last renewed its hold (its own monotonic clock, which runs on
        // through a pause): while that is well within the lease, no other process can have
        // taken the action, so a store that does not answer for a moment does not stop a
        // restart half-way; past it, only the store's word will do.
        let renewed = Arc::new(Mutex::new(Instant::now()));
        let grace = self.options.lease / 2;
        let fence: super::output::Fence = {
            let (ledger, id, me) = (self.ledger.clone(), id.clone(), self.instance.clone());
            let renewed = renewed.clone();
            Arc::new(move || {
                let (ledger, id, me) = (ledger.clone(), id.clone(), me.clone());
                let renewed = renewed.clone();
                Box::pin(async move {
                    match ledger.renew(&id, &me).await {
                        Ok(true) => {
                            *renewed.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                            Ok(true)
                        }
                        Ok(false) => Ok(false),
                        Err(e) => {
                            let since = renewed.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
                            if since < grace {
                                tracing::warn!(action = %id, error = %e, "the store does not answer; this process renewed its hold {since:?} ago, within the lease, and goes on");
                                Ok(true)
                            } else {
                                Err(e.to_string())
                            }
                        }
                    }
                })
            })
        };
        let sink = Sink::new(progress, self.options.output_limit_bytes, secrets)
            .with_fence(fence)
            .with_renewed(renewed);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), sink.subscribe());
        let me = self.clone();
        let actor = actor.clone();
        tokio::spawn(async move {
            me.execute(id, actor, request, plan, sink, health_before)
                .await;
        });
        Ok(Submitted::Started {
            id: intent.action_id,
        })
    }

    async fn execute(
        self: Arc<Self>,
        id: String,
        actor: Actor,
        request: ActionRequest,
        plan: Plan,
        sink: Sink,
        health_before: serde_json::Value,
    ) {
        let started = Instant::now();
        let lease_every = (self.options.lease / 3).max(Duration::from_millis(200));
        let renew = {
            let (ledger, id, me) = (self.ledger.clone(), id.clone(), self.instance.clone());
            let renewed = sink.renewed();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease_every).await;
                    match ledger.renew(&id, &me).await {
                        Ok(true) => {
                            if let Some(r) = &renewed {
                                *r.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                            }
                        }
                        // Lost: the next step's fence stops the action; nothing to renew.
                        Ok(false) => return,
                        Err(e) => {
                            tracing::warn!(action = %id, error = %e, "cannot renew the action's lease")
                        }
                    }
                }
            })
        };
        let result = plan.run(&sink).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let health_after = self.health_of(&request.target);
        let (state, summary, detail) = match &result {
            Ok(r) => (
                ActionState::Succeeded,
                r.summary.clone(),
                json!({"supervisor_ms": r.supervisor_ms, "health_ms": r.health_ms}),
            ),
            Err(why) => {
                sink.line(format!("✗ {why}"));
                (ActionState::Failed, why.clone(), json!({"error": why}))
            }
        };
        let (excerpt, output_bytes) = sink.excerpt();
        // The end is claimed in the ledger first, conditional on this process still holding the
        // action: a process that was paused past its lease and replaced finds the action ended
        // by the sweeper and writes no outcome over it. Kept and tried again while the store is
        // away; the sweeper audits an end whose outcome row this process did not live to write.
        let mut wait = Duration::from_millis(250);
        let mut said = false;
        let finished = loop {
            match self
                .ledger
                .finish(&id, &self.instance, state, &summary, &excerpt)
                .await
            {
                Ok(at) => break at,
                Err(e) => {
                    if !said {
                        tracing::error!(action = %id, error = %e, "cannot record an action's end; kept, trying again until the store answers");
                        sink.line(format!("… the outcome cannot be written to the audit log yet ({e}); Onwatch keeps trying"));
                        said = true;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        };
        renew.abort();
        let Some(finished) = finished else {
            tracing::error!(action = %id, state = state.as_str(), "this process lost the action while it ran (marked interrupted elsewhere); its outcome is not written over");
            sink.line(format!(
                "✗ this Onwatch lost the action while it ran (another marked it interrupted); what it saw: {} — {summary}",
                state.as_str()
            ));
            let note = Entry {
                kind: Event::ActionSuperseded,
                environment: request.target.environment.clone(),
                host: request.target.host.clone(),
                service: request.target.service_group.clone(),
                action_id: id.clone(),
                outcome: String::new(),
                detail: json!({"seen": state.as_str(), "summary": summary, "output_excerpt": excerpt}),
            };
            if let Err(e) = self.audit.append(&actor, &note).await {
                tracing::error!(action = %id, error = %e, "cannot audit what a superseded action saw");
            }
            self.forget(&id);
            return;
        };
        let outcome = Entry {
            kind: Event::ActionOutcome,
            environment: request.target.environment.clone(),
            host: request.target.host.clone(),
            service: request.target.service_group.clone(),
            action_id: id.clone(),
            outcome: state.as_str().into(),
            detail: json!({
                "action": request.kind.as_str(),
                "summary": summary,
                "duration_ms": duration_ms,
                "health_before": health_before,
                "health_after": health_after,
                "executor": plan.executor(),
                "exit_status": sink.last_exit().and_then(|e| e.status),
                "exit_signal": sink.last_exit().and_then(|e| e.signal),
                "output_excerpt": excerpt,
                "output_bytes": output_bytes,
                "steps": detail,
            }),
        };
        loop {
            match self.audit.append(&actor, &outcome).await {
                Ok(_) => break,
                Err(e) => {
                    if !said {
                        tracing::error!(action = %id, error = %e, "cannot audit an action's outcome; kept, trying again until the store answers");
                        sink.line(format!("… the outcome cannot be written to the audit log yet ({e}); Onwatch keeps trying"));
                        said = true;
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        sink.finish(state, &summary, finished);
        self.forget(&id);
    }

    fn forget(&self, id: &str) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// The service's state now, for the audit rows.
    fn health_of(&self, target: &Target) -> serde_json::Value {
        let snap = self.fleet.snapshot(crate::time::now_ms());
        if target.is_build() {
            // For a build: the releases the environment's Supervisors run now.
            let releases: Vec<(String, Option<String>)> = snap
                .environment(&target.environment)
                .map(|e| {
                    e.hosts
                        .iter()
                        .flat_map(|h| {
                            h.services
                                .iter()
                                .filter(|s| s.ident.name == target.service_group)
                                .map(|s| (h.host.name.clone(), s.ident.release.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            return json!({"releases": releases});
        }
        let Some(host) = snap.host(&target.environment, &target.host) else {
            return json!({"seen": false});
        };
        match host
            .services
            .iter()
            .find(|s| s.service_group == target.service_group)
        {
            Some(s) => json!({
                "cell": s.cell.as_str(),
                "health": s.health.as_str(),
                "pid": s.pid,
                "since_ms": s.since_ms,
            }),
            None => json!({"cell": host.cell.as_str(), "service_seen": false}),
        }
    }

    async fn audit_refused(
        &self,
        actor: &Actor,
        request: &ActionRequest,
        verdicts: &[Verdict],
        health_before: &serde_json::Value,
    ) -> Result<(), NothingRan> {
        let entry = Entry {
            kind: Event::ActionRefused,
            environment: request.target.environment.clone(),
            host: request.target.host.clone(),
            service: request.target.service_group.clone(),
            action_id: String::new(),
            outcome: "refused".into(),
            detail: json!({
                "action": request.kind.as_str(),
                // A refused request may carry anything: its reason is kept only as far as a
                // reason may go (the guard said so), marked where cut.
                "reason": crate::text::cut(request.reason.trim(), 4 * super::guards::REASON_MAX),
                "tried_in_acceptance": request.tried_in_acceptance,
                "verdicts": verdicts,
                "health_before": health_before,
            }),
        };
        self.audit
            .append(actor, &entry)
            .await
            .map(|_| ())
            .map_err(|e| NothingRan(format!("the refusal could not be audited ({e})")))
    }

    async fn audit_duplicate(
        &self,
        actor: &Actor,
        request: &ActionRequest,
        original: &str,
    ) -> Result<(), NothingRan> {
        let entry = Entry {
            kind: Event::ActionDuplicate,
            environment: request.target.environment.clone(),
            host: request.target.host.clone(),
            service: request.target.service_group.clone(),
            action_id: original.to_owned(),
            outcome: String::new(),
            detail: json!({"note": "the same request again (double click or retry): not run again"}),
        };
        self.audit
            .append(actor, &entry)
            .await
            .map(|_| ())
            .map_err(|e| NothingRan(format!("the repeated request could not be audited ({e})")))
    }

    /// Waits until no action runs in this process, at most `limit`; whether it got there.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A running action's live progress, if it runs in this process.
    pub fn follow(&self, id: &str) -> Option<watch::Receiver<ActionProgress>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// An action's progress: live when it runs here, else as recorded.
    pub async fn progress(&self, id: &str) -> Result<Option<ActionProgress>, String> {
        if let Some(rx) = self.follow(id) {
            return Ok(Some(rx.borrow().clone()));
        }
        Ok(self
            .ledger
            .get(id)
            .await
            .map_err(|e| e.to_string())?
            .map(|r| ActionProgress::from_record(&r)))
    }

    /// Marks actions whose Onwatch is gone (lease expired) as interrupted, with an outcome row,
    /// unless their outcome was audited and only the ledger missed it; and audits the end of
    /// actions whose process recorded it but stopped before its outcome row. Each end is
    /// claimed by a conditional update first, so of a sweeper and a process that wakes up from
    /// a pause, exactly one writes the outcome. Never re-runs anything.
    pub async fn settle_orphans(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.store.now_ms().await?;
        let cutoff = now - self.options.lease.as_millis() as i64;
        let orphans = self.ledger.orphaned(cutoff).await?;
        let mut n = 0;
        for o in orphans {
            let rows = self.audit.of_action(&o.id).await?;
            if let Some(out) = rows
                .iter()
                .find(|r| r.event() == Some(Event::ActionOutcome))
            {
                let state = ActionState::parse(&out.outcome).unwrap_or(ActionState::Failed);
                self.ledger
                    .end_expired(&o.id, cutoff, state, &o.summary, &o.output)
                    .await?;
                continue;
            }
            let why = "interrupted: Onwatch stopped while this ran (a crash, a kill, a pause or a lost replica); it was not re-run. Check the service and act again if needed.";
            if self
                .ledger
                .end_expired(&o.id, cutoff, ActionState::Interrupted, why, &o.output)
                .await?
                .is_none()
            {
                continue; // renewed or ended meanwhile: its process is alive
            }
            self.audit
                .append(
                    &Actor::onwatch(),
                    &Entry {
                        kind: Event::ActionOutcome,
                        environment: o.environment.clone(),
                        host: o.host.clone(),
                        service: o.service.clone(),
                        action_id: o.id.clone(),
                        outcome: ActionState::Interrupted.as_str().into(),
                        detail: json!({"summary": why, "requested_by": o.actor_name}),
                    },
                )
                .await?;
            n += 1;
        }
        for r in self
            .ledger
            .ended_unaudited(now - 86_400_000, cutoff)
            .await?
        {
            self.audit
                .append(
                    &Actor::onwatch(),
                    &Entry {
                        kind: Event::ActionOutcome,
                        environment: r.environment.clone(),
                        host: r.host.clone(),
                        service: r.service.clone(),
                        action_id: r.id.clone(),
                        outcome: r.state.as_str().into(),
                        detail: json!({
                            "summary": r.summary,
                            "requested_by": r.actor_name,
                            "note": "audited by the sweeper: the Onwatch that ran it recorded its end but stopped before writing this row",
                        }),
                    },
                )
                .await?;
            n += 1;
        }
        Ok(n)
    }

    /// Settles orphans at start and then every lease, until shutdown.
    pub async fn run_sweeper(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            match self.settle_orphans().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    actions = n,
                    "marked actions interrupted (their Onwatch stopped while they ran)"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot look for interrupted actions"),
            }
            let stopping = async {
                let _ = shutdown.wait_for(|s| *s).await;
            };
            tokio::select! {
                _ = tokio::time::sleep(self.options.lease) => {}
                _ = stopping => return,
            }
        }
    }
}

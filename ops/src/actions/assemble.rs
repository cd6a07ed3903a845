//! The pipeline assembled: each kind of change resolved to its own procedure (restarts here,
//! lock-file removal in [`crate::locks`], build requests in [`crate::builds`]), and the
//! [`Pipeline`] that runs them.

use std::sync::Arc;
use std::time::Duration;

use super::restart::{RestartSentinel, RestartService, RestartSupervisor, StartService};
use crate::access::Access;
use crate::change::{ActionKind, ActionsOptions, Kinds, Pipeline, Procedure, Target, Verdict};
use crate::exec::ssh;
use crate::store::Store;
use crate::supervisor::ctl::{CtlClient, CtlTarget};

/// The pipeline of production changes over `access`, each kind resolved by [`Procedures`].
pub fn pipeline(store: Store, access: Arc<Access>, options: ActionsOptions) -> Pipeline {
    let kinds = Procedures {
        access: access.clone(),
        ctl: CtlClient::default(),
        restart_timeout: options.restart_timeout,
    };
    Pipeline::new(store, access, Arc::new(kinds), options)
}

/// Every kind of change Onwatch knows, resolved against the fleet and the configuration.
pub struct Procedures {
    access: Arc<Access>,
    ctl: CtlClient,
    restart_timeout: Duration,
}

fn refused(r: crate::change::Refusal) -> Verdict {
    Verdict::refuse(&r.guard, r.why)
}

impl Kinds for Procedures {
    fn resolve(
        &self,
        kind: ActionKind,
        target: &Target,
        paths: &[String],
    ) -> Result<Box<dyn Procedure>, Verdict> {
        let access = &*self.access;
        let unknown = |why: String| Verdict::refuse("target", why);
        let env = access.configured(&target.environment).map_err(refused)?;
        if kind == ActionKind::RequestBuild || target.is_build() {
            return Ok(Box::new(crate::builds::resolve(access, kind, target)?));
        }
        if kind == ActionKind::RestartSentinel {
            let Some(sentinel) = access
                .sentinel()
                .filter(|s| s.environment == target.environment && s.host == target.host)
            else {
                return Err(unknown(format!(
                    "the sentinel is not configured on {} in {}: set [sentinel] (environment, host, address)",
                    target.host, target.environment
                )));
            };
            let ssh = access
                .ssh_for(&target.environment, "the sentinel")
                .map_err(refused)?;
            return Ok(Box::new(RestartSentinel {
                ssh: ssh.to(&sentinel.address),
                restart: ssh::command_for(&ssh.options.commands.restart_sentinel, &sentinel.host)
                    .map_err(|r| unknown(r.why))?,
                status: ssh::command_for(&ssh.options.commands.sentinel_status, &sentinel.host)
                    .map_err(|r| unknown(r.why))?,
            }));
        }
        let fleet = access.fleet();
        let snap = fleet.snapshot(crate::time::now_ms());
        let host = snap
            .host(&target.environment, &target.host)
            .ok_or_else(|| {
                unknown(format!(
                    "there is no host `{}` in {}'s inventory",
                    target.host, target.environment
                ))
            })?;
        if kind == ActionKind::RestartSupervisor {
            let ssh = access
                .ssh_for(&target.environment, "Supervisor restarts")
                .map_err(refused)?;
            return Ok(Box::new(RestartSupervisor {
                ssh: ssh.to(&host.host.address),
                command: ssh::command_for(&ssh.options.commands.restart_supervisor, &target.host)
                    .map_err(|r| unknown(r.why))?,
                environment: target.environment.clone(),
                host: target.host.clone(),
                before: host
                    .services
                    .iter()
                    .filter(|s| s.desired_up != Some(false))
                    .map(|s| (s.service_group.clone(), s.pid))
                    .collect(),
                fleet: fleet.clone(),
                limit: self.restart_timeout,
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
        let secret = access
            .ctl_secret(&target.environment, &target.host)
            .map_err(refused)?;
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
            fleet: fleet.clone(),
            limit: self.restart_timeout,
        };
        if kind == ActionKind::RemoveLockFiles {
            return Ok(Box::new(crate::locks::resolve(
                access,
                target,
                &host.host.address,
                paths,
                Box::new(StartService(restart)),
            )?));
        }
        Ok(Box::new(restart))
    }
}

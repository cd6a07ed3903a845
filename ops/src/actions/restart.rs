//! Restarting one service through its Supervisor's control gateway, the way `hab svc stop` and
//! `hab svc start` do, but waiting for each step to be true before the next: stop, wait until the
//! Supervisor reports the process down, start, wait until it reports it up, then wait until the
//! fleet model has seen the new process (its pid) pass its health check. All within one limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vocab::{CellState, HealthStatus};

use secrecy::ExposeSecret;

use crate::change::{BoxFuture, Failed, Procedure, Ran, Sink};
use crate::fleet::FleetModel;
use crate::supervisor::ctl::{CtlClient, CtlTarget, PackageIdentMsg, ProcessStateMsg};

/// Everything one restart needs.
pub struct RestartService {
    pub client: CtlClient,
    pub target: CtlTarget,
    /// `core/builder-api`
    pub origin: String,
    pub name: String,
    pub environment: String,
    pub host: String,
    pub service_group: String,
    pub fleet: Arc<FleetModel>,
    pub limit: Duration,
}

const STATUS_EVERY: Duration = Duration::from_millis(200);

/// After a stop whose reply was lost: how long the Supervisor is given before the service's
/// state is read again.
const STOP_SETTLE: Duration = Duration::from_secs(2);

impl RestartService {
    fn ident(&self) -> PackageIdentMsg {
        PackageIdentMsg::new(&self.origin, &self.name)
    }

    /// Runs the restart; `Err` says which step failed and why, in words for the page.
    pub async fn run(&self, sink: &Sink) -> Result<Ran, Failed> {
        let started = Instant::now();
        let deadline = started + self.limit;
        let ident = format!("{}/{}", self.origin, self.name);
        sink.step("stopping");
        // The process before the stop, in the Supervisor's own word: the restart is done only
        // when another one runs (a start while the old process still drains reattaches to it).
        let before = match self.client.status(&self.target, Some(self.ident())).await {
            Ok(reply) => reply
                .statuses
                .first()
                .and_then(|s| s.process.as_ref())
                .and_then(|p| p.pid),
            Err(_) => None,
        }
        .or_else(|| self.fleet_pid());
        sink.held().await?;
        sink.line(format!(
            "→ SvcStop {ident} on {} (control gateway {})",
            self.host, self.target.addr
        ));
        match self.client.stop(&self.target, self.ident()).await {
            Ok(reply) => {
                for l in reply.console {
                    sink.line(l.trim_end().to_owned());
                }
                if reply.console_omitted > 0 {
                    sink.line(format!("… {} more lines not kept", reply.console_omitted));
                }
            }
            // Sent, then the reply was lost: the Supervisor may be stopping the service now.
            // Look again after a settling time and go on only from what is seen.
            Err(e) if e.after_sent() => {
                sink.line(format!("… {e}"));
                sink.line(format!(
                    "→ looking at {ident} again in {} s",
                    STOP_SETTLE.as_secs()
                ));
                tokio::time::sleep(STOP_SETTLE).await;
                let seen = self.client.status(&self.target, Some(self.ident())).await;
                let process = seen
                    .as_ref()
                    .ok()
                    .and_then(|r| r.statuses.first())
                    .and_then(|s| s.process.clone());
                match process {
                    Some(p) if p.state == ProcessStateMsg::Down as i32 => {
                        sink.line(format!(
                            "✓ the stop was taken: {ident} is down; starting it, as asked"
                        ));
                    }
                    Some(p) => {
                        return Err(format!(
                            "the stop's reply was lost, and {ident} still runs (pid {}): the stop may still be under way or was not taken. Look at the service before acting again; if it goes down, start it with `hab svc start {ident}` (or Restart again here)",
                            p.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
                        ).into());
                    }
                    None => {
                        return Err(format!(
                            "the stop's reply was lost and the service's state cannot be read ({}): it may be down. Check it (`hab svc status {ident}` on {}) and start it with `hab svc start {ident}` if it is down",
                            seen.err().map(|e| e.to_string()).unwrap_or_else(|| "the Supervisor reports no process".into()),
                            self.host
                        ).into());
                    }
                }
            }
            Err(e) => return Err(format!("the stop was not taken: {e}").into()),
        }
        self.wait_process(ProcessStateMsg::Down, None, deadline, sink)
            .await?;
        sink.line(format!(
            "✓ {ident} is down ({:.1} s)",
            started.elapsed().as_secs_f64()
        ));
        self.start_phase(sink, started, deadline, before).await
    }

    /// Only the start: `SvcStart`, then up, then healthy (after the datastore's stale lock files
    /// are removed, the service is down and only needs starting).
    pub async fn start_only(&self, sink: &Sink) -> Result<Ran, Failed> {
        let started = Instant::now();
        self.start_phase(sink, started, started + self.limit, None)
            .await
    }

    /// The service's pid as the fleet model last saw it.
    fn fleet_pid(&self) -> Option<u32> {
        let snap = self.fleet.snapshot(crate::time::now_ms());
        snap.host(&self.environment, &self.host)?
            .services
            .iter()
            .find(|s| s.service_group == self.service_group)?
            .pid
    }

    async fn start_phase(
        &self,
        sink: &Sink,
        started: Instant,
        deadline: Instant,
        before: Option<u32>,
    ) -> Result<Ran, Failed> {
        let ident = format!("{}/{}", self.origin, self.name);
        sink.step("starting");
        sink.held().await?;
        sink.line(format!("→ SvcStart {ident}"));
        match self.client.start(&self.target, self.ident()).await {
            Ok(reply) => {
                for l in reply.console {
                    sink.line(l.trim_end().to_owned());
                }
                if reply.console_omitted > 0 {
                    sink.line(format!("… {} more lines not kept", reply.console_omitted));
                }
            }
            // Sent, reply lost: whether it starts is seen below, within the limit.
            Err(e) if e.after_sent() => sink.line(format!(
                "… {e}; watching whether {ident} comes up"
            )),
            Err(e) => return Err(format!("the start was not taken (the service stays down: start it by hand with `hab svc start {ident}`): {e}").into()),
        }
        let pid = self
            .wait_process(ProcessStateMsg::Up, before, deadline, sink)
            .await?;
        let supervisor_ms = started.elapsed().as_millis() as u64;
        sink.line(format!(
            "✓ {ident} is up, pid {} ({:.1} s)",
            pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
            started.elapsed().as_secs_f64()
        ));
        sink.step("checking health");
        sink.line("→ waiting for the health check of the new process".to_owned());
        let up_at = Instant::now();
        self.wait_healthy(pid, deadline, sink).await?;
        let health_ms = up_at.elapsed().as_millis() as u64;
        let total = started.elapsed().as_secs_f64();
        sink.line(format!("✓ healthy again after {total:.1} s"));
        Ok(Ran {
            summary: format!("healthy again after {total:.1} s"),
            supervisor_ms,
            health_ms,
        })
    }

    /// Polls `SvcStatus` until the process is in `want` (for up: a process other than `old`,
    /// the one before the stop); returns its pid.
    async fn wait_process(
        &self,
        want: ProcessStateMsg,
        old: Option<u32>,
        deadline: Instant,
        sink: &Sink,
    ) -> Result<Option<u32>, String> {
        let word = if want == ProcessStateMsg::Up {
            "up"
        } else {
            "down"
        };
        let mut said = Instant::now();
        let mut still_said = false;
        loop {
            match self.client.status(&self.target, Some(self.ident())).await {
                Ok(reply) => {
                    if let Some(p) = reply.statuses.first().and_then(|s| s.process.as_ref()) {
                        let same = old.is_some() && p.pid == old;
                        if p.state == want as i32 && !same {
                            return Ok(p.pid);
                        }
                        if p.state == want as i32 && !still_said {
                            sink.line(format!(
                                "… the old process (pid {}) is still stopping: the Supervisor reattached to it; waiting for a new one",
                                old.map(|p| p.to_string()).unwrap_or_default()
                            ));
                            still_said = true;
                            said = Instant::now();
                        }
                    }
                }
                Err(e) => {
                    if said.elapsed() >= Duration::from_secs(2) {
                        sink.line(format!("… status not read ({e}); asking again"));
                        said = Instant::now();
                    }
                }
            }
            if Instant::now() + STATUS_EVERY > deadline {
                return Err(format!(
                    "the Supervisor did not report the process {word} within the {} s limit",
                    self.limit.as_secs()
                ));
            }
            if said.elapsed() >= Duration::from_secs(3) {
                sink.line(format!("… waiting for the process to be {word}"));
                said = Instant::now();
            }
            tokio::time::sleep(STATUS_EVERY).await;
        }
    }

    /// Waits until the fleet model shows the service's new process (by pid, when the Supervisor
    /// gave one) healthy: the model is fed by the poller, so this is what every page shows too.
    async fn wait_healthy(
        &self,
        pid: Option<u32>,
        deadline: Instant,
        sink: &Sink,
    ) -> Result<(), String> {
        wait_for_fleet(&self.fleet, deadline, sink, |snap| {
            let service = snap.host(&self.environment, &self.host).and_then(|h| {
                h.services
                    .iter()
                    .find(|s| s.service_group == self.service_group)
            });
            let Some(s) = service else {
                return Seen::Waiting("the fleet does not list the service".into());
            };
            let same_process = pid.is_none() || s.pid == pid;
            if same_process && s.cell == CellState::Healthy {
                Seen::Done
            } else if same_process {
                Seen::Waiting(match s.health {
                    HealthStatus::Ok => "health ok, waiting for the next poll".to_owned(),
                    other => format!("health check says {}", other.as_str()),
                })
            } else {
                Seen::Waiting("the fleet has not seen the new process yet".to_owned())
            }
        })
        .await
        .map_err(|last| {
            format!(
                "the service did not pass its health check within the {} s limit ({last})",
                self.limit.as_secs()
            )
        })
    }
}

/// What a wait on the fleet model sees at one moment.
enum Seen {
    Done,
    /// Not yet, and what is seen instead (said once each time it changes).
    Waiting(String),
}

/// Waits until `check` sees what it waits for in the fleet model (woken by each change of the
/// model, and at least every second), saying each new state in the output. `Err` holds the last
/// state seen when the deadline passed.
async fn wait_for_fleet(
    fleet: &FleetModel,
    deadline: Instant,
    sink: &Sink,
    check: impl Fn(&crate::fleet::FleetSnapshot) -> Seen,
) -> Result<(), String> {
    let mut changes = fleet.subscribe();
    let mut last = String::new();
    loop {
        match check(&fleet.snapshot(crate::time::now_ms())) {
            Seen::Done => return Ok(()),
            Seen::Waiting(now) => {
                if now != last {
                    sink.line(format!("… {now}"));
                    last = now;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(last);
        }
        tokio::select! {
            _ = changes.recv() => {}
            _ = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
        }
    }
}

/// Runs one command over SSH as a step of an action: says what runs where, and what it exited
/// with; a non-zero exit fails the step.
async fn ssh_step(
    ssh: &crate::exec::ssh::SshTarget,
    command: &str,
    sink: &Sink,
) -> Result<(), Failed> {
    sink.held().await?;
    sink.line(format!(
        "→ ssh {}@{}:{} {command}",
        ssh.options.user, ssh.address, ssh.options.port
    ));
    let exited = crate::exec::ssh::run(ssh, command, sink)
        .await
        .map_err(|e| e.to_string())?;
    sink.line(format!("← {}", exited.describe()));
    if exited.success() {
        Ok(())
    } else {
        Err(format!("the command failed ({}): see its output", exited.describe()).into())
    }
}

/// A Supervisor restart over SSH (`systemctl restart hab-sup`): every service on the host goes
/// down with it. Done when the fleet model sees the Supervisor answer again and each service
/// that ran before healthy in a new process.
pub struct RestartSupervisor {
    pub ssh: crate::exec::ssh::SshTarget,
    pub command: String,
    pub environment: String,
    pub host: String,
    /// The blast radius as it was: each service group and its pid then.
    pub before: Vec<(String, Option<u32>)>,
    pub fleet: Arc<FleetModel>,
    pub limit: Duration,
}

impl RestartSupervisor {
    pub async fn run(&self, sink: &Sink) -> Result<Ran, Failed> {
        let started = Instant::now();
        sink.step("restarting the Supervisor");
        ssh_step(&self.ssh, &self.command, sink).await?;
        // Only what the poller saw after the restart counts: an answer from before it (the old
        // Supervisor, still in the model) would say "answers" and then "does not answer yet".
        let restarted_ms = crate::time::now_ms();
        let supervisor_ms = started.elapsed().as_millis() as u64;
        sink.step("waiting for the services");
        let n = self.before.len();
        wait_for_fleet(&self.fleet, started + self.limit, sink, |snap| {
            let Some(host) = snap.host(&self.environment, &self.host) else {
                return Seen::Waiting("the host is not in the inventory".to_owned());
            };
            if host.last_seen_ms.is_none_or(|t| t < restarted_ms)
                || host.reachability != crate::fleet::Reachability::Reachable
            {
                return Seen::Waiting(
                    "waiting for the new Supervisor's first answer".to_owned(),
                );
            }
            let back = self
                .before
                .iter()
                .filter(|(group, old_pid)| {
                    host.services
                        .iter()
                        .find(|s| &s.service_group == group)
                        .is_some_and(|s| {
                            s.cell == CellState::Healthy && (old_pid.is_none() || s.pid != *old_pid)
                        })
                })
                .count();
            if back == n {
                Seen::Done
            } else {
                Seen::Waiting(format!(
                    "the new Supervisor answers; {back} of {n} services healthy in a new process so far"
                ))
            }
        })
        .await
        .map_err(|last| {
            format!(
                "not every service came back healthy within the {} s limit ({last})",
                self.limit.as_secs()
            )
        })?;
        let total = started.elapsed().as_secs_f64();
        sink.line(format!("✓ every service healthy again after {total:.1} s"));
        Ok(Ran {
            summary: format!(
                "Supervisor restarted; {} healthy again after {total:.1} s",
                match n {
                    1 => "its service".to_owned(),
                    n => format!("its {n} services"),
                }
            ),
            supervisor_ms,
            health_ms: started.elapsed().as_millis() as u64 - supervisor_ms,
        })
    }
}

/// The sentinel bot's restart over SSH (`systemctl restart sentinel`), then its status command.
pub struct RestartSentinel {
    pub ssh: crate::exec::ssh::SshTarget,
    pub restart: String,
    pub status: String,
}

impl RestartSentinel {
    pub async fn run(&self, sink: &Sink) -> Result<Ran, Failed> {
        let started = Instant::now();
        sink.step("restarting the sentinel");
        ssh_step(&self.ssh, &self.restart, sink).await?;
        let supervisor_ms = started.elapsed().as_millis() as u64;
        sink.step("checking its status");
        sink.line(format!("→ {}", self.status));
        let status = crate::exec::ssh::run(&self.ssh, &self.status, sink)
            .await
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!(
                "the sentinel does not run after its restart ({}): read its log (journalctl -u sentinel)",
                status.describe()
            ).into());
        }
        let total = started.elapsed().as_secs_f64();
        sink.line(format!("✓ the sentinel runs again ({total:.1} s)"));
        Ok(Ran {
            summary: format!("the sentinel runs again after {total:.1} s"),
            supervisor_ms,
            health_ms: started.elapsed().as_millis() as u64 - supervisor_ms,
        })
    }
}

impl Procedure for RestartService {
    fn executor(&self) -> &'static str {
        "control gateway"
    }

    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "executor": "control gateway",
            "executor_address": self.target.addr,
            "package": format!("{}/{}", self.origin, self.name),
        })
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.target.secret.expose_secret().to_owned()]
    }

    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>> {
        Box::pin(RestartService::run(self, sink))
    }
}

/// Only the start of a service ([`RestartService::start_only`]): what a lock-file removal ends
/// with, once the stale files are gone.
pub struct StartService(pub RestartService);

impl Procedure for StartService {
    fn executor(&self) -> &'static str {
        "control gateway"
    }

    fn detail(&self) -> serde_json::Value {
        self.0.detail()
    }

    fn secrets(&self) -> Vec<String> {
        self.0.secrets()
    }

    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>> {
        Box::pin(self.0.start_only(sink))
    }
}

fn ssh_address(ssh: &crate::exec::ssh::SshTarget) -> String {
    format!("{}@{}:{}", ssh.options.user, ssh.address, ssh.options.port)
}

impl Procedure for RestartSupervisor {
    fn executor(&self) -> &'static str {
        "ssh"
    }

    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "executor": "ssh",
            "executor_address": ssh_address(&self.ssh),
            "command": self.command,
            "blast_radius": self.before.iter().map(|(g, _)| g).collect::<Vec<_>>(),
        })
    }

    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>> {
        Box::pin(RestartSupervisor::run(self, sink))
    }
}

impl Procedure for RestartSentinel {
    fn executor(&self) -> &'static str {
        "ssh"
    }

    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "executor": "ssh",
            "executor_address": ssh_address(&self.ssh),
            "command": self.restart,
            "status_command": self.status,
        })
    }

    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>> {
        Box::pin(RestartSentinel::run(self, sink))
    }
}

//! The protocol of a change to production, and its live progress (the preview before it:
//! [`super::preview`]).
//!
//! submit: idempotency → target known (the kind resolved to its [`Procedure`]) → guards (pure
//! ones, executor, cooldown, the procedure's own check) → refused rows audited → action recorded
//! and the host's lock taken, the cooldown judged again in that transaction (both or neither) →
//! intent row committed → only then the procedure runs, in a task of its own, renewing the
//! action's lease → health after → the end claimed in the ledger (fenced by this process's
//! token) → outcome row, retried until stored → lock freed. If the intent cannot be audited,
//! nothing runs.
//!
//! The state of a change is its row in the store (state, holder, lease, output): a browser on
//! the process that runs it follows it through a `watch` channel of its [`ActionProgress`]
//! (lines, step, state); anyone else, and everyone after it ended, reads the row
//! ([`Pipeline::progress`]). A change whose holder's lease ran out is marked interrupted by the
//! sweeper ([`super::sweeper`]) on whichever process runs it. A cancel asked of a change, on any
//! replica ([`super::cancel`]), is written into its row; the process that runs it reads it with
//! each renewal of its lease (and before each command, in the fence), drops the procedure where it
//! stands and records the end as `cancelled`, fenced like every end.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{watch, Notify};
use vocab::Role;

use super::guards::{self, GuardContext, Verdict};
use super::ledger::{Begun, CancelAsk, Hold, Ledger};
use super::procedure::{Failed, Kinds, Procedure};
use super::request::{ActionRequest, ActionState, ActionsOptions, Target};
use super::sink::{ActionProgress, Sink};
use super::{Error, Refusal};
use crate::access::{Access, SentinelHost};
use crate::audit::{Actor, AuditLog, Entry, Event};
use crate::exec::ssh::SshTarget;
use crate::fleet::Reachability;
use crate::store::{Store, StoreError};

/// A running change's view of a cancel asked of it: what this process last read from its row,
/// and the bell that makes its renewal read the row at once.
struct Cancel {
    asked: Arc<watch::Sender<Option<CancelAsk>>>,
    wake: Arc<Notify>,
}

/// Says a cancel read from the store to the running change, once.
fn tell_cancel(asked: &watch::Sender<Option<CancelAsk>>, c: &CancelAsk) {
    asked.send_if_modified(|now| {
        if now.is_none() {
            *now = Some(c.clone());
            true
        } else {
            false
        }
    });
}

/// What [`Pipeline::submit`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Submitted {
    /// Running: follow it by this id.
    Started { id: String },
    /// The same request (idempotency key) was made before: that action, not run again.
    Duplicate { id: String },
    /// Nothing ran; every guard's verdict (the refusing ones say why).
    Refused { verdicts: Vec<Verdict> },
}

/// The pipeline every change to production goes through. Cheap to share (`Arc`).
pub struct Pipeline {
    store: Store,
    audit: AuditLog,
    ledger: Ledger,
    access: Arc<Access>,
    kinds: Arc<dyn Kinds>,
    options: ActionsOptions,
    /// The changes this process runs, for a live view (the store holds their state for any
    /// other process: [`Pipeline::progress`]).
    running: Mutex<HashMap<String, watch::Receiver<ActionProgress>>>,
    /// Wakes the lease's renewal of a change this process runs at once (a cancel asked here),
    /// instead of at its next turn; the cancel itself is read from the store all the same.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    /// This process, as the holder of the actions it runs (a fencing token: every update of
    /// an action's row compares it).
    instance: String,
}

impl Pipeline {
    /// The pipeline over `access`, each request resolved to its procedure by `kinds`.
    pub fn new(
        store: Store,
        access: Arc<Access>,
        kinds: Arc<dyn Kinds>,
        options: ActionsOptions,
    ) -> Pipeline {
        Pipeline {
            audit: AuditLog::new(store.clone()),
            ledger: Ledger::new(store.clone()),
            store,
            access,
            kinds,
            options,
            running: Mutex::new(HashMap::new()),
            wakers: Mutex::new(HashMap::new()),
            instance: crate::auth::random_token(),
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// How each environment is reached (SSH targets, the Builder API, the sentinel's host).
    pub fn access(&self) -> &Arc<Access> {
        &self.access
    }

    /// Where the sentinel runs, if configured.
    pub fn sentinel(&self) -> Option<&SentinelHost> {
        self.access.sentinel()
    }

    /// Where SSH goes for a host (see [`Access::ssh_target`]).
    pub fn ssh_target(&self, environment: &str, host: &str) -> Result<SshTarget, Refusal> {
        self.access.ssh_target(environment, host)
    }

    pub(super) fn kinds(&self) -> &dyn Kinds {
        &*self.kinds
    }

    pub(super) fn options(&self) -> &ActionsOptions {
        &self.options
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// The verdicts that need more than the request: executor, cooldown, lock, versions, the
    /// acceptance restart. Also used by the preview.
    pub(super) async fn context_verdicts(
        &self,
        role: Role,
        target: &Target,
    ) -> Result<(GuardContext, Vec<Verdict>), StoreError> {
        let mut verdicts = Vec::new();
        let production = self.access.production(&target.environment);
        let now = self.store.now_ms().await?;
        let cooldown = self.options.cooldown_for(&target.environment);
        if let Some(last) = self.ledger.last_finished(target).await? {
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
        let snap = self.access.fleet().snapshot(crate::time::now_ms());
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
        let acceptance_restart = if production && !target.is_build() {
            self.ledger
                .recent_for_service(None, target.service(), 20)
                .await?
                .into_iter()
                .filter(|a| {
                    self.access
                        .environment(&a.environment)
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
                production,
                supervisor_versions: versions,
                acceptance_restart,
            },
            verdicts,
        ))
    }

    /// Judges the request, audits it, and starts it when every guard passed. A refusal by a
    /// guard is [`Submitted::Refused`] with every verdict (the dialog shows them all); `Err` is
    /// [`Error::Store`]: the store failed before anything ran.
    pub async fn submit(
        self: &Arc<Self>,
        actor: &Actor,
        role: Role,
        request: ActionRequest,
    ) -> Result<Submitted, Error> {
        let key = request.idempotency_key.trim();
        if key.is_empty() || key.len() > 128 {
            return Ok(Submitted::Refused {
                verdicts: vec![Verdict::refuse(
                    "request",
                    "the request carries no valid idempotency key: reload the page",
                )],
            });
        }
        if let Some(before) = self.ledger.by_key(&actor.id, key).await? {
            self.audit_duplicate(actor, &request, &before.id).await?;
            return Ok(Submitted::Duplicate { id: before.id });
        }
        let resolved = self
            .kinds
            .resolve(request.kind, &request.target, &request.paths);
        let mut verdicts = Vec::new();
        let (ctx, more) = self.context_verdicts(role, &request.target).await?;
        verdicts.extend(guards::check(&request, &ctx));
        verdicts.extend(more);
        // A procedure's own check may read production (a lock-file removal reads the log and
        // runs a script on the host over SSH): only for a request that every other guard let
        // through (a viewer's request runs nothing).
        if let Ok(procedure) = &resolved {
            if !verdicts.iter().any(Verdict::refuses) {
                if let Some(v) = procedure.check(&request).await {
                    verdicts.push(v);
                }
            }
        }
        match &resolved {
            Ok(procedure) => verdicts.push(Verdict::pass("executor", procedure.executor())),
            Err(v) => verdicts.insert(0, v.clone()),
        }
        let health_before = self.health_of(&request.target);
        if verdicts.iter().any(Verdict::refuses) {
            self.audit_refused(actor, &request, &verdicts, &health_before)
                .await?;
            return Ok(Submitted::Refused { verdicts });
        }
        let Ok(procedure) = resolved else {
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
            .await?
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
        if let (Some(d), serde_json::Value::Object(more)) =
            (detail.as_object_mut(), procedure.detail())
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
            return Err(Error::Store(e));
        }
        // Whatever secret the executor holds never reaches the output.
        let secrets: Vec<String> = self
            .access
            .redactions(&request.target.environment)
            .into_iter()
            .chain(procedure.secrets())
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
        // A cancel asked of this change (in its row, by any replica), as this process last read
        // it: by the renewal of the lease, or by the fence before a command.
        let (asked, _) = watch::channel(None::<CancelAsk>);
        let asked = Arc::new(asked);
        let fence: super::sink::Fence = {
            let (ledger, id, me) = (self.ledger.clone(), id.clone(), self.instance.clone());
            let renewed = renewed.clone();
            let asked = asked.clone();
            Arc::new(move || {
                let (ledger, id, me) = (ledger.clone(), id.clone(), me.clone());
                let renewed = renewed.clone();
                let asked = asked.clone();
                Box::pin(async move {
                    match ledger.hold(&id, &me, None).await {
                        Ok(Hold::Held(cancel)) => {
                            *renewed.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                            if let Some(c) = &cancel {
                                tell_cancel(&asked, c);
                            }
                            Ok(Hold::Held(cancel))
                        }
                        Ok(Hold::Lost) => Ok(Hold::Lost),
                        Err(e) => {
                            let since = renewed.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
                            if since < grace {
                                tracing::warn!(action = %id, error = %e, "the store does not answer; this process renewed its hold {since:?} ago, within the lease, and goes on");
                                Ok(Hold::Held(None))
                            } else {
                                Err(e)
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
        let wake = Arc::new(Notify::new());
        self.wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), wake.clone());
        let me = self.clone();
        let actor = actor.clone();
        tokio::spawn(async move {
            me.execute(
                id,
                actor,
                request,
                procedure,
                sink,
                health_before,
                Cancel { asked, wake },
            )
            .await;
        });
        Ok(Submitted::Started {
            id: intent.action_id,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn execute(
        self: Arc<Self>,
        id: String,
        actor: Actor,
        request: ActionRequest,
        procedure: Box<dyn Procedure>,
        sink: Sink,
        health_before: serde_json::Value,
        cancel: Cancel,
    ) {
        let started = Instant::now();
        let lease_every = (self.options.lease / 3).max(Duration::from_millis(200));
        let renew = {
            let (ledger, id, me) = (self.ledger.clone(), id.clone(), self.instance.clone());
            let renewed = sink.renewed();
            let live = sink.subscribe();
            let (asked, wake) = (cancel.asked.clone(), cancel.wake.clone());
            tokio::spawn(async move {
                loop {
                    // Every turn of the lease, or at once when a cancel is asked here.
                    tokio::select! {
                        _ = tokio::time::sleep(lease_every) => {}
                        _ = wake.notified() => {}
                    }
                    // The output so far goes into the row with the lease: the change's state
                    // is in the store, for any process that shows it; and from the row, whether
                    // anyone (on any replica) asked to cancel it.
                    let output = live.borrow().lines.join("\n");
                    match ledger.hold(&id, &me, Some(&output)).await {
                        Ok(Hold::Held(c)) => {
                            if let Some(r) = &renewed {
                                *r.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                            }
                            if let Some(c) = c {
                                // Renewing goes on: the end is still to be written, fenced.
                                tell_cancel(&asked, &c);
                            }
                        }
                        // Lost: the next step's fence stops the action; nothing to renew.
                        Ok(Hold::Lost) => return,
                        Err(e) => {
                            tracing::warn!(action = %id, error = %e, "cannot renew the action's lease")
                        }
                    }
                }
            })
        };
        // The procedure runs until it ends or a cancel is read from the store: then its future
        // is dropped where it stands, which cuts off the call it was making (the SSH session,
        // the control gateway's connection, the Builder's request), and nothing more is sent.
        let mut seen = cancel.asked.subscribe();
        let cancelled = async move {
            let c = seen
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|c| c.clone());
            match c {
                Some(c) => c,
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            r = procedure.run(&sink) => r,
            c = cancelled => Err(Failed::Hold(format!("cancelled by {}", c.by_name))),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let health_after = self.health_of(&request.target);
        let asked = cancel.asked.borrow().clone();
        let (state, summary, detail) = match (&result, &asked) {
            (Ok(r), _) => (
                ActionState::Succeeded,
                r.summary.clone(),
                json!({"supervisor_ms": r.supervisor_ms, "health_ms": r.health_ms}),
            ),
            (Err(_), Some(c)) => {
                let step = sink.subscribe().borrow().step.clone();
                let why = format!(
                    "cancelled by {} after {} s, during `{}`: stopped there, nothing more was sent; what was sent before stands — check the service",
                    c.by_name,
                    duration_ms / 1000,
                    if step.is_empty() { "the start" } else { step.as_str() },
                );
                sink.line(format!("✗ {why}"));
                (
                    ActionState::Cancelled,
                    why,
                    json!({"cancelled_by": c.by, "cancelled_by_name": c.by_name, "cancel_asked_ms": c.at_ms}),
                )
            }
            (Err(failed), None) => {
                let why = failed.to_string();
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
                "executor": procedure.executor(),
                "exit_status": sink.last_exit().and_then(|e| e.status),
                "exit_signal": sink.last_exit().and_then(|e| e.signal),
                "output_excerpt": excerpt,
                "output_bytes": output_bytes,
                "steps": detail,
                "cancelled_by": (state == ActionState::Cancelled)
                    .then(|| asked.as_ref().map(|c| c.by_name.clone()))
                    .flatten(),
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
        self.wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Wakes the renewal of a change this process runs, so that it reads its row now (a cancel
    /// was just written into it); a change run elsewhere reads it at its own next renewal.
    pub(super) fn wake(&self, id: &str) {
        if let Some(w) = self
            .wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            w.notify_one();
        }
    }

    /// The service's state now, for the audit rows.
    fn health_of(&self, target: &Target) -> serde_json::Value {
        let snap = self.access.fleet().snapshot(crate::time::now_ms());
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
    ) -> Result<(), StoreError> {
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
        self.audit.append(actor, &entry).await.map(|_| ())
    }

    async fn audit_duplicate(
        &self,
        actor: &Actor,
        request: &ActionRequest,
        original: &str,
    ) -> Result<(), StoreError> {
        let entry = Entry {
            kind: Event::ActionDuplicate,
            environment: request.target.environment.clone(),
            host: request.target.host.clone(),
            service: request.target.service_group.clone(),
            action_id: original.to_owned(),
            outcome: String::new(),
            detail: json!({"note": "the same request again (double click or retry): not run again"}),
        };
        self.audit.append(actor, &entry).await.map(|_| ())
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

    /// An action's progress: live when it runs here, else from its row in the store (its
    /// state, step and output as the process that runs it last wrote them, on any replica).
    pub async fn progress(&self, id: &str) -> Result<Option<ActionProgress>, StoreError> {
        if let Some(rx) = self.follow(id) {
            return Ok(Some(rx.borrow().clone()));
        }
        Ok(self
            .ledger
            .get(id)
            .await?
            .map(|r| ActionProgress::from_record(&r)))
    }
}

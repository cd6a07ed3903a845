//! What the confirmation dialog shows before anything runs: the target's state, the recent
//! changes on it, and the verdicts known before the form is filled.

use serde::{Deserialize, Serialize};
use vocab::Role;

use super::guards::{self, Verdict};
use super::ledger::ActionRecord;
use super::request::{ActionKind, ActionRequest, ActionState, Target};
use super::submit::Pipeline;
use super::Error;
use crate::fleet::Reachability;

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

impl Pipeline {
    /// What the dialog shows before anything runs.
    pub async fn preview(
        &self,
        kind: ActionKind,
        role: Role,
        target: &Target,
    ) -> Result<Preview, Error> {
        let (ctx, mut verdicts) = self.context_verdicts(role, target).await?;
        match self.kinds().resolve(kind, target, &[]) {
            Ok(procedure) => verdicts.insert(0, Verdict::pass("executor", procedure.executor())),
            Err(v) if v.guard == "target" => return Err(Error::refused("target", v.message)),
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
            .ledger()
            .recent(
                &target.environment,
                &target.host,
                target.is_build().then_some(target.service_group.as_str()),
                5,
            )
            .await?;
        if let Some(r) = recent.iter().find(|r| r.state == ActionState::Running) {
            verdicts.push(Verdict::refuse(
                "lock",
                format!("{}'s {} is running now", r.actor_name, r.what()),
            ));
        }
        let snap = self.access().fleet().snapshot(crate::time::now_ms());
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
}

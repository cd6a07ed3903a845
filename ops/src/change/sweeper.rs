//! The sweeper: a change whose process is gone (its lease in the store ran out: a crash, a
//! kill, a pause, a lost replica) is marked interrupted, with an outcome row, on whichever
//! process sweeps; an end that was recorded but not audited is audited. Never re-runs anything.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::watch;

use super::request::ActionState;
use super::submit::Pipeline;
use crate::audit::{Actor, Entry, Event};

impl Pipeline {
    /// Marks actions whose Onwatch is gone (lease expired) as interrupted, with an outcome row,
    /// unless their outcome was audited and only the ledger missed it; and audits the end of
    /// actions whose process recorded it but stopped before its outcome row. Each end is
    /// claimed by a conditional update first, so of a sweeper and a process that wakes up from
    /// a pause, exactly one writes the outcome. Never re-runs anything.
    pub async fn settle_orphans(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.store().now_ms().await?;
        let cutoff = now - self.options().lease.as_millis() as i64;
        let orphans = self.ledger().orphaned(cutoff).await?;
        let mut n = 0;
        for o in orphans {
            let rows = self.audit().of_action(&o.id).await?;
            if let Some(out) = rows
                .iter()
                .find(|r| r.event() == Some(Event::ActionOutcome))
            {
                let state = ActionState::parse(&out.outcome).unwrap_or(ActionState::Failed);
                self.ledger()
                    .end_expired(&o.id, cutoff, state, &o.summary, &o.output)
                    .await?;
                continue;
            }
            let why = "interrupted: Onwatch stopped while this ran (a crash, a kill, a pause or a lost replica); it was not re-run. Check the service and act again if needed.";
            if self
                .ledger()
                .end_expired(&o.id, cutoff, ActionState::Interrupted, why, &o.output)
                .await?
                .is_none()
            {
                continue; // renewed or ended meanwhile: its process is alive
            }
            self.audit()
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
            .ledger()
            .ended_unaudited(now - 86_400_000, cutoff)
            .await?
        {
            self.audit()
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
                _ = tokio::time::sleep(self.options().lease) => {}
                _ = stopping => return,
            }
        }
    }
}

//! Cancelling a running change, through the store: the request is written into the change's
//! row (on whichever replica the person asked), and the process that runs it reads it there
//! when it renews its lease (at once when it is the same process), stops the procedure where it
//! stands and records the end as `cancelled`, fenced by its holder token like every end.
//!
//! The attempt is audited first (`action.cancel`), then exactly one outcome: `done` (the
//! request is in the row), `refused` with the guard (`role`, `action`: no such action, `state`:
//! it is not running, or a cancel was asked of it already), or `failed` when the store did not
//! answer ([`Error::Store`], never a refusal).

use serde_json::json;
use vocab::Role;

use super::ledger::{CancelAsk, CancelAsked};
use super::record::{record, Attempt, Done};
use super::submit::Pipeline;
use super::{Error, Refusal};
use crate::audit::{Actor, Event};

/// The longest action id kept in the audit row of a cancel (ids are 43 characters).
const ID_MAX: usize = 128;

impl Pipeline {
    /// Asks the running change `id` to stop: who may is who may start it (the responder role,
    /// as the `role` guard of [`super::guards::check`] says for every kind). Returns the
    /// request as stored; the change ends `cancelled` at its process's next renewal.
    pub async fn cancel(&self, actor: &Actor, role: Role, id: &str) -> Result<CancelAsk, Error> {
        let id = crate::text::cut(id.trim(), ID_MAX);
        let mut attempt =
            Attempt::new(Event::ActionCancel, id.clone(), "attempt").asked(json!({"action": id}));
        // Where the action is, so the audit log filtered by host or service finds its cancel
        // (a read, before the attempt: an unknown id is refused below, audited).
        if let Some(r) = self.ledger().get(&id).await? {
            attempt = attempt.on(&r.environment, &r.host, &r.service);
        }
        record(self.audit(), actor, attempt, || async {
            if !role.allows(Role::Responder) {
                return Err(Refusal::new(
                    "role",
                    format!(
                        "you have the {} role: cancelling an action needs the responder role, as starting one does; ask an admin",
                        role.as_str()
                    ),
                )
                .into());
            }
            match self.ledger().request_cancel(&id, actor).await? {
                CancelAsked::Unknown => Err(Refusal::new(
                    "action",
                    "Onwatch knows no action by that id: nothing was cancelled",
                )
                .into()),
                CancelAsked::Not(r) => Err(match (&r.cancel, r.state) {
                    (Some(c), super::ActionState::Running) => Refusal::new(
                        "state",
                        format!(
                            "{} already asked to cancel it; it is still running and stops at its next renewal",
                            c.by_name
                        ),
                    ),
                    (_, state) => Refusal::new(
                        "state",
                        format!(
                            "it is no longer running: it ended {}{}; nothing was cancelled",
                            state.as_str(),
                            r.cancel
                                .as_ref()
                                .map(|c| format!(" (a cancel was asked by {})", c.by_name))
                                .unwrap_or_default()
                        ),
                    ),
                }
                .into()),
                CancelAsked::Recorded(r) => {
                    // The process that runs it here reads its row now; one elsewhere at its
                    // next renewal.
                    self.wake(&r.id);
                    let asked = r.cancel.clone().ok_or_else(|| {
                        Error::Store(crate::store::StoreError::Corrupt(
                            "a cancel was written but does not read back".into(),
                        ))
                    })?;
                    Ok(Done::new(
                        asked,
                        json!({
                            "action": r.kind,
                            "requested_by": r.actor_name,
                            "note": "the cancel is in the action's row; the Onwatch that runs it stops it at its next renewal",
                        }),
                    ))
                }
            }
        })
        .await
    }
}

//! The `actions` and `action_locks` tables: what is running where, who asked, and how it ended.
//! Every time here is the store's clock (cooldowns and leases must not depend on which replica,
//! or which browser, looks).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::request::{ActionKind, ActionRequest, ActionState};
use crate::audit::Actor;
use crate::store::{Store, StoreError};

/// One action as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub id: String,
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub actor: String,
    pub actor_name: String,
    pub reason: String,
    pub state: ActionState,
    pub requested_ms: i64,
    pub finished_ms: Option<i64>,
    pub summary: String,
    pub output: String,
    /// A cancel asked of it while it ran, if any (on whichever replica).
    #[serde(default)]
    pub cancel: Option<CancelAsk>,
}

/// A cancel asked of a running action: who (the stable account and the name the pages show),
/// and when (store clock). Written once into the action's row; the process that runs the action
/// reads it when it renews its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAsk {
    pub by: String,
    pub by_name: String,
    pub at_ms: i64,
}

/// What a renewal of an action's lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// This process no longer holds the action (ended, or marked interrupted elsewhere).
    Lost,
    /// Still held, the lease renewed; with the cancel asked of it, if any.
    Held(Option<CancelAsk>),
}

/// What [`Ledger::request_cancel`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelAsked {
    /// Written into the running action's row.
    Recorded(ActionRecord),
    /// No action by that id.
    Unknown,
    /// Not written: the action is no longer running, or a cancel was asked of it before
    /// (the record as it is now).
    Not(ActionRecord),
}

/// An action as a summary lists it (a shift's handoff, an incident's timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTaken {
    pub id: String,
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    /// Who asked, by name.
    pub actor: String,
    pub state: String,
    pub summary: String,
    pub requested_ms: i64,
}

/// The actions asked for in `[from_ms, to_ms)`, oldest first.
pub async fn taken_between(
    store: &Store,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<ActionTaken>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, environment, host, service, actor_name, state, summary, requested_ms \
         FROM actions WHERE requested_ms >= $1 AND requested_ms < $2 ORDER BY requested_ms",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ActionTaken {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                environment: r.try_get(2)?,
                host: r.try_get(3)?,
                service: r.try_get(4)?,
                actor: r.try_get(5)?,
                state: r.try_get(6)?,
                summary: r.try_get(7)?,
                requested_ms: r.try_get(8)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::from)
}

impl ActionRecord {
    /// "restart of builder-api.live on api-1", "Supervisor restart on api-1".
    pub fn what(&self) -> String {
        match ActionKind::parse(&self.kind) {
            Some(ActionKind::RestartService) => {
                format!("restart of {} on {}", self.service, self.host)
            }
            Some(ActionKind::RestartSupervisor) => format!("Supervisor restart on {}", self.host),
            Some(ActionKind::RestartSentinel) => {
                format!("restart of the sentinel on {}", self.host)
            }
            Some(ActionKind::RequestBuild) => format!("build request of {}", self.service),
            Some(ActionKind::RemoveLockFiles) => {
                format!("lock-file removal on {}", self.host)
            }
            None => format!("action `{}` on {}", self.kind, self.host),
        }
    }
}

/// What [`Ledger::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Recorded as running, the host's lock taken.
    Started,
    /// The idempotency key was used before: that action, which this request must not repeat.
    Duplicate(ActionRecord),
    /// Another action holds the host.
    Locked(ActionRecord),
    /// An action on the same target ended within the cooldown (judged after the lock was
    /// taken, in the same transaction, so an action that ended a moment ago is seen).
    Cooling { last: ActionRecord, left_ms: i64 },
}

const COLUMNS: &str = "id, kind, environment, host, service, actor, actor_name, reason, state, \
                       requested_ms, finished_ms, summary, output, cancel_requested_by, \
                       cancel_requested_name, cancel_requested_ms";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The actions tables of the portal's store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ledger {
    store: Store,
}

impl Ledger {
    pub fn new(store: Store) -> Ledger {
        Ledger { store }
    }

    pub async fn get(&self, id: &str) -> Result<Option<ActionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM actions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(record).transpose()
    }

    /// The action this person asked for with this idempotency key (keys are per person).
    pub async fn by_key(&self, actor: &str, key: &str) -> Result<Option<ActionRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE actor = $1 AND idempotency_key = $2"
        ))
        .bind(actor)
        .bind(key)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// The newest actions anywhere, newest first.
    pub async fn latest(&self, limit: i64) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions ORDER BY requested_ms DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// The newest actions on a host (and, when given, one service of it), newest first.
    pub async fn recent(
        &self,
        environment: &str,
        host: &str,
        service: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE environment = $1 AND host = $2 \
             AND ($3 = '' OR service = $3) ORDER BY requested_ms DESC LIMIT $4"
        ))
        .bind(environment)
        .bind(host)
        .bind(service.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// The newest actions on a service group in an environment, on any host, newest first.
    pub async fn recent_for_service(
        &self,
        environment: Option<&str>,
        service: &str,
        limit: i64,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE ($1 = '' OR environment = $1) \
             AND (service = $2 OR service LIKE $3) ORDER BY requested_ms DESC LIMIT $4"
        ))
        .bind(environment.unwrap_or(""))
        .bind(service)
        .bind(format!("{service}.%"))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// When an action on this target last ended (for the cooldown): on the host, or for a build
    /// request (the depot), on the same package.
    pub async fn last_finished(
        &self,
        target: &super::request::Target,
    ) -> Result<Option<ActionRecord>, StoreError> {
        let service = if target.is_build() {
            target.service_group.as_str()
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE environment = $1 AND host = $2 \
             AND ($3 = '' OR service = $3) \
             AND finished_ms IS NOT NULL AND state <> 'refused' \
             ORDER BY finished_ms DESC LIMIT 1"
        ))
        .bind(&target.environment)
        .bind(&target.host)
        .bind(service)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Records the action as running under `holder` (this process) and takes its target's lock,
    /// then judges the cooldown, all in one transaction: both or neither. The lock is taken
    /// before the cooldown is read, so an action that ends while this waits for its lock is
    /// seen ended here. A lock left by an action that is no longer running (its end could not
    /// be written) is freed on the way, by that action's id only.
    pub async fn begin(
        &self,
        id: &str,
        actor: &Actor,
        request: &ActionRequest,
        cooldown_ms: i64,
        holder: &str,
    ) -> Result<Begun, StoreError> {
        let lock_key = request.target.lock_key();
        for _ in 0..2 {
            let mut tx = self.store.begin_write().await?;
            let now: i64 = sqlx::query(self.store.clock_sql())
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            let inserted = sqlx::query(
                "INSERT INTO actions (id, idempotency_key, kind, environment, host, service, \
                 actor, actor_name, reason, state, requested_ms, lease_ms, summary, output, holder) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'running', $10, $10, '', '', $11)",
            )
            .bind(id)
            .bind(&request.idempotency_key)
            .bind(request.kind.as_str())
            .bind(&request.target.environment)
            .bind(&request.target.host)
            .bind(&request.target.service_group)
            .bind(&actor.id)
            .bind(&actor.name)
            .bind(request.reason.trim())
            .bind(now)
            .bind(holder)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    drop(tx);
                    return match self.by_key(&actor.id, &request.idempotency_key).await? {
                        Some(rec) => Ok(Begun::Duplicate(rec)),
                        None => Err(StoreError::Query(e)),
                    };
                }
                Err(e) => return Err(e.into()),
            }
            let locked = sqlx::query(
                "INSERT INTO action_locks (target, action_id, taken_ms) VALUES ($1, $2, $3)",
            )
            .bind(&lock_key)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await;
            match locked {
                Ok(_) => {
                    // Read with a fresh clock: the insert may have waited for another
                    // transaction that held the lock and has just ended its action.
                    let now: i64 = sqlx::query(self.store.clock_sql())
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                    if let Some(last) = self
                        .ended_since(&mut tx, &request.target, now - cooldown_ms)
                        .await?
                    {
                        drop(tx);
                        let ended = last.finished_ms.unwrap_or(last.requested_ms);
                        return Ok(Begun::Cooling {
                            left_ms: (ended + cooldown_ms - now).max(1),
                            last,
                        });
                    }
                    tx.commit().await?;
                    return Ok(Begun::Started);
                }
                Err(e) if is_unique_violation(&e) => {
                    drop(tx);
                    let Some((holder_id, holder)) = self.lock_holder(&lock_key).await? else {
                        continue; // freed meanwhile: try again
                    };
                    match holder {
                        Some(h) if h.state == ActionState::Running => return Ok(Begun::Locked(h)),
                        _ => {
                            // A stale lock: free it, only if the same action still holds it,
                            // and try once more.
                            sqlx::query(
                                "DELETE FROM action_locks WHERE target = $1 AND action_id = $2",
                            )
                            .bind(&lock_key)
                            .bind(&holder_id)
                            .execute(self.store.pool())
                            .await?;
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Corrupt(
            "the host's lock could not be taken or freed".into(),
        ))
    }

    /// The newest action on the same target (the host, or for a build the package) that ended
    /// after `since_ms`, not counting refusals.
    async fn ended_since(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        target: &super::request::Target,
        since_ms: i64,
    ) -> Result<Option<ActionRecord>, StoreError> {
        let service = if target.is_build() {
            target.service_group.as_str()
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE environment = $1 AND host = $2 \
             AND ($3 = '' OR service = $3) \
             AND finished_ms IS NOT NULL AND finished_ms > $4 AND state <> 'refused' \
             ORDER BY finished_ms DESC LIMIT 1"
        ))
        .bind(&target.environment)
        .bind(&target.host)
        .bind(service)
        .bind(since_ms)
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// Which action holds a lock: its id, and its record if it exists.
    async fn lock_holder(
        &self,
        target: &str,
    ) -> Result<Option<(String, Option<ActionRecord>)>, StoreError> {
        let Some(row) = sqlx::query("SELECT action_id FROM action_locks WHERE target = $1")
            .bind(target)
            .fetch_optional(self.store.pool())
            .await?
        else {
            return Ok(None);
        };
        let holder: String = row.try_get(0)?;
        Ok(Some((holder.clone(), self.get(&holder).await?)))
    }

    /// Renews a running action's lease, if `holder` still holds it: `false` means this
    /// process has lost the action (it was marked interrupted while this process was paused or
    /// cut off) and must send no further command.
    pub async fn renew(&self, id: &str, holder: &str) -> Result<bool, StoreError> {
        Ok(matches!(self.hold(id, holder, None).await?, Hold::Held(_)))
    }

    /// [`Ledger::renew`], keeping the output so far in the row as well: another process (a
    /// replica, or this one after a restart) shows a running action from here.
    pub async fn renew_with_output(
        &self,
        id: &str,
        holder: &str,
        output: &str,
    ) -> Result<bool, StoreError> {
        Ok(matches!(
            self.hold(id, holder, Some(output)).await?,
            Hold::Held(_)
        ))
    }

    /// Renews the lease if `holder` still holds the action (and keeps `output` in the row when
    /// given), reading in the same statement whether a cancel was asked of it, by any replica.
    pub async fn hold(
        &self,
        id: &str,
        holder: &str,
        output: Option<&str>,
    ) -> Result<Hold, StoreError> {
        let now = self.store.now_ms().await?;
        const RETURNING: &str =
            "RETURNING cancel_requested_by, cancel_requested_name, cancel_requested_ms";
        let row = match output {
            Some(output) => {
                sqlx::query(&format!(
                    "UPDATE actions SET lease_ms = $1, output = $2 \
                     WHERE id = $3 AND state = 'running' AND holder = $4 {RETURNING}"
                ))
                .bind(now)
                .bind(output)
                .bind(id)
                .bind(holder)
                .fetch_optional(self.store.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "UPDATE actions SET lease_ms = $1 \
                     WHERE id = $2 AND state = 'running' AND holder = $3 {RETURNING}"
                ))
                .bind(now)
                .bind(id)
                .bind(holder)
                .fetch_optional(self.store.pool())
                .await?
            }
        };
        match row {
            None => Ok(Hold::Lost),
            Some(r) => Ok(Hold::Held(cancel_of(&r)?)),
        }
    }

    /// Writes a cancel request into a running action's row, once: only while it runs and no
    /// cancel was asked of it before (one conditional update, so of two replicas asking at
    /// once exactly one records it). Any process may write it; the one that holds the action
    /// reads it at its next renewal.
    pub async fn request_cancel(&self, id: &str, actor: &Actor) -> Result<CancelAsked, StoreError> {
        let now = self.store.now_ms().await?;
        let done = sqlx::query(
            "UPDATE actions SET cancel_requested_by = $1, cancel_requested_name = $2, \
             cancel_requested_ms = $3 \
             WHERE id = $4 AND state = 'running' AND cancel_requested_by IS NULL",
        )
        .bind(&actor.id)
        .bind(&actor.name)
        .bind(now)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        let now = self.get(id).await?;
        Ok(match now {
            None => CancelAsked::Unknown,
            Some(r) if done.rows_affected() == 1 => CancelAsked::Recorded(r),
            Some(r) => CancelAsked::Not(r),
        })
    }

    /// Records how the action ended and frees whatever lock it took, if `holder` still holds
    /// it. `None`: it does not (another process marked it interrupted); nothing was written.
    /// Otherwise the end time (store clock).
    pub async fn finish(
        &self,
        id: &str,
        holder: &str,
        state: ActionState,
        summary: &str,
        output: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.end_if(id, EndIf::HeldBy(holder), state, summary, output)
            .await
    }

    /// Ends an action whose lease ran out before `lease_cutoff_ms` (its process is gone or
    /// paused): `None` when it was renewed or ended meanwhile. Used by the sweeper only.
    pub async fn end_expired(
        &self,
        id: &str,
        lease_cutoff_ms: i64,
        state: ActionState,
        summary: &str,
        output: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.end_if(
            id,
            EndIf::LeaseBefore(lease_cutoff_ms),
            state,
            summary,
            output,
        )
        .await
    }

    async fn end_if(
        &self,
        id: &str,
        condition: EndIf<'_>,
        state: ActionState,
        summary: &str,
        output: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let now: i64 = sqlx::query(self.store.clock_sql())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let sql = |condition: &str| {
            format!(
                "UPDATE actions SET state = $1, finished_ms = $2, summary = $3, output = $4 \
                 WHERE id = $5 AND state = 'running' AND {condition}"
            )
        };
        let (holder_sql, lease_sql) = (sql("holder = $6"), sql("lease_ms < $6"));
        let query = match condition {
            EndIf::HeldBy(_) => sqlx::query(&holder_sql),
            EndIf::LeaseBefore(_) => sqlx::query(&lease_sql),
        }
        .bind(state.as_str())
        .bind(now)
        .bind(summary)
        .bind(output)
        .bind(id);
        let query = match condition {
            EndIf::HeldBy(h) => query.bind(h),
            EndIf::LeaseBefore(cutoff) => query.bind(cutoff),
        };
        let ended = query.execute(&mut *tx).await?;
        if ended.rows_affected() != 1 {
            return Ok(None);
        }
        // Whatever key the action took (a host, or a build's package), by its holder's id.
        sqlx::query("DELETE FROM action_locks WHERE action_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(now))
    }

    /// Actions that ended recently (after `since_ms`) but have no outcome row in the audit log:
    /// their process stopped between recording the end and auditing it. The sweeper audits them.
    pub async fn ended_unaudited(
        &self,
        since_ms: i64,
        before_ms: i64,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions a WHERE state IN ('succeeded', 'failed', 'interrupted', 'cancelled') \
             AND finished_ms > $1 AND finished_ms < $2 AND NOT EXISTS \
             (SELECT 1 FROM audit_log l WHERE l.action_id = a.id AND l.kind = $3)"
        ))
        .bind(since_ms)
        .bind(before_ms)
        .bind(crate::audit::Event::ActionOutcome.as_str())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// Marks an action refused (its intent could not be audited), whoever holds it.
    pub async fn refuse(&self, id: &str, holder: &str, why: &str) -> Result<(), StoreError> {
        self.finish(id, holder, ActionState::Refused, why, "")
            .await?;
        Ok(())
    }

    /// Running actions whose lease was last renewed before `cutoff_ms`: their Onwatch is gone
    /// (or paused).
    pub async fn orphaned(&self, cutoff_ms: i64) -> Result<Vec<ActionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM actions WHERE state = 'running' AND lease_ms < $1"
        ))
        .bind(cutoff_ms)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(record).collect()
    }
}

/// Which process may end an action: the one that holds it, or (the sweeper) any, once its
/// lease has run out.
#[derive(Clone, Copy)]
enum EndIf<'a> {
    HeldBy(&'a str),
    LeaseBefore(i64),
}

fn record(r: &sqlx::any::AnyRow) -> Result<ActionRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(ActionRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        environment: r.try_get("environment")?,
        host: r.try_get("host")?,
        service: r.try_get("service")?,
        actor: r.try_get("actor")?,
        actor_name: r.try_get("actor_name")?,
        reason: r.try_get("reason")?,
        state: ActionState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown action state `{state}`")))?,
        requested_ms: r.try_get("requested_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        summary: r.try_get("summary")?,
        output: r.try_get("output")?,
        cancel: cancel_of(r)?,
    })
}

/// The cancel asked of an action, from its row's `cancel_requested_*` columns.
fn cancel_of(r: &sqlx::any::AnyRow) -> Result<Option<CancelAsk>, StoreError> {
    let by: Option<String> = r.try_get("cancel_requested_by")?;
    let Some(by) = by else {
        return Ok(None);
    };
    let by_name: Option<String> = r.try_get("cancel_requested_name")?;
    let at_ms: Option<i64> = r.try_get("cancel_requested_ms")?;
    Ok(Some(CancelAsk {
        by_name: by_name.unwrap_or_else(|| by.clone()),
        by,
        at_ms: at_ms.unwrap_or(0),
    }))
}

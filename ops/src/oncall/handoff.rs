//! The handoff summary at each shift boundary, for the outgoing and the incoming engineers:
//! generated from Onwatch's own records (the actions table, the service history, the fleet as it
//! is), kept when the shift ends, annotated by the outgoing engineer and acknowledged by the
//! incoming one.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::accounts::{self, Who};
use crate::change::ledger::ActionTaken;
use crate::change::{self, Error, Refusal};
use crate::store::{Store, StoreError};

/// A service (or Supervisor) that went bad during the shift, and whether it came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmLine {
    pub environment: String,
    pub host: String,
    /// `''` for the Supervisor itself.
    pub service: String,
    pub state: String,
    pub detail: String,
    pub at_ms: i64,
    /// When it was next seen healthy (up to when the summary was written), if it was.
    pub cleared_ms: Option<i64>,
    /// No healthy transition was recorded, but the fleet showed it healthy when the summary was
    /// written (the same fleet "still unhealthy" is read from): it is not "not cleared".
    #[serde(default)]
    pub healthy_at_handoff: bool,
}

/// A target restarted more than once in the shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeated {
    pub environment: String,
    pub host: String,
    pub service: String,
    pub count: i64,
}

/// What is still wrong when the summary is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unhealthy {
    pub environment: String,
    pub host: String,
    pub service: String,
    pub state: String,
}

/// An incident open during the shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentLine {
    pub id: String,
    pub title: String,
    pub status: String,
    /// `""`: nobody in charge.
    pub owner: String,
    pub resolved_ms: Option<i64>,
}

/// A rule broken whose cleanup is still open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupLine {
    pub id: String,
    pub rule: String,
    pub what_done: String,
    pub owner: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub actions: Vec<ActionTaken>,
    pub alarms: Vec<AlarmLine>,
    pub repeated_restarts: Vec<Repeated>,
    pub unhealthy_now: Vec<Unhealthy>,
    /// (Summaries kept before incidents existed read without these.)
    #[serde(default)]
    pub incidents: Vec<IncidentLine>,
    #[serde(default)]
    pub open_cleanups: Vec<CleanupLine>,
}

/// A kept handoff: the shift, its people, the summary, the note and the acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub shift_index: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    /// The outgoing primary and secondary, as logins: `ana,bo`.
    pub outgoing: String,
    /// The incoming primary and secondary: `bo,cy`.
    pub incoming: String,
    pub summary: Summary,
    pub generated_ms: i64,
    pub note: String,
    pub note_by: Option<String>,
    /// The note writer's account (`github:1234`).
    #[serde(default)]
    pub note_by_id: Option<String>,
    pub note_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub acknowledged_by_id: Option<String>,
    pub acknowledged_ms: Option<i64>,
}

const BAD: &str = "('critical', 'down', 'unreachable', 'stale')";
const RESTARTS: &str = "('restart_service', 'restart_supervisor', 'restart_sentinel')";

/// The summary of `[start_ms, end_ms)` from the store; `unhealthy_now` from the fleet as it is.
pub async fn summarize(
    store: &Store,
    start_ms: i64,
    end_ms: i64,
    unhealthy_now: Vec<Unhealthy>,
) -> Result<Summary, StoreError> {
    let actions = crate::change::ledger::taken_between(store, start_ms, end_ms).await?;

    let rows = sqlx::query(&format!(
        "SELECT environment, host, service, COUNT(*) FROM actions \
         WHERE requested_ms >= $1 AND requested_ms < $2 AND kind IN {RESTARTS} \
         AND state <> 'refused' GROUP BY environment, host, service HAVING COUNT(*) > 1 \
         ORDER BY COUNT(*) DESC, environment, host, service"
    ))
    .bind(start_ms)
    .bind(end_ms)
    .fetch_all(store.pool())
    .await?;
    let repeated_restarts = rows
        .iter()
        .map(|r| {
            Ok(Repeated {
                environment: r.try_get(0)?,
                host: r.try_get(1)?,
                service: r.try_get(2)?,
                count: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;

    // Each transition into a bad state during the shift, with the first healthy transition of
    // the same subject after it (at any time until now).
    let rows = sqlx::query(&format!(
        "SELECT t.environment, t.host, t.service, t.to_state, t.detail, t.at_ms, \
         (SELECT MIN(h.at_ms) FROM service_transitions h WHERE h.environment = t.environment \
          AND h.host = t.host AND h.service = t.service AND h.to_state = 'healthy' \
          AND h.at_ms > t.at_ms) \
         FROM service_transitions t WHERE t.at_ms >= $1 AND t.at_ms < $2 \
         AND t.to_state IN {BAD} ORDER BY t.at_ms LIMIT 500"
    ))
    .bind(start_ms)
    .bind(end_ms)
    .fetch_all(store.pool())
    .await?;
    let alarms = rows
        .iter()
        .map(|r| {
            Ok(AlarmLine {
                environment: r.try_get(0)?,
                host: r.try_get(1)?,
                service: r.try_get(2)?,
                state: r.try_get(3)?,
                detail: r.try_get(4)?,
                at_ms: r.try_get(5)?,
                cleared_ms: r.try_get(6)?,
                healthy_at_handoff: false,
            })
        })
        .collect::<Result<Vec<AlarmLine>, sqlx::Error>>()?;
    // One source of truth for what is still wrong: the fleet as it is now. An alarm of a
    // Supervisor or service that is not in `unhealthy_now` is over, whatever the history kept.
    let alarms: Vec<AlarmLine> = alarms
        .into_iter()
        .map(|mut a| {
            let still = unhealthy_now.iter().any(|u| {
                u.environment == a.environment && u.host == a.host && u.service == a.service
            });
            a.healthy_at_handoff = a.cleared_ms.is_none() && !a.host.is_empty() && !still;
            a
        })
        .collect();
    let incidents = crate::incidents::Incidents::new(store.clone(), Default::default());
    let open_incidents = incidents
        .during(start_ms, end_ms)
        .await?
        .into_iter()
        .map(|i| IncidentLine {
            id: i.id,
            title: i.title,
            status: i.status.as_str().into(),
            owner: i.owner,
            resolved_ms: i.resolved_ms,
        })
        .collect();
    let open_cleanups = incidents
        .rules(None, None)
        .await?
        .into_iter()
        .filter(|r| r.done_ms.is_none())
        .map(|r| CleanupLine {
            id: r.id,
            rule: r.rule,
            what_done: r.what_done,
            owner: r.owner,
            created_ms: r.created_ms,
        })
        .collect();
    Ok(Summary {
        actions,
        alarms,
        repeated_restarts,
        unhealthy_now,
        incidents: open_incidents,
        open_cleanups,
    })
}

#[derive(Debug, Clone)]
pub struct Handoffs {
    store: Store,
}

const COLUMNS: &str = "shift_index, start_ms, end_ms, outgoing, incoming, summary, generated_ms, \
                       note, note_by, note_ms, acknowledged_by, acknowledged_ms, note_by_id, \
                       acknowledged_by_id";

impl Handoffs {
    pub fn new(store: Store) -> Handoffs {
        Handoffs { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Keeps a handoff unless one is kept for that shift already (a second replica, or a
    /// restart, writes nothing twice).
    pub async fn keep(&self, h: &Handoff) -> Result<bool, StoreError> {
        let summary = serde_json::to_string(&h.summary)
            .map_err(|e| StoreError::Corrupt(format!("a handoff cannot be written: {e}")))?;
        let exists = sqlx::query("SELECT 1 FROM oncall_handoffs WHERE shift_index = $1")
            .bind(h.shift_index)
            .fetch_optional(self.store.pool())
            .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let done = sqlx::query(
            "INSERT INTO oncall_handoffs (shift_index, start_ms, end_ms, outgoing, incoming, \
             summary, generated_ms, note) VALUES ($1, $2, $3, $4, $5, $6, $7, '') \
             ON CONFLICT (shift_index) DO NOTHING",
        )
        .bind(h.shift_index)
        .bind(h.start_ms)
        .bind(h.end_ms)
        .bind(&h.outgoing)
        .bind(&h.incoming)
        .bind(summary)
        .bind(h.generated_ms)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The latest kept handoffs, newest first.
    pub async fn latest(&self, limit: i64) -> Result<Vec<Handoff>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM oncall_handoffs ORDER BY shift_index DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn get(&self, shift_index: i64) -> Result<Option<Handoff>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM oncall_handoffs WHERE shift_index = $1"
        ))
        .bind(shift_index)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The outgoing engineer's note; refused once the incoming one has acknowledged. `by` must
    /// be the account that goes by one of the `outgoing` logins.
    pub async fn annotate(
        &self,
        shift_index: i64,
        outgoing: &[String],
        by: &Who,
        note: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        let theirs = accounts::is_one_of(&self.store, by, outgoing).await?;
        if !theirs {
            return Err(Error::refused(
                "outgoing",
                format!(
                    "Only the outgoing engineers ({}) write this handoff's note.",
                    outgoing.join(", ")
                ),
            ));
        }
        if note.chars().count() > 5000 {
            return Err(Error::refused(
                "note",
                "The note is longer than 5,000 characters.",
            ));
        }
        change::one(
            &self.store,
            sqlx::query(
                "UPDATE oncall_handoffs SET note = $1, note_by = $2, note_ms = $3, \
                     note_by_id = $4 WHERE shift_index = $5 AND acknowledged_ms IS NULL",
            )
            .bind(note.trim())
            .bind(&by.login)
            .bind(now_ms)
            .bind(&by.account)
            .bind(shift_index),
            || {
                Refusal::new(
                    "acknowledged",
                    "This handoff is acknowledged already (or does not exist): its note is final.",
                )
            },
        )
        .await
    }

    /// The incoming engineer's acknowledgement: `by` must be the account that goes by one of
    /// the `incoming` logins.
    pub async fn acknowledge(
        &self,
        shift_index: i64,
        incoming: &[String],
        by: &Who,
        now_ms: i64,
    ) -> Result<(), Error> {
        let theirs = accounts::is_one_of(&self.store, by, incoming).await?;
        if !theirs {
            return Err(Error::refused(
                "incoming",
                format!(
                    "Only the incoming engineers ({}) acknowledge this handoff.",
                    incoming.join(", ")
                ),
            ));
        }
        change::one(
            &self.store,
            sqlx::query(
                "UPDATE oncall_handoffs SET acknowledged_by = $1, acknowledged_ms = $2, \
                     acknowledged_by_id = $3 WHERE shift_index = $4 AND acknowledged_ms IS NULL",
            )
            .bind(&by.login)
            .bind(now_ms)
            .bind(&by.account)
            .bind(shift_index),
            || Refusal::new("acknowledged", "This handoff is acknowledged already."),
        )
        .await
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Handoff, StoreError> {
    let summary: String = r.try_get(5)?;
    Ok(Handoff {
        shift_index: r.try_get(0)?,
        start_ms: r.try_get(1)?,
        end_ms: r.try_get(2)?,
        outgoing: r.try_get(3)?,
        incoming: r.try_get(4)?,
        summary: serde_json::from_str(&summary)
            .map_err(|e| StoreError::Corrupt(format!("a kept handoff does not read: {e}")))?,
        generated_ms: r.try_get(6)?,
        note: r.try_get(7)?,
        note_by: r.try_get(8)?,
        note_ms: r.try_get(9)?,
        acknowledged_by: r.try_get(10)?,
        acknowledged_ms: r.try_get(11)?,
        note_by_id: r.try_get(12)?,
        acknowledged_by_id: r.try_get(13)?,
    })
}

/// What the fleet shows as still wrong: every Supervisor and service that is not healthy (a
/// stopped instance is not a fault; a stale one is not known to be healthy, so it is listed).
pub fn unhealthy(snapshot: &crate::fleet::FleetSnapshot) -> Vec<Unhealthy> {
    use vocab::CellState;
    let bad = |c: CellState| !matches!(c, CellState::Healthy | CellState::Stopped);
    let mut out = Vec::new();
    for env in &snapshot.environments {
        for h in &env.hosts {
            if bad(h.cell) {
                out.push(Unhealthy {
                    environment: env.name.clone(),
                    host: h.host.name.clone(),
                    service: String::new(),
                    state: h.cell.as_str().into(),
                });
            }
            for s in &h.services {
                if bad(s.cell) {
                    out.push(Unhealthy {
                        environment: env.name.clone(),
                        host: h.host.name.clone(),
                        service: s.service_group.clone(),
                        state: s.cell.as_str().into(),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oncall::accounts::tests::{sign_in, stores};

    /// A kept handoff of shift `index` (ana and bo hand over to bo and cy), empty otherwise.
    pub(crate) fn kept(index: i64) -> Handoff {
        Handoff {
            shift_index: index,
            start_ms: 0,
            end_ms: 1_000,
            outgoing: "ana,bo".into(),
            incoming: "bo,cy".into(),
            summary: Summary {
                actions: Vec::new(),
                alarms: Vec::new(),
                repeated_restarts: Vec::new(),
                unhealthy_now: Vec::new(),
                incidents: Vec::new(),
                open_cleanups: Vec::new(),
            },
            generated_ms: 1_000,
            note: String::new(),
            note_by: None,
            note_by_id: None,
            note_ms: None,
            acknowledged_by: None,
            acknowledged_by_id: None,
            acknowledged_ms: None,
        }
    }

    /// A Supervisor that went unreachable in the shift and answers again when the handoff is
    /// written is not "NOT cleared" next to "still unhealthy: nothing", even when its recovery
    /// left no healthy transition; one that is still down stays not cleared.
    #[tokio::test]
    async fn an_alarm_is_cleared_when_the_fleet_shows_it_healthy_at_the_handoff() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            sqlx::query(
                "INSERT INTO service_transitions (environment, host, service, from_state, to_state, detail, at_ms) \
                 VALUES ('live', 'builder-jobsrv-live-1', '', 'healthy', 'unreachable', 'connection refused', 1000)",
            )
            .execute(store.pool())
            .await
            .unwrap();
            let s = summarize(&store, 0, 10_000, Vec::new()).await.unwrap();
            assert_eq!(s.alarms.len(), 1);
            assert_eq!(s.alarms[0].cleared_ms, None);
            assert!(s.alarms[0].healthy_at_handoff, "{:?}", s.alarms[0]);
            let still = vec![Unhealthy {
                environment: "live".into(),
                host: "builder-jobsrv-live-1".into(),
                service: String::new(),
                state: "unreachable".into(),
            }];
            let s = summarize(&store, 0, 10_000, still).await.unwrap();
            assert!(!s.alarms[0].healthy_at_handoff, "{:?}", s.alarms[0]);
        }
    }

    #[tokio::test]
    async fn only_the_accounts_of_the_shifts_people_note_and_acknowledge() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let h = Handoffs::new(store.clone());
            assert!(h.keep(&kept(5)).await.unwrap());
            let ana = sign_in(&store, "github", "1", "ana").await;
            let cy = sign_in(&store, "github", "3", "cy").await;
            let other_ana = sign_in(&store, "oidc", "s-ana", "ana").await;
            let other_cy = sign_in(&store, "oidc", "s-cy", "CY").await;
            let out = ["ana".to_owned(), "bo".to_owned()];
            let inc = ["bo".to_owned(), "cy".to_owned()];
            let e = h
                .annotate(5, &out, &other_ana, "x", 2_000)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("Only the outgoing"), "{e}");
            h.annotate(5, &out, &ana, "watch the api", 2_000)
                .await
                .unwrap();
            let e = h.acknowledge(5, &inc, &other_cy, 3_000).await.unwrap_err();
            assert!(e.to_string().contains("Only the incoming"), "{e}");
            h.acknowledge(5, &inc, &cy, 3_000).await.unwrap();
            let back = h.get(5).await.unwrap().unwrap();
            assert_eq!(back.note_by_id.as_deref(), Some("github:1"));
            assert_eq!(back.acknowledged_by_id.as_deref(), Some("github:3"));
        }
    }
}

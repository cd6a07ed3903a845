//! A recorded change: a change to the team's own records (an override asked or answered, a
//! handoff's note or acknowledgement, a checklist tick, an incident's update, its owner, a
//! directory entry) made one way everywhere.
//!
//! 1. The attempt row is appended to the audit log. If it cannot be, the change does not run
//!    ([`Error::Store`]): nothing may change that the log cannot hold.
//! 2. The change runs: its rules first, then its write.
//! 3. Exactly one outcome row follows: the change's own label (`done`, or `requested`,
//!    `declared`, … where the log has always said so) with its detail, or `refused` with the
//!    [`Refusal`]'s guard and why, or `failed` when the store did not answer in the middle.
//!    The outcome row is retried a few times; if it still cannot be written the change stands
//!    (the attempt row says it was tried) and the missing row is logged loudly, never dropped
//!    in silence.

use std::future::Future;
use std::time::Duration;

use serde_json::{json, Value};

use super::{Error, Refusal};
use crate::audit::{Actor, AuditLog, Entry, Event};

/// The outcome label of a change that went through, unless it says another.
pub const DONE: &str = "done";
/// The outcome label of a change a rule refused.
pub const REFUSED: &str = "refused";
/// The outcome label of a change the store failed in the middle of (nothing was written: the
/// change's own write is one transaction).
pub const FAILED: &str = "failed";

/// How many times an outcome row is tried before it is given up on (and logged as missing).
const OUTCOME_TRIES: u32 = 4;

/// The attempt, as its row says it: its kind, what it is about (`action_id`: an override's id,
/// a shift's number, an incident's id, or empty), its label (`note:attempt`, `ticked`, …:
/// what the log has always called it) and what was asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub event: Event,
    pub target: String,
    /// Where the change is, when it is about a place of the fleet (a cancel of an action on a
    /// host): both rows carry it, so the audit log filtered by host finds them.
    pub place: Option<(String, String, String)>,
    pub label: String,
    pub detail: Value,
}

impl Attempt {
    /// An attempt of `event` about `target`, labelled `label`, with nothing asked yet.
    pub fn new(event: Event, target: impl Into<String>, label: impl Into<String>) -> Attempt {
        Attempt {
            event,
            target: target.into(),
            place: None,
            label: label.into(),
            detail: json!({}),
        }
    }

    /// The change is about `service` on `host` in `environment`.
    pub fn on(mut self, environment: &str, host: &str, service: &str) -> Attempt {
        self.place = Some((environment.into(), host.into(), service.into()));
        self
    }

    /// What was asked (the form's fields), as the attempt row keeps them.
    pub fn asked(mut self, detail: Value) -> Attempt {
        self.detail = detail;
        self
    }
}

/// What a change that went through hands back: its value, and what its outcome row says.
#[derive(Debug, Clone, PartialEq)]
pub struct Done<T> {
    pub value: T,
    /// The outcome row's label ([`DONE`] unless the change says another).
    pub outcome: String,
    /// What the outcome row is about, when the change made it (an override's new id);
    /// `None`: the attempt's target.
    pub target: Option<String>,
    pub detail: Value,
}

impl<T> Done<T> {
    /// `value`, its outcome row `done` with `detail`.
    pub fn new(value: T, detail: Value) -> Done<T> {
        Done {
            value,
            outcome: DONE.to_owned(),
            target: None,
            detail,
        }
    }

    /// The outcome row says `outcome` instead of `done`.
    pub fn labelled(mut self, outcome: impl Into<String>) -> Done<T> {
        self.outcome = outcome.into();
        self
    }

    /// The outcome row is about `target` (made by the change) rather than the attempt's.
    pub fn about(mut self, target: impl Into<String>) -> Done<T> {
        self.target = Some(target.into());
        self
    }
}

/// Makes a recorded change: `attempt` appended first (or nothing runs), then `change`, then
/// exactly one outcome row. Returns the change's value, or why it did not happen.
pub async fn record<T, F, Fut>(
    log: &AuditLog,
    actor: &Actor,
    attempt: Attempt,
    change: F,
) -> Result<T, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Done<T>, Error>>,
{
    let (environment, host, service) = attempt.place.clone().unwrap_or_default();
    let first = Entry {
        environment: environment.clone(),
        host: host.clone(),
        service: service.clone(),
        action_id: attempt.target.clone(),
        outcome: attempt.label.clone(),
        detail: attempt.detail,
        ..Entry::new(attempt.event)
    };
    if let Err(e) = log.append(actor, &first).await {
        tracing::error!(kind = %attempt.event, label = %attempt.label, error = %e,
            "the attempt row could not be written, so the change was not made");
        return Err(Error::Store(e));
    }
    let result = change().await;
    let (target, outcome, detail) = match &result {
        Ok(d) => (
            d.target.clone().unwrap_or_else(|| attempt.target.clone()),
            d.outcome.clone(),
            d.detail.clone(),
        ),
        Err(Error::Refused(r)) => (attempt.target.clone(), REFUSED.to_owned(), refused(r)),
        Err(Error::Store(e)) => (
            attempt.target.clone(),
            FAILED.to_owned(),
            json!({ "error": e.to_string() }),
        ),
    };
    let last = Entry {
        environment,
        host,
        service,
        action_id: target,
        outcome,
        detail,
        ..Entry::new(attempt.event)
    };
    outcome_row(log, actor, &last).await;
    result.map(|d| d.value)
}

/// A refusal's detail: which guard, and why.
fn refused(r: &Refusal) -> Value {
    json!({ "guard": r.guard, "why": r.why })
}

/// Appends the outcome row, a few times if it must; logs it as missing if it never goes in.
async fn outcome_row(log: &AuditLog, actor: &Actor, entry: &Entry) {
    let mut wait = Duration::from_millis(25);
    for tried in 1..=OUTCOME_TRIES {
        match log.append(actor, entry).await {
            Ok(_) => return,
            Err(e) if tried == OUTCOME_TRIES => {
                tracing::error!(
                    kind = %entry.kind, action_id = %entry.action_id, outcome = %entry.outcome,
                    actor = %actor.id, tries = tried, error = %e,
                    "AUDIT OUTCOME MISSING: the change's outcome row could not be written (its attempt row is in the log)"
                );
            }
            Err(e) => {
                tracing::warn!(kind = %entry.kind, outcome = %entry.outcome, tried, error = %e,
                    "an outcome row could not be written yet; trying again");
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreOptions};
    use sqlx::Row;

    async fn sqlite() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/store/onwatch.db", dir.path().display());
        let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    fn ana() -> Actor {
        Actor {
            id: "github:1".into(),
            name: "ana".into(),
            role: "responder".into(),
        }
    }

    async fn rows(store: &Store) -> Vec<(String, String, String, Value)> {
        sqlx::query("SELECT kind, action_id, outcome, detail FROM audit_log ORDER BY seq")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get("kind"),
                    r.get("action_id"),
                    r.get("outcome"),
                    serde_json::from_str(&r.get::<String, _>("detail")).unwrap(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn the_attempt_comes_first_then_exactly_one_outcome() {
        let (store, _dir) = sqlite().await;
        let log = AuditLog::new(store.clone());
        let seen_before = std::sync::Arc::new(std::sync::Mutex::new(0usize));
        let seen = seen_before.clone();
        let s = store.clone();
        let v = record(
            &log,
            &ana(),
            Attempt::new(Event::OncallHandoff, "7", "note:attempt").asked(json!({"note": "x"})),
            || async move {
                // The attempt is in the log before the change runs.
                *seen.lock().unwrap() = rows(&s).await.len();
                Ok(Done::new(42, json!({"what": "note"})))
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 42);
        assert_eq!(*seen_before.lock().unwrap(), 1);
        let r = rows(&store).await;
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
            ("oncall.handoff", "7", "note:attempt")
        );
        assert_eq!(r[0].3, json!({"note": "x"}));
        assert_eq!((r[1].1.as_str(), r[1].2.as_str()), ("7", "done"));
        assert_eq!(r[1].3, json!({"what": "note"}));
    }

    #[tokio::test]
    async fn a_label_and_target_of_the_change_own_are_kept() {
        let (store, _dir) = sqlite().await;
        let log = AuditLog::new(store.clone());
        record(
            &log,
            &ana(),
            Attempt::new(Event::OncallOverride, "", "request:attempt"),
            || async { Ok(Done::new((), json!({})).labelled("requested").about("o1")) },
        )
        .await
        .unwrap();
        let r = rows(&store).await;
        assert_eq!(
            r.iter()
                .map(|r| (r.1.as_str(), r.2.as_str()))
                .collect::<Vec<_>>(),
            [("", "request:attempt"), ("o1", "requested")]
        );
    }

    #[tokio::test]
    async fn a_refusal_is_recorded_as_refused_with_its_guard() {
        let (store, _dir) = sqlite().await;
        let log = AuditLog::new(store.clone());
        let e = record(
            &log,
            &ana(),
            Attempt::new(Event::Incident, "i1", "note:attempt"),
            || async { Err::<Done<()>, _>(Error::refused("owner", "not yours")) },
        )
        .await
        .unwrap_err();
        assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("owner"));
        let r = rows(&store).await;
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[1].1.as_str(), r[1].2.as_str()), ("i1", "refused"));
        assert_eq!(r[1].3, json!({"guard": "owner", "why": "not yours"}));
        assert!(log.verify().await.unwrap().broken.is_none());
    }

    /// The audit log refuses every row: the change never runs, and the caller hears it is the
    /// store (not a refusal).
    #[tokio::test]
    async fn an_attempt_the_log_cannot_hold_changes_nothing() {
        let (store, _dir) = sqlite().await;
        sqlx::query(
            "CREATE TRIGGER no_rows BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'full'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let log = AuditLog::new(store.clone());
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r2 = ran.clone();
        let e = record(
            &log,
            &ana(),
            Attempt::new(Event::Onboarding, "", "ticked"),
            || async move {
                r2.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Done::new((), json!({})))
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::Store(_)), "{e:?}");
        assert_eq!(e.status(), 503);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        assert!(rows(&store).await.is_empty());
    }

    /// The log takes the attempt but not the outcome: the change stands (it happened), its
    /// value comes back, and the attempt row is there to say it was tried.
    #[tokio::test]
    async fn an_outcome_the_log_cannot_hold_does_not_undo_the_change() {
        let (store, _dir) = sqlite().await;
        sqlx::query(
            "CREATE TRIGGER no_outcomes BEFORE INSERT ON audit_log WHEN NEW.outcome = 'done' \
             BEGIN SELECT RAISE(ABORT, 'full'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let log = AuditLog::new(store.clone());
        let v = record(
            &log,
            &ana(),
            Attempt::new(Event::Incident, "i1", "note:attempt"),
            || async { Ok(Done::new("saved", json!({}))) },
        )
        .await
        .unwrap();
        assert_eq!(v, "saved");
        let r = rows(&store).await;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].2, "note:attempt");
    }

    #[tokio::test]
    async fn a_store_fault_in_the_middle_is_failed_not_refused() {
        let (store, _dir) = sqlite().await;
        let log = AuditLog::new(store.clone());
        let e = record(
            &log,
            &ana(),
            Attempt::new(Event::Incident, "i1", "note:attempt"),
            || async {
                Err::<Done<()>, _>(Error::Store(crate::store::StoreError::Corrupt("x".into())))
            },
        )
        .await
        .unwrap_err();
        assert!(e.refusal().is_none());
        let r = rows(&store).await;
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].2, "failed");
    }
}

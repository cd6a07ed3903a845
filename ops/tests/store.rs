//! The store's behaviour on both backends: every test runs once on SQLite and once on Postgres.

use std::time::Duration;

use ops::auth::sessions::{SessionMeta, SessionRow, SessionStore};
use ops::fleet::{History, Subject, Transition};
use ops::store::{Backend, Store, StoreError, StoreOptions};

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store/onwatch.db", dir.path().display());
    let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
    (store, dir)
}

async fn postgres_store() -> Store {
    let url = testkit::postgres_database().await.unwrap();
    Store::open(&url, &StoreOptions::default()).await.unwrap()
}

fn transition(subject: Subject, from: Option<&str>, to: &str, at_ms: i64) -> Transition {
    Transition::new(
        "live",
        subject,
        from,
        to,
        &format!("{to} at {at_ms}"),
        at_ms,
    )
}

fn svc(host: &str, service_group: &str) -> Subject {
    Subject::service(host, service_group)
}

async fn migrations_are_idempotent(store: Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn history_round_trip(store: Store) {
    let history = History::new(store);
    let batch = vec![
        transition(svc("api-1", "builder-api.live"), None, "up", 1_000),
        transition(
            svc("api-1", "builder-api.live"),
            Some("up"),
            "critical",
            2_000,
        ),
        transition(
            svc("api-1", "builder-api.live"),
            Some("critical"),
            "up",
            3_000,
        ),
        transition(Subject::supervisor("api-1"), None, "reachable", 1_000),
    ];
    history.record(&batch).await.unwrap();
    let rows = history
        .of("live", &svc("api-1", "builder-api.live"), 10)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|t| t.to_state.as_str()).collect::<Vec<_>>(),
        ["up", "critical", "up"],
        "newest first"
    );
    assert_eq!(rows[1].from_state.as_deref(), Some("up"));
    assert_eq!(rows[2].from_state, None);
    assert_eq!(rows[0], batch[2]);
    let limited = history
        .of("live", &svc("api-1", "builder-api.live"), 1)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);

    let last = history.last_states().await.unwrap();
    assert_eq!(last.len(), 2, "one row per subject: {last:?}");
    assert!(last
        .iter()
        .any(|t| t.subject == svc("api-1", "builder-api.live")
            && t.to_state == "up"
            && t.at_ms == 3_000));
    assert!(last
        .iter()
        .any(|t| t.subject == Subject::supervisor("api-1") && t.to_state == "reachable"));
}

async fn prune_keeps_the_newest_row_of_each_subject(store: Store) {
    let history = History::new(store);
    let batch = vec![
        transition(svc("a", "s.live"), None, "up", 100),
        transition(svc("a", "s.live"), Some("up"), "down", 200),
        transition(svc("a", "s.live"), Some("down"), "up", 300),
        transition(svc("b", "s.live"), None, "up", 50),
    ];
    history.record(&batch).await.unwrap();
    let removed = history.prune(1_000).await.unwrap();
    assert_eq!(removed, 2, "only a's two older rows go");
    let a = history.of("live", &svc("a", "s.live"), 10).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].at_ms, 300);
    let b = history.of("live", &svc("b", "s.live"), 10).await.unwrap();
    assert_eq!(b.len(), 1, "a long-stable service keeps its 'since'");
}

async fn empty_batch_is_a_no_op(store: Store) {
    let history = History::new(store);
    history.record(&[]).await.unwrap();
    assert!(history.last_states().await.unwrap().is_empty());
}

fn session(id: &str, expires_ms: i64, who: Option<&str>) -> SessionRow {
    SessionRow {
        id: id.into(),
        data: format!("{{\"n\":\"{id}\"}}"),
        expires_ms,
        meta: who.map(|login| SessionMeta {
            login: login.into(),
            name: format!("{login} Example"),
            provider: "github".into(),
            role: "responder".into(),
            signed_in_ms: 500,
            user_agent: Some("Firefox".into()),
            address: Some("10.0.0.1".into()),
        }),
    }
}

async fn sessions_round_trip_expire_and_revoke(store: Store) {
    let sessions = SessionStore::new(store, Duration::ZERO);
    let now = 10_000;
    // Create refuses to overwrite an existing id.
    assert!(sessions
        .create(&session("a", now + 1000, None), now)
        .await
        .unwrap());
    assert!(!sessions
        .create(&session("a", now + 5000, None), now)
        .await
        .unwrap());
    let (data, exp) = sessions.load("a", now).await.unwrap().unwrap();
    assert_eq!((data.as_str(), exp), ("{\"n\":\"a\"}", now + 1000));
    // Save updates data and expiry, and signs the session in for the admin list.
    sessions
        .save(&session("a", now + 9000, Some("alice")), now + 10)
        .await
        .unwrap();
    assert_eq!(
        sessions.load("a", now).await.unwrap().unwrap().1,
        now + 9000
    );
    assert!(sessions
        .create(&session("b", now + 100, Some("bob")), now)
        .await
        .unwrap());
    assert!(sessions
        .create(&session("anon", now + 100, None), now)
        .await
        .unwrap());
    let active = sessions.active(now).await.unwrap();
    assert_eq!(
        active.iter().map(|s| s.login.as_str()).collect::<Vec<_>>(),
        ["alice", "bob"],
        "signed-in only, most recently active first"
    );
    assert_eq!(active[0].name, "alice Example");
    assert_eq!(active[0].user_agent.as_deref(), Some("Firefox"));
    assert_eq!(active[0].last_seen_ms, now + 10);
    assert!(
        !active[0].handle.is_empty() && active[0].handle != "a",
        "the handle is not the id"
    );
    assert_ne!(active[0].handle, active[1].handle);
    // Expired sessions do not load and are not listed; clean-up deletes them.
    assert!(sessions.load("b", now + 100).await.unwrap().is_none());
    assert_eq!(sessions.active(now + 200).await.unwrap().len(), 1);
    assert_eq!(sessions.delete_expired(now + 200).await.unwrap(), 2);
    // Revocation by handle, once.
    let handle = active[0].handle.clone();
    assert!(sessions.revoke(&handle).await.unwrap());
    assert!(!sessions.revoke(&handle).await.unwrap());
    assert!(sessions.load("a", now).await.unwrap().is_none());
    // A request that was in flight during the revocation cannot bring the session back.
    sessions
        .save(&session("a", now + 9000, Some("alice")), now + 20)
        .await
        .unwrap();
    assert!(sessions.load("a", now).await.unwrap().is_none());
    assert!(sessions.active(now).await.unwrap().is_empty());
    sessions.delete("nothing-here").await.unwrap();
}

/// Updates posted at the same moment (two responders at 3 a.m.) each get a place of their own in
/// the incident's order, none refused because the store was busy; and an update cannot move
/// the incident back past one that was accepted first.
async fn concurrent_incident_updates_each_get_their_own_place(store: Store) {
    use ops::incidents::{Declare, Impact, Incidents, Status};
    let incidents = std::sync::Arc::new(Incidents::new(store, Default::default()));
    let declared = incidents
        .declare(
            &Declare {
                title: "builds stuck".into(),
                impact: Impact::Major,
                services: vec!["api".into()],
                body: "looking".into(),
            },
            "ana",
            1_000,
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let incidents = incidents.clone();
            let id = declared.id.clone();
            tokio::spawn(async move {
                incidents
                    .update(
                        &id,
                        Status::Identified,
                        &format!("update {i}"),
                        &Default::default(),
                        "bo",
                        2_000 + i,
                    )
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("every update is taken");
    }
    let seqs: Vec<i64> = incidents
        .updates(&declared.id)
        .await
        .unwrap()
        .iter()
        .map(|u| u.seq)
        .collect();
    assert_eq!(seqs, (0..17).collect::<Vec<_>>());
    // Forward only, checked against what was committed.
    let back = incidents
        .update(
            &declared.id,
            Status::Investigating,
            "back",
            &Default::default(),
            "cy",
            3_000,
        )
        .await;
    assert!(back.unwrap_err().to_string().contains("identified already"));
}

fn person(id: &str) -> ops::audit::Actor {
    ops::audit::Actor {
        id: format!("dev:{id}"),
        name: id.into(),
        role: "responder".into(),
    }
}

fn request(host: &str, key: &str) -> ops::change::ActionRequest {
    ops::change::ActionRequest {
        kind: ops::change::ActionKind::RestartService,
        target: ops::change::Target {
            environment: "live".into(),
            host: host.into(),
            service_group: "builder-api.live".into(),
        },
        reason: "test".into(),
        confirmation: "live/builder-api".into(),
        tried_in_acceptance: Some(true),
        idempotency_key: key.into(),
        paths: Vec::new(),
    }
}

/// The cooldown is judged in the transaction that takes the lock: an action that ended a moment
/// ago refuses the next on the same host, whoever looked before.
async fn the_cooldown_is_judged_with_the_lock_held(store: Store) {
    use ops::change::ledger::{Begun, Ledger};
    use ops::change::ActionState;
    let ledger = Ledger::new(store);
    let (ana, bo) = (person("ana"), person("bo"));
    let a = ledger
        .begin("a", &ana, &request("api-1", "k-a"), 60_000, "p1")
        .await
        .unwrap();
    assert_eq!(a, Begun::Started);
    ledger
        .finish("a", "p1", ActionState::Succeeded, "done", "")
        .await
        .unwrap()
        .unwrap();
    match ledger
        .begin("b", &bo, &request("api-1", "k-b"), 60_000, "p1")
        .await
        .unwrap()
    {
        Begun::Cooling { last, left_ms } => {
            assert_eq!(last.id, "a");
            assert!(left_ms > 0 && left_ms <= 60_000, "{left_ms}");
        }
        other => panic!("began inside the cooldown: {other:?}"),
    }
    // Refused whole: no action row, no lock left behind.
    assert_eq!(ledger.get("b").await.unwrap(), None);
    assert_eq!(
        ledger
            .begin("c", &bo, &request("api-1", "k-c"), 0, "p1")
            .await
            .unwrap(),
        Begun::Started
    );
    // Another host is not cooling.
    assert_eq!(
        ledger
            .begin("d", &bo, &request("api-2", "k-d"), 60_000, "p1")
            .await
            .unwrap(),
        Begun::Started
    );
}

/// Idempotency keys are per person: the same key from two people is two actions; from one
/// person sent ten times at once, one action.
async fn an_idempotency_key_is_the_persons_own_and_runs_once(store: Store) {
    use ops::change::ledger::{Begun, Ledger};
    let ledger = Ledger::new(store);
    let (ana, bo) = (person("ana"), person("bo"));
    let tries = (0..10).map(|i| {
        let ledger = ledger.clone();
        let ana = ana.clone();
        async move {
            ledger
                .begin(&format!("x{i}"), &ana, &request("api-1", "same"), 0, "p1")
                .await
                .unwrap()
        }
    });
    let results = futures_util::future::join_all(tries).await;
    let started = results.iter().filter(|r| **r == Begun::Started).count();
    let duplicates = results
        .iter()
        .filter(|r| matches!(r, Begun::Duplicate(_)))
        .count();
    assert_eq!((started, duplicates), (1, 9), "{results:?}");
    // Bo's request with the same key is his own (it meets Ana's running lock, not her key).
    match ledger
        .begin("y", &bo, &request("api-1", "same"), 0, "p1")
        .await
        .unwrap()
    {
        Begun::Locked(h) => assert_eq!(h.actor, "dev:ana"),
        other => panic!("Bo's request was taken for Ana's: {other:?}"),
    }
    assert_eq!(
        ledger.by_key("dev:bo", "same").await.unwrap(),
        None,
        "Bo has no action under that key"
    );
}

/// A build's lock is `env/depot/pkg`: ending it (here as the sweeper does, after its lease)
/// frees that key, and a process that lost the action can neither renew nor end it.
async fn an_ended_action_frees_the_key_it_took_and_only_its_holder_ends_it(store: Store) {
    use ops::change::ledger::{Begun, Ledger};
    use ops::change::{ActionKind, ActionState};
    use sqlx::Row;
    let ledger = Ledger::new(store.clone());
    let mut build = request(ops::builds::DEPOT, "k-build");
    build.kind = ActionKind::RequestBuild;
    build.target.service_group = "builder-api".into();
    assert_eq!(
        ledger
            .begin("build", &person("ana"), &build, 0, "p1")
            .await
            .unwrap(),
        Begun::Started
    );
    let locks = |store: Store| async move {
        sqlx::query("SELECT COUNT(*) FROM action_locks")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap()
    };
    assert_eq!(locks(store.clone()).await, 1);
    // Its lease runs out (the cutoff is in the future): the sweeper ends it.
    let far = store.now_ms().await.unwrap() + 1_000;
    assert_eq!(ledger.orphaned(far).await.unwrap().len(), 1);
    ledger
        .end_expired("build", far, ActionState::Interrupted, "interrupted", "")
        .await
        .unwrap()
        .expect("the sweeper ends an expired action");
    assert_eq!(locks(store.clone()).await, 0, "the build's lock was left");
    // The process that ran it wakes up: it holds nothing any more.
    assert!(!ledger.renew("build", "p1").await.unwrap());
    assert_eq!(
        ledger
            .finish("build", "p1", ActionState::Failed, "late", "")
            .await
            .unwrap(),
        None
    );
    let rec = ledger.get("build").await.unwrap().unwrap();
    assert_eq!(rec.state, ActionState::Interrupted);
    assert_eq!(rec.summary, "interrupted");
    // Another process never ends an action it does not hold.
    let mut other = request("api-9", "k-9");
    other.target.host = "api-9".into();
    ledger
        .begin("nine", &person("bo"), &other, 0, "p1")
        .await
        .unwrap();
    assert_eq!(
        ledger
            .finish("nine", "p2", ActionState::Succeeded, "not mine", "")
            .await
            .unwrap(),
        None
    );
    assert!(ledger
        .finish("nine", "p1", ActionState::Succeeded, "mine", "")
        .await
        .unwrap()
        .is_some());
}

/// A running action's output is kept in its row as its lease is renewed, by its holder only:
/// another process shows the action from the store.
async fn a_running_actions_output_is_kept_in_its_row(store: Store) {
    use ops::change::ledger::{Begun, Ledger};
    use ops::change::ActionState;
    let ledger = Ledger::new(store);
    let ana = person("ana");
    assert_eq!(
        ledger
            .begin("run", &ana, &request("api-1", "k-run"), 0, "p1")
            .await
            .unwrap(),
        Begun::Started
    );
    assert!(ledger
        .renew_with_output("run", "p1", "→ stop\n← ok")
        .await
        .unwrap());
    assert!(!ledger
        .renew_with_output("run", "p2", "not mine")
        .await
        .unwrap());
    let row = ledger.get("run").await.unwrap().unwrap();
    assert_eq!(row.state, ActionState::Running);
    assert_eq!(row.output, "→ stop\n← ok");
}

/// A cancel is written into a running action's row once, by any process, and read by its
/// holder in the renewal of its lease (another process's renewal reads nothing: it does not
/// hold it); an ended action, an unknown one, or one already asked, is not written again.
async fn a_cancel_is_asked_once_through_the_row(store: Store) {
    use ops::change::ledger::{Begun, CancelAsked, Hold, Ledger};
    use ops::change::ActionState;
    let ledger = Ledger::new(store.clone());
    // Another replica: its own ledger on the same store.
    let other = Ledger::new(store);
    let ana = person("ana");
    let bob = person("bob");
    assert_eq!(
        ledger
            .begin("run", &ana, &request("api-1", "k-run"), 0, "p1")
            .await
            .unwrap(),
        Begun::Started
    );
    assert_eq!(
        ledger.hold("run", "p1", None).await.unwrap(),
        Hold::Held(None)
    );
    let CancelAsked::Recorded(r) = other.request_cancel("run", &bob).await.unwrap() else {
        panic!("not recorded");
    };
    let asked = r.cancel.expect("the cancel reads back");
    assert_eq!(
        (asked.by.as_str(), asked.by_name.as_str()),
        ("dev:bob", "bob")
    );
    assert_eq!(r.state, ActionState::Running);
    // The holder reads it in its renewal, with or without output; nobody else holds it.
    assert_eq!(
        ledger.hold("run", "p1", Some("→ stop")).await.unwrap(),
        Hold::Held(Some(asked.clone()))
    );
    assert_eq!(ledger.hold("run", "p2", None).await.unwrap(), Hold::Lost);
    // Asked once: a second request is not written over the first.
    let CancelAsked::Not(r) = ledger.request_cancel("run", &ana).await.unwrap() else {
        panic!("written twice");
    };
    assert_eq!(r.cancel.as_ref().map(|c| c.by_name.as_str()), Some("bob"));
    assert!(ledger
        .finish("run", "p1", ActionState::Cancelled, "cancelled by bob", "")
        .await
        .unwrap()
        .is_some());
    let ended = ledger.get("run").await.unwrap().unwrap();
    assert_eq!(ended.state, ActionState::Cancelled);
    assert_eq!(ended.cancel, Some(asked));
    assert!(matches!(
        other.request_cancel("run", &ana).await.unwrap(),
        CancelAsked::Not(r) if r.state == ActionState::Cancelled
    ));
    assert_eq!(
        other.request_cancel("nothing", &ana).await.unwrap(),
        CancelAsked::Unknown
    );
    assert_eq!(ledger.hold("run", "p1", None).await.unwrap(), Hold::Lost);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = sqlite_store().await;
                    assert_eq!(store.backend(), Backend::Sqlite);
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let store = postgres_store().await;
                    assert_eq!(store.backend(), Backend::Postgres);
                    super::$name(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    migrations_are_idempotent,
    history_round_trip,
    prune_keeps_the_newest_row_of_each_subject,
    empty_batch_is_a_no_op,
    sessions_round_trip_expire_and_revoke,
    concurrent_incident_updates_each_get_their_own_place,
    the_cooldown_is_judged_with_the_lock_held,
    an_idempotency_key_is_the_persons_own_and_runs_once,
    an_ended_action_frees_the_key_it_took_and_only_its_holder_ends_it,
    a_running_actions_output_is_kept_in_its_row,
    a_cancel_is_asked_once_through_the_row,
);

#[tokio::test]
async fn sqlite_store_runs_in_wal_mode_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/onwatch.db", dir.path().display());
    {
        let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
        assert_eq!(
            store.sqlite_journal_mode().await.unwrap().as_deref(),
            Some("wal")
        );
        History::new(store.clone())
            .record(&[transition(svc("h", "s.live"), None, "up", 1)])
            .await
            .unwrap();
        store.close().await;
    }
    let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
    assert_eq!(
        History::new(store).last_states().await.unwrap().len(),
        1,
        "data survives a restart"
    );
}

#[tokio::test]
async fn unsupported_and_unreachable_stores_are_clear_errors() {
    let err = Store::open("mysql://u:pw@h/db", &StoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(
        !err.to_string().contains("pw"),
        "password must not leak: {err}"
    );

    // Nothing listens on port 1.
    let options = StoreOptions {
        acquire_timeout: std::time::Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let err = Store::open("postgres://u:topsecret@127.0.0.1:1/db", &options)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{msg}");
    assert!(!msg.contains("topsecret"), "password must not leak: {msg}");
}

#[tokio::test]
async fn postgres_password_can_come_from_a_secret() {
    // The test cluster trusts every local connection, so this checks that the password option is
    // accepted and the store works with it, not that Postgres verified it.
    let url = testkit::postgres_database().await.unwrap();
    let options = StoreOptions {
        password: Some("from-a-file".into()),
        ..StoreOptions::default()
    };
    let store = Store::open(&url, &options).await.unwrap();
    store.ping().await.unwrap();
}

/// With a session cache: another replica's change is seen after the cache's moment, this
/// process's own writes, deletions and revocations at once.
#[tokio::test]
async fn cached_sessions_follow_this_processs_writes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/onwatch.db", dir.path().display());
    let sessions = SessionStore::new(
        Store::open(&url, &StoreOptions::default()).await.unwrap(),
        Duration::from_secs(600),
    );
    let uncached = Store::open(&url, &StoreOptions::default()).await.unwrap();
    let uncached_sessions = SessionStore::new(uncached.clone(), Duration::ZERO);
    let now = 10_000;
    assert!(sessions
        .create(&session("a", now + 1000, Some("alice")), now)
        .await
        .unwrap());
    // Another replica changes the row: the cached copy stands for the moment; a store without
    // a cache sees the change at once.
    sqlx::query("UPDATE sessions SET data = '{}' WHERE id = 'a'")
        .execute(uncached.pool())
        .await
        .unwrap();
    assert_eq!(
        sessions.load("a", now).await.unwrap().unwrap().0,
        "{\"n\":\"a\"}"
    );
    assert_eq!(
        uncached_sessions.load("a", now).await.unwrap().unwrap().0,
        "{}"
    );
    // Expiry is still checked against the cached copy.
    assert!(sessions.load("a", now + 1000).await.unwrap().is_none());
    // This process's own writes are seen at once.
    sessions
        .save(&session("a", now + 9000, Some("alice")), now)
        .await
        .unwrap();
    assert_eq!(
        sessions.load("a", now).await.unwrap().unwrap().1,
        now + 9000
    );
    // Revocation here: refused at once.
    let handle = sessions.active(now).await.unwrap()[0].handle.clone();
    assert!(sessions.revoke(&handle).await.unwrap());
    assert!(sessions.load("a", now).await.unwrap().is_none());
    // Sign-out (delete) here: refused at once.
    assert!(sessions
        .create(&session("b", now + 1000, None), now)
        .await
        .unwrap());
    assert!(sessions.load("b", now).await.unwrap().is_some());
    sessions.delete("b").await.unwrap();
    assert!(sessions.load("b", now).await.unwrap().is_none());
}

/// Two replicas (two pools on one Postgres) given the same person's idempotency key ten times
/// at once: one action.
#[tokio::test]
async fn the_same_key_at_once_on_two_replicas_runs_once() {
    use ops::change::ledger::{Begun, Ledger};
    let url = testkit::postgres_database().await.unwrap();
    let a = Ledger::new(Store::open(&url, &StoreOptions::default()).await.unwrap());
    let b = Ledger::new(Store::open(&url, &StoreOptions::default()).await.unwrap());
    let ana = person("ana");
    let tries = (0..10).map(|i| {
        let ledger = if i % 2 == 0 { a.clone() } else { b.clone() };
        let ana = ana.clone();
        async move {
            ledger
                .begin(&format!("r{i}"), &ana, &request("api-1", "twice"), 0, "p")
                .await
                .unwrap()
        }
    });
    let results = futures_util::future::join_all(tries).await;
    let started = results.iter().filter(|r| **r == Begun::Started).count();
    assert_eq!(started, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|r| *r == Begun::Started || matches!(r, Begun::Duplicate(_))));
}

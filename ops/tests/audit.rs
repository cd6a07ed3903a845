//! The audit log's chain on both backends: appends from many tasks never fork it, and a row that
//! is changed, deleted or reordered in the database (by someone who dropped the append-only
//! triggers) makes `verify` fail naming that row.

use ops::audit::{Actor, AuditLog, Entry};
use ops::store::{Backend, Store, StoreOptions};

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/onwatch.db", dir.path().display());
    (
        Store::open(&url, &StoreOptions::default()).await.unwrap(),
        dir,
    )
}

async fn postgres_store() -> Store {
    let url = testkit::postgres_database().await.unwrap();
    Store::open(&url, &StoreOptions::default()).await.unwrap()
}

fn ada() -> Actor {
    Actor {
        id: "github:#1".into(),
        name: "ada".into(),
        role: "responder".into(),
    }
}

fn entry(i: usize) -> Entry {
    Entry {
        kind: "action.intent".into(),
        environment: "live".into(),
        host: format!("api-{i}"),
        service: "builder-api.live".into(),
        action_id: format!("a{i}"),
        outcome: String::new(),
        detail: serde_json::json!({"reason": format!("reason {i}")}),
    }
}

/// Ten rows, then the chain holds.
async fn ten_rows(store: &Store) -> AuditLog {
    let log = AuditLog::new(store.clone());
    for i in 0..10 {
        log.append(&ada(), &entry(i)).await.unwrap();
    }
    let v = log.verify().await.unwrap();
    assert_eq!((v.rows, v.broken), (10, None));
    log
}

/// What an attacker with database access does first.
async fn drop_triggers(store: &Store) {
    let statements: &[&str] = match store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER audit_log_no_change ON audit_log"],
    };
    for s in statements {
        sqlx::query(s).execute(store.pool()).await.unwrap();
    }
}

async fn the_database_refuses_edits(store: Store) {
    let _log = ten_rows(&store).await;
    let update = sqlx::query("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3")
        .execute(store.pool())
        .await;
    assert!(
        update.is_err(),
        "an update is refused by the append-only rule"
    );
    let delete = sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(store.pool())
        .await;
    assert!(delete.is_err(), "a delete too");
}

async fn a_changed_field_is_named(store: Store) {
    let log = ten_rows(&store).await;
    drop_triggers(&store).await;
    sqlx::query("UPDATE audit_log SET detail = '{\"reason\":\"nothing to see\"}' WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let b = log.verify().await.unwrap().broken.expect("broken");
    assert_eq!(b.seq, 4);
    assert!(b.why.contains("changed after it was written"), "{}", b.why);
}

async fn a_deleted_row_is_named(store: Store) {
    let log = ten_rows(&store).await;
    drop_triggers(&store).await;
    sqlx::query("DELETE FROM audit_log WHERE seq = 6")
        .execute(store.pool())
        .await
        .unwrap();
    let b = log.verify().await.unwrap().broken.expect("broken");
    assert_eq!(b.seq, 6);
    assert!(b.why.contains("missing"), "{}", b.why);

    // Deleting the newest rows is seen too: the head remembers the last row.
    let store2 = store.clone();
    let log2 = AuditLog::new(store2);
    sqlx::query("DELETE FROM audit_log WHERE seq >= 6")
        .execute(store.pool())
        .await
        .unwrap();
    let b = log2.verify().await.unwrap().broken.expect("broken");
    assert_eq!(b.seq, 6);
    assert!(b.why.contains("rows at the end were deleted"), "{}", b.why);
}

async fn reordered_rows_are_named(store: Store) {
    let log = ten_rows(&store).await;
    drop_triggers(&store).await;
    // Swap rows 2 and 7 (their numbers, so that the order of the chain changes).
    for (from, to) in [(2, -2), (7, 2), (-2, 7)] {
        sqlx::query("UPDATE audit_log SET seq = $1 WHERE seq = $2")
            .bind(to as i64)
            .bind(from as i64)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let b = log.verify().await.unwrap().broken.expect("broken");
    assert_eq!(b.seq, 2, "{}", b.why);
}

/// Many appends at once (as several replicas would): one chain, no fork, no hole.
async fn concurrent_appends_keep_one_chain(store: Store) {
    let log = AuditLog::new(store.clone());
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(&ada(), &entry(i)).await.unwrap().seq })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=40).collect::<Vec<i64>>());
    assert_eq!(log.verify().await.unwrap().broken, None);
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _dir) = super::sqlite_store().await;
                super::$name(store).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::postgres_store().await).await;
            })*
        }
    };
}

on_both!(
    the_database_refuses_edits,
    a_changed_field_is_named,
    a_deleted_row_is_named,
    reordered_rows_are_named,
    concurrent_appends_keep_one_chain
);

//! The audit log's chain on both backends: appends from many tasks never fork it, and a row that
//! is changed, deleted or reordered in the database (by someone who dropped the append-only
//! triggers) makes `verify` fail naming that row. A chain cut at its end or re-hashed whole (which
//! no check inside the store can see) is caught by `verify` against a signed checkpoint of the
//! head kept outside the store.

use ops::audit::checkpoint::{Checkpoint, CheckpointKey, Checkpointer};
use ops::audit::{Actor, Anchor, AuditFilter, AuditLog, AuditRow, Entry, Event, GENESIS};
use ops::store::{Backend, Store, StoreOptions};
use sha2::{Digest, Sha256};

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
        kind: Event::ActionIntent,
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

/// What an attacker with the database's owner (or superuser) rights does: drops every trigger on
/// the audit tables, whatever its name.
async fn drop_every_guard(store: &Store) {
    let names: Vec<(String, String)> = match store.backend() {
        Backend::Sqlite => sqlx::query_as(
            "SELECT name, tbl_name FROM sqlite_master \
             WHERE type = 'trigger' AND tbl_name IN ('audit_log', 'audit_head')",
        ),
        Backend::Postgres => sqlx::query_as(
            "SELECT t.tgname::text, c.relname::text FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE NOT t.tgisinternal AND c.relname IN ('audit_log', 'audit_head')",
        ),
    }
    .fetch_all(store.pool())
    .await
    .unwrap();
    for (name, table) in names {
        let sql = match store.backend() {
            Backend::Sqlite => format!("DROP TRIGGER {name}"),
            Backend::Postgres => format!("DROP TRIGGER {name} ON {table}"),
        };
        sqlx::query(&sql).execute(store.pool()).await.unwrap();
    }
}

/// The head as it is now: what a checkpoint signs.
async fn head(store: &Store) -> (i64, String) {
    sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Empties the log the way each backend allows: Postgres's `TRUNCATE` (which fires no row
/// trigger), SQLite's `DELETE` without `WHERE` (its equivalent).
fn truncate_sql(store: &Store, table: &str) -> String {
    match store.backend() {
        Backend::Sqlite => format!("DELETE FROM {table}"),
        Backend::Postgres => format!("TRUNCATE {table}"),
    }
}

/// The chain's hash as the README documents it, computed by hand: SHA-256 over the previous
/// hash, a newline, and the row's fields as JSON in their fixed order. Nothing secret: anyone
/// with write access to the store can re-hash a chain.
fn forged_hash(prev: &str, r: &AuditRow) -> String {
    #[derive(serde::Serialize)]
    struct Canonical<'a> {
        seq: i64,
        at_ms: i64,
        kind: &'a str,
        actor: &'a str,
        actor_name: &'a str,
        role: &'a str,
        environment: &'a str,
        host: &'a str,
        service: &'a str,
        action_id: &'a str,
        outcome: &'a str,
        detail: &'a str,
    }
    let c = Canonical {
        seq: r.seq,
        at_ms: r.at_ms,
        kind: &r.kind,
        actor: &r.actor,
        actor_name: &r.actor_name,
        role: &r.role,
        environment: &r.environment,
        host: &r.host,
        service: &r.service,
        action_id: &r.action_id,
        outcome: &r.outcome,
        detail: &r.detail,
    };
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(&c).unwrap());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
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

/// Every field a row's hash covers: an edit of any one of them (with the append-only triggers
/// dropped) is named by `verify`, an edited outcome ("failed" made "succeeded") included.
async fn an_edit_of_any_field_is_named(store: Store) {
    let log = ten_rows(&store).await;
    drop_triggers(&store).await;
    let edits: &[(&str, &str)] = &[
        ("at_ms", "at_ms = at_ms + 1"),
        ("kind", "kind = 'signin'"),
        ("actor", "actor = 'github:#2'"),
        ("actor_name", "actor_name = 'mallory'"),
        ("role", "role = 'admin'"),
        ("environment", "environment = 'acceptance'"),
        ("host", "host = 'api-9'"),
        ("service", "service = 'builder-jobsrv.live'"),
        ("action_id", "action_id = 'a9'"),
        ("outcome", "outcome = 'succeeded'"),
        ("detail", "detail = '{}'"),
    ];
    for (column, set) in edits {
        let before: AuditRow = log
            .search(&AuditFilter::default(), Some(5), 1)
            .await
            .unwrap()[0]
            .clone();
        assert_eq!(before.seq, 4);
        sqlx::query(&format!("UPDATE audit_log SET {set} WHERE seq = 4"))
            .execute(store.pool())
            .await
            .unwrap();
        let b = log.verify().await.unwrap().broken;
        let b = b.unwrap_or_else(|| panic!("an edited {column} is caught"));
        assert_eq!(b.seq, 4, "{column}: {}", b.why);
        assert!(
            b.why.contains("changed after it was written"),
            "{column}: {}",
            b.why
        );
        // Put it back: the next field is edited on its own.
        sqlx::query(
            "UPDATE audit_log SET at_ms = $1, kind = $2, actor = $3, actor_name = $4, role = $5, \
             environment = $6, host = $7, service = $8, action_id = $9, outcome = $10, \
             detail = $11 WHERE seq = 4",
        )
        .bind(before.at_ms)
        .bind(&before.kind)
        .bind(&before.actor)
        .bind(&before.actor_name)
        .bind(&before.role)
        .bind(&before.environment)
        .bind(&before.host)
        .bind(&before.service)
        .bind(&before.action_id)
        .bind(&before.outcome)
        .bind(&before.detail)
        .execute(store.pool())
        .await
        .unwrap();
        assert_eq!(
            log.verify().await.unwrap().broken,
            None,
            "{column} restored"
        );
    }
}

/// `TRUNCATE` fires no row trigger: Postgres refuses it with a statement trigger. SQLite has no
/// `TRUNCATE`; its `DELETE` without `WHERE` runs the row trigger (a table with triggers is never
/// emptied wholesale), so it is refused too. The head cannot be emptied either.
async fn truncate_is_refused(store: Store) {
    let log = ten_rows(&store).await;
    for table in ["audit_log", "audit_head"] {
        let r = sqlx::query(&truncate_sql(&store, table))
            .execute(store.pool())
            .await;
        assert!(r.is_err(), "emptying {table} is refused");
    }
    let v = log.verify().await.unwrap();
    assert_eq!((v.rows, v.broken), (10, None));
}

/// The head moves only forward, onto the newest row and its hash; rows join only at the end.
/// Even with the log's own append-only triggers dropped, the head cannot be put back to hide a
/// cut tail, desynced, deleted or doubled, and no row can be slipped into a hole.
async fn the_head_moves_only_forward(store: Store) {
    let log = ten_rows(&store).await;
    drop_triggers(&store).await;
    let row6: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = 6")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let refused = [
        format!("UPDATE audit_head SET seq = 6, hash = '{row6}' WHERE id = 1"),
        "UPDATE audit_head SET hash = 'x' WHERE id = 1".to_owned(),
        "UPDATE audit_head SET seq = 11 WHERE id = 1".to_owned(),
        "UPDATE audit_head SET id = 2 WHERE id = 1".to_owned(),
        "DELETE FROM audit_head".to_owned(),
        format!("INSERT INTO audit_head (id, seq, hash) VALUES (2, 0, '{GENESIS}')"),
    ];
    for sql in &refused {
        let r = sqlx::query(sql).execute(store.pool()).await;
        assert!(r.is_err(), "refused: {sql}");
    }
    // A deleted row cannot be replaced by a forged one, and no row can skip the head.
    sqlx::query("DELETE FROM audit_log WHERE seq = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let (_, head_hash) = head(&store).await;
    for (seq, prev) in [
        (4, "x".to_owned()),
        (12, head_hash.clone()),
        (11, "x".to_owned()),
    ] {
        let r = sqlx::query(
            "INSERT INTO audit_log (seq, at_ms, kind, actor, actor_name, role, environment, \
             host, service, action_id, outcome, detail, prev_hash, hash) \
             VALUES ($1, 0, 'k', 'a', 'a', 'r', '', '', '', '', '', '{}', $2, 'h')",
        )
        .bind(seq as i64)
        .bind(&prev)
        .execute(store.pool())
        .await;
        assert!(r.is_err(), "row {seq} after {prev} is refused");
    }
    // Appending the ordinary way still works, and the deleted row is still named.
    assert_eq!(log.append(&ada(), &entry(11)).await.unwrap().seq, 11);
    assert_eq!(head(&store).await.0, 11);
    assert_eq!(log.verify().await.unwrap().broken.unwrap().seq, 4);
}

/// A checkpoint of the head, signed with a key of the test's own (as the server signs them).
async fn checkpoint(log: &AuditLog) -> Checkpoint {
    let key = CheckpointKey::generate().unwrap();
    let c = Checkpointer::new(log.clone(), key, None)
        .checkpoint()
        .await
        .unwrap();
    c.check(None).unwrap();
    c
}

/// What verify finds against `checkpoint` after an attack: the store alone says the chain holds
/// (that is the attack), the checkpoint says where it was cut.
async fn caught(log: &AuditLog, checkpoint: &Checkpoint) -> Option<ops::audit::Broken> {
    let v = log.verify().await.unwrap();
    assert_eq!(v.broken, None, "the store alone cannot see this attack");
    log.verify_against(&[checkpoint.anchor()])
        .await
        .unwrap()
        .broken
}

/// Truncated (the guards dropped first, as a superuser can) and the head put back to the start:
/// the store alone looks like an empty, intact log; a checkpoint says there were ten rows.
async fn a_truncated_chain_is_caught_by_a_checkpoint(store: Store) {
    let log = ten_rows(&store).await;
    let checkpoint = checkpoint(&log).await;
    drop_every_guard(&store).await;
    for sql in [
        truncate_sql(&store, "audit_log"),
        format!("UPDATE audit_head SET seq = 0, hash = '{GENESIS}' WHERE id = 1"),
    ] {
        sqlx::query(&sql).execute(store.pool()).await.unwrap();
    }
    let b = caught(&log, &checkpoint).await.expect("caught");
    assert_eq!(b.seq, 1, "{}", b.why);
    assert!(b.why.contains("checkpoint signed row 10"), "{}", b.why);
}

/// The newest rows deleted and the head rewritten to the row before them.
async fn a_cut_tail_with_a_rewritten_head_is_caught_by_a_checkpoint(store: Store) {
    let log = ten_rows(&store).await;
    let checkpoint = checkpoint(&log).await;
    drop_every_guard(&store).await;
    sqlx::query("DELETE FROM audit_log WHERE seq > 6")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_log WHERE seq = 6) \
         WHERE id = 1",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let b = caught(&log, &checkpoint).await.expect("caught");
    assert_eq!(b.seq, 7, "{}", b.why);
    assert!(b.why.contains("rows 7–10 were removed"), "{}", b.why);
}

/// Row 3's outcome rewritten, and every hash from there on (and the head) recomputed, with the
/// triggers disabled: a chain that holds by itself, but is not the one the checkpoint signed.
async fn a_re_hashed_chain_is_caught_by_a_checkpoint(store: Store) {
    let log = ten_rows(&store).await;
    let checkpoint = checkpoint(&log).await;
    let mut conn = store.pool().acquire().await.unwrap();
    match store.backend() {
        // The owner's way: the triggers stay, switched off.
        Backend::Postgres => {
            for t in ["audit_log", "audit_head"] {
                sqlx::query(&format!("ALTER TABLE {t} DISABLE TRIGGER USER"))
                    .execute(&mut *conn)
                    .await
                    .unwrap();
            }
        }
        // SQLite cannot switch a trigger off: they are dropped.
        Backend::Sqlite => drop_every_guard(&store).await,
    }
    let mut rows = log
        .search(&AuditFilter::default(), None, 100)
        .await
        .unwrap();
    rows.reverse();
    let mut prev = rows[1].hash.clone();
    for r in rows.iter_mut().skip(2) {
        if r.seq == 3 {
            r.outcome = "succeeded".into();
        }
        r.prev_hash = prev.clone();
        r.hash = forged_hash(&prev, r);
        prev = r.hash.clone();
        sqlx::query("UPDATE audit_log SET outcome = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(&r.outcome)
            .bind(&r.prev_hash)
            .bind(&r.hash)
            .bind(r.seq)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let b = caught(&log, &checkpoint).await.expect("caught");
    assert_eq!(b.seq, 10, "{}", b.why);
    assert!(b.why.contains("re-hashed"), "{}", b.why);
    // A bare head hash written down elsewhere catches it too.
    let b = log
        .verify_against(&[Anchor::Hash(checkpoint.hash.clone())])
        .await
        .unwrap()
        .broken
        .expect("caught by the bare hash");
    assert!(
        b.why.contains("no row of the chain has the hash"),
        "{}",
        b.why
    );
}

/// A checkpoint of an intact chain keeps holding as the chain grows; one that names a row the
/// chain has with another hash, or a hash no row has, does not.
async fn a_checkpoint_holds_as_the_chain_grows(store: Store) {
    let log = ten_rows(&store).await;
    let c = checkpoint(&log).await;
    assert_eq!((c.seq, c.hash.clone()), head(&store).await);
    for i in 10..15 {
        log.append(&ada(), &entry(i)).await.unwrap();
    }
    let good = [c.anchor(), Anchor::Hash(c.hash.clone())];
    let v = log.verify_against(&good).await.unwrap();
    assert_eq!((v.rows, v.broken), (15, None));
    let empty = Anchor::Row {
        seq: 0,
        hash: GENESIS.into(),
    };
    assert_eq!(log.verify_against(&[empty]).await.unwrap().broken, None);
    for bad in [
        Anchor::Row {
            seq: 10,
            hash: "0".repeat(64),
        },
        Anchor::Hash("f".repeat(64)),
    ] {
        let b = log
            .verify_against(std::slice::from_ref(&bad))
            .await
            .unwrap()
            .broken;
        assert!(b.is_some(), "{bad:?} does not hold");
    }
}

/// The server's checkpointer appends each checkpoint to its file, and never signs a chain that
/// does not extend the last checkpoint: not in the same process, nor after a restart (it reads
/// the file back), so a cut between two checkpoints is an error instead of a new signature.
async fn the_checkpointer_never_signs_over_a_cut(store: Store) {
    let log = ten_rows(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("audit.key");
    let file = dir.path().join("checkpoints.jsonl");
    let key = CheckpointKey::write_new(&key_file).unwrap();
    let public = key.public_key();
    let signer = Checkpointer::new(log.clone(), key, Some(file.clone()));
    let latest = signer.latest();
    assert_eq!(signer.checkpoint().await.unwrap().seq, 10);
    log.append(&ada(), &entry(10)).await.unwrap();
    assert_eq!(signer.checkpoint().await.unwrap().seq, 11);
    assert_eq!(latest.borrow().as_ref().map(|c| c.seq), Some(11));
    let lines = Checkpoint::parse_lines(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(lines.iter().map(|c| c.seq).collect::<Vec<_>>(), [10, 11]);
    for c in &lines {
        c.check(Some(&public)).unwrap();
    }

    drop_every_guard(&store).await;
    sqlx::query("DELETE FROM audit_log WHERE seq > 8")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE audit_head SET seq = 8, hash = (SELECT hash FROM audit_log WHERE seq = 8) \
         WHERE id = 1",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let e = signer.checkpoint().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no longer extends the checkpoint of row 11"),
        "{e}"
    );
    // A restarted server, same key and file: it continues from the file, and refuses too.
    let restarted = Checkpointer::new(
        log.clone(),
        CheckpointKey::from_file(&key_file).unwrap(),
        Some(file.clone()),
    );
    let e = restarted.checkpoint().await.unwrap_err();
    assert!(e.to_string().contains("checkpoint of row 11"), "{e}");
    assert_eq!(
        Checkpoint::parse_lines(&std::fs::read_to_string(&file).unwrap())
            .unwrap()
            .len(),
        2,
        "nothing signed over the cut"
    );
    let b = log
        .verify_against(&[lines[1].anchor()])
        .await
        .unwrap()
        .broken
        .expect("caught");
    assert_eq!(b.seq, 9, "{}", b.why);

    // A new key without a file checks the whole chain first: an edited row is refused too.
    sqlx::query("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let fresh = Checkpointer::new(log.clone(), CheckpointKey::generate().unwrap(), None);
    let e = fresh.checkpoint().await.unwrap_err();
    assert!(e.to_string().contains("does not verify (row 2"), "{e}");
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

/// Whatever a row is given, what is stored is bounded and says where it was cut; the chain
/// still verifies.
async fn every_field_is_bounded_before_it_is_stored(store: Store) {
    let log = AuditLog::new(store.clone());
    let huge = "x".repeat(3 << 20);
    let actor = Actor {
        id: format!("dev:{huge}"),
        name: huge.clone(),
        role: "responder".into(),
    };
    log.append(
        &actor,
        &Entry {
            host: huge.clone(),
            detail: serde_json::json!({ "reason": huge, "sql": "SELECT 1" }),
            ..Entry::new(Event::ActionRefused)
        },
    )
    .await
    .unwrap();
    let row = sqlx::query("SELECT actor, actor_name, host, detail FROM audit_log WHERE seq = 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    use sqlx::Row;
    for col in ["actor", "actor_name", "host"] {
        let v: String = row.get(col);
        assert!(v.len() < 1024, "{col}: {} bytes", v.len());
        assert!(v.ends_with("bytes cut)"), "{col}");
    }
    let detail: String = row.get("detail");
    assert!(
        detail.len() <= ops::audit::MAX_DETAIL + 1024,
        "{}",
        detail.len()
    );
    let d: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert!(d["cut"].as_str().unwrap().contains("more than"), "{d}");
    assert!(log.verify().await.unwrap().broken.is_none());
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
    concurrent_appends_keep_one_chain,
    an_edit_of_any_field_is_named,
    truncate_is_refused,
    the_head_moves_only_forward,
    a_truncated_chain_is_caught_by_a_checkpoint,
    a_cut_tail_with_a_rewritten_head_is_caught_by_a_checkpoint,
    a_re_hashed_chain_is_caught_by_a_checkpoint,
    a_checkpoint_holds_as_the_chain_grows,
    the_checkpointer_never_signs_over_a_cut,
    every_field_is_bounded_before_it_is_stored
);

//! The server signs checkpoints of the audit chain's head with `[audit] checkpoint_key_file`: at
//! start, then every interval, and at shutdown; each is in the log, in `/metrics` and appended
//! to `checkpoint_file`, and the last one covers every row written before the server stopped.

use std::time::Duration;

use axum::Router;
use ops::audit::checkpoint::{Checkpoint, CheckpointKey};

use crate::helpers::{spawn_app_with, test_config, StoreKind};

async fn checkpoints_at_start_and_shutdown(kind: StoreKind) {
    let (mut config, dir) = test_config(kind).await;
    let key_file = dir.path().join("audit.key");
    let file = dir.path().join("checkpoints.jsonl");
    let key = CheckpointKey::write_new(&key_file).unwrap();
    config.audit.checkpoint_key_file = Some(key_file);
    config.audit.checkpoint_file = Some(file.clone());
    config.audit.checkpoint_interval_secs = 3600;
    let app = spawn_app_with(config, dir, Router::new()).await;

    // The start's checkpoint reaches the metrics (the helper's sign-in may come before or after).
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = app.metrics().await.text().await.unwrap();
        if metrics.contains("onwatch_audit_checkpoint_seq{") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let public = key.public_key().to_string();
    assert!(
        metrics.contains(&format!("public_key=\"{public}\"")),
        "the checkpoint is a metric: {metrics}"
    );

    // More rows, then a graceful stop: its checkpoint covers them.
    app.signed_in("late-one", "responder").await;
    let store = ops::store::Store::open(&app.store_url, &Default::default())
        .await
        .unwrap();
    app.shutdown.shutdown();
    app.handle.await.unwrap().unwrap();
    let log = ops::audit::AuditLog::new(store.clone());
    let head = log.verified_head(None).await.unwrap().unwrap();
    assert!(head.seq >= 2, "sign-ins are audited: {head:?}");
    let lines = Checkpoint::parse_lines(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(lines.len() >= 2, "one at start, one at shutdown: {lines:?}");
    let last = lines.last().unwrap();
    assert_eq!((last.seq, &last.hash), (head.seq, &head.hash));
    for c in &lines {
        c.check(Some(&key.public_key())).unwrap();
    }
    let anchors: Vec<_> = lines.iter().map(Checkpoint::anchor).collect();
    assert_eq!(log.verify_against(&anchors).await.unwrap().broken, None);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_at_start_and_shutdown_on_sqlite() {
    checkpoints_at_start_and_shutdown(StoreKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_at_start_and_shutdown_on_postgres() {
    checkpoints_at_start_and_shutdown(StoreKind::Postgres).await;
}

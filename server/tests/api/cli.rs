//! The binary's start-up: bad configuration stops it with one clear message.

use std::process::Command;

fn onwatch(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onwatch"));
    cmd.args(args).current_dir(dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("ONWATCH_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_file(contents: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), contents).unwrap();
    f
}

#[test]
fn help_lists_the_commands_and_the_config_flag() {
    let (code, out, _) = onwatch(&["--help"], &[]);
    assert_eq!(code, 0);
    for word in ["serve", "migrate", "check-config", "--config"] {
        assert!(out.contains(word), "{word} in --help:\n{out}");
    }
}

#[test]
fn bad_configurations_stop_start_up_with_one_clear_line() {
    let unknown = config_file("[server]\nlisen = \"127.0.0.1:1\"\n");
    let malformed = config_file("[store]\nurl = \"postgres://not a url\"\n");
    let secret = config_file(
        "[store]\nurl = \"postgres://onwatch@db/onwatch\"\npassword_file = \"/nonexistent/secret\"\n",
    );
    // (arguments, environment, what the message must name)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["--config", unknown.path().to_str().unwrap(), "check-config"],
            vec![],
            "lisen",
        ),
        (
            vec![
                "--config",
                malformed.path().to_str().unwrap(),
                "check-config",
            ],
            vec![],
            "store.url",
        ),
        (
            vec!["--config", "/nonexistent/onwatch.toml", "check-config"],
            vec![],
            "/nonexistent/onwatch.toml",
        ),
        (
            vec!["--config", secret.path().to_str().unwrap(), "check-config"],
            vec![],
            "store.password_file",
        ),
        (
            vec!["check-config"],
            vec![("ONWATCH_SERVER__LISTEN", "nowhere")],
            "server.listen",
        ),
        (
            vec!["check-config"],
            vec![("ONWATCH_CONFIG", "/nonexistent/via-env.toml")],
            "via-env.toml",
        ),
        (
            vec!["check-config"],
            vec![
                ("ONWATCH_AUTH__DEV_SIGNIN", "true"),
                ("ONWATCH_SERVER__LISTEN", "0.0.0.0:3000"),
            ],
            "auth.dev_signin",
        ),
        (vec!["check-config"], vec![], "nobody could sign in"),
    ];
    for (args, env, expected) in cases {
        let (code, out, err) = onwatch(&args, &env);
        assert_eq!(code, 2, "{args:?} {env:?}: exit code 2\n{out}{err}");
        assert!(err.starts_with("onwatch: configuration error"), "{err}");
        assert!(err.contains(expected), "{args:?}: names {expected}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn check_config_and_migrate_succeed_on_a_good_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let good = config_file(&format!(
        "[store]\nurl = \"sqlite://{}/o.db\"\n[environments.live]\nproduction = true\n[auth]\ndev_signin = true\n",
        dir.path().display()
    ));
    let (code, out, err) = onwatch(
        &["--config", good.path().to_str().unwrap(), "check-config"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("configuration OK"), "{out}");
    let (code, out, err) = onwatch(&["--config", good.path().to_str().unwrap(), "migrate"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("store migrated"), "{out}");
    assert!(dir.path().join("o.db").exists());
}

#[test]
fn an_unreachable_store_stops_start_up_with_a_clear_message() {
    let (code, _, err) = onwatch(
        &["serve"],
        &[
            (
                "ONWATCH_STORE__URL",
                "postgres://onwatch:hunter2@127.0.0.1:1/onwatch",
            ),
            ("ONWATCH_SERVER__LISTEN", "127.0.0.1:0"),
            ("ONWATCH_AUTH__DEV_SIGNIN", "true"),
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to the store"), "{err}");
    assert!(!err.contains("hunter2"), "no password in messages: {err}");
}

/// `onwatch audit verify`: exit 0 and the row count when the chain holds; exit 1 naming the row
/// when someone edited one in the database.
#[tokio::test]
async fn audit_verify_names_the_first_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/onwatch.db", dir.path().display());
    let store = ops::store::Store::open(&url, &Default::default())
        .await
        .unwrap();
    let log = ops::audit::AuditLog::new(store.clone());
    let actor = ops::audit::Actor {
        id: "dev:ada".into(),
        name: "ada".into(),
        role: "admin".into(),
    };
    for i in 0..5 {
        let entry = ops::audit::Entry {
            detail: serde_json::json!({"n": i}),
            ..ops::audit::Entry::new(ops::audit::Event::Signin)
        };
        log.append(&actor, &entry).await.unwrap();
    }
    let env = [
        ("ONWATCH_STORE__URL", url.as_str()),
        ("ONWATCH_AUTH__DEV_SIGNIN", "true"),
    ];
    let (code, out, err) = onwatch(&["audit", "verify"], &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("5 rows, the chain holds"), "{out}");

    for sql in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 3",
    ] {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }
    let (code, out, _) = onwatch(&["audit", "verify"], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at row 3"), "{out}");
    store.close().await;
}

/// `onwatch audit keygen`, `audit checkpoint` and `audit verify --checkpoint`: a chain whose tail
/// was cut and whose head was put back (every trigger dropped first) verifies clean by itself,
/// and fails (exit 1, naming the first missing row) against a checkpoint, given as the file the
/// server appends to or as a bare head hash. A checkpoint edited after signing is refused (2).
#[tokio::test]
async fn audit_verify_against_a_checkpoint_catches_a_cut_chain() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit.key");
    let key_arg = key.to_str().unwrap();
    let (code, out, err) = onwatch(&["audit", "keygen", "--out", key_arg], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let public = std::fs::read_to_string(dir.path().join("audit.key.pub")).unwrap();
    assert!(
        out.contains(public.trim()),
        "keygen prints the public key: {out}"
    );
    let (code, _, err) = onwatch(&["audit", "keygen", "--out", key_arg], &[]);
    assert_eq!(code, 2, "a second keygen never replaces the key: {err}");

    let url = format!("sqlite://{}/onwatch.db", dir.path().display());
    let store = ops::store::Store::open(&url, &Default::default())
        .await
        .unwrap();
    let log = ops::audit::AuditLog::new(store.clone());
    let actor = ops::audit::Actor {
        id: "dev:ada".into(),
        name: "ada".into(),
        role: "admin".into(),
    };
    for i in 0..6 {
        let entry = ops::audit::Entry {
            detail: serde_json::json!({"n": i}),
            ..ops::audit::Entry::new(ops::audit::Event::Signin)
        };
        log.append(&actor, &entry).await.unwrap();
    }
    let file = dir.path().join("checkpoints.jsonl");
    let file_arg = file.to_str().unwrap();
    let env = [
        ("ONWATCH_STORE__URL", url.as_str()),
        ("ONWATCH_AUTH__DEV_SIGNIN", "true"),
        ("ONWATCH_AUDIT__CHECKPOINT_KEY_FILE", key_arg),
        ("ONWATCH_AUDIT__CHECKPOINT_FILE", file_arg),
    ];
    let (code, out, err) = onwatch(&["audit", "checkpoint"], &env);
    assert_eq!(code, 0, "{out}{err}");
    // The checkpoint is the last line (the log, on stdout too, says it before).
    let line = out.lines().last().unwrap_or_default();
    let signed: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(signed["seq"], 6, "{out}");
    let head_hash = signed["hash"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 1);
    let public_file = format!("{key_arg}.pub");
    let pinned = ["--public-key", public_file.as_str()];
    let verify = |checkpoint: &str| {
        let mut args = vec!["audit", "verify", "--checkpoint", checkpoint];
        args.extend(pinned);
        onwatch(&args, &env[..2])
    };
    let (code, out, err) = verify(file_arg);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("6 rows, the chain holds"), "{out}");

    // The attack: every trigger dropped, rows 4 to 6 deleted, the head put back to row 3.
    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' \
         AND tbl_name IN ('audit_log', 'audit_head')",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    for t in triggers {
        sqlx::query(&format!("DROP TRIGGER {t}"))
            .execute(store.pool())
            .await
            .unwrap();
    }
    for sql in [
        "DELETE FROM audit_log WHERE seq > 3",
        "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)",
    ] {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }
    let (code, out, _) = onwatch(&["audit", "verify"], &env[..2]);
    assert_eq!(code, 0, "the store alone cannot see it: {out}");
    for checkpoint in [file_arg, head_hash.as_str()] {
        let (code, out, err) = verify(checkpoint);
        assert_eq!(code, 1, "{checkpoint}: {out}{err}");
        assert!(out.contains("BROKEN at row 4"), "{checkpoint}: {out}");
    }

    // A checkpoint edited to claim less (row 3) no longer matches its signature.
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"seq\":6", "\"seq\":3");
    std::fs::write(&file, edited).unwrap();
    let (code, out, err) = verify(file_arg);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("does not match its signature"), "{err}");
    store.close().await;
}

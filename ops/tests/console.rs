//! The shard console against a real PostgreSQL seeded like the builder datastore (three
//! databases, 128 shard schemas, rows spread by the real shard rule), connecting as the
//! read-only role the README describes. Each test has its own copy of the datastore.

use std::collections::BTreeMap;
use std::time::Duration;

use fleet_sim::datastore::{self, SeededDatastore};
use ops::audit::{Actor, AuditFilter, AuditLog};
use ops::console::{
    ConsoleError, ConsoleOptions, DatabaseConn, QueryRequest, QueryResult, QueryState,
    ShardConsole, ShardState,
};
use ops::store::{Store, StoreOptions};
use sqlx::{Connection, Executor, Row};

struct Fixture {
    seeded: SeededDatastore,
    console: ShardConsole,
    audit: AuditLog,
    app_name: String,
    _dir: tempfile::TempDir,
}

fn ada() -> Actor {
    Actor {
        id: "github:#1".into(),
        name: "ada".into(),
        role: "responder".into(),
    }
}

/// On the shared copy of the datastore: for tests that only read (which the escape suite and
/// the property test check).
async fn fixture(options: ConsoleOptions) -> Fixture {
    let admin = testkit::postgres_admin_url().unwrap();
    let seeded = datastore::shared(&admin).await.unwrap();
    fixture_on(seeded, options).await
}

async fn fixture_on(seeded: SeededDatastore, mut options: ConsoleOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite://{}/onwatch.db", dir.path().display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    let app_name = testkit::unique_name("onwatch_console");
    options.application_name = app_name.clone();
    let dbs: BTreeMap<String, DatabaseConn> = seeded
        .databases
        .iter()
        .map(|(db, _, ro)| {
            (
                db.clone(),
                DatabaseConn {
                    url: ro.clone(),
                    password: None,
                },
            )
        })
        .collect();
    let console = ShardConsole::new(
        options,
        BTreeMap::from([("live".to_owned(), dbs)]),
        store.clone(),
    )
    .unwrap();
    Fixture {
        seeded,
        console,
        audit: AuditLog::new(store),
        app_name,
        _dir: dir,
    }
}

fn req(db: &str, shards: &str, sql: &str) -> QueryRequest {
    QueryRequest {
        environment: "live".into(),
        database: db.into(),
        shards: shards.into(),
        sql: sql.into(),
    }
}

impl Fixture {
    async fn run(
        &self,
        db: &str,
        shards: &str,
        sql: &str,
    ) -> Result<std::sync::Arc<QueryResult>, ConsoleError> {
        let run = self.console.start(&ada(), req(db, shards, sql)).await?;
        Ok(run
            .wait(Duration::from_secs(60))
            .await
            .expect("the query ended within 60 s"))
    }

    async fn admin(&self, db: &str) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(self.seeded.admin_url(db).unwrap())
            .await
            .unwrap()
    }

    async fn console_rows(&self) -> i64 {
        let filter = AuditFilter {
            kind: "console".into(),
            ..Default::default()
        };
        self.audit
            .search(&filter, None, 100_000)
            .await
            .unwrap()
            .len() as i64
    }

    async fn checksums(&self) -> Vec<String> {
        checksums(&self.seeded).await
    }
}

fn text(cell: &ops::console::Cell) -> String {
    cell.as_text().unwrap_or("NULL").to_owned()
}

#[tokio::test]
async fn all_shards_equal_a_union_all_oracle() {
    let f = fixture(ConsoleOptions::default()).await;
    let result = f
        .run(
            "builder_originsrv",
            "all",
            "SELECT name, id FROM origins ORDER BY name",
        )
        .await
        .unwrap();
    assert_eq!(result.state, QueryState::Complete, "{:?}", result.truncated);
    assert_eq!(result.columns, vec!["name", "id"]);
    assert_eq!(result.shards.len(), 128);
    let mut ours: Vec<(u32, String, String)> = result
        .rows
        .iter()
        .map(|r| (r.shard, text(&r.cells[0]), text(&r.cells[1])))
        .collect();
    ours.sort();
    let oracle_sql: Vec<String> = (0..128)
        .map(|s| format!("SELECT {s} AS shard, name, id::text FROM shard_{s}.origins"))
        .collect();
    let mut admin = f.admin("builder_originsrv").await;
    let mut oracle: Vec<(u32, String, String)> = sqlx::query(&oracle_sql.join(" UNION ALL "))
        .fetch_all(&mut admin)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<i32, _>(0) as u32, r.get(1), r.get(2)))
        .collect();
    oracle.sort();
    assert_eq!(ours.len(), datastore::GENERATED_ORIGINS + 3);
    assert_eq!(ours, oracle);
    // The shard rule of the reference: core's row is in shard 30, with an id that says so.
    let core = result
        .rows
        .iter()
        .find(|r| text(&r.cells[0]) == "core")
        .unwrap();
    assert_eq!(core.shard, 30);
    let id: u64 = text(&core.cells[1]).parse().unwrap();
    assert_eq!(ops::console::locator::shard_of_id(id), 30);
}

#[tokio::test]
async fn one_shard_a_list_and_the_unsharded_database() {
    let f = fixture(ConsoleOptions::default()).await;
    let located = ops::console::locator::locate("core").unwrap();
    let one = f
        .run(
            "builder_originsrv",
            &located.shard.to_string(),
            "SELECT name FROM origins WHERE name = 'core'",
        )
        .await
        .unwrap();
    assert_eq!(one.shards.len(), 1);
    assert_eq!(one.rows.len(), 1);
    assert_eq!(one.rows[0].shard, 30);
    let habitat = ops::console::locator::locate("habitat").unwrap().shard;
    assert_eq!(habitat, 80);
    let list = f
        .run(
            "builder_originsrv",
            "30,80",
            "SELECT name FROM origins WHERE name IN ('core', 'habitat')",
        )
        .await
        .unwrap();
    let names: Vec<(u32, String)> = list
        .rows
        .iter()
        .map(|r| (r.shard, text(&r.cells[0])))
        .collect();
    assert_eq!(names, vec![(30, "core".into()), (80, "habitat".into())]);
    // builder_jobsrv is not sharded: everything is in shard_0.
    let jobs = f
        .run("builder_jobsrv", "all", "SELECT count(*) AS n, array_agg(DISTINCT job_state ORDER BY job_state) AS states FROM jobs")
        .await
        .unwrap();
    assert_eq!(jobs.shards.len(), 1);
    assert_eq!(text(&jobs.rows[0].cells[0]), "500");
    assert!(
        text(&jobs.rows[0].cells[1]).starts_with('['),
        "an array stays JSON: {:?}",
        jobs.rows[0].cells[1]
    );
    let refused = f.run("builder_jobsrv", "5", "SELECT 1").await;
    assert!(
        matches!(refused, Err(ConsoleError::Refused(ref m)) if m.contains("not sharded")),
        "{refused:?}"
    );
    // SHOW and EXPLAIN run as they are.
    let show = f
        .run("builder_originsrv", "3", "SHOW search_path")
        .await
        .unwrap();
    assert_eq!(text(&show.rows[0].cells[0]), "\"shard_3\"");
    let explain = f
        .run(
            "builder_originsrv",
            "3",
            "EXPLAIN SELECT * FROM origins WHERE name = 'x'",
        )
        .await
        .unwrap();
    assert!(explain
        .rows
        .iter()
        .any(|r| text(&r.cells[0]).contains("origins")));
}

#[tokio::test]
async fn a_broken_shard_is_listed_while_the_others_return() {
    // Its own copy: this test breaks a shard.
    let admin_url = testkit::postgres_admin_url().unwrap();
    let prefix = testkit::unique_name("ds");
    let seeded = datastore::copy(&admin_url, &prefix).await.unwrap();
    let f = fixture_on(seeded, ConsoleOptions::default()).await;
    let mut admin = f.admin("builder_originsrv").await;
    admin
        .execute("DROP TABLE shard_7.origin_members")
        .await
        .unwrap();
    let result = f
        .run(
            "builder_originsrv",
            "all",
            "SELECT origin_name FROM origin_members",
        )
        .await
        .unwrap();
    assert_eq!(result.state, QueryState::Partial);
    let failed: Vec<_> = result.failed().collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].shard, 7);
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap()
            .contains("origin_members"),
        "{:?}",
        failed[0].error
    );
    let ok = result
        .shards
        .iter()
        .filter(|s| s.state == ShardState::Ok)
        .count();
    assert_eq!(ok, 127);
    assert!(result.rows.len() > 1000);
    assert!(result.rows.iter().all(|r| r.shard != 7));
    drop(admin);
    f.console.close();
    datastore::drop_copy(&admin_url, &prefix).await.unwrap();
}

#[tokio::test]
async fn caps_cut_and_say_so() {
    let f = fixture(ConsoleOptions {
        rows_per_shard: 5,
        rows_total: 100,
        ..ConsoleOptions::default()
    })
    .await;
    // Per shard: every shard has more than 5 packages.
    let r = f
        .run(
            "builder_originsrv",
            "0-9",
            "SELECT ident FROM origin_packages",
        )
        .await
        .unwrap();
    assert_eq!(r.state, QueryState::Truncated);
    assert_eq!(r.rows.len(), 50);
    assert!(r
        .shards
        .iter()
        .all(|s| s.state == ShardState::Truncated && s.rows == 5));
    assert!(
        r.truncated[0].contains("at most 5 rows per shard"),
        "{:?}",
        r.truncated
    );
    // In total: 128 shards × 5 rows would be 640.
    let r = f
        .run(
            "builder_originsrv",
            "all",
            "SELECT ident FROM origin_packages",
        )
        .await
        .unwrap();
    assert_eq!(r.state, QueryState::Truncated);
    assert_eq!(r.rows.len(), 100);
    assert!(
        r.truncated
            .iter()
            .any(|t| t.contains("at most 100 rows in total")),
        "{:?}",
        r.truncated
    );
    // Bytes: a 10-million-row question stops at the byte cap, streamed.
    let f = fixture(ConsoleOptions {
        rows_per_shard: 10_000_000,
        rows_total: 100_000_000,
        bytes_total: 64 * 1024,
        ..ConsoleOptions::default()
    })
    .await;
    let r = f
        .run(
            "builder_originsrv",
            "0",
            "SELECT g, repeat('x', 100) FROM generate_series(1, 10000000) g",
        )
        .await
        .unwrap();
    assert_eq!(r.state, QueryState::Truncated);
    assert!(r.bytes <= 64 * 1024);
    assert!(
        r.rows.len() > 100 && r.rows.len() < 1000,
        "{}",
        r.rows.len()
    );
    assert!(
        r.truncated.iter().any(|t| t.contains("64 KiB")),
        "{:?}",
        r.truncated
    );
}

/// A single row larger than a whole answer may hold is never sent by Postgres: the shard says
/// how large it was, and the other shards still answer.
#[tokio::test]
async fn a_row_larger_than_an_answer_is_refused_before_it_is_sent() {
    let f = fixture(ConsoleOptions {
        bytes_total: 64 * 1024,
        ..ConsoleOptions::default()
    })
    .await;
    let r = f
        .run(
            "builder_originsrv",
            "0-3",
            "SELECT repeat('x', CASE WHEN current_schema() = 'shard_1' THEN 3000000 ELSE 10 END) AS big",
        )
        .await
        .unwrap();
    assert!(r.bytes <= 64 * 1024, "{}", r.bytes);
    let failed = format!("{:?}", r.failed().collect::<Vec<_>>());
    assert_eq!(r.rows.len(), 3, "{failed}");

    assert!(
        failed.contains("more than a whole answer may hold") && failed.contains("2.9 MiB"),
        "{failed}"
    );
}

#[tokio::test]
async fn a_statement_timeout_fails_the_shard_with_its_reason() {
    let f = fixture(ConsoleOptions {
        statement_timeout_secs: 1,
        ..ConsoleOptions::default()
    })
    .await;
    let r = f
        .run(
            "builder_originsrv",
            "0-1",
            "SELECT count(*) FROM generate_series(1, 2000000000)",
        )
        .await
        .unwrap();
    assert_eq!(r.state, QueryState::Failed);
    for s in r.failed() {
        assert!(
            s.error.as_deref().unwrap().contains("statement timeout"),
            "{:?}",
            s.error
        );
    }
    assert_eq!(r.failed().count(), 2);
}

#[tokio::test]
async fn cancel_stops_the_query_and_leaves_no_backend_of_ours() {
    let f = fixture(ConsoleOptions::default()).await;
    let run = f
        .console
        .start(
            &ada(),
            req(
                "builder_originsrv",
                "all",
                "SELECT count(*) FROM generate_series(1, 2000000000)",
            ),
        )
        .await
        .unwrap();
    let mut admin = f.admin("builder_originsrv").await;
    // Wait until the console's backends are running the statement.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = sqlx::query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'")
            .bind(&f.app_name)
            .fetch_one(&mut admin)
            .await
            .unwrap()
            .get(0);
        if n >= 8 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the query never ran on 8 backends"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f.console.cancel(&run.id, &ada()).unwrap();
    let result = match run.wait(Duration::from_secs(10)).await {
        Some(r) => r,
        None => panic!("not cancelled within 10 s: {:?}", *run.progress().borrow()),
    };
    assert_eq!(result.state, QueryState::Cancelled);
    assert!(
        result
            .shards
            .iter()
            .all(|s| s.state == ShardState::Cancelled),
        "{:?}",
        result.shards
    );
    // The cancelled connections are closed: no backend of ours is left, running or idle.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 =
            sqlx::query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(&f.app_name)
                .fetch_one(&mut admin)
                .await
                .unwrap()
                .get(0);
        if n == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} backends of ours left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Another person's query cannot be cancelled by id.
    let eve = Actor {
        id: "github:#9".into(),
        name: "eve".into(),
        role: "responder".into(),
    };
    assert!(f.console.cancel(&run.id, &eve).is_err());
}

#[tokio::test]
async fn browse_and_the_roles_privileges() {
    let f = fixture(ConsoleOptions::default()).await;
    let dbs = f.console.databases("live").await;
    assert_eq!(dbs.len(), 3);
    let origins = dbs.iter().find(|d| d.name == "builder_originsrv").unwrap();
    assert_eq!(origins.error, None);
    assert_eq!(origins.layout, Some(ops::console::Layout::Sharded(128)));
    let role = origins.role.as_ref().unwrap();
    assert!(role.can_write.is_empty(), "{:?}", role.can_write);
    assert_eq!(role.statement_timeout, "30s");
    let jobs = dbs.iter().find(|d| d.name == "builder_jobsrv").unwrap();
    assert_eq!(
        jobs.layout,
        Some(ops::console::Layout::Single("shard_0".into()))
    );
    let tables = f
        .console
        .tables("live", "builder_originsrv", 30)
        .await
        .unwrap();
    let t = tables.iter().find(|t| t.name == "origins").unwrap();
    assert!(t.columns.iter().any(|(c, ty)| c == "name" && ty == "text"));
    assert!(t.estimate >= 1.0, "analysed: {}", t.estimate);
    // Connected as the cluster's superuser, the page must warn.
    let mut admin_seeded = f.seeded.clone();
    for d in &mut admin_seeded.databases {
        d.2 = d.1.clone();
    }
    let g = fixture_on(admin_seeded, ConsoleOptions::default()).await;
    let dbs = g.console.databases("live").await;
    let role = dbs[0].role.as_ref().unwrap();
    assert!(
        role.can_write.iter().any(|w| w.contains("superuser")),
        "{:?}",
        role.can_write
    );
}

#[tokio::test]
async fn a_role_that_can_write_runs_nothing() {
    let base = fixture(ConsoleOptions::default()).await;
    // Connected as the cluster's superuser: the page warns, and no query runs.
    let mut admin_seeded = base.seeded.clone();
    for d in &mut admin_seeded.databases {
        d.2 = d.1.clone();
    }
    let f = fixture_on(admin_seeded, ConsoleOptions::default()).await;
    let r = f.run("builder_originsrv", "30", "SELECT 1").await;
    match r {
        Err(ConsoleError::Refused(m)) => {
            assert!(m.contains("superuser"), "{m}");
            assert!(m.contains("only SELECT"), "{m}");
        }
        other => panic!("ran as a role that can write: {other:?}"),
    }
    let rows = f
        .audit
        .search(
            &AuditFilter {
                kind: "console".into(),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, vec!["refused"]);
}

#[tokio::test]
async fn volatile_functions_are_refused_by_the_databases_catalog() {
    let f = fixture(ConsoleOptions::default()).await;
    for (sql, named) in [
        (
            "SELECT ts_stat('SELECT to_tsvector(name) FROM origins')",
            "ts_stat",
        ),
        (
            "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')",
            "ts_rewrite",
        ),
        ("SELECT next_id_v1('origin_id_seq')", "next_id_v1"),
        (
            "SELECT ('origin_id_seq'::regclass).next_id_v1",
            "next_id_v1",
        ),
        ("SELECT setseed(0.5)", "setseed"),
    ] {
        match f.run("builder_originsrv", "0-3", sql).await {
            Err(ConsoleError::Refused(m)) => assert!(m.contains(named), "{sql}: {m}"),
            Ok(r) => panic!("ran: {sql} → {:?}", r.state),
            Err(e) => panic!("{sql}: {e}"),
        }
    }
    // Volatile functions that only read are allowed, and everything stable or immutable runs.
    for sql in [
        "SELECT random() < 2 AS r, clock_timestamp() IS NOT NULL AS c, gen_random_uuid() IS NOT NULL AS u",
        "SELECT pg_size_pretty(pg_total_relation_size('origins')) AS size, pg_relation_size('origins') >= 0 AS ok",
        "SELECT name, md5(name), now() FROM origins",
        "SELECT count(*) FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0",
        "SELECT count(*) FROM pg_locks",
    ] {
        let r = f.run("builder_originsrv", "0-3", sql).await.unwrap();
        assert_eq!(r.state, QueryState::Complete, "{sql}: {:?}", r.shards);
    }
}

#[tokio::test]
async fn a_session_lock_does_not_outlive_its_query() {
    let f = fixture(ConsoleOptions::default()).await;
    let r = f
        .run(
            "builder_originsrv",
            "0-3",
            "SELECT * FROM ts_stat('SELECT to_tsvector(''a'') FROM pg_advisory_lock(4244)')",
        )
        .await;
    let mut admin = f.admin("builder_originsrv").await;
    let held: i64 = sqlx::query(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND a.application_name = $1",
    )
    .bind(&f.app_name)
    .fetch_one(&mut admin)
    .await
    .unwrap()
    .get(0);
    assert_eq!(
        held, 0,
        "a backend of the console's pool holds a session lock"
    );
    assert!(
        matches!(r, Err(ConsoleError::Refused(ref m)) if m.contains("ts_stat")),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_connection_is_reset_before_it_is_reused() {
    let f = fixture(ConsoleOptions::default()).await;
    let options = ops::console::pool::connect_options(
        f.seeded.ro_url("builder_originsrv").unwrap(),
        None,
        &f.app_name,
    )
    .unwrap();
    // One slot: the second lease is the first one's connection.
    let pool = ops::console::pool::DbPool::new("test".into(), options, 1, Duration::from_secs(5));
    let mut lease = pool.acquire().await.unwrap();
    let pid = lease.backend.pid;
    let conn = &mut lease.backend.conn;
    conn.execute("SELECT pg_advisory_lock(4245)").await.unwrap();
    conn.execute("SET work_mem = '1234kB'").await.unwrap();
    conn.execute("PREPARE onwatch_left_behind AS SELECT 1")
        .await
        .unwrap();
    lease.give_back().await;
    let mut lease = pool.acquire().await.unwrap();
    assert_eq!(lease.backend.pid, pid, "the connection was not reused");
    let mut admin = f.admin("builder_originsrv").await;
    let held: i64 =
        sqlx::query("SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap()
            .get(0);
    assert_eq!(held, 0, "the advisory lock survived");
    let conn = &mut lease.backend.conn;
    let work_mem: String = sqlx::query("SELECT current_setting('work_mem')")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    assert_ne!(work_mem, "1234kB");
    assert!(conn.execute("EXECUTE onwatch_left_behind").await.is_err());
    // The connection's own settings (from the connect) are still there.
    let app: String = sqlx::query("SELECT current_setting('application_name')")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(app, f.app_name);
}

#[tokio::test]
async fn history_and_saved_queries() {
    let f = fixture(ConsoleOptions::default()).await;
    f.run("builder_originsrv", "30", "SELECT name FROM origins")
        .await
        .unwrap();
    let h = f.console.history().of("github:#1", 10).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].sql, "SELECT name FROM origins");
    assert_eq!(h[0].state, "complete");
    let history = f.console.history();
    history
        .save(
            &ada(),
            &ops::console::NewSaved {
                name: "origins in every shard",
                description: "",
                database: "builder_originsrv",
                shards: "all",
                sql: "SELECT name FROM origins",
                shared: true,
            },
        )
        .await
        .unwrap();
    history
        .save(
            &ada(),
            &ops::console::NewSaved {
                name: "mine",
                description: "",
                database: "builder_originsrv",
                shards: "all",
                sql: "SELECT 1",
                shared: false,
            },
        )
        .await
        .unwrap();
    assert!(history
        .save(
            &ada(),
            &ops::console::NewSaved {
                name: "bad",
                description: "",
                database: "builder_originsrv",
                shards: "all",
                sql: "DELETE FROM origins",
                shared: true
            },
        )
        .await
        .is_err());
    let bob = history.saved("github:#2").await.unwrap();
    assert_eq!(
        bob.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        vec!["origins in every shard"]
    );
    assert_eq!(history.saved("github:#1").await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_viewer_is_refused_and_every_attempt_is_audited() {
    let f = fixture(ConsoleOptions::default()).await;
    let viewer = Actor {
        id: "github:#3".into(),
        name: "vic".into(),
        role: "viewer".into(),
    };
    let r = f
        .console
        .start(&viewer, req("builder_originsrv", "all", "SELECT 1"))
        .await;
    assert!(matches!(r, Err(ConsoleError::Refused(ref m)) if m.contains("responder")));
    let r = f.run("builder_nope", "all", "SELECT 1").await;
    assert!(matches!(r, Err(ConsoleError::Refused(ref m)) if m.contains("builder_originsrv")));
    let rows = f
        .audit
        .search(
            &AuditFilter {
                kind: "console".into(),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.outcome == "refused"));
    // An export is audited too.
    let run = f
        .console
        .start(
            &ada(),
            req("builder_originsrv", "30", "SELECT name, id FROM origins"),
        )
        .await
        .unwrap();
    run.wait(Duration::from_secs(30)).await.unwrap();
    let csv = f
        .console
        .export(&run.id, &ada(), ops::console::export::Format::Csv)
        .await
        .unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("shard,name,id\r\n"), "{csv}");
    assert!(csv.contains("\r\n30,core,"), "{csv}");
    let json = f
        .console
        .export(&run.id, &ada(), ops::console::export::Format::Json)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["columns"], serde_json::json!(["shard", "name", "id"]));
    let rows = f.audit.of_action(&run.id).await.unwrap();
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("console.query", "started"),
            ("console.query", "complete"),
            ("console.export", "exported"),
            ("console.export", "exported"),
        ]
    );
}

/// Statements that must not change anything: each is refused by the guard or fails in the
/// database, and every table, sequence and catalog count is the same afterwards.
const ESCAPES: &[&str] = &[
    "INSERT INTO origins (name) VALUES ('evil')",
    "insert into origins (name) values ('evil')",
    "UPDATE origins SET name = 'evil'",
    "DELETE FROM origins",
    "MERGE INTO origins o USING origins s ON o.id = s.id WHEN MATCHED THEN DELETE",
    "TRUNCATE origins",
    "DROP TABLE origins",
    "ALTER TABLE origins ADD COLUMN evil text",
    "CREATE TABLE evil (x int)",
    "CREATE TEMP TABLE evil (x int)",
    "CREATE FUNCTION evil() RETURNS int AS 'select 1' LANGUAGE sql",
    "CREATE EXTENSION dblink",
    "GRANT ALL ON origins TO PUBLIC",
    "COPY origins TO '/tmp/evil.csv'",
    "COPY origins FROM '/etc/passwd'",
    "COPY origins TO PROGRAM 'touch /tmp/evil'",
    "COPY (SELECT 1) TO STDOUT",
    "WITH d AS (DELETE FROM origins RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE origins SET name = 'x' RETURNING id) SELECT count(*) FROM u",
    "WITH i AS (INSERT INTO origins (name) VALUES ('e') RETURNING id) SELECT * FROM i",
    "SELECT * INTO evil FROM origins",
    "SELECT * FROM origins FOR UPDATE",
    "SELECT * FROM origins FOR SHARE",
    "SELECT * FROM origins FOR NO KEY UPDATE",
    "SELECT * FROM origins FOR KEY SHARE",
    "SELECT 1; DELETE FROM origins",
    "SELECT 1; SELECT 2",
    "COMMIT; INSERT INTO origins (name) VALUES ('evil')",
    "SET TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "RESET ALL",
    "BEGIN",
    "DO $$ BEGIN DELETE FROM origins; END $$",
    "CALL evil()",
    "SELECT nextval('origin_id_seq')",
    "SELECT setval('origin_id_seq', 1)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT pg_cancel_backend(1)",
    "SELECT lo_import('/etc/passwd')",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT * FROM pg_read_binary_file('/etc/passwd')",
    "SELECT dblink_exec('dbname=postgres', 'DROP TABLE x')",
    "SELECT * FROM dblink('dbname=x', 'select 1') AS t(x int)",
    "LOCK TABLE origins IN ACCESS EXCLUSIVE MODE",
    "VACUUM origins",
    "LISTEN evil",
    "NOTIFY evil",
    "SELECT pg_notify('evil', 'x')",
    "PREPARE evil AS DELETE FROM origins",
    "EXECUTE evil",
    "DECLARE c CURSOR FOR SELECT * FROM origins",
    "/* comment */ DeLeTe /* more */ FROM origins",
    "-- a comment\nDELETE FROM origins",
    "SeLeCt PG_CATALOG.\"pg_sleep\"(1)",
    "SELECT \"pg_catalog\".\"set_config\"('x', 'y', false)",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_try_advisory_lock(1)",
    "SELECT txid_current()",
    "SELECT pg_current_xact_id()",
    "SELECT $$x$$; DELETE FROM origins",
    "DO $tag$ BEGIN DELETE FROM origins; END $tag$",
    "SELECT U&'\\0041'; DELETE FROM origins",
    "SELECT U&\"pg_sleep\"(1)",
    "SELECT next_id_v1('origin_id_seq')",
    "SELECT shard_0.next_id_v1('origin_id_seq')",
    "SELECT ('origin_id_seq'::regclass).next_id_v1",
    "SELECT * FROM ts_stat('SELECT to_tsvector(''a'') FROM pg_advisory_lock(1)')",
    "SELECT ts_stat('SELECT to_tsvector(nextval(''origin_id_seq'')::text)')",
    "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery FROM pg_advisory_lock(1)')",
    "SELECT * FROM crosstab('SELECT 1, 2, 3') AS t(a int, b int)",
    "SELECT currval('origin_id_seq')",
    "SELECT setseed(0.5)",
    "SELECT query_to_xml('DELETE FROM origins RETURNING 1', true, true, '')",
    "EXPLAIN ANALYZE DELETE FROM origins",
    "EXPLAIN (ANALYZE true) SELECT 1",
    "EXPLAIN DELETE FROM origins",
    "SELECT pg_reload_conf()",
    "SELECT pg_rotate_logfile()",
    "SELECT pg_ls_dir('.')",
    "SELECT pg_stat_file('postgresql.conf')",
    "SELECT pg_stat_reset()",
    "TABLE origins; TRUNCATE origins",
    "VALUES (1); DROP TABLE origins",
    "SHOW ALL; RESET ALL",
    "",
    "   ;  ",
];

#[tokio::test]
async fn the_escape_suite_changes_nothing_and_is_audited() {
    let f = fixture(ConsoleOptions::default()).await;
    let before = f.checksums().await;
    let long = format!("SELECT 1 {}", "+ 1 ".repeat(40_000));
    let mut attempts: Vec<String> = ESCAPES.iter().map(|s| (*s).to_owned()).collect();
    attempts.push(long);
    attempts.push(format!("SELECT {}1{}", "(".repeat(500), ")".repeat(500)));
    assert!(attempts.len() >= 60, "{}", attempts.len());
    // Every one is refused before anything runs: the guard does the work, and the database's
    // own refusals (a read-only transaction, a role that can only read) are walls behind it, not
    // a substitute for it.
    let mut let_through = Vec::new();
    for sql in &attempts {
        let rows_before = f.console_rows().await;
        for db in ["builder_originsrv", "builder_jobsrv"] {
            let shards = if db == "builder_jobsrv" { "all" } else { "0-3" };
            match f.run(db, shards, sql).await {
                Err(ConsoleError::Refused(_)) => {}
                Ok(r) => let_through.push(format!("{db}: {sql:?} → {:?}", r.state)),
                Err(e) => panic!("{sql:?}: {e}"),
            }
        }
        let rows_after = f.console_rows().await;
        assert!(rows_after >= rows_before + 2, "not audited: {sql:?}");
    }
    assert!(
        let_through.is_empty(),
        "the guard let these through:\n{}",
        let_through.join("\n")
    );
    assert_eq!(f.checksums().await, before, "something changed");
}

/// A small deterministic generator of statements from a grammar of what matters: mostly
/// well-formed queries (so that many are accepted and run) with writes, denied and harmless
/// functions, quoting, comments, locking and separators mixed in. Whatever the guard accepts is
/// run as a role that can write, outside any read-only transaction: the datastore must be
/// unchanged at the end, and no statement may leave a lock behind.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    fn expr(&mut self, depth: u32) -> String {
        const LEAVES: &[&str] = &[
            "1",
            "name",
            "id",
            "count(*)",
            "'x'",
            "$$x$$",
            "$t$;DELETE FROM origins;$t$",
            "E'\\x41'",
            "U&'\\0041'",
            "now()",
            "pg_backend_pid()",
            "current_setting('search_path')",
            "nextval('origin_id_seq')",
            "next_id_v1('origin_id_seq')",
            "setval('origin_id_seq', 1)",
            "set_config('a', 'b', false)",
            "pg_sleep(0)",
            "\"PG_SLEEP\"(0)",
            "pg_catalog.pg_sleep(0)",
            "txid_current()",
            "lo_import('/etc/passwd')",
            "pg_advisory_lock(1)",
            "pg_notify('a', 'b')",
            "query_to_xml('delete from origins', true, true, '')",
            "insert_origin_v1('x', 1)",
            // Functions that run SQL from a string, and a volatile function reached by attribute
            // notation: what reads as a harmless call advances a sequence or takes a session lock.
            "ts_stat('SELECT to_tsvector(nextval(''origin_id_seq'')::text)')",
            "ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery FROM pg_advisory_lock(1)')",
            "('origin_id_seq'::regclass).next_id_v1",
            // Volatile, but only read: allowed, so they run.
            "random()",
            "clock_timestamp()",
            "md5(name)",
            "length(name)",
            "id & 8191",
            "NULL",
        ];
        if depth > 0 && self.next().is_multiple_of(4) {
            format!("(SELECT {} FROM origins LIMIT 1)", self.expr(depth - 1))
        } else {
            self.pick(LEAVES).to_owned()
        }
    }

    fn statement(&mut self, depth: u32) -> String {
        const TABLES: &[&str] = &[
            "origins",
            "origin_packages",
            "shard_0.origins",
            "pg_class",
            "origin_id_seq",
        ];
        const WRITES: &[&str] = &[
            "DELETE FROM origins RETURNING id",
            "UPDATE origins SET name = 'e' RETURNING id",
            "INSERT INTO origins (name) VALUES ('e') RETURNING id",
        ];
        const TAILS: &[&str] = &[
            "",
            "",
            "",
            " LIMIT 1",
            " ORDER BY 1",
            " FOR UPDATE",
            " FOR SHARE",
            "; DELETE FROM origins",
            " -- ; DELETE FROM origins",
            " /* */",
            " UNION ALL SELECT 1",
            "; SELECT 1",
        ];
        let head = match self.next() % 6 {
            0 if depth > 0 => format!("WITH w AS ({}) ", self.statement(depth - 1)),
            1 => format!("WITH w AS ({}) ", self.pick(WRITES)),
            _ => String::new(),
        };
        let body = match self.next() % 8 {
            0 => format!("VALUES ({})", self.expr(1)),
            1 => format!("TABLE {}", self.pick(TABLES)),
            2 => format!("EXPLAIN SELECT {} FROM {}", self.expr(1), self.pick(TABLES)),
            3 => "SHOW search_path".to_owned(),
            _ => format!(
                "SELECT {}, {} FROM {}",
                self.expr(2),
                self.expr(1),
                self.pick(TABLES)
            ),
        };
        format!("{head}{body}{}", self.pick(TAILS))
    }
}

#[tokio::test]
async fn nothing_the_guard_accepts_writes() {
    let cases: usize = std::env::var("ONWATCH_GUARD_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    // Its own copy, and the cluster's superuser outside any read-only transaction: the walls
    // after the guard (the read-only role, BEGIN READ ONLY) are taken away, so a write the guard
    // let through would move the checksum instead of failing in the database.
    let admin_url = testkit::postgres_admin_url().unwrap();
    let prefix = testkit::unique_name("dsw");
    let seeded = datastore::copy(&admin_url, &prefix).await.unwrap();
    let before = checksums(&seeded).await;
    let mut writer = sqlx::PgConnection::connect(seeded.admin_url("builder_originsrv").unwrap())
        .await
        .unwrap();
    writer
        .execute("SET search_path TO shard_0; SET statement_timeout = '2s'")
        .await
        .unwrap();
    // The writer can write (or the property would be vacuous).
    let can_write: bool = sqlx::query(
        "SELECT current_setting('transaction_read_only') = 'off' AND has_table_privilege('origins', 'INSERT')",
    )
    .fetch_one(&mut writer)
    .await
    .unwrap()
    .get(0);
    assert!(can_write);
    let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    let mut left_locks = Vec::new();
    for _ in 0..cases {
        let sql = gen.statement(2);
        // Both halves of the guard: the statement, then its names against this database.
        let Ok(checked) = ops::console::guard::check(&sql) else {
            continue;
        };
        if ops::console::guard::check_on_database(&mut writer, &checked)
            .await
            .is_err()
        {
            continue;
        }
        accepted += 1;
        // One statement per Parse, as the console sends it; its error (a missing column, a
        // timeout) does not matter here, only what it leaves behind.
        let _ = sqlx::query(&checked.sql)
            .persistent(false)
            .execute(&mut writer)
            .await;
        let locks: i64 = sqlx::query(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'",
        )
        .fetch_one(&mut writer)
        .await
        .unwrap()
        .get(0);
        if locks > 0 {
            left_locks.push(sql.clone());
            writer
                .execute("SELECT pg_advisory_unlock_all()")
                .await
                .unwrap();
        }
    }
    // The known reads are accepted too, so the property is not vacuous.
    for sql in [
        "SELECT 1",
        "SELECT count(*) FROM origins",
        "TABLE origins LIMIT 1",
    ] {
        assert!(ops::console::guard::check(sql).is_ok());
    }
    eprintln!("{cases} generated, {accepted} accepted and run");
    assert!(
        accepted * 5 >= cases,
        "the generator must exercise what the guard accepts: {accepted} of {cases}"
    );
    assert!(
        left_locks.is_empty(),
        "accepted statements left a session lock:\n{}",
        left_locks.join("\n")
    );
    assert_eq!(
        checksums(&seeded).await,
        before,
        "an accepted statement changed the datastore"
    );
    drop(writer);
    datastore::drop_copy(&admin_url, &prefix).await.unwrap();
}

async fn checksums(seeded: &SeededDatastore) -> Vec<String> {
    let mut out = Vec::new();
    for (db, admin, _) in &seeded.databases {
        out.push(format!(
            "{db}:{}",
            datastore::checksum(admin).await.unwrap()
        ));
    }
    out
}

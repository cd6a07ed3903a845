//! A builder datastore to try the console on: the three databases of 2017–2018
//! (`builder_originsrv` and `builder_sessionsrv` with 128 shard schemas each, `builder_jobsrv`
//! in `shard_0`), the tables of `reference/habitat.md` §5.4, each shard's `next_id_v1`, a few
//! thousand rows spread by the real shard rule, and the read-only role the README describes.
//!
//! Seeding 3,000 tables takes seconds, so it is done once per cluster into template databases;
//! each test (or the demo) gets its own copy with `CREATE DATABASE … TEMPLATE …`.

use sqlx::{Connection, Executor, PgConnection, Row};

use ops::console::locator::shard_of_name;

/// The read-only role the console connects as.
pub const RO_ROLE: &str = "onwatch_ro";

/// The databases, and whether they are sharded.
pub const DATABASES: [(&str, bool); 3] = [
    ("builder_originsrv", true),
    ("builder_sessionsrv", true),
    ("builder_jobsrv", false),
];

const TEMPLATE_PREFIX: &str = "onwatch_tpl_v1_";
/// The copy every test that only reads shares (a copy per test would cost ~60 MB a database).
const SHARED_PREFIX: &str = "onwatch_shared_v1";

/// Names of seeded origins every copy has, besides `origin-0001` …: the reference's examples.
pub const KNOWN_ORIGINS: [&str; 3] = ["core", "habitat", "chef"];
/// Generated origins (besides the known ones).
pub const GENERATED_ORIGINS: usize = 1500;

fn shard_tables_originsrv() -> &'static str {
    "CREATE SEQUENCE origin_id_seq;
     CREATE TABLE origins (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_id_seq'), name text UNIQUE, owner_id bigint,
        session_sync bool DEFAULT false, default_package_visibility text NOT NULL DEFAULT 'public',
        created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
     CREATE TABLE origin_members (origin_id bigint REFERENCES origins(id), origin_name text, account_id bigint, account_name text,
        created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(), PRIMARY KEY (origin_id, account_id));
     CREATE SEQUENCE origin_invitations_id_seq;
     CREATE TABLE origin_invitations (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_invitations_id_seq'), origin_id bigint,
        origin_name text, account_id bigint, account_name text, owner_id bigint, ignored bool DEFAULT false,
        account_sync bool DEFAULT false, created_at timestamptz DEFAULT now(), UNIQUE (origin_id, account_id));
     CREATE SEQUENCE origin_package_id_seq;
     CREATE TABLE origin_packages (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_package_id_seq'), origin_id bigint,
        owner_id bigint, name text, ident text UNIQUE, checksum text, manifest text, config text, target text, deps text,
        tdeps text, exposes text, visibility text NOT NULL DEFAULT 'public', scheduler_sync bool DEFAULT false,
        created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
     CREATE SEQUENCE origin_channel_id_seq;
     CREATE TABLE origin_channels (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_channel_id_seq'), origin_id bigint,
        owner_id bigint, name text, created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(),
        UNIQUE (origin_id, name));
     CREATE TABLE origin_channel_packages (channel_id bigint REFERENCES origin_channels(id) ON DELETE CASCADE,
        package_id bigint REFERENCES origin_packages(id), created_at timestamptz DEFAULT now(),
        PRIMARY KEY (channel_id, package_id));
     CREATE SEQUENCE origin_project_id_seq;
     CREATE TABLE origin_projects (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_project_id_seq'), origin_id bigint,
        origin_name text, package_name text, name text, plan_path text, owner_id bigint, vcs_type text, vcs_data text,
        vcs_auth_token text, vcs_username text, vcs_installation_id bigint, visibility text DEFAULT 'public',
        created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(),
        UNIQUE (origin_name, package_name, name));
     CREATE SEQUENCE origin_integration_id_seq;
     CREATE TABLE origin_integrations (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_integration_id_seq'), origin text,
        integration text, name text, body text, created_at timestamptz DEFAULT now(), UNIQUE (origin, integration, name));
     CREATE SEQUENCE origin_public_key_id_seq;
     CREATE TABLE origin_public_keys (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_public_key_id_seq'), origin_id bigint,
        owner_id bigint, name text, revision text, full_name text UNIQUE, body bytea, created_at timestamptz DEFAULT now());
     CREATE SEQUENCE origin_secret_key_id_seq;
     CREATE TABLE origin_secret_keys (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_secret_key_id_seq'), origin_id bigint,
        owner_id bigint, name text, revision text, full_name text UNIQUE, body bytea, created_at timestamptz DEFAULT now());
     CREATE SEQUENCE origin_secrets_id_seq;
     CREATE TABLE origin_secrets (id bigint PRIMARY KEY DEFAULT next_id_v1('origin_secrets_id_seq'), origin_id bigint,
        owner_id bigint, name text, value text, created_at timestamptz DEFAULT now(), UNIQUE (origin_id, name));"
}

fn shard_tables_sessionsrv() -> &'static str {
    "CREATE SEQUENCE accounts_id_seq;
     CREATE TABLE accounts (id bigint PRIMARY KEY DEFAULT next_id_v1('accounts_id_seq'), name text UNIQUE, email text,
        created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
     CREATE TABLE account_origins (account_id bigint, account_name text, origin_id bigint, origin_name text,
        created_at timestamptz DEFAULT now(), UNIQUE (account_id, origin_id));
     CREATE SEQUENCE account_invitations_id_seq;
     CREATE TABLE account_invitations (id bigint PRIMARY KEY DEFAULT next_id_v1('account_invitations_id_seq'),
        origin_invitation_id bigint, origin_id bigint, origin_name text, account_id bigint REFERENCES accounts(id),
        account_name text, owner_id bigint, ignored bool DEFAULT false, UNIQUE (origin_id, account_id));
     CREATE SEQUENCE account_tokens_id_seq;
     CREATE TABLE account_tokens (id bigint PRIMARY KEY DEFAULT next_id_v1('account_tokens_id_seq'), account_id bigint,
        token text UNIQUE, created_at timestamptz DEFAULT now());"
}

fn jobsrv_tables() -> &'static str {
    "CREATE SEQUENCE job_id_seq;
     CREATE TABLE jobs (id bigint PRIMARY KEY DEFAULT next_id_v1('job_id_seq'), owner_id bigint, job_state text,
        project_id bigint, project_name text, project_owner_id bigint, project_plan_path text, vcs text,
        vcs_arguments text[], net_error_code int, net_error_msg text, scheduler_sync bool DEFAULT false,
        sync_count int DEFAULT 0, build_started_at timestamptz, build_finished_at timestamptz, package_ident text,
        archived bool DEFAULT false, channel text, worker text, created_at timestamptz DEFAULT now(),
        updated_at timestamptz DEFAULT now());
     CREATE SEQUENCE groups_id_seq;
     CREATE TABLE groups (id bigint PRIMARY KEY DEFAULT next_id_v1('groups_id_seq'), group_state text, project_name text,
        created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
     CREATE TABLE group_projects (id bigserial PRIMARY KEY, owner_id bigint, project_name text, project_ident text,
        project_state text, job_id bigint, created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now());
     CREATE TABLE graph_packages (id bigserial PRIMARY KEY, ident text UNIQUE, deps text[], target text,
        created_at timestamptz DEFAULT now());
     CREATE TABLE busy_workers (ident text, job_id bigint, quarantined bool, UNIQUE (ident, job_id));
     CREATE TABLE audit (group_id bigint, operation smallint, trigger smallint, requester_id bigint,
        requester_name text, created_at timestamptz DEFAULT now());"
}

/// `next_id_v1` of one shard, as Builder's migrator installs it.
fn next_id(schema: &str, shard: u32) -> String {
    format!(
        "CREATE FUNCTION {schema}.next_id_v1(sequence_id regclass, OUT result bigint) AS $$
         DECLARE our_epoch bigint := 1409266191000; seq_id bigint; now_ms bigint; shard_id int := {shard};
         BEGIN
           SELECT nextval(sequence_id) % 1024 INTO seq_id;
           SELECT FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) INTO now_ms;
           result := (now_ms - our_epoch) << 23;
           result := result | (seq_id << 13);
           result := result | (shard_id);
         END; $$ LANGUAGE PLPGSQL;"
    )
}

/// A Builder id made in `shard` (milliseconds from a fixed base, so seeds are reproducible).
fn make_id(n: u64, shard: u32) -> i64 {
    let ms: u64 = 120_000_000_000 + n * 1_000;
    ((ms << 23) | ((n % 1024) << 13) | u64::from(shard)) as i64
}

fn origin_names() -> Vec<String> {
    let mut names: Vec<String> = KNOWN_ORIGINS.iter().map(|s| (*s).to_owned()).collect();
    names.extend((1..=GENERATED_ORIGINS).map(|i| format!("origin-{i:04}")));
    names
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The rows of builder_originsrv, by the shard rule.
fn originsrv_rows() -> String {
    let mut sql = String::new();
    for (i, name) in origin_names().iter().enumerate() {
        let shard = shard_of_name(name);
        let s = format!("shard_{shard}");
        let oid = make_id(i as u64 * 10, shard);
        let owner = make_id(
            i as u64 * 10 + 1,
            shard_of_name(&format!("user-{:04}", i % 800)),
        );
        sql.push_str(&format!(
            "INSERT INTO {s}.origins (id, name, owner_id) VALUES ({oid}, {}, {owner});\n\
             INSERT INTO {s}.origin_members (origin_id, origin_name, account_id, account_name) VALUES ({oid}, {}, {owner}, {});\n",
            q(name),
            q(name),
            q(&format!("user-{:04}", i % 800)),
        ));
        let chan = make_id(i as u64 * 10 + 2, shard);
        sql.push_str(&format!(
            "INSERT INTO {s}.origin_channels (id, origin_id, owner_id, name) VALUES ({chan}, {oid}, {owner}, 'stable');\n"
        ));
        for p in 0..3u64 {
            let pid = make_id(i as u64 * 10 + 3 + p, shard);
            let pkg = ["nginx", "redis", "builder-api"][p as usize];
            sql.push_str(&format!(
                "INSERT INTO {s}.origin_packages (id, origin_id, owner_id, name, ident, checksum, target, visibility) \
                 VALUES ({pid}, {oid}, {owner}, {}, {}, md5({}), 'x86_64-linux', 'public');\n\
                 INSERT INTO {s}.origin_channel_packages (channel_id, package_id) VALUES ({chan}, {pid});\n",
                q(pkg),
                q(&format!("{name}/{pkg}/1.{p}.0/20180{}0101000000", p + 1)),
                q(&format!("{name}{pkg}{p}")),
            ));
        }
        if i % 5 == 0 {
            sql.push_str(&format!(
                "INSERT INTO {s}.origin_projects (id, origin_id, origin_name, package_name, name, plan_path, owner_id, vcs_type, vcs_data) \
                 VALUES ({}, {oid}, {}, 'nginx', {}, 'plan.sh', {owner}, 'git', 'https://github.com/habitat-sh/core-plans.git');\n",
                make_id(i as u64 * 10 + 7, shard),
                q(name),
                q(&format!("{name}/nginx")),
            ));
        }
    }
    sql
}

fn sessionsrv_rows() -> String {
    let mut sql = String::new();
    for i in 0..800u64 {
        let name = format!("user-{i:04}");
        let shard = shard_of_name(&name);
        let id = make_id(i * 10 + 1, shard);
        sql.push_str(&format!(
            "INSERT INTO shard_{shard}.accounts (id, name, email) VALUES ({id}, {}, {});\n",
            q(&name),
            q(&format!("{name}@example.com")),
        ));
        sql.push_str(&format!(
            "INSERT INTO shard_{shard}.account_tokens (id, account_id, token) VALUES ({}, {id}, md5({}));\n",
            make_id(i * 10 + 2, shard),
            q(&name)
        ));
    }
    sql
}

fn jobsrv_rows() -> String {
    let mut sql = String::new();
    let states = ["Complete", "Failed", "Pending", "Dispatched", "Rejected"];
    for i in 0..500u64 {
        let origin = if i % 3 == 0 {
            "core".to_owned()
        } else {
            format!("origin-{:04}", i % 1500 + 1)
        };
        sql.push_str(&format!(
            "INSERT INTO shard_0.jobs (id, owner_id, job_state, project_id, project_name, project_owner_id, project_plan_path, vcs, vcs_arguments, package_ident, channel) \
             VALUES ({}, {}, {}, {}, {}, 1, 'plan.sh', 'git', ARRAY['https://github.com/habitat-sh/core-plans.git'], {}, 'unstable');\n",
            make_id(i, 0),
            i % 800,
            q(states[(i % 5) as usize]),
            make_id(i + 7, 0),
            q(&format!("{origin}/nginx")),
            q(&format!("{origin}/nginx/1.{}.0/20180101000000", i % 9)),
        ));
    }
    sql.push_str(
        "INSERT INTO shard_0.graph_packages (ident, deps, target) \
         SELECT 'core/pkg-' || g || '/1.0.0/20180101000000', ARRAY['core/glibc'], 'x86_64-linux' FROM generate_series(1, 300) g;\n",
    );
    sql
}

/// The README's read-only grants for one database (database level is per copy, see [`copy`]).
pub fn read_only_grants(schemas: &[String], role: &str) -> String {
    let mut sql = String::new();
    for s in schemas {
        sql.push_str(&format!(
            "GRANT USAGE ON SCHEMA {s} TO {role};\n\
             GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {role};\n\
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {role};\n"
        ));
    }
    sql
}

/// The checksum of everything a console query could change: every table's rows, every
/// sequence's position, and the number of relations, functions and schemas.
const CHECKSUM_FN: &str = "CREATE SCHEMA onwatch_test;
CREATE FUNCTION onwatch_test.checksum() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; acc text := ''; h text;
BEGIN
  FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname ~ '^(shard_|public)' AND c.relkind IN ('r', 'S') ORDER BY 1, 2 LOOP
    IF r.relkind = 'r' THEN
      EXECUTE format('SELECT md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), %L)) FROM %I.%I t', '', r.nspname, r.relname) INTO h;
    ELSE
      EXECUTE format('SELECT last_value::text || is_called::text FROM %I.%I', r.nspname, r.relname) INTO h;
    END IF;
    acc := md5(acc || r.nspname || '.' || r.relname || ':' || h);
  END LOOP;
  RETURN md5(acc || (SELECT count(*) FROM pg_class)::text || '/' || (SELECT count(*) FROM pg_proc)::text || '/'
             || (SELECT count(*) FROM pg_namespace)::text || '/' || (SELECT count(*) FROM pg_extension)::text);
END $$;";

async fn admin(url: &str) -> Result<PgConnection, String> {
    PgConnection::connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}

fn with_db(admin_url: &str, db: &str) -> Result<String, String> {
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or_else(|| format!("{admin_url} has no database part"))?;
    Ok(format!("{base}/{db}"))
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    conn.execute(sql).await.map(|_| ()).map_err(|e| {
        let head: String = sql.chars().take(200).collect();
        format!("{e} (in: {head}…)")
    })
}

/// Makes the template databases once per cluster (and the role), under an advisory lock so that
/// parallel tests wait for one seeding.
pub async fn ensure_templates(admin_url: &str) -> Result<(), String> {
    let mut conn = admin(admin_url).await?;
    exec(&mut conn, "SELECT pg_advisory_lock(4242001)").await?;
    let r = seed_templates(admin_url, &mut conn).await;
    let _ = exec(&mut conn, "SELECT pg_advisory_unlock(4242001)").await;
    let _ = conn.close().await;
    r
}

async fn seed_templates(admin_url: &str, conn: &mut PgConnection) -> Result<(), String> {
    seed_template_databases(admin_url, conn).await?;
    // The shared copy, made once (an existing one is kept: nothing that reads changes it).
    for (db, _) in DATABASES {
        let name = format!("{SHARED_PREFIX}_{db}");
        let exists: i64 = sqlx::query("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())?
            .try_get(0)
            .map_err(|e| e.to_string())?;
        if exists == 0 {
            make_copy(conn, &name, db).await?;
        }
    }
    Ok(())
}

async fn make_copy(conn: &mut PgConnection, name: &str, db: &str) -> Result<(), String> {
    exec(conn, &format!("DROP DATABASE IF EXISTS {name}")).await?;
    exec(
        conn,
        &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE_PREFIX}{db}"),
    )
    .await?;
    exec(
        conn,
        &format!("REVOKE ALL ON DATABASE {name} FROM PUBLIC; GRANT CONNECT ON DATABASE {name} TO {RO_ROLE};"),
    )
    .await
}

async fn seed_template_databases(admin_url: &str, conn: &mut PgConnection) -> Result<(), String> {
    let done: i64 =
        sqlx::query("SELECT count(*) FROM pg_database WHERE datname LIKE $1 AND datistemplate")
            .bind(format!("{TEMPLATE_PREFIX}%"))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| e.to_string())?
            .try_get(0)
            .map_err(|e| e.to_string())?;
    if done == DATABASES.len() as i64 {
        return Ok(());
    }
    // A half-made set (an interrupted seeding): start again, with no copy of it left behind.
    for (db, _) in DATABASES {
        exec(
            conn,
            &format!("DROP DATABASE IF EXISTS {SHARED_PREFIX}_{db} WITH (FORCE)"),
        )
        .await?;
    }
    exec(
        conn,
        &format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{RO_ROLE}') THEN \
             CREATE ROLE {RO_ROLE} LOGIN; END IF; END $$;\n\
             ALTER ROLE {RO_ROLE} SET statement_timeout = '30s';\n\
             ALTER ROLE {RO_ROLE} SET default_transaction_read_only = on;"
        ),
    )
    .await?;
    for (db, sharded) in DATABASES {
        let tpl = format!("{TEMPLATE_PREFIX}{db}");
        exec(conn, &format!("DROP DATABASE IF EXISTS {tpl}")).await?;
        exec(conn, &format!("CREATE DATABASE {tpl}")).await?;
        let mut c = admin(&with_db(admin_url, &tpl)?).await?;
        let shards: Vec<u32> = if sharded { (0..128).collect() } else { vec![0] };
        let mut ddl = String::new();
        let schemas: Vec<String> = shards.iter().map(|s| format!("shard_{s}")).collect();
        for (s, schema) in shards.iter().zip(&schemas) {
            ddl.push_str(&format!(
                "CREATE SCHEMA {schema};\n{}\nSET search_path TO {schema};\n",
                next_id(schema, *s)
            ));
            ddl.push_str(match db {
                "builder_originsrv" => shard_tables_originsrv(),
                "builder_sessionsrv" => shard_tables_sessionsrv(),
                _ => jobsrv_tables(),
            });
            ddl.push('\n');
        }
        ddl.push_str("RESET search_path;\n");
        exec(&mut c, &ddl).await?;
        let rows = match db {
            "builder_originsrv" => originsrv_rows(),
            "builder_sessionsrv" => sessionsrv_rows(),
            _ => jobsrv_rows(),
        };
        exec(&mut c, &format!("BEGIN;\n{rows}COMMIT;")).await?;
        exec(&mut c, &read_only_grants(&schemas, RO_ROLE)).await?;
        exec(&mut c, CHECKSUM_FN).await?;
        exec(&mut c, "ANALYZE").await?;
        let _ = c.close().await;
        exec(
            conn,
            &format!("ALTER DATABASE {tpl} WITH is_template = true"),
        )
        .await?;
    }
    Ok(())
}

/// One copy of the datastore: database name → URL for the admin and for the read-only role.
#[derive(Debug, Clone)]
pub struct SeededDatastore {
    /// (database as Builder names it, admin URL, read-only URL)
    pub databases: Vec<(String, String, String)>,
}

impl SeededDatastore {
    pub fn admin_url(&self, db: &str) -> Option<&str> {
        self.databases
            .iter()
            .find(|d| d.0 == db)
            .map(|d| d.1.as_str())
    }

    pub fn ro_url(&self, db: &str) -> Option<&str> {
        self.databases
            .iter()
            .find(|d| d.0 == db)
            .map(|d| d.2.as_str())
    }
}

/// A fresh copy of the three databases, named `{prefix}_builder_originsrv` and so on, with
/// CONNECT for the read-only role only and no TEMP for anyone: for a test that changes its
/// datastore (drop it with [`drop_copy`] at the end) and for the demo and the bench.
pub async fn copy(admin_url: &str, prefix: &str) -> Result<SeededDatastore, String> {
    ensure_templates(admin_url).await?;
    let mut conn = admin(admin_url).await?;
    for (db, _) in DATABASES {
        make_copy(&mut conn, &format!("{prefix}_{db}"), db).await?;
    }
    let _ = conn.close().await;
    urls(admin_url, prefix)
}

/// The copy shared by every test that only reads (made once per cluster).
pub async fn shared(admin_url: &str) -> Result<SeededDatastore, String> {
    ensure_templates(admin_url).await?;
    urls(admin_url, SHARED_PREFIX)
}

/// Drops a copy made by [`copy`].
pub async fn drop_copy(admin_url: &str, prefix: &str) -> Result<(), String> {
    let mut conn = admin(admin_url).await?;
    for (db, _) in DATABASES {
        exec(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS {prefix}_{db} WITH (FORCE)"),
        )
        .await?;
    }
    let _ = conn.close().await;
    Ok(())
}

fn urls(admin_url: &str, prefix: &str) -> Result<SeededDatastore, String> {
    let mut out = Vec::new();
    for (db, _) in DATABASES {
        let admin_db = with_db(admin_url, &format!("{prefix}_{db}"))?;
        let ro = {
            let mut u = url::Url::parse(&admin_db).map_err(|e| e.to_string())?;
            u.set_username(RO_ROLE)
                .map_err(|_| "cannot set the user".to_owned())?;
            u.set_password(None)
                .map_err(|_| "cannot clear the password".to_owned())?;
            u.to_string()
        };
        out.push((db.to_owned(), admin_db, ro));
    }
    Ok(SeededDatastore { databases: out })
}

/// The checksum of one copy's database (see [`CHECKSUM_FN`]).
pub async fn checksum(admin_db_url: &str) -> Result<String, String> {
    let mut c = admin(admin_db_url).await?;
    let sum: String = sqlx::query("SELECT onwatch_test.checksum()")
        .fetch_one(&mut c)
        .await
        .map_err(|e| e.to_string())?
        .try_get(0)
        .map_err(|e| e.to_string())?;
    let _ = c.close().await;
    Ok(sum)
}

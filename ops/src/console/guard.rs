//! The console's first wall, in two halves.
//!
//! [`check`], offline: a statement is parsed (PostgreSQL dialect) and accepted only when it is
//! exactly one statement that reads, naming no function of a deny list. Anything the parser does
//! not understand is refused, not guessed at. What runs is the parsed statement rendered back, so
//! what was checked is what runs.
//!
//! [`check_on_database`], on the target database: every name the statement writes is looked up
//! in the database's own catalog, and a statement that could call a function Postgres marks
//! VOLATILE is refused, but for a short list of volatile functions that only read. A deny list
//! alone always misses one (`ts_stat(query)` ran any SQL from a string, through which every
//! denied function was reachable); volatility is Postgres's own word for "may change something
//! or keep state", and covers functions nobody thought to deny, in the datastore's own schemas
//! too.
//!
//! Behind this wall: a read-only transaction, a role that can only read (the console refuses to
//! run where its role could write), and a reset of the connection after every query (see
//! [`super::run`] and [`super::pool`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DescribeAlias, Expr, Ident, ObjectName, Query, Select, SetExpr, Statement,
    TableFactor, Visit, Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The longest statement the console takes (bytes).
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// Nesting deeper than this is refused (the parser's own recursion bound).
const RECURSION_LIMIT: usize = 64;

/// Functions that change something even inside a read-only transaction, reach outside the
/// database, run SQL from a string (which would bypass this guard), or hold resources: refused
/// however they are quoted, cased or schema-qualified, before the database is asked. The
/// database's check refuses most of them again (they are volatile); the ones that run SQL from a
/// string are here because some are not volatile (`crosstab` is STABLE), and what they run is a
/// string this guard cannot read.
const DENIED_FUNCTIONS: &[&str] = &[
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "set_config",
    "nextval",
    "setval",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_current_xact_id",
    "pg_notify",
    "pg_export_snapshot",
    "pg_import_system_collations",
    "pg_promote",
    "pg_switch_wal",
    "pg_switch_xlog",
    "pg_create_restore_point",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_log_backend_memory_contexts",
    "pg_logical_emit_message",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "loread",
    "lowrite",
    // SQL from a string: `ts_stat(query)`, `ts_rewrite(query, 'SELECT …')` (core), `connectby`
    // and `crosstab…` (tablefunc), `xpath_table` (xml2).
    "ts_stat",
    "ts_rewrite",
    "connectby",
    "xpath_table",
];

/// Families of such functions, by prefix.
const DENIED_PREFIXES: &[&str] = &[
    "lo_",
    "dblink",
    "pg_advisory_",
    "pg_try_advisory_",
    "pg_sleep",
    "txid_",
    "pg_stat_reset",
    "pg_ls_",
    "pg_replication_",
    "pg_create_",
    "pg_drop_",
    "pg_wal_",
    "pg_xlog_",
    "pg_backup_",
    "pg_file_",
    "crosstab",
];

/// Whether a function of this name is refused.
pub fn is_denied_function(name: &str) -> bool {
    let name = name.to_lowercase();
    DENIED_FUNCTIONS.contains(&name.as_str()) || DENIED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// How an accepted statement is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A query (SELECT, VALUES, TABLE): wrapped, so that every row comes back as one JSON text
    /// (every type, exactly as Postgres prints it) and the per-shard row cap is a `LIMIT` the
    /// database applies.
    Query,
    /// SHOW or EXPLAIN: run as it is; its columns are text (or JSON/XML for EXPLAIN's formats).
    Utility,
}

/// A statement the guard accepted (offline: [`check_on_database`] comes next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The parsed statement rendered back: what runs.
    pub sql: String,
    pub shape: Shape,
    /// Every name the statement writes, as Postgres resolves it (unquoted folded to lower case,
    /// cut at 63 bytes): functions, but also columns, tables and types, because Postgres calls a
    /// function through more than `f(…)` (`x.f` calls `f(x)`; a type name calls its input and
    /// cast functions).
    pub names: Vec<String>,
    /// Every operator it writes, and those Postgres applies without their being written (`=`
    /// for IN, `<` for ORDER BY, `~~` for LIKE …).
    pub operators: Vec<String>,
}

/// Why a statement was refused, in words for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

const ONLY: &str =
    "The console runs only SELECT, VALUES, TABLE, SHOW and EXPLAIN (without ANALYZE)";

/// Checks one statement. `Ok` means it may be sent to the datastore.
pub fn check(sql: &str) -> Result<Checked, Refusal> {
    if sql.len() > MAX_STATEMENT_BYTES {
        return Err(Refusal(format!(
            "The statement is {} bytes; the console takes at most {} KiB. Shorten it, or split the question into smaller queries.",
            sql.len(),
            MAX_STATEMENT_BYTES / 1024
        )));
    }
    if sql.contains('\0') {
        return Err(Refusal("The statement contains a NUL character.".into()));
    }
    let dialect = PostgreSqlDialect {};
    // `TABLE name` is PostgreSQL's `SELECT * FROM name`, which the parser does not take at the
    // top level: read it as what it means.
    let rewritten;
    let sql = {
        let t = sql.trim_start();
        match t.get(..6) {
            Some(head)
                if head.eq_ignore_ascii_case("table ") || head.eq_ignore_ascii_case("table\n") =>
            {
                rewritten = format!("SELECT * FROM {}", &t[6..]);
                rewritten.as_str()
            }
            _ => sql,
        }
    };
    let statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            Refusal(format!(
                "Onwatch could not read this as one PostgreSQL statement ({e}). {ONLY}; anything the parser does not understand is refused."
            ))
        })?;
    let statement = match statements.as_slice() {
        [] => return Err(Refusal("The statement is empty: write a SELECT.".into())),
        [one] => one,
        many => {
            return Err(Refusal(format!(
                "This is {} statements; the console runs exactly one at a time (no `;` between statements).",
                many.len()
            )))
        }
    };
    let shape = top_level(statement)?;
    let mut walk = Walk {
        refusal: None,
        names: BTreeSet::new(),
        operators: IMPLICIT_OPERATORS.iter().map(|o| (*o).to_owned()).collect(),
    };
    let _ = statement.visit(&mut walk);
    if let Some(r) = walk.refusal {
        return Err(r);
    }
    Ok(Checked {
        sql: statement.to_string(),
        shape,
        names: walk.names.into_iter().collect(),
        operators: walk.operators.into_iter().collect(),
    })
}

/// What the statement is, at the top.
fn top_level(statement: &Statement) -> Result<Shape, Refusal> {
    match statement {
        Statement::Query(_) => Ok(Shape::Query),
        Statement::ShowVariable { .. } => Ok(Shape::Utility),
        Statement::Explain {
            describe_alias,
            analyze,
            options,
            statement: inner,
            ..
        } => {
            if *describe_alias != DescribeAlias::Explain {
                return Err(Refusal(format!("{ONLY}; DESCRIBE is not PostgreSQL.")));
            }
            let analyze_option = options.iter().flatten().any(|o| {
                let name = o.name.value.to_lowercase();
                name == "analyze" || name == "analyse"
            });
            if *analyze || analyze_option {
                return Err(Refusal(
                    "EXPLAIN ANALYZE runs the statement; the console explains without running. Remove ANALYZE."
                        .into(),
                ));
            }
            match inner.as_ref() {
                Statement::Query(_) => Ok(Shape::Utility),
                other => Err(Refusal(format!(
                    "{ONLY}; this explains {} statement.",
                    a_or_an(&keyword(other))
                ))),
            }
        }
        other => Err(Refusal(format!(
            "{ONLY}; this is {} statement, and the console never writes.",
            a_or_an(&keyword(other))
        ))),
    }
}

/// "an UPDATE", "an INSERT", "a DELETE", "a USE": the article a reader expects before the
/// keyword, by how it is said aloud (a vowel sound, except `U` said "you").
fn a_or_an(keyword: &str) -> String {
    let upper = keyword.to_ascii_uppercase();
    let vowel = upper.starts_with(['A', 'E', 'I', 'O', 'U']) && !upper.starts_with("US");
    format!("{} {keyword}", if vowel { "an" } else { "a" })
}

/// The statement's leading keyword, for messages.
fn keyword(statement: &Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("unknown")
        .to_uppercase()
}

/// Walks every node: nested statements (a data-modifying CTE), queries (locking clauses,
/// SELECT INTO) and names (denied functions, wherever they appear); and gathers the names and
/// operators for [`check_on_database`].
struct Walk {
    refusal: Option<Refusal>,
    names: BTreeSet<String>,
    operators: BTreeSet<String>,
}

impl Walk {
    fn refuse(&mut self, message: String) -> ControlFlow<()> {
        self.refusal = Some(Refusal(message));
        ControlFlow::Break(())
    }

    fn name(&mut self, name: &ObjectName) -> ControlFlow<()> {
        for part in &name.0 {
            let ident = match part.as_ident() {
                Some(i) => i.value.clone(),
                None => part.to_string(),
            };
            if is_denied_function(&ident) {
                return self.refuse(denied(&ident));
            }
        }
        ControlFlow::Continue(())
    }
}

fn denied(name: &str) -> String {
    format!(
        "`{name}` is refused: it changes something, reaches outside the database, runs SQL from a string or holds a lock, even in a read-only transaction."
    )
}

/// Volatile functions of `pg_catalog` the console still calls, because each only reads; they
/// are volatile only because their answer changes from one call to the next.
const ALLOWED_VOLATILE: &[&str] = &[
    // The session's random generator and the clock: nothing is written, nothing is held.
    // (`setseed` is not here: it sets the generator for the rest of the session.)
    "random",
    "gen_random_uuid",
    "clock_timestamp",
    "timeofday",
    // The size of a relation's or a database's files, read from the file system: how big is this
    // table, this index, this database.
    "pg_relation_size",
    "pg_table_size",
    "pg_indexes_size",
    "pg_total_relation_size",
    "pg_database_size",
    // Who blocks whom, read from the lock manager (with pg_stat_activity, in an incident).
    "pg_blocking_pids",
    // Whether this is a replica, and how far behind it is.
    "pg_is_in_recovery",
    "pg_last_xact_replay_timestamp",
];

/// Everything volatile the statement's names and operators could reach in this database, in any
/// schema (a name written without one is resolved through the search path at run time, so every
/// function of that name counts, whichever overload would be chosen):
///
/// - functions of those names, but not those that cannot be called from SQL (an `internal`
///   argument, or a trigger function);
/// - aggregates of those names whose transition or final functions are volatile (an aggregate's
///   own row does not say);
/// - operators of those symbols whose function is volatile;
/// - types of those names whose input, output or cast functions are volatile (`'…'::t` calls
///   them).
///
/// Not covered, because no name in the statement leads to them: the functions a view, a rule, a
/// domain's CHECK or a row security policy calls, and those a stable or immutable function calls
/// in turn (Postgres runs such a function's own SQL read-only, but lets it call a volatile
/// function). Only the datastore's owner creates these, never the console's role; the walls
/// behind this one (the read-only transaction and role, the reset after every query) hold
/// there. Built-in operators, casts, type I/O and aggregates are never volatile (PostgreSQL 9.6
/// to 15), so those parts find only what an owner added. Catalog SQL that PostgreSQL 9.6 reads.
const VOLATILE_REACHED: &str = "\
SELECT 'function', p.proname::text, n.nspname::text, p.oid::regprocedure::text
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname::text = ANY ($1::text[]) AND p.provolatile = 'v'
   AND NOT ('internal'::regtype::oid = ANY (p.proargtypes::oid[]))
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
UNION ALL
SELECT 'aggregate', p.proname::text, n.nspname::text,
       p.oid::regprocedure::text || ' through ' || f.oid::regprocedure::text
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_aggregate a ON a.aggfnoid = p.oid
  JOIN pg_proc f ON f.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                              a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn)
 WHERE p.proname::text = ANY ($1::text[]) AND f.provolatile = 'v'
UNION ALL
SELECT 'operator', o.oprname::text, n.nspname::text,
       o.oid::regoperator::text || ' through ' || p.oid::regprocedure::text
  FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
  JOIN pg_proc p ON p.oid = o.oprcode
 WHERE o.oprname::text = ANY ($2::text[]) AND p.provolatile = 'v'
UNION ALL
SELECT 'type', t.typname::text, n.nspname::text, p.oid::regprocedure::text
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  CROSS JOIN LATERAL (
        SELECT unnest(ARRAY[t.typinput::oid, t.typoutput::oid, t.typreceive::oid, t.typsend::oid]) AS f
        UNION SELECT c.castfunc FROM pg_cast c WHERE c.castsource = t.oid OR c.casttarget = t.oid
       ) fns
  JOIN pg_proc p ON p.oid = fns.f
 WHERE t.typname::text = ANY ($1::text[]) AND p.provolatile = 'v'
 ORDER BY 1, 2, 4";

/// Why [`check_on_database`] did not accept a statement.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseCheckError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The catalog could not be read: nothing is known about the statement, so nothing runs.
    #[error("the statement's functions could not be looked up in the database's catalog: {0}")]
    Lookup(String),
}

/// The guard's second half: refuses a statement [`check`] accepted when one of its names or
/// operators reaches a volatile function in this database (see [`VOLATILE_REACHED`]), but for
/// [`ALLOWED_VOLATILE`]. One catalog query, on any connection to the target database (the
/// catalog is the same for every shard, and for every role).
pub async fn check_on_database(
    conn: &mut sqlx::PgConnection,
    checked: &Checked,
) -> Result<(), DatabaseCheckError> {
    use sqlx::Row;
    let rows = sqlx::query(VOLATILE_REACHED)
        .bind(&checked.names)
        .bind(&checked.operators)
        .persistent(false)
        .fetch_all(conn)
        .await
        .map_err(|e| DatabaseCheckError::Lookup(super::pool::describe(&e)))?;
    let mut reached = Vec::new();
    for row in &rows {
        let field = |i| {
            row.try_get::<String, _>(i)
                .map_err(|e| DatabaseCheckError::Lookup(e.to_string()))
        };
        let (kind, name, schema, what) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let allowed = kind == "function"
            && schema == "pg_catalog"
            && ALLOWED_VOLATILE.contains(&name.as_str());
        if !allowed {
            reached.push((kind, name, what));
        }
    }
    match reached.first() {
        None => Ok(()),
        Some((kind, name, what)) => {
            let others: Vec<&str> = reached
                .iter()
                .skip(1)
                .map(|(_, _, w)| w.as_str())
                .take(5)
                .collect();
            Err(Refusal(volatile(kind, name, what, &others)).into())
        }
    }
}

/// The refusal of a statement that reaches a volatile function, naming it.
fn volatile(kind: &str, name: &str, what: &str, others: &[&str]) -> String {
    let subject = match kind {
        "function" => format!("`{name}` is refused: in this database it is `{what}`"),
        "aggregate" => format!("The aggregate `{name}` is refused: it calls `{what}`"),
        "operator" => format!("The operator `{name}` is refused: it is `{what}`"),
        _ => format!("The type `{name}` is refused: its input, output or casts call `{what}`"),
    };
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" (also: {})", others.join(", "))
    };
    let names = if kind == "function" {
        format!(
            " Every name in the statement is looked up, because Postgres also calls `{name}` written as `x.{name}`: a column or an alias of that name counts too."
        )
    } else {
        String::new()
    };
    format!(
        "{subject}{also}, which Postgres marks VOLATILE: it may change something or keep state after the query. \
         The console calls only what Postgres marks STABLE or IMMUTABLE, and these volatile functions, which only read: {}.{names}",
        ALLOWED_VOLATILE.join(", ")
    )
}

impl Visitor for Walk {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        match statement {
            Statement::Query(_) | Statement::ShowVariable { .. } | Statement::Explain { .. } => {
                ControlFlow::Continue(())
            }
            other => {
                let k = keyword(other);
                self.refuse(format!(
                    "{ONLY}; this contains a {k} statement (a data-modifying WITH, for example), and the console never writes."
                ))
            }
        }
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if !query.locks.is_empty() {
            return self.refuse(
                "A locking clause (FOR UPDATE, FOR SHARE, FOR NO KEY UPDATE, FOR KEY SHARE) takes row locks; remove it."
                    .into(),
            );
        }
        if query.for_clause.is_some() || query.settings.is_some() || query.format_clause.is_some() {
            return self.refuse(format!("{ONLY}; this clause is not PostgreSQL."));
        }
        if !query.pipe_operators.is_empty() {
            return self.refuse(format!("{ONLY}; pipe operators are not PostgreSQL."));
        }
        if let SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) =
            query.body.as_ref()
        {
            return self.refuse(format!("{ONLY}; this query writes."));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if select.into.is_some() {
            return self.refuse(
                "SELECT … INTO creates a table; the console never writes. Remove INTO.".into(),
            );
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.name(relation)
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Function { name, .. } = factor {
            return self.name(name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(f) => return self.name(&f.name),
            Expr::BinaryOp { op, .. }
            | Expr::AnyOp { compare_op: op, .. }
            | Expr::AllOp { compare_op: op, .. } => {
                if let Some(o) = binary_operator(op) {
                    self.operators.insert(o);
                }
            }
            Expr::UnaryOp { op, .. } => {
                let o = op.to_string();
                if is_operator_symbol(&o) {
                    self.operators.insert(o);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &Ident) -> ControlFlow<()> {
        // Any name that is a denied function's, wherever the parser put it.
        if is_denied_function(&ident.value) {
            return self.refuse(denied(&ident.value));
        }
        self.names.insert(postgres_name(ident));
        ControlFlow::Continue(())
    }
}

/// Operators Postgres applies where none is written: `=` (IN, CASE x WHEN, DISTINCT, GROUP BY,
/// joins), `<` `>` `<=` `>=` (ORDER BY, BETWEEN, min and max), `<>` (IS DISTINCT FROM, NOT
/// IN), `~~` and its kin (LIKE, ILIKE), `~` (SIMILAR TO).
const IMPLICIT_OPERATORS: &[&str] = &[
    "=", "<>", "<", ">", "<=", ">=", "~~", "~~*", "!~~", "!~~*", "~", "~*", "!~", "!~*",
];

/// The characters a PostgreSQL operator is made of.
fn is_operator_symbol(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| "+-*/<>=~!@#%^&|`?".contains(c))
}

/// A binary operator's name in `pg_operator`, if it is one (`AND`, `IS` are not operators).
fn binary_operator(op: &BinaryOperator) -> Option<String> {
    let name = match op {
        // `OPERATOR(schema.op)`: the operator is the last part (every schema is searched).
        BinaryOperator::PGCustomBinaryOperator(parts) => parts.last()?.clone(),
        other => other.to_string(),
    };
    is_operator_symbol(&name).then_some(name)
}

/// The longest name Postgres keeps (NAMEDATALEN - 1 bytes); a longer one is cut, not refused.
const MAX_NAME_BYTES: usize = 63;

/// A name as Postgres reads it: an unquoted name folded to lower case (ASCII only, as Postgres
/// does for UTF-8), a quoted one as written, both cut at 63 bytes on a character boundary.
fn postgres_name(ident: &Ident) -> String {
    let mut name = match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    };
    if name.len() > MAX_NAME_BYTES {
        let mut end = MAX_NAME_BYTES;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

#[cfg(test)]
mod tests {

    #[test]
    fn refusals_read_as_english() {
        assert_eq!(a_or_an("UPDATE"), "an UPDATE");
        assert_eq!(a_or_an("INSERT"), "an INSERT");
        assert_eq!(a_or_an("DELETE"), "a DELETE");
        assert_eq!(a_or_an("USE"), "a USE");
    }

    use super::*;

    #[test]
    fn reads_pass_and_are_rendered() {
        let c = check("select name from origins where name = 'core' order by 1 limit 5;").unwrap();
        assert_eq!(c.shape, Shape::Query);
        assert!(c.sql.contains("FROM origins"), "{}", c.sql);
        assert_eq!(check("VALUES (1, 'a')").unwrap().shape, Shape::Query);
        assert_eq!(check("TABLE origins").unwrap().shape, Shape::Query);
        assert_eq!(check("SHOW search_path").unwrap().shape, Shape::Utility);
        assert_eq!(
            check("EXPLAIN SELECT * FROM origins").unwrap().shape,
            Shape::Utility
        );
        assert!(check("WITH o AS (SELECT 1 AS x) SELECT x FROM o").is_ok());
    }

    #[test]
    fn writes_and_tricks_are_refused() {
        for sql in [
            "",
            "   ",
            "INSERT INTO origins (name) VALUES ('x')",
            "SELECT 1; SELECT 2",
            "SELECT * FROM origins FOR UPDATE",
            "SELECT * INTO t FROM origins",
            "SELECT pg_sleep(1)",
            "SELECT PG_CATALOG.\"PG_SLEEP\"(1)",
            "SELECT nextval('origin_id_seq')",
            "SELECT * FROM pg_read_file('/etc/passwd')",
            "SELECT * FROM ts_stat('SELECT to_tsvector(''a'') FROM pg_advisory_lock(1)')",
            "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')",
            "SELECT * FROM crosstab('SELECT 1, 2, 3') AS t(a int, b int)",
            "SELECT * FROM public.Crosstab3('SELECT 1, 2, 3')",
            "EXPLAIN ANALYZE SELECT 1",
            "EXPLAIN (ANALYZE) SELECT 1",
            "EXPLAIN DELETE FROM origins",
            "WITH d AS (DELETE FROM origins RETURNING *) SELECT * FROM d",
        ] {
            assert!(check(sql).is_err(), "accepted: {sql}");
        }
    }

    #[test]
    fn names_and_operators_are_gathered_as_postgres_reads_them() {
        let long = "a".repeat(70);
        let c = check(&format!(
            "SELECT ('s'::regclass).Next_Id_V1, \"MixedCase\", x OPERATOR(pg_catalog.+) 1, -y, \
             z @> w, '1'::My_Type, {long} FROM shard_0.origins o WHERE n LIKE 'x'"
        ))
        .unwrap();
        for name in [
            "next_id_v1",
            "MixedCase",
            "my_type",
            "shard_0",
            "origins",
            "o",
            "x",
            &long[..63],
        ] {
            assert!(c.names.iter().any(|n| n == name), "{name}: {:?}", c.names);
        }
        assert!(c.names.iter().all(|n| n.len() <= 63));
        for op in ["+", "-", "@>", "~~", "=", "<"] {
            assert!(
                c.operators.iter().any(|o| o == op),
                "{op}: {:?}",
                c.operators
            );
        }
        assert!(!c.operators.iter().any(|o| o == "AND" || o == "IS"));
        // What runs is what was read: a Unicode-escaped name is not an escape Postgres decodes
        // once rendered (`U & "…"`).
        if let Ok(c) = check("SELECT U&\"\\0070g_sleep\"(1)") {
            assert!(!c.sql.contains("U&\""), "{}", c.sql);
        }
    }
}

//! The console's first wall: a statement is parsed (PostgreSQL dialect) and accepted only when it
//! is exactly one statement that reads. Anything the parser does not understand is refused, not
//! guessed at. What runs is the parsed statement rendered back (so what was checked is what
//! runs), inside a read-only transaction, under a role that can only read: three more walls
//! after this one (see [`super::run`]).

use std::ops::ControlFlow;

use sqlparser::ast::{
    DescribeAlias, Expr, Ident, ObjectName, Query, Select, SetExpr, Statement, TableFactor, Visit,
    Visitor,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The longest statement the console takes (bytes).
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;

/// Nesting deeper than this is refused (the parser's own recursion bound).
const RECURSION_LIMIT: usize = 64;

/// Functions that change something even inside a read-only transaction, reach outside the
/// database, run SQL from a string (which would bypass this guard), or hold resources: refused
/// however they are quoted, cased or schema-qualified.
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

/// A statement the guard accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The parsed statement rendered back: what runs.
    pub sql: String,
    pub shape: Shape,
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
    let mut walk = Walk { refusal: None };
    let _ = statement.visit(&mut walk);
    if let Some(r) = walk.refusal {
        return Err(r);
    }
    Ok(Checked {
        sql: statement.to_string(),
        shape,
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
                    "{ONLY}; this explains a {} statement.",
                    keyword(other)
                ))),
            }
        }
        other => Err(Refusal(format!(
            "{ONLY}; this is a {} statement, and the console never writes.",
            keyword(other)
        ))),
    }
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
/// SELECT INTO) and names (denied functions, wherever they appear).
struct Walk {
    refusal: Option<Refusal>,
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
        if let Expr::Function(f) = expr {
            return self.name(&f.name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &Ident) -> ControlFlow<()> {
        // Any name that is a denied function's, wherever the parser put it.
        if is_denied_function(&ident.value) {
            return self.refuse(denied(&ident.value));
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
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
            "EXPLAIN ANALYZE SELECT 1",
            "EXPLAIN (ANALYZE) SELECT 1",
            "EXPLAIN DELETE FROM origins",
            "WITH d AS (DELETE FROM origins RETURNING *) SELECT * FROM d",
        ] {
            assert!(check(sql).is_err(), "accepted: {sql}");
        }
    }
}

//! A kept result as a file: CSV (RFC 4180; NULL is an empty field) or JSON (an object with the
//! columns, the rows as arrays with the shard first, and what was cut or failed, so that a
//! partial result never passes for a whole one).

use super::run::{Cell, QueryResult, ShardState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// A format the export does not write: input the person can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}`: ask for csv or json")]
pub struct UnknownFormat(pub String);

impl Format {
    pub fn parse(s: &str) -> Result<Format, UnknownFormat> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(UnknownFormat(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// Cells are quoted only where needed (the export stays small); a leading formula character is
/// kept as data ([`crate::text::spreadsheet_safe`]); a NULL is an empty cell.
pub fn csv(result: &QueryResult) -> Vec<u8> {
    let mut w = crate::text::csv_writer(false);
    crate::text::csv_record(
        &mut w,
        std::iter::once("shard").chain(result.columns.iter().map(String::as_str)),
    );
    for row in &result.rows {
        let shard = row.shard.to_string();
        crate::text::csv_record(
            &mut w,
            std::iter::once(shard.as_str())
                .chain(row.cells.iter().map(|c| c.as_text().unwrap_or(""))),
        );
    }
    crate::text::csv_finish(w)
}

pub fn json(result: &QueryResult) -> Vec<u8> {
    use serde_json::value::RawValue;
    // Raw JSON per cell: a numeric keeps every digit (no round trip through f64).
    let raw = |c: &Cell| -> Box<RawValue> {
        let text = match c {
            Cell::Null => "null".to_owned(),
            Cell::Text(s) => serde_json::to_string(s).unwrap_or_else(|_| "null".into()),
            Cell::Json(s) => s.clone(),
        };
        RawValue::from_string(text.clone()).unwrap_or_else(|_| {
            RawValue::from_string(serde_json::to_string(&text).unwrap_or_default())
                .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
        })
    };
    let rows: Vec<Vec<Box<RawValue>>> = result
        .rows
        .iter()
        .map(|r| {
            let mut v = Vec::with_capacity(r.cells.len() + 1);
            v.push(raw(&Cell::Json(r.shard.to_string())));
            v.extend(r.cells.iter().map(raw));
            v
        })
        .collect();
    let failed: Vec<serde_json::Value> = result
        .shards
        .iter()
        .filter(|s| s.state == ShardState::Failed)
        .map(|s| serde_json::json!({ "shard": s.shard, "error": s.error }))
        .collect();
    let mut columns = vec!["shard".to_owned()];
    columns.extend(result.columns.iter().cloned());
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        state: &'a str,
        columns: Vec<String>,
        rows: Vec<Vec<Box<RawValue>>>,
        truncated: &'a [String],
        failed_shards: Vec<serde_json::Value>,
    }
    let doc = Doc {
        state: result.state.as_str(),
        columns,
        rows,
        truncated: &result.truncated,
        failed_shards: failed,
    };
    serde_json::to_vec(&doc).unwrap_or_default()
}

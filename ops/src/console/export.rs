//! A kept result as a file: CSV (RFC 4180; NULL is an empty field) or JSON (an object with the
//! columns, the rows as arrays with the shard first, and what was cut or failed, so that a
//! partial result never passes for a whole one).

use super::run::{Cell, QueryResult, ShardState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!("unknown format `{other}`: ask for csv or json")),
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

fn csv_field(out: &mut String, s: &str) {
    // Plain cells stay bare (the export stays small); anything a spreadsheet or a CSV reader
    // could misread is quoted, with a leading formula character kept as data.
    if s.contains([',', '"', '\n', '\r', '\t']) || s.starts_with(['=', '+', '-', '@']) {
        crate::text::csv_cell(out, s);
    } else {
        out.push_str(s);
    }
}

pub fn csv(result: &QueryResult) -> Vec<u8> {
    let mut out = String::with_capacity(result.bytes as usize + result.rows.len() * 8 + 64);
    out.push_str("shard");
    for c in &result.columns {
        out.push(',');
        csv_field(&mut out, c);
    }
    out.push_str("\r\n");
    for row in &result.rows {
        out.push_str(&row.shard.to_string());
        for cell in &row.cells {
            out.push(',');
            if let Some(s) = cell.as_text() {
                csv_field(&mut out, s);
            }
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
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

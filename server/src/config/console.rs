//! `[console]`: the shard console's limits.

use super::ConfigError;

/// `[console]`: bounds that protect the datastore and Onwatch's memory.
pub(super) fn check(c: &ops::console::ConsoleOptions) -> Result<(), ConfigError> {
    let bad = |key: &str, why: &str| Err(ConfigError::key(&format!("console.{key}"), why));
    if !(1..=64).contains(&c.pool_size) {
        return bad("pool_size", "1 to 64 connections per database");
    }
    if !(1..=3600).contains(&c.statement_timeout_secs) {
        return bad("statement_timeout_secs", "1 to 3600 seconds");
    }
    if c.rows_per_shard == 0 || c.rows_total == 0 {
        return bad("rows_total", "rows_per_shard and rows_total are at least 1");
    }
    if !(1024..=(1 << 30)).contains(&c.bytes_total) {
        return bad("bytes_total", "1 KiB to 1 GiB");
    }
    if c.application_name.trim().is_empty() || c.application_name.len() > 63 {
        return bad("application_name", "1 to 63 characters (Postgres's limit)");
    }
    Ok(())
}

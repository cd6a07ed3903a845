//! `[logs]`: the limits of host log streams.

use super::ConfigError;

/// `[logs]`: bounds that keep a watch's cost on the server and the page small.
pub(super) fn check(l: &ops::logs::Limits) -> Result<(), ConfigError> {
    let bad = |key: &str, why: &str| Err(ConfigError::key(&format!("logs.{key}"), why));
    if !(1..=10_000_000).contains(&l.lines_per_sec) {
        return bad("lines_per_sec", "1 to 10000000");
    }
    if !(1..=100).contains(&l.per_person) {
        return bad("per_person", "1 to 100 watches open at once per person");
    }
    if !(1..=1000).contains(&l.per_host) {
        return bad("per_host", "1 to 1000 watches open at once per host");
    }
    if !(80..=1 << 20).contains(&l.line_bytes) {
        return bad("line_bytes", "80 bytes to 1 MiB");
    }
    if !(16..=65_536).contains(&l.queue) {
        return bad("queue", "16 to 65536 lines");
    }
    if l.max_secs < 60 {
        return bad("max_secs", "at least 60");
    }
    Ok(())
}

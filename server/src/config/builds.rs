//! `[builds]`: build requests through the Builder API.

use super::ConfigError;

/// `[builds]`: an origin, and polling and limits that make sense.
pub(super) fn check(b: &ops::builds::BuildOptions) -> Result<(), ConfigError> {
    let bad = |key: &str, why: &str| Err(ConfigError::key(&format!("builds.{key}"), why));
    if !ops::builds::plain_name(&b.origin) {
        return bad(
            "origin",
            "an origin's name as Builder has it ([a-z0-9][a-z0-9_-]*), such as core",
        );
    }
    if b.build_origins.iter().any(|o| !ops::builds::plain_name(o)) {
        return bad(
            "build_origins",
            "origins' names as Builder has them ([a-z0-9][a-z0-9_-]*), such as [\"core\", \"habitat\"]",
        );
    }
    if !(100..=60_000).contains(&(b.poll.as_millis() as u64)) {
        return bad("poll_ms", "100 to 60000 ms");
    }
    if b.stall_after < b.poll || b.build_timeout < b.stall_after {
        return bad(
            "stall_secs",
            "at least one poll, and at most build_timeout_secs",
        );
    }
    if !(1..=300).contains(&b.request_timeout.as_secs()) {
        return bad("request_timeout_secs", "1 to 300 seconds");
    }
    Ok(())
}

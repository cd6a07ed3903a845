//! Whether the sentinel runs (`ops::actions::sentinel`): its unit's state, read over SSH when a
//! responder asks, audited and rate-limited per person.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One check of the sentinel, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentinelCheckView {
    /// A unit state (`active`, `inactive`, `failed`, `activating`, `deactivating`,
    /// `reloading`), `unknown` or `unchecked`.
    pub state: String,
    /// Whether the sentinel was seen running (`active`, and only that).
    pub runs: bool,
    /// "active: the sentinel runs (checked 14:03:09 UTC by ana)".
    pub sentence: String,
    /// What to do next, if anything.
    pub advice: Option<String>,
    /// An answer that is not a unit state, escaped and cut: behind a toggle.
    pub raw: Option<String>,
}

/// Runs the sentinel's status command on its host over SSH: a responder's, audited and
/// rate-limited per person.
#[server(prefix = "/api/act", endpoint = "sentinel-status")]
pub async fn check_sentinel() -> Result<SentinelCheckView, ServerFnError> {
    use ops::actions::sentinel::{check_for, CheckError, Seen};
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    let check = match check_for(&portal.actions, &who.actor()).await {
        Ok(c) => c,
        Err(e) => {
            crate::portal::set_status(match e {
                CheckError::Unconfigured(_) => 404,
                CheckError::Refused(_) => 429,
                CheckError::Store(_) => 503,
            });
            return Err(ServerFnError::new(e.to_string()));
        }
    };
    Ok(SentinelCheckView {
        state: check.state_name().to_owned(),
        runs: check.runs(),
        sentence: check.sentence(&crate::fmt::zone()),
        advice: check.advice(),
        raw: match &check.seen {
            Seen::Unknown { raw } => Some(raw.clone()),
            _ => None,
        },
    })
}

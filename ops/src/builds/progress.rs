//! What a build request shows while it runs: plain data, carried by the action's progress
//! (`actions::output`), so that module needs nothing else of `builds`.

use serde::{Deserialize, Serialize};

/// One project of a job group, as Builder answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProject {
    pub name: String,
    /// `core/builder-api` until built, then `core/builder-api/VERSION/RELEASE`.
    #[serde(default)]
    pub ident: String,
    /// NotStarted | InProgress | Success | Failure | Skipped | Canceled
    pub state: String,
    #[serde(default)]
    pub job_id: String,
}

/// What a person sees of a build while it runs: the job group as last read, and where the new
/// release has landed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildProgress {
    pub group_id: String,
    pub group_state: String,
    pub projects: Vec<JobProject>,
    /// The runbook's reading of a stalled group, when it stalls.
    pub stalled: Option<String>,
    /// `version/release` once built.
    pub built: Option<String>,
    /// Supervisors (host) of the environment running the package, and whether each runs the
    /// new release.
    pub rollout: Vec<(String, bool)>,
}

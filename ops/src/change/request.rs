//! What a change to production is: its kind, its target, the request as the person sent it, the
//! state it is in, and the `[actions]` options that tune the pipeline (cooldown, lease, output).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a person can ask Onwatch to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Stop one service, wait until it is down, start it, wait until it is up and healthy
    /// (control gateway).
    RestartService,
    /// `systemctl restart hab-sup` on the host (SSH): every service on it goes down and comes
    /// back; done when the Supervisor answers and each of them is healthy again.
    RestartSupervisor,
    /// `systemctl restart sentinel` on the sentinel's host (SSH), then its status.
    RestartSentinel,
    /// "Request new build" of a package through the environment's Builder API, its job group
    /// followed to the end and the new release watched for on the Supervisors (`builds`). The
    /// target's host is [`crate::builds::api::DEPOT`] and its service group the package's name.
    RequestBuild,
    /// Removes the datastore's stale lock files that its log names (exactly those, each checked
    /// again on the host, over SSH), then starts the service (control gateway) and waits until
    /// it is up and healthy (`locks`).
    RemoveLockFiles,
}

impl ActionKind {
    pub const ALL: [ActionKind; 5] = [
        ActionKind::RestartService,
        ActionKind::RestartSupervisor,
        ActionKind::RestartSentinel,
        ActionKind::RequestBuild,
        ActionKind::RemoveLockFiles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::RestartService => "restart_service",
            ActionKind::RestartSupervisor => "restart_supervisor",
            ActionKind::RestartSentinel => "restart_sentinel",
            ActionKind::RequestBuild => "request_build",
            ActionKind::RemoveLockFiles => "remove_lock_files",
        }
    }

    /// For sentences: "ada's restart of builder-api.live".
    pub fn words(self) -> &'static str {
        match self {
            ActionKind::RestartService => "restart of",
            ActionKind::RestartSupervisor => "Supervisor restart on",
            ActionKind::RestartSentinel => "restart of",
            ActionKind::RequestBuild => "build request of",
            ActionKind::RemoveLockFiles => "lock-file removal on",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What an action is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub environment: String,
    pub host: String,
    /// The service group (`builder-api.live`); empty for a whole host.
    pub service_group: String,
}

impl Target {
    /// The service's name (`builder-api` of `builder-api.live`).
    pub fn service(&self) -> &str {
        self.service_group
            .split_once('.')
            .map(|(s, _)| s)
            .unwrap_or(&self.service_group)
    }

    /// What the person types to confirm: the service (or host) name, prefixed with the
    /// environment in a production environment (`live/builder-api`), so that nobody confirms a
    /// production action believing it is acceptance.
    pub fn confirmation(&self, production: bool) -> String {
        let name = if self.service_group.is_empty() {
            self.host.as_str()
        } else {
            self.service()
        };
        if production {
            format!("{}/{name}", self.environment)
        } else {
            name.to_owned()
        }
    }

    /// The lock an action takes: one per host, so that two actions never run on one host (or
    /// one service) at once; a build request's, one per package (`live/depot/builder-api`).
    pub fn lock_key(&self) -> String {
        if self.is_build() {
            format!("{}/{}/{}", self.environment, self.host, self.service_group)
        } else {
            format!("{}/{}", self.environment, self.host)
        }
    }

    /// A build request's target: the depot, and a package.
    pub fn is_build(&self) -> bool {
        self.host == crate::builds::api::DEPOT
    }
}

/// A request as the person sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub kind: ActionKind,
    pub target: Target,
    /// Why: required, recorded.
    pub reason: String,
    /// What the person typed (see [`Target::confirmation`]).
    pub confirmation: String,
    /// For a production environment: was this tried in acceptance first? `None`: not answered.
    pub tried_in_acceptance: Option<bool>,
    /// Chosen by the browser once per dialog: a double click or a retried request runs once.
    pub idempotency_key: String,
    /// For a lock-file removal: the exact files (as the page showed them from the log).
    #[serde(default)]
    pub paths: Vec<String>,
}

/// The `[actions]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionsOptions {
    /// How long after an action on a host ends before the next may start on it.
    #[serde(rename = "cooldown_secs", deserialize_with = "crate::time::secs")]
    pub cooldown: Duration,
    /// Per environment (`live = 300`), overriding `cooldown_secs`.
    #[serde(rename = "cooldown_secs_by_environment")]
    pub cooldown_by_environment: BTreeMap<String, u64>,
    /// How long a restart may take, from the stop to healthy again, before it counts as failed.
    #[serde(
        rename = "restart_timeout_secs",
        deserialize_with = "crate::time::secs"
    )]
    pub restart_timeout: Duration,
    /// The most output kept per action (in the audit row and the page).
    pub output_limit_bytes: usize,
    /// A running action renews its lease a few times within this; one whose lease is older (its
    /// Onwatch crashed or was killed) is marked interrupted.
    #[serde(rename = "lease_secs", deserialize_with = "crate::time::secs")]
    pub lease: Duration,
}

impl Default for ActionsOptions {
    fn default() -> Self {
        ActionsOptions {
            cooldown: Duration::from_secs(60),
            cooldown_by_environment: BTreeMap::new(),
            restart_timeout: Duration::from_secs(120),
            output_limit_bytes: 16 * 1024,
            lease: Duration::from_secs(15),
        }
    }
}

impl ActionsOptions {
    pub fn cooldown_for(&self, environment: &str) -> Duration {
        self.cooldown_by_environment
            .get(environment)
            .map(|s| Duration::from_secs(*s))
            .unwrap_or(self.cooldown)
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Running,
    Succeeded,
    Failed,
    /// Cut off by a crash or a kill of Onwatch: marked at the next start, never re-run.
    Interrupted,
    /// Nothing ran: a guard refused, or the intent could not be audited.
    Refused,
    /// Stopped part-way because a person asked (through the store, on any replica): what was
    /// sent before the cancel stands; nothing was sent after it.
    Cancelled,
}

impl ActionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Running => "running",
            ActionState::Succeeded => "succeeded",
            ActionState::Failed => "failed",
            ActionState::Interrupted => "interrupted",
            ActionState::Refused => "refused",
            ActionState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ActionState> {
        Some(match s {
            "running" => ActionState::Running,
            "succeeded" => ActionState::Succeeded,
            "failed" => ActionState::Failed,
            "interrupted" => ActionState::Interrupted,
            "refused" => ActionState::Refused,
            "cancelled" => ActionState::Cancelled,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_confirmation_names_the_environment() {
        let t = Target {
            environment: "live".into(),
            host: "api-1".into(),
            service_group: "builder-api.live".into(),
        };
        assert_eq!(t.confirmation(true), "live/builder-api");
        assert_eq!(t.confirmation(false), "builder-api");
        assert_eq!(t.lock_key(), "live/api-1");
    }
}

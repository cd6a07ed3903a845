//! `[actions]` (and `[sentinel]`): the guarded actions' limits and per-environment overrides.

use std::collections::BTreeMap;

use super::{ConfigError, EnvironmentConfig};

/// `[actions]`: limits that make sense, and overrides only for environments that exist.
pub(super) fn check(
    actions: &ops::change::ActionsOptions,
    environments: &BTreeMap<String, EnvironmentConfig>,
) -> Result<(), ConfigError> {
    if actions.restart_timeout < std::time::Duration::from_secs(5) {
        return Err(ConfigError::key(
            "actions.restart_timeout_secs",
            "at least 5: a restart waits for the Supervisor and the health check",
        ));
    }
    if actions.lease < std::time::Duration::from_secs(1) {
        return Err(ConfigError::key("actions.lease_secs", "at least 1"));
    }
    if actions.output_limit_bytes < 1024 {
        return Err(ConfigError::key(
            "actions.output_limit_bytes",
            "at least 1024, so that an outcome keeps its last lines",
        ));
    }
    if let Some(name) = actions
        .cooldown_by_environment
        .keys()
        .find(|n| !environments.contains_key(*n))
    {
        return Err(ConfigError::key(
            &format!("actions.cooldown_secs_by_environment.{name}"),
            "no such environment: the keys are names of [environments.*]",
        ));
    }
    Ok(())
}

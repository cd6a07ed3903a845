//! `[oncall]` and `[onboarding]`: the rotation, PagerDuty, and the checklist.

use std::collections::BTreeMap;

use super::{ConfigError, EnvironmentConfig};

/// `[oncall]` and `[onboarding]`: a rotation that computes, a PagerDuty key that can be read,
/// an environment that exists.
pub(super) fn check(
    o: &ops::oncall::OncallOptions,
    b: &ops::onboarding::OnboardingOptions,
    environments: &BTreeMap<String, EnvironmentConfig>,
) -> Result<(), ConfigError> {
    if !o.members.is_empty() {
        if let Err(why) = ops::oncall::Rotation::new(&o.rotation()) {
            return Err(ConfigError::key(why.key, why.why));
        }
    }
    if let Some(pd) = &o.pagerduty {
        match ops::secret::read_file(&pd.token_file) {
            Ok(_) => {}
            Err(e @ ops::secret::SecretFileError::Empty { .. }) => {
                return Err(ConfigError::key(
                    "oncall.pagerduty.token_file",
                    format!("{e}: put a PagerDuty REST API key in it"),
                ))
            }
            Err(e) => {
                return Err(ConfigError::key(
                    "oncall.pagerduty.token_file",
                    e.to_string(),
                ))
            }
        }
        if pd.primary_schedule.trim().is_empty() || pd.secondary_schedule.trim().is_empty() {
            return Err(ConfigError::key(
                "oncall.pagerduty.primary_schedule",
                "the ids of the primary and the secondary schedules (such as PABC123)",
            ));
        }
        if !(10..=3600).contains(&pd.refresh_secs) {
            return Err(ConfigError::key(
                "oncall.pagerduty.refresh_secs",
                "10 to 3600",
            ));
        }
    }
    if let Some(name) = b
        .production_environment
        .as_ref()
        .filter(|n| !environments.contains_key(*n))
    {
        return Err(ConfigError::key(
            "onboarding.production_environment",
            format!("no environment {name:?}: the name of one of [environments.*]"),
        ));
    }
    if b.github_group.trim().is_empty() || b.origin.trim().is_empty() {
        return Err(ConfigError::key(
            "onboarding.github_group",
            "an organisation (habitat-sh) or team (habitat-sh/core), and an origin (core)",
        ));
    }
    Ok(())
}

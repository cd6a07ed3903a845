//! Habitat's vocabulary, as the Supervisor's two gateways and the fleet model speak it: package
//! idents, service groups, process states and health. The types the browser also shows
//! (ident, process state, health) live in the `vocab` crate and are re-exported here, so that the
//! fleet model and the gateway clients take them from one place.

use std::fmt;

pub use vocab::{HealthStatus, PackageIdent, ProcessState};

/// A service group: `builder-api.live`, or `builder-api.live@acme` with an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceGroup {
    pub service: String,
    pub group: String,
    pub organization: Option<String>,
}

impl ServiceGroup {
    /// Parses `service.group[@organization]`; a name without a group is in `default`, as the
    /// Supervisor has it.
    pub fn parse(s: &str) -> ServiceGroup {
        let (sg, organization) = match s.split_once('@') {
            Some((sg, org)) => (sg, Some(org.to_owned())),
            None => (s, None),
        };
        let (service, group) = split(sg);
        ServiceGroup {
            service: service.to_owned(),
            group: group.to_owned(),
            organization,
        }
    }
}

/// `(service, group)` of `service.group[@org]`, borrowed.
pub fn split(service_group: &str) -> (&str, &str) {
    let sg = service_group.split('@').next().unwrap_or("");
    sg.split_once('.').unwrap_or((sg, "default"))
}

impl fmt::Display for ServiceGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.service, self.group)?;
        if let Some(org) = &self.organization {
            write!(f, "@{org}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_groups() {
        let sg = ServiceGroup::parse("builder-api.live@acme");
        assert_eq!(
            (sg.service.as_str(), sg.group.as_str()),
            ("builder-api", "live")
        );
        assert_eq!(sg.organization.as_deref(), Some("acme"));
        assert_eq!(sg.to_string(), "builder-api.live@acme");
        assert_eq!(split("redis"), ("redis", "default"));
        assert_eq!(ServiceGroup::parse("redis").to_string(), "redis.default");
    }
}

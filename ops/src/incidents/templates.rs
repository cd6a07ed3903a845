//! The public messages' starting points: friendly and professional, as the runbook asks, filled
//! in with the affected components' public names. Every one is editable before it is sent.

use super::{ComponentStatus, Impact, Status};

/// "the Builder API and the Depot web site"
pub fn join_names(names: &[String]) -> String {
    match names {
        [] => "some of our services".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The message a status starts from.
pub fn message(status: Status, names: &[String]) -> String {
    let c = join_names(names);
    match status {
        Status::Investigating => format!(
            "We're investigating problems with {c}. Some requests may fail or be slow. We'll post an update as soon as we know more."
        ),
        Status::Identified => format!(
            "We've found the cause of the problems with {c} and are working on a fix. Thank you for your patience."
        ),
        Status::Monitoring => format!(
            "A fix for {c} is in place and we're watching to make sure everything stays healthy."
        ),
        Status::Resolved => format!(
            "The problems with {c} are resolved and everything is working normally. Thank you for bearing with us."
        ),
    }
}

/// The component status an impact suggests while the incident is open (operational once it is
/// resolved).
pub fn component_status(status: Status, impact: Impact) -> ComponentStatus {
    if status == Status::Resolved {
        return ComponentStatus::Operational;
    }
    match impact {
        Impact::Critical => ComponentStatus::MajorOutage,
        Impact::Major => ComponentStatus::PartialOutage,
        Impact::Minor | Impact::None => ComponentStatus::DegradedPerformance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_a_sentence() {
        assert_eq!(join_names(&[]), "some of our services");
        assert_eq!(join_names(&["the API".into()]), "the API");
        assert_eq!(
            join_names(&["the API".into(), "the Depot".into(), "builds".into()]),
            "the API, the Depot and builds"
        );
        assert!(message(Status::Investigating, &["the Builder API".into()])
            .starts_with("We're investigating problems with the Builder API."));
    }
}

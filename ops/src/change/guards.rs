//! The guards a request must pass, each with a verdict a person understands. They are pure: the
//! pipeline (`submit`) gathers what they need (the role, the environment, the Supervisors'
//! versions) and adds the guards that need the store (lock, cooldown) to the same list, so that
//! the audit row holds every verdict and a refusal names every reason at once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use vocab::Role;

use super::request::ActionRequest;

/// How a guard judged a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictLevel {
    Pass,
    /// Allowed, with something the person must see (and the audit keeps).
    Warn,
    Refuse,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// `role`, `confirmation`, `reason`, `acceptance_first`, `versions`, `lock`, `cooldown`, …
    pub guard: String,
    pub level: VerdictLevel,
    pub message: String,
}

impl Verdict {
    pub fn pass(guard: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            guard: guard.into(),
            level: VerdictLevel::Pass,
            message: message.into(),
        }
    }

    pub fn warn(guard: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            guard: guard.into(),
            level: VerdictLevel::Warn,
            message: message.into(),
        }
    }

    pub fn refuse(guard: &str, message: impl Into<String>) -> Verdict {
        Verdict {
            guard: guard.into(),
            level: VerdictLevel::Refuse,
            message: message.into(),
        }
    }

    pub fn refuses(&self) -> bool {
        self.level == VerdictLevel::Refuse
    }
}

/// What the pure guards look at besides the request.
#[derive(Debug, Clone)]
pub struct GuardContext {
    pub role: Role,
    pub production: bool,
    /// The environment's Supervisor versions now (more than one is the runbook's forbidden mix).
    pub supervisor_versions: BTreeSet<String>,
    /// For a production request: when the same service was last restarted in acceptance, within
    /// the last hour (epoch ms, store clock), and by whom.
    pub acceptance_restart: Option<(i64, String)>,
}

/// The most a reason may hold (it is stored in every audit row of the action).
pub const REASON_MAX: usize = 2000;

/// Every pure guard's verdict, in the order a person reads them.
pub fn check(request: &ActionRequest, ctx: &GuardContext) -> Vec<Verdict> {
    let mut out = Vec::new();
    out.push(match ctx.role {
        Role::Responder | Role::Admin => Verdict::pass(
            "role",
            format!("role {ctx_role}", ctx_role = ctx.role.as_str()),
        ),
        Role::Viewer => Verdict::refuse(
            "role",
            "viewers cannot act on the fleet: ask an admin for the responder role",
        ),
    });
    let expected = request.target.confirmation(ctx.production);
    let build = request.kind == super::request::ActionKind::RequestBuild;
    out.push(if build && !ctx.production {
        // A build outside production changes no running service by itself.
        Verdict::pass("confirmation", "not needed for a build outside production")
    } else if request.confirmation.trim() == expected {
        Verdict::pass("confirmation", format!("typed `{expected}`"))
    } else if request.confirmation.trim().is_empty() {
        Verdict::refuse("confirmation", format!("type `{expected}` to confirm"))
    } else {
        Verdict::refuse(
            "confirmation",
            format!(
                "the confirmation `{}` does not match: type `{expected}`",
                request.confirmation.trim()
            ),
        )
    });
    let reason = request.reason.trim();
    out.push(if reason.is_empty() {
        Verdict::refuse("reason", "say why: the reason is kept in the audit log")
    } else if reason.chars().count() > REASON_MAX {
        Verdict::refuse(
            "reason",
            format!("the reason is longer than {REASON_MAX} characters: shorten it"),
        )
    } else {
        Verdict::pass("reason", "given")
    });
    if build || request.kind == super::request::ActionKind::RestartSentinel {
        // A build is asked of each environment's own Builder, and the sentinel is one systemd
        // unit with no acceptance twin and no Supervisor: "tried in acceptance first" and the
        // Supervisors' versions are about acting on the services the Supervisors run.
        return out;
    }
    if ctx.production {
        let seen = ctx
            .acceptance_restart
            .as_ref()
            .map(|(at, who)| {
                // Relative, not a clock time: the verdict is kept with the action and read
                // later by people in other zones (issue #28, point 12).
                format!(
                    " (Onwatch saw it restarted in acceptance by {who} {} before this check)",
                    crate::time::human_age(crate::time::now_ms() - *at)
                )
            })
            .unwrap_or_default();
        out.push(match request.tried_in_acceptance {
            None => Verdict::refuse(
                "acceptance_first",
                format!("answer \"was this tried in acceptance first?\" (the runbook asks it of every production action){seen}"),
            ),
            Some(true) => Verdict::pass("acceptance_first", format!("tried in acceptance first{seen}")),
            Some(false) => Verdict::warn(
                "acceptance_first",
                format!("not tried in acceptance first; recorded{seen}"),
            ),
        });
    }
    out.push(if ctx.supervisor_versions.len() > 1 {
        let list: Vec<&str> = ctx.supervisor_versions.iter().map(String::as_str).collect();
        Verdict::warn(
            "versions",
            format!(
                "the environment's Supervisors run mixed versions ({}), which the runbook forbids",
                list.join(", ")
            ),
        )
    } else {
        Verdict::pass("versions", "one Supervisor version")
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::request::{ActionKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::RestartService,
            target: Target {
                environment: "live".into(),
                host: "api-1".into(),
                service_group: "builder-api.live".into(),
            },
            reason: "502s from the depot".into(),
            confirmation: "live/builder-api".into(),
            tried_in_acceptance: Some(true),
            idempotency_key: "k".into(),
            paths: Vec::new(),
        }
    }

    fn ctx() -> GuardContext {
        GuardContext {
            role: Role::Responder,
            production: true,
            supervisor_versions: BTreeSet::from(["0.83.0".to_owned()]),
            acceptance_restart: None,
        }
    }

    fn refusals(r: &ActionRequest, c: &GuardContext) -> Vec<String> {
        check(r, c)
            .into_iter()
            .filter(Verdict::refuses)
            .map(|v| v.guard)
            .collect()
    }

    #[test]
    fn a_complete_request_passes_every_guard() {
        assert!(refusals(&request(), &ctx()).is_empty());
    }

    #[test]
    fn each_guard_refuses_on_its_own() {
        let mut c = ctx();
        c.role = Role::Viewer;
        assert_eq!(refusals(&request(), &c), ["role"]);

        let mut r = request();
        r.confirmation = "builder-api".into();
        assert_eq!(
            refusals(&r, &ctx()),
            ["confirmation"],
            "live needs the environment too"
        );

        let mut r = request();
        r.reason = "   ".into();
        assert_eq!(refusals(&r, &ctx()), ["reason"]);
        r.reason = "x".repeat(REASON_MAX + 1);
        assert_eq!(refusals(&r, &ctx()), ["reason"]);

        let mut r = request();
        r.tried_in_acceptance = None;
        assert_eq!(refusals(&r, &ctx()), ["acceptance_first"]);
    }

    #[test]
    fn acceptance_needs_no_acceptance_answer_and_mixed_versions_warn() {
        let mut r = request();
        r.target.environment = "acceptance".into();
        r.confirmation = "builder-api".into();
        r.tried_in_acceptance = None;
        let mut c = ctx();
        c.production = false;
        c.supervisor_versions = BTreeSet::from(["0.83.0".into(), "0.84.1".into()]);
        let v = check(&r, &c);
        assert!(v.iter().all(|v| !v.refuses()), "{v:?}");
        let versions = v.iter().find(|v| v.guard == "versions").unwrap();
        assert_eq!(versions.level, VerdictLevel::Warn);
        assert!(versions.message.contains("0.83.0, 0.84.1"));
    }

    #[test]
    fn a_build_needs_a_confirmation_only_in_production() {
        let mut r = request();
        r.kind = ActionKind::RequestBuild;
        r.target.host = crate::builds::api::DEPOT.into();
        r.target.service_group = "builder-api".into();
        r.tried_in_acceptance = None;
        r.confirmation = String::new();
        assert_eq!(refusals(&r, &ctx()), ["confirmation"]);
        r.confirmation = "live/builder-api".into();
        assert!(refusals(&r, &ctx()).is_empty());
        let mut c = ctx();
        c.production = false;
        r.confirmation = String::new();
        assert!(refusals(&r, &c).is_empty());
        r.reason = " ".into();
        assert_eq!(refusals(&r, &c), ["reason"]);
        c.role = Role::Viewer;
        assert_eq!(refusals(&r, &c), ["role", "reason"]);
    }

    #[test]
    fn the_sentinel_is_asked_only_what_applies_to_a_systemd_unit() {
        let mut r = request();
        r.kind = ActionKind::RestartSentinel;
        r.target.host = "bots.habitat.sh".into();
        r.target.service_group = "sentinel".into();
        r.tried_in_acceptance = None;
        let mut c = ctx();
        c.supervisor_versions = BTreeSet::from(["0.83.0".to_owned(), "0.84.1".to_owned()]);
        let v = check(&r, &c);
        assert!(
            v.iter()
                .all(|v| v.guard != "acceptance_first" && v.guard != "versions"),
            "{v:?}"
        );
        assert!(v.iter().any(|v| v.guard == "reason"), "{v:?}");
    }

    #[test]
    fn a_no_to_acceptance_first_is_recorded_not_refused() {
        let mut r = request();
        r.tried_in_acceptance = Some(false);
        let mut c = ctx();
        c.acceptance_restart = Some((crate::time::now_ms() - 9 * 60_000, "ada".into()));
        let v = check(&r, &c);
        let a = v.iter().find(|v| v.guard == "acceptance_first").unwrap();
        assert_eq!(a.level, VerdictLevel::Warn);
        // How long before, not a clock time: the verdict is kept and read in other zones.
        assert!(
            a.message.contains("by ada 9 min before this check"),
            "{}",
            a.message
        );
    }
}

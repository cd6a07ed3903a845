//! Roles, and the rules that map a provider's memberships to them.

use serde::Deserialize;

pub use vocab::Role;

/// Which principals get which role. A principal is whatever the provider reports: a GitHub
/// organisation (`habitat-sh`), a team (`habitat-sh/builder-oncall`), an OIDC group
/// (`builder-oncall`), or one person written `@login`. The highest matching role wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleRules {
    pub viewer: Vec<String>,
    pub responder: Vec<String>,
    pub admin: Vec<String>,
    /// GitHub names are case-insensitive; OIDC groups are compared exactly.
    #[serde(skip)]
    pub case_insensitive: bool,
}

impl RoleRules {
    /// The highest role that `login` (matched as `@login`) or any of `principals` maps to.
    pub fn role_for(&self, login: &str, principals: &[String]) -> Option<Role> {
        let at_login = format!("@{login}");
        let matches = |rule: &String| {
            std::iter::once(&at_login)
                .chain(principals.iter())
                .any(|p| self.same(rule, p))
        };
        [
            (Role::Admin, &self.admin),
            (Role::Responder, &self.responder),
            (Role::Viewer, &self.viewer),
        ]
        .into_iter()
        .find(|(_, rules)| rules.iter().any(matches))
        .map(|(role, _)| role)
    }

    fn same(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive {
            a.trim().eq_ignore_ascii_case(b.trim())
        } else {
            a.trim() == b.trim()
        }
    }

    /// Every principal the rules name, lowest role first (for the refusal page).
    pub fn all_principals(&self) -> Vec<String> {
        self.viewer
            .iter()
            .chain(&self.responder)
            .chain(&self.admin)
            .cloned()
            .collect()
    }

    /// Whether any rule exists at all (a provider without rules lets nobody in).
    pub fn is_empty(&self) -> bool {
        self.viewer.is_empty() && self.responder.is_empty() && self.admin.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github_rules() -> RoleRules {
        RoleRules {
            viewer: vec!["habitat-sh".into()],
            responder: vec!["habitat-sh/builder-oncall".into()],
            admin: vec!["@Jamie".into(), "habitat-sh/core-admins".into()],
            case_insensitive: true,
        }
    }

    fn p(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin.allows(Role::Responder));
        assert!(Role::Responder.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert!(!Role::Responder.allows(Role::Admin));
        assert_eq!("Responder".parse::<Role>(), Ok(Role::Responder));
        assert!("root"
            .parse::<Role>()
            .unwrap_err()
            .contains("viewer, responder or admin"));
    }

    #[test]
    fn org_team_and_login_rules() {
        let r = github_rules();
        assert_eq!(r.role_for("bob", &p(&["habitat-sh"])), Some(Role::Viewer));
        assert_eq!(
            r.role_for("bob", &p(&["habitat-sh", "habitat-sh/builder-oncall"])),
            Some(Role::Responder)
        );
        assert_eq!(
            r.role_for("jamie", &p(&[])),
            Some(Role::Admin),
            "a login rule needs no membership, and GitHub names ignore case"
        );
        assert_eq!(
            r.role_for("bob", &p(&["HABITAT-SH/Core-Admins"])),
            Some(Role::Admin)
        );
        assert_eq!(r.role_for("eve", &p(&["chef", "chef/everyone"])), None);
        assert_eq!(
            r.role_for("eve", &p(&["habitat-sh/builder-oncall-alumni"])),
            None,
            "no prefix matching"
        );
    }

    #[test]
    fn oidc_groups_compare_exactly() {
        let r = RoleRules {
            viewer: vec!["builder".into()],
            responder: vec!["builder-oncall".into()],
            admin: vec![],
            case_insensitive: false,
        };
        assert_eq!(
            r.role_for("a@x", &p(&["builder-oncall"])),
            Some(Role::Responder)
        );
        assert_eq!(r.role_for("a@x", &p(&["Builder-Oncall"])), None);
        assert!(!r.is_empty());
        assert!(RoleRules::default().is_empty());
    }
}

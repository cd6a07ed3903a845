//! Roles, and the rules that map a provider's memberships to them.

use serde::Deserialize;

pub use vocab::Role;

/// Which principals get which role. A principal is whatever the provider reports: a GitHub
/// organisation (`habitat-sh`), a team (`habitat-sh/builder-oncall`), an OIDC group
/// (`builder-oncall`). One person is named by something that cannot be taken over: on GitHub
/// the numeric account id (`#1234`; a configured `@login` is resolved to the id once and the id
/// kept, see `auth::pins`), with OIDC the subject or a verified e-mail (`@sub`,
/// `@alice@example.com`). The highest matching role wins.
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
    /// The highest role that the person (`person`: their `#id` or `@sub`/`@verified-email`
    /// keys) or any of their group `principals` maps to. Person rules (`@…`, `#…`) match person
    /// keys only, group rules match groups only: a group can never be named like a person.
    pub fn role_for(&self, person: &[String], principals: &[String]) -> Option<Role> {
        let matches = |rule: &String| {
            let against = if is_person_rule(rule) {
                person
            } else {
                principals
            };
            against.iter().any(|p| self.same(rule, p))
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

    /// The `@login` person rules (GitHub resolves them to account ids).
    pub fn logins(&self) -> Vec<String> {
        self.all_principals()
            .into_iter()
            .filter_map(|r| r.trim().strip_prefix('@').map(str::to_owned))
            .collect()
    }

    /// These rules with each `@login` replaced by `#id` where `resolve` knows the id, and
    /// dropped where it does not (an unresolved login matches nobody: fails closed).
    pub fn with_logins_resolved(&self, resolve: impl Fn(&str) -> Option<u64>) -> RoleRules {
        let map = |rules: &Vec<String>| {
            rules
                .iter()
                .filter_map(|r| match r.trim().strip_prefix('@') {
                    Some(login) => resolve(login).map(|id| format!("#{id}")),
                    None => Some(r.clone()),
                })
                .collect()
        };
        RoleRules {
            viewer: map(&self.viewer),
            responder: map(&self.responder),
            admin: map(&self.admin),
            case_insensitive: self.case_insensitive,
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

/// `@login`, `@sub`, `@email` or `#id`: a rule that names one person.
fn is_person_rule(rule: &str) -> bool {
    let r = rule.trim();
    r.starts_with('@') || r.starts_with('#')
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
        .with_logins_resolved(|login| login.eq_ignore_ascii_case("jamie").then_some(3))
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
        let bob = p(&["#2"]);
        assert_eq!(r.role_for(&bob, &p(&["habitat-sh"])), Some(Role::Viewer));
        assert_eq!(
            r.role_for(&bob, &p(&["habitat-sh", "habitat-sh/builder-oncall"])),
            Some(Role::Responder)
        );
        assert_eq!(
            r.role_for(&p(&["#3"]), &p(&[])),
            Some(Role::Admin),
            "a person rule needs no membership: @Jamie was resolved to account #3"
        );
        assert_eq!(
            r.role_for(&p(&["#99"]), &p(&["@jamie", "#3"])),
            None,
            "a group named like a person matches nothing, and the login alone is no key"
        );
        assert_eq!(
            r.role_for(&bob, &p(&["HABITAT-SH/Core-Admins"])),
            Some(Role::Admin)
        );
        assert_eq!(r.role_for(&bob, &p(&["chef", "chef/everyone"])), None);
        assert_eq!(
            r.role_for(&bob, &p(&["habitat-sh/builder-oncall-alumni"])),
            None,
            "no prefix matching"
        );
        let unresolved = RoleRules {
            admin: vec!["@ghost".into()],
            ..RoleRules::default()
        }
        .with_logins_resolved(|_| None);
        assert!(
            unresolved.admin.is_empty(),
            "an unresolved login names nobody"
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
        let a = p(&["@sub-1"]);
        assert_eq!(
            r.role_for(&a, &p(&["builder-oncall"])),
            Some(Role::Responder)
        );
        assert_eq!(r.role_for(&a, &p(&["Builder-Oncall"])), None);
        assert!(!r.is_empty());
        assert!(RoleRules::default().is_empty());
    }
}

//! Secrets Onwatch holds for others (a Supervisor's control-gateway secret): given as they are,
//! or read from their file each time they are used, so that a rotated secret is used from the
//! next action on without restarting Onwatch (and a file made unreadable stops its use).

use std::path::PathBuf;

use secrecy::SecretString;

/// Where a secret comes from.
#[derive(Clone)]
pub enum SecretSource {
    /// As given (tests, or a secret from the environment).
    Fixed(SecretString),
    /// A file holding it (trailing newlines dropped), read at each use: a few bytes per action.
    File(PathBuf),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Fixed(_) => f.write_str("SecretSource::Fixed(…)"),
            SecretSource::File(p) => write!(f, "SecretSource::File({})", p.display()),
        }
    }
}

impl SecretSource {
    /// The secret now, or why it cannot be had (in words naming the file, never the secret).
    pub fn current(&self) -> Result<SecretString, String> {
        match self {
            SecretSource::Fixed(s) => Ok(s.clone()),
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "the secret file {} cannot be read ({e}): check it on Onwatch's host",
                        path.display()
                    )
                })?;
                let text = text.trim_end_matches(['\n', '\r']);
                if text.is_empty() {
                    return Err(format!("the secret file {} is empty", path.display()));
                }
                Ok(text.to_owned().into())
            }
        }
    }
}

/// A secret for some hosts of an environment, in place of the environment's own
/// (`[[environments.NAME.secrets]]`): a host matching `hosts` uses `secret`, and when the group
/// leaves that secret unset the host has none (it never falls back to the environment's).
#[derive(Debug, Clone)]
pub struct HostGroup<T> {
    /// Host names, or patterns with `*` (any run of characters) and `?` (one character).
    pub hosts: Vec<String>,
    pub secret: Option<T>,
}

/// The secret for `host`: that of the first group naming it, else the environment's.
pub fn for_host<'a, T>(
    environment: Option<&'a T>,
    groups: &'a [HostGroup<T>],
    host: &str,
) -> Option<&'a T> {
    match groups
        .iter()
        .find(|g| g.hosts.iter().any(|p| glob_matches(p, host)))
    {
        Some(group) => group.secret.as_ref(),
        None => environment,
    }
}

/// `*` matches any run of characters (none too), `?` one; everything else itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and where in the name it started matching.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_secret_file_is_read_again_at_each_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CTL_SECRET");
        std::fs::write(&path, "first\n").unwrap();
        let s = SecretSource::File(path.clone());
        assert_eq!(s.current().unwrap().expose_secret(), "first");
        std::fs::write(&path, "rotated\n").unwrap();
        assert_eq!(s.current().unwrap().expose_secret(), "rotated");
        std::fs::write(&path, "\n").unwrap();
        assert!(s.current().unwrap_err().contains("is empty"));
        std::fs::remove_file(&path).unwrap();
        assert!(s.current().unwrap_err().contains("cannot be read"));
        assert!(!format!("{s:?}").contains("rotated"));
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_matches("builder-api-*", "builder-api-1"));
        assert!(glob_matches("builder-api-*", "builder-api-"));
        assert!(!glob_matches("builder-api-*", "builder-api"));
        assert!(!glob_matches("api", "builder-api"));
        assert!(glob_matches("*-db-?", "live-db-3"));
        assert!(!glob_matches("*-db-?", "live-db-30"));
        assert!(glob_matches("a*b*c", "aXXbYYbc"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("", "x"));
    }

    #[test]
    fn a_host_in_a_group_uses_the_groups_secret_and_never_the_environments() {
        let groups = vec![
            HostGroup {
                hosts: vec!["datastore-*".to_owned()],
                secret: Some("datastore"),
            },
            HostGroup {
                hosts: vec!["bots".to_owned(), "datastore-2".to_owned()],
                secret: None,
            },
        ];
        assert_eq!(for_host(Some(&"env"), &groups, "builder-api"), Some(&"env"));
        assert_eq!(
            for_host(Some(&"env"), &groups, "datastore-2"),
            Some(&"datastore"),
            "the first group naming the host"
        );
        assert_eq!(for_host(Some(&"env"), &groups, "bots"), None);
        assert_eq!(for_host(None, &groups, "builder-api"), None);
    }
}

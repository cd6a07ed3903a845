//! Secrets Onwatch holds for others (a Supervisor's control-gateway secret): given as they are,
//! or read from their file each time they are used, so that a rotated secret is used from the
//! next action on without restarting Onwatch (and a file made unreadable stops its use).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

/// A secret file larger than this is not a secret file (a key, a token): it is refused rather
/// than read whole into memory.
const SECRET_FILE_MAX: u64 = 64 * 1024;

/// Why a secret file gave no secret, in words that name the file and never its content.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("the secret file {} cannot be read ({source}): check it on Onwatch's host", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the secret file {} is empty", path.display())]
    Empty { path: PathBuf },
    #[error("the secret file {} is over {} KiB: it does not hold one secret", path.display(), SECRET_FILE_MAX / 1024)]
    TooLarge { path: PathBuf },
    #[error("the secret file {} is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
}

/// The one reader of secret files (tokens, API keys, client secrets, keys): the file's text
/// with surrounding whitespace dropped, kept as a [`SecretString`] from the moment it is read.
/// Every capability that holds a secret in a file reads it here, at each use where rotation
/// without a restart matters.
pub fn read_file(path: &Path) -> Result<SecretString, SecretFileError> {
    let unreadable = |source| SecretFileError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(SECRET_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > SECRET_FILE_MAX {
        return Err(SecretFileError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| SecretFileError::NotText {
        path: path.to_owned(),
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SecretFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(trimmed.to_owned().into())
}

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
    pub fn current(&self) -> Result<SecretString, SecretFileError> {
        match self {
            SecretSource::Fixed(s) => Ok(s.clone()),
            SecretSource::File(path) => read_file(path),
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
    fn the_one_reader_trims_and_refuses_what_is_not_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "  t0ken\r\n").unwrap();
        assert_eq!(read_file(&f).unwrap().expose_secret(), "t0ken");
        std::fs::write(&f, "\n \n").unwrap();
        assert!(matches!(read_file(&f), Err(SecretFileError::Empty { .. })));
        std::fs::write(&f, vec![b'x'; 65 * 1024]).unwrap();
        assert!(matches!(
            read_file(&f),
            Err(SecretFileError::TooLarge { .. })
        ));
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_file(&f),
            Err(SecretFileError::NotText { .. })
        ));
        let missing = read_file(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(
            missing.contains("cannot be read") && missing.contains("nope"),
            "{missing}"
        );
    }

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
        assert!(s.current().unwrap_err().to_string().contains("is empty"));
        std::fs::remove_file(&path).unwrap();
        assert!(s
            .current()
            .unwrap_err()
            .to_string()
            .contains("cannot be read"));
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

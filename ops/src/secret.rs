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
}

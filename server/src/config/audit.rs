//! `[audit]`: signed checkpoints of the audit chain's head (see `ops::audit::checkpoint`). Off
//! unless `checkpoint_key_file` is set; the key lives in that file, never in the store.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The Ed25519 key that signs checkpoints, made by `onwatch audit keygen --out FILE`. Keep it
    /// where a person who can write to the store cannot read it.
    pub checkpoint_key_file: Option<PathBuf>,
    /// How often a checkpoint is signed (one is also signed at start and at shutdown).
    pub checkpoint_interval_secs: u64,
    /// A file every checkpoint is appended to (one JSON line each), for
    /// `onwatch audit verify --checkpoint FILE`. Best outside the store's machine or volume.
    pub checkpoint_file: Option<PathBuf>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_key_file: None,
            checkpoint_interval_secs: 900,
            checkpoint_file: None,
        }
    }
}

impl AuditConfig {
    /// The key, read from its file: `None` when checkpoints are off.
    pub fn checkpoint_key(
        &self,
    ) -> Result<Option<ops::audit::checkpoint::CheckpointKey>, ConfigError> {
        self.checkpoint_key_file
            .as_deref()
            .map(ops::audit::checkpoint::CheckpointKey::from_file)
            .transpose()
            .map_err(|e| ConfigError::key("audit.checkpoint_key_file", e.to_string()))
    }
}

pub(super) fn check(audit: &AuditConfig) -> Result<(), ConfigError> {
    if !(10..=86_400).contains(&audit.checkpoint_interval_secs) {
        return Err(ConfigError::key(
            "audit.checkpoint_interval_secs",
            "10 to 86400 seconds",
        ));
    }
    if audit.checkpoint_key_file.is_none() {
        if audit.checkpoint_file.is_some() {
            return Err(ConfigError::key(
                "audit.checkpoint_file",
                "checkpoints need a key: set audit.checkpoint_key_file too (`onwatch audit keygen --out FILE` makes one)",
            ));
        }
        return Ok(());
    }
    audit.checkpoint_key()?;
    if let Some(file) = &audit.checkpoint_file {
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            return Err(ConfigError::key(
                "audit.checkpoint_file",
                format!(
                    "its directory {} does not exist: create it, or name a file in one that does",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

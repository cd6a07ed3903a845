//! `[metrics]`: who may read `/metrics`. It shows which hosts are unreachable, live: not for
//! outsiders. Three ways, from the most to the least separated:
//!
//! - `listen`: `/metrics` is served only on this other address (bind it to a private interface
//!   the Prometheus server reaches); the public address answers 404;
//! - `token_file`: a scraper sends `Authorization: Bearer <the file's text>`;
//! - and always (unless `listen` is set): a signed-in person with at least `role`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` only on this address (no sign-in, no token unless `token_file` is set).
    pub listen: Option<SocketAddr>,
    /// A file holding the scrape token, read at each scrape (so it can be rotated).
    pub token_file: Option<PathBuf>,
    /// The role a signed-in person needs to read `/metrics` in the browser.
    pub role: vocab::Role,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            token_file: None,
            role: vocab::Role::Responder,
        }
    }
}

pub(super) fn check(metrics: &MetricsConfig, listen: SocketAddr) -> Result<(), ConfigError> {
    if let Some(addr) = metrics.listen {
        if addr == listen && addr.port() != 0 {
            return Err(ConfigError::key(
                "metrics.listen",
                format!("{addr} is server.listen itself: give /metrics an address of its own (e.g. 127.0.0.1:9464), or remove metrics.listen"),
            ));
        }
    }
    if let Some(file) = &metrics.token_file {
        let token = super::read_secret("metrics.token_file", file)?;
        if secrecy::ExposeSecret::expose_secret(&token).len() < 16 {
            return Err(ConfigError::key(
                "metrics.token_file",
                format!(
                    "{} must hold a token of at least 16 characters (e.g. `openssl rand -hex 32`)",
                    file.display()
                ),
            ));
        }
    }
    Ok(())
}

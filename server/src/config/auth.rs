//! `[auth]`: the sign-in providers, the session lifetimes, and the loopback-only development
//! sign-in.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::{read_secret, ConfigError, ServerConfig};

/// Sign-in: the providers, the session lifetimes, and the loopback-only development sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A sign-in form where anyone picks a name and a role. Only for a portal bound to loopback
    /// (`make demo`, tests); every page then says so.
    pub dev_signin: bool,
    /// A session ends after this long without a request.
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_hours: u64,
    /// A session read from the store is trusted this long before it is read again, so that a
    /// page view costs no store round trip. Sign-out and revocation through this replica take
    /// effect at once; through another replica, within this. 0 reads it on every request.
    pub session_cache_ms: u64,
    /// While a session is used, its memberships are read again from the provider at most this
    /// often, so that someone removed from a team loses the role within this time.
    pub role_recheck_secs: u64,
    /// A file holding the secret (at least 32 bytes, e.g. `openssl rand -hex 32`) that seals the
    /// sign-in cookie and the session data in the store (the provider's tokens among it). Every
    /// replica must read the same file. Unset: a secret drawn at first start and kept in the
    /// store, which then no longer keeps the tokens from someone with a copy of the store.
    pub key_file: Option<PathBuf>,
    pub github: Option<GitHubAuthConfig>,
    pub oidc: Option<OidcAuthConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            dev_signin: false,
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 24,
            session_cache_ms: 2000,
            role_recheck_secs: 600,
            key_file: None,
            github: None,
            oidc: None,
        }
    }
}

/// Sign-in with GitHub (an OAuth app of the organisation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubAuthConfig {
    pub client_id: String,
    /// File holding the OAuth app's client secret.
    pub client_secret_file: PathBuf,
    /// GitHub's web address (GitHub Enterprise: your server).
    #[serde(default = "default_github_web")]
    pub web_url: url::Url,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[serde(default = "default_github_api")]
    pub api_url: url::Url,
    /// Organisations (`habitat-sh`), teams (`habitat-sh/builder-oncall`) or people (`@login`)
    /// per role.
    #[serde(default)]
    pub roles: ops::auth::RoleRules,
    #[serde(skip, default = "no_secret")]
    pub client_secret: SecretString,
}

/// A secret not read yet (it comes from the `…_file` key when the configuration is checked).
fn no_secret() -> SecretString {
    SecretString::from("")
}

fn default_github_web() -> url::Url {
    url::Url::parse("https://github.com").expect("a valid constant URL")
}

fn default_github_api() -> url::Url {
    url::Url::parse("https://api.github.com").expect("a valid constant URL")
}

/// Sign-in with an OpenID Connect provider (Okta, Azure AD, Google, Keycloak, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcAuthConfig {
    /// What the sign-in button says: "Sign in with …".
    #[serde(default = "default_oidc_name")]
    pub display_name: String,
    /// The issuer, exactly as the provider writes it (the id_token's `iss` must equal it, so a
    /// trailing slash matters); discovery reads ISSUER/.well-known/openid-configuration.
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret_file: PathBuf,
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim listing the person's groups (in the id_token or at the userinfo endpoint).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Groups (or `@preferred_username`) per role.
    #[serde(default)]
    pub roles: ops::auth::RoleRules,
    #[serde(skip, default = "no_secret")]
    pub client_secret: SecretString,
}

fn default_oidc_name() -> String {
    "single sign-on".to_owned()
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "email", "profile", "groups"]
        .map(str::to_owned)
        .to_vec()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

/// Checks `[auth]` (against `[server]`, whose address decides what is allowed) and reads the
/// providers' secrets.
pub(super) fn check(auth: &mut AuthConfig, server: &ServerConfig) -> Result<(), ConfigError> {
    if auth.dev_signin && !server.listen.ip().is_loopback() {
        return Err(ConfigError::key(
            "auth.dev_signin",
            format!(
                "the development sign-in lets anyone pick any role, so it is only allowed when server.listen is a loopback address (127.0.0.1 or ::1); server.listen is {}. Configure [auth.github] or [auth.oidc] instead",
                server.listen
            ),
        ));
    }
    if auth.dev_signin {
        let https = server
            .public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https");
        if https || auth.github.is_some() || auth.oidc.is_some() {
            return Err(ConfigError::key(
                "auth.dev_signin",
                "the development sign-in lets anyone pick any role, so it serves this machine's own browser only: it cannot be on together with an https server.public_url or an identity provider ([auth.github], [auth.oidc]). Turn it off",
            ));
        }
    }
    if auth.github.is_none() && auth.oidc.is_none() && !auth.dev_signin {
        return Err(ConfigError::key(
            "auth",
            "nobody could sign in: configure [auth.github] or [auth.oidc] (see the README), or, on a loopback address only, auth.dev_signin = true",
        ));
    }
    if auth.session_idle_minutes == 0 || auth.session_absolute_hours == 0 {
        return Err(ConfigError::key(
            "auth.session_idle_minutes",
            "session lifetimes must be at least 1 (minute / hour)",
        ));
    }
    if auth.role_recheck_secs == 0 || auth.role_recheck_secs > 24 * 3600 {
        return Err(ConfigError::key(
            "auth.role_recheck_secs",
            "must be 1 to 86400 seconds (default 600): how long someone removed from a team keeps the role",
        ));
    }
    if auth.session_cache_ms > 60_000 {
        return Err(ConfigError::key(
            "auth.session_cache_ms",
            "at most 60000 (a minute): a session revoked through another replica stays usable here this long",
        ));
    }
    if let Some(file) = &auth.key_file {
        ops::auth::sealed::AuthKey::from_file(file)
            .map_err(|e| ConfigError::key("auth.key_file", e.to_string()))?;
    }
    if let Some(gh) = auth.github.as_mut() {
        if gh.client_id.trim().is_empty() {
            return Err(ConfigError::key(
                "auth.github.client_id",
                "is empty; copy the Client ID of the GitHub OAuth app",
            ));
        }
        gh.client_secret = read_secret("auth.github.client_secret_file", &gh.client_secret_file)?;
        if gh.roles.is_empty() {
            return Err(ConfigError::key(
                "auth.github.roles",
                "maps nobody to a role; add e.g. viewer = [\"habitat-sh\"], responder = [\"habitat-sh/builder-oncall\"]",
            ));
        }
        gh.roles.case_insensitive = true;
    }
    if let Some(oidc) = auth.oidc.as_mut() {
        if oidc.client_id.trim().is_empty() {
            return Err(ConfigError::key(
                "auth.oidc.client_id",
                "is empty; copy the client id of the OIDC application",
            ));
        }
        match url::Url::parse(oidc.issuer_url.trim()) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
            // Plain http only to this machine (a local provider in tests and development): over
            // a network, discovery and keys fetched in the clear could be swapped for an
            // attacker's.
            Ok(u) if u.scheme() == "http" && u.host().is_some_and(is_loopback_host) => {}
            Ok(u) if u.scheme() == "http" => {
                return Err(ConfigError::key(
                    "auth.oidc.issuer_url",
                    format!(
                        "`{}` is plain http to another machine: the provider's keys would travel unprotected. Use the https issuer (http is allowed for loopback only)",
                        oidc.issuer_url
                    ),
                ))
            }
            _ => {
                return Err(ConfigError::key(
                    "auth.oidc.issuer_url",
                    format!(
                        "`{}` is not an http(s) URL; expected the provider's issuer, e.g. https://example.okta.com/oauth2/default",
                        oidc.issuer_url
                    ),
                ))
            }
        }
        oidc.issuer_url = oidc.issuer_url.trim().to_owned();
        oidc.client_secret = read_secret("auth.oidc.client_secret_file", &oidc.client_secret_file)?;
        if oidc.roles.is_empty() {
            return Err(ConfigError::key(
                "auth.oidc.roles",
                "maps nobody to a role; add e.g. viewer = [\"builder-team\"], responder = [\"builder-oncall\"]",
            ));
        }
        oidc.roles.case_insensitive = false;
    }
    let needs_public_url = auth.github.is_some() || auth.oidc.is_some();
    if needs_public_url && server.public_url.is_none() && !server.listen.ip().is_loopback() {
        return Err(ConfigError::key(
            "server.public_url",
            "sign-in providers send people back to Onwatch's public address: set server.public_url, e.g. https://onwatch.example.com",
        ));
    }
    Ok(())
}

fn is_loopback_host(host: url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

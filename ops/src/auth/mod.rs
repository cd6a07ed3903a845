//! Who may use Onwatch, and for what: identities from GitHub or an OpenID Connect provider, the
//! roles they map to, and the rows that keep sign-in sessions in the portal's store.
//!
//! The web edge (cookies, redirects, CSRF) lives in the server; everything here is plain async
//! code that the integration tests drive against a real provider.

pub mod github;
pub mod oidc;
pub mod pending;
pub mod pins;
pub mod roles;
pub mod sealed;
pub mod sessions;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use roles::{Role, RoleRules};

/// A signed-in person, as Onwatch remembers them for the length of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `github`, `oidc` or `dev` (the loopback-only development sign-in).
    pub provider: String,
    /// The provider's stable id: GitHub's numeric user id, the OIDC `sub`.
    pub subject: String,
    /// What people call the account: the GitHub login, the OIDC preferred username or e-mail.
    pub login: String,
    /// A display name (falls back to the login).
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    /// The organisations, teams or groups that were seen at sign-in (shown to admins).
    pub memberships: Vec<String>,
}

impl Identity {
    /// `alice (github)`: how audit rows and logs name the person.
    pub fn label(&self) -> String {
        format!("{} ({})", self.login, self.provider)
    }

    /// How audit rows name the person: the stable account (`provider:subject`), the login
    /// shown at the time, the role then.
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            id: format!("{}:{}", self.provider, self.subject),
            name: self.login.clone(),
            role: self.role.as_str().to_owned(),
        }
    }
}

/// What Onwatch keeps (server-side, in the session row) to re-read a person's memberships while
/// their session is used: the provider's access token, and the refresh token where the provider
/// gave one. Never shown in a page, a log (its `Debug` prints no secret) or an audit row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    #[serde(serialize_with = "expose_opt", default)]
    pub refresh_token: Option<SecretString>,
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

fn expose_opt<S: serde::Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_some(v.expose_secret()),
        None => s.serialize_none(),
    }
}

/// A finished sign-in: who, and what lets Onwatch check their role again later.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub identity: Identity,
    pub credential: Credential,
}

/// The request's CSRF token (the double-submit cookie's value), for forms that must work
/// without JavaScript. Set by the server's auth wall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

/// A random, URL-safe token of 256 bits.
pub fn random_token() -> String {
    oauth2::CsrfToken::new_random_len(32).secret().clone()
}

/// What the server remembers (sealed into the browser's sign-in cookie, see [`pending`]) between
/// sending the browser to the provider and the provider sending it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub provider: String,
    /// The OAuth2 `state`: the callback must bring back exactly this.
    pub state: String,
    pub pkce_verifier: String,
    /// The OIDC nonce the id_token must carry.
    pub nonce: Option<String>,
    pub redirect_uri: String,
    /// Where to go after signing in (a local path).
    pub next: Option<String>,
    pub started_ms: i64,
}

impl PendingSignIn {
    /// Compares the returned `state` with the remembered one, in constant time.
    pub fn state_matches(&self, returned: &str) -> bool {
        let (a, b) = (self.state.as_bytes(), returned.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Turns an `oauth2` token-endpoint failure into a message for the person signing in.
pub(crate) fn token_error<RE, TE>(e: oauth2::RequestTokenError<RE, TE>) -> AuthError
where
    RE: std::error::Error + 'static,
    TE: oauth2::ErrorResponse + 'static,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            AuthError::Refused(format!("the token endpoint answered: {r}"))
        }
        oauth2::RequestTokenError::Request(r) => {
            let mut msg = r.to_string();
            let mut source = std::error::Error::source(&r);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            AuthError::Provider(format!("token request failed: {msg}"))
        }
        oauth2::RequestTokenError::Parse(err, body) => {
            // GitHub reports a bad or reused code as HTTP 200 with {"error": ...}.
            let body = String::from_utf8_lossy(&body);
            match serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            {
                Some(code) => AuthError::Refused(format!("the token endpoint answered `{code}`")),
                None => AuthError::Provider(format!(
                    "the token endpoint sent an unexpected answer: {err}"
                )),
            }
        }
        oauth2::RequestTokenError::Other(m) => AuthError::Provider(m),
    }
}

/// What a provider said about a person before the role rules were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub provider: String,
    pub subject: String,
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// What person rules match: keys that cannot be taken over (`#id` on GitHub; `@sub` and a
    /// verified `@email` with OIDC). Never the login, which another account can take.
    pub person: Vec<String>,
    /// Groups the role rules match against: orgs, `org/team`, OIDC groups.
    pub principals: Vec<String>,
}

impl Claims {
    /// Applies the role rules: the identity, or the refusal that says why.
    pub fn into_identity(self, rules: &RoleRules) -> Result<Identity, AuthError> {
        match rules.role_for(&self.person, &self.principals) {
            Some(role) => Ok(Identity {
                provider: self.provider,
                subject: self.subject,
                name: self
                    .name
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| self.login.clone()),
                login: self.login,
                email: self.email,
                role,
                memberships: self.principals,
            }),
            None => Err(AuthError::NoRole {
                login: self.login,
                provider: self.provider,
                seen: self.principals,
                wanted: rules.all_principals(),
            }),
        }
    }
}

/// Why a sign-in did not succeed. Messages are shown to the person signing in, so they say what
/// happened and what to do, and never carry a token or secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the sign-in provider could not be reached or answered badly: {0}. Try again in a minute; if it persists, check the provider's status and Onwatch's [auth] configuration")]
    Provider(String),
    #[error("the sign-in provider refused the request: {0}")]
    Refused(String),
    #[error("the sign-in could not be verified: {0}. Start again from the sign-in page")]
    Invalid(String),
    /// The person must do something at the provider first; the message says what.
    #[error("{0}")]
    NeedsAction(String),
    #[error("{login} signed in with {provider}, but none of the account's memberships gives a role in Onwatch")]
    NoRole {
        login: String,
        provider: String,
        /// What the provider reported (orgs, teams, groups).
        seen: Vec<String>,
        /// What the configuration maps to a role.
        wanted: Vec<String>,
    },
}

/// The HTTP client for talking to identity providers: bounded time, no redirects (a redirect
/// from a token endpoint is an attack, not a feature).
pub fn http_client() -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(15))
        .user_agent(concat!("onwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AuthError::Provider(format!("cannot build an HTTP client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(principals: &[&str]) -> Claims {
        Claims {
            provider: "github".into(),
            subject: "42".into(),
            login: "alice".into(),
            name: None,
            email: None,
            person: vec!["#42".into()],
            principals: principals.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn state_comparison() {
        let p = PendingSignIn {
            provider: "github".into(),
            state: "abc123".into(),
            pkce_verifier: "v".into(),
            nonce: None,
            redirect_uri: "http://x/cb".into(),
            next: None,
            started_ms: 0,
        };
        assert!(p.state_matches("abc123"));
        assert!(!p.state_matches("abc124"));
        assert!(!p.state_matches("abc12"));
        assert!(!p.state_matches(""));
    }

    #[test]
    fn identity_takes_the_highest_role_and_falls_back_to_the_login_for_a_name() {
        let rules = RoleRules {
            viewer: vec!["habitat-sh".into()],
            responder: vec!["habitat-sh/builder-oncall".into()],
            admin: vec![],
            case_insensitive: true,
        };
        let id = claims(&["habitat-sh", "habitat-sh/builder-oncall"])
            .into_identity(&rules)
            .unwrap();
        assert_eq!(id.role, Role::Responder);
        assert_eq!(id.name, "alice");
        assert_eq!(id.label(), "alice (github)");
    }

    #[test]
    fn no_role_says_what_was_seen_and_what_is_wanted() {
        let rules = RoleRules {
            viewer: vec!["habitat-sh".into()],
            responder: vec![],
            admin: vec!["@root".into()],
            case_insensitive: true,
        };
        match claims(&["other-org"]).into_identity(&rules) {
            Err(AuthError::NoRole { seen, wanted, .. }) => {
                assert_eq!(seen, ["other-org"]);
                assert_eq!(wanted, ["habitat-sh", "@root"]);
            }
            other => panic!("expected NoRole, got {other:?}"),
        }
    }
}

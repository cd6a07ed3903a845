//! Sign-in and roles at the web edge: the providers (GitHub, OIDC, the loopback-only development
//! sign-in), sessions in the store (tower-sessions), the auth wall that every request passes,
//! and CSRF protection for every state-changing request.
//!
//! The rules of the wall are in [`wall::RouteTable`]: every route says what it needs where it
//! is declared (server routes beside their handler, pages in `app::PAGES`); server functions
//! follow the convention `/api/read/…` (viewer), `/api/act/…` (responder), `/api/admin/…`
//! (admin), `/api/public/…` (anyone). A route that says nothing is refused, so an endpoint that
//! forgot to say what it needs fails closed.

pub(crate) mod handlers;
mod pages;
pub mod session_store;
pub mod wall;

/// The form field that carries the CSRF token (a form that posts without JavaScript).
pub const CSRF_FIELD: &str = "_csrf";

use std::sync::Arc;
use std::time::Duration;

use ops::auth::github::GitHubProvider;
use ops::auth::oidc::{OidcProvider, OidcSettings};
use ops::auth::sealed::AuthKey;
use ops::auth::sessions::SessionStore;
use ops::auth::Identity;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use url::Url;

use crate::config::Config;
pub use handlers::SIGNIN_COOKIE;
use session_store::StoreSessions;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "onwatch_session";
/// How long a sign-in may take between leaving for the provider and coming back.
pub const SIGN_IN_TIMEOUT_MS: i64 = ops::auth::pending::PENDING_TTL_MS;
/// Activity moves a session's idle expiry forward at most this often (one store write).
pub const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// What a signed-in session remembers (server-side, sealed in its row of the store).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub identity: Identity,
    pub signed_in_ms: i64,
    pub last_seen_ms: i64,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    /// When the role was last confirmed with the provider (sign-in, then every
    /// `auth.role_recheck_secs` while the session is used).
    #[serde(default)]
    pub roles_checked_ms: i64,
    /// The provider's token(s), to confirm the role again; `None` for the development sign-in.
    #[serde(default)]
    pub credential: Option<ops::auth::Credential>,
}

/// A configured OIDC provider and the name on its button.
pub struct OidcEntry {
    pub display_name: String,
    pub provider: OidcProvider,
}

/// The sign-in configuration, shared by the handlers and the wall.
pub struct AuthSettings {
    /// Where people reach Onwatch: sign-in redirects come back here.
    pub public_url: Url,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    pub idle: Duration,
    pub absolute: Duration,
    pub dev_signin: bool,
    pub github: Option<GitHubProvider>,
    pub oidc: Option<OidcEntry>,
    pub sessions: SessionStore,
    /// Seals the sign-in cookie and the sessions' data in the store.
    pub key: AuthKey,
    /// Sign-ins in progress: sealed into the browser's cookie; the store only learns of a
    /// sign-in when its callback uses it up.
    pub signins: ops::auth::pending::SignIns,
    /// A session's role is confirmed with its provider again after this long.
    pub role_recheck: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<crate::edge::IpRange>,
    /// Sign-ins, refusals and sign-outs are audit rows.
    pub audit: ops::audit::AuditLog,
}

/// Cheap to clone: shared settings.
#[derive(Clone)]
pub struct Auth(pub Arc<AuthSettings>);

impl std::ops::Deref for Auth {
    type Target = AuthSettings;
    fn deref(&self) -> &AuthSettings {
        &self.0
    }
}

impl Auth {
    /// Builds the providers from the configuration. `local` is the bound address, used as the
    /// public URL when none is configured (loopback only; the configuration check ensures it).
    pub fn from_config(
        config: &Config,
        store: ops::store::Store,
        local: std::net::SocketAddr,
    ) -> Result<Auth, String> {
        let public_url = match &config.server.public_url {
            Some(u) => u.clone(),
            None => Url::parse(&format!("http://{local}"))
                .map_err(|e| format!("cannot make a public URL from {local}: {e}"))?,
        };
        let http = ops::auth::http_client().map_err(|e| e.to_string())?;
        let a = &config.auth;
        let key = match &a.key_file {
            Some(file) => AuthKey::from_file(file).map_err(|e| format!("auth.key_file: {e}"))?,
            None => AuthKey::in_store(store.clone()),
        };
        let github = a.github.as_ref().map(|g| GitHubProvider {
            client_id: g.client_id.clone(),
            client_secret: g.client_secret.clone(),
            web_url: g.web_url.clone(),
            api_url: g.api_url.clone(),
            rules: g.roles.clone(),
            pins: ops::auth::pins::IdentityPins::new(store.clone(), "github"),
            http: http.clone(),
        });
        let oidc = a.oidc.as_ref().map(|o| OidcEntry {
            display_name: o.display_name.clone(),
            provider: OidcProvider::new(
                OidcSettings {
                    issuer_url: o.issuer_url.clone(),
                    client_id: o.client_id.clone(),
                    client_secret: o.client_secret.clone(),
                    scopes: o.scopes.clone(),
                    groups_claim: o.groups_claim.clone(),
                    rules: o.roles.clone(),
                },
                http.clone(),
            ),
        });
        Ok(Auth(Arc::new(AuthSettings {
            secure_cookies: public_url.scheme() == "https",
            public_url,
            idle: Duration::from_secs(a.session_idle_minutes * 60),
            absolute: Duration::from_secs(a.session_absolute_hours * 3600),
            dev_signin: a.dev_signin,
            github,
            oidc,
            sessions: SessionStore::new(store.clone(), Duration::from_millis(a.session_cache_ms)),
            audit: ops::audit::AuditLog::new(store.clone()),
            signins: ops::auth::pending::SignIns::new(key.clone(), store),
            key,
            role_recheck: Duration::from_secs(a.role_recheck_secs),
            trusted_proxies: config.server.trusted_proxies.clone(),
        })))
    }

    /// Confirms a session's role with its provider: today's identity and the credential to
    /// keep, or why the role cannot be confirmed.
    pub async fn recheck(
        &self,
        signed_in: &SignedIn,
    ) -> Result<(Identity, ops::auth::Credential), ops::auth::AuthError> {
        use ops::auth::AuthError;
        let Some(credential) = &signed_in.credential else {
            return Err(AuthError::Invalid(
                "the session has no provider token".to_owned(),
            ));
        };
        let subject = &signed_in.identity.subject;
        match signed_in.identity.provider.as_str() {
            "github" => match &self.github {
                Some(gh) => Ok((gh.recheck(credential, subject).await?, credential.clone())),
                None => Err(AuthError::Invalid(
                    "sign-in with GitHub is no longer configured".to_owned(),
                )),
            },
            "oidc" => match &self.oidc {
                Some(o) => o.provider.recheck(credential, subject).await,
                None => Err(AuthError::Invalid(
                    "sign-in with OpenID Connect is no longer configured".to_owned(),
                )),
            },
            other => Err(AuthError::Invalid(format!("unknown provider `{other}`"))),
        }
    }

    /// The session layer: cookie `onwatch_session`, HttpOnly, SameSite=Lax, Secure on https,
    /// idle expiry; sessions live in the portal's store (keyed by a hash of the id, data sealed).
    pub fn session_layer(&self) -> SessionManagerLayer<StoreSessions> {
        let idle = time::Duration::seconds(self.idle.as_secs() as i64);
        SessionManagerLayer::new(StoreSessions {
            sessions: self.sessions.clone(),
            key: self.key.clone(),
        })
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(self.secure_cookies)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
    }

    /// `https://onwatch.example.com/auth/github/callback` and the like.
    pub fn callback_url(&self, provider: &str) -> String {
        format!(
            "{}/auth/{provider}/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// Whether any real provider (not the development sign-in) is configured.
    pub fn has_provider(&self) -> bool {
        self.github.is_some() || self.oidc.is_some()
    }
}

/// Deletes expired sessions every few minutes, until `stop` turns true.
pub async fn session_cleanup(sessions: SessionStore, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match sessions.delete_expired(ops::time::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired sessions deleted"),
            Err(e) => tracing::warn!(error = %e, "cannot delete expired sessions"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn auth_for(public_url: Option<&str>) -> Auth {
        let dir = tempfile::tempdir().unwrap();
        let store = ops::store::Store::open(
            &format!("sqlite://{}/s.db", dir.path().display()),
            &Default::default(),
        )
        .await
        .unwrap();
        let mut config = Config::default();
        config.auth.dev_signin = true;
        config.server.public_url = public_url.map(|u| u.parse().unwrap());
        Auth::from_config(&config, store, "127.0.0.1:3000".parse().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn cookies_are_secure_exactly_when_the_public_url_is_https() {
        let auth = auth_for(Some("https://onwatch.example.com")).await;
        assert!(auth.secure_cookies);
        assert_eq!(
            auth.callback_url("github"),
            "https://onwatch.example.com/auth/github/callback"
        );
        let auth = auth_for(None).await;
        assert!(!auth.secure_cookies, "plain http on loopback");
        assert_eq!(
            auth.callback_url("oidc"),
            "http://127.0.0.1:3000/auth/oidc/callback",
            "without a public URL, the bound address"
        );
    }
}

//! Sign-in with an OpenID Connect provider (Okta, or any compliant one): discovery, the
//! authorization-code flow with PKCE, state and nonce, id_token signature / issuer / audience /
//! nonce validation (the `openidconnect` crate), then the role from a configurable groups claim.

use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use super::{AuthError, Claims, Credential, Identity, PendingSignIn, RoleRules, SignIn};

/// Provider metadata (and its signing keys) is fetched again after this long, so that key
/// rotation at the provider needs no restart of Onwatch.
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);
/// A discovery that failed is not tried again for this long: while the provider is down, a
/// flood of sign-in starts makes one discovery request per period, not one each.
pub const DISCOVERY_RETRY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Exactly as the provider writes its issuer (compared character for character).
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Requested in addition to `openid` (e.g. `email`, `profile`, `groups`).
    pub scopes: Vec<String>,
    /// The claim (in the id_token or at the userinfo endpoint) that lists the person's groups.
    pub groups_claim: String,
    pub rules: RoleRules,
}

/// An OIDC provider, discovered on first use (so Onwatch starts even while the provider is
/// down) and re-discovered every [`METADATA_TTL`].
#[derive(Debug)]
pub struct OidcProvider {
    pub settings: OidcSettings,
    http: reqwest::Client,
    metadata: Mutex<Discovered>,
}

/// The provider's metadata as last discovered, and the last failure while it is recent.
#[derive(Debug, Default)]
struct Discovered {
    metadata: Option<(CoreProviderMetadata, Instant)>,
    failed: Option<(String, Instant)>,
}

impl OidcProvider {
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> OidcProvider {
        OidcProvider {
            settings,
            http,
            metadata: Mutex::new(Discovered::default()),
        }
    }

    /// The provider's metadata: discovered at first use, again after [`METADATA_TTL`]. A failed
    /// discovery is remembered for [`DISCOVERY_RETRY`]: callers meanwhile get the same failure
    /// without a request (the lock is held across the discovery, so concurrent callers wait for
    /// its outcome instead of each making one).
    async fn metadata(&self) -> Result<CoreProviderMetadata, AuthError> {
        let mut cached = self.metadata.lock().await;
        if let Some((m, at)) = cached.metadata.as_ref() {
            if at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        if let Some((why, at)) = cached.failed.as_ref() {
            if at.elapsed() < DISCOVERY_RETRY {
                return Err(AuthError::Provider(why.clone()));
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer_url.clone()).map_err(|e| {
            AuthError::Provider(format!(
                "the issuer URL {} is not valid: {e}",
                self.settings.issuer_url
            ))
        })?;
        match CoreProviderMetadata::discover_async(issuer, &self.http).await {
            Ok(m) => {
                cached.metadata = Some((m.clone(), Instant::now()));
                cached.failed = None;
                Ok(m)
            }
            Err(e) => {
                let why = format!(
                    "OpenID Connect discovery at {} failed: {}",
                    self.settings.issuer_url,
                    chain(&e)
                );
                tracing::warn!(error = %why, retry_secs = DISCOVERY_RETRY.as_secs(), "OIDC discovery failed; not retried before");
                cached.failed = Some((why.clone(), Instant::now()));
                Err(AuthError::Provider(why))
            }
        }
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        AuthError,
    > {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned())
                .map_err(|e| AuthError::Provider(format!("bad redirect URL: {e}")))?,
        ))
    }

    /// The URL to send the browser to, and what must be remembered until the callback.
    pub async fn begin(&self, redirect_uri: &str) -> Result<(Url, PendingSignIn), AuthError> {
        let client = self.client(self.metadata().await?, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self
            .settings
            .scopes
            .iter()
            .filter(|s| s.as_str() != "openid")
        {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url,
            PendingSignIn {
                provider: "oidc".to_owned(),
                state: state.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                nonce: Some(nonce.secret().clone()),
                redirect_uri: redirect_uri.to_owned(),
                next: None,
                started_ms: crate::time::now_ms(),
            },
        ))
    }

    /// Exchanges the code, validates the id_token (signature, issuer, audience, expiry, nonce,
    /// access-token hash), reads the userinfo endpoint, and applies the role rules.
    pub async fn finish(&self, pending: &PendingSignIn, code: &str) -> Result<SignIn, AuthError> {
        let metadata = self.metadata().await?;
        let userinfo_url = metadata.userinfo_endpoint().map(|u| u.url().clone());
        let client = self.client(metadata, &pending.redirect_uri)?;
        let nonce = Nonce::new(
            pending
                .nonce
                .clone()
                .ok_or_else(|| AuthError::Invalid("the sign-in has no nonce".to_owned()))?,
        );
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| AuthError::Provider(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(super::token_error)?;
        let id_token = token
            .id_token()
            .ok_or_else(|| AuthError::Invalid("the provider sent no id_token".to_owned()))?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| AuthError::Invalid(format!("the id_token is not valid: {}", chain(&e))))?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| AuthError::Invalid(format!("id_token algorithm: {e}")))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| AuthError::Invalid(format!("id_token key: {e}")))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| AuthError::Invalid(format!("access token hash: {e}")))?;
            if actual != *expected {
                return Err(AuthError::Invalid(
                    "the access token does not belong to the id_token (at_hash mismatch)"
                        .to_owned(),
                ));
            }
        }
        let subject = claims.subject().as_str().to_owned();
        // The signature is verified: the payload's other claims (groups, …) can be trusted.
        let id_claims = jwt_payload(&id_token.to_string()).unwrap_or(Value::Null);
        let userinfo = match userinfo_url {
            Some(url) => {
                let info = self.userinfo(url, token.access_token().secret()).await?;
                if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                    return Err(AuthError::Invalid(
                        "the userinfo endpoint describes another subject than the id_token"
                            .to_owned(),
                    ));
                }
                info
            }
            None => Value::Null,
        };
        let verified = |v: &Value| {
            matches!(v.get("email_verified"), Some(Value::Bool(true)))
                || v.get("email_verified").and_then(Value::as_str) == Some("true")
        };
        let email_verified = verified(&id_claims) || verified(&userinfo);
        let identity = self.claims(subject, &[&id_claims, &userinfo], email_verified)?;
        Ok(SignIn {
            identity,
            credential: Credential {
                access_token: SecretString::from(token.access_token().secret().clone()),
                refresh_token: token
                    .refresh_token()
                    .map(|r| SecretString::from(r.secret().clone())),
            },
        })
    }

    /// The person as the claims (id_token, then userinfo) describe them, with the role rules
    /// applied. Person rules see the `sub`, and the e-mail only when the provider verified it:
    /// anyone can type an address into an unverified profile.
    fn claims(
        &self,
        subject: String,
        sources: &[&Value],
        email_verified: bool,
    ) -> Result<Identity, AuthError> {
        let claim = |name: &str| -> Option<String> {
            sources
                .iter()
                .find_map(|v| v.get(name).and_then(Value::as_str))
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        let email = claim("email");
        let login = claim("preferred_username")
            .or_else(|| email.clone())
            .unwrap_or_else(|| subject.clone());
        let mut principals: Vec<String> = sources
            .iter()
            .flat_map(|v| groups(v.get(&self.settings.groups_claim)))
            .collect();
        principals.sort();
        principals.dedup();
        let mut person = vec![format!("@{subject}")];
        if let (Some(e), true) = (&email, email_verified) {
            person.push(format!("@{e}"));
        }
        Claims {
            provider: "oidc".to_owned(),
            subject,
            login,
            name: claim("name"),
            email,
            person,
            principals,
        }
        .into_identity(&self.settings.rules)
    }

    /// Reads the person's groups again (a session in use re-checks its role this way): with the
    /// refresh token where there is one (a new access token; a new refresh token replaces the
    /// old), then the userinfo endpoint. Returns the identity with today's role and the
    /// credential to keep.
    pub async fn recheck(
        &self,
        credential: &Credential,
        subject: &str,
    ) -> Result<(Identity, Credential), AuthError> {
        let metadata = self.metadata().await?;
        let Some(userinfo_url) = metadata.userinfo_endpoint().map(|u| u.url().clone()) else {
            return Err(AuthError::Invalid(
                "the provider has no userinfo endpoint, so Onwatch cannot confirm your groups"
                    .to_owned(),
            ));
        };
        let mut credential = credential.clone();
        if let Some(refresh) = &credential.refresh_token {
            let client = CoreClient::from_provider_metadata(
                metadata,
                ClientId::new(self.settings.client_id.clone()),
                Some(ClientSecret::new(
                    self.settings.client_secret.expose_secret().to_owned(),
                )),
            );
            let token = client
                .exchange_refresh_token(&openidconnect::RefreshToken::new(
                    refresh.expose_secret().to_owned(),
                ))
                .map_err(|e| {
                    AuthError::Provider(format!("the provider has no token endpoint: {e}"))
                })?
                .request_async(&self.http)
                .await
                .map_err(super::token_error)?;
            credential.access_token = SecretString::from(token.access_token().secret().clone());
            if let Some(r) = token.refresh_token() {
                credential.refresh_token = Some(SecretString::from(r.secret().clone()));
            }
        }
        let info = self
            .userinfo(userinfo_url, credential.access_token.expose_secret())
            .await?;
        if info.get("sub").and_then(Value::as_str) != Some(subject) {
            return Err(AuthError::Invalid(
                "the userinfo endpoint describes another subject than the session's".to_owned(),
            ));
        }
        let verified = matches!(info.get("email_verified"), Some(Value::Bool(true)))
            || info.get("email_verified").and_then(Value::as_str) == Some("true");
        let identity = self.claims(subject.to_owned(), &[&info], verified)?;
        Ok((identity, credential))
    }

    async fn userinfo(&self, url: Url, access_token: &str) -> Result<Value, AuthError> {
        let res = self
            .http
            .get(url.clone())
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| AuthError::Provider(format!("userinfo {url}: {e}")))?;
        if !res.status().is_success() {
            return Err(AuthError::Provider(format!(
                "userinfo {url} answered {}",
                res.status()
            )));
        }
        res.json::<Value>()
            .await
            .map_err(|e| AuthError::Provider(format!("userinfo {url} sent unexpected JSON: {e}")))
    }
}

/// A groups claim: an array of strings, or one string.
fn groups(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The JSON payload of a (compact) JWT, without checking anything: callers verify first.
fn jwt_payload(jwt: &str) -> Option<Value> {
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An error with its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_claim_shapes() {
        assert_eq!(groups(Some(&serde_json::json!(["a", "b", 3]))), ["a", "b"]);
        assert_eq!(groups(Some(&serde_json::json!("solo"))), ["solo"]);
        assert!(groups(Some(&serde_json::json!({"x": 1}))).is_empty());
        assert!(groups(None).is_empty());
    }

    #[test]
    fn payload_of_a_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"alice","groups":["oncall"]}"#);
        let v = jwt_payload(&format!("eyJhbGciOiJSUzI1NiJ9.{payload}.sig")).unwrap();
        assert_eq!(v["groups"][0], "oncall");
        assert!(jwt_payload("not-a-jwt").is_none());
    }
}

//! Sign-in with GitHub: the OAuth2 authorization-code flow with PKCE and state (the `oauth2`
//! crate), then the person's organisations and teams from the GitHub API.
//!
//! Scopes: `read:user` for the profile and `read:org` for memberships. Without `read:org`,
//! `/user/orgs` lists only memberships the person made public, and `/user/teams` answers 403.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use url::Url;

use super::{AuthError, Claims, Identity, PendingSignIn, RoleRules};

/// Most memberships Onwatch reads (10 pages of 100); beyond that the list is cut, not an error.
const MAX_PAGES: u32 = 10;

#[derive(Debug, Clone)]
pub struct GitHubProvider {
    pub client_id: String,
    pub client_secret: String,
    /// `https://github.com` (or a GitHub Enterprise server; a fake one in tests).
    pub web_url: Url,
    /// `https://api.github.com` (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: Url,
    pub rules: RoleRules,
    pub http: reqwest::Client,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

#[derive(Deserialize)]
struct Team {
    slug: String,
    organization: Org,
}

impl GitHubProvider {
    fn endpoint(base: &Url, path: &str) -> Result<Url, AuthError> {
        let joined = format!("{}/{}", base.as_str().trim_end_matches('/'), path);
        Url::parse(&joined)
            .map_err(|e| AuthError::Provider(format!("bad GitHub URL {joined}: {e}")))
    }

    /// The URL to send the browser to, and what must be remembered until the callback.
    pub fn begin(&self, redirect_uri: &str) -> Result<(Url, PendingSignIn), AuthError> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(Self::endpoint(
                &self.web_url,
                "login/oauth/authorize",
            )?))
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned())
                    .map_err(|e| AuthError::Provider(format!("bad redirect URL: {e}")))?,
            );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".to_owned()))
            .add_scope(Scope::new("read:org".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok((
            url,
            PendingSignIn {
                provider: "github".to_owned(),
                state: state.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                nonce: None,
                redirect_uri: redirect_uri.to_owned(),
                next: None,
                started_ms: crate::time::now_ms(),
            },
        ))
    }

    /// Exchanges the code for a token, reads the profile, organisations and teams, and applies
    /// the role rules.
    pub async fn finish(&self, pending: &PendingSignIn, code: &str) -> Result<Identity, AuthError> {
        // GitHub documents the client credentials as form parameters of the token request.
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.clone()))
            .set_auth_type(oauth2::AuthType::RequestBody)
            .set_auth_uri(AuthUrl::from_url(Self::endpoint(
                &self.web_url,
                "login/oauth/authorize",
            )?))
            .set_token_uri(TokenUrl::from_url(Self::endpoint(
                &self.web_url,
                "login/oauth/access_token",
            )?))
            .set_redirect_uri(
                RedirectUrl::new(pending.redirect_uri.clone())
                    .map_err(|e| AuthError::Provider(format!("bad redirect URL: {e}")))?,
            );
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(super::token_error)?;
        let access = token.access_token().secret();
        self.claims(access).await?.into_identity(&self.rules)
    }

    /// What GitHub says about the holder of `access_token`.
    pub async fn claims(&self, access_token: &str) -> Result<Claims, AuthError> {
        let user: User = self.get(access_token, "user").await?;
        let mut principals = Vec::new();
        for org in self.get_all::<Org>(access_token, "user/orgs").await? {
            principals.push(org.login);
        }
        for team in self.get_all::<Team>(access_token, "user/teams").await? {
            principals.push(format!("{}/{}", team.organization.login, team.slug));
        }
        principals.sort();
        principals.dedup();
        Ok(Claims {
            provider: "github".to_owned(),
            subject: user.id.to_string(),
            login: user.login,
            name: user.name,
            email: user.email,
            principals,
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, AuthError> {
        let url = Self::endpoint(&self.api_url, path)?;
        let res = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|e| AuthError::Provider(format!("GitHub API {path}: {e}")))?;
        let status = res.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(AuthError::Invalid(format!(
                "GitHub did not accept the token for {path}"
            )));
        }
        if status == reqwest::StatusCode::FORBIDDEN || status.as_u16() == 429 {
            let body = res.text().await.unwrap_or_default();
            return Err(AuthError::Provider(format!(
                "GitHub API {path} answered {status} (rate limit, or the read:org scope was not granted): {}",
                body.chars().take(200).collect::<String>()
            )));
        }
        if !status.is_success() {
            return Err(AuthError::Provider(format!(
                "GitHub API {path} answered {status}"
            )));
        }
        res.json::<T>().await.map_err(|e| {
            AuthError::Provider(format!("GitHub API {path} sent unexpected JSON: {e}"))
        })
    }

    async fn get_all<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<Vec<T>, AuthError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let batch: Vec<T> = self
                .get(token, &format!("{path}?per_page=100&page={page}"))
                .await?;
            let n = batch.len();
            all.extend(batch);
            if n < 100 {
                break;
            }
        }
        Ok(all)
    }
}

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
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::pins::IdentityPins;
use super::{AuthError, Claims, Credential, Identity, PendingSignIn, RoleRules, SignIn};

/// Most memberships Onwatch reads (10 pages of 100); beyond that the list is cut, not an error.
const MAX_PAGES: u32 = 10;

#[derive(Debug, Clone)]
pub struct GitHubProvider {
    pub client_id: String,
    pub client_secret: SecretString,
    /// `https://github.com` (or a GitHub Enterprise server; a fake one in tests).
    pub web_url: Url,
    /// `https://api.github.com` (GitHub Enterprise: `https://HOST/api/v3`).
    pub api_url: Url,
    /// As configured: `@login` person rules are resolved through [`GitHubProvider::pins`].
    pub rules: RoleRules,
    pub pins: IdentityPins,
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
    pub async fn finish(&self, pending: &PendingSignIn, code: &str) -> Result<SignIn, AuthError> {
        // GitHub documents the client credentials as form parameters of the token request.
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.client_secret.expose_secret().to_owned(),
            ))
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
        let identity = self.identity(access).await?;
        Ok(SignIn {
            identity,
            credential: Credential {
                access_token: SecretString::from(access.clone()),
                refresh_token: token
                    .refresh_token()
                    .map(|r| SecretString::from(r.secret().clone())),
            },
        })
    }

    /// Reads the memberships of the credential's holder again (a session in use re-checks its
    /// role this way): the identity with today's role, or why there is none. `subject` is the
    /// account the session belongs to; a token that now names another account is refused.
    pub async fn recheck(
        &self,
        credential: &Credential,
        subject: &str,
    ) -> Result<Identity, AuthError> {
        let identity = self
            .identity(credential.access_token.expose_secret())
            .await?;
        if identity.subject != subject {
            return Err(AuthError::Invalid(
                "the GitHub token now belongs to another account".to_owned(),
            ));
        }
        Ok(identity)
    }

    /// The identity of the token's holder with the role rules applied; when no rule matches,
    /// looks for a reason the person can act on (an organisation that restricts OAuth apps).
    async fn identity(&self, access: &str) -> Result<Identity, AuthError> {
        let claims = self.claims(access).await?;
        let rules = self.rules().await;
        match claims.clone().into_identity(&rules) {
            Err(AuthError::NoRole { .. }) => {
                if let Some(why) = self.why_hidden(access, &claims.principals).await {
                    return Err(why);
                }
                claims.into_identity(&rules)
            }
            other => other,
        }
    }

    /// The configured rules with every `@login` resolved to its pinned account id (resolving
    /// and pinning logins met for the first time). A login that cannot be resolved now matches
    /// nobody until it can.
    pub async fn rules(&self) -> RoleRules {
        for login in self.rules.logins() {
            if self.pins.cached(&login).is_some() {
                continue;
            }
            match self.pins.get(&login).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(login = %login, error = %e, "cannot read the pinned id of a role rule's login");
                    continue;
                }
            }
            match self.get_public::<User>(&format!("users/{login}")).await {
                Ok(user) => match self.pins.pin(&login, user.id, crate::time::now_ms()).await {
                    Ok(id) if id != user.id => {
                        tracing::warn!(login = %login, pinned = id, now = user.id, "the login of a role rule now belongs to another account; the rule stays with the pinned one (write #ID to change it)")
                    }
                    Ok(id) => {
                        tracing::info!(login = %login, id, "role rule pinned to the account's id")
                    }
                    Err(e) => {
                        tracing::warn!(login = %login, error = %e, "cannot pin a role rule's login")
                    }
                },
                Err(e) => {
                    tracing::warn!(login = %login, error = %e, "cannot resolve a role rule's login to an account id; the rule matches nobody for now")
                }
            }
        }
        self.rules
            .with_logins_resolved(|login| self.pins.cached(login))
    }

    /// When no rule matched: is a configured organisation hiding the membership (OAuth app
    /// access restrictions), or is an invitation waiting? `None` when there is nothing to add.
    async fn why_hidden(&self, access: &str, principals: &[String]) -> Option<AuthError> {
        let mut orgs: Vec<String> = self
            .rules
            .all_principals()
            .into_iter()
            .filter(|r| !r.starts_with('@') && !r.starts_with('#'))
            .map(|r| r.split('/').next().unwrap_or_default().trim().to_owned())
            .filter(|o| !o.is_empty())
            .filter(|o| !principals.iter().any(|p| p.eq_ignore_ascii_case(o)))
            .collect();
        orgs.sort();
        orgs.dedup();
        for org in orgs {
            let Ok(url) = Self::endpoint(&self.api_url, &format!("user/memberships/orgs/{org}"))
            else {
                continue;
            };
            let Ok(res) = self.request(url, access).send().await else {
                continue;
            };
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            if status == reqwest::StatusCode::FORBIDDEN
                && body.contains("OAuth App access restrictions")
            {
                return Some(AuthError::NeedsAction(format!(
                    "The GitHub organisation {org} restricts OAuth apps, so GitHub hides your membership from Onwatch. \
                     An owner of {org} must approve Onwatch's OAuth app (organisation settings → Third-party access → OAuth app policy); \
                     you can request that at {web}/settings/connections/applications/{client}. Then sign in again.",
                    web = self.web_url.as_str().trim_end_matches('/'),
                    client = self.client_id,
                )));
            }
            if status.is_success() && body.contains("\"state\":\"pending\"") {
                return Some(AuthError::NeedsAction(format!(
                    "Your invitation to the GitHub organisation {org} is not accepted yet: accept it at {web}/orgs/{org}/invitation, then sign in again.",
                    web = self.web_url.as_str().trim_end_matches('/'),
                )));
            }
        }
        None
    }

    /// What GitHub says about the holder of `access_token`.
    pub async fn claims(&self, access_token: &str) -> Result<Claims, AuthError> {
        let (user, scopes): (User, Option<String>) =
            self.get_with_scopes(access_token, "user").await?;
        if let Some(granted) = scopes {
            let has_org = granted
                .split(',')
                .map(str::trim)
                .any(|s| matches!(s, "read:org" | "write:org" | "admin:org"));
            if !has_org {
                return Err(AuthError::NeedsAction(format!(
                    "GitHub granted Onwatch the scopes `{}` but not read:org, so your organisation and team memberships cannot be read. \
                     Revoke Onwatch at {}/settings/applications, sign in again, and grant access to organisation data when GitHub asks.",
                    if granted.trim().is_empty() { "(none)" } else { granted.trim() },
                    self.web_url.as_str().trim_end_matches('/'),
                )));
            }
        }
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
            person: vec![format!("#{}", user.id)],
            subject: user.id.to_string(),
            login: user.login,
            name: user.name,
            email: user.email,
            principals,
        })
    }

    fn request(&self, url: Url, token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
    }

    /// An API read without a token (public account data, to resolve a login).
    async fn get_public<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, AuthError> {
        let url = Self::endpoint(&self.api_url, path)?;
        let res = self
            .http
            .get(url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|e| AuthError::Provider(format!("GitHub API {path}: {e}")))?;
        if !res.status().is_success() {
            return Err(AuthError::Provider(format!(
                "GitHub API {path} answered {}",
                res.status()
            )));
        }
        res.json::<T>().await.map_err(|e| {
            AuthError::Provider(format!("GitHub API {path} sent unexpected JSON: {e}"))
        })
    }

    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, AuthError> {
        self.get_with_scopes(token, path).await.map(|(t, _)| t)
    }

    /// An API read with the person's token; also the scopes GitHub says the token has
    /// (`X-OAuth-Scopes`).
    async fn get_with_scopes<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<(T, Option<String>), AuthError> {
        let url = Self::endpoint(&self.api_url, path)?;
        let res = self
            .request(url, token)
            .send()
            .await
            .map_err(|e| AuthError::Provider(format!("GitHub API {path}: {e}")))?;
        let scopes = res
            .headers()
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
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
        let value = res.json::<T>().await.map_err(|e| {
            AuthError::Provider(format!("GitHub API {path} sent unexpected JSON: {e}"))
        })?;
        Ok((value, scopes))
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

//! The Builder API of one environment: its client (schedule a build, read a job group), the
//! names it accepts, and the `[builds]` options. Below the procedure ([`super::RequestBuild`])
//! and below `access`, which hands a configured environment its client.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::progress::JobProject;

/// The pseudo-host of a build request's target: the environment's Builder depot. A build's lock
/// and cooldown are per package (`live/depot/builder-api`).
pub const DEPOT: &str = "depot";

/// The `[builds]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuildOptions {
    /// The origin of a package that no Supervisor of the environment runs now; otherwise the
    /// origin is the one the Supervisors run (`habitat/builder-api`). The token's account must
    /// be a member of it (the runbook says `core`).
    pub origin: String,
    /// How often the job group is read while it runs.
    #[serde(rename = "poll_ms", deserialize_with = "crate::time::millis")]
    pub poll: Duration,
    /// A group whose state has not changed for this long is said to stall (the page then names
    /// the scheduler or jobsrv).
    #[serde(rename = "stall_secs", deserialize_with = "crate::time::secs")]
    pub stall_after: Duration,
    /// The longest a build may take before the action counts as failed.
    #[serde(rename = "build_timeout_secs", deserialize_with = "crate::time::secs")]
    pub build_timeout: Duration,
    /// After the build completed, how long to watch for the new release on the Supervisors.
    #[serde(
        rename = "release_timeout_secs",
        deserialize_with = "crate::time::secs"
    )]
    pub release_timeout: Duration,
    /// The origins whose packages Onwatch may ask Builder to build: the origin the
    /// environment's Supervisors run a package from is used only when it is one of these (a
    /// Supervisor's answer must not choose what is built with the production token).
    pub build_origins: Vec<String>,
    /// Each request to the Builder API gives up after this.
    #[serde(
        rename = "request_timeout_secs",
        deserialize_with = "crate::time::secs"
    )]
    pub request_timeout: Duration,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            origin: "core".into(),
            build_origins: vec!["core".into(), "habitat".into()],
            poll: Duration::from_secs(2),
            stall_after: Duration::from_secs(120),
            build_timeout: Duration::from_secs(3600),
            release_timeout: Duration::from_secs(900),
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// A job group as Builder answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobGroup {
    pub id: String,
    /// Pending | Dispatching | Complete | Failed | Queued | Canceled
    pub state: String,
    #[serde(default)]
    pub project_name: String,
    #[serde(default)]
    pub projects: Vec<JobProject>,
}

impl JobGroup {
    pub fn finished(&self) -> bool {
        matches!(self.state.as_str(), "Complete" | "Failed" | "Canceled")
    }

    /// Whether anything was dispatched (a project started or has a job).
    pub(crate) fn dispatched(&self) -> bool {
        self.state == "Dispatching"
            || self
                .projects
                .iter()
                .any(|p| p.state != "NotStarted" || (!p.job_id.is_empty() && p.job_id != "0"))
    }

    /// `(version, release)` of the project `name`'s build, once it succeeded.
    pub fn built(&self, name: &str) -> Option<(String, String)> {
        let p = self
            .projects
            .iter()
            .find(|p| p.name == name && p.state == "Success")?;
        let mut parts = p.ident.split('/').skip(2);
        Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
    }
}

/// What went wrong talking to Builder, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuilderError {
    #[error("Builder refused the token ({0}): the token in builder_token_file is missing, expired or revoked; create a personal access token in Builder (Profile → Access tokens) as a member of the origin and put it in that file")]
    Unauthorized(String),
    #[error("Builder said the token may not do this (403 {0}): the token's account must be a member of the origin, and builds must be enabled")]
    Forbidden(String),
    #[error("Builder knows no {0} (404): check the package name and that its project is connected in Builder")]
    NotFound(String),
    #[error("Builder is throttling requests (429){}: try again then", .0.map(|s| format!(", asking to wait {} s", s.as_secs())).unwrap_or_default())]
    Throttled(Option<Duration>),
    #[error("Builder is unavailable ({0}): see the api and router services (the runbook: restart builder-api, then the router)")]
    Unavailable(String),
    #[error("Builder could not be reached at {0}")]
    Unreachable(String),
    #[error("Builder answered something unexpected: {0}")]
    Unexpected(String),
    /// No HTTP client could be made (TLS roots, …): nothing was sent.
    #[error("cannot build an HTTP client: {0}")]
    Client(String),
    /// A name that is not plain: never put into a path sent with the production token.
    #[error("`{0}` is not a plain Builder name ([a-z0-9][a-z0-9_-]*, or a job group's digits): nothing was sent")]
    NotPlain(String),
}

/// An origin's or a package's name as Builder has them: `[a-z0-9][a-z0-9_-]*` (at most 255).
/// Anything else (`..`, a slash, a dot) could turn a request's path into another one, sent with
/// the production token, so it is refused before any request.
pub fn plain_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 255
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// The Builder API of one environment.
#[derive(Clone)]
pub struct BuilderApi {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl BuilderApi {
    pub fn new(
        base: &str,
        token: SecretString,
        timeout: Duration,
    ) -> Result<BuilderApi, BuilderError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| BuilderError::Client(e.to_string()))?;
        Ok(BuilderApi {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /v1/depot/pkgs/schedule/{origin}/{pkg}`: the new job group.
    pub async fn schedule(&self, origin: &str, pkg: &str) -> Result<JobGroup, BuilderError> {
        for name in [origin, pkg] {
            if !plain_name(name) {
                return Err(BuilderError::NotPlain(name.to_owned()));
            }
        }
        let url = format!(
            "{}/v1/depot/pkgs/schedule/{}/{}?target=x86_64-linux",
            self.base,
            urlencode(origin),
            urlencode(pkg)
        );
        let req = self
            .http
            .post(&url)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::CONTENT_LENGTH, 0);
        self.answer(req, &format!("project {origin}/{pkg}")).await
    }

    /// `GET /v1/depot/pkgs/schedule/{group_id}`.
    pub async fn group(&self, id: &str) -> Result<JobGroup, BuilderError> {
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BuilderError::NotPlain(id.to_owned()));
        }
        let url = format!("{}/v1/depot/pkgs/schedule/{}", self.base, urlencode(id));
        self.answer(self.http.get(&url), &format!("job group {id}"))
            .await
    }

    /// `GET /v1/depot/origins/{origin}/users` (authenticated): the logins of the origin's
    /// members, for the onboarding checklist. Builder answers
    /// `{"origin_id": "…", "origin_name": "core", "members": ["ana", …]}`.
    pub async fn origin_members(&self, origin: &str) -> Result<Vec<String>, BuilderError> {
        if !plain_name(origin) {
            return Err(BuilderError::NotPlain(origin.to_owned()));
        }
        #[derive(Deserialize)]
        struct Members {
            members: Vec<String>,
        }
        let url = format!("{}/v1/depot/origins/{}/users", self.base, urlencode(origin));
        let req = self.http.get(&url).bearer_auth(self.token.expose_secret());
        let m: Members = self.answer(req, &format!("origin {origin}")).await?;
        Ok(m.members)
    }

    async fn answer<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, BuilderError> {
        let res = req
            .send()
            .await
            .map_err(|e| BuilderError::Unreachable(format!("{} ({e})", self.base)))?;
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Bounded: a job group is small; an answer over 1 MiB is not one.
        let body = read_bounded(res, 1 << 20).await?;
        let code = || {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_else(|| status.as_u16().to_string())
        };
        match status.as_u16() {
            200 => serde_json::from_slice(&body).map_err(|e| {
                BuilderError::Unexpected(format!("{what}: an answer that does not parse ({e})"))
            }),
            401 => Err(BuilderError::Unauthorized(code())),
            403 => Err(BuilderError::Forbidden(code())),
            404 => Err(BuilderError::NotFound(what.to_owned())),
            429 => Err(BuilderError::Throttled(retry_after)),
            502..=504 => Err(BuilderError::Unavailable(format!("{status}"))),
            _ => Err(BuilderError::Unexpected(format!("{status} ({})", code()))),
        }
    }
}

async fn read_bounded(mut res: reqwest::Response, limit: usize) -> Result<Vec<u8>, BuilderError> {
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| BuilderError::Unreachable(format!("the answer broke off ({e})")))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BuilderError::Unexpected(format!(
                "an answer over {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Every byte but letters, digits, `-`, `_` and `~` percent-encoded (a dot too: a segment must
/// never read as `.` or `..`; names are checked plain before they get here anyway).
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn only_plain_names_reach_a_path_sent_with_the_token() {
        for good in ["core", "habitat", "builder-api", "a_b", "0x"] {
            assert!(plain_name(good), "{good}");
        }
        for bad in [
            "", "..", ".", "a/b", "a.b", "-a", "_a", "Core", "a%2e", "a b",
        ] {
            assert!(!plain_name(bad), "{bad}");
        }
        assert_eq!(urlencode(".."), "%2E%2E");
    }

    #[tokio::test]
    async fn a_name_that_is_not_plain_is_refused_before_any_request() {
        // Nothing listens there: a request would fail as unreachable, not as not plain.
        let api = BuilderApi::new(
            "http://127.0.0.1:9",
            "t".to_owned().into(),
            Duration::from_secs(1),
        )
        .unwrap();
        for (origin, pkg) in [("..", "builder-api"), ("core", "../x"), ("core/x", "y")] {
            match api.schedule(origin, pkg).await {
                Err(BuilderError::NotPlain(_)) => {}
                other => panic!("{origin}/{pkg}: {other:?}"),
            }
        }
        assert!(matches!(
            api.group("1/../2").await,
            Err(BuilderError::NotPlain(_))
        ));
    }
}

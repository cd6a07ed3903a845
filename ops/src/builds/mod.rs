//! Build requests through the Builder API, the runbook's "Deploying code": `POST
//! /v1/depot/pkgs/schedule/{origin}/{pkg}` with the configured Builder token, then the job group
//! followed (`GET /v1/depot/pkgs/schedule/{group_id}`) until it completes or fails, then the new
//! release watched for on the environment's Supervisors (the fleet model sees releases).
//!
//! A build request is a guarded change (`change::ActionKind::RequestBuild`): the pipeline
//! (`change::submit`) judges, locks, audits and records it; this module owns the Builder client,
//! the job group's types and the procedure ([`RequestBuild`], resolved by [`resolve`]). When the group stalls, the page offers the runbook's reading: nothing
//! dispatched → the scheduler; dispatched but no result → jobsrv.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::change::sink::Sink;
use crate::change::{BoxFuture, Failed, Procedure, Ran, Verdict};
use crate::fleet::FleetModel;

pub mod progress;
pub use progress::{BuildProgress, JobProject};

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
    fn dispatched(&self) -> bool {
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

impl Procedure for RequestBuild {
    fn executor(&self) -> &'static str {
        "builder api"
    }

    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "executor": "builder api",
            "executor_address": self.api.base(),
            "package": format!("{}/{}", self.origin, self.pkg),
        })
    }

    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>> {
        Box::pin(RequestBuild::run(self, sink))
    }
}

/// A build request's procedure: a Builder service's package, built from an origin Onwatch
/// builds, through the environment's Builder API; or the verdict that refuses it.
pub fn resolve(
    access: &crate::access::Access,
    kind: crate::change::ActionKind,
    target: &crate::change::Target,
) -> Result<RequestBuild, Verdict> {
    let unknown = |why: String| Verdict::refuse("target", why);
    let env = access
        .configured(&target.environment)
        .map_err(|r| Verdict::refuse(&r.guard, r.why))?;
    let builds = access.build_options();
    if kind != crate::change::ActionKind::RequestBuild || !target.is_build() {
        return Err(unknown(format!(
            "a build request targets the depot and a package, and only a build request does (asked: {} of {}/{})",
            kind.as_str(), target.host, target.service_group
        )));
    }
    let pkg = target.service_group.as_str();
    if !crate::catalog::SERVICES
        .iter()
        .any(|s| s.package == pkg && s.slug != "sentinel")
    {
        return Err(unknown(format!(
            "`{pkg}` is not a Builder service's package: Onwatch requests builds of {}",
            crate::catalog::SERVICES
                .iter()
                .filter(|s| s.slug != "sentinel")
                .map(|s| s.package)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let Some(builder) = &env.builder else {
        return Err(Verdict::refuse(
            "executor",
            format!(
                "Onwatch has no Builder API and token for {e}: set environments.{e}.builder_api_url and builder_token_file (a personal access token of a member of the {o} origin)",
                o = builds.origin,
                e = target.environment,
            ),
        ));
    };
    let api = BuilderApi::new(&builder.url, builder.token.clone(), builds.request_timeout)
        .map_err(|e| Verdict::refuse("executor", e.to_string()))?;
    // The origin the environment's Supervisors run the package from (else the configured
    // one), but only one of `build_origins`: a Supervisor's answer (whoever can run or fake
    // one) must not choose which origin's project is built with the production token.
    let fleet = access.fleet();
    let seen = fleet
        .snapshot(crate::time::now_ms())
        .environment(&target.environment)
        .and_then(|e| {
            e.hosts
                .iter()
                .flat_map(|h| &h.services)
                .find(|s| s.ident.name == pkg)
                .map(|s| s.ident.origin.clone())
        });
    let origin = seen.unwrap_or_else(|| builds.origin.clone());
    if !plain_name(&origin) || !builds.build_origins.contains(&origin) {
        return Err(Verdict::refuse(
            "target",
            format!(
                "the Supervisors run {pkg} from the origin `{}`, which is not one Onwatch builds ({}): set builds.build_origins if it should be",
                crate::text::cut(&origin, 64),
                builds.build_origins.join(", ")
            ),
        ));
    }
    Ok(RequestBuild {
        api,
        origin,
        pkg: pkg.to_owned(),
        environment: target.environment.clone(),
        fleet: fleet.clone(),
        options: builds.clone(),
    })
}

/// Every byte but letters, digits, `-`, `_` and `~` percent-encoded (a dot too: a segment must
/// never read as `.` or `..`; names are checked plain before they get here anyway).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One build request, ready to run (resolved by [`resolve`] once every guard passed).
pub struct RequestBuild {
    pub api: BuilderApi,
    pub origin: String,
    pub pkg: String,
    pub environment: String,
    pub fleet: Arc<FleetModel>,
    pub options: BuildOptions,
}

impl RequestBuild {
    /// Requests the build, follows its job group, then watches for the release. `Err` says
    /// which step failed and why.
    pub async fn run(&self, sink: &Sink) -> Result<Ran, Failed> {
        let started = Instant::now();
        let name = format!("{}/{}", self.origin, self.pkg);
        sink.step("requesting the build");
        sink.held().await?;
        sink.line(format!(
            "→ POST {}/v1/depot/pkgs/schedule/{name}",
            self.api.base()
        ));
        let group = self
            .api
            .schedule(&self.origin, &self.pkg)
            .await
            .map_err(|e| format!("the build was not requested: {e}"))?;
        sink.line(format!(
            "Builder accepted it: job group {} ({})",
            group.id, group.state
        ));
        let group = self.follow(sink, group).await?;
        let build_ms = started.elapsed().as_millis() as u64;
        if group.state != "Complete" {
            let failed: Vec<String> = group
                .projects
                .iter()
                .filter(|p| p.state != "Success")
                .map(|p| format!("{} {}", p.name, p.state))
                .collect();
            return Err(format!(
                "job group {} ended {} ({}): read the job's log in Builder",
                group.id,
                group.state,
                failed.join(", ")
            )
            .into());
        }
        let Some((version, release)) = group.built(&name) else {
            return Err(format!(
                "job group {} completed without building {name}: nothing to deploy",
                group.id
            )
            .into());
        };
        sink.line(format!("✓ built {name}/{version}/{release}"));
        let rollout_started = Instant::now();
        let rolled = self.watch_release(sink, &version, &release).await;
        let release_ms = rollout_started.elapsed().as_millis() as u64;
        let summary = match rolled {
            Rollout::Everywhere(n) => format!(
                "built {version}/{release}; running on {n} Supervisor{} after {} s",
                if n == 1 { "" } else { "s" },
                release_ms / 1000
            ),
            Rollout::Partly(n, of) => {
                sink.line(format!(
                    "! only {n} of {of} Supervisors run {release} after {} s: check the others' update strategy and channel",
                    release_ms / 1000
                ));
                format!(
                    "built {version}/{release}; running on {n} of {of} Supervisors (watched {} s)",
                    release_ms / 1000
                )
            }
            Rollout::Nowhere => format!(
                "built {version}/{release}; no Supervisor in {} runs {} to update",
                self.environment, self.pkg
            ),
        };
        Ok(Ran {
            summary,
            supervisor_ms: build_ms,
            health_ms: release_ms,
        })
    }

    async fn follow(&self, sink: &Sink, mut group: JobGroup) -> Result<JobGroup, String> {
        let deadline = Instant::now() + self.options.build_timeout;
        let mut last_change = Instant::now();
        let mut said_stall = false;
        self.show(sink, &group, None);
        loop {
            if group.finished() {
                return Ok(group);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "job group {} still {} after {} s (build_timeout_secs): see the scheduler and jobsrv; the group goes on in Builder",
                    group.id,
                    group.state,
                    self.options.build_timeout.as_secs()
                ));
            }
            let mut wait = self.options.poll;
            match self.api.group(&group.id).await {
                Ok(next) => {
                    if next.state != group.state || next.projects != group.projects {
                        for p in &next.projects {
                            let before = group.projects.iter().find(|q| q.name == p.name);
                            if before.map(|b| &b.state) != Some(&p.state) {
                                sink.line(format!(
                                    "{}: {} → {}{}",
                                    p.name,
                                    before.map(|b| b.state.as_str()).unwrap_or("—"),
                                    p.state,
                                    if p.job_id.is_empty() || p.job_id == "0" {
                                        String::new()
                                    } else {
                                        format!(" (job {})", p.job_id)
                                    }
                                ));
                            }
                        }
                        if next.state != group.state {
                            sink.line(format!("job group {}: {}", next.id, next.state));
                        }
                        last_change = Instant::now();
                        said_stall = false;
                        group = next;
                    }
                }
                Err(BuilderError::Throttled(after)) => {
                    let after = after
                        .unwrap_or(self.options.poll * 2)
                        .min(Duration::from_secs(60));
                    sink.line(format!(
                        "Builder is throttling (429); reading the group again in {} s",
                        after.as_secs().max(1)
                    ));
                    wait = after.max(self.options.poll);
                }
                // A blip while following is said and retried: the build goes on in Builder.
                Err(e) => sink.line(format!("! cannot read the job group now: {e}")),
            }
            let stalled = (last_change.elapsed() >= self.options.stall_after).then(|| {
                if group.dispatched() {
                    "accepted, but no result for a while: the runbook says jobsrv handles build jobs — see builder-jobsrv (its log, then a restart)".to_owned()
                } else {
                    "nothing dispatched for a while: the runbook says \"Request a build does nothing\" → the scheduler — see builder-scheduler (or, since 2017-10, builder-jobsrv)".to_owned()
                }
            });
            if let Some(s) = &stalled {
                if !said_stall {
                    sink.line(format!(
                        "! job group {} unchanged for {} s ({}): {s}",
                        group.id,
                        last_change.elapsed().as_secs(),
                        group.state
                    ));
                    said_stall = true;
                }
            }
            self.show(sink, &group, stalled);
            sink.step(&format!("building ({})", group.state));
            tokio::time::sleep(wait.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    fn show(&self, sink: &Sink, group: &JobGroup, stalled: Option<String>) {
        sink.build(|b| {
            b.group_id = group.id.clone();
            b.group_state = group.state.clone();
            b.projects = group.projects.clone();
            b.stalled = stalled;
        });
    }

    /// Which of the environment's Supervisors that run the package run `release`.
    fn rollout(&self, release: &str) -> Vec<(String, bool)> {
        let snap = self.fleet.snapshot(crate::time::now_ms());
        let Some(env) = snap.environment(&self.environment) else {
            return Vec::new();
        };
        env.hosts
            .iter()
            .flat_map(|h| {
                h.services
                    .iter()
                    .filter(|s| s.ident.name == self.pkg && s.ident.origin == self.origin)
                    .map(|s| {
                        (
                            h.host.name.clone(),
                            s.ident.release.as_deref() == Some(release),
                        )
                    })
            })
            .collect()
    }

    async fn watch_release(&self, sink: &Sink, version: &str, release: &str) -> Rollout {
        sink.step("watching the Supervisors update");
        sink.build(|b| b.built = Some(format!("{version}/{release}")));
        let deadline = Instant::now() + self.options.release_timeout;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let now = self.rollout(release);
            sink.build(|b| b.rollout = now.clone());
            for (host, on) in &now {
                if *on && !seen.contains(host) {
                    sink.line(format!("✓ {host} runs {}/{version}/{release}", self.pkg));
                    seen.push(host.clone());
                }
            }
            let total = now.len();
            let on = now.iter().filter(|(_, on)| *on).count();
            if total == 0 {
                return Rollout::Nowhere;
            }
            if on == total {
                return Rollout::Everywhere(on);
            }
            if Instant::now() >= deadline {
                return Rollout::Partly(on, total);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

enum Rollout {
    Everywhere(usize),
    Partly(usize, usize),
    Nowhere,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successful_project_names_its_release() {
        let g: JobGroup = serde_json::from_str(
            r#"{"id":"1","state":"Complete","project_name":"core/nginx","created_at":"x",
               "projects":[{"name":"core/nginx","ident":"core/nginx/1.13.6/20180529201342","state":"Success","job_id":"9"}]}"#,
        )
        .unwrap();
        assert!(g.finished());
        assert_eq!(
            g.built("core/nginx"),
            Some(("1.13.6".into(), "20180529201342".into()))
        );
        assert_eq!(g.built("core/other"), None);
    }

    #[test]
    fn a_group_with_nothing_started_is_not_dispatched() {
        let mut g: JobGroup = serde_json::from_str(
            r#"{"id":"1","state":"Pending","projects":[{"name":"core/a","ident":"core/a","state":"NotStarted","job_id":"0"}]}"#,
        )
        .unwrap();
        assert!(!g.dispatched());
        g.projects[0].state = "InProgress".into();
        assert!(g.dispatched());
    }
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

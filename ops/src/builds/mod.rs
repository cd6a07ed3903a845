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

use crate::change::sink::Sink;
use crate::change::{BoxFuture, Failed, Procedure, Ran, Verdict};
use crate::fleet::FleetModel;

pub mod api;
pub mod progress;
pub use api::{plain_name, BuildOptions, BuilderApi, BuilderError, JobGroup, DEPOT};
pub use progress::{BuildProgress, JobProject};

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

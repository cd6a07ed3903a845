//! Guarded actions and the audit log, as the browser sees them: the types both builds share and
//! the server functions, which check the caller and hand the work to `ops::change` and
//! `ops::audit`.
//!
//! Where each is declared at the wall: previews and progress under `/api/read` (anyone signed
//! in), the attempt itself under `/api/attempt` (anyone signed in: the action's own role guard
//! refuses a viewer, and that refusal is audited like every other), a running action's cancel
//! under `/api/act` (a responder's), the audit's verification under `/api/admin`.

// A server function's arguments are its form's fields, one each.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A guard's verdict. `level`: `pass`, `warn` or `refuse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictView {
    pub guard: String,
    pub level: String,
    pub message: String,
}

impl VerdictView {
    pub fn refuses(&self) -> bool {
        self.level == "refuse"
    }
}

/// An action as listed (recent actions of a target, the actions page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSummary {
    pub id: String,
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub actor_name: String,
    pub reason: String,
    /// running, succeeded, failed, interrupted, refused
    pub state: String,
    pub requested_ms: i64,
    pub finished_ms: Option<i64>,
    pub summary: String,
}

/// What the confirmation dialog shows before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    /// `restart_service`, `restart_supervisor`, `restart_sentinel`.
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service_group: String,
    pub production: bool,
    /// What to type to confirm.
    pub confirmation: String,
    /// Every service that goes down: (service group, state, since).
    pub affected: Vec<(String, vocab::CellState, i64)>,
    pub host_reachable: bool,
    pub recent: Vec<ActionSummary>,
    pub verdicts: Vec<VerdictView>,
    pub on_call: Option<String>,
    pub now_ms: i64,
}

/// What a restart request came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubmitView {
    /// Running (or, for a repeated request, the action it repeats): follow it at `/actions/{id}`.
    Started { id: String, repeated: bool },
    /// Nothing ran: every guard's verdict.
    Refused { verdicts: Vec<VerdictView> },
}

/// An action's progress, live or as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressView {
    pub id: String,
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub actor_name: String,
    pub reason: String,
    pub state: String,
    pub step: String,
    pub lines: Vec<String>,
    pub summary: String,
    pub requested_ms: i64,
    pub finished_ms: Option<i64>,
    /// A build request's job group and rollout, while it runs.
    #[serde(default)]
    pub build: Option<BuildView>,
}

/// A build request's job group as last read, and where its release has landed
/// (`ops::builds::BuildProgress`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildView {
    pub group_id: String,
    pub group_state: String,
    /// (project, ident, state, job id)
    pub projects: Vec<(String, String, String, String)>,
    pub stalled: Option<String>,
    pub built: Option<String>,
    /// (host, runs the new release)
    pub rollout: Vec<(String, bool)>,
}

/// One audit row as the audit page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRowView {
    pub seq: i64,
    pub at_ms: i64,
    pub kind: String,
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub action_id: String,
    pub outcome: String,
    /// The detail's JSON, pretty-printed for reading.
    pub detail: String,
}

/// The audit page's filters, as the form (and the URL's query) carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub who: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub outcome: String,
    /// `YYYY-MM-DD` in the reader's zone, inclusive.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// What the chain's verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyView {
    pub rows: i64,
    /// `None` when the chain holds; else the first bad row and why.
    pub broken: Option<(i64, String)>,
}

#[server(prefix = "/api/read", endpoint = "action-preview")]
pub async fn action_preview(
    kind: String,
    environment: String,
    host: String,
    service_group: String,
) -> Result<PreviewView, ServerFnError> {
    let id = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let kind = ssr::kind(&kind).map_err(ServerFnError::new)?;
    ssr::preview(&portal, kind, &id, environment, host, service_group)
        .await
        .map_err(ServerFnError::new)
}

/// Asks for an action (`kind`: `restart_service`, `restart_supervisor`, `restart_sentinel`,
/// `request_build`).
#[server(prefix = "/api/attempt", endpoint = "action")]
pub async fn start_action(
    kind: String,
    environment: String,
    host: String,
    service_group: String,
    reason: String,
    confirmation: String,
    // `yes`, `no`, or empty when not answered.
    #[server(default)] tried_in_acceptance: String,
    idempotency_key: String,
    // For a lock-file removal: the exact files, one per line.
    #[server(default)] paths: String,
) -> Result<SubmitView, ServerFnError> {
    let id = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let request = ops::change::ActionRequest {
        kind: ssr::kind(&kind).map_err(ServerFnError::new)?,
        target: ops::change::Target {
            environment,
            host,
            service_group,
        },
        reason,
        confirmation,
        tried_in_acceptance: match tried_in_acceptance.as_str() {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        },
        idempotency_key,
        paths: paths
            .lines()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    ssr::submit(&portal, &id, request)
        .await
        .map_err(ServerFnError::new)
}

/// Asks a running action to stop (`ops::change::Pipeline::cancel`): the attempt is audited
/// first, then the request goes into the action's row, where the Onwatch that runs it (this one
/// or another replica) reads it and stops. Under `/api/act`: the responder's, as starting an
/// action is (the wall answers a viewer 403 before anything; the pipeline's own role guard says
/// the same, audited, to any other caller). Answers the sentence the page shows; a refusal is 409
/// (403 for the role), a store that did not answer 503.
#[server(prefix = "/api/act", endpoint = "action-cancel")]
pub async fn cancel_action(id: String) -> Result<String, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    match portal.actions.cancel(&who.actor(), who.role, &id).await {
        Ok(_) => Ok(
            "Cancel asked: the Onwatch that runs this action stops it within seconds; what was already sent stands."
                .to_owned(),
        ),
        Err(e) => {
            let status = match e.refusal() {
                Some(r) if r.guard == "role" => 403,
                _ => e.status(),
            };
            crate::portal::set_status(status);
            Err(ServerFnError::new(match e {
                ops::change::Error::Refused(r) => format!("Not cancelled: {}", r.why),
                ops::change::Error::Store(e) => {
                    tracing::error!(action = %id, error = %e, "a cancel could not be asked: the store did not answer");
                    "Not cancelled: the store or its audit log cannot be written; try again.".to_owned()
                }
            }))
        }
    }
}

#[server(prefix = "/api/read", endpoint = "action")]
pub async fn action_progress(id: String) -> Result<Option<ProgressView>, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(portal
        .actions
        .progress(&id)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map(ssr::progress_view))
}

#[server(prefix = "/api/read", endpoint = "actions")]
pub async fn recent_actions() -> Result<Vec<ActionSummary>, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let rows = portal
        .actions
        .ledger()
        .latest(100)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(rows.iter().map(ssr::summary).collect())
}

/// The newest actions on a service (`service`, any host) or a host (`environment` and `host`).
#[server(prefix = "/api/read", endpoint = "actions-for")]
pub async fn actions_for(
    environment: String,
    host: String,
    service: String,
) -> Result<Vec<ActionSummary>, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let ledger = portal.actions.ledger();
    // A service page asks by its slug (`api`): the actions name the package (`builder-api`).
    let service = ops::catalog::service(&service)
        .map(|s| s.package.to_owned())
        .unwrap_or(service);
    let rows = if host.is_empty() {
        let env = (!environment.is_empty()).then_some(environment.as_str());
        ledger.recent_for_service(env, &service, 10).await
    } else {
        let service = (!service.is_empty()).then_some(service.as_str());
        ledger.recent(&environment, &host, service, 10).await
    }
    .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(rows.iter().map(ssr::summary).collect())
}

/// Where the sentinel runs, as configured: (environment, host).
#[server(prefix = "/api/read", endpoint = "sentinel")]
pub async fn sentinel_target() -> Result<Option<(String, String)>, ServerFnError> {
    crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(portal
        .actions
        .sentinel()
        .map(|s| (s.environment.clone(), s.host.clone())))
}

#[server(prefix = "/api/read", endpoint = "audit")]
pub async fn audit_rows(
    query: AuditQuery,
    before_seq: Option<i64>,
) -> Result<Vec<AuditRowView>, ServerFnError> {
    let id = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let filter = ssr::filter(&query, &crate::portal::zone()).map_err(ServerFnError::new)?;
    // Withheld here, before the rows leave the server: a viewer's page never receives them.
    let rows = portal
        .actions
        .audit()
        .search_as(
            ops::audit::Reader::of_role(id.role),
            &filter,
            before_seq,
            200,
        )
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(rows.into_iter().map(ssr::audit_view).collect())
}

#[server(prefix = "/api/admin", endpoint = "audit-verify")]
pub async fn audit_verify() -> Result<VerifyView, ServerFnError> {
    let id = crate::portal::require(vocab::Role::Admin)?;
    let portal = crate::portal::portal()?;
    let v = portal
        .actions
        .audit()
        .verify()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    tracing::info!(by = %id.label(), rows = v.rows, holds = v.broken.is_none(), "audit chain verified");
    Ok(VerifyView {
        rows: v.rows,
        broken: v.broken.map(|b| (b.seq, b.why)),
    })
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::portal::Portal;
    use ops::change::{ActionProgress, Submitted, Target, Verdict, VerdictLevel};

    pub fn verdict(v: &Verdict) -> VerdictView {
        VerdictView {
            guard: v.guard.clone(),
            level: match v.level {
                VerdictLevel::Pass => "pass",
                VerdictLevel::Warn => "warn",
                VerdictLevel::Refuse => "refuse",
            }
            .to_owned(),
            message: v.message.clone(),
        }
    }

    pub fn summary(r: &ops::change::ledger::ActionRecord) -> ActionSummary {
        ActionSummary {
            id: r.id.clone(),
            kind: r.kind.clone(),
            environment: r.environment.clone(),
            host: r.host.clone(),
            service: r.service.clone(),
            actor_name: r.actor_name.clone(),
            reason: r.reason.clone(),
            state: r.state.as_str().to_owned(),
            requested_ms: r.requested_ms,
            finished_ms: r.finished_ms,
            summary: r.summary.clone(),
        }
    }

    pub fn progress_view(p: ActionProgress) -> ProgressView {
        ProgressView {
            id: p.id,
            kind: p.kind,
            environment: p.environment,
            host: p.host,
            service: p.service,
            actor_name: p.actor_name,
            reason: p.reason,
            state: p.state.as_str().to_owned(),
            step: p.step,
            lines: p.lines,
            summary: p.summary,
            requested_ms: p.requested_ms,
            finished_ms: p.finished_ms,
            build: p.build.map(|b| BuildView {
                group_id: b.group_id,
                group_state: b.group_state,
                projects: b
                    .projects
                    .into_iter()
                    .map(|p| (p.name, p.ident, p.state, p.job_id))
                    .collect(),
                stalled: b.stalled,
                built: b.built,
                rollout: b.rollout,
            }),
        }
    }

    /// The kind a form names, or what the valid ones are.
    pub fn kind(s: &str) -> Result<ops::change::ActionKind, String> {
        ops::change::ActionKind::parse(s).ok_or_else(|| {
            format!("unknown action `{s}`: restart_service, restart_supervisor, restart_sentinel or request_build")
        })
    }

    /// Who is on call now, as the header says it, and whether `me` is one of them.
    fn on_call_now(portal: &Portal, me: &ops::auth::Identity) -> Option<String> {
        let now = portal.oncall.header().now?;
        let is = |login: &str| !login.is_empty() && login.eq_ignore_ascii_case(&me.login);
        let you = if is(&now.primary) {
            "you are the primary"
        } else if is(&now.secondary) {
            "you are the secondary"
        } else {
            "you are not on call now"
        };
        let secondary = if now.secondary.is_empty() {
            "nobody".to_owned()
        } else {
            now.secondary.clone()
        };
        Some(format!(
            "primary {}, secondary {secondary} ({you})",
            now.primary
        ))
    }

    pub async fn preview(
        portal: &Portal,
        kind: ops::change::ActionKind,
        me: &ops::auth::Identity,
        environment: String,
        host: String,
        service_group: String,
    ) -> Result<PreviewView, String> {
        let target = Target {
            environment,
            host,
            service_group,
        };
        let p = portal
            .actions
            .preview(kind, me.role, &target)
            .await
            .map_err(|e| match e {
                ops::change::Error::Store(e) => format!("nothing ran: the store failed: {e}"),
                ops::change::Error::Refused(r) => r.why,
            })?;
        Ok(PreviewView {
            kind: p.kind.as_str().to_owned(),
            environment: p.target.environment,
            host: p.target.host,
            service_group: p.target.service_group,
            production: p.production,
            confirmation: p.confirmation,
            affected: p.affected,
            host_reachable: p.host_reachable,
            recent: p.recent.iter().map(summary).collect(),
            verdicts: p.verdicts.iter().map(verdict).collect(),
            on_call: on_call_now(portal, me),
            now_ms: ops::time::now_ms(),
        })
    }

    pub async fn submit(
        portal: &Portal,
        id: &ops::auth::Identity,
        request: ops::change::ActionRequest,
    ) -> Result<SubmitView, String> {
        let submitted = portal
            .actions
            .submit(&id.actor(), id.role, request)
            .await
            .map_err(|e| match e {
                ops::change::Error::Store(e) => format!("nothing ran: the audit log or the store could not be written ({e}); try again, or act by hand and say so"),
                ops::change::Error::Refused(r) => format!("nothing ran: {}", r.why),
            })?;
        Ok(match submitted {
            Submitted::Started { id } => SubmitView::Started {
                id,
                repeated: false,
            },
            Submitted::Duplicate { id } => SubmitView::Started { id, repeated: true },
            Submitted::Refused { verdicts } => SubmitView::Refused {
                verdicts: verdicts.iter().map(verdict).collect(),
            },
        })
    }

    pub fn audit_view(r: ops::audit::AuditRow) -> AuditRowView {
        let detail = serde_json::from_str::<serde_json::Value>(&r.detail)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or(r.detail);
        AuditRowView {
            seq: r.seq,
            at_ms: r.at_ms,
            kind: r.kind,
            actor: r.actor,
            actor_name: r.actor_name,
            role: r.role,
            environment: r.environment,
            host: r.host,
            service: r.service,
            action_id: r.action_id,
            outcome: r.outcome,
            detail,
        }
    }

    /// The form's filters as the audit log's; a malformed date says which and what is expected.
    pub fn filter(q: &AuditQuery, zone: &vocab::Zone) -> Result<ops::audit::AuditFilter, String> {
        // Days are the person's own days, in the zone the pages speak.
        let day = |field: &str, s: &str, end: bool| -> Result<Option<i64>, String> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            let (start, next) = crate::fmt::parse_day(s)
                .and_then(|_| ops::time::day_bounds(&zone.name, s))
                .ok_or_else(|| {
                    format!(
                        "the `{field}` date `{s}` is not a date: write it as YYYY-MM-DD ({})",
                        zone.name
                    )
                })?;
            Ok(Some(if end { next - 1 } else { start }))
        };
        Ok(ops::audit::AuditFilter {
            who: q.who.trim().to_owned(),
            environment: q.environment.trim().to_owned(),
            host: q.host.trim().to_owned(),
            service: q.service.trim().to_owned(),
            kind: q.kind.trim().to_owned(),
            outcome: q.outcome.trim().to_owned(),
            from_ms: day("from", &q.from, false)?,
            to_ms: day("to", &q.to, true)?,
        })
    }
}

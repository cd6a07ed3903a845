//! Host logs in the browser: the runbook's `journalctl -fu hab-sup` (or `-u sentinel`) over SSH,
//! line by line, bounded everywhere, and audited (who watched which log, from when to when).
//!
//! In layers: [`line`] (a journal line: its level and the Supervisor's service prefix),
//! [`follow`] (one remote `journalctl` whose lines go into a bounded channel, ended on the host
//! when the reader goes), and [`Logs`] here: who may watch what, and the audit rows.

pub mod follow;
pub mod line;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::audit::{Actor, AuditLog, Entry, Event};
use crate::change::Refusal;
use crate::store::StoreError;

pub use follow::{Limits, LogEvent, LogWatch};
pub use line::{Level, LogLine};

/// Whose log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// The Supervisor's (`hab-sup`): every service on the host writes into it.
    Supervisor,
    /// The sentinel bot's systemd unit.
    Sentinel,
}

/// What is wrong with what a person asked to watch: input they can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Not a log Onwatch knows.
    #[error("unknown log `{0}`: supervisor or sentinel")]
    UnknownLog(String),
    /// A `since` that is not one of the plain forms (it would be quoted into a command line).
    #[error("`{0}` is not a time journalctl is given here: write `10 minutes ago`, `2 hours ago` or `2026-12-01 03:00`")]
    Since(String),
}

/// Why a watch did not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A rule said no (no access to the host, not the sentinel's host, a bound on open watches):
    /// nothing runs on the host.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// What was asked is not a log or a time Onwatch passes on: the person can fix it.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The audit log could not be written, so nothing was started (not the person's fault).
    #[error("not started: the audit log could not be written ({0})")]
    AuditDown(StoreError),
}

impl LogSource {
    pub fn parse(s: &str) -> Result<LogSource, QueryError> {
        match s {
            "supervisor" | "" => Ok(LogSource::Supervisor),
            "sentinel" => Ok(LogSource::Sentinel),
            other => Err(QueryError::UnknownLog(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Supervisor => "supervisor",
            LogSource::Sentinel => "sentinel",
        }
    }
}

/// Where to start: the last `lines`, and (optionally) nothing older than `since`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    pub lines: u32,
    /// `10 minutes ago`, `2 hours ago`, `2026-12-01 03:00` (UTC), or empty.
    pub since: String,
}

/// The most lines a watch starts with.
pub const MAX_BACKLOG: u32 = 5_000;

impl LogQuery {
    /// journalctl's arguments, checked: a `since` that is not one of the forms above is refused
    /// rather than quoted into a remote command line.
    pub fn args(&self) -> Result<String, QueryError> {
        let lines = self.lines.clamp(0, MAX_BACKLOG);
        let mut args = format!("--no-pager -o short-iso -n {lines} -f");
        let since = self.since.trim();
        if !since.is_empty() {
            if !since_is_plain(since) {
                return Err(QueryError::Since(since.to_owned()));
            }
            args.push_str(&format!(" --since '{since}'"));
        }
        Ok(args)
    }
}

fn since_is_plain(s: &str) -> bool {
    let words: Vec<&str> = s.split(' ').collect();
    let relative = matches!(words.as_slice(), [n, unit, "ago"]
        if !n.is_empty() && n.len() <= 4 && n.chars().all(|c| c.is_ascii_digit())
            && matches!(*unit, "second" | "seconds" | "minute" | "minutes" | "hour" | "hours" | "day" | "days"));
    let absolute = s.len() <= 19
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | ' '))
        && s.len() >= 10
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[7] == b'-';
    relative || absolute
}

/// Watching logs: the SSH targets come from [`crate::access`] (the same access as the
/// changes', the same host keys), the rows go to the audit log.
pub struct Logs {
    access: Arc<Access>,
    audit: AuditLog,
    limits: Limits,
    open: Arc<std::sync::Mutex<Open>>,
}

/// The watches open now, per person (stable identity) and per host.
#[derive(Default)]
struct Open {
    by_person: std::collections::HashMap<String, u32>,
    by_host: std::collections::HashMap<String, u32>,
    total: u32,
}

/// One open watch, counted until dropped (with the watch it belongs to).
pub struct Permit {
    open: Arc<std::sync::Mutex<Open>>,
    person: String,
    host: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut guard = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let o = &mut *guard;
        for (map, key) in [
            (&mut o.by_person, &self.person),
            (&mut o.by_host, &self.host),
        ] {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
        o.total = o.total.saturating_sub(1);
    }
}

impl Logs {
    pub fn new(access: Arc<Access>, audit: AuditLog, limits: Limits) -> Logs {
        Logs {
            audit,
            access,
            limits,
            open: Arc::default(),
        }
    }

    /// How many watches are open now (for `/metrics`).
    pub fn open_watches(&self) -> u32 {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// Counts a new watch of `person` on `host`, or says which bound refuses it.
    fn admit(&self, person: &str, host: &str) -> Result<Permit, Refusal> {
        let mut o = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mine = o.by_person.get(person).copied().unwrap_or(0);
        if mine >= self.limits.per_person {
            return Err(Refusal::new("limit", format!(
                "you have {mine} host logs open (at most {} at once): close one (its tab or its Stop button), then try again",
                self.limits.per_person
            )));
        }
        let here = o.by_host.get(host).copied().unwrap_or(0);
        if here >= self.limits.per_host {
            return Err(Refusal::new("limit", format!(
                "{here} people are following {host}'s log already (at most {} at once): ask them, or try again later",
                self.limits.per_host
            )));
        }
        *o.by_person.entry(person.to_owned()).or_default() += 1;
        *o.by_host.entry(host.to_owned()).or_default() += 1;
        o.total += 1;
        Ok(Permit {
            open: self.open.clone(),
            person: person.to_owned(),
            host: host.to_owned(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Opens a watch, audited before anything runs on the host; its end is audited when the
    /// reader goes or the host ends it.
    pub async fn open(
        &self,
        actor: &Actor,
        environment: &str,
        host: &str,
        source: LogSource,
        query: &LogQuery,
    ) -> Result<LogWatch, WatchError> {
        let target = self.access.ssh_target(environment, host)?;
        let template = match source {
            LogSource::Supervisor => &target.options.commands.supervisor_log,
            LogSource::Sentinel => {
                if !self.access.is_sentinel(environment, host) {
                    return Err(Refusal::new(
                        "sentinel",
                        format!(
                            "{host} is not the sentinel's host ([sentinel] in the configuration)"
                        ),
                    )
                    .into());
                }
                &target.options.commands.sentinel_log
            }
        };
        let args = query.args()?;
        let command = crate::exec::ssh::command_for(template, host)?.replace("{args}", &args);
        let watch_id = format!("w{}", crate::auth::random_token());
        let permit = match self.admit(&actor.id, &format!("{environment}/{host}")) {
            Ok(p) => p,
            Err(refusal) => {
                let refused = Entry {
                    kind: Event::LogsWatch,
                    environment: environment.to_owned(),
                    host: host.to_owned(),
                    service: source.as_str().to_owned(),
                    action_id: watch_id.clone(),
                    outcome: "refused".into(),
                    detail: serde_json::json!({ "why": refusal.why }),
                };
                if let Err(e) = self.audit.append(actor, &refused).await {
                    tracing::error!(error = %e, "a refused log watch could not be audited");
                }
                return Err(refusal.into());
            }
        };
        let entry = |outcome: &str, detail: serde_json::Value| Entry {
            kind: Event::LogsWatch,
            environment: environment.to_owned(),
            host: host.to_owned(),
            service: source.as_str().to_owned(),
            action_id: watch_id.clone(),
            outcome: outcome.to_owned(),
            detail,
        };
        self.audit
            .append(
                actor,
                &entry(
                    "started",
                    serde_json::json!({ "lines": query.lines, "since": query.since, "command": command }),
                ),
            )
            .await
            .map_err(WatchError::AuditDown)?;
        let (feed, mut watch) = follow::channel(&self.limits);
        watch.permit = Some(permit);
        let limits = self.limits;
        let audit = self.audit.clone();
        let actor = actor.clone();
        let ended = entry("ended", serde_json::Value::Null);
        tokio::spawn(async move {
            let started = Instant::now();
            let summary = follow::follow(&target, &command, limits, feed).await;
            let mut ended = ended;
            ended.detail = serde_json::json!({
                "seconds": started.elapsed().as_secs(),
                "lines": summary.lines,
                "dropped": summary.dropped,
                "why": summary.why,
            });
            for _ in 0..10 {
                if audit.append(&actor, &ended).await.is_ok() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        });
        Ok(watch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_plain_times_only() {
        let q = |s: &str| {
            LogQuery {
                lines: 100,
                since: s.into(),
            }
            .args()
        };
        assert_eq!(q("").unwrap(), "--no-pager -o short-iso -n 100 -f");
        assert!(q("10 minutes ago")
            .unwrap()
            .ends_with("--since '10 minutes ago'"));
        assert!(q("2026-12-01 03:00").is_ok());
        for bad in [
            "'; rm -rf /",
            "10 minutes ago; id",
            "yesterday",
            "$(id)",
            "2026-12-01 03:00'",
        ] {
            assert!(q(bad).is_err(), "{bad}");
        }
        assert!(LogQuery {
            lines: 1_000_000,
            since: String::new()
        }
        .args()
        .unwrap()
        .contains("-n 5000 "));
    }
}

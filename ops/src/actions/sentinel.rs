//! Whether the sentinel runs: its systemd unit's state, read over SSH when a person asks (the
//! configured `sentinel_status` command, `systemctl is-active sentinel`). The sentinel is not
//! under a Supervisor, so the fleet poller never sees it: this read is the only way Onwatch
//! knows, and it says only what it saw.
//!
//! The command's output is not trusted: only its first line is read, and only one of systemd's
//! unit states (`active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`)
//! counts; anything else is an "unknown state", its text escaped and cut. `active` counts only
//! with exit status 0, as `is-active` gives it: the page never says "runs" unless it saw it.
//! Each check is audited before it runs (an attempt, then `done`, `failed` or `refused`) and
//! rate-limited per person from the audit log, like the datastore's lock-file read.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::Event;
use crate::change::sink::{Exited, Sink};
use crate::exec::ssh;

/// At most this many checks per person in [`CHECK_WINDOW_SECS`]: each opens an SSH session on
/// the sentinel's host.
pub const CHECK_LIMIT: u32 = 10;
pub const CHECK_WINDOW_SECS: u64 = 600;

/// The longest a check may take on the host (the configured command timeout, if shorter).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// The most output kept from the status command.
const OUTPUT_LIMIT: usize = 4096;

/// The most of an unrecognised answer shown (after escaping).
const RAW_MAX: usize = 200;

/// The states systemd's `is-active` prints: nothing else is taken for one.
pub const UNIT_STATES: [&str; 6] = [
    "active",
    "inactive",
    "failed",
    "activating",
    "deactivating",
    "reloading",
];

/// What a check saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "seen", rename_all = "snake_case")]
pub enum Seen {
    /// One of [`UNIT_STATES`], as the first line said it.
    State { state: String },
    /// A first line that is not a unit state: escaped (control characters written out) and cut.
    Unknown { raw: String },
    /// The command did not run, did not finish, or said nothing on its standard output.
    NotChecked { why: String },
}

/// Reads the status command's output (as [`ssh::run`] wrote it into a sink: standard output
/// as is, standard error marked `stderr: `) and how it ended.
pub fn read_state(lines: &[String], exited: &Exited) -> Seen {
    let Some(first) = lines.first() else {
        return Seen::NotChecked {
            why: format!("the status command printed nothing ({})", exited.describe()),
        };
    };
    if let Some(err) = first.strip_prefix("stderr: ") {
        if !exited.success() {
            return Seen::NotChecked {
                why: format!(
                    "the status command failed ({}): {}",
                    exited.describe(),
                    escaped(err)
                ),
            };
        }
    }
    let word = first.trim();
    match UNIT_STATES.iter().find(|s| **s == word) {
        // `is-active` exits 0 only for an active unit: "active" with another status is a
        // contradiction, not a running sentinel.
        Some(&"active") if !exited.success() => Seen::Unknown {
            raw: format!("{} ({})", escaped(first), exited.describe()),
        },
        Some(s) => Seen::State {
            state: (*s).to_owned(),
        },
        None => Seen::Unknown {
            raw: escaped(first),
        },
    }
}

/// Text from a host, safe to show: control characters written out (`\u{1b}`), cut.
fn escaped(s: &str) -> String {
    let shown: String = s
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    crate::text::cut(&shown, RAW_MAX)
}

/// One check of the sentinel, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub environment: String,
    pub host: String,
    pub seen: Seen,
    pub checked_ms: i64,
    /// Who asked.
    pub by: String,
}

impl Check {
    /// Only an `active` unit runs.
    pub fn runs(&self) -> bool {
        matches!(&self.seen, Seen::State { state } if state == "active")
    }

    /// The state's name for the page (`active`, `unknown`, `unchecked`).
    pub fn state_name(&self) -> &str {
        match &self.seen {
            Seen::State { state } => state,
            Seen::Unknown { .. } => "unknown",
            Seen::NotChecked { .. } => "unchecked",
        }
    }

    /// "active: the sentinel runs (checked 14:03:09 PST by ana)", the time in `zone` (the
    /// reader's).
    pub fn sentence(&self, zone: &vocab::Zone) -> String {
        let when = zone.clock(self.checked_ms);
        let what = match &self.seen {
            Seen::State { state } => match state.as_str() {
                "active" => "active: the sentinel runs".to_owned(),
                "inactive" => "inactive: the sentinel does not run".to_owned(),
                "failed" => "failed: the sentinel stopped with an error and does not run".to_owned(),
                "activating" => "activating: the sentinel is starting and does not run yet".to_owned(),
                "deactivating" => "deactivating: the sentinel is stopping".to_owned(),
                "reloading" => "reloading: the sentinel is reloading its configuration".to_owned(),
                other => format!("{other}: a unit state Onwatch has no words for"),
            },
            Seen::Unknown { .. } => {
                "unknown state: the status command's answer is not a unit state, so whether the sentinel runs is not known".to_owned()
            }
            Seen::NotChecked { why } => {
                return format!("could not check: {why} (tried {when} by {})", self.by)
            }
        };
        format!("{what} (checked {when} by {})", self.by)
    }

    /// What to do next, when there is something to do.
    pub fn advice(&self) -> Option<String> {
        let by_hand = format!("ssh {} systemctl status sentinel", self.host);
        match &self.seen {
            Seen::State { state } => match state.as_str() {
                "active" => None,
                "activating" | "deactivating" | "reloading" => {
                    Some("Check again in a few seconds; read its log below meanwhile.".into())
                }
                _ => Some(
                    "Read its log below (journalctl -u sentinel) for why, then restart it with \"Restart the sentinel…\"."
                        .into(),
                ),
            },
            Seen::Unknown { .. } => Some(format!(
                "Read its log below, or look on the host by hand: {by_hand}."
            )),
            Seen::NotChecked { .. } => Some(format!(
                "Onwatch cannot tell whether the sentinel runs. Check that {} answers and that [environments.{}.ssh] reaches it, then check again; by hand: {by_hand}.",
                self.host, self.environment
            )),
        }
    }
}

/// Runs the status command on the sentinel's host, bounded in time and output; never fails:
/// what went wrong is [`Seen::NotChecked`].
pub async fn look(target: &ssh::SshTarget, command: &str) -> Seen {
    let mut target = target.clone();
    target.options.command_timeout = target.options.command_timeout.min(CHECK_TIMEOUT);
    target.options.connect_timeout = target.options.connect_timeout.min(CHECK_TIMEOUT);
    let sink = Sink::standalone(OUTPUT_LIMIT);
    match ssh::run(&target, command, &sink).await {
        // coreutils' `timeout` on the host (see `ssh::run`) ended it first.
        Ok(exited) if matches!(exited.status, Some(124 | 137)) => Seen::NotChecked {
            why: format!(
                "the status command did not finish within its {} s timeout",
                target.options.command_timeout.as_secs()
            ),
        },
        Ok(exited) => read_state(&sink.lines(), &exited),
        Err(e) => Seen::NotChecked { why: e.to_string() },
    }
}

/// Why a check was not made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Onwatch does not know where the sentinel runs (or cannot reach it): nothing ran.
    #[error("{0}")]
    Unconfigured(String),
    /// The person asked too often: nothing ran.
    #[error("{0}")]
    Refused(String),
    /// The audit log could not be written: nothing ran.
    #[error("the audit log cannot be written, so the sentinel was not checked: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// [`look`] as a person asks for it: refused (and audited so) past [`CHECK_LIMIT`] checks in
/// the window, counted from the audit log so every replica counts the same; otherwise the
/// attempt is audited before any SSH runs, and the outcome after (`done` when a state was
/// read, `failed` when none could be). The caller has checked that the person is a responder.
pub async fn check_for(
    actions: &crate::change::Pipeline,
    actor: &crate::audit::Actor,
) -> Result<Check, CheckError> {
    let audit = actions.audit();
    let store = audit.store();
    let (environment, host) = match actions.sentinel() {
        Some(s) => (s.environment.clone(), s.host.clone()),
        None => (String::new(), String::new()),
    };
    let entry = |outcome: &str, detail: serde_json::Value| crate::audit::Entry {
        environment: environment.clone(),
        host: host.clone(),
        service: crate::access::SENTINEL.into(),
        outcome: outcome.into(),
        detail,
        ..crate::audit::Entry::new(Event::SentinelStatus)
    };
    let refuse = async |why: String| -> Result<(), CheckError> {
        audit
            .append(actor, &entry("refused", serde_json::json!({ "why": why })))
            .await?;
        Ok(())
    };
    // Where, and the command, before anything is counted or run.
    let planned = if host.is_empty() {
        Err("Onwatch does not know where the sentinel runs: set [sentinel] (environment, host, address)".to_owned())
    } else {
        actions
            .ssh_target(&environment, &host)
            .and_then(|t| {
                ssh::command_for(&t.options.commands.sentinel_status, &host).map(|c| (t, c))
            })
            .map_err(|r| r.why)
    };
    let (target, command) = match planned {
        Ok(p) => p,
        Err(why) => {
            refuse(why.clone()).await?;
            return Err(CheckError::Unconfigured(why));
        }
    };
    let now = store.now_ms().await?;
    let since = now - (CHECK_WINDOW_SECS as i64) * 1000;
    let asked = audit
        .attempts_since(Event::SentinelStatus, &actor.id, since)
        .await?;
    if asked >= i64::from(CHECK_LIMIT) {
        let why = format!(
            "you have checked the sentinel {asked} times in the last {} min (at most {CHECK_LIMIT}): each check opens an SSH session on its host. Use the answer you have, or wait a few minutes.",
            CHECK_WINDOW_SECS / 60
        );
        refuse(why.clone()).await?;
        return Err(CheckError::Refused(why));
    }
    audit
        .append(actor, &entry("", serde_json::json!({ "command": command })))
        .await?;
    let seen = look(&target, &command).await;
    let check = Check {
        environment: environment.clone(),
        host: host.clone(),
        seen,
        checked_ms: crate::time::now_ms(),
        by: actor.name.clone(),
    };
    let outcome = match check.seen {
        Seen::NotChecked { .. } => "failed",
        _ => "done",
    };
    if let Err(e) = audit
        .append(
            actor,
            &entry(
                outcome,
                serde_json::json!({ "state": check.state_name(), "seen": &check.seen }),
            ),
        )
        .await
    {
        // The check happened and its attempt is on record; the page still gets its answer.
        tracing::error!(error = %e, "the outcome of a sentinel check could not be audited");
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(status: u32) -> Exited {
        Exited {
            status: Some(status),
            signal: None,
        }
    }

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_the_first_line_and_only_unit_states_count() {
        assert_eq!(
            read_state(&lines(&["active"]), &exit(0)),
            Seen::State {
                state: "active".into()
            }
        );
        assert_eq!(
            read_state(&lines(&["failed"]), &exit(3)),
            Seen::State {
                state: "failed".into()
            }
        );
        // A second line is never read, whatever it says.
        assert_eq!(
            read_state(&lines(&["<b>hi</b>", "active"]), &exit(0)),
            Seen::Unknown {
                raw: "<b>hi</b>".into()
            }
        );
        assert!(matches!(
            read_state(&lines(&["active\u{1b}[31m"]), &exit(0)),
            Seen::Unknown { raw } if raw.contains("\\u{1b}")
        ));
        // "active" with a failing status is not a running sentinel.
        assert!(matches!(
            read_state(&lines(&["active"]), &exit(3)),
            Seen::Unknown { .. }
        ));
        assert!(matches!(read_state(&[], &exit(0)), Seen::NotChecked { .. }));
        assert!(matches!(
            read_state(&lines(&["stderr: sh: systemctl: not found"]), &exit(127)),
            Seen::NotChecked { why } if why.contains("not found")
        ));
    }

    #[test]
    fn only_active_is_said_to_run() {
        let check = |seen| Check {
            environment: "live".into(),
            host: "bots.habitat.sh".into(),
            seen,
            checked_ms: 14 * 3_600_000 + 3 * 60_000 + 9_000,
            by: "ana".into(),
        };
        let active = check(Seen::State {
            state: "active".into(),
        });
        assert!(active.runs());
        assert_eq!(
            active.sentence(&vocab::Zone::utc()),
            "active: the sentinel runs (checked 14:03:09 UTC by ana)"
        );
        for s in UNIT_STATES.iter().filter(|s| **s != "active") {
            let c = check(Seen::State {
                state: (*s).to_owned(),
            });
            assert!(!c.runs());
            assert!(
                !c.sentence(&vocab::Zone::utc()).contains("sentinel runs"),
                "{}",
                c.sentence(&vocab::Zone::utc())
            );
        }
        let not = check(Seen::NotChecked {
            why: "no answer".into(),
        });
        assert!(!not.runs());
        assert!(not
            .sentence(&vocab::Zone::utc())
            .starts_with("could not check: no answer"));
        assert!(not.advice().is_some());
    }
}

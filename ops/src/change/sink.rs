//! What an action writes as it runs: its progress (step, state, output lines) as the browser
//! sees it, and the sink executors write their output into — bounded, secrets redacted, every
//! watcher told at once. Executors (`exec::ssh`, each kind's procedure) and the pipeline share it; it imports none
//! of them.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::ledger::ActionRecord;
use super::request::ActionState;

/// What a browser sees of an action, live or after the fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionProgress {
    pub id: String,
    pub kind: String,
    pub environment: String,
    pub host: String,
    pub service: String,
    pub actor_name: String,
    pub reason: String,
    pub state: ActionState,
    /// The step running now ("stopping", "starting", "checking health"), or the last one.
    pub step: String,
    /// The output, bounded: the first lines, then the newest ones.
    pub lines: Vec<String>,
    /// Lines left out between the first and the newest.
    pub omitted: usize,
    pub summary: String,
    pub requested_ms: i64,
    pub finished_ms: Option<i64>,
    /// A build request's job group and rollout, while it runs (a plain data type of `builds`).
    #[serde(default)]
    pub build: Option<crate::builds::progress::BuildProgress>,
}

impl ActionProgress {
    pub(super) fn from_record(r: &ActionRecord) -> ActionProgress {
        ActionProgress {
            id: r.id.clone(),
            kind: r.kind.clone(),
            environment: r.environment.clone(),
            host: r.host.clone(),
            service: r.service.clone(),
            actor_name: r.actor_name.clone(),
            reason: r.reason.clone(),
            state: r.state,
            step: String::new(),
            lines: r.output.lines().map(str::to_owned).collect(),
            omitted: 0,
            summary: r.summary.clone(),
            requested_ms: r.requested_ms,
            finished_ms: r.finished_ms,
            build: None,
        }
    }
}

/// Where an executor writes: bounded, secrets redacted, every watcher told.
pub struct Sink {
    tx: watch::Sender<ActionProgress>,
    state: Mutex<SinkState>,
    /// How the last remote command ended (SSH), for the outcome row.
    exit: Mutex<Option<Exited>>,
    limit: usize,
    secrets: Vec<String>,
    /// Whether this process still holds the action, asked before each command is sent.
    fence: Option<Fence>,
    /// When the hold was last renewed (shared with the lease's renewing task).
    renewed: Option<std::sync::Arc<Mutex<std::time::Instant>>>,
}

/// Asks the store whether this process still holds its action (renewing its lease if so), and
/// whether a cancel was asked of it.
pub type Fence = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<
            Box<
                dyn std::future::Future<
                        Output = Result<super::ledger::Hold, crate::store::StoreError>,
                    > + Send,
            >,
        > + Send
        + Sync,
>;

#[derive(Default)]
struct SinkState {
    head: Vec<String>,
    head_bytes: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    omitted: usize,
    total_bytes: usize,
}

/// The most bytes of one line kept.
const LINE_MAX: usize = 1000;

impl Sink {
    pub(super) fn new(progress: ActionProgress, limit: usize, secrets: Vec<String>) -> Sink {
        Sink {
            tx: watch::Sender::new(progress),
            state: Mutex::new(SinkState::default()),
            exit: Mutex::new(None),
            limit: limit.max(1024),
            secrets,
            fence: None,
            renewed: None,
        }
    }

    /// Shares the moment of the last renewal with the task that renews the lease.
    pub(crate) fn with_renewed(
        mut self,
        renewed: std::sync::Arc<Mutex<std::time::Instant>>,
    ) -> Sink {
        self.renewed = Some(renewed);
        self
    }

    pub(crate) fn renewed(&self) -> Option<std::sync::Arc<Mutex<std::time::Instant>>> {
        self.renewed.clone()
    }

    /// The sink of an action that runs under a lease: [`Sink::held`] asks `fence`.
    pub(crate) fn with_fence(mut self, fence: Fence) -> Sink {
        self.fence = Some(fence);
        self
    }

    /// Called right before a command is sent to production: `Err` when this process no longer
    /// holds its action (it was paused or cut off past its lease, and another process marked
    /// it interrupted), or cannot tell (the store does not answer), or a person asked to cancel
    /// it (on any replica): then nothing more is sent. A sink without a lease (tests, tools)
    /// always holds.
    pub async fn held(&self) -> Result<(), super::Failed> {
        let Some(fence) = &self.fence else {
            return Ok(());
        };
        let why = match fence().await {
            Ok(super::ledger::Hold::Held(None)) => return Ok(()),
            Ok(super::ledger::Hold::Held(Some(c))) => {
                format!("cancelled by {}: nothing more is sent", c.by_name)
            }
            Ok(super::ledger::Hold::Lost) => "this Onwatch no longer holds the action (it was marked interrupted while this process was paused or cut off from the store): nothing more is sent".to_owned(),
            Err(e) => format!("the store cannot confirm that this Onwatch still holds the action ({e}): nothing more is sent"),
        };
        // Said in the output, then the step stops where it stands.
        self.line(format!("✗ {why}"));
        Err(super::Failed::Hold(why))
    }

    /// A sink outside any action (tests, tools): bounded like an action's, watched by nobody.
    pub fn standalone(limit: usize) -> Sink {
        Sink::new(
            ActionProgress {
                id: String::new(),
                kind: String::new(),
                environment: String::new(),
                host: String::new(),
                service: String::new(),
                actor_name: String::new(),
                reason: String::new(),
                state: ActionState::Running,
                step: String::new(),
                lines: Vec::new(),
                omitted: 0,
                summary: String::new(),
                requested_ms: 0,
                finished_ms: None,
                build: None,
            },
            limit,
            Vec::new(),
        )
    }

    /// The lines kept so far (the first, a marker of what was left out, the newest).
    pub fn lines(&self) -> Vec<String> {
        self.tx.borrow().lines.clone()
    }

    /// One line of output. Kept: the first half of the limit, then the newest lines within the
    /// other half; what falls between is counted, not kept.
    pub fn line(&self, line: String) {
        let mut line = line;
        for s in &self.secrets {
            if !s.is_empty() {
                line = line.replace(s.as_str(), "[redacted]");
            }
        }
        if line.len() > LINE_MAX {
            let mut cut = LINE_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" [line cut]");
        }
        let (lines, omitted) = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.total_bytes += line.len() + 1;
            if st.omitted == 0 && st.tail.is_empty() && st.head_bytes + line.len() < self.limit / 2
            {
                st.head_bytes += line.len() + 1;
                st.head.push(line);
            } else {
                st.tail_bytes += line.len() + 1;
                st.tail.push_back(line);
                while st.tail_bytes > self.limit / 2 {
                    if let Some(old) = st.tail.pop_front() {
                        st.tail_bytes -= old.len() + 1;
                        st.omitted += 1;
                    }
                }
            }
            let mut lines = st.head.clone();
            if st.omitted > 0 {
                lines.push(format!("[… {} lines left out …]", st.omitted));
            }
            lines.extend(st.tail.iter().cloned());
            (lines, st.omitted)
        };
        self.tx.send_modify(|p| {
            p.lines = lines;
            p.omitted = omitted;
        });
    }

    /// Records how a remote command ended (the last one counts).
    pub fn exited(&self, exited: &Exited) {
        *self.exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(exited.clone());
    }

    pub(super) fn last_exit(&self) -> Option<Exited> {
        self.exit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A watcher of the progress (the browser's stream).
    pub fn subscribe(&self) -> watch::Receiver<ActionProgress> {
        self.tx.subscribe()
    }

    /// The action ended: its state, one line for people, when (store clock).
    pub(super) fn finish(&self, state: ActionState, summary: &str, finished_ms: i64) {
        self.tx.send_modify(|p| {
            p.state = state;
            p.summary = summary.to_owned();
            p.finished_ms = Some(finished_ms);
        });
    }

    pub fn step(&self, step: &str) {
        self.tx.send_modify(|p| p.step = step.to_owned());
    }

    /// Updates a build request's job group and rollout (see `builds`).
    pub fn build(&self, f: impl FnOnce(&mut crate::builds::progress::BuildProgress)) {
        self.tx
            .send_modify(|p| f(p.build.get_or_insert_with(Default::default)));
    }

    /// The build's progress as last shown.
    pub fn build_progress(&self) -> Option<crate::builds::progress::BuildProgress> {
        self.tx.borrow().build.clone()
    }

    pub(super) fn excerpt(&self) -> (String, usize) {
        let p = self.tx.borrow();
        let total = self
            .state
            .lock()
            .map(|s| s.total_bytes)
            .unwrap_or_else(|p| p.into_inner().total_bytes);
        (p.lines.join("\n"), total)
    }
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exited {
    pub status: Option<u32>,
    pub signal: Option<String>,
}

impl Exited {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    pub fn describe(&self) -> String {
        match (&self.status, &self.signal) {
            (Some(s), _) => format!("exit status {s}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "no exit status (the session ended)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress() -> ActionProgress {
        ActionProgress {
            id: "a".into(),
            kind: "restart_service".into(),
            environment: "live".into(),
            host: "h".into(),
            service: "s".into(),
            actor_name: "ada".into(),
            reason: "r".into(),
            state: ActionState::Running,
            step: String::new(),
            lines: Vec::new(),
            omitted: 0,
            summary: String::new(),
            requested_ms: 0,
            finished_ms: None,
            build: None,
        }
    }

    #[test]
    fn a_megabyte_of_output_keeps_its_first_and_newest_lines_within_the_limit() {
        let sink = Sink::new(progress(), 4096, vec!["s3cr3t".into()]);
        for i in 0..20_000 {
            sink.line(format!("line {i:05} {}", "x".repeat(40)));
        }
        let (excerpt, total) = sink.excerpt();
        assert!(total > 1_000_000, "{total} bytes went through");
        assert!(excerpt.len() <= 4096 + 64, "{} bytes kept", excerpt.len());
        assert!(excerpt.starts_with("line 00000"), "the first lines");
        assert!(
            excerpt.ends_with(&format!("line 19999 {}", "x".repeat(40))),
            "the newest"
        );
        assert!(excerpt.contains("lines left out"), "the cut is said");
        let p = sink.tx.borrow();
        assert!(p.omitted > 19_000);
    }

    #[test]
    fn secrets_are_redacted_and_long_lines_cut() {
        let sink = Sink::new(progress(), 4096, vec!["s3cr3t".into()]);
        sink.line("handshake with s3cr3t failed".into());
        sink.line("y".repeat(5000));
        let (excerpt, _) = sink.excerpt();
        assert!(excerpt.contains("handshake with [redacted] failed"));
        assert!(!excerpt.contains("s3cr3t"));
        assert!(excerpt.contains("[line cut]"));
        assert!(excerpt.lines().all(|l| l.len() <= LINE_MAX + 16));
    }
}

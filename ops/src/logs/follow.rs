//! One remote `journalctl -f`, its lines into a bounded channel.
//!
//! Bounded everywhere: at most `lines_per_sec` lines a second are forwarded and each is cut to
//! `line_bytes`; the channel holds `queue` events, and when the reader is slower the lines are
//! dropped and counted (a `Dropped` event says how many), never buffered without limit.
//!
//! Ending on the host: sshd does not end a command without a terminal when its channel closes,
//! so the command runs under a small shell that watches its own stdin and kills `journalctl`
//! when the channel's input closes: when Onwatch stops reading, or the connection goes.

use std::time::{Duration, Instant};

use russh::ChannelMsg;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::line::{self, LogLine};
use crate::actions::ssh::{self, LineSplitter, SshTarget};

/// The bounds of one watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Lines forwarded per second (more are dropped and counted).
    pub lines_per_sec: u32,
    /// Bytes kept of one line.
    pub line_bytes: usize,
    /// Events waiting for a slow reader.
    pub queue: usize,
    /// Longest a watch stays open (the page reconnects).
    pub max_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lines_per_sec: 2_000,
            line_bytes: 4_096,
            queue: 2_048,
            max_secs: 4 * 3600,
        }
    }
}

/// What a watch says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEvent {
    Line(LogLine),
    /// This many lines were dropped (too fast, or the reader too slow) since the last event.
    Dropped(u64),
    /// The watch is over, and why.
    Ended(String),
}

/// How a watch went (for its audit row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines read from the host.
    pub read: u64,
    pub lines: u64,
    pub dropped: u64,
    pub why: String,
}

/// Counts, bounds and forwards lines.
struct Forwarder {
    tx: mpsc::Sender<LogEvent>,
    limits: Limits,
    seq: u64,
    pending_dropped: u64,
    window: Instant,
    in_window: u32,
    summary: Summary,
}

impl Forwarder {
    /// Forwards one line, or counts it dropped; `false` when the reader is gone.
    fn line(&mut self, text: String) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        self.seq += 1;
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.in_window = 0;
        }
        if self.in_window >= self.limits.lines_per_sec {
            self.pending_dropped += 1;
            self.summary.dropped += 1;
            return true;
        }
        if self.pending_dropped > 0 {
            match self.tx.try_send(LogEvent::Dropped(self.pending_dropped)) {
                Ok(()) => self.pending_dropped = 0,
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
                Err(mpsc::error::TrySendError::Full(_)) => {}
            }
        }
        let parsed = line::parse(self.seq, &text, self.limits.line_bytes);
        match self.tx.try_send(LogEvent::Line(parsed)) {
            Ok(()) => {
                self.in_window += 1;
                self.summary.lines += 1;
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.pending_dropped += 1;
                self.summary.dropped += 1;
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// The command wrapped so that it ends when the channel's input closes (see the module): in a
/// process group of its own (`setsid`), which a watcher of stdin kills whole (a pipeline or a
/// shell's children included).
fn watched(command: &str) -> String {
    // The watcher reads the channel through fd 3: a shell gives an asynchronous list /dev/null
    // as its stdin. `kill -TERM -$p` (no `--`: dash's kill refuses it) signals the group. The
    // shell's own stderr goes quiet before `wait` (it would say "Terminated"); the command
    // keeps the channel's.
    let inner = format!(
        "exec 3<&0; setsid sh -c {} </dev/null 3<&- & p=$!; (cat <&3 >/dev/null 2>&1; kill -TERM -$p 2>/dev/null) >/dev/null 2>&1 & exec 2>/dev/null; wait $p",
        ssh::shell_quote(command)
    );
    format!("sh -c {}", ssh::shell_quote(&inner))
}

/// Runs `command` on the target and forwards its lines until the reader goes, the command ends,
/// the host cuts the connection, or `max_secs` pass.
pub async fn follow(
    target: &SshTarget,
    command: &str,
    limits: Limits,
    tx: mpsc::Sender<LogEvent>,
) -> Summary {
    let mut summary = Summary::default();
    let end = |tx: &mpsc::Sender<LogEvent>, why: String, summary: &mut Summary| {
        let _ = tx.try_send(LogEvent::Ended(why.clone()));
        summary.why = why;
    };
    // A silent log is not a dead session: keepalives, no inactivity timeout.
    let session = match ssh::connect(target, None).await {
        Ok(s) => s,
        Err(e) => {
            end(&tx, e.to_string(), &mut summary);
            return summary;
        }
    };
    let mut channel = match session.channel_open_session().await {
        Ok(c) => c,
        Err(e) => {
            end(&tx, format!("the SSH session failed: {e}"), &mut summary);
            return summary;
        }
    };
    if let Err(e) = channel.exec(true, watched(command)).await {
        end(&tx, format!("the SSH session failed: {e}"), &mut summary);
        return summary;
    }
    let mut out = LineSplitter::default();
    let mut err = LineSplitter::default();
    let mut fwd = Forwarder {
        tx: tx.clone(),
        limits,
        seq: 0,
        pending_dropped: 0,
        window: Instant::now(),
        in_window: 0,
        summary: Summary::default(),
    };
    let deadline = tokio::time::sleep(Duration::from_secs(limits.max_secs.max(1)));
    tokio::pin!(deadline);
    let mut status = None;
    let why = loop {
        let pending = fwd.pending_dropped;
        tokio::select! {
            msg = channel.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    let mut gone = false;
                    for l in out.push(&data) {
                        if !fwd.line(l) {
                            gone = true;
                            break;
                        }
                    }
                    if gone {
                        break "the page closed".to_owned();
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => {
                    for l in err.push(&data) {
                        let _ = fwd.line(format!("stderr: {l}"));
                    }
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
                Some(ChannelMsg::Eof) => {}
                Some(ChannelMsg::Close) | None => {
                    if let Some(l) = out.rest() {
                        let _ = fwd.line(l);
                    }
                    break match status {
                        Some(0) => "the log command ended".to_owned(),
                        Some(n) => format!("the log command ended with status {n}"),
                        None => "the host closed the connection".to_owned(),
                    };
                }
                Some(_) => {}
            },
            // Dropped lines are said as soon as the reader has room, not with the next line.
            permit = tx.reserve(), if pending > 0 => match permit {
                Ok(p) => {
                    p.send(LogEvent::Dropped(pending));
                    fwd.pending_dropped -= pending;
                }
                Err(_) => break "the page closed".to_owned(),
            },
            _ = tx.closed() => break "the page closed".to_owned(),
            _ = &mut deadline => break format!("watched for {} s: reopen to go on", limits.max_secs),
        }
    };
    summary = fwd.summary;
    summary.read = fwd.seq;
    let pending_dropped = fwd.pending_dropped;
    // The last word waits for room (the reader is draining), briefly: a count of dropped
    // lines must not itself be dropped.
    if pending_dropped > 0 {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tx.send(LogEvent::Dropped(pending_dropped)),
        )
        .await;
    }
    // Closing our side closes the remote shell's stdin: its watcher kills journalctl.
    let _ = channel.eof().await;
    let _ = channel.close().await;
    let _ = session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        tx.send(LogEvent::Ended(why.clone())),
    )
    .await;
    summary.why = why;
    summary
}

//! One remote `journalctl -f`, its lines into a bounded channel.
//!
//! Bounded everywhere: at most `lines_per_sec` lines a second are forwarded and each is cut to
//! `line_bytes`; at most `queue` lines wait for the reader. When they are all waiting, the watch
//! stops reading from the host for a while (SSH's flow control then holds `journalctl` back on
//! the host, and nothing is lost: a burst reaches a reader that is only briefly slower); once it
//! has held the host back [`MAX_BEHIND`] in one stretch, the reader is behind, and lines are
//! dropped and counted instead (a `Dropped` event says how many) so that the page shows what
//! the host writes now. Never buffered without limit, never behind without limit.
//!
//! Lines travel in batches, one per SSH data packet (a packet carries up to 32 KiB: thousands
//! of short lines): the bounds are checked, the channel touched and the reader woken once per
//! packet rather than once per line, which is what lets the stream keep up with `sshd`.
//!
//! Ending on the host: sshd does not end a command without a terminal when its channel closes,
//! so the command runs under a small shell that watches its own stdin and kills `journalctl`
//! when the channel's input closes: when Onwatch stops reading, or the connection goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::ChannelMsg;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Semaphore};

use super::line::{self, LogLine};
use crate::exec::ssh::{self, LineSplitter, SshTarget};

/// The bounds of one watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Lines forwarded per second (more are dropped and counted).
    pub lines_per_sec: u32,
    /// Bytes kept of one line.
    pub line_bytes: usize,
    /// Lines waiting for a slow reader.
    pub queue: usize,
    /// Longest a watch stays open (the page reconnects).
    pub max_secs: u64,
    /// Watches open at once per person: each is an SSH session and a `journalctl -f` on a
    /// production host.
    pub per_person: u32,
    /// Watches open at once per host, whoever opened them.
    pub per_host: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lines_per_sec: 2_000,
            line_bytes: 4_096,
            queue: 2_048,
            max_secs: 4 * 3600,
            per_person: 3,
            per_host: 10,
        }
    }
}

/// What a watch says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEvent {
    /// Lines in the order the host wrote them (never empty).
    Lines(Vec<LogLine>),
    /// This many lines were dropped (too fast, or the reader too slow) since the last event.
    Dropped(u64),
    /// The watch is over, and why.
    Ended(String),
}

/// How long a watch holds the host back in one stretch, waiting for a reader with no room
/// left, before it drops lines instead (see the module).
pub const MAX_BEHIND: Duration = Duration::from_secs(2);

/// The reading end of a watch. The lines it holds count against `queue` until they are read;
/// dropping it ends the watch (and the remote command).
pub struct LogWatch {
    rx: mpsc::Receiver<LogEvent>,
    room: Arc<Semaphore>,
    /// Counts this watch against its person's and host's bounds until it is dropped.
    pub(super) permit: Option<super::Permit>,
}

impl LogWatch {
    /// The next event; `None` once the watch is over and everything was read.
    pub async fn recv(&mut self) -> Option<LogEvent> {
        let e = self.rx.recv().await;
        self.read(e)
    }

    /// The next event if one waits.
    pub fn try_recv(&mut self) -> Option<LogEvent> {
        let e = self.rx.try_recv().ok();
        self.read(e)
    }

    fn read(&self, e: Option<LogEvent>) -> Option<LogEvent> {
        if let Some(LogEvent::Lines(l)) = &e {
            self.room.add_permits(l.len());
        }
        e
    }
}

/// The writing end of a watch (see [`channel`]).
pub struct Feed {
    tx: mpsc::Sender<LogEvent>,
    /// One permit per line that may wait; a line sent holds one until it is read.
    room: Arc<Semaphore>,
}

/// A watch's two ends, bounded by `limits.queue` lines.
pub fn channel(limits: &Limits) -> (Feed, LogWatch) {
    // Every event but the last carries a line or says that some were dropped, and a `Dropped`
    // follows lines: twice the line bound (and the last word) never fills before the lines do.
    let queue = limits.queue.max(1);
    let (tx, rx) = mpsc::channel(queue * 2 + 2);
    let room = Arc::new(Semaphore::new(queue));
    (
        Feed {
            tx,
            room: room.clone(),
        },
        LogWatch {
            rx,
            room,
            permit: None,
        },
    )
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
    feed: Feed,
    limits: Limits,
    seq: u64,
    pending_dropped: u64,
    window: Instant,
    in_window: u32,
    /// How long the host has been held back in this stretch (since room was last found at
    /// once).
    behind: Duration,
    summary: Summary,
}

impl Forwarder {
    /// Forwards a packet's lines, or as many as the bounds let through and counts the rest
    /// dropped; `false` when the reader is gone.
    async fn lines(&mut self, texts: Vec<String>) -> bool {
        if self.feed.tx.is_closed() {
            return false;
        }
        let n = texts.len();
        let mut seq = self.seq + 1;
        self.seq += n as u64;
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.in_window = 0;
        }
        // Over the rate, the packet's last lines go at once (no waiting: the rate is the bound
        // a person reads at, not a slow reader).
        let keep = n.min(self.limits.lines_per_sec.saturating_sub(self.in_window) as usize);
        let queue = self.limits.queue.max(1);
        let mut texts = texts.into_iter();
        let mut done = 0;
        while done < keep {
            let k = (keep - done).min(queue);
            let room = match self.room(k).await {
                Ok(room) => room,
                Err(Gone) => return false,
            };
            let piece = texts.by_ref().take(k);
            done += k;
            let sent = room && self.send(piece, seq);
            seq += k as u64;
            if sent {
                self.in_window = self.in_window.saturating_add(k as u32);
                self.summary.lines += k as u64;
            } else {
                self.dropped(k);
            }
        }
        self.dropped(n - keep);
        true
    }

    /// Room for `k` more lines: at once, or after waiting while the host has been held back
    /// less than [`MAX_BEHIND`] in this stretch. `Ok(false)`: no room, drop them.
    async fn room(&mut self, k: usize) -> Result<bool, Gone> {
        let permits = k as u32;
        if let Ok(p) = self.feed.room.try_acquire_many(permits) {
            p.forget();
            self.behind = Duration::ZERO;
            return Ok(true);
        }
        if self.behind >= MAX_BEHIND {
            return Ok(false);
        }
        let started = Instant::now();
        let got = tokio::select! {
            p = self.feed.room.acquire_many(permits) => p.map(|p| p.forget()).is_ok(),
            _ = tokio::time::sleep(MAX_BEHIND - self.behind) => false,
            _ = self.feed.tx.closed() => return Err(Gone),
        };
        self.behind += started.elapsed();
        Ok(got)
    }

    /// Sends lines whose room is taken; `false` (room given back) when the channel is full.
    fn send(&mut self, texts: impl Iterator<Item = String>, first_seq: u64) -> bool {
        if self.pending_dropped > 0
            && self
                .feed
                .tx
                .try_send(LogEvent::Dropped(self.pending_dropped))
                .is_ok()
        {
            self.pending_dropped = 0;
        }
        let batch: Vec<LogLine> = texts
            .zip(first_seq..)
            .map(|(t, seq)| line::parse(seq, t, self.limits.line_bytes))
            .collect();
        let k = batch.len();
        match self.feed.tx.try_send(LogEvent::Lines(batch)) {
            Ok(()) => true,
            Err(_) => {
                self.feed.room.add_permits(k);
                false
            }
        }
    }

    fn dropped(&mut self, k: usize) {
        self.pending_dropped += k as u64;
        self.summary.dropped += k as u64;
    }
}

/// The reader went.
struct Gone;

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
pub async fn follow(target: &SshTarget, command: &str, limits: Limits, feed: Feed) -> Summary {
    let tx = feed.tx.clone();
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
        feed,
        limits,
        seq: 0,
        pending_dropped: 0,
        window: Instant::now(),
        in_window: 0,
        behind: Duration::ZERO,
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
                    if !fwd.lines(out.push(&data)).await {
                        break "the page closed".to_owned();
                    }
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => {
                    let lines = err.push(&data).into_iter().map(|l| format!("stderr: {l}")).collect();
                    let _ = fwd.lines(lines).await;
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
                Some(ChannelMsg::Eof) => {}
                Some(ChannelMsg::Close) | None => {
                    if let Some(l) = out.rest() {
                        let _ = fwd.lines(vec![l]).await;
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

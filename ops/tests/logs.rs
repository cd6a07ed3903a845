//! Host logs over a real OpenSSH server on loopback (`testkit::Sshd`): lines as they are
//! written, a burst bounded by the limits with every dropped line counted, the remote process
//! gone when the reader goes, and a host that cuts the connection.

use std::time::Duration;

use ops::exec::ssh::{self, SshOptions, SshTarget};
use ops::logs::{follow, Limits, LogEvent, LogWatch};

fn target(sshd: &testkit::Sshd) -> SshTarget {
    SshTarget {
        address: "127.0.0.1".into(),
        options: SshOptions {
            user: sshd.user.clone(),
            port: sshd.port,
            key_file: sshd.key_file.clone(),
            known_hosts_file: sshd.known_hosts_file.clone(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
            ..SshOptions::default()
        },
        key: ssh::load_key(&sshd.key_file).unwrap(),
    }
}

/// A watch read line by line (lines come in batches).
struct Reader {
    watch: LogWatch,
    waiting: std::collections::VecDeque<ops::logs::LogLine>,
}

impl Reader {
    fn new(watch: LogWatch) -> Reader {
        Reader {
            watch,
            waiting: Default::default(),
        }
    }

    async fn next_line(&mut self) -> ops::logs::LogLine {
        loop {
            if let Some(l) = self.waiting.pop_front() {
                return l;
            }
            match tokio::time::timeout(Duration::from_secs(10), self.watch.recv()).await {
                Ok(Some(LogEvent::Lines(l))) => {
                    assert!(!l.is_empty(), "an empty batch");
                    self.waiting.extend(l)
                }
                Ok(Some(LogEvent::Dropped(n))) => panic!("{n} lines dropped"),
                Ok(Some(LogEvent::Ended(why))) => panic!("ended: {why}"),
                Ok(None) => panic!("the channel closed"),
                Err(_) => panic!("no line within 10 s"),
            }
        }
    }
}

/// Whether a process whose command line contains `marker` runs on this (the remote) host.
/// Read from `/proc` itself: a missing `pgrep` must not read as "gone".
fn running(marker: &str) -> bool {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.bytes().all(|b| b.is_ascii_digit()) && name != me
        })
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c).replace('\0', " ");
                    c.contains(marker)
                })
                .unwrap_or(false)
        })
}

/// A copy of `sleep` whose path names the test: a process the host keeps until it is killed,
/// found by its command line (GNU `tail -f` ends on its own when its output closes; this does
/// not, so it shows whether Onwatch's watcher kills the command's process group).
fn marker_sleep(sshd: &testkit::Sshd, name: &str) -> String {
    let path = sshd.dir.join(format!("{name}-{}", std::process::id()));
    std::fs::copy("/bin/sleep", &path).unwrap();
    path.display().to_string()
}

async fn until_gone(marker: &str) {
    for _ in 0..200 {
        if !running(marker) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("`{marker}` still runs on the host 10 s after the reader went");
}

#[tokio::test]
async fn lines_arrive_as_written_and_the_remote_process_ends_with_the_reader() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let log = sshd.dir.join(format!("journal-{}.log", std::process::id()));
    std::fs::write(&log, "old 1\nold 2\nbuilder-api.default(O): old 3\n").unwrap();
    let marker = log.display().to_string();
    let (feed, watch) = follow::channel(&Limits::default());
    let mut rx = Reader::new(watch);
    let t = target(&sshd);
    let sleeper = marker_sleep(&sshd, "closed");
    // A pipeline whose end stays (it never writes, so it never learns that its output closed).
    let cmd = format!("tail -n 2 -f {marker} & {sleeper} 3600");
    let task = tokio::spawn(async move { follow::follow(&t, &cmd, Limits::default(), feed).await });
    let first = rx.next_line().await;
    assert_eq!(first.text, "old 2");
    let second = rx.next_line().await;
    assert_eq!(second.service.as_deref(), Some("builder-api"));
    // A line written now arrives, with its level.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"builder-api.default(E): ERROR new\n"))
        .unwrap();
    let new = rx.next_line().await;
    assert_eq!(new.text, "builder-api.default(E): ERROR new");
    assert_eq!(new.level, ops::logs::Level::Error);
    assert!(running(&marker));
    // The reader goes: the remote tail ends.
    drop(rx);
    let summary = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.why, "the page closed");
    until_gone(&marker).await;
    until_gone(&sleeper).await;
}

#[tokio::test]
async fn a_reader_that_is_away_gets_the_bound_and_every_dropped_line_is_counted() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let marker = marker_sleep(&sshd, "burst");
    // No rate bound in the way: what holds lines back here is the queue.
    let limits = Limits {
        lines_per_sec: 10_000_000,
        queue: 256,
        ..Limits::default()
    };
    let (feed, mut rx) = follow::channel(&limits);
    let t = target(&sshd);
    // The burst, then a process that stays (its command line names the marker).
    let cmd = format!("seq 1 100000; {marker} 3600");
    let task = tokio::spawn(async move { follow::follow(&t, &cmd, limits, feed).await });
    let (mut lines, mut dropped, mut last_seq) = (0u64, 0u64, 0u64);
    let mut drops = Vec::new();
    // A reader that is gone for longer than a watch holds the host back: it sleeps while the
    // host writes 100,000 lines.
    tokio::time::sleep(follow::MAX_BEHIND + Duration::from_secs(2)).await;
    // Every line the host wrote is either forwarded or counted as dropped (the host may add a
    // line of its own, so the stream's own count of lines read is the reference).
    while lines + dropped < 100_000 {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(LogEvent::Lines(batch))) => {
                assert!(!batch.is_empty(), "an empty batch");
                for l in batch {
                    assert!(
                        l.text.parse::<u64>().is_ok(),
                        "not a line of the burst: {:?}",
                        l.text
                    );
                    assert!(l.seq > last_seq);
                    last_seq = l.seq;
                    lines += 1;
                }
            }
            Ok(Some(LogEvent::Dropped(n))) => {
                // While the reader slept, no more than the bound waited for it.
                if drops.is_empty() {
                    assert!(lines <= 256, "{lines} lines waited, the bound is 256");
                }
                drops.push((last_seq, n));
                dropped += n
            }
            other => panic!("after {lines} lines and {dropped} dropped: {other:?}"),
        }
    }
    assert!(
        lines + dropped >= 100_000,
        "last seq {last_seq}, drops {drops:?}"
    );
    assert!(
        dropped > 50_000,
        "the bounds held nothing back: {lines} forwarded"
    );
    assert!(lines >= 256, "{lines}");
    drop(rx);
    let summary = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.lines + summary.dropped, summary.read, "{summary:?}");
    assert_eq!(
        summary.lines + summary.dropped,
        lines + dropped,
        "{summary:?}, seen {lines} + {dropped}"
    );
    until_gone(&marker).await;
}

/// Reads a watch of `seq 1 100000` to its end: (lines, dropped, seconds).
async fn read_burst(limits: Limits) -> (u64, u64, f64) {
    let sshd = testkit::Sshd::start().await.unwrap();
    let (feed, mut rx) = follow::channel(&limits);
    let t = target(&sshd);
    let task = tokio::spawn(async move { follow::follow(&t, "seq 1 100000", limits, feed).await });
    let started = std::time::Instant::now();
    let (mut lines, mut dropped, mut next) = (0u64, 0u64, 1u64);
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
            Ok(Some(LogEvent::Lines(batch))) => {
                for l in batch {
                    // In order, each the host's own line (a gap is dropped lines).
                    assert!(l.seq >= next, "seq {} after {}", l.seq, next - 1);
                    assert_eq!(l.text, l.seq.to_string());
                    next = l.seq + 1;
                    lines += 1;
                }
            }
            Ok(Some(LogEvent::Dropped(n))) => dropped += n,
            Ok(Some(LogEvent::Ended(why))) => {
                assert_eq!(why, "the log command ended");
                break;
            }
            other => panic!("after {lines} lines and {dropped} dropped: {other:?}"),
        }
    }
    let summary = task.await.unwrap();
    assert_eq!((summary.lines, summary.dropped), (lines, dropped));
    assert_eq!(lines + dropped, 100_000);
    (lines, dropped, started.elapsed().as_secs_f64())
}

#[tokio::test]
async fn a_burst_to_a_reader_that_keeps_reading_loses_nothing() {
    // A queue far smaller than the burst: the host is held back while the reader catches up
    // (SSH's flow control), rather than lines dropped.
    let (lines, dropped, _) = read_burst(Limits {
        lines_per_sec: 10_000_000,
        queue: 256,
        ..Limits::default()
    })
    .await;
    assert_eq!((lines, dropped), (100_000, 0));
}

#[tokio::test]
async fn lines_over_the_rate_are_dropped_and_counted() {
    let (lines, dropped, secs) = read_burst(Limits {
        lines_per_sec: 5_000,
        ..Limits::default()
    })
    .await;
    // Each second (the first one, and each one begun) forwards at most the rate.
    assert!(
        lines as f64 <= 5_000.0 * (secs.ceil() + 1.0),
        "{lines} lines in {secs:.1} s"
    );
    assert!(lines >= 5_000, "{lines}");
    assert!(dropped >= 100_000 - lines, "{dropped}");
}

#[tokio::test]
async fn a_host_that_cuts_the_connection_ends_the_watch_with_the_reason() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let (feed, watch) = follow::channel(&Limits::default());
    let mut rx = Reader::new(watch);
    let t = target(&sshd);
    let marker = marker_sleep(&sshd, "cut");
    let cmd = format!("echo up; {marker} 3600");
    let task = tokio::spawn(async move { follow::follow(&t, &cmd, Limits::default(), feed).await });
    assert_eq!(rx.next_line().await.text, "up");
    sshd.cut_connections();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.watch.recv()).await {
            Ok(Some(LogEvent::Ended(why))) => break why,
            Ok(Some(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(ended, "the host closed the connection");
    let summary = task.await.unwrap();
    assert_eq!(summary.why, ended);
    // Nothing is left on the host: the cut connection closed the watcher's input.
    until_gone(&marker).await;
}

#[tokio::test]
async fn a_host_that_cannot_be_reached_says_so() {
    let mut sshd = testkit::Sshd::start().await.unwrap();
    let t = target(&sshd);
    sshd.stop();
    let (feed, mut rx) = follow::channel(&Limits::default());
    follow::follow(&t, "true", Limits::default(), feed).await;
    match rx.recv().await {
        Some(LogEvent::Ended(why)) => assert!(why.contains("cannot connect"), "{why}"),
        other => panic!("{other:?}"),
    }
}

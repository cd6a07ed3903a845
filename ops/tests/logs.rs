//! Host logs over a real OpenSSH server on loopback (`testkit::Sshd`): lines as they are
//! written, a burst bounded by the limits with every dropped line counted, the remote process
//! gone when the reader goes, and a host that cuts the connection.

use std::time::Duration;

use ops::actions::ssh::{self, SshOptions, SshTarget};
use ops::logs::{follow, Limits, LogEvent};
use tokio::sync::mpsc;

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

async fn next_line(rx: &mut mpsc::Receiver<LogEvent>) -> ops::logs::LogLine {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(LogEvent::Line(l))) => l,
        Ok(Some(LogEvent::Dropped(n))) => panic!("{n} lines dropped"),
        Ok(Some(LogEvent::Ended(why))) => panic!("ended: {why}"),
        Ok(None) => panic!("the channel closed"),
        Err(_) => panic!("no line within 10 s"),
    }
}

/// Whether a process whose command line contains `marker` runs on this (the remote) host.
fn running(marker: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
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
    let (tx, mut rx) = mpsc::channel(64);
    let t = target(&sshd);
    let sleeper = marker_sleep(&sshd, "closed");
    // A pipeline whose end stays (it never writes, so it never learns that its output closed).
    let cmd = format!("tail -n 2 -f {marker} & {sleeper} 3600");
    let task = tokio::spawn(async move { follow::follow(&t, &cmd, Limits::default(), tx).await });
    let first = next_line(&mut rx).await;
    assert_eq!(first.text, "old 2");
    let second = next_line(&mut rx).await;
    assert_eq!(second.service.as_deref(), Some("builder-api"));
    // A line written now arrives, with its level.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"builder-api.default(E): ERROR new\n"))
        .unwrap();
    let new = next_line(&mut rx).await;
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
async fn a_burst_is_bounded_and_every_dropped_line_is_counted() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let marker = sshd
        .dir
        .join(format!("burst-{}", std::process::id()))
        .display()
        .to_string();
    std::fs::write(&marker, "").unwrap();
    let (tx, mut rx) = mpsc::channel(256);
    let limits = Limits {
        lines_per_sec: 5_000,
        queue: 256,
        ..Limits::default()
    };
    let t = target(&sshd);
    // The burst, then a process that stays (its command line names the marker).
    let cmd = format!("seq 1 100000; {marker} 3600");
    let task = tokio::spawn(async move { follow::follow(&t, &cmd, limits, tx).await });
    let (mut lines, mut dropped, mut last_seq) = (0u64, 0u64, 0u64);
    let mut drops = Vec::new();
    // A slow reader: it sleeps while the host writes 100,000 lines.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Every line the host wrote is either forwarded or counted as dropped (the host may add a
    // line of its own, so the stream's own count of lines read is the reference).
    while lines + dropped < 100_000 {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(LogEvent::Line(l))) => {
                assert!(
                    l.text.parse::<u64>().is_ok(),
                    "not a line of the burst: {:?}",
                    l.text
                );
                assert!(l.seq > last_seq);
                last_seq = l.seq;
                lines += 1;
            }
            Ok(Some(LogEvent::Dropped(n))) => {
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

#[tokio::test]
async fn a_host_that_cuts_the_connection_ends_the_watch_with_the_reason() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let t = target(&sshd);
    let marker = marker_sleep(&sshd, "cut");
    let cmd = format!("echo up; {marker} 3600");
    let task = tokio::spawn(async move { follow::follow(&t, &cmd, Limits::default(), tx).await });
    assert_eq!(next_line(&mut rx).await.text, "up");
    sshd.cut_connections();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
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
    let (tx, mut rx) = mpsc::channel(8);
    follow::follow(&t, "true", Limits::default(), tx).await;
    match rx.recv().await {
        Some(LogEvent::Ended(why)) => assert!(why.contains("cannot connect"), "{why}"),
        other => panic!("{other:?}"),
    }
}

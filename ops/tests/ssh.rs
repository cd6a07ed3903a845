//! The SSH executor against a real OpenSSH server on loopback (`testkit::Sshd`): output streamed
//! and exit statuses, and every way a connection or a command goes wrong.

use std::time::Duration;

use ops::change::Sink;
use ops::exec::ssh::{self, SshError, SshOptions, SshTarget};

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

#[tokio::test]
async fn a_command_streams_its_output_and_reports_its_exit_status() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let sink = Sink::standalone(16 * 1024);
    let exited = ssh::run(
        &target(&sshd),
        "echo one; echo two >&2; printf 'no newline'; exit 3",
        &sink,
    )
    .await
    .unwrap();
    assert_eq!(exited.status, Some(3));
    assert!(!exited.success());
    let lines = sink.lines();
    assert!(lines.contains(&"one".to_owned()), "{lines:?}");
    assert!(lines.contains(&"stderr: two".to_owned()), "{lines:?}");
    assert!(lines.contains(&"no newline".to_owned()), "{lines:?}");
    let ok = ssh::run(&target(&sshd), "true", &Sink::standalone(1024))
        .await
        .unwrap();
    assert!(ok.success());
    // A signal instead of a status.
    let killed = ssh::run(&target(&sshd), "kill -TERM $$", &Sink::standalone(1024))
        .await
        .unwrap();
    assert_eq!(killed.status, None);
    assert_eq!(killed.signal.as_deref(), Some("TERM"), "{killed:?}");
}

#[tokio::test]
async fn an_unknown_host_key_is_refused_with_its_fingerprint() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut t = target(&sshd);
    let empty = sshd.dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    t.options.known_hosts_file = empty;
    let err = ssh::run(&t, "true", &Sink::standalone(1024))
        .await
        .unwrap_err();
    let SshError::UnknownHostKey { fingerprint, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
    assert!(err.to_string().contains("not in the known_hosts file"));
}

#[tokio::test]
async fn a_changed_host_key_is_refused_and_names_the_line() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut t = target(&sshd);
    // Another ed25519 key recorded for this host: the one it offers has changed.
    let other = sshd.dir.join("other");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    let pubkey = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let changed = sshd.dir.join("changed_known_hosts");
    let line = pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(&changed, format!("[127.0.0.1]:{} {line}\n", sshd.port)).unwrap();
    t.options.known_hosts_file = changed;
    let err = ssh::run(&t, "true", &Sink::standalone(1024))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SshError::ChangedHostKey { line: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("CHANGED"));
}

#[tokio::test]
async fn a_host_whose_sshd_is_down_says_so() {
    let mut sshd = testkit::Sshd::start().await.unwrap();
    sshd.stop();
    let err = ssh::run(&target(&sshd), "true", &Sink::standalone(1024))
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test]
async fn a_refused_key_says_whose() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut t = target(&sshd);
    let stranger = sshd.dir.join("stranger");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    t.key = ssh::load_key(&stranger).unwrap();
    let err = ssh::run(&t, "true", &Sink::standalone(1024))
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::AuthRefused { .. }), "{err:?}");
}

#[tokio::test]
async fn a_hung_command_times_out_and_its_process_goes() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let mut t = target(&sshd);
    t.options.command_timeout = Duration::from_secs(1);
    let marker = format!("sleep 60.{}", sshd.port);
    let started = std::time::Instant::now();
    let err = ssh::run(&t, &marker, &Sink::standalone(1024))
        .await
        .unwrap_err();
    assert_eq!(err, SshError::CommandTimeout { secs: 1 });
    assert!(started.elapsed() < Duration::from_secs(10));
    // The session was closed: sshd ends the command (no process left on the host).
    let mut gone = false;
    for _ in 0..50 {
        let out = std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        if !out.status.success() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the remote `sleep` is still running");
}

#[tokio::test]
async fn a_megabyte_of_output_is_kept_bounded() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let sink = Sink::standalone(8 * 1024);
    let exited = ssh::run(
        &target(&sshd),
        "head -c 1000000 /dev/zero | tr '\\0' x | fold -w 99; exit 1",
        &sink,
    )
    .await
    .unwrap();
    assert_eq!(exited.status, Some(1));
    let lines = sink.lines();
    let kept: usize = lines.iter().map(|l| l.len() + 1).sum();
    assert!(kept <= 8 * 1024 + 64, "{kept} bytes kept");
    assert!(lines.iter().any(|l| l.contains("lines left out")));
}

//! The datastore's stale lock files over a real OpenSSH server on loopback (`testkit::Sshd`):
//! the files the datastore's log names, looked at on the host (size, owner, age, what holds
//! them), and a removal that takes exactly the files asked for and refuses a path outside the
//! service directory, a symlink, a path with `..`, a file held open and a `postmaster.pid` whose
//! postmaster runs — removing nothing at all when any file is refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ops::actions::output::Sink;
use ops::actions::ssh::{self, SshOptions, SshTarget};
use ops::locks::{self, LockOptions};

fn target(sshd: &testkit::Sshd) -> SshTarget {
    let mut options = SshOptions {
        user: sshd.user.clone(),
        port: sshd.port,
        key_file: sshd.key_file.clone(),
        known_hosts_file: sshd.known_hosts_file.clone(),
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(20),
        ..SshOptions::default()
    };
    // The test's sshd runs as whoever runs the tests: no sudo.
    options.commands.run_script = "sh -c {script}".into();
    SshTarget {
        address: "127.0.0.1".into(),
        options,
        key: ssh::load_key(&sshd.key_file).unwrap(),
    }
}

/// A process that holds `file` open (fd 3) until killed; its name is `name` (a copy of sleep).
struct Holder(Child);

impl Holder {
    fn start(dir: &Path, name: &str, file: Option<&Path>) -> Holder {
        let bin = dir.join(name);
        if !bin.exists() {
            std::fs::copy("/bin/sleep", &bin).unwrap();
        }
        let mut cmd = Command::new("sh");
        match file {
            Some(f) => cmd.args([
                "-c",
                &format!("exec {} 600 3<'{}'", bin.display(), f.display()),
            ]),
            None => cmd.args(["-c", &format!("exec {} 600", bin.display())]),
        };
        Holder(cmd.stdin(Stdio::null()).spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Host {
    options: LockOptions,
    data: PathBuf,
    log: PathBuf,
    log_command: String,
}

/// A datastore service directory under the sshd's, a log that the test writes, and the log
/// command pointed at it (it ignores journalctl's arguments).
fn host(sshd: &testkit::Sshd, name: &str) -> Host {
    let service_dir = sshd.dir.join(name).join("svc/builder-datastore");
    let data = service_dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = sshd.dir.join(format!("{name}.log"));
    std::fs::write(&log, "").unwrap();
    let script = sshd.dir.join(format!("{name}-journalctl"));
    std::fs::write(&script, format!("#!/bin/sh\ncat '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Host {
        options: LockOptions {
            service_dir: service_dir.display().to_string(),
            log_lines: 500,
        },
        data,
        log,
        log_command: format!("{} {{args}}", script.display()),
    }
}

fn log_names(h: &Host, lines: &[String]) {
    let text: String = lines
        .iter()
        .map(|l| {
            format!("2026-12-01T03:12:09+0000 ds-1 hab[812]: builder-datastore.live(O): {l}\n")
        })
        .collect();
    std::fs::write(&h.log, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_lock_files_are_looked_at_and_only_plain_unheld_ones_may_go() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let t = target(&sshd);
    let h = host(&sshd, "look");
    let pid_file = h.data.join("postmaster.pid");
    std::fs::write(&pid_file, "4194301\n/hab/svc/builder-datastore/data\n").unwrap();
    let held = h.data.join("held.lock");
    std::fs::write(&held, "x").unwrap();
    let holder = Holder::start(&sshd.dir, "holder", Some(&held));
    let real = h.data.join("real.lock");
    std::fs::write(&real, "y").unwrap();
    let sym = h.data.join("sym.lock");
    std::os::unix::fs::symlink(&real, &sym).unwrap();
    let outside = sshd.dir.join("outside.lock");
    std::fs::write(&outside, "z").unwrap();
    log_names(
        &h,
        &[
            "FATAL:  lock file \"postmaster.pid\" already exists".into(),
            format!(
                "HINT:  Is another postmaster (PID 4194301) running in data directory \"{}\"?",
                h.data.display()
            ),
            format!(
                "FATAL:  could not create lock file \"{}\": File exists",
                held.display()
            ),
            format!("FATAL:  lock file \"{}\" already exists", sym.display()),
            format!("FATAL:  lock file \"{}\" already exists", outside.display()),
            format!(
                "FATAL:  lock file \"{}/../data/postmaster.pid\" already exists",
                h.data.display()
            ),
            format!(
                "FATAL:  lock file \"{}\" already exists",
                h.data.join("gone.lock").display()
            ),
        ],
    );
    // Wait until the holder has the file open (its fd is visible).
    for _ in 0..100 {
        if std::fs::read_link(format!("/proc/{}/fd/3", holder.pid())).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let files = locks::inspect(&t, &h.options, &h.log_command)
        .await
        .unwrap();
    let by = |p: &Path| {
        files
            .iter()
            .find(|f| f.path == p.display().to_string())
            .unwrap_or_else(|| panic!("{} not named: {files:?}", p.display()))
    };
    let f = by(&pid_file);
    assert_eq!(f.kind, "file");
    assert_eq!(f.refusal, None, "{f:?}");
    assert_eq!(f.size, Some(std::fs::metadata(&pid_file).unwrap().len()));
    assert_eq!(f.owner.as_deref(), Some(sshd.user.as_str()));
    assert!(locks::age(f).unwrap() < Duration::from_secs(60));
    assert!(f.line.contains("already exists"));
    let f = by(&held);
    assert_eq!(
        f.held_by.as_deref(),
        Some(format!("holder {}", holder.pid()).as_str()),
        "{f:?}"
    );
    assert!(
        f.refusal.as_deref().unwrap().starts_with("held by holder"),
        "{f:?}"
    );
    assert!(by(&sym).refusal.as_deref().unwrap().contains("symlink"));
    assert!(by(&outside)
        .refusal
        .as_deref()
        .unwrap()
        .contains("outside the datastore's service directory"));
    let dotdot = format!("{}/../data/postmaster.pid", h.data.display());
    let f = files.iter().find(|f| f.path == dotdot).unwrap();
    assert!(f.refusal.as_deref().unwrap().contains("`..`"), "{f:?}");
    assert!(by(&h.data.join("gone.lock"))
        .refusal
        .as_deref()
        .unwrap()
        .contains("gone"));
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_takes_exactly_the_files_asked_or_none() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let t = target(&sshd);
    let h = host(&sshd, "rm");
    let pid_file = h.data.join("postmaster.pid");
    let other = h.data.join("other.pid");
    let held = h.data.join("held.lock");
    let real = h.data.join("real.lock");
    let sym = h.data.join("sym.lock");
    for f in [&pid_file, &other, &held, &real] {
        std::fs::write(f, "4194301\n").unwrap();
    }
    std::os::unix::fs::symlink(&real, &sym).unwrap();
    let _holder = Holder::start(&sshd.dir, "holder", Some(&held));
    for _ in 0..100 {
        if std::fs::read_link(format!("/proc/{}/fd/3", _holder.pid())).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = |p: &Path| p.display().to_string();
    let sink = Sink::standalone(1 << 16);

    // Refused before anything reaches the host.
    let outside = sshd.dir.join("outside.lock");
    std::fs::write(&outside, "z").unwrap();
    for (paths, why) in [
        (
            vec![s(&outside)],
            "outside the datastore's service directory",
        ),
        (
            vec![format!("{}/../data/postmaster.pid", h.data.display())],
            "`..`",
        ),
        (vec![format!("{}/*.pid", h.data.display())], "no globbing"),
    ] {
        let e = locks::remove(&t, &h.options, &paths, &sink)
            .await
            .unwrap_err();
        assert!(e.contains(why), "{paths:?}: {e}");
    }
    assert!(outside.exists());

    // Refused on the host: a file held open, a symlink. With either in the list, nothing goes.
    for bad in [&held, &sym] {
        let e = locks::remove(&t, &h.options, &[s(&pid_file), s(bad)], &sink)
            .await
            .unwrap_err();
        assert!(e.contains("nothing was removed"), "{e}");
        assert!(pid_file.exists(), "a refused removal removed another file");
        assert!(bad.exists() || bad.symlink_metadata().is_ok());
    }
    assert!(real.exists(), "the symlink's target was touched");
    let out = sink.lines().join("\n");
    assert!(
        out.contains(&format!("refused: {} is held by holder", s(&held))),
        "{out}"
    );
    assert!(
        out.contains(&format!("refused: {} is symlink", s(&sym))),
        "{out}"
    );

    // A postmaster.pid whose postmaster runs (a process named postgres with that pid).
    let postgres = Holder::start(&sshd.dir, "postgres", None);
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", postgres.pid(), h.data.display()),
    )
    .unwrap();
    let sink = Sink::standalone(1 << 16);
    let e = locks::remove(&t, &h.options, &[s(&pid_file)], &sink)
        .await
        .unwrap_err();
    assert!(e.contains("nothing was removed"), "{e}");
    assert!(sink
        .lines()
        .join("\n")
        .contains("the postmaster it names is running"));
    drop(postgres);

    // The stale one goes, and only it.
    let sink = Sink::standalone(1 << 16);
    locks::remove(&t, &h.options, &[s(&pid_file)], &sink)
        .await
        .unwrap();
    assert!(!pid_file.exists());
    assert!(other.exists() && held.exists() && real.exists() && sym.symlink_metadata().is_ok());
    assert!(sink
        .lines()
        .join("\n")
        .contains(&format!("removed {}", s(&pid_file))));
}

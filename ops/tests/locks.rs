//! The datastore's stale lock files over a real OpenSSH server on loopback (`testkit::Sshd`):
//! the files the datastore's log names, looked at on the host (size, owner, age, what holds
//! them), and a removal that takes exactly the files asked for and refuses a path outside the
//! service directory, a symlink, a path with `..`, a file held open and a `postmaster.pid` whose
//! postmaster runs — removing nothing at all when any file is refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ops::change::Sink;
use ops::exec::ssh::{self, SshOptions, SshTarget};
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
    /// Socket directories postgres may use (two, so one test can name several lock files).
    sockets: [PathBuf; 2],
    log: PathBuf,
    log_command: String,
}

/// A datastore service directory under the sshd's, a log that the test writes, and the log
/// command pointed at it (it ignores journalctl's arguments).
fn host(sshd: &testkit::Sshd, name: &str) -> Host {
    let service_dir = sshd.dir.join(name).join("svc/builder-datastore");
    let data = service_dir.join("data");
    let sockets = [service_dir.join("var"), sshd.dir.join(name).join("run")];
    for d in [&data, &sockets[0], &sockets[1]] {
        std::fs::create_dir_all(d).unwrap();
    }
    let log = sshd.dir.join(format!("{name}.log"));
    std::fs::write(&log, "").unwrap();
    let script = sshd.dir.join(format!("{name}-journalctl"));
    std::fs::write(&script, format!("#!/bin/sh\ncat '{}'\n", log.display())).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Host {
        options: LockOptions {
            service_dir: service_dir.display().to_string(),
            socket_dirs: Some(sockets.iter().map(|d| d.display().to_string()).collect()),
            // Whoever runs the tests owns the test's directories (root in CI).
            owners: vec!["root".into(), sshd.user.clone()],
            log_lines: 500,
            ..LockOptions::default()
        },
        data,
        sockets,
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

fn held_open(holder: &Holder) {
    // Wait until the holder has the file open (its fd is visible).
    for _ in 0..100 {
        if std::fs::read_link(format!("/proc/{}/fd/3", holder.pid())).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the holder never opened its file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_lock_files_are_looked_at_and_only_plain_unheld_ones_may_go() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let t = target(&sshd);
    let h = host(&sshd, "look");
    let pid_file = h.data.join("postmaster.pid");
    std::fs::write(&pid_file, "4194301\n/hab/svc/builder-datastore/data\n").unwrap();
    let held = h.sockets[0].join(".s.PGSQL.5432.lock");
    std::fs::write(&held, "4194301\n").unwrap();
    let holder = Holder::start(&sshd.dir, "holder", Some(&held));
    // A symlink where a lock file should be, pointing at a real file.
    let real = sshd.dir.join("real-file");
    std::fs::write(&real, "y").unwrap();
    let sym = h.sockets[0].join(".s.PGSQL.5433.lock");
    std::os::unix::fs::symlink(&real, &sym).unwrap();
    // A socket directory that is itself a symlink to a real directory: the place is not safe.
    let elsewhere = sshd.dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::remove_dir(&h.sockets[1]).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &h.sockets[1]).unwrap();
    std::fs::write(elsewhere.join(".s.PGSQL.5434.lock"), "1\n").unwrap();
    let via_link = h.sockets[1].join(".s.PGSQL.5434.lock");
    let outside = sshd.dir.join("outside.lock");
    std::fs::write(&outside, "z").unwrap();
    let pg_control = h.data.join("global/pg_control");
    std::fs::create_dir_all(pg_control.parent().unwrap()).unwrap();
    std::fs::write(&pg_control, "the cluster's control file").unwrap();
    log_names(
        &h,
        &[
            "FATAL:  lock file \"postmaster.pid\" already exists".into(),
            format!(
                "HINT:  Is another postmaster (PID 4194301) running in data directory \"{}\"?",
                sshd.dir.display()
            ),
            format!(
                "FATAL:  could not create lock file \"{}\": File exists",
                held.display()
            ),
            format!(
                "FATAL:  could not create lock file \"{}\": File exists",
                sym.display()
            ),
            format!(
                "FATAL:  could not create lock file \"{}\": File exists",
                via_link.display()
            ),
            format!("FATAL:  lock file \"{}\" already exists", outside.display()),
            format!(
                "FATAL:  lock file \"{}/../data/postmaster.pid\" already exists",
                h.data.display()
            ),
            format!(
                "FATAL:  could not create lock file \"{}\": File exists",
                h.sockets[0].join(".s.PGSQL.6000.lock").display()
            ),
            // What anyone who can reach port 5432 can write: a failed login's user name.
            format!(
                "FATAL:  password authentication failed for user \"lock file \"{}\"",
                pg_control.display()
            ),
        ],
    );
    held_open(&holder);
    let files = locks::inspect(&t, &h.options, &h.log_command)
        .await
        .unwrap();
    let by = |p: &Path| {
        files
            .iter()
            .find(|f| f.path == p.display().to_string())
            .unwrap_or_else(|| panic!("{} not named: {files:?}", p.display()))
    };
    assert!(
        files
            .iter()
            .all(|f| f.path != pg_control.display().to_string()),
        "a user name in the log named the cluster's control file: {files:?}"
    );
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
    let f = by(&via_link);
    assert!(
        f.refusal.as_deref().unwrap().contains("is a symlink"),
        "{f:?}"
    );
    assert!(by(&outside)
        .refusal
        .as_deref()
        .unwrap()
        .contains("not a lock file postgres uses"));
    let dotdot = format!("{}/../data/postmaster.pid", h.data.display());
    let f = files.iter().find(|f| f.path == dotdot).unwrap();
    assert!(f.refusal.as_deref().unwrap().contains("`..`"), "{f:?}");
    assert!(by(&h.sockets[0].join(".s.PGSQL.6000.lock"))
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
    let other = h.data.join("PG_VERSION");
    let held = h.sockets[0].join(".s.PGSQL.5432.lock");
    let real = sshd.dir.join("real.lock");
    let sym = h.sockets[0].join(".s.PGSQL.5433.lock");
    for f in [&pid_file, &other, &held, &real] {
        std::fs::write(f, "4194301\n").unwrap();
    }
    std::os::unix::fs::symlink(&real, &sym).unwrap();
    let _holder = Holder::start(&sshd.dir, "holder", Some(&held));
    held_open(&_holder);
    let s = |p: &Path| p.display().to_string();
    let sink = Sink::standalone(1 << 16);

    // Refused before anything reaches the host.
    let outside = sshd.dir.join("outside.lock");
    std::fs::write(&outside, "z").unwrap();
    for (paths, why) in [
        (vec![s(&outside)], "not a lock file postgres uses"),
        (vec![s(&other)], "not a lock file postgres uses"),
        (
            vec![format!("{}/../data/postmaster.pid", h.data.display())],
            "`..`",
        ),
        (vec![format!("{}/*.pid", h.data.display())], "no globbing"),
    ] {
        let e = locks::remove(&t, &h.options, &paths, &sink)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{paths:?}: {e}");
    }
    assert!(outside.exists() && other.exists());

    // Refused on the host: a file held open, a symlink. With either in the list, nothing goes.
    for bad in [&held, &sym] {
        let e = locks::remove(&t, &h.options, &[s(&pid_file), s(bad)], &sink)
            .await
            .unwrap_err()
            .to_string();
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
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing was removed"), "{e}");
    assert!(sink
        .lines()
        .join("\n")
        .contains("the postmaster it names is running"));
    drop(postgres);

    // A lock file of an owner Onwatch was not told about: not the datastore's.
    let strict = LockOptions {
        owners: vec!["hab".into()],
        ..h.options.clone()
    };
    if sshd.user != "hab" {
        let sink = Sink::standalone(1 << 16);
        let e = locks::remove(&t, &strict, &[s(&pid_file)], &sink)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("nothing was removed"), "{e}");
        assert!(pid_file.exists());
    }

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

/// The data directory replaced by a symlink to another directory that has its own
/// `postmaster.pid`, over and over while removals run: whenever `rm` runs, it runs in the
/// directory that was checked, so the other directory's file is never removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_swapped_for_a_symlink_cannot_redirect_the_removal() {
    let sshd = testkit::Sshd::start().await.unwrap();
    let t = target(&sshd);
    let h = host(&sshd, "swap");
    let victim_dir = sshd.dir.join("victim");
    std::fs::create_dir_all(&victim_dir).unwrap();
    let victim = victim_dir.join("postmaster.pid");
    let parked = sshd.dir.join("swap-parked");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (data, victim_dir, parked, stop) = (
            h.data.clone(),
            victim_dir.clone(),
            parked.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // data → parked, a symlink data → victim, then back.
                if std::fs::rename(&data, &parked).is_ok() {
                    let _ = std::os::unix::fs::symlink(&victim_dir, &data);
                    std::thread::sleep(Duration::from_micros(300));
                    let _ = std::fs::remove_file(&data);
                    let _ = std::fs::rename(&parked, &data);
                    swaps += 1;
                }
                std::thread::sleep(Duration::from_micros(300));
            }
            swaps
        })
    };
    let mut removed = 0;
    for _ in 0..12 {
        std::fs::write(&victim, "4194301\n").unwrap();
        // The real data directory's own stale file (written wherever data is now real).
        let _ = std::fs::write(parked.join("postmaster.pid"), "4194301\n");
        let _ = std::fs::write(h.data.join("postmaster.pid"), "4194301\n");
        let sink = Sink::standalone(1 << 16);
        let path = h.data.join("postmaster.pid").display().to_string();
        if locks::remove(&t, &h.options, &[path], &sink).await.is_ok() {
            removed += 1;
        }
        assert!(
            victim.exists(),
            "the removal followed a symlink into another directory: {}",
            sink.lines().join("\n")
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 0, "the directory was never swapped");
    eprintln!(
        "{removed} of 12 removals went through while the directory was swapped {swaps} times"
    );
}

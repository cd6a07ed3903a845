//! The datastore's stale lock files. The runbook: "sometimes stopping this service does not
//! clean up well and you may need to clean up some lock files before starting. If that is the
//! case, error messages should state which lock files are causing issues."
//!
//! So Onwatch reads the lock files that the datastore's own log names (its Supervisor's log over
//! SSH), shows each with its size, owner and age and whether anything holds it, and offers a
//! guarded action ([`crate::actions::ActionKind::RemoveLockFiles`]) that removes exactly those
//! files and nothing else, then starts the service. Every path is checked twice: here, purely
//! (absolute, inside the service directory, no `..`, no glob or shell character), and on the
//! host in the same script that removes it (a regular file, not a symlink nor under one, held
//! open by no process, and for `postmaster.pid` not naming a live postgres). If any file fails,
//! none is removed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::actions::output::Sink;
use crate::actions::ssh::{self, SshTarget};

/// The `[datastore_locks]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockOptions {
    /// The datastore's service directory: no file outside it is ever removed.
    pub service_dir: String,
    /// How many of the newest lines of the Supervisor's log are read for lock-file errors.
    pub log_lines: u32,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            service_dir: "/hab/svc/builder-datastore".into(),
            log_lines: 2000,
        }
    }
}

impl LockOptions {
    /// Where postgres keeps its data (and `postmaster.pid`) under Habitat.
    pub fn data_dir(&self) -> String {
        format!("{}/data", self.service_dir.trim_end_matches('/'))
    }
}

/// The datastore's package name: its service group's service.
pub const DATASTORE: &str = "builder-datastore";

/// At most this many files in one removal.
pub const MAX_FILES: usize = 16;

/// A lock file the log names, and the line that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub path: String,
    pub line: String,
}

/// The lock files that the datastore's lines of a Supervisor log name, in the order first
/// named. Postgres says `lock file "postmaster.pid" already exists` (relative to its data
/// directory, which its HINT names) or `could not create lock file "/tmp/.s.PGSQL.5432.lock"`.
pub fn named_in_log(lines: &[String], options: &LockOptions) -> Vec<Named> {
    let mut data_dir = options.data_dir();
    // The HINT names the data directory in use; read it first, wherever it is.
    for l in lines.iter().filter(|l| l.contains(DATASTORE)) {
        if let Some(d) = quoted_after(l, "data directory \"") {
            data_dir = d.trim_end_matches('/').to_owned();
        }
    }
    let mut out: Vec<Named> = Vec::new();
    for l in lines.iter().filter(|l| l.contains(DATASTORE)) {
        let Some(p) = quoted_after(l, "lock file \"") else {
            continue;
        };
        let path = if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("{data_dir}/{p}")
        };
        if !out.iter().any(|n| n.path == path) {
            out.push(Named {
                path,
                line: l.clone(),
            });
        }
    }
    out
}

fn quoted_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let rest = &line[start..];
    Some(&rest[..rest.find('"')?])
}

/// Whether Onwatch may touch `path` at all: absolute, plain characters (no glob, space or quote:
/// a path reaches a remote shell), no `.` or `..` component, strictly inside the service
/// directory. `Err` says why not.
pub fn check_path(path: &str, options: &LockOptions) -> Result<(), String> {
    let dir = options.service_dir.trim_end_matches('/');
    if !path.starts_with('/') {
        return Err(format!("`{path}` is not an absolute path"));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '+' | ':')))
    {
        return Err(format!(
            "`{path}` has the character {c:?}, which Onwatch never passes to a remote shell (no globbing)"
        ));
    }
    if path
        .split('/')
        .skip(1)
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "`{path}` has an empty, `.` or `..` component: only plain paths are removed"
        ));
    }
    if !path.starts_with(&format!("{dir}/")) {
        return Err(format!(
            "`{path}` is outside the datastore's service directory {dir}: remove it by hand if you must, and say so"
        ));
    }
    Ok(())
}

/// A lock file as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    pub path: String,
    /// The log line that named it.
    pub line: String,
    /// file, symlink, missing, moved (a symlink on the way), other (a directory, a socket…)
    pub kind: String,
    pub size: Option<u64>,
    pub owner: Option<String>,
    /// Last modified (epoch s, the host's clock).
    pub mtime: Option<i64>,
    /// The host's clock when it was looked at (epoch s), for the age.
    pub now: Option<i64>,
    /// A process that holds it (`postgres 4711`), or the live postgres `postmaster.pid` names.
    pub held_by: Option<String>,
    /// Why Onwatch will not remove it; `None`: removable.
    pub refusal: Option<String>,
}

/// One file as the host reported it: path, kind, size, owner, mtime, now, what holds it.
type Report = (
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// What the host's checks of one file found: the script below prints one line per file:
/// `F<TAB>path<TAB>kind<TAB>size<TAB>owner<TAB>mtime<TAB>now<TAB>held`.
fn parse_report(out: &[String]) -> Vec<Report> {
    out.iter()
        .filter_map(|l| l.strip_prefix("F\t"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 7).then(|| {
                let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].parse().ok(),
                    opt(f[3]),
                    f[4].parse().ok(),
                    f[5].parse().ok(),
                    opt(f[6]),
                )
            })
        })
        .collect()
}

/// The shell functions both scripts use. POSIX sh; every path was checked by [`check_path`]
/// before it is single-quoted in.
const CHECKS: &str = r#"
held() {
  for fd in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "$1" ] || continue
    p=${fd#/proc/}; p=${p%%/*}
    echo "$(cat /proc/$p/comm 2>/dev/null) $p"; return 0
  done
  case "$1" in */postmaster.pid)
    p=$(head -n 1 "$1" 2>/dev/null | tr -cd 0-9)
    if [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = postgres ]; then echo "postgres $p (the postmaster it names is running)"; return 0; fi;;
  esac
  return 1
}
kind() {
  if [ -L "$1" ]; then echo symlink
  elif [ ! -e "$1" ]; then echo missing
  elif [ "$(readlink -f -- "$1")" != "$1" ]; then echo moved
  elif [ -f "$1" ]; then echo file
  else echo other; fi
}
report() {
  k=$(kind "$1"); h=$(held "$1" || true); s=; o=; m=
  if [ "$k" = file ]; then s=$(stat -c %s -- "$1"); o=$(stat -c %U -- "$1"); m=$(stat -c %Y -- "$1"); fi
  printf 'F\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$k" "$s" "$o" "$m" "$(date +%s)" "$h"
}
"#;

fn quote(path: &str) -> String {
    // check_path allows no quote: single quotes are enough.
    format!("'{path}'")
}

/// The inspection script: a report line per file.
fn inspect_script(paths: &[String]) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
    format!(
        "{CHECKS}\nfor f in {}; do report \"$f\"; done\n",
        list.join(" ")
    )
}

/// The removal script: every file checked again; if any is not a plain regular file held by
/// nothing, nothing is removed (exit 3); else each is removed by its exact name.
fn remove_script(paths: &[String]) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
    format!(
        r#"{CHECKS}
bad=0
for f in {files}; do
  report "$f"
  k=$(kind "$f")
  if [ "$k" != file ]; then echo "refused: $f is $k, not a regular file"; bad=1; fi
  if h=$(held "$f"); then echo "refused: $f is held by $h"; bad=1; fi
done
if [ $bad != 0 ]; then echo "nothing removed"; exit 3; fi
for f in {files}; do rm -f -- "$f" && echo "removed $f"; done
"#,
        files = list.join(" ")
    )
}

/// `run_script` with the script in it, single-quoted for the remote shell (`sudo sh -c {script}`).
fn script_command(template: &str, script: &str) -> String {
    let quoted = format!("'{}'", script.replace('\'', r#"'\''"#));
    template.replace("{script}", &quoted)
}

/// Reads the log for lock files it names, and looks at each on the host.
pub async fn inspect(
    ssh_target: &SshTarget,
    options: &LockOptions,
    log_command: &str,
) -> Result<Vec<LockFile>, String> {
    let sink = Sink::standalone(4 << 20);
    let args = format!("--no-pager -o short-iso -n {}", options.log_lines);
    let exited = ssh::run(ssh_target, &log_command.replace("{args}", &args), &sink)
        .await
        .map_err(|e| format!("the Supervisor's log could not be read: {e}"))?;
    if !exited.success() {
        return Err(format!(
            "reading the Supervisor's log ended with {}: {}",
            exited.describe(),
            sink.lines().last().cloned().unwrap_or_default()
        ));
    }
    let named = named_in_log(&sink.lines(), options);
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let mut files: Vec<LockFile> = named
        .iter()
        .map(|n| LockFile {
            path: n.path.clone(),
            line: n.line.clone(),
            kind: "unchecked".into(),
            size: None,
            owner: None,
            mtime: None,
            now: None,
            held_by: None,
            refusal: check_path(&n.path, options).err(),
        })
        .collect();
    let checkable: Vec<String> = files
        .iter()
        .filter(|f| f.refusal.is_none())
        .map(|f| f.path.clone())
        .collect();
    if checkable.is_empty() {
        return Ok(files);
    }
    let sink = Sink::standalone(1 << 20);
    let command = script_command(
        &ssh_target.options.commands.run_script,
        &inspect_script(&checkable),
    );
    let exited = ssh::run(ssh_target, &command, &sink)
        .await
        .map_err(|e| format!("the lock files could not be looked at: {e}"))?;
    let report = parse_report(&sink.lines());
    if !exited.success() || report.len() != checkable.len() {
        return Err(format!(
            "looking at the lock files ended with {}: {}",
            exited.describe(),
            sink.lines().join(" / ")
        ));
    }
    for (path, kind, size, owner, mtime, now, held) in report {
        if let Some(f) = files.iter_mut().find(|f| f.path == path) {
            f.refusal = match (kind.as_str(), &held) {
                (_, Some(h)) => Some(format!(
                    "held by {h}: the datastore (or something) still uses it"
                )),
                ("file", None) => None,
                ("missing", None) => Some("it is gone already".into()),
                ("symlink", None) => {
                    Some("it is a symlink: Onwatch removes only regular files".into())
                }
                ("moved", None) => Some(
                    "a symlink is on its way: Onwatch removes only files at their real path".into(),
                ),
                (k, None) => Some(format!("it is not a regular file ({k})")),
            };
            f.kind = kind;
            f.size = size;
            f.owner = owner;
            f.mtime = mtime;
            f.now = now;
            f.held_by = held;
        }
    }
    Ok(files)
}

/// Removes exactly `paths` on the host (each checked again there, all or none); its output goes
/// to `sink`. `Err` says what was refused or failed.
pub async fn remove(
    ssh_target: &SshTarget,
    options: &LockOptions,
    paths: &[String],
    sink: &Sink,
) -> Result<(), String> {
    for p in paths {
        check_path(p, options)?;
    }
    if paths.is_empty() || paths.len() > MAX_FILES {
        return Err(format!("1 to {MAX_FILES} files, not {}", paths.len()));
    }
    sink.line(format!(
        "→ checking and removing {} file(s) on the host",
        paths.len()
    ));
    let command = script_command(
        &ssh_target.options.commands.run_script,
        &remove_script(paths),
    );
    let exited = ssh::run(ssh_target, &command, sink)
        .await
        .map_err(|e| format!("the files were not removed: {e}"))?;
    if exited.status == Some(3) {
        return Err(
            "the host's checks refused a file (see the output): nothing was removed".into(),
        );
    }
    if !exited.success() {
        return Err(format!(
            "the removal ended with {} (see the output)",
            exited.describe()
        ));
    }
    Ok(())
}

/// How long a lock file has been there, for people.
pub fn age(f: &LockFile) -> Option<Duration> {
    Some(Duration::from_secs((f.now? - f.mtime?).max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LockOptions {
        LockOptions::default()
    }

    #[test]
    fn the_log_names_its_lock_files_relative_to_the_data_directory_it_hints() {
        let lines = [
            "2026-12-01T03:12:09+0000 ds-1 hab[812]: builder-datastore.live(O): FATAL:  lock file \"postmaster.pid\" already exists",
            "2026-12-01T03:12:09+0000 ds-1 hab[812]: builder-datastore.live(O): HINT:  Is another postmaster (PID 1187) running in data directory \"/hab/svc/builder-datastore/data\"?",
            "2026-12-01T03:12:10+0000 ds-1 hab[812]: builder-datastore.live(O): FATAL:  could not create lock file \"/tmp/.s.PGSQL.5432.lock\": File exists",
            "2026-12-01T03:12:11+0000 ds-1 hab[812]: builder-api.live(O): lock file \"/hab/svc/builder-api/x.lock\" (not the datastore's)",
            "2026-12-01T03:12:12+0000 ds-1 hab[812]: builder-datastore.live(O): FATAL:  lock file \"postmaster.pid\" already exists",
        ]
        .map(String::from);
        let named = named_in_log(&lines, &opts());
        let paths: Vec<&str> = named.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/hab/svc/builder-datastore/data/postmaster.pid",
                "/tmp/.s.PGSQL.5432.lock"
            ]
        );
        assert!(named[0].line.contains("already exists"));
    }

    #[test]
    fn only_plain_paths_inside_the_service_directory_pass() {
        let o = opts();
        assert!(check_path("/hab/svc/builder-datastore/data/postmaster.pid", &o).is_ok());
        for (bad, why) in [
            ("/tmp/.s.PGSQL.5432.lock", "outside"),
            (
                "/hab/svc/builder-datastore/data/../../../etc/passwd",
                "`..`",
            ),
            ("/hab/svc/builder-datastore/./data/postmaster.pid", "`.`"),
            ("/hab/svc/builder-datastore/data/*.pid", "no globbing"),
            ("/hab/svc/builder-datastore/data/a b", "no globbing"),
            (
                "/hab/svc/builder-datastore/data/x';rm -rf /;'",
                "no globbing",
            ),
            ("/hab/svc/builder-datastore", "outside"),
            (
                "/hab/svc/builder-datastore-evil/data/postmaster.pid",
                "outside",
            ),
            ("hab/svc/builder-datastore/data/postmaster.pid", "absolute"),
            ("/hab/svc/builder-datastore//data", "empty"),
        ] {
            let e = check_path(bad, &o).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_script_survives_the_remote_shells_quoting() {
        let c = script_command("sudo sh -c {script}", "echo 'a' \"b\"");
        assert_eq!(c, r#"sudo sh -c 'echo '\''a'\'' "b"'"#);
    }
}

/// One datastore host's lock files, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLocks {
    pub environment: String,
    pub host: String,
    pub service_group: String,
    pub files: Result<Vec<LockFile>, String>,
}

/// Every host of the fleet that runs the datastore, read at once (each over its own SSH).
pub async fn scan(
    actions: &crate::actions::Actions,
    snapshot: &crate::fleet::FleetSnapshot,
) -> Vec<HostLocks> {
    let hosts: Vec<(String, String, String)> = snapshot
        .environments
        .iter()
        .flat_map(|e| {
            e.hosts.iter().flat_map(move |h| {
                h.services
                    .iter()
                    .filter(|s| s.ident.name == DATASTORE)
                    .map(move |s| (e.name.clone(), h.host.name.clone(), s.service_group.clone()))
            })
        })
        .collect();
    let options = actions.lock_options().clone();
    let reads = hosts.into_iter().map(|(environment, host, service_group)| {
        let options = options.clone();
        async move {
            let files = match actions.ssh_target(&environment, &host) {
                Err(why) => Err(why),
                Ok(target) => {
                    match ssh::command_for(&target.options.commands.supervisor_log, &host) {
                        Err(why) => Err(why),
                        Ok(log) => inspect(&target, &options, &log).await,
                    }
                }
            };
            HostLocks {
                environment,
                host,
                service_group,
                files,
            }
        }
    });
    futures_util::future::join_all(reads).await
}

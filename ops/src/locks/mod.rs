//! The datastore's stale lock files. The runbook: "sometimes stopping this service does not
//! clean up well and you may need to clean up some lock files before starting. If that is the
//! case, error messages should state which lock files are causing issues."
//!
//! Onwatch removes files as root on a production host here, so what it may remove is decided by
//! a property of the file, never by what a log line says: only the two files postgres itself
//! uses as locks, `postmaster.pid` in the configured data directory and `.s.PGSQL.<port>.lock`
//! in a configured socket directory. A log line can be written by anyone who can make postgres
//! log (a failed login's user name is logged verbatim), so the log only says *which of those*
//! postgres complained about, and only postgres's own two messages, on the datastore service's
//! own lines, are read. On the host, in the same script that removes it, each file is checked
//! again: a regular file, owned by a configured owner, in a directory whose every component is
//! a real directory owned by a configured owner, held open by no process, and no live postgres
//! named inside it; the removal is made relative to the directory the script has entered (`cd
//! -P`, then its real path compared), so a directory swapped for a symlink after the check
//! cannot redirect `rm`. If any file fails, none is removed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::Event;
use crate::change::{ActionRequest, BoxFuture, Failed, Procedure, Ran, Refusal, Sink, Verdict};
use crate::exec::ssh::{self, SshTarget};
use crate::text::Unread;

pub mod options;
pub use options::LockOptions;

/// The datastore's package name: its service group's service.
pub const DATASTORE: &str = "builder-datastore";

/// At most this many files in one removal.
pub const MAX_FILES: usize = 16;

/// The lock file of a postgres data directory.
pub const POSTMASTER_PID: &str = "postmaster.pid";

/// A lock file the log names, and the line that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub path: String,
    pub line: String,
}

/// The lock files that postgres's own messages in the datastore's lines of a Supervisor log
/// name, in the order first named: `FATAL:  lock file "postmaster.pid" already exists`
/// (relative to the configured data directory) and `FATAL:  could not create lock file
/// "/…/.s.PGSQL.5432.lock": File exists`. A line is read only when it is the datastore
/// service's output (the Supervisor's `builder-datastore.GROUP(O): ` prefix right after the
/// journal's) and the message is exactly one of those two, from its severity to its end; the
/// path it names still has to pass [`check_path`] before anything is done with it.
pub fn named_in_log(lines: &[String], options: &LockOptions) -> Vec<Named> {
    let data_dir = options.data_dir();
    let mut out: Vec<Named> = Vec::new();
    for l in lines {
        let Some(p) = lock_file_message(l) else {
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

/// The path in postgres's lock-file error, when `line` is one: a journal line (`STAMP HOST
/// PROC: MESSAGE`) whose message is the datastore service's output (`builder-datastore.GROUP(O):
/// `), then optionally postgres's own line prefix (time, zone, `[pid]`: no quotes, no letters
/// but a zone's), then the message itself, whole.
fn lock_file_message(line: &str) -> Option<&str> {
    let mut parts = line.splitn(3, ' ');
    let (_stamp, _host, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let (_proc, message) = rest.split_once(": ")?;
    let message = message.strip_prefix(DATASTORE)?.strip_prefix('.')?;
    let (group, message) = message.split_once("(O): ")?;
    if group.is_empty()
        || !group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let at = message.find("FATAL:  ")?;
    let (prefix, message) = message.split_at(at);
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" :.-+[]".contains(&b))
    {
        return None;
    }
    let message = message.strip_prefix("FATAL:  ")?.trim_end();
    let path = if let Some(m) = message.strip_prefix("lock file \"") {
        m.strip_suffix("\" already exists")?
    } else {
        message
            .strip_prefix("could not create lock file \"")?
            .strip_suffix("\": File exists")?
    };
    (!path.is_empty() && !path.contains('"')).then_some(path)
}

/// `.s.PGSQL.<port>.lock`, the lock of a postgres unix socket.
fn is_socket_lock(name: &str) -> bool {
    name.strip_prefix(".s.PGSQL.")
        .and_then(|n| n.strip_suffix(".lock"))
        .is_some_and(|port| {
            !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
        })
}

/// Whether Onwatch may touch `path` at all: absolute, plain characters (no glob, space or quote:
/// a path reaches a remote shell), no `.` or `..` component, and one of the lock files postgres
/// uses: `postmaster.pid` directly in the configured data directory, or `.s.PGSQL.<port>.lock`
/// directly in a configured socket directory. Nothing else, whatever a log line says. `Err`
/// says why not.
pub fn check_path(path: &str, options: &LockOptions) -> Result<(), Refusal> {
    path_rule(path, options).map_err(|why| Refusal::new("paths", why))
}

fn path_rule(path: &str, options: &LockOptions) -> Result<(), String> {
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
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name == POSTMASTER_PID && dir == options.data_dir() {
        return Ok(());
    }
    if is_socket_lock(name) && options.socket_dirs().iter().any(|d| d == dir) {
        return Ok(());
    }
    Err(format!(
        "`{path}` is not a lock file postgres uses here: Onwatch removes only {}/{POSTMASTER_PID} and .s.PGSQL.<port>.lock in {} (the configured data and socket directories); remove anything else by hand if you must, and say so",
        options.data_dir(),
        options.socket_dirs().join(", ")
    ))
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

/// One file as the host reported it: path, kind, size, owner, mtime, now, what holds it, and
/// why its place is unsafe (empty when it is not).
type Report = (
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// What the host's checks of one file found: the script below prints one line per file:
/// `F<TAB>path<TAB>kind<TAB>size<TAB>owner<TAB>mtime<TAB>now<TAB>held<TAB>unsafe`.
fn parse_report(out: &[String]) -> Vec<Report> {
    out.iter()
        .filter_map(|l| l.strip_prefix("F\t"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 8).then(|| {
                let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
                (
                    f[0].to_owned(),
                    f[1].to_owned(),
                    f[2].parse().ok(),
                    opt(f[3]),
                    f[4].parse().ok(),
                    f[5].parse().ok(),
                    opt(f[6]),
                    opt(f[7]),
                )
            })
        })
        .collect()
}

/// The shell functions both scripts use. POSIX sh; every path was checked by [`check_path`]
/// before it is single-quoted in, and every owner name by [`check_owner`].
///
/// `place` walks the file's directory from `/`: each component must be a real directory (not a
/// symlink) owned by one of `$owners`, so nobody but those owners can rename or replace a
/// directory on the way. `held` looks for a process with the file open, and for the pid on the
/// file's first line (both `postmaster.pid` and a socket's `.lock` start with the postmaster's
/// pid) being a running postgres.
const CHECKS: &str = r#"
held() {
  for fd in /proc/[0-9]*/fd/*; do
    [ "$(readlink "$fd" 2>/dev/null)" = "$1" ] || continue
    p=${fd#/proc/}; p=${p%%/*}
    echo "$(cat /proc/$p/comm 2>/dev/null) $p"; return 0
  done
  p=$(head -n 1 -- "$1" 2>/dev/null | tr -cd 0-9)
  if [ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = postgres ]; then echo "postgres $p (the postmaster it names is running)"; return 0; fi
  return 1
}
owned() {
  case " $owners " in *" $(stat -c %U -- "$1" 2>/dev/null) "*) return 0;; esac
  return 1
}
place() {
  d=${1%/*}; p=; rest=${d#/}
  while [ -n "$rest" ]; do
    c=${rest%%/*}; rest=${rest#"$c"}; rest=${rest#/}; p="$p/$c"
    if [ -L "$p" ]; then echo "$p is a symlink"; return 1; fi
    if [ ! -d "$p" ]; then echo "$p is not a directory"; return 1; fi
    if ! owned "$p"; then echo "$p is owned by $(stat -c %U -- "$p"), not by one of:$owners"; return 1; fi
  done
  return 0
}
kind() {
  if [ -L "$1" ]; then echo symlink
  elif [ ! -e "$1" ]; then echo missing
  elif [ "$(readlink -f -- "$1")" != "$1" ]; then echo moved
  elif [ -f "$1" ]; then
    if owned "$1"; then echo file; else echo foreign; fi
  else echo other; fi
}
report() {
  u=$(place "$1" || true)
  k=$(kind "$1"); h=$(held "$1" || true); s=; o=; m=
  if [ -f "$1" ] && [ ! -L "$1" ]; then s=$(stat -c %s -- "$1"); o=$(stat -c %U -- "$1"); m=$(stat -c %Y -- "$1"); fi
  printf 'F\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$k" "$s" "$o" "$m" "$(date +%s)" "$h" "$u"
}
"#;

/// An owner name as it may reach the remote shell: a plain user name.
pub fn check_owner(name: &str) -> Result<(), Refusal> {
    let plain = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if plain {
        Ok(())
    } else {
        Err(Refusal::new(
            "owners",
            format!("`{name}` is not a plain user name"),
        ))
    }
}

fn quote(path: &str) -> String {
    // check_path allows no quote: single quotes are enough.
    format!("'{path}'")
}

/// The owners, as a shell assignment (each checked by [`check_owner`]; the rest are dropped,
/// so a bad one can only make the check stricter).
fn owners_line(options: &LockOptions) -> String {
    let owners: Vec<&str> = options
        .owners
        .iter()
        .map(String::as_str)
        .filter(|o| check_owner(o).is_ok())
        .collect();
    format!("owners=' {} '", owners.join(" "))
}

/// The inspection script: a report line per file.
fn inspect_script(paths: &[String], options: &LockOptions) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
    format!(
        "{}\n{CHECKS}\nfor f in {}; do report \"$f\"; done\n",
        owners_line(options),
        list.join(" ")
    )
}

/// The removal script: every file checked again; if any is not a plain regular file of an
/// allowed owner, in a safe place, held by nothing, nothing is removed (exit 3). Else each is
/// removed relative to its directory, entered first: `cd -P` resolves the directory once and
/// the real path it landed in is compared with the one checked, so a directory replaced by a
/// symlink at any moment after the check cannot send `rm` elsewhere (the shell's working
/// directory is the inode that was checked, whatever its path names later).
fn remove_script(paths: &[String], options: &LockOptions) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
    format!(
        r#"{owners}
{CHECKS}
bad=0
for f in {files}; do
  report "$f"
  if u=$(place "$f"); then :; else echo "refused: $f: $u"; bad=1; fi
  k=$(kind "$f")
  if [ "$k" != file ]; then echo "refused: $f is $k, not a regular file of one of:$owners"; bad=1; fi
  if h=$(held "$f"); then echo "refused: $f is held by $h"; bad=1; fi
done
if [ $bad != 0 ]; then echo "nothing removed"; exit 3; fi
for f in {files}; do
  d=${{f%/*}}; n=${{f##*/}}
  (
    cd -P -- "$d" || exit 4
    if [ "$(pwd -P)" != "$d" ]; then echo "refused: $d moved while it was checked"; exit 4; fi
    if [ -L "./$n" ] || [ ! -f "./$n" ]; then echo "refused: $f changed while it was checked"; exit 4; fi
    rm -f -- "./$n" && echo "removed $f"
  ) || {{ echo "stopped: $f was not removed"; exit 4; }}
done
"#,
        owners = owners_line(options),
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
) -> Result<Vec<LockFile>, LockError> {
    look(ssh_target, options, log_command)
        .await
        .map_err(LockError::Failed)
}

async fn look(
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
            refusal: check_path(&n.path, options).err().map(|r| r.why),
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
        &inspect_script(&checkable, options),
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
    for (path, kind, size, owner, mtime, now, held, place) in report {
        if let Some(f) = files.iter_mut().find(|f| f.path == path) {
            f.refusal = match (kind.as_str(), &held) {
                _ if place.is_some() => Some(format!(
                    "its directory is not safe to remove from: {}",
                    place.as_deref().unwrap_or_default()
                )),
                (_, Some(h)) => Some(format!(
                    "held by {h}: the datastore (or something) still uses it"
                )),
                ("foreign", None) => Some(format!(
                    "it is owned by {}, not by one of {}: not a lock file the datastore left",
                    owner.as_deref().unwrap_or("nobody known"),
                    options.owners.join(", ")
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
) -> Result<(), LockError> {
    for p in paths {
        check_path(p, options).map_err(|r| LockError::Refused(r.why))?;
    }
    if paths.is_empty() || paths.len() > MAX_FILES {
        return Err(LockError::Refused(format!(
            "1 to {MAX_FILES} files, not {}",
            paths.len()
        )));
    }
    sink.line(format!(
        "→ checking and removing {} on the host",
        vocab::count(paths.len() as i64, "file")
    ));
    let command = script_command(
        &ssh_target.options.commands.run_script,
        &remove_script(paths, options),
    );
    let exited = ssh::run(ssh_target, &command, sink)
        .await
        .map_err(|e| LockError::Failed(format!("the files were not removed: {e}")))?;
    if exited.status == Some(3) {
        return Err(LockError::Refused(
            "the host's checks refused a file (see the output): nothing was removed".into(),
        ));
    }
    if exited.status == Some(4) {
        return Err(LockError::Failed(
            "a file or its directory changed between the host's check and the removal (see the output): the removal stopped there; look at the host before trying again".into(),
        ));
    }
    if !exited.success() {
        return Err(LockError::Failed(format!(
            "the removal ended with {} (see the output)",
            exited.describe()
        )));
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

    const J: &str = "2026-12-01T03:12:09+0000 ds-1 hab[812]: ";

    #[test]
    fn the_log_names_postgres_lock_files_relative_to_the_configured_data_directory() {
        let lines = [
            format!("{J}builder-datastore.live(O): FATAL:  lock file \"postmaster.pid\" already exists"),
            // The HINT's directory is not where Onwatch removes files.
            format!("{J}builder-datastore.live(O): HINT:  Is another postmaster (PID 1187) running in data directory \"/elsewhere\"?"),
            format!("{J}builder-datastore.live(O): 2026-12-01 03:12:10.120 UTC [1187] FATAL:  could not create lock file \"/hab/svc/builder-datastore/var/.s.PGSQL.5432.lock\": File exists"),
            format!("{J}builder-api.live(O): FATAL:  lock file \"/hab/svc/builder-api/x.lock\" already exists"),
            format!("{J}builder-datastore.live(O): FATAL:  lock file \"postmaster.pid\" already exists"),
        ];
        let named = named_in_log(&lines, &opts());
        let paths: Vec<&str> = named.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/hab/svc/builder-datastore/data/postmaster.pid",
                "/hab/svc/builder-datastore/var/.s.PGSQL.5432.lock"
            ]
        );
        assert!(named[0].line.contains("already exists"));
        for p in paths {
            check_path(p, &opts()).unwrap();
        }
    }

    /// What anyone who can reach port 5432 can make postgres write into its log: a failed
    /// login's user or database name, verbatim, on the datastore's own lines.
    #[test]
    fn text_an_attacker_puts_in_the_log_names_nothing_onwatch_would_remove() {
        let o = opts();
        let forged = [
            format!("{J}builder-datastore.live(O): FATAL:  password authentication failed for user \"lock file \"/hab/svc/builder-datastore/data/global/pg_control\""),
            format!("{J}builder-datastore.live(O): FATAL:  password authentication failed for user \"x\" FATAL:  lock file \"postmaster.pid\" already exists"),
            format!("{J}builder-datastore.live(O): FATAL:  database \"lock file \"/hab/svc/builder-datastore/data/PG_VERSION\" already exists\" does not exist"),
            format!("{J}builder-datastore.live(O): LOG:  lock file \"postmaster.pid\" already exists"),
            format!("{J}hab-sup(MR): builder-datastore.live(O): FATAL:  lock file \"postmaster.pid\" already exists"),
            format!("{J}builder-datastore.live(O): user \"a\" FATAL:  lock file \"postmaster.pid\" already exists"),
        ];
        let named = named_in_log(&forged, &o);
        assert!(named.is_empty(), "{named:?}");
        // A line that has the exact form (a user name with a newline in it can make one) names
        // only what the allow list takes: any other file is refused whatever the line says.
        let exact = [
            format!("{J}builder-datastore.live(O): FATAL:  lock file \"/hab/svc/builder-datastore/data/global/pg_control\" already exists"),
            format!("{J}builder-datastore.live(O): FATAL:  lock file \"global/pg_control\" already exists"),
            format!("{J}builder-datastore.live(O): FATAL:  could not create lock file \"/hab/svc/builder-datastore/var/.s.PGSQL.x.lock\": File exists"),
            format!("{J}builder-datastore.live(O): FATAL:  could not create lock file \"/etc/.s.PGSQL.5432.lock\": File exists"),
            format!("{J}builder-datastore.live(O): FATAL:  lock file \"/hab/svc/builder-datastore/data/base/postmaster.pid\" already exists"),
        ];
        for n in named_in_log(&exact, &o) {
            let e = check_path(&n.path, &o).unwrap_err().why;
            assert!(
                e.contains("not a lock file postgres uses"),
                "{}: {e}",
                n.path
            );
        }
    }

    #[test]
    fn only_postgres_lock_files_in_the_configured_directories_pass() {
        let o = opts();
        assert!(check_path("/hab/svc/builder-datastore/data/postmaster.pid", &o).is_ok());
        assert!(check_path("/hab/svc/builder-datastore/var/.s.PGSQL.5432.lock", &o).is_ok());
        for (bad, why) in [
            ("/tmp/.s.PGSQL.5432.lock", "not a lock file"),
            (
                "/hab/svc/builder-datastore/data/global/pg_control",
                "not a lock file",
            ),
            (
                "/hab/svc/builder-datastore/data/PG_VERSION",
                "not a lock file",
            ),
            (
                "/hab/svc/builder-datastore/var/.s.PGSQL.99999.lock",
                "not a lock file",
            ),
            (
                "/hab/svc/builder-datastore/var/.s.PGSQL.5432",
                "not a lock file",
            ),
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
            ("/hab/svc/builder-datastore", "not a lock file"),
            (
                "/hab/svc/builder-datastore-evil/data/postmaster.pid",
                "not a lock file",
            ),
            ("hab/svc/builder-datastore/data/postmaster.pid", "absolute"),
            ("/hab/svc/builder-datastore//data", "empty"),
        ] {
            let e = check_path(bad, &o).unwrap_err().why;
            assert!(e.contains(why), "{bad}: {e}");
        }
        let moved = LockOptions {
            data_dir: Some("/srv/pg".into()),
            socket_dirs: Some(vec!["/run/postgresql".into()]),
            ..opts()
        };
        assert!(check_path("/srv/pg/postmaster.pid", &moved).is_ok());
        assert!(check_path("/run/postgresql/.s.PGSQL.5432.lock", &moved).is_ok());
        assert!(check_path("/hab/svc/builder-datastore/data/postmaster.pid", &moved).is_err());
    }

    #[test]
    fn owner_names_reach_the_shell_only_when_plain() {
        assert!(check_owner("hab").is_ok());
        assert!(check_owner("postgres-1").is_ok());
        for bad in ["", "-x", "a b", "a'b", "$(id)", "a;b"] {
            assert!(check_owner(bad).is_err(), "{bad}");
        }
        let o = LockOptions {
            owners: vec!["root".into(), "x';rm -rf /'".into()],
            ..opts()
        };
        assert_eq!(owners_line(&o), "owners=' root '");
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
    pub files: Result<Vec<LockFile>, crate::text::Unread>,
}

/// Whether the datastore runs and is healthy on `host`, as the fleet sees it now. Then every
/// lock file it has is its own, not a stale one: nothing is offered for removal, whatever its
/// log said before it started.
pub fn datastore_running(
    snapshot: &crate::fleet::FleetSnapshot,
    environment: &str,
    host: &str,
) -> bool {
    snapshot.host(environment, host).is_some_and(|h| {
        h.reachability == crate::fleet::Reachability::Reachable
            && h.services
                .iter()
                .any(|s| s.ident.name == DATASTORE && s.cell == vocab::CellState::Healthy)
    })
}

/// What a lock file of a running datastore is.
pub const RUNNING: &str =
    "the datastore runs and is healthy here: this is its own lock file, not a stale one";

/// Every host of the fleet that runs the datastore, read at once (each over its own SSH).
pub async fn scan(
    access: &crate::access::Access,
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
    let options = access.lock_options().clone();
    let reads = hosts.into_iter().map(|(environment, host, service_group)| {
        let options = options.clone();
        let running = datastore_running(snapshot, &environment, &host);
        async move {
            let mut files = match access.ssh_target(&environment, &host) {
                Err(refusal) => Err(Unread(refusal.why)),
                Ok(target) => {
                    match ssh::command_for(&target.options.commands.supervisor_log, &host) {
                        Err(refusal) => Err(Unread(refusal.why)),
                        Ok(log) => inspect(&target, &options, &log)
                            .await
                            .map_err(|e| Unread(e.to_string())),
                    }
                }
            };
            if running {
                for f in files.iter_mut().flatten() {
                    f.refusal.get_or_insert_with(|| RUNNING.to_owned());
                }
            }
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

/// The datastore's stale lock files removed over SSH, then the service started through its
/// control gateway (`start`: the restart kind's start only).
pub struct RemoveLocks {
    pub ssh: SshTarget,
    pub options: LockOptions,
    pub paths: Vec<String>,
    pub start: Box<dyn Procedure>,
    pub fleet: std::sync::Arc<crate::fleet::FleetModel>,
}

impl RemoveLocks {
    async fn remove_then_start(&self, sink: &Sink) -> Result<Ran, Failed> {
        sink.step("removing the lock files");
        sink.held().await?;
        remove(&self.ssh, &self.options, &self.paths, sink)
            .await
            .map_err(|e| Failed::Step(e.to_string()))?;
        sink.line(format!(
            "✓ {} removed",
            vocab::count(self.paths.len() as i64, "lock file")
        ));
        let mut started = self.start.run(sink).await.map_err(|e| match e {
            Failed::Step(e) => Failed::Step(format!(
                "the lock files were removed, but the start failed: {e}"
            )),
            Failed::Hold(e) => Failed::Hold(format!(
                "the lock files were removed, but the start failed: {e}"
            )),
        })?;
        started.summary = format!(
            "{} removed; the datastore is {}",
            vocab::count(self.paths.len() as i64, "lock file"),
            started.summary
        );
        Ok(started)
    }

    /// Each path plain and inside the service directory, and named by the datastore's log now
    /// (read again over SSH): Onwatch removes only what the datastore's own error names. One
    /// verdict, `paths`.
    async fn paths_verdict(&self, request: &ActionRequest) -> Verdict {
        let paths = &request.paths;
        if paths.is_empty() || paths.len() > MAX_FILES {
            return Verdict::refuse(
                "paths",
                format!(
                    "name 1 to {} lock files (as the page lists them from the log), not {}",
                    MAX_FILES,
                    paths.len()
                ),
            );
        }
        for p in paths {
            if let Err(refusal) = check_path(p, &self.options) {
                return Verdict::refuse("paths", refusal.why);
            }
        }
        let snapshot = self.fleet.snapshot(crate::time::now_ms());
        if datastore_running(&snapshot, &request.target.environment, &request.target.host) {
            return Verdict::refuse("paths", format!("{RUNNING}: nothing is removed"));
        }
        let log = match ssh::command_for(
            &self.ssh.options.commands.supervisor_log,
            &request.target.host,
        ) {
            Ok(c) => c,
            Err(refusal) => return Verdict::refuse(&refusal.guard, refusal.why),
        };
        match inspect(&self.ssh, &self.options, &log).await {
            Err(why) => Verdict::refuse(
                "paths",
                format!("the log could not be read again, so nothing is removed: {why}"),
            ),
            Ok(seen) => {
                for p in paths {
                    match seen.iter().find(|f| &f.path == p) {
                        None => {
                            return Verdict::refuse(
                                "paths",
                                format!("`{p}` is not named by the datastore's log (its last {} lines): Onwatch removes only the lock files the datastore's own error names", self.options.log_lines),
                            )
                        }
                        Some(f) => {
                            if let Some(why) = &f.refusal {
                                return Verdict::refuse("paths", format!("`{p}`: {why}"));
                            }
                        }
                    }
                }
                Verdict::pass(
                    "paths",
                    format!(
                        "{}, each named by the datastore's log, plain, held by nothing",
                        vocab::count(paths.len() as i64, "file")
                    ),
                )
            }
        }
    }
}

impl Procedure for RemoveLocks {
    fn executor(&self) -> &'static str {
        "ssh, then control gateway"
    }

    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "executor": "ssh, then control gateway",
            "executor_address": format!("{}@{}:{}", self.ssh.options.user, self.ssh.address, self.ssh.options.port),
            "paths": self.paths,
            "service_dir": self.options.service_dir,
        })
    }

    fn secrets(&self) -> Vec<String> {
        self.start.secrets()
    }

    fn check<'a>(&'a self, request: &'a ActionRequest) -> BoxFuture<'a, Option<Verdict>> {
        Box::pin(async move { Some(self.paths_verdict(request).await) })
    }

    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>> {
        Box::pin(self.remove_then_start(sink))
    }
}

/// A lock-file removal's procedure on the datastore of `target`, ending with `start`; or the
/// verdict that refuses it.
pub fn resolve(
    access: &crate::access::Access,
    target: &crate::change::Target,
    address: &str,
    paths: &[String],
    start: Box<dyn Procedure>,
) -> Result<RemoveLocks, Verdict> {
    if target.service() != DATASTORE {
        return Err(Verdict::refuse(
            "target",
            format!(
                "lock files are removed only for {} (asked: {})",
                DATASTORE, target.service_group
            ),
        ));
    }
    let ssh = access
        .ssh_for(&target.environment, "the datastore's lock files")
        .map_err(|r| Verdict::refuse(&r.guard, r.why))?;
    Ok(RemoveLocks {
        ssh: ssh.to(address),
        options: access.lock_options().clone(),
        paths: paths.to_vec(),
        start,
        fleet: access.fleet().clone(),
    })
}

/// Why lock files were not read or not removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// A rule said no (a path Onwatch may not touch, the host's own checks): nothing was
    /// removed.
    #[error("{0}")]
    Refused(String),
    /// The host did not do it (SSH, the log, a command that failed or found things changed).
    #[error("{0}")]
    Failed(String),
}

/// Why a read was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The person asked too often: nothing ran.
    #[error("{0}")]
    Refused(String),
    /// The audit log could not be written: nothing ran.
    #[error("the audit log cannot be written, so the hosts were not read: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// [`scan`] as a person asks for it: refused (and audited so) past `read_limit` reads in the
/// window, counted from the audit log itself so every replica counts the same; otherwise the
/// attempt is audited before any SSH runs, and the outcome after. The caller has checked that
/// the person is a responder: this runs root commands on production hosts.
pub async fn read_for(
    actions: &crate::change::Pipeline,
    snapshot: &crate::fleet::FleetSnapshot,
    actor: &crate::audit::Actor,
) -> Result<Vec<HostLocks>, ReadError> {
    let access = actions.access();
    let options = access.lock_options();
    let audit = actions.audit();
    let store = audit.store();
    let now = store.now_ms().await?;
    let since = now - (options.read_window_secs as i64) * 1000;
    let done = audit
        .attempts_since(Event::LocksRead, &actor.id, since)
        .await?;
    let entry = |outcome: &str, detail: serde_json::Value| crate::audit::Entry {
        service: DATASTORE.into(),
        outcome: outcome.into(),
        detail,
        ..crate::audit::Entry::new(Event::LocksRead)
    };
    if done >= i64::from(options.read_limit) {
        let why = format!(
            "you have read the datastore's lock files {done} times in the last {} min (at most {}): each read runs commands as root on every datastore host. Use the list you have, or wait a few minutes.",
            options.read_window_secs / 60,
            options.read_limit
        );
        audit
            .append(actor, &entry("refused", serde_json::json!({ "why": why })))
            .await?;
        return Err(ReadError::Refused(why));
    }
    audit
        .append(actor, &entry("", serde_json::json!({})))
        .await?;
    let hosts = scan(access, snapshot).await;
    let summary: Vec<serde_json::Value> = hosts
        .iter()
        .map(|h| match &h.files {
            Ok(f) => serde_json::json!({
                "environment": h.environment, "host": h.host,
                "files": f.iter().map(|f| &f.path).collect::<Vec<_>>(),
            }),
            Err(e) => serde_json::json!({
                "environment": h.environment, "host": h.host,
                "error": crate::text::cut(&e.0, 500),
            }),
        })
        .collect();
    let outcome = if hosts.iter().all(|h| h.files.is_ok()) {
        "done"
    } else {
        "failed"
    };
    if let Err(e) = audit
        .append(
            actor,
            &entry(outcome, serde_json::json!({ "hosts": summary })),
        )
        .await
    {
        // The read happened and its attempt is on record; the page still gets its answer.
        tracing::error!(error = %e, "the outcome of a lock-file read could not be audited");
    }
    Ok(hosts)
}

//! The SSH executor: one command on one host, as the runbook's `ssh` + `sudo` did it, with
//! russh. Key authentication from a key file; strict host-key checking against a known_hosts
//! file (an unknown or changed key refuses the connection and names the fingerprint it saw);
//! connect and command timeouts; stdout and stderr streamed line by line into the action's
//! output as they come; the exit status or signal.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use serde::{Deserialize, Serialize};

pub use crate::change::sink::Exited;
use crate::change::sink::Sink;

/// The `[environments.NAME.ssh]` section: how Onwatch reaches that environment's hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshOptions {
    pub user: String,
    pub port: u16,
    /// The private key Onwatch authenticates with (OpenSSH format, no passphrase).
    pub key_file: PathBuf,
    /// The hosts' keys, OpenSSH `known_hosts` format (`[host]:port` for ports other than 22).
    pub known_hosts_file: PathBuf,
    #[serde(
        rename = "connect_timeout_secs",
        deserialize_with = "crate::time::secs"
    )]
    pub connect_timeout: Duration,
    #[serde(
        rename = "command_timeout_secs",
        deserialize_with = "crate::time::secs"
    )]
    pub command_timeout: Duration,
    /// Command templates; `{host}` is the host's name (checked to be a plain name first).
    pub commands: SshCommands,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            user: "root".into(),
            port: 22,
            key_file: PathBuf::new(),
            known_hosts_file: PathBuf::new(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(120),
            commands: SshCommands::default(),
        }
    }
}

/// The runbook's commands, as templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshCommands {
    pub restart_supervisor: String,
    pub restart_sentinel: String,
    /// Exits 0 when the sentinel runs (checked after its restart).
    pub sentinel_status: String,
    /// The Supervisor's log; `{args}` is where Onwatch puts `--no-pager -o short-iso -n N -f`
    /// and `--since`.
    pub supervisor_log: String,
    /// The sentinel's log, likewise.
    pub sentinel_log: String,
    /// Runs a short POSIX sh script of Onwatch's (`{script}`, single-quoted): the datastore's
    /// lock files are looked at and removed this way, with root's view of `/proc`.
    pub run_script: String,
}

impl Default for SshCommands {
    fn default() -> Self {
        SshCommands {
            restart_supervisor: "sudo systemctl restart hab-sup".into(),
            restart_sentinel: "sudo systemctl restart sentinel".into(),
            sentinel_status: "systemctl is-active sentinel".into(),
            supervisor_log: "journalctl -u hab-sup {args}".into(),
            sentinel_log: "journalctl -u sentinel {args}".into(),
            run_script: "sudo sh -c {script}".into(),
        }
    }
}

/// Fills `{host}` in a template. A host name that is not plain (letters, digits, `.`, `-`, `_`)
/// is refused rather than quoted: it would otherwise reach a remote shell.
pub fn command_for(template: &str, host: &str) -> Result<String, crate::change::Refusal> {
    // A leading `-` would be read as an option by whatever command the template runs.
    let plain = !host.is_empty()
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !plain {
        return Err(crate::change::Refusal::new(
            "target",
            format!(
                "the host name `{}` is not one a command line may get (letters, digits, `.`, `-`, `_`, not starting with `-`)",
                crate::text::cut(host, 80)
            ),
        ));
    }
    Ok(template.replace("{host}", host))
}

/// Why a command did not run or did not finish, in words for the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {addr} over SSH: {why}")]
    Connect { addr: String, why: String },
    #[error("no answer from {addr} within the {secs} s connect timeout")]
    ConnectTimeout { addr: String, secs: u64 },
    #[error(
        "the host key of {addr} is not in the known_hosts file (it offered {fingerprint}): \
         check the fingerprint out of band, then add the host's key to the file"
    )]
    UnknownHostKey { addr: String, fingerprint: String },
    #[error(
        "the host key of {addr} CHANGED (it now offers {fingerprint}; the known_hosts file has \
         another at line {line}): refused. A reinstalled host, or someone in the middle: check \
         before you replace the line"
    )]
    ChangedHostKey {
        addr: String,
        fingerprint: String,
        line: usize,
    },
    #[error("{addr} refused the key (user `{user}`): check the authorized keys there")]
    AuthRefused { addr: String, user: String },
    #[error("cannot read the SSH key file {path}: {why}")]
    KeyFile { path: String, why: String },
    #[error("the declared key is not an OpenSSH public key line such as `ssh-ed25519 AAAA… you@laptop` ({0})")]
    BadPublicKey(String),
    #[error("the command did not finish within its {secs} s timeout; its session was closed")]
    CommandTimeout { secs: u64 },
    #[error("the SSH session failed: {0}")]
    Session(String),
}

/// What the host-key check saw, for a precise error after a refused connection.
#[derive(Debug, Clone)]
enum KeyProblem {
    Unknown(String),
    Changed(String, usize),
    Unreadable(String),
}

struct Checker {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    problem: Arc<Mutex<Option<KeyProblem>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            // Host certificates are not configured: only keys in known_hosts are trusted.
            self.note(KeyProblem::Unknown("a host certificate".into()));
            return Ok(false);
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        match russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.note(KeyProblem::Unknown(fingerprint));
                Ok(false)
            }
            Err(russh::keys::Error::KeyChanged { line }) => {
                self.note(KeyProblem::Changed(fingerprint, line));
                Ok(false)
            }
            Err(e) => {
                self.note(KeyProblem::Unreadable(format!(
                    "cannot read the known_hosts file {}: {e}",
                    self.known_hosts.display()
                )));
                Ok(false)
            }
        }
    }
}

impl Checker {
    fn note(&self, p: KeyProblem) {
        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
    }
}

/// Where and as whom.
#[derive(Clone)]
pub struct SshTarget {
    /// The address to connect to (the host's private IP, or a name).
    pub address: String,
    pub options: SshOptions,
    pub key: Arc<PrivateKey>,
}

/// Reads the private key file (once, at start-up: a bad file is a configuration error).
pub fn load_key(path: &std::path::Path) -> Result<Arc<PrivateKey>, SshError> {
    russh::keys::load_secret_key(path, None)
        .map(Arc::new)
        .map_err(|e| SshError::KeyFile {
            path: path.display().to_string(),
            why: e.to_string(),
        })
}

/// Connects, checks the host key against known_hosts and authenticates with the key: a session
/// ready for a channel. `inactivity`: how long a silent session may stay open.
pub(crate) async fn connect(
    target: &SshTarget,
    inactivity: Option<Duration>,
) -> Result<client::Handle<impl client::Handler>, SshError> {
    let o = &target.options;
    let addr = format!("{}:{}", target.address, o.port);
    let mut session = open(target, inactivity).await?;
    let hash = session
        .best_supported_rsa_hash()
        .await
        .map_err(|e| SshError::Session(e.to_string()))?
        .flatten();
    let auth = session
        .authenticate_publickey(
            o.user.clone(),
            PrivateKeyWithHashAlg::new(target.key.clone(), hash),
        )
        .await
        .map_err(|e| SshError::Session(e.to_string()))?;
    if !auth.success() {
        return Err(SshError::AuthRefused {
            addr,
            user: o.user.clone(),
        });
    }
    Ok(session)
}

/// Whether the target's sshd would let `user` in with `public_key` (an OpenSSH public key
/// line), asked without the private key: the publickey query without a signature (RFC 4252
/// §7), which a server answers with PK_OK when the key is authorised. Onwatch cannot sign (it
/// has no private key), so it stops there. `Ok(false)`: the server refused the key.
pub async fn key_accepted(
    target: &SshTarget,
    user: &str,
    public_key: &str,
) -> Result<bool, SshError> {
    use russh::keys::{agent::AgentIdentity, Algorithm, HashAlg, PublicKey};

    /// A signer that never signs: being asked to sign means the server sent PK_OK.
    struct Probe;
    #[derive(Debug)]
    enum Probed {
        PkOk,
        Gone,
    }
    impl From<russh::SendError> for Probed {
        fn from(_: russh::SendError) -> Self {
            Probed::Gone
        }
    }
    impl russh::Signer for Probe {
        type Error = Probed;
        fn auth_sign(
            &mut self,
            _: &AgentIdentity,
            _: Option<HashAlg>,
            _: Vec<u8>,
        ) -> impl std::future::Future<Output = Result<Vec<u8>, Probed>> + Send {
            std::future::ready(Err(Probed::PkOk))
        }
    }

    let key = PublicKey::from_openssh(public_key.trim())
        .map_err(|e| SshError::BadPublicKey(e.to_string()))?;
    let mut session = open(target, None).await?;
    let hash = match key.algorithm() {
        // OpenSSH 8.8+ refuses ssh-rsa (SHA-1): ask with the SHA-2 the server names.
        Algorithm::Rsa { .. } => match session
            .best_supported_rsa_hash()
            .await
            .map_err(|e| SshError::Session(e.to_string()))?
        {
            Some(Some(a)) => Some(a),
            Some(None) => None,
            None => Some(HashAlg::Sha256),
        },
        _ => None,
    };
    let answer = session
        .authenticate_publickey_with(user.to_owned(), key, hash, &mut Probe)
        .await;
    let _ = session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    match answer {
        Err(Probed::PkOk) | Ok(russh::client::AuthResult::Success) => Ok(true),
        Ok(russh::client::AuthResult::Failure { .. }) => Ok(false),
        Err(Probed::Gone) => Err(SshError::Session(
            "the session closed during the key check".into(),
        )),
    }
}

/// Connects and checks the host key against known_hosts: a session not yet authenticated.
async fn open(
    target: &SshTarget,
    inactivity: Option<Duration>,
) -> Result<client::Handle<impl client::Handler>, SshError> {
    let o = &target.options;
    let addr = format!("{}:{}", target.address, o.port);
    let problem = Arc::new(Mutex::new(None));
    let checker = Checker {
        host: target.address.clone(),
        port: o.port,
        known_hosts: o.known_hosts_file.clone(),
        problem: problem.clone(),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: inactivity,
        ..client::Config::default()
    });
    let connected = tokio::time::timeout(
        o.connect_timeout,
        client::connect(config, (target.address.as_str(), o.port), checker),
    )
    .await;
    let session = match connected {
        Err(_) => {
            return Err(SshError::ConnectTimeout {
                addr,
                secs: o.connect_timeout.as_secs(),
            })
        }
        Ok(Err(e)) => {
            let seen = problem.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return Err(match seen {
                Some(KeyProblem::Unknown(fingerprint)) => {
                    SshError::UnknownHostKey { addr, fingerprint }
                }
                Some(KeyProblem::Changed(fingerprint, line)) => SshError::ChangedHostKey {
                    addr,
                    fingerprint,
                    line,
                },
                Some(KeyProblem::Unreadable(why)) => SshError::Connect { addr, why },
                None => SshError::Connect {
                    addr,
                    why: e.to_string(),
                },
            });
        }
        Ok(Ok(s)) => s,
    };
    Ok(session)
}

/// Runs `command` on the target, writing its output lines to `sink` as they come (stderr lines
/// marked), and returns how it ended. Bounded by the connect and command timeouts; on the
/// command timeout the session is closed (the remote side gets SIGHUP).
pub async fn run(target: &SshTarget, command: &str, sink: &Sink) -> Result<Exited, SshError> {
    let o = &target.options;
    let session = connect(target, Some(o.command_timeout + Duration::from_secs(30))).await?;
    let mut channel = session
        .channel_open_session()
        .await
        .map_err(|e| SshError::Session(e.to_string()))?;
    channel
        .exec(true, bounded(command, o.command_timeout))
        .await
        .map_err(|e| SshError::Session(e.to_string()))?;
    let mut out = LineSplitter::default();
    let mut err = LineSplitter::default();
    let mut exited = Exited {
        status: None,
        signal: None,
    };
    let finished = tokio::time::timeout(o.command_timeout, async {
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    for l in out.push(&data) {
                        sink.line(l);
                    }
                }
                ChannelMsg::ExtendedData { data, .. } => {
                    for l in err.push(&data) {
                        sink.line(format!("stderr: {l}"));
                    }
                }
                // More data may follow the status: keep reading until the channel closes.
                ChannelMsg::ExitStatus { exit_status } => exited.status = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    exited.signal = Some(format!("{signal_name:?}"))
                }
                ChannelMsg::Close => break,
                _ => {}
            }
        }
    })
    .await;
    if finished.is_err() {
        // Without a terminal, closing the session does not end the command on the host: ask
        // sshd to signal it first (no process is left behind by a timeout).
        let _ = channel.signal(russh::Sig::TERM).await;
        // Wait (briefly) for it to end, so the request is delivered before the session goes.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(msg) = channel.wait().await {
                if matches!(msg, ChannelMsg::Close) {
                    break;
                }
            }
        })
        .await;
        let _ = channel.close().await;
    }
    if let Some(l) = out.rest() {
        sink.line(l);
    }
    if let Some(l) = err.rest() {
        sink.line(format!("stderr: {l}"));
    }
    let _ = session
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    match finished {
        Ok(()) => {
            sink.exited(&exited);
            Ok(exited)
        }
        Err(_) => Err(SshError::CommandTimeout {
            secs: o.command_timeout.as_secs(),
        }),
    }
}

/// The command as the host runs it: under coreutils' `timeout`, so that it ends on the host at
/// the command timeout even when the session is cut (sshd does not end a command without a
/// terminal when its session closes). TERM first, KILL 5 s later.
fn bounded(command: &str, limit: Duration) -> String {
    format!(
        "timeout -k 5 {} sh -c {}",
        limit.as_secs().max(1),
        shell_quote(command)
    )
}

/// One shell word: `'…'`, with each `'` written as `'\''`.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Bytes into lines; a line longer than the sink keeps is cut there anyway.
#[derive(Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// The longest line kept whole while it waits for its end.
    const MAX_PARTIAL: usize = 64 * 1024;

    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = data;
        // Line by line (a byte search per line, not a branch per byte); a line wholly inside
        // this chunk is read straight from it.
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let piece = &rest[..end];
            let line = if self.partial.is_empty() {
                Self::text(&piece[..piece.len().min(Self::MAX_PARTIAL)])
            } else {
                self.keep(piece);
                let l = Self::text(&self.partial);
                self.partial.clear();
                l
            };
            lines.push(line);
            rest = &rest[end + 1..];
        }
        self.keep(rest);
        lines
    }

    fn keep(&mut self, piece: &[u8]) {
        let room = Self::MAX_PARTIAL.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&piece[..piece.len().min(room)]);
    }

    fn text(bytes: &[u8]) -> String {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    pub(crate) fn rest(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| {
            let l = String::from_utf8_lossy(&self.partial).into_owned();
            self.partial.clear();
            l
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_plain_host_names_only() {
        assert_eq!(
            command_for("restart --host {host}", "api-1.live").unwrap(),
            "restart --host api-1.live"
        );
        for bad in [
            "a;rm -rf /",
            "a b",
            "$(id)",
            "",
            "a`b`",
            "-oProxyCommand=x",
            "--help",
        ] {
            assert!(command_for("x {host}", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_run_bounded_and_quoted() {
        assert_eq!(
            bounded("echo 'a b'; exit 3", Duration::from_secs(30)),
            "timeout -k 5 30 sh -c 'echo '\\''a b'\\''; exit 3'"
        );
    }

    #[test]
    fn lines_split_across_chunks() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"one\ntw"), ["one"]);
        assert_eq!(s.push(b"o\r\nthree"), ["two"]);
        assert_eq!(s.rest().as_deref(), Some("three"));
        assert_eq!(s.rest(), None);
    }

    proptest::proptest! {
        /// However the bytes come in chunks, the lines are the same: `str::lines` of the whole
        /// (lossy UTF-8, a `\r` before the newline left out).
        #[test]
        fn chunks_do_not_change_lines(
            text in "([a-zé\r]{0,6}\n){0,12}[a-z]{0,3}",
            cuts in proptest::collection::vec(0usize..64, 0..6),
        ) {
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort();
            let mut s = LineSplitter::default();
            let (mut got, mut at) = (Vec::new(), 0);
            for c in cuts.into_iter().chain([bytes.len()]) {
                got.extend(s.push(&bytes[at..c]));
                at = c;
            }
            got.extend(s.rest());
            let want: Vec<String> = text.lines().map(str::to_owned).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}

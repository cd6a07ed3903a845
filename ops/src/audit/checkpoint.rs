//! Signed checkpoints of the audit chain's head.
//!
//! The chain's hash has no key and lives next to the rows, so a person who can write to the store
//! can cut its end and put the head back, or re-hash it whole, and it still verifies. A
//! checkpoint is the head (row number and hash) at a moment, signed with an Ed25519 key that is
//! held outside the store (a key file, made by `onwatch audit keygen`). Checkpoints go where the
//! store's writer cannot reach: the server's log, the metrics scrape, and optionally a file
//! appended to, one JSON line each. `onwatch audit verify --checkpoint` then checks that the
//! chain still holds the row each checkpoint signed.
//!
//! [`Checkpointer`] signs them (at start, every interval, at shutdown), and never signs a chain
//! that does not extend the last checkpoint it signed: a cut or re-hash between two checkpoints
//! is an error in the log instead of a new signature over it.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

use super::{Anchor, AuditLog, Head};
use crate::store::StoreError;

/// Why a checkpoint could not be made, read or trusted. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The key file: missing, unreadable, not a key.
    #[error("{0}")]
    Key(String),
    /// A checkpoint file or a checkpoint in it.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The chain does not verify, or no longer extends the last checkpoint: nothing is signed
    /// over it.
    #[error("{0}")]
    Cut(String),
}

/// The Ed25519 key that signs checkpoints. Never stored in the database, never logged.
pub struct CheckpointKey(SigningKey);

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointKey(public {})", self.public_key())
    }
}

impl CheckpointKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<CheckpointKey, CheckpointError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            CheckpointError::Key(format!(
                "cannot draw a random key from the operating system: {e}"
            ))
        })?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(CheckpointKey(key))
    }

    /// Reads a key file written by [`CheckpointKey::write_new`]: the 32-byte secret as 64 hex
    /// digits.
    pub fn from_file(path: &Path) -> Result<CheckpointKey, CheckpointError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CheckpointError::Key(format!(
                "cannot read the audit checkpoint key {}: {e}; make one with `onwatch audit keygen --out FILE`",
                path.display()
            ))
        })?;
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the audit checkpoint key can be read by others than its owner: chmod 600 it");
            }
        }
        let seed = parse_hex::<32>(text.trim()).ok_or_else(|| {
            CheckpointError::Key(format!(
                "{} is not an audit checkpoint key: expected 64 hex digits, as `onwatch audit keygen` writes",
                path.display()
            ))
        })?;
        Ok(CheckpointKey(SigningKey::from_bytes(&seed)))
    }

    /// Makes a new key and writes it to `path` (readable by its owner only), refusing to replace
    /// a file that exists: a key that signed checkpoints must not be lost by a second keygen.
    /// Also writes the public key to `path.pub`.
    pub fn write_new(path: &Path) -> Result<CheckpointKey, CheckpointError> {
        let public_path = public_key_path(path);
        if public_path.exists() {
            return Err(CheckpointError::Key(format!(
                "{} exists (an existing file is never replaced: choose another path or move it away)",
                public_path.display()
            )));
        }
        let key = CheckpointKey::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let write = |path: &Path, options: &std::fs::OpenOptions, text: String| {
            options
                .open(path)
                .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
                .map_err(|e| {
                    CheckpointError::Key(format!(
                        "cannot write {}: {e} (an existing file is never replaced: choose another path or move it away)",
                        path.display()
                    ))
                })
        };
        write(path, &options, format!("{}\n", hex(key.0.as_bytes())))?;
        let mut public = std::fs::OpenOptions::new();
        public.write(true).create_new(true);
        write(&public_path, &public, format!("{}\n", key.public_key()))?;
        Ok(key)
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `head` as seen at `at_ms` (milliseconds since the epoch).
    pub fn sign(&self, head: &Head, at_ms: i64) -> Checkpoint {
        let public_key = self.public_key().to_string();
        let signature = self
            .0
            .sign(&signed_message(head.seq, &head.hash, at_ms, &public_key));
        Checkpoint {
            seq: head.seq,
            hash: head.hash.clone(),
            at_ms,
            public_key,
            signature: hex(&signature.to_bytes()),
        }
    }
}

/// Where `onwatch audit keygen --out FILE` puts the public half: `FILE.pub`.
pub fn public_key_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// The public half of a [`CheckpointKey`]: what checks a checkpoint. Shown as 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// 64 hex digits (a `.pub` file's content, trimmed).
    pub fn parse(text: &str) -> Result<PublicKey, CheckpointError> {
        parse_hex::<32>(text.trim())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .map(PublicKey)
            .ok_or_else(|| {
                CheckpointError::Invalid(format!(
                    "{:?} is not an Ed25519 public key: expected 64 hex digits, as `onwatch audit keygen` writes to FILE.pub",
                    text.trim()
                ))
            })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(self.0.as_bytes()))
    }
}

/// The head at a moment, signed: one JSON line in the log, the metrics and the checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The chain's last row then.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When it was signed, by the signer's clock (milliseconds since the epoch).
    pub at_ms: i64,
    /// The key that signed it (hex).
    pub public_key: String,
    /// Ed25519 over the fields above (hex).
    pub signature: String,
}

impl Checkpoint {
    /// Checks the signature with the key the checkpoint names, which must be `pinned` when
    /// given. Returns the key that signed it.
    pub fn check(&self, pinned: Option<&PublicKey>) -> Result<PublicKey, CheckpointError> {
        let key = PublicKey::parse(&self.public_key)?;
        if let Some(pinned) = pinned {
            if *pinned != key {
                return Err(CheckpointError::Invalid(format!(
                    "the checkpoint of row {} was signed by key {key}, not by the key given ({pinned})",
                    self.seq
                )));
            }
        }
        if self.seq < 0 || parse_hex::<32>(&self.hash).is_none() {
            return Err(CheckpointError::Invalid(format!(
                "the checkpoint of row {} does not name a row and a 64-hex-digit hash",
                self.seq
            )));
        }
        let signature = parse_hex::<64>(&self.signature)
            .map(|b| Signature::from_bytes(&b))
            .ok_or_else(|| {
                CheckpointError::Invalid(format!(
                    "the checkpoint of row {} has no readable signature (128 hex digits)",
                    self.seq
                ))
            })?;
        key.0
            .verify_strict(
                &signed_message(self.seq, &self.hash, self.at_ms, &self.public_key),
                &signature,
            )
            .map_err(|_| {
                CheckpointError::Invalid(format!(
                    "the checkpoint of row {} does not match its signature: it was edited, or not signed by key {key}",
                    self.seq
                ))
            })?;
        Ok(key)
    }

    /// What the chain must contain for this checkpoint to hold.
    pub fn anchor(&self) -> Anchor {
        Anchor::Row {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }

    /// One line of JSON (no newline).
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The checkpoints in a checkpoint file: one JSON object per line, blank lines skipped. A
    /// line that is not a checkpoint is an error naming it.
    pub fn parse_lines(text: &str) -> Result<Vec<Checkpoint>, CheckpointError> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l.trim()).map_err(|e| {
                    CheckpointError::Invalid(format!(
                        "line {} is not an audit checkpoint ({e}); expected one JSON object per line, as the server writes",
                        i + 1
                    ))
                })
            })
            .collect()
    }
}

/// What a checkpoint's signature covers, labelled so that it cannot be taken for anything else.
fn signed_message(seq: i64, hash: &str, at_ms: i64, public_key: &str) -> Vec<u8> {
    format!("onwatch audit checkpoint v1\nseq={seq}\nhash={hash}\nat_ms={at_ms}\npublic_key={public_key}")
        .into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes from exactly `2N` hex digits (either case).
fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Signs checkpoints of one store's chain with one key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    log: AuditLog,
    key: Arc<CheckpointKey>,
    file: Option<PathBuf>,
    latest: Arc<watch::Sender<Option<Checkpoint>>>,
    /// The head last signed (or read back from the file): the next checkpoint must extend it.
    /// Held while signing, so that two checkpoints (the interval's and shutdown's) never race.
    last: Arc<Mutex<Option<Head>>>,
}

impl Checkpointer {
    /// `file`, when given, gets every checkpoint appended; its last checkpoint by this key is
    /// where the first one here continues from, so a chain cut while Onwatch was down is seen.
    pub fn new(log: AuditLog, key: CheckpointKey, file: Option<PathBuf>) -> Checkpointer {
        Checkpointer {
            log,
            key: Arc::new(key),
            file,
            latest: Arc::new(watch::channel(None).0),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// The last checkpoint signed (for the metrics).
    pub fn latest(&self) -> watch::Receiver<Option<Checkpoint>> {
        self.latest.subscribe()
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Checks that the chain extends the last checkpoint (the whole chain, the first time, when
    /// there is none), then signs its head: logged, kept for the metrics, appended to the file.
    pub async fn checkpoint(&self) -> Result<Checkpoint, CheckpointError> {
        let mut last = self.last.lock().await;
        if last.is_none() {
            *last = self.last_in_file();
        }
        let head = match self.log.verified_head(last.as_ref()).await? {
            Ok(head) => head,
            Err(b) => {
                return Err(CheckpointError::Cut(match last.as_ref() {
                    Some(l) => format!(
                        "the audit chain no longer extends the checkpoint of row {} (row {}: {}); nothing is signed over it: check it with `onwatch audit verify --checkpoint FILE`",
                        l.seq, b.seq, b.why
                    ),
                    None => format!(
                        "the audit chain does not verify (row {}: {}); nothing is signed over it: check it with `onwatch audit verify`",
                        b.seq, b.why
                    ),
                }))
            }
        };
        let checkpoint = self.key.sign(&head, crate::time::now_ms());
        let json = checkpoint.to_json();
        if let Some(file) = &self.file {
            if let Err(e) = append_line(file, &json) {
                tracing::warn!(file = %file.display(), error = %e, "the audit checkpoint could not be appended to the checkpoint file; it is in this log");
            }
        }
        tracing::info!(
            seq = checkpoint.seq,
            hash = %checkpoint.hash,
            at_ms = checkpoint.at_ms,
            public_key = %checkpoint.public_key,
            checkpoint = %json,
            "audit checkpoint signed"
        );
        self.latest.send_replace(Some(checkpoint.clone()));
        *last = Some(head);
        Ok(checkpoint)
    }

    /// Signs a checkpoint now and then every `every`, until `stopping` turns true. The one at
    /// shutdown is the caller's, once running actions have written their outcomes.
    pub async fn run(self, every: Duration, mut stopping: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.checkpoint().await {
                tracing::error!(error = %e, "audit checkpoint not signed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }

    /// The newest checkpoint in the file signed by this key, if any. Lines by another key (one
    /// used before) or that do not check are passed over, with a warning for the latter.
    fn last_in_file(&self) -> Option<Head> {
        let file = self.file.as_ref()?;
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "the audit checkpoint file cannot be read; checking the whole chain instead");
                return None;
            }
        };
        let mine = self.key.public_key();
        let mut found = None;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Checkpoint>(line.trim())
                .map_err(|e| CheckpointError::Invalid(e.to_string()))
                .and_then(|c| {
                    if c.public_key == mine.to_string() {
                        c.check(Some(&mine)).map(|_| Some(c))
                    } else {
                        Ok(None)
                    }
                });
            match parsed {
                Ok(Some(c)) => {
                    found = Some(Head {
                        seq: c.seq,
                        hash: c.hash,
                    })
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(file = %file.display(), line = i + 1, error = %e, "a line of the audit checkpoint file is not a checkpoint by this key; passed over");
                }
            }
        }
        found
    }
}

fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write of the whole line: an append is not interleaved with another writer's.
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Head {
        Head {
            seq: 7,
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn a_checkpoint_checks_with_its_key_and_nothing_else() {
        let key = CheckpointKey::generate().unwrap();
        let other = CheckpointKey::generate().unwrap();
        let c = key.sign(&head(), 1_000);
        assert_eq!(c.check(None).unwrap(), key.public_key());
        assert_eq!(c.check(Some(&key.public_key())).unwrap(), key.public_key());
        let e = c.check(Some(&other.public_key())).unwrap_err();
        assert!(e.to_string().contains("not by the key given"), "{e}");

        // Any field changed after signing, or another key's name put in: refused.
        let tampered = [
            Checkpoint {
                seq: 8,
                ..c.clone()
            },
            Checkpoint {
                hash: "cd".repeat(32),
                ..c.clone()
            },
            Checkpoint {
                at_ms: 2_000,
                ..c.clone()
            },
            Checkpoint {
                public_key: other.public_key().to_string(),
                ..c.clone()
            },
        ];
        for t in tampered {
            assert!(t.check(None).is_err(), "{t:?}");
        }
        // Round trip through a file's lines.
        let text = format!("{}\n\n{}\n", c.to_json(), c.to_json());
        assert_eq!(Checkpoint::parse_lines(&text).unwrap(), vec![c.clone(), c]);
        let e = Checkpoint::parse_lines("{\"seq\":1}\nnot json").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn a_key_file_is_written_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let key = CheckpointKey::write_new(&path).unwrap();
        let again = CheckpointKey::from_file(&path).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let public = std::fs::read_to_string(public_key_path(&path)).unwrap();
        assert_eq!(PublicKey::parse(&public).unwrap(), key.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only its owner reads the key");
        }
        let e = CheckpointKey::write_new(&path).unwrap_err();
        assert!(e.to_string().contains("never replaced"), "{e}");
        assert_eq!(
            CheckpointKey::from_file(&path).unwrap().public_key(),
            key.public_key(),
            "the first key is kept"
        );
        std::fs::write(&path, "not a key").unwrap();
        let e = CheckpointKey::from_file(&path).unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        assert!(
            !format!("{key:?}").contains(&hex(key.0.as_bytes())),
            "Debug shows no secret"
        );
    }
}

//! The `[datastore_locks]` options: where the datastore keeps its files and how much of its log is
//! read. Below `access`, which carries them to the lock-file procedure and reads.

use serde::{Deserialize, Serialize};

/// The `[datastore_locks]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockOptions {
    /// The datastore's service directory (Habitat's `/hab/svc/builder-datastore`).
    pub service_dir: String,
    /// Postgres's data directory, where `postmaster.pid` lives; `{service_dir}/data` when unset.
    /// From the configuration only: the log's HINT names a directory too, but a log line is not
    /// to be trusted with where Onwatch removes files.
    pub data_dir: Option<String>,
    /// The directories postgres keeps its unix sockets (and their `.s.PGSQL.<port>.lock`) in;
    /// `{service_dir}/var` when unset.
    pub socket_dirs: Option<Vec<String>>,
    /// Who may own a lock file and every directory on its way: anything else (a directory a
    /// user could rename or replace) is refused.
    pub owners: Vec<String>,
    /// How many of the newest lines of the Supervisor's log are read for lock-file errors.
    pub log_lines: u32,
    /// At most this many reads of the lock files per person in `read_window_secs`: each runs
    /// `journalctl` and a root script on every datastore host.
    pub read_limit: u32,
    pub read_window_secs: u64,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            service_dir: "/hab/svc/builder-datastore".into(),
            data_dir: None,
            socket_dirs: None,
            owners: vec!["root".into(), "hab".into()],
            log_lines: 2000,
            read_limit: 10,
            read_window_secs: 600,
        }
    }
}

impl LockOptions {
    /// Where postgres keeps its data (and `postmaster.pid`).
    pub fn data_dir(&self) -> String {
        match &self.data_dir {
            Some(d) => d.trim_end_matches('/').to_owned(),
            None => format!("{}/data", self.service_dir.trim_end_matches('/')),
        }
    }

    /// Where postgres keeps its sockets' lock files.
    pub fn socket_dirs(&self) -> Vec<String> {
        match &self.socket_dirs {
            Some(d) => d
                .iter()
                .map(|d| d.trim_end_matches('/').to_owned())
                .collect(),
            None => vec![format!("{}/var", self.service_dir.trim_end_matches('/'))],
        }
    }
}

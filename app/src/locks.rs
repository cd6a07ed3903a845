//! The datastore's stale lock files (`ops::locks`): what each datastore host's log names, as
//! the datastore's service page shows it. The removal itself is an action (`start_action`,
//! kind `remove_lock_files`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One datastore host's lock files, or why they could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLocksView {
    pub environment: String,
    pub host: String,
    pub service_group: String,
    pub error: Option<String>,
    pub files: Vec<LockFileView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFileView {
    pub path: String,
    /// The log line that named it.
    pub line: String,
    pub kind: String,
    pub size: Option<u64>,
    pub owner: Option<String>,
    /// "3 h 10 min"
    pub age: Option<String>,
    pub held_by: Option<String>,
    /// Why Onwatch will not remove it; `None`: removable.
    pub refusal: Option<String>,
}

/// Reads every datastore host's log for the lock files it names, and looks at them (SSH, a
/// script run as root): a responder's, audited and rate-limited per person.
#[server(prefix = "/api/act", endpoint = "datastore-locks")]
pub async fn datastore_locks() -> Result<Vec<HostLocksView>, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Responder)?;
    let portal = crate::portal::portal()?;
    let snapshot = portal.fleet.snapshot(ops::time::now_ms());
    let actor = who.actor();
    let hosts = match ops::locks::read_for(&portal.actions, &snapshot, &actor).await {
        Ok(h) => h,
        Err(ops::locks::ReadError::Refused(why)) => {
            crate::portal::set_status(429);
            return Err(ServerFnError::new(why));
        }
        Err(e) => {
            crate::portal::set_status(503);
            return Err(ServerFnError::new(e.to_string()));
        }
    };
    Ok(hosts
        .into_iter()
        .map(|h| {
            let (files, error) = match h.files {
                Ok(f) => (f, None),
                Err(e) => (Vec::new(), Some(e.0)),
            };
            HostLocksView {
                environment: h.environment,
                host: h.host,
                service_group: h.service_group,
                error,
                files: files
                    .into_iter()
                    .map(|f| LockFileView {
                        age: ops::locks::age(&f)
                            .map(|d| ops::time::human_age(d.as_millis() as i64)),
                        path: f.path,
                        line: f.line,
                        kind: f.kind,
                        size: f.size,
                        owner: f.owner,
                        held_by: f.held_by,
                        refusal: f.refusal,
                    })
                    .collect(),
            }
        })
        .collect())
}

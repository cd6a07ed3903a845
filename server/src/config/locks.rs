//! `[datastore_locks]`: where the datastore's lock files may be, and the read's limits.

use super::ConfigError;

/// `[datastore_locks]`: plain absolute directories (never `/`) where postgres's own lock files
/// can be, plain owner names, and a log read that is bounded.
pub(super) fn check(l: &ops::locks::LockOptions) -> Result<(), ConfigError> {
    let dir = l.service_dir.trim_end_matches('/');
    if dir.is_empty() || dir.split('/').count() < 3 {
        return Err(ConfigError::key(
            "datastore_locks.service_dir",
            "an absolute, plain directory at least two levels deep, such as /hab/svc/builder-datastore",
        ));
    }
    let data = l.data_dir();
    if data.split('/').count() < 3
        || ops::locks::check_path(&format!("{data}/{}", ops::locks::POSTMASTER_PID), l).is_err()
    {
        return Err(ConfigError::key(
            "datastore_locks.data_dir",
            "an absolute, plain directory at least two levels deep (postgres's data directory, such as /hab/svc/builder-datastore/data)",
        ));
    }
    for sock in l.socket_dirs() {
        if sock.is_empty()
            || ops::locks::check_path(&format!("{sock}/.s.PGSQL.5432.lock"), l).is_err()
        {
            return Err(ConfigError::key(
                "datastore_locks.socket_dirs",
                "absolute, plain directories (where postgres keeps its unix sockets, such as /hab/svc/builder-datastore/var)",
            ));
        }
    }
    if l.owners.is_empty() || l.owners.iter().any(|o| ops::locks::check_owner(o).is_err()) {
        return Err(ConfigError::key(
            "datastore_locks.owners",
            "one or more plain user names (who may own a lock file and its directories, such as [\"root\", \"hab\"])",
        ));
    }
    if !(10..=100_000).contains(&l.log_lines) {
        return Err(ConfigError::key(
            "datastore_locks.log_lines",
            "10 to 100000 lines",
        ));
    }
    Ok(())
}

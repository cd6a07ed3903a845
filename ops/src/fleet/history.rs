//! The fleet's history: every change of observed state, kept in the portal's store so that a
//! service page can say "critical since 02:14" after Onwatch itself restarted.
//!
//! A change is about one [`Subject`]: an environment's inventory, a host's Supervisor, one service
//! on a host, or an endpoint probe. In the table the subject is spread over the `host` and
//! `service` columns (see [`Subject::columns`]); that layout predates this type and is kept so
//! that existing stores need no migration.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{Store, StoreError};

/// What a transition is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// The environment's inventory (read again, or failing and kept stale).
    Inventory,
    /// A host's Supervisor: reachable, unreachable, its version.
    Supervisor { host: String },
    /// One service on a host, by service group (`builder-api.live`).
    Service { host: String, service_group: String },
    /// An endpoint probe, by name.
    Probe { name: String },
}

/// How a probe's name is written into the `service` column.
const PROBE_PREFIX: &str = "probe:";

impl Subject {
    pub fn supervisor(host: &str) -> Subject {
        Subject::Supervisor {
            host: host.to_owned(),
        }
    }

    pub fn service(host: &str, service_group: &str) -> Subject {
        Subject::Service {
            host: host.to_owned(),
            service_group: service_group.to_owned(),
        }
    }

    pub fn probe(name: &str) -> Subject {
        Subject::Probe {
            name: name.to_owned(),
        }
    }

    /// The host it concerns, if any.
    pub fn host(&self) -> Option<&str> {
        match self {
            Subject::Supervisor { host } | Subject::Service { host, .. } => Some(host),
            Subject::Inventory | Subject::Probe { .. } => None,
        }
    }

    /// The `(host, service)` columns of the table.
    fn columns(&self) -> (&str, String) {
        match self {
            Subject::Inventory => ("", String::new()),
            Subject::Supervisor { host } => (host, String::new()),
            Subject::Service {
                host,
                service_group,
            } => (host, service_group.clone()),
            Subject::Probe { name } => ("", format!("{PROBE_PREFIX}{name}")),
        }
    }

    /// The subject the `(host, service)` columns stand for.
    fn from_columns(host: String, service: String) -> Subject {
        match (host.is_empty(), service.is_empty()) {
            (true, true) => Subject::Inventory,
            (false, true) => Subject::Supervisor { host },
            (true, false) => match service.strip_prefix(PROBE_PREFIX) {
                Some(name) => Subject::Probe {
                    name: name.to_owned(),
                },
                // Not written by Onwatch; shown as a service of no host rather than dropped.
                None => Subject::Service {
                    host,
                    service_group: service,
                },
            },
            (false, false) => Subject::Service {
                host,
                service_group: service,
            },
        }
    }
}

/// A change of observed state of one subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub environment: String,
    pub subject: Subject,
    /// `None` when the subject was first seen.
    pub from_state: Option<String>,
    pub to_state: String,
    pub detail: String,
    pub at_ms: i64,
}

impl Transition {
    pub fn new(
        environment: &str,
        subject: Subject,
        from: Option<&str>,
        to: &str,
        detail: &str,
        at_ms: i64,
    ) -> Transition {
        Transition {
            environment: environment.to_owned(),
            subject,
            from_state: from.map(str::to_owned),
            to_state: to.to_owned(),
            detail: detail.to_owned(),
            at_ms,
        }
    }
}

/// The history table of the portal's store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct History {
    store: Store,
}

impl History {
    pub fn new(store: Store) -> History {
        History { store }
    }

    /// Writes a batch of transitions in one transaction: all of them or none.
    pub async fn record(&self, transitions: &[Transition]) -> Result<(), StoreError> {
        if transitions.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        for t in transitions {
            let (host, service) = t.subject.columns();
            sqlx::query(
                "INSERT INTO service_transitions \
                 (environment, host, service, from_state, to_state, detail, at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&t.environment)
            .bind(host)
            .bind(service)
            .bind(t.from_state.as_deref())
            .bind(&t.to_state)
            .bind(&t.detail)
            .bind(t.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` transitions of one subject, newest first.
    pub async fn of(
        &self,
        environment: &str,
        subject: &Subject,
        limit: i64,
    ) -> Result<Vec<Transition>, StoreError> {
        let (host, service) = subject.columns();
        let rows = sqlx::query(
            "SELECT environment, host, service, from_state, to_state, detail, at_ms \
             FROM service_transitions \
             WHERE environment = $1 AND host = $2 AND service = $3 \
             ORDER BY at_ms DESC, id DESC LIMIT $4",
        )
        .bind(environment)
        .bind(host)
        .bind(service)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The last recorded state of every subject: what the fleet looked like when Onwatch stopped.
    pub async fn last_states(&self) -> Result<Vec<Transition>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.environment, t.host, t.service, t.from_state, t.to_state, t.detail, t.at_ms \
             FROM service_transitions t \
             JOIN (SELECT MAX(id) AS id FROM service_transitions \
                   GROUP BY environment, host, service) latest ON latest.id = t.id \
             ORDER BY t.environment, t.host, t.service",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Deletes transitions older than `before_ms`, except the newest one of each subject (so the
    /// "since" of a long-stable service is never lost). Returns how many rows went.
    pub async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM service_transitions WHERE at_ms < $1 AND id NOT IN \
             (SELECT MAX(id) FROM service_transitions GROUP BY environment, host, service)",
        )
        .bind(before_ms)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

impl History {
    /// Prunes rows (and watch periods) older than `retention` every hour until shutdown.
    pub async fn run_retention(
        self,
        retention: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        loop {
            let cutoff = crate::time::now_ms().saturating_sub(retention_ms);
            match self.prune(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "pruned old service history"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot prune service history"),
            }
            // The watch periods go with the history they explain.
            if let Err(e) = super::WatchLog::new(self.store.clone()).prune(cutoff).await {
                tracing::warn!(error = %e, "cannot prune old watch periods");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Transition, StoreError> {
    Ok(Transition {
        environment: row.try_get("environment")?,
        subject: Subject::from_columns(row.try_get("host")?, row.try_get("service")?),
        from_state: row.try_get("from_state")?,
        to_state: row.try_get("to_state")?,
        detail: row.try_get("detail")?,
        at_ms: row.try_get("at_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_survives_the_columns() {
        for s in [
            Subject::Inventory,
            Subject::supervisor("api-1"),
            Subject::service("api-1", "builder-api.live"),
            Subject::probe("live-depot-core"),
        ] {
            let (host, service) = s.columns();
            assert_eq!(Subject::from_columns(host.to_owned(), service), s);
        }
        assert_eq!(
            Subject::probe("x").columns(),
            ("", "probe:x".to_owned()),
            "the layout existing stores hold"
        );
    }
}

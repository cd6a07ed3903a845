//! When Onwatch itself was watching the fleet. Each running process keeps one row of
//! `watch_periods` alive with a heartbeat and closes it on a clean shutdown. A stretch that no
//! period covers is a *gap*: nothing was seen then, so a service page shows it between the
//! changes, and a change recorded right after a gap reads as "found changed", not "changed now".

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{Store, StoreError};

/// How often a running Onwatch proves in the store that it is still watching. A crash is then
/// placed at most this long after the last proof.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// A stretch of time when no Onwatch process was watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The last moment a process was known to be watching (its shutdown, or its last heartbeat
    /// when it stopped without one: a crash or a kill).
    pub from_ms: i64,
    /// When the next process started watching.
    pub to_ms: i64,
    /// Whether the process before the gap shut down cleanly (otherwise `from_ms` is its last
    /// heartbeat and it may have watched up to [`HEARTBEAT`] longer).
    pub clean: bool,
}

/// One process's period, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub started_ms: i64,
    pub alive_ms: i64,
    pub ended_ms: Option<i64>,
}

/// The gaps between `periods` that touch `[from_ms, now_ms]`. A period that did not end and
/// whose heartbeat is recent (within two heartbeats) is still running: it covers up to now. The
/// time before the first period is not a gap (Onwatch did not exist yet), nor is a stretch
/// shorter than `min_ms` (a restart's second).
pub fn gaps(periods: &[Period], from_ms: i64, now_ms: i64, min_ms: i64) -> Vec<Gap> {
    let alive_window = 2 * HEARTBEAT.as_millis() as i64;
    let mut spans: Vec<(i64, i64, bool)> = periods
        .iter()
        .map(|p| match p.ended_ms {
            Some(end) => (p.started_ms, end.max(p.started_ms), true),
            None if now_ms - p.alive_ms <= alive_window => (p.started_ms, now_ms, true),
            None => (p.started_ms, p.alive_ms.max(p.started_ms), false),
        })
        .collect();
    spans.sort_by_key(|s| s.0);
    let mut out = Vec::new();
    let mut covered: Option<(i64, bool)> = None;
    for (start, end, clean) in spans {
        match covered {
            Some((until, was_clean)) if start > until => {
                if start - until >= min_ms && start >= from_ms && until <= now_ms {
                    out.push(Gap {
                        from_ms: until,
                        to_ms: start,
                        clean: was_clean,
                    });
                }
                covered = Some((end, clean));
            }
            Some((until, was_clean)) => {
                if end > until {
                    covered = Some((end, clean));
                } else {
                    covered = Some((until, was_clean));
                }
            }
            None => covered = Some((end, clean)),
        }
    }
    // Nobody is watching now (every period ended or went silent): that is a gap up to now.
    if let Some((until, clean)) = covered {
        if now_ms - until >= min_ms && until < now_ms {
            out.push(Gap {
                from_ms: until,
                to_ms: now_ms,
                clean,
            });
        }
    }
    out
}

/// The `watch_periods` table.
#[derive(Debug, Clone)]
pub struct WatchLog {
    store: Store,
}

impl WatchLog {
    pub fn new(store: Store) -> WatchLog {
        WatchLog { store }
    }

    /// Starts this process's period.
    pub async fn begin(&self, now_ms: i64) -> Result<Watching, StoreError> {
        let id = crate::auth::random_token();
        sqlx::query("INSERT INTO watch_periods (id, started_ms, alive_ms) VALUES ($1, $2, $2)")
            .bind(&id)
            .bind(now_ms)
            .execute(self.store.pool())
            .await?;
        Ok(Watching {
            id,
            log: self.clone(),
        })
    }

    /// The gaps touching `[from_ms, now_ms]` (see [`gaps`]).
    pub async fn gaps(&self, from_ms: i64, now_ms: i64) -> Result<Vec<Gap>, StoreError> {
        // Periods that ended (or went silent) before `from_ms` matter only through the latest
        // of them, which bounds the first gap; older rows are not read.
        let rows = sqlx::query(
            "SELECT started_ms, alive_ms, ended_ms FROM watch_periods \
             WHERE COALESCE(ended_ms, alive_ms) >= $1 \
                OR started_ms = (SELECT MAX(started_ms) FROM watch_periods WHERE started_ms < $1) \
             ORDER BY started_ms",
        )
        .bind(from_ms)
        .fetch_all(self.store.pool())
        .await?;
        let periods = rows
            .iter()
            .map(|r| {
                Ok(Period {
                    started_ms: r.try_get("started_ms")?,
                    alive_ms: r.try_get("alive_ms")?,
                    ended_ms: r.try_get("ended_ms")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(gaps(&periods, from_ms, now_ms, 1_000))
    }

    /// Deletes periods that ended before `before_ms`, keeping the newest (it bounds the next gap).
    pub async fn prune(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM watch_periods WHERE COALESCE(ended_ms, alive_ms) < $1 \
             AND started_ms < (SELECT MAX(started_ms) FROM watch_periods)",
        )
        .bind(before_ms)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

/// This process's open period.
#[derive(Debug)]
pub struct Watching {
    id: String,
    log: WatchLog,
}

impl Watching {
    /// Proves the period alive up to `now_ms`.
    pub async fn alive(&self, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE watch_periods SET alive_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(&self.id)
            .execute(self.log.store.pool())
            .await?;
        Ok(())
    }

    /// Closes the period (a clean shutdown).
    pub async fn end(&self, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE watch_periods SET alive_ms = $1, ended_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(&self.id)
            .execute(self.log.store.pool())
            .await?;
        Ok(())
    }

    /// Beats every [`HEARTBEAT`] until shutdown, then closes the period. A failed write is
    /// logged and retried at the next beat: the worst outcome is a gap shown that was not one.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            // The guard `wait_for` returns is not `Send`: dropped inside its own future.
            let stopping = async {
                let _ = shutdown.wait_for(|s| *s).await;
            };
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => {}
                _ = stopping => break,
            }
            if let Err(e) = self.alive(crate::time::now_ms()).await {
                tracing::warn!(error = %e, "cannot record that Onwatch is watching");
            }
        }
        if let Err(e) = self.end(crate::time::now_ms()).await {
            tracing::warn!(error = %e, "cannot record the end of this watch period");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(start: i64, end: i64) -> Period {
        Period {
            started_ms: start,
            alive_ms: end,
            ended_ms: Some(end),
        }
    }

    fn crashed(start: i64, alive: i64) -> Period {
        Period {
            started_ms: start,
            alive_ms: alive,
            ended_ms: None,
        }
    }

    #[test]
    fn a_stretch_between_periods_is_a_gap_and_a_crash_counts_from_its_last_heartbeat() {
        let now = 1_000_000;
        let running = crashed(600_000, now - 5_000);
        let g = gaps(
            &[ended(100_000, 200_000), crashed(300_000, 400_000), running],
            0,
            now,
            1_000,
        );
        assert_eq!(
            g,
            vec![
                Gap {
                    from_ms: 200_000,
                    to_ms: 300_000,
                    clean: true
                },
                Gap {
                    from_ms: 400_000,
                    to_ms: 600_000,
                    clean: false
                },
            ]
        );
    }

    #[test]
    fn overlapping_replicas_leave_no_gap_and_short_restarts_are_not_gaps() {
        let now = 1_000_000;
        let g = gaps(
            &[
                ended(100_000, 500_000),
                ended(200_000, 300_000),
                ended(500_400, 900_000),
                crashed(899_000, now),
            ],
            0,
            now,
            1_000,
        );
        assert!(g.is_empty(), "{g:?}");
    }

    #[test]
    fn nobody_watching_now_is_a_gap_up_to_now_and_old_gaps_are_left_out() {
        let now = 1_000_000;
        let periods = [ended(100_000, 200_000), crashed(300_000, 500_000)];
        let g = gaps(&periods, 350_000, now, 1_000);
        assert_eq!(
            g,
            vec![Gap {
                from_ms: 500_000,
                to_ms: now,
                clean: false
            }],
            "the gap before 350 000 is older than asked"
        );
        assert!(gaps(&[], 0, now, 1_000).is_empty(), "no period, no gap");
    }
}

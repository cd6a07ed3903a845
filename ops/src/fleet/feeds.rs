//! What feeds the fleet model besides the poller: the inventory (which hosts exist) and the
//! endpoint probes, each read on its own interval until shutdown. Beside [`super::poller`] so
//! that everything that writes into the [`FleetModel`] is in one folder.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::FleetModel;
use crate::inventory::{InventoryError, InventorySource};
use crate::probe::{self, ProbeSpec, ProbeStatus};

/// Reads the inventory once and folds the result into the model. A failure keeps the last good
/// hosts, marked stale with the error. Returns how many hosts were read.
pub async fn refresh_inventory(
    source: &dyn InventorySource,
    model: &FleetModel,
) -> Result<usize, InventoryError> {
    let now = crate::time::now_ms();
    match source.fetch().await {
        Ok(read) => {
            let n = read.host_count();
            model.set_inventory(&source.describe(), read, now);
            Ok(n)
        }
        Err(e) => {
            tracing::warn!(source = %source.describe(), error = %e, "inventory read failed");
            model.inventory_failed(&source.describe(), &e.to_string(), now);
            Err(e)
        }
    }
}

/// The wait before the next inventory read: `every` while reads succeed; after a failure
/// (throttling, say) sooner, backing off — 10 s, 20 s, … — but never longer than `every`.
pub fn inventory_wait(every: Duration, failures: u32) -> Duration {
    if failures == 0 {
        every
    } else {
        (Duration::from_secs(5) * (1u32 << failures.min(6))).min(every)
    }
}

/// Reads the inventory every `every` until shutdown (the first read is the caller's, so that the
/// first page already shows hosts).
pub async fn run_inventory(
    source: Arc<dyn InventorySource>,
    model: Arc<FleetModel>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(inventory_wait(every, failures)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        match refresh_inventory(source.as_ref(), &model).await {
            Ok(_) => failures = 0,
            Err(_) => failures = failures.saturating_add(1),
        }
    }
}

/// Checks every probe on its interval until shutdown, publishing results into the model.
pub async fn run_probes(
    specs: Vec<ProbeSpec>,
    model: Arc<FleetModel>,
    shutdown: watch::Receiver<bool>,
) {
    let client = match probe::http_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the probe HTTP client; probes are off");
            return;
        }
    };
    let mut tasks = Vec::new();
    for spec in specs {
        let client = client.clone();
        let model = model.clone();
        let mut shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let mut status = ProbeStatus::new(&spec);
            loop {
                let r = probe::check(&client, &spec).await;
                status.push(r);
                model.set_probe(status.clone());
                tokio::select! {
                    _ = tokio::time::sleep(spec.interval) => {}
                    _ = shutdown.wait_for(|s| *s) => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_backs_off_after_failures_but_never_past_its_interval() {
        let every = Duration::from_secs(60);
        assert_eq!(inventory_wait(every, 0), every);
        assert_eq!(inventory_wait(every, 1), Duration::from_secs(10));
        assert_eq!(inventory_wait(every, 2), Duration::from_secs(20));
        assert_eq!(inventory_wait(every, 5), every);
        assert_eq!(inventory_wait(every, u32::MAX), every);
    }
}

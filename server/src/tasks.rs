//! Every piece of background work Onwatch does, by name, started through one registry.
//!
//! A task is a loop that runs until Onwatch stops: the inventory refresher, the poller, the
//! sweeper of interrupted changes, the Statuspage publisher, the on-call chores, … Each has a
//! name (in its log lines, in the list logged at start) and says whether one replica at a time
//! is enough for it: work whose effect lives in the shared store (marking interrupted changes,
//! publishing to Statuspage, keeping handoffs, signing checkpoints, pruning) needs doing once,
//! not once per replica; a replica's own view of the fleet (inventory, poller, probes) is per
//! replica. Several replicas on one store (the next issue) hand the first kind to one replica
//! at a time here, in one place.
//!
//! Each task is also told when to stop by the registry, in one of two phases: with the requests
//! (when Onwatch stops serving), or last (the fleet's loops, which a running change still reads
//! until it has finished and been audited).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Onwatch's background tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Task {
    /// Reads where the hosts are (EC2 or the fleet file) at an interval.
    Inventory,
    /// Polls every Supervisor's gateway.
    Poller,
    /// Probes the Builder API and other endpoints.
    Probes,
    /// Records the period this process watched the fleet (service pages show the gaps).
    Watching,
    /// Prunes the fleet's history past its retention.
    Retention,
    /// Marks changes whose holder stopped renewing its lease as interrupted.
    Sweeper,
    /// Signs the audit chain's head at an interval.
    Checkpoints,
    /// Publishes incident updates to Statuspage.
    Statuspage,
    /// Who is on call for the header, the kept handoffs, who is scheduled but not ready.
    OncallChores,
    /// Deletes expired sessions.
    SessionCleanup,
}

/// When a task is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// When Onwatch stops serving requests.
    WithRequests,
    /// After the running changes have finished and been audited.
    Last,
}

impl Task {
    pub const ALL: [Task; 10] = [
        Task::Inventory,
        Task::Poller,
        Task::Probes,
        Task::Watching,
        Task::Retention,
        Task::Sweeper,
        Task::Checkpoints,
        Task::Statuspage,
        Task::OncallChores,
        Task::SessionCleanup,
    ];

    /// The name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Task::Inventory => "inventory",
            Task::Poller => "poller",
            Task::Probes => "probes",
            Task::Watching => "watching",
            Task::Retention => "history-retention",
            Task::Sweeper => "sweeper",
            Task::Checkpoints => "audit-checkpoints",
            Task::Statuspage => "statuspage",
            Task::OncallChores => "oncall-chores",
            Task::SessionCleanup => "session-cleanup",
        }
    }

    /// Whether one replica at a time is enough: the task's effect is in the shared store, so a
    /// second replica doing it too would at best repeat it (a second Statuspage post, a second
    /// page about the same unready engineer).
    pub fn one_at_a_time(self) -> bool {
        match self {
            // Each replica's own view of the fleet, and its own watched period.
            Task::Inventory | Task::Poller | Task::Probes | Task::Watching => false,
            Task::Retention
            | Task::Sweeper
            | Task::Checkpoints
            | Task::Statuspage
            | Task::OncallChores
            | Task::SessionCleanup => true,
        }
    }

    /// When it is told to stop: the fleet's loops last, since a change still running reads the
    /// fleet to see its effect.
    pub fn phase(self) -> Phase {
        match self {
            Task::Inventory | Task::Poller | Task::Probes | Task::Watching | Task::Retention => {
                Phase::Last
            }
            Task::Sweeper
            | Task::Checkpoints
            | Task::Statuspage
            | Task::OncallChores
            | Task::SessionCleanup => Phase::WithRequests,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The running tasks, and the two signals that stop them.
pub struct Tasks {
    with_requests: watch::Receiver<bool>,
    last: watch::Sender<bool>,
    running: Vec<(Task, JoinHandle<()>)>,
}

impl Tasks {
    /// A registry whose [`Phase::WithRequests`] tasks stop when `stopping` turns true.
    pub fn new(stopping: watch::Receiver<bool>) -> Tasks {
        Tasks {
            with_requests: stopping,
            last: watch::channel(false).0,
            running: Vec::new(),
        }
    }

    /// Starts `task`: `work` is given the signal of the task's phase and runs until it turns
    /// true. A task is started at most once (a second start is a bug, refused loudly rather
    /// than running the work twice).
    pub fn start<F, W>(&mut self, task: Task, work: W)
    where
        W: FnOnce(watch::Receiver<bool>) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        if self.is_running(task) {
            tracing::error!(
                task = task.name(),
                "a task was started twice; the second is not run"
            );
            return;
        }
        let stop = match task.phase() {
            Phase::WithRequests => self.with_requests.clone(),
            Phase::Last => self.last.subscribe(),
        };
        let span = tracing::info_span!("task", name = task.name());
        let handle = tokio::spawn(work(stop).instrument(span));
        self.running.push((task, handle));
    }

    pub fn is_running(&self, task: Task) -> bool {
        self.running.iter().any(|(t, _)| *t == task)
    }

    /// The tasks started, in the order they were.
    pub fn started(&self) -> Vec<Task> {
        self.running.iter().map(|(t, _)| *t).collect()
    }

    /// Waits up to `within` for the tasks of `phase` (told to stop already, for
    /// [`Phase::WithRequests`]; told here, for [`Phase::Last`]) and aborts those still running,
    /// naming them. A task that ended with a panic is named too.
    pub async fn stop(&mut self, phase: Phase, within: Duration) {
        if phase == Phase::Last {
            let _ = self.last.send(true);
        }
        let deadline = tokio::time::Instant::now() + within;
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|(t, _)| t.phase() == phase);
        self.running = rest;
        for (task, mut handle) in mine {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_panic() => {
                    tracing::error!(task = task.name(), "the task had ended with a panic")
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    tracing::warn!(
                        task = task.name(),
                        ?within,
                        "the task did not stop in time; cut off"
                    );
                    handle.abort();
                }
            }
        }
    }

    /// Waits until `task` ends by itself (tests: a task that must finish, such as the
    /// checkpointer's last interval), up to `within`; `false` if it did not.
    pub async fn join(&mut self, task: Task, within: Duration) -> bool {
        let Some(i) = self.running.iter().position(|(t, _)| *t == task) else {
            return true;
        };
        let (_, mut handle) = self.running.remove(i);
        match tokio::time::timeout(within, &mut handle).await {
            Ok(_) => true,
            Err(_) => {
                handle.abort();
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_a_distinct_name() {
        let names: std::collections::BTreeSet<_> = Task::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), Task::ALL.len());
    }

    #[tokio::test]
    async fn each_phase_stops_only_its_own_tasks() {
        let (stopping_tx, stopping_rx) = watch::channel(false);
        let mut tasks = Tasks::new(stopping_rx);
        let (ended_tx, mut ended) = tokio::sync::mpsc::unbounded_channel();
        for task in [Task::Sweeper, Task::Poller] {
            let ended_tx = ended_tx.clone();
            tasks.start(task, move |mut stop| async move {
                let _ = stop.wait_for(|s| *s).await;
                let _ = ended_tx.send(task);
            });
        }
        // Started twice: refused, so nothing runs the work a second time.
        tasks.start(Task::Sweeper, |_| async { panic!("started twice") });
        assert_eq!(tasks.started(), vec![Task::Sweeper, Task::Poller]);

        stopping_tx.send(true).unwrap();
        tasks
            .stop(Phase::WithRequests, Duration::from_secs(5))
            .await;
        assert_eq!(ended.recv().await, Some(Task::Sweeper));
        // The fleet's loops are still running: a change that is finishing can still read it.
        assert!(tasks.is_running(Task::Poller));
        assert!(ended.try_recv().is_err());

        tasks.stop(Phase::Last, Duration::from_secs(5)).await;
        assert_eq!(ended.recv().await, Some(Task::Poller));
        assert!(tasks.started().is_empty());
    }

    #[tokio::test]
    async fn a_task_that_does_not_stop_is_cut_off() {
        let (_tx, rx) = watch::channel(false);
        let mut tasks = Tasks::new(rx);
        tasks.start(Task::Probes, |_stop| std::future::pending::<()>());
        // Bounded: a task that ignores its signal cannot hold the exit hostage.
        tasks.stop(Phase::Last, Duration::from_millis(50)).await;
        assert!(!tasks.is_running(Task::Probes));
    }
}

//! What each kind of change does once every guard passed: a [`Procedure`]. The pipeline
//! ([`super::submit`]) knows nothing of restarts, lock files or builds; it asks [`Kinds`] for the
//! procedure of a request, records what the procedure says it will do, and runs it with a
//! [`Sink`] for its output.

use std::future::Future;
use std::pin::Pin;

use super::guards::Verdict;
use super::request::{ActionKind, ActionRequest, Target};
use super::sink::Sink;

/// A future a procedure returns (no `async-trait` in the tree: boxed by hand).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a procedure went, for the outcome row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// "healthy again after 14 s"
    pub summary: String,
    /// From the first command sent to the executor's word that it is done (the Supervisor
    /// reporting the new process up, the job group ending).
    pub supervisor_ms: u64,
    /// From then to the fleet model seeing it healthy.
    pub health_ms: u64,
}

/// Why a procedure stopped short, in words for the page and the outcome row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failed {
    /// A step did not go as it should: the executor, the host or a peer said no, or the time
    /// limit passed.
    #[error("{0}")]
    Step(String),
    /// This process no longer holds the change, or the store cannot confirm that it does, or a
    /// person asked to cancel it (the pipeline records that end as `cancelled`): nothing more
    /// is sent.
    #[error("{0}")]
    Hold(String),
}

impl From<String> for Failed {
    fn from(why: String) -> Failed {
        Failed::Step(why)
    }
}

/// One kind's own work, judged and ready to run.
pub trait Procedure: Send + Sync {
    /// How it reaches production, in words (`control gateway`, `ssh`, `builder api`).
    fn executor(&self) -> &'static str;

    /// What it will do and where, for the intent row (no secret in it).
    fn detail(&self) -> serde_json::Value;

    /// The secrets it sends, redacted from its output.
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }

    /// A guard of its own that needs production to answer (a lock-file removal reads the log
    /// again): asked only when every other guard let the request through.
    fn check<'a>(&'a self, _request: &'a ActionRequest) -> BoxFuture<'a, Option<Verdict>> {
        Box::pin(async { None })
    }

    /// Does it, writing what happens into `sink`.
    fn run<'a>(&'a self, sink: &'a Sink) -> BoxFuture<'a, Result<Ran, Failed>>;
}

/// Turns a request into its kind's procedure: the target as the fleet (or the configuration)
/// knows it now, with its executor; or the verdict that refuses it (`target`: unknown;
/// `executor`: Onwatch cannot reach it), saying what to do.
pub trait Kinds: Send + Sync {
    fn resolve(
        &self,
        kind: ActionKind,
        target: &Target,
        paths: &[String],
    ) -> Result<Box<dyn Procedure>, Verdict>;
}

//! Every change Onwatch makes, to production or to the team's own records, goes through here:
//! it is written to the audit log as an attempt before anything changes, and then as exactly
//! one outcome (done, or refused with the guard that refused it and why).
//!
//! A change that cannot go ahead ends in one of two ways, and they are different things:
//! [`Error::Refused`], a rule said no (nothing changed; the person can act on why), and
//! [`Error::Store`], the store did not answer (nothing changed that the log does not hold; try
//! again). Neither is a `String`: the caller decides what to say, and the status it answers.

use serde::{Deserialize, Serialize};

use crate::store::Store;
use crate::store::StoreError;

pub mod record;

pub use record::{record, Attempt, Done};

/// A rule said no: which guard (a short stable name: `role`, `lock`, `cooldown`, `shift`, …),
/// and why, in a sentence that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{why}")]
pub struct Refusal {
    pub guard: String,
    pub why: String,
}

impl Refusal {
    pub fn new(guard: &str, why: impl Into<String>) -> Refusal {
        Refusal {
            guard: guard.to_owned(),
            why: why.into(),
        }
    }
}

/// Why a change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A guard refused it: nothing changed.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The store (or the audit log in it) did not answer: nothing changed that the log does
    /// not hold. Not the person's fault; trying again may work.
    #[error("the store did not answer ({0}); nothing was changed: try again")]
    Store(#[from] StoreError),
}

impl Error {
    /// Shorthand for a refusal by `guard`.
    pub fn refused(guard: &str, why: impl Into<String>) -> Error {
        Error::Refused(Refusal::new(guard, why))
    }

    /// The refusal, if this is one (not a store fault).
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Error::Refused(r) => Some(r),
            Error::Store(_) => None,
        }
    }

    /// The HTTP status that fits: 409 for a refusal (the request was understood, a rule said
    /// no), 503 for a store that did not answer.
    pub fn status(&self) -> u16 {
        match self {
            Error::Refused(_) => 409,
            Error::Store(_) => 503,
        }
    }
}

// The pipeline of a change to production: the request and its kinds, the guards, the ledger
// (the `actions` table: state, holder, lease, output), the output sink, the protocol of
// `submit`, each kind's `Procedure`, and the sweeper.
pub mod cancel;
pub mod guards;
pub mod ledger;
pub mod preview;
pub mod procedure;
pub mod request;
pub mod sink;
pub mod submit;
pub mod sweeper;

pub use guards::{Verdict, VerdictLevel};
pub use preview::Preview;
pub use procedure::{BoxFuture, Failed, Kinds, Procedure, Ran};
pub use request::{ActionKind, ActionRequest, ActionState, ActionsOptions, Target};
pub use sink::{ActionProgress, Sink};
pub use submit::{Pipeline, Submitted};

/// A refusal as the sentence a page shows (its `why`).
impl From<Refusal> for String {
    fn from(r: Refusal) -> String {
        r.why
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        Error::Store(StoreError::from(e))
    }
}

/// Runs a guarded write (an `UPDATE … WHERE id = … AND state = …`) that must touch exactly one
/// row; when it touches none the change was refused (no such row, or someone changed it
/// first), and `refused` says by which guard and why.
pub async fn one<'q>(
    store: &Store,
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    refused: impl FnOnce() -> Refusal,
) -> Result<(), Error> {
    let done = q.execute(store.pool()).await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(Error::Refused(refused()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_fault_is_not_a_refusal() {
        let e = Error::from(StoreError::Corrupt("x".into()));
        assert!(e.refusal().is_none());
        assert_eq!(e.status(), 503);
        let r = Error::refused("shift", "not your shift");
        assert_eq!(r.refusal().map(|r| r.guard.as_str()), Some("shift"));
        assert_eq!(r.status(), 409);
        assert_eq!(r.to_string(), "not your shift");
    }
}

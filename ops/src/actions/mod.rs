//! Restarts, the production actions of the Supervisors and the sentinel: one service through the
//! control gateway, a Supervisor or the sentinel over SSH, each waiting until the fleet shows it
//! healthy ([`restart`]); and whether the sentinel runs ([`sentinel`]).
//!
//! The protocol every change goes through (guards, lock, cooldown, intent, outcome) is
//! [`crate::change`]; the executors' access per environment is [`crate::access`]. This module
//! also assembles the pipeline: [`Procedures`] turns a request into the kind's own
//! [`crate::change::Procedure`] (restarts from here, lock-file removal from [`crate::locks`],
//! build requests from [`crate::builds`]).

pub mod restart;
pub mod sentinel;

mod assemble;

pub use assemble::{pipeline, Procedures};

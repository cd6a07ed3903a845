//! Onwatch's domain crate: everything an on-call portal knows and does, free of any web framework
//! so that it can be tested with `cargo test -p ops` alone.
//!
//! One module per capability: [`store`] is the portal's own database (SQLite or Postgres).

pub mod auth;
pub mod catalog;
pub mod fleet;
pub mod inventory;
pub mod probe;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod supervisor;
pub mod time;

/// Helpers for the test-suites of this and the other crates (throwaway Postgres databases).
pub mod testkit;

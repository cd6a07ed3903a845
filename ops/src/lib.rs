//! Onwatch's domain crate: everything an on-call portal knows and does, free of any web framework
//! so that it can be tested with `cargo test -p ops` alone.
//!
//! One module per capability, each owning its types and its queries. No module imports one that
//! imports it back: `actions` reads `fleet`, `supervisor`, `audit` and `store`; `fleet` reads
//! `inventory`, `probe` and `supervisor`; `auth`, `audit` and `fleet::history` store their rows
//! through `store`; nothing below imports `actions` or `fleet`. The team's capabilities sit on
//! top: `oncall` (the rotation and handoffs) reads `incidents` and `fleet`; `onboarding` reads the
//! actions' rows through `store`; `incidents` reads `catalog` and `store`, and nothing of theirs.

/// Guarded actions on the fleet: guards, locks, cooldowns, executors, live progress.
pub mod actions;
/// The append-only, hash-chained audit log.
pub mod audit;
/// Sign-in: providers (GitHub, OIDC), roles and their rules, sessions and their cache.
pub mod auth;
/// Build requests through the Builder API, followed to the new release on the Supervisors.
pub mod builds;
/// What the on-call engineer knows about each Builder service: role, symptoms, remedies.
pub mod catalog;
/// The one way a change is made: attempt audited first, then exactly one outcome; the refusal
/// type every change shares.
pub mod change;
/// The shard console: read-only SQL over the builder datastore, audited.
pub mod console;
/// The fleet model, the poller and its feeds (inventory, probes), alarms, the dashboard's
/// policy, and the history of state changes.
pub mod fleet;
pub mod header;
/// Incidents: declared, owned, updated on the status page, their timeline, rules broken and
/// their cleanup, and whom to call.
pub mod incidents;
/// Where the hosts are: EC2 by the `X-Environment` tag, or a static fleet file.
pub mod inventory;
/// The datastore's stale lock files: read from its log, looked at, removed under guard.
pub mod locks;
/// Host logs over SSH (`journalctl -f`), bounded and audited.
pub mod logs;
/// The onboarding checklist: items, ticks, and the checks Onwatch makes itself.
pub mod onboarding;
/// The on-call team: the rotation, overrides, PagerDuty, iCal feeds, handoff summaries.
pub mod oncall;
/// Each person's own settings (the time zone the pages speak to them).
pub mod prefs;
/// Endpoint probes in the style of Pingdom.
pub mod probe;
/// Secrets held for others, read from their files at each use.
pub mod secret;
/// The portal's own store: the pool, its backend (SQLite or Postgres) and the migrations.
pub mod store;
/// A Habitat Supervisor: its vocabulary, its HTTP gateway and its control gateway.
pub mod supervisor;
/// Text from outside on its way into the store: bounded, and saying so when cut.
pub mod text;
/// Clock helpers.
pub mod time;

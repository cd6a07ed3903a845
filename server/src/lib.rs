//! The Onwatch server: configuration, the axum router with Leptos server-side rendering, and
//! operability (`/healthz`, `/metrics`, graceful shutdown). `main.rs` is a thin CLI over this.

pub mod actions;
pub mod assets;
pub mod auth;
pub mod config;
pub mod console;
pub mod edge;
pub mod events;
pub mod fleet;
pub mod headers;
pub mod incidents;
pub mod logs;
pub mod metrics;
pub mod oncall;
pub mod page_cache;
pub mod scrape;
pub mod serve;
pub mod startup;
pub mod state;
pub mod streams;
pub mod tasks;
pub mod telemetry;

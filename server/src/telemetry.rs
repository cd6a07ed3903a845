//! Logging, set up once per process.

use tracing_subscriber::EnvFilter;

/// Installs the global `tracing` subscriber. `RUST_LOG` wins over the configured filter. Calling
/// it again (as the tests do) is harmless.
pub fn init(filter: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

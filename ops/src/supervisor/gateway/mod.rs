//! The Supervisor's HTTP gateway (default port 9631): `/services`, `/services/{svc}/{group}/health`,
//! `/census`, `/butterfly`. Read-only; optional bearer token and TLS.
//!
//! In layers: [`wire`] is what the gateway sends and how it parses (no I/O), [`client`] fetches
//! it. Every failure — refused connection, timeout, 401, 503, a body that is not the JSON we
//! expect — becomes a [`GatewayError`] with the reason. Nothing here panics on what a host sends.

pub mod client;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use client::{GatewayClient, GatewayClientOptions, GatewayTarget, ServicesBody};
pub use wire::{
    parse_census, parse_census_summary, parse_health, parse_service_records, parse_services,
    CensusMember, CensusSummary, HealthReport, ServiceRecord, ServiceStatus, MAX_FIELD_BYTES,
    MAX_SERVICES,
};

/// The largest body we accept from a gateway. A Supervisor with a few services sends a few KB per
/// service; anything this large is a wrong endpoint or an attack.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum GatewayError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("HTTP 401: the gateway wants a bearer token (set the environment's supervisor token)")]
    Unauthorized,
    #[error("HTTP 404: not found (service not loaded, or the gateway redacts this endpoint)")]
    NotFound,
    #[error("HTTP {status}: {reason}")]
    Status { status: u16, reason: String },
    #[error("unexpected response body: {0}")]
    Garbage(String),
    #[error("response larger than {} MiB", MAX_BODY_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("bad gateway address `{0}`")]
    BadAddress(String),
}

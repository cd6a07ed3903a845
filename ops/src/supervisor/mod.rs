//! Clients for a Habitat Supervisor: the HTTP gateway (port 9631, read-only) and the control
//! gateway (port 9632, `hab svc stop/start`).

pub mod ctl;
pub mod gateway;

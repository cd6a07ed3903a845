//! A Habitat Supervisor as Onwatch sees it: its vocabulary ([`habitat`]), its HTTP gateway
//! (port 9631, read-only: [`gateway`]) and its control gateway (port 9632, `hab svc
//! stop/start`: [`ctl`]).

pub mod ctl;
pub mod gateway;
pub mod habitat;

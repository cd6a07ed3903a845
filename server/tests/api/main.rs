//! Integration tests: the real server on a random port, on SQLite and on Postgres.
//! One test binary (modules below) so that the server is linked once.

mod actions;
mod audit;
mod audit_visibility;
mod auth;
mod auth_github;
mod auth_oidc;
mod builds;
mod cli;
mod console;
mod delivery;
mod dom;
mod fake_github;
mod fleet;
mod health;
mod helpers;
mod incidents;
mod locks;
mod logs;
mod onboarding;
mod oncall;
mod pagerduty;
mod pages;
mod shutdown;
mod slow_clients;
mod statuspage;
mod zones;

//! Where the hosts are: EC2 instances by their `X-Environment` tag, or a static fleet file.
//! Both sit behind [`InventorySource`]; `fleet::feeds` folds each read into the fleet model,
//! keeping the last good inventory (marked stale) when a read fails.

pub mod ec2;
pub mod static_file;

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A machine that runs a Supervisor (or, for the sentinel bot, a systemd unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub environment: String,
    /// The `Name` tag, or the name in the fleet file. Unique within an environment.
    pub name: String,
    pub instance_id: Option<String>,
    /// What Onwatch connects to: the private IP by default.
    pub address: String,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    /// EC2 instance state (`running`, `stopped`, …); `None` for a static host.
    pub state: Option<String>,
    /// RFC 3339.
    pub launch_time: Option<String>,
    pub gateway_port: u16,
    pub ctl_port: u16,
    /// EC2 tags, or the fleet file's labels.
    pub labels: BTreeMap<String, String>,
}

impl Host {
    /// Only running instances are polled (a stopped instance is shown as such, not as down).
    pub fn is_running(&self) -> bool {
        self.state.as_deref().is_none_or(|s| s == "running")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error(
        "AWS throttled the request ({0}); the last good inventory is kept, retrying with backoff"
    )]
    Throttled(String),
    #[error("AWS refused the credentials ({0}); check the instance role or AWS_PROFILE")]
    Auth(String),
    #[error("cannot reach the inventory source: {0}")]
    Unreachable(String),
    #[error("the fleet file {path} is unusable: {reason}")]
    BadFile { path: String, reason: String },
    #[error("inventory read failed: {0}")]
    Other(String),
}

/// A source of hosts for every environment it knows.
pub trait InventorySource: Send + Sync {
    /// A short description for the UI ("EC2 us-west-2", "fleet file demo/fleet.toml").
    fn describe(&self) -> String;
    /// Every host, grouped by environment.
    fn fetch(&self) -> BoxFuture<'_, Result<BTreeMap<String, Vec<Host>>, InventoryError>>;
}

/// Groups hosts by environment, refusing duplicate names within one (they would hide each other).
pub fn group_hosts(hosts: Vec<Host>) -> BTreeMap<String, Vec<Host>> {
    let mut by_env: BTreeMap<String, Vec<Host>> = BTreeMap::new();
    for h in hosts {
        let list = by_env.entry(h.environment.clone()).or_default();
        if let Some(existing) = list.iter().position(|x| x.name == h.name) {
            // Two instances with one Name tag: keep both, told apart by instance id.
            let mut h = h;
            h.name = format!("{} ({})", h.name, h.instance_id.clone().unwrap_or_default());
            let _ = existing;
            list.push(h);
        } else {
            list.push(h);
        }
    }
    for list in by_env.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    by_env
}

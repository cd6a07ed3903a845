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

/// One read of an inventory source: the hosts of each environment, and what was left out and
/// why (instances tagged for an environment but outside its scope, names held by two hosts), so
/// that an engineer sees it. Nothing left out is ever polled or sent a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub hosts: BTreeMap<String, Vec<Host>>,
    /// Per environment, one sentence per refusal, naming the instances (or addresses).
    pub refused: BTreeMap<String, Vec<String>>,
}

impl Inventory {
    /// How many hosts were read.
    pub fn host_count(&self) -> usize {
        self.hosts.values().map(Vec::len).sum()
    }

    fn refuse(&mut self, environment: &str, why: String) {
        self.refused
            .entry(environment.to_owned())
            .or_default()
            .push(why);
    }
}

/// A source of hosts for every environment it knows.
pub trait InventorySource: Send + Sync {
    /// A short description for the UI ("EC2 us-west-2", "fleet file demo/fleet.toml").
    fn describe(&self) -> String;
    /// Every host, grouped by environment, with what was refused.
    fn fetch(&self) -> BoxFuture<'_, Result<Inventory, InventoryError>>;
}

/// How a host is told apart from another of its name: its instance id, or else its address.
fn identity(h: &Host) -> String {
    match &h.instance_id {
        Some(id) => format!("{id} at {}", h.address),
        None => h.address.clone(),
    }
}

/// Groups hosts by environment. A name must mean one machine within an environment (actions,
/// logs and per-host secrets go by name): when two or more running hosts share a name, all of
/// them are refused — none is polled or sent a secret — and the refusal names each. A stopped
/// twin of one running host (an instance being replaced) is left out quietly; several stopped
/// hosts of one name and none running are refused as well.
pub fn group_hosts(hosts: Vec<Host>) -> Inventory {
    let mut by_name: BTreeMap<(String, String), Vec<Host>> = BTreeMap::new();
    for h in hosts {
        by_name
            .entry((h.environment.clone(), h.name.clone()))
            .or_default()
            .push(h);
    }
    let mut out = Inventory::default();
    for ((env, name), mut same) in by_name {
        if same.len() == 1 {
            out.hosts.entry(env).or_default().extend(same);
            continue;
        }
        let running = same.iter().filter(|h| h.is_running()).count();
        if running == 1 {
            same.retain(Host::is_running);
            out.hosts.entry(env).or_default().extend(same);
            continue;
        }
        let who: Vec<String> = same.iter().map(identity).collect();
        let why = format!(
            "{} hosts are named `{name}` in {env} ({}): none of them is polled or sent a secret \
             until the name is unique",
            same.len(),
            who.join(", ")
        );
        tracing::warn!(environment = %env, host = %name, "{why}");
        out.refuse(&env, why);
    }
    out.hosts.retain(|_, list| !list.is_empty());
    for list in out.hosts.values_mut() {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(env: &str, name: &str, id: &str, state: Option<&str>) -> Host {
        Host {
            environment: env.into(),
            name: name.into(),
            instance_id: Some(id.into()),
            address: format!("10.0.0.{}", id.len()),
            private_ip: None,
            public_ip: None,
            state: state.map(str::to_owned),
            launch_time: None,
            gateway_port: 9631,
            ctl_port: 9632,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn two_hosts_of_one_name_are_both_refused_and_named() {
        let inv = group_hosts(vec![
            host("live", "api", "i-1", Some("running")),
            host("live", "api", "i-22", Some("running")),
            host("live", "router", "i-3", Some("running")),
            host("acceptance", "api", "i-4", Some("running")),
        ]);
        let live: Vec<&str> = inv.hosts["live"].iter().map(|h| h.name.as_str()).collect();
        assert_eq!(live, vec!["router"]);
        assert_eq!(
            inv.hosts["acceptance"].len(),
            1,
            "other environments keep theirs"
        );
        let why = &inv.refused["live"];
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("`api`") && why[0].contains("i-1") && why[0].contains("i-22"));
        assert!(!inv.refused.contains_key("acceptance"));
        assert_eq!(inv.host_count(), 2);
    }

    #[test]
    fn a_stopped_twin_leaves_the_running_host_its_name() {
        let inv = group_hosts(vec![
            host("live", "api", "i-old", Some("stopped")),
            host("live", "api", "i-new", Some("running")),
        ]);
        assert_eq!(inv.hosts["live"].len(), 1);
        assert_eq!(inv.hosts["live"][0].instance_id.as_deref(), Some("i-new"));
        assert!(inv.refused.is_empty());
        // Only stopped ones: which one is meant is unclear, so neither.
        let inv = group_hosts(vec![
            host("live", "api", "i-a", Some("stopped")),
            host("live", "api", "i-b", Some("stopped")),
        ]);
        assert!(!inv.hosts.contains_key("live"));
        assert_eq!(inv.refused["live"].len(), 1);
    }
}

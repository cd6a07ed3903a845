//! A static fleet file (TOML) for on-premises fleets and the demo:
//!
//! ```toml
//! [[hosts]]
//! environment = "live"
//! name = "builder-api-1"
//! address = "10.0.1.5"
//! gateway_port = 9631      # default
//! ctl_port = 9632          # default
//! labels = { role = "api" }
//!
//! [builder_api]            # Builder API base URL per environment, for the default probes
//! live = "https://bldr.habitat.sh"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{group_hosts, Host, Inventory, InventoryError, InventorySource};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FleetFile {
    #[serde(default)]
    pub hosts: Vec<FleetFileHost>,
    /// Builder API base URL per environment.
    #[serde(default)]
    pub builder_api: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFileHost {
    pub environment: String,
    pub name: String,
    pub address: String,
    #[serde(default = "default_gateway_port")]
    pub gateway_port: u16,
    #[serde(default = "default_ctl_port")]
    pub ctl_port: u16,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_gateway_port() -> u16 {
    9631
}

fn default_ctl_port() -> u16 {
    9632
}

impl FleetFile {
    pub fn parse(text: &str, path: &Path) -> Result<FleetFile, InventoryError> {
        let file: FleetFile = toml::from_str(text).map_err(|e| InventoryError::BadFile {
            path: path.display().to_string(),
            reason: e.to_string().trim().to_owned(),
        })?;
        for h in &file.hosts {
            if h.name.trim().is_empty()
                || h.environment.trim().is_empty()
                || h.address.trim().is_empty()
            {
                return Err(InventoryError::BadFile {
                    path: path.display().to_string(),
                    reason: format!(
                        "host `{}`: environment, name and address must not be empty",
                        h.name
                    ),
                });
            }
        }
        // A name means one machine in an environment: a second host of one name would take the
        // first one's place (and its per-host secrets), so the file is refused as a whole.
        let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for h in &file.hosts {
            if let Some(other) = seen.insert((&h.environment, &h.name), &h.address) {
                return Err(InventoryError::BadFile {
                    path: path.display().to_string(),
                    reason: format!(
                        "two hosts are named `{}` in {} ({other} and {}): names must be unique \
                         within an environment",
                        h.name, h.environment, h.address
                    ),
                });
            }
        }
        Ok(file)
    }

    pub fn load(path: &Path) -> Result<FleetFile, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| InventoryError::BadFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        FleetFile::parse(&text, path)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    pub fn hosts(&self) -> Vec<Host> {
        self.hosts
            .iter()
            .map(|h| Host {
                environment: h.environment.clone(),
                name: h.name.clone(),
                instance_id: None,
                address: h.address.clone(),
                private_ip: Some(h.address.clone()),
                public_ip: None,
                state: None,
                launch_time: None,
                gateway_port: h.gateway_port,
                ctl_port: h.ctl_port,
                labels: h.labels.clone(),
            })
            .collect()
    }
}

/// Re-reads the file on every refresh, so edits take effect without a restart; a broken edit
/// keeps the last good inventory (stale) and says what is wrong.
#[derive(Debug, Clone)]
pub struct StaticInventory {
    pub path: PathBuf,
}

impl InventorySource for StaticInventory {
    fn describe(&self) -> String {
        format!("fleet file {}", self.path.display())
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Inventory, InventoryError>> {
        Box::pin(async move {
            let path = self.path.clone();
            let file = tokio::task::spawn_blocking(move || FleetFile::load(&path))
                .await
                .map_err(|e| InventoryError::Other(e.to_string()))??;
            Ok(group_hosts(file.hosts()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_round_trips() {
        let text = r#"
[[hosts]]
environment = "live"
name = "api-1"
address = "10.0.0.1"
labels = { role = "api" }

[[hosts]]
environment = "acceptance"
name = "api-1"
address = "10.1.0.1"
gateway_port = 19631

[builder_api]
live = "http://127.0.0.1:9636"
"#;
        let f = FleetFile::parse(text, Path::new("f.toml")).unwrap();
        assert_eq!(f.hosts[0].gateway_port, 9631);
        assert_eq!(f.hosts[0].ctl_port, 9632);
        assert_eq!(f.hosts[1].gateway_port, 19631);
        let again = FleetFile::parse(&f.to_toml(), Path::new("f.toml")).unwrap();
        assert_eq!(again, f);
        let grouped = group_hosts(f.hosts());
        assert_eq!(grouped.hosts["live"].len(), 1);
        assert_eq!(grouped.hosts["acceptance"][0].address, "10.1.0.1");
        assert!(grouped.refused.is_empty());
    }

    #[test]
    fn two_hosts_of_one_name_in_an_environment_refuse_the_file() {
        let e = FleetFile::parse(
            "[[hosts]]\nenvironment=\"live\"\nname=\"api\"\naddress=\"10.0.0.1\"\n\
             [[hosts]]\nenvironment=\"acceptance\"\nname=\"api\"\naddress=\"10.1.0.1\"\n\
             [[hosts]]\nenvironment=\"live\"\nname=\"api\"\naddress=\"10.0.0.2\"\n",
            Path::new("f.toml"),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`api` in live") && msg.contains("10.0.0.1") && msg.contains("10.0.0.2"),
            "{msg}"
        );
    }

    #[test]
    fn a_corrupt_file_names_itself_and_the_problem() {
        let e = FleetFile::parse(
            "[[hosts]]\nenvironment = \"live\"\n",
            Path::new("/etc/fleet.toml"),
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("/etc/fleet.toml") && msg.contains("name"),
            "{msg}"
        );
        let e = FleetFile::parse(
            "[[hosts]]\nenvironment=\"live\"\nname=\"\"\naddress=\"x\"\n",
            Path::new("f"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("must not be empty"));
        let e = FleetFile::parse("hosts = 5", Path::new("f")).unwrap_err();
        assert!(matches!(e, InventoryError::BadFile { .. }));
        let e = FleetFile::parse(
            "[[hosts]]\nenvironment=\"l\"\nname=\"a\"\naddress=\"x\"\nport=1\n",
            Path::new("f"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("port"),
            "unknown keys are refused: {e}"
        );
    }
}

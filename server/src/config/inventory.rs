//! `[inventory]`: where the hosts come from. The EC2 options are `ops`'s own
//! ([`ops::inventory::ec2::Ec2Options`]), read straight from `[inventory.ec2]`.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// Where the hosts come from.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct InventoryConfig {
    /// `static` (a fleet file), `ec2`, or `none` (no fleet: the portal without live health).
    pub source: InventorySourceKind,
    /// The fleet file, for `source = "static"`.
    pub fleet_file: Option<PathBuf>,
    pub ec2: ops::inventory::ec2::Ec2Options,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InventorySourceKind {
    #[default]
    None,
    Static,
    Ec2,
}

pub(super) fn check(inventory: &InventoryConfig) -> Result<(), ConfigError> {
    match inventory.source {
        InventorySourceKind::Static => match &inventory.fleet_file {
            None => Err(ConfigError::key(
                "inventory.fleet_file",
                "inventory.source = \"static\" needs a fleet file path",
            )),
            Some(p) if !p.exists() => Err(ConfigError::key(
                "inventory.fleet_file",
                format!("{} does not exist; expected a TOML fleet file", p.display()),
            )),
            Some(_) => Ok(()),
        },
        InventorySourceKind::Ec2 | InventorySourceKind::None => Ok(()),
    }
}

//! `[fleet]` and `[[probes]]`: how the fleet is watched. Both sections are `ops`'s own types
//! ([`ops::fleet::FleetOptions`], [`ops::probe::ProbeSpec`]), read straight from the file.

use ops::fleet::FleetOptions;
use ops::probe::ProbeSpec;

use super::ConfigError;

pub(super) fn check(fleet: &FleetOptions, probes: &[ProbeSpec]) -> Result<(), ConfigError> {
    fleet
        .check()
        .map_err(|(key, message)| ConfigError::key(&format!("fleet.{key}"), message))?;
    for (i, p) in probes.iter().enumerate() {
        p.check()
            .map_err(|(key, message)| ConfigError::key(&format!("probes[{i}].{key}"), message))?;
    }
    Ok(())
}

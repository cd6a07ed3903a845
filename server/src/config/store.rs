//! `[store]`: the portal's own store. The section is `ops`'s own
//! [`ops::store::StoreOptions`]; the URL rules are `ops::store::check_url`'s.

use ops::store::StoreOptions;

use super::{read_secret, ConfigError};

pub(super) fn check(store: &mut StoreOptions) -> Result<(), ConfigError> {
    ops::store::check_url(&store.url).map_err(|e| ConfigError::key("store.url", e.to_string()))?;
    if store.max_connections == 0 {
        return Err(ConfigError::key(
            "store.max_connections",
            "must be at least 1",
        ));
    }
    if let Some(file) = &store.password_file {
        store.password = Some(read_secret("store.password_file", file)?);
    }
    Ok(())
}

//! `[incidents]`: templates, the status page, the directory.

use super::ConfigError;

/// `[incidents]`: components of services that exist, a Statuspage key that can be read.
pub(super) fn check(i: &ops::incidents::IncidentOptions) -> Result<(), ConfigError> {
    if let Some(slug) = i
        .components
        .keys()
        .find(|s| !ops::catalog::SERVICES.iter().any(|c| c.slug == s.as_str()))
    {
        return Err(ConfigError::key(
            &format!("incidents.components.{slug}"),
            "a service's slug: api, sessionsrv, originsrv, router, datastore, scheduler, jobsrv or sentinel",
        ));
    }
    if let Some(sp) = &i.statuspage {
        if sp.page_id.trim().is_empty() {
            return Err(ConfigError::key(
                "incidents.statuspage.page_id",
                "the page's id (Statuspage → API info)",
            ));
        }
        match ops::secret::read_file(&sp.api_key_file) {
            Ok(_) => {}
            Err(e @ ops::secret::SecretFileError::Empty { .. }) => {
                return Err(ConfigError::key(
                    "incidents.statuspage.api_key_file",
                    format!("{e}: put the Statuspage API key in it"),
                ))
            }
            Err(e) => {
                return Err(ConfigError::key(
                    "incidents.statuspage.api_key_file",
                    e.to_string(),
                ))
            }
        }
    }
    Ok(())
}

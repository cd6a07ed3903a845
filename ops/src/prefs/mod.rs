//! Each person's own settings: today, the time zone every page speaks to them (issue #28,
//! point 12). One rule for the whole portal: a clock time is shown in the person's chosen zone,
//! else their browser's, else UTC, and the zone is always written next to it.
//!
//! Read on every signed-in request, so kept in memory for a short while; a change made on
//! another replica shows here within [`CACHE_MS`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sqlx::Row;

use crate::store::{Store, StoreError};

/// How long a replica trusts what it read of a person's settings.
const CACHE_MS: i64 = 30_000;

/// What a replica read of each person's zone, and when: account id → (read at, zone).
type ZoneCache = Arc<RwLock<HashMap<String, (i64, Option<String>)>>>;

/// The settings of people, by stable account id (`provider:subject`).
#[derive(Debug, Clone)]
pub struct Preferences {
    store: Store,
    cache: ZoneCache,
}

/// Why a zone could not be set.
#[derive(Debug, thiserror::Error)]
pub enum SetZoneError {
    #[error("{0:?} is not a time zone Onwatch knows: pick one from the list (such as Europe/Berlin or America/Los_Angeles)")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Preferences {
    pub fn new(store: Store) -> Preferences {
        Preferences {
            store,
            cache: Arc::default(),
        }
    }

    /// The zone `person` chose, if any (a stored name the database no longer knows counts as
    /// none: it is checked again when it is used).
    pub async fn chosen_zone(
        &self,
        person: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        if let Some((at, zone)) = self.cache.read().ok().and_then(|c| c.get(person).cloned()) {
            if now_ms - at < CACHE_MS {
                return Ok(zone);
            }
        }
        let row = sqlx::query("SELECT time_zone FROM preferences WHERE person = $1")
            .bind(person)
            .fetch_optional(self.store.pool())
            .await?;
        let zone = match row {
            Some(r) => Some(r.try_get::<String, _>("time_zone")?),
            None => None,
        };
        if let Ok(mut c) = self.cache.write() {
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(person.to_owned(), (now_ms, zone.clone()));
        }
        Ok(zone)
    }

    /// Sets (`Some`) or clears (`None`: follow the browser) the zone of `person`. Returns the
    /// database's spelling of the zone set.
    pub async fn set_zone(
        &self,
        person: &str,
        zone: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<String>, SetZoneError> {
        let name = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => None,
            Some(z) => Some(
                crate::time::zone(z, now_ms)
                    .ok_or_else(|| SetZoneError::Unknown(z.chars().take(64).collect()))?
                    .name,
            ),
        };
        match &name {
            Some(n) => {
                sqlx::query(
                    "INSERT INTO preferences (person, time_zone, updated_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (person) DO UPDATE SET time_zone = $2, updated_ms = $3",
                )
                .bind(person)
                .bind(n)
                .bind(now_ms)
                .execute(self.store.pool())
                .await
                .map_err(StoreError::from)?;
            }
            None => {
                sqlx::query("DELETE FROM preferences WHERE person = $1")
                    .bind(person)
                    .execute(self.store.pool())
                    .await
                    .map_err(StoreError::from)?;
            }
        }
        if let Ok(mut c) = self.cache.write() {
            c.insert(person.to_owned(), (now_ms, name.clone()));
        }
        Ok(name)
    }

    /// The zone a request speaks: the person's choice, else the zone their browser reported
    /// (`browser`, from a cookie: hostile until the database knows it), else UTC. A store that
    /// does not answer falls back to the browser's zone: the page still says which zone it
    /// speaks.
    pub async fn zone_for(
        &self,
        person: Option<&str>,
        browser: Option<&str>,
        now_ms: i64,
    ) -> vocab::Zone {
        if let Some(p) = person {
            match self.chosen_zone(p, now_ms).await {
                Ok(Some(name)) => {
                    if let Some(mut z) = crate::time::zone(&name, now_ms) {
                        z.source = "chosen".to_owned();
                        return z;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "a person's time zone could not be read"),
            }
        }
        if let Some(mut z) = browser.and_then(|b| crate::time::zone(b, now_ms)) {
            z.source = "browser".to_owned();
            return z;
        }
        vocab::Zone::utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_chosen_zone_wins_then_the_browser_then_utc() {
        for (store, _dir) in crate::oncall::accounts::tests::stores().await {
            the_chosen_zone_wins(Preferences::new(store)).await;
        }
    }

    async fn the_chosen_zone_wins(p: Preferences) {
        let now = 1_796_601_600_000;
        assert_eq!(p.zone_for(Some("github:1"), None, now).await.name, "UTC");
        let z = p
            .zone_for(Some("github:1"), Some("Europe/Berlin"), now)
            .await;
        assert_eq!(
            (z.name.as_str(), z.source.as_str()),
            ("Europe/Berlin", "browser")
        );
        assert_eq!(
            p.set_zone("github:1", Some("america/los_angeles"), now)
                .await
                .unwrap(),
            Some("America/Los_Angeles".to_owned())
        );
        let z = p
            .zone_for(Some("github:1"), Some("Europe/Berlin"), now)
            .await;
        assert_eq!(
            (z.name.as_str(), z.source.as_str()),
            ("America/Los_Angeles", "chosen")
        );
        // Another person is not affected.
        assert_eq!(p.zone_for(Some("github:2"), None, now).await.name, "UTC");
        // Back to the browser's.
        p.set_zone("github:1", None, now).await.unwrap();
        assert_eq!(
            p.zone_for(Some("github:1"), Some("Europe/Berlin"), now)
                .await
                .name,
            "Europe/Berlin"
        );
    }

    #[tokio::test]
    async fn a_zone_the_database_does_not_know_is_refused_and_a_hostile_cookie_is_utc() {
        let (store, _dir) = crate::oncall::accounts::tests::stores().await.remove(0);
        let p = Preferences::new(store);
        let now = 1_796_601_600_000;
        assert!(matches!(
            p.set_zone("github:1", Some("../../etc/localtime"), now)
                .await,
            Err(SetZoneError::Unknown(_))
        ));
        for cookie in [
            "Mars/Olympus",
            "<script>",
            "Europe/Berlin\n",
            &"x".repeat(5000),
        ] {
            let z = p.zone_for(None, Some(cookie), now).await;
            // A trailing newline is trimmed, and the name is the database's own; the rest is UTC.
            assert!(
                z.name == "UTC" || z.name == "Europe/Berlin",
                "{cookie:?}: {}",
                z.name
            );
        }
    }
}

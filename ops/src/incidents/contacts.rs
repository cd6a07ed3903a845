//! The escalation directory (kept by admins) and who to call first: people who know the
//! affected services, then those awake in their own time zone, then the most senior.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::change::Error;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub login: String,
    pub name: String,
    /// As dialled (`+1 206 555 0100`); pages link it with `tel:`.
    pub phone: String,
    /// IANA zone.
    pub time_zone: String,
    /// Service slugs the person knows.
    pub areas: Vec<String>,
    /// Higher is more senior.
    pub seniority: i64,
}

/// A contact ranked for an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub contact: Contact,
    /// Which affected services they know.
    pub knows: Vec<String>,
    /// Their wall clock now ("03:12 Tue").
    pub local_time: String,
    /// Between 08:00 and 22:00 where they are.
    pub awake: bool,
    /// More senior than the person asking.
    pub more_senior: bool,
}

pub async fn list(store: &Store) -> Result<Vec<Contact>, StoreError> {
    let rows = sqlx::query(
        "SELECT login, name, phone, time_zone, areas, seniority FROM contacts ORDER BY login",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let areas: String = r.try_get(4)?;
            Ok(Contact {
                login: r.try_get(0)?,
                name: r.try_get(1)?,
                phone: r.try_get(2)?,
                time_zone: r.try_get(3)?,
                areas: serde_json::from_str(&areas).unwrap_or_default(),
                seniority: r.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Adds or replaces a contact (admins), after checking each field.
pub async fn save(store: &Store, c: &Contact, by: &str, now_ms: i64) -> Result<(), Error> {
    let login = c.login.trim().to_ascii_lowercase();
    if login.is_empty() || login.len() > 100 {
        return Err(Error::refused(
            "contact",
            "A contact needs a login (as they sign in).",
        ));
    }
    if c.name.trim().is_empty() {
        return Err(Error::refused("contact", "A contact needs a name."));
    }
    let phone = c.phone.trim();
    if phone.is_empty()
        || !phone
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch))
        || phone.chars().filter(|ch| ch.is_ascii_digit()).count() < 5
    {
        return Err(Error::refused("contact", format!(
            "{phone:?} is not a phone number: digits, spaces and + - ( ) . only, such as +1 206 555 0100."
        )));
    }
    if jiff::tz::TimeZone::get(c.time_zone.trim()).is_err() {
        return Err(Error::refused(
            "contact",
            format!(
                "{:?} is not an IANA time zone (such as Europe/London).",
                c.time_zone
            ),
        ));
    }
    if let Some(a) = c.areas.iter().find(|a| {
        !crate::catalog::SERVICES
            .iter()
            .any(|s| s.slug == a.as_str())
    }) {
        return Err(Error::refused(
            "contact",
            format!("{a:?} is not one of the Builder services."),
        ));
    }
    if !(0..=10).contains(&c.seniority) {
        return Err(Error::refused("contact", "Seniority is 0 (newest) to 10."));
    }
    let mut tx = store.begin_write().await?;
    sqlx::query("DELETE FROM contacts WHERE login = $1")
        .bind(&login)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO contacts (login, name, phone, time_zone, areas, seniority, updated_by, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&login)
    .bind(c.name.trim())
    .bind(phone)
    .bind(c.time_zone.trim())
    .bind(serde_json::to_string(&c.areas).unwrap_or_else(|_| "[]".into()))
    .bind(c.seniority)
    .bind(by)
    .bind(now_ms)
    .execute(&mut *tx)
    .await
    ?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove(store: &Store, login: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM contacts WHERE login = $1")
        .bind(login.trim().to_ascii_lowercase())
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Who to call for an incident on `services`, asked by `me`: knowledge of the services first,
/// then awake where they are, then seniority; never `me`.
pub fn rank(contacts: &[Contact], services: &[String], me: &str, now_ms: i64) -> Vec<Ranked> {
    let my_seniority = contacts
        .iter()
        .find(|c| c.login.eq_ignore_ascii_case(me))
        .map(|c| c.seniority)
        .unwrap_or(0);
    let mut out: Vec<Ranked> = contacts
        .iter()
        .filter(|c| !c.login.eq_ignore_ascii_case(me))
        .map(|c| {
            let knows: Vec<String> = services
                .iter()
                .filter(|s| c.areas.contains(s))
                .cloned()
                .collect();
            let (local_time, hour) = match (
                jiff::tz::TimeZone::get(&c.time_zone),
                jiff::Timestamp::from_millisecond(now_ms),
            ) {
                (Ok(tz), Ok(ts)) => {
                    let z = ts.to_zoned(tz);
                    (z.strftime("%H:%M %a").to_string(), i32::from(z.hour()))
                }
                _ => ("?".into(), 12),
            };
            Ranked {
                knows,
                local_time,
                awake: (8..22).contains(&hour),
                more_senior: c.seniority > my_seniority,
                contact: c.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.knows
            .len()
            .cmp(&a.knows.len())
            .then(b.awake.cmp(&a.awake))
            .then(b.contact.seniority.cmp(&a.contact.seniority))
            .then(a.contact.login.cmp(&b.contact.login))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(login: &str, tz: &str, areas: &[&str], seniority: i64) -> Contact {
        Contact {
            login: login.into(),
            name: login.into(),
            phone: "+1 206 555 0100".into(),
            time_zone: tz.into(),
            areas: areas.iter().map(|a| (*a).to_owned()).collect(),
            seniority,
        }
    }

    #[test]
    fn who_knows_the_services_comes_first_then_who_is_awake_then_seniority() {
        // 2026-12-01 10:00 UTC: 02:00 in Los Angeles, 11:00 in Berlin, 21:00 in Sydney.
        let now = "2026-12-01T10:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond();
        let people = [
            c(
                "asleep-expert",
                "America/Los_Angeles",
                &["api", "router"],
                9,
            ),
            c("awake-expert", "Europe/Berlin", &["api"], 3),
            c("senior-stranger", "Europe/Berlin", &[], 10),
            c("me", "Europe/Berlin", &["api"], 5),
            c("junior-stranger", "Australia/Sydney", &[], 1),
        ];
        let ranked = rank(&people, &["api".into(), "router".into()], "me", now);
        let order: Vec<&str> = ranked.iter().map(|r| r.contact.login.as_str()).collect();
        assert_eq!(
            order,
            [
                "asleep-expert",
                "awake-expert",
                "senior-stranger",
                "junior-stranger"
            ]
        );
        assert!(!ranked[0].awake && ranked[0].local_time.starts_with("02:00"));
        assert!(ranked[1].awake);
        assert!(ranked[0].more_senior && !ranked[1].more_senior);
    }
}

//! iCal feeds of the rotation: one for the team, one per person, each behind a secret URL that
//! its owner (or an admin) can revoke. Only the token's SHA-256 is stored.
//!
//! The calendar is RFC 5545: CRLF line ends, lines folded at 75 octets, text escaped, times in
//! UTC (so a calendar in any zone shows the real instants, across daylight-saving changes).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::accounts::{self, Who};
use super::rotation::{timeline, Cover, Rotation, Seat};
use crate::change::{self, Error, Refusal};
use crate::store::{Store, StoreError};

/// A feed as listed to its owner: never its token (shown once, when it is made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    pub id: String,
    /// `team`, or the login whose shifts it lists.
    pub scope: String,
    pub created_by: String,
    /// The maker's account (`github:1234`); empty for feeds older than accounts.
    pub created_by_id: String,
    pub created_ms: i64,
    pub revoked_by: Option<String>,
    pub revoked_ms: Option<i64>,
}

const FEED_COLUMNS: &str =
    "id, scope, created_by, created_ms, revoked_by, revoked_ms, created_by_id";

fn feed_from(r: &sqlx::any::AnyRow) -> Result<Feed, sqlx::Error> {
    Ok(Feed {
        id: r.try_get(0)?,
        scope: r.try_get(1)?,
        created_by: r.try_get(2)?,
        created_ms: r.try_get(3)?,
        revoked_by: r.try_get(4)?,
        revoked_ms: r.try_get(5)?,
        created_by_id: r.try_get(6)?,
    })
}

#[derive(Debug, Clone)]
pub struct Feeds {
    store: Store,
}

fn digest(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Feeds {
    pub fn new(store: Store) -> Feeds {
        Feeds { store }
    }

    /// Makes a feed and returns it with its token (the only time the token is seen).
    pub async fn create(
        &self,
        scope: &str,
        by: &Who,
        now_ms: i64,
    ) -> Result<(Feed, String), StoreError> {
        let token = crate::auth::random_token();
        let id = format!("f{}", &crate::auth::random_token()[..12]);
        sqlx::query(
            "INSERT INTO oncall_feeds (id, token_sha256, scope, created_by, created_ms, \
             created_by_id) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(digest(&token))
        .bind(scope)
        .bind(&by.login)
        .bind(now_ms)
        .bind(&by.account)
        .execute(self.store.pool())
        .await?;
        Ok((
            Feed {
                id,
                scope: scope.into(),
                created_by: by.login.clone(),
                created_by_id: by.account.clone(),
                created_ms: now_ms,
                revoked_by: None,
                revoked_ms: None,
            },
            token,
        ))
    }

    /// The feed with this token, if it exists and is not revoked.
    pub async fn live(&self, token: &str) -> Result<Option<Feed>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FEED_COLUMNS} FROM oncall_feeds WHERE token_sha256 = $1 AND revoked_ms IS NULL"
        ))
        .bind(digest(token))
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(feed_from).transpose()?)
    }

    /// The account a feed answers for: the one recorded, or for a feed older than accounts the
    /// account that first signed in with its maker's login.
    pub async fn owner_account(&self, f: &Feed) -> Result<Option<String>, StoreError> {
        if !f.created_by_id.is_empty() {
            return Ok(Some(f.created_by_id.clone()));
        }
        accounts::first_account(&self.store, &f.created_by).await
    }

    /// The feeds someone made (an admin, `None`, sees all of them).
    pub async fn list(&self, by: Option<&Who>) -> Result<Vec<Feed>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FEED_COLUMNS} FROM oncall_feeds ORDER BY created_ms DESC"
        ))
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let f = feed_from(r)?;
            let mine = match by {
                None => true,
                Some(who) => {
                    accounts::is(&self.store, who, &f.created_by, Some(&f.created_by_id)).await?
                }
            };
            if mine {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Revokes a feed: its URL answers 404 from now on. Its maker's account or an admin may.
    pub async fn revoke(
        &self,
        id: &str,
        by: &Who,
        is_admin: bool,
        now_ms: i64,
    ) -> Result<(), Error> {
        let not_yours = || {
            Refusal::new(
                "owner",
                format!("No feed {id} of yours that is still live (it may be revoked already)."),
            )
        };
        let row = sqlx::query(&format!(
            "SELECT {FEED_COLUMNS} FROM oncall_feeds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(f) = row.as_ref().map(feed_from).transpose()? else {
            return Err(not_yours().into());
        };
        let mine = accounts::is(&self.store, by, &f.created_by, Some(&f.created_by_id)).await?;
        if !mine && !is_admin {
            return Err(not_yours().into());
        }
        change::one(
            &self.store,
            sqlx::query(
                "UPDATE oncall_feeds SET revoked_by = $1, revoked_ms = $2, revoked_by_id = $3 \
                     WHERE id = $4 AND revoked_ms IS NULL",
            )
            .bind(&by.login)
            .bind(now_ms)
            .bind(&by.account)
            .bind(id),
            not_yours,
        )
        .await
    }
}

/// The calendar of `[from_ms, to_ms)`: every seat's stretches for the team (`person: None`), or
/// the stretches `person` holds. `stamp_ms` is the DTSTAMP (when the feed was read).
pub fn calendar(
    rotation: &Rotation,
    covers: &[Cover],
    person: Option<&str>,
    from_ms: i64,
    to_ms: i64,
    stamp_ms: i64,
) -> String {
    use icalendar::{Component as _, EventLike as _};
    // The text, escaping and line folding of RFC 5545 are the `icalendar` crate's; what the
    // feed says is ours.
    let mut cal = icalendar::Calendar::empty();
    for (key, value) in [
        ("VERSION", "2.0"),
        ("PRODID", "-//Onwatch//On-call rotation//EN"),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", "PUBLISH"),
    ] {
        cal.append_property(icalendar::Property::new(key, value));
    }
    cal.append_property(icalendar::Property::new(
        "X-WR-CALNAME",
        match person {
            Some(p) => format!("On call: {p}"),
            None => "On call: the team".to_owned(),
        },
    ));
    let stamp = utc(stamp_ms);
    for seat in [Seat::Primary, Seat::Secondary] {
        // Stretches of one holder in one seat, merged across segments.
        let mut runs: Vec<(i64, i64, String, bool, i64)> = Vec::new();
        for seg in timeline(rotation, covers, from_ms, to_ms) {
            let who = seg.holder(seat).to_owned();
            let covered = match seat {
                Seat::Primary => seg.primary_covered,
                Seat::Secondary => seg.secondary_covered,
            };
            match runs.last_mut() {
                Some(r) if r.2 == who && r.1 == seg.start_ms && r.3 == covered => r.1 = seg.end_ms,
                _ => runs.push((seg.start_ms, seg.end_ms, who, covered, seg.shift_index)),
            }
        }
        for (start, end, who, covered, shift) in runs {
            if let Some(p) = person {
                if !who.eq_ignore_ascii_case(p) {
                    continue;
                }
            }
            // In the rotation's own zone, written: a calendar shows DTSTART in its reader's.
            let mut desc = format!(
                "{} from {} to {} ({} real hours).",
                who,
                rotation.local(start),
                rotation.local(end),
                (end - start) / 3_600_000
            );
            if let Some(note) = rotation.clock_change(start, end) {
                desc.push_str(&format!(" Note: {note}."));
            }
            let event = icalendar::Event::new()
                .uid(&format!(
                    "{}-{shift}-{start}-{}@onwatch",
                    seat.as_str(),
                    who.to_ascii_lowercase()
                ))
                .timestamp(stamp)
                .starts(utc(start))
                .ends(utc(end))
                .summary(&format!(
                    "On call ({}): {who}{}",
                    seat.as_str(),
                    if covered { ", covering" } else { "" }
                ))
                .description(&desc)
                .add_property("TRANSP", "TRANSPARENT")
                .done();
            cal.push(event);
        }
    }
    cal.to_string()
}

/// An instant as the `icalendar` crate takes it (written `20261102T170000Z`).
fn utc(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::rotation::RotationOptions;

    fn parse(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
        let reader = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
        let mut events = Vec::new();
        for cal in reader {
            let cal = cal.expect("the feed parses as iCalendar");
            for e in cal.events {
                events.push(
                    e.properties
                        .into_iter()
                        .map(|p| (p.name, p.value.unwrap_or_default()))
                        .collect(),
                );
            }
        }
        events
    }

    fn berlin() -> Rotation {
        Rotation::new(&RotationOptions {
            members: vec!["ana".into(), "bo".into(), "cy, the third".into()],
            start: "2026-10-20T09:00".into(),
            time_zone: "Europe/Berlin".into(),
            shift_hours: 72,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn a_feed_is_listed_and_revoked_by_its_makers_account_only() {
        use crate::oncall::accounts::tests::{sign_in, stores};
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let feeds = Feeds::new(store.clone());
            let bo = sign_in(&store, "github", "2", "bo").await;
            let other_bo = sign_in(&store, "oidc", "s-bo", "bo").await;
            let (f, token) = feeds.create("bo", &bo, 1_000).await.unwrap();
            assert_eq!(f.created_by_id, "github:2");
            assert!(feeds.list(Some(&other_bo)).await.unwrap().is_empty());
            assert_eq!(feeds.list(Some(&bo)).await.unwrap().len(), 1);
            let e = feeds
                .revoke(&f.id, &other_bo, false, 2_000)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("No feed"), "{e}");
            assert!(feeds.live(&token).await.unwrap().is_some());
            feeds.revoke(&f.id, &bo, false, 3_000).await.unwrap();
            assert!(feeds.live(&token).await.unwrap().is_none());
        }
    }

    #[test]
    fn the_team_feed_parses_and_holds_every_seat_of_every_shift() {
        let r = berlin();
        let from = r.shift(0).start_ms;
        let to = r.shift(3).start_ms;
        let text = calendar(&r, &[], None, from, to, from);
        assert!(text.lines().all(|l| l.len() <= 76), "folded at 75 octets");
        let events = parse(&text);
        assert_eq!(events.len(), 6, "3 shifts × 2 seats");
        let first = events
            .iter()
            .find(|e| e["SUMMARY"] == "On call (primary): ana")
            .unwrap();
        assert_eq!(first["DTSTART"], "20261020T070000Z");
        assert_eq!(first["DTEND"], "20261023T070000Z");
        // Shift 1 spans Berlin's fall-back (25 Oct): 72 real hours, and the description says
        // the wall clock ends an hour earlier.
        let bo = events
            .iter()
            .find(|e| e["SUMMARY"] == "On call (primary): bo")
            .unwrap();
        assert_eq!(bo["DTSTART"], "20261023T070000Z");
        assert_eq!(bo["DTEND"], "20261026T070000Z");
        assert!(
            bo["DESCRIPTION"].contains("local clocks go back 1 h"),
            "{:?}",
            bo
        );
        // An escaped comma reads back as a comma.
        assert!(events
            .iter()
            .any(|e| e["SUMMARY"] == "On call (secondary): cy\\, the third"
                || e["SUMMARY"] == "On call (secondary): cy, the third"));
    }

    #[test]
    fn a_persons_feed_holds_only_their_time_with_covers_applied() {
        let r = berlin();
        let s0 = r.shift(0);
        let cover = Cover {
            seat: Seat::Primary,
            start_ms: s0.start_ms + 3_600_000,
            end_ms: s0.start_ms + 5 * 3_600_000,
            covered: "ana".into(),
            covering: "cy, the third".into(),
        };
        let text = calendar(
            &r,
            &[cover],
            Some("ana"),
            s0.start_ms,
            s0.end_ms,
            s0.start_ms,
        );
        let events = parse(&text);
        // Ana's primary seat is cut in two around the cover; nothing else of hers is in shift 0.
        let starts: Vec<&str> = events.iter().map(|e| e["DTSTART"].as_str()).collect();
        assert_eq!(starts, ["20261020T070000Z", "20261020T120000Z"]);
        assert!(events.iter().all(|e| e["SUMMARY"].ends_with("ana")));
    }
}

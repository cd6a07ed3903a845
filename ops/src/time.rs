//! Wall-clock helpers. The store keeps times as Unix epoch milliseconds, the same integer type on
//! SQLite and Postgres.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// "3 s", "5 min", "2 h 10 min", "4 d": an age for people.
pub use vocab::age as human_age;

/// "14:03:09 UTC": a time of day for messages that people and auditors read.
pub fn utc_clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", s / 3600, (s % 3600) / 60, s % 60)
}

/// `2026-12-01 10:33 UTC`: a date and time for people (checklists, PagerDuty's shifts).
pub fn utc_datetime(ms: i64) -> String {
    let (year, month, day) = vocab::civil_date(ms);
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        s / 3600,
        (s % 3600) / 60
    )
}

/// `20261201103344`: a UTC date and time as Habitat stamps a release.
pub fn utc_stamp(ms: i64) -> String {
    let (year, month, day) = vocab::civil_date(ms);
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// Configuration values in milliseconds (`poll_interval_ms = 1000`), read as a [`Duration`].
pub fn millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(std::time::Duration::from_millis)
}

/// Configuration values in seconds (`max_backoff_secs = 60`), read as a [`Duration`].
pub fn secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    <u64 as serde::Deserialize>::deserialize(d).map(std::time::Duration::from_secs)
}

/// The longest zone name a browser or a person may hand us (the longest IANA name is 32).
const ZONE_NAME_MAX: usize = 64;

/// How far either side of now a [`vocab::Zone`] knows the zone's offsets: an audit log or a
/// rotation further away than that is shown with the nearest known offset.
const ZONE_WINDOW_MS: i64 = 3 * 366 * 86_400_000;

/// The zone named `name` (an IANA name such as `America/Los_Angeles`, or `UTC`), as the pages
/// need it: its offsets over some years either side of `now_ms`. `None` when the name is not a
/// zone the bundled database knows: the name comes from a browser's cookie or a form, so it
/// is checked against the database (an allow list), never used as a path.
pub fn zone(name: &str, now_ms: i64) -> Option<vocab::Zone> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    let name = name.trim();
    if name.is_empty() || name.len() > ZONE_NAME_MAX || !name.is_ascii() {
        return None;
    }
    // Built once a day per zone: a page asks for it on every request.
    static BUILT: OnceLock<Mutex<HashMap<String, (i64, vocab::Zone)>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    if let Ok(map) = built.lock() {
        if let Some((at, z)) = map.get(name) {
            if (now_ms - at).abs() < 86_400_000 {
                return Some(z.clone());
            }
        }
    }
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    let from = jiff::Timestamp::from_millisecond(now_ms - ZONE_WINDOW_MS).ok()?;
    let until = now_ms + ZONE_WINDOW_MS;
    let first = tz.to_offset_info(from);
    let mut spans = vec![vocab::ZoneSpan {
        from_ms: i64::MIN,
        offset_s: first.offset().seconds(),
        abbrev: first.abbreviation().to_owned(),
    }];
    for t in tz.following(from) {
        let at = t.timestamp().as_millisecond();
        if at > until || spans.len() > 64 {
            break;
        }
        spans.push(vocab::ZoneSpan {
            from_ms: at,
            offset_s: t.offset().seconds(),
            abbrev: t.abbreviation().to_owned(),
        });
    }
    let zone = vocab::Zone {
        // The database's own spelling (`america/los_angeles` is found, and shown properly).
        name: tz.iana_name().unwrap_or(name).to_owned(),
        spans,
        source: "default".to_owned(),
    };
    if let Ok(mut map) = built.lock() {
        if map.len() > 1024 {
            map.clear();
        }
        map.insert(name.to_owned(), (now_ms, zone.clone()));
    }
    Some(zone)
}

/// Every zone name the bundled database knows, sorted: the settings page offers these.
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| n.contains('/') || n == "UTC")
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The instants a calendar day (`2026-12-07`) starts and ends (exclusive) in the zone `zone`:
/// a person's "from" and "to" days mean their own days, not UTC's. `None` when `day` is not a
/// date written as `YYYY-MM-DD` or `zone` is not a zone.
pub fn day_bounds(zone: &str, day: &str) -> Option<(i64, i64)> {
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let day = day.trim();
    if day.len() != 10 {
        return None;
    }
    let date: jiff::civil::Date = day.parse().ok()?;
    let start = date.to_zoned(tz.clone()).ok()?;
    let end = date.tomorrow().ok()?.to_zoned(tz).ok()?;
    Some((
        start.timestamp().as_millisecond(),
        end.timestamp().as_millisecond(),
    ))
}

/// Why a wall-clock time from a form is not an instant: input the person can fix.
#[derive(Debug, thiserror::Error)]
pub enum LocalTimeError {
    /// The zone is not one the database knows.
    #[error("{0:?} is not a time zone")]
    Zone(String),
    /// The text is not a date and time.
    #[error("{0:?} is not a date and time such as 2026-12-02T09:00")]
    NotATime(String),
    /// A date and time, but not one the zone can hold.
    #[error("{text:?}: {error}")]
    OutOfRange { text: String, error: jiff::Error },
}

/// A wall-clock time as a form sends it (`2026-12-02T09:00`), in `tz`, to an instant.
pub(crate) fn local_in(tz: jiff::tz::TimeZone, text: &str) -> Result<i64, LocalTimeError> {
    let civil: jiff::civil::DateTime = text
        .trim()
        .parse()
        .map_err(|_| LocalTimeError::NotATime(text.to_owned()))?;
    civil
        .to_zoned(tz)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|error| LocalTimeError::OutOfRange {
            text: text.to_owned(),
            error,
        })
}

/// A wall-clock time as a form sends it (`2026-12-02T09:00`) in the zone `zone` (an IANA
/// name), to an instant. A time inside a daylight-saving gap reads as the clock reads after it.
pub fn parse_local(zone: &str, text: &str) -> Result<i64, LocalTimeError> {
    let tz = jiff::tz::TimeZone::get(zone).map_err(|_| LocalTimeError::Zone(zone.to_owned()))?;
    local_in(tz, text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_stamps_are_utc_civil_dates() {
        assert_eq!(super::utc_stamp(0), "19700101000000");
        assert_eq!(super::utc_stamp(951_782_400_000), "20000229000000");
        assert_eq!(super::utc_stamp(1_796_122_364_330), "20261201105244");
    }

    use super::*;

    #[test]
    fn ages() {
        assert_eq!(human_age(-5), "0 s");
        assert_eq!(human_age(59_000), "59 s");
        assert_eq!(human_age(61_000), "1 min");
        assert_eq!(human_age(3_600_000), "1 h");
        assert_eq!(human_age(3_660_000), "1 h 1 min");
        assert_eq!(human_age(90_000_000), "1 d");
    }

    #[test]
    fn a_zone_is_built_from_the_database_and_only_from_it() {
        // 2026-12-07: Los Angeles is on PST, and was on PDT in the summer.
        let now = 1_796_601_600_000;
        let z = super::zone("America/Los_Angeles", now).unwrap();
        assert_eq!(z.name, "America/Los_Angeles");
        assert_eq!(z.clock(now), "16:00:00 PST");
        assert_eq!(z.clock(now - 150 * 86_400_000), "17:00:00 PDT");
        assert!(z.spans.len() > 4 && z.spans.len() < 20, "{}", z.spans.len());
        assert_eq!(super::zone("UTC", now).unwrap().clock(now), "00:00:00 UTC");
        for hostile in [
            "../../etc/passwd",
            "",
            "Mars/Olympus",
            "America/Los_Angeles\u{0}",
            &"A/".repeat(40),
        ] {
            assert!(super::zone(hostile, now).is_none(), "{hostile:?}");
        }
        assert!(super::zone_names().iter().any(|n| n == "Europe/Berlin"));
        assert_eq!(
            super::parse_local("America/Los_Angeles", "2026-12-06T16:00").unwrap(),
            now
        );
        assert!(super::parse_local("America/Los_Angeles", "tomorrow").is_err());
        // A day in Los Angeles is a day there: 08:00 UTC to 08:00 UTC in December.
        assert_eq!(
            super::day_bounds("America/Los_Angeles", "2026-12-07"),
            Some((now + 8 * 3_600_000, now + 32 * 3_600_000))
        );
        for bad in ["2026-13-01", "2026-2-1", "yesterday", "2026-12-07T00:00"] {
            assert_eq!(super::day_bounds("UTC", bad), None, "{bad}");
        }
    }
}

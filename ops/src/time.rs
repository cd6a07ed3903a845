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
pub fn human_age(ms: i64) -> String {
    let s = (ms.max(0)) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => {
            let m = (s % 3600) / 60;
            if m == 0 {
                format!("{} h", s / 3600)
            } else {
                format!("{} h {m} min", s / 3600)
            }
        }
        _ => format!("{} d", s / 86_400),
    }
}

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
}

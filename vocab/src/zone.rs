//! Clock times in a person's time zone, the same on the server and in the browser.
//!
//! The portal has one rule for time (issue #28, point 12): every clock time is shown in the
//! zone the person chose (by default their browser's), and the zone is always written next to
//! it. The zone database lives on the server only (`jiff` with its bundled tzdb, far too large
//! for the browser's bundle); the server hands the browser a [`Zone`]: the zone's name and its
//! offsets over a window of years around now, a handful of rows. Formatting is then plain
//! arithmetic here, so the text the server renders and the text the browser renders after
//! hydration (or on a client-side navigation, or a live update) is the same text.

use serde::{Deserialize, Serialize};

/// The cookie that carries the browser's own zone (the page's first script sets it; the server
/// reads it, and checks it against its zone database).
pub const COOKIE: &str = "onwatch_tz";

/// One stretch of constant offset: from `from_ms` (inclusive) until the next span's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSpan {
    pub from_ms: i64,
    /// Seconds east of UTC (`-28800` for PST).
    pub offset_s: i32,
    /// What the zone calls this stretch (`PST`, `CET`, or `+0530` where it has no name).
    pub abbrev: String,
}

/// A time zone as the pages need it: a name and its offsets, oldest first. Instants before the
/// first span use the first; after the last, the last (the server covers years either side
/// of now, far more than any page shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// The IANA name (`America/Los_Angeles`) or `UTC`.
    pub name: String,
    pub spans: Vec<ZoneSpan>,
    /// Where the choice came from, for the settings page: `chosen` (the person's setting),
    /// `browser` (their browser's zone, as it reported it) or `default` (nothing known: UTC).
    pub source: String,
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_owned(),
            spans: vec![ZoneSpan {
                from_ms: i64::MIN,
                offset_s: 0,
                abbrev: "UTC".to_owned(),
            }],
            source: "default".to_owned(),
        }
    }

    fn span(&self, ms: i64) -> Option<&ZoneSpan> {
        let i = self.spans.partition_point(|s| s.from_ms <= ms);
        self.spans.get(i.saturating_sub(1))
    }

    /// The offset (seconds east of UTC) and its abbreviation at `ms`.
    pub fn offset_at(&self, ms: i64) -> (i32, &str) {
        match self.span(ms) {
            Some(s) => (s.offset_s, s.abbrev.as_str()),
            None => (0, "UTC"),
        }
    }

    /// The wall-clock fields at `ms`: `(year, month, day, weekday 0=Mon, seconds of the day)`.
    fn fields(&self, ms: i64) -> (i64, i64, i64, i64, i64) {
        let (off, _) = self.offset_at(ms);
        let local = ms.saturating_add(i64::from(off) * 1000);
        let (y, m, d) = crate::civil_date(local);
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        let weekday = (local.div_euclid(86_400_000) + 3).rem_euclid(7);
        (y, m, d, weekday, local.div_euclid(1000).rem_euclid(86_400))
    }

    /// `01:28:56 PST`.
    pub fn clock(&self, ms: i64) -> String {
        let (.., s) = self.fields(ms);
        format!(
            "{:02}:{:02}:{:02} {}",
            s / 3600,
            (s % 3600) / 60,
            s % 60,
            self.offset_at(ms).1
        )
    }

    /// `2026-12-01 01:28:56 PST`: a full timestamp, for the audit log and lists of events.
    pub fn date_time(&self, ms: i64) -> String {
        let (y, m, d, _, s) = self.fields(ms);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {}",
            s / 3600,
            (s % 3600) / 60,
            s % 60,
            self.offset_at(ms).1
        )
    }

    /// `Mon 2 Nov 2026 09:00 PST`: shifts and other times a person plans around.
    pub fn day_time(&self, ms: i64) -> String {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (y, m, d, wd, s) = self.fields(ms);
        format!(
            "{} {d} {} {y} {:02}:{:02} {}",
            DAYS[wd as usize],
            MONTHS[(m - 1).clamp(0, 11) as usize],
            s / 3600,
            (s % 3600) / 60,
            self.offset_at(ms).1
        )
    }

    /// `2026-12-02T09:00`: the value of an `<input type="datetime-local">` in this zone.
    pub fn input_value(&self, ms: i64) -> String {
        let (y, m, d, _, s) = self.fields(ms);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}",
            s / 3600,
            (s % 3600) / 60
        )
    }

    /// `2026-12-01T01:28:56-08:00`: RFC 3339 with this zone's offset, for exports that a
    /// program reads (a spreadsheet, a script): unambiguous, and in the person's zone.
    pub fn rfc3339(&self, ms: i64) -> String {
        let (y, m, d, _, s) = self.fields(ms);
        let (off, _) = self.offset_at(ms);
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            s / 3600,
            (s % 3600) / 60,
            s % 60,
            a / 3600,
            (a % 3600) / 60
        )
    }

    /// `since 01:28:56 PST (5 min ago)` relative to `now_ms`.
    pub fn since(&self, now_ms: i64, then_ms: i64) -> String {
        format!(
            "since {} ({} ago)",
            self.clock(then_ms),
            crate::age(now_ms - then_ms)
        )
    }

    /// What a page says about the zone it speaks: `America/Los_Angeles (your browser's zone)`.
    pub fn describe(&self) -> String {
        let whose = match self.source.as_str() {
            "chosen" => "your setting",
            "browser" => "your browser's zone",
            _ => "no zone known: UTC",
        };
        format!("{} ({whose})", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Los Angeles around the 2026-11-01 change: PDT until 09:00 UTC, then PST.
    fn la() -> Zone {
        Zone {
            name: "America/Los_Angeles".into(),
            spans: vec![
                ZoneSpan {
                    from_ms: i64::MIN,
                    offset_s: -7 * 3600,
                    abbrev: "PDT".into(),
                },
                ZoneSpan {
                    from_ms: 1_793_523_600_000, // 2026-11-01T09:00:00Z
                    offset_s: -8 * 3600,
                    abbrev: "PST".into(),
                },
            ],
            source: "chosen".into(),
        }
    }

    #[test]
    fn utc_is_utc() {
        let z = Zone::utc();
        assert_eq!(z.clock(86_400_000 + 3_723_000), "01:02:03 UTC");
        assert_eq!(z.date_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(z.day_time(0), "Thu 1 Jan 1970 00:00 UTC");
        assert_eq!(z.rfc3339(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn each_instant_takes_the_offset_of_its_own_span() {
        let z = la();
        let change = 1_793_523_600_000;
        assert_eq!(z.date_time(change - 1000), "2026-11-01 01:59:59 PDT");
        assert_eq!(z.date_time(change), "2026-11-01 01:00:00 PST");
        assert_eq!(z.day_time(change), "Sun 1 Nov 2026 01:00 PST");
        assert_eq!(z.rfc3339(change), "2026-11-01T01:00:00-08:00");
        assert_eq!(z.input_value(change), "2026-11-01T01:00");
        // A day that starts before midnight UTC: the local date, not the UTC one.
        assert_eq!(z.date_time(1_796_173_200_000), "2026-12-01 17:00:00 PST");
        assert_eq!(z.clock(1_796_173_200_000 + 8 * 3_600_000), "01:00:00 PST");
    }

    #[test]
    fn half_hour_offsets_and_the_far_past() {
        let z = Zone {
            name: "Asia/Kolkata".into(),
            spans: vec![ZoneSpan {
                from_ms: 0,
                offset_s: 5 * 3600 + 1800,
                abbrev: "IST".into(),
            }],
            source: "browser".into(),
        };
        assert_eq!(z.rfc3339(0), "1970-01-01T05:30:00+05:30");
        // Before the first span, the first span's offset.
        assert_eq!(z.clock(-1000), "05:29:59 IST");
        assert_eq!(z.describe(), "Asia/Kolkata (your browser's zone)");
    }

    #[test]
    fn a_zone_round_trips_through_json() {
        let z = la();
        let back: Zone = serde_json::from_str(&serde_json::to_string(&z).unwrap()).unwrap();
        assert_eq!(back, z);
    }
}

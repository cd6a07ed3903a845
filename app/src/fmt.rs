//! Formatting for people: ages and clock times. Pure functions, the same on server and browser,
//! so server-rendered text and hydrated text agree.

/// "1 row", "2 rows".
pub use vocab::count;

/// "3 s", "5 min", "2 h 10 min", "4 d".
pub use vocab::age;

/// The zone the page speaks (issue #28, point 12: one rule for the whole portal): the
/// person's chosen zone, else their browser's, else UTC. The layout provides it from the shell's
/// data on both sides; a server function outside a page reads it from the request.
pub fn zone() -> vocab::Zone {
    if let Some(z) = leptos::prelude::use_context::<vocab::Zone>() {
        return z;
    }
    #[cfg(feature = "ssr")]
    {
        crate::portal::zone()
    }
    #[cfg(not(feature = "ssr"))]
    {
        vocab::Zone::utc()
    }
}

/// `14:03:09 PST`: a time of day in the page's zone, the zone written.
pub fn clock(ms: i64) -> String {
    zone().clock(ms)
}

/// `since 14:03:09 PST (5 min ago)` relative to `now`, in the page's zone.
pub fn since(now_ms: i64, then_ms: i64) -> String {
    zone().since(now_ms, then_ms)
}

/// `2026-12-01 03:14:07 PST`: a full timestamp in the page's zone, for the audit log.
pub fn date_time(ms: i64) -> String {
    zone().date_time(ms)
}

/// The epoch ms of midnight UTC starting `YYYY-MM-DD`, or `None` when it is not such a date.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in[(m - 1) as usize] {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm), proleptic Gregorian.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

/// Now, in milliseconds since the epoch: the browser's clock in the browser, the server's on
/// the server.
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_bad_days_do_not() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-12-01"), Some(1_796_083_200_000));
        assert_eq!(parse_day("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(
            date_time(1_709_164_800_000 + 3_723_000),
            "2024-02-29 01:02:03 UTC"
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "yesterday",
            "2026-12-01-1",
            "",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(age(5_000), "5 s");
        assert_eq!(age(7_260_000), "2 h 1 min");
        // Outside a page (no zone in context, no request): UTC, and it says so.
        assert_eq!(clock(86_400_000 + 3_723_000), "01:02:03 UTC");
        assert_eq!(since(70_000, 10_000), "since 00:00:10 UTC (1 min ago)");
    }
}

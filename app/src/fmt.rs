//! Formatting for people: ages and clock times. Pure functions, the same on server and browser,
//! so server-rendered text and hydrated text agree.

/// "3 s", "5 min", "2 h 10 min", "4 d".
pub use vocab::count;

pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
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

/// `14:03:09 UTC` for an epoch-ms instant.
pub fn utc_clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", s / 3600, (s % 3600) / 60, s % 60)
}

/// `"since 14:03:09 UTC (5 min)"` relative to `now`.
pub fn since(now_ms: i64, then_ms: i64) -> String {
    format!(
        "since {} ({} ago)",
        utc_clock(then_ms),
        age(now_ms - then_ms)
    )
}

/// `2026-12-01 03:14:07`: a full UTC timestamp, for the audit log.
pub fn utc_date_time(ms: i64) -> String {
    let (y, m, d) = vocab::civil_date(ms);
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
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
            utc_date_time(1_709_164_800_000 + 3_723_000),
            "2024-02-29 01:02:03"
        );
        assert_eq!(utc_date_time(0), "1970-01-01 00:00:00");
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
        assert_eq!(utc_clock(0), "00:00:00 UTC");
        assert_eq!(utc_clock(86_400_000 + 3_723_000), "01:02:03 UTC");
        assert_eq!(since(70_000, 10_000), "since 00:00:10 UTC (1 min ago)");
    }
}

//! Formatting for people: ages and clock times. Pure functions, the same on server and browser,
//! so server-rendered text and hydrated text agree.

/// "3 s", "5 min", "2 h 10 min", "4 d".
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(age(5_000), "5 s");
        assert_eq!(age(7_260_000), "2 h 1 min");
        assert_eq!(utc_clock(0), "00:00:00 UTC");
        assert_eq!(utc_clock(86_400_000 + 3_723_000), "01:02:03 UTC");
        assert_eq!(since(70_000, 10_000), "since 00:00:10 UTC (1 min ago)");
    }
}

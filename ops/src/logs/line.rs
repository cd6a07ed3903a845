//! One journal line (`journalctl -o short-iso`), as the page shows it: its level, and the
//! Supervisor's prefix naming the service that wrote it (`builder-api.default(O): …`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Counts every line read from the host, forwarded or dropped: a gap in `seq` is lines the
    /// bounds dropped.
    pub seq: u64,
    pub text: String,
    pub level: Level,
    /// The service's package name (`builder-api`) when the Supervisor's prefix names one.
    pub service: Option<String>,
    /// The service group (`builder-api.default`).
    pub group: Option<String>,
}

/// Reads a line: cut to `max_bytes` (on a character boundary, marked), level and service.
pub fn parse(seq: u64, raw: &str, max_bytes: usize) -> LogLine {
    let text = if raw.len() > max_bytes {
        let mut cut = max_bytes;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{} … [{} bytes cut]", &raw[..cut], raw.len() - cut)
    } else {
        raw.to_owned()
    };
    let (service, group) = match prefix(&text) {
        Some((svc, grp)) => (Some(svc), Some(grp)),
        None => (None, None),
    };
    LogLine {
        seq,
        level: level(&text),
        text,
        service,
        group,
    }
}

fn level(text: &str) -> Level {
    let upper = text.to_ascii_uppercase();
    let has = |w: &str| {
        upper.match_indices(w).any(|(i, _)| {
            let before = upper[..i].chars().next_back();
            let after = upper[i + w.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    };
    if has("ERROR")
        || has("FATAL")
        || has("PANIC")
        || has("PANICKED")
        || has("CRIT")
        || has("CRITICAL")
    {
        Level::Error
    } else if has("WARN") || has("WARNING") {
        Level::Warn
    } else if has("DEBUG") || has("TRACE") {
        Level::Debug
    } else {
        Level::Info
    }
}

/// `builder-api.default(O):` → (`builder-api`, `builder-api.default`).
fn prefix(text: &str) -> Option<(String, String)> {
    for (i, _) in text.match_indices("):") {
        let open = text[..i].rfind('(')?;
        let tag = &text[open + 1..i];
        if tag.is_empty() || tag.len() > 3 || !tag.chars().all(|c| c.is_ascii_uppercase()) {
            continue;
        }
        let start = text[..open].rfind([' ', ':']).map(|p| p + 1).unwrap_or(0);
        let group = &text[start..open];
        let (svc, grp) = group.split_once('.')?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        };
        if plain(svc) && plain(grp) {
            return Some((svc.to_owned(), group.to_owned()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_prefixes() {
        let l = parse(
            1,
            "2026-12-01T03:00:00+0000 api-1 hab[812]: builder-api.default(O): ERROR: db gone",
            4096,
        );
        assert_eq!(l.level, Level::Error);
        assert_eq!(l.service.as_deref(), Some("builder-api"));
        assert_eq!(l.group.as_deref(), Some("builder-api.default"));
        let l = parse(
            2,
            "2026-12-01T03:00:00+0000 api-1 hab[812]: hab-sup(MR): Starting builder-api",
            4096,
        );
        assert_eq!(l.level, Level::Info);
        assert_eq!(l.service, None);
        assert_eq!(parse(3, "x WARN y", 4096).level, Level::Warn);
        assert_eq!(
            parse(4, "terrorism and ERRORS are other words", 4096).level,
            Level::Info
        );
        let long = "é".repeat(3000);
        let cut = parse(5, &long, 4097);
        assert!(
            cut.text.ends_with("bytes cut]"),
            "{}",
            &cut.text[cut.text.len() - 30..]
        );
    }
}

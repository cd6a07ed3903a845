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
    /// Left out of the stream when absent: most lines carry none, and a fast log is mostly
    /// field names otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The service group (`builder-api.default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Reads a line: cut to `max_bytes` (on a character boundary, marked), level and service.
/// Takes the line by value: a line within bounds keeps its allocation.
pub fn parse(seq: u64, raw: String, max_bytes: usize) -> LogLine {
    let text = if raw.len() > max_bytes {
        let mut cut = max_bytes;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{} … [{} bytes cut]", &raw[..cut], raw.len() - cut)
    } else {
        raw
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

/// The level a line's words name: `ERROR`, `WARN`, `DEBUG` and kin as whole words, in any
/// case (`terrorism` is not an error). One pass over the bytes, no allocation: this runs for
/// every line of a log that may write a million a second.
fn level(text: &str) -> Level {
    let (mut warn, mut debug) = (false, false);
    for word in text.as_bytes().split(|b| !b.is_ascii_alphanumeric()) {
        if !(4..=8).contains(&word.len()) {
            continue;
        }
        let mut up = [0u8; 8];
        for (u, b) in up.iter_mut().zip(word) {
            *u = b.to_ascii_uppercase();
        }
        match &up[..word.len()] {
            b"ERROR" | b"FATAL" | b"PANIC" | b"PANICKED" | b"CRIT" | b"CRITICAL" => {
                return Level::Error
            }
            b"WARN" | b"WARNING" => warn = true,
            b"DEBUG" | b"TRACE" => debug = true,
            _ => {}
        }
    }
    if warn {
        Level::Warn
    } else if debug {
        Level::Debug
    } else {
        Level::Info
    }
}

/// `builder-api.default(O):` → (`builder-api`, `builder-api.default`).
fn prefix(text: &str) -> Option<(String, String)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    // Each `):` in turn (byte search: a string pattern would build a searcher per line).
    while let Some(off) = bytes[from..].iter().position(|&b| b == b')') {
        let i = from + off;
        from = i + 1;
        if bytes.get(i + 1) != Some(&b':') {
            continue;
        }
        let Some(open) = text[..i].rfind('(') else {
            continue;
        };
        let tag = &text[open + 1..i];
        if tag.is_empty() || tag.len() > 3 || !tag.chars().all(|c| c.is_ascii_uppercase()) {
            continue;
        }
        let start = text[..open].rfind([' ', ':']).map(|p| p + 1).unwrap_or(0);
        let group = &text[start..open];
        let Some((svc, grp)) = group.split_once('.') else {
            continue;
        };
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
    use proptest::strategy::Strategy;

    #[test]
    fn levels_and_prefixes() {
        let l = parse(
            1,
            "2026-12-01T03:00:00+0000 api-1 hab[812]: builder-api.default(O): ERROR: db gone"
                .into(),
            4096,
        );
        assert_eq!(l.level, Level::Error);
        assert_eq!(l.service.as_deref(), Some("builder-api"));
        assert_eq!(l.group.as_deref(), Some("builder-api.default"));
        let l = parse(
            2,
            "2026-12-01T03:00:00+0000 api-1 hab[812]: hab-sup(MR): Starting builder-api".into(),
            4096,
        );
        assert_eq!(l.level, Level::Info);
        assert_eq!(l.service, None);
        assert_eq!(parse(3, "x WARN y".into(), 4096).level, Level::Warn);
        assert_eq!(
            parse(4, "terrorism and ERRORS are other words".into(), 4096).level,
            Level::Info
        );
        let long = "é".repeat(3000);
        let cut = parse(5, long, 4097);
        assert!(
            cut.text.ends_with("bytes cut]"),
            "{}",
            &cut.text[cut.text.len() - 30..]
        );
    }

    /// The first way of reading a level (uppercase the line, look for each word with its
    /// boundaries): plain to check by eye, and the reference the fast scan must agree with.
    fn level_by_search(text: &str) -> Level {
        let upper = text.to_ascii_uppercase();
        let has = |w: &str| {
            upper.match_indices(w).any(|(i, _)| {
                let before = upper[..i].chars().next_back();
                let after = upper[i + w.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric())
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric())
            })
        };
        if ["ERROR", "FATAL", "PANIC", "PANICKED", "CRIT", "CRITICAL"]
            .iter()
            .any(|w| has(w))
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

    proptest::proptest! {
        #[test]
        fn the_scan_reads_levels_as_the_search_does(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "error", "Error", "ERRORS", "xerror", "fatal", "panicked", "crit",
                        "CRITICAL", "warn", "Warning", "warned", "debug", "TRACE", "traced",
                        "info", "é", "ß", "1", "", "WARN9", "_debug",
                    ]).prop_map(|w: &str| w.to_owned()),
                    "[a-zA-Z0-9]{0,9}",
                ],
                0..8,
            ),
            seps in proptest::collection::vec(
                proptest::sample::select(vec![" ", ":", "-", "_", "é", "(", "[", "\t", ""]),
                8,
            ),
        ) {
            let mut line = String::new();
            for (w, s) in words.iter().zip(seps.iter().cycle()) {
                line.push_str(w);
                line.push_str(s);
            }
            proptest::prop_assert_eq!(level(&line), level_by_search(&line), "{:?}", line);
        }
    }
}

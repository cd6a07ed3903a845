//! Text from outside (a person's form, a host's answer, a log line) on its way into the store
//! or a page: bounded, and saying so when it was cut.

/// A read that did not happen (a host or a peer that could not say), and why, in words for the
/// page: what a page shows in place of the thing it could not read. Not a refusal (nothing was
/// asked of a rule) and not a store fault.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{0}")]
pub struct Unread(pub String);

/// At most `max` bytes of `s`, cut on a character boundary, with how much was left out.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &s[..end], s.len() - end)
}

/// What a spreadsheet reads as the start of a formula (OWASP's list: tab and carriage return
/// too, which some strip before looking).
const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell's text with a leading formula character kept as data (prefixed with `'`), so
/// that an export opened in a spreadsheet runs nothing a host or a person wrote. Quoting is the
/// `csv` crate's (see [`csv_writer`]); this is the part no CSV writer does.
pub fn spreadsheet_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(FORMULA) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// The CSV writer every export uses: CRLF line ends (RFC 4180), and quotes around every cell
/// when `always_quote` (the audit log: its detail column is JSON, full of commas) or only where
/// a cell needs them (console results: the export stays small).
pub fn csv_writer(always_quote: bool) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(if always_quote {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        })
        .from_writer(Vec::new())
}

/// One record through [`spreadsheet_safe`]. Writing to memory fails only on a bug in `csv`.
pub fn csv_record<'a>(w: &mut csv::Writer<Vec<u8>>, cells: impl IntoIterator<Item = &'a str>) {
    let safe: Vec<std::borrow::Cow<'_, str>> = cells.into_iter().map(spreadsheet_safe).collect();
    if let Err(e) = w.write_record(safe.iter().map(|c| c.as_bytes())) {
        tracing::error!(error = %e, "a CSV record could not be written to memory");
    }
}

/// The bytes written so far.
pub fn csv_finish(w: csv::Writer<Vec<u8>>) -> Vec<u8> {
    w.into_inner()
        .unwrap_or_else(|e| e.into_inner().get_ref().clone())
}

/// Characters that change how text is shown without being seen: bidirectional overrides,
/// embeddings and isolates (which can make `exe.txt` read as `txt.exe`), zero-width characters
/// and the byte-order mark.
pub fn is_invisible_control(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// One field from a person or a machine (a title, a note, an alarm, a name) as inline Markdown
/// text that renders as exactly these characters, whatever renders it: every character that
/// Markdown or GitHub's flavour gives a meaning is backslash-escaped (links, images, emphasis,
/// code spans and fences, headings, lists, tables, task items, autolinks in angle brackets),
/// HTML's `&`, `<` and `>` become entities (so no tag nor entity is read), line breaks and tabs
/// become spaces (a field stays on its line, so it cannot start a block), and other control
/// characters and the invisible ones ([`is_invisible_control`]) are dropped.
pub fn markdown_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push(' ')
            }
            c if c.is_control() || is_invisible_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_never_start_a_formula() {
        for (cell, want) in [
            ("plain", "\"plain\"\r\n"),
            ("=1+1", "\"'=1+1\"\r\n"),
            ("\t=cmd", "\"'\t=cmd\"\r\n"),
            ("\r-2", "\"'\r-2\"\r\n"),
            ("@x", "\"'@x\"\r\n"),
            ("a\"b", "\"a\"\"b\"\r\n"),
        ] {
            let mut w = super::csv_writer(true);
            super::csv_record(&mut w, [cell]);
            assert_eq!(
                String::from_utf8(super::csv_finish(w)).unwrap(),
                want,
                "{cell:?}"
            );
        }
        // Only where needed: a formula is still kept as data, and a comma still quoted.
        let mut w = super::csv_writer(false);
        super::csv_record(&mut w, ["plain", "=1+1", "a,b"]);
        assert_eq!(
            String::from_utf8(super::csv_finish(w)).unwrap(),
            "plain,'=1+1,\"a,b\"\r\n"
        );
    }

    #[test]
    fn cut_keeps_short_text_and_marks_long_text_on_a_character_boundary() {
        assert_eq!(super::cut("abc", 3), "abc");
        assert_eq!(super::cut("abcd", 3), "abc… (1 bytes cut)");
        // 'é' is two bytes: the cut never splits it.
        assert_eq!(super::cut("aé", 2), "a… (2 bytes cut)");
    }

    #[test]
    fn markdown_inline_renders_hostile_text_as_text() {
        let md = super::markdown_inline;
        assert_eq!(
            md("[click](javascript:alert(1))"),
            "\\[click\\]\\(javascript:alert\\(1\\)\\)"
        );
        assert_eq!(
            md("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert\\(1\\)&gt;"
        );
        assert_eq!(md("# heading"), "\\# heading");
        assert_eq!(md("```rust"), "\\`\\`\\`rust");
        assert_eq!(md("a\u{1b}[31mred"), "a\\[31mred");
        assert_eq!(md("abc\u{202e}txt.exe"), "abctxt\\.exe");
        assert_eq!(md("ok\n- [x] fake item"), "ok \\- \\[x\\] fake item");
        assert_eq!(md("a | b & c"), "a \\| b &amp; c");
        assert_eq!(md("1. two"), "1\\. two");
        assert_eq!(md("plain words, é ✓"), "plain words, é ✓");
    }
}

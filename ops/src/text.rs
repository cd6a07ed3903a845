//! Text from outside (a person's form, a host's answer, a log line) on its way into the store
//! or a page: bounded, and saying so when it was cut.

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

/// One CSV cell, always quoted, with a leading formula character kept as data (prefixed with
/// `'`), so that an export opened in a spreadsheet runs nothing a host or a person wrote.
pub fn csv_cell(out: &mut String, s: &str) {
    out.push('"');
    if s.starts_with(FORMULA) {
        out.push('\'');
    }
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_never_start_a_formula() {
        for (cell, want) in [
            ("plain", "\"plain\""),
            ("=1+1", "\"'=1+1\""),
            ("\t=cmd", "\"'\t=cmd\""),
            ("\r-2", "\"'\r-2\""),
            ("@x", "\"'@x\""),
            ("a\"b", "\"a\"\"b\""),
        ] {
            let mut out = String::new();
            super::csv_cell(&mut out, cell);
            assert_eq!(out, want, "{cell:?}");
        }
    }

    #[test]
    fn cut_keeps_short_text_and_marks_long_text_on_a_character_boundary() {
        assert_eq!(super::cut("abc", 3), "abc");
        assert_eq!(super::cut("abcd", 3), "abc… (1 bytes cut)");
        // 'é' is two bytes: the cut never splits it.
        assert_eq!(super::cut("aé", 2), "a… (2 bytes cut)");
    }
}

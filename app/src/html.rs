//! The one HTML escaper: everything Onwatch writes as HTML text — the dashboard's markup, the
//! sign-in and refusal pages — goes through it. (Leptos escapes what its views render.)

/// Appends `s` as element text.
pub fn text(out: &mut String, s: &str) {
    escape_into(out, s, false);
}

/// Appends `s` as the value of a double-quoted (or single-quoted) attribute.
pub fn attr(out: &mut String, s: &str) {
    escape_into(out, s, true);
}

/// `s`, safe as element text and as a quoted attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    attr(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str, quotes: bool) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if quotes => "&quot;",
            b'\'' if quotes => "&#39;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let mut t = String::new();
        text(&mut t, "\"é\" <b>");
        assert_eq!(
            t, "\"é\" &lt;b&gt;",
            "quotes stay in text; multi-byte text intact"
        );
    }
}

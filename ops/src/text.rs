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

#[cfg(test)]
mod tests {
    #[test]
    fn cut_keeps_short_text_and_marks_long_text_on_a_character_boundary() {
        assert_eq!(super::cut("abc", 3), "abc");
        assert_eq!(super::cut("abcd", 3), "abc… (1 bytes cut)");
        // 'é' is two bytes: the cut never splits it.
        assert_eq!(super::cut("aé", 2), "a… (2 bytes cut)");
    }
}

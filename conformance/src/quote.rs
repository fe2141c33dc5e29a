//! How reply bytes read in verdicts and reports: as they were, between one pair of double quotes.
//!
//! Debug formatting (`{:?}`) escaped every quote, so a merchant's `{"code":501}` read `"{\"code\":501}"` in a
//! sentence, and the HTML report showed the backslashes too. Only what cannot be seen is escaped here: control
//! characters (`\r`, `\n`, `\t`, `\0`, others as `\u{…}`), a byte-order mark (`\u{feff}`, a C1 near miss) and
//! bytes that are not UTF-8 (`\xNN`). Quotes and backslashes stay as sent.

use std::fmt::Write;

/// `bytes` quoted once, escapes only for what cannot be seen.
pub fn quoted_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                c if c.is_control() || c == '\u{feff}' => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// [`quoted_bytes`] of a text.
pub fn quoted(text: &str) -> String {
    quoted_bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_as_sent_with_only_invisible_bytes_escaped() {
        let check = |bytes: &[u8], shown: &str| assert_eq!(quoted_bytes(bytes), shown, "{bytes:?}");
        check(br#"{"code":501}"#, r#""{"code":501}""#);
        check(b"{\"code\":200}\r\n", r#""{"code":200}\r\n""#);
        check("\u{feff}{\"code\":200}".as_bytes(), r#""\u{feff}{"code":200}""#);
        check(b"a\\b\tc\0\x1b", r#""a\b\tc\0\u{1b}""#);
        check(b"\xff\xfe ok", r#""\xff\xfe ok""#);
        check("成功".as_bytes(), "\"成功\"");
        check(b"", "\"\"");
        assert_eq!(quoted("{\"code\":501}"), quoted_bytes(b"{\"code\":501}"));
    }
}

//! Go string literals (for values) and quoted segments of attribute names.

use super::LexError;

/// Decodes a string literal as Go's `strconv.Unquote` does: `"…"` with Go escapes, or a raw
/// back-quoted string (carriage returns removed).
pub fn unquote(text: &str) -> Result<String, LexError> {
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        return Ok(raw.replace('\r', ""));
    }
    let body = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(|| LexError::new("string literal not terminated", 0))?;
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let offset = i + 1; // offset of the backslash inside `text`
        let Some((_, e)) = chars.next() else {
            return Err(LexError::new("string literal not terminated", offset));
        };
        match e {
            'a' => out.push(0x07),
            'b' => out.push(0x08),
            'f' => out.push(0x0c),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(0x0b),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'x' => out.push(hex_digits(&mut chars, 2, offset)? as u8),
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let v = hex_digits(&mut chars, n, offset)?;
                let c = char::from_u32(v).ok_or_else(|| {
                    LexError::new("escape sequence is invalid Unicode code point", offset)
                })?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.next() {
                        Some((_, d)) if d.is_digit(8) => v = v * 8 + d.to_digit(8).unwrap_or(0),
                        _ => return Err(LexError::new("invalid octal escape sequence", offset)),
                    }
                }
                if v > 255 {
                    return Err(LexError::new("octal escape value > 255", offset));
                }
                out.push(v as u8);
            }
            _ => {
                return Err(LexError::new(
                    format!("unknown escape sequence `\\{e}`"),
                    offset,
                ));
            }
        }
    }
    String::from_utf8(out).map_err(|_| LexError::new("string is not valid UTF-8", 0))
}

fn hex_digits(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    n: usize,
    offset: usize,
) -> Result<u32, LexError> {
    let mut v: u32 = 0;
    for _ in 0..n {
        match chars.next() {
            Some((_, d)) if d.is_ascii_hexdigit() => v = v * 16 + d.to_digit(16).unwrap_or(0),
            _ => return Err(LexError::new("invalid hexadecimal escape sequence", offset)),
        }
    }
    Ok(v)
}

/// Encodes a string as a literal that [`unquote`] turns back into it: back-quoted when
/// possible (the canonical form), otherwise double-quoted with Go escapes.
pub fn quote(s: &str) -> String {
    if !s.contains(['`', '\r']) {
        return format!("`{s}`");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters that end an unquoted attribute name (besides whitespace).
const NAME_TERMINATORS: &[char] = &[
    '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',', '"', '`',
];

/// Decodes an attribute name: plain characters, and `"…"` segments in which only `\"` and `\\`
/// are escapes.
pub fn unquote_attribute_name(text: &str) -> Result<String, LexError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        loop {
            match chars.next() {
                Some((_, '"')) => break,
                Some((j, '\\')) => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    _ => {
                        return Err(LexError::new(
                            "invalid escape sequence in attribute name",
                            j,
                        ));
                    }
                },
                Some((_, c)) => out.push(c),
                None => return Err(LexError::new("attribute name quote not terminated", i)),
            }
        }
    }
    Ok(out)
}

/// True when an attribute name cannot be written without quotes.
pub fn attribute_name_needs_quotes(name: &str) -> bool {
    name.is_empty()
        || name.contains("//")
        || name.contains("/*")
        || name
            .chars()
            .any(|c| c.is_whitespace() || NAME_TERMINATORS.contains(&c))
}

/// Writes an attribute name as one quoted segment.
pub fn quote_attribute_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escapes_decode() {
        assert_eq!(unquote(r#""a\nb""#).as_deref(), Ok("a\nb"));
        assert_eq!(
            unquote(r#""\u00e9\x41\101\t\"\\""#).as_deref(),
            Ok("éAA\t\"\\")
        );
        assert_eq!(unquote(r#""\U0001F600""#).as_deref(), Ok("😀"));
        assert_eq!(
            unquote("`no \\escapes\r here`").as_deref(),
            Ok("no \\escapes here")
        );
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert!(unquote(r#""\q""#).is_err());
        assert!(unquote(r#""\'""#).is_err());
        assert!(unquote(r#""\x4""#).is_err());
        assert!(unquote(r#""\400""#).is_err());
        assert!(unquote(r#""\ud800""#).is_err());
        assert!(unquote(r#""\xff""#).is_err(), "not UTF-8");
    }

    #[test]
    fn quote_round_trips() {
        for s in [
            "",
            "plain",
            "back`tick",
            "cr\rlf\n",
            "tab\t\"q\"\\",
            "\u{1}\u{7f}",
            "é😀",
        ] {
            assert_eq!(unquote(&quote(s)).as_deref(), Ok(s), "{s:?}");
        }
        assert_eq!(quote("x"), "`x`");
    }

    #[test]
    fn attribute_names_decode() {
        assert_eq!(
            unquote_attribute_name(r#"foo."bar baz".x"#).as_deref(),
            Ok("foo.bar baz.x")
        );
        assert_eq!(
            unquote_attribute_name(r#""a\"b\\c""#).as_deref(),
            Ok("a\"b\\c")
        );
        assert!(unquote_attribute_name(r#""a\nb""#).is_err());
        for name in ["a b", "x=y", "q\"", "back\\slash", "{}"] {
            let quoted = quote_attribute_name(name);
            assert_eq!(unquote_attribute_name(&quoted).as_deref(), Ok(name));
            assert!(attribute_name_needs_quotes(name) || name.contains('\\'));
        }
    }
}

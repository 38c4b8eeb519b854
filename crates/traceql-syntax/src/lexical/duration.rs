//! Durations: parsed as Prometheus syntax first, then Go's `time.ParseDuration`; printed as
//! Go's `Duration.String()`.

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;
const D: u64 = 24 * H;
const W: u64 = 7 * D;
const Y: u64 = 365 * D;

/// Parses a duration literal into nanoseconds; `None` when neither syntax accepts it or it
/// overflows 64 bits.
pub fn parse(text: &str) -> Option<i64> {
    parse_prometheus(text).or_else(|| parse_go(text))
}

/// Prometheus: integer parts with units `y w d h m s ms`, each at most once, largest first.
fn parse_prometheus(text: &str) -> Option<i64> {
    const UNITS: [(&str, u64); 7] = [
        ("y", Y),
        ("w", W),
        ("d", D),
        ("h", H),
        ("m", M),
        ("s", S),
        ("ms", MS),
    ];
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let index = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        next_unit = index + 1;
        total = total.checked_add(value.checked_mul(UNITS[index].1)?)?;
    }
    (next_unit > 0).then_some(())?;
    i64::try_from(total).ok()
}

/// Go: decimal numbers with optional fraction, each with a unit `ns us µs μs ms s m h`.
fn parse_go(text: &str) -> Option<i64> {
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole: u64 = if digits > 0 {
            rest[..digits].parse().ok()?
        } else {
            0
        };
        rest = &rest[digits..];
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut fraction_digits = 0;
        if let Some(after_dot) = rest.strip_prefix('.') {
            rest = after_dot;
            fraction_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflowed = false;
            for b in rest[..fraction_digits].bytes() {
                if overflowed || fraction > (i64::MAX as u64 - 9) / 10 {
                    overflowed = true;
                    continue;
                }
                fraction = fraction * 10 + u64::from(b - b'0');
                scale *= 10.0;
            }
            rest = &rest[fraction_digits..];
        }
        if digits == 0 && fraction_digits == 0 {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => NS,
            "us" | "µs" | "μs" => US,
            "ms" => MS,
            "s" => S,
            "m" => M,
            "h" => H,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let mut value = whole.checked_mul(unit)?;
        if value > 1 << 63 {
            return None;
        }
        if fraction > 0 {
            value = value.checked_add((fraction as f64 * (unit as f64 / scale)) as u64)?;
            if value > 1 << 63 {
                return None;
            }
        }
        total = total.checked_add(value)?;
        if total > 1 << 63 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

/// Formats nanoseconds as Go's `Duration.String()` does: `1h30m0s`, `1.5s`, `100ms`, `0s`.
pub fn format(ns: i64) -> String {
    let negative = ns < 0;
    let u = ns.unsigned_abs();
    let body = if u < S {
        let (unit, precision) = match u {
            0 => return "0s".to_string(),
            u if u < US => ("ns", 0),
            u if u < MS => ("µs", 3),
            _ => ("ms", 6),
        };
        let (whole, fraction) = split_fraction(u, precision);
        format!("{whole}{fraction}{unit}")
    } else {
        let (seconds, fraction) = split_fraction(u, 9);
        let (minutes, seconds) = (seconds / 60, seconds % 60);
        let (hours, minutes) = (minutes / 60, minutes % 60);
        if hours > 0 {
            format!("{hours}h{minutes}m{seconds}{fraction}s")
        } else if minutes > 0 {
            format!("{minutes}m{seconds}{fraction}s")
        } else {
            format!("{seconds}{fraction}s")
        }
    };
    if negative { format!("-{body}") } else { body }
}

/// Splits `v` into `v / 10^precision` and its fraction as `.ddd` without trailing zeros (or
/// nothing when the fraction is zero).
fn split_fraction(v: u64, precision: u32) -> (u64, String) {
    let divisor = 10u64.pow(precision);
    let (whole, rem) = (v / divisor, v % divisor);
    if rem == 0 {
        return (whole, String::new());
    }
    let digits = format!("{rem:0width$}", width = precision as usize);
    (whole, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_syntaxes() {
        assert_eq!(parse("1d"), Some(24 * 3600 * 1_000_000_000));
        assert_eq!(parse("1w"), Some(7 * 24 * 3600 * 1_000_000_000));
        assert_eq!(parse("1y"), Some(365 * 24 * 3600 * 1_000_000_000));
        assert_eq!(parse("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse("1.5m"), Some(90 * 1_000_000_000));
        assert_eq!(parse(".24h"), Some(864 * 1_000_000_000));
        assert_eq!(parse("1µs"), Some(1000));
        assert_eq!(parse("100ms"), Some(100_000_000));
        assert_eq!(parse("1h15m30.918273645s"), Some(4_530_918_273_645));
        assert_eq!(parse("1d12h"), Some(36 * 3600 * 1_000_000_000));
        assert_eq!(parse("2562047h47m16.854775807s"), Some(i64::MAX));
    }

    #[test]
    fn rejects_what_neither_syntax_accepts() {
        for text in [
            "1.5d", "1D", "1h1d", "5m3", "1sm", "1", ".s", "2562048h", "1d500us",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(0), "0s");
        assert_eq!(format(1), "1ns");
        assert_eq!(format(1500), "1.5µs");
        assert_eq!(format(1_500_000), "1.5ms");
        assert_eq!(format(1_500_000_000), "1.5s");
        assert_eq!(format(90 * 1_000_000_000), "1m30s");
        assert_eq!(format(3 * 3600 * 1_000_000_000), "3h0m0s");
        assert_eq!(format(-5_000_000_000), "-5s");
        assert_eq!(format(i64::MAX), "2562047h47m16.854775807s");
    }

    #[test]
    fn format_then_parse_round_trips() {
        for ns in [
            1,
            999,
            1000,
            1001,
            123_456_789,
            1_000_000_001,
            4_530_918_273_645,
            i64::MAX,
        ] {
            assert_eq!(parse(&format(ns)), Some(ns), "{ns}");
        }
    }
}

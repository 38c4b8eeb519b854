//! Time arguments: unix seconds (fractions allowed) or RFC 3339 timestamps, and durations.

/// Parses `1700000000`, `1700000000.5` or `2023-11-14T22:13:20Z` into unix seconds.
pub fn parse_time(text: &str) -> Result<u64, String> {
    if let Ok(v) = text.parse::<f64>()
        && v >= 0.0
        && v.is_finite()
    {
        return Ok(v as u64);
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!("invalid time {text:?}: use unix seconds or RFC 3339 (2024-01-02T03:04:05Z)")
    })
}

fn parse_rfc3339(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once(['T', ' '])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (year, month, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (clock, offset_secs) = match rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        Some(c) => (c, 0i64),
        None => {
            let at = rest.rfind(['+', '-'])?;
            let (c, off) = rest.split_at(at);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let (oh, om) = off[1..].split_once(':')?;
            (
                c,
                sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
            )
        }
    };
    let mut t = clock.split(':');
    let (h, m) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let s = t
        .next()
        .map(|s| s.parse::<f64>().ok())
        .unwrap_or(Some(0.0))? as i64;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s - offset_secs).ok()
}

/// Parses a positive duration given as seconds (`30`, `0.5`) or TraceQL-style (`30s`, `5m`,
/// `1h30m`, `250ms`) into nanoseconds; `what` names the argument in the error.
pub fn parse_duration(text: &str, what: &str) -> Result<u64, String> {
    if let Ok(secs) = text.parse::<f64>()
        && secs > 0.0
        && secs.is_finite()
    {
        return Ok((secs * 1e9) as u64);
    }
    traceql::syntax::lexical::duration::parse(text)
        .filter(|ns| *ns > 0)
        .map(|ns| ns as u64)
        .ok_or_else(|| format!("invalid {what} {text:?}: use a duration such as 30s or seconds"))
}

/// A `--timeout` argument, when given, as [`parse_duration`] reads it.
pub fn parse_timeout(text: Option<&str>) -> Result<Option<std::time::Duration>, String> {
    text.map(|t| parse_duration(t, "timeout").map(std::time::Duration::from_nanos))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_and_rfc3339() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_time("1700000000.9"), Ok(1_700_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000));
        assert_eq!(parse_time("2023-11-15T00:13:20+02:00"), Ok(1_700_000_000));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2023-13-01T00:00:00Z").is_err());
    }
}

//! Tempo's interval model for metrics queries (spec section 7.13).

use crate::error::EngineError;

const SECOND: u64 = 1_000_000_000;

/// The most intervals a range query may have.
pub const MAX_INTERVALS: u64 = 10_000;

/// The time buckets of a query: `count` right-closed intervals `(start + i·step, start + (i+1)·step]`,
/// each stamped at its right edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervals {
    /// Left edge of the first interval (exclusive), unix nanoseconds.
    pub start: u64,
    /// Right edge of the last interval (inclusive).
    pub end: u64,
    /// Width of an interval in nanoseconds.
    pub step: u64,
}

impl Intervals {
    /// A range query over `[start, end]`: `step` defaults from the range, start is floored to a
    /// multiple of step and moved one more step back, end is ceiled.
    pub fn range(start: u64, end: u64, step: Option<u64>) -> Result<Intervals, EngineError> {
        if start >= end {
            return Err(EngineError::InvalidRequest(
                "end must be after start".into(),
            ));
        }
        let step = step.unwrap_or_else(|| default_step(end - start));
        if step == 0 {
            return Err(EngineError::InvalidRequest("step must be positive".into()));
        }
        if (end - start) / step > MAX_INTERVALS {
            return Err(EngineError::InvalidRequest(format!(
                "step of {} is too small: at most {MAX_INTERVALS} intervals",
                traceql_syntax::lexical::duration::format(step as i64)
            )));
        }
        let aligned_start = (start / step * step).saturating_sub(step);
        let aligned_end = end.div_ceil(step) * step;
        Ok(Intervals {
            start: aligned_start,
            end: aligned_end,
            step,
        })
    }

    /// An instant query: one interval `(start, end]`, stamped at `end`.
    pub fn instant(start: u64, end: u64) -> Result<Intervals, EngineError> {
        if start >= end {
            return Err(EngineError::InvalidRequest(
                "end must be after start".into(),
            ));
        }
        Ok(Intervals {
            start,
            end,
            step: end - start,
        })
    }

    /// Number of intervals.
    pub fn count(&self) -> usize {
        ((self.end - self.start) / self.step) as usize
    }

    /// The interval holding time `t`, if `start < t <= end`.
    pub fn index(&self, t: u64) -> Option<usize> {
        if t <= self.start || t > self.end {
            return None;
        }
        Some(((t - self.start).div_ceil(self.step) - 1) as usize)
    }

    /// The timestamp (right edge) of interval `i`, unix nanoseconds.
    pub fn timestamp(&self, i: usize) -> u64 {
        self.start + (i as u64 + 1) * self.step
    }

    /// The step in seconds.
    pub fn step_seconds(&self) -> f64 {
        self.step as f64 / SECOND as f64
    }
}

/// About 240 points: under a minute, multiples of 50 ms; otherwise the largest of
/// 1h, 5m, 1m, 15s, 5s, 1s under range/240, with range/240 rounded down to a multiple of it.
pub fn default_step(range: u64) -> u64 {
    let target = range / 240;
    if range < 60 * SECOND {
        let fifty_ms = 50_000_000;
        return (target / fifty_ms * fifty_ms).max(fifty_ms);
    }
    for unit in [
        3600 * SECOND,
        300 * SECOND,
        60 * SECOND,
        15 * SECOND,
        5 * SECOND,
        SECOND,
    ] {
        if unit < target {
            return target / unit * unit;
        }
    }
    SECOND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_steps_match_the_spec_examples() {
        let h = 3600 * SECOND;
        assert_eq!(default_step(h), 15 * SECOND);
        assert_eq!(default_step(3 * h), 45 * SECOND);
        assert_eq!(default_step(6 * h), 60 * SECOND);
        assert_eq!(default_step(24 * h), 300 * SECOND);
        assert_eq!(default_step(7 * 24 * h), 2400 * SECOND);
        assert_eq!(default_step(30 * SECOND), 100_000_000);
    }

    #[test]
    fn h53_alignment_and_right_closed_intervals() {
        let i = Intervals::range(1000 * SECOND, 1060 * SECOND, Some(15 * SECOND)).expect("valid");
        assert_eq!(
            (i.start, i.end, i.count()),
            (975 * SECOND, 1065 * SECOND, 6)
        );
        assert_eq!(i.timestamp(0), 990 * SECOND);
        assert_eq!(i.timestamp(5), 1065 * SECOND);
        assert_eq!(
            i.index(990 * SECOND),
            Some(0),
            "a span at exactly 990 s is in (975, 990]"
        );
        assert_eq!(i.index(975 * SECOND), None, "the left edge is open");
        assert_eq!(i.index(990 * SECOND + 1), Some(1));
        assert!(
            Intervals::range(0, 1_000_000 * SECOND, Some(SECOND)).is_err(),
            "too many intervals"
        );
        assert!(Intervals::range(10, 10, None).is_err());
    }
}

//! Exemplars: spans shown next to a series as examples of what it counts.

use super::series::Label;

/// How many exemplars a range query returns unless the request or a hint says otherwise.
pub const MAX_EXEMPLARS: usize = 100;

/// The most exemplars one slice of the range takes.
const PER_SLICE: u8 = 2;

/// A span that contributed to a series.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// `trace:id`, `span:id`, the series' group labels and the measured attribute.
    pub labels: Vec<Label>,
    /// The measured value, or for counts and histograms the series' value in the span's interval.
    pub value: f64,
    /// The span's start, unix milliseconds.
    pub timestamp_ms: u64,
}

/// Spreads exemplars over the query range: the range is cut into `limit / PER_SLICE` slices, each
/// taking at most [`PER_SLICE`] exemplars, and no more than `limit` are taken in all.
#[derive(Clone, Debug)]
pub(super) struct Budget {
    start: u64,
    end: u64,
    per_slice: Vec<u8>,
    left: usize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` exemplars over `[start, end]` (unix nanoseconds).
    pub(super) fn new(limit: usize, start: u64, end: u64) -> Budget {
        Budget {
            start,
            end,
            per_slice: vec![0; (limit / usize::from(PER_SLICE)).max(1)],
            left: limit,
            limit,
        }
    }

    /// The same budget as yet untouched.
    pub(super) fn fresh(&self) -> Budget {
        Budget::new(self.limit, self.start, self.end)
    }

    /// True while at least one more exemplar may be taken.
    pub(super) fn has_room(&self) -> bool {
        self.has_room_between(0, u64::MAX)
    }

    /// True while an exemplar starting somewhere in `[from, to]` (unix nanoseconds) may still
    /// be taken: [`Budget::take`] refuses every start in it otherwise.
    pub(super) fn has_room_between(&self, from: u64, to: u64) -> bool {
        self.left > 0
            && self.per_slice[self.slice(from)..=self.slice(to)]
                .iter()
                .any(|n| *n < PER_SLICE)
    }

    /// The slice a start `t` (unix nanoseconds) falls in; starts outside the range count in
    /// the first or last slice.
    fn slice(&self, t: u64) -> usize {
        let slices = self.per_slice.len() as u128;
        let width = u128::from(self.end.saturating_sub(self.start)).max(1);
        let offset = u128::from(t.saturating_sub(self.start));
        ((offset * slices / width) as usize).min(self.per_slice.len() - 1)
    }

    /// Takes a place for an exemplar starting at `t` (unix nanoseconds) when its slice and the
    /// total still have room.
    pub(super) fn take(&mut self, t: u64) -> bool {
        if self.left == 0 {
            return false;
        }
        let slice = self.slice(t);
        if self.per_slice[slice] >= PER_SLICE {
            return false;
        }
        self.per_slice[slice] += 1;
        self.left -= 1;
        true
    }
}

/// Which of a trace's `n` contributing spans (`n > 0`) gives its exemplar: a choice that is the
/// same on every run and spread evenly over the spans by the trace ID's hash.
pub(super) fn pick(trace_id: &[u8], n: usize) -> usize {
    (super::sampling::hash(trace_id, 0) % n as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_two_per_slice_and_limit_in_all() {
        // 10 exemplars over [0, 100): 5 slices of 20 ns.
        let mut budget = Budget::new(10, 0, 100);
        let taken: Vec<bool> = [1, 2, 3, 25, 26, 27, 99].map(|t| budget.take(t)).to_vec();
        assert_eq!(taken, [true, true, false, true, true, false, true]);
        let mut all = 3;
        for t in (40..100).step_by(5) {
            all += usize::from(budget.take(t));
        }
        assert!(all <= 10);
        assert!(!budget.take(50));
    }

    #[test]
    fn room_is_told_for_a_span_of_time() {
        // 4 exemplars over [0, 100): 2 slices of 50 ns.
        let mut budget = Budget::new(4, 0, 100);
        assert!(budget.take(10) && budget.take(20));
        assert!(!budget.has_room_between(0, 49));
        assert!(budget.has_room_between(40, 60));
        assert!(budget.has_room_between(70, 1000));
        assert!(budget.take(70) && budget.take(80));
        assert!(!budget.has_room_between(0, u64::MAX));
    }

    #[test]
    fn a_zero_budget_takes_nothing() {
        assert!(!Budget::new(0, 0, 100).take(1));
        let mut one = Budget::new(1, 0, 100);
        assert!(one.take(1));
        assert!(!one.take(99));
    }

    #[test]
    fn the_pick_is_stable_and_in_range() {
        for n in 1..20 {
            let i = pick(&[7; 16], n);
            assert!(i < n);
            assert_eq!(i, pick(&[7; 16], n));
        }
    }
}

//! The order in which a columnar search scans row groups: in windows, newest first.

use traceql_storage::read::RowGroupSummary;

use crate::columnar::Group;

/// The row groups of every block, handed out in windows, each window older than the ones
/// before it: the row groups are ordered by their latest trace start, newest first. The first
/// window holds the newest row group and those overlapping it in time; each later one is sized
/// from the matches found so far to reach `limit` results, at least doubling the row groups
/// scanned. So a query whose newest matches sit in the last row groups reads only those, and
/// one that must read everything does so in a few parallel scans. A trace never crosses a row
/// group of its block, so every part of a trace is in exactly one window.
pub(super) struct Windows {
    /// Every row group, newest latest trace start first.
    groups: Vec<Group>,
    /// Index in `groups` where the next window begins.
    next: usize,
    /// Row groups the next window holds.
    size: usize,
}

impl Windows {
    /// The windows over the row groups of blocks whose row groups are `layouts`, leaving out
    /// those whose flag in `may_match` (per block, per row group) is false.
    pub(super) fn new(layouts: &[Vec<RowGroupSummary>], may_match: &[Vec<bool>]) -> Windows {
        let mut groups: Vec<Group> = layouts
            .iter()
            .zip(may_match)
            .enumerate()
            .flat_map(|(block, (layout, may_match))| {
                layout
                    .iter()
                    .zip(may_match)
                    .enumerate()
                    .filter(|(_, (_, may))| **may)
                    .map(move |(index, (summary, _))| Group {
                        block,
                        index,
                        summary: *summary,
                    })
            })
            .collect();
        groups.sort_by(|a, b| {
            (
                b.summary.max_trace_start,
                b.summary.min_trace_start,
                a.block,
                a.index,
            )
                .cmp(&(
                    a.summary.max_trace_start,
                    a.summary.min_trace_start,
                    b.block,
                    b.index,
                ))
        });
        let size = match groups.first() {
            Some(newest) => groups
                .iter()
                .take_while(|g| g.summary.max_trace_start >= newest.summary.min_trace_start)
                .count(),
            None => 0,
        };
        Windows {
            groups,
            next: 0,
            size,
        }
    }

    /// The next window, older than every window before it; `None` once all were handed out.
    pub(super) fn next_window(&mut self) -> Option<&[Group]> {
        if self.next >= self.groups.len() {
            return None;
        }
        let start = self.next;
        self.next = (start + self.size.max(1)).min(self.groups.len());
        Some(&self.groups[start..self.next])
    }

    /// Sizes the next window from the `matched` results the windows so far gave, assuming
    /// matches spread evenly over rows: enough rows for twice `limit` results at that rate,
    /// and at least as many as were scanned so far (three times as many when nothing matched
    /// yet).
    pub(super) fn grow_for(&mut self, matched: usize, limit: usize) {
        if self.next == 0 {
            return;
        }
        let scanned: u64 = self.groups[..self.next]
            .iter()
            .map(|g| g.summary.rows)
            .sum();
        let wanted = match matched {
            0 => scanned.saturating_mul(4),
            _ => (scanned as f64 * 2.0 * limit as f64 / matched as f64).min(u64::MAX as f64) as u64,
        }
        .max(scanned.saturating_mul(2));
        // Row groups until the rows scanned reach `wanted`, at least one.
        let mut rows = scanned;
        self.size = self.groups[self.next..]
            .iter()
            .take_while(|g| {
                let short = rows < wanted;
                rows += g.summary.rows;
                short
            })
            .count()
            .max(1);
    }

    /// The latest trace start a row group not handed out yet may hold; `None` once all were.
    pub(super) fn unscanned_newest(&self) -> Option<i64> {
        self.groups
            .get(self.next)
            .map(|g| g.summary.max_trace_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(min: i64, max: i64) -> RowGroupSummary {
        RowGroupSummary {
            rows: 10,
            bytes: 100,
            min_trace_start: min,
            max_trace_start: max,
        }
    }

    /// Windows over every row group of `layouts`.
    fn all(layouts: &[Vec<RowGroupSummary>]) -> Windows {
        let every: Vec<Vec<bool>> = layouts.iter().map(|l| vec![true; l.len()]).collect();
        Windows::new(layouts, &every)
    }

    fn windows_of(windows: &mut Windows, matched: usize) -> Vec<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        while let Some(w) = windows.next_window() {
            out.push(w.iter().map(|g| (g.block, g.index)).collect());
            windows.grow_for(matched, 20);
        }
        out
    }

    #[test]
    fn every_row_group_is_handed_out_once_newest_first() {
        // Two blocks, the second newer; row groups in file order (oldest first).
        let layouts = vec![
            vec![group(0, 9), group(10, 19), group(20, 29)],
            vec![group(30, 39), group(40, 49), group(50, 59), group(60, 69)],
        ];
        let mut windows = all(&layouts);
        assert_eq!(windows.unscanned_newest(), Some(69));
        let handed = windows_of(&mut windows, 0);
        // One, then four times as many in all while nothing matches.
        assert_eq!(
            handed,
            vec![
                vec![(1, 3)],
                vec![(1, 2), (1, 1), (1, 0)],
                vec![(0, 2), (0, 1), (0, 0)],
            ]
        );
        assert_eq!(windows.unscanned_newest(), None);
    }

    #[test]
    fn the_first_window_holds_the_row_groups_overlapping_the_newest() {
        // Two blocks written side by side over the same time.
        let layouts = vec![
            vec![group(0, 49), group(50, 99)],
            vec![group(0, 59), group(60, 100)],
        ];
        let mut windows = all(&layouts);
        let first: Vec<(usize, usize)> = windows
            .next_window()
            .map(|w| w.iter().map(|g| (g.block, g.index)).collect())
            .unwrap_or_default();
        assert_eq!(first, vec![(1, 1), (0, 1)]);
        assert_eq!(windows.unscanned_newest(), Some(59));
    }

    #[test]
    fn windows_grow_towards_the_limit_from_the_match_rate() {
        let layouts = vec![(0..100).map(|i| group(i * 10, i * 10 + 9)).collect()];
        let mut windows = all(&layouts);
        assert_eq!(windows.next_window().map(<[Group]>::len), Some(1));
        // 5 of 20 results from one row group: 8 in all (twice the limit at that rate).
        windows.grow_for(5, 20);
        assert_eq!(windows.next_window().map(<[Group]>::len), Some(7));
        // Plenty matched: still at least doubling.
        windows.grow_for(100, 20);
        assert_eq!(windows.next_window().map(<[Group]>::len), Some(8));
    }

    #[test]
    fn row_groups_that_cannot_match_are_never_handed_out() {
        let layouts = vec![
            vec![group(0, 9), group(10, 19), group(20, 29)],
            vec![group(30, 39), group(40, 49)],
        ];
        let may_match = vec![vec![true, false, true], vec![false, false]];
        let mut windows = Windows::new(&layouts, &may_match);
        assert_eq!(windows.unscanned_newest(), Some(29));
        let handed: Vec<(usize, usize)> = windows_of(&mut windows, 0).concat();
        assert_eq!(handed, vec![(0, 2), (0, 0)]);
        let none = vec![vec![false; 3], vec![false; 2]];
        let mut windows = Windows::new(&layouts, &none);
        assert_eq!(windows.unscanned_newest(), None);
        assert!(windows.next_window().is_none());
    }
}

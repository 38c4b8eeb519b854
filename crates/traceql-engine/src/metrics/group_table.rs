//! The table of a block's metrics groups: what a row adds to its group, found by key.
//!
//! While the label combinations times the slots stay few, a group lives at
//! `combination * slots + slot` in flat columns, so adding a row costs an index and an
//! addition; otherwise groups are found by hashing their keys. (A bucketed scan gives each
//! bucket of a slot a slot of its own.)

use datafusion::arrow::array::{Array, Float64Array, Int64Array};
use datafusion::common::HashMap;

use super::series::Partial;

/// Identifies a group: the number of its combination of label values, and its slot.
pub(super) type GroupKey = (u32, usize);

/// The most cells of a [`GroupTable::Dense`] table (each 8 bytes per column).
const DENSE_CELLS: usize = 1 << 20;

/// The groups of a block, by key.
pub(super) enum GroupTable {
    /// Per `combination * slots + slot`, the group's columns.
    Dense(DenseColumns),
    /// Any key: each group's number in `groups`.
    Hashed {
        index: HashMap<GroupKey, usize>,
        groups: Vec<(GroupKey, Partial)>,
    },
}

/// The columns of a dense table: spans per cell, and with measured values their count, sum,
/// smallest and largest (±infinity while none).
#[derive(Default)]
pub(super) struct DenseColumns {
    slots: usize,
    spans: Vec<f64>,
    /// Empty without measured values.
    measured: Vec<f64>,
    sum: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    with_measured: bool,
}

impl GroupTable {
    /// A table of groups over `slots` slots, adding measured values when `measured`.
    pub(super) fn new(slots: usize, measured: bool) -> GroupTable {
        match slots == 0 || slots > DENSE_CELLS {
            true => GroupTable::empty_hashed(),
            false => GroupTable::Dense(DenseColumns {
                slots,
                with_measured: measured,
                ..DenseColumns::default()
            }),
        }
    }

    /// A hashed table without groups.
    fn empty_hashed() -> GroupTable {
        GroupTable::Hashed {
            index: HashMap::default(),
            groups: Vec::new(),
        }
    }

    /// Adds a batch's spans in one pass over flat columns, when the table is dense and can
    /// hold their cells: span `row` is in slot `slots[row]` (null, negative or too late: left
    /// out), in combination `combos[row]` (all 0 when `None`), with measured value
    /// `measured[row]`. False (and nothing added) otherwise.
    pub(super) fn add_rows(
        &mut self,
        slots: &Int64Array,
        combos: Option<&[u32]>,
        measured: Option<&Float64Array>,
        cells: &mut Vec<usize>,
    ) -> bool {
        let GroupTable::Dense(dense) = self else {
            return false;
        };
        dense.cells_of(slots, combos, cells);
        let last = cells.iter().filter(|c| **c != SKIPPED).max();
        if last.is_some_and(|&last| !dense.fits(last)) {
            return false;
        }
        match measured {
            Some(measured) if dense.with_measured => dense.add_measured(cells, measured),
            _ => dense.add_counted(cells),
        }
        true
    }

    /// Adds what some spans of the group `key` add (`run`) to it.
    pub(super) fn add(&mut self, key: GroupKey, run: &Partial) {
        if let GroupTable::Dense(dense) = self {
            let cell = key.0 as usize * dense.slots + key.1;
            if dense.fits(cell) {
                dense.add(cell, run);
                return;
            }
            *self = self.hashed();
        }
        if let GroupTable::Hashed { index, groups } = self {
            let at = *index.entry(key).or_insert_with(|| {
                groups.push((key, Partial::default()));
                groups.len() - 1
            });
            merge(&mut groups[at].1, run);
        }
    }

    /// The same groups in a hashed table.
    fn hashed(&self) -> GroupTable {
        let mut groups = Vec::new();
        self.for_each(|key, partial| groups.push((key, partial)));
        let index = groups.iter().enumerate().map(|(at, (key, _))| (*key, at));
        GroupTable::Hashed {
            index: index.collect(),
            groups,
        }
    }

    /// Calls `f` with every group's key and what its spans added.
    pub(super) fn for_each(&self, mut f: impl FnMut(GroupKey, Partial)) {
        match self {
            GroupTable::Dense(dense) => {
                for (cell, &spans) in dense.spans.iter().enumerate() {
                    if spans == 0.0 {
                        continue;
                    }
                    let key = ((cell / dense.slots) as u32, cell % dense.slots);
                    f(key, dense.partial(cell, spans));
                }
            }
            GroupTable::Hashed { groups, .. } => {
                for (key, partial) in groups {
                    f(*key, *partial);
                }
            }
        }
    }

    /// Bytes the table holds, about.
    pub(super) fn memory_size(&self) -> usize {
        match self {
            GroupTable::Dense(d) => {
                let columns = [&d.spans, &d.measured, &d.sum, &d.min, &d.max];
                columns
                    .iter()
                    .map(|c| c.capacity() * size_of::<f64>())
                    .sum()
            }
            GroupTable::Hashed { index, groups } => {
                index.capacity() * size_of::<(GroupKey, usize)>()
                    + groups.capacity() * size_of::<(GroupKey, Partial)>()
            }
        }
    }
}

/// The cell of a row left out.
const SKIPPED: usize = usize::MAX;

/// The combination number of a row left out of every group (its label value passed over).
pub(super) const NO_COMBINATION: u32 = u32::MAX;

impl DenseColumns {
    /// Sets `cells` to each row's cell ([`SKIPPED`] for rows left out).
    fn cells_of(&self, slots: &Int64Array, combos: Option<&[u32]>, cells: &mut Vec<usize>) {
        let (values, limit) = (slots.values(), self.slots as i64);
        cells.clear();
        cells.extend(values.iter().enumerate().map(|(row, &slot)| {
            let combo = combos.map_or(0, |c| c[row]);
            match (0..limit).contains(&slot) && combo != NO_COMBINATION {
                true => combo as usize * self.slots + slot as usize,
                false => SKIPPED,
            }
        }));
        if let Some(nulls) = slots.nulls() {
            for row in nulls
                .iter()
                .enumerate()
                .filter(|(_, valid)| !valid)
                .map(|(r, _)| r)
            {
                cells[row] = SKIPPED;
            }
        }
    }

    /// Counts the spans of `cells`, each run of one cell at once.
    fn add_counted(&mut self, cells: &[usize]) {
        let (mut current, mut count) = (SKIPPED, 0.0);
        for &cell in cells {
            if cell == current {
                count += 1.0;
                continue;
            }
            if current != SKIPPED {
                self.spans[current] += count;
            }
            (current, count) = (cell, 1.0);
        }
        if current != SKIPPED {
            self.spans[current] += count;
        }
    }

    /// Counts the spans of `cells` and adds their `measured` values.
    fn add_measured(&mut self, cells: &[usize], measured: &Float64Array) {
        for (row, &cell) in cells.iter().enumerate() {
            if cell == SKIPPED {
                continue;
            }
            self.spans[cell] += 1.0;
            if measured.is_valid(row) {
                let v = measured.value(row);
                self.measured[cell] += 1.0;
                self.sum[cell] += v;
                self.min[cell] = self.min[cell].min(v);
                self.max[cell] = self.max[cell].max(v);
            }
        }
    }

    /// Whether `cell` is in the table, which grows to hold it unless it would pass
    /// [`DENSE_CELLS`].
    fn fits(&mut self, cell: usize) -> bool {
        if cell < self.spans.len() {
            return true;
        }
        // Whole combinations at a time, at least doubling.
        let combinations = (cell / self.slots + 1).max(2 * self.spans.len() / self.slots);
        let cells = combinations * self.slots;
        let cells = match cells <= DENSE_CELLS {
            true => cells,
            false if cell < DENSE_CELLS => DENSE_CELLS,
            false => return false,
        };
        self.spans.resize(cells, 0.0);
        if self.with_measured {
            self.measured.resize(cells, 0.0);
            self.sum.resize(cells, 0.0);
            self.min.resize(cells, f64::INFINITY);
            self.max.resize(cells, f64::NEG_INFINITY);
        }
        true
    }

    fn add(&mut self, cell: usize, run: &Partial) {
        self.spans[cell] += run.spans;
        if self.with_measured && run.measured > 0.0 {
            self.measured[cell] += run.measured;
            self.sum[cell] += run.sum;
            self.min[cell] = self.min[cell].min(run.min.unwrap_or(f64::INFINITY));
            self.max[cell] = self.max[cell].max(run.max.unwrap_or(f64::NEG_INFINITY));
        }
    }

    fn partial(&self, cell: usize, spans: f64) -> Partial {
        let measured = self.measured.get(cell).copied().unwrap_or(0.0);
        Partial {
            spans,
            measured,
            sum: self.sum.get(cell).copied().unwrap_or(0.0),
            min: (measured > 0.0).then(|| self.min[cell]),
            max: (measured > 0.0).then(|| self.max[cell]),
            bucket: None,
        }
    }
}

/// Adds one span, with its measured value when it has one, to `partial`.
pub(super) fn add_span(partial: &mut Partial, value: Option<f64>) {
    partial.spans += 1.0;
    if let Some(v) = value {
        partial.measured += 1.0;
        partial.sum += v;
        partial.min = Some(partial.min.map_or(v, |min| min.min(v)));
        partial.max = Some(partial.max.map_or(v, |max| max.max(v)));
    }
}

/// Adds what the spans of `run` add to `partial`.
fn merge(partial: &mut Partial, run: &Partial) {
    partial.spans += run.spans;
    partial.measured += run.measured;
    partial.sum += run.sum;
    let pick = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    };
    partial.min = pick(partial.min, run.min, f64::min);
    partial.max = pick(partial.max, run.max, f64::max);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every group of `table`, sorted by key.
    fn groups(table: &GroupTable) -> Vec<(GroupKey, Partial)> {
        let mut all = Vec::new();
        table.for_each(|key, partial| all.push((key, partial)));
        all.sort_by_key(|(key, _)| *key);
        all
    }

    #[test]
    fn dense_and_hashed_tables_hold_the_same_groups() {
        let rows: Vec<(GroupKey, Option<f64>)> = (0..500u32)
            .map(|i| {
                (
                    (i % 7, (i % 5) as usize),
                    (i % 3 != 0).then_some(f64::from(i)),
                )
            })
            .collect();
        let mut dense = GroupTable::new(5, true);
        let mut hashed = GroupTable::empty_hashed();
        for (key, value) in &rows {
            let mut run = Partial::default();
            add_span(&mut run, *value);
            dense.add(*key, &run);
            hashed.add(*key, &run);
        }
        assert!(matches!(dense, GroupTable::Dense(_)));
        assert_eq!(groups(&dense), groups(&hashed));
        assert_eq!(groups(&dense).len(), 35);
        let (_, first) = groups(&dense)[0];
        // Key (0, 0): rows 0, 35, 70, …, 490; those not divisible by 3 carry their number.
        let measured: Vec<f64> = (0..500)
            .filter(|i| i % 35 == 0 && i % 3 != 0)
            .map(f64::from)
            .collect();
        assert_eq!(first.spans, 15.0);
        assert_eq!(first.measured, measured.len() as f64);
        assert_eq!(first.sum, measured.iter().sum::<f64>());
        assert_eq!(first.min, measured.first().copied());
        assert_eq!(first.max, measured.last().copied());
    }

    #[test]
    fn a_dense_table_too_large_turns_hashed_keeping_its_groups() {
        let mut table = GroupTable::new(1000, false);
        let one = Partial {
            spans: 1.0,
            ..Partial::default()
        };
        table.add((3, 999), &one);
        let far = (DENSE_CELLS / 1000 + 5) as u32;
        table.add((far, 1), &one);
        table.add((3, 999), &one);
        assert!(matches!(table, GroupTable::Hashed { .. }));
        let all = groups(&table);
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].0, all[0].1.spans), ((3, 999), 2.0));
        assert_eq!((all[1].0, all[1].1.spans), ((far, 1), 1.0));
        assert_eq!(all[1].1.min, None);
    }
}

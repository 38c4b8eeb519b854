//! The groups of one block's metrics scan: its rows counted per interval slot, label values
//! and (for quantiles and histograms) power-of-two bucket, with the count, sum and extremes of
//! their measured values, folded in Rust from the scan's batches.
//!
//! A hash aggregation in DataFusion compared every row's label strings with its groups'; here
//! a row's labels become small numbers first (a short string is its 16-byte view, one integer
//! to hash), and its group is found by those numbers.

use datafusion::arrow::array::builder::make_view;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float64Type, Int8Type, Int32Type, Int64Type,
};
use datafusion::common::HashMap;
use std::collections::BinaryHeap;
use traceql_syntax::ast::Field;

use super::group_table::{GroupKey, GroupTable, NO_COMBINATION, add_span};
use super::series::{Accumulator, FirstOrder, FirstSeries, Partial};
use crate::columnar::fields::{Source, Ty, val_at};
use crate::columnar::generic_attribute::{ANY_BOOL, ANY_DOUBLE, ANY_INT, ANY_STR};
use crate::error::EngineError;
use crate::value::Val;

/// Name of the scan's column holding a row's interval slot.
pub(super) const SLOT: &str = "slot";
/// Name of the scan's column holding the integer a row's power-of-two bucket is taken from
/// (null: none).
pub(super) const BUCKET: &str = "bucket";
/// Cells of one slot when bucketed: a span's cell is the exponent of its bucket (1 to 63, the
/// bucket being the power of two at least its value), or 0 for a span without a bucket.
const CELLS_PER_BUCKETED_SLOT: usize = 64;
/// Name of the scan's column holding a row's measured value as Float64 (null: none).
pub(super) const MEASURED: &str = "measured";

/// Name of the scan's column holding label `i`'s value.
pub(super) fn label_column(i: usize) -> String {
    format!("label{i}")
}

/// The groups of one block.
pub(super) struct Groups {
    /// Cells per combination of label values: the query's intervals, times
    /// [`CELLS_PER_BUCKETED_SLOT`] when bucketed; rows in later cells are left out.
    slots: usize,
    bucketed: bool,
    measured: bool,
    /// Per label, its distinct values.
    labels: Vec<LabelValues>,
    /// With more than one label: each distinct tuple of value numbers, numbered.
    combos: HashMap<Box<[u32]>, u32>,
    /// The tuple of value numbers of each combination number (with more than one label).
    tuples: Vec<Box<[u32]>>,
    /// The groups, by the number of their combination of label values (with one label, the
    /// value's number) and cell (the slot, or when bucketed the slot's cell of the bucket).
    table: GroupTable,
    /// Per label, the value numbers of the batch being folded.
    ids: Vec<Vec<u32>>,
    /// With more than one label, the combination numbers of the batch being folded.
    combos_of_rows: Vec<u32>,
    /// The cells of the batch being folded, in a dense table.
    cells: Vec<usize>,
    /// Once [`Groups::keep_first`] left combinations out: whether each is kept.
    kept: Option<Vec<bool>>,
}

impl Groups {
    /// Groups by labels read by `sources`, over `slots` intervals, with buckets when
    /// `bucketed`, and with measured values when `measured` (and not bucketed).
    pub(super) fn new(sources: &[Source], slots: usize, bucketed: bool, measured: bool) -> Groups {
        let slots = match bucketed {
            true => slots.saturating_mul(CELLS_PER_BUCKETED_SLOT),
            false => slots,
        };
        Groups {
            slots,
            bucketed,
            measured: measured && !bucketed,
            labels: sources.iter().cloned().map(LabelValues::new).collect(),
            combos: HashMap::default(),
            tuples: Vec::new(),
            table: GroupTable::new(slots, measured && !bucketed),
            ids: vec![Vec::new(); sources.len()],
            combos_of_rows: Vec::new(),
            cells: Vec::new(),
            kept: None,
        }
    }

    /// Folds the rows of `batch`: columns [`SLOT`], `label0`…, and [`BUCKET`] when bucketed or
    /// [`MEASURED`] when measured.
    pub(super) fn add(&mut self, batch: &RecordBatch) -> Result<(), EngineError> {
        let mut slots = primitive::<Int64Type>(batch, SLOT)?;
        let cells;
        if self.bucketed {
            cells = bucket_cells(slots, primitive::<Int64Type>(batch, BUCKET)?);
            slots = &cells;
        }
        let measured = match self.measured {
            true => Some(primitive::<Float64Type>(batch, MEASURED)?),
            false => None,
        };
        let columns = (0..self.labels.len())
            .map(|i| {
                let name = label_column(i);
                batch
                    .column_by_name(&name)
                    .ok_or_else(|| EngineError::Internal(format!("the metrics scan lacks {name}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let passing_over = self.labels.first().is_some_and(|l| l.smallest.is_some());
        // With more labels, a row's series sorts by its first label's value first only when
        // every other label has a value (series with fewer labels come first).
        let others_valued = match (self.labels.split_first(), columns.split_first()) {
            (Some((_, labels)), Some((_, others))) if passing_over && !others.is_empty() => {
                let every = BooleanBuffer::new_set(batch.num_rows());
                let valued = labels.iter().zip(others);
                Some(valued.fold(every, |rows, (label, column)| {
                    &rows & &label.valued_rows(column)
                }))
            }
            _ => None,
        };
        let limit = self.slots as i64;
        let eligible = |row: usize| {
            slots.is_valid(row)
                && (0..limit).contains(&slots.value(row))
                && others_valued.as_ref().is_none_or(|v| v.value(row))
        };
        for ((values, ids), column) in self.labels.iter_mut().zip(&mut self.ids).zip(columns) {
            values.number(column, ids, &eligible);
        }
        self.number_combinations(batch.num_rows());
        // Each row's combination of label values: its value's number with one label.
        let combos: Option<&[u32]> = match self.ids.as_slice() {
            [] => None,
            [ids] => Some(ids),
            _ => Some(&self.combos_of_rows),
        };
        if self
            .table
            .add_rows(slots, combos, measured, &mut self.cells)
        {
            return Ok(());
        }
        // Rows of one group often follow each other (the spans of a trace share its slot):
        // such a run is added to its group at once.
        let mut run: Option<(GroupKey, Partial)> = None;
        for row in 0..batch.num_rows() {
            if slots.is_null(row) {
                continue;
            }
            let Some(slot) = usize::try_from(slots.value(row))
                .ok()
                .filter(|s| *s < self.slots)
            else {
                continue;
            };
            let combo = combos.map_or(0, |c| c[row]);
            if combo == NO_COMBINATION {
                continue;
            }
            let value = measured.filter(|m| m.is_valid(row)).map(|m| m.value(row));
            let key = (combo, slot);
            match &mut run {
                Some((run_key, partial)) if *run_key == key => add_span(partial, value),
                _ => {
                    if let Some((run_key, partial)) = &run {
                        self.table.add(*run_key, partial);
                    }
                    let mut partial = Partial::default();
                    add_span(&mut partial, value);
                    run = Some((key, partial));
                }
            }
        }
        if let Some((run_key, partial)) = &run {
            self.table.add(*run_key, partial);
        }
        Ok(())
    }

    /// With more than one label, numbers the combination of label values of each of the
    /// batch's `rows` into [`Groups::combos_of_rows`].
    fn number_combinations(&mut self, rows: usize) {
        if self.ids.len() < 2 {
            return;
        }
        let mut combos = std::mem::take(&mut self.combos_of_rows);
        combos.clear();
        let mut tuple = vec![0u32; self.ids.len()];
        for row in 0..rows {
            for (t, ids) in tuple.iter_mut().zip(&self.ids) {
                *t = ids[row];
            }
            match tuple.contains(&NO_COMBINATION) {
                true => combos.push(NO_COMBINATION),
                false => combos.push(self.combo(&tuple)),
            }
        }
        self.combos_of_rows = combos;
    }

    /// Bytes the groups hold, about.
    pub(super) fn memory_size(&self) -> usize {
        let labels: usize = self.labels.iter().map(LabelValues::memory_size).sum();
        let tuples: usize = self.tuples.iter().map(|t| 2 * size_of_val(&**t)).sum();
        let ids: usize = self
            .ids
            .iter()
            .map(|i| i.capacity() * size_of::<u32>())
            .sum();
        self.table.memory_size()
            + self.cells.capacity() * size_of::<usize>()
            + self.combos_of_rows.capacity() * size_of::<u32>()
            + self.combos.capacity() * size_of::<(Box<[u32]>, u32)>()
            + labels
            + tuples
            + ids
    }

    /// The number of a tuple of label value numbers.
    fn combo(&mut self, tuple: &[u32]) -> u32 {
        if let Some(&n) = self.combos.get(tuple) {
            return n;
        }
        let n = self.tuples.len() as u32;
        self.tuples.push(tuple.into());
        self.combos.insert(tuple.into(), n);
        n
    }

    /// From now on, passes over the rows whose label values cannot be among the first
    /// `first.max` series in response order, which then need no number and no group: those
    /// whose first label is a string sorting after `first.max` such strings of rows already
    /// grouped, and whose other labels (if any) all have a value. (Series sort by their
    /// number of labels, then by their values in the order of `by()`.) By the time
    /// [`Groups::keep_first`] runs, it then orders a few thousand combinations instead of
    /// every value of a high-cardinality label.
    pub(super) fn pass_over_after(&mut self, first: &FirstSeries) {
        if let Some(label) = self.labels.first_mut() {
            label.smallest = Some(SmallestStrings {
                count: first.max,
                held: BinaryHeap::new(),
                passed_over: false,
            });
        }
    }

    /// Leaves out the combinations of label values whose series cannot be among the
    /// `first.max` an accumulator keeps: those after the first `first.max` combinations of
    /// this block in response order (ties kept). Spares the
    /// accumulator a series lookup per group of a high-cardinality label (`by (span.http.url)`:
    /// about 100,000 per block).
    pub(super) fn keep_first(&mut self, first: &FirstSeries) {
        let mut present = Vec::new();
        self.table.for_each(|(combo, _), _| {
            let combo = combo as usize;
            if present.len() <= combo {
                present.resize(combo + 1, false);
            }
            present[combo] = true;
        });
        let combos: Vec<u32> = (0..present.len() as u32)
            .filter(|&c| present[c as usize])
            .collect();
        if combos.len() <= first.max {
            return;
        }
        let mut kept = vec![false; present.len()];
        if let Some(last) = first.max.checked_sub(1) {
            let mut orders: Vec<(FirstOrder, u32)> = combos
                .iter()
                .map(|&c| {
                    let ids = self.ids_of(&c);
                    let values = (self.labels.iter().zip(ids)).map(|(l, &id)| l.value_ref(id));
                    (first.order(values), c)
                })
                .collect();
            let (_, (threshold, _), _) = orders.select_nth_unstable(last);
            let threshold = threshold.clone();
            for (order, combo) in &orders {
                kept[*combo as usize] = *order <= threshold;
            }
        }
        self.kept = Some(kept);
    }

    /// The value numbers of combination `combo`, label by label.
    fn ids_of<'a>(&'a self, combo: &'a u32) -> &'a [u32] {
        match self.labels.len() {
            0 => &[],
            1 => std::slice::from_ref(combo),
            _ => &self.tuples[*combo as usize],
        }
    }

    /// The value of field `f` in the combination `combo` (nil when `f` is no label).
    fn label_value(&self, by: &[Field], combo: u32, f: &Field) -> Val {
        let ids = self.ids_of(&combo);
        match by.iter().position(|b| b == f) {
            Some(i) => self.labels[i].value(ids[i]),
            None => Val::Nil,
        }
    }

    /// Adds every group to `acc` (but those [`Groups::keep_first`] left out, which it
    /// records as cut, as it does rows passed over): label `i` is the field `by[i]`.
    pub(super) fn add_to(&self, by: &[Field], acc: &mut Accumulator) {
        let passed_over =
            (self.labels.iter()).any(|l| l.smallest.as_ref().is_some_and(|s| s.passed_over));
        if self.kept.is_some() || passed_over {
            acc.mark_cut();
        }
        self.table.for_each(|(combo, cell), partial| {
            if let Some(kept) = &self.kept
                && !kept.get(combo as usize).copied().unwrap_or(false)
            {
                return;
            }
            let value = |f: &Field| self.label_value(by, combo, f);
            let (slot, bucket) = match self.bucketed {
                true => {
                    let exponent = cell % CELLS_PER_BUCKETED_SLOT;
                    let bucket = (exponent != 0).then(|| 1u64 << exponent);
                    (cell / CELLS_PER_BUCKETED_SLOT, bucket)
                }
                false => (cell, None),
            };
            acc.add_partial(&value, slot, &Partial { bucket, ..partial });
        });
    }
}

/// Each row's cell when bucketed: `slot * CELLS_PER_BUCKETED_SLOT` plus the exponent of the
/// power of two at least its `value` (as `u64::next_power_of_two`), or plus 0 for a span
/// without a bucket (no integer value, or one below 2), which still makes its series as on the
/// reference path. A slot out of range stays out of range (negative, or past the last cell).
fn bucket_cells(slots: &Int64Array, values: &Int64Array) -> Int64Array {
    let per_slot = CELLS_PER_BUCKETED_SLOT as i64;
    let cells: Vec<i64> = (slots.values().iter().zip(values.values()))
        .enumerate()
        .map(|(row, (&slot, &value))| {
            let exponent = match value >= 2 && values.is_valid(row) {
                true => i64::from(64 - (value - 1).leading_zeros()),
                false => 0,
            };
            // A multiple of 64 plus at most 63 cannot overflow.
            slot.checked_mul(per_slot)
                .map_or(-1, |first| first + exponent)
        })
        .collect();
    Int64Array::new(cells.into(), slots.nulls().cloned())
}

/// The column `name` of the metrics scan's `batch`, of primitive type `T`.
fn primitive<'a, T: ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a PrimitiveArray<T>, EngineError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| EngineError::Internal(format!("the metrics scan lacks {name}")))?
        .as_primitive_opt::<T>()
        .ok_or_else(|| {
            let wanted = T::DATA_TYPE;
            EngineError::Internal(format!("the metrics scan's {name} is not {wanted}"))
        })
}

/// Entries of the per-batch table of string views already numbered.
const VIEW_CACHE: usize = 256;

/// Where `view` goes in the table of string views already numbered: a multiplicative hash of
/// its length, prefix and place.
fn view_cache_slot(view: u128) -> usize {
    let folded = (view as u64) ^ ((view >> 64) as u64).rotate_left(29);
    (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % VIEW_CACHE
}

/// The distinct values of one label, numbered in the order they were first seen.
pub(super) struct LabelValues {
    /// How the label's values read.
    source: Source,
    /// Each value.
    values: Vec<Val>,
    /// The number of null.
    null: Option<u32>,
    /// Numbers of numbers and booleans, by their bits (tagged with their type for a generic
    /// attribute's values).
    small: HashMap<u128, u32>,
    /// Numbers of strings of up to 12 bytes, by their view (length and bytes): kept apart
    /// from `small`, whose keys a view's bits could equal.
    short: HashMap<u128, u32>,
    /// Numbers of longer strings.
    long: HashMap<Box<[u8]>, u32>,
    /// Heap bytes of the string values and of the long strings' keys.
    string_bytes: usize,
    /// Set by [`Groups::pass_over_after`]: the smallest strings numbered, to pass over larger
    /// ones.
    smallest: Option<SmallestStrings>,
}

/// The `count` smallest distinct strings a label numbered in rows that were grouped: a larger
/// string comes after `count` series in response order (a series with one label is ordered
/// by its value's text), so it cannot be among the first `count`.
struct SmallestStrings {
    count: usize,
    /// At most `count` strings, the largest on top.
    held: BinaryHeap<Box<[u8]>>,
    /// Whether a grouped row was passed over, its series cut.
    passed_over: bool,
}

impl SmallestStrings {
    /// Whether `bytes` sorts after `count` strings held.
    fn passes_over(&self, bytes: &[u8]) -> bool {
        self.held.len() >= self.count && self.held.peek().is_none_or(|top| bytes > &**top)
    }

    /// Holds a string just numbered, dropping the largest held past `count`.
    fn hold(&mut self, bytes: &[u8]) {
        self.held.push(bytes.into());
        if self.held.len() > self.count {
            self.held.pop();
        }
    }
}

impl LabelValues {
    /// Numbers values read by `source`.
    pub(super) fn new(source: Source) -> LabelValues {
        LabelValues {
            source,
            values: Vec::new(),
            null: None,
            small: HashMap::default(),
            short: HashMap::default(),
            long: HashMap::default(),
            string_bytes: 0,
            smallest: None,
        }
    }

    /// Sets `ids` to the number of each row's value of `array`, or [`NO_COMBINATION`] for
    /// a string not numbered yet that is passed over ([`Groups::pass_over_after`]). Only
    /// `eligible` rows are passed over or have their strings held among the smallest: rows
    /// grouped whose series sort by this label's value first.
    pub(super) fn number(
        &mut self,
        array: &ArrayRef,
        ids: &mut Vec<u32>,
        eligible: &dyn Fn(usize) -> bool,
    ) {
        ids.clear();
        ids.reserve(array.len());
        match array.data_type() {
            DataType::Utf8View => {
                let strings = array.as_string_view();
                // Equal strings decoded from one dictionary share their view within a batch:
                // most rows find their number by their view in this small table.
                let mut seen = [(0u128, u32::MAX); VIEW_CACHE];
                for (row, &view) in strings.views().iter().enumerate() {
                    if strings.is_null(row) {
                        ids.push(self.null_id(array, row));
                        continue;
                    }
                    let slot = &mut seen[view_cache_slot(view)];
                    if slot.0 == view && slot.1 != u32::MAX {
                        ids.push(slot.1);
                        continue;
                    }
                    // The low 32 bits of a view are the length; up to 12 bytes are inline.
                    let id = match view as u32 <= 12 {
                        true => self.short_id(view, array, row, eligible(row)),
                        false => {
                            let bytes = strings.value(row).as_bytes();
                            self.long_id(bytes, array, row, eligible(row))
                        }
                    };
                    if id != NO_COMBINATION {
                        *slot = (view, id);
                    }
                    ids.push(id);
                }
            }
            DataType::Dictionary(key, value)
                if **key == DataType::Int32 && **value == DataType::Utf8 =>
            {
                self.number_dictionary(array, ids, eligible)
            }
            DataType::Utf8 => {
                let strings = array.as_string::<i32>();
                for row in 0..array.len() {
                    let id = match strings.is_null(row) {
                        true => self.null_id(array, row),
                        false => {
                            let bytes = strings.value(row).as_bytes();
                            self.string_id(bytes, array, row, eligible(row))
                        }
                    };
                    ids.push(id);
                }
            }
            DataType::Int64 => {
                let ints = array.as_primitive::<Int64Type>();
                self.number_small(array, ids, |row| ints.value(row) as u64 as u128);
            }
            DataType::Int8 => {
                let codes = array.as_primitive::<Int8Type>();
                self.number_small(array, ids, |row| codes.value(row) as u8 as u128);
            }
            DataType::Float64 => {
                let floats = array.as_primitive::<Float64Type>();
                self.number_small(array, ids, |row| floats.value(row).to_bits() as u128);
            }
            DataType::Boolean => {
                let booleans = array.as_boolean();
                self.number_small(array, ids, |row| u128::from(booleans.value(row)));
            }
            DataType::Struct(_) => self.number_any(array, ids, eligible),
            // Other types read as nil: one number for all of their rows.
            _ => {
                for row in 0..array.len() {
                    let id = self.null_id(array, row);
                    ids.push(id);
                }
            }
        }
    }

    /// Sets `ids` to the number of each row's value of `array`, strings in a dictionary: each
    /// value is numbered at the first row that refers to it, the other rows by their key.
    fn number_dictionary(
        &mut self,
        array: &ArrayRef,
        ids: &mut Vec<u32>,
        eligible: &dyn Fn(usize) -> bool,
    ) {
        let dictionary = array.as_dictionary::<Int32Type>();
        let values = dictionary.values();
        let strings = values.as_string::<i32>();
        let mut by_key = vec![None; values.len()];
        for (row, key) in dictionary.keys().iter().enumerate() {
            let key = key.and_then(|k| usize::try_from(k).ok());
            let id = match key.filter(|&k| values.is_valid(k)) {
                Some(k) => match by_key.get(k).copied().flatten() {
                    Some(id) => id,
                    None => {
                        let bytes = strings.value(k).as_bytes();
                        let id = self.string_id(bytes, values, k, eligible(row));
                        if id != NO_COMBINATION {
                            by_key[k] = Some(id);
                        }
                        id
                    }
                },
                None => self.null_id(array, row),
            };
            ids.push(id);
        }
    }

    /// Sets `ids` to the number of each row's value of `array`, a generic attribute's values
    /// of any type ([`Ty::Any`](crate::columnar::fields::Ty::Any)): a string by its bytes, a
    /// number or boolean by its bits tagged with its type, a row with no child set as null.
    fn number_any(
        &mut self,
        array: &ArrayRef,
        ids: &mut Vec<u32>,
        eligible: &dyn Fn(usize) -> bool,
    ) {
        let any = array.as_struct();
        let child = |name: &str| any.column_by_name(name);
        let (Some(str), Some(int), Some(double), Some(bool)) = (
            child(ANY_STR).and_then(|c| c.as_string_opt::<i32>()),
            child(ANY_INT).and_then(|c| c.as_primitive_opt::<Int64Type>()),
            child(ANY_DOUBLE).and_then(|c| c.as_primitive_opt::<Float64Type>()),
            child(ANY_BOOL).and_then(|c| c.as_boolean_opt()),
        ) else {
            // Not a generic attribute's values: nil, as other types.
            for row in 0..array.len() {
                let id = self.null_id(array, row);
                ids.push(id);
            }
            return;
        };
        let tagged = |tag: u128, bits: u64| (tag << 64) | u128::from(bits);
        for row in 0..array.len() {
            let id = if str.is_valid(row) {
                self.string_id(str.value(row).as_bytes(), array, row, eligible(row))
            } else if int.is_valid(row) {
                self.small_id(tagged(1, int.value(row) as u64), array, row)
            } else if double.is_valid(row) {
                self.small_id(tagged(2, double.value(row).to_bits()), array, row)
            } else if bool.is_valid(row) {
                self.small_id(tagged(3, u64::from(bool.value(row))), array, row)
            } else {
                self.null_id(array, row)
            };
            ids.push(id);
        }
    }

    /// Sets `ids` to the number of each row's value of `array`, whose non-null values are
    /// told apart by `key`.
    fn number_small(&mut self, array: &ArrayRef, ids: &mut Vec<u32>, key: impl Fn(usize) -> u128) {
        for row in 0..array.len() {
            let id = match array.is_null(row) {
                true => self.null_id(array, row),
                false => self.small_id(key(row), array, row),
            };
            ids.push(id);
        }
    }

    fn null_id(&mut self, array: &ArrayRef, row: usize) -> u32 {
        match self.null {
            Some(id) => id,
            None => {
                let id = self.push(array, row);
                self.null = Some(id);
                id
            }
        }
    }

    /// The number of the value at `row`, whose key is `key`.
    fn small_id(&mut self, key: u128, array: &ArrayRef, row: usize) -> u32 {
        if let Some(&id) = self.small.get(&key) {
            return id;
        }
        let id = self.push(array, row);
        self.small.insert(key, id);
        id
    }

    /// The number of the string of up to 12 bytes at `row`, whose view is `view` (see
    /// [`LabelValues::new_string_id`] for `eligible`).
    fn short_id(&mut self, view: u128, array: &ArrayRef, row: usize, eligible: bool) -> u32 {
        if let Some(&id) = self.short.get(&view) {
            return id;
        }
        // The low 4 bytes of a view are the length, the string's bytes follow.
        let inline = view.to_le_bytes();
        let bytes = &inline[4..4 + (view as u32 as usize).min(12)];
        let id = self.new_string_id(bytes, array, row, eligible);
        if id != NO_COMBINATION {
            self.short.insert(view, id);
        }
        id
    }

    /// The number of the string `bytes` at `row`, keyed as in a view column (a string of up to
    /// 12 bytes by its view, a longer one by its bytes) whatever column holds it: a label's
    /// value reads as a view in one block and from a dictionary or a generic list in another.
    fn string_id(&mut self, bytes: &[u8], array: &ArrayRef, row: usize, eligible: bool) -> u32 {
        match bytes.len() <= 12 {
            true => self.short_id(make_view(bytes, 0, 0), array, row, eligible),
            false => self.long_id(bytes, array, row, eligible),
        }
    }

    /// The number of the long string `bytes` at `row` (see [`LabelValues::new_string_id`]
    /// for `eligible`).
    fn long_id(&mut self, bytes: &[u8], array: &ArrayRef, row: usize, eligible: bool) -> u32 {
        if let Some(&id) = self.long.get(bytes) {
            return id;
        }
        let id = self.new_string_id(bytes, array, row, eligible);
        if id != NO_COMBINATION {
            self.long.insert(bytes.into(), id);
            self.string_bytes += bytes.len();
        }
        id
    }

    /// A new number for the string `bytes` at `row`; when the row is `eligible` (see
    /// [`LabelValues::number`]), [`NO_COMBINATION`] if it sorts after the smallest strings
    /// held ([`Groups::pass_over_after`]), its series cut, else it is held.
    fn new_string_id(&mut self, bytes: &[u8], array: &ArrayRef, row: usize, eligible: bool) -> u32 {
        if let Some(smallest) = self.smallest.as_mut().filter(|_| eligible) {
            if smallest.passes_over(bytes) {
                smallest.passed_over = true;
                return NO_COMBINATION;
            }
            smallest.hold(bytes);
        }
        self.push(array, row)
    }

    fn push(&mut self, array: &ArrayRef, row: usize) -> u32 {
        let value = val_at(&self.source, array, row);
        if let Val::Str(s) = &value {
            self.string_bytes += s.capacity();
        }
        self.values.push(value);
        (self.values.len() - 1) as u32
    }

    /// The rows of `array` where this label has a value (is not nil), as far as the type of
    /// `array` tells: none for a generic attribute's values (nil when no child is set) or for
    /// a column that does not read as the label's type.
    fn valued_rows(&self, array: &ArrayRef) -> BooleanBuffer {
        let rows = array.len();
        let Source::Column { ty, .. } = &self.source else {
            return BooleanBuffer::new_unset(rows);
        };
        let typed = match array.data_type() {
            DataType::Dictionary(key, value) => {
                **key == DataType::Int32 && **value == DataType::Utf8 && *ty == Ty::Str
            }
            DataType::Utf8View | DataType::Utf8 => *ty == Ty::Str,
            DataType::Int64 => matches!(ty, Ty::Int | Ty::Duration),
            DataType::Float64 => *ty == Ty::Float,
            DataType::Boolean => *ty == Ty::Bool,
            DataType::Int8 => matches!(ty, Ty::Status | Ty::Kind),
            _ => false,
        };
        match (typed, array.logical_nulls()) {
            (false, _) => BooleanBuffer::new_unset(rows),
            (true, Some(nulls)) => nulls.inner().clone(),
            (true, None) => BooleanBuffer::new_set(rows),
        }
    }

    /// Bytes the values and their numbers hold, about.
    pub(super) fn memory_size(&self) -> usize {
        let held = self.smallest.as_ref().map_or(0, |s| {
            s.held.capacity() * size_of::<Box<[u8]>>()
                + s.held.iter().map(|h| h.len()).sum::<usize>()
        });
        held + self.values.capacity() * size_of::<Val>()
            + (self.small.capacity() + self.short.capacity()) * size_of::<(u128, u32)>()
            + self.long.capacity() * size_of::<(Box<[u8]>, u32)>()
            + self.string_bytes
    }

    /// Value number `id`.
    pub(super) fn value(&self, id: u32) -> Val {
        self.value_ref(id).clone()
    }

    /// The value numbered `id`, borrowed.
    fn value_ref(&self, id: u32) -> &Val {
        self.values.get(id as usize).unwrap_or(&Val::Nil)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{DictionaryArray, Int64Array, StringArray, StringViewArray};
    use datafusion::prelude::ident;

    use super::*;
    use crate::columnar::fields::Ty;
    use crate::metrics::interval::Intervals;
    use crate::metrics::series::Series;

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringViewArray::from(values.to_vec()))
    }

    #[test]
    fn equal_values_get_one_number_across_batches_and_different_ones_do_not() {
        let source = Source::Column {
            expr: ident("x"),
            ty: Ty::Str,
        };
        let mut values = LabelValues::new(source);
        let (mut first, mut second) = (Vec::new(), Vec::new());
        let long = "svc-long-name-number-one";
        values.number(
            &strings(&[Some("ab"), Some(long), None, Some("ab"), Some(long)]),
            &mut first,
            &|_| true,
        );
        assert_eq!(first, vec![0, 1, 2, 0, 1]);
        // Another long string of the same length and prefix at the same place of its batch
        // (so with the same view) is another value.
        let other = "svc-long-name-number-two";
        values.number(
            &strings(&[Some("ab"), Some(other), None, Some(long), Some("cd")]),
            &mut second,
            &|_| true,
        );
        assert_eq!(second, vec![0, 3, 2, 1, 4]);
        let named: Vec<Val> = (0..5).map(|id| values.value(id)).collect();
        assert_eq!(
            named,
            vec![
                Val::Str("ab".into()),
                Val::Str(long.into()),
                Val::Nil,
                Val::Str(other.into()),
                Val::Str("cd".into()),
            ]
        );
    }

    #[test]
    fn a_dictionary_numbers_its_strings_as_views_and_plain_strings_do() {
        let source = Source::Column {
            expr: ident("x"),
            ty: Ty::Str,
        };
        let mut values = LabelValues::new(source);
        let long = "svc-long-name-number-one";
        let mut viewed = Vec::new();
        values.number(
            &strings(&[Some("ab"), Some(long), None]),
            &mut viewed,
            &|_| true,
        );
        // "unused" is in the dictionary but on no row: it gets no number.
        let dictionary: DictionaryArray<Int32Type> =
            [Some(long), None, Some("cd"), Some("ab"), Some(long)]
                .into_iter()
                .collect();
        let dictionary = DictionaryArray::new(
            dictionary.keys().clone(),
            Arc::new(StringArray::from(vec![long, "cd", "ab", "unused"])),
        );
        let mut keyed = Vec::new();
        values.number(&(Arc::new(dictionary) as ArrayRef), &mut keyed, &|_| true);
        let mut plain = Vec::new();
        let utf8: ArrayRef = Arc::new(StringArray::from(vec!["cd", long, "ab"]));
        values.number(&utf8, &mut plain, &|_| true);
        assert_eq!(viewed, vec![0, 1, 2]);
        assert_eq!(keyed, vec![1, 2, 3, 0, 1]);
        assert_eq!(plain, vec![3, 1, 0]);
        let named: Vec<Val> = (0..4).map(|id| values.value(id)).collect();
        assert_eq!(named[3], Val::Str("cd".into()));
        assert_eq!(values.values.len(), 4);
    }

    #[test]
    fn a_short_string_whose_view_has_an_integers_tagged_bits_is_another_value() {
        use datafusion::arrow::array::{BooleanArray, Float64Array, StructArray};
        use datafusion::arrow::datatypes::Field as ArrowField;

        // The view of this 5-byte string has the bits of the integer 5 tagged as a generic
        // attribute's integer.
        let odd = "\0\0\0\0\u{1}";
        let any = StructArray::from(vec![
            (
                Arc::new(ArrowField::new(ANY_STR, DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![None, Some(odd)])) as ArrayRef,
            ),
            (
                Arc::new(ArrowField::new(ANY_INT, DataType::Int64, true)),
                Arc::new(Int64Array::from(vec![Some(5), None])) as ArrayRef,
            ),
            (
                Arc::new(ArrowField::new(ANY_DOUBLE, DataType::Float64, true)),
                Arc::new(Float64Array::from(vec![None, None])) as ArrayRef,
            ),
            (
                Arc::new(ArrowField::new(ANY_BOOL, DataType::Boolean, true)),
                Arc::new(BooleanArray::from(vec![None, None])) as ArrayRef,
            ),
        ]);
        let source = Source::Column {
            expr: ident("x"),
            ty: Ty::Any,
        };
        let mut values = LabelValues::new(source);
        let mut ids = Vec::new();
        values.number(&(Arc::new(any) as ArrayRef), &mut ids, &|_| true);
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(values.value(0), Val::Int(5));
        assert_eq!(values.value(1), Val::Str(odd.into()));
    }

    #[test]
    fn integers_are_numbered_by_value() {
        let source = Source::Column {
            expr: ident("x"),
            ty: Ty::Int,
        };
        let mut values = LabelValues::new(source);
        let mut ids = Vec::new();
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(200),
            Some(500),
            None,
            Some(200),
        ]));
        values.number(&ints, &mut ids, &|_| true);
        assert_eq!(ids, vec![0, 1, 2, 0]);
        assert_eq!(values.value(1), Val::Int(500));
        assert_eq!(values.value(2), Val::Nil);
    }

    /// A bucketed row's cell names its slot and the bucket `u64::next_power_of_two` gives its
    /// value; a value below 2 or none gives no bucket, and a slot out of range stays out.
    #[test]
    fn bucket_cells_hold_the_slot_and_the_next_power_of_two() {
        let values = [0, 1, 2, 3, 4, 5, 1000, i64::MAX, -7, 9];
        let slots = Int64Array::from(vec![
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(-1),
            None,
        ]);
        let mut values_with_null: Vec<Option<i64>> = values.iter().copied().map(Some).collect();
        values_with_null[1] = None;
        let cells = bucket_cells(&slots, &Int64Array::from(values_with_null.clone()));
        let per_slot = CELLS_PER_BUCKETED_SLOT as i64;
        for (row, value) in values_with_null.iter().enumerate() {
            if slots.is_null(row) {
                assert!(cells.is_null(row));
                continue;
            }
            let slot = slots.value(row);
            let cell = cells.value(row);
            if slot < 0 {
                assert!(cell < 0, "row {row}: {cell}");
                continue;
            }
            assert_eq!(cell / per_slot, slot, "row {row}");
            let bucket = value
                .and_then(|v| u64::try_from(v).ok())
                .filter(|v| *v >= 2)
                .map(u64::next_power_of_two);
            let exponent = cell % per_slot;
            assert_eq!(
                (exponent != 0).then(|| 1u64 << exponent),
                bucket,
                "row {row}"
            );
        }
        let far = Int64Array::from(vec![i64::MAX / 2]);
        assert!(bucket_cells(&far, &Int64Array::from(vec![5])).value(0) < 0);
    }

    /// How [`bounded_series`] groups its rows before handing them to the accumulator.
    #[derive(Clone, Copy, Debug)]
    enum Bounding {
        /// Every combination is handed over.
        None,
        /// [`Groups::keep_first`] leaves combinations out.
        KeepFirst,
        /// Rows are passed over while grouped ([`Groups::pass_over_after`]), then
        /// [`Groups::keep_first`] leaves combinations out.
        PassOver,
    }

    /// The series of `rows` (slot, label value) grouped by `span.x` into an accumulator
    /// keeping `max` series, in batches of three rows, bounded by `bounding`; and whether the
    /// accumulator says series were cut.
    fn bounded_series(
        rows: &[(i64, Option<&str>)],
        max: usize,
        bounding: Bounding,
    ) -> (Vec<Series>, bool) {
        let rows: Vec<(i64, Vec<Option<&str>>)> = rows.iter().map(|r| (r.0, vec![r.1])).collect();
        bounded_series_by(&rows, max, bounding)
    }

    /// As [`bounded_series`], with a row's values of `span.x`, `span.y` … (as many as the
    /// rows have).
    fn bounded_series_by(
        rows: &[(i64, Vec<Option<&str>>)],
        max: usize,
        bounding: Bounding,
    ) -> (Vec<Series>, bool) {
        let names: Vec<String> = (0..rows.first().map_or(1, |r| r.1.len()))
            .map(|i| ["x", "y", "z"][i].to_string())
            .collect();
        let by: Vec<String> = names.iter().map(|n| format!("span.{n}")).collect();
        let query = format!("{{ }} | rate() by ({})", by.join(", "));
        let parsed = traceql_syntax::parse(&query).expect("parses");
        let traceql_syntax::ast::QueryBody::Metrics(m) = parsed.body else {
            panic!("a metrics query");
        };
        let traceql_syntax::ast::MetricsExpr::Pipeline(pipeline) = m.expr else {
            panic!("one pipeline");
        };
        let intervals = Intervals::range(0, 120_000_000_000, Some(60_000_000_000)).expect("range");
        let mut acc = Accumulator::new(&pipeline, intervals, 0, 1.0).bounded(max);
        let sources: Vec<Source> = (names.iter())
            .map(|n| Source::Column {
                expr: ident(n),
                ty: Ty::Str,
            })
            .collect();
        let mut groups = Groups::new(&sources, intervals.count(), false, false);
        let first = acc.first_series().expect("bounded");
        if let Bounding::PassOver = bounding {
            groups.pass_over_after(&first);
        }
        for batch in rows.chunks(3) {
            let slots: ArrayRef = Arc::new(Int64Array::from_iter_values(batch.iter().map(|r| r.0)));
            let labels = (0..names.len()).map(|i| {
                let values: Vec<Option<&str>> = batch.iter().map(|r| r.1[i]).collect();
                (label_column(i), strings(&values))
            });
            let columns = [(SLOT.to_string(), slots)].into_iter().chain(labels);
            let batch = RecordBatch::try_from_iter(columns).expect("batch");
            groups.add(&batch).expect("grouped");
        }
        if !matches!(bounding, Bounding::None) {
            groups.keep_first(&first);
        }
        groups.add_to(&pipeline.function.by, &mut acc);
        let cut = acc.cut();
        let mut series = acc.finish();
        series.sort_by_cached_key(Series::sort_key);
        (series, cut)
    }

    /// Leaving out the combinations after the first `max` in response order (nil sorting as
    /// its text, ties kept), and passing over the rows of strings after them while grouping,
    /// give the series the bounded accumulator keeps on its own, and the cut is still
    /// reported. A string of rows outside the intervals only (`"0"`, `"z"`) is no series and
    /// pushes no other out.
    #[test]
    fn combinations_left_out_first_are_those_the_bound_would_cut() {
        let rows = [
            (0, Some("d")),
            (1, Some("b")),
            (7, Some("0")),
            (0, None),
            (0, Some("a")),
            (1, Some("c")),
            (0, Some("b")),
            (-1, Some("z")),
            (1, Some("o")),
            (0, Some("nil-and-more")),
            (1, Some("c")),
            (9, Some("c")),
        ];
        for max in [0, 1, 2, 3, 5, 6, 7, 8] {
            let (all, all_cut) = bounded_series(&rows, max, Bounding::None);
            for bounding in [Bounding::KeepFirst, Bounding::PassOver] {
                let (first, first_cut) = bounded_series(&rows, max, bounding);
                assert_eq!(first, all, "max {max}, {bounding:?}");
                assert_eq!(first_cut, all_cut, "max {max}, {bounding:?}");
                assert_eq!(first.len(), max.min(7), "max {max}, {bounding:?}");
                assert_eq!(first_cut, max < 7, "max {max}, {bounding:?}");
            }
        }
        let (three, _) = bounded_series(&rows, 3, Bounding::PassOver);
        let texts: Vec<String> = three
            .iter()
            .map(|s| format!("{:?}", s.labels[0].value))
            .collect();
        assert_eq!(texts, ["Str(\"a\")", "Str(\"b\")", "Str(\"c\")"]);
    }

    /// With two labels, series with a nil label (one label fewer) come first whatever their
    /// first label's value: only rows with both labels are passed over by their first.
    #[test]
    fn rows_with_a_nil_label_are_not_passed_over_by_their_first() {
        let rows: Vec<(i64, Vec<Option<&str>>)> = [
            (0, Some("a"), Some("1")),
            (1, Some("b"), Some("2")),
            (0, Some("z"), None),
            (1, Some("c"), Some("1")),
            (0, Some("y"), None),
            (0, None, Some("9")),
            (1, Some("d"), Some("3")),
            (0, Some("a"), Some("2")),
            (7, Some("0"), Some("0")),
            (1, Some("x"), None),
            (1, Some("e"), Some("0")),
        ]
        .into_iter()
        .map(|(slot, x, y)| (slot, vec![x, y]))
        .collect();
        for max in [0, 1, 2, 3, 4, 5, 6, 9, 10, 11] {
            let (all, all_cut) = bounded_series_by(&rows, max, Bounding::None);
            let (first, first_cut) = bounded_series_by(&rows, max, Bounding::PassOver);
            assert_eq!(first, all, "max {max}");
            assert_eq!(first_cut, all_cut, "max {max}");
            assert_eq!(first.len(), max.min(10), "max {max}");
        }
        // The first four: the series of one label, though "x", "y" and "z" sort last.
        let (four, _) = bounded_series_by(&rows, 4, Bounding::PassOver);
        let labels: Vec<String> = (four.iter())
            .map(|s| {
                (s.labels.iter())
                    .map(|l| format!("{}={:?}", l.key, l.value))
                    .collect()
            })
            .collect();
        assert_eq!(
            labels,
            [
                "span.x=Str(\"x\")",
                "span.x=Str(\"y\")",
                "span.x=Str(\"z\")",
                "span.y=Str(\"9\")"
            ]
        );
    }
}

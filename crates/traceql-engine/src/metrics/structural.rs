//! Metrics of a first stage `{ A } op { B } | fn(...)` with a spanset operator between two
//! filters on the columnar path: the scan keeps the spans matching either filter (with their
//! places in the tree, for structural operators), and [`ReturnedSpans`] keeps, trace part by
//! trace part, exactly the spans the operator returns.
//! Partners are looked for among all spans of a trace part, whatever their start time; only
//! the returned spans are then counted in the query's range.

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::error::DataFusionError;
use traceql_syntax::ast::SpansetOp;

use super::columnar::trace_ids;
use super::exemplars::{self, Budget};
use super::interval::Intervals;
use crate::error::EngineError;
use crate::search::relations::{Member, Relation, Side, Wanted};
use crate::search::trace_fold::Places;

/// The leaf column of the left-hand filter `A` in the scan.
pub(super) const LHS: &str = "leaf0";
/// The leaf column of the right-hand filter `B` in the scan.
pub(super) const RHS: &str = "leaf1";

/// A row the operator does not return.
const NOT_RETURNED: u8 = 0;
/// A row the operator returns.
const RETURNED: u8 = 1;
/// A row the operator lists first: a union operator's left-hand spans, or the spans of the
/// side of `&&` and `||` with fewer.
const RETURNED_FIRST: u8 = 2;
/// Name of the column telling, with an operator that returns both sides, the spans it lists
/// first, before the others (each side in row order).
const FIRST: &str = "first";

/// Which spans of a trace part a structural operator returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Returns {
    /// Spans on this side with a partner (plain operators: the side of `B`).
    Paired(Side),
    /// Spans on either side with a partner (union operators).
    EitherPaired,
    /// Spans on this side without a partner, and those without a place (negated operators).
    Alone(Side),
    /// The spans of both sides, when `both`, only if each side has one (`&&`, `||`).
    Either { both: bool },
}

/// A first stage `{ A } op { B }`: for a structural operator the relation between `A` (leaf 0)
/// and `B` (leaf 1), and which spans it returns.
#[derive(Clone, Copy, Debug)]
pub(super) struct Structure {
    relation: Option<Relation>,
    returns: Returns,
}

impl Structure {
    /// The structure of `{ A } op { B }`.
    pub(super) fn of(op: SpansetOp) -> Structure {
        let Some(relation) = Relation::of(op, 0, 1) else {
            let both = op == SpansetOp::And;
            return Structure {
                relation: None,
                returns: Returns::Either { both },
            };
        };
        let returns = match relation.wanted {
            Wanted::LowerAlone => Returns::Alone(Side::Lower),
            Wanted::UpperAlone => Returns::Alone(Side::Upper),
            Wanted::Pair if is_union(op) => Returns::EitherPaired,
            // Plain operators return `B`: the lower side unless `B` is the parent or ancestor.
            Wanted::Pair if relation.upper == 1 => Returns::Paired(Side::Upper),
            Wanted::Pair => Returns::Paired(Side::Lower),
        };
        Structure {
            relation: Some(relation),
            returns,
        }
    }

    /// The place columns the scan must provide.
    pub(super) fn place_columns(&self) -> Vec<&'static str> {
        let relations: Vec<Relation> = self.relation.into_iter().collect();
        crate::search::relations::place_columns(&relations)
    }

    /// The leaves on the upper and the lower side (`A` and `B` without a relation).
    fn sides(&self) -> (usize, usize) {
        self.relation.map_or((0, 1), |r| (r.upper, r.lower))
    }
}

fn is_union(op: SpansetOp) -> bool {
    matches!(
        op,
        SpansetOp::UnionChild
            | SpansetOp::UnionParent
            | SpansetOp::UnionDescendant
            | SpansetOp::UnionAncestor
            | SpansetOp::UnionSibling
    )
}

/// Keeps the spans a spanset operator returns from scan batches that hold a block's
/// matching spans in file order (a trace part's rows together), with the columns `trace_id`,
/// [`LHS`], [`RHS`] and the place columns of [`Structure::place_columns`]. Batches come out in
/// order once every trace part with rows in them is complete.
pub(super) struct ReturnedSpans {
    structure: Structure,
    /// Batches not handed on yet, each with which of its rows are returned ([`NOT_RETURNED`],
    /// [`RETURNED`] or [`RETURNED_FIRST`] per row).
    queue: VecDeque<(RecordBatch, Vec<u8>)>,
    /// The number, among all rows added, of the first row of `queue`.
    base: usize,
    /// Rows added so far.
    added: usize,
    /// The current trace part's ID and the number of its first row.
    part: Option<(Vec<u8>, usize)>,
    /// The current part's spans matching either filter, only those with a place for a
    /// structural operator (`row`: their number from the part's first row).
    members: Vec<Member>,
    paired: Vec<bool>,
}

impl ReturnedSpans {
    /// Keeps the spans `structure` returns.
    pub(super) fn new(structure: Structure) -> ReturnedSpans {
        ReturnedSpans {
            structure,
            queue: VecDeque::new(),
            base: 0,
            added: 0,
            part: None,
            members: Vec::new(),
            paired: Vec::new(),
        }
    }

    /// Adds the next scan batch; returns the batches now complete, cut to their returned spans.
    pub(super) fn add(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>, EngineError> {
        let columns = ScanColumns::of(&batch)?;
        let first = self.added;
        self.queue
            .push_back((batch.clone(), vec![NOT_RETURNED; batch.num_rows()]));
        self.added += batch.num_rows();
        let (upper_leaf, lower_leaf) = self.structure.sides();
        for row in 0..batch.num_rows() {
            let number = first + row;
            let trace_id = columns.trace_ids.value(row);
            if self.part.as_ref().is_none_or(|(id, _)| id != trace_id) {
                self.finish_part();
                self.part = Some((trace_id.to_vec(), number));
            }
            let leaves = [columns.lhs, columns.rhs];
            let holds = |leaf: usize| leaves[leaf].is_valid(row) && leaves[leaf].value(row);
            let (upper, lower) = (holds(upper_leaf), holds(lower_leaf));
            if !(upper || lower) {
                continue;
            }
            let part_row = u32::try_from(number - part_start(&self.part))
                .map_err(|_| EngineError::Internal("trace part too large".into()))?;
            let Some(relation) = self.structure.relation else {
                // `&&` and `||` do not look at places.
                self.members.push(Member {
                    left: 0,
                    right: 0,
                    parent: 0,
                    upper,
                    lower,
                    row: part_row,
                });
                continue;
            };
            match columns.places.member(row, upper, lower, part_row) {
                Some(member) => self.members.push(member),
                // A span without a place pairs with nothing, and is always alone.
                None if relation.holds_unplaced(upper, lower) => self.mark(number, RETURNED),
                None => {}
            }
        }
        let first_incomplete = self.part.as_ref().map_or(self.added, |(_, start)| *start);
        self.complete_before(first_incomplete)
    }

    /// Bytes held: the batches not handed on yet and the current part's spans.
    pub(super) fn memory_size(&self) -> usize {
        let queued: usize = (self.queue.iter())
            .map(|(batch, marks)| batch.get_array_memory_size() + marks.capacity())
            .sum();
        queued + self.members.capacity() * size_of::<Member>() + self.paired.capacity()
    }

    /// Ends the scan: returns the remaining batches, cut to their returned spans.
    pub(super) fn finish(&mut self) -> Result<Vec<RecordBatch>, EngineError> {
        self.finish_part();
        self.part = None;
        self.complete_before(self.added)
    }

    /// Marks the returned spans of the current part.
    fn finish_part(&mut self) {
        let mut returned: Vec<(u32, u8)> = Vec::new();
        if let Some(relation) = self.structure.relation
            && !self.members.is_empty()
        {
            let mut pair = |side: Side, alone: bool, mark: u8, members: &mut [Member]| {
                relation.kind.pair(members, side, &mut self.paired);
                let found = members.iter().zip(&self.paired);
                returned.extend(
                    found
                        .filter(|(m, p)| side.of(m) && **p != alone)
                        .map(|(m, _)| (m.row, mark)),
                );
            };
            match self.structure.returns {
                Returns::Paired(side) => pair(side, false, RETURNED, &mut self.members),
                Returns::EitherPaired => {
                    let lhs = match relation.upper {
                        0 => Side::Upper,
                        _ => Side::Lower,
                    };
                    pair(lhs, false, RETURNED_FIRST, &mut self.members);
                    pair(lhs.other(), false, RETURNED, &mut self.members);
                }
                Returns::Alone(side) => pair(side, true, RETURNED, &mut self.members),
                Returns::Either { .. } => {}
            }
        }
        if let Returns::Either { both } = self.structure.returns {
            returned.extend(either(&self.members, both));
        }
        self.members.clear();
        let start = part_start(&self.part);
        for (row, mark) in returned {
            self.mark(start + row as usize, mark);
        }
    }

    /// Marks row `number` as returned (`RETURNED_FIRST` stays when both come).
    fn mark(&mut self, number: usize, mark: u8) {
        let mut offset = number - self.base;
        for (batch, marks) in &mut self.queue {
            if offset < batch.num_rows() {
                marks[offset] = marks[offset].max(mark);
                return;
            }
            offset -= batch.num_rows();
        }
    }

    /// Hands on the queued batches whose rows all come before row `number`.
    fn complete_before(&mut self, number: usize) -> Result<Vec<RecordBatch>, EngineError> {
        let mut done = Vec::new();
        while let Some((batch, _)) = self.queue.front() {
            if self.base + batch.num_rows() > number {
                break;
            }
            let Some((batch, marks)) = self.queue.pop_front() else {
                break;
            };
            self.base += batch.num_rows();
            done.push(self.returned_of(batch, &marks)?);
        }
        Ok(done)
    }

    /// The rows of `batch` marked returned; with a union operator, with a column [`FIRST`]
    /// telling the left-hand spans, which the operator lists first.
    fn returned_of(&self, batch: RecordBatch, marks: &[u8]) -> Result<RecordBatch, EngineError> {
        let kept = BooleanArray::from_iter(marks.iter().map(|&m| Some(m != NOT_RETURNED)));
        let batch = match self.structure.returns {
            Returns::EitherPaired | Returns::Either { .. } => {
                let first =
                    BooleanArray::from_iter(marks.iter().map(|&m| Some(m == RETURNED_FIRST)));
                let mut fields = batch.schema().fields().to_vec();
                fields.push(Arc::new(Field::new(FIRST, DataType::Boolean, false)));
                let mut columns = batch.columns().to_vec();
                columns.push(Arc::new(first));
                RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
                    .map_err(DataFusionError::from)?
            }
            _ => batch,
        };
        Ok(filter_record_batch(&batch, &kept).map_err(DataFusionError::from)?)
    }
}

/// The spans `{ A } && { B }` (`both`) or `{ A } || { B }` returns among `members` (`A` upper,
/// `B` lower), with the side with fewer spans (`B` on a tie) listed first.
fn either(members: &[Member], both: bool) -> Vec<(u32, u8)> {
    let count = |side: Side| members.iter().filter(|m| side.of(m)).count();
    let (a, b) = (count(Side::Upper), count(Side::Lower));
    if both && (a == 0 || b == 0) {
        return Vec::new();
    }
    let first = if a < b { Side::Upper } else { Side::Lower };
    members
        .iter()
        .map(|m| match first.of(m) {
            true => (m.row, RETURNED_FIRST),
            false => (m.row, RETURNED),
        })
        .collect()
}

/// The number of the first row of `part` (0 without one).
fn part_start(part: &Option<(Vec<u8>, usize)>) -> usize {
    part.as_ref().map_or(0, |(_, start)| *start)
}

/// The columns of a scan batch the operator reads.
struct ScanColumns<'a> {
    trace_ids: &'a FixedSizeBinaryArray,
    lhs: &'a BooleanArray,
    rhs: &'a BooleanArray,
    places: Places<'a>,
}

impl<'a> ScanColumns<'a> {
    fn of(batch: &'a RecordBatch) -> Result<ScanColumns<'a>, EngineError> {
        let boolean = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_boolean_opt())
                .ok_or_else(|| EngineError::Internal(format!("structural scan lacks {name}")))
        };
        Ok(ScanColumns {
            trace_ids: trace_ids(batch)?,
            lhs: boolean(LHS)?,
            rhs: boolean(RHS)?,
            places: Places::of(batch)?,
        })
    }
}

/// A span picked as a trace's exemplar offer: a batch of returned spans and its row.
pub(super) type Picked = (Arc<RecordBatch>, usize);

/// Picks a block's exemplar offers from its returned spans (columns `trace_id` and `start`),
/// as the reference does: per trace part, one of all its returned spans, wherever it starts.
/// Only offers that an untouched budget takes are kept: a budget that has already taken
/// others takes no more of them, so the offers of every block, made in block order, give
/// the reference's exemplars.
pub(super) struct Offers {
    budget: Budget,
    intervals: Intervals,
    /// The current trace part's ID.
    trace_id: Vec<u8>,
    /// Its returned spans the operator lists first ([`FIRST`]), then the others.
    first: Vec<Picked>,
    rest: Vec<Picked>,
    kept: Vec<Picked>,
}

impl Offers {
    /// Offers to pick for a budget as yet untouched, over `intervals`.
    pub(super) fn new(budget: Budget, intervals: Intervals) -> Offers {
        Offers {
            budget,
            intervals,
            trace_id: Vec::new(),
            first: Vec::new(),
            rest: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// Adds the next batch of returned spans.
    pub(super) fn add(&mut self, batch: &RecordBatch) -> Result<(), EngineError> {
        let batch = Arc::new(batch.clone());
        let ids = trace_ids(&batch)?;
        let first = batch.column_by_name(FIRST).and_then(|c| c.as_boolean_opt());
        for row in 0..batch.num_rows() {
            if ids.value(row) != self.trace_id.as_slice() {
                self.pick()?;
                self.trace_id.clear();
                self.trace_id.extend_from_slice(ids.value(row));
            }
            match first.is_some_and(|f| f.value(row)) {
                true => self.first.push((Arc::clone(&batch), row)),
                false => self.rest.push((Arc::clone(&batch), row)),
            }
        }
        Ok(())
    }

    /// The offers kept, in row order.
    pub(super) fn finish(mut self) -> Result<Vec<Picked>, EngineError> {
        self.pick()?;
        Ok(self.kept)
    }

    /// Picks the current trace part's offer, among its spans in the operator's order.
    fn pick(&mut self) -> Result<(), EngineError> {
        let count = self.first.len() + self.rest.len();
        if count == 0 {
            return Ok(());
        }
        let i = exemplars::pick(&self.trace_id, count);
        let (batch, row) = match self.first.get(i) {
            Some(picked) => picked.clone(),
            None => self.rest[i - self.first.len()].clone(),
        };
        self.first.clear();
        self.rest.clear();
        let start = batch
            .column_by_name("start")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| EngineError::Internal("returned spans lack start".into()))?
            .value(row)
            .max(0) as u64;
        if self.intervals.index(start).is_some() && self.budget.take(start) {
            self.kept.push((batch, row));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::Int32Type;

    /// One scanned span: trace byte, span number, left bound and parent's left bound (`None`:
    /// no place), matches `A`, matches `B`.
    type Row = (u8, i32, Option<(i32, i32)>, bool, bool);

    fn batch(rows: &[Row]) -> RecordBatch {
        let ids: Vec<[u8; 16]> = rows.iter().map(|r| [r.0; 16]).collect();
        let schema = Schema::new(vec![
            Field::new("trace_id", DataType::FixedSizeBinary(16), false),
            Field::new("span", DataType::Int32, false),
            Field::new("left", DataType::Int32, true),
            Field::new("parent", DataType::Int32, true),
            Field::new(LHS, DataType::Boolean, true),
            Field::new(RHS, DataType::Boolean, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(FixedSizeBinaryArray::try_from_iter(ids.iter()).expect("IDs")),
                Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.2.map(|p| p.0)))),
                Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.2.map(|p| p.1)))),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.3)))),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.4)))),
            ],
        )
        .expect("columns of the schema")
    }

    /// The span numbers of `batches`.
    fn spans(batches: &[RecordBatch]) -> Vec<i32> {
        batches
            .iter()
            .flat_map(|b| b["span"].as_primitive::<Int32Type>().values().to_vec())
            .collect()
    }

    /// Trace 1: A root 1 [parent -1] with child B 2; B 3 under span 5 (no A). Trace 2: B root
    /// 4, and B 5 without a place. Split over three batches.
    fn scanned() -> [RecordBatch; 3] {
        [
            batch(&[(1, 1, Some((1, -1)), true, false)]),
            batch(&[
                (1, 2, Some((2, 1)), false, true),
                (1, 3, Some((6, 5)), false, true),
                (2, 4, Some((1, -1)), false, true),
            ]),
            batch(&[(2, 5, None, false, true)]),
        ]
    }

    /// The batches handed on after each scan batch and at the end, and all returned spans.
    fn returned(op: SpansetOp) -> (Vec<usize>, Vec<i32>) {
        let mut fold = ReturnedSpans::new(Structure::of(op));
        let mut steps = Vec::new();
        let mut all = Vec::new();
        for b in scanned() {
            let done = fold.add(b).expect("scan batch");
            steps.push(done.len());
            all.extend(spans(&done));
        }
        let done = fold.finish().expect("the end");
        steps.push(done.len());
        all.extend(spans(&done));
        (steps, all)
    }

    #[test]
    fn batches_come_out_once_their_trace_parts_are_complete() {
        // Trace 1 ends in the second batch: only then the first comes out; the second holds
        // trace 2 too, which ends with the scan.
        let (steps, all) = returned(SpansetOp::Child);
        assert_eq!(steps, [0, 1, 0, 2]);
        assert_eq!(all, [2]);
    }

    #[test]
    fn each_operator_returns_its_spans() {
        assert_eq!(returned(SpansetOp::Child).1, [2]);
        assert_eq!(returned(SpansetOp::UnionChild).1, [1, 2]);
        // B spans whose parent is no A span, and those without a place.
        assert_eq!(returned(SpansetOp::NotChild).1, [3, 4, 5]);
        // `A < B`: B spans that are the parent of an A span: none.
        assert!(returned(SpansetOp::Parent).1.is_empty());
        // B spans that are the parent of no A span: all.
        assert_eq!(returned(SpansetOp::NotParent).1, [2, 3, 4, 5]);
        // `&&` needs both sides in a trace part: trace 2 has no A span.
        assert_eq!(returned(SpansetOp::And).1, [1, 2, 3]);
        assert_eq!(returned(SpansetOp::Or).1, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn and_and_or_list_the_side_with_fewer_spans_first() {
        let a = |row| Member {
            left: 0,
            right: 0,
            parent: 0,
            upper: true,
            lower: false,
            row,
        };
        let b = |row| Member {
            upper: false,
            lower: true,
            ..a(row)
        };
        // One A span, two B spans: A first.
        assert_eq!(
            either(&[b(0), a(1), b(2)], true),
            [(0, RETURNED), (1, RETURNED_FIRST), (2, RETURNED)]
        );
        // A tie: B first.
        assert_eq!(
            either(&[a(0), b(1)], false),
            [(0, RETURNED), (1, RETURNED_FIRST)]
        );
        assert!(either(&[a(0)], true).is_empty());
        assert_eq!(either(&[a(0)], false), [(0, RETURNED)]);
    }
}

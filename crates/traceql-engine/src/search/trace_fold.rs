//! The fold of candidate spans into candidate traces. The spans of a trace part sit together
//! in its block's data file (a trace never crosses a row group, and its rows are contiguous),
//! so a scan that keeps file order hands them over one trace after another: each trace is
//! finished as soon as the next one starts, without hashing trace IDs or sorting.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch,
    UInt32Array,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::UInt32Type;
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema, SchemaRef};
use datafusion::error::DataFusionError;

use super::relations::{Member, Relation};
use traceql_storage::model::TraceId;

/// Name of the column holding leaf `i`'s test, in the spans and in the traces.
pub(super) fn leaf_column(i: usize) -> String {
    format!("leaf{i}")
}

/// Name of the column holding relation `k`'s test, in the traces.
pub(super) fn related_column(k: usize) -> String {
    format!("related{k}")
}

/// The schema of the fold's output: `trace_id`, `start`, `block`, then per leaf whether a span
/// of the trace part matches it (`leaf0`, …), then per relation whether two spans of the part
/// hold it (`related0`, …).
pub(super) fn traces_schema(leaves: usize, relations: usize) -> SchemaRef {
    let mut fields = vec![
        Field::new("trace_id", DataType::FixedSizeBinary(16), false),
        Field::new("start", DataType::Int64, false),
        Field::new("block", DataType::UInt32, false),
    ];
    fields.extend((0..leaves).map(|i| Field::new(leaf_column(i), DataType::Boolean, false)));
    fields.extend((0..relations).map(|k| Field::new(related_column(k), DataType::Boolean, false)));
    Arc::new(Schema::new(fields))
}

/// The trace part being folded.
struct Part {
    trace_id: TraceId,
    start: i64,
    block: u32,
}

/// The finished trace parts, column by column.
#[derive(Default)]
struct Finished {
    trace_ids: Vec<TraceId>,
    starts: Vec<i64>,
    blocks: Vec<u32>,
    leaves: Vec<Vec<bool>>,
    related: Vec<Vec<bool>>,
}

/// Folds candidate spans (columns `trace_id`, `start`, `block`, `leaf0`…, and with relations
/// `left`, `right` and `parent`, null for spans without a place in the tree), arriving trace
/// part after trace part, into one row per part.
pub struct TraceFold {
    schema: SchemaRef,
    leaves: usize,
    relations: Vec<Relation>,
    current: Option<Part>,
    /// Per leaf: a span of the current part matches it.
    matched: Vec<bool>,
    /// Per relation, the current part's placed spans matching either of its leaves.
    members: Vec<Vec<Member>>,
    /// Per relation, a span of the current part without a place holds it on its own.
    unplaced_alone: Vec<bool>,
    /// The current part's spans so far.
    rows: u32,
    /// Scratch space of the relation tests.
    paired: Vec<bool>,
    finished: Finished,
}

impl TraceFold {
    /// A fold testing `leaves` leaf filters and the `relations` among them.
    pub fn new(leaves: usize, relations: Vec<Relation>) -> TraceFold {
        TraceFold {
            schema: traces_schema(leaves, relations.len()),
            leaves,
            members: vec![Vec::new(); relations.len()],
            unplaced_alone: vec![false; relations.len()],
            rows: 0,
            paired: Vec::new(),
            relations,
            current: None,
            matched: vec![false; leaves],
            finished: Finished::default(),
        }
    }

    /// The schema of the batches [`TraceFold::take`] returns.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Folds the spans of `batch`, which continue those of the batches before.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), DataFusionError> {
        let columns = SpanColumns::of(batch, self.leaves, !self.relations.is_empty())?;
        for row in 0..batch.num_rows() {
            let trace_id = columns.trace_ids.value(row);
            let block = columns.blocks.value(row);
            // A trace split over blocks is a part per block, even when one partition reads
            // the last rows of one block's file and then the first of the next.
            if (self.current.as_ref()).is_none_or(|p| p.trace_id != trace_id || p.block != block) {
                self.finish();
                self.current = Some(Part {
                    trace_id: trace_id.try_into().map_err(|_| {
                        DataFusionError::Internal("trace ID of unexpected length".into())
                    })?,
                    start: columns.starts.value(row),
                    block,
                });
            }
            for (matched, leaf) in self.matched.iter_mut().zip(&columns.leaves) {
                *matched |= leaf.value(row);
            }
            let row_in_part = self.rows;
            self.rows += 1;
            let Some(places) = columns.places.as_ref() else {
                continue;
            };
            let tests = self.relations.iter().zip(&mut self.members);
            for ((relation, members), alone) in tests.zip(&mut self.unplaced_alone) {
                let upper = columns.leaves[relation.upper].value(row);
                let lower = columns.leaves[relation.lower].value(row);
                if !(upper || lower) {
                    continue;
                }
                match places.member(row, upper, lower, row_in_part) {
                    Some(member) => members.push(member),
                    // A span without a place relates to nothing, and is always alone.
                    None => *alone |= relation.holds_unplaced(upper, lower),
                }
            }
        }
        Ok(())
    }

    /// Ends the current trace part: no more of its spans will come.
    pub fn finish(&mut self) {
        let Some(part) = self.current.take() else {
            return;
        };
        self.rows = 0;
        let done = &mut self.finished;
        done.trace_ids.push(part.trace_id);
        done.starts.push(part.start);
        done.blocks.push(part.block);
        done.leaves.resize_with(self.leaves, Vec::new);
        for (column, matched) in done.leaves.iter_mut().zip(&mut self.matched) {
            column.push(std::mem::take(matched));
        }
        done.related.resize_with(self.relations.len(), Vec::new);
        let tests = self.relations.iter().zip(&mut self.members);
        let tests = tests.zip(&mut self.unplaced_alone);
        for (column, ((relation, members), alone)) in done.related.iter_mut().zip(tests) {
            column.push(std::mem::take(alone) || relation.holds(members, &mut self.paired));
            members.clear();
        }
    }

    /// Bytes the fold holds: finished trace parts not taken yet and the current part's
    /// members of relations.
    pub fn memory_size(&self) -> usize {
        let done = &self.finished;
        let flags: usize = (done.leaves.iter().chain(&done.related))
            .map(Vec::capacity)
            .sum();
        let members: usize = self
            .members
            .iter()
            .map(|m| m.capacity() * size_of::<Member>())
            .sum();
        done.trace_ids.capacity() * size_of::<TraceId>()
            + done.starts.capacity() * size_of::<i64>()
            + done.blocks.capacity() * size_of::<u32>()
            + flags
            + members
    }

    /// The finished trace parts not taken yet, as one batch; `None` when there are none.
    pub fn take(&mut self) -> Result<Option<RecordBatch>, DataFusionError> {
        let done = std::mem::take(&mut self.finished);
        if done.trace_ids.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(FixedSizeBinaryArray::try_from_iter(done.trace_ids.iter())?),
            Arc::new(Int64Array::from(done.starts)),
            Arc::new(UInt32Array::from(done.blocks)),
        ];
        let booleans = |v: Vec<bool>| Arc::new(BooleanArray::from(v)) as Arc<dyn Array>;
        columns.extend(done.leaves.into_iter().map(booleans));
        columns.extend(done.related.into_iter().map(booleans));
        Ok(Some(RecordBatch::try_new(self.schema(), columns)?))
    }
}

/// The columns of a batch of candidate spans.
struct SpanColumns<'a> {
    trace_ids: &'a FixedSizeBinaryArray,
    starts: &'a Int64Array,
    blocks: &'a UInt32Array,
    /// Per leaf, where its test holds (true and not null).
    leaves: Vec<BooleanBuffer>,
    /// With relations: the spans' places in the tree.
    places: Option<Places<'a>>,
}

impl<'a> SpanColumns<'a> {
    fn of(batch: &'a RecordBatch, leaves: usize, places: bool) -> Result<Self, DataFusionError> {
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| {
                DataFusionError::Internal(format!("candidate spans lack the column {name}"))
            })
        };
        let typed = |name: &str, what: &str| {
            DataFusionError::Internal(format!("candidate spans' {name} is not {what}"))
        };
        let places = match places {
            false => None,
            true => Some(Places::of(batch)?),
        };
        Ok(SpanColumns {
            trace_ids: column("trace_id")?
                .as_fixed_size_binary_opt()
                .ok_or_else(|| typed("trace_id", "FixedSizeBinary"))?,
            starts: column("start")?
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| typed("start", "Int64"))?,
            blocks: column("block")?
                .as_primitive_opt::<UInt32Type>()
                .ok_or_else(|| typed("block", "UInt32"))?,
            leaves: (0..leaves)
                .map(|i| {
                    let name = leaf_column(i);
                    let leaf = column(&name)?
                        .as_boolean_opt()
                        .ok_or_else(|| typed(&name, "Boolean"))?;
                    Ok::<_, DataFusionError>(match leaf.nulls() {
                        Some(valid) => leaf.values() & valid.inner(),
                        None => leaf.values().clone(),
                    })
                })
                .collect::<Result<_, _>>()?,
            places,
        })
    }
}

/// Where the spans of a batch are in their trees (null: nowhere), as far as the relations read:
/// the columns `left`, `right` and `parent` (see [`super::relations::place_columns`]).
pub(crate) struct Places<'a> {
    pub(crate) lefts: Option<&'a Int32Array>,
    pub(crate) rights: Option<&'a Int32Array>,
    pub(crate) parents: Option<&'a Int32Array>,
}

impl<'a> Places<'a> {
    /// The place columns of `batch` (those the relations do not read are absent).
    pub(crate) fn of(batch: &'a RecordBatch) -> Result<Places<'a>, DataFusionError> {
        let int32 = |name: &str| match batch.column_by_name(name) {
            None => Ok(None),
            Some(c) => c.as_primitive_opt::<Int32Type>().map(Some).ok_or_else(|| {
                DataFusionError::Internal(format!("the spans' {name} is not Int32"))
            }),
        };
        Ok(Places {
            lefts: int32("left")?,
            rights: int32("right")?,
            parents: int32("parent")?,
        })
    }

    /// The span at `row` as a member of a relation test, when it has a place.
    pub(crate) fn member(
        &self,
        row: usize,
        upper: bool,
        lower: bool,
        part_row: u32,
    ) -> Option<Member> {
        self.placed(row).then(|| Member {
            left: Places::at(self.lefts, row),
            right: Places::at(self.rights, row),
            parent: Places::at(self.parents, row),
            upper,
            lower,
            row: part_row,
        })
    }

    /// Whether the span at `row` has a place (its place columns are all null or none is).
    fn placed(&self, row: usize) -> bool {
        [self.lefts, self.rights, self.parents]
            .into_iter()
            .flatten()
            .all(|c| c.is_valid(row))
    }

    /// The value of `column` at `row`, 0 without the column.
    fn at(column: Option<&Int32Array>, row: usize) -> i32 {
        column.map_or(0, |c| c.value(row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::relations::{Kind, Wanted};

    /// One candidate span: trace byte, start, parent, leaf 0, leaf 1.
    type Span = (u8, i64, Option<i32>, Option<bool>, Option<bool>);

    /// A batch of candidate spans.
    fn spans(rows: &[Span]) -> RecordBatch {
        let ids: Vec<[u8; 16]> = rows.iter().map(|r| [r.0; 16]).collect();
        let schema = Schema::new(vec![
            Field::new("trace_id", DataType::FixedSizeBinary(16), false),
            Field::new("start", DataType::Int64, false),
            Field::new("block", DataType::UInt32, false),
            Field::new("parent", DataType::Int32, true),
            Field::new("left", DataType::Int32, true),
            Field::new("right", DataType::Int32, true),
            Field::new("leaf0", DataType::Boolean, true),
            Field::new("leaf1", DataType::Boolean, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(FixedSizeBinaryArray::try_from_iter(ids.iter()).expect("16-byte IDs")),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(UInt32Array::from(vec![7; rows.len()])),
                Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.2))),
                // Placed spans get bounds of their own (only the parent matters to siblings).
                Arc::new(Int32Array::from_iter(
                    rows.iter()
                        .enumerate()
                        .map(|(i, r)| r.2.map(|_| 100 + i as i32)),
                )),
                Arc::new(Int32Array::from_iter(
                    rows.iter()
                        .enumerate()
                        .map(|(i, r)| r.2.map(|_| 100 + i as i32)),
                )),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.3))),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.4))),
            ],
        )
        .expect("columns of the schema")
    }

    /// Per trace part: (trace byte, start, leaf 0, leaf 1, siblings).
    fn folded(batches: &[RecordBatch]) -> Vec<(u8, i64, bool, bool, bool)> {
        folded_with(Wanted::Pair, batches)
    }

    /// Per trace part: (trace byte, start, leaf 0, leaf 1, the sibling relation `wanted`).
    fn folded_with(wanted: Wanted, batches: &[RecordBatch]) -> Vec<(u8, i64, bool, bool, bool)> {
        let siblings = Relation {
            kind: Kind::Sibling,
            wanted,
            upper: 0,
            lower: 1,
        };
        let mut fold = TraceFold::new(2, vec![siblings]);
        let mut out = Vec::new();
        for batch in batches {
            fold.add(batch).expect("candidate spans");
            out.extend(fold.take().expect("a batch of traces"));
        }
        fold.finish();
        out.extend(fold.take().expect("a batch of traces"));
        let mut rows = Vec::new();
        for batch in &out {
            assert_eq!(batch.schema(), fold.schema());
            let flag = |name: &str, row| batch[name].as_boolean().value(row);
            for row in 0..batch.num_rows() {
                rows.push((
                    batch["trace_id"].as_fixed_size_binary().value(row)[0],
                    batch["start"].as_primitive::<Int64Type>().value(row),
                    flag("leaf0", row),
                    flag("leaf1", row),
                    flag("related0", row),
                ));
            }
        }
        rows
    }

    #[test]
    fn each_trace_part_is_one_row_with_the_leaves_its_spans_match() {
        let batch = spans(&[
            (1, 10, Some(0), Some(true), None),
            (1, 10, Some(0), None, None),
            (2, 20, Some(0), None, Some(true)),
            (3, 30, None, Some(true), Some(false)),
        ]);
        assert_eq!(
            folded(&[batch]),
            vec![
                (1, 10, true, false, false),
                (2, 20, false, true, false),
                (3, 30, true, false, false),
            ]
        );
    }

    #[test]
    fn a_trace_continues_across_batches() {
        let first = spans(&[(1, 10, Some(0), Some(true), None)]);
        let second = spans(&[
            (1, 10, Some(0), None, Some(true)),
            (2, 20, None, None, Some(true)),
        ]);
        assert_eq!(
            folded(&[first, second]),
            vec![(1, 10, true, true, true), (2, 20, false, true, false)]
        );
    }

    /// `batch` with its spans in block `block`.
    fn in_block(batch: RecordBatch, block: u32) -> RecordBatch {
        let mut columns = batch.columns().to_vec();
        columns[2] = Arc::new(UInt32Array::from(vec![block; batch.num_rows()]));
        RecordBatch::try_new(batch.schema(), columns).expect("same schema")
    }

    #[test]
    fn the_parts_of_a_trace_in_two_blocks_stay_apart() {
        let first = spans(&[(1, 10, Some(3), Some(true), None)]);
        let second = in_block(spans(&[(1, 10, Some(3), None, Some(true))]), 8);
        assert_eq!(
            folded(&[first, second]),
            vec![(1, 10, true, false, false), (1, 10, false, true, false)]
        );
    }

    #[test]
    fn a_span_without_a_place_is_alone() {
        // The lower span has an upper sibling: it is not alone.
        let placed = spans(&[
            (1, 0, Some(3), Some(true), None),
            (1, 0, Some(3), None, Some(true)),
        ]);
        assert_eq!(
            folded_with(Wanted::LowerAlone, &[placed]),
            vec![(1, 0, true, true, false)]
        );
        // A lower span without a place is; the next trace starts afresh.
        let unplaced = spans(&[
            (1, 0, Some(3), Some(true), None),
            (1, 0, None, None, Some(true)),
            (2, 0, Some(3), Some(true), None),
            (2, 0, Some(3), None, Some(true)),
        ]);
        assert_eq!(
            folded_with(Wanted::LowerAlone, &[unplaced]),
            vec![(1, 0, true, true, true), (2, 0, true, true, false)]
        );
        // An upper span without a place leaves no lower span alone.
        let upper = spans(&[
            (1, 0, None, Some(true), None),
            (1, 0, Some(3), Some(true), None),
            (1, 0, Some(3), None, Some(true)),
        ]);
        assert_eq!(
            folded_with(Wanted::LowerAlone, &[upper]),
            vec![(1, 0, true, true, false)]
        );
    }

    #[test]
    fn siblings_need_two_different_spans_of_one_parent() {
        // One span matching both leaves has no sibling by itself.
        let alone = spans(&[(1, 0, Some(0), Some(true), Some(true))]);
        assert_eq!(folded(&[alone]), vec![(1, 0, true, true, false)]);
        // Matches under different parents are no siblings.
        let apart = spans(&[
            (1, 0, Some(0), Some(true), None),
            (1, 0, Some(5), None, Some(true)),
        ]);
        assert_eq!(folded(&[apart]), vec![(1, 0, true, true, false)]);
        // A span matching both and another matching one: two spans, one each.
        let pair = spans(&[
            (1, 0, Some(3), Some(true), Some(true)),
            (1, 0, Some(3), Some(true), None),
        ]);
        assert_eq!(folded(&[pair]), vec![(1, 0, true, true, true)]);
        // Spans without a place in the tree have no parent.
        let unplaced = spans(&[
            (1, 0, None, Some(true), None),
            (1, 0, None, None, Some(true)),
        ]);
        assert_eq!(folded(&[unplaced]), vec![(1, 0, true, true, false)]);
    }

    #[test]
    fn parents_of_one_trace_do_not_carry_into_the_next() {
        let batch = spans(&[
            (1, 0, Some(2), Some(true), None),
            (2, 0, Some(2), None, Some(true)),
        ]);
        assert_eq!(
            folded(&[batch]),
            vec![(1, 0, true, false, false), (2, 0, false, true, false)]
        );
    }
}

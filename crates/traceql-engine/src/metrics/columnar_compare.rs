//! `compare(...)` on the columnar path: `{ condition } | compare({ selection }, …)` lowered, per
//! block, onto one filtered scan yielding each matching span's interval, whether the selection
//! holds for it, and every attribute `compare` breaks down: the intrinsics and dedicated
//! columns as columns, the other attributes as the generic key/value lists. Rust counts the
//! values per class, attribute and interval, and hands the counts to the same [`Comparison`]
//! the reference path fills.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, Schema};
use datafusion::common::HashMap;
use datafusion::prelude::{DataFrame, Expr, coalesce, ident, lit};
use futures::StreamExt;
use traceql_storage::catalog::Catalog;
use traceql_storage::generic_list::{GenericEntries, Scalar};
use traceql_storage::meta::BlockMeta;
use traceql_storage::schema::col;
use traceql_syntax::ast::{Field, FieldExpr, Intrinsic, SpansetFilter};

use super::columnar::{Aggregation, NO_MATCH, in_range, slot};
use super::compare::{Comparison, SlotCounts, is_compared, window_bounds};
use super::grouping::{LabelValues, SLOT};
use super::interval::Intervals;
use crate::columnar::fields::{Source, dedicated_source, label_expr, resolve};
use crate::columnar::{Session, as_filter, lower_condition, scan_schema};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::value::Val;

/// Name of the scan's column telling whether the selection holds for a span.
const SELECTED: &str = "selected";
/// The generic attribute lists `compare` reads, with the scope their keys are named in.
const GENERIC_LISTS: [(&str, &str); 2] =
    [(col::SPAN_ATTRS, "span"), (col::RESOURCE_ATTRS, "resource")];

/// A `compare` the columnar path runs exactly: per block, its condition, selection and the
/// attributes read from columns of their own.
pub(super) struct ComparePlan {
    blocks: Vec<CompareBlock>,
}

/// What one block contributes.
#[derive(Clone)]
struct CompareBlock {
    meta: BlockMeta,
    /// The first stage's condition.
    condition: Expr,
    /// The selection, within the window when one is given; null reads as false.
    selected: Expr,
    /// The attributes with a column of their own, each with the name `compare` gives it.
    columns: Vec<(String, Source)>,
}

/// The columnar plan of `{ condition } | compare(selection, …, window)` over `blocks`, or
/// `None` when a condition does not lower in some block.
pub(super) fn plan(
    condition: &FieldExpr,
    selection: &SpansetFilter,
    window: Option<(i64, i64)>,
    blocks: &[BlockMeta],
) -> Option<ComparePlan> {
    let window = window_bounds(window).map(|(s, e)| {
        let start = ident(col::START_TIME);
        let bound = |v: u64| lit(i64::try_from(v).unwrap_or(i64::MAX));
        start.clone().gt_eq(bound(s)).and(start.lt_eq(bound(e)))
    });
    let blocks = blocks
        .iter()
        .map(|meta| {
            let mut selected = lower_condition(&selection.expr, meta)?;
            if let Some(window) = &window {
                selected = window.clone().and(selected);
            }
            Some(CompareBlock {
                meta: meta.clone(),
                condition: lower_condition(condition, meta)?,
                selected: coalesce(vec![selected, lit(false)]),
                columns: attribute_columns(meta)?,
            })
        })
        .collect::<Option<_>>()?;
    Some(ComparePlan { blocks })
}

/// The name, status and kind intrinsics and every dedicated column of the block `meta`
/// describes, named as `compare` labels them.
fn attribute_columns(meta: &BlockMeta) -> Option<Vec<(String, Source)>> {
    let mut columns = Vec::new();
    for (name, intrinsic) in [
        ("name", Intrinsic::Name),
        ("status", Intrinsic::Status),
        ("kind", Intrinsic::Kind),
    ] {
        columns.push((
            name.to_string(),
            resolve(&Field::Intrinsic(intrinsic), meta)?,
        ));
    }
    // A dedicated column's name is the one `compare` gives its attribute (`span.<key>`).
    columns.extend((meta.dedicated_columns.iter()).map(|d| (d.column_name(), dedicated_source(d))));
    Some(columns)
}

/// Counts the attribute values of every block of `plan` into `comparison`, counting blocks and
/// spans in `progress`.
pub(super) async fn run(
    plan: &ComparePlan,
    catalog: &Catalog,
    intervals: Intervals,
    memory_limit: Option<u64>,
    comparison: &mut Comparison,
    progress: &Progress,
) -> Result<(), EngineError> {
    let counted = (prepare(plan, catalog, intervals, memory_limit).await?)
        .per_live_block(|session, b, schema| {
            count_block(session, plan.blocks[b].clone(), schema, intervals)
        })
        .await?;
    for (_, counts) in counted {
        counts.add_to(comparison);
    }
    for block in &plan.blocks {
        progress.add_spans(block.meta.span_count);
        progress.block_done();
    }
    Ok(())
}

/// Runs the scan of every block of `plan` and describes each physical plan with the rows and
/// time of every node (the counting in Rust follows it).
pub(super) async fn explain(
    plan: &ComparePlan,
    catalog: &Catalog,
    intervals: Intervals,
    memory_limit: Option<u64>,
) -> Result<String, EngineError> {
    let aggregation = prepare(plan, catalog, intervals, memory_limit).await?;
    let mut out = String::from(
        "compare: the scan yields each matching span's interval, whether the selection holds, \
         its attribute columns and generic lists; Rust counts the values\n",
    );
    for (b, block) in plan.blocks.iter().enumerate() {
        let (id, spans) = (&block.meta.block_id, block.meta.span_count);
        if !aggregation.live.contains(&b) {
            out.push_str(&format!("block {id} ({spans} spans): {NO_MATCH}\n"));
            continue;
        }
        let schema = aggregation.footer(b)?.scan_schema();
        let session = &aggregation.session;
        let frame = frame(session, block, schema, intervals).await?;
        let described = session.run_and_describe(frame, &block.meta).await?;
        out.push_str(&format!("block {id} ({spans} spans):\n{described}"));
    }
    Ok(out)
}

/// The footers, live blocks and session that scan the blocks of `plan`.
async fn prepare(
    plan: &ComparePlan,
    catalog: &Catalog,
    intervals: Intervals,
    memory_limit: Option<u64>,
) -> Result<Aggregation, EngineError> {
    let blocks = (plan.blocks.iter()).map(|b| (&b.meta, matching(b, intervals)));
    Aggregation::over(catalog, blocks, memory_limit).await
}

/// Spans of the block that start in the query's range and match its condition.
fn matching(block: &CompareBlock, intervals: Intervals) -> Expr {
    in_range(intervals).and(block.condition.clone())
}

/// The block's matching spans that start in the query's range, each with its interval
/// ([`SLOT`]), [`SELECTED`], one column per attribute column (`a0`, …) and the generic lists;
/// the block's data file has `schema`.
async fn frame(
    session: &Session,
    block: &CompareBlock,
    schema: &Schema,
    intervals: Intervals,
) -> Result<DataFrame, EngineError> {
    let mut columns = vec![
        slot(intervals).alias(SLOT),
        block.selected.clone().alias(SELECTED),
    ];
    columns.extend(
        (block.columns.iter())
            .enumerate()
            .map(|(i, (_, source))| label_expr(source).alias(format!("a{i}"))),
    );
    columns.extend(GENERIC_LISTS.map(|(list, _)| ident(list)));
    let filter = matching(block, intervals);
    let read: Vec<Expr> = columns.iter().chain([&filter]).cloned().collect();
    Ok(session
        .block_with_schema(&block.meta, &scan_schema(schema, &read, &[]))
        .await?
        .filter(as_filter(filter))?
        .select(columns)?)
}

/// Counts the attribute values of one block's matching spans.
async fn count_block(
    session: Session,
    block: CompareBlock,
    schema: Schema,
    intervals: Intervals,
) -> Result<BlockCounts, EngineError> {
    let mut counts = BlockCounts::new(&block, intervals.count());
    let mut stream = frame(&session, &block, &schema, intervals)
        .await?
        .execute_stream()
        .await
        .map_err(session.reading(&block.meta))?;
    let reservation = session.reserve(&format!("compare counts of {}", block.meta.block_id));
    while let Some(batch) = stream.next().await {
        counts.add(&batch.map_err(session.reading(&block.meta))?)?;
        reservation.try_resize(counts.memory_size())?;
    }
    Ok(counts)
}

/// Per class (selection, baseline): how many spans have a value, per interval.
type ClassCounts = [SlotCounts; 2];

/// The counts of one block, per attribute and value.
struct BlockCounts {
    slots: usize,
    /// The attributes with a column of their own: name, numbered values, counts by number.
    columns: Vec<(String, LabelValues, Vec<ClassCounts>)>,
    /// The generic attributes per list of [`GENERIC_LISTS`], by key: their values' counts.
    generic: [HashMap<String, HashMap<GenericValue, ClassCounts>>; 2],
    /// Value numbers of the batch being counted.
    ids: Vec<u32>,
}

impl BlockCounts {
    fn new(block: &CompareBlock, slots: usize) -> BlockCounts {
        BlockCounts {
            slots,
            columns: (block.columns.iter())
                .map(|(name, source)| {
                    let values = LabelValues::new(source.clone());
                    (name.clone(), values, Vec::new())
                })
                .collect(),
            generic: [HashMap::default(), HashMap::default()],
            ids: Vec::new(),
        }
    }

    /// Counts the rows of `batch` (the columns of [`frame`]).
    fn add(&mut self, batch: &RecordBatch) -> Result<(), EngineError> {
        let missing = |name: &str| EngineError::Internal(format!("compare scan lacks {name}"));
        let slots: &Int64Array = batch
            .column_by_name(SLOT)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| missing(SLOT))?;
        let selected: &BooleanArray = batch
            .column_by_name(SELECTED)
            .and_then(|c| c.as_boolean_opt())
            .ok_or_else(|| missing(SELECTED))?;
        // The rows' cells in the counts: their interval, or none past the last.
        let cells: Vec<Option<(usize, usize)>> = (0..batch.num_rows())
            .map(|row| {
                let slot = usize::try_from(slots.value(row)).ok()?;
                let class = usize::from(!(selected.is_valid(row) && selected.value(row)));
                (slot < self.slots).then_some((class, slot))
            })
            .collect();
        for (i, (_, values, counts)) in self.columns.iter_mut().enumerate() {
            let array = batch
                .column_by_name(&format!("a{i}"))
                .ok_or_else(|| missing("an attribute column"))?;
            values.number(array, &mut self.ids, &|_| true);
            for ((cell, &id), valid) in cells.iter().zip(&self.ids).zip(validity(array)) {
                if let (Some((class, slot)), true) = (cell, valid) {
                    let id = id as usize;
                    if id >= counts.len() {
                        counts.resize_with(id + 1, ClassCounts::default);
                    }
                    counts[id][*class].add(*slot, 1.0);
                }
            }
        }
        for (l, (list, _)) in GENERIC_LISTS.iter().enumerate() {
            let array = batch.column_by_name(list).ok_or_else(|| missing(list))?;
            self.add_generic(l, array, &cells)?;
        }
        Ok(())
    }

    /// Counts the scalar entries of `array`, the generic list number `l` of [`GENERIC_LISTS`].
    fn add_generic(
        &mut self,
        l: usize,
        array: &ArrayRef,
        cells: &[Option<(usize, usize)>],
    ) -> Result<(), EngineError> {
        let entries = (array.as_list_opt::<i32>())
            .and_then(GenericEntries::new)
            .ok_or_else(|| EngineError::Internal("generic attributes not a list".into()))?;
        let generic = &mut self.generic[l];
        for (row, cell) in cells.iter().enumerate() {
            let Some((class, slot)) = *cell else { continue };
            for entry in entries.of_row(row) {
                let Some(value) = entries.scalar(entry) else {
                    continue;
                };
                let key = entries.key(entry);
                let values = match generic.get_mut(key) {
                    Some(values) => values,
                    None => generic.entry(key.to_string()).or_default(),
                };
                let counts = values.entry(GenericValue::from(value)).or_default();
                counts[class].add(slot, 1.0);
            }
        }
        Ok(())
    }

    /// Adds the block's counts to `comparison`.
    fn add_to(self, comparison: &mut Comparison) {
        for (name, values, counts) in self.columns {
            add_attribute(
                comparison,
                &name,
                (0..).zip(&counts).map(|(id, c)| (values.value(id), c)),
            );
        }
        for ((_, scope), generic) in GENERIC_LISTS.iter().zip(self.generic) {
            for (key, values) in generic {
                let counted = values.iter().map(|(v, c)| (v.clone().into_val(), c));
                add_attribute(comparison, &format!("{scope}.{key}"), counted);
            }
        }
    }

    /// Bytes the counts hold, about: a value's counts are taken as one interval's (most values
    /// of an attribute with many occur in few intervals, and adding up every value's on each
    /// batch would cost more than counting).
    fn memory_size(&self) -> usize {
        let value = size_of::<ClassCounts>() + size_of::<(usize, f64)>();
        let columns: usize = (self.columns.iter())
            .map(|(_, values, counts)| values.memory_size() + counts.len() * value)
            .sum();
        let generic: usize = (self.generic.iter().flatten())
            .map(|(key, values)| {
                key.len() + values.len() * (value + size_of::<GenericValue>() + 16)
            })
            .sum();
        columns + generic
    }
}

/// Whether each row of `array` holds a value.
fn validity(array: &ArrayRef) -> impl Iterator<Item = bool> {
    let nulls = array.logical_nulls();
    (0..array.len()).map(move |row| nulls.as_ref().is_none_or(|n| n.is_valid(row)))
}

/// Adds the counts per class of each value of attribute `name` that `compare` counts to
/// `comparison`.
fn add_attribute<'a>(
    comparison: &mut Comparison,
    name: &str,
    values: impl Iterator<Item = (Val, &'a ClassCounts)>,
) {
    let compared: Vec<(Val, &ClassCounts)> = values.filter(|(v, _)| is_compared(v)).collect();
    for (class, selected) in [(0, true), (1, false)] {
        let counted: Vec<(Val, &SlotCounts)> = (compared.iter())
            .filter(|(_, c)| !c[class].is_empty())
            .map(|(v, c)| (v.clone(), &c[class]))
            .collect();
        // An attribute no span of the class has gets no totals series in that class.
        if !counted.is_empty() {
            comparison.add_counts(selected, name.to_string(), counted);
        }
    }
}

/// A scalar value of a generic list entry (a float by its bits, so that it can be a key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum GenericValue {
    Str(String),
    Int(i64),
    Float(u64),
    Bool(bool),
}

impl From<Scalar<'_>> for GenericValue {
    fn from(value: Scalar<'_>) -> GenericValue {
        match value {
            Scalar::String(s) => GenericValue::Str(s.to_string()),
            Scalar::Int(i) => GenericValue::Int(i),
            Scalar::Double(d) => GenericValue::Float(d.to_bits()),
            Scalar::Bool(b) => GenericValue::Bool(b),
        }
    }
}

impl GenericValue {
    fn into_val(self) -> Val {
        match self {
            GenericValue::Str(s) => Val::Str(s),
            GenericValue::Int(i) => Val::Int(i),
            GenericValue::Float(bits) => Val::Float(f64::from_bits(bits)),
            GenericValue::Bool(b) => Val::Bool(b),
        }
    }
}

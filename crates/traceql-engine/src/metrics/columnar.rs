//! Metrics on the columnar path: `{ condition } | fn(...) by (...)` lowered, per block, onto a
//! filtered Parquet scan in DataFusion yielding each matching span's interval, labels and
//! measured value, grouped in Rust ([`Groups`]) and merged into the same accumulator the
//! reference path fills. Exemplars come from a second, ordered scan of the matching rows that
//! stops once the exemplar budget is spent.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use datafusion::error::DataFusionError;
use datafusion::prelude::{DataFrame, Expr, cast, ident, lit};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;
use futures::future::try_join_all;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::read::BlockIndex;
use traceql_storage::schema::col;
use traceql_syntax::ast::{
    Field, Intrinsic, MetricsFunctionKind, MetricsPipeline, SpansetExpr, Stage,
};

use super::Plan;
use super::columnar_compare::{self, ComparePlan};
use super::exemplars::{self, Budget};
use super::grouping::{BUCKET, Groups, MEASURED, SLOT, label_column};
use super::interval::Intervals;
use super::sampling::Sampling;
use super::series::{Accumulator, FirstSeries};
use super::structural::{LHS, Offers, Picked, RHS, ReturnedSpans, Structure};
use crate::columnar::fields::{
    Source, integer_expr, label_expr, numeric_expr, resolve_value, val_at, value_expr,
};
use crate::columnar::{
    Footers, Group, RowGroupScan, Session, as_filter, lower_condition, pruning, scan_schema,
};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::reference::trace_id_hex;
use crate::search::columnar::place_exprs;
use crate::value::Val;

/// What one block contributes: its filter, label and measured-value expressions.
#[derive(Clone)]
struct BlockPlan {
    meta: BlockMeta,
    /// The conditions of the first stage's filters: one, or with a structure its two.
    filters: Vec<Expr>,
    /// With a sampling hint, the spans it keeps.
    kept: Option<Expr>,
    labels: Vec<Source>,
    measured: Option<Source>,
}

impl BlockPlan {
    /// The spans the scan keeps: those matching any of the first stage's filters (and kept
    /// by the sampling).
    fn condition(&self) -> Expr {
        let mut filters = self.filters.iter().cloned();
        let first = filters.next().unwrap_or_else(|| lit(false));
        let matching = filters.fold(first, Expr::or);
        match &self.kept {
            Some(kept) => matching.and(kept.clone()),
            None => matching,
        }
    }
}

/// One metrics pipeline the columnar path runs exactly.
pub(super) struct ColumnarPlan {
    by: Vec<Field>,
    measured_field: Option<Field>,
    /// Quantiles and histograms count spans per power-of-two bucket of the measured value.
    bucketed: bool,
    /// A first stage `{ A } op { B }` with a spanset operator; `None` for a single filter.
    structure: Option<Structure>,
    blocks: Vec<BlockPlan>,
}

/// How the columnar path runs one metrics pipeline.
pub(super) enum PipelinePlan {
    /// Every function but `compare`.
    Series(ColumnarPlan),
    /// `compare(…)`.
    Compare(ComparePlan),
}

/// The columnar plans of every pipeline of `plan` over `blocks`, or `None` when some part of
/// the query or of a block is beyond what the columnar path lowers (the caller then uses the
/// reference path).
pub(super) fn plan(plan: &Plan, blocks: &[BlockMeta]) -> Option<Vec<PipelinePlan>> {
    if plan.extrapolate {
        return None;
    }
    (plan.pipelines.iter().zip(&plan.sampling))
        .map(|(p, sampling)| pipeline_plan(p, *sampling, blocks))
        .collect()
}

fn pipeline_plan(
    pipeline: &MetricsPipeline,
    sampling: Sampling,
    blocks: &[BlockMeta],
) -> Option<PipelinePlan> {
    let kind = &pipeline.function.kind;
    if let MetricsFunctionKind::Compare { filter, window, .. } = kind {
        if sampling != Sampling::Exact {
            return None;
        }
        let [Stage::Spanset(SpansetExpr::Filter(condition))] = pipeline.pipeline.stages.as_slice()
        else {
            return None;
        };
        if !pipeline.function.by.is_empty() {
            return None;
        }
        let plan = columnar_compare::plan(&condition.expr, filter, *window, blocks)?;
        return Some(PipelinePlan::Compare(plan));
    }
    let (filters, structure) = match pipeline.pipeline.stages.as_slice() {
        [Stage::Spanset(SpansetExpr::Filter(filter))] => (vec![&filter.expr], None),
        [Stage::Spanset(SpansetExpr::Op { op, lhs, rhs })] => match (&**lhs, &**rhs) {
            (SpansetExpr::Filter(a), SpansetExpr::Filter(b)) => {
                (vec![&a.expr, &b.expr], Some(Structure::of(*op)))
            }
            _ => return None,
        },
        _ => return None,
    };
    // Spans sampled out of a structure's result are still part of the structure: the scan
    // cannot leave them out.
    if structure.is_some() && matches!(sampling, Sampling::Spans(_)) {
        return None;
    }
    let measured_field = kind.field().cloned();
    let by = pipeline.function.by.clone();
    let blocks = blocks
        .iter()
        .map(|meta| {
            Some(BlockPlan {
                meta: meta.clone(),
                filters: (filters.iter())
                    .map(|f| lower_condition(f, meta))
                    .collect::<Option<_>>()?,
                kept: sampling.kept(),
                labels: (by.iter())
                    .map(|f| resolve_value(f, meta))
                    .collect::<Option<_>>()?,
                measured: match &measured_field {
                    Some(f) => Some(resolve_value(f, meta)?),
                    None => None,
                },
            })
        })
        .collect::<Option<_>>()?;
    Some(PipelinePlan::Series(ColumnarPlan {
        by,
        measured_field,
        bucketed: matches!(
            kind,
            MetricsFunctionKind::QuantileOverTime { .. }
                | MetricsFunctionKind::HistogramOverTime(_)
        ),
        structure,
        blocks,
    }))
}

/// Runs `columnar` into `acc`, counting blocks and spans in `progress`.
pub(super) async fn run(
    columnar: &ColumnarPlan,
    catalog: &Catalog,
    intervals: Intervals,
    exemplars_wanted: bool,
    memory_limit: Option<u64>,
    acc: &mut Accumulator,
    progress: &Progress,
) -> Result<(), EngineError> {
    let aggregation = Aggregation::prepare(columnar, catalog, intervals, memory_limit).await?;
    // Their groups are added in block order. A structural first stage also gathers the
    // block's exemplar offers as it goes.
    let offers_wanted = exemplars_wanted && columnar.structure.is_some();
    let scan = BlockScan {
        bucketed: columnar.bucketed,
        structure: columnar.structure,
        budget: offers_wanted.then(|| acc.fresh_budget()),
        first: acc.first_series(),
    };
    let grouped = aggregation
        .per_live_block(|session, b, schema| {
            group_block(
                session,
                scan.clone(),
                columnar.blocks[b].clone(),
                schema,
                intervals,
            )
        })
        .await?;
    let mut offers = Vec::new();
    for (b, (groups, block_offers)) in grouped {
        groups.add_to(&columnar.by, acc);
        offers.push((b, block_offers));
    }
    for block in &columnar.blocks {
        progress.add_spans(block.meta.span_count);
        progress.block_done();
    }
    if offers_wanted {
        // In block order, as the reference offers them.
        for (b, block_offers) in offers {
            for picked in &block_offers {
                offer_span(columnar, &columnar.blocks[b], picked, acc)?;
            }
        }
        return Ok(());
    }
    if exemplars_wanted {
        // One partition keeps the rows in file order, so a trace's rows arrive together.
        let ordered =
            Session::new(catalog, 1, memory_limit)?.with_footers(aggregation.footers.all_read());
        for &b in &aggregation.live {
            let (block, index) = (&columnar.blocks[b], aggregation.footer(b)?);
            if !acc.wants_exemplars() {
                break;
            }
            exemplars_of_block(&ordered, catalog, columnar, block, index, intervals, acc).await?;
        }
    }
    Ok(())
}

/// What explaining a plan says of a block it does not scan.
pub(super) const NO_MATCH: &str =
    "no row group may match (by the values meta.json records, statistics or bloom filters)";

/// What the aggregation of a columnar plan works from.
pub(super) struct Aggregation {
    /// The footers of the blocks of the plan that may match, in its order.
    footers: Footers,
    /// The numbers of the blocks with a row group whose statistics or bloom filters let the
    /// block's condition hold in the query's range: the only ones worth aggregating.
    pub(super) live: Vec<usize>,
    /// The session that aggregates the live blocks, each in a task of its own.
    pub(super) session: Session,
}

impl Aggregation {
    /// Reads the footers of the blocks of `columnar`, keeps the blocks that may match and
    /// sets up their session (see [`Aggregation::over`]); a structural first stage reads each
    /// block in one partition, in file order, so that a trace part's spans arrive together
    /// (the batches of several partitions would interleave).
    async fn prepare(
        columnar: &ColumnarPlan,
        catalog: &Catalog,
        intervals: Intervals,
        memory_limit: Option<u64>,
    ) -> Result<Aggregation, EngineError> {
        let blocks = columnar
            .blocks
            .iter()
            .map(|b| (&b.meta, matching(b, intervals)));
        let aggregation = Aggregation::over(catalog, blocks, memory_limit).await?;
        Ok(match columnar.structure {
            Some(_) => Aggregation {
                session: aggregation.session.with_partitions(1).in_file_order(),
                ..aggregation
            },
            None => aggregation,
        })
    }

    /// The footer of live block `block`.
    pub(super) fn footer(&self, block: usize) -> Result<&BlockIndex, EngineError> {
        (self.footers.read(block))
            .ok_or_else(|| EngineError::Internal(format!("live block {block} unread")))
    }

    /// Runs `task` (given the session, the block's number and its data file's schema) for
    /// every live block, each in a task of its own: the blocks are planned, scanned and folded
    /// on all cores at once. Returns each block's number and result, in block order.
    pub(super) async fn per_live_block<T, Task>(
        &self,
        task: impl Fn(Session, usize, Schema) -> Task,
    ) -> Result<Vec<(usize, T)>, EngineError>
    where
        Task: Future<Output = Result<T, EngineError>> + Send + 'static,
        T: Send + 'static,
    {
        let tasks = (self.live.iter())
            .map(|&b| {
                let schema = self.footer(b)?.scan_schema().clone();
                Ok(tokio::spawn(task(self.session.clone(), b, schema)))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let results = try_join_all(tasks)
            .await
            .map_err(|e| EngineError::Internal(format!("block task failed: {e}")))?;
        (self.live.iter().copied())
            .zip(results)
            .map(|(b, result)| Ok((b, result?)))
            .collect()
    }

    /// Reads the footers of `blocks` (each with the condition of its spans worth reading),
    /// keeps the blocks that may match and sets up their session: one that hands DataFusion
    /// the footers and evaluates the condition after decoding rather than as a row filter,
    /// bounded by `memory_limit`. Its plans have only the partitions the cores need beyond one
    /// per live block: with as many blocks as cores, a single partition per block spares every
    /// plan its repartitioning (count by service on 11 blocks and 2 cores: ~340 -> ~290 ms).
    pub(super) async fn over<'a>(
        catalog: &Catalog,
        blocks: impl Iterator<Item = (&'a BlockMeta, Expr)>,
        memory_limit: Option<u64>,
    ) -> Result<Aggregation, EngineError> {
        let (metas, conditions): (Vec<&BlockMeta>, Vec<Expr>) = blocks.unzip();
        let session = Session::new(catalog, 1, memory_limit)?;
        let (footers, may_match) =
            pruning::row_groups_that_may_match(&session, catalog, &metas, conditions).await?;
        let session = session
            .with_footers(footers.all_read())
            .without_row_filters();
        let live = pruning::blocks_with_a_match(&may_match);
        // Where the pruning above ruled out no row group of a live block, the scans' own
        // pruning, which reads the same statistics and bloom filters, would rule out none
        // either: its bloom filter reads are left out (10 M spans, 2 cores, medians of 7
        // interleaved runs: filtered rate by method 98 -> 83 ms, service rate 63 -> 55 ms).
        // Handing the scans the row groups that may match, and no pruning of their own, would
        // serve the queries where some row groups were ruled out as well.
        let session = match live.iter().all(|&b| may_match[b].iter().all(|&m| m)) {
            true => session.pruned_ahead(),
            false => session,
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Aggregation {
            session: session.with_partitions(cores.div_ceil(live.len().max(1))),
            footers,
            live,
        })
    }
}

/// Spans of the block that start in the query's range and match the condition.
fn matching(block: &BlockPlan, intervals: Intervals) -> Expr {
    in_range(intervals).and(block.condition())
}

/// A span's interval, for spans that start in the query's range.
pub(super) fn slot(intervals: Intervals) -> Expr {
    (ident(col::START_TIME) - lit(intervals.start as i64 + 1)) / lit(intervals.step as i64)
}

/// Spans that start in the query's range.
pub(super) fn in_range(intervals: Intervals) -> Expr {
    let start = ident(col::START_TIME);
    start
        .clone()
        .gt(lit(intervals.start as i64))
        .and(start.lt_eq(lit(intervals.end as i64)))
}

/// How a block's spans are scanned for grouping.
#[derive(Clone)]
struct BlockScan {
    /// Quantiles and histograms count spans per power-of-two bucket of the measured value.
    bucketed: bool,
    /// A structural first stage.
    structure: Option<Structure>,
    /// With a structural first stage and exemplars wanted: a budget as yet untouched, which
    /// picks the block's exemplar offers.
    budget: Option<Budget>,
    /// When the accumulator keeps only the first series in response order: which; the block
    /// leaves out the label combinations that cannot be among them.
    first: Option<FirstSeries>,
}

/// Groups the matching spans of one block (whose data file has `schema`) per interval and
/// labels (and bucket, when bucketed); with a budget, also picks the block's exemplar offers.
async fn group_block(
    session: Session,
    scan: BlockScan,
    block: BlockPlan,
    schema: Schema,
    intervals: Intervals,
) -> Result<(Groups, Vec<Picked>), EngineError> {
    let mut groups = Groups::new(
        &block.labels,
        intervals.count(),
        scan.bucketed,
        block.measured.is_some(),
    );
    if let Some(first) = &scan.first {
        groups.pass_over_after(first);
    }
    let mut stream = grouped_frame(&session, &scan, &block, &schema, intervals)
        .await?
        .execute_stream()
        .await
        .map_err(session.reading(&block.meta))?;
    let reservation = session.reserve(&format!("metrics groups of {}", block.meta.block_id));
    let mut returned = scan.structure.map(ReturnedSpans::new);
    let mut offers = scan.budget.map(|budget| Offers::new(budget, intervals));
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(session.reading(&block.meta))?;
        match &mut returned {
            None => groups.add(&batch)?,
            Some(returned) => {
                for kept in returned.add(batch)? {
                    add_returned(&mut groups, offers.as_mut(), kept)?;
                }
            }
        }
        let folding = returned.as_ref().map_or(0, ReturnedSpans::memory_size);
        reservation.try_resize(groups.memory_size() + folding)?;
    }
    if let Some(returned) = &mut returned {
        for kept in returned.finish()? {
            add_returned(&mut groups, offers.as_mut(), kept)?;
        }
    }
    if let Some(first) = &scan.first {
        groups.keep_first(first);
    }
    let offers = offers.map(Offers::finish).transpose()?;
    Ok((groups, offers.unwrap_or_default()))
}

/// Groups the returned spans of `batch` that start in the query's range, after offering them
/// all (as the reference does) to `offers`.
fn add_returned(
    groups: &mut Groups,
    offers: Option<&mut Offers>,
    batch: RecordBatch,
) -> Result<(), EngineError> {
    if let Some(offers) = offers {
        offers.add(&batch)?;
    }
    let in_range = batch
        .column_by_name(IN_RANGE)
        .and_then(|c| c.as_boolean_opt())
        .ok_or_else(|| EngineError::Internal("the structural scan lacks in_range".into()))?;
    groups.add(&filter_record_batch(&batch, in_range).map_err(DataFusionError::from)?)
}

/// Name of the structural scan's column telling whether a span starts in the query's range.
const IN_RANGE: &str = "in_range";
/// Name of the column holding the measured value as an exemplar shows it.
const EXEMPLAR_MEASURED: &str = "exemplar_measured";

/// The block's matching spans, each with its interval ([`SLOT`]), labels (`label0`, …) and
/// bucket ([`BUCKET`], when bucketed) or measured value ([`MEASURED`]); the block's data file
/// has `schema`. With a structural first stage: the spans matching either of its filters,
/// wherever they start, with their trace, places in the tree, filter results and [`IN_RANGE`]
/// (and what exemplars show, when a budget is given).
async fn grouped_frame(
    session: &Session,
    scan: &BlockScan,
    block: &BlockPlan,
    schema: &Schema,
    intervals: Intervals,
) -> Result<DataFrame, EngineError> {
    let mut columns = vec![slot(intervals).alias(SLOT)];
    columns.extend(
        block
            .labels
            .iter()
            .enumerate()
            .map(|(i, s)| label_expr(s).alias(label_column(i))),
    );
    match (&block.measured, scan.bucketed) {
        (Some(m), true) => columns.push(integer_expr(m).alias(BUCKET)),
        (None, true) => columns.push(cast(lit(ScalarValue::Null), DataType::Int64).alias(BUCKET)),
        (Some(m), false) => columns.push(numeric_expr(m).alias(MEASURED)),
        (None, false) => {}
    }
    let filter = match &scan.structure {
        None => matching(block, intervals),
        Some(structure) => {
            columns.push(ident(col::TRACE_ID).alias("trace_id"));
            columns.extend(place_exprs(&structure.place_columns())?);
            for (leaf, name) in block.filters.iter().zip([LHS, RHS]) {
                columns.push(leaf.clone().alias(name));
            }
            columns.push(in_range(intervals).alias(IN_RANGE));
            if scan.budget.is_some() {
                columns.push(ident(col::SPAN_ID).alias("span_id"));
                columns.push(ident(col::START_TIME).alias("start"));
                if let Some(m) = &block.measured {
                    columns.push(value_expr(m).alias(EXEMPLAR_MEASURED));
                }
            }
            block.condition()
        }
    };
    let read: Vec<Expr> = [filter.clone()]
        .into_iter()
        .chain(columns.iter().cloned())
        .collect();
    Ok(session
        .block_with_schema(&block.meta, &scan_schema(schema, &read, &[]))
        .await?
        .filter(as_filter(filter))?
        .select(columns)?)
}

/// Runs the scan of every block of `columnar` and describes each physical plan with the rows
/// and time of every node (the grouping in Rust follows it).
pub(super) async fn explain(
    columnar: &ColumnarPlan,
    catalog: &Catalog,
    intervals: Intervals,
    memory_limit: Option<u64>,
) -> Result<String, EngineError> {
    let aggregation = Aggregation::prepare(columnar, catalog, intervals, memory_limit).await?;
    let mut out = String::new();
    if let Some(structure) = &columnar.structure {
        out.push_str(&format!(
            "structural first stage: the scan keeps the spans of either filter in file order; \
             per trace part, Rust keeps the spans the operator returns ({structure:?})\n"
        ));
    }
    let session = &aggregation.session;
    for (b, block) in columnar.blocks.iter().enumerate() {
        if !aggregation.live.contains(&b) {
            out.push_str(&format!(
                "block {} ({} spans): {NO_MATCH}\n",
                block.meta.block_id, block.meta.span_count
            ));
            continue;
        }
        let index = aggregation.footer(b)?;
        let scan = BlockScan {
            bucketed: columnar.bucketed,
            structure: columnar.structure,
            budget: None,
            first: None,
        };
        let frame = grouped_frame(session, &scan, block, index.scan_schema(), intervals).await?;
        out.push_str(&format!(
            "block {} ({} spans):\n{}",
            block.meta.block_id,
            block.meta.span_count,
            session.run_and_describe(frame, &block.meta).await?
        ));
    }
    Ok(out)
}

/// Offers one span per matching trace of the block (whose footer is `index`) to the exemplar
/// budget, in row order. As on the reference path, the span is picked among all the trace's
/// matching spans, wherever they start (one outside the range is then refused). A row group is
/// read only when some span of it starts in the range and while the budget has room at some
/// span start it holds (by its statistics): every offer from the rest would be refused, so
/// skipping them keeps the exemplars those of a full scan.
async fn exemplars_of_block(
    session: &Session,
    catalog: &Catalog,
    columnar: &ColumnarPlan,
    block: &BlockPlan,
    index: &BlockIndex,
    intervals: Intervals,
    acc: &mut Accumulator,
) -> Result<(), EngineError> {
    let mut columns = vec![
        ident(col::TRACE_ID).alias("trace_id"),
        ident(col::SPAN_ID).alias("span_id"),
        ident(col::START_TIME).alias("start"),
    ];
    columns.extend(
        block
            .labels
            .iter()
            .enumerate()
            .map(|(i, s)| value_expr(s).alias(format!("label{i}"))),
    );
    if let Some(m) = &block.measured {
        columns.push(value_expr(m).alias(EXEMPLAR_MEASURED));
    }
    let filter = block.condition();
    let read: Vec<Expr> = columns.iter().chain([&filter]).cloned().collect();
    let frame = session
        .block_with_schema(&block.meta, &scan_schema(index.scan_schema(), &read, &[]))
        .await?
        .filter(as_filter(filter))?
        .select(columns)?;
    let summaries = index.row_groups()?;
    let path = catalog.data_path(&block.meta.tenant, &block.meta.block_id);
    let scan = RowGroupScan::plan(frame, vec![path], vec![summaries.len()]).await?;
    let starts = index.span_starts()?;
    for ((number, summary), (first, last)) in summaries.into_iter().enumerate().zip(starts) {
        let (first, last) = (first.max(0) as u64, last.max(0) as u64);
        let in_range = last > intervals.start && first <= intervals.end;
        if !in_range || !acc.wants_exemplars_between(first, last) {
            continue;
        }
        let group = Group {
            block: 0,
            index: number,
            summary,
        };
        let mut stream = scan
            .stream(&[group])
            .map_err(session.reading(&block.meta))?;
        // The rows of the trace being read, as (batch, row) pairs, and that trace's ID; a trace
        // never crosses a row group.
        let mut pending: Vec<(Arc<RecordBatch>, usize)> = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        'rows: while let Some(batch) = stream.next().await {
            let batch = Arc::new(batch.map_err(session.reading(&block.meta))?);
            let ids = trace_ids(&batch)?;
            for row in 0..batch.num_rows() {
                if pending.is_empty() || ids.value(row) != current.as_slice() {
                    current.clear();
                    current.extend_from_slice(ids.value(row));
                    offer(columnar, block, &pending, acc)?;
                    pending.clear();
                    if !acc.wants_exemplars_between(first, last) {
                        break 'rows;
                    }
                }
                pending.push((Arc::clone(&batch), row));
            }
        }
        offer(columnar, block, &pending, acc)?;
    }
    Ok(())
}

/// The `trace_id` column of `batch`.
pub(super) fn trace_ids(batch: &RecordBatch) -> Result<&FixedSizeBinaryArray, EngineError> {
    batch
        .column_by_name("trace_id")
        .and_then(|c| c.as_fixed_size_binary_opt())
        .ok_or_else(|| EngineError::Internal("trace_id is not FixedSizeBinary".into()))
}

/// Picks one of a trace's matching rows (as the reference does) and offers it as an exemplar.
fn offer(
    columnar: &ColumnarPlan,
    block: &BlockPlan,
    rows: &[(Arc<RecordBatch>, usize)],
    acc: &mut Accumulator,
) -> Result<(), EngineError> {
    let Some((first, first_row)) = rows.first() else {
        return Ok(());
    };
    let picked = exemplars::pick(trace_ids(first)?.value(*first_row), rows.len());
    offer_span(columnar, block, &rows[picked], acc)
}

/// Offers the span at `row` of `batch` as an exemplar.
fn offer_span(
    columnar: &ColumnarPlan,
    block: &BlockPlan,
    (batch, row): &Picked,
    acc: &mut Accumulator,
) -> Result<(), EngineError> {
    let row = *row;
    let trace_id = trace_ids(batch)?.value(row).to_vec();
    let start = batch
        .column_by_name("start")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .map_or(0, |a| a.value(row) as u64);
    // Most offers are refused: the exemplar's labels are built only for one that is not.
    if !acc.wants_exemplars_between(start, start) {
        return Ok(());
    }
    let span_id = batch
        .column_by_name("span_id")
        .and_then(|c| c.as_fixed_size_binary_opt())
        .map(|a| a.value(row).to_vec())
        .unwrap_or_default();
    let labels: Vec<ArrayRef> = (0..block.labels.len())
        .filter_map(|i| batch.column_by_name(&format!("label{i}")).cloned())
        .collect();
    let measured = batch.column_by_name(EXEMPLAR_MEASURED).cloned();
    let trace_hex = trace_id_hex(trace_id.as_slice().try_into().unwrap_or(&[0; 16]));
    let value = |f: &Field| -> Val {
        match f {
            Field::Intrinsic(Intrinsic::TraceId) => Val::Str(trace_hex.clone()),
            Field::Intrinsic(Intrinsic::SpanId) => Val::Str(hex::encode(&span_id)),
            _ => {
                if let Some(i) = columnar.by.iter().position(|b| b == f) {
                    return labels
                        .get(i)
                        .map_or(Val::Nil, |a| val_at(&block.labels[i], a, row));
                }
                match (&columnar.measured_field, &block.measured, &measured) {
                    (Some(m), Some(source), Some(a)) if m == f => val_at(source, a, row),
                    _ => Val::Nil,
                }
            }
        }
    };
    acc.add_exemplar_with(start, &value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use traceql_storage::generator::{Generator, GeneratorConfig};
    use traceql_storage::writer::{WriteOptions, write_block};

    /// Whether the scans of `aggregation` read bloom filters when they open a file.
    fn reads_bloom_filters(aggregation: &Aggregation) -> bool {
        let config = aggregation.session.task_ctx().session_config().clone();
        config.options().execution.parquet.bloom_filter_on_read
    }

    #[tokio::test]
    async fn scans_read_bloom_filters_only_where_pruning_ahead_ruled_out_row_groups() {
        let catalog =
            Catalog::open(&format!("memory://blooms-{}", uuid::Uuid::new_v4())).expect("catalog");
        let traces = Generator::new(GeneratorConfig::default()).traces(0..200);
        let one_trace = traces[0].trace_id.to_vec();
        let options = WriteOptions {
            row_group_spans: 100,
            ..WriteOptions::default()
        };
        let meta = (write_block(&catalog, "t", traces, &options, vec![], 0).await).expect("block");
        assert!(meta.row_groups > 2);
        let over = |condition: Expr| {
            Aggregation::over(&catalog, std::iter::once((&meta, condition)), None)
        };

        let everywhere = over(lit(true)).await.expect("aggregation");
        assert!(!reads_bloom_filters(&everywhere));
        let by_trace =
            ident(col::TRACE_ID).eq(lit(ScalarValue::FixedSizeBinary(16, Some(one_trace))));
        let in_one_row_group = over(by_trace).await.expect("aggregation");
        assert_eq!(in_one_row_group.live, [0]);
        assert!(reads_bloom_filters(&in_one_row_group));
    }
}

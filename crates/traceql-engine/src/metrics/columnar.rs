//! Metrics on the columnar path: `{ condition } | fn(...) by (...)` lowered, per block, onto a
//! filtered Parquet scan in DataFusion yielding each matching span's interval, labels and
//! measured value, grouped in Rust ([`Groups`]) and merged into the same accumulator the
//! reference path fills. Exemplars come from a second, ordered scan of the matching rows that
//! stops once the exemplar budget is spent.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};
use datafusion::functions::expr_fn::{ceil, log2, power};
use datafusion::prelude::{DataFrame, Expr, cast, ident, lit, when};
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
use super::exemplars;
use super::grouping::{BUCKET, Groups, MEASURED, SLOT, label_column};
use super::interval::Intervals;
use super::sampling::Sampling;
use super::series::Accumulator;
use crate::columnar::fields::{Source, Ty, resolve, val_at, value_expr};
use crate::columnar::{
    Group, RowGroupScan, Session, lower_condition, open_indexes, pruning, scan_schema,
};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::reference::trace_id_hex;
use crate::value::Val;

/// What one block contributes: its filter, label and measured-value expressions.
#[derive(Clone)]
struct BlockPlan {
    meta: BlockMeta,
    condition: Expr,
    labels: Vec<Source>,
    measured: Option<Source>,
}

/// One metrics pipeline the columnar path runs exactly.
pub(super) struct ColumnarPlan {
    by: Vec<Field>,
    measured_field: Option<Field>,
    /// Quantiles and histograms count spans per power-of-two bucket of the measured value.
    bucketed: bool,
    blocks: Vec<BlockPlan>,
}

/// The columnar plans of every pipeline of `plan` over `blocks`, or `None` when some part of
/// the query or of a block is beyond what the columnar path lowers (the caller then uses the
/// reference path).
pub(super) fn plan(plan: &Plan, blocks: &[BlockMeta]) -> Option<Vec<ColumnarPlan>> {
    if plan.sampling.iter().any(|s| *s != Sampling::Exact) || plan.extrapolate {
        return None;
    }
    plan.pipelines
        .iter()
        .map(|p| pipeline_plan(p, blocks))
        .collect()
}

fn pipeline_plan(pipeline: &MetricsPipeline, blocks: &[BlockMeta]) -> Option<ColumnarPlan> {
    let [Stage::Spanset(SpansetExpr::Filter(filter))] = pipeline.pipeline.stages.as_slice() else {
        return None;
    };
    let kind = &pipeline.function.kind;
    if matches!(kind, MetricsFunctionKind::Compare { .. }) {
        return None;
    }
    let measured_field = kind.field().cloned();
    let by = pipeline.function.by.clone();
    let blocks = blocks
        .iter()
        .map(|meta| {
            Some(BlockPlan {
                meta: meta.clone(),
                condition: lower_condition(&filter.expr, meta)?,
                labels: by.iter().map(|f| resolve(f, meta)).collect::<Option<_>>()?,
                measured: match &measured_field {
                    Some(f) => Some(resolve(f, meta)?),
                    None => None,
                },
            })
        })
        .collect::<Option<_>>()?;
    Some(ColumnarPlan {
        by,
        measured_field,
        bucketed: matches!(
            kind,
            MetricsFunctionKind::QuantileOverTime { .. }
                | MetricsFunctionKind::HistogramOverTime(_)
        ),
        blocks,
    })
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
    let Aggregation {
        indexes,
        live,
        session,
    } = Aggregation::prepare(columnar, catalog, intervals, memory_limit).await?;
    // Every block's grouping is a task of its own: blocks are planned, scanned and grouped on
    // all cores at once; their groups are added in block order.
    let tasks = live.iter().map(|&b| {
        tokio::spawn(group_block(
            session.clone(),
            columnar.bucketed,
            columnar.blocks[b].clone(),
            indexes[b].schema().clone(),
            intervals,
        ))
    });
    let grouped = try_join_all(tasks)
        .await
        .map_err(|e| EngineError::Internal(format!("grouping task failed: {e}")))?;
    for groups in grouped {
        groups?.add_to(&columnar.by, acc);
    }
    for block in &columnar.blocks {
        progress.add_spans(block.meta.span_count);
        progress.block_done();
    }
    if exemplars_wanted {
        // One partition keeps the rows in file order, so a trace's rows arrive together.
        let ordered = Session::new(catalog, 1, memory_limit)?.with_footers(&indexes);
        for &b in &live {
            let (block, index) = (&columnar.blocks[b], &indexes[b]);
            if !acc.wants_exemplars() {
                break;
            }
            exemplars_of_block(&ordered, catalog, columnar, block, index, intervals, acc).await?;
        }
    }
    Ok(())
}

/// What the aggregation of a columnar plan works from.
struct Aggregation {
    /// The footers of every block of the plan, in its order.
    indexes: Vec<BlockIndex>,
    /// The numbers of the blocks with a row group whose statistics or bloom filters let the
    /// block's condition hold in the query's range: the only ones worth aggregating.
    live: Vec<usize>,
    /// The session that aggregates the live blocks, each in a task of its own.
    session: Session,
}

impl Aggregation {
    /// Reads the footers of the blocks of `columnar`, keeps the blocks that may match and
    /// sets up their session: one that hands DataFusion the footers and evaluates the
    /// condition after decoding rather than as a row filter, bounded by `memory_limit`. Its
    /// plans have only the partitions the cores need beyond one per live block: with as many
    /// blocks as cores, a single partition per block spares every plan its repartitioning
    /// (count by service on 11 blocks and 2 cores: ~340 -> ~290 ms).
    async fn prepare(
        columnar: &ColumnarPlan,
        catalog: &Catalog,
        intervals: Intervals,
        memory_limit: Option<u64>,
    ) -> Result<Aggregation, EngineError> {
        let mut indexes = open_indexes(catalog, columnar.blocks.iter().map(|b| &b.meta)).await?;
        let session = Session::new(catalog, 1, memory_limit)?
            .with_footers(&indexes)
            .without_row_filters();
        let conditions = (columnar.blocks.iter())
            .map(|block| matching(block, intervals))
            .collect();
        let may_match =
            pruning::row_groups_that_may_match(&session, &mut indexes, conditions).await?;
        let live = pruning::blocks_with_a_match(&may_match);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let session = session.with_partitions(cores.div_ceil(live.len().max(1)));
        Ok(Aggregation {
            indexes,
            live,
            session,
        })
    }
}

/// Spans of the block that start in the query's range and match the condition.
fn matching(block: &BlockPlan, intervals: Intervals) -> Expr {
    let start = ident(col::START_TIME);
    start
        .clone()
        .gt(lit(intervals.start as i64))
        .and(start.lt_eq(lit(intervals.end as i64)))
        .and(block.condition.clone())
}

/// Values at most this large get their bucket from a floating-point `log2`, which is exact in
/// this range; larger ones go through a chain of integer comparisons.
const FLOAT_BUCKET_LIMIT: u32 = 40;

/// The reference's histogram bucket of an integer or duration value: the next power of two
/// (as `u64::next_power_of_two`), null below 2 and for other types.
fn power_of_two_bucket(source: &Source) -> Expr {
    let null = || cast(lit(ScalarValue::Null), DataType::UInt64);
    let Source::Column {
        expr,
        ty: Ty::Int | Ty::Duration,
    } = source
    else {
        return null();
    };
    let v = cast(expr.clone(), DataType::Int64);
    let float_bucket = cast(
        power(lit(2.0), ceil(log2(cast(v.clone(), DataType::Float64)))),
        DataType::UInt64,
    );
    let mut case = when(v.clone().lt(lit(2i64)), null()).when(
        v.clone().lt_eq(lit(1i64 << FLOAT_BUCKET_LIMIT)),
        float_bucket,
    );
    for k in FLOAT_BUCKET_LIMIT + 1..63 {
        case = case.when(v.clone().lt_eq(lit(1i64 << k)), lit(1u64 << k));
    }
    case.otherwise(lit(1u64 << 63)).unwrap_or_else(|_| null())
}

/// Groups the matching spans of one block (whose data file has `schema`) per interval and
/// labels (and bucket, when `bucketed`).
async fn group_block(
    session: Session,
    bucketed: bool,
    block: BlockPlan,
    schema: Schema,
    intervals: Intervals,
) -> Result<Groups, EngineError> {
    let mut groups = Groups::new(
        &block.labels,
        intervals.count(),
        bucketed,
        block.measured.is_some(),
    );
    let mut stream = grouped_frame(&session, bucketed, &block, &schema, intervals)
        .await?
        .execute_stream()
        .await
        .map_err(session.reading(&block.meta))?;
    let reservation = session.reserve(&format!("metrics groups of {}", block.meta.block_id));
    while let Some(batch) = stream.next().await {
        groups.add(&batch.map_err(session.reading(&block.meta))?)?;
        reservation.try_resize(groups.memory_size())?;
    }
    Ok(groups)
}

/// The block's matching spans, each with its interval ([`SLOT`]), labels (`label0`, …) and
/// bucket ([`BUCKET`], when `bucketed`) or measured value ([`MEASURED`]); the block's data file
/// has `schema`.
async fn grouped_frame(
    session: &Session,
    bucketed: bool,
    block: &BlockPlan,
    schema: &Schema,
    intervals: Intervals,
) -> Result<DataFrame, EngineError> {
    let slot = ((ident(col::START_TIME) - lit(intervals.start as i64 + 1))
        / lit(intervals.step as i64))
    .alias(SLOT);
    let mut columns = vec![slot];
    columns.extend(
        block
            .labels
            .iter()
            .enumerate()
            .map(|(i, s)| value_expr(s).alias(label_column(i))),
    );
    match (&block.measured, bucketed) {
        (Some(m), true) => columns.push(power_of_two_bucket(m).alias(BUCKET)),
        (None, true) => columns.push(cast(lit(ScalarValue::Null), DataType::UInt64).alias(BUCKET)),
        (Some(m), false) => columns.push(cast(value_expr(m), DataType::Float64).alias(MEASURED)),
        (None, false) => {}
    }
    let filter = matching(block, intervals);
    let read: Vec<Expr> = [filter.clone()]
        .into_iter()
        .chain(columns.iter().cloned())
        .collect();
    Ok(session
        .block_with_schema(&block.meta, &scan_schema(schema, &read, &[]))
        .await?
        .filter(filter)?
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
    let Aggregation {
        indexes,
        live,
        session,
    } = Aggregation::prepare(columnar, catalog, intervals, memory_limit).await?;
    let mut out = String::new();
    for (b, (block, index)) in columnar.blocks.iter().zip(&indexes).enumerate() {
        if !live.contains(&b) {
            out.push_str(&format!(
                "block {} ({} spans): no row group may match (statistics or bloom filters)\n",
                block.meta.block_id, block.meta.span_count
            ));
            continue;
        }
        let frame = grouped_frame(
            &session,
            columnar.bucketed,
            block,
            index.schema(),
            intervals,
        )
        .await?;
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
/// budget, in row order. A row group is read only while the budget has room at some span start
/// it holds (by its statistics): every offer from the rest would be refused, so skipping them
/// keeps the exemplars those of a full scan.
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
        columns.push(value_expr(m).alias("measured"));
    }
    let filter = matching(block, intervals);
    let read: Vec<Expr> = columns.iter().chain([&filter]).cloned().collect();
    let frame = session
        .block_with_schema(&block.meta, &scan_schema(index.schema(), &read, &[]))
        .await?
        .filter(filter)?
        .select(columns)?;
    let summaries = index.row_groups()?;
    let path = catalog.data_path(&block.meta.tenant, &block.meta.block_id);
    let scan = RowGroupScan::plan(frame, vec![path], vec![summaries.len()]).await?;
    let starts = index.span_starts()?;
    for ((number, summary), (first, last)) in summaries.into_iter().enumerate().zip(starts) {
        let (first, last) = (first.max(0) as u64, last.max(0) as u64);
        if !acc.wants_exemplars_between(first, last) {
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

fn trace_ids(batch: &RecordBatch) -> Result<&FixedSizeBinaryArray, EngineError> {
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
    let trace_id = trace_ids(first)?.value(*first_row).to_vec();
    let (batch, row) = &rows[exemplars::pick(&trace_id, rows.len())];
    let row = *row;
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
    let measured = batch.column_by_name("measured").cloned();
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

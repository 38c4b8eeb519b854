//! Metrics on the columnar path: `{ condition } | fn(...) by (...)` lowered, per block, onto a
//! DataFusion aggregation grouped by interval and labels over the filtered Parquet scan, then
//! merged into the same accumulator the reference path fills. Exemplars come from a second,
//! ordered scan of the matching rows that stops once the exemplar budget is spent.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeBinaryArray, Float64Array, Int64Array, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, Schema, UInt64Type};
use datafusion::functions::expr_fn::{ceil, log2, power};
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
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
use super::interval::Intervals;
use super::sampling::Sampling;
use super::series::{Accumulator, Partial};
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
    // Every block's aggregation is a task of its own: blocks are planned and scanned on all
    // cores at once; their groups are added in block order.
    let tasks = live.iter().map(|&b| {
        tokio::spawn(aggregate_block(
            session.clone(),
            columnar.bucketed,
            columnar.blocks[b].clone(),
            indexes[b].schema().clone(),
            intervals,
        ))
    });
    let aggregated = try_join_all(tasks)
        .await
        .map_err(|e| EngineError::Internal(format!("aggregation task failed: {e}")))?;
    for (&b, batches) in live.iter().zip(aggregated) {
        for batch in &batches? {
            add_groups(columnar, &columnar.blocks[b], batch, acc)?;
        }
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

/// Aggregates one block (whose data file has `schema`) per interval and labels (and bucket,
/// when `bucketed`).
async fn aggregate_block(
    session: Session,
    bucketed: bool,
    block: BlockPlan,
    schema: Schema,
    intervals: Intervals,
) -> Result<Vec<RecordBatch>, EngineError> {
    Ok(
        aggregate_frame(&session, bucketed, &block, &schema, intervals)
            .await?
            .collect()
            .await
            .map_err(session.reading(&block.meta))?,
    )
}

/// The block's matching spans grouped by interval, labels (and bucket), with their counts and
/// measured-value aggregates; the block's data file has `schema`.
async fn aggregate_frame(
    session: &Session,
    bucketed: bool,
    block: &BlockPlan,
    schema: &Schema,
    intervals: Intervals,
) -> Result<DataFrame, EngineError> {
    let slot = ((ident(col::START_TIME) - lit(intervals.start as i64 + 1))
        / lit(intervals.step as i64))
    .alias("slot");
    let mut groups = vec![slot];
    groups.extend(
        block
            .labels
            .iter()
            .enumerate()
            .map(|(i, s)| value_expr(s).alias(format!("label{i}"))),
    );
    let mut aggregates = vec![count_all().alias("spans")];
    if bucketed {
        groups.push(match &block.measured {
            Some(m) => power_of_two_bucket(m).alias("bucket"),
            None => cast(lit(ScalarValue::Null), DataType::UInt64).alias("bucket"),
        });
    } else if let Some(m) = &block.measured {
        let m = cast(value_expr(m), DataType::Float64);
        aggregates.extend([
            count(m.clone()).alias("measured"),
            sum(m.clone()).alias("sum"),
            min(m.clone()).alias("min"),
            max(m).alias("max"),
        ]);
    }
    let filter = matching(block, intervals);
    let read: Vec<Expr> = [filter.clone()]
        .into_iter()
        .chain(groups.iter().cloned())
        .chain(aggregates.iter().cloned())
        .collect();
    Ok(session
        .block_with_schema(&block.meta, &scan_schema(schema, &read, &[]))
        .await?
        .filter(filter)?
        .aggregate(groups, aggregates)?)
}

/// Runs the aggregation of every block of `columnar` and describes each physical plan with
/// the rows and time of every node.
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
        let frame = aggregate_frame(
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

/// Adds the groups of one aggregate output batch to `acc`.
fn add_groups(
    columnar: &ColumnarPlan,
    block: &BlockPlan,
    batch: &RecordBatch,
    acc: &mut Accumulator,
) -> Result<(), EngineError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .cloned()
            .ok_or_else(|| EngineError::Internal(format!("aggregate output lacks {name}")))
    };
    let slots = column("slot")?;
    let slots = slots
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| EngineError::Internal("slot is not Int64".into()))?;
    let labels: Vec<ArrayRef> = (0..block.labels.len())
        .map(|i| column(&format!("label{i}")))
        .collect::<Result<_, _>>()?;
    let spans = column("spans")?;
    let spans = spans
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| EngineError::Internal("count is not Int64".into()))?;
    let measured = match block.measured {
        Some(_) if !columnar.bucketed => Some(MeasuredColumns::new(batch)?),
        _ => None,
    };
    let buckets = match columnar.bucketed {
        true => Some(column("bucket")?),
        false => None,
    };
    let buckets = match &buckets {
        Some(b) => Some(
            b.as_primitive_opt::<UInt64Type>()
                .ok_or_else(|| EngineError::Internal("bucket is not UInt64".into()))?,
        ),
        None => None,
    };
    for row in 0..batch.num_rows() {
        let Ok(slot) = usize::try_from(slots.value(row)) else {
            continue;
        };
        let value = |f: &Field| match columnar.by.iter().position(|b| b == f) {
            Some(i) => val_at(&block.labels[i], &labels[i], row),
            None => Val::Nil,
        };
        let mut partial = match &measured {
            Some(m) => m.partial(spans.value(row), row),
            None => Partial {
                spans: spans.value(row) as f64,
                ..Partial::default()
            },
        };
        if let Some(b) = buckets {
            if b.is_null(row) {
                continue;
            }
            partial.bucket = Some(b.value(row));
        }
        acc.add_partial(&value, slot, &partial);
    }
    Ok(())
}

/// The measured-value aggregates of an aggregate output batch.
struct MeasuredColumns {
    measured: Int64Array,
    sum: Float64Array,
    min: Float64Array,
    max: Float64Array,
}

impl MeasuredColumns {
    fn new(batch: &RecordBatch) -> Result<Self, EngineError> {
        let typed = |name: &str| -> Result<ArrayRef, EngineError> {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| EngineError::Internal(format!("aggregate output lacks {name}")))
        };
        let ints = |name: &str| -> Result<Int64Array, EngineError> {
            typed(name)?
                .as_primitive_opt::<Int64Type>()
                .cloned()
                .ok_or_else(|| EngineError::Internal(format!("{name} is not Int64")))
        };
        let floats = |name: &str| -> Result<Float64Array, EngineError> {
            typed(name)?
                .as_primitive_opt::<Float64Type>()
                .cloned()
                .ok_or_else(|| EngineError::Internal(format!("{name} is not Float64")))
        };
        Ok(MeasuredColumns {
            measured: ints("measured")?,
            sum: floats("sum")?,
            min: floats("min")?,
            max: floats("max")?,
        })
    }

    fn partial(&self, spans: i64, row: usize) -> Partial {
        let opt = |a: &Float64Array| (!a.is_null(row)).then(|| a.value(row));
        Partial {
            spans: spans as f64,
            measured: self.measured.value(row) as f64,
            sum: opt(&self.sum).unwrap_or(0.0),
            min: opt(&self.min),
            max: opt(&self.max),
            bucket: None,
        }
    }
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

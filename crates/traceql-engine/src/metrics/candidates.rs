//! Metrics through the reference evaluator over candidate traces only, for queries the columnar
//! path does not lower (stages before the metrics function, longer first stages, `compare`
//! after a structural first stage or with a sampling hint, conditions a scan can only loosen).
//!
//! When the first stage of every pipeline is a tree of spanset filters joined by spanset
//! operators, the spans that stage returns all match one of its filters: a trace in which no
//! span matches any filter gives the pipeline no span, and so nothing to count, measure or
//! pick as an exemplar. A scan with the filters' conditions pushed down (loosened where they
//! cannot be lowered exactly, see [`lower_candidate_condition`]) finds each block's traces
//! with such a span; only their rows are fetched, whole traces in file order, and fed to the
//! reference evaluator in the order a full scan would feed them. The series, exemplars and
//! errors are then those of the reference over every trace.

use std::collections::HashSet;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::{Expr, ident, lit};
use futures::StreamExt;
use futures::stream;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{Trace, TraceId};
use traceql_storage::projection::Projection;
use traceql_storage::read::BlockIndex;
use traceql_storage::schema::col;
use traceql_syntax::ast::{FieldExpr, SpansetExpr, Stage};

use super::Plan;
use super::columnar::{Aggregation, trace_ids};
use crate::columnar::{as_filter, lower_candidate_condition, scan_schema};
use crate::error::{EngineError, ExecError};
use crate::progress::Progress;
use crate::scan::within_memory;

/// Fetches in flight: the next row group's candidates are read and decoded while the current
/// one's are evaluated.
const FETCHES_IN_FLIGHT: usize = 2;

/// The candidate scan of a metrics query: per block, the condition some span of a trace must
/// meet for the trace to count.
pub(super) struct CandidatePlan {
    blocks: Vec<(BlockMeta, Expr)>,
    /// Per block: what a fetched trace decodes (what the query reads).
    projections: Vec<Projection>,
}

/// The candidate plan of the pipelines of `plan` over `blocks`; `None` when some first stage
/// is not a tree of filters (a sub-pipeline), some filter does not lower in some block, or
/// every span is a candidate (`{ }`), where reading every trace costs no more.
pub(super) fn plan(plan: &Plan, blocks: &[BlockMeta]) -> Option<CandidatePlan> {
    let mut filters = Vec::new();
    for pipeline in &plan.pipelines {
        let Some(Stage::Spanset(first)) = pipeline.pipeline.stages.first() else {
            return None;
        };
        filters_of(first, &mut filters)?;
    }
    let blocks = blocks
        .iter()
        .map(|meta| {
            let conditions = (filters.iter())
                .map(|f| lower_candidate_condition(f, meta))
                .collect::<Option<Vec<_>>>()?;
            if conditions.contains(&lit(true)) {
                return None;
            }
            let condition = conditions.into_iter().reduce(Expr::or)?;
            Some((meta.clone(), condition))
        })
        .collect::<Option<Vec<_>>>()?;
    let projections = (blocks.iter())
        .map(|(meta, _)| plan.projection(meta))
        .collect();
    Some(CandidatePlan {
        blocks,
        projections,
    })
}

/// Adds the conditions of the filters of `e` to `out`; `None` when `e` holds a sub-pipeline.
fn filters_of<'a>(e: &'a SpansetExpr, out: &mut Vec<&'a FieldExpr>) -> Option<()> {
    match e {
        SpansetExpr::Filter(f) => out.push(&f.expr),
        SpansetExpr::Op { lhs, rhs, .. } => {
            filters_of(lhs, out)?;
            filters_of(rhs, out)?;
        }
        // Its later stages may fail on some traces (combining split spansets): which traces
        // are read must not decide whether the query fails.
        SpansetExpr::Pipeline(_) => return None,
    }
    Some(())
}

/// Finds the candidate traces of every block of `candidates` (the blocks on all cores), then
/// fetches them one row group at a time, in block and file order, and passes them to `visit`.
/// Every block counts as read in `progress`. A fetch whose decoded rows and traces exceed
/// `memory_limit` bytes fails the query.
pub(super) async fn run(
    candidates: &CandidatePlan,
    catalog: &Catalog,
    memory_limit: Option<u64>,
    progress: &Progress,
    mut visit: impl FnMut(Vec<Trace>) -> Result<(), ExecError>,
) -> Result<(), EngineError> {
    progress.set_blocks_total(candidates.blocks.len());
    let blocks = (candidates.blocks.iter()).map(|(meta, condition)| (meta, condition.clone()));
    let aggregation = Aggregation::over(catalog, blocks, memory_limit).await?;
    let found = aggregation
        .per_live_block(|session, b, schema| {
            let (meta, condition) = candidates.blocks[b].clone();
            async move {
                let columns = vec![ident(col::TRACE_ID), ident(col::TRACE_START)];
                let read: Vec<Expr> = columns.iter().chain([&condition]).cloned().collect();
                let batches = session
                    .block_with_schema(&meta, &scan_schema(&schema, &read, &[]))
                    .await?
                    .filter(as_filter(condition))?
                    .select(columns)?
                    .collect()
                    .await
                    .map_err(session.reading(&meta))?;
                candidate_traces(&batches)
            }
        })
        .await?;
    let fetches = found.into_iter().map(|(b, traces)| {
        let (meta, projection) = (&candidates.blocks[b].0, &candidates.projections[b]);
        let index = aggregation.footer(b)?;
        fetches_of_block(catalog, meta, projection, index, traces, memory_limit)
    });
    let mut fetched = stream::iter(
        fetches
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten(),
    )
    .buffered(FETCHES_IN_FLIGHT);
    while let Some(traces) = fetched.next().await {
        visit(traces?)?;
        tokio::task::yield_now().await;
    }
    for (meta, _) in &candidates.blocks {
        progress.add_spans(meta.span_count);
        progress.block_done();
    }
    Ok(())
}

/// The distinct traces (ID and start) of the candidate scan's rows `batches`, whose rows of
/// one trace follow each other.
fn candidate_traces(batches: &[RecordBatch]) -> Result<Vec<(TraceId, i64)>, EngineError> {
    let mut traces: Vec<(TraceId, i64)> = Vec::new();
    for batch in batches {
        let ids = trace_ids(batch)?;
        let starts = batch
            .column_by_name(col::TRACE_START)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| EngineError::Internal("the candidate scan lacks trace starts".into()))?;
        for row in 0..batch.num_rows() {
            let Ok(id) = TraceId::try_from(ids.value(row)) else {
                continue;
            };
            if traces.last().is_none_or(|(last, _)| *last != id) {
                traces.push((id, starts.value(row)));
            }
        }
    }
    Ok(traces)
}

/// The fetches of the candidate `traces` (ID and start) of one block (whose footer is
/// `index`), each decoding what `projection` says, one per row group whose trace starts span
/// some of theirs, in file order. Each fetch is a task of its own, started when first polled.
fn fetches_of_block(
    catalog: &Catalog,
    meta: &BlockMeta,
    projection: &Projection,
    index: &BlockIndex,
    traces: Vec<(TraceId, i64)>,
    memory_limit: Option<u64>,
) -> Result<Vec<impl Future<Output = Result<Vec<Trace>, EngineError>> + use<>>, EngineError> {
    let groups = index.row_groups()?;
    let mut wanted: Vec<HashSet<TraceId>> = vec![HashSet::new(); groups.len()];
    for (id, start) in traces {
        for (g, summary) in groups.iter().enumerate() {
            if summary.min_trace_start <= start && start <= summary.max_trace_start {
                wanted[g].insert(id);
            }
        }
    }
    Ok(wanted
        .into_iter()
        .enumerate()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(g, ids)| {
            let fetch = index.fetch_traces(
                catalog,
                meta,
                projection,
                vec![g],
                ids.into_iter().collect(),
            );
            let block = meta.block_id.clone();
            async move {
                let (traces, bytes) = tokio::spawn(fetch)
                    .await
                    .map_err(|e| EngineError::Internal(format!("fetch task failed: {e}")))??;
                within_memory(memory_limit, bytes, &traces, block)?;
                Ok(traces)
            }
        })
        .collect())
}

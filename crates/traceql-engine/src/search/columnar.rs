//! Search on the columnar path. A DataFusion scan of each block, with the first stage's
//! conditions pushed into the Parquet reader, finds the traces that can match: those with a
//! span matching every filter the first stage needs. The reference evaluator then runs the
//! whole pipeline on only those traces, fetched by ID, newest first, until the newest `limit`
//! results cannot change any more. A trace is evaluated per block, as on the reference path
//! (spec section 7.12), so both paths return the same response.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::functions_aggregate::expr_fn::bool_or;
use datafusion::prelude::{DataFrame, Expr, cast, coalesce, ident, lit};
use datafusion::scalar::ScalarValue;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{Trace, TraceId};
use traceql_storage::read::{append_traces, decode_spans};
use traceql_storage::schema::col;
use traceql_syntax::ast::{FieldExpr, Pipeline, SpansetExpr, SpansetOp, Stage};

use super::{Results, Search};
use crate::columnar::{Session, lower_condition};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::reference::{Regexes, trace_id_hex};

/// Traces fetched and evaluated together.
const FETCH_BATCH: usize = 64;

/// Which leaf filters a trace needs matching spans for.
enum Formula {
    /// Leaf filter `i` has a matching span.
    Leaf(usize),
    /// Every part holds.
    All(Vec<Formula>),
    /// Some part holds.
    Any(Vec<Formula>),
}

impl Formula {
    fn holds(&self, matched: &[bool]) -> bool {
        match self {
            Formula::Leaf(i) => matched[*i],
            Formula::All(parts) => parts.iter().all(|p| p.holds(matched)),
            Formula::Any(parts) => parts.iter().any(|p| p.holds(matched)),
        }
    }
}

/// The candidate test of a search, lowered for each block.
pub(super) struct ColumnarSearch {
    formula: Formula,
    /// Per block: the block and its lowered leaf conditions.
    blocks: Vec<(BlockMeta, Vec<Expr>)>,
}

/// The columnar plan of `pipeline` over `blocks`; `None` when its first stage is beyond what
/// the candidate test covers (negated structural operators, sub-pipelines, conditions that do
/// not lower in some block).
pub(super) fn plan(pipeline: &Pipeline, blocks: &[BlockMeta]) -> Option<ColumnarSearch> {
    let Some(Stage::Spanset(first)) = pipeline.stages.first() else {
        return None;
    };
    let mut leaves = Vec::new();
    let formula = formula(first, &mut leaves)?;
    let blocks = blocks
        .iter()
        .map(|meta| {
            let lowered = leaves
                .iter()
                .map(|leaf| lower_condition(leaf, meta))
                .collect::<Option<Vec<_>>>()?;
            Some((meta.clone(), lowered))
        })
        .collect::<Option<_>>()?;
    Some(ColumnarSearch { formula, blocks })
}

fn formula(e: &SpansetExpr, leaves: &mut Vec<FieldExpr>) -> Option<Formula> {
    match e {
        SpansetExpr::Filter(f) => {
            leaves.push(f.expr.clone());
            Some(Formula::Leaf(leaves.len() - 1))
        }
        SpansetExpr::Op { op, lhs, rhs } => {
            let parts = vec![formula(lhs, leaves)?, formula(rhs, leaves)?];
            match op {
                SpansetOp::Or => Some(Formula::Any(parts)),
                // Both sides must have spans: `&&`, and structural relations (plain or union)
                // between a span of each side.
                SpansetOp::And
                | SpansetOp::Child
                | SpansetOp::Parent
                | SpansetOp::Descendant
                | SpansetOp::Ancestor
                | SpansetOp::Sibling
                | SpansetOp::UnionChild
                | SpansetOp::UnionParent
                | SpansetOp::UnionDescendant
                | SpansetOp::UnionAncestor
                | SpansetOp::UnionSibling => Some(Formula::All(parts)),
                _ => None,
            }
        }
        SpansetExpr::Pipeline(_) => None,
    }
}

/// A trace of one block that may match.
struct Candidate {
    start: u64,
    trace_id: TraceId,
    /// The ID as results name it (hex without leading zeros): the tie-break of the final sort.
    name: String,
    block: usize,
}

/// Runs the search into `results`: candidates from every block, then the reference evaluator
/// on candidates newest first until the newest `limit` results are settled.
pub(super) async fn run(
    columnar: &ColumnarSearch,
    search: &Search,
    catalog: &Catalog,
    limit: usize,
    memory_limit: Option<u64>,
    results: &mut Results,
    progress: &Progress,
) -> Result<(), EngineError> {
    let session = Session::parallel(catalog, memory_limit)?;
    let mut candidates = Vec::new();
    progress.set_blocks_total(columnar.blocks.len());
    for (index, (meta, leaves)) in columnar.blocks.iter().enumerate() {
        candidates
            .extend(block_candidates(&session, columnar, index, meta, leaves, search.end).await?);
        results.metrics.inspected_traces += meta.trace_count as u32;
        results.metrics.inspected_spans += meta.span_count;
        progress.add_spans(meta.span_count);
        progress.block_done();
    }
    // Newest first; ties in the order the final sort uses.
    candidates.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.name.cmp(&b.name)));
    // Parts of each trace (by ID as results name it) not evaluated yet.
    let mut unread: HashMap<String, usize> = HashMap::new();
    for c in &candidates {
        *unread.entry(c.name.clone()).or_default() += 1;
    }
    // Fetching is small and ordered: one partition keeps a trace's rows together. Each block's
    // file is opened (footer read) once, however many batches of candidates it serves.
    let fetch = Session::new(catalog, 1, memory_limit)?;
    let mut files: HashMap<usize, DataFrame> = HashMap::new();
    let mut regexes = Regexes::default();
    let mut next = 0;
    while next < candidates.len() && !settled(results, &unread, candidates[next].start, limit) {
        let end = (next + FETCH_BATCH).min(candidates.len());
        let chunk = &candidates[next..end];
        for (index, (meta, _)) in columnar.blocks.iter().enumerate() {
            let ids: Vec<TraceId> = chunk
                .iter()
                .filter(|c| c.block == index)
                .map(|c| c.trace_id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let file = match files.get(&index) {
                Some(f) => f.clone(),
                None => {
                    let f = fetch.block(meta).await?;
                    files.insert(index, f.clone());
                    f
                }
            };
            for trace in fetch_traces(&fetch, file, catalog, meta, &ids).await? {
                if let Some(n) = unread.get_mut(&trace_id_hex(&trace.trace_id)) {
                    *n -= 1;
                }
                if let Some(found) = search.trace(trace, &mut regexes)? {
                    results.add(found);
                }
            }
        }
        next = end;
    }
    Ok(())
}

/// True when no candidate starting at or before `next_start` can change the newest `limit`
/// results: that many results are complete (no unread part of their trace left) and all newer
/// than `next_start`.
fn settled(
    results: &Results,
    unread: &HashMap<String, usize>,
    next_start: u64,
    limit: usize,
) -> bool {
    if results.by_trace.len() < limit {
        return false;
    }
    let mut newest: Vec<&crate::response::TraceSearchMetadata> =
        results.by_trace.values().collect();
    newest.sort_by(|a, b| {
        b.start_time_unix_nano
            .cmp(&a.start_time_unix_nano)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    newest.iter().take(limit).all(|t| {
        t.start_time_unix_nano > next_start && unread.get(&t.trace_id).is_none_or(|n| *n == 0)
    })
}

/// The block's traces with a span matching some leaf filter, with which leaves matched.
async fn candidate_frame(
    session: &Session,
    meta: &BlockMeta,
    leaves: &[Expr],
    end: u64,
) -> Result<DataFrame, EngineError> {
    let any_leaf = leaves
        .iter()
        .map(|l| coalesce(vec![l.clone(), lit(false)]))
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let end = i64::try_from(end).unwrap_or(i64::MAX);
    let matched: Vec<Expr> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| bool_or(coalesce(vec![l.clone(), lit(false)])).alias(format!("leaf{i}")))
        .collect();
    Ok(session
        .block(meta)
        .await?
        .filter(ident(col::TRACE_START).lt_eq(lit(end)).and(any_leaf))?
        .aggregate(
            vec![
                ident(col::TRACE_ID).alias("trace_id"),
                cast(ident(col::TRACE_START), DataType::Int64).alias("start"),
            ],
            matched,
        )?)
}

/// Runs the candidate scan of every block and describes each physical plan with the rows and
/// time of every node.
pub(super) async fn explain(
    columnar: &ColumnarSearch,
    catalog: &Catalog,
    end: u64,
    memory_limit: Option<u64>,
) -> Result<String, EngineError> {
    let session = Session::parallel(catalog, memory_limit)?;
    let mut out = String::new();
    for (meta, leaves) in &columnar.blocks {
        let frame = candidate_frame(&session, meta, leaves, end).await?;
        out.push_str(&format!(
            "block {} ({} spans), candidate traces:\n{}",
            meta.block_id,
            meta.span_count,
            session.run_and_describe(frame, meta).await?
        ));
    }
    Ok(out)
}

/// The traces of one block that pass the candidate test.
async fn block_candidates(
    session: &Session,
    columnar: &ColumnarSearch,
    block: usize,
    meta: &BlockMeta,
    leaves: &[Expr],
    end: u64,
) -> Result<Vec<Candidate>, EngineError> {
    let batches = candidate_frame(session, meta, leaves, end)
        .await?
        .collect()
        .await
        .map_err(session.reading(meta))?;
    let mut out = Vec::new();
    for batch in &batches {
        let ids = fixed_binary(batch, "trace_id")?;
        let starts = batch
            .column_by_name("start")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| EngineError::Internal("start is not Int64".into()))?;
        let leaf_columns = (0..leaves.len())
            .map(|i| {
                batch
                    .column_by_name(&format!("leaf{i}"))
                    .and_then(|c| c.as_boolean_opt().cloned())
                    .ok_or_else(|| EngineError::Internal(format!("leaf{i} is not Boolean")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let matched: Vec<bool> = leaf_columns
                .iter()
                .map(|c| c.is_valid(row) && c.value(row))
                .collect();
            if !columnar.formula.holds(&matched) {
                continue;
            }
            let trace_id: TraceId = ids
                .value(row)
                .try_into()
                .map_err(|_| EngineError::Internal("trace ID of unexpected length".into()))?;
            out.push(Candidate {
                start: u64::try_from(starts.value(row)).unwrap_or(0),
                trace_id,
                name: trace_id_hex(&trace_id),
                block,
            });
        }
    }
    Ok(out)
}

fn fixed_binary<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a FixedSizeBinaryArray, EngineError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_fixed_size_binary_opt())
        .ok_or_else(|| EngineError::Internal(format!("{name} is not FixedSizeBinary")))
}

/// The spans of the traces `ids` in one block, as whole traces in row order.
async fn fetch_traces(
    session: &Session,
    file: DataFrame,
    catalog: &Catalog,
    meta: &BlockMeta,
    ids: &[TraceId],
) -> Result<Vec<Trace>, EngineError> {
    let list = ids
        .iter()
        .map(|id| lit(ScalarValue::FixedSizeBinary(16, Some(id.to_vec()))))
        .collect();
    let batches = file
        .filter(ident(col::TRACE_ID).in_list(list, false))?
        .collect()
        .await
        .map_err(session.reading(meta))?;
    let mut traces = Vec::new();
    for batch in &batches {
        append_traces(&mut traces, decode_spans(catalog, batch, meta)?);
    }
    Ok(traces)
}

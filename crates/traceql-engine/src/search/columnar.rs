//! Search on the columnar path. A DataFusion scan of each block, with the first stage's
//! conditions pushed into the Parquet reader, finds the traces that can match: those with a
//! span matching every filter the first stage needs. The reference evaluator then runs the
//! whole pipeline on only those traces, fetched by ID, newest first, until the newest `limit`
//! results cannot change any more. A trace is evaluated per block, as on the reference path
//! (spec section 7.12), so both paths return the same response.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::array::{Array, AsArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::functions_aggregate::expr_fn::bool_or;
use datafusion::prelude::{DataFrame, Expr, cast, coalesce, ident, lit};
use datafusion::scalar::ScalarValue;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{Trace, TraceId};
use traceql_storage::read::{RowGroupSummary, append_traces, decode_spans, row_groups};
use traceql_storage::schema::col;
use traceql_syntax::ast::{FieldExpr, Pipeline, SpansetExpr, SpansetOp, Stage};

use super::{Results, Search};
use crate::columnar::{Session, lower_condition};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::reference::{Regexes, trace_id_hex};
use crate::response::TraceSearchMetadata;
use crate::trace_by_id::parse_trace_id;

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
    start: i64,
    trace_id: TraceId,
    /// The ID as results name it (hex without leading zeros): the tie-break of the final sort.
    name: String,
    block: usize,
}

/// Trace-start windows of a search, newest first. Each starts at a row group's earliest trace
/// start and covers twice as many row groups as the one before (1, 2, 4, … across all blocks),
/// so a query whose newest matches sit in the last row groups reads only those, and one that
/// must read everything does so in a few parallel scans. Traces are sorted by start in a block,
/// so a window prunes whole row groups (and pages) by statistics; its half-open bounds put
/// every trace in exactly one window.
struct Windows {
    /// Earliest trace start of each row group of every block, newest first, without repeats.
    starts: Vec<i64>,
    /// Index in `starts` where the next window begins.
    next: usize,
    /// Row groups the next window covers.
    size: usize,
    /// Exclusive upper end of the next window (`None`: no upper end).
    hi: Option<i64>,
    /// Every window was handed out.
    done: bool,
}

/// Trace starts in `[lo, hi)`; a missing end is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    lo: Option<i64>,
    hi: Option<i64>,
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = |e: Option<i64>| e.map_or("…".to_string(), |n| n.to_string());
        write!(f, "[{}, {})", end(self.lo), end(self.hi))
    }
}

impl Window {
    /// True when some start in `[min, max]` lies in the window.
    fn overlaps(&self, min: i64, max: i64) -> bool {
        self.lo.is_none_or(|lo| max >= lo) && self.hi.is_none_or(|hi| min < hi)
    }

    /// The window as a filter on the trace-start column.
    fn filter(&self) -> Expr {
        let start = || ident(col::TRACE_START);
        let lo = self.lo.map(|lo| start().gt_eq(lit(lo)));
        let hi = self.hi.map(|hi| start().lt(lit(hi)));
        lo.into_iter()
            .chain(hi)
            .reduce(Expr::and)
            .unwrap_or(lit(true))
    }
}

impl Windows {
    fn new(layouts: &[Vec<RowGroupSummary>]) -> Windows {
        let mut starts: Vec<i64> = layouts
            .iter()
            .flatten()
            .map(|g| g.min_trace_start)
            .collect();
        starts.sort_unstable_by(|a, b| b.cmp(a));
        starts.dedup();
        Windows {
            done: starts.is_empty(),
            starts,
            next: 0,
            size: 1,
            hi: None,
        }
    }

    /// The next window, older than every window before it; the last one has no lower end.
    fn next_window(&mut self) -> Option<Window> {
        if self.done {
            return None;
        }
        let last = self.starts.len() - 1;
        let end = (self.next + self.size - 1).min(last);
        let lo = (end < last).then(|| self.starts[end]);
        let window = Window { lo, hi: self.hi };
        self.hi = lo;
        self.next = end + 1;
        self.size *= 2;
        self.done = lo.is_none();
        Some(window)
    }

    /// The latest trace start a row not yet handed out may have; `None` once all were.
    fn unscanned_newest(&self) -> Option<i64> {
        match self.done {
            true => None,
            false => Some(self.hi.map_or(i64::MAX, |hi| hi.saturating_sub(1))),
        }
    }
}

/// Runs the search into `results`: window by window, newest first, the candidates of every
/// block, and the reference evaluator on candidates newer than anything not yet scanned, until
/// the newest `limit` results are settled.
pub(super) async fn run(
    columnar: &ColumnarSearch,
    search: &Search,
    catalog: &Catalog,
    limit: usize,
    memory_limit: Option<u64>,
    results: &mut Results,
    progress: &Progress,
) -> Result<(), EngineError> {
    let mut layouts = Vec::new();
    for (meta, _) in &columnar.blocks {
        layouts.push(row_groups(catalog, meta).await?);
    }
    let mut windows = Windows::new(&layouts);
    let mut counted: Vec<Vec<bool>> = layouts.iter().map(|l| vec![false; l.len()]).collect();
    let mut run = Run {
        columnar,
        search,
        catalog,
        scan: Session::parallel(catalog, memory_limit)?,
        // Fetching is small and ordered: one partition keeps a trace's rows together.
        fetch: Session::new(catalog, 1, memory_limit)?,
        files: HashMap::new(),
        pool: Vec::new(),
        resolved: HashSet::new(),
        regexes: Regexes::default(),
        limit,
    };
    progress.set_blocks_total(columnar.blocks.len());
    loop {
        if run
            .evaluate_newer_than(windows.unscanned_newest(), results)
            .await?
        {
            return Ok(());
        }
        let Some(window) = windows.next_window() else {
            return Ok(());
        };
        for (index, (meta, leaves)) in columnar.blocks.iter().enumerate() {
            // Row groups holding starts in the window; each counts as inspected once.
            let mut spans = 0;
            let mut touched = false;
            for (group, counted) in layouts[index].iter().zip(&mut counted[index]) {
                if window.overlaps(group.min_trace_start, group.max_trace_start) {
                    touched = true;
                    if !*counted {
                        *counted = true;
                        spans += group.rows;
                        results.metrics.inspected_bytes += group.bytes;
                    }
                }
            }
            if !touched {
                continue;
            }
            let found = run.candidates(index, meta, leaves, window).await?;
            results.metrics.inspected_traces += found.len() as u32;
            results.metrics.inspected_spans += spans;
            progress.add_spans(spans);
            run.pool.extend(found);
        }
        if window.lo.is_none() {
            (0..columnar.blocks.len()).for_each(|_| progress.block_done());
        }
        // Oldest first, so that the newest is popped first; ties in the final sort's order.
        run.pool
            .sort_by(|a, b| a.start.cmp(&b.start).then_with(|| b.name.cmp(&a.name)));
    }
}

/// The state of one columnar search.
struct Run<'a> {
    columnar: &'a ColumnarSearch,
    search: &'a Search,
    catalog: &'a Catalog,
    /// Scans windows with all cores.
    scan: Session,
    fetch: Session,
    /// Each block's data file, opened (footer read) once however many fetches it serves.
    files: HashMap<usize, DataFrame>,
    /// Candidates not evaluated yet, oldest first.
    pool: Vec<Candidate>,
    /// Parts of traces (result name, block) already evaluated or known to be absent.
    resolved: HashSet<(String, usize)>,
    regexes: Regexes,
    limit: usize,
}

impl Run<'_> {
    /// Evaluates pooled candidates starting after `unscanned` (the latest start a row not yet
    /// scanned may have), newest first, until the results are settled (true) or none is left.
    async fn evaluate_newer_than(
        &mut self,
        unscanned: Option<i64>,
        results: &mut Results,
    ) -> Result<bool, EngineError> {
        loop {
            let newest_left = self.pool.last().map(|c| c.start).max(unscanned);
            if self.settled(results, newest_left).await? {
                return Ok(true);
            }
            let mut batch = Vec::new();
            while batch.len() < FETCH_BATCH
                && let Some(c) = self.pool.pop_if(|c| unscanned.is_none_or(|u| c.start > u))
            {
                if !self.resolved.contains(&(c.name.clone(), c.block)) {
                    batch.push(c);
                }
            }
            if batch.is_empty() {
                return Ok(false);
            }
            self.evaluate(&batch, true, results).await?;
        }
    }

    /// True when nothing starting at or before `newest_left` can change the newest `limit`
    /// results: that many results are all newer and complete (every block's part of their
    /// trace evaluated). Parts in other blocks are looked up by ID here, so that a trace split
    /// over uncompacted blocks is whole before it counts as settled.
    async fn settled(
        &mut self,
        results: &mut Results,
        newest_left: Option<i64>,
    ) -> Result<bool, EngineError> {
        loop {
            if results.by_trace.len() < self.limit {
                return Ok(false);
            }
            let mut newest: Vec<&TraceSearchMetadata> = results.by_trace.values().collect();
            newest.sort_by(|a, b| {
                b.start_time_unix_nano
                    .cmp(&a.start_time_unix_nano)
                    .then_with(|| a.trace_id.cmp(&b.trace_id))
            });
            newest.truncate(self.limit);
            let newer = |t: &&TraceSearchMetadata| {
                newest_left
                    .is_none_or(|n| i64::try_from(t.start_time_unix_nano).unwrap_or(i64::MAX) > n)
            };
            if !newest.iter().all(newer) {
                return Ok(false);
            }
            let mut missing = Vec::new();
            for t in &newest {
                for block in 0..self.columnar.blocks.len() {
                    if !self.resolved.contains(&(t.trace_id.clone(), block)) {
                        missing.push(Candidate {
                            start: 0,
                            trace_id: parse_trace_id(&t.trace_id)?,
                            name: t.trace_id.clone(),
                            block,
                        });
                    }
                }
            }
            if missing.is_empty() {
                return Ok(true);
            }
            self.evaluate(&missing, false, results).await?;
        }
    }

    /// Fetches the parts `parts` name (each a trace in a block) and adds those that match to
    /// `results`. With `by_start`, the fetch is narrowed to the parts' trace starts.
    async fn evaluate(
        &mut self,
        parts: &[Candidate],
        by_start: bool,
        results: &mut Results,
    ) -> Result<(), EngineError> {
        for (index, (meta, _)) in self.columnar.blocks.iter().enumerate() {
            let mine: Vec<&Candidate> = parts.iter().filter(|c| c.block == index).collect();
            for c in &mine {
                self.resolved.insert((c.name.clone(), index));
            }
            let ids: Vec<TraceId> = mine
                .iter()
                .map(|c| c.trace_id)
                .filter(|id| {
                    let hex = hex::encode(id);
                    meta.min_trace_id <= hex && hex <= meta.max_trace_id
                })
                .collect();
            if ids.is_empty() {
                continue;
            }
            let starts = by_start.then(|| {
                let starts = mine.iter().map(|c| c.start);
                (
                    starts.clone().min().unwrap_or(i64::MIN),
                    starts.max().unwrap_or(i64::MAX),
                )
            });
            let file = match self.files.get(&index) {
                Some(f) => f.clone(),
                None => {
                    let f = self.fetch.block(meta).await?;
                    self.files.insert(index, f.clone());
                    f
                }
            };
            let traces = fetch_traces(&self.fetch, file, self.catalog, meta, &ids, starts).await?;
            for trace in traces {
                if let Some(found) = self.search.trace(trace, &mut self.regexes)? {
                    results.add(found);
                }
            }
        }
        Ok(())
    }

    /// The candidates of one block within `window`.
    async fn candidates(
        &self,
        block: usize,
        meta: &BlockMeta,
        leaves: &[Expr],
        window: Window,
    ) -> Result<Vec<Candidate>, EngineError> {
        block_candidates(
            &self.scan,
            self.columnar,
            block,
            meta,
            leaves,
            self.search.end,
            window,
        )
        .await
    }
}

/// The block's traces with a span matching some leaf filter, with which leaves matched.
async fn candidate_frame(
    session: &Session,
    meta: &BlockMeta,
    leaves: &[Expr],
    end: u64,
    window: Window,
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
        .filter(
            ident(col::TRACE_START)
                .lt_eq(lit(end))
                .and(window.filter())
                .and(any_leaf),
        )?
        .aggregate(
            vec![
                ident(col::TRACE_ID).alias("trace_id"),
                cast(ident(col::TRACE_START), DataType::Int64).alias("start"),
            ],
            matched,
        )?)
}

/// Runs the candidate scan of the first (newest) window in every block and describes each
/// physical plan with the rows and time of every node.
pub(super) async fn explain(
    columnar: &ColumnarSearch,
    catalog: &Catalog,
    end: u64,
    memory_limit: Option<u64>,
) -> Result<String, EngineError> {
    let session = Session::parallel(catalog, memory_limit)?;
    let mut layouts = Vec::new();
    for (meta, _) in &columnar.blocks {
        layouts.push(row_groups(catalog, meta).await?);
    }
    let Some(window) = Windows::new(&layouts).next_window() else {
        return Ok("no row groups to scan\n".into());
    };
    let mut out = String::new();
    for (meta, leaves) in &columnar.blocks {
        let frame = candidate_frame(&session, meta, leaves, end, window).await?;
        out.push_str(&format!(
            "block {} ({} spans), candidate traces with a start in {}:\n{}",
            meta.block_id,
            meta.span_count,
            window,
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
    window: Window,
) -> Result<Vec<Candidate>, EngineError> {
    let batches = candidate_frame(session, meta, leaves, end, window)
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
                start: starts.value(row),
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

/// The spans of the traces `ids` in one block, as whole traces in row order. With `starts`
/// (the earliest and latest of their trace starts), only the row groups and pages holding such
/// starts are read.
async fn fetch_traces(
    session: &Session,
    file: DataFrame,
    catalog: &Catalog,
    meta: &BlockMeta,
    ids: &[TraceId],
    starts: Option<(i64, i64)>,
) -> Result<Vec<Trace>, EngineError> {
    let list = ids
        .iter()
        .map(|id| lit(ScalarValue::FixedSizeBinary(16, Some(id.to_vec()))))
        .collect();
    let mut filter = ident(col::TRACE_ID).in_list(list, false);
    if let Some((earliest, latest)) = starts {
        filter = ident(col::TRACE_START)
            .between(lit(earliest), lit(latest))
            .and(filter);
    }
    let batches = file
        .filter(filter)?
        .collect()
        .await
        .map_err(session.reading(meta))?;
    let mut traces = Vec::new();
    for batch in &batches {
        append_traces(&mut traces, decode_spans(catalog, batch, meta)?);
    }
    Ok(traces)
}

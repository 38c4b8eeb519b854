//! Search on the columnar path. A DataFusion scan of each block, with the first stage's
//! conditions pushed into the Parquet reader, finds the traces that can match: those with a
//! span matching every filter the first stage needs. The reference evaluator then runs the
//! whole pipeline on only those traces, fetched by ID, newest first, until the newest `limit`
//! results cannot change any more. A trace is evaluated per block, as on the reference path
//! (spec section 7.12), so both paths return the same response.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::try_join_all;

use datafusion::arrow::array::{Array, AsArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, UInt32Type};
use datafusion::functions_aggregate::expr_fn::bool_or;
use datafusion::prelude::{DataFrame, Expr, cast, coalesce, ident, lit};
use datafusion::scalar::ScalarValue;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{SERVICE_NAME, Trace, TraceId};
use traceql_storage::projection::Projection;
use traceql_storage::read::{BlockIndex, RowGroupSummary, append_traces, decode_spans};
use traceql_storage::schema::{DedicatedColumn, DedicatedScope, col};
use traceql_syntax::ast::{
    Field, FieldExpr, Intrinsic, Pipeline, Scope, SpansetExpr, SpansetOp, Stage,
};

use super::{Results, Search, visit_pipeline_fields};
use crate::columnar::{Session, lower_condition};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::reference::{Regexes, trace_id_hex};
use crate::response::TraceSearchMetadata;
use crate::trace_by_id::parse_trace_id;

/// The most traces fetched and evaluated together; a batch is the search's `limit` within
/// `MIN_FETCH..=MAX_FETCH` (a fetch costs about the same for a few traces as for dozens, while
/// traces beyond the limit are often read for nothing).
const MAX_FETCH: usize = 64;
/// The fewest traces fetched and evaluated together.
const MIN_FETCH: usize = 8;

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
    /// Per block: what a fetched trace decodes (what the query can read).
    projections: Vec<Projection>,
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
        .collect::<Option<Vec<_>>>()?;
    let mut fields = Vec::new();
    visit_pipeline_fields(pipeline, &mut |f| {
        if !fields.contains(&f) {
            fields.push(f);
        }
    });
    let projections = blocks
        .iter()
        .map(|(meta, _)| fetch_projection(&fields, meta))
        .collect();
    Some(ColumnarSearch {
        formula,
        blocks,
        projections,
    })
}

/// What a fetched trace of the block `meta` decodes for a query reading `fields`: events, links
/// and instrumentation-scope attributes only when it reads them, and the dedicated columns of
/// the keys it names (and `service.name`, which service statistics and root services read).
fn fetch_projection(fields: &[Field], meta: &BlockMeta) -> Projection {
    let (mut events, mut links, mut scope_attributes) = (false, false, false);
    for field in fields {
        match field {
            Field::Attribute(a) if a.scope == Scope::Event => events = true,
            Field::Attribute(a) if a.scope == Scope::Link => links = true,
            Field::Attribute(a) if a.scope == Scope::Instrumentation => scope_attributes = true,
            Field::Intrinsic(Intrinsic::EventName | Intrinsic::EventTimeSinceStart) => {
                events = true
            }
            Field::Intrinsic(Intrinsic::LinkTraceId | Intrinsic::LinkSpanId) => links = true,
            _ => {}
        }
    }
    let names = |d: &DedicatedColumn| {
        fields.iter().any(|f| match f {
            Field::Attribute(a) if a.name == d.key => match a.scope {
                Scope::Unscoped => true,
                Scope::Span => d.scope == DedicatedScope::Span,
                Scope::Resource => d.scope == DedicatedScope::Resource,
                _ => false,
            },
            _ => false,
        })
    };
    let service =
        |d: &DedicatedColumn| d.scope == DedicatedScope::Resource && d.key == SERVICE_NAME;
    let dedicated = meta
        .dedicated_columns
        .iter()
        .filter(|d| service(d) || names(d))
        .map(DedicatedColumn::column_name)
        .collect();
    Projection {
        events,
        links,
        scope_attributes,
        dedicated: Some(dedicated),
    }
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
/// start; the first holds about a row group's worth of rows, and each later one is sized
/// from the matches found so far to reach `limit` results, at least doubling the time covered. So
/// a query whose newest matches sit in the last row groups reads only those, and one that must
/// read everything does so in a few parallel scans. Traces are sorted by start in a block,
/// so a window prunes whole row groups (and pages) by statistics; its half-open bounds put
/// every trace in exactly one window.
struct Windows {
    /// Earliest trace start of each row group of every block, newest first, without repeats.
    starts: Vec<i64>,
    /// Index in `starts` where the next window begins.
    next: usize,
    /// Row group starts the next window covers.
    size: usize,
    /// Latest trace start of any row group.
    newest: i64,
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
        let newest = layouts
            .iter()
            .flatten()
            .map(|g| g.max_trace_start)
            .max()
            .unwrap_or(i64::MIN);
        // The first window reaches back until it holds about as many rows as the largest row
        // group, counting each row group's rows in proportion to the part of its start range
        // it covers.
        let groups: Vec<&RowGroupSummary> = layouts.iter().flatten().collect();
        let rows_from = |lo: i64| -> f64 {
            groups
                .iter()
                .map(|g| {
                    let span = (g.max_trace_start.saturating_sub(g.min_trace_start)).max(1) as f64;
                    let inside = g.max_trace_start.saturating_sub(lo.max(g.min_trace_start));
                    g.rows as f64 * (inside.max(0) as f64 / span).min(1.0)
                })
                .sum()
        };
        let row_group_rows = groups.iter().map(|g| g.rows).max().unwrap_or(0) as f64;
        let size = starts
            .iter()
            .position(|&lo| rows_from(lo) >= row_group_rows)
            .map_or(starts.len().max(1), |i| i + 1);
        Windows {
            newest,
            done: starts.is_empty(),
            starts,
            next: 0,
            size,
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
        self.done = lo.is_none();
        Some(window)
    }

    /// Sizes the next window from the `matched` results the windows so far gave, assuming
    /// matches spread evenly over trace starts: long enough in time for twice `limit`
    /// results at that rate, and reaching at least twice as far back as the windows so far
    /// (four times when nothing matched yet). The first window keeps its size.
    fn grow_for(&mut self, matched: usize, limit: usize) {
        let Some(lo) = self.hi else {
            return;
        };
        let covered = (self.newest.saturating_sub(lo)).max(1) as f64;
        let wanted = match matched {
            0 => covered * 4.0,
            _ => (covered * 2.0 * limit as f64 / matched as f64).max(covered * 2.0),
        };
        let target = self
            .newest
            .saturating_sub(wanted.min(i64::MAX as f64) as i64);
        // Row group starts down to the target, at least one.
        let reach = self.starts[self.next..]
            .iter()
            .position(|&start| start <= target)
            .map_or(self.starts.len() - self.next, |i| i + 1);
        self.size = reach.max(1);
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
    let indexes = open_indexes(columnar, catalog).await?;
    let layouts = indexes
        .iter()
        .map(BlockIndex::row_groups)
        .collect::<Result<Vec<_>, _>>()?;
    let mut windows = Windows::new(&layouts);
    let mut counted: Vec<Vec<bool>> = layouts.iter().map(|l| vec![false; l.len()]).collect();
    let session = session_knowing(catalog, memory_limit, &indexes)?;
    let mut run = Run {
        columnar,
        search,
        catalog,
        // Planning a 100-column table costs far more than scanning a window of it: each
        // frame has only the columns its reads need.
        scan_files: block_frames(&session, columnar, &indexes, |i, s| {
            scan_schema(s, &columnar.blocks[i].1)
        })
        .await?,
        files: block_frames(&session, columnar, &indexes, |i, s| {
            columnar.projections[i].schema(s, &columnar.blocks[i].0, &[col::TRACE_START])
        })
        .await?,
        indexes,
        pool: Vec::new(),
        resolved: HashSet::new(),
        regexes: Regexes::default(),
        limit,
        memory_limit,
    };
    progress.set_blocks_total(columnar.blocks.len());
    loop {
        if run
            .evaluate_newer_than(windows.unscanned_newest(), results)
            .await?
        {
            return Ok(());
        }
        windows.grow_for(results.by_trace.len(), limit);
        let Some(window) = windows.next_window() else {
            return Ok(());
        };
        let (touched, spans, bytes) = touch(window, &layouts, &mut counted);
        results.metrics.inspected_spans += spans;
        results.metrics.inspected_bytes += bytes;
        progress.add_spans(spans);
        let found = run.candidates(&touched, window).await?;
        results.metrics.inspected_traces += found.len() as u32;
        run.pool.extend(found);
        if window.lo.is_none() {
            (0..columnar.blocks.len()).for_each(|_| progress.block_done());
        }
        // Oldest first, so that the newest is popped first; ties in the final sort's order.
        run.pool
            .sort_by(|a, b| a.start.cmp(&b.start).then_with(|| b.name.cmp(&a.name)));
    }
}

/// The blocks with row groups holding starts in `window`, and the rows and bytes of those row
/// groups not `counted` before (each row group counts as inspected once).
fn touch(
    window: Window,
    layouts: &[Vec<RowGroupSummary>],
    counted: &mut [Vec<bool>],
) -> (Vec<usize>, u64, u64) {
    let (mut touched, mut spans, mut bytes) = (Vec::new(), 0, 0);
    for (index, (layout, counted)) in layouts.iter().zip(counted).enumerate() {
        let groups = layout
            .iter()
            .zip(counted)
            .filter(|(g, _)| window.overlaps(g.min_trace_start, g.max_trace_start));
        for (group, counted) in groups {
            if !touched.contains(&index) {
                touched.push(index);
            }
            if !std::mem::replace(counted, true) {
                spans += group.rows;
                bytes += group.bytes;
            }
        }
    }
    (touched, spans, bytes)
}

/// The footer of every block of the search, read concurrently.
async fn open_indexes(
    columnar: &ColumnarSearch,
    catalog: &Catalog,
) -> Result<Vec<BlockIndex>, EngineError> {
    let opening = columnar
        .blocks
        .iter()
        .map(|(meta, _)| BlockIndex::open(catalog, meta));
    Ok(try_join_all(opening).await?)
}

/// A session that scans with all cores and knows the footers `indexes` read.
fn session_knowing(
    catalog: &Catalog,
    memory_limit: Option<u64>,
    indexes: &[BlockIndex],
) -> Result<Session, EngineError> {
    let session = Session::parallel(catalog, memory_limit)?;
    for index in indexes {
        session.share_footer(index.object(), Arc::clone(index.parquet_metadata()));
    }
    Ok(session)
}

/// Every block's data file as a DataFrame of `session`, with the columns `schema` picks (for
/// the block's index) from the schema its footer (in `indexes`) gives, opened concurrently.
async fn block_frames(
    session: &Session,
    columnar: &ColumnarSearch,
    indexes: &[BlockIndex],
    schema: impl Fn(usize, &Schema) -> Schema,
) -> Result<Vec<DataFrame>, EngineError> {
    let schemas: Vec<Schema> = indexes
        .iter()
        .enumerate()
        .map(|(i, index)| schema(i, index.schema()))
        .collect();
    let opening = columnar
        .blocks
        .iter()
        .zip(&schemas)
        .map(|((meta, _), schema)| session.block_with_schema(meta, schema));
    Ok(try_join_all(opening).await?)
}

/// The columns of `schema` a candidate scan with `leaves` reads: trace ID, trace start and the
/// columns the leaves refer to, strings as views (filters compare them without copying each
/// value out of the page).
fn scan_schema(schema: &Schema, leaves: &[Expr]) -> Schema {
    let mut names: HashSet<String> = [col::TRACE_ID, col::TRACE_START]
        .into_iter()
        .map(String::from)
        .collect();
    for leaf in leaves {
        names.extend(leaf.column_refs().into_iter().map(|c| c.name.clone()));
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| names.contains(f.name()))
        .map(|f| match f.data_type() {
            DataType::Utf8 => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => Arc::clone(f),
        })
        .collect::<Vec<_>>();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// The state of one columnar search.
struct Run<'a> {
    columnar: &'a ColumnarSearch,
    search: &'a Search,
    catalog: &'a Catalog,
    /// Each block's data file, with the columns the candidate scan reads, in a session that
    /// scans with all cores.
    scan_files: Vec<DataFrame>,
    /// Each block's data file, with the columns a fetched trace decodes, in the same session.
    files: Vec<DataFrame>,
    /// Each block's footer: where a trace may be.
    indexes: Vec<BlockIndex>,
    /// Candidates not evaluated yet, oldest first.
    pool: Vec<Candidate>,
    /// Parts of traces (result name, block) already evaluated or known to be absent.
    resolved: HashSet<(String, usize)>,
    regexes: Regexes,
    limit: usize,
    /// The most memory the search may hold, bytes.
    memory_limit: Option<u64>,
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
            while batch.len() < self.limit.clamp(MIN_FETCH, MAX_FETCH)
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
            // The newest `limit` results, in no particular order (only all of them matter).
            let mut newest: Vec<&TraceSearchMetadata> = results.by_trace.values().collect();
            if newest.len() > self.limit {
                newest.select_nth_unstable_by(self.limit - 1, |a, b| {
                    b.start_time_unix_nano
                        .cmp(&a.start_time_unix_nano)
                        .then_with(|| a.trace_id.cmp(&b.trace_id))
                });
                newest.truncate(self.limit);
            }
            let newer = |t: &&TraceSearchMetadata| {
                newest_left
                    .is_none_or(|n| i64::try_from(t.start_time_unix_nano).unwrap_or(i64::MAX) > n)
            };
            if !newest.iter().all(newer) {
                return Ok(false);
            }
            let mut unresolved = Vec::new();
            for t in &newest {
                for block in 0..self.columnar.blocks.len() {
                    if !self.resolved.contains(&(t.trace_id.clone(), block)) {
                        unresolved.push((t.trace_id.clone(), block));
                    }
                }
            }
            if unresolved.is_empty() {
                return Ok(true);
            }
            // Only blocks whose statistics and bloom filters admit the trace are read.
            let mut missing = Vec::new();
            for (name, block) in unresolved {
                let trace_id = parse_trace_id(&name)?;
                if self.indexes[block]
                    .row_groups_with(&trace_id)
                    .await?
                    .is_empty()
                {
                    self.resolved.insert((name, block));
                } else {
                    missing.push(Candidate {
                        start: 0,
                        trace_id,
                        name,
                        block,
                    });
                }
            }
            self.evaluate(&missing, false, results).await?;
        }
    }

    /// Fetches the parts `parts` name (each a trace in a block), every block's at once, and
    /// adds those that match to `results`. With `by_start`, each fetch is narrowed to the
    /// parts' trace starts.
    async fn evaluate(
        &mut self,
        parts: &[Candidate],
        by_start: bool,
        results: &mut Results,
    ) -> Result<(), EngineError> {
        let mut fetches = Vec::new();
        for (index, (meta, _)) in self.columnar.blocks.iter().enumerate() {
            let mine: Vec<&Candidate> = parts.iter().filter(|c| c.block == index).collect();
            for c in &mine {
                self.resolved.insert((c.name.clone(), index));
            }
            let ids: Vec<TraceId> = mine
                .iter()
                .map(|c| c.trace_id)
                .filter(|id| meta.may_hold(id))
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
            // Each fetch is a task of its own: blocks are planned and decoded on all cores.
            fetches.push(tokio::spawn(fetch_traces(
                self.files[index].clone(),
                self.catalog.clone(),
                meta.clone(),
                self.columnar.projections[index].clone(),
                ids,
                starts,
                self.memory_limit,
            )));
        }
        let fetched = try_join_all(fetches)
            .await
            .map_err(|e| EngineError::Internal(format!("fetch task failed: {e}")))?;
        for traces in fetched {
            let traces = traces?;
            for trace in traces {
                if let Some(found) = self.search.trace(trace, &mut self.regexes)? {
                    results.add(found);
                }
            }
        }
        Ok(())
    }

    /// The candidates within `window` of the blocks `touched`, from one scan of them all.
    async fn candidates(
        &self,
        touched: &[usize],
        window: Window,
    ) -> Result<Vec<Candidate>, EngineError> {
        let frames = touched.iter().map(|&index| {
            candidate_frame(
                self.scan_files[index].clone(),
                &self.columnar.blocks[index].1,
                index,
                self.search.end,
                window,
            )
        });
        let Some(frame) = union_all(frames)? else {
            return Ok(Vec::new());
        };
        let batches = frame.collect().await.map_err(|e| {
            let names: Vec<&str> = touched
                .iter()
                .map(|&i| self.columnar.blocks[i].0.block_id.as_str())
                .collect();
            e.context(format!("scanning block(s) {}", names.join(", ")))
        })?;
        candidates_of(self.columnar, &batches)
    }
}

/// The union of `frames`; `None` when there are none.
fn union_all(
    frames: impl Iterator<Item = Result<DataFrame, EngineError>>,
) -> Result<Option<DataFrame>, EngineError> {
    let mut union: Option<DataFrame> = None;
    for frame in frames {
        let frame = frame?;
        union = Some(match union {
            None => frame,
            Some(u) => u.union(frame)?,
        });
    }
    Ok(union)
}

/// The traces of `file` (the data file of block `block`) with a span matching some leaf filter
/// in `window`, with which leaves matched.
fn candidate_frame(
    file: DataFrame,
    leaves: &[Expr],
    block: usize,
    end: u64,
    window: Window,
) -> Result<DataFrame, EngineError> {
    // A null leaf filters as false: no `coalesce` needed around the disjunction.
    let any_leaf = leaves
        .iter()
        .cloned()
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let end = i64::try_from(end).unwrap_or(i64::MAX);
    let matched: Vec<Expr> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| bool_or(coalesce(vec![l.clone(), lit(false)])).alias(format!("leaf{i}")))
        .collect();
    let block =
        u32::try_from(block).map_err(|_| EngineError::Internal("too many blocks".into()))?;
    Ok(file
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
                lit(block).alias("block"),
            ],
            matched,
        )?)
}

/// Runs the candidate scan of the first (newest) window over every block it touches and
/// describes the physical plan with the rows and time of every node.
pub(super) async fn explain(
    columnar: &ColumnarSearch,
    catalog: &Catalog,
    end: u64,
    memory_limit: Option<u64>,
) -> Result<String, EngineError> {
    let indexes = open_indexes(columnar, catalog).await?;
    let session = session_knowing(catalog, memory_limit, &indexes)?;
    let layouts = indexes
        .iter()
        .map(BlockIndex::row_groups)
        .collect::<Result<Vec<_>, _>>()?;
    let Some(window) = Windows::new(&layouts).next_window() else {
        return Ok("no row groups to scan\n".into());
    };
    let files = block_frames(&session, columnar, &indexes, |i, s| {
        scan_schema(s, &columnar.blocks[i].1)
    })
    .await?;
    let mut counted: Vec<Vec<bool>> = layouts.iter().map(|l| vec![false; l.len()]).collect();
    let (touched, _, _) = touch(window, &layouts, &mut counted);
    let frames = touched
        .iter()
        .map(|&i| candidate_frame(files[i].clone(), &columnar.blocks[i].1, i, end, window));
    let Some(frame) = union_all(frames)? else {
        return Ok("no row groups to scan\n".into());
    };
    let (first, _) = &columnar.blocks[touched[0]];
    Ok(format!(
        "first window: candidate traces with a start in {window}, {} of {} block(s):\n{}",
        touched.len(),
        columnar.blocks.len(),
        session.run_and_describe(frame, first).await?
    ))
}

/// The candidates in `batches` (rows of candidate frames): traces whose matched leaves satisfy
/// the formula.
fn candidates_of(
    columnar: &ColumnarSearch,
    batches: &[RecordBatch],
) -> Result<Vec<Candidate>, EngineError> {
    let leaves = columnar.blocks.first().map_or(0, |(_, l)| l.len());
    let mut out = Vec::new();
    for batch in batches {
        let ids = fixed_binary(batch, "trace_id")?;
        let starts = batch
            .column_by_name("start")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| EngineError::Internal("start is not Int64".into()))?;
        let blocks = batch
            .column_by_name("block")
            .and_then(|c| c.as_primitive_opt::<UInt32Type>())
            .ok_or_else(|| EngineError::Internal("block is not UInt32".into()))?;
        let leaf_columns = (0..leaves)
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
                block: blocks.value(row) as usize,
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

/// The spans of the traces `ids` in one block (whose data file is `file`, with the columns
/// `projection` decodes), as whole traces in row order. With `starts` (the earliest and latest
/// of their trace starts), only the row groups and pages holding such starts are read. The decoded traces must fit in
/// `memory_limit` bytes (DataFusion's pool does not see them).
async fn fetch_traces(
    file: DataFrame,
    catalog: Catalog,
    meta: BlockMeta,
    projection: Projection,
    ids: Vec<TraceId>,
    starts: Option<(i64, i64)>,
    memory_limit: Option<u64>,
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
    let path = catalog.data_path(&meta.tenant, &meta.block_id);
    // Each partition reads whole row groups in order, so a trace's rows stay together in one.
    let partitions = file
        .filter(filter)?
        .collect_partitioned()
        .await
        .map_err(|e| e.context(format!("reading {path}")))?;
    let mut traces = Vec::new();
    for batches in &partitions {
        let mut part = Vec::new();
        for batch in batches {
            append_traces(
                &mut part,
                decode_spans(&catalog, batch, &meta, &projection)?,
            );
        }
        traces.extend(part);
    }
    if let Some(limit) = memory_limit {
        let batches: u64 = partitions
            .iter()
            .flatten()
            .map(|b| b.get_array_memory_size() as u64)
            .sum();
        let needed = batches + traces.iter().map(Trace::heap_estimate).sum::<u64>();
        if needed > limit {
            return Err(EngineError::MemoryLimit {
                limit,
                needed,
                block: meta.block_id,
            });
        }
    }
    Ok(traces)
}

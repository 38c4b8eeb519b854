//! Search on the columnar path. A DataFusion scan of each block, with the first stage's
//! conditions pushed into the Parquet reader, finds the traces that can match: those with a
//! span matching every filter the first stage needs. The reference evaluator then runs the
//! whole pipeline on only those traces, fetched by ID, newest first, until the newest `limit`
//! results cannot change any more. A trace is evaluated per block, as on the reference path
//! (spec section 7.12), so both paths return the same response.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::try_join_all;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, FixedSizeBinaryArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, UInt32Type};
use datafusion::physical_plan::union::UnionExec;
use datafusion::prelude::{Expr, cast, ident, lit, nullif, when};
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{SERVICE_NAME, TraceId};
use traceql_storage::nested_set::NO_POSITION;
use traceql_storage::projection::Projection;
use traceql_storage::read::{BlockIndex, RowGroupSummary};
use traceql_storage::schema::{DedicatedColumn, DedicatedScope, col};
use traceql_syntax::ast::{
    Field, FieldExpr, Pipeline, Scope, SpansetExpr, SpansetFilter, SpansetOp, Stage,
};

use super::candidates_exec::TraceCandidatesExec;
use super::relations::{Kind, Relation, Wanted, place_columns};
use super::trace_fold::{leaf_column, related_column};
use super::trace_gate::{batch_rows, gate};
use super::windows::Windows;
use super::{Results, Search, visit_pipeline_fields};
use crate::columnar::fields::nested_list;
use crate::columnar::{
    Footers, Group, RowGroupScan, Session, as_filter, lower_candidate_condition, lower_condition,
    pruning, scan_schema,
};
use crate::error::EngineError;
use crate::progress::Progress;
use crate::reference::{Regexes, trace_id_hex};
use crate::response::TraceSearchMetadata;
use crate::scan::within_memory;
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
    /// Relation `k` between two leaf filters holds between two spans.
    Related(usize),
    /// Every part holds.
    All(Vec<Formula>),
    /// Some part holds.
    Any(Vec<Formula>),
}

impl Formula {
    /// Whether a trace part whose spans match the leaves `leaves` and whose spans hold the
    /// relations `related` holds.
    fn holds(&self, leaves: &[bool], related: &[bool]) -> bool {
        match self {
            Formula::Leaf(i) => leaves[*i],
            Formula::Related(k) => related[*k],
            Formula::All(parts) => parts.iter().all(|p| p.holds(leaves, related)),
            Formula::Any(parts) => parts.iter().any(|p| p.holds(leaves, related)),
        }
    }

    /// The leaves every trace part that holds has a span of (over `relations`), ascending.
    fn necessary_leaves(&self, relations: &[Relation]) -> Vec<usize> {
        self.necessary(&|i| vec![i], &|k| {
            let r = relations[k];
            match r.wanted {
                Wanted::Pair => vec![r.upper, r.lower],
                Wanted::LowerAlone => vec![r.lower],
                Wanted::UpperAlone => vec![r.upper],
            }
        })
    }

    /// The pairs of leaves (over `relations`) every trace part that holds has two different
    /// spans of with one parent: those of the sibling relations it needs.
    fn necessary_siblings(&self, relations: &[Relation]) -> Vec<(usize, usize)> {
        self.necessary(&|_| Vec::new(), &|k| {
            let r = relations[k];
            match (r.kind, r.wanted) {
                (Kind::Sibling, Wanted::Pair) => vec![(r.upper, r.lower)],
                _ => Vec::new(),
            }
        })
    }

    /// What every trace part that holds needs, given what leaf `i` (`of_leaf(i)`) and relation
    /// `k` (`of_related(k)`) need: all that any part of `All` needs, what every part of `Any`
    /// needs; sorted, without repeats.
    fn necessary<T: Ord>(
        &self,
        of_leaf: &impl Fn(usize) -> Vec<T>,
        of_related: &impl Fn(usize) -> Vec<T>,
    ) -> Vec<T> {
        let mut needed = match self {
            Formula::Leaf(i) => of_leaf(*i),
            Formula::Related(k) => of_related(*k),
            Formula::All(parts) => (parts.iter())
                .flat_map(|p| p.necessary(of_leaf, of_related))
                .collect(),
            Formula::Any(parts) => {
                let mut sets = parts.iter().map(|p| p.necessary(of_leaf, of_related));
                let first = sets.next().unwrap_or_default();
                sets.fold(first, |common, set| {
                    common.into_iter().filter(|x| set.contains(x)).collect()
                })
            }
        };
        needed.sort_unstable();
        needed.dedup();
        needed
    }
}

/// The leaf filters a formula tests, and the relations among them.
#[derive(Default)]
struct Tests {
    leaves: Vec<FieldExpr>,
    relations: Vec<Relation>,
}

impl Tests {
    /// Adds the leaf filter `f`; returns its number.
    fn leaf(&mut self, f: &SpansetFilter) -> usize {
        self.leaves.push(f.expr.clone());
        self.leaves.len() - 1
    }

    /// Adds the relation `op` tests between leaves `lhs` and `rhs`, when it is structural;
    /// returns its formula.
    fn related(&mut self, op: SpansetOp, lhs: usize, rhs: usize) -> Option<Formula> {
        self.relations.push(Relation::of(op, lhs, rhs)?);
        Some(Formula::Related(self.relations.len() - 1))
    }
}

/// The candidate test of a search, lowered for each block.
pub(super) struct ColumnarSearch {
    formula: Formula,
    /// The relations between leaves the formula tests.
    relations: Vec<Relation>,
    /// The leaves every trace part that passes the formula has a span of.
    necessary: Vec<usize>,
    /// The pairs of leaves every trace part that passes the formula has siblings of.
    siblings: Vec<(usize, usize)>,
    /// Per block: the block and its lowered leaf conditions.
    blocks: Vec<(BlockMeta, Vec<Expr>)>,
    /// Per block: what a fetched trace decodes (what the query can read).
    projections: Vec<Projection>,
}

/// The columnar plan of `pipeline` over `blocks`; `None` when its first stage is beyond what
/// the candidate test covers (a sub-pipeline that does not start with a spanset, conditions
/// that do not lower in some block).
pub(super) fn plan(pipeline: &Pipeline, blocks: &[BlockMeta]) -> Option<ColumnarSearch> {
    let Some(Stage::Spanset(first)) = pipeline.stages.first() else {
        return None;
    };
    let mut tests = Tests::default();
    let formula = formula(first, &mut tests)?;
    // Without relations, a leaf matching more spans than it should only adds candidates (the
    // reference evaluator then rules them out): a leaf may be loosened. A relation, negated,
    // would find fewer spans alone.
    let lower = match tests.relations.is_empty() {
        true => lower_candidate_condition,
        false => lower_condition,
    };
    let blocks = blocks
        .iter()
        .map(|meta| {
            let lowered = tests
                .leaves
                .iter()
                .map(|leaf| lower(leaf, meta))
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
        necessary: formula.necessary_leaves(&tests.relations),
        siblings: formula.necessary_siblings(&tests.relations),
        formula,
        relations: tests.relations,
        blocks,
        projections,
    })
}

/// What a fetched trace of the block `meta` decodes for a query reading `fields`: events, links
/// and instrumentation-scope attributes only when it reads them, the dedicated columns of the
/// keys it names, and the generic span or resource attribute list only when one of those keys
/// may be stored there (always when the block does not record its generic keys).
/// `service.name`, which service statistics and root services read, counts as named.
pub(crate) fn fetch_projection(fields: &[Field], meta: &BlockMeta) -> Projection {
    let (mut events, mut links, mut scope_attributes) = (false, false, false);
    let mut named: Vec<(DedicatedScope, &str)> = vec![(DedicatedScope::Resource, SERVICE_NAME)];
    for field in fields {
        match (nested_list(field), field) {
            (Some(col::EVENTS), _) => events = true,
            (Some(col::LINKS), _) => links = true,
            (_, Field::Attribute(a)) => match a.scope {
                Scope::Instrumentation => scope_attributes = true,
                Scope::Span => named.push((DedicatedScope::Span, &a.name)),
                Scope::Resource => named.push((DedicatedScope::Resource, &a.name)),
                Scope::Unscoped => named.extend(
                    [DedicatedScope::Span, DedicatedScope::Resource].map(|s| (s, a.name.as_str())),
                ),
                Scope::Event | Scope::Link => {}
            },
            _ => {}
        }
    }
    let generic = |scope: DedicatedScope| {
        meta.generic_keys.as_ref().is_none_or(|keys| {
            (named.iter()).any(|&(s, key)| s == scope && keys.contains(scope, key))
        })
    };
    let dedicated = meta
        .dedicated_columns
        .iter()
        .filter(|d| named.iter().any(|&(s, key)| s == d.scope && key == d.key))
        .map(DedicatedColumn::column_name)
        .collect();
    Projection {
        span_attributes: generic(DedicatedScope::Span),
        resource_attributes: generic(DedicatedScope::Resource),
        events,
        links,
        scope_attributes,
        dedicated: Some(dedicated),
    }
}

fn formula(e: &SpansetExpr, tests: &mut Tests) -> Option<Formula> {
    match e {
        SpansetExpr::Filter(f) => Some(Formula::Leaf(tests.leaf(f))),
        SpansetExpr::Op { op, lhs, rhs } if op.is_negated() => negated(*op, lhs, rhs, tests),
        SpansetExpr::Op { op, lhs, rhs } => {
            let parts = vec![formula(lhs, tests)?, formula(rhs, tests)?];
            // A relation between two filters is tested exactly on the places of their spans.
            // (A sub-pipeline stands for its first stage here, whose spans include its own:
            // the test of a pair may then pass where the pipeline's spans have none, never the
            // other way round.)
            if let [Formula::Leaf(l), Formula::Leaf(r)] = parts[..]
                && let Some(related) = tests.related(*op, l, r)
            {
                return Some(related);
            }
            match op {
                SpansetOp::Or => Some(Formula::Any(parts)),
                // Both sides must have spans: `&&`, and structural relations (plain or union)
                // between a span of each side.
                _ => Some(Formula::All(parts)),
            }
        }
        // A sub-pipeline's spans are among those of its first stage. One that may split a
        // trace's spans into several spansets stays on the reference path: combining those
        // is an error, which must not depend on which traces are candidates.
        SpansetExpr::Pipeline(p) => match p.stages.first() {
            Some(Stage::Spanset(first)) if !may_split(p) => formula(first, tests),
            _ => None,
        },
    }
}

/// Whether `pipeline`, or a sub-pipeline in it, has a `by()` stage.
fn may_split(pipeline: &Pipeline) -> bool {
    pipeline.stages.iter().any(|stage| match stage {
        Stage::By(_) => true,
        Stage::Spanset(e) => has_splitting_pipeline(e),
        _ => false,
    })
}

/// Whether a sub-pipeline in `e` may split spans into several spansets (see [`may_split`]).
fn has_splitting_pipeline(e: &SpansetExpr) -> bool {
    match e {
        SpansetExpr::Filter(_) => false,
        SpansetExpr::Op { lhs, rhs, .. } => {
            has_splitting_pipeline(lhs) || has_splitting_pipeline(rhs)
        }
        SpansetExpr::Pipeline(p) => may_split(p),
    }
}

/// The formula of `{A} op {B}` for a negated structural operator, which returns the spans of
/// `B` without a partner in `A`. Between two filters that is tested exactly; otherwise a span of
/// `B` is all it takes (a span of `A` is not needed: without one, every span of `B` is returned).
fn negated(
    op: SpansetOp,
    lhs: &SpansetExpr,
    rhs: &SpansetExpr,
    tests: &mut Tests,
) -> Option<Formula> {
    // `A` must be exact: with more spans on the partner side, fewer spans are alone.
    if let (SpansetExpr::Filter(a), SpansetExpr::Filter(b)) = (lhs, rhs) {
        let (l, r) = (tests.leaf(a), tests.leaf(b));
        return tests.related(op, l, r);
    }
    if has_splitting_pipeline(lhs) {
        return None;
    }
    formula(rhs, tests)
}

/// A trace of one block that may match.
struct Candidate {
    start: i64,
    trace_id: TraceId,
    /// The ID as results name it (hex without leading zeros): the tie-break of the final sort.
    name: String,
    block: usize,
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
    if columnar.blocks.is_empty() {
        return Ok(());
    }
    let prepared = Prepared::new(columnar, catalog, search.end, memory_limit).await?;
    let mut windows = prepared.windows();
    let searched = (prepared.may_match.iter())
        .map(|groups| groups.contains(&true))
        .collect();
    let Prepared {
        footers,
        layouts,
        scan,
        ..
    } = prepared;
    // Without a scan no row group may match: nothing to find.
    let Some(scan) = scan else {
        return Ok(());
    };
    let mut run = Run {
        columnar,
        search,
        catalog,
        footers,
        layouts,
        searched,
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
        for group in window {
            results.metrics.inspected_spans += group.summary.rows;
            results.metrics.inspected_bytes += group.summary.bytes;
            progress.add_spans(group.summary.rows);
        }
        let batches = scan
            .run(window)
            .await
            .map_err(|e| e.context(format!("scanning {}", blocks_of(columnar, window))))?;
        let found = candidates_of(columnar, &batches)?;
        results.metrics.inspected_traces += found.len() as u32;
        run.pool.extend(found);
        if windows.unscanned_newest().is_none() {
            (0..columnar.blocks.len()).for_each(|_| progress.block_done());
        }
        // Oldest first, so that the newest is popped first; ties in the final sort's order.
        run.pool
            .sort_by(|a, b| a.start.cmp(&b.start).then_with(|| b.name.cmp(&a.name)));
    }
}

/// What every search over the blocks of a columnar search starts from.
struct Prepared {
    /// Each block's footer, read for the blocks that may match.
    footers: Footers,
    /// Each block's row groups, in file order (none for a block passed over unread).
    layouts: Vec<Vec<RowGroupSummary>>,
    /// Per block, per row group: whether the candidate scan's conditions may match its rows,
    /// by its statistics and bloom filters.
    may_match: Vec<Vec<bool>>,
    /// The candidate scan, planned once for every window over the blocks with a row group
    /// that may match; `None` when no row group may.
    scan: Option<RowGroupScan>,
}

impl Prepared {
    /// Reads the footers of the blocks of `columnar` whose `meta.json` admits a match and plans
    /// its candidate scan of traces starting at or before `end`, in a session bounded by
    /// `memory_limit` that reuses them.
    async fn new(
        columnar: &ColumnarSearch,
        catalog: &Catalog,
        end: u64,
        memory_limit: Option<u64>,
    ) -> Result<Prepared, EngineError> {
        let metas: Vec<&BlockMeta> = columnar.blocks.iter().map(|(meta, _)| meta).collect();
        let conditions: Vec<Expr> = (columnar.blocks.iter())
            .map(|(_, leaves)| candidate_filter(leaves, end))
            .collect();
        let session = Session::parallel(catalog, memory_limit)?;
        let (footers, may_match) =
            pruning::row_groups_that_may_match(&session, catalog, &metas, conditions).await?;
        let layouts = (0..metas.len())
            .map(|b| {
                footers
                    .read(b)
                    .map_or(Ok(Vec::new()), BlockIndex::row_groups)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Batches of whole row groups, so that a trace gate sees whole traces; every candidate
        // scan gets them (none measured slower for it in the harness).
        let session = session.with_footers(footers.all_read());
        let session = session
            .pruned_ahead()
            .in_file_order()
            .with_batch_rows_at_least(batch_rows(&layouts));
        let scanned = pruning::blocks_with_a_match(&may_match);
        let scan = match scanned.is_empty() {
            true => None,
            false => Some(candidate_scan(
                &session, columnar, catalog, &footers, &scanned, &layouts, end,
            )?),
        };
        Ok(Prepared {
            footers,
            layouts,
            may_match,
            scan,
        })
    }

    /// The windows of row groups to scan, newest first, leaving out those that cannot match.
    fn windows(&self) -> Windows {
        Windows::new(&self.layouts, &self.may_match)
    }
}

/// The columns every candidate scan of `columnar` reads, whatever its leaves: the trace, its
/// start, and the place columns its relations read.
fn scanned_always(columnar: &ColumnarSearch) -> Vec<&'static str> {
    let mut columns = vec![col::TRACE_ID, col::TRACE_START];
    let places = place_columns(&columnar.relations);
    if !places.is_empty() {
        // Whether a span has a place at all.
        columns.push(col::NESTED_SET_LEFT);
    }
    columns.extend(places.into_iter().map(place_source));
    columns
}

/// The data file's column behind the candidate spans' place column `name`.
fn place_source(name: &str) -> &'static str {
    match name {
        "left" => col::NESTED_SET_LEFT,
        "right" => col::NESTED_SET_RIGHT,
        _ => col::PARENT_LEFT,
    }
}

/// The place columns `names` (see [`place_columns`]) of spans, null for spans without a place
/// in the tree.
pub(crate) fn place_exprs(names: &[&str]) -> Result<Vec<Expr>, EngineError> {
    let placed = || ident(col::NESTED_SET_LEFT).not_eq(lit(NO_POSITION));
    names
        .iter()
        .map(|&name| Ok(when(placed(), ident(place_source(name))).end()?.alias(name)))
        .collect()
}

/// The candidate scan of the blocks `scanned` of `columnar` (their footers read in `footers`;
/// row groups `layouts`), planned in `session`: one scan of them all, each reading only the
/// columns its leaves refer to (planning a 100-column table costs far more than scanning a
/// window of it), built as physical operators ([`Session::filtered_file_scan`]).
fn candidate_scan(
    session: &Session,
    columnar: &ColumnarSearch,
    catalog: &Catalog,
    footers: &Footers,
    scanned: &[usize],
    layouts: &[Vec<RowGroupSummary>],
    end: u64,
) -> Result<RowGroupScan, EngineError> {
    let places = place_columns(&columnar.relations);
    let always = scanned_always(columnar);
    let schemas = scanned
        .iter()
        .map(|&b| {
            let footer = footers
                .read(b)
                .ok_or_else(|| EngineError::Internal(format!("block {b} scanned unread")))?;
            Ok(scan_schema(
                footer.scan_schema(),
                &columnar.blocks[b].1,
                &always,
            ))
        })
        .collect::<Result<Vec<Schema>, EngineError>>()?;
    let scans = (scanned.iter().zip(schemas)).map(|(&b, schema)| {
        let leaves = &columnar.blocks[b].1;
        let by_leaves = gate(leaves, &columnar.necessary, &columnar.siblings)
            .unwrap_or_else(|| any_leaf(leaves));
        let filter = match layouts
            .get(b)
            .is_none_or(|groups| may_start_after(groups, end))
        {
            true => within_end(end).and(by_leaves),
            false => by_leaves,
        };
        let object = footers
            .read(b)
            .ok_or_else(|| EngineError::Internal(format!("block {b} scanned unread")))?
            .object();
        let columns = candidate_columns(leaves, b, &places)?;
        Ok(session.filtered_file_scan(object, Arc::new(schema), as_filter(filter), columns)?)
    });
    let spans = UnionExec::try_new(scans.collect::<Result<Vec<_>, EngineError>>()?)?;
    let leaves = columnar.blocks.first().map_or(0, |(_, l)| l.len());
    let task = session.task_ctx();
    let traces = TraceCandidatesExec::try_new(spans, leaves, columnar.relations.clone())?;
    let paths = columnar
        .blocks
        .iter()
        .map(|(meta, _)| catalog.data_path(&meta.tenant, &meta.block_id))
        .collect();
    let group_counts = layouts.iter().map(Vec::len).collect();
    Ok(RowGroupScan::new(
        Arc::new(traces),
        task,
        paths,
        group_counts,
    ))
}

/// The IDs of the blocks with row groups in `window`, for messages.
fn blocks_of(columnar: &ColumnarSearch, window: &[Group]) -> String {
    let mut blocks: Vec<usize> = window.iter().map(|g| g.block).collect();
    blocks.sort_unstable();
    blocks.dedup();
    let names: Vec<&str> = blocks
        .iter()
        .map(|&i| columnar.blocks[i].0.block_id.as_str())
        .collect();
    format!("block(s) {}", names.join(", "))
}

/// The state of one columnar search.
struct Run<'a> {
    columnar: &'a ColumnarSearch,
    search: &'a Search,
    catalog: &'a Catalog,
    /// The footers of the blocks that may match: where a trace may be.
    footers: Footers,
    /// Per block, whether a row group of it may match (by its `meta.json`, statistics and bloom
    /// filters): a trace's part in a block none of whose row groups may match cannot match
    /// either, so it is not looked up.
    searched: Vec<bool>,
    /// Each block's row groups, in file order.
    layouts: Vec<Vec<RowGroupSummary>>,
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
    /// The footer of block `block`, one that may match.
    fn footer(&mut self, block: usize) -> Result<&mut BlockIndex, EngineError> {
        (self.footers.read_mut(block))
            .ok_or_else(|| EngineError::Internal(format!("block {block} looked up unread")))
    }

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
            // Only blocks that may match and whose statistics and bloom filters admit the
            // trace are read.
            let mut missing = Vec::new();
            for (name, block) in unresolved {
                if !self.searched[block] {
                    self.resolved.insert((name, block));
                    continue;
                }
                let trace_id = parse_trace_id(&name)?;
                if self
                    .footer(block)?
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
            // The row groups that may hold them: by their starts (each in the row group whose
            // trace starts it lies between), else by statistics and bloom filters.
            let mut groups = Vec::new();
            match by_start {
                true => {
                    for c in &mine {
                        groups.extend(self.layouts[index].iter().enumerate().filter_map(
                            |(g, s)| {
                                (s.min_trace_start <= c.start && c.start <= s.max_trace_start)
                                    .then_some(g)
                            },
                        ));
                    }
                }
                false => {
                    for id in &ids {
                        groups.extend(self.footer(index)?.row_groups_with(id).await?);
                    }
                }
            }
            groups.sort_unstable();
            groups.dedup();
            // Each fetch is a task of its own: blocks are decoded on all cores.
            let (catalog, columnar) = (self.catalog, self.columnar);
            let fetch = self.footer(index)?.fetch_traces(
                catalog,
                meta,
                &columnar.projections[index],
                groups,
                ids,
            );
            let (limit, block) = (self.memory_limit, meta.block_id.clone());
            fetches.push(tokio::spawn(async move {
                let (traces, bytes) = fetch.await?;
                within_memory(limit, bytes, &traces, block)?;
                Ok::<_, EngineError>(traces)
            }));
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
}

/// What the candidate scan outputs of each span of block `block` it keeps (those matching a
/// leaf filter, in a trace the gate lets through when there is one): its trace, its start, the
/// block, the place columns named in `places` (nested-set bounds `left` and `right`, the
/// parent's left bound `parent`; null for a span without a place in the tree), and which
/// leaves it matches (`leaf0`, `leaf1`, …).
fn candidate_columns(
    leaves: &[Expr],
    block: usize,
    places: &[&str],
) -> Result<Vec<Expr>, EngineError> {
    let block =
        u32::try_from(block).map_err(|_| EngineError::Internal("too many blocks".into()))?;
    let mut columns = vec![
        ident(col::TRACE_ID).alias("trace_id"),
        cast(ident(col::TRACE_START), DataType::Int64).alias("start"),
        lit(block).alias("block"),
    ];
    columns.extend(place_exprs(places)?);
    columns.extend(
        leaves
            .iter()
            .enumerate()
            // Null where false too: every block's leaf column is then nullable, as the union's
            // schema must say (a leaf over a required column is not nullable by itself).
            .map(|(i, l)| nullif(l.clone(), lit(false)).alias(leaf_column(i))),
    );
    Ok(columns)
}

/// The condition row groups are pruned by: spans of traces starting at or before `end` that
/// match some leaf filter (a null leaf filters as false: no `coalesce` needed around the
/// disjunction). The scan of a block keeps the same rows without a trace gate.
fn candidate_filter(leaves: &[Expr], end: u64) -> Expr {
    within_end(end).and(any_leaf(leaves))
}

/// Spans that match some leaf filter.
fn any_leaf(leaves: &[Expr]) -> Expr {
    (leaves.iter().cloned())
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false))
}

/// Whether a trace of the block whose row groups are `groups` may start after `end`: only then
/// does its scan need [`within_end`] (otherwise a filter that decodes the trace starts of every
/// span for nothing).
fn may_start_after(groups: &[RowGroupSummary], end: u64) -> bool {
    let end = i64::try_from(end).unwrap_or(i64::MAX);
    groups.iter().any(|g| g.max_trace_start > end)
}

/// Spans of traces starting at or before `end`.
fn within_end(end: u64) -> Expr {
    let end = i64::try_from(end).unwrap_or(i64::MAX);
    ident(col::TRACE_START).lt_eq(lit(end))
}

/// Runs the candidate scan of the first (newest) window over every block it touches and
/// describes the physical plan with the rows and time of every node.
pub(super) async fn explain(
    columnar: &ColumnarSearch,
    catalog: &Catalog,
    end: u64,
    memory_limit: Option<u64>,
) -> Result<String, EngineError> {
    let prepared = Prepared::new(columnar, catalog, end, memory_limit).await?;
    let count = |may: bool| -> usize {
        let flags = prepared.may_match.iter().flatten();
        flags.filter(|m| **m == may).count()
    };
    let unread = (0..columnar.blocks.len())
        .filter(|&b| prepared.footers.read(b).is_none())
        .count();
    let pruned = format!(
        "blocks: {unread} of {} passed over by the values their meta.json records\n\
         row groups: {} to scan, {} pruned by statistics or bloom filters",
        columnar.blocks.len(),
        count(true),
        count(false)
    );
    let mut windows = prepared.windows();
    let (Some(window), Some(scan)) = (windows.next_window(), &prepared.scan) else {
        return Ok(format!("{pruned}; nothing to scan\n"));
    };
    let groups: Vec<String> = window
        .iter()
        .map(|g| format!("{}#{}", columnar.blocks[g.block].0.block_id, g.index))
        .collect();
    Ok(format!(
        "{pruned}\nfirst window: {} row group(s) ({}):\n{}",
        window.len(),
        groups.join(", "),
        scan.run_and_describe(window).await?
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
        let booleans = |name: String| {
            batch
                .column_by_name(&name)
                .and_then(|c| c.as_boolean_opt().cloned())
                .ok_or_else(|| EngineError::Internal(format!("{name} is not Boolean")))
        };
        let leaf_columns = (0..leaves)
            .map(|i| booleans(leaf_column(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let related_columns = (0..columnar.relations.len())
            .map(|k| booleans(related_column(k)))
            .collect::<Result<Vec<_>, _>>()?;
        let at = |columns: &[BooleanArray], row: usize| -> Vec<bool> {
            columns
                .iter()
                .map(|c| c.is_valid(row) && c.value(row))
                .collect()
        };
        for row in 0..batch.num_rows() {
            let (matched, related) = (at(&leaf_columns, row), at(&related_columns, row));
            if !columnar.formula.holds(&matched, &related) {
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

#[cfg(test)]
mod tests {
    use traceql_storage::meta::GenericKeys;
    use traceql_storage::schema::ScalarType;
    use traceql_syntax::ast::Attribute;

    use super::*;

    /// A block with `span.http.route` and `resource.service.name` in columns of their own and
    /// `generic` recorded as its generic keys.
    fn block(generic: Option<GenericKeys>) -> BlockMeta {
        let dedicated = |scope, key: &str| DedicatedColumn {
            scope,
            key: key.to_string(),
            value_type: ScalarType::String,
        };
        BlockMeta {
            format: "traceql-span-block".to_string(),
            version: 1,
            block_id: "b".to_string(),
            tenant: "t".to_string(),
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            trace_count: 0,
            span_count: 0,
            min_trace_id: String::new(),
            max_trace_id: String::new(),
            row_groups: 0,
            size_bytes: 0,
            dedicated_columns: vec![
                dedicated(DedicatedScope::Span, "http.route"),
                dedicated(DedicatedScope::Resource, SERVICE_NAME),
            ],
            compacted_from: Vec::new(),
            compaction_level: 0,
            created_at_unix_nano: 0,
            generic_keys: generic,
            column_values: None,
        }
    }

    fn keys(span: &[&str], resource: &[&str]) -> Option<GenericKeys> {
        let sorted = |keys: &[&str]| {
            let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            keys.sort();
            keys
        };
        Some(GenericKeys {
            span: sorted(span),
            resource: sorted(resource),
            span_arrays: None,
            resource_arrays: None,
        })
    }

    fn attribute(scope: Scope, name: &str) -> Field {
        Field::Attribute(Attribute::new(scope, name))
    }

    /// Which generic lists a fetch of `fields` from `meta` decodes: (span, resource).
    fn generic_lists(fields: &[Field], meta: &BlockMeta) -> (bool, bool) {
        let projection = fetch_projection(fields, meta);
        (projection.span_attributes, projection.resource_attributes)
    }

    #[test]
    fn generic_lists_are_fetched_only_for_keys_that_may_be_stored_there() {
        let meta = block(keys(&["db.system"], &["host.name"]));
        let route = attribute(Scope::Span, "http.route");
        assert_eq!(
            generic_lists(std::slice::from_ref(&route), &meta),
            (false, false)
        );
        let db = attribute(Scope::Span, "db.system");
        assert_eq!(generic_lists(&[route, db], &meta), (true, false));
        let host = attribute(Scope::Unscoped, "host.name");
        assert_eq!(generic_lists(&[host], &meta), (false, true));
        let projection = fetch_projection(&[], &meta);
        assert_eq!(
            projection.dedicated,
            Some(vec![format!("resource.{SERVICE_NAME}")])
        );
    }

    #[test]
    fn service_name_in_the_generic_list_fetches_it() {
        let meta = block(keys(&[], &[SERVICE_NAME]));
        assert_eq!(generic_lists(&[], &meta), (false, true));
    }

    /// Leaf 0 and leaf 1 as siblings, wanted as `wanted` says.
    fn siblings(wanted: Wanted) -> Relation {
        Relation {
            kind: Kind::Sibling,
            upper: 0,
            lower: 1,
            wanted,
        }
    }

    #[test]
    fn necessary_leaves_follow_the_formula() {
        let relations = [siblings(Wanted::Pair), siblings(Wanted::LowerAlone)];
        assert_eq!(Formula::Related(0).necessary_leaves(&relations), [0, 1]);
        assert_eq!(Formula::Related(1).necessary_leaves(&relations), [1]);
        let either = Formula::Any(vec![Formula::Leaf(2), Formula::Related(0)]);
        assert!(either.necessary_leaves(&relations).is_empty());
        let both = Formula::All(vec![Formula::Leaf(2), Formula::Related(1)]);
        assert_eq!(both.necessary_leaves(&relations), [1, 2]);
    }

    /// Only a sibling pair the formula cannot pass without makes the gate look for siblings:
    /// not a negated one, not one among alternatives.
    #[test]
    fn necessary_siblings_follow_the_formula() {
        let child = Relation {
            kind: Kind::Child,
            ..siblings(Wanted::Pair)
        };
        let relations = [siblings(Wanted::Pair), siblings(Wanted::LowerAlone), child];
        assert_eq!(Formula::Related(0).necessary_siblings(&relations), [(0, 1)]);
        assert!(
            Formula::Related(1)
                .necessary_siblings(&relations)
                .is_empty()
        );
        assert!(
            Formula::Related(2)
                .necessary_siblings(&relations)
                .is_empty()
        );
        let either = Formula::Any(vec![Formula::Leaf(2), Formula::Related(0)]);
        assert!(either.necessary_siblings(&relations).is_empty());
        let both = Formula::All(vec![Formula::Leaf(2), Formula::Related(0)]);
        assert_eq!(both.necessary_siblings(&relations), [(0, 1)]);
    }

    #[test]
    fn a_block_without_recorded_generic_keys_fetches_both_lists() {
        assert_eq!(generic_lists(&[], &block(None)), (true, true));
    }
}

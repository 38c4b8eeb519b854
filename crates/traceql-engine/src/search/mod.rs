//! TraceQL search over a tenant's blocks (spec sections 7.12 and 8.1).
//!
//! Every trace of a block in the time range that matches is evaluated by the reference
//! evaluator, block by block; matches from several blocks of the same trace are merged, and the
//! newest `limit` traces are returned, newest first. Where the first stage lowers onto
//! DataFusion ([`columnar`]), only the traces that can match are read and evaluated.

mod candidates_exec;
pub(crate) mod columnar;
pub(crate) mod relations;
pub(crate) mod trace_fold;
mod trace_gate;
mod windows;

use std::collections::{BTreeMap, HashMap};

use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{StatusCode, Trace, TraceId};
use traceql_storage::projection::Projection;
use traceql_syntax::ast::{
    Field, FieldExprKind, Intrinsic, Pipeline, QueryBody, ScalarExpr, Scope, SpansetExpr, Stage,
    Static,
};
use traceql_syntax::{ErrorKind, parse};

use crate::ExecutionPath;
use crate::error::{EngineError, ExecError};
use crate::progress::Progress;
use crate::reference::{Regexes, Spanset, TraceView, run_pipeline, status, trace_id_hex};
use crate::response::{
    AnyValue, KeyValue, SearchMetrics, SearchResponse, ServiceStats, SpanResult, SpanSet,
    TraceSearchMetadata,
};
use crate::scan::scan_blocks;
use crate::value::Val;

/// The largest `limit` accepted (Tempo's default maximum).
pub const MAX_LIMIT: usize = 262_144;
/// The largest `spss` accepted.
pub const MAX_SPSS: usize = 100;
/// The longest `[start, end]` range accepted, in seconds (Tempo's default: 168h).
pub const MAX_RANGE_SECONDS: u64 = 168 * 3600;

/// What a trace without a root span shows as its root service.
pub const NO_ROOT: &str = "<root span not yet received>";

/// A search request, as `GET /api/search` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// The TraceQL query.
    pub query: String,
    /// Only traces overlapping `[start, end]` (unix seconds); both or neither.
    pub start: Option<u64>,
    /// End of the time range (unix seconds).
    pub end: Option<u64>,
    /// Number of traces to return (the newest ones).
    pub limit: usize,
    /// Spans per spanset to return (0 means the default, 3).
    pub spss: usize,
    /// The most memory the query may hold, bytes (`None`: no limit).
    pub memory_limit: Option<u64>,
    /// Use the columnar path where it applies (default); `false` forces the reference
    /// evaluator over every trace (for comparisons).
    pub columnar: bool,
    /// Stop the search with [`EngineError::Timeout`] once it has run this long (`None`: no
    /// limit).
    pub timeout: Option<std::time::Duration>,
}

impl SearchRequest {
    /// A request with the defaults: no time range, 20 traces, 3 spans per spanset.
    pub fn new(query: impl Into<String>) -> Self {
        SearchRequest {
            query: query.into(),
            start: None,
            end: None,
            limit: 20,
            spss: 3,
            memory_limit: None,
            columnar: true,
            timeout: None,
        }
    }

    fn check(&self) -> Result<(u64, u64, usize), EngineError> {
        let invalid = |m: String| EngineError::InvalidRequest(m);
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(invalid(format!(
                "limit must be between 1 and {MAX_LIMIT}, found {}",
                self.limit
            )));
        }
        if self.spss > MAX_SPSS {
            return Err(invalid(format!(
                "spss must be at most {MAX_SPSS}, found {}",
                self.spss
            )));
        }
        let spss = if self.spss == 0 { 3 } else { self.spss };
        let (start, end) = match (self.start, self.end) {
            (None, None) => (0, u64::MAX),
            (Some(s), Some(e)) if e - s > MAX_RANGE_SECONDS => {
                return Err(invalid(format!(
                    "range of {} is longer than the maximum of 168h",
                    traceql_syntax::lexical::duration::format(((e - s) * 1_000_000_000) as i64)
                )));
            }
            (Some(s), Some(e)) if e > s => (
                s.saturating_mul(1_000_000_000),
                e.saturating_mul(1_000_000_000),
            ),
            (Some(_), Some(_)) => return Err(invalid("end must be after start".into())),
            _ => return Err(invalid("start and end go together".into())),
        };
        Ok((start, end, spss))
    }
}

/// A parsed search: the pipeline and the attributes returned on spans.
struct Search {
    pipeline: Pipeline,
    fields: Vec<Field>,
    start: u64,
    end: u64,
    spss: usize,
}

impl Search {
    fn new(request: &SearchRequest) -> Result<Search, EngineError> {
        let (start, end, spss) = request.check()?;
        let query = parse(&request.query)?;
        let pipeline = match query.body {
            QueryBody::Pipeline(p) => p,
            QueryBody::Metrics(_) => {
                return Err(EngineError::WrongKind(
                    "a metrics query needs the metrics API, not search".into(),
                ));
            }
            QueryBody::ScalarFilter(_) => {
                return Err(EngineError::Query(traceql_syntax::Error::new(
                    ErrorKind::Unsupported,
                    "comparing wrapped scalar pipelines is not yet supported",
                    traceql_syntax::Span::default(),
                    &request.query,
                )));
            }
        };
        let mut fields = Vec::new();
        collect_fields(&pipeline, &mut fields);
        Ok(Search {
            pipeline,
            fields,
            start,
            end,
            spss,
        })
    }

    /// `{ false }` and other statically false first filters match nothing.
    fn is_statically_empty(&self) -> bool {
        matches!(
            self.pipeline.stages.first(),
            Some(Stage::Spanset(SpansetExpr::Filter(f))) if f.expr.kind == FieldExprKind::Static(Static::Bool(false))
        )
    }

    /// Evaluates one trace; `None` when it does not match or is outside the time range.
    fn trace(
        &self,
        trace: Trace,
        regexes: &mut Regexes,
    ) -> Result<Option<TraceSearchMetadata>, ExecError> {
        let view = TraceView::new(trace);
        if view.start > self.end || view.start.saturating_add(view.duration) < self.start {
            return Ok(None);
        }
        let spansets = run_pipeline(&self.pipeline, &view, regexes)?;
        if spansets.is_empty() {
            return Ok(None);
        }
        let span_sets: Vec<SpanSet> = spansets.iter().map(|ss| self.span_set(&view, ss)).collect();
        let mut service_stats: BTreeMap<String, ServiceStats> = BTreeMap::new();
        for s in &view.spans {
            let stats = service_stats
                .entry(s.resource.service_name().to_string())
                .or_default();
            stats.span_count += 1;
            stats.error_count += u32::from(s.status_code == StatusCode::Error);
        }
        Ok(Some(TraceSearchMetadata {
            trace_id: trace_id_hex(&view.trace_id),
            root_service_name: view
                .root_service
                .clone()
                .unwrap_or_else(|| NO_ROOT.to_string()),
            root_trace_name: view.root_name.clone().unwrap_or_default(),
            start_time_unix_nano: view.start,
            duration_ms: u32::try_from(view.duration / 1_000_000).unwrap_or(u32::MAX),
            span_set: span_sets.first().cloned(),
            span_sets,
            service_stats,
        }))
    }

    fn span_set(&self, view: &TraceView, ss: &Spanset) -> SpanSet {
        let spans = ss
            .spans
            .iter()
            .take(self.spss)
            .map(|&i| {
                let s = &view.spans[i];
                let ctx = view.context(i);
                SpanResult {
                    span_id: hex::encode(s.span_id),
                    name: s.name.clone(),
                    start_time_unix_nano: s.start_time_unix_nano,
                    duration_nanos: s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
                    attributes: self
                        .fields
                        .iter()
                        .filter_map(|f| {
                            let (key, value) = match f {
                                Field::Attribute(a) => (a.name.clone(), ctx.attribute(a)),
                                Field::Intrinsic(i) => {
                                    (i.canonical_name().to_string(), ctx.intrinsic(*i))
                                }
                            };
                            if value == Val::Nil {
                                return None;
                            }
                            Some(KeyValue {
                                key,
                                value: AnyValue::from_val(&value)?,
                            })
                        })
                        .collect(),
                    service: s.resource.service_name().to_string(),
                    status: status(s.status_code).as_str().to_string(),
                }
            })
            .collect();
        SpanSet {
            spans,
            matched: ss.spans.len() as u32,
            attributes: ss
                .attributes
                .iter()
                .filter_map(|(k, v)| {
                    Some(KeyValue {
                        key: k.clone(),
                        value: AnyValue::from_val(v)?,
                    })
                })
                .collect(),
        }
    }
}

/// Every attribute and intrinsic the query reads or selects, in order, that search shows on
/// spans (not the span's name, duration and ID, trace-level values, events or links).
fn collect_fields(pipeline: &Pipeline, out: &mut Vec<Field>) {
    visit_pipeline_fields(pipeline, &mut |f: Field| {
        let shown = match &f {
            Field::Attribute(a) => !matches!(a.scope, Scope::Event | Scope::Link) && !a.parent,
            Field::Intrinsic(i) => !matches!(
                i,
                Intrinsic::Name
                    | Intrinsic::Duration
                    | Intrinsic::SpanId
                    | Intrinsic::TraceId
                    | Intrinsic::TraceRootName
                    | Intrinsic::TraceRootService
                    | Intrinsic::TraceDuration
                    | Intrinsic::EventName
                    | Intrinsic::EventTimeSinceStart
                    | Intrinsic::LinkTraceId
                    | Intrinsic::LinkSpanId
                    | Intrinsic::Parent
            ),
        };
        if shown && !out.contains(&f) {
            out.push(f);
        }
    });
}

/// Calls `visit` with every field `pipeline` reads or selects, sub-pipelines included, in
/// order (a field may come more than once).
pub(crate) fn visit_pipeline_fields(pipeline: &Pipeline, visit: &mut dyn FnMut(Field)) {
    fn spanset(e: &SpansetExpr, visit: &mut dyn FnMut(Field), pipelines: &mut Vec<Pipeline>) {
        match e {
            SpansetExpr::Filter(f) => f.expr.visit_fields(visit),
            SpansetExpr::Op { lhs, rhs, .. } => {
                spanset(lhs, visit, pipelines);
                spanset(rhs, visit, pipelines);
            }
            SpansetExpr::Pipeline(p) => pipelines.push((**p).clone()),
        }
    }
    let mut nested = Vec::new();
    for stage in &pipeline.stages {
        match stage {
            Stage::Spanset(e) => spanset(e, visit, &mut nested),
            Stage::ScalarFilter(f) => {
                for side in [&f.lhs, &f.rhs] {
                    if let ScalarExpr::Aggregate(a) = side
                        && let Some(e) = &a.expr
                    {
                        e.visit_fields(visit);
                    }
                }
            }
            Stage::By(g) => g.expr.visit_fields(visit),
            Stage::Select { fields, .. } => fields.iter().cloned().for_each(&mut *visit),
            Stage::Coalesce => {}
        }
    }
    for p in nested {
        visit_pipeline_fields(&p, visit);
    }
}

/// Which of two spansets with the same attributes a merge keeps: the larger `matched`, then the
/// one whose first span starts first (and has the smaller ID).
fn merge_key(ss: &SpanSet) -> (std::cmp::Reverse<u32>, (u64, &str)) {
    (std::cmp::Reverse(ss.matched), first_span_key(ss))
}

/// The start and ID of a spanset's first span: the order of a merged trace's spansets.
fn first_span_key(ss: &SpanSet) -> (u64, &str) {
    ss.spans.first().map_or((u64::MAX, ""), |s| {
        (s.start_time_unix_nano, s.span_id.as_str())
    })
}

/// Results of several blocks, merged per trace.
#[derive(Default)]
struct Results {
    by_trace: HashMap<String, TraceSearchMetadata>,
    metrics: SearchMetrics,
}

impl Results {
    /// Adds a block's match for a trace, merging with earlier blocks' matches (section 7.12):
    /// earliest start, longest duration, first non-empty root names, spansets merged by their
    /// attributes (the larger `matched` wins, then the earlier first span) and ordered by their
    /// first span, service counts added up. The outcome does not depend on the order of adds.
    fn add(&mut self, found: TraceSearchMetadata) {
        match self.by_trace.get_mut(&found.trace_id) {
            None => {
                self.by_trace.insert(found.trace_id.clone(), found);
            }
            Some(t) => {
                t.start_time_unix_nano = t.start_time_unix_nano.min(found.start_time_unix_nano);
                t.duration_ms = t.duration_ms.max(found.duration_ms);
                if t.root_service_name == NO_ROOT {
                    t.root_service_name = found.root_service_name;
                }
                if t.root_trace_name.is_empty() {
                    t.root_trace_name = found.root_trace_name;
                }
                for ss in found.span_sets {
                    match t
                        .span_sets
                        .iter_mut()
                        .find(|s| s.attributes == ss.attributes)
                    {
                        Some(existing) if merge_key(&ss) < merge_key(existing) => *existing = ss,
                        Some(_) => {}
                        None => t.span_sets.push(ss),
                    }
                }
                // Whatever order the blocks' parts arrive in, the merge comes out the same.
                t.span_sets
                    .sort_by(|a, b| first_span_key(a).cmp(&first_span_key(b)));
                t.span_set = t.span_sets.first().cloned();
                for (service, stats) in found.service_stats {
                    let entry = t.service_stats.entry(service).or_default();
                    entry.span_count += stats.span_count;
                    entry.error_count += stats.error_count;
                }
            }
        }
    }

    /// The newest `limit` traces, newest first (ties by trace ID).
    fn finish(self, limit: usize) -> SearchResponse {
        let mut traces: Vec<TraceSearchMetadata> = self.by_trace.into_values().collect();
        traces.sort_by(|a, b| {
            b.start_time_unix_nano
                .cmp(&a.start_time_unix_nano)
                .then_with(|| a.trace_id.cmp(&b.trace_id))
        });
        traces.truncate(limit);
        SearchResponse {
            traces,
            metrics: self.metrics,
        }
    }
}

/// Searches the live blocks of `tenant`.
pub async fn search(
    catalog: &Catalog,
    tenant: &str,
    request: &SearchRequest,
) -> Result<SearchResponse, EngineError> {
    search_with_progress(catalog, tenant, request, &Progress::default()).await
}

/// [`search`], counting blocks and spans in `progress` as it goes.
pub async fn search_with_progress(
    catalog: &Catalog,
    tenant: &str,
    request: &SearchRequest,
    progress: &Progress,
) -> Result<SearchResponse, EngineError> {
    crate::deadline::within(
        request.timeout,
        search_blocks_of(catalog, tenant, request, progress),
    )
    .await
}

async fn search_blocks_of(
    catalog: &Catalog,
    tenant: &str,
    request: &SearchRequest,
    progress: &Progress,
) -> Result<SearchResponse, EngineError> {
    let search = Search::new(request)?;
    let mut results = Results::default();
    if search.is_statically_empty() {
        return Ok(results.finish(request.limit));
    }
    let blocks = search_blocks(catalog, tenant, &search).await?;
    results.metrics.total_blocks = blocks.len() as u32;
    results.metrics.total_jobs = blocks.len() as u32;
    results.metrics.total_block_bytes = blocks.iter().map(|b| b.size_bytes).sum();
    let plan = match request.columnar {
        true => columnar::plan(&search.pipeline, &blocks),
        false => None,
    };
    match plan {
        Some(plan) => {
            let limit = request.limit;
            let memory = request.memory_limit;
            columnar::run(
                &plan,
                &search,
                catalog,
                limit,
                memory,
                &mut results,
                progress,
            )
            .await?;
        }
        None => {
            let mut regexes = Regexes::default();
            let all = |_: &BlockMeta| Projection::all();
            scan_blocks(
                catalog,
                &blocks,
                progress,
                request.memory_limit,
                all,
                |chunk| evaluate_all(&search, chunk, &mut results, &mut regexes),
            )
            .await?;
            // Every block was read to the end.
            results.metrics.inspected_bytes = results.metrics.total_block_bytes;
        }
    }
    results.metrics.completed_jobs = results.metrics.total_jobs;
    Ok(results.finish(request.limit))
}

/// The path [`search`] takes for `request` over the live blocks of `tenant`.
pub async fn execution_path(
    catalog: &Catalog,
    tenant: &str,
    request: &SearchRequest,
) -> Result<ExecutionPath, EngineError> {
    let search = Search::new(request)?;
    let blocks = search_blocks(catalog, tenant, &search).await?;
    Ok(
        match request.columnar && columnar::plan(&search.pipeline, &blocks).is_some() {
            true => ExecutionPath::Columnar,
            false => ExecutionPath::Reference,
        },
    )
}

/// Describes how `request` runs: the execution path and, on the columnar path, each block's
/// candidate scan (run to the end) as a DataFusion physical plan with rows and time per node.
pub async fn explain(
    catalog: &Catalog,
    tenant: &str,
    request: &SearchRequest,
) -> Result<String, EngineError> {
    let search = Search::new(request)?;
    let blocks = search_blocks(catalog, tenant, &search).await?;
    let plan = match request.columnar {
        true => columnar::plan(&search.pipeline, &blocks),
        false => None,
    };
    let Some(plan) = plan else {
        return Ok(format!(
            "path: reference evaluator over {} block(s) (the first stage uses something the \
             columnar path does not lower yet)\n",
            blocks.len()
        ));
    };
    let mut out = format!(
        "path: columnar (DataFusion) over {} block(s): candidate traces from one pushed-down \
         scan planned once and run over windows of row groups, newest first, then the \
         reference evaluator on the newest candidates until the newest results are settled\n",
        blocks.len()
    );
    out.push_str(&columnar::explain(&plan, catalog, search.end, request.memory_limit).await?);
    Ok(out)
}

/// The live blocks a search reads, newest first.
async fn search_blocks(
    catalog: &Catalog,
    tenant: &str,
    search: &Search,
) -> Result<Vec<BlockMeta>, EngineError> {
    let mut blocks = catalog.list_blocks(tenant).await?;
    blocks.retain(|b| b.overlaps(search.start, search.end));
    blocks.sort_by_key(|b| std::cmp::Reverse(b.start_time_unix_nano));
    Ok(blocks)
}

/// Searches traces held in memory (as one block); for tests and embedders with their own data.
pub fn search_traces(
    traces: Vec<Trace>,
    request: &SearchRequest,
) -> Result<SearchResponse, EngineError> {
    let search = Search::new(request)?;
    let mut results = Results::default();
    if !search.is_statically_empty() {
        evaluate_all(
            &search,
            merge_by_id(traces),
            &mut results,
            &mut Regexes::default(),
        )?;
    }
    Ok(results.finish(request.limit))
}

fn evaluate_all(
    search: &Search,
    traces: Vec<Trace>,
    results: &mut Results,
    regexes: &mut Regexes,
) -> Result<(), ExecError> {
    for trace in traces {
        results.metrics.inspected_traces += 1;
        results.metrics.inspected_spans += trace.spans.len() as u64;
        if let Some(found) = search.trace(trace, regexes)? {
            results.add(found);
        }
    }
    Ok(())
}

/// Groups spans of the same trace given as several `Trace`s.
fn merge_by_id(traces: Vec<Trace>) -> Vec<Trace> {
    let mut order: Vec<TraceId> = Vec::new();
    let mut by_id: HashMap<TraceId, Trace> = HashMap::new();
    for t in traces {
        match by_id.get_mut(&t.trace_id) {
            Some(existing) => existing.spans.extend(t.spans),
            None => {
                order.push(t.trace_id);
                by_id.insert(t.trace_id, t);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect()
}

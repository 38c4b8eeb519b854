//! TraceQL metrics through the reference evaluator (spec sections 6.4, 7.13, 8.4, 8.5).
//!
//! Every trace is read once; each metrics pipeline of the query keeps its own accumulator of
//! series, fed with the spans its spanset pipeline returns. Second stages and arithmetic run on
//! the finished series.

mod candidates;
mod columnar;
mod columnar_compare;
mod compare;
mod exemplars;
mod group_table;
mod grouping;
mod interval;
mod response;
mod sampling;
mod series;
mod structural;

pub use exemplars::{Exemplar, MAX_EXEMPLARS};
pub use interval::{Intervals, MAX_INTERVALS, default_step};
pub use response::{
    ExemplarSample, InstantResponse, InstantSeries, MetricsQueryMetrics, RangeResponse, Sample,
    TimeSeries,
};
pub use series::{Label, Series};

use std::time::{SystemTime, UNIX_EPOCH};

use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::Trace;
use traceql_storage::projection::Projection;
use traceql_syntax::ast::{
    ComparisonOp, MetricsExpr, MetricsFunctionKind, MetricsOp, MetricsPipeline, QueryBody,
    SecondStage, SecondStageKind, Static,
};
use traceql_syntax::parse;

use crate::ExecutionPath;
use crate::error::{EngineError, ExecError};
use crate::progress::Progress;
use crate::reference::{Regexes, TraceView, run_pipeline};
use crate::scan::scan_blocks;
use crate::search::columnar::fetch_projection;
use crate::search::visit_pipeline_fields;
use columnar::PipelinePlan;
use compare::Comparison;
use sampling::Sampling;
use series::Accumulator;

/// The default series limit.
pub const MAX_SERIES: usize = 1000;
/// The default longest range, nanoseconds (24h).
pub const MAX_RANGE: u64 = 24 * 3600 * 1_000_000_000;
/// How long before now a query's end is clamped, nanoseconds (30 s).
const END_CUTOFF: u64 = 30 * 1_000_000_000;

/// A metrics request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsRequest {
    /// The TraceQL metrics query.
    pub query: String,
    /// Start, unix nanoseconds.
    pub start: u64,
    /// End, unix nanoseconds.
    pub end: u64,
    /// Step in nanoseconds (range queries); defaults from the range.
    pub step: Option<u64>,
    /// An instant query: one value per series over `(start, end]`.
    pub instant: bool,
    /// At most this many series (more gives a `PARTIAL` response).
    pub max_series: usize,
    /// At most this many exemplars per metrics function (a `with(exemplars=…)` hint may ask for
    /// fewer); instant queries return none.
    pub exemplars: usize,
    /// The longest `end - start` accepted, nanoseconds (default 24h).
    pub max_range: u64,
    /// The latest end a query may have, unix nanoseconds: a later end is clamped to it and
    /// re-aligned (`range` sets it 30 s before now, as Tempo does, so that data still arriving
    /// does not show as a dip).
    pub end_cutoff: Option<u64>,
    /// The most memory the query may hold, bytes (`None`: no limit).
    pub memory_limit: Option<u64>,
    /// Stop the query with [`EngineError::Timeout`] once it has run this long (`None`: no
    /// limit).
    pub timeout: Option<std::time::Duration>,
}

impl MetricsRequest {
    /// A range query over `[start, end]` (unix nanoseconds) with the default step.
    pub fn range(query: impl Into<String>, start: u64, end: u64) -> Self {
        MetricsRequest {
            query: query.into(),
            start,
            end,
            step: None,
            instant: false,
            max_series: MAX_SERIES,
            exemplars: MAX_EXEMPLARS,
            max_range: MAX_RANGE,
            end_cutoff: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|now| (now.as_nanos() as u64).saturating_sub(END_CUTOFF)),
            memory_limit: None,
            timeout: None,
        }
    }
}

/// The finished series of a query, before serialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsResult {
    /// The intervals the values refer to.
    pub intervals: Intervals,
    /// Series, in response order.
    pub series: Vec<Series>,
    /// True when the series limit cut the result.
    pub partial: bool,
    /// What was read.
    pub metrics: MetricsQueryMetrics,
}

/// A parsed metrics query ready to accumulate.
struct Plan {
    expr: MetricsExpr,
    second_stages: Vec<SecondStage>,
    /// What the query scans: one pipeline per distinct way of reading and measuring spans,
    /// however many times the arithmetic needs it. `({ } | rate()) + ({ } | rate())` scans
    /// once, and so does `({ } | rate()) / ({ } | count_over_time())`: a `rate` is scanned
    /// as the `count_over_time` it divides by the step (see [`scan_of`]).
    pipelines: Vec<MetricsPipeline>,
    /// The distinct pipelines of `expr` (by their canonical text), each with the number of
    /// its scan in `pipelines`.
    outputs: Vec<(MetricsPipeline, usize)>,
    /// For each pipeline of `expr`, in visiting order, its number in `outputs`.
    occurrences: Vec<usize>,
    /// Exemplars to keep per metrics function.
    exemplars: usize,
    /// The sampling of each pipeline, in the order of `pipelines`.
    sampling: Vec<Sampling>,
    /// `with(extrapolate=true)`: spans count as the inverse of their recorded sampling
    /// probability.
    extrapolate: bool,
}

impl Plan {
    fn new(request: &MetricsRequest) -> Result<Plan, EngineError> {
        let parsed = parse(&request.query)?;
        let exemplars = match parsed.hint("exemplars") {
            _ if request.instant => 0,
            Some(Static::Bool(false)) => 0,
            Some(Static::Int(n)) => usize::try_from(*n).unwrap_or(0).min(request.exemplars),
            _ => request.exemplars,
        };
        let QueryBody::Metrics(m) = &parsed.body else {
            return Err(EngineError::WrongKind(
                "this is a search query: use search, not metrics".into(),
            ));
        };
        let mut outputs: Vec<(MetricsPipeline, usize)> = Vec::new();
        let mut pipelines: Vec<MetricsPipeline> = Vec::new();
        let mut occurrences = Vec::new();
        m.expr.visit_pipelines(&mut |p| {
            let text = p.to_string();
            let known = outputs.iter().position(|(o, _)| o.to_string() == text);
            let number = known.unwrap_or_else(|| {
                let scan = scan_of(p);
                let scan_text = scan.to_string();
                let known_scan = pipelines.iter().position(|s| s.to_string() == scan_text);
                let scan_number = known_scan.unwrap_or_else(|| {
                    pipelines.push(scan);
                    pipelines.len() - 1
                });
                outputs.push((p.clone(), scan_number));
                outputs.len() - 1
            });
            occurrences.push(number);
        });
        let sampling = pipelines
            .iter()
            .map(|p| Sampling::from_hints(&parsed, &p.pipeline))
            .collect();
        Ok(Plan {
            expr: m.expr.clone(),
            second_stages: m.second_stages.clone(),
            pipelines,
            outputs,
            occurrences,
            exemplars,
            sampling,
            extrapolate: parsed.hint("extrapolate") == Some(&Static::Bool(true)),
        })
    }
}

/// The scan that measures `p`: `p` without its second stages (they apply to its series
/// afterwards), and counting spans where it is a `rate` (its series are the counts over the
/// step, [`Series::counts_as_rates`]).
fn scan_of(p: &MetricsPipeline) -> MetricsPipeline {
    let mut scan = p.clone();
    scan.second_stages.clear();
    if scan.function.kind == MetricsFunctionKind::Rate {
        scan.function.kind = MetricsFunctionKind::CountOverTime;
    }
    scan
}

impl Plan {
    /// What a trace of the block `meta` is decoded with for this query: the fields its
    /// pipelines read, labels and measured values included (every part of the span for
    /// `compare`, which counts every attribute).
    fn projection(&self, meta: &BlockMeta) -> Projection {
        let mut fields = Vec::new();
        for pipeline in &self.pipelines {
            if let MetricsFunctionKind::Compare { .. } = pipeline.function.kind {
                return Projection::all();
            }
            visit_pipeline_fields(&pipeline.pipeline, &mut |f| fields.push(f));
            fields.extend(pipeline.function.by.iter().cloned());
            fields.extend(pipeline.function.kind.field().cloned());
        }
        fetch_projection(&fields, meta)
    }

    /// One accumulator per metrics function; a query whose one function's series go straight
    /// to the response keeps no more than `max_series` of them (see
    /// [`Accumulator::bounded`]).
    fn accumulators(&self, intervals: Intervals, max_series: usize) -> Vec<Measure> {
        let straight = matches!(&self.expr, MetricsExpr::Pipeline(p) if p.second_stages.is_empty())
            && self.second_stages.is_empty();
        self.pipelines
            .iter()
            .zip(&self.sampling)
            .map(|(p, s)| match &p.function.kind {
                MetricsFunctionKind::Compare {
                    filter,
                    top_n,
                    window,
                } => Measure::Compare(Comparison::new(
                    filter.clone(),
                    *top_n,
                    *window,
                    intervals,
                    s.weight(),
                )),
                _ => {
                    let acc = Accumulator::new(p, intervals, self.exemplars, s.weight());
                    Measure::Series(match straight {
                        true => acc.bounded(max_series),
                        false => acc,
                    })
                }
            })
            .collect()
    }
}

/// What a metrics function accumulates.
enum Measure {
    /// Every function but `compare`.
    Series(Accumulator),
    /// `compare(…)`.
    Compare(Comparison),
}

impl Measure {
    /// Whether the accumulator left series out (see [`Accumulator::bounded`]).
    fn cut(&self) -> bool {
        match self {
            Measure::Series(acc) => acc.cut(),
            Measure::Compare(_) => false,
        }
    }

    fn finish(self) -> Vec<Series> {
        match self {
            Measure::Series(acc) => acc.finish(),
            Measure::Compare(c) => c.finish(),
        }
    }
}

/// Runs a metrics query over the live blocks of `tenant`.
pub async fn metrics(
    catalog: &Catalog,
    tenant: &str,
    request: &MetricsRequest,
) -> Result<MetricsResult, EngineError> {
    metrics_with_progress(catalog, tenant, request, &Progress::default()).await
}

/// [`metrics`], counting blocks and spans in `progress` as it goes.
pub async fn metrics_with_progress(
    catalog: &Catalog,
    tenant: &str,
    request: &MetricsRequest,
    progress: &Progress,
) -> Result<MetricsResult, EngineError> {
    crate::deadline::within(
        request.timeout,
        run_metrics(catalog, tenant, request, progress),
    )
    .await
}

async fn run_metrics(
    catalog: &Catalog,
    tenant: &str,
    request: &MetricsRequest,
    progress: &Progress,
) -> Result<MetricsResult, EngineError> {
    let plan = Plan::new(request)?;
    let intervals = intervals(request)?;
    let mut accumulators = plan.accumulators(intervals, request.max_series);
    let mut metrics = MetricsQueryMetrics::default();
    let mut regexes = Regexes::default();
    let blocks = live_blocks(catalog, tenant, intervals).await?;
    metrics.total_blocks = blocks.len() as u32;
    metrics.total_jobs = blocks.len() as u32;
    metrics.total_block_bytes = blocks.iter().map(|b| b.size_bytes).sum();
    match columnar::plan(&plan, &blocks) {
        Some(pipelines) => {
            progress.set_blocks_total(blocks.len() * pipelines.len());
            let limit = request.memory_limit;
            for (columnar, measure) in pipelines.iter().zip(accumulators.iter_mut()) {
                match (columnar, measure) {
                    (PipelinePlan::Series(columnar), Measure::Series(acc)) => {
                        let exemplars = plan.exemplars > 0;
                        columnar::run(
                            columnar, catalog, intervals, exemplars, limit, acc, progress,
                        )
                        .await?
                    }
                    (PipelinePlan::Compare(columnar), Measure::Compare(comparison)) => {
                        columnar_compare::run(
                            columnar, catalog, intervals, limit, comparison, progress,
                        )
                        .await?
                    }
                    _ => {
                        return Err(EngineError::Internal(
                            "a columnar plan of another kind than its function".into(),
                        ));
                    }
                }
            }
            // Each span is inspected once, however many pipelines read it.
            metrics.inspected_spans = blocks.iter().map(|b| b.span_count).sum();
        }
        None => {
            let visit = |chunk| feed(&plan, &mut accumulators, chunk, &mut metrics, &mut regexes);
            match candidates::plan(&plan, &blocks) {
                Some(candidates) => {
                    candidates::run(&candidates, catalog, request.memory_limit, progress, visit)
                        .await?;
                    // Every span is inspected by the candidate scan.
                    metrics.inspected_spans = blocks.iter().map(|b| b.span_count).sum();
                }
                None => {
                    let projection = |meta: &BlockMeta| plan.projection(meta);
                    let limit = request.memory_limit;
                    scan_blocks(catalog, &blocks, progress, limit, projection, visit).await?
                }
            }
        }
    }
    // Every block was read to the end.
    metrics.inspected_bytes = metrics.total_block_bytes;
    metrics.completed_jobs = metrics.total_jobs;
    finish(&plan, accumulators, intervals, request.max_series, metrics)
}

/// The path [`metrics`] takes for `request` over the live blocks of `tenant`.
pub async fn execution_path(
    catalog: &Catalog,
    tenant: &str,
    request: &MetricsRequest,
) -> Result<ExecutionPath, EngineError> {
    let plan = Plan::new(request)?;
    let intervals = intervals(request)?;
    let blocks = live_blocks(catalog, tenant, intervals).await?;
    Ok(match columnar::plan(&plan, &blocks) {
        Some(_) => ExecutionPath::Columnar,
        None if candidates::plan(&plan, &blocks).is_some() => ExecutionPath::Candidates,
        None => ExecutionPath::Reference,
    })
}

/// Runs `request` and describes how: the execution path and, on the columnar path, each
/// block's DataFusion physical plan with the rows and time of every node.
pub async fn explain(
    catalog: &Catalog,
    tenant: &str,
    request: &MetricsRequest,
) -> Result<String, EngineError> {
    let plan = Plan::new(request)?;
    let intervals = intervals(request)?;
    let blocks = live_blocks(catalog, tenant, intervals).await?;
    let Some(pipelines) = columnar::plan(&plan, &blocks) else {
        if candidates::plan(&plan, &blocks).is_some() {
            return Ok(format!(
                "path: reference evaluator over candidate traces of {} block(s): a scan with \
                 the first stages' conditions pushed down finds the traces with a span that may \
                 match a filter; only those are read and evaluated\n",
                blocks.len()
            ));
        }
        return Ok(format!(
            "path: reference evaluator over {} block(s) (the query uses something the columnar \
             path does not lower yet)\n",
            blocks.len()
        ));
    };
    let mut out = format!(
        "path: columnar over {} block(s): per block, a filtered scan in DataFusion (its plan \
         below, run) whose rows are grouped by interval and labels in Rust\n",
        blocks.len()
    );
    let limit = request.memory_limit;
    for (number, columnar) in pipelines.iter().enumerate() {
        let measured: Vec<String> = (plan.outputs.iter())
            .filter(|(_, scan)| *scan == number)
            .map(|(p, _)| p.to_string())
            .collect();
        out.push_str(&format!("pipeline: {}\n", measured.join(" and ")));
        out.push_str(&match columnar {
            PipelinePlan::Series(c) => columnar::explain(c, catalog, intervals, limit).await?,
            PipelinePlan::Compare(c) => {
                columnar_compare::explain(c, catalog, intervals, limit).await?
            }
        });
    }
    Ok(out)
}

async fn live_blocks(
    catalog: &Catalog,
    tenant: &str,
    intervals: Intervals,
) -> Result<Vec<BlockMeta>, EngineError> {
    Ok(catalog
        .list_blocks(tenant)
        .await?
        .into_iter()
        .filter(|b| b.overlaps(intervals.start, intervals.end))
        .collect())
}

/// Runs a metrics query over traces held in memory.
pub fn metrics_traces(
    traces: Vec<Trace>,
    request: &MetricsRequest,
) -> Result<MetricsResult, EngineError> {
    let plan = Plan::new(request)?;
    let intervals = intervals(request)?;
    let mut accumulators = plan.accumulators(intervals, request.max_series);
    let mut metrics = MetricsQueryMetrics::default();
    feed(
        &plan,
        &mut accumulators,
        traces,
        &mut metrics,
        &mut Regexes::default(),
    )?;
    finish(&plan, accumulators, intervals, request.max_series, metrics)
}

/// The request's intervals: the range checked against `max_range`, then clamped to
/// `end_cutoff` (range queries re-align the clamped end down to a step).
fn intervals(request: &MetricsRequest) -> Result<Intervals, EngineError> {
    let format = |ns: u64| traceql_syntax::lexical::duration::format(ns as i64);
    let range = request.end.saturating_sub(request.start);
    if range > request.max_range {
        return Err(EngineError::InvalidRequest(format!(
            "range of {} is longer than the maximum of {}",
            format(range),
            format(request.max_range)
        )));
    }
    let too_recent = || {
        EngineError::InvalidRequest(format!(
            "the range must end before now minus {}",
            format(END_CUTOFF)
        ))
    };
    if request.instant {
        let end = request.end.min(request.end_cutoff.unwrap_or(u64::MAX));
        if end <= request.start {
            return Err(too_recent());
        }
        return Intervals::instant(request.start, end);
    }
    let mut intervals = Intervals::range(request.start, request.end, request.step)?;
    if let Some(cutoff) = request.end_cutoff
        && intervals.end > cutoff
    {
        intervals.end = cutoff / intervals.step * intervals.step;
        if intervals.end <= intervals.start {
            return Err(too_recent());
        }
    }
    Ok(intervals)
}

fn feed(
    plan: &Plan,
    accumulators: &mut [Measure],
    traces: Vec<Trace>,
    metrics: &mut MetricsQueryMetrics,
    regexes: &mut Regexes,
) -> Result<(), ExecError> {
    for trace in traces {
        metrics.inspected_spans += trace.spans.len() as u64;
        let view = TraceView::new(trace);
        let work = plan.pipelines.iter().zip(&plan.sampling);
        for ((pipeline, sampling), acc) in work.zip(accumulators.iter_mut()) {
            if !sampling.keeps_trace(&view.trace_id) {
                continue;
            }
            // Spans an exemplar may be picked from (only gathered when exemplars are wanted).
            let gather = plan.exemplars > 0 && matches!(acc, Measure::Series(_));
            let mut contributing = Vec::new();
            for spanset in run_pipeline(&pipeline.pipeline, &view, regexes)? {
                for &i in &spanset.spans {
                    if !sampling.keeps_span(&view.trace_id, &view.spans[i].span_id) {
                        continue;
                    }
                    let weight = if plan.extrapolate {
                        sampling::tracestate_weight(&view.spans[i].trace_state)
                    } else {
                        1.0
                    };
                    match acc {
                        Measure::Series(acc) => acc.add(&view, i, weight),
                        Measure::Compare(c) => c.add(&view, i, weight, regexes)?,
                    }
                    if gather {
                        contributing.push(i);
                    }
                }
            }
            if let Measure::Series(acc) = acc
                && !contributing.is_empty()
            {
                let chosen = exemplars::pick(&view.trace_id, contributing.len());
                acc.add_exemplar(&view, contributing[chosen]);
            }
        }
    }
    Ok(())
}

fn finish(
    plan: &Plan,
    accumulators: Vec<Measure>,
    intervals: Intervals,
    max_series: usize,
    metrics: MetricsQueryMetrics,
) -> Result<MetricsResult, EngineError> {
    let cut = accumulators.iter().any(Measure::cut);
    let scanned: Vec<Vec<Series>> = accumulators.into_iter().map(Measure::finish).collect();
    let step = intervals.step_seconds();
    let finished: Vec<Vec<Series>> = plan
        .outputs
        .iter()
        .map(|(p, scan)| {
            let mut series = scanned.get(*scan).cloned().unwrap_or_default();
            if p.function.kind == MetricsFunctionKind::Rate {
                series = series
                    .into_iter()
                    .map(|s| s.counts_as_rates(step))
                    .collect();
            }
            second_stages(series, &p.second_stages)
        })
        .collect();
    let mut occurrences = plan.occurrences.iter().copied();
    let mut series = match evaluate(&plan.expr, &finished, &mut occurrences)? {
        Operand::Series(s) => s,
        Operand::Scalar(_) => {
            return Err(ExecError::new("a metrics query needs a metrics function").into());
        }
    };
    series = second_stages(series, &plan.second_stages);
    series.retain(|s| s.values.iter().any(|v| !v.is_nan()));
    series.sort_by_cached_key(Series::sort_key);
    let partial = cut || series.len() > max_series;
    series.truncate(max_series);
    Ok(MetricsResult {
        intervals,
        series,
        partial,
        metrics,
    })
}

/// An operand of metrics arithmetic.
enum Operand {
    Series(Vec<Series>),
    Scalar(f64),
}

/// Evaluates arithmetic; `finished` holds the series of the distinct pipelines, and
/// `occurrences` the number among them of each pipeline `expr` names, in visiting order.
fn evaluate(
    expr: &MetricsExpr,
    finished: &[Vec<Series>],
    occurrences: &mut impl Iterator<Item = usize>,
) -> Result<Operand, ExecError> {
    Ok(match expr {
        MetricsExpr::Pipeline(_) => {
            let series = occurrences.next().and_then(|n| finished.get(n));
            Operand::Series(series.cloned().unwrap_or_default())
        }
        MetricsExpr::Literal(s) => Operand::Scalar(number(s)),
        MetricsExpr::Binary { op, lhs, rhs, .. } => {
            let l = evaluate(lhs, finished, occurrences)?;
            let r = evaluate(rhs, finished, occurrences)?;
            let apply = |a: f64, b: f64| match op {
                MetricsOp::Add => a + b,
                MetricsOp::Sub => a - b,
                MetricsOp::Mul => a * b,
                MetricsOp::Div if b == 0.0 => f64::NAN,
                MetricsOp::Div => a / b,
            };
            match (l, r) {
                (Operand::Scalar(a), Operand::Scalar(b)) => Operand::Scalar(apply(a, b)),
                // Arithmetic results carry no exemplars: their values no longer match a span.
                (Operand::Series(s), Operand::Scalar(k)) => Operand::Series(
                    s.into_iter()
                        .map(|x| x.map_values(|v| apply(v, k)).without_exemplars())
                        .collect(),
                ),
                (Operand::Scalar(k), Operand::Series(s)) => Operand::Series(
                    s.into_iter()
                        .map(|x| x.map_values(|v| apply(k, v)).without_exemplars())
                        .collect(),
                ),
                (Operand::Series(a), Operand::Series(b)) => {
                    Operand::Series(series::combine(*op, a, b, apply))
                }
            }
        }
    })
}

/// Applies `topk`, `bottomk` and comparison filters in order.
fn second_stages(mut series: Vec<Series>, stages: &[SecondStage]) -> Vec<Series> {
    for stage in stages {
        series = match &stage.kind {
            SecondStageKind::TopK(n) => series::top(series, *n as usize, true),
            SecondStageKind::BottomK(n) => series::top(series, *n as usize, false),
            SecondStageKind::Filter { op, value } => {
                let threshold = number(value);
                let keep = |v: f64| match op {
                    ComparisonOp::Eq => v == threshold,
                    ComparisonOp::Neq => v != threshold,
                    ComparisonOp::Lt => v < threshold,
                    ComparisonOp::Lte => v <= threshold,
                    ComparisonOp::Gt => v > threshold,
                    ComparisonOp::Gte => v >= threshold,
                };
                series
                    .into_iter()
                    .map(|mut s| {
                        s.exemplars.retain(|e| keep(e.value));
                        s.map_values(|v| if keep(v) { v } else { f64::NAN })
                    })
                    .filter(|s| s.values.iter().any(|v| !v.is_nan()))
                    .collect()
            }
        };
    }
    series
}

/// A literal as a metrics value (durations in seconds).
fn number(s: &Static) -> f64 {
    match s {
        Static::Int(v) => *v as f64,
        Static::Float(v) => *v,
        Static::Duration(v) => *v as f64 / 1e9,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pipelines written alike (whatever the spacing) are planned once and named by each of
    /// their occurrences in the arithmetic; a rate shares the scan of the count of the same
    /// spans; others keep their own.
    #[test]
    fn a_pipeline_repeated_in_arithmetic_is_planned_once() {
        let request = MetricsRequest::range(
            "({ } | rate()) + ({}|rate()) / ({ } | count_over_time()) - ({ } | rate()) \
             * ({ status = error } | rate()) + ({ } | rate() | topk(2))",
            0,
            60_000_000_000,
        );
        let plan = Plan::new(&request).expect("plan");
        let scans: Vec<String> = plan.pipelines.iter().map(|p| p.to_string()).collect();
        assert_eq!(scans.len(), 2, "{scans:?}");
        assert!(
            scans.iter().all(|s| s.contains("count_over_time")),
            "{scans:?}"
        );
        let outputs: Vec<usize> = plan.outputs.iter().map(|(_, scan)| *scan).collect();
        assert_eq!(
            outputs,
            vec![0, 0, 1, 0],
            "rate, count, error rate, rate | topk(2)"
        );
        assert_eq!(plan.occurrences, vec![0, 0, 1, 0, 2, 3]);
        assert_eq!(plan.sampling.len(), 2);
    }
}

//! Series: accumulation per metrics function, `topk`/`bottomk`, and arithmetic matching.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use traceql_syntax::ast::{Field, Intrinsic, MetricsFunctionKind, MetricsOp, MetricsPipeline};

use super::exemplars::{Budget, Exemplar};
use super::interval::Intervals;
use crate::reference::TraceView;
use crate::value::Val;

/// A series label.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// The label name (`resource.service.name`, `name`, `__name__`, `p`, `__bucket` …).
    pub key: String,
    /// Its typed value (nil shows as the string `"nil"`).
    pub value: Val,
}

/// One series: labels and a value per interval (NaN where there is none).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Labels, in order.
    pub labels: Vec<Label>,
    /// One value per interval.
    pub values: Vec<f64>,
    /// Example spans, by time.
    pub exemplars: Vec<Exemplar>,
}

impl Series {
    /// Response order: number of labels, then keys, then values as text.
    pub fn sort_key(&self) -> SortKey {
        sort_key(&self.labels)
    }

    pub(super) fn map_values(mut self, f: impl Fn(f64) -> f64) -> Series {
        for v in &mut self.values {
            *v = f(*v);
        }
        self
    }

    pub(super) fn without_exemplars(mut self) -> Series {
        self.exemplars.clear();
        self
    }

    /// The `rate` series of this `count_over_time` series over intervals of `step` seconds:
    /// each count over the step (as `rate` divides its own counts, so the values are the same
    /// to the bit), exemplars valued alike, and `__name__` saying `rate`.
    pub(super) fn counts_as_rates(mut self, step: f64) -> Series {
        for v in &mut self.values {
            *v /= step;
        }
        for e in &mut self.exemplars {
            e.value /= step;
        }
        for label in &mut self.labels {
            if label.key == "__name__" {
                label.value = Val::Str(MetricsFunctionKind::Rate.name().into());
            }
        }
        self
    }

    fn name(&self) -> Option<&Val> {
        self.labels
            .iter()
            .find(|l| l.key == "__name__")
            .map(|l| &l.value)
    }

    /// The labels that identify a series for arithmetic (internal ones left out).
    fn match_key(&self) -> String {
        let mut parts: Vec<String> = self
            .labels
            .iter()
            .filter(|l| !l.key.starts_with("__"))
            .map(|l| format!("{}={:?}", l.key, l.value))
            .collect();
        parts.sort();
        parts.join(",")
    }
}

fn label_text(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Nil => "nil".into(),
        other => format!("{other:?}"),
    }
}

/// Spans pre-aggregated per interval and series by the columnar path.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Partial {
    /// Spans in the group.
    pub spans: f64,
    /// Spans whose measured value is a number.
    pub measured: f64,
    /// Sum of the measured values (raw units: nanoseconds for durations).
    pub sum: f64,
    /// Smallest measured value, if any.
    pub min: Option<f64>,
    /// Largest measured value, if any.
    pub max: Option<f64>,
    /// For quantiles and histograms: the power-of-two bucket all the group's values fall in.
    pub bucket: Option<u64>,
}

/// Per-interval state of one series.
enum Cells {
    /// `rate`, `count_over_time`: a count per interval.
    Count(Vec<f64>),
    /// `min_over_time`, `max_over_time`: NaN until a value arrives.
    Extreme(Vec<f64>, bool),
    /// `sum_over_time`, `avg_over_time`: Kahan sum, compensation and (weighted) count.
    Sum(Vec<(f64, f64, f64)>, bool),
    /// `quantile_over_time`, `histogram_over_time`: (weighted) counts per power-of-two bucket.
    Buckets(Vec<BTreeMap<u64, f64>>),
}

/// An exemplar waiting for its value: counts and histograms take the series' value in the
/// exemplar's interval once all spans are in.
#[derive(Clone)]
struct PendingExemplar {
    exemplar: Exemplar,
    interval: usize,
    /// The histogram bucket the span fell in.
    bucket: Option<u64>,
}

/// One series being accumulated.
struct SeriesState {
    labels: Vec<Label>,
    cells: Cells,
    exemplars: Vec<PendingExemplar>,
}

/// Accumulates the series of one metrics pipeline.
pub(super) struct Accumulator {
    kind: MetricsFunctionKind,
    by: Vec<Field>,
    intervals: Intervals,
    series: Vec<SeriesState>,
    index: HashMap<String, usize>,
    seconds: bool,
    budget: Budget,
    /// What each counted span stands for (the inverse sampling probability).
    weight: f64,
    /// The series kept when their number is bounded (see [`Accumulator::bounded`]).
    bound: Option<Bound>,
}

/// The bound on an accumulator's series: it keeps the `max` first in response order.
struct Bound {
    max: usize,
    /// The kept series' response order keys and indexes, the last in response order on top.
    kept: BinaryHeap<(SortKey, usize)>,
    /// A series was left out.
    cut: bool,
}

/// A series' place in the response order (see [`Series::sort_key`]).
type SortKey = (usize, Vec<String>, Vec<String>);

/// The response order key of a series with `labels`.
fn sort_key(labels: &[Label]) -> SortKey {
    (
        labels.len(),
        labels.iter().map(|l| l.key.clone()).collect(),
        labels.iter().map(|l| label_text(&l.value)).collect(),
    )
}

impl Accumulator {
    /// An accumulator for `p` over `intervals` that keeps up to `exemplars` exemplars and
    /// scales counts and sums by `weight`.
    pub(super) fn new(
        p: &MetricsPipeline,
        intervals: Intervals,
        exemplars: usize,
        weight: f64,
    ) -> Accumulator {
        // `duration` values are seconds; other attributes keep their raw numbers (so
        // `trace:duration` stays in nanoseconds, as in Tempo).
        let seconds = matches!(
            p.function.kind.field(),
            Some(Field::Intrinsic(Intrinsic::Duration))
        );
        Accumulator {
            kind: p.function.kind.clone(),
            by: p.function.by.clone(),
            intervals,
            series: Vec::new(),
            index: HashMap::new(),
            seconds,
            budget: Budget::new(exemplars, intervals.start, intervals.end),
            weight,
            bound: None,
        }
    }

    /// The accumulator, keeping only the `max` series first in response order when it counts
    /// spans (`rate`, `count_over_time`): the response keeps no more (the others are cut, and
    /// it says so), and a count series always has values, so the kept ones are exactly those
    /// the response shows. A series that can no longer be among them is not created, which
    /// spares grouping by a high-cardinality attribute (`by (span.http.url)`) a series and its
    /// intervals per value. Only right for a query whose series are not combined or ranked
    /// afterwards (no arithmetic, no second stages).
    pub(super) fn bounded(mut self, max: usize) -> Accumulator {
        if matches!(
            self.kind,
            MetricsFunctionKind::Rate | MetricsFunctionKind::CountOverTime
        ) {
            self.bound = Some(Bound {
                max,
                kept: BinaryHeap::new(),
                cut: false,
            });
        }
        self
    }

    /// Whether a bound left series out.
    pub(super) fn cut(&self) -> bool {
        self.bound.as_ref().is_some_and(|b| b.cut)
    }

    /// With a bound: which series it keeps, so that a block can leave out before grouping
    /// ends the label combinations that cannot be among them.
    pub(super) fn first_series(&self) -> Option<FirstSeries> {
        let names: Vec<String> = self.by.iter().map(Field::canonical_name).collect();
        let ranks = names
            .iter()
            .map(|n| names.iter().filter(|other| *other < n).count())
            .collect();
        self.bound.as_ref().map(|bound| FirstSeries {
            max: bound.max,
            ranks,
        })
    }

    /// Records that series were left out before they reached the accumulator (see
    /// [`FirstSeries`]).
    pub(super) fn mark_cut(&mut self) {
        if let Some(bound) = &mut self.bound {
            bound.cut = true;
        }
    }

    /// The index of the series with `labels`, created empty on first use; `None` when the
    /// bound leaves it out.
    fn series_index(&mut self, labels: Vec<Label>) -> Option<usize> {
        let key = format!("{labels:?}");
        if let Some(&i) = self.index.get(&key) {
            return Some(i);
        }
        let mut replaced = None;
        if let Some(bound) = &mut self.bound {
            let order = sort_key(&labels);
            if self.series.len() >= bound.max {
                bound.cut = true;
                // It takes the place of the last kept series if it comes before it.
                match bound.kept.peek() {
                    Some((last, _)) if order < *last => {}
                    _ => return None,
                }
                let (_, last) = bound.kept.pop()?;
                self.index
                    .remove(&format!("{:?}", self.series[last].labels));
                replaced = Some(last);
            }
            bound
                .kept
                .push((order, replaced.unwrap_or(self.series.len())));
        }
        let state = SeriesState {
            labels,
            cells: self.empty_cells(),
            exemplars: Vec::new(),
        };
        let i = match replaced {
            Some(i) => {
                self.series[i] = state;
                i
            }
            None => {
                self.series.push(state);
                self.series.len() - 1
            }
        };
        self.index.insert(key, i);
        Some(i)
    }

    /// The cells of a new series.
    fn empty_cells(&self) -> Cells {
        let n = self.intervals.count();
        match &self.kind {
            MetricsFunctionKind::Rate | MetricsFunctionKind::CountOverTime => {
                Cells::Count(vec![0.0; n])
            }
            MetricsFunctionKind::MinOverTime(_) => Cells::Extreme(vec![f64::NAN; n], false),
            MetricsFunctionKind::MaxOverTime(_) => Cells::Extreme(vec![f64::NAN; n], true),
            MetricsFunctionKind::SumOverTime(_) => Cells::Sum(vec![(0.0, 0.0, 0.0); n], false),
            MetricsFunctionKind::AvgOverTime(_) => Cells::Sum(vec![(0.0, 0.0, 0.0); n], true),
            _ => Cells::Buckets(vec![BTreeMap::new(); n]),
        }
    }

    /// Adds span `i` of `view`, standing for `weight` spans (1 unless extrapolated).
    pub(super) fn add(&mut self, view: &TraceView, i: usize, weight: f64) {
        let span = &view.spans[i];
        let Some(slot) = self.intervals.index(span.start_time_unix_nano) else {
            return;
        };
        let ctx = view.context(i);
        let value = |f: &Field| ctx.field(f);
        let labels = self.labels(&value);
        let Some(idx) = self.series_index(labels) else {
            return;
        };
        let measured = self.kind.field().map(&value);
        match &mut self.series[idx].cells {
            Cells::Count(c) => c[slot] += weight,
            Cells::Extreme(c, is_max) => {
                if let Some(v) = measured.as_ref().and_then(|v| as_number(v, self.seconds)) {
                    let old = c[slot];
                    if old.is_nan() || (*is_max && v > old) || (!*is_max && v < old) {
                        c[slot] = v;
                    }
                }
            }
            Cells::Sum(c, _) => {
                if let Some(v) = measured.as_ref().and_then(|v| as_number(v, self.seconds)) {
                    let (sum, comp, count) = &mut c[slot];
                    let y = v * weight - *comp;
                    let t = *sum + y;
                    *comp = (t - *sum) - y;
                    *sum = t;
                    *count += weight;
                }
            }
            Cells::Buckets(c) => {
                if let Some(bucket) = bucket_of(measured.as_ref()) {
                    *c[slot].entry(bucket).or_default() += weight;
                }
            }
        }
    }

    /// Adds a group of spans that all fall in interval `slot` and share the series whose
    /// group-by fields `value` gives (pre-aggregated by the columnar path; weight 1).
    pub(super) fn add_partial(
        &mut self,
        value: &dyn Fn(&Field) -> Val,
        slot: usize,
        partial: &Partial,
    ) {
        if slot >= self.intervals.count() {
            return;
        }
        let labels = self.labels(value);
        let Some(idx) = self.series_index(labels) else {
            return;
        };
        let seconds = self.seconds;
        match &mut self.series[idx].cells {
            Cells::Count(c) => c[slot] += partial.spans,
            Cells::Extreme(c, is_max) => {
                let Some(v) = (if *is_max { partial.max } else { partial.min }) else {
                    return;
                };
                let v = scale(v, seconds);
                let old = c[slot];
                if old.is_nan() || (*is_max && v > old) || (!*is_max && v < old) {
                    c[slot] = v;
                }
            }
            Cells::Sum(c, _) => {
                if partial.measured > 0.0 {
                    let (sum, comp, count) = &mut c[slot];
                    let y = scale(partial.sum, seconds) - *comp;
                    let t = *sum + y;
                    *comp = (t - *sum) - y;
                    *sum = t;
                    *count += partial.measured;
                }
            }
            Cells::Buckets(c) => {
                if let Some(bucket) = partial.bucket {
                    *c[slot].entry(bucket).or_default() += partial.spans;
                }
            }
        }
    }

    /// The exemplar budget as it was before any exemplar was taken.
    pub(super) fn fresh_budget(&self) -> Budget {
        self.budget.fresh()
    }

    /// True while at least one more exemplar may be taken.
    pub(super) fn wants_exemplars(&self) -> bool {
        self.budget.has_room()
    }

    /// True while the exemplar budget has room for a span starting in `[from, to]` (unix
    /// nanoseconds).
    pub(super) fn wants_exemplars_between(&self, from: u64, to: u64) -> bool {
        self.budget.has_room_between(from, to)
    }

    /// Keeps span `i` of `view`, which `add` has counted, as an exemplar of its series when the
    /// budget has room at its start time.
    pub(super) fn add_exemplar(&mut self, view: &TraceView, i: usize) {
        let ctx = view.context(i);
        self.add_exemplar_with(view.spans[i].start_time_unix_nano, &|f: &Field| {
            ctx.field(f)
        });
    }

    /// Keeps a counted span that starts at `start` and whose fields `value` gives as an
    /// exemplar of its series when the budget has room at its start time.
    pub(super) fn add_exemplar_with(&mut self, start: u64, value: &dyn Fn(&Field) -> Val) {
        let Some(interval) = self.intervals.index(start) else {
            return;
        };
        if !self.budget.take(start) {
            return;
        }
        let series_labels = self.labels(value);
        let mut labels: Vec<Label> = [Intrinsic::TraceId, Intrinsic::SpanId]
            .into_iter()
            .map(|i| Label {
                key: Field::Intrinsic(i).canonical_name(),
                value: value(&Field::Intrinsic(i)),
            })
            .collect();
        labels.extend(
            series_labels
                .iter()
                .filter(|l| !l.key.starts_with("__") && l.value != Val::Nil)
                .cloned(),
        );
        let measured = self.kind.field().map(|f| (f.canonical_name(), value(f)));
        if let Some((key, v)) = &measured
            && *v != Val::Nil
            && labels.iter().all(|l| l.key != *key)
        {
            labels.push(Label {
                key: key.clone(),
                value: v.clone(),
            });
        }
        let measured = measured.map(|(_, v)| v);
        let (value, bucket) = match self.kind {
            MetricsFunctionKind::Rate | MetricsFunctionKind::CountOverTime => (f64::NAN, None),
            MetricsFunctionKind::HistogramOverTime(_) => {
                let Some(bucket) = bucket_of(measured.as_ref()) else {
                    return;
                };
                (f64::NAN, Some(bucket))
            }
            _ => match measured.as_ref().and_then(|v| as_number(v, self.seconds)) {
                Some(v) => (v, None),
                None => return,
            },
        };
        let Some(idx) = self.series_index(series_labels) else {
            return;
        };
        self.series[idx].exemplars.push(PendingExemplar {
            exemplar: Exemplar {
                labels,
                value,
                timestamp_ms: start / 1_000_000,
            },
            interval,
            bucket,
        });
    }

    /// The labels of the series a span whose fields `value` gives goes to.
    fn labels(&self, value: &dyn Fn(&Field) -> Val) -> Vec<Label> {
        series_labels(&self.kind, &self.by, value)
    }

    pub(super) fn finish(self) -> Vec<Series> {
        let step = self.intervals.step_seconds();
        let weight = self.weight;
        let seconds = self.seconds;
        let mut out = Vec::new();
        for SeriesState {
            labels,
            cells,
            exemplars,
        } in self.series
        {
            match cells {
                Cells::Count(c) => {
                    let values: Vec<f64> = match self.kind {
                        MetricsFunctionKind::Rate => c.iter().map(|v| v * weight / step).collect(),
                        _ => c.iter().map(|v| v * weight).collect(),
                    };
                    let exemplars = valued(&exemplars, &values, |_| true);
                    out.push(Series {
                        labels,
                        values,
                        exemplars,
                    });
                }
                Cells::Extreme(c, _) => out.push(Series {
                    labels,
                    values: c,
                    exemplars: measured(exemplars),
                }),
                Cells::Sum(c, avg) => {
                    let values = c
                        .iter()
                        .map(|(sum, _, count)| match (*count, avg) {
                            (n, _) if n <= 0.0 => f64::NAN,
                            (n, true) => sum / n,
                            (_, false) => sum * weight,
                        })
                        .collect();
                    out.push(Series {
                        labels,
                        values,
                        exemplars: measured(exemplars),
                    });
                }
                Cells::Buckets(c) => match &self.kind {
                    MetricsFunctionKind::QuantileOverTime { quantiles, .. } => {
                        for q in quantiles {
                            let mut l = labels.clone();
                            l.push(Label {
                                key: "p".into(),
                                value: Val::Float(*q),
                            });
                            let values = c
                                .iter()
                                .map(|b| scale(log2_quantile(*q, b), seconds))
                                .collect();
                            out.push(Series {
                                labels: l,
                                values,
                                exemplars: measured(exemplars.iter().cloned()),
                            });
                        }
                    }
                    _ => {
                        let bounds: std::collections::BTreeSet<u64> =
                            c.iter().flat_map(|b| b.keys().copied()).collect();
                        for bound in bounds {
                            let mut l = labels.clone();
                            l.push(Label {
                                key: "__bucket".into(),
                                value: Val::Float(scale(bound as f64, seconds)),
                            });
                            let values: Vec<f64> = c
                                .iter()
                                .map(|b| b.get(&bound).copied().unwrap_or(0.0) * weight)
                                .collect();
                            let exemplars =
                                valued(&exemplars, &values, |e| e.bucket == Some(bound));
                            out.push(Series {
                                labels: l,
                                values,
                                exemplars,
                            });
                        }
                    }
                },
            }
        }
        out
    }
}

/// Exemplars that carry their own measured value, by time.
fn measured(pending: impl IntoIterator<Item = PendingExemplar>) -> Vec<Exemplar> {
    let mut out: Vec<Exemplar> = pending.into_iter().map(|p| p.exemplar).collect();
    out.sort_by_key(|e| e.timestamp_ms);
    out
}

/// The exemplars `keep` admits, valued with the series' value in their interval, by time.
fn valued(
    pending: &[PendingExemplar],
    values: &[f64],
    keep: impl Fn(&PendingExemplar) -> bool,
) -> Vec<Exemplar> {
    let mut out: Vec<Exemplar> = pending
        .iter()
        .filter(|p| keep(p))
        .map(|p| Exemplar {
            value: values[p.interval],
            ..p.exemplar.clone()
        })
        .collect();
    out.sort_by_key(|e| e.timestamp_ms);
    out
}

/// The power-of-two bucket of a histogram or quantile value (values below 2 are not bucketed).
fn bucket_of(measured: Option<&Val>) -> Option<u64> {
    let raw = match measured {
        Some(Val::Int(v)) => u64::try_from(*v).ok(),
        Some(Val::Duration(v)) => u64::try_from(*v).ok(),
        _ => None,
    };
    raw.filter(|v| *v >= 2).map(u64::next_power_of_two)
}

fn as_number(v: &Val, seconds: bool) -> Option<f64> {
    match v {
        Val::Duration(d) if seconds => Some(*d as f64 / 1e9),
        Val::Int(_) | Val::Float(_) | Val::Duration(_) => v.as_f64(),
        _ => None,
    }
}

fn scale(v: f64, seconds: bool) -> f64 {
    if seconds { v / 1e9 } else { v }
}

/// The `p` quantile of power-of-two buckets (upper bound → count): walk to rank `ceil(p·N)`
/// and interpolate exponentially inside the bucket; 0 when there are no values.
pub fn log2_quantile(p: f64, buckets: &BTreeMap<u64, f64>) -> f64 {
    let total: f64 = buckets.values().sum();
    if total <= 0.0 || !(0.0..=1.0).contains(&p) {
        return 0.0;
    }
    let rank = (p * total).ceil().max(1.0);
    let mut seen = 0.0;
    for (&upper, &count) in buckets {
        if seen + count >= rank {
            let fraction = (rank - seen) / count;
            let lower = upper as f64 / 2.0;
            return lower * 2f64.powf(fraction);
        }
        seen += count;
    }
    buckets.keys().next_back().map_or(0.0, |u| *u as f64)
}

/// Keeps, at each timestamp, the `n` largest (or smallest) values; a series survives if it won
/// anywhere. Ties go to the series that sorts first.
pub(super) fn top(mut series: Vec<Series>, n: usize, largest: bool) -> Vec<Series> {
    if series.len() <= n {
        return series;
    }
    series.sort_by_cached_key(Series::sort_key);
    let points = series.first().map_or(0, |s| s.values.len());
    let winners: Vec<Vec<usize>> = (0..points)
        .map(|t| {
            let mut candidates: Vec<usize> = (0..series.len())
                .filter(|&i| !series[i].values[t].is_nan())
                .collect();
            candidates.sort_by(|&a, &b| {
                let (x, y) = (series[a].values[t], series[b].values[t]);
                let order = if largest {
                    y.total_cmp(&x)
                } else {
                    x.total_cmp(&y)
                };
                order.then(a.cmp(&b))
            });
            candidates.truncate(n);
            candidates
        })
        .collect();
    for (t, won) in winners.iter().enumerate() {
        for (i, s) in series.iter_mut().enumerate() {
            if !won.contains(&i) {
                s.values[t] = f64::NAN;
            }
        }
    }
    series
        .into_iter()
        .filter(|s| s.values.iter().any(|v| !v.is_nan()))
        .collect()
}

/// `a op b` between series sets: matched by labels (internal ones left out); a side holding one
/// unlabeled series applies to every series of the other; unmatched series are dropped.
pub(super) fn combine(
    op: MetricsOp,
    a: Vec<Series>,
    b: Vec<Series>,
    apply: impl Fn(f64, f64) -> f64,
) -> Vec<Series> {
    let unlabeled = |s: &[Series]| s.len() == 1 && s[0].match_key().is_empty();
    let name = |x: &Series, y: &Series| match (x.name(), y.name()) {
        (Some(Val::Str(l)), Some(Val::Str(r))) => Some(format!("({l} {} {r})", op_text(op))),
        _ => None,
    };
    let merge = |x: &Series, y: &Series, labels_from: &Series| {
        let mut labels: Vec<Label> = labels_from
            .labels
            .iter()
            .filter(|l| l.key != "__name__")
            .cloned()
            .collect();
        if let Some(n) = name(x, y) {
            labels.insert(
                0,
                Label {
                    key: "__name__".into(),
                    value: Val::Str(n),
                },
            );
        }
        let values = x
            .values
            .iter()
            .zip(&y.values)
            .map(|(p, q)| apply(*p, *q))
            .collect();
        Series {
            labels,
            values,
            exemplars: Vec::new(),
        }
    };
    if unlabeled(&b) && !unlabeled(&a) {
        return a.iter().map(|x| merge(x, &b[0], x)).collect();
    }
    if unlabeled(&a) && !unlabeled(&b) {
        return b.iter().map(|y| merge(&a[0], y, y)).collect();
    }
    let by_key: HashMap<String, &Series> = b.iter().map(|s| (s.match_key(), s)).collect();
    a.iter()
        .filter_map(|x| by_key.get(&x.match_key()).map(|y| merge(x, y, x)))
        .collect()
}

fn op_text(op: MetricsOp) -> &'static str {
    match op {
        MetricsOp::Add => "+",
        MetricsOp::Sub => "-",
        MetricsOp::Mul => "*",
        MetricsOp::Div => "/",
    }
}

/// Which series a bounded accumulator keeps: the first `max` in response order. A block
/// grouping by labels can leave out the combinations of label values that cannot be among
/// them: when more than `max` of its combinations come first, no later one can.
#[derive(Clone, Debug)]
pub(super) struct FirstSeries {
    /// How many series are kept.
    pub(super) max: usize,
    /// Per grouping field, the rank of its label name among theirs.
    ranks: Vec<usize>,
}

/// The response order of series with grouping labels, as [`sort_key`] orders them: the
/// number of labels, their names (by rank), then their values as text.
pub(super) type FirstOrder = (usize, Vec<usize>, Vec<String>);

impl FirstSeries {
    /// The order of the series whose grouping fields have `values` (in the order of `by`),
    /// labelled as [`series_labels`] labels them.
    pub(super) fn order<'a>(&self, values: impl Iterator<Item = &'a Val>) -> FirstOrder {
        let (mut ranks, mut texts) = (Vec::new(), Vec::new());
        for (value, rank) in values.zip(&self.ranks) {
            if *value != Val::Nil {
                ranks.push(*rank);
                texts.push(label_text(value));
            }
        }
        if ranks.is_empty() {
            // All nil (or no grouping): one label, the first field's, nil.
            let first = self.ranks.first().copied().unwrap_or(0);
            return (1, vec![first], vec![label_text(&Val::Nil)]);
        }
        (ranks.len(), ranks, texts)
    }
}

/// The labels of the series of function `kind` grouped `by` that a span whose fields `value`
/// gives goes to: canonical names; nil labels left out; all nil gives the first label as nil.
fn series_labels(
    kind: &MetricsFunctionKind,
    by: &[Field],
    value: &dyn Fn(&Field) -> Val,
) -> Vec<Label> {
    if by.is_empty() {
        return match kind {
            MetricsFunctionKind::QuantileOverTime { .. }
            | MetricsFunctionKind::HistogramOverTime(_) => vec![],
            _ => vec![Label {
                key: "__name__".into(),
                value: Val::Str(kind.name().into()),
            }],
        };
    }
    let labels: Vec<Label> = by
        .iter()
        .map(|f| Label {
            key: f.canonical_name(),
            value: value(f),
        })
        .filter(|l| l.value != Val::Nil)
        .collect();
    if labels.is_empty() {
        return vec![Label {
            key: by[0].canonical_name(),
            value: Val::Nil,
        }];
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h57_quantiles_are_log2_approximations() {
        // Three spans of 100 ms fall in the 2^27 ns bucket (134.217728 ms).
        let buckets = BTreeMap::from([(134_217_728u64, 3.0)]);
        let median = log2_quantile(0.5, &buckets);
        assert!((median / 1e6 - 100.0).abs() > 1.0, "not exact: {median}");
        assert!(median > 67_108_864.0 && median <= 134_217_728.0);
        assert_eq!(log2_quantile(1.0, &buckets), 134_217_728.0);
        assert_eq!(log2_quantile(0.5, &BTreeMap::new()), 0.0);
    }
}

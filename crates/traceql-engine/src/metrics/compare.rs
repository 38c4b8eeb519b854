//! `compare({filter}, topN, start, end)`: how attribute values differ between the spans a
//! filter selects (the selection) and the other spans of the pipeline (the baseline).

use std::collections::{BTreeMap, BTreeSet};

use traceql_syntax::ast::{Intrinsic, SpansetFilter};

use super::interval::Intervals;
use super::series::{Label, Series};
use crate::error::ExecError;
use crate::reference::{Regexes, TraceView, holds, value};
use crate::value::Val;

/// How many values per attribute `compare` keeps unless told.
const DEFAULT_TOP_N: usize = 10;

/// Counts per interval for one (class, attribute) pair.
#[derive(Default)]
struct AttributeCounts {
    /// Per value (keyed by its debug text, which keeps types apart): the value and its counts.
    values: BTreeMap<String, (Val, Vec<f64>)>,
    /// All spans of the class that have the attribute.
    total: Vec<f64>,
}

/// Accumulates a `compare(…)` function.
pub(super) struct Comparison {
    filter: SpansetFilter,
    top_n: usize,
    window: Option<(u64, u64)>,
    intervals: Intervals,
    weight: f64,
    /// Keyed by (`selection` or `baseline`, attribute name).
    counts: BTreeMap<(&'static str, String), AttributeCounts>,
}

impl Comparison {
    /// A comparison of the spans `filter` selects (within `window`, unix nanoseconds, when
    /// given) with the rest, keeping `top_n` values per attribute; counts scale by `weight`.
    pub(super) fn new(
        filter: SpansetFilter,
        top_n: Option<i64>,
        window: Option<(i64, i64)>,
        intervals: Intervals,
        weight: f64,
    ) -> Comparison {
        Comparison {
            filter,
            top_n: top_n.map_or(DEFAULT_TOP_N, |n| {
                usize::try_from(n).unwrap_or(DEFAULT_TOP_N)
            }),
            window: window_bounds(window),
            intervals,
            weight,
            counts: BTreeMap::new(),
        }
    }

    /// Counts the attributes of span `i` of `view`, standing for `weight` spans, in its class.
    pub(super) fn add(
        &mut self,
        view: &TraceView,
        i: usize,
        weight: f64,
        regexes: &mut Regexes,
    ) -> Result<(), ExecError> {
        let start = view.spans[i].start_time_unix_nano;
        let Some(slot) = self.intervals.index(start) else {
            return Ok(());
        };
        let in_window = self.window.is_none_or(|(s, e)| (s..=e).contains(&start));
        let selected = in_window && holds(&self.filter.expr, view, i, regexes)?;
        for (name, v) in attributes(view, i) {
            self.counts_of(selected, name, v, |counts| counts[slot] += weight);
        }
        Ok(())
    }

    /// Adds `counts` (one per interval) of spans of the selection (`selected`) or the baseline
    /// whose attribute `name` has `value`, a value [`is_compared`].
    pub(super) fn add_counts(&mut self, selected: bool, name: String, value: Val, counts: &[f64]) {
        self.counts_of(selected, name, value, |c| {
            for (total, n) in c.iter_mut().zip(counts) {
                *total += n;
            }
        });
    }

    /// Applies `add` to the counts of `value` of attribute `name` in its class, and to the
    /// attribute's totals.
    fn counts_of(&mut self, selected: bool, name: String, value: Val, add: impl Fn(&mut [f64])) {
        let class = if selected { "selection" } else { "baseline" };
        let n = self.intervals.count();
        let counts = self.counts.entry((class, name)).or_default();
        if counts.total.is_empty() {
            counts.total = vec![0.0; n];
        }
        add(&mut counts.total);
        let key = format!("{value:?}");
        add(&mut counts
            .values
            .entry(key)
            .or_insert_with(|| (value, vec![0.0; n]))
            .1);
    }

    /// The series: the `top_n` most frequent values per class and attribute, the totals, and
    /// one `__too_many_values__` series (zero everywhere) per attribute with more values.
    pub(super) fn finish(self) -> Vec<Series> {
        let n = self.intervals.count();
        let weight = self.weight;
        let series = |labels: Vec<Label>, values: &[f64]| Series {
            labels,
            values: values.iter().map(|v| v * weight).collect(),
            exemplars: Vec::new(),
        };
        let label = |key: &str, value: Val| Label {
            key: key.to_string(),
            value,
        };
        let mut out = Vec::new();
        let mut too_many = BTreeSet::new();
        for ((class, name), counts) in self.counts {
            let mut values: Vec<(Val, Vec<f64>)> = counts.values.into_values().collect();
            // Most frequent first; the sort is stable, so ties keep the values' key order.
            values.sort_by(|a, b| {
                let total = |c: &[f64]| c.iter().sum::<f64>();
                total(&b.1).total_cmp(&total(&a.1))
            });
            if values.len() > self.top_n {
                too_many.insert(name.clone());
                values.truncate(self.top_n);
            }
            for (v, counts) in values {
                out.push(series(
                    vec![
                        label("__meta_type", Val::Str(class.into())),
                        label(&name, v),
                    ],
                    &counts,
                ));
            }
            out.push(series(
                vec![
                    label("__meta_type", Val::Str(format!("{class}_total"))),
                    label(&name, Val::Nil),
                ],
                &counts.total,
            ));
        }
        for name in too_many {
            out.push(series(
                vec![
                    label("__meta_error", Val::Str("__too_many_values__".into())),
                    label(&name, Val::Nil),
                ],
                &vec![0.0; n],
            ));
        }
        out
    }
}

/// `compare`'s window as unix nanoseconds (a negative bound reads as 0).
pub(super) fn window_bounds(window: Option<(i64, i64)>) -> Option<(u64, u64)> {
    let to_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    window.map(|(s, e)| (to_u64(s), to_u64(e)))
}

/// Whether `compare` counts a value: scalars, statuses and kinds (not nil, arrays or opaque
/// values).
pub(super) fn is_compared(value: &Val) -> bool {
    matches!(
        value,
        Val::Str(_) | Val::Int(_) | Val::Float(_) | Val::Bool(_) | Val::Status(_) | Val::Kind(_)
    )
}

/// The attributes `compare` breaks down: span and resource attributes with scalar values, and
/// the span's name, status and kind.
fn attributes(view: &TraceView, i: usize) -> Vec<(String, Val)> {
    let span = &view.spans[i];
    let ctx = view.context(i);
    let scoped = |scope: &str, attrs: &[traceql_storage::model::KeyValue]| {
        attrs
            .iter()
            .map(|kv| (format!("{scope}.{}", kv.key), value(&kv.value)))
            .collect::<Vec<_>>()
    };
    let mut out = scoped("span", &span.attributes);
    out.extend(scoped("resource", &span.resource.attributes));
    for (name, intrinsic) in [
        ("name", Intrinsic::Name),
        ("status", Intrinsic::Status),
        ("kind", Intrinsic::Kind),
    ] {
        out.push((name.to_string(), ctx.intrinsic(intrinsic)));
    }
    out.retain(|(_, v)| is_compared(v));
    out
}

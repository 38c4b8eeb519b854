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
    values: BTreeMap<String, (Val, SlotCounts)>,
    /// All spans of the class that have the attribute.
    total: Vec<f64>,
}

/// Counts per interval of one value, kept sparse: most values of an attribute with many (user
/// IDs, URLs) occur in a few intervals, and a dense row per value took gigabytes.
#[derive(Clone, Debug, Default)]
pub(super) struct SlotCounts(Vec<(usize, f64)>);

impl SlotCounts {
    /// Adds `n` to the count of interval `slot`.
    pub(super) fn add(&mut self, slot: usize, n: f64) {
        // Spans come roughly in time order: most add to the interval added to last.
        if let Some(last) = self.0.last_mut()
            && last.0 == slot
        {
            last.1 += n;
            return;
        }
        match self.0.iter_mut().find(|(s, _)| *s == slot) {
            Some(entry) => entry.1 += n,
            None => self.0.push((slot, n)),
        }
    }

    /// Adds every count of `other`.
    fn merge(&mut self, other: &SlotCounts) {
        for &(slot, n) in &other.0 {
            self.add(slot, n);
        }
    }

    /// Whether every count is zero.
    pub(super) fn is_empty(&self) -> bool {
        self.0.iter().all(|(_, n)| *n == 0.0)
    }

    fn sum(&self) -> f64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    /// The counts of the `slots` intervals.
    fn dense(&self, slots: usize) -> Vec<f64> {
        let mut counts = vec![0.0; slots];
        for &(slot, n) in &self.0 {
            if let Some(c) = counts.get_mut(slot) {
                *c += n;
            }
        }
        counts
    }
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
        let mut counts = SlotCounts::default();
        counts.add(slot, weight);
        for (name, v) in attributes(view, i) {
            self.add_counts(selected, name, [(v, &counts)]);
        }
        Ok(())
    }

    /// Adds, for each value of attribute `name` in `values` (each a value [`is_compared`]), the
    /// counts of spans of the selection (`selected`) or the baseline that have it.
    pub(super) fn add_counts<'a>(
        &mut self,
        selected: bool,
        name: String,
        values: impl IntoIterator<Item = (Val, &'a SlotCounts)>,
    ) {
        let class = if selected { "selection" } else { "baseline" };
        let n = self.intervals.count();
        let attribute = self.counts.entry((class, name)).or_default();
        if attribute.total.is_empty() {
            attribute.total = vec![0.0; n];
        }
        for (value, counts) in values {
            for &(slot, count) in &counts.0 {
                if let Some(total) = attribute.total.get_mut(slot) {
                    *total += count;
                }
            }
            let key = format!("{value:?}");
            match attribute.values.get_mut(&key) {
                Some((_, kept)) => kept.merge(counts),
                None => {
                    attribute.values.insert(key, (value, counts.clone()));
                }
            }
        }
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
            // Each value with its total over the intervals.
            let mut values: Vec<(f64, Val, SlotCounts)> = (counts.values.into_values())
                .map(|(v, c)| (c.sum(), v, c))
                .collect();
            // Most frequent first; the sort is stable, so ties keep the values' key order.
            values.sort_by(|a, b| b.0.total_cmp(&a.0));
            if values.len() > self.top_n {
                too_many.insert(name.clone());
                values.truncate(self.top_n);
            }
            for (_, v, value_counts) in values {
                out.push(series(
                    vec![
                        label("__meta_type", Val::Str(class.into())),
                        label(&name, v),
                    ],
                    &value_counts.dense(n),
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

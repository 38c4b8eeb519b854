//! Property: on random data laid out in random blocks and row groups, every random metrics
//! query returns the same series, whichever path it takes (columnar, the reference over
//! candidate traces, the reference over the columns the query reads), as the reference
//! evaluator over every whole trace
//! (run over the same blocks' traces, in the order the blocks are scanned): counts exactly,
//! other values within floating-point tolerance, and the same exemplars.

use crate::common::traces_in_block_order;
use crate::layout;

use layout::{LATE_NANOS, Layout, catalog, layout, runtime, same_outcome};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use traceql_engine::metrics::{MetricsRequest, MetricsResult, metrics, metrics_traces};
use traceql_storage::generator::GeneratorConfig;

/// Metrics functions, with whether their values are counts (compared exactly).
const FUNCTIONS: &[(&str, bool)] = &[
    ("rate()", true),
    ("count_over_time()", true),
    ("histogram_over_time(duration)", true),
    ("min_over_time(duration)", false),
    ("max_over_time(duration)", false),
    ("avg_over_time(duration)", false),
    ("sum_over_time(duration)", false),
    ("avg_over_time(span.http.response.status_code)", false),
    ("max_over_time(span.http.response.status_code)", false),
    ("quantile_over_time(duration, .5, .9)", false),
    // Rare keys: in the generic lists of some blocks, in columns of their own in others.
    ("avg_over_time(span.app.order.amount)", false),
    ("histogram_over_time(span.app.order.items)", true),
    ("max_over_time(span.app.fraud.score)", false),
];

const BY: &[&str] = &[
    "",
    " by (resource.service.name)",
    " by (kind)",
    " by (status, name)",
    " by (span.http.route)",
    " by (rootServiceName)",
    " by (span.http.response.status_code)",
    " by (span.app.payment.card_type)",
    " by (span.app.fraud.flagged, kind)",
];

const SECOND_STAGES: &[&str] = &["", " | topk(2)", " | bottomk(2)"];

/// Sampling hints (none, most often).
const HINTS: &[&str] = &[
    "",
    "",
    "",
    " with(sample=0.5)",
    " with(span_sample=0.3)",
    " with(trace_sample=0.4)",
];

/// Spanset operators between two filters (the first stage the columnar path lowers besides a
/// single filter).
const STRUCTURAL: &[&str] = &[
    "&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>",
    "&<<", "&~",
];

fn filter() -> impl Strategy<Value = String> {
    let single = || prop_oneof![Just("{ }".to_string()), layout::filter()];
    prop_oneof![
        2 => single(),
        1 => (single(), proptest::sample::select(STRUCTURAL), single())
            .prop_map(|(lhs, op, rhs)| format!("{lhs} {op} {rhs}")),
    ]
}

/// A metrics query and whether its values are counts.
fn query() -> impl Strategy<Value = (String, bool)> {
    let series = (
        filter(),
        proptest::sample::select(FUNCTIONS),
        proptest::sample::select(BY),
        proptest::sample::select(SECOND_STAGES),
        proptest::sample::select(HINTS),
    )
        .prop_map(|(filter, (function, counts), by, second, hint)| {
            (format!("{filter} | {function}{by}{second}{hint}"), counts)
        });
    // `compare` after a single filter (the first stage it runs on the columnar path with).
    let compare = (
        prop_oneof![Just("{ }".to_string()), layout::filter()],
        layout::filter(),
        proptest::sample::select(&[1u32, 2, 10][..]),
    )
        .prop_map(|(filter, selection, top)| {
            (format!("{filter} | compare({selection}, {top})"), true)
        });
    prop_oneof![4 => series, 1 => compare]
}

/// A request over the whole generated range (split parts arrive up to `LATE_NANOS` later), or
/// when `narrow` over its middle third only (traces then cross the range's edges).
fn request(
    query: &str,
    step_seconds: u64,
    instant: bool,
    exemplars: usize,
    narrow: bool,
) -> MetricsRequest {
    let config = GeneratorConfig::default();
    let (start, end) = match narrow {
        true => {
            let third = config.window_nanos / 3;
            let start = config.start_unix_nano + third;
            (start, start + third)
        }
        false => (
            config.start_unix_nano - 60_000_000_000,
            config.start_unix_nano + config.window_nanos + LATE_NANOS + 600_000_000_000,
        ),
    };
    let mut request = MetricsRequest::range(query, start, end);
    request.step = Some(step_seconds * 1_000_000_000);
    request.instant = instant;
    request.exemplars = exemplars;
    request
}

/// True when `a` and `b` are the same value: exactly for counts, else within a relative
/// 1e-9 (summation order differs between the paths).
fn same_value(a: f64, b: f64, counts: bool) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    match counts {
        true => a == b,
        false => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
    }
}

fn same_series(
    query: &str,
    counts: bool,
    columnar: &MetricsResult,
    reference: &MetricsResult,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(columnar.series.len(), reference.series.len(), "{}", query);
    for (c, r) in columnar.series.iter().zip(&reference.series) {
        prop_assert_eq!(&c.labels, &r.labels, "{}", query);
        prop_assert_eq!(c.values.len(), r.values.len(), "{}", query);
        for (a, b) in c.values.iter().zip(&r.values) {
            prop_assert!(
                same_value(*a, *b, counts),
                "{query} {:?}: {a} vs {b}",
                c.labels
            );
        }
        prop_assert_eq!(
            format!("{:?}", c.exemplars),
            format!("{:?}", r.exemplars),
            "{}",
            query
        );
    }
    prop_assert_eq!(columnar.partial, reference.partial, "{}", query);
    Ok(())
}

fn same_metrics(
    layout: &Layout,
    (query, counts): &(String, bool),
    request: &MetricsRequest,
) -> Result<(), TestCaseError> {
    runtime().block_on(async {
        let catalog = catalog(layout).await;
        let columnar = metrics(&catalog, "t", request).await;
        let reference = metrics_traces(traces_in_block_order(&catalog).await, request);
        same_outcome(query, columnar, reference, |c, r| {
            same_series(query, *counts, &c, &r)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn columnar_metrics_equal_the_reference(
        layout in layout(),
        query in query(),
        step_seconds in proptest::sample::select(&[30u64, 60, 120, 600][..]),
        instant in any::<bool>(),
        exemplars in proptest::sample::select(&[0usize, 5, 100][..]),
        narrow in any::<bool>(),
    ) {
        let request = request(&query.0, step_seconds, instant, exemplars, narrow);
        same_metrics(&layout, &query, &request)?;
    }
}

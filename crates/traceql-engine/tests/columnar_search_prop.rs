//! Property: on random data laid out in random blocks and row groups, every random search
//! returns the same response on the columnar path as on the reference path (which evaluates
//! every trace with the reference evaluator). Covers the newest-first windows, the early stop,
//! traces split over blocks and every spanset operator, plain, negated and union.

use crate::layout;

use layout::{Layout, catalog, layout, runtime, same_outcome};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use traceql_engine::search::{SearchRequest, search};

const OPERATORS: &[&str] = &[
    "&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>", "!<<", "!~", "&>", "&<", "&>>",
    "&<<", "&~",
];

const SUFFIXES: &[&str] = &[
    "",
    " | count() > 2",
    " | select(span.http.route)",
    " | by(resource.service.name)",
    " | avg(duration) > 2ms",
    // Fields only later stages read: a fetched trace must still hold them.
    r#" | { event:name = "exception" }"#,
    " | { event.exception.type != nil || link:traceID != nil }",
    " | select(.server.address, resource.k8s.pod.name)",
    " | by(span.db.system)",
];

/// Stages that end a sub-pipeline operand (`by()` one may split a trace's spans, which is an
/// error when combined).
const OPERAND_STAGES: &[&str] = &[
    "count() > 1",
    "count() > 2",
    "select(span.http.route)",
    "coalesce()",
    "avg(duration) > 1ms",
    "by(resource.service.name)",
];

fn spanset() -> impl Strategy<Value = String> {
    let operator = || proptest::sample::select(OPERATORS);
    let stage = || proptest::sample::select(OPERAND_STAGES);
    layout::filter().prop_recursive(2, 4, 2, move |inner| {
        prop_oneof![
            3 => (inner.clone(), operator(), inner.clone())
                .prop_map(|(lhs, op, rhs)| format!("({lhs}) {op} ({rhs})")),
            // Sub-pipelines as operands: the first must end in a stage to read as one.
            1 => (inner.clone(), stage(), operator(), inner, proptest::option::of(stage()))
                .prop_map(|(lhs, first, op, rhs, second)| {
                    let second = second.map(|s| format!(" | {s}")).unwrap_or_default();
                    format!("({lhs} | {first}) {op} ({rhs}{second})")
                }),
        ]
    })
}

fn query() -> impl Strategy<Value = String> {
    (spanset(), proptest::sample::select(SUFFIXES)).prop_map(|(s, suffix)| s + suffix)
}

fn same_response(layout: &Layout, query: &str, limit: usize) -> Result<(), TestCaseError> {
    runtime().block_on(async {
        let catalog = catalog(layout).await;
        let mut request = SearchRequest::new(query);
        request.limit = limit;
        let columnar = search(&catalog, "t", &request).await;
        request.columnar = false;
        let reference = search(&catalog, "t", &request).await;
        same_outcome(query, columnar, reference, |mut c, r| {
            prop_assert_eq!(&c.traces, &r.traces, "{}", query);
            prop_assert!(c.metrics.inspected_spans <= r.metrics.inspected_spans);
            c.metrics = r.metrics.clone();
            prop_assert_eq!(c.to_json(), r.to_json(), "{}", query);
            Ok(())
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn columnar_search_equals_the_reference(
        layout in layout(),
        query in query(),
        limit in proptest::sample::select(&[1usize, 3, 20, 500][..]),
    ) {
        same_response(&layout, &query, limit)?;
    }
}

/// The newest results are late parts of split traces; their older parts sit in row groups the
/// early stop never scans, and must still be merged in.
#[test]
fn a_split_trace_is_whole_after_an_early_stop() -> Result<(), TestCaseError> {
    let layout = Layout {
        seed: 1,
        traces: 60,
        blocks: vec![0],
        split: 3,
        row_group_spans: 40,
    };
    same_response(&layout, "{ true }", 3)
}

/// Parts of split traces tie on `matched`: the merge must not depend on which part the
/// columnar path happened to evaluate first.
#[test]
fn merged_parts_do_not_depend_on_evaluation_order() -> Result<(), TestCaseError> {
    let layout = Layout {
        seed: 6_768_925_410_565_035_587,
        traces: 20,
        blocks: vec![0, 1, 0, 2],
        split: 3,
        row_group_spans: 150,
    };
    same_response(&layout, "{ true }", 20)
}

/// A fetched trace holds what later stages read even though the candidate scan never looked at
/// it: events, links, dedicated columns of keys only `select` names.
#[test]
fn later_stages_see_events_links_and_selected_columns() -> Result<(), TestCaseError> {
    let layout = Layout {
        seed: 11,
        traces: 80,
        blocks: vec![0, 1],
        split: 0,
        row_group_spans: 150,
    };
    for query in [
        r#"{ status = error } | { event:name = "exception" }"#,
        "{ kind = producer || kind = consumer } | { link:traceID != nil }",
        "{ true } | select(.server.address, resource.k8s.pod.name)",
    ] {
        same_response(&layout, query, 20)?;
    }
    Ok(())
}

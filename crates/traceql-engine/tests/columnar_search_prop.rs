//! Property: on random data laid out in random blocks and row groups, every random search
//! returns the same response on the columnar path as on the reference path (which evaluates
//! every trace with the reference evaluator). Covers the newest-first windows, the early stop,
//! traces split over blocks and every spanset operator, plain, negated and union.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use traceql_engine::search::{SearchRequest, search};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::Trace;
use traceql_storage::writer::{WriteOptions, write_block};

/// Conditions inside `{ … }`, over the generator's services and attributes.
const CONDITIONS: &[&str] = &[
    "true",
    "status = error",
    "kind = server",
    "kind = client",
    r#"resource.service.name = "frontend""#,
    r#"resource.service.name = "checkout""#,
    "duration > 5ms",
    r#"name =~ "GET.*""#,
    "span.http.response.status_code >= 500",
    r#"span.db.system = "postgresql""#,
    r#"rootServiceName = "frontend""#,
    "span.http.route != nil",
];

const OPERATORS: &[&str] = &[
    "&&", "||", ">", "<", ">>", "<<", "~", "!>", "!>>", "!~", "&>", "&>>", "&<<", "&~",
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

fn filter() -> impl Strategy<Value = String> {
    let condition = || proptest::sample::select(CONDITIONS);
    prop_oneof![
        condition().prop_map(|c| format!("{{ {c} }}")),
        (condition(), condition(), any::<bool>())
            .prop_map(|(a, b, and)| { format!("{{ {a} {} {b} }}", if and { "&&" } else { "||" }) }),
    ]
}

fn spanset() -> impl Strategy<Value = String> {
    filter().prop_recursive(2, 4, 2, |inner| {
        (inner.clone(), proptest::sample::select(OPERATORS), inner)
            .prop_map(|(lhs, op, rhs)| format!("({lhs}) {op} ({rhs})"))
    })
}

fn query() -> impl Strategy<Value = String> {
    (spanset(), proptest::sample::select(SUFFIXES)).prop_map(|(s, suffix)| s + suffix)
}

/// How much later the second part of a split trace starts.
const LATE_NANOS: u64 = 1_800_000_000_000;

/// How the generated traces are laid out: blocks, row-group size, split traces.
#[derive(Clone, Debug)]
struct Layout {
    seed: u64,
    traces: u64,
    /// Block of each trace (by index, cycled).
    blocks: Vec<u8>,
    /// Every `split`-th trace has its spans spread over two blocks, the second part half an
    /// hour later (0: none).
    split: u64,
    row_group_spans: usize,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        any::<u64>(),
        20u64..80,
        proptest::collection::vec(0u8..3, 1..8),
        prop_oneof![Just(0u64), 2u64..6, 2u64..6],
        proptest::sample::select(&[40usize, 150, 65_536][..]),
    )
        .prop_map(|(seed, traces, blocks, split, row_group_spans)| Layout {
            seed,
            traces,
            blocks,
            split,
            row_group_spans,
        })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

async fn catalog(layout: &Layout) -> Catalog {
    let catalog = Catalog::open(&format!("memory://prop-{}", uuid::Uuid::new_v4())).expect("open");
    let config = GeneratorConfig {
        seed: layout.seed,
        ..GeneratorConfig::default()
    };
    let mut parts: Vec<Vec<Trace>> = vec![Vec::new(); 3];
    for (i, trace) in Generator::new(config)
        .traces(0..layout.traces)
        .into_iter()
        .enumerate()
    {
        let home = usize::from(layout.blocks[i % layout.blocks.len()]);
        if layout.split > 0 && (i as u64).is_multiple_of(layout.split) && trace.spans.len() > 1 {
            let other = (home + 1) % 3;
            let (mut mine, mut theirs) = (Vec::new(), Vec::new());
            for (j, mut span) in trace.spans.into_iter().enumerate() {
                match j % 2 {
                    0 => mine.push(span),
                    _ => {
                        // Arriving much later: the part sorts far from the other one.
                        span.start_time_unix_nano += LATE_NANOS;
                        span.end_time_unix_nano += LATE_NANOS;
                        theirs.push(span);
                    }
                }
            }
            parts[home].push(Trace {
                trace_id: trace.trace_id,
                spans: mine,
            });
            parts[other].push(Trace {
                trace_id: trace.trace_id,
                spans: theirs,
            });
        } else {
            parts[home].push(trace);
        }
    }
    let options = WriteOptions {
        row_group_spans: layout.row_group_spans,
        ..WriteOptions::default()
    };
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        write_block(&catalog, "t", part, &options, vec![], 0)
            .await
            .expect("block");
    }
    catalog
}

fn same_response(layout: &Layout, query: &str, limit: usize) -> Result<(), TestCaseError> {
    runtime().block_on(async {
        let catalog = catalog(layout).await;
        let mut request = SearchRequest::new(query);
        request.limit = limit;
        let columnar = search(&catalog, "t", &request).await;
        request.columnar = false;
        let reference = search(&catalog, "t", &request).await;
        match (columnar, reference) {
            (Ok(mut c), Ok(r)) => {
                prop_assert_eq!(&c.traces, &r.traces, "{}", query);
                prop_assert!(c.metrics.inspected_spans <= r.metrics.inspected_spans);
                c.metrics = r.metrics.clone();
                prop_assert_eq!(c.to_json(), r.to_json(), "{}", query);
            }
            (Err(c), Err(r)) => prop_assert_eq!(c.to_string(), r.to_string(), "{}", query),
            (c, r) => prop_assert!(false, "{query}: columnar {c:?}, reference {r:?}"),
        }
        Ok(())
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

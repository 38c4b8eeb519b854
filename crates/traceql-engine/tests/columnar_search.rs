//! Search on the columnar path against the reference path on the same blocks: identical
//! responses (traces, spansets, attributes, service stats) for every query the columnar path
//! takes, at several limits and time ranges, including a trace whose spans sit in two blocks,
//! with one row group per block and with many; and the newest-first scan stopping early.

use traceql_engine::ExecutionPath;
use traceql_engine::search::{SearchRequest, execution_path, explain, search};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::{Span, Trace};
use traceql_storage::writer::{WriteOptions, write_block};

const COLUMNAR: &[&str] = &[
    "{ }",
    r#"{ span.db.system = "postgresql" }"#,
    r#"{ resource.service.name = "checkout" }"#,
    r#"{ rootServiceName = "frontend" && (status = error || span.http.response.status_code = 500) }"#,
    "{ } | count() > 20",
    r#"{ resource.service.name = "frontend" } >> { status = error }"#,
    r#"{ resource.service.name = "checkout" } > { kind = client }"#,
    "{ status = error } && { kind = server }",
    r#"{ name =~ "GET.*" } || { status = error }"#,
    "{ kind = server } ~ { kind = server }",
    "{ duration > 100ms } | by(resource.service.name) | count() > 1",
    "{ status = error } | select(span.http.route, resource.service.version)",
    "{ span.http.response.status_code >= 500 } &>> { kind = client }",
    "{ kind = client } < { kind = server } | avg(duration) > 1ms",
    "{ span.no.such.key = 1 }",
    "{ kind = server } !> { status = error }",
    "{ kind = server } !< { kind = client }",
    "{ status = error } !>> { }",
    "{ kind = client } !<< { kind = server }",
    r#"{ resource.service.name = "frontend" } !~ { kind = internal }"#,
    "({ kind = server } && { kind = client }) !> { status = error }",
    "({ status = error } | count() > 1) >> ({ kind = client })",
    "({ kind = server } | count() > 3) !~ ({ kind = client } | select(span.http.route))",
    // Event and link conditions: evaluated per event (link) in the scan.
    r#"{ event:name = "exception" }"#,
    r#"{ status = error && event.exception.type =~ "Payment.*" }"#,
    r#"{ event:name = "exception" || kind = server } && { kind = client }"#,
    r#"{ kind = consumer && link:spanID =~ "[0-9a-f]+" }"#,
    r#"{ event:name != "exception" }"#,
    r#"{ resource.service.name = "frontend" } > { event:name = "exception" }"#,
    r#"{ } > { event:name = "exception" && event.exception.type != nil }"#,
    r#"{ (event:name = "exception" && event:timeSinceStart > 1ms) || status = error }"#,
    r#"{ status = error && !(event:name = "exception") }"#,
    // A comparison with an array holds for any element: evaluated per span in the scan.
    r#"{ span.app.product.ids = "66VCHSJNUP" }"#,
    r#"{ span.app.product.ids =~ "1Y.*" && kind = server } >> { kind = client }"#,
    r#"{ resource.service.name = "checkout" && !(span.app.product.ids != nil) }"#,
    // Both events and links: loosened to "has events (links)".
    r#"{ event:name = "exception" || link:spanID =~ "[0-9a-f]+" }"#,
];

const REFERENCE_ONLY: &[&str] = &[
    r#"{ resource.service.name = "frontend" } > { !(event:name = "exception" && kind = server) }"#,
    "({ status = error } | by(resource.service.name)) && ({ kind = client })",
    "({ kind = server } | count() > 0) !>> ({ .x } | coalesce() | by(.y))",
];

/// Conditions on attributes a block keeps only in its generic lists (written with one dedicated
/// column per scope).
const GENERIC: &[&str] = &[
    r#"{ span.db.system = "postgresql" }"#,
    "{ span.http.response.status_code >= 500 }",
    "{ span.http.response.status_code = 200.0 && kind = server }",
    r#"{ resource.k8s.cluster.name =~ "prod.*" && span.http.route != nil }"#,
    "{ span.db.system = nil && kind = client }",
    r#"{ span.http.request.method != "GET" } >> { status = error }"#,
    // Unscoped: the span's value where the span has the key, else the resource's.
    r#"{ .db.system = "postgresql" }"#,
    r#"{ .http.route != nil && .k8s.cluster.name =~ "prod.*" }"#,
];

/// Generated traces in two blocks, with one trace's spans split between them, in row groups of
/// about `row_group_spans` spans.
async fn catalog(row_group_spans: usize) -> Catalog {
    let options = WriteOptions {
        row_group_spans,
        ..WriteOptions::default()
    };
    catalog_with(&options).await
}

/// [`catalog`], written with `options`.
async fn catalog_with(options: &WriteOptions) -> Catalog {
    let catalog = Catalog::open(&format!(
        "memory://columnar-search-{}",
        uuid::Uuid::new_v4()
    ))
    .expect("catalog");
    let mut traces = Generator::new(GeneratorConfig::default()).traces(0..400);
    let split = traces.remove(123);
    // Alternate spans go to the two blocks.
    let (mut first, mut second): (Vec<Span>, Vec<Span>) = (Vec::new(), Vec::new());
    for (i, span) in split.spans.into_iter().enumerate() {
        if i % 2 == 0 {
            first.push(span);
        } else {
            second.push(span);
        }
    }
    assert!(!first.is_empty() && !second.is_empty());
    let (a, b) = traces.split_at(200);
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.push(Trace {
        trace_id: split.trace_id,
        spans: first,
    });
    b.push(Trace {
        trace_id: split.trace_id,
        spans: second,
    });
    for part in [a, b] {
        write_block(&catalog, "t", part, options, vec![], 0)
            .await
            .expect("block");
    }
    catalog
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columnar_search_returns_the_reference_response() {
    for row_group_spans in [WriteOptions::default().row_group_spans, 400] {
        same_responses(&catalog(row_group_spans).await, COLUMNAR).await;
    }
}

/// Relations whose two sides each need a span of the trace: the scan keeps a span only when its
/// trace has both, which it can tell only from batches holding whole traces.
const TWO_SIDED: &[&str] = &[
    r#"{ resource.service.name = "frontend" } >> { status = error }"#,
    r#"{ resource.service.name != "frontend" } > { kind = client }"#,
    "{ kind = producer } ~ { kind = client }",
    r#"{ resource.service.name = "frontend" } && { kind = consumer }"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sided_searches_see_whole_traces_in_row_groups_larger_than_a_batch() {
    let catalog =
        Catalog::open(&format!("memory://two-sided-{}", uuid::Uuid::new_v4())).expect("catalog");
    let traces = Generator::new(GeneratorConfig::default()).traces(0..4000);
    let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    // DataFusion's batches hold 8192 rows unless told otherwise: several per row group here.
    assert!(spans > 4 * 8192, "{spans} spans");
    let meta = write_block(&catalog, "t", traces, &WriteOptions::default(), vec![], 0)
        .await
        .expect("block");
    assert_eq!(meta.row_groups, 1);
    same_responses(&catalog, TWO_SIDED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_on_generic_attributes_run_columnar() {
    let options = WriteOptions {
        dedicated_per_scope: 1,
        ..WriteOptions::default()
    };
    let catalog = catalog_with(&options).await;
    let metas = catalog.list_blocks("t").await.expect("blocks");
    for meta in &metas {
        let generic = meta.generic_keys.as_ref().expect("generic keys");
        for key in ["db.system", "http.response.status_code", "http.route"] {
            assert!(generic.span.iter().any(|k| k == key), "{key} has a column");
        }
    }
    same_responses(&catalog, GENERIC).await;
}

async fn same_responses(catalog: &Catalog, queries: &[&str]) {
    let catalog = catalog.clone();
    let window = GeneratorConfig::default().start_unix_nano / 1_000_000_000;
    for query in queries {
        for (limit, range) in [
            (20, None),
            (3, None),
            (1000, None),
            (10, Some((window + 600, window + 1800))),
        ] {
            let mut request = SearchRequest::new(*query);
            request.limit = limit;
            if let Some((start, end)) = range {
                request.start = Some(start);
                request.end = Some(end);
            }
            assert_eq!(
                execution_path(&catalog, "t", &request).await.expect("path"),
                ExecutionPath::Columnar,
                "{query}"
            );
            let columnar = search(&catalog, "t", &request)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            request.columnar = false;
            let reference = search(&catalog, "t", &request).await.expect("reference");
            for (c, r) in columnar.traces.iter().zip(&reference.traces) {
                assert_eq!(c, r, "{query} limit {limit}");
            }
            assert_eq!(
                columnar.traces.len(),
                reference.traces.len(),
                "{query} limit {limit}"
            );
            // The columnar path reads no more than the reference path, which reads everything.
            let (mut columnar, reference) = (columnar, reference);
            assert!(
                columnar.metrics.inspected_spans <= reference.metrics.inspected_spans,
                "{query} limit {limit}"
            );
            assert_eq!(
                columnar.metrics.total_block_bytes, reference.metrics.total_block_bytes,
                "{query} limit {limit}"
            );
            columnar.metrics = reference.metrics.clone();
            assert_eq!(
                columnar.to_json(),
                reference.to_json(),
                "{query} limit {limit}"
            );
            if !query.contains("no.such") && range.is_none() {
                assert!(!reference.traces.is_empty(), "{query} matches nothing");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_searches_stay_on_the_reference_path() {
    let catalog = catalog(WriteOptions::default().row_group_spans).await;
    for query in REFERENCE_ONLY {
        let request = SearchRequest::new(*query);
        assert_eq!(
            execution_path(&catalog, "t", &request).await.expect("path"),
            ExecutionPath::Reference,
            "{query}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_common_match_reads_only_the_newest_row_groups() {
    let catalog = catalog(150).await;
    let request = SearchRequest::new("{ }");
    let columnar = search(&catalog, "t", &request).await.expect("columnar");
    assert_eq!(columnar.traces.len(), 20);
    let total: u64 = catalog
        .list_blocks("t")
        .await
        .expect("blocks")
        .iter()
        .map(|b| b.span_count)
        .sum();
    assert!(
        columnar.metrics.inspected_spans * 4 < total,
        "read {} of {total} spans",
        columnar.metrics.inspected_spans
    );
}

/// Two blocks whose spans have different names, with one trace split between them: a search
/// for a name only one block holds passes over the other by the names its meta.json records,
/// without reading its footer, and answers as the reference path (which reads every block).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_passed_over_by_their_recorded_values_answer_as_the_reference() {
    let catalog =
        Catalog::open(&format!("memory://passed-over-{}", uuid::Uuid::new_v4())).expect("catalog");
    let named = |mut t: Trace, name: &str| {
        t.spans.iter_mut().for_each(|s| s.name = name.to_string());
        t
    };
    let mut traces = Generator::new(GeneratorConfig::default()).traces(0..40);
    let split = traces.remove(7);
    let half = split.spans.len() / 2;
    let (first, second) = split.spans.split_at(half);
    let part = |spans: &[Span], name: &str| {
        let spans = spans.to_vec();
        named(
            Trace {
                trace_id: split.trace_id,
                spans,
            },
            name,
        )
    };
    let (a, b) = traces.split_at(20);
    let mut a: Vec<Trace> = a.iter().map(|t| named(t.clone(), "in-a")).collect();
    let mut b: Vec<Trace> = b.iter().map(|t| named(t.clone(), "in-b")).collect();
    a.push(part(first, "in-a"));
    b.push(part(second, "in-b"));
    for block in [a, b] {
        write_block(&catalog, "t", block, &WriteOptions::default(), vec![], 0)
            .await
            .expect("block");
    }
    let queries = [
        r#"{ name = "in-a" }"#,
        r#"{ name != "in-b" }"#,
        r#"{ name = "in-b" } >> { name = "in-b" }"#,
        r#"{ name = "no.such.name" }"#,
    ];
    same_responses(&catalog, &queries).await;
    for (query, passed_over) in queries.iter().zip([1, 1, 1, 2]) {
        let explained = explain(&catalog, "t", &SearchRequest::new(*query))
            .await
            .expect("explain");
        let expected = format!("blocks: {passed_over} of 2 passed over");
        assert!(explained.contains(&expected), "{query}: {explained}");
    }
}

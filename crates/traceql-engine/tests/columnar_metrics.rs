//! The columnar metrics path against the reference evaluator: the same series and values on
//! generated shop traces written as blocks, for every query the columnar path takes; and the
//! queries it must leave to the reference path.

use traceql_engine::metrics::{
    ExecutionPath, MetricsRequest, MetricsResult, execution_path, metrics, metrics_traces,
};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::Trace;
use traceql_storage::read::read_block;
use traceql_storage::writer::{WriteOptions, write_block};

const COLUMNAR: &[&str] = &[
    "{ } | rate()",
    "{ } | count_over_time() by (resource.service.name)",
    "{ status = error } | rate() by (resource.service.name, name)",
    r#"{ span.http.request.method = "GET" && duration > 10ms } | count_over_time()"#,
    r#"{ resource.service.name =~ "check.*|cart" || kind = client } | rate() by (kind)"#,
    "{ span.http.response.status_code >= 500 } | count_over_time() by (span.http.route)",
    "{ span.http.response.status_code != 200 } | count_over_time() by (status)",
    r#"{ !(name = "GET /api/products") } | count_over_time()"#,
    "{ span.db.system != nil } | avg_over_time(duration) by (span.db.system)",
    "{ } | max_over_time(duration) by (resource.service.name)",
    "{ } | min_over_time(duration)",
    "{ kind = server } | sum_over_time(span.http.response.status_code)",
    r#"{ rootServiceName = "frontend" } | count_over_time() by (rootName)"#,
    "{ span.db.system = nil } | count_over_time()",
    "{ span.http.response.status_code > 499.5 } | rate()",
    "{ span.no.such.key = 3 } | rate()",
    r#"{ span.http.route !~ "/api/.*" } | count_over_time() by (span.http.route)"#,
    "{ } | rate() by (resource.service.name) | topk(3)",
    "{ status != ok } | count_over_time() by (statusMessage)",
];

const REFERENCE_ONLY: &[&str] = &[
    "{ } >> { status = error } | rate()",
    "{ } | quantile_over_time(duration, .5)",
    r#"{ event:name = "exception" } | rate()"#,
    "({ } | rate()) + ({ status = error } | rate())",
    "{ } | rate() with(sample=0.5)",
    "{ duration * 2 > 1s } | rate()",
];

fn traces() -> Vec<Trace> {
    Generator::new(GeneratorConfig::default()).traces(0..400)
}

async fn catalog(traces: &[Trace]) -> Catalog {
    let catalog =
        Catalog::open(&format!("memory://columnar-{}", uuid::Uuid::new_v4())).expect("catalog");
    // Two blocks, so that per-block plans and merging are exercised.
    let (a, b) = traces.split_at(traces.len() / 3);
    for part in [a, b] {
        write_block(
            &catalog,
            "t",
            part.to_vec(),
            &WriteOptions::default(),
            vec![],
            0,
        )
        .await
        .expect("block");
    }
    catalog
}

fn request(query: &str) -> MetricsRequest {
    let config = GeneratorConfig::default();
    let start = config.start_unix_nano - 60_000_000_000;
    let mut r = MetricsRequest::range(query, start, start + config.window_nanos + 600_000_000_000);
    r.step = Some(120_000_000_000);
    r
}

/// Labels and values of every series, values rounded to absorb summation order.
fn series(r: &MetricsResult) -> Vec<(String, Vec<String>)> {
    r.series
        .iter()
        .map(|s| {
            (
                format!("{:?}", s.labels),
                s.values
                    .iter()
                    .map(|v| {
                        if v.is_nan() {
                            "NaN".into()
                        } else {
                            format!("{v:.9e}")
                        }
                    })
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columnar_metrics_agree_with_the_reference() {
    let traces = traces();
    let catalog = catalog(&traces).await;
    for query in COLUMNAR {
        let request = request(query);
        assert_eq!(
            execution_path(&catalog, "t", &request).await.expect("path"),
            ExecutionPath::Columnar,
            "{query}"
        );
        let columnar = metrics(&catalog, "t", &request)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let reference = metrics_traces(traces.clone(), &request).expect("reference");
        assert_eq!(series(&columnar), series(&reference), "{query}");
        assert_eq!(columnar.partial, reference.partial, "{query}");
        assert_eq!(
            columnar.metrics.inspected_spans, reference.metrics.inspected_spans,
            "{query}"
        );
        // Every case but the one about a missing key matches something.
        assert_eq!(
            reference.series.is_empty(),
            query.contains("no.such"),
            "{query}"
        );
    }
}

/// The blocks' traces in the order a scan of the catalog meets them.
async fn traces_in_block_order(catalog: &Catalog) -> Vec<Trace> {
    let mut all = Vec::new();
    for block in catalog.list_blocks("t").await.expect("blocks") {
        all.extend(read_block(catalog, &block).await.expect("read"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columnar_exemplars_are_the_references() {
    let catalog = catalog(&traces()).await;
    // Exemplars depend on the order traces are met: give the reference the scan's order.
    let traces = traces_in_block_order(&catalog).await;
    for query in [
        "{ } | rate() by (resource.service.name)",
        "{ status = error } | max_over_time(duration)",
    ] {
        let mut request = request(query);
        request.exemplars = 20;
        let columnar = metrics(&catalog, "t", &request).await.expect("columnar");
        let reference = metrics_traces(traces.clone(), &request).expect("reference");
        let exemplars = |r: &MetricsResult| {
            r.series
                .iter()
                .map(|s| format!("{:?}", s.exemplars))
                .collect::<Vec<_>>()
        };
        let total: usize = columnar.series.iter().map(|s| s.exemplars.len()).sum();
        assert!(total > 0 && total <= 20, "{query}: {total} exemplars");
        assert_eq!(exemplars(&columnar), exemplars(&reference), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_queries_stay_on_the_reference_path() {
    let traces = traces();
    let catalog = catalog(&traces).await;
    for query in REFERENCE_ONLY {
        let request = request(query);
        assert_eq!(
            execution_path(&catalog, "t", &request).await.expect("path"),
            ExecutionPath::Reference,
            "{query}"
        );
    }
}

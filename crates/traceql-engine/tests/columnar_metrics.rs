//! The columnar metrics path against the reference evaluator: the same series and values on
//! generated shop traces written as blocks, for every query the columnar path takes; and the
//! queries it must leave to the reference path.

use crate::common::traces_in_block_order;
use traceql_engine::ExecutionPath;
use traceql_engine::metrics::{
    MetricsRequest, MetricsResult, execution_path, metrics, metrics_traces,
};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::Trace;
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
    "{ } | quantile_over_time(duration, .99, .9, .5)",
    "{ } | quantile_over_time(duration, .99) by (span.http.response.status_code)",
    "{ } | histogram_over_time(duration)",
    "({ } | rate()) / ({ } | count_over_time())",
    "({ status = error } | rate() by (resource.service.name)) + ({ } | rate() by (resource.service.name))",
    "{ } >> { status = error } | rate()",
    "{ kind = server } > { kind = client } | count_over_time() by (resource.service.name)",
    "{ } !< { } | rate()",
    "{ status = error } &>> { } | avg_over_time(duration) by (kind)",
    "{ kind = client } ~ { kind = client } | quantile_over_time(duration, .9)",
    r#"{ resource.service.name = "frontend" } !>> { } | count_over_time() by (resource.service.name)"#,
    "{ kind = server } << { status = error } | max_over_time(duration)",
    "({ } | rate()) + ({ } >> { } | rate())",
    "{ status = error } && { kind = server } | rate() by (resource.service.name)",
    "{ kind = client } || { status = error } | count_over_time() by (kind)",
    r#"{ name != nil } | compare({ status = error })"#,
    r#"{ } | compare({ resource.service.name = "frontend" && duration > 20ms }, 3)"#,
    "{ kind = server } | compare({ span.http.response.status_code >= 500 }, 1000)",
    "{ } | rate() by (span.app.payment.card_type)",
    "{ } | avg_over_time(span.app.order.amount) by (resource.service.name)",
    "{ } | avg_over_time(span.http.route)",
    "{ } | quantile_over_time(span.http.route, .5)",
    "{ } | rate() with(sample=0.5)",
    "{ status = error } | count_over_time() by (resource.service.name) with(sample=0.3)",
    "{ kind = server } | sum_over_time(duration) with(span_sample=0.25)",
    "{ } | avg_over_time(duration) by (kind) with(trace_sample=0.4)",
    "{ } | histogram_over_time(duration) with(sample=0.2)",
    "{ kind = server } >> { status = error } | rate() with(sample=0.5)",
    r#"{ event:name = "exception" } | rate()"#,
    r#"{ event:name = "exception" } | count_over_time() by (resource.service.name)"#,
    r#"{ status = error && event.exception.type =~ "Payment.*" } | rate() by (name)"#,
    r#"{ status = error && event:name != "no-such-event" } | rate()"#,
    r#"{ kind = consumer && link:spanID =~ "[0-9a-f]+" } | count_over_time()"#,
    r#"{ event:name = "exception" } > { } | rate()"#,
    r#"{ } | compare({ event:name = "exception" })"#,
    r#"{ event.exception.type != nil } | compare({ resource.service.name = "payment" }, 5)"#,
    r#"{ span.app.product.ids =~ "1Y.*" } | rate() by (resource.service.name)"#,
];

/// Queries the columnar path does not lower whose first stages are filters: the reference
/// evaluator over the traces a scan of their conditions finds.
const CANDIDATES: &[&str] = &[
    r#"{ event:name = "exception" } | count() > 1 | rate()"#,
    r#"{ status = error && !(event:name = "x" && kind = server) } | count_over_time() by (name)"#,
    "{ status = error } >> { kind = client } && { kind = server } | rate()",
    "{ status = error } | count() > 1 | count_over_time() by (resource.service.name)",
    "{ kind = server } >> { status = error } | compare({ span.http.response.status_code >= 500 })",
    "{ kind = server } >> { status = error } | rate() with(span_sample=0.5)",
    "{ status = error } | compare({ kind = server }) with(sample=0.5)",
];

const REFERENCE_ONLY: &[&str] = &[
    "{ } >> { status = error } && { kind = client } | rate()",
    "{ } >> { } | compare({ status = error })",
    "{ } | compare({ kind = server }) with(sample=0.5)",
    "{ duration * 2 > 1s } | rate()",
    r#"{ !(event:name = "exception" && kind = server) } | rate()"#,
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

/// The exemplars of every series.
fn exemplars(r: &MetricsResult) -> Vec<String> {
    r.series
        .iter()
        .map(|s| format!("{:?}", s.exemplars))
        .collect()
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
        let (columnar, reference) =
            on_path_as_reference(&catalog, &traces, &request, ExecutionPath::Columnar).await;
        assert_eq!(columnar.partial, reference.partial, "{query}");
        // Every case matches something but the one about a missing key and the average of a
        // string attribute (never a number; quantiles of it still make their series).
        assert_eq!(
            reference.series.is_empty(),
            query.contains("no.such") || query.contains("avg_over_time(span.http.route"),
            "{query}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columnar_exemplars_are_the_references() {
    let catalog = catalog(&traces()).await;
    // Exemplars depend on the order traces are met: give the reference the scan's order.
    let traces = traces_in_block_order(&catalog).await;
    for query in [
        "{ } | rate() by (resource.service.name)",
        "{ status = error } | max_over_time(duration)",
        // Operators that list some spans first: the exemplar is picked in their order.
        "{ } &< { } | rate()",
        "{ kind = client } || { kind = server } | rate()",
    ] {
        let mut request = request(query);
        request.exemplars = 20;
        let columnar = metrics(&catalog, "t", &request).await.expect("columnar");
        let reference = metrics_traces(traces.clone(), &request).expect("reference");
        let total: usize = columnar.series.iter().map(|s| s.exemplars.len()).sum();
        assert!(total > 0 && total <= 20, "{query}: {total} exemplars");
        assert_eq!(exemplars(&columnar), exemplars(&reference), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidate_traces_give_the_references_series_and_exemplars() {
    let catalog = catalog(&traces()).await;
    // Exemplars depend on the order traces are met: give the reference the scan's order.
    let traces = traces_in_block_order(&catalog).await;
    for query in CANDIDATES {
        let request = request(query);
        let (candidates, reference) =
            on_path_as_reference(&catalog, &traces, &request, ExecutionPath::Candidates).await;
        assert_eq!(exemplars(&candidates), exemplars(&reference), "{query}");
        assert!(!reference.series.is_empty(), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_queries_stay_on_the_reference_path() {
    let catalog = catalog(&traces()).await;
    let traces = traces_in_block_order(&catalog).await;
    for query in REFERENCE_ONLY {
        // Read from the blocks with only the columns the query reads: the same series and
        // exemplars as the reference over whole traces.
        let (read, whole) =
            on_path_as_reference(&catalog, &traces, &request(query), ExecutionPath::Reference)
                .await;
        assert_eq!(exemplars(&read), exemplars(&whole), "{query}");
    }
}

/// The response to `request` over `catalog`, after checking that it runs on the columnar path
/// and returns the series the reference path returns over `traces`.
async fn columnar_as_reference(
    catalog: &Catalog,
    traces: &[Trace],
    request: &MetricsRequest,
) -> MetricsResult {
    on_path_as_reference(catalog, traces, request, ExecutionPath::Columnar)
        .await
        .0
}

/// The responses to `request` over `catalog` and of the reference over `traces`, after
/// checking that the first runs on `path` and returns the reference's series.
async fn on_path_as_reference(
    catalog: &Catalog,
    traces: &[Trace],
    request: &MetricsRequest,
    path: ExecutionPath,
) -> (MetricsResult, MetricsResult) {
    let query = &request.query;
    assert_eq!(
        execution_path(catalog, "t", request).await.expect("path"),
        path,
        "{query}"
    );
    let response = metrics(catalog, "t", request)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let reference = metrics_traces(traces.to_vec(), request).expect("reference");
    assert_eq!(series(&response), series(&reference), "{query}");
    assert_eq!(
        response.metrics.inspected_spans, reference.metrics.inspected_spans,
        "{query}"
    );
    (response, reference)
}

/// `compare` counts what the generic lists hold as the reference does: keys without a column
/// of their own, values of another type than their key's column, repeated keys, and values it
/// leaves out (arrays); and it keeps to its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columnar_compare_counts_generic_attributes_as_the_reference() {
    use traceql_storage::model::{KeyValue, Value};
    let mut traces = valued(&(0..60).collect::<Vec<_>>());
    for (n, trace) in traces.iter_mut().enumerate() {
        let attributes = &mut trace.spans[0].attributes;
        // `mixed` is an integer on most spans (its column's type) and a string on some.
        let mixed = match n % 7 {
            0 => Value::String(format!("s{}", n % 3)),
            _ => Value::Int((n % 4) as i64),
        };
        attributes.push(KeyValue::new("mixed", mixed));
        attributes.push(KeyValue::new("w", Value::Int(n as i64)));
        attributes.push(KeyValue::new("v", Value::String("again".into())));
        attributes.push(KeyValue::new("list", Value::Array(vec![Value::Int(1)])));
        if n % 2 == 0 {
            attributes.push(KeyValue::new("rare.double", Value::Double(n as f64 / 4.0)));
            attributes.push(KeyValue::new("rare.bool", Value::Bool(n % 4 == 0)));
        }
    }
    let catalog = one_block_with_rare_keys_generic(&traces).await;
    let start = GeneratorConfig::default().start_unix_nano;
    let (from, to) = (start + 10_000_000_000, start + 40_000_000_000);
    for query in [
        "{ } | compare({ span.w > 20 })".to_string(),
        format!("{{ span.w > 3 }} | compare({{ span.w < 30 }}, 2, {from}, {to})"),
    ] {
        let mut request = MetricsRequest::range(&query, start, start + 120_000_000_000);
        request.step = Some(15_000_000_000);
        let columnar = columnar_as_reference(&catalog, &traces, &request).await;
        let labels = format!("{:?}", series(&columnar));
        for name in ["span.mixed", "span.rare.double", "span.rare.bool", "span.v"] {
            assert!(labels.contains(name), "{query}: no {name} in {labels}");
        }
        assert!(
            !labels.contains("span.list"),
            "{query}: arrays are left out"
        );
    }
}

/// Attributes kept only in the generic lists serve as labels and measured values on the
/// columnar path, as on the reference path: each span's first value of the key, of whatever
/// type (strings, integers, doubles, booleans under one key), numbers only where a number is
/// measured, integers only where values are bucketed. Keys holding arrays are left to the
/// reference path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_attributes_are_labels_and_measured_values_as_on_the_reference_path() {
    use traceql_storage::model::{KeyValue, Value};
    let mut traces = valued(&(0..60).collect::<Vec<_>>());
    for (n, trace) in traces.iter_mut().enumerate() {
        let attributes = &mut trace.spans[0].attributes;
        if n % 2 == 0 {
            let mixed = match n % 10 {
                0 => Value::String(format!("s{}", n % 3)),
                2 => Value::Double(n as f64 / 4.0),
                4 => Value::Bool(n % 3 == 0),
                _ => Value::Int(n as i64 * 1000),
            };
            attributes.push(KeyValue::new("rare.mixed", mixed));
            // A repeated key: the first value counts.
            attributes.push(KeyValue::new("rare.mixed", Value::Int(-1)));
            attributes.push(KeyValue::new("rare.bool", Value::Bool(n % 4 == 0)));
        }
        if n % 3 == 0 {
            attributes.push(KeyValue::new(
                "rare.list",
                Value::Array(vec![Value::Int(1)]),
            ));
        }
    }
    let catalog = one_block_with_rare_keys_generic(&traces).await;
    let start = GeneratorConfig::default().start_unix_nano;
    let request = |query: &str| {
        let mut request = MetricsRequest::range(query, start, start + 120_000_000_000);
        request.step = Some(15_000_000_000);
        request
    };
    for query in [
        "{ } | count_over_time() by (span.rare.mixed)",
        "{ } | count_over_time() by (span.rare.mixed, span.rare.bool)",
        "{ } | avg_over_time(span.rare.mixed) by (span.rare.bool)",
        "{ } | max_over_time(span.rare.mixed)",
        "{ } | histogram_over_time(span.rare.mixed)",
        "{ } | quantile_over_time(span.rare.mixed, .5, .9)",
        "{ } !< { } | count_over_time() by (span.rare.mixed)",
        // Unscoped: only spans have the key.
        "{ } | count_over_time() by (.rare.mixed)",
        "{ } | avg_over_time(.rare.mixed) by (.rare.bool)",
    ] {
        let (columnar, reference) =
            on_path_as_reference(&catalog, &traces, &request(query), ExecutionPath::Columnar).await;
        assert_eq!(exemplars(&columnar), exemplars(&reference), "{query}");
        assert!(!columnar.series.is_empty(), "{query}");
    }
    let labels = format!(
        "{:?}",
        series(
            &metrics(&catalog, "t", &request("{ } | rate() by (span.rare.mixed)"))
                .await
                .expect("labels")
        )
    );
    for value in ["s0", "Int(8000)", "Float(3.0)", "Bool(true)"] {
        assert!(labels.contains(value), "no {value} in {labels}");
    }
    let list = request("{ } | rate() by (span.rare.list)");
    assert_eq!(
        execution_path(&catalog, "t", &list).await.expect("path"),
        ExecutionPath::Reference
    );
}

/// An unscoped attribute reads the span's value where the span has the key, whatever the value,
/// else the resource's: on the columnar path as on the reference path, with the key in columns
/// of its own and in the generic lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unscoped_attributes_read_the_spans_value_first_on_the_columnar_path() {
    use std::sync::Arc;
    use traceql_storage::model::{KeyValue, Resource, Value};
    let mut traces = valued(&(0..40).collect::<Vec<_>>());
    for (n, trace) in traces.iter_mut().enumerate() {
        let span = &mut trace.spans[0];
        // Every other span has its own `x`; every resource has one.
        if n % 2 == 0 {
            let value = if n % 4 == 0 { "s" } else { "r" };
            span.attributes
                .push(KeyValue::new("x", Value::String(value.into())));
        }
        let resource = if n % 3 == 0 { "r" } else { "q" };
        span.resource = Arc::new(Resource {
            attributes: vec![KeyValue::new("x", Value::String(resource.into()))],
            ..Resource::default()
        });
    }
    let start = GeneratorConfig::default().start_unix_nano;
    for dedicated_per_scope in [0, 24] {
        let catalog =
            Catalog::open(&format!("memory://unscoped-{}", uuid::Uuid::new_v4())).expect("catalog");
        let options = WriteOptions {
            dedicated_per_scope,
            ..WriteOptions::default()
        };
        write_block(&catalog, "t", traces.clone(), &options, vec![], 0)
            .await
            .expect("block");
        for query in [
            r#"{ .x = "r" } | count_over_time()"#,
            r#"{ .x != "s" } | count_over_time()"#,
            "{ .x != nil } | count_over_time()",
            "{ } | count_over_time() by (.x)",
        ] {
            let mut request = MetricsRequest::range(query, start, start + 120_000_000_000);
            request.step = Some(120_000_000_000);
            let columnar = columnar_as_reference(&catalog, &traces, &request).await;
            assert!(!columnar.series.is_empty(), "{query}");
        }
    }
}

/// A catalog holding `traces` as one block in which only keys on every span get a column of
/// their own: rarer keys stay in the generic lists.
async fn one_block_with_rare_keys_generic(traces: &[Trace]) -> Catalog {
    let catalog =
        Catalog::open(&format!("memory://rare-{}", uuid::Uuid::new_v4())).expect("catalog");
    let options = WriteOptions {
        dedicated_min_fraction: 0.9,
        ..WriteOptions::default()
    };
    write_block(&catalog, "t", traces.to_vec(), &options, vec![], 0)
        .await
        .expect("block");
    catalog
}

/// One-span traces whose span has the integer attribute `v`.
fn valued(values: &[i64]) -> Vec<Trace> {
    use std::sync::Arc;
    use traceql_storage::model::{KeyValue, Resource, Span, Value};
    let start = GeneratorConfig::default().start_unix_nano;
    values
        .iter()
        .zip(1u32..)
        .map(|(v, n)| {
            let mut trace_id = [0u8; 16];
            trace_id[12..].copy_from_slice(&n.to_be_bytes());
            Trace {
                trace_id,
                spans: vec![Span {
                    trace_id,
                    span_id: [1; 8],
                    start_time_unix_nano: start + u64::from(n) * 1_000_000_000,
                    end_time_unix_nano: start + u64::from(n) * 1_000_000_000 + 5,
                    attributes: vec![KeyValue::new("v", Value::Int(*v))],
                    resource: Arc::new(Resource::default()),
                    ..Span::default()
                }],
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_buckets_are_exact_at_every_power_of_two() {
    let mut values = vec![
        -5,
        0,
        1,
        2,
        3,
        4,
        5,
        1023,
        1024,
        1025,
        i64::MAX,
        i64::MAX - 1,
    ];
    for k in [20, 39, 40, 41, 47, 48, 52, 53, 61, 62] {
        values.extend([(1i64 << k) - 1, 1i64 << k, (1i64 << k) + 1]);
    }
    let traces = valued(&values);
    let catalog = catalog(&traces).await;
    for query in [
        "{ } | histogram_over_time(span.v)",
        "{ } | quantile_over_time(span.v, .5, .9)",
    ] {
        let columnar = columnar_as_reference(&catalog, &traces, &request(query)).await;
        // One series per bucket for the histogram, one per quantile otherwise.
        let expected = if query.contains("histogram") { 20 } else { 2 };
        assert!(
            columnar.series.len() >= expected,
            "{query}: {} series",
            columnar.series.len()
        );
    }
}

/// A range that ends inside traces: their spans after the end are matched but not counted, and
/// the exemplar of such a trace is picked among all its matching spans, as the reference does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_of_traces_crossing_the_range_end_are_the_references() {
    let catalog = catalog(&traces()).await;
    let traces = traces_in_block_order(&catalog).await;
    let config = GeneratorConfig::default();
    let start = config.start_unix_nano - 60_000_000_000;
    // Range ends are whole steps: take the step boundaries that fall inside traces.
    let step = 1_000_000_000;
    let ends: Vec<u64> = traces
        .iter()
        .filter_map(|t| {
            let starts = t.spans.iter().map(|s| s.start_time_unix_nano);
            let (first, last) = (starts.clone().min()?, starts.max()?);
            let boundary = first.div_ceil(step) * step;
            (boundary < last).then_some(boundary)
        })
        .take(6)
        .collect();
    assert!(!ends.is_empty());
    for end in ends {
        for query in ["{ } | rate()", "{ kind = server } >> { } | rate()"] {
            let mut request = MetricsRequest::range(query, start, end);
            request.step = Some(step);
            // Many narrow slices: the last trace in the range still finds room.
            request.exemplars = 2000;
            let columnar = metrics(&catalog, "t", &request).await.expect("columnar");
            let reference = metrics_traces(traces.clone(), &request).expect("reference");
            assert_eq!(series(&columnar), series(&reference), "{query} to {end}");
            assert_eq!(
                exemplars(&columnar),
                exemplars(&reference),
                "{query} to {end}"
            );
        }
    }
}

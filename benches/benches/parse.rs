//! Parse + validate time of the benchmark-suite queries (`shared/spec/benchmark-suite.md`) and
//! of a 2 KB query. Target: well under 20 µs for a typical query.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// The search and metrics queries of the benchmark suite, by case name.
const QUERIES: &[(&str, &str)] = &[
    ("spanAttValMatch", r#"{ span.component = "net/http" }"#),
    (
        "spanAttValMatchFew",
        r#"{ span.component =~ "database/sql" }"#,
    ),
    (
        "spanAttIntrinsicMatch",
        r#"{ name = "distributor.ConsumeTraces" }"#,
    ),
    (
        "resourceAttIntrinsicMatch",
        r#"{ resource.service.name = "tempo-gateway" }"#,
    ),
    (
        "traceOrMatch",
        r#"{ rootServiceName = "tempo-distributor" && (status = error || span.http.status_code = 500) }"#,
    ),
    (
        "mixedValMixedMatchAnd",
        r#"{ resource.k8s.cluster.name =~ "prod.*" && name = "gcs.ReadRange" }"#,
    ),
    (
        "mixedValMixedMatchOr",
        r#"{ resource.foo = "bar" || name = "gcs.ReadRange" }"#,
    ),
    ("count", "{ } | count() > 1"),
    (
        "struct",
        r#"{ resource.service.name != "loki-querier" } >> { resource.service.name = "loki-gateway" && status = error }"#,
    ),
    (
        "or",
        r#"{ resource.service.name = "loki-querier" } || { resource.service.name = "loki-gateway" }"#,
    ),
    (
        "mixed",
        r#"{ resource.namespace != "" && resource.service.name = "cortex-gateway" && duration > 50ms && resource.cluster =~ "prod.*" }"#,
    ),
    (
        "complex",
        r#"{ resource.k8s.cluster.name =~ "prod.*" && resource.k8s.namespace.name = "hosted-grafana" && resource.k8s.container.name = "hosted-grafana-gateway" && name = "httpclient/grafana" && span.http.status_code = 200 && duration > 20ms }"#,
    ),
    (
        "select",
        r#"{ resource.k8s.cluster.name =~ "prod.*" && resource.k8s.namespace.name = "tempo-prod" } | select(resource.container)"#,
    ),
    ("rate", "{ } | rate()"),
    ("rateByUrl", "{ } | rate() by (span.http.url)"),
    (
        "rateFiltered",
        r#"{ span.http.host != "" && span.http.flavor = "2" } | rate() by (span.http.flavor)"#,
    ),
    (
        "quantiles",
        "{ } | quantile_over_time(duration, .99, .9, .5)",
    ),
    ("compare", "{ name != nil } | compare({ status = error })"),
    ("structRate", "{ } > { } | rate() by (name)"),
    ("ratio", "({ } | rate()) / ({ } | count_over_time())"),
];

/// A 2 KB query: a long OR of services, a structural join and a pipeline.
fn two_kb_query() -> String {
    let services: Vec<String> = (0..48)
        .map(|i| format!("resource.service.name = \"service-{i:03}\""))
        .collect();
    let q = format!(
        "{{ ({}) && duration > 10ms }} >> {{ status = error && span.http.status_code >= 500 }} | by(resource.service.name) | count() > 2",
        services.join(" || ")
    );
    assert!(q.len() >= 2048, "{} bytes", q.len());
    q
}

fn parse_benchmarks(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    for (name, query) in QUERIES {
        traceql::parse(query).unwrap_or_else(|e| panic!("{name}: {e}"));
        group.bench_function(*name, |b| b.iter(|| traceql::parse(black_box(query))));
    }
    let big = two_kb_query();
    traceql::parse(&big).unwrap_or_else(|e| panic!("2KB: {e}"));
    group.bench_function("query2KB", |b| b.iter(|| traceql::parse(black_box(&big))));
    group.finish();
}

criterion_group!(benches, parse_benchmarks);
criterion_main!(benches);

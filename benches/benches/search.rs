//! Search over about a million spans of the synthetic shop: every search case of
//! `shared/spec/benchmark-suite.md`, mapped onto the shop's attributes, and the `||` form of
//! each structural case (a structural query should cost at most twice its `||` form).
//! Throughput is the data set's spans per second; each case also prints what it inspected.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use traceql::SearchRequest;
use traceql_benches::{TENANT, shop};

/// A value no span has.
const NOPE: &str = "does-not-exist-6c2408325a45";

/// The struct, sibling and child cases share these operands.
const LHS: &str = r#"{ resource.service.name != "frontend" }"#;
const RHS: &str = r#"{ resource.service.name = "payment" && status = error }"#;

fn cases() -> Vec<(&'static str, String)> {
    let or = r#"(status = error || span.http.response.status_code = 500)"#;
    vec![
        ("spanAttValMatch", r#"{ span.rpc.system = "grpc" }"#.into()),
        ("spanAttValMatchFew", r#"{ span.db.system =~ "redis" }"#.into()),
        ("spanAttValNoMatch", format!(r#"{{ span.bloom = "{NOPE}" }}"#)),
        (
            "spanAttIntrinsicMatch",
            r#"{ name = "oteldemo.CheckoutService/PlaceOrder" }"#.into(),
        ),
        (
            "spanAttIntrinsicMatchFew",
            r#"{ name = "oteldemo.EmailService/SendOrderConfirmation" }"#.into(),
        ),
        ("spanAttIntrinsicNoMatch", format!(r#"{{ name = "{NOPE}" }}"#)),
        (
            "resourceAttValMatch",
            r#"{ resource.service.version = "1.4.0" }"#.into(),
        ),
        (
            "resourceAttValNoMatch",
            format!(r#"{{ resource.module.path = "{NOPE}" }}"#),
        ),
        (
            "resourceAttIntrinsicMatch",
            r#"{ resource.service.name = "checkout" }"#.into(),
        ),
        (
            "resourceAttIntrinsicNoMatch",
            format!(r#"{{ resource.service.name = "{NOPE}" }}"#),
        ),
        (
            "traceOrMatch",
            format!(r#"{{ rootServiceName = "frontend" && {or} }}"#),
        ),
        (
            "traceOrMatchFew",
            format!(r#"{{ rootName = "POST /api/checkout" && {or} }}"#),
        ),
        (
            "traceOrNoMatch",
            format!(r#"{{ rootServiceName = "doesntexist" && {or} }}"#),
        ),
        ("mixedValNoMatch", format!(r#"{{ .bloom = "{NOPE}" }}"#)),
        (
            "mixedValMixedMatchAnd",
            r#"{ resource.k8s.cluster.name =~ "prod.*" && name = "SELECT shop.products" }"#
                .into(),
        ),
        (
            "mixedValMixedMatchOr",
            r#"{ resource.foo = "bar" || name = "SELECT shop.products" }"#.into(),
        ),
        ("count", "{ } | count() > 1".into()),
        ("struct", format!("{LHS} >> {RHS}")),
        ("structOr", format!("{LHS} || {RHS}")),
        ("sibling", format!("{LHS} ~ {RHS}")),
        ("child", format!("{LHS} > {RHS}")),
        (
            "or",
            r#"{ resource.service.name = "checkout" } || { resource.service.name = "payment" }"#
                .into(),
        ),
        (
            "and",
            r#"{ resource.service.name = "checkout" } && { resource.service.name = "payment" }"#
                .into(),
        ),
        (
            "mixed",
            r#"{ resource.service.namespace != "" && resource.service.name = "frontend" && duration > 50ms && resource.k8s.cluster.name =~ "prod.*" }"#.into(),
        ),
        (
            "complex",
            r#"{ resource.k8s.cluster.name =~ "prod.*" && resource.k8s.namespace.name = "shop" && resource.k8s.container.name = "frontend" && name = "GET /api/cart" && span.http.response.status_code = 200 && duration > 2ms }"#.into(),
        ),
        (
            "select",
            r#"{ resource.k8s.cluster.name =~ "prod.*" && resource.k8s.namespace.name = "shop" } | select(resource.k8s.container.name)"#.into(),
        ),
    ]
}

fn search_benchmarks(c: &mut Criterion) {
    let (engine, spans) = shop();
    let mut group = c.benchmark_group("search");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(spans));
    for (name, query) in cases() {
        let request = SearchRequest::new(query.as_str());
        let first = engine.search_blocking(TENANT, &request).expect("search");
        eprintln!(
            "{name}: {} traces; inspected {} spans, {} bytes of {} spans",
            first.traces.len(),
            first.metrics.inspected_spans,
            first.metrics.inspected_bytes,
            spans
        );
        group.bench_function(name, |b| {
            b.iter(|| engine.search_blocking(TENANT, &request).expect("search"))
        });
    }
    group.finish();
}

criterion_group!(benches, search_benchmarks);
criterion_main!(benches);

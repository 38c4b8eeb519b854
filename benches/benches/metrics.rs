//! Metrics over about a million spans of the synthetic shop: every metrics case of
//! `shared/spec/benchmark-suite.md` (one-minute step), mapped onto the shop's attributes.
//! Throughput is the data set's spans per second (target: `{ } | rate()` at 20 M spans/s), with
//! the default 100 exemplars, and for `{ } | rate()` also without them.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use traceql::MetricsRequest;
use traceql_benches::{TENANT, shop, time_range};

const CASES: &[&str] = &[
    "{ } | rate()",
    "{ } | rate() with(sample=true)",
    "{ } | rate() by (span.http.response.status_code)",
    "{ } | rate() by (resource.service.name)",
    "{ } | rate() by (span.url.full)",
    r#"{ resource.service.name = "checkout" } | rate()"#,
    r#"{ span.server.address != "" && span.http.request.method = "POST" } | rate() by (span.http.request.method)"#,
    "{ status = error } | rate()",
    "{ } | quantile_over_time(duration, .99, .9, .5)",
    "{ } | quantile_over_time(duration, .99) by (span.http.response.status_code)",
    "{ } | histogram_over_time(duration)",
    "{ } | avg_over_time(duration) by (span.http.response.status_code)",
    "{ } | max_over_time(duration) by (span.http.response.status_code)",
    "{ } | min_over_time(duration) by (span.http.response.status_code)",
    "{ name != nil } | compare({ status = error })",
    "{ } > { } | rate() by (name)",
    "({ } | rate()) + ({ } | rate())",
    "({ } | rate()) / ({ } | count_over_time())",
];

fn metrics_benchmarks(c: &mut Criterion) {
    let (engine, spans) = shop();
    let (start, end) = time_range(&engine);
    let mut group = c.benchmark_group("metrics");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(spans));
    for query in CASES {
        let mut request = MetricsRequest::range(*query, start, end);
        request.step = Some(60_000_000_000);
        let first = engine.metrics_blocking(TENANT, &request).expect("metrics");
        eprintln!("{query}: {} series", first.series.len());
        group.bench_function(*query, |b| {
            b.iter(|| engine.metrics_blocking(TENANT, &request).expect("metrics"))
        });
    }
    // Exemplars (100 by default) cost a second, ordered scan: the rate alone, without them.
    let mut request = MetricsRequest::range(CASES[0], start, end);
    request.step = Some(60_000_000_000);
    request.exemplars = 0;
    group.bench_function("{ } | rate() without exemplars", |b| {
        b.iter(|| engine.metrics_blocking(TENANT, &request).expect("metrics"))
    });
    group.finish();
}

criterion_group!(benches, metrics_benchmarks);
criterion_main!(benches);

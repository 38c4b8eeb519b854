//! Metrics over about a million spans of the synthetic shop: every metrics case of
//! `shared/spec/benchmark-suite.md` (one-minute step), mapped onto the shop's attributes.
//! Throughput is the data set's spans per second (target: `{ } | rate()` at 20 M spans/s), with
//! the default 100 exemplars, and for `{ } | rate()` also without them.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use traceql::MetricsRequest;
use traceql_benches::{TENANT, shop, time_range};

/// Benchmark-suite metrics cases by name, mapped onto the shop's attributes
/// (`span.http.status_code` is `span.http.response.status_code`, `span.http.url` is
/// `span.url.full`, `loki-ingester` is `checkout`, `http.host`/`http.flavor` are
/// `server.address` and `http.request.method`).
const CASES: &[(&str, &str)] = &[
    ("rate", "{ } | rate()"),
    ("rateSample", "{ } | rate() with(sample=true)"),
    (
        "rateByStatusCode",
        "{ } | rate() by (span.http.response.status_code)",
    ),
    ("rateByService", "{ } | rate() by (resource.service.name)"),
    ("rateByUrl", "{ } | rate() by (span.url.full)"),
    (
        "serviceRate",
        r#"{ resource.service.name = "checkout" } | rate()"#,
    ),
    (
        "hostMethodRate",
        r#"{ span.server.address != "" && span.http.request.method = "POST" } | rate() by (span.http.request.method)"#,
    ),
    ("errorRate", "{ status = error } | rate()"),
    (
        "quantiles",
        "{ } | quantile_over_time(duration, .99, .9, .5)",
    ),
    (
        "quantileByStatusCode",
        "{ } | quantile_over_time(duration, .99) by (span.http.response.status_code)",
    ),
    ("histogram", "{ } | histogram_over_time(duration)"),
    (
        "avgByStatusCode",
        "{ } | avg_over_time(duration) by (span.http.response.status_code)",
    ),
    (
        "maxByStatusCode",
        "{ } | max_over_time(duration) by (span.http.response.status_code)",
    ),
    (
        "minByStatusCode",
        "{ } | min_over_time(duration) by (span.http.response.status_code)",
    ),
    ("compare", "{ name != nil } | compare({ status = error })"),
    ("structRate", "{ } > { } | rate() by (name)"),
    ("sum", "({ } | rate()) + ({ } | rate())"),
    ("ratio", "({ } | rate()) / ({ } | count_over_time())"),
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
    for (name, query) in CASES {
        let mut request = MetricsRequest::range(*query, start, end);
        request.step = Some(60_000_000_000);
        let first = engine.metrics_blocking(TENANT, &request).expect("metrics");
        eprintln!("{name} ({query}): {} series", first.series.len());
        group.bench_function(*name, |b| {
            b.iter(|| engine.metrics_blocking(TENANT, &request).expect("metrics"))
        });
    }
    // Exemplars (100 by default) cost a second, ordered scan: the rate alone, without them.
    let mut request = MetricsRequest::range(CASES[0].1, start, end);
    request.step = Some(60_000_000_000);
    request.exemplars = 0;
    group.bench_function("rateWithoutExemplars", |b| {
        b.iter(|| engine.metrics_blocking(TENANT, &request).expect("metrics"))
    });
    group.finish();
}

criterion_group!(benches, metrics_benchmarks);
criterion_main!(benches);

//! Search and metrics throughput of the reference evaluator over one block of the generated
//! shop, in spans per second: the baseline the columnar engine has to beat.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use traceql_engine::metrics::{MetricsRequest, metrics};
use traceql_engine::search::{SearchRequest, search};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::writer::{WriteOptions, write_block};

const SPANS: u64 = 100_000;
const TENANT: &str = "bench";

/// Benchmark-suite cases mapped onto the shop's attributes.
const SEARCHES: &[(&str, &str)] = &[
    ("spanAttValMatch", r#"{ span.db.system = "postgresql" }"#),
    (
        "resourceAttIntrinsicMatch",
        r#"{ resource.service.name = "checkout" }"#,
    ),
    (
        "traceOrMatch",
        r#"{ rootServiceName = "frontend" && (status = error || span.http.response.status_code = 500) }"#,
    ),
    ("count", "{ } | count() > 20"),
    (
        "struct",
        r#"{ resource.service.name = "frontend" } >> { status = error }"#,
    ),
];

const METRICS: &[(&str, &str)] = &[
    ("rate", "{ } | rate() by (resource.service.name)"),
    (
        "quantiles",
        "{ } | quantile_over_time(duration, .5, .99) by (resource.service.name)",
    ),
    ("structRate", "{ } >> { status = error } | rate()"),
];

fn queries(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = GeneratorConfig::default();
    let (start, end) = (
        config.start_unix_nano,
        config.start_unix_nano + config.window_nanos + 60_000_000_000,
    );
    let traces = Generator::new(config).traces(0..Generator::traces_for_spans(SPANS));
    let spans = traces.iter().map(|t| t.spans.len() as u64).sum();
    let catalog = Catalog::open("memory://query-bench").expect("catalog");
    runtime
        .block_on(write_block(
            &catalog,
            TENANT,
            traces,
            &WriteOptions::default(),
            vec![],
            0,
        ))
        .expect("block");

    let mut group = c.benchmark_group("query");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(spans));
    for (name, query) in SEARCHES {
        let request = SearchRequest::new(*query);
        group.bench_function(format!("search/{name}"), |b| {
            b.iter(|| {
                runtime
                    .block_on(search(&catalog, TENANT, black_box(&request)))
                    .expect("search")
            })
        });
    }
    for (name, query) in METRICS {
        let request = MetricsRequest::range(*query, start, end);
        group.bench_function(format!("metrics/{name}"), |b| {
            b.iter(|| {
                runtime
                    .block_on(metrics(&catalog, TENANT, black_box(&request)))
                    .expect("metrics")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, queries);
criterion_main!(benches);

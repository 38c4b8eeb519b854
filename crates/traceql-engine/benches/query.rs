//! Query throughput in spans per second over the generated shop:
//!
//! - `search/*`: search (the reference evaluator) over one block of 100k spans;
//! - `metrics/*`: every metrics query of `../shared/spec/benchmark-suite.md`, mapped onto the
//!   shop's attributes, over 1M spans in two blocks. Most run on the columnar (DataFusion)
//!   path; `compare` and the structural query run on the reference evaluator.
//!
//! `cargo bench -p traceql-engine --bench query [-- FILTER]`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use traceql_engine::metrics::{MetricsRequest, metrics};
use traceql_engine::search::{SearchRequest, search};
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::writer::{WriteOptions, write_block};

const SEARCH_SPANS: u64 = 100_000;
const METRICS_SPANS: u64 = 1_000_000;
const TENANT: &str = "bench";

/// Benchmark-suite search cases mapped onto the shop's attributes.
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

/// Benchmark-suite metrics cases mapped onto the shop's attributes (`span.http.status_code`
/// is `span.http.response.status_code` here,
/// `loki-ingester` is `checkout`, `http.host`/`http.flavor` are `server.address` and
/// `http.request.method`).
const METRICS: &[(&str, &str)] = &[
    ("rate", "{ } | rate()"),
    ("rateSample", "{ } | rate() with(sample=true)"),
    (
        "rateByStatusCode",
        "{ } | rate() by (span.http.response.status_code)",
    ),
    ("rateByService", "{ } | rate() by (resource.service.name)"),
    ("rateByUrl", "{ } | rate() by (span.http.url)"),
    (
        "serviceRate",
        r#"{ resource.service.name = "checkout" } | rate()"#,
    ),
    (
        "hostMethodRate",
        r#"{ span.server.address != "" && span.http.request.method = "GET" } | rate() by (span.http.request.method)"#,
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

/// Writes about `spans` generated spans into `blocks` blocks of a fresh in-memory catalog;
/// returns it with the number of spans written.
fn shop(runtime: &Runtime, name: &str, spans: u64, blocks: u64) -> (Catalog, u64) {
    let generator = Generator::new(GeneratorConfig::default());
    let traces = Generator::traces_for_spans(spans);
    let catalog = Catalog::open(&format!("memory://{name}")).expect("catalog");
    let mut written = 0;
    let per_block = traces.div_ceil(blocks);
    for first in (0..traces).step_by(per_block as usize) {
        let batch = generator.traces(first..(first + per_block).min(traces));
        written += batch.iter().map(|t| t.spans.len() as u64).sum::<u64>();
        runtime
            .block_on(write_block(
                &catalog,
                TENANT,
                batch,
                &WriteOptions::default(),
                vec![],
                0,
            ))
            .expect("block");
    }
    (catalog, written)
}

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

    let (catalog, spans) = shop(&runtime, "search-bench", SEARCH_SPANS, 1);
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
    drop(catalog);

    let (catalog, spans) = shop(&runtime, "metrics-bench", METRICS_SPANS, 2);
    group.throughput(Throughput::Elements(spans));
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

//! Ingest: spans per second from OTLP protobuf and from OTLP/JSON (decoded, grouped into
//! traces, nested sets computed, written as a finished block to an in-memory store), and the
//! block's bytes per span. Target: 500,000 spans/s from protobuf on two cores.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use object_store::memory::InMemory;
use std::sync::Arc;
use std::time::Duration;
use traceql::storage::catalog::Catalog;
use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::storage::ingest::ingest_spans;
use traceql::storage::otlp::{self, Format};
use traceql::storage::writer::WriteOptions;

/// Traces per ingested batch (about 100,000 spans).
const TRACES: u64 = 10_000;

fn ingest_benchmarks(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let spans: Vec<_> = Generator::new(GeneratorConfig::default())
        .traces(0..TRACES)
        .into_iter()
        .flat_map(|t| t.spans)
        .collect();
    let inputs = [
        ("otlp-proto", Format::Protobuf, otlp::proto::encode(&spans)),
        (
            "otlp-json",
            Format::Json,
            otlp::encode_json(&spans).into_bytes(),
        ),
    ];
    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(spans.len() as u64));
    for (name, format, bytes) in &inputs {
        let ingest = |catalog: Catalog| {
            let decoded = otlp::decode(bytes, *format, name).expect("decode");
            runtime
                .block_on(ingest_spans(
                    &catalog,
                    "t",
                    decoded,
                    &WriteOptions::default(),
                ))
                .expect("write")
        };
        let block = ingest(fresh_catalog());
        eprintln!(
            "{name}: {} input bytes; block of {} spans, {} bytes, {:.1} bytes per span",
            bytes.len(),
            block.span_count,
            block.size_bytes,
            block.size_bytes as f64 / block.span_count as f64
        );
        group.bench_function(*name, |b| {
            b.iter_batched(fresh_catalog, ingest, BatchSize::PerIteration)
        });
    }
    group.finish();
}

/// An empty catalog over a store of its own (dropped with it).
fn fresh_catalog() -> Catalog {
    Catalog::from_store(Arc::new(InMemory::new()), "")
}

criterion_group!(benches, ingest_benchmarks);
criterion_main!(benches);

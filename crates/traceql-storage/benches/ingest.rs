//! Ingest throughput: OTLP protobuf and OTLP/JSON to a finished block on local disk, in spans
//! per second, and bytes per span on disk. Target: 500,000 spans/s from protobuf on 2 cores.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::ingest::ingest_spans;
use traceql_storage::otlp::{self, Format};
use traceql_storage::writer::WriteOptions;

/// The allocator of the `traceql` binary and the Python module, so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Collector-sized batches: about 100 traces per OTLP message.
fn batches(spans: u64) -> (Vec<Vec<u8>>, Vec<String>, u64) {
    let g = Generator::new(GeneratorConfig::default());
    let traces = g.traces(0..Generator::traces_for_spans(spans));
    let total = traces.iter().map(|t| t.spans.len() as u64).sum();
    let mut proto = Vec::new();
    let mut json = Vec::new();
    for chunk in traces.chunks(100) {
        let spans: Vec<_> = chunk.iter().flat_map(|t| t.spans.clone()).collect();
        proto.push(otlp::proto::encode(&spans));
        json.push(otlp::encode_json(&spans));
    }
    (proto, json, total)
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = Catalog::open(dir.path().to_str().expect("utf-8 path")).expect("catalog");
    let (proto, json, spans) = batches(200_000);
    let options = WriteOptions::default();

    let mut group = c.benchmark_group("ingest");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(spans));
    group.bench_function("protobuf_to_block", |b| {
        b.iter(|| {
            // Messages decode in parallel, as `ingest_files` decodes files.
            let decoded: Vec<_> = proto
                .par_iter()
                .map(|m| otlp::decode(m, Format::Protobuf, "bench").expect("decode"))
                .collect::<Vec<_>>()
                .into_iter()
                .flatten()
                .collect();
            runtime
                .block_on(ingest_spans(
                    &catalog,
                    "proto",
                    black_box(decoded),
                    &options,
                ))
                .expect("ingest")
        })
    });
    group.bench_function("json_to_block", |b| {
        b.iter(|| {
            let decoded: Vec<_> = json
                .par_iter()
                .map(|m| otlp::decode(m.as_bytes(), Format::Json, "bench").expect("decode"))
                .collect::<Vec<_>>()
                .into_iter()
                .flatten()
                .collect();
            runtime
                .block_on(ingest_spans(&catalog, "json", black_box(decoded), &options))
                .expect("ingest")
        })
    });
    group.finish();

    let blocks = runtime
        .block_on(catalog.list_blocks("proto"))
        .expect("list");
    if let Some(b) = blocks.first() {
        let json_bytes: usize = json.iter().map(String::len).sum();
        let proto_bytes: usize = proto.iter().map(Vec::len).sum();
        println!(
            "block: {} spans, {} row groups, {:.1} bytes/span on disk (OTLP protobuf {:.1}, OTLP/JSON {:.1} bytes/span)",
            b.span_count,
            b.row_groups,
            b.size_bytes as f64 / b.span_count as f64,
            proto_bytes as f64 / spans as f64,
            json_bytes as f64 / spans as f64,
        );
    }
}

criterion_group!(benches, ingest);
criterion_main!(benches);

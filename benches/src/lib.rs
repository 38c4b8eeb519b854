//! Benchmarks for traceql: the shared data set of the search and metrics benches.

use std::path::PathBuf;

use traceql::storage::catalog::Catalog;
use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::storage::ingest::ingest_generated;
use traceql::{Engine, EngineOptions};

/// The allocator the `traceql` binary and the Python module use, so that the figures are
/// theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The tenant of the bench data.
pub const TENANT: &str = "bench";

/// Spans in the bench data set (about; the generator makes whole traces).
pub const SPANS: u64 = 1_000_000;

/// Traces per block: the data set has a few blocks, like a tenant between compactions.
const TRACES_PER_BLOCK: u64 = 40_000;

/// The bench data set: the synthetic shop, about [`SPANS`] spans in a few blocks under
/// `target/bench-data`, generated on first use and reused after (delete the folder to
/// regenerate). Returns an engine over it and its span count.
pub fn shop() -> (Engine, u64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data/shop-1m");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = dir.to_str().expect("utf-8 path").to_string();
    let catalog = Catalog::open(&url).expect("catalog");
    let mut blocks = runtime
        .block_on(catalog.list_blocks(TENANT))
        .expect("list blocks");
    if blocks.is_empty() {
        eprintln!("generating the bench data set in {url} …");
        let generator = Generator::new(GeneratorConfig::default());
        let traces = Generator::traces_for_spans(SPANS);
        blocks = runtime
            .block_on(ingest_generated(
                &catalog,
                TENANT,
                &generator,
                traces,
                TRACES_PER_BLOCK,
                |_, _| {},
            ))
            .expect("generate");
    }
    let spans = blocks.iter().map(|b| b.span_count).sum();
    (Engine::over(catalog, EngineOptions::default()), spans)
}

/// The time range the bench data covers, unix nanoseconds: `[start, end)`.
pub fn time_range(engine: &Engine) -> (u64, u64) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let blocks = runtime
        .block_on(engine.catalog().list_blocks(TENANT))
        .expect("list blocks");
    traceql::storage::meta::time_range(&blocks).expect("bench data has blocks")
}

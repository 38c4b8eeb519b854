//! A tracing backend embedding traceql: it keeps its span blocks in an object store (here an
//! in-memory one it fills itself), writes what it receives, and answers TraceQL queries.
//!
//! Run with `cargo run -p traceql --example embed`.

use std::sync::Arc;

use object_store::memory::InMemory;
use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::{Engine, EngineOptions, MetricsRequest, SearchRequest};

#[tokio::main]
async fn main() -> Result<(), traceql::Error> {
    // The backend's store and the engine over it, with limits for every query.
    let store = Arc::new(InMemory::new());
    let engine = Engine::new(
        store,
        "blocks",
        EngineOptions {
            memory_limit: Some(512 << 20),
            timeout: Some(std::time::Duration::from_secs(30)),
        },
    );

    // What the backend received: two batches of the synthetic shop, written as two blocks.
    let generator = Generator::new(GeneratorConfig::default());
    for batch in [0..200, 200..400] {
        let spans = generator.traces(batch).into_iter().flat_map(|t| t.spans);
        let block = engine.write("acme", spans).await?;
        println!(
            "wrote block {} ({} traces, {} spans)",
            block.block_id, block.trace_count, block.span_count
        );
    }

    // A structural search: checkout calls that led to an error further down.
    let mut request =
        SearchRequest::new(r#"{ resource.service.name = "checkout" } >> { status = error }"#);
    request.limit = 5;
    let found = engine.search("acme", &request).await?;
    println!(
        "\n{} trace(s) where checkout led to an error:",
        found.traces.len()
    );
    for trace in &found.traces {
        println!(
            "  {}  {} {}",
            trace.trace_id, trace.root_service_name, trace.root_trace_name
        );
    }

    // The first of them, whole, by ID.
    if let Some(first) = found.traces.first() {
        let lookup = engine.trace("acme", &first.trace_id).await?;
        let spans = lookup.map_or(0, |l| l.trace.spans.len());
        println!("\ntrace {} has {spans} spans", first.trace_id);
    }

    // Which services there are, and the error rate of each per minute.
    let services = engine
        .tag_values("acme", "resource.service.name", None)
        .await?;
    println!("\n{} services", services.tag_values.len());
    let (start, end) = generator_range(&engine).await?;
    let request = MetricsRequest::range(
        "{ status = error } | rate() by (resource.service.name)",
        start,
        end,
    );
    let rates = engine.metrics("acme", &request).await?;
    println!("error rate: {} series", rates.series.len());

    // The response shapes are Tempo's.
    let json: String = found.to_json().chars().take(120).collect();
    println!("\n{json}…");
    Ok(())
}

/// The time range the written blocks cover, unix nanoseconds.
async fn generator_range(engine: &Engine) -> Result<(u64, u64), traceql::Error> {
    let blocks = engine.catalog().list_blocks("acme").await?;
    Ok(traceql::storage::meta::time_range(&blocks).unwrap_or((0, 1)))
}

//! An engine's limits apply to every query that sets none of its own; a request's own win.

use std::time::Duration;

use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::{Engine, EngineOptions, Error, MetricsRequest, SearchRequest};

fn engine(options: EngineOptions) -> Engine {
    let engine = Engine::open(
        &format!(
            "memory://engine-options-{}",
            options.timeout.map_or(0, |t| t.as_nanos())
        ),
        options,
    )
    .expect("engine");
    let traces = Generator::new(GeneratorConfig::default()).traces(0..50);
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(engine.write("t", traces.into_iter().flat_map(|t| t.spans)))
        .expect("write");
    engine
}

#[test]
fn the_engine_timeout_applies_unless_the_request_sets_one() {
    let tiny = Duration::from_nanos(1);
    let engine = engine(EngineOptions {
        memory_limit: None,
        timeout: Some(tiny),
    });
    let search = engine.search_blocking("t", &SearchRequest::new("{ status = error }"));
    assert!(
        matches!(search, Err(Error::Timeout(t)) if t == tiny),
        "{search:?}"
    );
    let config = GeneratorConfig::default();
    let range = MetricsRequest::range(
        "{ } | rate()",
        config.start_unix_nano,
        config.start_unix_nano + config.window_nanos,
    );
    let metrics = engine.metrics_blocking("t", &range);
    assert!(
        matches!(metrics, Err(Error::Timeout(_))),
        "{:?}",
        metrics.err()
    );

    let mut generous = SearchRequest::new("{ }");
    generous.timeout = Some(Duration::from_secs(600));
    let found = engine.search_blocking("t", &generous).expect("search");
    assert!(!found.traces.is_empty());
}

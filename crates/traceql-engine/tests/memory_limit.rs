//! The memory limit: a query whose row group needs more than the limit fails with a clear error;
//! a sufficient limit changes nothing.

use crate::common;

use traceql_engine::EngineError;
use traceql_engine::datafusion::error::DataFusionError;
use traceql_engine::metrics::{MetricsRequest, metrics};
use traceql_engine::search::{SearchRequest, search};
use traceql_storage::catalog::Catalog;

use common::generated_catalog;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_memory_limit_fails_clearly() {
    let catalog = generated_catalog(200).await;
    // The reference path (an event condition search cannot loosen) checks the limit per row
    // group.
    let mut request = SearchRequest::new(r#"{ event:name != "no-such-event" }"#);
    request.memory_limit = Some(50_000);
    let e = search(&catalog, "t", &request)
        .await
        .expect_err("over limit");
    assert!(matches!(e, EngineError::MemoryLimit { limit: 50_000, needed, .. } if needed > 50_000));
    assert!(e.to_string().contains("memory limit of 50000 bytes"), "{e}");

    // The columnar path runs under DataFusion's memory pool.
    let mut request = SearchRequest::new("{ }");
    request.memory_limit = Some(1_000);
    let e = search(&catalog, "t", &request)
        .await
        .expect_err("over limit");
    assert!(pool_refused(&e), "{e}");

    // What the columnar path fetches whole is checked against the limit too.
    let mut request = SearchRequest::new("{ }");
    request.memory_limit = Some(40_000);
    let e = search(&catalog, "t", &request)
        .await
        .expect_err("over limit");
    assert!(
        matches!(e, EngineError::MemoryLimit { limit: 40_000, needed, .. } if needed > 40_000),
        "{e}"
    );

    // The reference path (arithmetic in a condition) checks the limit per row group.
    let e = metrics_over_limit(&catalog, "{ duration * 2 > 1ms } | rate()", 50_000).await;
    assert!(matches!(e, EngineError::MemoryLimit { .. }), "{e}");
    // So does the reference over candidate traces (a stage before the metrics function), per
    // row group fetched.
    let e = metrics_over_limit(&catalog, "{ kind = server } | count() > 0 | rate()", 50_000).await;
    assert!(matches!(e, EngineError::MemoryLimit { .. }), "{e}");
    // A structural query holds a trace part's spans while it looks for partners: counted too.
    let e = metrics_over_limit(&catalog, "{ } >> { } | rate()", 50_000).await;
    assert!(pool_refused(&e), "{e}");
    // The columnar path runs under DataFusion's memory pool.
    let e = metrics_over_limit(&catalog, "{ } | rate() by (span.http.route, name)", 1_000).await;
    assert!(pool_refused(&e), "{e}");
}

/// The error of the metrics `query` over all the data under a memory limit of `limit` bytes.
async fn metrics_over_limit(catalog: &Catalog, query: &str, limit: u64) -> EngineError {
    let (start, end) = (1_690_000_000_000_000_000, 1_710_000_000_000_000_000);
    let mut range = MetricsRequest::range(query, start, end);
    range.max_range = u64::MAX;
    range.memory_limit = Some(limit);
    metrics(catalog, "t", &range).await.expect_err("over limit")
}

/// DataFusion's memory pool refused the query.
fn pool_refused(e: &EngineError) -> bool {
    matches!(e, EngineError::DataFusion(df)
        if matches!(df.find_root(), DataFusionError::ResourcesExhausted(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sufficient_limit_changes_nothing() {
    let catalog = generated_catalog(200).await;
    let unlimited = search(&catalog, "t", &SearchRequest::new("{ } >> { }"))
        .await
        .expect("search");
    let mut request = SearchRequest::new("{ } >> { }");
    request.memory_limit = Some(1 << 30);
    let limited = search(&catalog, "t", &request).await.expect("search");
    assert_eq!(limited, unlimited);
    assert!(!limited.traces.is_empty());
}

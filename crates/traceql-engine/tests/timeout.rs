//! The timeout: a query that runs longer than its request allows stops with a clear error; a
//! generous timeout changes nothing.

use crate::common;

use std::time::Duration;

use traceql_engine::EngineError;
use traceql_engine::metrics::{MetricsRequest, metrics};
use traceql_engine::search::{SearchRequest, search};

use common::generated_catalog;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_timeout_stops_with_a_clear_error() {
    let catalog = generated_catalog(300).await;
    let tiny = Duration::from_nanos(1);
    // Both search paths: columnar and reference (an event condition search cannot loosen).
    for query in ["{ status = error }", r#"{ event:name != "no-such-event" }"#] {
        let mut request = SearchRequest::new(query);
        request.timeout = Some(tiny);
        let e = search(&catalog, "t", &request)
            .await
            .expect_err("timed out");
        assert!(
            matches!(e, EngineError::Timeout(d) if d == tiny),
            "{query}: {e}"
        );
        assert_eq!(e.to_string(), "the query timed out after 1ns");
    }
    let (start, end) = (1_690_000_000_000_000_000, 1_710_000_000_000_000_000);
    let mut range = MetricsRequest::range("{ } | rate() by (resource.service.name)", start, end);
    range.max_range = u64::MAX;
    range.timeout = Some(tiny);
    let e = metrics(&catalog, "t", &range).await.expect_err("timed out");
    assert!(matches!(e, EngineError::Timeout(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generous_timeout_changes_nothing() {
    let catalog = generated_catalog(300).await;
    let unlimited = search(&catalog, "t", &SearchRequest::new("{ } >> { }"))
        .await
        .expect("search");
    let mut request = SearchRequest::new("{ } >> { }");
    request.timeout = Some(Duration::from_secs(600));
    let limited = search(&catalog, "t", &request).await.expect("search");
    assert_eq!(limited, unlimited);
    assert!(!limited.traces.is_empty());
}

//! The wall-clock timeout of a query.

use std::time::{Duration, Instant};

use crate::error::EngineError;

/// Runs `work` to its end, or fails with [`EngineError::Timeout`] once `timeout` has passed
/// (dropping `work` stops it). Work that ends without ever yielding is only checked at its end:
/// if it took longer than `timeout`, it fails the same way.
pub(crate) async fn within<T>(
    timeout: Option<Duration>,
    work: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    let Some(limit) = timeout else {
        return work.await;
    };
    let started = Instant::now();
    match tokio::time::timeout(limit, work).await {
        Ok(result) if started.elapsed() <= limit => result,
        _ => Err(EngineError::Timeout(limit)),
    }
}

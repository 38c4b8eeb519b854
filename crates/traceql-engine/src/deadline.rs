//! The wall-clock timeout of a query.

use crate::error::EngineError;

/// Runs `work` to its end, or fails with [`EngineError::Timeout`] once `timeout` has passed
/// (dropping `work` stops it).
pub(crate) async fn within<T>(
    timeout: Option<std::time::Duration>,
    work: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(EngineError::Timeout(limit))),
        None => work.await,
    }
}

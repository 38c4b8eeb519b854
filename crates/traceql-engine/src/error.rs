//! Engine errors.

use traceql_storage::StorageError;
use traceql_syntax::Error as SyntaxError;

/// A query that fails while running (integer division by zero, arrays compared with arrays, a
/// structural operator on several spansets, …).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    message: String,
}

impl ExecError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ExecError {
            message: message.into(),
        }
    }
}

/// Everything a query can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The query does not parse, does not validate, or is not supported.
    #[error(transparent)]
    Query(#[from] SyntaxError),
    /// The query failed while running.
    #[error("query failed: {0}")]
    Execution(#[from] ExecError),
    /// The data could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The request is not valid (bad limit, time range, …).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The query ran longer than the request's timeout and was stopped.
    #[error("the query timed out after {}", format_duration(*.0))]
    Timeout(std::time::Duration),
    /// The query would hold more memory than its limit allows.
    #[error(
        "query exceeds its memory limit of {limit} bytes: reading block {block} takes about \
         {needed} bytes decoded at once (raise the memory limit)"
    )]
    MemoryLimit {
        /// The limit, bytes.
        limit: u64,
        /// What one read needs (a row group, or the traces fetched from a block), bytes
        /// (estimated).
        needed: u64,
        /// The block being read.
        block: String,
    },
    /// The columnar engine (DataFusion) failed: data it cannot read, or its memory pool
    /// exhausted.
    #[error("query failed: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A broken invariant inside the engine: a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
    /// A metrics query was given to search, or the reverse.
    #[error("{0}")]
    WrongKind(String),
}

/// A duration as TraceQL writes one (`1m30s`, `250ms`).
fn format_duration(d: std::time::Duration) -> String {
    traceql_syntax::lexical::duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

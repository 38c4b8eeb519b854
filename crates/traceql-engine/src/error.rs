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
    /// The query would hold more memory than its limit allows.
    #[error(
        "query exceeds its memory limit of {limit} bytes: block {block} has a row group that \
         takes about {needed} bytes decoded (raise the memory limit)"
    )]
    MemoryLimit {
        /// The limit, bytes.
        limit: u64,
        /// What one read needs (a row group, or the traces fetched from a block), bytes
        /// (estimated).
        needed: u64,
        /// The block holding that row group.
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

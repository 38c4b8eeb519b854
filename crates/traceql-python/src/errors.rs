//! Engine errors as the Python exceptions of `traceql/_errors.py`.

use pyo3::prelude::*;
use traceql::ErrorKind;
use traceql::engine::EngineError;
use traceql::engine::datafusion::error::DataFusionError;
use traceql::storage::StorageError;

/// The Python exception for a query that does not parse, validate or run as written.
pub fn syntax_error(py: Python<'_>, error: &traceql::SyntaxError) -> PyErr {
    let class = match error.kind() {
        ErrorKind::Parse => "ParseError",
        ErrorKind::Validation => "ValidationError",
        ErrorKind::Unsupported => "UnsupportedError",
    };
    let position = error.position();
    raise(
        py,
        class,
        (error.message().to_string(), position.line, position.column),
    )
}

/// The Python exception for any engine error.
pub fn engine_error(py: Python<'_>, error: EngineError) -> PyErr {
    match error {
        EngineError::Query(e) => syntax_error(py, &e),
        EngineError::Execution(e) => raise(py, "QueryError", (format!("query failed: {e}"),)),
        EngineError::Storage(e) => storage_error(py, e),
        e @ EngineError::MemoryLimit { .. } => raise(py, "MemoryLimitError", (e.to_string(),)),
        EngineError::DataFusion(e) => {
            let class = match e.find_root() {
                DataFusionError::ResourcesExhausted(_) => "MemoryLimitError",
                DataFusionError::ParquetError(_)
                | DataFusionError::ObjectStore(_)
                | DataFusionError::IoError(_) => "DataError",
                _ => "QueryError",
            };
            raise(py, class, (format!("query failed: {e}"),))
        }
        e @ (EngineError::Internal(_) | EngineError::Timeout(_)) => {
            raise(py, "QueryError", (e.to_string(),))
        }
        EngineError::InvalidRequest(message) => raise(
            py,
            "InvalidRequestError",
            (format!("invalid request: {message}"),),
        ),
        EngineError::WrongKind(message) => raise(py, "InvalidRequestError", (message,)),
    }
}

/// The Python exception for data that cannot be read or written.
pub fn storage_error(py: Python<'_>, error: StorageError) -> PyErr {
    raise(py, "DataError", (error.to_string(),))
}

/// The Python exception for a request argument the engine rejects.
pub fn invalid_request(py: Python<'_>, message: impl Into<String>) -> PyErr {
    raise(py, "InvalidRequestError", (message.into(),))
}

/// Builds `traceql._errors.<class>(*args)`; if that module cannot be imported (a broken
/// installation), the import error itself is raised.
fn raise<'py, A>(py: Python<'py>, class: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let built = py
        .import("traceql._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

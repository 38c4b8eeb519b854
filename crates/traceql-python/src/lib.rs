//! `traceql._traceql`: the native half of the `traceql` Python package (the Python half, in
//! `python/traceql/`, coerces arguments, parses JSON and defines the exceptions).
//!
//! Every call that touches data runs on a shared Tokio runtime with the GIL released and can
//! be interrupted with Ctrl-C; every failure is a Python exception.

mod columns;
mod data;
mod engine;
mod errors;
mod metrics_table;
mod running;
mod search_table;

use pyo3::prelude::*;

/// Parses and validates `query`; returns its canonical text.
#[pyfunction]
fn parse(py: Python<'_>, query: &str) -> PyResult<String> {
    traceql::parse(query)
        .map(|q| q.to_string())
        .map_err(|e| errors::syntax_error(py, &e))
}

/// mimalloc for the engine's own allocations (many short-lived buffers from several threads,
/// where the system allocator costs a large share of a query's time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The native module.
#[pymodule]
fn _traceql(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(data::ingest, m)?)?;
    m.add_function(wrap_pyfunction!(data::generate, m)?)?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<engine::SearchResult>()?;
    m.add_class::<engine::MetricsResult>()?;
    Ok(())
}

//! Writing blocks: OTLP files in, generated traces in.

use std::path::PathBuf;

use pyo3::prelude::*;
use traceql::storage::catalog::Catalog;
use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::storage::ingest::{ingest_files, ingest_generated};
use traceql::storage::writer::WriteOptions;

use crate::errors::{invalid_request, storage_error};
use crate::running::run;

/// Ingests OTLP files (protobuf, OTLP/JSON, Tempo JSON) into one new block of `tenant`; returns
/// the block's `meta.json` text.
#[pyfunction]
#[pyo3(signature = (url, paths, tenant))]
pub fn ingest(py: Python<'_>, url: &str, paths: Vec<PathBuf>, tenant: String) -> PyResult<String> {
    let catalog = Catalog::open(url).map_err(|e| storage_error(py, e))?;
    let meta = run(py, async move {
        ingest_files(&catalog, &tenant, &paths, &WriteOptions::default()).await
    })?
    .map_err(|e| storage_error(py, e))?;
    serde_json::to_string(&meta).map_err(|e| invalid_request(py, e.to_string()))
}

/// Writes `traces` synthetic traces (deterministic from `seed`, starts spread over
/// `[start, start + window)` unix nanoseconds) as blocks of at most `block_traces` traces;
/// returns the written blocks' `meta.json` texts as a JSON list.
#[pyfunction]
#[pyo3(signature = (url, traces, seed, tenant, start, window, block_traces))]
#[allow(clippy::too_many_arguments)]
pub fn generate(
    py: Python<'_>,
    url: &str,
    traces: u64,
    seed: u64,
    tenant: String,
    start: u64,
    window: u64,
    block_traces: u64,
) -> PyResult<String> {
    let catalog = Catalog::open(url).map_err(|e| storage_error(py, e))?;
    let generator = Generator::new(GeneratorConfig {
        seed,
        start_unix_nano: start,
        window_nanos: window.max(1),
    });
    let metas = run(py, async move {
        ingest_generated(
            &catalog,
            &tenant,
            &generator,
            traces,
            block_traces,
            |_, _| {},
        )
        .await
    })?
    .map_err(|e| storage_error(py, e))?;
    serde_json::to_string(&metas).map_err(|e| invalid_request(py, e.to_string()))
}

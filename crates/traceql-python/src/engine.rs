//! The `Engine` class: queries over one tenant's blocks, and the results it hands back.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3_arrow::PyTable;
use traceql::engine::metrics::{MetricsRequest, MetricsResult as Metrics, metrics};
use traceql::engine::response::SearchResponse;
use traceql::engine::search::{SearchRequest, search};
use traceql::engine::tags::{tag_names, tag_values};
use traceql::engine::trace_by_id::{parse_trace_id, trace_by_id, v2_json};
use traceql::storage::catalog::Catalog;

use crate::errors::{engine_error, invalid_request, storage_error};
use crate::metrics_table::metrics_table;
use crate::running::run;
use crate::search_table::search_table;

/// Queries over the blocks of one tenant in one storage location.
#[pyclass(module = "traceql._traceql", frozen)]
pub struct Engine {
    catalog: Catalog,
    tenant: String,
    memory_limit: Option<u64>,
}

#[pymethods]
impl Engine {
    /// Opens `url` (a folder, file://, memory://, s3://, gs://, az://) for `tenant`; queries
    /// may hold at most `memory_limit` bytes.
    #[new]
    #[pyo3(signature = (url, tenant, memory_limit))]
    fn new(py: Python<'_>, url: &str, tenant: String, memory_limit: Option<u64>) -> PyResult<Self> {
        let catalog = Catalog::open(url).map_err(|e| storage_error(py, e))?;
        Ok(Engine {
            catalog,
            tenant,
            memory_limit,
        })
    }

    /// The storage URL.
    #[getter]
    fn url(&self) -> &str {
        self.catalog.url()
    }

    /// The tenant.
    #[getter]
    fn tenant(&self) -> &str {
        &self.tenant
    }

    /// TraceQL search; `start`/`end` in unix seconds, `timeout` in seconds.
    #[pyo3(signature = (query, start, end, limit, spss, timeout))]
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        py: Python<'_>,
        query: String,
        start: Option<u64>,
        end: Option<u64>,
        limit: usize,
        spss: usize,
        timeout: Option<f64>,
    ) -> PyResult<SearchResult> {
        let mut request = SearchRequest::new(query);
        request.start = start;
        request.end = end;
        request.limit = limit;
        request.spss = spss;
        request.memory_limit = self.memory_limit;
        request.timeout = query_timeout(py, timeout)?;
        let (catalog, tenant) = (self.catalog.clone(), self.tenant.clone());
        let response = run(py, async move { search(&catalog, &tenant, &request).await })?
            .map_err(|e| engine_error(py, e))?;
        Ok(SearchResult { response })
    }

    /// A TraceQL metrics query; `start`, `end` and `step` in nanoseconds, `timeout` in seconds.
    #[pyo3(signature = (query, start, end, step, instant, exemplars, timeout))]
    #[allow(clippy::too_many_arguments)]
    fn metrics(
        &self,
        py: Python<'_>,
        query: String,
        start: u64,
        end: u64,
        step: Option<u64>,
        instant: bool,
        exemplars: usize,
        timeout: Option<f64>,
    ) -> PyResult<MetricsResult> {
        let mut request = MetricsRequest::range(query, start, end);
        request.step = step;
        request.instant = instant;
        request.exemplars = exemplars;
        request.memory_limit = self.memory_limit;
        request.timeout = query_timeout(py, timeout)?;
        let (catalog, tenant) = (self.catalog.clone(), self.tenant.clone());
        let result = run(
            py,
            async move { metrics(&catalog, &tenant, &request).await },
        )?
        .map_err(|e| engine_error(py, e))?;
        Ok(MetricsResult { result, instant })
    }

    /// One trace as Tempo's v2 trace-by-ID JSON, or `None` when no block holds it.
    fn trace(&self, py: Python<'_>, trace_id: &str) -> PyResult<Option<String>> {
        let id = parse_trace_id(trace_id).map_err(|e| engine_error(py, e))?;
        let (catalog, tenant) = (self.catalog.clone(), self.tenant.clone());
        let found = run(py, async move { trace_by_id(&catalog, &tenant, &id).await })?
            .map_err(|e| engine_error(py, e))?;
        Ok(found.map(|lookup| v2_json(&lookup.trace)))
    }

    /// Tag names per scope as Tempo's v2 JSON.
    #[pyo3(signature = (scope))]
    fn tags(&self, py: Python<'_>, scope: Option<String>) -> PyResult<String> {
        let (catalog, tenant) = (self.catalog.clone(), self.tenant.clone());
        let names = run(py, async move {
            tag_names(&catalog, &tenant, scope.as_deref(), None).await
        })?
        .map_err(|e| engine_error(py, e))?;
        serde_json::to_string(&names).map_err(|e| invalid_request(py, e.to_string()))
    }

    /// Values of one tag as Tempo's v2 JSON, optionally only from spans matching `query`.
    #[pyo3(signature = (tag, query))]
    fn tag_values(&self, py: Python<'_>, tag: String, query: Option<String>) -> PyResult<String> {
        let (catalog, tenant) = (self.catalog.clone(), self.tenant.clone());
        let values = run(py, async move {
            tag_values(&catalog, &tenant, &tag, query.as_deref(), None).await
        })?
        .map_err(|e| engine_error(py, e))?;
        serde_json::to_string(&values).map_err(|e| invalid_request(py, e.to_string()))
    }
}

/// What a search returned.
#[pyclass(module = "traceql._traceql", frozen)]
pub struct SearchResult {
    response: SearchResponse,
}

#[pymethods]
impl SearchResult {
    /// Tempo's search response JSON.
    fn json(&self) -> String {
        self.response.to_json()
    }

    /// One row per returned span, as a `pyarrow.Table` (zero-copy through the Arrow C
    /// interface).
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (schema, batch) =
            search_table(&self.response).map_err(|e| invalid_request(py, e.to_string()))?;
        PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
    }
}

/// What a metrics query returned.
#[pyclass(module = "traceql._traceql", frozen)]
pub struct MetricsResult {
    result: Metrics,
    instant: bool,
}

#[pymethods]
impl MetricsResult {
    /// Tempo's query_range (or instant) response JSON.
    fn json(&self) -> String {
        let encoded = if self.instant {
            serde_json::to_string(&self.result.to_instant())
        } else {
            serde_json::to_string(&self.result.to_range())
        };
        // Plain structs of strings and numbers: serialisation cannot fail.
        encoded.unwrap_or_default()
    }

    /// Long format as a `pyarrow.Table`: one column per label, then `timestamp` and `value`.
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (schema, batch) = metrics_table(&self.result, self.instant)
            .map_err(|e| invalid_request(py, e.to_string()))?;
        PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
    }
}

/// A timeout given in seconds (positive and finite, checked in Python) as a duration; one too
/// long for a duration is an invalid request, not a panic.
fn query_timeout(py: Python<'_>, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|e| invalid_request(py, format!("timeout of {s} seconds: {e}")))
        })
        .transpose()
}

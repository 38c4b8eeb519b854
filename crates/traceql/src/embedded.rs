//! [`Engine`]: the one handle a backend keeps to run TraceQL over the span blocks of a store.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use object_store::ObjectStore;
use traceql_engine::EngineError;
use traceql_engine::metrics::{MetricsRequest, MetricsResult, metrics};
use traceql_engine::response::SearchResponse;
use traceql_engine::search::{SearchRequest, search};
use traceql_engine::tags::{TagNames, TagValues, tag_names, tag_values};
use traceql_engine::trace_by_id::{TraceLookup, parse_trace_id, trace_by_id};
use traceql_storage::catalog::Catalog;
use traceql_storage::ingest::ingest_spans;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::Span;
use traceql_storage::writer::WriteOptions;

/// Limits an [`Engine`] applies to every query it runs (a request's own timeout or memory
/// limit, when set, wins).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// The most memory one query may hold, bytes (`None`: no limit).
    pub memory_limit: Option<u64>,
    /// The longest one query may run (`None`: no limit).
    pub timeout: Option<Duration>,
}

/// A TraceQL engine over the span blocks of one object store: search, trace by ID, tag names
/// and values, metrics, and writing spans as blocks. Clones share the store.
///
/// Every query has an async form (for a backend already on Tokio) and a `_blocking` form
/// (which runs it on a runtime of the engine's own; do not call those from async code).
///
/// ```
/// use std::sync::Arc;
/// use traceql::{Engine, EngineOptions, SearchRequest};
///
/// let store = Arc::new(object_store::memory::InMemory::new());
/// let engine = Engine::new(store, "", EngineOptions::default());
/// let found = engine
///     .search_blocking("tenant-a", &SearchRequest::new("{ status = error }"))
///     .unwrap();
/// assert!(found.traces.is_empty()); // nothing written yet
/// ```
#[derive(Clone)]
pub struct Engine {
    catalog: Catalog,
    options: EngineOptions,
    runtime: Arc<OnceLock<tokio::runtime::Runtime>>,
}

impl Engine {
    /// An engine over the blocks under `prefix` in `store`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let store = Arc::new(object_store::memory::InMemory::new());
    /// let engine = traceql::Engine::new(store, "traces", traceql::EngineOptions::default());
    /// assert_eq!(engine.options().timeout, None);
    /// ```
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, options: EngineOptions) -> Engine {
        Engine::over(Catalog::from_store(store, prefix), options)
    }

    /// An engine over the blocks at `url`: a folder, `file://`, `memory://`, `s3://bucket/prefix`,
    /// `gs://…` or `az://…` (cloud stores configured from the usual environment variables).
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://docs", Default::default()).unwrap();
    /// assert!(engine.tag_names_blocking("t", None).unwrap().scopes.len() >= 1);
    /// ```
    pub fn open(url: &str, options: EngineOptions) -> Result<Engine, EngineError> {
        Ok(Engine::over(Catalog::open(url)?, options))
    }

    /// An engine over an open catalog.
    ///
    /// ```
    /// let catalog = traceql::storage::catalog::Catalog::open("memory://over").unwrap();
    /// let engine = traceql::Engine::over(catalog, Default::default());
    /// assert_eq!(engine.catalog().url(), "memory://over");
    /// ```
    pub fn over(catalog: Catalog, options: EngineOptions) -> Engine {
        Engine {
            catalog,
            options,
            runtime: Arc::new(OnceLock::new()),
        }
    }

    /// The catalog of blocks the engine reads.
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://catalog", Default::default()).unwrap();
    /// assert!(engine.catalog().url().starts_with("memory://"));
    /// ```
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The limits every query runs with.
    ///
    /// ```
    /// let options = traceql::EngineOptions { memory_limit: Some(1 << 30), timeout: None };
    /// let engine = traceql::Engine::open("memory://options", options.clone()).unwrap();
    /// assert_eq!(engine.options(), &options);
    /// ```
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Writes `spans` (any order, any traces) as one new block of `tenant`; queries see it at
    /// once.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use traceql::storage::generator::{Generator, GeneratorConfig};
    /// let engine = traceql::Engine::open("memory://write", Default::default()).unwrap();
    /// let traces = Generator::new(GeneratorConfig::default()).traces(0..3);
    /// let block = engine.write("t", traces.into_iter().flat_map(|t| t.spans)).await.unwrap();
    /// assert_eq!(block.trace_count, 3);
    /// # });
    /// ```
    pub async fn write(
        &self,
        tenant: &str,
        spans: impl IntoIterator<Item = Span>,
    ) -> Result<BlockMeta, EngineError> {
        Ok(ingest_spans(&self.catalog, tenant, spans, &WriteOptions::default()).await?)
    }

    /// Searches the blocks of `tenant`: the newest `request.limit` matching traces.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let engine = traceql::Engine::open("memory://search", Default::default()).unwrap();
    /// let request = traceql::SearchRequest::new("{ resource.service.name = \"checkout\" }");
    /// assert!(engine.search("t", &request).await.unwrap().traces.is_empty());
    /// # });
    /// ```
    pub async fn search(
        &self,
        tenant: &str,
        request: &SearchRequest,
    ) -> Result<SearchResponse, EngineError> {
        let mut request = request.clone();
        self.limit(&mut request.timeout, &mut request.memory_limit);
        search(&self.catalog, tenant, &request).await
    }

    /// [`Engine::search`], blocking.
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://search-blocking", Default::default()).unwrap();
    /// let e = engine.search_blocking("t", &traceql::SearchRequest::new("{ .a = }")).unwrap_err();
    /// assert!(matches!(e, traceql::Error::Query(_)));
    /// ```
    pub fn search_blocking(
        &self,
        tenant: &str,
        request: &SearchRequest,
    ) -> Result<SearchResponse, EngineError> {
        self.block_on(self.search(tenant, request))
    }

    /// Runs a metrics query (range or instant) over the blocks of `tenant`.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let engine = traceql::Engine::open("memory://metrics", Default::default()).unwrap();
    /// let hour = 3_600_000_000_000;
    /// let request = traceql::MetricsRequest::range("{ } | rate()", hour, 2 * hour);
    /// assert!(engine.metrics("t", &request).await.is_ok());
    /// # });
    /// ```
    pub async fn metrics(
        &self,
        tenant: &str,
        request: &MetricsRequest,
    ) -> Result<MetricsResult, EngineError> {
        let mut request = request.clone();
        self.limit(&mut request.timeout, &mut request.memory_limit);
        metrics(&self.catalog, tenant, &request).await
    }

    /// [`Engine::metrics`], blocking.
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://metrics-blocking", Default::default()).unwrap();
    /// let request = traceql::MetricsRequest::range("{ } | rate() by (name)", 0, 60_000_000_000);
    /// assert!(engine.metrics_blocking("t", &request).is_ok());
    /// ```
    pub fn metrics_blocking(
        &self,
        tenant: &str,
        request: &MetricsRequest,
    ) -> Result<MetricsResult, EngineError> {
        self.block_on(self.metrics(tenant, request))
    }

    /// The trace `trace_id` (hex, leading zeros optional) from every block of `tenant` that
    /// holds spans of it; `None` when none does.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let engine = traceql::Engine::open("memory://trace", Default::default()).unwrap();
    /// assert!(engine.trace("t", "4bf92f3577b34da6a3ce929d0e0e4736").await.unwrap().is_none());
    /// # });
    /// ```
    pub async fn trace(
        &self,
        tenant: &str,
        trace_id: &str,
    ) -> Result<Option<TraceLookup>, EngineError> {
        trace_by_id(&self.catalog, tenant, &parse_trace_id(trace_id)?).await
    }

    /// [`Engine::trace`], blocking.
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://trace-blocking", Default::default()).unwrap();
    /// assert!(engine.trace_blocking("t", "not hex").is_err());
    /// ```
    pub fn trace_blocking(
        &self,
        tenant: &str,
        trace_id: &str,
    ) -> Result<Option<TraceLookup>, EngineError> {
        self.block_on(self.trace(tenant, trace_id))
    }

    /// The attribute names of `tenant`'s spans per scope (or of one `scope`), plus the
    /// intrinsics.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let engine = traceql::Engine::open("memory://tags", Default::default()).unwrap();
    /// let names = engine.tag_names("t", Some("intrinsic")).await.unwrap();
    /// assert!(names.scopes[0].tags.contains(&"duration".to_string()));
    /// # });
    /// ```
    pub async fn tag_names(
        &self,
        tenant: &str,
        scope: Option<&str>,
    ) -> Result<TagNames, EngineError> {
        tag_names(&self.catalog, tenant, scope, None).await
    }

    /// [`Engine::tag_names`], blocking.
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://tags-blocking", Default::default()).unwrap();
    /// assert!(engine.tag_names_blocking("t", Some("no such scope")).is_err());
    /// ```
    pub fn tag_names_blocking(
        &self,
        tenant: &str,
        scope: Option<&str>,
    ) -> Result<TagNames, EngineError> {
        self.block_on(self.tag_names(tenant, scope))
    }

    /// The values `tag` (`resource.service.name`, `.http.route`, `name`, `status`, …) takes
    /// in `tenant`'s spans, only among spans matching `query` when it is a `{ … }` filter.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let engine = traceql::Engine::open("memory://values", Default::default()).unwrap();
    /// let values = engine.tag_values("t", "status", None).await.unwrap();
    /// assert_eq!(values.tag_values.len(), 3); // ok, error, unset
    /// # });
    /// ```
    pub async fn tag_values(
        &self,
        tenant: &str,
        tag: &str,
        query: Option<&str>,
    ) -> Result<TagValues, EngineError> {
        tag_values(&self.catalog, tenant, tag, query, None).await
    }

    /// [`Engine::tag_values`], blocking.
    ///
    /// ```
    /// let engine = traceql::Engine::open("memory://values-blocking", Default::default()).unwrap();
    /// assert!(engine.tag_values_blocking("t", "not a tag", None).is_err());
    /// ```
    pub fn tag_values_blocking(
        &self,
        tenant: &str,
        tag: &str,
        query: Option<&str>,
    ) -> Result<TagValues, EngineError> {
        self.block_on(self.tag_values(tenant, tag, query))
    }

    /// Gives a request's `timeout` and `memory_limit` the engine's where it sets none.
    fn limit(&self, timeout: &mut Option<Duration>, memory_limit: &mut Option<u64>) {
        *timeout = timeout.or(self.options.timeout);
        *memory_limit = memory_limit.or(self.options.memory_limit);
    }

    /// Runs `work` to its end on the engine's own runtime, started at first use.
    fn block_on<T>(
        &self,
        work: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let runtime = match self.runtime.get() {
            Some(r) => r,
            None => {
                let built = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| EngineError::Internal(format!("cannot start a runtime: {e}")))?;
                self.runtime.get_or_init(|| built)
            }
        };
        runtime.block_on(work)
    }
}

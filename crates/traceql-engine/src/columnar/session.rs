//! A DataFusion session reading a catalog's blocks through its object store.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigNonZeroUsize;
use datafusion::common::config::{ParquetOptions, TableParquetOptions};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReaderFactory, can_expr_be_pushed_down_with_schemas,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::cache::cache_manager::CachedFileMetadataEntry;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::object_store::ObjectMeta;
use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::utils::{conjunction_opt, split_conjunction};
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{DataFrame, Expr, ParquetReadOptions, SessionConfig, SessionContext};
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::read::BlockIndex;
use url::Url;

/// The URL the catalog's store is registered under inside DataFusion.
const STORE_URL: &str = "traceql://catalog/";

/// A DataFusion session over one catalog; clones share it.
#[derive(Clone)]
pub struct Session {
    ctx: SessionContext,
    catalog: Catalog,
}

impl Session {
    /// A session that scans with `partitions` parallel partitions, pushes filters into the
    /// Parquet scan and bounds the memory of its plans by `memory_limit` bytes.
    pub fn new(
        catalog: &Catalog,
        partitions: usize,
        memory_limit: Option<u64>,
    ) -> Result<Session, DataFusionError> {
        let config = SessionConfig::new()
            .with_target_partitions(partitions.max(1))
            .set_bool("datafusion.execution.parquet.pushdown_filters", true)
            .set_bool("datafusion.execution.parquet.reorder_filters", true)
            // Loading a file's page index (every column's, on first open) cost more than the
            // pages it pruned: row groups hold whole traces sorted by start, so windows and
            // time ranges are cut at row groups, and a no-match search read 1.7x faster
            // without it (10 M spans).
            .set_bool("datafusion.execution.parquet.enable_page_index", false)
            // Row groups are pruned by their own statistics when scanned; table-wide
            // statistics of every column would cost a planning pass per block and query.
            .set_bool("datafusion.execution.collect_statistics", false)
            // Plain Utf8 rather than views: fetched rows decode with the block's own types.
            .set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            );
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = memory_limit {
            runtime = runtime.with_memory_limit(usize::try_from(limit).unwrap_or(usize::MAX), 1.0);
        }
        let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
        let url = Url::parse(STORE_URL).map_err(|e| DataFusionError::External(Box::new(e)))?;
        ctx.register_object_store(&url, Arc::clone(catalog.store()));
        Ok(Session {
            ctx,
            catalog: catalog.clone(),
        })
    }

    /// Runs `frame` (a plan over the block `meta` describes) to the end and describes its
    /// physical plan with the rows and time of every node.
    pub async fn run_and_describe(
        &self,
        frame: DataFrame,
        meta: &BlockMeta,
    ) -> Result<String, DataFusionError> {
        let task = Arc::new(frame.task_ctx());
        let plan = frame.create_physical_plan().await?;
        collect(Arc::clone(&plan), task)
            .await
            .map_err(self.reading(meta))?;
        Ok(DisplayableExecutionPlan::with_metrics(plan.as_ref())
            .indent(false)
            .to_string())
    }

    /// The context plans of the session run in.
    pub fn task_ctx(&self) -> Arc<TaskContext> {
        self.ctx.task_ctx()
    }

    /// A reservation of memory from the session's pool for `consumer`, which holds state
    /// beside DataFusion's plans (it starts empty and is freed when dropped).
    pub fn reserve(&self, consumer: &str) -> MemoryReservation {
        MemoryConsumer::new(consumer).register(&self.ctx.runtime_env().memory_pool)
    }

    /// Wraps an error met while reading the block `meta` describes with the block's file.
    pub fn reading(&self, meta: &BlockMeta) -> impl Fn(DataFusionError) -> DataFusionError {
        let path = self.catalog.data_path(&meta.tenant, &meta.block_id);
        move |e| e.context(format!("reading {path}"))
    }

    /// Hands DataFusion a data file's footer already read (`metadata` of the file `object`),
    /// so that scans of it neither fetch nor parse it again.
    fn share_footer(&self, object: &ObjectMeta, metadata: Arc<ParquetMetaData>) {
        let entry = CachedFileMetadataEntry::new(
            object.clone(),
            Arc::new(CachedParquetMetaData::new(metadata)),
        );
        self.ctx
            .runtime_env()
            .cache_manager
            .get_file_metadata_cache()
            .put(&object.location, entry);
    }

    /// The session, with the footers `indexes` read handed to DataFusion so that its scans
    /// neither fetch nor parse them again.
    pub fn with_footers<'a>(self, indexes: impl IntoIterator<Item = &'a BlockIndex>) -> Session {
        for index in indexes {
            self.share_footer(index.object(), Arc::clone(index.parquet_metadata()));
        }
        self
    }

    /// `condition` (over the columns of `schema`) as a physical expression, coerced and
    /// simplified as a plan's filter would be (any expression over them, in fact).
    pub fn physical_condition(
        &self,
        condition: Expr,
        schema: &Schema,
    ) -> Result<Arc<dyn PhysicalExpr>, DataFusionError> {
        let schema = Arc::new(DFSchema::try_from(schema.clone())?);
        let state = self.ctx.state();
        let context = SimplifyContext::builder()
            .with_schema(Arc::clone(&schema))
            .with_config_options(Arc::clone(state.config_options()))
            .build();
        let simplifier = ExprSimplifier::new(context);
        let condition = simplifier.simplify(simplifier.coerce(condition, &schema)?)?;
        state.create_physical_expr(condition, &schema)
    }

    /// A scan of the data file `object` read as `schema` (every column of it) that keeps the
    /// rows passing `filter` and outputs `columns` (each an aliased expression), built straight
    /// as physical operators, as DataFusion's planner would (the filter pushed into the Parquet
    /// scan, a filter node above it for the conjuncts that cannot be), but without its logical
    /// planning, optimizing and file listing: for a dozen blocks those cost more than reading
    /// the first window of row groups. The file's row groups are spread over the session's
    /// partitions by [`super::RowGroupScan`] each run.
    pub fn filtered_file_scan(
        &self,
        object: &ObjectMeta,
        schema: SchemaRef,
        filter: Expr,
        columns: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let state = self.ctx.state();
        let predicate = self.physical_condition(filter, &schema)?;
        let (pushed, kept): (Vec<_>, Vec<_>) = split_conjunction(&predicate)
            .into_iter()
            .cloned()
            .partition(|c| can_expr_be_pushed_down_with_schemas(c, &schema));
        let runtime = state.runtime_env();
        let store = runtime.object_store(ObjectStoreUrl::parse(STORE_URL)?)?;
        let metadata = runtime.cache_manager.get_file_metadata_cache();
        let options = TableParquetOptions {
            global: state.config_options().execution.parquet.clone(),
            ..TableParquetOptions::default()
        };
        let mut source = ParquetSource::new(Arc::clone(&schema))
            .with_table_parquet_options(options)
            .with_parquet_file_reader_factory(Arc::new(CachedParquetFileReaderFactory::new(
                store, metadata,
            )));
        if let Some(pushed) = conjunction_opt(pushed) {
            source = source.with_predicate(pushed);
        }
        let file = PartitionedFile::from(object.clone());
        let partitions = state.config().target_partitions().max(1);
        let groups = (0..partitions)
            .map(|p| FileGroup::new(if p == 0 { vec![file.clone()] } else { vec![] }))
            .collect();
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::parse(STORE_URL)?, Arc::new(source))
                .with_file_groups(groups)
                .build();
        let mut plan: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        if let Some(kept) = conjunction_opt(kept) {
            plan = Arc::new(FilterExec::try_new(kept, plan)?);
        }
        let outputs = columns
            .into_iter()
            .map(|column| {
                let name = column.schema_name().to_string();
                let expr = self.physical_condition(column.unalias(), &schema)?;
                Ok((expr, name))
            })
            .collect::<Result<Vec<_>, DataFusionError>>()?;
        Ok(Arc::new(ProjectionExec::try_new(outputs, plan)?))
    }

    /// The session, with conditions evaluated after the scan decodes its columns rather than
    /// as a row filter inside it. Right for aggregations, which read few narrow columns of
    /// many rows: a row filter decodes its own columns first, then the others row-selection by
    /// row-selection, which for `{ resource.service.name = "checkout" } | rate()` (15% of the
    /// spans) took ~1.5x as long on 10 M spans as decoding both columns whole (median of 5
    /// interleaved runs: 368 vs 242 ms).
    pub fn without_row_filters(self) -> Session {
        self.with_parquet_options(|o| o.pushdown_filters = false)
    }

    /// The session, for scans whose row groups were pruned by statistics and bloom filters
    /// before planning ([`super::pruning`]): DataFusion does not read the bloom filters again
    /// each time a scan opens a file.
    pub fn pruned_ahead(self) -> Session {
        self.with_parquet_options(|o| o.bloom_filter_on_read = false)
    }

    /// The session, with plans that keep each partition's rows in the order its file scan
    /// reads them: no round-robin repartitioning is added to spread work over the cores (a
    /// scan is split into one partition per core by row groups already).
    pub fn in_file_order(self) -> Session {
        let state = self.ctx.state_ref();
        state
            .write()
            .config_mut()
            .options_mut()
            .optimizer
            .enable_round_robin_repartition = false;
        self
    }

    /// The session, with batches of at least `rows` rows (a scan whose filter must see whole
    /// row groups at once).
    pub fn with_batch_rows_at_least(self, rows: usize) -> Session {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        let execution = &mut state.config_mut().options_mut().execution;
        if let Ok(rows) = ConfigNonZeroUsize::try_new(rows)
            && rows.get() > execution.batch_size.get()
        {
            execution.batch_size = rows;
        }
        drop(state);
        self
    }

    /// The session, planning scans with `partitions` parallel partitions from now on.
    pub fn with_partitions(self, partitions: usize) -> Session {
        let state = self.ctx.state_ref();
        state
            .write()
            .config_mut()
            .options_mut()
            .execution
            .target_partitions = partitions.max(1);
        self
    }

    /// The session, with its Parquet options changed by `change`.
    fn with_parquet_options(self, change: impl FnOnce(&mut ParquetOptions)) -> Session {
        let state = self.ctx.state_ref();
        change(&mut state.write().config_mut().options_mut().execution.parquet);
        self
    }

    /// A session that scans with one partition per core.
    pub fn parallel(
        catalog: &Catalog,
        memory_limit: Option<u64>,
    ) -> Result<Session, DataFusionError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Session::new(catalog, cores, memory_limit)
    }

    /// The data file of the block `meta` describes, as a DataFrame, with its `schema` known
    /// (read from the footer already) rather than inferred.
    pub async fn block_with_schema(
        &self,
        meta: &BlockMeta,
        schema: &Schema,
    ) -> Result<DataFrame, DataFusionError> {
        self.read(meta, ParquetReadOptions::default().schema(schema))
            .await
    }

    /// The data file of the block `meta` describes, as a DataFrame.
    pub async fn block(&self, meta: &BlockMeta) -> Result<DataFrame, DataFusionError> {
        self.read(meta, ParquetReadOptions::default()).await
    }

    async fn read(
        &self,
        meta: &BlockMeta,
        options: ParquetReadOptions<'_>,
    ) -> Result<DataFrame, DataFusionError> {
        let path = self.catalog.data_path(&meta.tenant, &meta.block_id);
        self.ctx
            .read_parquet(format!("{STORE_URL}{path}"), options)
            .await
            .map_err(self.reading(meta))
    }
}

//! Which row groups of a block a condition may match, by their statistics: decided on the
//! footer already read, before any scan is planned, so that a query plans and scans only the
//! blocks and row groups that may hold a match (planning a scan costs milliseconds per block;
//! a search for a value no block holds then plans nothing).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::datasource::physical_plan::parquet::{
    ParquetAccessPlan, ParquetFileMetrics, RowGroupAccessPlanFilter,
};
use datafusion::error::DataFusionError;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::prelude::Expr;
use traceql_storage::read::BlockIndex;

use super::Session;

/// For each row group of the block whose footer `index` read, whether `condition` (over the
/// columns of `declared`, the schema a scan declares for the block's file) may hold for one of
/// its rows, as DataFusion's statistics pruning would decide when a scan opens the file. Every
/// row group where statistics cannot decide.
pub fn may_match(
    session: &Session,
    condition: Expr,
    declared: &Schema,
    index: &BlockIndex,
) -> Result<Vec<bool>, DataFusionError> {
    // Statistics are looked up by a column's position in the file: the condition is planned
    // over all of the file's columns, typed as the scan declares those it reads.
    let file = index.schema();
    let fields: Vec<_> = file
        .fields()
        .iter()
        .map(|f| match declared.field_with_name(f.name()) {
            Ok(d) => Arc::new(d.clone()),
            Err(_) => Arc::clone(f),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let predicate = session.physical_condition(condition, &schema)?;
    let footer = index.parquet_metadata();
    let row_groups = footer.row_groups();
    let mut access = RowGroupAccessPlanFilter::new(ParquetAccessPlan::new_all(row_groups.len()));
    if let Some(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(Arc::clone(&schema))
        .build(predicate)
    {
        let metrics = ParquetFileMetrics::new(0, "", &ExecutionPlanMetricsSet::new());
        access.prune_by_statistics(
            &schema,
            footer.file_metadata().schema_descr(),
            row_groups,
            &pruning,
            &metrics,
        );
    }
    let mut may = vec![false; row_groups.len()];
    for i in access.row_group_indexes() {
        may[i] = true;
    }
    Ok(may)
}

//! Which row groups of a block a condition may match, by their statistics and the bloom
//! filters of the columns it compares with values: decided on the footer already read (and
//! the filters, stored together at the end of the file), before any scan is planned, so that a query plans and scans only the
//! blocks and row groups that may hold a match (planning a scan costs milliseconds per block;
//! a search for a value no block holds then plans nothing).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::datasource::physical_plan::parquet::{
    BloomFilterStatistics, ParquetAccessPlan, ParquetFileMetrics, RowGroupAccessPlanFilter,
};
use datafusion::parquet::arrow::parquet_column;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::prelude::Expr;
use traceql_storage::read::BlockIndex;

use super::Session;
use crate::error::EngineError;

/// For each row group of the block whose footer `index` read, whether `condition` (over the
/// columns of `declared`, the schema a scan declares for the block's file) may hold for one of
/// its rows, as DataFusion's statistics and bloom filter pruning would decide when a scan
/// opens the file. Every row group where neither can decide.
pub async fn may_match(
    session: &Session,
    condition: Expr,
    declared: &Schema,
    index: &mut BlockIndex,
) -> Result<Vec<bool>, EngineError> {
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
    let footer = Arc::clone(index.parquet_metadata());
    let row_groups = footer.row_groups();
    let mut access = RowGroupAccessPlanFilter::new(ParquetAccessPlan::new_all(row_groups.len()));
    if let Some(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(Arc::clone(&schema))
        .build(predicate)
    {
        let metrics = ParquetFileMetrics::new(0, "", &ExecutionPlanMetricsSet::new());
        let parquet_schema = footer.file_metadata().schema_descr();
        access.prune_by_statistics(&schema, parquet_schema, row_groups, &pruning, &metrics);
        let left: Vec<usize> = access.row_group_indexes().collect();
        let mut blooms = vec![BloomFilterStatistics::new(); row_groups.len()];
        for name in pruning.literal_columns() {
            let Some((column, _)) = parquet_column(parquet_schema, &schema, &name) else {
                continue;
            };
            let descriptor = parquet_schema.column(column);
            let filters = index.bloom_filters(column, &left).await?;
            for (&group, filter) in left.iter().zip(filters) {
                if let Some(filter) = filter {
                    blooms[group].insert(
                        name.clone(),
                        filter.clone(),
                        descriptor.physical_type(),
                        descriptor.type_length(),
                    );
                }
            }
        }
        access.prune_by_bloom_filters(&pruning, &metrics, &blooms);
    }
    let mut may = vec![false; row_groups.len()];
    for i in access.row_group_indexes() {
        may[i] = true;
    }
    Ok(may)
}

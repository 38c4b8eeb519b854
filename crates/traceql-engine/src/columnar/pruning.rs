//! Which row groups of a block a condition may match, by their statistics and the bloom
//! filters of the columns it compares with values: decided on the footer already read (and
//! the filters, stored together at the end of the file), before any scan is planned, so that
//! a query plans and scans only the blocks and row groups that may hold a match (planning a
//! scan costs milliseconds per block; a search for a value no block holds plans nothing).

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::datasource::physical_plan::parquet::{
    BloomFilterStatistics, ParquetAccessPlan, ParquetFileMetrics, RowGroupAccessPlanFilter,
};
use datafusion::parquet::arrow::parquet_column;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::prelude::Expr;
use futures::future::try_join_all;
use traceql_storage::read::BlockIndex;

use super::{Session, scan_schema};
use crate::error::EngineError;

/// For each block (its footer in `indexes`, its condition in `conditions`, in the same order)
/// and each of its row groups, whether the condition may hold for one of the row group's rows,
/// as DataFusion's statistics and bloom filter pruning would decide when a scan opens the
/// file (true where neither can decide). Blocks are pruned concurrently.
pub async fn row_groups_that_may_match(
    session: &Session,
    indexes: &mut [BlockIndex],
    conditions: Vec<Expr>,
) -> Result<Vec<Vec<bool>>, EngineError> {
    let pruning = indexes
        .iter_mut()
        .zip(conditions)
        .map(|(index, condition)| may_match(session, condition, index));
    try_join_all(pruning).await
}

/// The blocks (their numbers) with a row group `may_match` says may match.
pub fn blocks_with_a_match(may_match: &[Vec<bool>]) -> Vec<usize> {
    (0..may_match.len())
        .filter(|&b| may_match[b].contains(&true))
        .collect()
}

/// [`row_groups_that_may_match`] for one block.
async fn may_match(
    session: &Session,
    condition: Expr,
    index: &mut BlockIndex,
) -> Result<Vec<bool>, EngineError> {
    // The condition's columns typed as a scan declares them (strings as views).
    let declared = scan_schema(index.schema(), std::slice::from_ref(&condition), &[]);
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

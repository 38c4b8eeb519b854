//! Which blocks and row groups a condition may match, decided before any scan is planned, so
//! that a query plans and scans only those that may hold a match (planning a scan costs
//! milliseconds per block; a search for a value no block holds plans nothing):
//! - blocks first, by the distinct values of their low-cardinality columns that `meta.json`
//!   records: a block passed over here has not even its footer read;
//! - then row groups, by their statistics and the bloom filters of the columns the condition
//!   compares with values, on the footer (and the filters, stored together at the end of the
//!   file).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::physical_plan::parquet::{
    BloomFilterStatistics, ParquetAccessPlan, ParquetFileMetrics, RowGroupAccessPlanFilter,
};
use datafusion::parquet::arrow::parquet_column;
use datafusion::physical_optimizer::pruning::{PruningPredicate, PruningPredicateBuilder};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::prelude::Expr;
use futures::future::try_join_all;
use traceql_storage::catalog::Catalog;
use traceql_storage::column_values::ValueSet;
use traceql_storage::meta::BlockMeta;
use traceql_storage::read::BlockIndex;
use traceql_storage::schema::block_schema;

use super::{Footers, Session, scan_schema};
use crate::error::EngineError;

/// The footers of the blocks `metas` (each with its condition in `conditions`, in the same
/// order) that may match by the values their `meta.json` records, read concurrently, and for
/// each block and row group whether the condition may hold for one of the row group's rows,
/// as DataFusion's statistics and bloom filter pruning would decide when a scan opens the
/// file (true where neither can decide; no row groups for a block passed over unread).
/// `session` plans the conditions.
pub async fn row_groups_that_may_match(
    session: &Session,
    catalog: &Catalog,
    metas: &[&BlockMeta],
    conditions: Vec<Expr>,
) -> Result<(Footers, Vec<Vec<bool>>), EngineError> {
    // Each condition is planned once, over the columns the block's meta says it has, and
    // serves both the recorded values and, unless the footer says otherwise, the row groups.
    let planned = (metas.iter().zip(&conditions))
        .map(|(meta, condition)| {
            let file = block_schema(&meta.dedicated_columns);
            Planned::over(session, file, condition)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let admitted = (planned.iter().zip(metas))
        .map(|(p, meta)| p.admits(meta))
        .collect::<Result<Vec<_>, _>>()?;
    let mut footers = Footers::open(catalog, metas, &admitted).await?;
    let of_admitted = (planned.iter().zip(conditions).zip(&admitted)).filter(|(_, a)| **a);
    let pruning = (footers.all_read_mut())
        .zip(of_admitted)
        .map(|(index, ((planned, condition), _))| may_match(session, planned, condition, index));
    let mut read = try_join_all(pruning).await?.into_iter();
    let may_match = (admitted.iter())
        .map(|&a| match a {
            true => read.next().unwrap_or_default(),
            false => Vec::new(),
        })
        .collect();
    Ok((footers, may_match))
}

/// The blocks (their numbers) with a row group `may_match` says may match.
pub fn blocks_with_a_match(may_match: &[Vec<bool>]) -> Vec<usize> {
    (0..may_match.len())
        .filter(|&b| may_match[b].contains(&true))
        .collect()
}

/// A block's condition planned for pruning over the columns of its data file.
struct Planned {
    /// The data file's columns.
    file: SchemaRef,
    /// The same columns, those the condition reads typed as a scan declares them.
    schema: SchemaRef,
    /// `None` when nothing can be pruned by the condition.
    pruning: Option<Arc<PruningPredicate>>,
}

impl Planned {
    /// `condition` planned in `session` over a data file with the columns `file`.
    fn over(session: &Session, file: SchemaRef, condition: &Expr) -> Result<Planned, EngineError> {
        let schema = condition_schema(&file, condition);
        let predicate = session.physical_condition(condition.clone(), &schema)?;
        let pruning = PruningPredicateBuilder::new()
            .with_file_schema(Arc::clone(&schema))
            .build(predicate);
        Ok(Planned {
            file,
            schema,
            pruning,
        })
    }

    /// Whether the condition may hold for one of the rows of the block `meta` describes by the
    /// distinct values its `meta.json` records (true for blocks that record none): decided
    /// before any footer is read, so that a search for a value no block holds reads no footer.
    fn admits(&self, meta: &BlockMeta) -> Result<bool, EngineError> {
        match (&meta.column_values, &self.pruning) {
            (Some(values), Some(pruning)) => {
                Ok(pruning.prune(&BlockValues(values))?.first() != Some(&false))
            }
            _ => Ok(true),
        }
    }
}

/// [`row_groups_that_may_match`] for one block, with `condition` as `planned` planned it (or,
/// should its data file have other columns than its meta says, planned again).
async fn may_match(
    session: &Session,
    planned: &Planned,
    condition: Expr,
    index: &mut BlockIndex,
) -> Result<Vec<bool>, EngineError> {
    let replanned;
    let planned = match index.schema().fields() == planned.file.fields() {
        true => planned,
        false => {
            replanned = Planned::over(session, Arc::new(index.schema().clone()), &condition)?;
            &replanned
        }
    };
    let schema = &planned.schema;
    let footer = Arc::clone(index.parquet_metadata());
    let row_groups = footer.row_groups();
    let mut access = RowGroupAccessPlanFilter::new(ParquetAccessPlan::new_all(row_groups.len()));
    if let Some(pruning) = &planned.pruning {
        let metrics = ParquetFileMetrics::new(0, "", &ExecutionPlanMetricsSet::new());
        let parquet_schema = footer.file_metadata().schema_descr();
        access.prune_by_statistics(schema, parquet_schema, row_groups, pruning, &metrics);
        let left: Vec<usize> = access.row_group_indexes().collect();
        let mut blooms = vec![BloomFilterStatistics::new(); row_groups.len()];
        for name in pruning.literal_columns() {
            let Some((column, _)) = parquet_column(parquet_schema, schema, &name) else {
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
        access.prune_by_bloom_filters(pruning, &metrics, &blooms);
    }
    let mut may = vec![false; row_groups.len()];
    for i in access.row_group_indexes() {
        may[i] = true;
    }
    Ok(may)
}

/// The columns of a block's data file (`file`) with those `condition` reads typed as a scan
/// declares them (strings as views): statistics are looked up by a column's position in the
/// file, so a condition is planned over all of the file's columns.
fn condition_schema(file: &Schema, condition: &Expr) -> SchemaRef {
    let declared = scan_schema(file, std::slice::from_ref(condition), &[]);
    let fields: Vec<_> = file
        .fields()
        .iter()
        .map(|f| match declared.field_with_name(f.name()) {
            Ok(d) => Arc::new(d.clone()),
            Err(_) => Arc::clone(f),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A block's recorded column values as the statistics of one container: the smallest and
/// largest value of each column, and which literals it may hold.
struct BlockValues<'a>(&'a BTreeMap<String, ValueSet>);

impl BlockValues<'_> {
    /// The smallest (`largest` false) or largest value of `column`; `None` when unknown or
    /// when every row is null.
    fn bound(&self, column: &Column, largest: bool) -> Option<ArrayRef> {
        let pick = |n: usize| if largest { n - 1 } else { 0 };
        match self.0.get(column.name())? {
            ValueSet::Strings(v) if !v.is_empty() => {
                Some(Arc::new(StringArray::from(vec![v[pick(v.len())].as_str()])))
            }
            ValueSet::Ints(v) if !v.is_empty() => {
                Some(Arc::new(Int64Array::from(vec![v[pick(v.len())]])))
            }
            _ => None,
        }
    }
}

impl PruningStatistics for BlockValues<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bound(column, false)
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.bound(column, true)
    }

    fn num_containers(&self) -> usize {
        1
    }

    fn null_counts(&self, _column: &Column) -> Option<ArrayRef> {
        None
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        None
    }

    /// False when the column holds none of `literals`, true when it holds nothing else (rows
    /// without a value aside), null otherwise; `None` for a literal of another type.
    fn contained(&self, column: &Column, literals: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        let literals = literals.iter().filter(|l| !l.is_null());
        // How many of the column's values are among the literals, of how many.
        let (inside, count) = match self.0.get(column.name())? {
            ValueSet::Strings(values) => {
                let wanted = (literals.map(|l| l.try_as_str().flatten()))
                    .collect::<Option<HashSet<&str>>>()?;
                let inside = values.iter().filter(|v| wanted.contains(v.as_str()));
                (inside.count(), values.len())
            }
            ValueSet::Ints(values) => {
                let wanted = literals.map(integer).collect::<Option<HashSet<i64>>>()?;
                (
                    values.iter().filter(|v| wanted.contains(v)).count(),
                    values.len(),
                )
            }
        };
        let answer = match inside {
            0 => Some(false),
            n if n == count => Some(true),
            _ => None,
        };
        Some(BooleanArray::from(vec![answer]))
    }
}

/// An integer literal's value; `None` for other literals.
fn integer(literal: &ScalarValue) -> Option<i64> {
    match literal {
        ScalarValue::Int8(v) => v.map(i64::from),
        ScalarValue::Int16(v) => v.map(i64::from),
        ScalarValue::Int32(v) => v.map(i64::from),
        ScalarValue::Int64(v) => *v,
        ScalarValue::UInt8(v) => v.map(i64::from),
        ScalarValue::UInt16(v) => v.map(i64::from),
        ScalarValue::UInt32(v) => v.map(i64::from),
        ScalarValue::UInt64(v) => v.and_then(|v| i64::try_from(v).ok()),
        _ => None,
    }
}

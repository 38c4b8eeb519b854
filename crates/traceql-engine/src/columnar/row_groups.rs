//! Scans planned once and run many times, each run over chosen row groups of the blocks.
//!
//! Planning a scan of a dozen blocks (optimizing, then building the physical plan) costs tens
//! of milliseconds, often more than reading a few row groups: a search that finds nothing scans
//! every window of row groups, and the exemplar pass of a metrics query reads a row group only
//! while its time still wants exemplars, so planning each run anew would dominate both.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::ParquetAccessPlan;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::TaskContext;
use datafusion::object_store::path::Path;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{ExecutionPlan, collect, execute_stream};
use datafusion::prelude::DataFrame;

use traceql_storage::read::RowGroupSummary;

/// One row group of one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// The block's number in the query.
    pub block: usize,
    /// The row group's number in the block's data file.
    pub index: usize,
    /// What the footer says of it.
    pub summary: RowGroupSummary,
}

/// A planned scan over the data files of a query's blocks.
pub struct RowGroupScan {
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    /// The block number of each data file.
    blocks: HashMap<Path, usize>,
    /// The row group count of each block's data file.
    group_counts: Vec<usize>,
}

impl RowGroupScan {
    /// Plans `frame`, a query over the data files `paths` (one per block, in block order) whose
    /// data files have `group_counts` row groups.
    pub async fn plan(
        frame: DataFrame,
        paths: Vec<Path>,
        group_counts: Vec<usize>,
    ) -> Result<RowGroupScan, DataFusionError> {
        let task = Arc::new(frame.task_ctx());
        let plan = frame.create_physical_plan().await?;
        Ok(RowGroupScan::new(plan, task, paths, group_counts))
    }

    /// The scan running the physical `plan` (in `task`) over the data files `paths` (one per
    /// block, in block order) whose data files have `group_counts` row groups.
    pub fn new(
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        paths: Vec<Path>,
        group_counts: Vec<usize>,
    ) -> RowGroupScan {
        let blocks = paths.into_iter().enumerate().map(|(i, p)| (p, i)).collect();
        RowGroupScan {
            plan,
            task,
            blocks,
            group_counts,
        }
    }

    /// Runs the scan over the row groups `window` names, to the end.
    pub async fn run(&self, window: &[Group]) -> Result<Vec<RecordBatch>, DataFusionError> {
        collect(self.plan_for(window)?, Arc::clone(&self.task)).await
    }

    /// Runs the scan over the row groups `window` names as a stream (dropping it stops the
    /// reading); one partition's rows come in file order.
    pub fn stream(&self, window: &[Group]) -> Result<SendableRecordBatchStream, DataFusionError> {
        execute_stream(self.plan_for(window)?, Arc::clone(&self.task))
    }

    /// Runs the scan over the row groups `window` names and describes its physical plan with
    /// the rows and time of every node.
    pub async fn run_and_describe(&self, window: &[Group]) -> Result<String, DataFusionError> {
        let plan = self.plan_for(window)?;
        collect(Arc::clone(&plan), Arc::clone(&self.task)).await?;
        Ok(DisplayableExecutionPlan::with_metrics(plan.as_ref())
            .indent(false)
            .to_string())
    }

    /// The plan with every file scan narrowed to the row groups of `window`, spread over the
    /// scan's partitions by rows. Every node above a file scan is rebuilt, so no run shares
    /// execution state with another.
    fn plan_for(&self, window: &[Group]) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let narrowed = Arc::clone(&self.plan).transform_up(|node| {
            let Some(config) = node
                .downcast_ref::<DataSourceExec>()
                .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
            else {
                return Ok(Transformed::no(node));
            };
            let Some(file) = config.file_groups.iter().flat_map(FileGroup::iter).next() else {
                return Ok(Transformed::no(node));
            };
            let Some(&block) = self.blocks.get(&file.object_meta.location) else {
                return Err(DataFusionError::Internal(format!(
                    "a row-group scan reads {}, which is not a block of the query",
                    file.object_meta.location
                )));
            };
            let mine: Vec<&Group> = window.iter().filter(|g| g.block == block).collect();
            let groups = spread(
                file,
                &mine,
                self.group_counts[block],
                config.file_groups.len(),
            );
            let config = FileScanConfigBuilder::from(config.clone())
                .with_file_groups(groups)
                .build();
            Ok(Transformed::yes(
                DataSourceExec::from_data_source(config) as Arc<dyn ExecutionPlan>
            ))
        })?;
        Ok(narrowed.data)
    }
}

/// `partitions` file groups reading, between them, the row groups `mine` of `file` (whole,
/// whichever byte range `file` had), each partition about as many rows as the others.
fn spread(
    file: &PartitionedFile,
    mine: &[&Group],
    group_count: usize,
    partitions: usize,
) -> Vec<FileGroup> {
    let mut plans = vec![ParquetAccessPlan::new_none(group_count); partitions.max(1)];
    let mut rows = vec![0u64; plans.len()];
    let mut used = vec![false; plans.len()];
    // Largest first, each to the partition with the fewest rows so far.
    let mut by_size: Vec<&Group> = mine.to_vec();
    by_size.sort_by_key(|g| std::cmp::Reverse(g.summary.rows));
    for group in by_size {
        let least = (0..plans.len()).min_by_key(|&p| rows[p]).unwrap_or(0);
        plans[least].scan(group.index);
        rows[least] += group.summary.rows;
        used[least] = true;
    }
    plans
        .into_iter()
        .zip(used)
        .map(|(plan, used)| {
            let files = match used {
                true => {
                    let mut whole = file.clone();
                    whole.range = None;
                    vec![whole.with_extension(plan)]
                }
                false => Vec::new(),
            };
            FileGroup::new(files)
        })
        .collect()
}

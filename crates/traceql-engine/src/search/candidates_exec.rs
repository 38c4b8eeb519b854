//! `TraceCandidatesExec`: the physical node that turns candidate spans into candidate traces,
//! one row per trace part, by folding each partition's spans trace by trace ([`TraceFold`]).
//! It replaces a hash aggregation by trace (and, for sibling pairs, a second one by parent)
//! and tests structural relations between leaves exactly ([`super::relations`]):
//! with the spans of a trace part arriving together, each part is finished when the next one
//! starts, so the node holds one part at a time.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::{Stream, StreamExt};

use super::relations::Relation;
use super::trace_fold::{TraceFold, traces_schema};

/// Folds the candidate spans of its input into candidate traces, partition by partition.
#[derive(Debug)]
pub struct TraceCandidatesExec {
    input: Arc<dyn ExecutionPlan>,
    leaves: usize,
    relations: Vec<Relation>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl TraceCandidatesExec {
    /// The node over `input`, whose rows are candidate spans (see [`TraceFold`]) testing
    /// `leaves` leaf filters and the `relations` among them. Fails unless `input` keeps
    /// each partition's rows in the order of its data files: file scans, filters, projections
    /// and unions only.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        leaves: usize,
        relations: Vec<Relation>,
    ) -> Result<TraceCandidatesExec, DataFusionError> {
        keeps_file_order(&input)?;
        let schema = traces_schema(leaves, relations.len());
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(TraceCandidatesExec {
            input,
            leaves,
            relations,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

/// Fails unless every node of `plan` passes each partition's rows on in the order its file
/// scan reads them: a repartition or a merge would interleave the spans of different traces.
/// (A plan DataFusion found to yield nothing, a contradiction such as
/// `kind = server && kind = client`, keeps any order.)
fn keeps_file_order(plan: &Arc<dyn ExecutionPlan>) -> Result<(), DataFusionError> {
    plan.apply(|node| {
        let in_order = node.downcast_ref::<DataSourceExec>().is_some()
            || node.downcast_ref::<FilterExec>().is_some()
            || node.downcast_ref::<ProjectionExec>().is_some()
            || node.downcast_ref::<UnionExec>().is_some()
            || node.downcast_ref::<EmptyExec>().is_some();
        match in_order {
            true => Ok(TreeNodeRecursion::Continue),
            false => Err(DataFusionError::Plan(format!(
                "candidate spans must arrive in file order, but the plan has {}",
                node.name()
            ))),
        }
    })?;
    Ok(())
}

impl DisplayAs for TraceCandidatesExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "TraceCandidatesExec: leaves={}, relations={:?}",
            self.leaves, self.relations
        )
    }
}

impl ExecutionPlan for TraceCandidatesExec {
    fn name(&self) -> &'static str {
        "TraceCandidatesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion, DataFusionError>,
    ) -> Result<TreeNodeRecursion, DataFusionError> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// Repartitioning the input would split traces across partitions.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c: Vec<_>| {
            DataFusionError::Internal(format!(
                "TraceCandidatesExec takes 1 child, not {}",
                c.len()
            ))
        })?;
        Ok(Arc::new(TraceCandidatesExec::try_new(
            input,
            self.leaves,
            self.relations.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream, DataFusionError> {
        let reservation = MemoryConsumer::new(format!("TraceCandidatesExec[{partition}]"))
            .register(context.memory_pool());
        Ok(Box::pin(CandidateStream {
            input: Some(self.input.execute(partition, context)?),
            reservation,
            fold: TraceFold::new(self.leaves, self.relations.clone()),
            spans: MetricBuilder::new(&self.metrics).counter("spans", partition),
            baseline: BaselineMetrics::new(&self.metrics, partition),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// One partition of [`TraceCandidatesExec`]: a batch of finished trace parts per input batch
/// that finishes some, and the last part once the input ends.
struct CandidateStream {
    /// `None` once the input has ended.
    input: Option<SendableRecordBatchStream>,
    fold: TraceFold,
    /// The fold's memory, as the session's pool granted it.
    reservation: MemoryReservation,
    /// Candidate spans folded.
    spans: Count,
    baseline: BaselineMetrics,
}

impl Stream for CandidateStream {
    type Item = Result<RecordBatch, DataFusionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(input) = this.input.as_mut() else {
                return Poll::Ready(None);
            };
            let polled = match input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(polled) => polled,
            };
            let elapsed = this.baseline.elapsed_compute().clone();
            let timer = elapsed.timer();
            let taken = match polled {
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(batch)) => {
                    this.spans.add(batch.num_rows());
                    let fold = &mut this.fold;
                    fold.add(&batch)
                        .and_then(|()| this.reservation.try_resize(fold.memory_size()))
                        .and_then(|()| fold.take())
                }
                None => {
                    this.input = None;
                    this.fold.finish();
                    this.fold.take()
                }
            };
            timer.done();
            match taken {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Some(batch)) => {
                    return this.baseline.record_poll(Poll::Ready(Some(Ok(batch))));
                }
                Ok(None) => {}
            }
        }
    }
}

impl RecordBatchStream for CandidateStream {
    fn schema(&self) -> SchemaRef {
        self.fold.schema()
    }
}

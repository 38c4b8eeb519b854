//! A metrics result as an Arrow table in long format: one row per series and timestamp.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use traceql::engine::metrics::MetricsResult;
use traceql::engine::response::KeyValue;

use crate::columns::{key_value_columns, named_batch, unique_name};

/// The table: one column per label, then `timestamp` and `value`. Range queries give a row
/// per point that has a value; instant queries one row per series, stamped at the end of the
/// range.
pub fn metrics_table(
    result: &MetricsResult,
    instant: bool,
) -> Result<(SchemaRef, RecordBatch), ArrowError> {
    let mut labels: Vec<&[KeyValue]> = Vec::new();
    let mut timestamps: Vec<i64> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let (range, single) = if instant {
        (None, Some(result.to_instant()))
    } else {
        (Some(result.to_range()), None)
    };
    if let Some(range) = &range {
        for series in &range.series {
            for sample in &series.samples {
                labels.push(&series.labels);
                timestamps.push(sample.timestamp_ms as i64);
                values.push(sample.value);
            }
        }
    }
    if let Some(single) = &single {
        let end_ms = (result.intervals.end / 1_000_000) as i64;
        for series in &single.series {
            labels.push(&series.labels);
            timestamps.push(end_ms);
            values.push(series.value);
        }
    }
    let mut columns: Vec<(String, ArrayRef)> = key_value_columns(&labels);
    let timestamp = unique_name(&columns, "timestamp".into());
    columns.push((
        timestamp,
        Arc::new(TimestampMillisecondArray::from(timestamps).with_timezone("UTC")),
    ));
    let value = unique_name(&columns, "value".into());
    columns.push((value, Arc::new(Float64Array::from(values))));
    named_batch(columns)
}

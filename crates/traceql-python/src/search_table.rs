//! A search response as an Arrow table: one row per returned span of every spanset.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DurationNanosecondArray, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt32Array,
};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use traceql::engine::response::{
    KeyValue, SearchResponse, SpanResult, SpanSet, TraceSearchMetadata,
};

use crate::columns::{key_value_columns, named_batch, unique_name};

/// One returned span with the spanset and trace it belongs to.
struct Row<'a> {
    trace: &'a TraceSearchMetadata,
    spanset_index: u32,
    spanset: &'a SpanSet,
    span: &'a SpanResult,
}

/// The table: trace columns, spanset columns, span columns, then one column per spanset
/// attribute (`by(...)`, aggregates) and per span attribute the query referenced or selected.
pub fn search_table(response: &SearchResponse) -> Result<(SchemaRef, RecordBatch), ArrowError> {
    let rows: Vec<Row> = response
        .traces
        .iter()
        .flat_map(|trace| {
            trace
                .span_sets
                .iter()
                .zip(0u32..)
                .flat_map(move |(spanset, i)| {
                    spanset.spans.iter().map(move |span| Row {
                        trace,
                        spanset_index: i,
                        spanset,
                        span,
                    })
                })
        })
        .collect();
    let text = |f: for<'r> fn(&'r Row<'r>) -> &'r str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("trace_id".into(), text(|r| &r.trace.trace_id)),
        (
            "root_service_name".into(),
            text(|r| &r.trace.root_service_name),
        ),
        ("root_trace_name".into(), text(|r| &r.trace.root_trace_name)),
        (
            "spanset".into(),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.spanset_index),
            )),
        ),
        (
            "matched".into(),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.spanset.matched),
            )),
        ),
        ("span_id".into(), text(|r| &r.span.span_id)),
        ("span_name".into(), text(|r| &r.span.name)),
        ("service_name".into(), text(|r| &r.span.service)),
        (
            "start_time".into(),
            Arc::new(
                TimestampNanosecondArray::from_iter_values(
                    rows.iter().map(|r| r.span.start_time_unix_nano as i64),
                )
                .with_timezone("UTC"),
            ),
        ),
        (
            "duration".into(),
            Arc::new(DurationNanosecondArray::from_iter_values(
                rows.iter().map(|r| r.span.duration_nanos as i64),
            )),
        ),
        ("status".into(), text(|r| &r.span.status)),
    ];
    let spanset_attributes: Vec<&[KeyValue]> = rows
        .iter()
        .map(|r| r.spanset.attributes.as_slice())
        .collect();
    let span_attributes: Vec<&[KeyValue]> =
        rows.iter().map(|r| r.span.attributes.as_slice()).collect();
    for (key, column) in key_value_columns(&spanset_attributes)
        .into_iter()
        .chain(key_value_columns(&span_attributes))
    {
        // An intrinsic the query referenced (`status`, say) repeats a fixed column: keep one.
        let repeats = columns
            .iter()
            .any(|(name, fixed)| *name == key && fixed.as_ref() == column.as_ref());
        if !repeats {
            let name = unique_name(&columns, key);
            columns.push((name, column));
        }
    }
    named_batch(columns)
}

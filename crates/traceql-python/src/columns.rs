//! Arrow columns built from OTLP `AnyValue`s (span attributes, spanset attributes, series
//! labels), typed by what they hold.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use traceql::engine::response::{AnyValue, KeyValue};

/// One Arrow column from one optional value per row: `Int64`, `Float64`, `Boolean` or `Utf8`
/// when every present value is of that kind (integers and doubles together make `Float64`);
/// otherwise `Utf8`, strings as they are and other values as their OTLP/JSON text.
pub fn any_value_column(values: &[Option<&AnyValue>]) -> ArrayRef {
    let present = || values.iter().flatten();
    if present().all(|v| matches!(v, AnyValue::IntValue(_))) {
        return Arc::new(Int64Array::from_iter(values.iter().map(|v| match v {
            Some(AnyValue::IntValue(i)) => Some(*i),
            _ => None,
        })));
    }
    if present().all(|v| matches!(v, AnyValue::IntValue(_) | AnyValue::DoubleValue(_))) {
        return Arc::new(Float64Array::from_iter(values.iter().map(|v| match v {
            Some(AnyValue::IntValue(i)) => Some(*i as f64),
            Some(AnyValue::DoubleValue(d)) => Some(*d),
            _ => None,
        })));
    }
    if present().all(|v| matches!(v, AnyValue::BoolValue(_))) {
        return Arc::new(BooleanArray::from_iter(values.iter().map(|v| match v {
            Some(AnyValue::BoolValue(b)) => Some(*b),
            _ => None,
        })));
    }
    Arc::new(StringArray::from_iter(
        values.iter().map(|v| v.map(text_of)),
    ))
}

/// Columns for key/value lists, one list per row: one column per key, in the order keys are
/// first seen, null where a row lacks the key.
pub fn key_value_columns(rows: &[&[KeyValue]]) -> Vec<(String, ArrayRef)> {
    let mut keys: Vec<&str> = Vec::new();
    for kv in rows.iter().flat_map(|r| r.iter()) {
        if !keys.contains(&kv.key.as_str()) {
            keys.push(&kv.key);
        }
    }
    keys.into_iter()
        .map(|key| {
            let values: Vec<Option<&AnyValue>> = rows
                .iter()
                .map(|r| r.iter().find(|kv| kv.key == key).map(|kv| &kv.value))
                .collect();
            (key.to_string(), any_value_column(&values))
        })
        .collect()
}

fn text_of(value: &AnyValue) -> String {
    match value {
        AnyValue::StringValue(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `key`, or `key_2`, `key_3`, … when a column already has that name.
pub fn unique_name(columns: &[(String, ArrayRef)], key: String) -> String {
    let taken = |n: &str| columns.iter().any(|(c, _)| c == n);
    if !taken(&key) {
        return key;
    }
    (2..)
        .map(|i| format!("{key}_{i}"))
        .find(|n| !taken(n))
        .unwrap_or(key)
}

/// A record batch of named columns (all nullable), with its schema.
pub fn named_batch(
    columns: Vec<(String, ArrayRef)>,
) -> Result<(SchemaRef, RecordBatch), ArrowError> {
    let schema: SchemaRef = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, c)| Field::new(name, c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, c)| c).collect(),
    )?;
    Ok((schema, batch))
}

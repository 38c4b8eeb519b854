//! The attribute keys a block holds, per scope, without decoding its spans: dedicated columns
//! from `meta.json` (present when their statistics count a value), generic keys from
//! `meta.json` where it lists them, and otherwise only the `key` leaves of the attribute lists.

use std::collections::BTreeSet;

use arrow::array::{Array, ArrayRef, AsArray};
use futures::TryStreamExt;
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use crate::catalog::Catalog;
use crate::error::{Result, StorageError};
use crate::meta::BlockMeta;
use crate::read::BlockIndex;
use crate::schema::{DedicatedScope, attr, col};

/// The attribute keys present in a block, per scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeKeys {
    /// Resource attribute keys.
    pub resource: BTreeSet<String>,
    /// Span attribute keys.
    pub span: BTreeSet<String>,
    /// Event attribute keys.
    pub event: BTreeSet<String>,
    /// Link attribute keys.
    pub link: BTreeSet<String>,
    /// Instrumentation scope attribute keys.
    pub instrumentation: BTreeSet<String>,
}

impl AttributeKeys {
    /// Adds every key of `other`.
    pub fn extend(&mut self, other: AttributeKeys) {
        self.resource.extend(other.resource);
        self.span.extend(other.span);
        self.event.extend(other.event);
        self.link.extend(other.link);
        self.instrumentation.extend(other.instrumentation);
    }

    /// The keys of the scope a top-level attribute-list column holds.
    fn of_column(&mut self, column: &str) -> Option<&mut BTreeSet<String>> {
        match column {
            col::RESOURCE_ATTRS => Some(&mut self.resource),
            col::SPAN_ATTRS => Some(&mut self.span),
            col::EVENTS => Some(&mut self.event),
            col::LINKS => Some(&mut self.link),
            col::SCOPE_ATTRS => Some(&mut self.instrumentation),
            _ => None,
        }
    }
}

/// The attribute keys of every scope present in the block `meta` describes. Reads the footer,
/// and the `key` columns of those attribute lists whose keys `meta.json` does not list.
pub async fn attribute_keys(catalog: &Catalog, meta: &BlockMeta) -> Result<AttributeKeys> {
    let index = BlockIndex::open(catalog, meta).await?;
    let metadata = index.parquet_metadata();
    let mut keys = AttributeKeys::default();
    for d in &meta.dedicated_columns {
        if has_values(metadata, &d.column_name()) {
            match d.scope {
                DedicatedScope::Span => keys.span.insert(d.key.clone()),
                DedicatedScope::Resource => keys.resource.insert(d.key.clone()),
            };
        }
    }
    let mut lists = vec![col::SCOPE_ATTRS, col::EVENTS, col::LINKS];
    match &meta.generic_keys {
        Some(generic) => {
            keys.span.extend(generic.span.iter().cloned());
            keys.resource.extend(generic.resource.iter().cloned());
        }
        None => lists.extend([col::SPAN_ATTRS, col::RESOURCE_ATTRS]),
    }
    let schema = metadata.file_metadata().schema_descr();
    let leaves: Vec<usize> = schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let parts = c.path().parts();
            parts.last().is_some_and(|p| p == attr::KEY)
                && parts.first().is_some_and(|p| lists.contains(&p.as_str()))
        })
        .map(|(i, _)| i)
        .collect();
    if leaves.is_empty() {
        return Ok(keys);
    }
    let path = catalog.data_path(&meta.tenant, &meta.block_id);
    let batches: Vec<_> = index
        .builder()
        .with_projection(ProjectionMask::leaves(schema, leaves))
        .build()
        .map_err(|e| StorageError::parquet(&path, e))?
        .try_collect()
        .await
        .map_err(|e| StorageError::parquet(&path, e))?;
    for batch in &batches {
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            let Some(found) = keys.of_column(field.name()) else {
                continue;
            };
            let entries = match field.name().as_str() {
                // Events and links hold their attribute list in an `attrs` field.
                col::EVENTS | col::LINKS => list_items(column)
                    .and_then(|items| child(&items, "attrs"))
                    .and_then(|attrs| list_items(&attrs)),
                _ => list_items(column),
            };
            let key_array = entries.and_then(|e| child(&e, attr::KEY)).ok_or_else(|| {
                StorageError::invalid_block(
                    &path,
                    format!("{} has no attribute keys", field.name()),
                )
            })?;
            let strings = key_array.as_string_opt::<i32>().ok_or_else(|| {
                StorageError::invalid_block(&path, format!("{} keys are not strings", field.name()))
            })?;
            let distinct: BTreeSet<&str> = strings.iter().flatten().collect();
            found.extend(distinct.into_iter().map(str::to_string));
        }
    }
    Ok(keys)
}

/// True when the column `name` (a top-level leaf) holds a value in some row group: its
/// statistics count fewer nulls than rows, or it has no null count.
fn has_values(metadata: &ParquetMetaData, name: &str) -> bool {
    let schema = metadata.file_metadata().schema_descr();
    let Some(index) = schema
        .columns()
        .iter()
        .position(|c| matches!(c.path().parts(), [only] if only == name))
    else {
        return false;
    };
    metadata.row_groups().iter().any(|group| {
        let nulls = group
            .column(index)
            .statistics()
            .and_then(|s| s.null_count_opt());
        nulls.is_none_or(|n| i64::try_from(n).unwrap_or(i64::MAX) < group.num_rows())
    })
}

/// The items of the list array `array` that its offsets cover, in order.
fn list_items(array: &ArrayRef) -> Option<ArrayRef> {
    let list = array.as_list_opt::<i32>()?;
    let offsets = list.value_offsets();
    let first = usize::try_from(*offsets.first()?).ok()?;
    let last = usize::try_from(*offsets.last()?).ok()?;
    Some(list.values().slice(first, last - first))
}

/// The field `name` of the struct array `array`.
fn child(array: &ArrayRef, name: &str) -> Option<ArrayRef> {
    array.as_struct_opt()?.column_by_name(name).cloned()
}

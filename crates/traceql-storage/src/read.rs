//! Reading blocks back into spans (round trips, compaction, trace export).

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, FixedSizeBinaryArray, Float64Array, Int8Array,
    Int64Array, ListArray, RecordBatch, StringArray, StructArray, UInt8Array, UInt32Array,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::ParquetRecordBatchStream;
use parquet::arrow::async_reader::{AsyncFileReader, MetadataSuffixFetch};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::catalog::Catalog;
use crate::error::{Result, StorageError};
use crate::meta::BlockMeta;
use crate::model::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanKind, StatusCode, Trace, TraceId, Value,
};
use crate::otlp::value_from_json;
use crate::schema::{AttrType, DedicatedScope, attr, col};

/// Reads a Parquet object through an [`ObjectStore`]: ranged reads for pages, a suffix read for
/// the footer.
#[derive(Clone, Debug)]
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
}

impl ObjectReader {
    /// A reader of `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        ObjectReader { store, path }
    }
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.store
            .get_range(&self.path, range)
            .map_err(external)
            .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_via_suffix_and_finish(self)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

impl MetadataSuffixFetch for &mut ObjectReader {
    fn fetch_suffix(&mut self, suffix: usize) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        let options = GetOptions {
            range: Some(GetRange::Suffix(suffix as u64)),
            ..Default::default()
        };
        async move {
            let response = self
                .store
                .get_opts(&self.path, options)
                .await
                .map_err(external)?;
            response.bytes().await.map_err(external)
        }
        .boxed()
    }
}

/// Reads every trace of a block, in row order.
pub async fn read_block(catalog: &Catalog, meta: &BlockMeta) -> Result<Vec<Trace>> {
    let mut reader = BlockReader::open(catalog, meta).await?;
    let mut traces = Vec::new();
    while let Some(group) = reader.next_row_group().await? {
        traces.extend(group.traces);
    }
    Ok(traces)
}

/// The traces of one row group.
#[derive(Debug)]
pub struct RowGroupTraces {
    /// The traces, in row order (whole: a trace never crosses row groups).
    pub traces: Vec<Trace>,
    /// Bytes the row group's columns took once decoded (Arrow buffers).
    pub decoded_bytes: usize,
}

/// Reads a block one row group at a time, so that memory holds one row group's traces rather
/// than the whole block.
pub struct BlockReader {
    stream: ParquetRecordBatchStream<ObjectReader>,
    meta: BlockMeta,
    path: Path,
}

impl BlockReader {
    /// Opens the data file of the block `meta` describes (reads its footer).
    pub async fn open(catalog: &Catalog, meta: &BlockMeta) -> Result<BlockReader> {
        let path = catalog.data_path(&meta.tenant, &meta.block_id);
        let reader = ObjectReader::new(Arc::clone(catalog.store()), path.clone());
        let stream = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| StorageError::parquet(&path, e))?
            .build()
            .map_err(|e| StorageError::parquet(&path, e))?;
        Ok(BlockReader {
            stream,
            meta: meta.clone(),
            path,
        })
    }

    /// The traces of the next row group; `None` after the last.
    pub async fn next_row_group(&mut self) -> Result<Option<RowGroupTraces>> {
        let path = &self.path;
        let Some(batches) = self
            .stream
            .next_row_group()
            .await
            .map_err(|e| StorageError::parquet(path, e))?
        else {
            return Ok(None);
        };
        let mut traces: Vec<Trace> = Vec::new();
        let mut decoded_bytes = 0;
        for batch in batches {
            let batch = batch.map_err(|e| StorageError::parquet(path, e.into()))?;
            decoded_bytes += batch.get_array_memory_size();
            let spans = decode_batch(&batch, &self.meta)
                .map_err(|m| StorageError::invalid_block(path, m))?;
            for span in spans {
                match traces.last_mut() {
                    Some(t) if t.trace_id == span.trace_id => t.spans.push(span),
                    _ => traces.push(Trace {
                        trace_id: span.trace_id,
                        spans: vec![span],
                    }),
                }
            }
        }
        Ok(Some(RowGroupTraces {
            traces,
            decoded_bytes,
        }))
    }
}

/// The spans of one trace in a block, reading only the row groups whose `trace_id` statistics
/// and bloom filter admit it (a trace never crosses row groups, so at most one holds it).
/// Returns the trace (`None` when absent) and the number of row groups read.
pub async fn find_trace(
    catalog: &Catalog,
    meta: &BlockMeta,
    trace_id: &TraceId,
) -> Result<(Option<Trace>, usize)> {
    if hex::encode(trace_id) < meta.min_trace_id || hex::encode(trace_id) > meta.max_trace_id {
        return Ok((None, 0));
    }
    let path = catalog.data_path(&meta.tenant, &meta.block_id);
    let err = |e| StorageError::parquet(&path, e);
    let reader = ObjectReader::new(Arc::clone(catalog.store()), path.clone());
    let mut builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(err)?;
    let column = builder
        .parquet_schema()
        .columns()
        .iter()
        .position(|c| c.name() == col::TRACE_ID)
        .ok_or_else(|| StorageError::invalid_block(&path, "no trace_id column"))?;
    let mut candidates = Vec::new();
    for (i, group) in builder.metadata().row_groups().iter().enumerate() {
        let in_range = match group.column(column).statistics() {
            Some(stats) => match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
                (Some(min), Some(max)) => min <= &trace_id[..] && &trace_id[..] <= max,
                _ => true,
            },
            None => true,
        };
        if in_range {
            candidates.push(i);
        }
    }
    let mut groups = Vec::new();
    for i in candidates {
        let admitted = match builder
            .get_row_group_column_bloom_filter(i, column)
            .await
            .map_err(err)?
        {
            Some(filter) => filter.check(&trace_id[..]),
            None => true,
        };
        if admitted {
            groups.push(i);
        }
    }
    if groups.is_empty() {
        return Ok((None, 0));
    }
    let read = groups.len();
    let stream = builder.with_row_groups(groups).build().map_err(err)?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(err)?;
    let mut spans = Vec::new();
    for batch in &batches {
        let decoded =
            decode_batch(batch, meta).map_err(|m| StorageError::invalid_block(&path, m))?;
        spans.extend(decoded.into_iter().filter(|s| s.trace_id == *trace_id));
    }
    if spans.is_empty() {
        return Ok((None, read));
    }
    Ok((
        Some(Trace {
            trace_id: *trace_id,
            spans,
        }),
        read,
    ))
}

type Decode<T> = std::result::Result<T, String>;

fn column<'a, T: Array + 'static>(batch: &'a RecordBatch, name: &str) -> Decode<&'a T> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("missing column {name}"))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| format!("column {name} has an unexpected type"))
}

fn child<'a, T: Array + 'static>(s: &'a StructArray, name: &str) -> Decode<&'a T> {
    s.column_by_name(name)
        .ok_or_else(|| format!("missing field {name}"))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| format!("field {name} has an unexpected type"))
}

fn id<const N: usize>(a: &FixedSizeBinaryArray, i: usize) -> Decode<[u8; N]> {
    a.value(i)
        .try_into()
        .map_err(|_| format!("ID of length {} where {N} was expected", a.value_length()))
}

/// Decodes the spans of one batch.
fn decode_batch(batch: &RecordBatch, meta: &BlockMeta) -> Decode<Vec<Span>> {
    let trace_id = column::<FixedSizeBinaryArray>(batch, col::TRACE_ID)?;
    let span_id = column::<FixedSizeBinaryArray>(batch, col::SPAN_ID)?;
    let parent = column::<FixedSizeBinaryArray>(batch, col::PARENT_SPAN_ID)?;
    let name = column::<StringArray>(batch, col::NAME)?;
    let kind = column::<Int8Array>(batch, col::KIND)?;
    let status = column::<Int8Array>(batch, col::STATUS_CODE)?;
    let status_message = column::<StringArray>(batch, col::STATUS_MESSAGE)?;
    let start = column::<Int64Array>(batch, col::START_TIME)?;
    let duration = column::<Int64Array>(batch, col::DURATION)?;
    let trace_state = column::<StringArray>(batch, col::TRACE_STATE)?;
    let flags = column::<UInt32Array>(batch, col::FLAGS)?;
    let dropped_attrs = column::<UInt32Array>(batch, col::DROPPED_ATTRIBUTES)?;
    let dropped_events = column::<UInt32Array>(batch, col::DROPPED_EVENTS)?;
    let dropped_links = column::<UInt32Array>(batch, col::DROPPED_LINKS)?;
    let resource_url = column::<StringArray>(batch, col::RESOURCE_SCHEMA_URL)?;
    let resource_dropped = column::<UInt32Array>(batch, col::RESOURCE_DROPPED_ATTRIBUTES)?;
    let scope_name = column::<StringArray>(batch, col::SCOPE_NAME)?;
    let scope_version = column::<StringArray>(batch, col::SCOPE_VERSION)?;
    let scope_url = column::<StringArray>(batch, col::SCOPE_SCHEMA_URL)?;
    let scope_dropped = column::<UInt32Array>(batch, col::SCOPE_DROPPED_ATTRIBUTES)?;
    let span_attrs = column::<ListArray>(batch, col::SPAN_ATTRS)?;
    let resource_attrs = column::<ListArray>(batch, col::RESOURCE_ATTRS)?;
    let scope_attrs = column::<ListArray>(batch, col::SCOPE_ATTRS)?;
    let events = column::<ListArray>(batch, col::EVENTS)?;
    let links = column::<ListArray>(batch, col::LINKS)?;
    let dedicated: Vec<(DedicatedScope, &str, &dyn Array)> = meta
        .dedicated_columns
        .iter()
        .map(|d| {
            let array = batch
                .column_by_name(&d.column_name())
                .ok_or_else(|| format!("missing column {}", d.column_name()))?;
            Ok((d.scope, d.key.as_str(), array.as_ref()))
        })
        .collect::<Decode<_>>()?;

    let mut spans = Vec::with_capacity(batch.num_rows());
    let mut last_resource: Option<Arc<Resource>> = None;
    let mut last_scope: Option<Arc<Scope>> = None;
    for i in 0..batch.num_rows() {
        let mut attributes = attribute_list(span_attrs, i)?;
        let mut resource_attributes = attribute_list(resource_attrs, i)?;
        for (scope, key, array) in &dedicated {
            if let Some(value) = scalar(*array, i)? {
                let kv = KeyValue::new(*key, value);
                match scope {
                    DedicatedScope::Span => attributes.push(kv),
                    DedicatedScope::Resource => resource_attributes.push(kv),
                }
            }
        }
        attributes.sort_by(|a, b| a.key.cmp(&b.key));
        resource_attributes.sort_by(|a, b| a.key.cmp(&b.key));
        let resource = Resource {
            attributes: resource_attributes,
            dropped_attributes_count: resource_dropped.value(i),
            schema_url: resource_url.value(i).to_string(),
        };
        let resource = match last_resource {
            Some(r) if *r == resource => r,
            _ => Arc::new(resource),
        };
        last_resource = Some(Arc::clone(&resource));
        let mut scope_attributes = attribute_list(scope_attrs, i)?;
        scope_attributes.sort_by(|a, b| a.key.cmp(&b.key));
        let scope = Scope {
            name: scope_name.value(i).to_string(),
            version: scope_version.value(i).to_string(),
            attributes: scope_attributes,
            dropped_attributes_count: scope_dropped.value(i),
            schema_url: scope_url.value(i).to_string(),
        };
        let scope = match last_scope {
            Some(s) if *s == scope => s,
            _ => Arc::new(scope),
        };
        last_scope = Some(Arc::clone(&scope));
        let start_time = start.value(i) as u64;
        spans.push(Span {
            trace_id: id(trace_id, i)?,
            span_id: id(span_id, i)?,
            parent_span_id: if parent.is_null(i) {
                None
            } else {
                Some(id(parent, i)?)
            },
            trace_state: trace_state.value(i).to_string(),
            flags: flags.value(i),
            name: name.value(i).to_string(),
            kind: SpanKind::from_code(i32::from(kind.value(i))),
            start_time_unix_nano: start_time,
            end_time_unix_nano: start_time.wrapping_add(duration.value(i) as u64),
            attributes,
            dropped_attributes_count: dropped_attrs.value(i),
            events: event_list(events, i, start_time)?,
            dropped_events_count: dropped_events.value(i),
            links: link_list(links, i)?,
            dropped_links_count: dropped_links.value(i),
            status_code: StatusCode::from_code(i32::from(status.value(i))),
            status_message: status_message.value(i).to_string(),
            resource,
            scope,
        });
    }
    Ok(spans)
}

fn scalar(array: &dyn Array, i: usize) -> Decode<Option<Value>> {
    if array.is_null(i) {
        return Ok(None);
    }
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Ok(Some(Value::String(a.value(i).to_string())));
    }
    if let Some(a) = any.downcast_ref::<Int64Array>() {
        return Ok(Some(Value::Int(a.value(i))));
    }
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        return Ok(Some(Value::Double(a.value(i))));
    }
    if let Some(a) = any.downcast_ref::<BooleanArray>() {
        return Ok(Some(Value::Bool(a.value(i))));
    }
    Err(format!(
        "dedicated column of unexpected type {}",
        array.data_type()
    ))
}

/// The entries of row `row` of a generic attribute list column.
fn attribute_list(list: &ListArray, row: usize) -> Decode<Vec<KeyValue>> {
    let entries = list.value(row);
    let entries = entries
        .as_struct_opt()
        .ok_or("attribute list of unexpected type")?;
    (0..entries.len()).map(|j| attribute(entries, j)).collect()
}

fn attribute(s: &StructArray, j: usize) -> Decode<KeyValue> {
    let key = child::<StringArray>(s, attr::KEY)?.value(j).to_string();
    let code = child::<UInt8Array>(s, attr::TYPE)?.value(j);
    let ty = AttrType::from_code(code).ok_or_else(|| format!("unknown attribute type {code}"))?;
    let list_values =
        |name: &str| -> Decode<Arc<dyn Array>> { Ok(child::<ListArray>(s, name)?.value(j)) };
    let value = match ty {
        AttrType::String => Value::String(child::<StringArray>(s, attr::STR)?.value(j).to_string()),
        AttrType::Int => Value::Int(child::<Int64Array>(s, attr::INT)?.value(j)),
        AttrType::Double => Value::Double(child::<Float64Array>(s, attr::DOUBLE)?.value(j)),
        AttrType::Bool => Value::Bool(child::<BooleanArray>(s, attr::BOOL)?.value(j)),
        AttrType::Bytes => Value::Bytes(child::<BinaryArray>(s, attr::BYTES)?.value(j).to_vec()),
        AttrType::StringArray => {
            let v = list_values(attr::STR_ARRAY)?;
            let v = v
                .as_string_opt::<i32>()
                .ok_or("string array of unexpected type")?;
            Value::Array(
                v.iter()
                    .map(|e| Value::String(e.unwrap_or_default().to_string()))
                    .collect(),
            )
        }
        AttrType::IntArray => {
            let v = list_values(attr::INT_ARRAY)?;
            let v = v
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or("int array of unexpected type")?;
            Value::Array(v.values().iter().map(|e| Value::Int(*e)).collect())
        }
        AttrType::DoubleArray => {
            let v = list_values(attr::DOUBLE_ARRAY)?;
            let v = v
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or("double array of unexpected type")?;
            Value::Array(v.values().iter().map(|e| Value::Double(*e)).collect())
        }
        AttrType::BoolArray => {
            let v = list_values(attr::BOOL_ARRAY)?;
            let v = v
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or("bool array of unexpected type")?;
            Value::Array(
                v.iter()
                    .map(|e| Value::Bool(e.unwrap_or_default()))
                    .collect(),
            )
        }
        AttrType::KvList | AttrType::OtherArray => {
            value_from_json(child::<StringArray>(s, attr::JSON)?.value(j))
                .map_err(|e| e.to_string())?
        }
    };
    Ok(KeyValue { key, value })
}

fn event_list(list: &ListArray, row: usize, span_start: u64) -> Decode<Vec<Event>> {
    let entries = list.value(row);
    let entries = entries.as_struct_opt().ok_or("events of unexpected type")?;
    let time = child::<Int64Array>(entries, "time_since_start_nano")?;
    let name = child::<StringArray>(entries, "name")?;
    let attrs = child::<ListArray>(entries, "attrs")?;
    let dropped = child::<UInt32Array>(entries, "dropped_attributes_count")?;
    (0..entries.len())
        .map(|j| {
            let mut attributes = attribute_list(attrs, j)?;
            attributes.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(Event {
                time_unix_nano: span_start.wrapping_add(time.value(j) as u64),
                name: name.value(j).to_string(),
                attributes,
                dropped_attributes_count: dropped.value(j),
            })
        })
        .collect()
}

fn link_list(list: &ListArray, row: usize) -> Decode<Vec<Link>> {
    let entries = list.value(row);
    let entries = entries.as_struct_opt().ok_or("links of unexpected type")?;
    let trace_id = child::<FixedSizeBinaryArray>(entries, "trace_id")?;
    let span_id = child::<FixedSizeBinaryArray>(entries, "span_id")?;
    let trace_state = child::<StringArray>(entries, "trace_state")?;
    let attrs = child::<ListArray>(entries, "attrs")?;
    let dropped = child::<UInt32Array>(entries, "dropped_attributes_count")?;
    let flags = child::<UInt32Array>(entries, "flags")?;
    (0..entries.len())
        .map(|j| {
            let mut attributes = attribute_list(attrs, j)?;
            attributes.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(Link {
                trace_id: id(trace_id, j)?,
                span_id: id(span_id, j)?,
                trace_state: trace_state.value(j).to_string(),
                attributes,
                dropped_attributes_count: dropped.value(j),
                flags: flags.value(j),
            })
        })
        .collect()
}

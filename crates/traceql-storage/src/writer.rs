//! Writing blocks: traces in, `data.parquet` then `meta.json` out.
//!
//! Traces are ordered by start time (then ID); a trace's rows are contiguous, in nested-set
//! order, and never split across row groups. Each row group is built and encoded on every core
//! (rayon) and streamed to the object store once encoded. `meta.json` is written only after
//! the data file is complete, so a crash at any point leaves no visible partial block.

use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use std::time::{SystemTime, UNIX_EPOCH};

use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory,
    compute_leaves,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{BloomFilterPosition, EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use rayon::prelude::*;
use tokio::io::AsyncWriteExt;

use object_store::ObjectStoreExt;
use object_store::buffered::BufWriter;

use crate::catalog::Catalog;
use crate::column_values::ValueSets;
use crate::encode::{GenericKeySets, PreparedTrace, build_batch, choose_dedicated};
use crate::error::{Result, StorageError};
use crate::meta::{BlockMeta, FORMAT, FORMAT_VERSION};
use crate::model::{SERVICE_NAME, Span, Trace, TraceId};
use crate::schema::{DedicatedColumn, DedicatedScope, ScalarType, block_schema, col};

/// How blocks are written.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Target spans per row group (a larger trace gets a row group of its own).
    pub row_group_spans: usize,
    /// The codec of the columns that compress well: trace IDs and text (see
    /// `strongly_compressed`). Random span IDs are stored uncompressed and every other column
    /// with LZ4, which costs little to set up and decode.
    pub compression: Compression,
    /// At most this many dedicated columns per scope.
    pub dedicated_per_scope: usize,
    /// A key becomes a dedicated column when at least this fraction of spans has it.
    pub dedicated_min_fraction: f64,
    /// Rows per data page (smaller pages prune better with the page index).
    pub page_rows: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            row_group_spans: 64 * 1024,
            compression: Compression::ZSTD(ZstdLevel::default()),
            dedicated_per_scope: 24,
            dedicated_min_fraction: 0.01,
            page_rows: 8 * 1024,
        }
    }
}

/// Groups spans into traces (spans of one trace may come in any order, from any input).
pub fn group_traces(spans: impl IntoIterator<Item = Span>) -> Vec<Trace> {
    group_pieces(vec![spans.into_iter().collect()])
}

/// Groups the spans of consecutive pieces of input into traces, keeping each trace's spans in
/// input order. Each span moves once, into a trace's list allocated at its final size: with
/// lists grown span by span, the copies of growing lists were most of the grouping's time.
pub fn group_pieces(pieces: Vec<Vec<Span>>) -> Vec<Trace> {
    let mut index: rustc_hash::FxHashMap<TraceId, usize> = rustc_hash::FxHashMap::default();
    let mut traces: Vec<(TraceId, usize)> = Vec::new();
    let mut trace_of: Vec<usize> = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    for span in pieces.iter().flatten() {
        let i = *index.entry(span.trace_id).or_insert_with(|| {
            traces.push((span.trace_id, 0));
            traces.len() - 1
        });
        traces[i].1 += 1;
        trace_of.push(i);
    }
    let mut grouped: Vec<Trace> = (traces.into_iter())
        .map(|(trace_id, spans)| Trace {
            trace_id,
            spans: Vec::with_capacity(spans),
        })
        .collect();
    for (span, i) in pieces.into_iter().flatten().zip(trace_of) {
        grouped[i].spans.push(span);
    }
    grouped
}

/// Prepares traces for writing, in parallel, ordered by start time then trace ID.
pub fn prepare(traces: Vec<Trace>) -> Vec<PreparedTrace> {
    // A trace without spans has no rows: it is not part of the block.
    let mut prepared: Vec<PreparedTrace> = traces
        .into_par_iter()
        .filter(|t| !t.spans.is_empty())
        .map(PreparedTrace::new)
        .collect();
    prepared.par_sort_unstable_by(|a, b| (a.start, a.trace_id).cmp(&(b.start, b.trace_id)));
    prepared
}

/// Splits traces into row groups of about `target` spans without splitting a trace.
pub fn row_groups(traces: &[PreparedTrace], target: usize) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut spans) = (0, 0);
    for (i, t) in traces.iter().enumerate() {
        if spans > 0 && spans + t.spans.len() > target {
            groups.push(start..i);
            start = i;
            spans = 0;
        }
        spans += t.spans.len();
    }
    if start < traces.len() {
        groups.push(start..traces.len());
    }
    groups
}

/// Writes `traces` as a new block of `tenant` and returns its committed `meta.json`.
///
/// `compacted_from` lists the blocks the new one replaces (empty for fresh data).
pub async fn write_block(
    catalog: &Catalog,
    tenant: &str,
    traces: Vec<Trace>,
    options: &WriteOptions,
    compacted_from: Vec<String>,
    compaction_level: u32,
) -> Result<BlockMeta> {
    let block_id = uuid::Uuid::new_v4().to_string();
    let data_path = catalog.data_path(tenant, &block_id);
    let prepared = prepare(traces);
    if prepared.is_empty() {
        return Err(StorageError::invalid_block(
            &data_path,
            "a block needs at least one span",
        ));
    }
    let dedicated = choose_dedicated(
        &prepared,
        options.dedicated_per_scope,
        options.dedicated_min_fraction,
    );
    let schema = block_schema(&dedicated);
    let groups = row_groups(&prepared, options.row_group_spans);
    let traces_per_group = groups.iter().map(|g| g.len()).max().unwrap_or(1);
    let props = Arc::new(writer_properties(
        &schema,
        &dedicated,
        options,
        traces_per_group,
    ));

    let gathered = encode_and_upload(
        catalog, &data_path, &schema, &dedicated, &prepared, &groups, props,
    )
    .await?;
    let size_bytes = catalog
        .store()
        .head(&data_path)
        .await
        .map_err(|e| StorageError::store(&data_path, e))?
        .size;

    let meta = BlockMeta {
        format: FORMAT.to_string(),
        version: FORMAT_VERSION,
        block_id,
        tenant: tenant.to_string(),
        start_time_unix_nano: prepared.iter().map(|t| t.start).min().unwrap_or(0),
        end_time_unix_nano: prepared.iter().map(|t| t.end).max().unwrap_or(0),
        trace_count: prepared.len() as u64,
        span_count: prepared.iter().map(|t| t.spans.len() as u64).sum(),
        min_trace_id: prepared
            .iter()
            .map(|t| t.trace_id)
            .min()
            .map(hex::encode)
            .unwrap_or_default(),
        max_trace_id: prepared
            .iter()
            .map(|t| t.trace_id)
            .max()
            .map(hex::encode)
            .unwrap_or_default(),
        row_groups: groups.len() as u32,
        size_bytes,
        generic_keys: gathered.generic_keys.finish(),
        column_values: Some(gathered.column_values.finish()),
        dedicated_columns: dedicated,
        compacted_from,
        compaction_level,
        created_at_unix_nano: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    catalog.write_meta(&meta).await?;
    // Freeing millions of strings is real work too (~0.5 s for 1 M spans on 2 cores): it goes
    // on in the background, spread over the cores, while the caller moves on.
    rayon::spawn(move || prepared.into_par_iter().for_each(drop));
    Ok(meta)
}

/// Encodes row groups one after another, each on every core (see [`encode_row_group`]),
/// appends them in order to one Parquet file and streams the bytes to the object store after
/// each row group. Returns what it gathered of the rows.
async fn encode_and_upload<'a>(
    catalog: &Catalog,
    data_path: &object_store::path::Path,
    schema: &SchemaRef,
    dedicated: &[DedicatedColumn],
    prepared: &'a [PreparedTrace],
    groups: &[Range<usize>],
    props: Arc<WriterProperties>,
) -> Result<Gathered<'a>> {
    let parquet_err = |e| StorageError::parquet(data_path, e);
    let io_err = |e: std::io::Error| StorageError::io(data_path.to_string(), e);
    let parquet_schema = ArrowSchemaConverter::new()
        .with_coerce_types(props.coerce_types())
        .convert(schema)
        .map_err(parquet_err)?;
    let buffer = SharedBuffer::default();
    let mut file =
        SerializedFileWriter::new(buffer.clone(), parquet_schema.root_schema_ptr(), props)
            .map_err(parquet_err)?;
    let factory = ArrowRowGroupWriterFactory::new(&file, Arc::clone(schema));
    let mut upload = BufWriter::new(Arc::clone(catalog.store()), data_path.clone());
    let mut gathered = Gathered::default();
    for (index, range) in groups.iter().enumerate() {
        let writers = factory.create_column_writers(index).map_err(parquet_err)?;
        let (columns, facts) =
            encode_row_group(schema, dedicated, &prepared[range.clone()], writers).map_err(
                |e| match e {
                    EncodeError::Arrow(error) => StorageError::Arrow {
                        path: data_path.to_string(),
                        error,
                    },
                    EncodeError::Parquet(error) => StorageError::parquet(data_path, error),
                },
            )?;
        gathered.merge(facts);
        let mut row_group = file.next_row_group().map_err(parquet_err)?;
        for column in columns {
            column
                .append_to_row_group(&mut row_group)
                .map_err(parquet_err)?;
        }
        row_group.close().map_err(parquet_err)?;
        upload.write_all(&buffer.take()).await.map_err(io_err)?;
    }
    file.close().map_err(parquet_err)?;
    upload.write_all(&buffer.take()).await.map_err(io_err)?;
    upload.shutdown().await.map_err(io_err)?;
    Ok(gathered)
}

/// What the writer gathers of a block's rows while encoding them, for its `meta.json`.
#[derive(Default)]
struct Gathered<'a> {
    /// The keys the rows put in their generic attribute lists.
    generic_keys: GenericKeySets<'a>,
    /// The distinct values of the rows' low-cardinality columns.
    column_values: ValueSets,
}

impl<'a> Gathered<'a> {
    /// Adds what was gathered of other rows of the block.
    fn merge(&mut self, other: Gathered<'a>) {
        self.generic_keys.merge(other.generic_keys);
        self.column_values.merge(other.column_values);
    }
}

enum EncodeError {
    Arrow(arrow::error::ArrowError),
    Parquet(parquet::errors::ParquetError),
}

/// Builds one row group and encodes every column of it on every core: its traces are cut into
/// one run per core, each built into a record batch and cut into leaf columns in parallel, then
/// the columns are encoded in parallel, each from the runs in order. Returns the encoded
/// columns and what was gathered of the rows.
///
/// Row groups built and encoded one after another like this keep both cores busy to the end,
/// where encoding whole row groups side by side left one core idle for the last of an odd
/// number (3 row groups on 2 cores took two rounds).
fn encode_row_group<'a>(
    schema: &SchemaRef,
    dedicated: &[DedicatedColumn],
    traces: &'a [PreparedTrace],
    writers: Vec<ArrowColumnWriter>,
) -> std::result::Result<(Vec<ArrowColumnChunk>, Gathered<'a>), EncodeError> {
    let runs = runs(traces, rayon::current_num_threads());
    let built: Vec<(Vec<ArrowLeafColumn>, Gathered<'a>)> = runs
        .into_par_iter()
        .map(|run| {
            let (batch, generic_keys) =
                build_batch(schema, dedicated, run).map_err(EncodeError::Arrow)?;
            let gathered = Gathered {
                generic_keys,
                column_values: ValueSets::of(&batch, dedicated),
            };
            Ok((leaves_of(&batch).map_err(EncodeError::Parquet)?, gathered))
        })
        .collect::<std::result::Result<_, EncodeError>>()?;
    let mut gathered = Gathered::default();
    // Per column writer, its leaf of every run, in run order.
    let mut leaves: Vec<Vec<ArrowLeafColumn>> = writers.iter().map(|_| Vec::new()).collect();
    for (run_leaves, facts) in built {
        gathered.merge(facts);
        if run_leaves.len() != leaves.len() {
            return Err(EncodeError::Parquet(
                parquet::errors::ParquetError::General(format!(
                    "{} leaves for {} column writers",
                    run_leaves.len(),
                    leaves.len()
                )),
            ));
        }
        for (leaf, column) in run_leaves.into_iter().zip(&mut leaves) {
            column.push(leaf);
        }
    }
    let columns = writers
        .into_par_iter()
        .zip(leaves)
        .map(|(mut writer, leaves)| {
            for leaf in &leaves {
                writer.write(leaf)?;
            }
            writer.close()
        })
        .collect::<parquet::errors::Result<_>>()
        .map_err(EncodeError::Parquet)?;
    Ok((columns, gathered))
}

/// The leaf columns of `batch`, in the order of the Parquet schema's columns.
fn leaves_of(batch: &RecordBatch) -> parquet::errors::Result<Vec<ArrowLeafColumn>> {
    let mut leaves = Vec::new();
    for (array, field) in batch.columns().iter().zip(batch.schema_ref().fields()) {
        leaves.extend(compute_leaves(field, array)?);
    }
    Ok(leaves)
}

/// Cuts `traces` into about `count` runs of about as many spans each (a trace larger than a
/// run's share makes one more).
fn runs(traces: &[PreparedTrace], count: usize) -> Vec<&[PreparedTrace]> {
    let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    let target = spans.div_ceil(count.max(1)).max(1);
    row_groups(traces, target)
        .into_iter()
        .map(|range| &traces[range])
        .collect()
}

/// The in-memory sink of the Parquet file writer, drained to the object store after each row
/// group.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("buffer lock poisoned"))?;
        inner.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The columns no scan prunes by: the leaves of the nested attribute, event and link lists
/// (their statistics mix every key's values) and the trace's service statistics (JSON text).
/// Their statistics were about half of every footer, which each query reads whole.
const UNPRUNED: [&str; 6] = [
    col::SPAN_ATTRS,
    col::RESOURCE_ATTRS,
    col::SCOPE_ATTRS,
    col::EVENTS,
    col::LINKS,
    col::TRACE_SERVICE_STATS,
];

/// The leaf columns of `parquet` under the [`UNPRUNED`] columns.
fn unpruned_leaves(parquet: &SchemaDescriptor) -> Vec<ColumnPath> {
    parquet
        .columns()
        .iter()
        .map(|c| c.path().clone())
        .filter(|path| (path.parts().first()).is_some_and(|root| UNPRUNED.contains(&root.as_str())))
        .collect()
}

/// The columns of random 8-byte span IDs, which no codec shrinks: stored uncompressed.
const RANDOM_IDS: [&str; 3] = [col::SPAN_ID, col::PARENT_SPAN_ID, "links.list.item.span_id"];

/// The columns stored as bit-packed deltas (`DELTA_BINARY_PACKED`), uncompressed and without
/// a dictionary: span starts (close to each other within a trace) and durations. Almost every
/// value is distinct, so a dictionary was as large as the values and cost a lookup per row to
/// write and read, and LZ4 cost every metrics query its decompression. On 10 M generated
/// spans, medians of 5 interleaved runs on 2 cores, dropping the dictionary took 48.1 -> 44.9
/// bytes per span, `rate()` 84 -> 71 ms and quantiles 126 -> 107 ms; deltas without LZ4 then
/// took 44.9 -> 41.6 bytes per span, `rate()` 82 -> 57 ms and quantiles 125 -> 85 ms.
const DELTA_ENCODED: [&str; 2] = [col::START_TIME, col::DURATION];

/// Whether `leaf` is a dictionary-encoded column that most searches read and that is stored
/// uncompressed: trace starts (every search groups and orders spans by them) and the
/// dedicated service name column (the attribute filters name most). LZ4 shrank them little
/// (in a row group of 65 k generated spans, trace starts 111 -> 93 KB, service names 33 -> 18
/// KB) but cost every query that read them its decompression. On 10 M generated spans
/// (medians of 9 interleaved runs on 2 cores) storing both uncompressed took 41.5 -> 42.0
/// bytes per span (+1.2%); the sibling search 125 -> 113 ms, the payment errors search 73 ->
/// 64 ms, the checkout service rate 86 -> 70 ms and count by service 116 -> 108 ms.
fn read_by_most_queries(leaf: &str, dedicated: &[DedicatedColumn]) -> bool {
    leaf == col::TRACE_START
        || (dedicated.iter()).any(|d| {
            d.scope == DedicatedScope::Resource && d.key == SERVICE_NAME && d.is_named(leaf)
        })
}

/// The columns that gain most from the block's codec ([`WriteOptions::compression`]): trace
/// IDs (repeated on every span of a trace) and text (span and root span names, service
/// statistics, dedicated string span attributes). On a generated block of 983 k spans zstd
/// shrank trace IDs 8.9x, `span.http.url` 7.6x, the service statistics 2.6x and span names
/// 2.3x, but timestamps and span IDs under 1.4x, and it grew the many near-empty columns, while
/// a read creates a zstd context for every column chunk it opens. Resource attributes repeat on
/// every span of a resource, which dictionary encoding already packs: LZ4 on them grew 10 M
/// spans by 1.4% (medians of 5 in one run: struct 103 -> 93 ms, rate by service 149 -> 122 ms).
fn strongly_compressed(leaf: &str, dedicated: &[DedicatedColumn]) -> bool {
    let text = [
        col::TRACE_ID,
        "links.list.item.trace_id",
        col::NAME,
        col::TRACE_ROOT_NAME,
        col::TRACE_SERVICE_STATS,
    ];
    text.contains(&leaf)
        || (dedicated.iter()).any(|d| {
            d.scope == DedicatedScope::Span
                && d.value_type == ScalarType::String
                && d.is_named(leaf)
        })
}

/// The codec of each leaf column of `parquet`: none for [`RANDOM_IDS`], [`DELTA_ENCODED`]
/// and those [`read_by_most_queries`], `strong` for the [`strongly_compressed`] ones, and LZ4
/// (cheap to set up and decode) for the rest.
fn column_compression(
    parquet: &SchemaDescriptor,
    dedicated: &[DedicatedColumn],
    strong: Compression,
) -> Vec<(ColumnPath, Compression)> {
    (parquet.columns().iter())
        .map(|c| {
            let leaf = c.path().string();
            let compression = if RANDOM_IDS.contains(&leaf.as_str())
                || DELTA_ENCODED.contains(&leaf.as_str())
                || read_by_most_queries(&leaf, dedicated)
            {
                Compression::UNCOMPRESSED
            } else if strongly_compressed(&leaf, dedicated) {
                strong
            } else {
                Compression::LZ4_RAW
            };
            (c.path().clone(), compression)
        })
        .collect()
}

/// The ID columns whose values are all distinct in a row group (trace IDs: within a trace's
/// run of rows), stored without a dictionary, which would be as large as the values.
const UNDICTIONARIED_IDS: [&str; 3] = [col::TRACE_ID, col::SPAN_ID, col::PARENT_SPAN_ID];

/// Distinct values a row group's bloom filter on a string column is sized for. Such filters
/// serve equality searches for a value no row group holds (`{ name = "x" }`), which statistics
/// cannot rule out when the value sorts between others. With 1% false positives, the filters
/// of the span name and every dedicated string column grew 1 M generated spans on disk by
/// 0.3% (40.05 -> 40.17 MB). A column with many more values (IDs, URLs) saturates its filter,
/// which then rules nothing out.
const STRING_BLOOM_NDV: u64 = 1_000;

/// Parquet settings: codecs per column (see [`column_compression`]), statistics and page index
/// everywhere, a bloom filter on `trace_id` sized
/// for the traces of one row group and on the span name, the root service and span name, and
/// every dedicated string column (see
/// [`STRING_BLOOM_NDV`]; filters are per row group, all written together before the footer so
/// that a lookup reads them in one request), no dictionary for [`UNDICTIONARIED_IDS`] and
/// [`DELTA_ENCODED`], whose values are almost all distinct.
fn writer_properties(
    schema: &arrow::datatypes::Schema,
    dedicated: &[DedicatedColumn],
    options: &WriteOptions,
    traces_per_group: usize,
) -> WriterProperties {
    let index = |name: &str| schema.index_of(name).unwrap_or(0) as i32;
    let sorting = [col::TRACE_START, col::TRACE_ID, col::NESTED_SET_LEFT].map(|c| SortingColumn {
        column_idx: index(c),
        descending: false,
        nulls_first: false,
    });
    let trace_id = ColumnPath::from(col::TRACE_ID);
    let strings = dedicated
        .iter()
        .filter(|d| d.value_type == ScalarType::String)
        .map(DedicatedColumn::column_name)
        .chain([col::NAME, col::TRACE_ROOT_SERVICE, col::TRACE_ROOT_NAME].map(String::from));
    let mut builder = WriterProperties::builder();
    // Without a Parquet form of the schema the writer fails on it anyway, with its own error.
    let parquet = ArrowSchemaConverter::new().convert(schema).ok();
    let leaves = parquet.as_ref();
    for path in leaves.map(unpruned_leaves).unwrap_or_default() {
        builder = builder.set_column_statistics_enabled(path, EnabledStatistics::None);
    }
    for column in strings {
        let path = ColumnPath::from(column);
        builder = builder
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), 0.01)
            .set_column_bloom_filter_max_ndv(path, STRING_BLOOM_NDV);
    }
    let codecs = leaves.map(|p| column_compression(p, dedicated, options.compression));
    for (path, compression) in codecs.unwrap_or_default() {
        builder = builder.set_column_compression(path, compression);
    }
    builder = builder
        .set_compression(options.compression)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(None)
        .set_data_page_row_count_limit(options.page_rows)
        .set_sorting_columns(Some(sorting.to_vec()))
        .set_bloom_filter_position(BloomFilterPosition::End)
        .set_column_bloom_filter_enabled(trace_id.clone(), true)
        .set_column_bloom_filter_fpp(trace_id.clone(), 0.001)
        .set_column_bloom_filter_max_ndv(trace_id, traces_per_group.max(1) as u64);
    for column in UNDICTIONARIED_IDS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in DELTA_ENCODED.map(ColumnPath::from) {
        builder = builder
            .set_column_dictionary_enabled(column.clone(), false)
            .set_column_encoding(column, Encoding::DELTA_BINARY_PACKED);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_pieces_keeps_each_trace_in_input_order() {
        let span = |trace: u8, id: u8| Span {
            trace_id: [trace; 16],
            span_id: [id; 8],
            ..Span::default()
        };
        let pieces = vec![
            vec![span(1, 1), span(2, 2), span(1, 3)],
            vec![],
            vec![span(3, 4), span(1, 5), span(2, 6)],
        ];
        let mut grouped: Vec<(u8, Vec<u8>)> = group_pieces(pieces)
            .into_iter()
            .map(|t| {
                (
                    t.trace_id[0],
                    t.spans.iter().map(|s| s.span_id[0]).collect(),
                )
            })
            .collect();
        grouped.sort();
        assert_eq!(grouped, [(1, vec![1, 3, 5]), (2, vec![2, 6]), (3, vec![4])]);
    }

    #[test]
    fn columns_of_distinct_values_have_no_dictionary() {
        let schema = block_schema(&[]);
        let props = writer_properties(&schema, &[], &WriteOptions::default(), 100);
        let dictionary = |c: &str| props.dictionary_enabled(&ColumnPath::from(c));
        for column in [col::TRACE_ID, col::SPAN_ID, col::START_TIME, col::DURATION] {
            assert!(!dictionary(column), "{column}");
        }
        for column in [col::NAME, col::TRACE_START, col::NESTED_SET_LEFT] {
            assert!(dictionary(column), "{column}");
        }
        let encoding = |c: &str| props.encoding(&ColumnPath::from(c));
        assert_eq!(
            encoding(col::START_TIME),
            Some(Encoding::DELTA_BINARY_PACKED)
        );
        assert_eq!(encoding(col::DURATION), Some(Encoding::DELTA_BINARY_PACKED));
        assert_eq!(encoding(col::TRACE_START), None);
    }

    #[test]
    fn each_column_gets_the_codec_that_pays_for_it() {
        let dedicated = [
            DedicatedColumn {
                scope: DedicatedScope::Span,
                key: "http.url".to_string(),
                value_type: ScalarType::String,
            },
            DedicatedColumn {
                scope: DedicatedScope::Span,
                key: "http.status_code".to_string(),
                value_type: ScalarType::Int,
            },
            DedicatedColumn {
                scope: DedicatedScope::Resource,
                key: "service.name".to_string(),
                value_type: ScalarType::String,
            },
        ];
        let strong = Compression::ZSTD(ZstdLevel::default());
        let parquet = ArrowSchemaConverter::new()
            .convert(&block_schema(&dedicated))
            .expect("a block's schema has a Parquet form");
        let codecs = column_compression(&parquet, &dedicated, strong);
        let codec = |leaf: &str| {
            (codecs.iter())
                .find(|(path, _)| path.string() == leaf)
                .map(|(_, c)| *c)
        };
        assert_eq!(codec(col::SPAN_ID), Some(Compression::UNCOMPRESSED));
        assert_eq!(
            codec("links.list.item.span_id"),
            Some(Compression::UNCOMPRESSED)
        );
        assert_eq!(codec(col::TRACE_ID), Some(strong));
        assert_eq!(codec("span.http.url"), Some(strong));
        assert_eq!(codec("span.http.status_code"), Some(Compression::LZ4_RAW));
        assert_eq!(
            codec("resource.service.name"),
            Some(Compression::UNCOMPRESSED)
        );
        assert_eq!(codec(col::DURATION), Some(Compression::UNCOMPRESSED));
        assert_eq!(codec(col::TRACE_START), Some(Compression::UNCOMPRESSED));
        assert_eq!(
            codec("span_attrs.list.item.str"),
            Some(Compression::LZ4_RAW)
        );
        assert_eq!(codec(col::STATUS_MESSAGE), Some(Compression::LZ4_RAW));
        assert_eq!(parquet.num_columns(), codecs.len());
    }
}

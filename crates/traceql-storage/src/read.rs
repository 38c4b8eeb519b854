//! Reading blocks back into spans (round trips, compaction, trace export).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderBuilder, ArrowReaderMetadata, ArrowReaderOptions, RowFilter,
};
use parquet::arrow::async_reader::ParquetRecordBatchStream;
use parquet::arrow::async_reader::{AsyncFileReader, MetadataSuffixFetch};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::bloom_filter::Sbbf;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::statistics::Statistics;

use crate::catalog::Catalog;
use crate::decode::decode_projected;
use crate::dictionary_hint::hint_dictionaries;
use crate::error::{Result, StorageError};
use crate::footers::Footer;
use crate::meta::BlockMeta;
use crate::model::{Span, Trace, TraceId};
use crate::projection::Projection;
use crate::schema::col;

/// Reads a Parquet object through an [`ObjectStore`]: ranged reads for pages, a suffix read for
/// the footer.
#[derive(Clone, Debug)]
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    /// The object as the store described it when the footer was read.
    object: Option<ObjectMeta>,
}

impl ObjectReader {
    /// A reader of `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        ObjectReader {
            store,
            path,
            object: None,
        }
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
            self.object = Some(response.meta.clone());
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

/// Decodes a batch read from the data file of the block `meta` describes (by any Parquet
/// reader that keeps the file's Arrow types, such as DataFusion without view types) into
/// spans with the parts `projection` names (the batch holds their columns), in row order.
pub fn decode_spans(
    catalog: &Catalog,
    batch: &RecordBatch,
    meta: &BlockMeta,
    projection: &Projection,
) -> Result<Vec<Span>> {
    decode_projected(batch, meta, projection).map_err(|m| {
        StorageError::invalid_block(catalog.data_path(&meta.tenant, &meta.block_id), m)
    })
}

/// Appends spans read in row order to `traces`: consecutive spans of one trace (a trace's rows
/// are contiguous in a block) join the same `Trace`, continuing the last one across batches.
pub fn append_traces(traces: &mut Vec<Trace>, spans: Vec<Span>) {
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

/// The columns of a block's data file (the block `meta` describes, read by `builder`) that
/// `projection` decodes.
fn projection_mask<T>(
    builder: &ArrowReaderBuilder<T>,
    projection: &Projection,
    meta: &BlockMeta,
) -> ProjectionMask {
    let roots = (builder.schema().fields().iter().enumerate())
        .filter(|(_, f)| projection.reads(f.name(), meta))
        .map(|(i, _)| i);
    ProjectionMask::roots(builder.parquet_schema(), roots)
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
    projection: Projection,
    path: Path,
}

impl BlockReader {
    /// Opens the data file of the block `meta` describes (reads its footer), to decode every
    /// part of every span.
    pub async fn open(catalog: &Catalog, meta: &BlockMeta) -> Result<BlockReader> {
        BlockReader::open_projected(catalog, meta, Projection::all()).await
    }

    /// Opens the data file of the block `meta` describes (reads its footer), to decode only
    /// the parts of spans `projection` names: the other columns are not read.
    pub async fn open_projected(
        catalog: &Catalog,
        meta: &BlockMeta,
        projection: Projection,
    ) -> Result<BlockReader> {
        let path = catalog.data_path(&meta.tenant, &meta.block_id);
        let reader = ObjectReader::new(Arc::clone(catalog.store()), path.clone());
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| StorageError::parquet(&path, e))?;
        let mask = projection_mask(&builder, &projection, meta);
        let stream = builder
            .with_projection(mask)
            .build()
            .map_err(|e| StorageError::parquet(&path, e))?;
        Ok(BlockReader {
            stream,
            meta: meta.clone(),
            projection,
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
            let spans = decode_projected(&batch, &self.meta, &self.projection)
                .map_err(|m| StorageError::invalid_block(path, m))?;
            append_traces(&mut traces, spans);
        }
        Ok(Some(RowGroupTraces {
            traces,
            decoded_bytes,
        }))
    }
}

/// What one row group of a block holds, as its footer tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowGroupSummary {
    /// Rows (spans).
    pub rows: u64,
    /// Compressed size of its column chunks, bytes.
    pub bytes: u64,
    /// Earliest trace start among its rows (`trace_start_unix_nano` statistics).
    pub min_trace_start: i64,
    /// Latest trace start among its rows.
    pub max_trace_start: i64,
}

/// What a block's footer tells: its row groups, and which of them may hold a trace (from the
/// `trace_id` statistics and the row groups' bloom filters), and the bloom filters of any column
/// (each filter read at most once).
pub struct BlockIndex {
    reader: ObjectReader,
    object: ObjectMeta,
    metadata: ArrowReaderMetadata,
    /// The schema [`Self::scan_schema`] returns.
    scanned_as: SchemaRef,
    column: usize,
    /// Bloom filters read so far, by (column, row group); `None`: the column chunk has none.
    filters: HashMap<(usize, usize), Option<Sbbf>>,
    path: Path,
}

impl BlockIndex {
    /// Opens the data file of the block `meta` describes (reads its footer).
    ///
    /// A footer read before through `catalog` (or a clone of it) is not read again: data
    /// files never change once written.
    pub async fn open(catalog: &Catalog, meta: &BlockMeta) -> Result<BlockIndex> {
        let path = catalog.data_path(&meta.tenant, &meta.block_id);
        let mut reader = ObjectReader::new(Arc::clone(catalog.store()), path.clone());
        let Footer {
            object,
            metadata,
            scanned_as,
        } = match catalog.footers().get(&path) {
            Some(footer) => footer,
            None => {
                let (metadata, scanned_as) =
                    ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
                        .await
                        .and_then(|loaded| hint_dictionaries(loaded, meta))
                        .map_err(|e| StorageError::parquet(&path, e))?;
                // The footer's suffix read described the object (no separate request).
                let object = reader.object.take().ok_or_else(|| {
                    StorageError::invalid_block(
                        &path,
                        "the footer was read without the object's metadata",
                    )
                })?;
                let footer = Footer {
                    object,
                    metadata,
                    scanned_as,
                };
                catalog.footers().put(&path, footer.clone());
                footer
            }
        };
        let column = metadata
            .parquet_schema()
            .columns()
            .iter()
            .position(|c| c.name() == col::TRACE_ID)
            .ok_or_else(|| StorageError::invalid_block(&path, "no trace_id column"))?;
        Ok(BlockIndex {
            reader,
            object,
            metadata,
            scanned_as,
            column,
            filters: HashMap::new(),
            path,
        })
    }

    /// The row groups, in file order (oldest traces first). A row group without
    /// `trace_start_unix_nano` statistics spans every start.
    pub fn row_groups(&self) -> Result<Vec<RowGroupSummary>> {
        let starts = self.ranges(col::TRACE_START)?;
        Ok(self
            .metadata
            .metadata()
            .row_groups()
            .iter()
            .zip(starts)
            .map(|(group, (min, max))| RowGroupSummary {
                rows: u64::try_from(group.num_rows()).unwrap_or(0),
                bytes: u64::try_from(group.compressed_size()).unwrap_or(0),
                min_trace_start: min,
                max_trace_start: max,
            })
            .collect())
    }

    /// The earliest and latest span start of each row group, in file order; a row group without
    /// `start_time_unix_nano` statistics spans every start.
    pub fn span_starts(&self) -> Result<Vec<(i64, i64)>> {
        self.ranges(col::START_TIME)
    }

    /// The smallest and largest value of the 64-bit integer column `name` in each row group, by
    /// its statistics (`i64::MIN` and `i64::MAX` where they are absent).
    fn ranges(&self, name: &str) -> Result<Vec<(i64, i64)>> {
        let metadata = self.metadata.metadata();
        let column = metadata
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == name)
            .ok_or_else(|| StorageError::invalid_block(&self.path, format!("no {name} column")))?;
        Ok(metadata
            .row_groups()
            .iter()
            .map(|group| match group.column(column).statistics() {
                Some(Statistics::Int64(s)) => (
                    s.min_opt().copied().unwrap_or(i64::MIN),
                    s.max_opt().copied().unwrap_or(i64::MAX),
                ),
                _ => (i64::MIN, i64::MAX),
            })
            .collect())
    }

    /// The block's Parquet footer.
    pub fn parquet_metadata(&self) -> &Arc<ParquetMetaData> {
        self.metadata.metadata()
    }

    /// The data file as its store describes it (location, size, modification time).
    pub fn object(&self) -> &ObjectMeta {
        &self.object
    }

    /// The Arrow schema of the block's data file.
    pub fn schema(&self) -> &Schema {
        self.metadata.schema()
    }

    /// The Arrow schema scans planned over [`Self::parquet_metadata`] (DataFusion's) read the
    /// data file as: [`Self::schema`] with its low-cardinality strings as dictionaries (see
    /// [`crate::dictionary_hint`]).
    pub fn scan_schema(&self) -> &Schema {
        &self.scanned_as
    }

    /// A reader of the block's data file that reuses the footer already read.
    pub fn builder(&self) -> ParquetRecordBatchStreamBuilder<ObjectReader> {
        ParquetRecordBatchStreamBuilder::new_with_metadata(
            self.reader.clone(),
            self.metadata.clone(),
        )
    }

    /// Reads the spans of the traces `ids` from the row groups `groups`, with the columns
    /// `projection` decodes (of the block `meta` describes), as whole traces in row order,
    /// plus the bytes the decoded batches took. Only the trace ID column is read for rows of
    /// other traces. The returned future owns what it needs, so it can run as a task of its own.
    pub fn fetch_traces(
        &self,
        catalog: &Catalog,
        meta: &BlockMeta,
        projection: &Projection,
        groups: Vec<usize>,
        ids: Vec<TraceId>,
    ) -> BoxFuture<'static, Result<(Vec<Trace>, u64)>> {
        let builder = self.builder();
        let (catalog, meta, projection) = (catalog.clone(), meta.clone(), projection.clone());
        let path = self.path.clone();
        let id_column = self.column;
        async move {
            let parquet_schema = builder.parquet_schema();
            let projection_mask = projection_mask(&builder, &projection, &meta);
            let wanted: HashSet<TraceId> = ids.into_iter().collect();
            let is_wanted = ArrowPredicateFn::new(
                ProjectionMask::leaves(parquet_schema, [id_column]),
                move |batch: RecordBatch| {
                    let ids = batch.column(0).as_fixed_size_binary_opt().ok_or_else(|| {
                        ArrowError::SchemaError(format!(
                            "{} is {}, not fixed-size binary",
                            col::TRACE_ID,
                            batch.column(0).data_type()
                        ))
                    })?;
                    Ok(ids
                        .iter()
                        .map(|id| Some(id.is_some_and(|id| wanted.contains(id))))
                        .collect::<BooleanArray>())
                },
            );
            let mut stream = builder
                .with_row_groups(groups)
                .with_projection(projection_mask)
                .with_row_filter(RowFilter::new(vec![Box::new(is_wanted)]))
                .build()
                .map_err(|e| StorageError::parquet(&path, e))?;
            let (mut traces, mut bytes) = (Vec::new(), 0u64);
            while let Some(batch) = stream
                .try_next()
                .await
                .map_err(|e| StorageError::parquet(&path, e))?
            {
                bytes += batch.get_array_memory_size() as u64;
                append_traces(
                    &mut traces,
                    decode_spans(&catalog, &batch, &meta, &projection)?,
                );
            }
            Ok((traces, bytes))
        }
        .boxed()
    }

    /// The row groups that may hold `trace_id` (none: the block does not have it).
    pub async fn row_groups_with(&mut self, trace_id: &TraceId) -> Result<Vec<usize>> {
        let mut in_range = Vec::new();
        for (i, group) in self.metadata.metadata().row_groups().iter().enumerate() {
            let admitted = match group.column(self.column).statistics() {
                Some(stats) => match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
                    (Some(min), Some(max)) => min <= &trace_id[..] && &trace_id[..] <= max,
                    _ => true,
                },
                None => true,
            };
            if admitted {
                in_range.push(i);
            }
        }
        let column = self.column;
        let filters = self.bloom_filters(column, &in_range).await?;
        Ok(in_range
            .into_iter()
            .zip(filters)
            .filter(|(_, f)| f.is_none_or(|f| f.check(&trace_id[..])))
            .map(|(i, _)| i)
            .collect())
    }

    /// The bloom filters of the leaf column `column` in the row groups `groups` (in that
    /// order; `None` where a row group has none), read on first use: those whose length the
    /// footer records in one ranged request (adjacent ranges are coalesced), others one by one.
    pub async fn bloom_filters(
        &mut self,
        column: usize,
        groups: &[usize],
    ) -> Result<Vec<Option<&Sbbf>>> {
        self.load_filters(column, groups).await?;
        Ok(groups
            .iter()
            .map(|&i| self.filters.get(&(column, i)).and_then(Option::as_ref))
            .collect())
    }

    /// Reads the bloom filters of `column` in `groups` not read before.
    async fn load_filters(&mut self, column: usize, groups: &[usize]) -> Result<()> {
        let (mut ranges, mut ranged) = (Vec::new(), Vec::new());
        for &i in groups {
            if self.filters.contains_key(&(column, i)) {
                continue;
            }
            let chunk = self.metadata.metadata().row_group(i).column(column);
            let offset = chunk
                .bloom_filter_offset()
                .and_then(|o| u64::try_from(o).ok());
            let length = chunk
                .bloom_filter_length()
                .and_then(|l| u64::try_from(l).ok());
            match (offset, length) {
                (Some(offset), Some(length)) => {
                    ranges.push(offset..offset + length);
                    ranged.push(i);
                }
                (None, _) => {
                    self.filters.insert((column, i), None);
                }
                (Some(_), None) => {
                    let filter = self
                        .builder()
                        .get_row_group_column_bloom_filter(i, column)
                        .await
                        .map_err(|e| StorageError::parquet(&self.path, e))?;
                    self.filters.insert((column, i), filter);
                }
            }
        }
        if ranges.is_empty() {
            return Ok(());
        }
        let read = self
            .reader
            .store
            .get_ranges(&self.path, &ranges)
            .await
            .map_err(|e| StorageError::parquet(&self.path, external(e)))?;
        for (i, bytes) in ranged.into_iter().zip(read) {
            let filter =
                Sbbf::from_bytes(&bytes).map_err(|e| StorageError::parquet(&self.path, e))?;
            self.filters.insert((column, i), Some(filter));
        }
        Ok(())
    }
}

/// The spans of one trace in a block, reading only the row groups whose `trace_id` statistics
/// and bloom filter admit it (a trace never crosses row groups, so at most one holds it), and of
/// those only the rows of the trace in full. Returns the trace (`None` when absent) and the
/// number of row groups read.
pub async fn find_trace(
    catalog: &Catalog,
    meta: &BlockMeta,
    trace_id: &TraceId,
) -> Result<(Option<Trace>, usize)> {
    if !meta.may_hold(trace_id) {
        return Ok((None, 0));
    }
    let mut index = BlockIndex::open(catalog, meta).await?;
    let groups = index.row_groups_with(trace_id).await?;
    if groups.is_empty() {
        return Ok((None, 0));
    }
    let read = groups.len();
    let (traces, _) = index
        .fetch_traces(catalog, meta, &Projection::all(), groups, vec![*trace_id])
        .await?;
    Ok((traces.into_iter().next(), read))
}

//! Footers of data files already read, kept for the next query over the same catalog.
//!
//! A block's data file is written once, under a fresh block ID, and never changes afterwards
//! (compaction writes new blocks and deletes old ones), so a footer read once stays right for
//! as long as the file exists. Reading and parsing a footer costs about a millisecond per block
//! even on local disk, and a round trip on an object store.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use object_store::ObjectMeta;
use object_store::path::Path;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

/// The most memory the parsed footers of one catalog may take; the oldest go first.
const FOOTER_CACHE_BYTES: usize = 64 << 20;

/// A data file's parsed footer, and the object as its store described it.
#[derive(Clone)]
pub(crate) struct Footer {
    pub(crate) object: ObjectMeta,
    pub(crate) metadata: ArrowReaderMetadata,
    /// The Arrow schema the footer's hint tells other readers (DataFusion's scans) to read the
    /// file as (see [`crate::dictionary_hint`]).
    pub(crate) scanned_as: SchemaRef,
}

impl Footer {
    fn bytes(&self) -> usize {
        self.metadata.metadata().memory_size()
    }
}

/// Parsed footers by data file path, bounded in memory; clones share it.
#[derive(Clone)]
pub(crate) struct FooterCache {
    inner: Arc<Mutex<Entries>>,
}

impl Default for FooterCache {
    /// A cache bounded by [`FOOTER_CACHE_BYTES`].
    fn default() -> Self {
        FooterCache::holding(FOOTER_CACHE_BYTES)
    }
}

struct Entries {
    /// The most bytes the footers may take.
    limit: usize,
    by_path: HashMap<Path, Footer>,
    /// Paths in the order they were added: the first is evicted first.
    order: VecDeque<Path>,
    bytes: usize,
}

impl FooterCache {
    /// A cache of footers taking at most `limit` bytes.
    fn holding(limit: usize) -> FooterCache {
        FooterCache {
            inner: Arc::new(Mutex::new(Entries {
                limit,
                by_path: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            })),
        }
    }

    /// The footer of the data file at `path`, when it was read before.
    pub(crate) fn get(&self, path: &Path) -> Option<Footer> {
        let entries = self.inner.lock().ok()?;
        entries.by_path.get(path).cloned()
    }

    /// Keeps `footer` of the data file at `path`, evicting the oldest footers beyond the bound.
    pub(crate) fn put(&self, path: &Path, footer: Footer) {
        let Ok(mut entries) = self.inner.lock() else {
            return;
        };
        let bytes = footer.bytes();
        if bytes > entries.limit || entries.by_path.contains_key(path) {
            return;
        }
        while entries.bytes + bytes > entries.limit {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(evicted) = entries.by_path.remove(&oldest) {
                entries.bytes -= evicted.bytes();
            }
        }
        entries.bytes += bytes;
        entries.order.push_back(path.clone());
        entries.by_path.insert(path.clone(), footer);
    }
}

impl fmt::Debug for FooterCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.inner.lock().map(|e| e.by_path.len()).unwrap_or(0);
        write!(f, "FooterCache({held} footers)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ArrowReaderOptions;

    fn footer(name: &str) -> Footer {
        let batch = RecordBatch::try_from_iter([(
            "x",
            Arc::new(Int64Array::from(vec![1, 2, 3])) as arrow::array::ArrayRef,
        )])
        .expect("batch");
        let mut data = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut data, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        let size = data.len() as u64;
        let metadata = ArrowReaderMetadata::load(&Bytes::from(data), ArrowReaderOptions::new())
            .expect("footer");
        Footer {
            scanned_as: Arc::clone(metadata.schema()),
            object: ObjectMeta {
                location: Path::from(name),
                last_modified: Default::default(),
                size,
                e_tag: None,
                version: None,
            },
            metadata,
        }
    }

    #[test]
    fn the_oldest_footers_go_once_the_bound_is_reached() {
        let one = footer("a").bytes();
        let cache = FooterCache::holding(2 * one);
        for name in ["a", "b", "c"] {
            cache.put(&Path::from(name), footer(name));
        }
        assert!(cache.get(&Path::from("a")).is_none());
        for name in ["b", "c"] {
            let kept = cache.get(&Path::from(name)).expect("kept");
            assert_eq!(kept.object.location, Path::from(name));
        }
        // A footer larger than the whole bound is not kept.
        let tiny = FooterCache::holding(one - 1);
        tiny.put(&Path::from("a"), footer("a"));
        assert!(tiny.get(&Path::from("a")).is_none());
    }
}

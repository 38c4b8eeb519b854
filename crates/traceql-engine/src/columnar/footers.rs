//! Reading the footers of a query's blocks.

use futures::future::try_join_all;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::read::BlockIndex;

use crate::error::EngineError;

/// The footer of every block `metas` describes, in order, each read and parsed in a task of
/// its own (parsing a footer of a hundred columns is CPU work worth spreading over the cores).
async fn open_indexes<'a>(
    catalog: &Catalog,
    metas: impl Iterator<Item = &'a BlockMeta>,
) -> Result<Vec<BlockIndex>, EngineError> {
    let tasks = metas.map(|meta| {
        let (catalog, meta) = (catalog.clone(), meta.clone());
        tokio::spawn(async move { BlockIndex::open(&catalog, &meta).await })
    });
    let opened = try_join_all(tasks)
        .await
        .map_err(|e| EngineError::Internal(format!("footer task failed: {e}")))?;
    Ok(opened.into_iter().collect::<Result<Vec<_>, _>>()?)
}

/// The footers of the blocks of a query that may match by their `meta.json`: a block passed
/// over by it has none read.
pub struct Footers {
    read: Vec<Option<BlockIndex>>,
}

impl Footers {
    /// The footers of `metas`, those `wanted` read now (concurrently), the others left unread.
    pub async fn open(
        catalog: &Catalog,
        metas: &[&BlockMeta],
        wanted: &[bool],
    ) -> Result<Footers, EngineError> {
        let chosen = metas.iter().zip(wanted).filter(|(_, w)| **w);
        let mut opened = open_indexes(catalog, chosen.map(|(m, _)| *m))
            .await?
            .into_iter();
        let read = wanted
            .iter()
            .map(|&w| if w { opened.next() } else { None })
            .collect();
        Ok(Footers { read })
    }

    /// Block `block`'s footer if it was read.
    pub fn read(&self, block: usize) -> Option<&BlockIndex> {
        self.read.get(block)?.as_ref()
    }

    /// Every footer read.
    pub fn all_read(&self) -> impl Iterator<Item = &BlockIndex> {
        self.read.iter().flatten()
    }

    /// Every footer read, mutable (reading bloom filters caches them).
    pub fn all_read_mut(&mut self) -> impl Iterator<Item = &mut BlockIndex> {
        self.read.iter_mut().flatten()
    }

    /// Block `block`'s footer if it was read, mutable (reading bloom filters caches them).
    pub fn read_mut(&mut self, block: usize) -> Option<&mut BlockIndex> {
        self.read.get_mut(block)?.as_mut()
    }
}

//! Reading the footers of a query's blocks.

use futures::future::try_join_all;
use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::read::BlockIndex;

use crate::error::EngineError;

/// The footer of every block `metas` describes, in order, each read and parsed in a task of
/// its own (parsing a footer of a hundred columns is CPU work worth spreading over the cores).
pub async fn open_indexes<'a>(
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

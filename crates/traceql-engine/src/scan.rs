//! Reading a query's blocks: one row group at a time into traces, handed on in chunks with
//! progress counted, the memory limit checked and the runtime given a turn between chunks.

use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::Trace;
use traceql_storage::projection::Projection;
use traceql_storage::read::BlockReader;

use crate::error::{EngineError, ExecError};
use crate::progress::Progress;

/// Traces handed on between two yields to the async runtime.
const YIELD_EVERY: usize = 1024;

/// Reads `blocks` in order, one row group at a time, decoding of each block what `projection`
/// gives for it, and passes their traces to `visit` in
/// chunks of [`YIELD_EVERY`], yielding to the runtime after each chunk so that an aborted query
/// stops promptly. Blocks and spans are counted in `progress`. A row group whose decoded columns
/// and traces together exceed `memory_limit` bytes fails the query.
pub(crate) async fn scan_blocks(
    catalog: &Catalog,
    blocks: &[BlockMeta],
    progress: &Progress,
    memory_limit: Option<u64>,
    projection: impl Fn(&BlockMeta) -> Projection,
    mut visit: impl FnMut(Vec<Trace>) -> Result<(), ExecError>,
) -> Result<(), EngineError> {
    progress.set_blocks_total(blocks.len());
    for block in blocks {
        let mut reader = BlockReader::open_projected(catalog, block, projection(block)).await?;
        while let Some(group) = reader.next_row_group().await? {
            within_memory(
                memory_limit,
                group.decoded_bytes as u64,
                &group.traces,
                block.block_id.clone(),
            )?;
            let mut remaining = group.traces.into_iter();
            loop {
                let chunk: Vec<Trace> = remaining.by_ref().take(YIELD_EVERY).collect();
                if chunk.is_empty() {
                    break;
                }
                progress.add_spans(chunk.iter().map(|t| t.spans.len() as u64).sum());
                visit(chunk)?;
                tokio::task::yield_now().await;
            }
        }
        progress.block_done();
    }
    Ok(())
}

/// Fails with [`EngineError::MemoryLimit`] when `bytes` of decoded columns and the `traces`
/// decoded from them (of the block `block`) exceed `limit` bytes.
pub(crate) fn within_memory(
    limit: Option<u64>,
    bytes: u64,
    traces: &[Trace],
    block: String,
) -> Result<(), EngineError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let needed = bytes + traces.iter().map(Trace::heap_estimate).sum::<u64>();
    match needed > limit {
        true => Err(EngineError::MemoryLimit {
            limit,
            needed,
            block,
        }),
        false => Ok(()),
    }
}

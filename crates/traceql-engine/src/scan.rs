//! Reading a query's blocks: whole blocks into traces, handed on in chunks with progress counted
//! and the runtime given a turn between chunks.

use traceql_storage::catalog::Catalog;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::Trace;
use traceql_storage::read::read_block;

use crate::error::{EngineError, ExecError};
use crate::progress::Progress;

/// Traces handed on between two yields to the async runtime.
const YIELD_EVERY: usize = 1024;

/// Reads `blocks` in order and passes their traces to `visit` in chunks of [`YIELD_EVERY`],
/// yielding to the runtime after each chunk so that an aborted query stops promptly. Blocks and
/// spans are counted in `progress`.
pub(crate) async fn scan_blocks(
    catalog: &Catalog,
    blocks: &[BlockMeta],
    progress: &Progress,
    mut visit: impl FnMut(Vec<Trace>) -> Result<(), ExecError>,
) -> Result<(), EngineError> {
    progress.set_blocks_total(blocks.len());
    for block in blocks {
        let mut remaining = read_block(catalog, block).await?.into_iter();
        loop {
            let chunk: Vec<Trace> = remaining.by_ref().take(YIELD_EVERY).collect();
            if chunk.is_empty() {
                break;
            }
            progress.add_spans(chunk.iter().map(|t| t.spans.len() as u64).sum());
            visit(chunk)?;
            tokio::task::yield_now().await;
        }
        progress.block_done();
    }
    Ok(())
}

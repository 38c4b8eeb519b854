//! Ingest: OTLP files in, one committed block out.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::generator::Generator;
use crate::meta::BlockMeta;
use crate::model::Span;
use crate::otlp;
use crate::writer::{WriteOptions, group_pieces, group_traces, write_block};

/// Decodes `paths` in parallel (each file's format detected from its name and content) and
/// writes all their spans as one block of `tenant`. Nothing is written if any file fails.
pub async fn ingest_files(
    catalog: &Catalog,
    tenant: &str,
    paths: &[PathBuf],
    options: &WriteOptions,
) -> Result<BlockMeta> {
    let decoded: Vec<Vec<Vec<Span>>> = paths
        .par_iter()
        .map(|p| otlp::decode_file_pieces(p))
        .collect::<Result<_>>()?;
    let pieces = decoded.into_iter().flatten().collect();
    write_block(
        catalog,
        tenant,
        group_pieces(pieces),
        options,
        Vec::new(),
        0,
    )
    .await
}

/// Writes spans from any source as one block of `tenant`.
pub async fn ingest_spans(
    catalog: &Catalog,
    tenant: &str,
    spans: impl IntoIterator<Item = Span>,
    options: &WriteOptions,
) -> Result<BlockMeta> {
    write_block(catalog, tenant, group_traces(spans), options, Vec::new(), 0).await
}

/// Generates traces `0..traces` with `generator` and writes them as blocks of `tenant` of at
/// most `traces_per_block` traces each (bounded memory). `on_block` sees each block as it is
/// written, with the number of traces generated so far.
pub async fn ingest_generated(
    catalog: &Catalog,
    tenant: &str,
    generator: &Generator,
    traces: u64,
    traces_per_block: u64,
    mut on_block: impl FnMut(&BlockMeta, u64),
) -> Result<Vec<BlockMeta>> {
    let per_block = traces_per_block.max(1);
    let mut written = Vec::new();
    let mut next = 0;
    while next < traces {
        let end = (next + per_block).min(traces);
        let spans = generator
            .traces(next..end)
            .into_iter()
            .flat_map(|t| t.spans);
        let meta = ingest_spans(catalog, tenant, spans, &WriteOptions::default()).await?;
        on_block(&meta, end);
        written.push(meta);
        next = end;
    }
    Ok(written)
}

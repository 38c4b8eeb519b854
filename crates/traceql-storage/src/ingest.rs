//! Ingest: OTLP files in, one committed block out.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::catalog::Catalog;
use crate::error::Result;
use crate::meta::BlockMeta;
use crate::model::Span;
use crate::otlp;
use crate::writer::{WriteOptions, group_traces, write_block};

/// Decodes `paths` in parallel (each file's format detected from its name and content) and
/// writes all their spans as one block of `tenant`. Nothing is written if any file fails.
pub async fn ingest_files(
    catalog: &Catalog,
    tenant: &str,
    paths: &[PathBuf],
    options: &WriteOptions,
) -> Result<BlockMeta> {
    let decoded: Vec<Vec<Span>> = paths
        .par_iter()
        .map(|p| otlp::decode_file(p))
        .collect::<Result<_>>()?;
    ingest_spans(catalog, tenant, decoded.into_iter().flatten(), options).await
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

//! Compaction: several blocks in, one block out, with the spans of each trace merged so that
//! structural queries see whole traces.
//!
//! Crash safety comes from the order of operations:
//! 1. the new block is written and committed (`meta.json` last) with `compacted_from` naming
//!    every block it replaces — readers skip those at once;
//! 2. only then are the replaced blocks deleted (each `meta.json` first).
//!
//! A crash before 1 completes leaves the inputs live and the new data invisible; a crash during
//! 2 leaves replaced blocks that readers skip and [`cleanup`] removes later. `compacted_from`
//! also carries the inputs' own `compacted_from`, so a leftover can never become live again when
//! its direct replacement is compacted in turn. No span is ever counted twice or lost.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use futures::TryStreamExt;

use crate::catalog::{Catalog, META_FILE};
use crate::error::{Result, StorageError};
use crate::meta::BlockMeta;
use crate::model::{Span, Trace};
use crate::read::read_block;
use crate::writer::{WriteOptions, group_traces, write_block};

/// What a compaction did.
#[derive(Clone, Debug, PartialEq)]
pub struct Compaction {
    /// The new block.
    pub block: BlockMeta,
    /// The blocks it replaced.
    pub replaced: Vec<String>,
    /// Exact duplicate spans dropped while merging.
    pub duplicates_dropped: u64,
}

/// Merges the live blocks of `tenant` (or only `block_ids`) into one block. Returns `None` when
/// fewer than two blocks qualify.
pub async fn compact(
    catalog: &Catalog,
    tenant: &str,
    block_ids: Option<&[String]>,
    options: &WriteOptions,
) -> Result<Option<Compaction>> {
    cleanup(catalog, tenant, None).await?;
    let live = catalog.list_blocks(tenant).await?;
    let inputs: Vec<BlockMeta> = match block_ids {
        None => live,
        Some(ids) => {
            let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
            let found: Vec<BlockMeta> = live
                .into_iter()
                .filter(|b| wanted.contains(b.block_id.as_str()))
                .collect();
            if found.len() != wanted.len() {
                let missing: Vec<&str> = ids
                    .iter()
                    .map(String::as_str)
                    .filter(|id| !found.iter().any(|b| b.block_id == *id))
                    .collect();
                return Err(StorageError::invalid_block(
                    catalog.tenant_path(tenant),
                    format!("not live blocks of this tenant: {}", missing.join(", ")),
                ));
            }
            found
        }
    };
    if inputs.len() < 2 {
        return Ok(None);
    }
    let mut spans: Vec<Span> = Vec::new();
    for block in &inputs {
        spans.extend(
            read_block(catalog, block)
                .await?
                .into_iter()
                .flat_map(|t| t.spans),
        );
    }
    let (traces, duplicates_dropped) = merge(spans);
    let mut replaced: Vec<String> = inputs.iter().map(|b| b.block_id.clone()).collect();
    let mut compacted_from: Vec<String> = replaced.clone();
    compacted_from.extend(inputs.iter().flat_map(|b| b.compacted_from.iter().cloned()));
    compacted_from.sort();
    compacted_from.dedup();
    let level = inputs.iter().map(|b| b.compaction_level).max().unwrap_or(0) + 1;
    let block = write_block(catalog, tenant, traces, options, compacted_from, level).await?;
    for id in &replaced {
        catalog.delete_block(tenant, id).await?;
    }
    replaced.sort();
    Ok(Some(Compaction {
        block,
        replaced,
        duplicates_dropped,
    }))
}

/// Groups spans into traces, dropping exact duplicates (the same span ingested twice).
fn merge(spans: Vec<Span>) -> (Vec<Trace>, u64) {
    let mut traces = group_traces(spans);
    let mut dropped = 0u64;
    for trace in &mut traces {
        let mut kept: Vec<Span> = Vec::with_capacity(trace.spans.len());
        let mut seen: HashMap<([u8; 8], u64, u64), Vec<usize>> = HashMap::new();
        for span in trace.spans.drain(..) {
            let key = (
                span.span_id,
                span.start_time_unix_nano,
                span.end_time_unix_nano,
            );
            let same = seen.entry(key).or_default();
            if same.iter().any(|&i| kept[i] == span) {
                dropped += 1;
                continue;
            }
            same.push(kept.len());
            kept.push(span);
        }
        trace.spans = kept;
    }
    (traces, dropped)
}

/// Deletes what readers already ignore: blocks replaced by a committed compaction, and — when
/// `orphan_grace` is given — block folders without `meta.json` older than that (writes that
/// never committed). Returns the deleted block IDs.
pub async fn cleanup(
    catalog: &Catalog,
    tenant: &str,
    orphan_grace: Option<Duration>,
) -> Result<Vec<String>> {
    let all = catalog.all_blocks(tenant).await?;
    let replaced: HashSet<&str> = all
        .iter()
        .flat_map(|b| b.compacted_from.iter().map(String::as_str))
        .collect();
    let mut deleted = Vec::new();
    for block in &all {
        if replaced.contains(block.block_id.as_str()) {
            catalog.delete_block(tenant, &block.block_id).await?;
            deleted.push(block.block_id.clone());
        }
    }
    if let Some(grace) = orphan_grace {
        let committed: HashSet<&str> = all.iter().map(|b| b.block_id.as_str()).collect();
        let tenant_path = catalog.tenant_path(tenant);
        let objects: Vec<object_store::ObjectMeta> = catalog
            .store()
            .list(Some(&tenant_path))
            .try_collect()
            .await
            .map_err(|e| StorageError::store(&tenant_path, e))?;
        let now = SystemTime::now();
        let mut orphans: HashMap<String, bool> = HashMap::new();
        for object in &objects {
            let parts: Vec<_> = object.location.parts().collect();
            let Some(block) = parts.iter().rev().nth(1).map(|p| p.as_ref().to_string()) else {
                continue;
            };
            if committed.contains(block.as_str())
                || parts.last().is_some_and(|f| f.as_ref() == META_FILE)
            {
                continue;
            }
            // An uncommitted folder is an abandoned write only when all of it is old.
            let modified: SystemTime = object.last_modified.into();
            let old = now.duration_since(modified).is_ok_and(|age| age >= grace);
            *orphans.entry(block).or_insert(true) &= old;
        }
        for (block, old) in orphans {
            if old {
                catalog.delete_block(tenant, &block).await?;
                deleted.push(block);
            }
        }
    }
    deleted.sort();
    Ok(deleted)
}

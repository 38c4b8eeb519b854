//! `meta.json`: what a block holds. Written last; a block without it does not exist.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::column_values::ValueSet;

use crate::model::TraceId;
use crate::schema::{DedicatedColumn, DedicatedScope};

/// The format name recorded in every `meta.json`.
pub const FORMAT: &str = "traceql-span-block";
/// The current format version.
pub const FORMAT_VERSION: u32 = 1;

/// The description of one block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// The block's ID (a UUID); also its folder name.
    pub block_id: String,
    /// The tenant the block belongs to.
    pub tenant: String,
    /// Earliest span start in the block.
    pub start_time_unix_nano: u64,
    /// Latest span end in the block.
    pub end_time_unix_nano: u64,
    /// Number of traces.
    pub trace_count: u64,
    /// Number of spans (rows).
    pub span_count: u64,
    /// Smallest trace ID, hex.
    pub min_trace_id: String,
    /// Largest trace ID, hex.
    pub max_trace_id: String,
    /// Number of Parquet row groups.
    pub row_groups: u32,
    /// Size of `data.parquet` in bytes.
    pub size_bytes: u64,
    /// Attribute keys stored as their own typed columns.
    pub dedicated_columns: Vec<DedicatedColumn>,
    /// Blocks this one replaces (compaction); readers skip them.
    #[serde(default)]
    pub compacted_from: Vec<String>,
    /// How many compactions the data went through.
    #[serde(default)]
    pub compaction_level: u32,
    /// When the block was written (unix nanoseconds).
    pub created_at_unix_nano: u64,
    /// Every key that may appear in the generic attribute lists, per scope; `None` for blocks
    /// written before this was recorded or with more than [`MAX_GENERIC_KEYS`] such keys. With
    /// it a query knows that a key lives only in its dedicated column, or nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic_keys: Option<GenericKeys>,
    /// The distinct values of the block's low-cardinality columns (see [`crate::column_values`]),
    /// by column name; a collected column left out holds too many values. `None` for blocks
    /// written before this was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_values: Option<BTreeMap<String, ValueSet>>,
}

/// The most generic keys (of both scopes together) a block's meta lists.
pub const MAX_GENERIC_KEYS: usize = 4096;

/// Keys that may appear in a block's generic attribute lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericKeys {
    /// Span attribute keys, sorted.
    pub span: Vec<String>,
    /// Resource attribute keys, sorted.
    pub resource: Vec<String>,
    /// The span keys some of whose values in the generic list are arrays, sorted; `None` for
    /// blocks written before this was recorded. A comparison with an array holds for any of
    /// its elements, so a reader taking such a key's values as scalars would miss matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_arrays: Option<Vec<String>>,
    /// The resource keys some of whose values in the generic list are arrays, sorted (as
    /// [`GenericKeys::span_arrays`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arrays: Option<Vec<String>>,
}

impl GenericKeys {
    /// True when `key` of `scope` may appear in the generic list.
    pub fn contains(&self, scope: DedicatedScope, key: &str) -> bool {
        let keys = match scope {
            DedicatedScope::Span => &self.span,
            DedicatedScope::Resource => &self.resource,
        };
        keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok()
    }

    /// True when the block records that no value of `key` of `scope` in the generic list is
    /// an array.
    pub fn has_no_arrays(&self, scope: DedicatedScope, key: &str) -> bool {
        let arrays = match scope {
            DedicatedScope::Span => &self.span_arrays,
            DedicatedScope::Resource => &self.resource_arrays,
        };
        arrays
            .as_ref()
            .is_some_and(|keys| keys.binary_search_by(|k| k.as_str().cmp(key)).is_err())
    }
}

impl BlockMeta {
    /// True when the block may hold spans starting in `[start, end]` (unix nanoseconds).
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start_time_unix_nano <= end && self.end_time_unix_nano >= start
    }

    /// True when `trace_id` lies within the block's smallest and largest trace IDs.
    pub fn may_hold(&self, trace_id: &TraceId) -> bool {
        let hex = hex::encode(trace_id);
        self.min_trace_id <= hex && hex <= self.max_trace_id
    }
}

/// The `[start, end)` span start times of `blocks` cover (unix nanoseconds): the earliest start
/// and one past the latest end. `None` for no blocks.
pub fn time_range(blocks: &[BlockMeta]) -> Option<(u64, u64)> {
    let start = blocks.iter().map(|b| b.start_time_unix_nano).min()?;
    let end = blocks.iter().map(|b| b.end_time_unix_nano).max()?;
    Some((start, end + 1))
}

//! Span blocks: the storage format every TraceQL query runs over.
//!
//! - [`otlp`] decodes OTLP protobuf, OTLP/JSON and Tempo's trace JSON into [`model`] spans.
//! - [`nested_set`] computes each trace's structure (nested-set intervals, parent links).
//! - [`writer`] turns traces into a block: one Parquet file with one row per span, a trace's
//!   rows contiguous in nested-set order and never split across row groups, plus `meta.json`
//!   written last as the commit marker.
//! - [`catalog`] finds a tenant's blocks on any object store; [`compact`] merges blocks.
//! - [`generator`] makes realistic synthetic traces ("the shop").
//!
//! This crate knows nothing of TraceQL.

#![warn(missing_docs)]

pub mod catalog;
pub mod column_values;
pub mod compact;
mod decode;
pub mod dictionary_hint;
pub mod encode;
pub mod error;
mod footers;
pub mod generator;
pub mod generic_list;
pub mod ingest;
pub mod keys;
pub mod meta;
pub mod model;
pub mod nested_set;
pub mod otlp;
pub mod projection;
pub mod read;
pub mod schema;
pub mod writer;

pub use decode::{AttributeColumn, EventColumn, LinkColumn};
pub use error::{Result, StorageError};

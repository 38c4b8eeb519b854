//! The storage crate's integration tests, one module per subject, linked into a single test
//! binary (each binary links arrow and parquet; one per file cost disk and link time).

mod attribute_keys;
mod bad_input;
mod block_index;
mod compaction;
mod nested_sets;
mod round_trip;

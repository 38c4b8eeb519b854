//! The engine's integration tests, one module per subject, linked into a single test binary:
//! every binary links the whole of DataFusion (about 250 MB in a debug build), and one binary
//! per file took several gigabytes of disk.

mod common;
mod layout;

mod columnar_metrics;
mod columnar_metrics_prop;
mod columnar_search;
mod columnar_search_prop;
mod conformance;
mod golden;
mod memory_limit;
mod metrics;
mod tags;
mod timeout;
mod trace_by_id;

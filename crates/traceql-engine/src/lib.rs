//! TraceQL execution.
//!
//! - [`value`]: runtime values and the comparison and arithmetic rules of the language.
//! - [`reference`]: the reference evaluator, a plain span-at-a-time interpreter of the AST over
//!   in-memory traces, written from the spec and kept simple enough to trust. It runs searches
//!   end to end today and is the oracle every faster execution path is tested against.
//! - [`response`]: Tempo's search response shape, serialised by the proto3-JSON rules.
//! - [`search`]: search over a tenant's blocks.
//! - [`metrics`]: TraceQL metrics with Tempo's interval model.
//! - [`tags`]: tag names per scope and tag values.
//! - [`trace_by_id`]: one trace, read from only the row groups that may hold it.
//! - [`progress`]: how far a running search or metrics query has come.

#![warn(missing_docs)]

mod columnar;
mod deadline;
pub mod error;
pub mod metrics;
pub mod progress;
pub mod reference;
pub mod response;
mod scan;
pub mod search;
pub mod tags;
pub mod trace_by_id;
pub mod value;

pub use datafusion;

/// Which engine runs a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionPath {
    /// Lowered onto DataFusion: conditions pushed into the Parquet scan, only the needed
    /// columns read.
    Columnar,
    /// The reference evaluator over every decoded trace (what the columnar path does not
    /// lower yet).
    Reference,
    /// The reference evaluator over the traces a scan with the query's conditions pushed down
    /// finds (metrics the columnar path does not lower, whose first stages are filters).
    Candidates,
}

pub use error::{EngineError, ExecError};

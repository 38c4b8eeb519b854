//! traceql: a TraceQL query engine with columnar execution.
//!
//! This crate is what embedders use. Today it exposes the language front end (parsing,
//! validation, constant folding, the canonical printer) and span-block storage (OTLP ingest,
//! the block format, catalogs on object stores, compaction, the synthetic generator), and
//! search through the reference evaluator ([`engine`]).
//!
//! ```
//! let query = traceql::parse("{ span.http.status_code >= 500 } | count() > 2").unwrap();
//! assert_eq!(query.to_string(), "{ span.http.status_code >= 500 }|count() > 2");
//! ```

#![warn(missing_docs)]

pub use traceql_engine as engine;
pub use traceql_storage as storage;
pub use traceql_syntax as syntax;
pub use traceql_syntax::{Error as SyntaxError, ErrorKind, Position, Query, parse, parse_syntax};

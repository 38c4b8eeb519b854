//! traceql: a TraceQL query engine with columnar execution.
//!
//! This crate is what embedders use: an [`Engine`] over the span blocks of an object store
//! (search, trace by ID, tag names and values, metrics, writing spans as blocks; async and
//! blocking), the language front end (parsing, validation, constant folding, the canonical
//! printer) and, underneath, span-block storage ([`storage`]) and the query engine
//! ([`engine`]). `examples/embed.rs` shows a backend embedding it.
//!
//! ```
//! let query = traceql::parse("{ span.http.status_code >= 500 } | count() > 2").unwrap();
//! assert_eq!(query.to_string(), "{ span.http.status_code >= 500 }|count() > 2");
//! ```

#![warn(missing_docs)]

mod embedded;

pub use embedded::{Engine, EngineOptions};
pub use traceql_engine::EngineError as Error;
pub use traceql_engine::metrics::{MetricsRequest, MetricsResult};
pub use traceql_engine::response::SearchResponse;
pub use traceql_engine::search::SearchRequest;

pub use traceql_engine as engine;
pub use traceql_storage as storage;
pub use traceql_syntax as syntax;
pub use traceql_syntax::{Error as SyntaxError, ErrorKind, Position, Query, parse, parse_syntax};

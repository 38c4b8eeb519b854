//! TraceQL syntax: the grammar, the AST, validation, constant folding and the canonical printer.
//!
//! ```
//! use traceql_syntax::{parse, ErrorKind};
//!
//! let query = parse(r#"{ resource.service.name = "api" } >> { status = error }"#).unwrap();
//! assert_eq!(query.to_string(), "{ resource.service.name = `api` } >> { status = error }");
//!
//! // Constants are folded while parsing.
//! assert_eq!(parse("{ 1 + 1 > 1 }").unwrap().to_string(), "{ true }");
//!
//! // Every failure says which class of error it is, and where.
//! let err = parse("{ .a == 1 }").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Parse);
//! assert_eq!((err.position().line, err.position().column), (1, 7));
//! assert_eq!(parse(r#"{ status = "error" }"#).unwrap_err().kind(), ErrorKind::Validation);
//! assert_eq!(parse("{ parent.x = 1 }").unwrap_err().kind(), ErrorKind::Unsupported);
//! ```
//!
//! This crate depends on nothing heavy (pest, regex): the engine, the CLI and the Python
//! bindings all build on it.

#![forbid(missing_docs)]
#![forbid(unsafe_code)]

pub mod ast;
mod error;
pub mod fold;
pub mod lexical;
mod parser;
mod span;
mod stack;
#[doc(hidden)]
pub mod test_utils;
mod validate;

pub use ast::Query;
pub use error::{Diagnostic, Error, ErrorKind};
pub use parser::MAX_BRACKET_DEPTH;
pub use parser::climb::MAX_EXPRESSION_DEPTH;
pub use span::{Position, Span};
pub use validate::types::{binary_result_type, types_match, unary_result_type};

/// Parses and validates a query: `Ok` only for a valid query.
///
/// The error's [`kind`](Error::kind) tells the class: [`ErrorKind::Parse`],
/// [`ErrorKind::Validation`] or [`ErrorKind::Unsupported`].
pub fn parse(text: &str) -> Result<Query, Error> {
    let query = parse_syntax(text)?;
    validate::validate(&query, text)?;
    Ok(query)
}

/// Parses a query without validating it (constants are still folded).
///
/// Use it to print or inspect queries that do not validate, e.g. unsupported ones.
pub fn parse_syntax(text: &str) -> Result<Query, Error> {
    parser::parse_syntax(text)
}

/// Validates a query parsed from `text` (positions in errors refer to `text`).
pub fn validate(query: &Query, text: &str) -> Result<(), Error> {
    validate::validate(query, text)
}

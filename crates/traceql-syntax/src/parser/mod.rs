//! Text to AST: the pest grammar (`grammar/traceql.pest`), then [`build`] turns pairs into
//! the tree, folding constants on the way.

mod build;
pub(crate) mod climb;
mod messages;

use pest::Parser as _;

use crate::ast::Query;
use crate::error::{Error, ErrorKind};
use crate::span::Span;

/// The pest parser generated from the grammar.
#[derive(pest_derive::Parser)]
#[grammar = "../../../grammar/traceql.pest"]
pub(crate) struct TraceqlParser;

/// How deeply brackets may nest. The grammar recurses once per bracket, so this bounds the
/// stack the parser uses; real queries stay far below it.
pub const MAX_BRACKET_DEPTH: usize = 100;

/// Parses `text` into a query: grammar, AST, constant folding. Does not validate.
pub fn parse_syntax(text: &str) -> Result<Query, Error> {
    check_bracket_depth(text)?;
    let mut pairs = TraceqlParser::parse(Rule::query, text)
        .map_err(|e| messages::from_pest(&e, text))?;
    let query = pairs.next().ok_or_else(|| {
        Error::new(ErrorKind::Parse, "syntax error: empty query", Span::new(0, 0), text)
    })?;
    build::Builder::new(text).query(query)
}

/// Refuses brackets nested deeper than [`MAX_BRACKET_DEPTH`], skipping strings and comments.
fn check_bracket_depth(text: &str) -> Result<(), Error> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'{' => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Err(Error::new(
                        ErrorKind::Parse,
                        format!("syntax error: brackets nest deeper than {MAX_BRACKET_DEPTH} levels"),
                        Span::new(i, i + 1),
                        text,
                    ));
                }
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if quote == b'"' && bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

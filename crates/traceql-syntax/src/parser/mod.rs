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
/// stack the parser uses (under 1 MiB in a debug build). It exceeds
/// [`MAX_EXPRESSION_DEPTH`](climb::MAX_EXPRESSION_DEPTH) so that the canonical form of every tree
/// the parser builds parses back.
pub const MAX_BRACKET_DEPTH: usize = climb::MAX_EXPRESSION_DEPTH + 20;

/// Parses `text` into a query: grammar, AST, constant folding. Does not validate.
pub fn parse_syntax(text: &str) -> Result<Query, Error> {
    let depth = check_bracket_depth(text)?;
    crate::stack::for_brackets(depth, || parse_checked(text))
}

/// Parses a text whose brackets are known not to nest too deeply.
fn parse_checked(text: &str) -> Result<Query, Error> {
    let mut pairs = TraceqlParser::parse(Rule::query, text).map_err(|e| {
        let unterminated = match scan_code(text, |_, _| true) {
            Scan::Unterminated(at) => Some(at),
            _ => None,
        };
        messages::from_pest(&e, text, unterminated)
    })?;
    let query = pairs.next().ok_or_else(|| {
        Error::new(
            ErrorKind::Parse,
            "syntax error: empty query",
            Span::new(0, 0),
            text,
        )
    })?;
    build::Builder::new(text).query(query)
}

/// Refuses brackets nested deeper than [`MAX_BRACKET_DEPTH`]; returns the deepest nesting.
///
/// The scan skips strings, quoted name segments and comments exactly where the grammar can
/// read them, so it sees every bracket the parser could recurse into. It stops at an
/// unterminated quote: the parser cannot get past that quote either.
fn check_bracket_depth(text: &str) -> Result<usize, Error> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let scan = scan_code(text, |_, byte| match byte {
        b'(' | b'{' => {
            depth += 1;
            deepest = deepest.max(depth);
            depth <= MAX_BRACKET_DEPTH
        }
        b')' | b'}' => {
            depth = depth.saturating_sub(1);
            true
        }
        _ => true,
    });
    match scan {
        Scan::Complete | Scan::Unterminated(_) => Ok(deepest),
        Scan::Stopped(i) => Err(Error::new(
            ErrorKind::Parse,
            format!("syntax error: brackets nest deeper than {MAX_BRACKET_DEPTH} levels"),
            Span::new(i, i + 1),
            text,
        )),
    }
}

/// How a scan of the query text ended.
enum Scan {
    /// Every byte was seen.
    Complete,
    /// The visitor stopped at this offset.
    Stopped(usize),
    /// A quote opened at this offset is never closed.
    Unterminated(usize),
}

/// Calls `visit` with each byte outside string literals, quoted name segments and comments,
/// until it returns false.
fn scan_code(text: &str, mut visit: impl FnMut(usize, u8) -> bool) -> Scan {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'"' | b'`') => {
                let open = i;
                i += 1;
                while i < bytes.len() && bytes[i] != quote && !(quote == b'"' && bytes[i] == b'\n')
                {
                    if quote == b'"' && bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] != quote {
                    return Scan::Unterminated(open);
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
            byte => {
                if !visit(i, byte) {
                    return Scan::Stopped(i);
                }
            }
        }
        i += 1;
    }
    Scan::Complete
}

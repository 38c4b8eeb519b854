//! Helpers for tests: each syntax test is one line that also checks the printer.

use crate::{ErrorKind, Query, parse, parse_syntax};

/// Parses a valid query, checks that its canonical form prints as `canonical` and that
/// parsing the canonical form gives an equal AST. Returns the AST.
#[track_caller]
pub fn parses_to(query: &str, canonical: &str) -> Query {
    let ast = parse(query).unwrap_or_else(|e| panic!("{query:?} should be valid: {e}"));
    let printed = ast.to_string();
    assert_eq!(printed, canonical, "canonical form of {query:?}");
    assert_round_trip(&ast);
    ast
}

/// Parses a valid query whose canonical form is itself.
#[track_caller]
pub fn verified(query: &str) -> Query {
    parses_to(query, query)
}

/// Checks that printing `ast` and parsing the text again gives the same AST.
#[track_caller]
pub fn assert_round_trip(ast: &Query) {
    let printed = ast.to_string();
    let again = parse_syntax(&printed)
        .unwrap_or_else(|e| panic!("canonical {printed:?} should parse: {e}"));
    assert_eq!(&again, ast, "round trip through {printed:?}");
}

/// Asserts that `query` fails with an error of `kind`, and returns the error's message.
#[track_caller]
pub fn fails(query: &str, kind: ErrorKind) -> String {
    match parse(query) {
        Ok(ast) => panic!("{query:?} should fail with {kind}, parsed as {ast}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{query:?}: {e}");
            if kind != ErrorKind::Parse {
                // Unsupported and invalid queries still round-trip through the printer.
                let ast =
                    parse_syntax(query).unwrap_or_else(|e| panic!("{query:?} should parse: {e}"));
                assert_round_trip(&ast);
            }
            e.to_string()
        }
    }
}

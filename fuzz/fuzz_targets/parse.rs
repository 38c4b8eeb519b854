//! Any bytes: parsing, validating, printing and reparsing must never panic, and whatever
//! parses must print to text that parses back to the same AST.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match traceql_syntax::parse_syntax(text) {
        Ok(ast) => {
            let _ = traceql_syntax::validate(&ast, text);
            let printed = ast.to_string();
            let again = traceql_syntax::parse_syntax(&printed)
                .unwrap_or_else(|e| panic!("canonical {printed:?} does not parse: {e}"));
            assert_eq!(again, ast, "canonical {printed:?} parses differently");
        }
        Err(e) => {
            let _ = e.render(text);
        }
    }
});

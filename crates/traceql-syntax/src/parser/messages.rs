//! Turning pest's failures into messages that say what was found and what was expected.

use pest::error::{ErrorVariant, InputLocation};

use super::Rule;
use crate::error::{Error, ErrorKind};
use crate::span::Span;

/// Operators, longest first, for naming the token found at an error.
const OPERATORS: &[&str] = &[
    "&>>", "&<<", "!>>", "!<<", "&&", "||", "!=", "!~", "=~", "<=", ">=", ">>", "<<", "&>", "&<",
    "&~", "!>", "!<", "==", "<>",
];

const VALUE: &str = "a value, attribute or intrinsic";
const NUMBER: &str = "a number";

/// Converts a pest error on `text` into a parse error with position and expectations.
///
/// `unterminated` is the offset of a quote that is never closed, if any: when the parser
/// failed at or after it, that quote is the real problem.
pub(super) fn from_pest(
    error: &pest::error::Error<Rule>,
    text: &str,
    unterminated: Option<usize>,
) -> Error {
    let position = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((start, _)) => start,
    };
    if let Some(at) = unterminated.filter(|at| *at <= position) {
        let message = "syntax error: string literal not terminated";
        return Error::new(ErrorKind::Parse, message, Span::new(at, text.len()), text);
    }
    if text[position.min(text.len())..].starts_with('\'') {
        let message = "syntax error: single quotes do not make strings; use \"…\" or `…`";
        return Error::new(
            ErrorKind::Parse,
            message,
            Span::new(position, position + 1),
            text,
        );
    }
    let (found, len) = found_at(text, position);
    let mut expected: Vec<&'static str> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| describe(*r)).collect()
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort_unstable();
    expected.dedup();
    // Numbers are values too: name only the wider expectation.
    if expected.contains(&VALUE) {
        expected.retain(|e| *e != NUMBER);
    }
    let message = match expected.as_slice() {
        [] => format!("syntax error: unexpected {found}"),
        [one] => format!("syntax error: unexpected {found}, expected {one}"),
        [init @ .., last] => format!(
            "syntax error: unexpected {found}, expected {} or {last}",
            init.join(", ")
        ),
    };
    Error::new(
        ErrorKind::Parse,
        message,
        Span::new(position, position + len),
        text,
    )
}

/// Names the token at `position` and gives its length in bytes.
fn found_at(text: &str, position: usize) -> (String, usize) {
    let rest = text.get(position..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return ("end of query".to_string(), 0);
    };
    if first.is_alphanumeric() || first == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if first == '"' || first == '`' {
        return ("string".to_string(), first.len_utf8());
    }
    if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
        return (format!("`{op}`"), op.len());
    }
    (format!("`{}`", first.escape_debug()), first.len_utf8())
}

/// What a grammar rule stands for in an error message; `None` for rules too internal to name.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of query",
        Rule::spanset_filter | Rule::spanset_expr | Rule::spanset_pipeline => {
            "a spanset filter `{ … }`"
        }
        Rule::spanset_op => "a spanset operator",
        Rule::field_expr
        | Rule::field_prefix
        | Rule::nil
        | Rule::boolean
        | Rule::status
        | Rule::kind
        | Rule::int_constant
        | Rule::string
        | Rule::quoted_string
        | Rule::raw_string
        | Rule::attribute
        | Rule::attribute_scope
        | Rule::unscoped_scope
        | Rule::intrinsic
        | Rule::intrinsic_scope => VALUE,
        Rule::field_infix => "an operator",
        Rule::comparison_op => "a comparison",
        Rule::arith_op | Rule::metrics_op => "an arithmetic operator",
        Rule::integer | Rule::float | Rule::duration | Rule::minus | Rule::literal_scalar => {
            "a number"
        }
        Rule::attribute_name => "an attribute name",
        Rule::identifier => "a name",
        Rule::aggregate
        | Rule::count_agg
        | Rule::value_agg
        | Rule::aggregate_name
        | Rule::kw_count => "an aggregate",
        Rule::group_by | Rule::kw_by => "`by(…)`",
        Rule::select | Rule::kw_select => "`select(…)`",
        Rule::coalesce | Rule::kw_coalesce => "`coalesce()`",
        Rule::rate_fn
        | Rule::count_over_time_fn
        | Rule::value_over_time_fn
        | Rule::over_time_name
        | Rule::quantile_fn
        | Rule::histogram_fn
        | Rule::compare_fn
        | Rule::kw_rate
        | Rule::kw_count_over_time
        | Rule::kw_quantile_over_time
        | Rule::kw_histogram_over_time
        | Rule::kw_compare => "a metrics function",
        Rule::metrics_by => "`by(…)`",
        Rule::second_stage | Rule::topk | Rule::bottomk | Rule::kw_topk | Rule::kw_bottomk => {
            "`topk(…)`, `bottomk(…)` or a comparison"
        }
        Rule::hints | Rule::kw_with => "`with(…)`",
        Rule::hint => "a hint `name=value`",
        Rule::scalar_expr | Rule::scalar_pipeline_expr | Rule::scalar_filter => {
            "a number or an aggregate"
        }
        Rule::metrics_expr | Rule::wrapped_metrics => "a metrics query",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_token_found() {
        assert_eq!(found_at("{ .a == 1 }", 5), ("`==`".to_string(), 2));
        assert_eq!(found_at("{ .a == 1 }", 6), ("`=`".to_string(), 1));
        assert_eq!(found_at("{ foo }", 2), ("`foo`".to_string(), 3));
        assert_eq!(found_at("{", 1), ("end of query".to_string(), 0));
        assert_eq!(found_at("'x'", 0), ("`\\'`".to_string(), 1));
    }
}

//! Constant folding: evaluating operators on literals with TraceQL's value semantics.
//!
//! Folding happens while the AST is built, bottom-up, so `{ 1 + 1 > 1 }` becomes `{ true }`.
//! A node is folded only when its operand types validate and evaluation succeeds: a type error
//! is left for validation to report, and a runtime error (integer division by zero) or a
//! non-finite float is left for execution.

use std::cmp::Ordering;

use crate::ast::{BinaryOp, Static, Type, UnaryOp};
use crate::validate::types::{binary_result_type, unary_result_type};

/// Evaluates `lhs op rhs` on literals; `None` when it must not be folded.
pub fn fold_binary(op: BinaryOp, lhs: &Static, rhs: &Static) -> Option<Static> {
    if matches!(op, BinaryOp::Eq | BinaryOp::Neq) && (*lhs == Static::Nil || *rhs == Static::Nil) {
        return Some(Static::Bool(existence(op, lhs, rhs)));
    }
    binary_result_type(op, lhs.type_of(), rhs.type_of()).ok()?;
    let value = match op {
        BinaryOp::Add
        | BinaryOp::Sub
        | BinaryOp::Mul
        | BinaryOp::Div
        | BinaryOp::Mod
        | BinaryOp::Pow => arithmetic(op, lhs, rhs)?,
        BinaryOp::Eq => Static::Bool(equals(lhs, rhs)?),
        BinaryOp::Neq => Static::Bool(!equals(lhs, rhs)?),
        BinaryOp::Lt | BinaryOp::Lte | BinaryOp::Gt | BinaryOp::Gte => {
            let ordering = compare(lhs, rhs)?;
            Static::Bool(match op {
                BinaryOp::Lt => ordering == Ordering::Less,
                BinaryOp::Lte => ordering != Ordering::Greater,
                BinaryOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            })
        }
        BinaryOp::Regex | BinaryOp::NotRegex => {
            let (Static::String(s), Static::String(pattern)) = (lhs, rhs) else {
                return None;
            };
            let matched = anchored_regex(pattern).ok()?.is_match(s);
            Static::Bool(matched == (op == BinaryOp::Regex))
        }
        BinaryOp::And | BinaryOp::Or => {
            let (Static::Bool(a), Static::Bool(b)) = (lhs, rhs) else {
                return None;
            };
            Static::Bool(if op == BinaryOp::And {
                *a && *b
            } else {
                *a || *b
            })
        }
    };
    match value {
        Static::Float(f) if !f.is_finite() => None,
        value => Some(value),
    }
}

/// Evaluates a prefix operator on a literal; `None` when it must not be folded.
pub fn fold_unary(op: UnaryOp, value: &Static) -> Option<Static> {
    unary_result_type(op, value.type_of()).ok()?;
    match (op, value) {
        (UnaryOp::Neg, Static::Int(v)) => Some(Static::Int(v.wrapping_neg())),
        (UnaryOp::Neg, Static::Duration(v)) => Some(Static::Duration(v.wrapping_neg())),
        (UnaryOp::Neg, Static::Float(v)) => Some(Static::Float(-v)),
        (UnaryOp::Not, Static::Bool(b)) => Some(Static::Bool(!b)),
        _ => None,
    }
}

/// Compiles a TraceQL regex: RE2 syntax, fully anchored, `.` matching newlines.
pub fn anchored_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&anchored_pattern(pattern))
}

/// The pattern as TraceQL matches it: `^(?s:PATTERN)$`.
pub fn anchored_pattern(pattern: &str) -> String {
    format!("^(?s:{pattern})$")
}

/// `x = nil` is true iff x is absent; `x != nil` iff present; `nil = nil` and `nil != nil`
/// are both false.
fn existence(op: BinaryOp, lhs: &Static, rhs: &Static) -> bool {
    let other = if *lhs == Static::Nil { rhs } else { lhs };
    !matches!((op, other), (_, Static::Nil) | (BinaryOp::Eq, _))
}

/// A numeric view of a literal: integers and durations stay exact.
enum Number {
    Int(i64),
    Float(f64),
}

fn number(value: &Static) -> Option<Number> {
    match value {
        Static::Int(v) | Static::Duration(v) => Some(Number::Int(*v)),
        Static::Float(v) => Some(Number::Float(*v)),
        _ => None,
    }
}

fn as_f64(n: &Number) -> f64 {
    match n {
        Number::Int(v) => *v as f64,
        Number::Float(v) => *v,
    }
}

/// Integer arithmetic when both sides are ints; float arithmetic otherwise (durations as
/// nanosecond counts). Integer division or remainder by zero is not folded.
fn arithmetic(op: BinaryOp, lhs: &Static, rhs: &Static) -> Option<Static> {
    if let (Static::Int(a), Static::Int(b)) = (lhs, rhs) {
        return integer_arithmetic(op, *a, *b).map(Static::Int);
    }
    let (a, b) = (as_f64(&number(lhs)?), as_f64(&number(rhs)?));
    Some(Static::Float(float_arithmetic(op, a, b)))
}

/// `a op b` on 64-bit integers with Go semantics (wrapping, truncating division, remainder
/// with the dividend's sign); `^` is the true power (Tempo swaps the arguments: section 10).
pub fn integer_arithmetic(op: BinaryOp, a: i64, b: i64) -> Option<i64> {
    Some(match op {
        BinaryOp::Add => a.wrapping_add(b),
        BinaryOp::Sub => a.wrapping_sub(b),
        BinaryOp::Mul => a.wrapping_mul(b),
        BinaryOp::Div => {
            if b == 0 {
                return None;
            }
            a.wrapping_div(b)
        }
        BinaryOp::Mod => {
            if b == 0 {
                return None;
            }
            a.wrapping_rem(b)
        }
        BinaryOp::Pow => (a as f64).powf(b as f64) as i64,
        _ => return None,
    })
}

/// `a op b` on doubles; `%` is `fmod` as Go's `math.Mod`.
pub fn float_arithmetic(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Mod => a % b,
        _ => a.powf(b),
    }
}

/// Type-aware equality: exact for same-typed values, numeric across int/float/duration.
fn equals(lhs: &Static, rhs: &Static) -> Option<bool> {
    if let (Some(a), Some(b)) = (number(lhs), number(rhs)) {
        return Some(match (a, b) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (a, b) => as_f64(&a) == as_f64(&b),
        });
    }
    match (lhs, rhs) {
        (Static::String(a), Static::String(b)) => Some(a == b),
        (Static::Bool(a), Static::Bool(b)) => Some(a == b),
        (Static::Status(a), Static::Status(b)) => Some(a == b),
        (Static::Kind(a), Static::Kind(b)) => Some(a == b),
        _ => None,
    }
}

/// Ordering of numbers (exact for int/duration pairs) and of strings (byte-wise).
fn compare(lhs: &Static, rhs: &Static) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (number(lhs), number(rhs)) {
        return match (a, b) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
            (a, b) => as_f64(&a).partial_cmp(&as_f64(&b)),
        };
    }
    match (lhs, rhs) {
        (Static::String(a), Static::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    }
}

/// Folds literal arithmetic of scalar filters and metrics (`1/2` is 0, `1.0/2` is 0.5).
///
/// Returns an error message for what the grammar forbids there: durations, `%`, `^`, and
/// integer division by zero.
pub fn fold_literal_arithmetic(op: BinaryOp, lhs: &Static, rhs: &Static) -> Result<Static, String> {
    if lhs.type_of() == Type::Duration || rhs.type_of() == Type::Duration {
        return Err("durations cannot be used in literal arithmetic".into());
    }
    if matches!(op, BinaryOp::Mod | BinaryOp::Pow) {
        return Err(format!("`{op}` is not allowed between literals here"));
    }
    match arithmetic(op, lhs, rhs) {
        Some(Static::Float(f)) if !f.is_finite() => {
            Err(format!("`{lhs} {op} {rhs}` is not a finite number"))
        }
        Some(value) => Ok(value),
        None => Err("integer division by zero".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(op: BinaryOp, a: Static, b: Static) -> Option<Static> {
        fold_binary(op, &a, &b)
    }

    #[test]
    fn integer_semantics() {
        assert_eq!(
            fold(BinaryOp::Div, Static::Int(1), Static::Int(10)),
            Some(Static::Int(0))
        );
        assert_eq!(
            fold(BinaryOp::Mod, Static::Int(-7), Static::Int(2)),
            Some(Static::Int(-1))
        );
        assert_eq!(fold(BinaryOp::Div, Static::Int(5), Static::Int(0)), None);
        assert_eq!(
            fold(BinaryOp::Pow, Static::Int(2), Static::Int(3)),
            Some(Static::Int(8))
        );
        assert_eq!(
            fold(BinaryOp::Pow, Static::Int(10), Static::Int(-1)),
            Some(Static::Int(0))
        );
    }

    #[test]
    fn mixed_numbers_are_floats() {
        assert_eq!(
            fold(BinaryOp::Div, Static::Int(1), Static::Float(10.0)),
            Some(Static::Float(0.1))
        );
        let four_minutes = fold(
            BinaryOp::Add,
            Static::Duration(120_000_000_000),
            Static::Duration(120_000_000_000),
        );
        assert_eq!(four_minutes, Some(Static::Float(240e9)));
        assert_eq!(
            fold(BinaryOp::Div, Static::Float(5.0), Static::Float(0.0)),
            None,
            "+Inf is not folded"
        );
    }

    #[test]
    fn comparisons() {
        assert_eq!(
            fold(BinaryOp::Eq, Static::Int(1), Static::Float(1.0)),
            Some(Static::Bool(true))
        );
        assert_eq!(
            fold(BinaryOp::Eq, Static::Duration(1), Static::Int(1)),
            Some(Static::Bool(true))
        );
        assert_eq!(
            fold(
                BinaryOp::Gte,
                Static::String("5000".into()),
                Static::String("600".into())
            ),
            Some(Static::Bool(false))
        );
        assert_eq!(
            fold(BinaryOp::Eq, Static::Int(1), Static::String("1".into())),
            None,
            "type error"
        );
        assert_eq!(
            fold(BinaryOp::Eq, Static::Nil, Static::Nil),
            Some(Static::Bool(false))
        );
        assert_eq!(
            fold(BinaryOp::Neq, Static::Nil, Static::Nil),
            Some(Static::Bool(false))
        );
        assert_eq!(
            fold(BinaryOp::Neq, Static::Int(1), Static::Nil),
            Some(Static::Bool(true))
        );
    }

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let re = |s: &str, p: &str| {
            fold(
                BinaryOp::Regex,
                Static::String(s.into()),
                Static::String(p.into()),
            )
        };
        assert_eq!(re("GET /api", "GET"), Some(Static::Bool(false)));
        assert_eq!(re("GET /api", "GET.*"), Some(Static::Bool(true)));
        assert_eq!(re("a\nb", "a.b"), Some(Static::Bool(true)));
    }

    #[test]
    fn literal_arithmetic_rules() {
        assert_eq!(
            fold_literal_arithmetic(BinaryOp::Div, &Static::Int(1), &Static::Int(2)),
            Ok(Static::Int(0))
        );
        assert!(
            fold_literal_arithmetic(BinaryOp::Mul, &Static::Duration(1), &Static::Int(2)).is_err()
        );
        assert!(fold_literal_arithmetic(BinaryOp::Div, &Static::Int(1), &Static::Int(0)).is_err());
        assert!(fold_literal_arithmetic(BinaryOp::Mod, &Static::Int(1), &Static::Int(2)).is_err());
    }
}

//! Runtime values and TraceQL's comparison and arithmetic rules (spec section 7.2).
//!
//! These rules are shared by every evaluator: the reference interpreter and the columnar engine
//! must agree with them exactly.

use std::cmp::Ordering;

use traceql_syntax::ast::{BinaryOp, Kind, Static, Status};
use traceql_syntax::fold::{float_arithmetic, integer_arithmetic};

use crate::error::ExecError;

/// A value computed for one span.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// Missing attribute, or no value.
    Nil,
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Float(f64),
    /// String.
    Str(String),
    /// Boolean.
    Bool(bool),
    /// Nanoseconds.
    Duration(i64),
    /// Span status.
    Status(Status),
    /// Span kind.
    Kind(Kind),
    /// An array attribute (elements are scalars).
    Array(Vec<Val>),
    /// A present but not queryable value (bytes, key/value lists): exists, equals nothing.
    Opaque,
}

impl Val {
    /// The runtime value of a literal.
    pub fn from_static(s: &Static) -> Val {
        match s {
            Static::Nil => Val::Nil,
            Static::Int(v) => Val::Int(*v),
            Static::Float(v) => Val::Float(*v),
            Static::String(v) => Val::Str(v.clone()),
            Static::Bool(v) => Val::Bool(*v),
            Static::Duration(v) => Val::Duration(*v),
            Static::Status(v) => Val::Status(*v),
            Static::Kind(v) => Val::Kind(*v),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Val::Int(_) | Val::Float(_) | Val::Duration(_))
    }

    /// The number as a double (durations in nanoseconds).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(v) | Val::Duration(v) => Some(*v as f64),
            Val::Float(v) => Some(*v),
            _ => None,
        }
    }
}

/// `lhs op rhs` for the comparison operators `= != < <= > >= =~ !~` (existence checks against
/// `nil` are handled by the caller). `regex` is the compiled pattern for `=~`/`!~`.
pub fn compare(
    op: BinaryOp,
    lhs: &Val,
    rhs: &Val,
    regex: Option<&regex::Regex>,
) -> Result<bool, ExecError> {
    // Arrays: `= =~ < <= > >=` hold when some element satisfies them; `!=` and `!~` when no
    // element is equal or matches (elements of another type are not equal).
    let (elements, scalar, array_on_left) = match (lhs, rhs) {
        (Val::Array(_), Val::Array(_)) => {
            return Err(ExecError::new("cannot compare an array with an array"));
        }
        (Val::Array(e), s) => (e, s, true),
        (s, Val::Array(e)) => (e, s, false),
        _ => return Ok(scalar_compare(op, lhs, rhs, regex)),
    };
    let (positive, negate) = match op {
        BinaryOp::Neq => (BinaryOp::Eq, true),
        BinaryOp::NotRegex => (BinaryOp::Regex, true),
        other => (other, false),
    };
    let any = elements.iter().any(|e| {
        if array_on_left {
            scalar_compare(positive, e, scalar, regex)
        } else {
            scalar_compare(positive, scalar, e, regex)
        }
    });
    Ok(any != negate)
}

/// Two scalars: false whenever the types do not match or the operator does not apply.
fn scalar_compare(op: BinaryOp, lhs: &Val, rhs: &Val, regex: Option<&regex::Regex>) -> bool {
    if matches!(lhs, Val::Nil | Val::Opaque) || matches!(rhs, Val::Nil | Val::Opaque) {
        return false;
    }
    match op {
        BinaryOp::Regex | BinaryOp::NotRegex => match (lhs, regex) {
            (Val::Str(s), Some(re)) => re.is_match(s) == (op == BinaryOp::Regex),
            _ => false,
        },
        BinaryOp::Eq => equals(lhs, rhs).unwrap_or(false),
        BinaryOp::Neq => equals(lhs, rhs).map(|e| !e).unwrap_or(false),
        _ => match order(lhs, rhs) {
            Some(ordering) => match op {
                BinaryOp::Lt => ordering == Ordering::Less,
                BinaryOp::Lte => ordering != Ordering::Greater,
                BinaryOp::Gt => ordering == Ordering::Greater,
                BinaryOp::Gte => ordering != Ordering::Less,
                _ => false,
            },
            None => false,
        },
    }
}

/// Type-aware equality; `None` when the types do not match.
pub fn equals(lhs: &Val, rhs: &Val) -> Option<bool> {
    match (lhs, rhs) {
        (Val::Int(a) | Val::Duration(a), Val::Int(b) | Val::Duration(b)) => Some(a == b),
        (a, b) if a.is_numeric() && b.is_numeric() => Some(a.as_f64() == b.as_f64()),
        (Val::Str(a), Val::Str(b)) => Some(a == b),
        (Val::Bool(a), Val::Bool(b)) => Some(a == b),
        (Val::Status(a), Val::Status(b)) => Some(a == b),
        (Val::Kind(a), Val::Kind(b)) => Some(a == b),
        _ => None,
    }
}

/// Ordering of numbers and of strings (byte-wise); `None` otherwise.
fn order(lhs: &Val, rhs: &Val) -> Option<Ordering> {
    match (lhs, rhs) {
        (Val::Int(a) | Val::Duration(a), Val::Int(b) | Val::Duration(b)) => Some(a.cmp(b)),
        (a, b) if a.is_numeric() && b.is_numeric() => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Val::Str(a), Val::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    }
}

/// `lhs op rhs` for `+ - * / % ^`: integer arithmetic for two ints (division or remainder by
/// zero fails the query), float arithmetic for any other numbers, nil when an operand is not a
/// number. Arrays fail the query.
pub fn arithmetic(op: BinaryOp, lhs: &Val, rhs: &Val) -> Result<Val, ExecError> {
    if matches!(lhs, Val::Array(_)) || matches!(rhs, Val::Array(_)) {
        return Err(ExecError::new("arithmetic on arrays is not supported"));
    }
    match (lhs, rhs) {
        (Val::Int(a), Val::Int(b)) => integer_arithmetic(op, *a, *b)
            .map(Val::Int)
            .ok_or_else(|| ExecError::new("integer division by zero")),
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Ok(Val::Float(float_arithmetic(op, x, y))),
            _ => Ok(Val::Nil),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(op: BinaryOp, a: Val, b: Val) -> bool {
        compare(op, &a, &b, None).expect("no error")
    }

    #[test]
    fn mismatched_types_and_nil_are_false() {
        assert!(!cmp(BinaryOp::Neq, Val::Int(1), Val::Str("bar".into())));
        assert!(!cmp(BinaryOp::Neq, Val::Nil, Val::Str("x".into())));
        assert!(!cmp(BinaryOp::Gt, Val::Bool(true), Val::Bool(false)));
        assert!(cmp(BinaryOp::Eq, Val::Float(1.0), Val::Int(1)));
        assert!(cmp(BinaryOp::Eq, Val::Duration(1), Val::Int(1)));
        assert!(!cmp(
            BinaryOp::Gte,
            Val::Str("5000".into()),
            Val::Str("600".into())
        ));
    }

    #[test]
    fn arrays() {
        let tags = Val::Array(vec![Val::Str("a".into()), Val::Str("b".into())]);
        assert!(cmp(BinaryOp::Eq, tags.clone(), Val::Str("a".into())));
        assert!(!cmp(BinaryOp::Neq, tags.clone(), Val::Str("a".into())));
        assert!(cmp(BinaryOp::Neq, tags.clone(), Val::Str("c".into())));
        assert!(cmp(BinaryOp::Gt, tags.clone(), Val::Str("a".into())));
        assert!(cmp(BinaryOp::Lt, Val::Str("a".into()), tags.clone()));
        let empty = Val::Array(vec![]);
        assert!(!cmp(BinaryOp::Eq, empty.clone(), Val::Str("a".into())));
        assert!(cmp(BinaryOp::Neq, empty, Val::Str("a".into())));
        let re = regex::Regex::new("^(?s:b.*)$").expect("regex");
        assert!(compare(BinaryOp::Regex, &tags, &Val::Str("b.*".into()), Some(&re)).expect("ok"));
        assert!(
            !compare(
                BinaryOp::NotRegex,
                &tags,
                &Val::Str("b.*".into()),
                Some(&re)
            )
            .expect("ok")
        );
        assert!(compare(BinaryOp::Eq, &tags, &tags, None).is_err());
    }

    #[test]
    fn arithmetic_rules() {
        assert_eq!(
            arithmetic(BinaryOp::Div, &Val::Int(7), &Val::Int(2)).ok(),
            Some(Val::Int(3))
        );
        assert!(arithmetic(BinaryOp::Div, &Val::Int(7), &Val::Int(0)).is_err());
        assert_eq!(
            arithmetic(BinaryOp::Add, &Val::Duration(1), &Val::Duration(2)).ok(),
            Some(Val::Float(3.0))
        );
        assert_eq!(
            arithmetic(BinaryOp::Add, &Val::Str("a".into()), &Val::Int(1)).ok(),
            Some(Val::Nil)
        );
        assert_eq!(
            arithmetic(BinaryOp::Pow, &Val::Int(2), &Val::Int(3)).ok(),
            Some(Val::Int(8))
        );
    }
}

//! Static typing of field operators (section 6.1 of the spec).

use crate::ast::{BinaryOp, Type, UnaryOp};

/// True when `=`/`!=` may compare the two types: same type, both numeric, or one unknown.
pub fn types_match(lhs: Type, rhs: Type) -> bool {
    lhs == rhs
        || lhs == Type::Attribute
        || rhs == Type::Attribute
        || lhs == Type::Nil
        || rhs == Type::Nil
        || (lhs.is_numeric() && rhs.is_numeric())
}

/// The type of `lhs op rhs`, or why the operands do not fit the operator.
pub fn binary_result_type(op: BinaryOp, lhs: Type, rhs: Type) -> Result<Type, String> {
    let known = |t: Type| t != Type::Attribute;
    match op {
        _ if op.is_arithmetic() => {
            for t in [lhs, rhs] {
                if known(t) && !t.is_numeric() {
                    return Err(format!(
                        "arithmetic operator `{op}` needs numbers, found {t}"
                    ));
                }
            }
            Ok(match (lhs, rhs) {
                (Type::Int, Type::Int) => Type::Int,
                (Type::Attribute, t) | (t, Type::Attribute) => t,
                _ => Type::Float,
            })
        }
        BinaryOp::Eq | BinaryOp::Neq => {
            if types_match(lhs, rhs) {
                Ok(Type::Bool)
            } else {
                Err(format!(
                    "binary operations must operate on the same type: cannot compare {lhs} {op} {rhs}"
                ))
            }
        }
        _ if op.is_ordering() => {
            for t in [lhs, rhs] {
                if known(t) && !(t.is_numeric() || t == Type::String) {
                    return Err(format!("operator `{op}` cannot compare {t} values"));
                }
            }
            if known(lhs) && known(rhs) && lhs.is_numeric() != rhs.is_numeric() {
                return Err(format!(
                    "binary operations must operate on the same type: cannot compare {lhs} {op} {rhs}"
                ));
            }
            Ok(Type::Bool)
        }
        BinaryOp::Regex | BinaryOp::NotRegex => {
            if known(lhs) && lhs != Type::String {
                return Err(format!(
                    "regex operator `{op}` needs a string on the left, found {lhs}"
                ));
            }
            if known(rhs) && rhs != Type::String {
                return Err(format!(
                    "regex operator `{op}` needs a string pattern, found {rhs}"
                ));
            }
            Ok(Type::Bool)
        }
        _ => {
            for t in [lhs, rhs] {
                if known(t) && t != Type::Bool {
                    return Err(format!("logical operator `{op}` needs booleans, found {t}"));
                }
            }
            Ok(Type::Bool)
        }
    }
}

/// The type of a prefix operation, or why the operand does not fit.
pub fn unary_result_type(op: UnaryOp, operand: Type) -> Result<Type, String> {
    match op {
        _ if operand == Type::Attribute => Ok(operand),
        UnaryOp::Neg if operand.is_numeric() => Ok(operand),
        UnaryOp::Not if operand == Type::Bool => Ok(operand),
        UnaryOp::Neg => Err(format!("unary `-` needs a number, found {operand}")),
        UnaryOp::Not => Err(format!("unary `!` needs a boolean, found {operand}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_not_numbers_or_strings() {
        assert!(binary_result_type(BinaryOp::Eq, Type::Status, Type::String).is_err());
        assert!(binary_result_type(BinaryOp::Eq, Type::Status, Type::Int).is_err());
        assert!(binary_result_type(BinaryOp::Gt, Type::Status, Type::Status).is_err());
        assert!(binary_result_type(BinaryOp::Lt, Type::Kind, Type::Kind).is_err());
        assert_eq!(
            binary_result_type(BinaryOp::Eq, Type::Status, Type::Status),
            Ok(Type::Bool)
        );
    }

    #[test]
    fn attributes_fit_anything_sensible() {
        assert_eq!(
            binary_result_type(BinaryOp::Add, Type::Attribute, Type::Int),
            Ok(Type::Int)
        );
        assert_eq!(
            binary_result_type(BinaryOp::Eq, Type::Attribute, Type::String),
            Ok(Type::Bool)
        );
        assert!(binary_result_type(BinaryOp::Add, Type::Attribute, Type::String).is_err());
        assert!(binary_result_type(BinaryOp::Gt, Type::String, Type::Int).is_err());
    }
}

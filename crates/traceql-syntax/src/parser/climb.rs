//! Operator-precedence folding of flat `prefix* operand (infix prefix* operand)*` sequences.
//!
//! An iterative shunting-yard: long chains (`a || b || …`, `2 ^ 2 ^ …`, `!!!!x`) use heap
//! stacks, never the call stack. Every node built records its depth, and a tree deeper than
//! [`MAX_EXPRESSION_DEPTH`] is refused so that later recursive passes cannot overflow.

use crate::error::Error;
use crate::span::Span;

/// The deepest expression tree the parser builds.
///
/// The canonical printer parenthesises every binary node, so printing a tree this deep needs
/// about as many nested brackets: [`MAX_BRACKET_DEPTH`](crate::MAX_BRACKET_DEPTH) stays above it
/// so that every canonical form parses back.
pub const MAX_EXPRESSION_DEPTH: usize = 500;

/// Associativity of an infix operator.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Assoc {
    /// `a - b - c` is `(a - b) - c`.
    Left,
    /// `a ^ b ^ c` is `a ^ (b ^ c)`.
    Right,
}

/// One element of a flat expression sequence.
pub enum Token<O, I, P> {
    /// An operand and its depth.
    Operand(O, usize),
    /// An infix operator with its precedence level and associativity.
    Infix(I, u8, Assoc, Span),
    /// A prefix operator with its precedence level.
    Prefix(P, u8, Span),
}

enum Pending<I, P> {
    Infix(I, u8, Span),
    Prefix(P, u8, Span),
}

impl<I, P> Pending<I, P> {
    fn level(&self) -> u8 {
        match self {
            Pending::Infix(_, level, _) | Pending::Prefix(_, level, _) => *level,
        }
    }
}

/// How to build nodes.
pub trait Reducer<O, I, P> {
    /// Builds `lhs op rhs`.
    fn infix(&mut self, op: I, span: Span, lhs: O, rhs: O) -> Result<O, Error>;
    /// Builds `op operand`.
    fn prefix(&mut self, op: P, span: Span, operand: O) -> Result<O, Error>;
    /// The error for a tree nested deeper than [`MAX_EXPRESSION_DEPTH`].
    fn too_deep(&mut self, span: Span) -> Error;
}

/// Folds `tokens` into one operand, returning it with its depth.
pub fn climb<O, I, P>(
    tokens: impl IntoIterator<Item = Result<Token<O, I, P>, Error>>,
    reducer: &mut impl Reducer<O, I, P>,
) -> Result<(O, usize), Error> {
    let mut operands: Vec<(O, usize)> = Vec::new();
    let mut pending: Vec<Pending<I, P>> = Vec::new();
    for token in tokens {
        match token? {
            Token::Operand(o, depth) => operands.push((o, depth)),
            Token::Prefix(op, level, span) => pending.push(Pending::Prefix(op, level, span)),
            Token::Infix(op, level, assoc, span) => {
                while let Some(top) = pending.last() {
                    let pop = top.level() > level || (top.level() == level && assoc == Assoc::Left);
                    if !pop {
                        break;
                    }
                    if let Some(top) = pending.pop() {
                        apply(top, &mut operands, reducer)?;
                    }
                }
                pending.push(Pending::Infix(op, level, span));
            }
        }
    }
    while let Some(top) = pending.pop() {
        apply(top, &mut operands, reducer)?;
    }
    match (operands.pop(), operands.is_empty()) {
        (Some(result), true) => Ok(result),
        _ => Err(reducer.too_deep(Span::default())),
    }
}

fn apply<O, I, P>(
    op: Pending<I, P>,
    operands: &mut Vec<(O, usize)>,
    reducer: &mut impl Reducer<O, I, P>,
) -> Result<(), Error> {
    let (node, depth, span) = match op {
        Pending::Prefix(op, _, span) => {
            let Some((operand, depth)) = operands.pop() else {
                return Err(reducer.too_deep(span));
            };
            (reducer.prefix(op, span, operand)?, depth + 1, span)
        }
        Pending::Infix(op, _, span) => {
            let (Some((rhs, rd)), Some((lhs, ld))) = (operands.pop(), operands.pop()) else {
                return Err(reducer.too_deep(span));
            };
            (reducer.infix(op, span, lhs, rhs)?, ld.max(rd) + 1, span)
        }
    };
    if depth > MAX_EXPRESSION_DEPTH {
        return Err(reducer.too_deep(span));
    }
    operands.push((node, depth));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Builds fully parenthesised strings.
    struct Text;

    impl Reducer<String, char, char> for Text {
        fn infix(&mut self, op: char, _: Span, lhs: String, rhs: String) -> Result<String, Error> {
            Ok(format!("({lhs}{op}{rhs})"))
        }
        fn prefix(&mut self, op: char, _: Span, operand: String) -> Result<String, Error> {
            Ok(format!("({op}{operand})"))
        }
        fn too_deep(&mut self, span: Span) -> Error {
            Error::new(ErrorKind::Parse, "too deep", span, "")
        }
    }

    /// Tempo's levels: `&&`=2, `=`=3, `+ -`=5 (prefix `-` too), `!`=6, `*`=7, `^`=8 (right).
    fn run(text: &str) -> String {
        let tokens = text.chars().enumerate().map(|(i, c)| {
            let prev_is_operand = i > 0 && text.as_bytes()[i - 1].is_ascii_alphabetic();
            Ok(match c {
                'a'..='z' => Token::Operand(c.to_string(), 0),
                '-' if !prev_is_operand => Token::Prefix('-', 5, Span::default()),
                '!' => Token::Prefix('!', 6, Span::default()),
                '&' => Token::Infix('&', 2, Assoc::Left, Span::default()),
                '=' => Token::Infix('=', 3, Assoc::Left, Span::default()),
                '+' | '-' => Token::Infix(c, 5, Assoc::Left, Span::default()),
                '*' => Token::Infix('*', 7, Assoc::Left, Span::default()),
                '^' => Token::Infix('^', 8, Assoc::Right, Span::default()),
                _ => unreachable!("test input"),
            })
        });
        climb(tokens, &mut Text)
            .map(|(s, _)| s)
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn tempo_precedence() {
        assert_eq!(run("a&b=c"), "(a&(b=c))");
        assert_eq!(run("a-b-c"), "((a-b)-c)");
        assert_eq!(run("a^b^c"), "(a^(b^c))");
        assert_eq!(run("-a*b"), "(-(a*b))");
        assert_eq!(run("-a+b"), "((-a)+b)");
        assert_eq!(run("!a=b"), "((!a)=b)");
        assert_eq!(run("!a&b"), "((!a)&b)");
        assert_eq!(run("!a*b"), "(!(a*b))");
        assert_eq!(run("-a^b+c"), "((-(a^b))+c)");
        assert_eq!(run("a^-b*c"), "(a^(-(b*c)))");
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let long: String = std::iter::repeat_n("a^", 100_000).collect::<String>() + "a";
        assert!(run(&long).contains("too deep"));
        let ok: String =
            std::iter::repeat_n("a+", MAX_EXPRESSION_DEPTH - 1).collect::<String>() + "a";
        assert!(!run(&ok).contains("too deep"));
    }
}

//! Spanset filters and the operators that join spansets.

use std::fmt;

use super::expr::FieldExpr;
use super::pipeline::Pipeline;
use crate::span::Span;

/// `{ expr }`: keeps the spans for which `expr` is true. `{}` is `{ true }`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpansetFilter {
    /// The condition.
    pub expr: FieldExpr,
    /// Where the filter was written, braces included.
    pub span: Span,
}

impl fmt::Display for SpansetFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{ {} }}", self.expr)
    }
}

/// Operators between spansets: logical and structural.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpansetOp {
    /// `&&`: both sides match; union of their spans.
    And,
    /// `||`: either side matches; union of their spans.
    Or,
    /// `>`: RHS spans whose parent is an LHS span.
    Child,
    /// `<`: RHS spans that are the parent of an LHS span.
    Parent,
    /// `>>`: RHS spans with an LHS ancestor.
    Descendant,
    /// `<<`: RHS spans that are an ancestor of an LHS span.
    Ancestor,
    /// `~`: RHS spans with another LHS span as sibling.
    Sibling,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDescendant,
    /// `!<<`
    NotAncestor,
    /// `!~`
    NotSibling,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

/// Every spanset operator, for tables and tests.
pub const ALL_SPANSET_OPS: [SpansetOp; 17] = [
    SpansetOp::And,
    SpansetOp::Or,
    SpansetOp::Child,
    SpansetOp::Parent,
    SpansetOp::Descendant,
    SpansetOp::Ancestor,
    SpansetOp::Sibling,
    SpansetOp::NotChild,
    SpansetOp::NotParent,
    SpansetOp::NotDescendant,
    SpansetOp::NotAncestor,
    SpansetOp::NotSibling,
    SpansetOp::UnionChild,
    SpansetOp::UnionParent,
    SpansetOp::UnionDescendant,
    SpansetOp::UnionAncestor,
    SpansetOp::UnionSibling,
];

impl SpansetOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            SpansetOp::And => "&&",
            SpansetOp::Or => "||",
            SpansetOp::Child => ">",
            SpansetOp::Parent => "<",
            SpansetOp::Descendant => ">>",
            SpansetOp::Ancestor => "<<",
            SpansetOp::Sibling => "~",
            SpansetOp::NotChild => "!>",
            SpansetOp::NotParent => "!<",
            SpansetOp::NotDescendant => "!>>",
            SpansetOp::NotAncestor => "!<<",
            SpansetOp::NotSibling => "!~",
            SpansetOp::UnionChild => "&>",
            SpansetOp::UnionParent => "&<",
            SpansetOp::UnionDescendant => "&>>",
            SpansetOp::UnionAncestor => "&<<",
            SpansetOp::UnionSibling => "&~",
        }
    }

    /// The operator written `text`.
    pub fn from_text(text: &str) -> Option<SpansetOp> {
        ALL_SPANSET_OPS.into_iter().find(|op| op.as_str() == text)
    }

    /// `&&` and `||` (one precedence level below the structural operators).
    pub fn is_logical(self) -> bool {
        matches!(self, SpansetOp::And | SpansetOp::Or)
    }

    /// The negated structural operators `!>`, `!<`, `!>>`, `!<<` and `!~`, which return the
    /// right-hand spans without a partner on the left.
    ///
    /// ```
    /// use traceql_syntax::ast::SpansetOp;
    /// assert!(SpansetOp::NotSibling.is_negated());
    /// assert!(!SpansetOp::Sibling.is_negated());
    /// ```
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            SpansetOp::NotChild
                | SpansetOp::NotParent
                | SpansetOp::NotDescendant
                | SpansetOp::NotAncestor
                | SpansetOp::NotSibling
        )
    }
}

impl fmt::Display for SpansetOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An expression over spansets.
#[derive(Clone, Debug, PartialEq)]
pub enum SpansetExpr {
    /// `{ … }`
    Filter(SpansetFilter),
    /// `lhs op rhs`; both sides see the same input spanset.
    Op {
        /// The operator.
        op: SpansetOp,
        /// Left operand.
        lhs: Box<SpansetExpr>,
        /// Right operand.
        rhs: Box<SpansetExpr>,
    },
    /// A parenthesised sub-pipeline used as an operand: `({ .a } | count() > 1) && ({ .b })`.
    Pipeline(Box<Pipeline>),
}

impl SpansetExpr {
    fn write_operand(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Op { .. } => write!(f, "({self})"),
            _ => write!(f, "{self}"),
        }
    }
}

impl fmt::Display for SpansetExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guarded(|| self.write(f))
    }
}

impl SpansetExpr {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(filter) => fmt::Display::fmt(filter, f),
            SpansetExpr::Op { op, lhs, rhs } => {
                lhs.write_operand(f)?;
                write!(f, " {op} ")?;
                rhs.write_operand(f)
            }
            SpansetExpr::Pipeline(p) => write!(f, "({p})"),
        }
    }
}

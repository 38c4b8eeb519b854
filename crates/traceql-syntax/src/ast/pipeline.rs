//! Spanset pipelines and their stages: filters, aggregates, `by`, `select`, `coalesce`.

use std::fmt;

use super::expr::{Field, FieldExpr, Side, Static};
use super::spanset::SpansetExpr;
use crate::span::Span;

/// Stages separated by `|`; each maps a list of spansets to a list of spansets.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// The stages, first to last (never empty).
    pub stages: Vec<Stage>,
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            stage.fmt(f)?;
        }
        Ok(())
    }
}

/// One stage of a spanset pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// Filters and spanset operators.
    Spanset(SpansetExpr),
    /// `count() > 1`, `avg(duration) < 1s`.
    ScalarFilter(ScalarFilter),
    /// `by(expr)`: splits each spanset into groups.
    By(GroupBy),
    /// `select(a, b)`: asks for more attributes in the output.
    Select {
        /// The attributes and intrinsics to return.
        fields: Vec<Field>,
        /// Where `select(…)` was written.
        span: Span,
    },
    /// `coalesce()`: merges all spansets of a trace into one.
    Coalesce,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spanset(e) => e.fmt(f),
            Stage::ScalarFilter(s) => s.fmt(f),
            Stage::By(g) => g.fmt(f),
            Stage::Select { fields, .. } => {
                f.write_str("select(")?;
                write_list(f, fields)?;
                f.write_str(")")
            }
            Stage::Coalesce => f.write_str("coalesce()"),
        }
    }
}

/// Writes items separated by `, `.
pub(crate) fn write_list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

/// `by(expr)` in a spanset pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupBy {
    /// The grouping expression.
    pub expr: FieldExpr,
    /// Where `by(…)` was written.
    pub span: Span,
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "by({})", self.expr)
    }
}

/// Spanset aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `count()`
    Count,
    /// `avg(e)`
    Avg,
    /// `max(e)`
    Max,
    /// `min(e)`
    Min,
    /// `sum(e)`
    Sum,
}

impl AggregateOp {
    /// The function name.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Count => "count",
            AggregateOp::Avg => "avg",
            AggregateOp::Max => "max",
            AggregateOp::Min => "min",
            AggregateOp::Sum => "sum",
        }
    }
}

/// `count()` or `avg|max|min|sum(expr)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// The function.
    pub op: AggregateOp,
    /// The argument; `None` exactly for `count()`.
    pub expr: Option<FieldExpr>,
    /// Where the aggregate was written.
    pub span: Span,
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(e) => write!(f, "{}({e})", self.op.as_str()),
            None => write!(f, "{}()", self.op.as_str()),
        }
    }
}

/// Comparison operators of scalar filters and metrics second stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComparisonOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

impl ComparisonOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            ComparisonOp::Eq => "=",
            ComparisonOp::Neq => "!=",
            ComparisonOp::Lt => "<",
            ComparisonOp::Lte => "<=",
            ComparisonOp::Gt => ">",
            ComparisonOp::Gte => ">=",
        }
    }
}

impl fmt::Display for ComparisonOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Arithmetic operators between scalar (aggregate) expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

impl ArithOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        }
    }
}

impl fmt::Display for ArithOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scalar expression: aggregates, numeric literals and arithmetic between them.
#[derive(Clone, Debug, PartialEq)]
pub enum ScalarExpr {
    /// An aggregate over the current spanset.
    Aggregate(Aggregate),
    /// A numeric literal (already folded).
    Literal(Static),
    /// `lhs op rhs` (parses; TraceQL does not run it).
    Binary {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        lhs: Box<ScalarExpr>,
        /// Right operand.
        rhs: Box<ScalarExpr>,
        /// Where the expression was written.
        span: Span,
    },
    /// `({ … } | count())`: a wrapped scalar pipeline (parses; TraceQL does not run it).
    Pipeline {
        /// The spanset pipeline.
        pipeline: Box<Pipeline>,
        /// The aggregate that ends it.
        aggregate: Aggregate,
        /// Where the wrapped pipeline was written.
        span: Span,
    },
}

impl ScalarExpr {
    /// Writes the expression as an operand; see `FieldExpr::needs_parens` for the rule.
    fn write_operand(&self, f: &mut fmt::Formatter<'_>, side: Side) -> fmt::Result {
        match self {
            ScalarExpr::Binary { .. } => write!(f, "({self})"),
            ScalarExpr::Literal(s) if side == Side::Left && s.is_negative() => {
                write!(f, "({self})")
            }
            _ => write!(f, "{self}"),
        }
    }
}

impl fmt::Display for ScalarExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guarded(|| self.write(f))
    }
}

impl ScalarExpr {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Aggregate(a) => fmt::Display::fmt(a, f),
            ScalarExpr::Literal(s) => fmt::Display::fmt(s, f),
            ScalarExpr::Binary { op, lhs, rhs, .. } => {
                lhs.write_operand(f, Side::Left)?;
                write!(f, " {op} ")?;
                rhs.write_operand(f, Side::Right)
            }
            ScalarExpr::Pipeline {
                pipeline,
                aggregate,
                ..
            } => write!(f, "({pipeline}|{aggregate})"),
        }
    }
}

/// `lhs op rhs` over scalar expressions; only `aggregate op literal` runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarFilter {
    /// The comparison.
    pub op: ComparisonOp,
    /// Left side.
    pub lhs: ScalarExpr,
    /// Right side.
    pub rhs: ScalarExpr,
    /// Where the filter was written.
    pub span: Span,
}

impl fmt::Display for ScalarFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.lhs.write_operand(f, Side::Left)?;
        write!(f, " {} ", self.op)?;
        self.rhs.write_operand(f, Side::Right)
    }
}

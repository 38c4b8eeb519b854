//! Metrics queries: `| rate() by (…)`, second stages and arithmetic between metrics queries.

use std::fmt;

use super::expr::{Field, Side, Static};
use super::pipeline::{ComparisonOp, Pipeline, write_list};
use super::spanset::SpansetFilter;
use crate::span::Span;

/// A metrics function with its `by(…)` labels.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsFunction {
    /// Which function, with its arguments.
    pub kind: MetricsFunctionKind,
    /// Grouping attributes (empty for `compare`).
    pub by: Vec<Field>,
    /// Where the function was written.
    pub span: Span,
}

/// The metrics functions.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricsFunctionKind {
    /// `rate()`
    Rate,
    /// `count_over_time()`
    CountOverTime,
    /// `min_over_time(a)`
    MinOverTime(Field),
    /// `max_over_time(a)`
    MaxOverTime(Field),
    /// `avg_over_time(a)`
    AvgOverTime(Field),
    /// `sum_over_time(a)`
    SumOverTime(Field),
    /// `quantile_over_time(a, q, …)`
    QuantileOverTime {
        /// The attribute.
        field: Field,
        /// The requested quantiles, in the order written.
        quantiles: Vec<f64>,
    },
    /// `histogram_over_time(a)`
    HistogramOverTime(Field),
    /// `compare({ filter }[, topN[, start, end]])`
    Compare {
        /// The selection.
        filter: SpansetFilter,
        /// How many values to keep per attribute.
        top_n: Option<i64>,
        /// Optional selection window in unix nanoseconds.
        window: Option<(i64, i64)>,
    },
}

impl MetricsFunctionKind {
    /// The function name.
    pub fn name(&self) -> &'static str {
        match self {
            MetricsFunctionKind::Rate => "rate",
            MetricsFunctionKind::CountOverTime => "count_over_time",
            MetricsFunctionKind::MinOverTime(_) => "min_over_time",
            MetricsFunctionKind::MaxOverTime(_) => "max_over_time",
            MetricsFunctionKind::AvgOverTime(_) => "avg_over_time",
            MetricsFunctionKind::SumOverTime(_) => "sum_over_time",
            MetricsFunctionKind::QuantileOverTime { .. } => "quantile_over_time",
            MetricsFunctionKind::HistogramOverTime(_) => "histogram_over_time",
            MetricsFunctionKind::Compare { .. } => "compare",
        }
    }

    /// The attribute the function reads values from, if any.
    pub fn field(&self) -> Option<&Field> {
        match self {
            MetricsFunctionKind::MinOverTime(a)
            | MetricsFunctionKind::MaxOverTime(a)
            | MetricsFunctionKind::AvgOverTime(a)
            | MetricsFunctionKind::SumOverTime(a)
            | MetricsFunctionKind::HistogramOverTime(a)
            | MetricsFunctionKind::QuantileOverTime { field: a, .. } => Some(a),
            MetricsFunctionKind::Rate
            | MetricsFunctionKind::CountOverTime
            | MetricsFunctionKind::Compare { .. } => None,
        }
    }

    /// How many `by` attributes the function allows (quantile and histogram reserve one label).
    pub fn max_by(&self) -> usize {
        match self {
            MetricsFunctionKind::QuantileOverTime { .. }
            | MetricsFunctionKind::HistogramOverTime(_) => 4,
            _ => 5,
        }
    }
}

impl fmt::Display for MetricsFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.kind.name())?;
        match &self.kind {
            MetricsFunctionKind::QuantileOverTime { field, quantiles } => {
                write!(f, "{field}")?;
                for q in quantiles {
                    write!(f, ", {q:?}")?;
                }
            }
            MetricsFunctionKind::Compare {
                filter,
                top_n,
                window,
            } => {
                write!(f, "{filter}")?;
                if let Some(n) = top_n {
                    write!(f, ", {n}")?;
                }
                if let Some((start, end)) = window {
                    write!(f, ", {start}, {end}")?;
                }
            }
            kind => {
                if let Some(field) = kind.field() {
                    write!(f, "{field}")?;
                }
            }
        }
        f.write_str(")")?;
        if !self.by.is_empty() {
            f.write_str(" by (")?;
            write_list(f, &self.by)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Operations applied to a metrics result, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondStage {
    /// The operation.
    pub kind: SecondStageKind,
    /// Where it was written.
    pub span: Span,
}

/// The second-stage operations.
#[derive(Clone, Debug, PartialEq)]
pub enum SecondStageKind {
    /// `| topk(n)`
    TopK(u64),
    /// `| bottomk(n)`
    BottomK(u64),
    /// `> 10`: keeps the points satisfying the comparison.
    Filter {
        /// The comparison.
        op: ComparisonOp,
        /// The threshold (int, float or duration).
        value: Static,
    },
}

impl fmt::Display for SecondStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SecondStageKind::TopK(n) => write!(f, "|topk({n})"),
            SecondStageKind::BottomK(n) => write!(f, "|bottomk({n})"),
            SecondStageKind::Filter { op, value } => write!(f, " {op} {value}"),
        }
    }
}

/// A spanset pipeline feeding a metrics function: `{ … } | rate() by (…) | topk(5)`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsPipeline {
    /// The spanset pipeline whose spans are measured.
    pub pipeline: Pipeline,
    /// The metrics function.
    pub function: MetricsFunction,
    /// Second stages, applied left to right.
    pub second_stages: Vec<SecondStage>,
}

impl fmt::Display for MetricsPipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}", self.pipeline, self.function)?;
        for stage in &self.second_stages {
            stage.fmt(f)?;
        }
        Ok(())
    }
}

/// Arithmetic operators between metrics queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricsOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl fmt::Display for MetricsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricsOp::Add => "+",
            MetricsOp::Sub => "-",
            MetricsOp::Mul => "*",
            MetricsOp::Div => "/",
        })
    }
}

/// A metrics expression: pipelines, numeric literals and arithmetic between them.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricsExpr {
    /// One metrics pipeline.
    Pipeline(Box<MetricsPipeline>),
    /// A numeric literal (int or float), already folded.
    Literal(Static),
    /// `lhs op rhs`; series are matched by label set.
    Binary {
        /// The operator.
        op: MetricsOp,
        /// Left operand.
        lhs: Box<MetricsExpr>,
        /// Right operand.
        rhs: Box<MetricsExpr>,
        /// Where the expression was written.
        span: Span,
    },
}

impl MetricsExpr {
    /// Writes the expression as an operand; see `FieldExpr::needs_parens` for the rule.
    fn write_operand(&self, f: &mut fmt::Formatter<'_>, side: Side) -> fmt::Result {
        match self {
            MetricsExpr::Pipeline(p) => write!(f, "({p})"),
            MetricsExpr::Binary { .. } => write!(f, "({self})"),
            MetricsExpr::Literal(s) if side == Side::Left && s.is_negative() => write!(f, "({s})"),
            MetricsExpr::Literal(s) => write!(f, "{s}"),
        }
    }

    /// Calls `f` on every metrics pipeline, left to right.
    pub fn visit_pipelines<'a>(&'a self, f: &mut dyn FnMut(&'a MetricsPipeline)) {
        match self {
            MetricsExpr::Pipeline(p) => f(p),
            MetricsExpr::Literal(_) => {}
            MetricsExpr::Binary { lhs, rhs, .. } => {
                lhs.visit_pipelines(f);
                rhs.visit_pipelines(f);
            }
        }
    }
}

impl fmt::Display for MetricsExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guarded(|| self.write(f))
    }
}

impl MetricsExpr {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A lone pipeline is the root form and prints unwrapped.
            MetricsExpr::Pipeline(p) => fmt::Display::fmt(p, f),
            MetricsExpr::Literal(s) => fmt::Display::fmt(s, f),
            MetricsExpr::Binary { op, lhs, rhs, .. } => {
                lhs.write_operand(f, Side::Left)?;
                write!(f, " {op} ")?;
                rhs.write_operand(f, Side::Right)
            }
        }
    }
}

/// A whole metrics query: an expression and the second stages applied to its result.
///
/// When the expression is a single pipeline, the parser moves outer second stages into it
/// (`({ } | rate() > 1) > 2` is `{ } | rate() > 1 > 2`), so `second_stages` is only used
/// after arithmetic.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsQuery {
    /// The expression.
    pub expr: MetricsExpr,
    /// Second stages applied to the expression's result.
    pub second_stages: Vec<SecondStage>,
}

impl fmt::Display for MetricsQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)?;
        for stage in &self.second_stages {
            stage.fmt(f)?;
        }
        Ok(())
    }
}

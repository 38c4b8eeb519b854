//! The TraceQL abstract syntax tree.
//!
//! Every node prints its canonical text through `Display`; printing then parsing gives an equal
//! tree (spans never count for equality).

mod expr;
mod metrics;
mod pipeline;
mod query;
mod spanset;

pub(crate) use expr::SCOPED_ONLY_NAMES;
pub use expr::{
    ALL_INTRINSICS, Attribute, BinaryOp, Field, FieldExpr, FieldExprKind, Intrinsic, Kind, Scope,
    Static, Status, Type, UnaryOp,
};
pub use metrics::{
    MetricsExpr, MetricsFunction, MetricsFunctionKind, MetricsOp, MetricsPipeline, MetricsQuery,
    SecondStage, SecondStageKind,
};
pub use pipeline::{
    Aggregate, AggregateOp, ArithOp, ComparisonOp, GroupBy, Pipeline, ScalarExpr, ScalarFilter,
    Stage,
};
pub use query::{Hint, Query, QueryBody};
pub use spanset::{ALL_SPANSET_OPS, SpansetExpr, SpansetFilter, SpansetOp};

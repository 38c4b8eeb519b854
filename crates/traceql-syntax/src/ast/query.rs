//! The root of a query.

use std::fmt;

use super::expr::Static;
use super::metrics::MetricsQuery;
use super::pipeline::{Pipeline, ScalarFilter};
use crate::span::Span;

/// A parsed TraceQL query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// What the query computes.
    pub body: QueryBody,
    /// `with(…)` hints, in the order written.
    pub hints: Vec<Hint>,
}

/// The forms a query can take.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryBody {
    /// A search: a spanset pipeline (including wrapped sub-pipelines joined by operators).
    Pipeline(Pipeline),
    /// Wrapped scalar pipelines compared with each other (parses; TraceQL does not run it).
    ScalarFilter(ScalarFilter),
    /// A metrics query.
    Metrics(MetricsQuery),
}

/// `name = value` inside `with(…)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    /// The hint's name.
    pub name: String,
    /// Its literal value.
    pub value: Static,
    /// Where it was written.
    pub span: Span,
}

impl Query {
    /// The value of the last hint called `name`, if any.
    pub fn hint(&self, name: &str) -> Option<&Static> {
        self.hints
            .iter()
            .rev()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }

    /// True for metrics queries.
    pub fn is_metrics(&self) -> bool {
        matches!(self.body, QueryBody::Metrics(_))
    }
}

impl fmt::Display for QueryBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryBody::Pipeline(p) => p.fmt(f),
            QueryBody::ScalarFilter(s) => s.fmt(f),
            QueryBody::Metrics(m) => m.fmt(f),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.body.fmt(f)?;
        if !self.hints.is_empty() {
            f.write_str(" with(")?;
            for (i, hint) in self.hints.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{}={}", hint.name, hint.value)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

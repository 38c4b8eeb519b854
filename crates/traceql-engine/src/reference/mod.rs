//! The reference evaluator: a span-at-a-time interpreter of the AST over in-memory traces.
//!
//! It is written from the spec and kept simple enough to trust — no indexes, no pushdown, no
//! batching — so that faster execution paths can be checked against it on random data and
//! queries. It implements the engine semantics with the deliberate divergences of section 10
//! (true integer powers, numeric comparison across stored types, `!x`/`-x` on wrong types as no
//! match, orphan subtrees with their own structure, array `IN`, regex on IDs, negation-only
//! filters as logical negation).

mod expr;
mod pipeline;
mod trace;

pub use expr::{Regexes, eval, holds};
pub use pipeline::{Spanset, aggregate};
pub use trace::{SpanContext, TraceView, kind, status, trace_id_hex, value};

use traceql_syntax::ast::Pipeline;

use crate::error::ExecError;

/// Runs a search pipeline over one trace; the trace matches when the result is non-empty.
pub fn run_pipeline(
    pipeline: &Pipeline,
    trace: &TraceView,
    regexes: &mut Regexes,
) -> Result<Vec<Spanset>, ExecError> {
    pipeline::run(pipeline, trace, vec![Spanset::whole(trace)], regexes)
}

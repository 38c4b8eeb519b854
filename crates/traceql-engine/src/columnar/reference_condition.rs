//! Parts of a condition a scan evaluates with the reference evaluator itself, over a stand-in
//! span rebuilt per row from one list column, so that they mean what the reference means.
//!
//! - **Events and links.** The reference evaluates a condition that reads events once per
//!   event of the span (once with no event when it has none) and keeps the span when any
//!   evaluation holds. In a condition whose event fields all sit in one subexpression `T`
//!   reached from the top through `&&` and `||` only, the rest does not depend on the event,
//!   and `&&` and `||` never give more for a lesser `T` (ordering not-a-boolean < false <
//!   true): the span is kept exactly when the condition holds with `T` replaced by its
//!   greatest value over the span's events, which the function computes.
//! - **Generic attributes holding arrays.** A comparison with an array holds for any element;
//!   the function gives the comparison's value for the span's first value of the key, read
//!   whole from the generic list.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_datafusion_err, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, ident};
use traceql_storage::model::{Event, Link, Resource, Span, Trace};
use traceql_storage::schema::col;
use traceql_storage::{AttributeColumn, EventColumn, LinkColumn};
use traceql_syntax::ast::{BinaryOp, FieldExpr, FieldExprKind};

use super::fields::nested_list;
use crate::reference::{Regexes, SpanContext, TraceView, eval};
use crate::value::Val;

/// The subexpression of `expr` holding all its event (or link) fields, when there is one
/// reached from the top through `&&` and `||` only, and `expr` reads events or links but not
/// both; with the list column it reads.
pub fn nested_subexpression(expr: &FieldExpr) -> Option<(&FieldExpr, &'static str)> {
    let mut lists = Vec::new();
    expr.visit_fields(&mut |f| {
        if let Some(list) = nested_list(&f)
            && !lists.contains(&list)
        {
            lists.push(list);
        }
    });
    let [list] = lists[..] else {
        return None;
    };
    let reads = |e: &FieldExpr| {
        let mut found = false;
        e.visit_fields(&mut |f| found |= nested_list(&f) == Some(list));
        found
    };
    let only = |e: &FieldExpr| {
        let mut all = true;
        e.visit_fields(&mut |f| all &= nested_list(&f) == Some(list));
        all
    };
    let mut at = expr;
    loop {
        if only(at) {
            return Some((at, list));
        }
        match &at.kind {
            FieldExprKind::Binary {
                op: BinaryOp::And | BinaryOp::Or,
                lhs,
                rhs,
            } => match (reads(lhs), reads(rhs)) {
                (true, false) => at = lhs,
                (false, true) => at = rhs,
                // Both sides read the list with something else between: two subexpressions.
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// The greatest value of `expr` (reading only fields of the list column `list`) over each
/// span's events or links: true, false, or null (not a boolean).
pub fn nested_condition(list: &'static str, expr: &FieldExpr) -> Expr {
    let reads = match list {
        col::EVENTS => Reads::Events,
        _ => Reads::Links,
    };
    reference_condition(reads, expr)
}

/// The value of `expr`, a condition whose only field is the attribute `key` kept in the
/// generic list column `list` (span or resource attributes), for each span: true, false, or
/// null (not a boolean).
pub fn generic_condition(list: &'static str, key: &str, expr: &FieldExpr) -> Expr {
    let key = key.to_string();
    reference_condition(Reads::Attribute { list, key }, expr)
}

fn reference_condition(reads: Reads, expr: &FieldExpr) -> Expr {
    let list = reads.list();
    let function = ReferenceCondition {
        reads,
        canonical: expr.to_string(),
        expr: expr.clone(),
        signature: Signature::any(1, Volatility::Immutable),
    };
    ScalarUDF::from(function).call(vec![ident(list)])
}

/// What the stand-in span of a [`ReferenceCondition`] is rebuilt from, per row.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Reads {
    /// The span's events: the condition's greatest value over them.
    Events,
    /// The span's links: likewise.
    Links,
    /// The span's first value of `key` in the generic attribute list `list`.
    Attribute { list: &'static str, key: String },
}

impl Reads {
    /// The list column read.
    fn list(&self) -> &'static str {
        match self {
            Reads::Events => col::EVENTS,
            Reads::Links => col::LINKS,
            Reads::Attribute { list, .. } => list,
        }
    }
}

/// The scalar function behind [`nested_condition`] and [`generic_condition`].
#[derive(Debug)]
struct ReferenceCondition {
    reads: Reads,
    /// The expression's canonical text: what tells two functions apart.
    canonical: String,
    expr: FieldExpr,
    signature: Signature,
}

impl PartialEq for ReferenceCondition {
    fn eq(&self, other: &Self) -> bool {
        (&self.reads, &self.canonical) == (&other.reads, &other.canonical)
    }
}

impl Eq for ReferenceCondition {}

impl Hash for ReferenceCondition {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (&self.reads, &self.canonical).hash(state);
    }
}

/// What a condition may give: not a boolean, false, true (in this order).
fn rank(v: &Val) -> u8 {
    match v {
        Val::Bool(true) => 2,
        Val::Bool(false) => 1,
        _ => 0,
    }
}

/// The greatest of `rank_of` over `items`, or `without` when there are none (the reference
/// evaluates a span without events or links once, with none).
fn greatest<T>(items: &[T], without: u8, rank_of: impl FnMut(&T) -> Result<u8>) -> Result<u8> {
    if items.is_empty() {
        return Ok(without);
    }
    items
        .iter()
        .map(rank_of)
        .try_fold(0, |best, r| Ok(best.max(r?)))
}

impl ReferenceCondition {
    /// The rank of the condition for the stand-in span of `trace` with `event` and `link`.
    fn rank(
        &self,
        trace: &TraceView,
        event: Option<&Event>,
        link: Option<&Link>,
        regexes: &mut Regexes,
    ) -> Result<u8> {
        let ctx = SpanContext {
            trace,
            index: 0,
            event,
            link,
        };
        let value = eval(&self.expr, &ctx, regexes)
            .map_err(|e| exec_datafusion_err!("{}: {e}", self.name()))?;
        Ok(rank(&value))
    }
}

impl ScalarUDFImpl for ReferenceCondition {
    fn name(&self) -> &str {
        match self.reads {
            Reads::Events => "event_condition",
            Reads::Links => "link_condition",
            Reads::Attribute { .. } => "attribute_condition",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [list] = args.args.as_slice() else {
            return exec_err!("{} takes one list", self.name());
        };
        let list = list.to_array(args.number_rows)?;
        let Some(list) = list.as_list_opt::<i32>() else {
            return exec_err!("{} reads a list column", self.name());
        };
        // The fields read belong to the event, link or attribute: the span is a stand-in
        // starting at 0, so that an event's time since the span's start is its stored time.
        let mut trace = TraceView::new(Trace {
            trace_id: [0; 16],
            spans: vec![Span::default()],
        });
        let mut regexes = Regexes::default();
        let decoding = |e: String| exec_datafusion_err!("{}: {e}", self.name());
        // The rank for a span with no event, link or value of the key: the same for them all.
        let without = self.rank(&trace, None, None, &mut regexes)?;
        let mut ranks = Vec::with_capacity(list.len());
        match &self.reads {
            Reads::Events => {
                let column = EventColumn::new(list).map_err(decoding)?;
                for row in 0..list.len() {
                    let events = column.events(row, 0).map_err(decoding)?;
                    ranks.push(greatest(&events, without, |e| {
                        self.rank(&trace, Some(e), None, &mut regexes)
                    })?);
                }
            }
            Reads::Links => {
                let column = LinkColumn::new(list).map_err(decoding)?;
                for row in 0..list.len() {
                    let links = column.links(row).map_err(decoding)?;
                    ranks.push(greatest(&links, without, |l| {
                        self.rank(&trace, None, Some(l), &mut regexes)
                    })?);
                }
            }
            Reads::Attribute { list: scope, key } => {
                let column = AttributeColumn::new(list).map_err(decoding)?;
                for row in 0..list.len() {
                    let Some(value) = column.first(row, key).map_err(decoding)? else {
                        ranks.push(without);
                        continue;
                    };
                    let span = &mut trace.spans[0];
                    match *scope {
                        col::RESOURCE_ATTRS => {
                            span.resource = Arc::new(Resource {
                                attributes: vec![value],
                                ..Resource::default()
                            })
                        }
                        _ => span.attributes = vec![value],
                    }
                    ranks.push(self.rank(&trace, None, None, &mut regexes)?);
                }
            }
        }
        let values: BooleanArray = (ranks.into_iter())
            .map(|r| (r > 0).then_some(r == 2))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(values)))
    }
}

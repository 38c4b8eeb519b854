//! Field expressions evaluated for one span (spec section 7.2).

use std::collections::HashMap;

use regex::Regex;
use traceql_syntax::ast::{BinaryOp, FieldExpr, FieldExprKind, Intrinsic, Scope, Static, UnaryOp};
use traceql_syntax::fold::anchored_pattern;

use super::trace::{SpanContext, TraceView};
use crate::error::ExecError;
use crate::value::{Val, arithmetic, compare};

/// Compiled regular expressions, by pattern.
#[derive(Default)]
pub struct Regexes {
    compiled: HashMap<String, Regex>,
}

impl Regexes {
    fn get(&mut self, pattern: &str) -> Result<&Regex, ExecError> {
        if !self.compiled.contains_key(pattern) {
            let re = Regex::new(&anchored_pattern(pattern))
                .map_err(|e| ExecError::new(format!("invalid regex: {e}")))?;
            self.compiled.insert(pattern.to_string(), re);
        }
        self.compiled
            .get(pattern)
            .ok_or_else(|| ExecError::new("regex cache"))
    }
}

/// What parts of a span an expression reads.
#[derive(Default, Clone, Copy)]
struct Reads {
    events: bool,
    links: bool,
}

fn reads(expr: &FieldExpr) -> Reads {
    let mut r = Reads::default();
    expr.visit_fields(&mut |f| match f {
        traceql_syntax::ast::Field::Attribute(a) => match a.scope {
            Scope::Event => r.events = true,
            Scope::Link => r.links = true,
            _ => {}
        },
        traceql_syntax::ast::Field::Intrinsic(i) => match i {
            Intrinsic::EventName | Intrinsic::EventTimeSinceStart => r.events = true,
            Intrinsic::LinkTraceId | Intrinsic::LinkSpanId => r.links = true,
            _ => {}
        },
    });
    r
}

/// True when `expr` is `true` for span `index`: for expressions reading events (links), when
/// it is true for at least one of the span's events (links).
pub fn holds(
    expr: &FieldExpr,
    trace: &TraceView,
    index: usize,
    regexes: &mut Regexes,
) -> Result<bool, ExecError> {
    let r = reads(expr);
    let span = &trace.spans[index];
    let events: Vec<Option<&_>> = if r.events && !span.events.is_empty() {
        span.events.iter().map(Some).collect()
    } else {
        vec![None]
    };
    let links: Vec<Option<&_>> = if r.links && !span.links.is_empty() {
        span.links.iter().map(Some).collect()
    } else {
        vec![None]
    };
    for event in &events {
        for link in &links {
            let ctx = SpanContext {
                trace,
                index,
                event: *event,
                link: *link,
            };
            if eval(expr, &ctx, regexes)? == Val::Bool(true) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The value of `expr` for one span context.
pub fn eval(
    expr: &FieldExpr,
    ctx: &SpanContext<'_>,
    regexes: &mut Regexes,
) -> Result<Val, ExecError> {
    match &expr.kind {
        FieldExprKind::Static(s) => Ok(Val::from_static(s)),
        FieldExprKind::Attribute(a) => Ok(ctx.attribute(a)),
        FieldExprKind::Intrinsic(i) => Ok(ctx.intrinsic(*i)),
        FieldExprKind::Unary { op, expr } => {
            // `!x` and `-x` on a missing or wrong-typed value are no match (spec section 10).
            Ok(match (op, eval(expr, ctx, regexes)?) {
                (UnaryOp::Not, Val::Bool(b)) => Val::Bool(!b),
                (UnaryOp::Neg, Val::Int(v)) => Val::Int(v.wrapping_neg()),
                (UnaryOp::Neg, Val::Duration(v)) => Val::Duration(v.wrapping_neg()),
                (UnaryOp::Neg, Val::Float(v)) => Val::Float(-v),
                _ => Val::Nil,
            })
        }
        FieldExprKind::Binary { op, lhs, rhs } => binary(*op, lhs, rhs, ctx, regexes),
    }
}

fn binary(
    op: BinaryOp,
    lhs: &FieldExpr,
    rhs: &FieldExpr,
    ctx: &SpanContext<'_>,
    regexes: &mut Regexes,
) -> Result<Val, ExecError> {
    // Existence: `x = nil` is absence, `x != nil` presence.
    let nil = |e: &FieldExpr| e.as_static() == Some(&Static::Nil);
    if matches!(op, BinaryOp::Eq | BinaryOp::Neq) && (nil(lhs) || nil(rhs)) {
        let other = if nil(lhs) { rhs } else { lhs };
        if nil(other) {
            return Ok(Val::Bool(false));
        }
        let present = eval(other, ctx, regexes)? != Val::Nil;
        return Ok(Val::Bool(present == (op == BinaryOp::Neq)));
    }
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let l = eval(lhs, ctx, regexes)?;
            // Short circuit: `false && x` and `true || x` never evaluate x.
            match (op, &l) {
                (BinaryOp::And, Val::Bool(false)) => return Ok(Val::Bool(false)),
                (BinaryOp::Or, Val::Bool(true)) => return Ok(Val::Bool(true)),
                _ => {}
            }
            let r = eval(rhs, ctx, regexes)?;
            Ok(match (l, r) {
                (Val::Bool(a), Val::Bool(b)) => {
                    Val::Bool(if op == BinaryOp::And { a && b } else { a || b })
                }
                _ => Val::Bool(false),
            })
        }
        _ if op.is_arithmetic() => {
            arithmetic(op, &eval(lhs, ctx, regexes)?, &eval(rhs, ctx, regexes)?)
        }
        _ => {
            let l = eval(lhs, ctx, regexes)?;
            let r = eval(rhs, ctx, regexes)?;
            let regex = match (op, rhs.as_static()) {
                (BinaryOp::Regex | BinaryOp::NotRegex, Some(Static::String(p))) => {
                    Some(regexes.get(p)?)
                }
                _ => None,
            };
            Ok(Val::Bool(compare(op, &l, &r, regex)?))
        }
    }
}

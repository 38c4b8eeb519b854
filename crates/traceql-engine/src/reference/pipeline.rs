//! Spanset pipelines over one trace (spec sections 7.6–7.11).

use traceql_storage::nested_set::Position;
use traceql_syntax::ast::{
    Aggregate, AggregateOp, ComparisonOp, Pipeline, ScalarExpr, ScalarFilter, SpansetExpr,
    SpansetOp, Stage,
};

use super::expr::{Regexes, eval, holds};
use super::trace::TraceView;
use crate::error::ExecError;
use crate::value::{Val, equals};

/// A set of spans of one trace, with the attributes pipeline stages attached to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanset {
    /// Span indexes into the trace, in result order.
    pub spans: Vec<usize>,
    /// `by(…)` values and aggregate values, in the order stages added them.
    pub attributes: Vec<(String, Val)>,
}

impl Spanset {
    /// Every span of the trace.
    pub fn whole(trace: &TraceView) -> Spanset {
        Spanset {
            spans: (0..trace.spans.len()).collect(),
            attributes: Vec::new(),
        }
    }
}

/// Runs `pipeline` on `input`; an empty result means the trace is dropped.
pub fn run(
    pipeline: &Pipeline,
    trace: &TraceView,
    input: Vec<Spanset>,
    regexes: &mut Regexes,
) -> Result<Vec<Spanset>, ExecError> {
    let mut current = input;
    for stage in &pipeline.stages {
        if current.is_empty() {
            break;
        }
        current = match stage {
            Stage::Coalesce => {
                let mut merged = Spanset {
                    spans: Vec::new(),
                    attributes: Vec::new(),
                };
                for ss in current {
                    for s in ss.spans {
                        if !merged.spans.contains(&s) {
                            merged.spans.push(s);
                        }
                    }
                }
                vec![merged]
            }
            Stage::Select { .. } => current,
            _ => {
                let mut out = Vec::new();
                for ss in &current {
                    out.extend(run_stage(stage, trace, ss, regexes)?);
                }
                out
            }
        };
    }
    Ok(current)
}

fn run_stage(
    stage: &Stage,
    trace: &TraceView,
    input: &Spanset,
    regexes: &mut Regexes,
) -> Result<Vec<Spanset>, ExecError> {
    match stage {
        Stage::Spanset(e) => spanset_expr(e, trace, input, regexes),
        Stage::ScalarFilter(f) => scalar_filter(f, trace, input, regexes),
        Stage::By(g) => {
            let mut groups: Vec<(String, Val, Vec<usize>)> = Vec::new();
            for &i in &input.spans {
                let v = eval(&g.expr, &trace.context(i), regexes)?;
                let key = format!("{v:?}");
                match groups.iter_mut().find(|(k, _, _)| *k == key) {
                    Some((_, _, spans)) => spans.push(i),
                    None => groups.push((key, v, vec![i])),
                }
            }
            let name = g.to_string();
            Ok(groups
                .into_iter()
                .map(|(_, v, spans)| {
                    let mut attributes = input.attributes.clone();
                    attributes.push((name.clone(), v));
                    Spanset { spans, attributes }
                })
                .collect())
        }
        Stage::Select { .. } | Stage::Coalesce => Ok(vec![input.clone()]),
    }
}

fn spanset_expr(
    e: &SpansetExpr,
    trace: &TraceView,
    input: &Spanset,
    regexes: &mut Regexes,
) -> Result<Vec<Spanset>, ExecError> {
    match e {
        SpansetExpr::Filter(f) => {
            let mut spans = Vec::new();
            for &i in &input.spans {
                if holds(&f.expr, trace, i, regexes)? {
                    spans.push(i);
                }
            }
            Ok(if spans.is_empty() {
                vec![]
            } else {
                vec![Spanset {
                    spans,
                    attributes: input.attributes.clone(),
                }]
            })
        }
        SpansetExpr::Pipeline(p) => run(p, trace, vec![input.clone()], regexes),
        SpansetExpr::Op { op, lhs, rhs } => {
            let l = spanset_expr(lhs, trace, input, regexes)?;
            let r = spanset_expr(rhs, trace, input, regexes)?;
            let spans = if op.is_logical() {
                logical(*op, &l, &r)
            } else {
                if l.len() > 1 || r.len() > 1 {
                    return Err(ExecError::new(
                        "spanset operators are not supported for multiple spansets per trace. consider using coalesce()",
                    ));
                }
                let empty = Vec::new();
                let ls = l.first().map_or(&empty, |s| &s.spans);
                let rs = r.first().map_or(&empty, |s| &s.spans);
                structural(*op, &trace.positions, ls, rs)
            };
            Ok(if spans.is_empty() {
                vec![]
            } else {
                vec![Spanset {
                    spans,
                    attributes: input.attributes.clone(),
                }]
            })
        }
    }
}

/// `&&` needs both sides, `||` either; both return the union, the side with fewer spans first
/// (the right side on ties).
fn logical(op: SpansetOp, l: &[Spanset], r: &[Spanset]) -> Vec<usize> {
    let flatten = |sets: &[Spanset]| union(sets.iter().flat_map(|ss| ss.spans.iter().copied()));
    let (l, r) = (flatten(l), flatten(r));
    let ok = match op {
        SpansetOp::And => !l.is_empty() && !r.is_empty(),
        _ => !l.is_empty() || !r.is_empty(),
    };
    if !ok {
        return Vec::new();
    }
    let (first, second) = if l.len() < r.len() { (l, r) } else { (r, l) };
    union(first.into_iter().chain(second))
}

/// The spans in order of first appearance, each once.
fn union(spans: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for s in spans {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Does `a` (from the left side) relate to `b` (from the right) by `op`'s positive relation?
fn related(op: SpansetOp, p: &[Position], a: usize, b: usize) -> bool {
    let (pa, pb) = (p[a], p[b]);
    if !pa.is_known() || !pb.is_known() {
        return false;
    }
    use SpansetOp::*;
    match op {
        Child | NotChild | UnionChild => pb.parent_left == pa.left,
        Parent | NotParent | UnionParent => pa.parent_left == pb.left,
        Descendant | NotDescendant | UnionDescendant => pa.left < pb.left && pb.right < pa.right,
        Ancestor | NotAncestor | UnionAncestor => pb.left < pa.left && pa.right < pb.right,
        Sibling | NotSibling | UnionSibling => a != b && pa.parent_left == pb.parent_left,
        And | Or => false,
    }
}

/// Structural operators: the right spans with a partner (plain), without one (negated), or
/// both sides' spans that take part in a pair (union).
fn structural(op: SpansetOp, p: &[Position], l: &[usize], r: &[usize]) -> Vec<usize> {
    use SpansetOp::*;
    match op {
        Child | Parent | Descendant | Ancestor | Sibling => r
            .iter()
            .copied()
            .filter(|&b| l.iter().any(|&a| related(op, p, a, b)))
            .collect(),
        NotChild | NotParent | NotDescendant | NotAncestor | NotSibling => r
            .iter()
            .copied()
            .filter(|&b| !l.iter().any(|&a| related(op, p, a, b)))
            .collect(),
        _ => {
            let mut out: Vec<usize> = l
                .iter()
                .copied()
                .filter(|&a| r.iter().any(|&b| related(op, p, a, b)))
                .collect();
            for &b in r {
                if !out.contains(&b) && l.iter().any(|&a| related(op, p, a, b)) {
                    out.push(b);
                }
            }
            out
        }
    }
}

/// `aggregate op literal`; other forms are rejected by validation before running.
fn scalar_filter(
    f: &ScalarFilter,
    trace: &TraceView,
    input: &Spanset,
    regexes: &mut Regexes,
) -> Result<Vec<Spanset>, ExecError> {
    let (ScalarExpr::Aggregate(agg), ScalarExpr::Literal(literal)) = (&f.lhs, &f.rhs) else {
        return Err(ExecError::new(format!(
            "scalar filter `{f}` is not yet supported"
        )));
    };
    let Some(value) = aggregate(agg, trace, input, regexes)? else {
        return Ok(vec![]);
    };
    let literal = Val::from_static(literal);
    let keep = match f.op {
        ComparisonOp::Eq => equals(&value, &literal).unwrap_or(false),
        ComparisonOp::Neq => equals(&value, &literal).map(|e| !e).unwrap_or(false),
        op => match (value.as_f64(), literal.as_f64()) {
            (Some(a), Some(b)) => match op {
                ComparisonOp::Lt => a < b,
                ComparisonOp::Lte => a <= b,
                ComparisonOp::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    };
    if !keep {
        return Ok(vec![]);
    }
    let mut out = input.clone();
    out.attributes.push((agg.to_string(), value));
    Ok(vec![out])
}

/// The aggregate over a spanset; `None` when no span has a value (the spanset is dropped).
pub fn aggregate(
    agg: &Aggregate,
    trace: &TraceView,
    input: &Spanset,
    regexes: &mut Regexes,
) -> Result<Option<Val>, ExecError> {
    let Some(expr) = &agg.expr else {
        return Ok(Some(Val::Int(input.spans.len() as i64)));
    };
    let mut values = Vec::with_capacity(input.spans.len());
    for &i in &input.spans {
        values.push(eval(expr, &trace.context(i), regexes)?);
    }
    let present: Vec<&Val> = values.iter().filter(|v| **v != Val::Nil).collect();
    Ok(match agg.op {
        AggregateOp::Count => Some(Val::Int(input.spans.len() as i64)),
        AggregateOp::Sum => sum(&present),
        AggregateOp::Avg => sum(&present).map(|total| {
            let n = present.len() as i64;
            match total {
                Val::Int(t) => Val::Float(t as f64 / n as f64),
                Val::Duration(t) => Val::Duration(t / n),
                Val::Float(t) => Val::Float(t / n as f64),
                other => other,
            }
        }),
        AggregateOp::Min | AggregateOp::Max => {
            let mut best: Option<&Val> = None;
            for v in present.iter().copied().filter(|v| v.as_f64().is_some()) {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let (x, y) = (
                            v.as_f64().unwrap_or(f64::NAN),
                            b.as_f64().unwrap_or(f64::NAN),
                        );
                        if agg.op == AggregateOp::Min {
                            x < y
                        } else {
                            x > y
                        }
                    }
                };
                if better {
                    best = Some(v);
                }
            }
            best.cloned()
        }
    })
}

/// The sum keeps the first numeric value's type and skips values of any other type.
fn sum(values: &[&Val]) -> Option<Val> {
    let mut total: Option<Val> = None;
    for v in values {
        total = match (total, v) {
            (None, Val::Int(_) | Val::Float(_) | Val::Duration(_)) => Some((*v).clone()),
            (Some(Val::Int(a)), Val::Int(b)) => Some(Val::Int(a.wrapping_add(*b))),
            (Some(Val::Duration(a)), Val::Duration(b)) => Some(Val::Duration(a.wrapping_add(*b))),
            (Some(Val::Float(a)), Val::Float(b)) => Some(Val::Float(a + b)),
            (t, _) => t,
        };
    }
    total
}

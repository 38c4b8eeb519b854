//! A spanset filter's condition as a DataFusion boolean expression over one block's columns,
//! with the reference evaluator's semantics: comparisons of mismatched types or with a missing
//! value are false, `&&` and `||` of a non-boolean operand are false (after short-circuiting),
//! `!` of a non-boolean is no match.
//!
//! Lowered expressions are three-valued: `true`, `false`, or null for "not a boolean" (what the
//! reference calls nil); a span matches where the expression is `true`.

use std::ops::Not;

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::expr_fn::regexp_like;
use datafusion::functions_nested::expr_fn::cardinality;
use datafusion::logical_expr::{BinaryExpr, Operator};
use datafusion::prelude::{Expr, cast, coalesce, ident, lit, when};
use traceql_storage::meta::BlockMeta;
use traceql_syntax::ast::{
    BinaryOp, Field, FieldExpr, FieldExprKind, Kind, Static, Status, UnaryOp,
};

use super::fields::{
    Source, Ty, generic_only, generic_with_arrays, nested_list, non_empty_equality_column, resolve,
    unscoped,
};
use super::generic_attribute::{Read, generic_attribute};
use super::reference_condition::{generic_condition, nested_condition, nested_subexpression};
use traceql_syntax::fold::anchored_pattern;

/// `expr` lowered for the block `meta` describes; `None` when the columnar path cannot
/// evaluate it exactly (a field it cannot read, arithmetic, field-to-field comparisons).
pub fn lower_condition(expr: &FieldExpr, meta: &BlockMeta) -> Option<Expr> {
    lower(expr, &Lowering::of(expr, meta)).map(|l| l.expr)
}

/// What lowering one condition works with.
struct Lowering<'a> {
    /// The block.
    meta: &'a BlockMeta,
    /// The condition's subexpression reading events or links that a scan evaluates exactly
    /// (see [`nested_subexpression`]), with the list column it reads.
    nested: Option<(&'a FieldExpr, &'static str)>,
}

impl<'a> Lowering<'a> {
    /// The lowering of `condition` (the whole of it) in the block `meta` describes.
    fn of(condition: &'a FieldExpr, meta: &'a BlockMeta) -> Self {
        Lowering {
            meta,
            nested: nested_subexpression(condition),
        }
    }
}

/// `condition` as a filter's predicate. A filter drops the rows where its predicate is null
/// as those where it is false, so within `&&` and `||` a `coalesce(x, false)` (which keeps a
/// lowered comparison from being null, and which DataFusion plans as `x IS NOT NULL AND x`,
/// evaluating `x` twice) keeps the same rows as `x`. Not below `!`, where null and false part.
pub fn as_filter(condition: Expr) -> Expr {
    match condition {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::And | Operator::Or) =>
        {
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(as_filter(*left)),
                op,
                Box::new(as_filter(*right)),
            ))
        }
        Expr::ScalarFunction(f)
            if f.name() == "coalesce" && f.args.len() == 2 && f.args[1] == lit(false) =>
        {
            as_filter(f.args[0].clone())
        }
        other => other,
    }
}

/// A condition that holds for every span `expr` holds for (and perhaps for others), for the
/// block `meta` describes: `expr` lowered exactly where it can be, and loosened where it
/// cannot. A comparison of an event (link) field with a literal other than nil holds only
/// for a span with events (links): a span without reads nil there, and nil compares false.
/// `None` when no condition narrower than `true` is known.
pub fn lower_candidate_condition(expr: &FieldExpr, meta: &BlockMeta) -> Option<Expr> {
    candidate(expr, &Lowering::of(expr, meta))
}

/// [`lower_candidate_condition`] of a part `expr` of the condition `cx` lowers.
fn candidate(expr: &FieldExpr, cx: &Lowering) -> Option<Expr> {
    if let Some(exact) = lower(expr, cx) {
        return Some(exact.or_false());
    }
    let FieldExprKind::Binary { op, lhs, rhs } = &expr.kind else {
        return None;
    };
    match op {
        BinaryOp::And => match (candidate(lhs, cx), candidate(rhs, cx)) {
            (Some(l), Some(r)) => Some(l.and(r)),
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        },
        BinaryOp::Or => Some(candidate(lhs, cx)?.or(candidate(rhs, cx)?)),
        BinaryOp::Eq
        | BinaryOp::Lt
        | BinaryOp::Lte
        | BinaryOp::Gt
        | BinaryOp::Gte
        | BinaryOp::Regex => {
            let literal = |e: &FieldExpr| e.as_static().is_some_and(|v| *v != Static::Nil);
            let field = match (literal(lhs), literal(rhs)) {
                (false, true) => lhs,
                (true, false) => rhs,
                _ => return None,
            };
            let list = nested_list(&field_of(field)?)?;
            Some(cardinality(ident(list)).gt(lit(0u64)))
        }
        _ => None,
    }
}

/// A lowered condition, and whether it can be null (not a boolean) for some span. Knowing
/// that one cannot keeps `&&` and `||` from guarding it again: each guard is rewritten by
/// DataFusion into `x IS NOT NULL AND x`, which doubles `x` at every level of nesting.
struct Lowered {
    expr: Expr,
    nullable: bool,
}

impl Lowered {
    /// A condition that is always true or false.
    fn definite(expr: Expr) -> Lowered {
        Lowered {
            expr,
            nullable: false,
        }
    }

    /// A condition that may be null.
    fn nullable(expr: Expr) -> Lowered {
        Lowered {
            expr,
            nullable: true,
        }
    }

    /// The condition with null read as false.
    fn or_false(self) -> Expr {
        match self.nullable {
            true => coalesce(vec![self.expr, lit(false)]),
            false => self.expr,
        }
    }
}

fn lower(expr: &FieldExpr, cx: &Lowering) -> Option<Lowered> {
    if let Some((nested, list)) = cx.nested
        && std::ptr::eq(expr, nested)
    {
        return Some(Lowered::nullable(nested_condition(list, expr)));
    }
    let meta = cx.meta;
    if let Some((list, key)) = array_comparison(expr, meta) {
        return Some(Lowered::nullable(generic_condition(list, key, expr)));
    }
    match &expr.kind {
        FieldExprKind::Static(Static::Bool(b)) => Some(Lowered::definite(lit(*b))),
        FieldExprKind::Static(_) => Some(Lowered::nullable(not_a_bool())),
        FieldExprKind::Intrinsic(i) => bool_field(&Field::Intrinsic(*i), meta),
        FieldExprKind::Attribute(a) => bool_field(&Field::Attribute(a.clone()), meta),
        FieldExprKind::Unary {
            op: UnaryOp::Not,
            expr,
        } => {
            let inner = lower(expr, cx)?;
            Some(Lowered {
                expr: inner.expr.not(),
                nullable: inner.nullable,
            })
        }
        FieldExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => None,
        FieldExprKind::Binary { op, lhs, rhs } => binary(*op, lhs, rhs, cx),
    }
}

/// The generic list column and key of the attribute `expr` compares with a literal, when the
/// block `meta` keeps it only in that list and some of its values there are arrays.
fn array_comparison<'a>(expr: &'a FieldExpr, meta: &BlockMeta) -> Option<(&'static str, &'a str)> {
    let FieldExprKind::Binary { op, lhs, rhs } = &expr.kind else {
        return None;
    };
    if !is_comparison(*op) {
        return None;
    }
    let attribute = match (&lhs.kind, &rhs.kind) {
        (FieldExprKind::Attribute(a), FieldExprKind::Static(_))
        | (FieldExprKind::Static(_), FieldExprKind::Attribute(a)) => a,
        _ => return None,
    };
    let (list, _) = generic_with_arrays(&Field::Attribute(attribute.clone()), meta)?;
    Some((list, attribute.name.as_str()))
}

fn not_a_bool() -> Expr {
    cast(
        lit(datafusion::scalar::ScalarValue::Null),
        DataType::Boolean,
    )
}

/// A field used as a condition: its value when it is a boolean, else not a boolean.
fn bool_field(field: &Field, meta: &BlockMeta) -> Option<Lowered> {
    Some(Lowered::nullable(match resolve(field, meta)? {
        Source::Column { expr, ty: Ty::Bool } => expr,
        _ => not_a_bool(),
    }))
}

fn binary(op: BinaryOp, lhs: &FieldExpr, rhs: &FieldExpr, cx: &Lowering) -> Option<Lowered> {
    let meta = cx.meta;
    let nil = |e: &FieldExpr| e.as_static() == Some(&Static::Nil);
    if matches!(op, BinaryOp::Eq | BinaryOp::Neq) && (nil(lhs) || nil(rhs)) {
        let other = if nil(lhs) { rhs } else { lhs };
        if nil(other) {
            return Some(Lowered::definite(lit(false)));
        }
        let present = match &other.kind {
            FieldExprKind::Intrinsic(i) => present(&Field::Intrinsic(*i), meta)?,
            FieldExprKind::Attribute(a) => present(&Field::Attribute(a.clone()), meta)?,
            FieldExprKind::Static(_) => lit(true),
            _ => return None,
        };
        return Some(Lowered::definite(if op == BinaryOp::Neq {
            present
        } else {
            present.not()
        }));
    }
    match op {
        BinaryOp::And => {
            let (l, r) = (lower(lhs, cx)?, lower(rhs, cx)?);
            Some(Lowered::definite(l.or_false().and(r.or_false())))
        }
        BinaryOp::Or => {
            let (l, r) = (lower(lhs, cx)?, lower(rhs, cx)?);
            // `x || y` with a non-boolean `x` is false, even when `y` holds.
            let expr = match l.nullable {
                true => when(l.expr.clone().is_null(), lit(false))
                    .otherwise(l.expr.or(r.or_false()))
                    .ok()?,
                false => l.expr.or(r.or_false()),
            };
            Some(Lowered::definite(expr))
        }
        _ if op.is_arithmetic() => None,
        _ => compare(op, lhs, rhs, meta).map(Lowered::definite),
    }
}

/// `field = nil` is absence, `field != nil` presence.
fn present(field: &Field, meta: &BlockMeta) -> Option<Expr> {
    let Some(source) = resolve(field, meta) else {
        if let Some((span, resource)) = unscoped(field) {
            return Some(present(&span, meta)?.or(present(&resource, meta)?));
        }
        let (list, key) = generic_only(field, meta)?;
        return Some(generic_attribute(Read::Present, list, key));
    };
    Some(match source {
        Source::Column { expr, .. } => expr.is_not_null(),
        Source::Missing => lit(false),
    })
}

/// `field op value` for an attribute kept only in its scope's generic list: the comparison
/// as each type the span's first entry with the key may have (at most one holds).
fn generic_compare(op: BinaryOp, field: &Field, value: &Static, meta: &BlockMeta) -> Option<Expr> {
    let (list, key) = generic_only(field, meta)?;
    let reads = [
        (Read::Str, Ty::Str),
        (Read::Int, Ty::Int),
        (Read::Double, Ty::Float),
        (Read::Bool, Ty::Bool),
    ];
    let mut parts = Vec::new();
    for (read, ty) in reads {
        let compared = typed_compare(op, generic_attribute(read, list, key), ty, value)?;
        // A type the literal never compares with holds for no span.
        if compared != lit(false) {
            parts.push(coalesce(vec![compared, lit(false)]));
        }
    }
    Some(
        parts
            .into_iter()
            .reduce(Expr::or)
            .unwrap_or_else(|| lit(false)),
    )
}

/// A comparison of a field with a literal (either side); always true or false.
fn compare(op: BinaryOp, lhs: &FieldExpr, rhs: &FieldExpr, meta: &BlockMeta) -> Option<Expr> {
    let (field, value, op) = match (
        field_of(lhs),
        rhs.as_static(),
        field_of(rhs),
        lhs.as_static(),
    ) {
        (Some(f), Some(v), _, _) => (f, v, op),
        (_, _, Some(f), Some(v)) => (f, v, flipped(op)?),
        _ => return None,
    };
    field_compare(op, &field, value, meta)
}

/// The field `e` reads, when it is a bare intrinsic or attribute.
fn field_of(e: &FieldExpr) -> Option<Field> {
    match &e.kind {
        FieldExprKind::Intrinsic(i) => Some(Field::Intrinsic(*i)),
        FieldExprKind::Attribute(a) => Some(Field::Attribute(a.clone())),
        _ => None,
    }
}

/// `field op value`, where `field` may be an attribute kept in a generic list, or unscoped.
fn field_compare(op: BinaryOp, field: &Field, value: &Static, meta: &BlockMeta) -> Option<Expr> {
    let Some(source) = resolve(field, meta) else {
        if let Some((span, resource)) = unscoped(field) {
            // The span's value where the span has the key (whatever it is), else the
            // resource's.
            return when(
                present(&span, meta)?,
                field_compare(op, &span, value, meta)?,
            )
            .otherwise(field_compare(op, &resource, value, meta)?)
            .ok();
        }
        return generic_compare(op, field, value, meta);
    };
    let Source::Column { expr, ty } = source else {
        return Some(lit(false));
    };
    // The caller reads null as false, so the bare column serves where it holds for the same rows.
    let expr = match value {
        Static::String(s) if op == BinaryOp::Eq && !s.is_empty() => {
            non_empty_equality_column(field).unwrap_or(expr)
        }
        _ => expr,
    };
    let typed = typed_compare(op, expr, ty, value)?;
    Some(coalesce(vec![typed, lit(false)]))
}

/// `a op b` as `b op' a`; regular-expression matches have no mirror.
fn flipped(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        BinaryOp::Eq | BinaryOp::Neq => op,
        _ => return None,
    })
}

/// `column op literal` for a column of type `ty`: false for mismatched types, as the
/// reference's `scalar_compare`.
fn typed_compare(op: BinaryOp, column: Expr, ty: Ty, value: &Static) -> Option<Expr> {
    let ordered = |column: Expr, literal: Expr| -> Option<Expr> {
        Some(match op {
            BinaryOp::Eq => column.eq(literal),
            BinaryOp::Neq => column.not_eq(literal),
            BinaryOp::Lt => column.lt(literal),
            BinaryOp::Lte => column.lt_eq(literal),
            BinaryOp::Gt => column.gt(literal),
            BinaryOp::Gte => column.gt_eq(literal),
            BinaryOp::Regex | BinaryOp::NotRegex => lit(false),
            _ => return None,
        })
    };
    // A comparison that cannot hold for these types is false.
    let mismatch = || is_comparison(op).then(|| lit(false));
    let equality = |column: Expr, literal: Expr| -> Option<Expr> {
        match op {
            BinaryOp::Eq => Some(column.eq(literal)),
            BinaryOp::Neq => Some(column.not_eq(literal)),
            _ => mismatch(),
        }
    };
    match (ty, value) {
        (Ty::Int | Ty::Duration, Static::Int(v) | Static::Duration(v)) => ordered(column, lit(*v)),
        (Ty::Int | Ty::Duration, Static::Float(v)) => {
            ordered(cast(column, DataType::Float64), lit(*v))
        }
        (Ty::Float, Static::Int(v) | Static::Duration(v)) => ordered(column, lit(*v as f64)),
        (Ty::Float, Static::Float(v)) => ordered(column, lit(*v)),
        (Ty::Str, Static::String(s)) => match op {
            BinaryOp::Regex | BinaryOp::NotRegex => {
                let matched = regexp_like(column, lit(anchored_pattern(s)), None);
                Some(if op == BinaryOp::Regex {
                    matched
                } else {
                    matched.not()
                })
            }
            _ => ordered(column, lit(s.as_str())),
        },
        (Ty::Bool, Static::Bool(b)) => equality(column, lit(*b)),
        (Ty::Status, Static::Status(s)) => equality(column, lit(status_code(*s))),
        (Ty::Kind, Static::Kind(k)) => equality(column, lit(kind_code(*k))),
        // A value of any type compares as its type: not a single comparison.
        (Ty::Any, _) => None,
        _ => mismatch(),
    }
}

/// The comparison operators (`= != < <= > >= =~ !~`).
fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eq
            | BinaryOp::Neq
            | BinaryOp::Lt
            | BinaryOp::Lte
            | BinaryOp::Gt
            | BinaryOp::Gte
            | BinaryOp::Regex
            | BinaryOp::NotRegex
    )
}

/// The stored OTLP code of a status.
fn status_code(s: Status) -> i8 {
    match s {
        Status::Unset => 0,
        Status::Ok => 1,
        Status::Error => 2,
    }
}

/// The stored OTLP code of a span kind.
fn kind_code(k: Kind) -> i8 {
    match k {
        Kind::Unspecified => 0,
        Kind::Internal => 1,
        Kind::Server => 2,
        Kind::Client => 3,
        Kind::Producer => 4,
        Kind::Consumer => 5,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::col;

    use super::*;

    #[test]
    fn a_filter_reads_coalesce_to_false_as_its_argument_within_and_and_or_only() {
        let guarded = |c: &str| coalesce(vec![col(c).eq(lit(1)), lit(false)]);
        let plain = |c: &str| col(c).eq(lit(1));
        assert_eq!(
            as_filter(guarded("a").and(guarded("b").or(guarded("c")))),
            plain("a").and(plain("b").or(plain("c")))
        );
        // Below `!` a null and a false differ: `!x` keeps the guard.
        let negated = guarded("a").not();
        assert_eq!(as_filter(negated.clone()), negated);
        // A coalesce to another value is not a guard.
        let other = coalesce(vec![col("a").eq(lit(1)), lit(true)]);
        assert_eq!(as_filter(other.clone()), other);
    }
}

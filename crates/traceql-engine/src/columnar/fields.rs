//! Where a field's values live in one block, as a DataFusion expression, and their type.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int8Type, Int32Type, Int64Type};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::prelude::{Expr, cast, coalesce, ident, lit, when};
use datafusion::scalar::ScalarValue;
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::{SpanKind, StatusCode};
use traceql_storage::schema::{DedicatedColumn, DedicatedScope, ScalarType, col};
use traceql_syntax::ast::{Attribute, Field, Intrinsic, Scope};

use super::generic_attribute::{
    ANY_BOOL, ANY_DOUBLE, ANY_INT, ANY_STR, Read, any_type, generic_attribute,
};
use crate::reference::{kind, status};
use crate::value::Val;

/// The TraceQL type of a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Int64.
    Int,
    /// Int64 nanoseconds.
    Duration,
    /// Float64.
    Float,
    /// Utf8.
    Str,
    /// Boolean.
    Bool,
    /// Int8 status code.
    Status,
    /// Int8 span kind code.
    Kind,
    /// A generic attribute's value, whatever its scalar type: a struct with one child per type
    /// (see [`Read::Any`]).
    Any,
}

/// A field's values in one block.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Read by `expr` (null where the span has no value), of type `ty`.
    Column {
        /// The values.
        expr: Expr,
        /// Their type.
        ty: Ty,
    },
    /// No span of the block has this field: always nil.
    Missing,
}

/// How `field` reads in the block `meta` describes; `None` when the columnar path cannot read
/// it exactly there (events, links, structure, generic attribute lists, …).
pub fn resolve(field: &Field, meta: &BlockMeta) -> Option<Source> {
    match field {
        Field::Intrinsic(i) => intrinsic(*i),
        Field::Attribute(a) => attribute(a, meta),
    }
}

/// How `field` reads as a value (a metrics label or measured value): as [`resolve`] has it, or
/// for an attribute kept only in its scope's generic list (see [`generic_only`]), the first
/// entry with its key, of whatever scalar type ([`Ty::Any`]); for `.x` kept in generic lists,
/// the span's value where the span has the key, else the resource's.
pub fn resolve_value(field: &Field, meta: &BlockMeta) -> Option<Source> {
    if let Some(source) = resolve(field, meta) {
        return Some(source);
    }
    if let Some((list, key)) = generic_only(field, meta) {
        return Some(Source::Column {
            expr: generic_attribute(Read::Any, list, key),
            ty: Ty::Any,
        });
    }
    // `.x` with the key in a generic list: the span's value where the span has the key.
    let (span, resource) = unscoped(field)?;
    match (resolve_value(&span, meta)?, resolve_value(&resource, meta)?) {
        (Source::Missing, other) | (other, Source::Missing) => Some(other),
        (
            Source::Column {
                expr: s,
                ty: Ty::Any,
            },
            Source::Column {
                expr: r,
                ty: Ty::Any,
            },
        ) => {
            let (list, key) = generic_only(&span, meta)?;
            Some(Source::Column {
                expr: when(generic_attribute(Read::Present, list, key), s)
                    .otherwise(r)
                    .ok()?,
                ty: Ty::Any,
            })
        }
        _ => None,
    }
}

/// The span and resource forms of `field` when it is an unscoped attribute (`.x`).
pub fn unscoped(field: &Field) -> Option<(Field, Field)> {
    match field {
        Field::Attribute(a) if a.scope == Scope::Unscoped && !a.parent => {
            let scoped = |scope| Field::Attribute(Attribute { scope, ..a.clone() });
            Some((scoped(Scope::Span), scoped(Scope::Resource)))
        }
        _ => None,
    }
}

/// The generic list column and key of `field` when it is a span or resource attribute that
/// the block `meta` describes keeps only in that list (no column of its own), and never as an
/// array there.
pub fn generic_only<'a>(field: &'a Field, meta: &BlockMeta) -> Option<(&'static str, &'a str)> {
    match generic_key(field, meta)? {
        (list, key, false) => Some((list, key)),
        (_, _, true) => None,
    }
}

/// The generic list column and key of `field` when it is a span or resource attribute that
/// the block `meta` describes keeps only in that list (no column of its own), and some of
/// whose values there are arrays (a comparison with one holds for any element).
pub fn generic_with_arrays<'a>(
    field: &'a Field,
    meta: &BlockMeta,
) -> Option<(&'static str, &'a str)> {
    match generic_key(field, meta)? {
        (list, key, true) => Some((list, key)),
        (_, _, false) => None,
    }
}

/// The generic list column and key of `field` when it is a span or resource attribute that
/// the block `meta` describes keeps only in that list, and whether some of its values there
/// are arrays.
fn generic_key<'a>(field: &'a Field, meta: &BlockMeta) -> Option<(&'static str, &'a str, bool)> {
    let Field::Attribute(a) = field else {
        return None;
    };
    let (scope, list) = match a.scope {
        Scope::Span if !a.parent => (DedicatedScope::Span, col::SPAN_ATTRS),
        Scope::Resource if !a.parent => (DedicatedScope::Resource, col::RESOURCE_ATTRS),
        _ => return None,
    };
    let dedicated = (meta.dedicated_columns.iter()).any(|d| d.scope == scope && d.key == a.name);
    let keys = meta.generic_keys.as_ref()?;
    let generic = keys.contains(scope, &a.name) && !dedicated;
    generic.then(|| (list, a.name.as_str(), !keys.has_no_arrays(scope, &a.name)))
}

fn intrinsic(i: Intrinsic) -> Option<Source> {
    let column = |name: &str, ty| Source::Column {
        expr: ident(name),
        ty,
    };
    // Trace-level names read as "" when the trace has no root, as in the reference.
    if let Some(name) = root_name_column(i) {
        return Some(Source::Column {
            expr: coalesce(vec![ident(name), lit("")]),
            ty: Ty::Str,
        });
    }
    Some(match i {
        Intrinsic::Duration => column(col::DURATION, Ty::Duration),
        Intrinsic::Name => column(col::NAME, Ty::Str),
        Intrinsic::Status => column(col::STATUS_CODE, Ty::Status),
        Intrinsic::StatusMessage => column(col::STATUS_MESSAGE, Ty::Str),
        Intrinsic::Kind => column(col::KIND, Ty::Kind),
        _ => return None,
    })
}

/// The trace-level name column of `i` (`rootName`, `rootServiceName`): null where the trace
/// has no root span.
fn root_name_column(i: Intrinsic) -> Option<&'static str> {
    match i {
        Intrinsic::TraceRootName => Some(col::TRACE_ROOT_NAME),
        Intrinsic::TraceRootService => Some(col::TRACE_ROOT_SERVICE),
        _ => None,
    }
}

/// What `field = "x"` (with `x` not empty) may compare in place of the [`resolve`]d value:
/// the bare column of a trace-level name, which `resolve` reads as "" where it is null. For
/// such an `x`, `coalesce(c, '') = 'x'` and `c = 'x'` hold for the same rows (the latter is
/// null rather than false elsewhere), and only the bare column prunes by statistics.
pub fn non_empty_equality_column(field: &Field) -> Option<Expr> {
    match field {
        Field::Intrinsic(i) => root_name_column(*i).map(ident),
        Field::Attribute(_) => None,
    }
}

fn attribute(a: &Attribute, meta: &BlockMeta) -> Option<Source> {
    if a.parent {
        return None;
    }
    match a.scope {
        Scope::Span => scoped(DedicatedScope::Span, &a.name, meta),
        Scope::Resource => scoped(DedicatedScope::Resource, &a.name, meta),
        // `.x`: the span's value where the span has the key, else the resource's.
        Scope::Unscoped => {
            let span = scoped(DedicatedScope::Span, &a.name, meta)?;
            let resource = scoped(DedicatedScope::Resource, &a.name, meta)?;
            match (span, resource) {
                (Source::Missing, other) | (other, Source::Missing) => Some(other),
                (Source::Column { expr: s, ty: st }, Source::Column { expr: r, ty: rt })
                    if st == rt =>
                {
                    Some(Source::Column {
                        expr: coalesce(vec![s, r]),
                        ty: st,
                    })
                }
                _ => None,
            }
        }
        Scope::Event | Scope::Link | Scope::Instrumentation => None,
    }
}

/// A span or resource attribute: its dedicated column when the key never also lands in the
/// generic list, or missing when it is in neither.
fn scoped(scope: DedicatedScope, key: &str, meta: &BlockMeta) -> Option<Source> {
    let generic = meta.generic_keys.as_ref()?;
    if generic.contains(scope, key) {
        return None;
    }
    let Some(d) = meta
        .dedicated_columns
        .iter()
        .find(|d| d.scope == scope && d.key == key)
    else {
        return Some(Source::Missing);
    };
    Some(dedicated_source(d))
}

/// The list column holding what `field` reads when it is an event or link field.
pub fn nested_list(field: &Field) -> Option<&'static str> {
    match field {
        Field::Attribute(a) => match a.scope {
            Scope::Event => Some(col::EVENTS),
            Scope::Link => Some(col::LINKS),
            _ => None,
        },
        Field::Intrinsic(Intrinsic::EventName | Intrinsic::EventTimeSinceStart) => {
            Some(col::EVENTS)
        }
        Field::Intrinsic(Intrinsic::LinkTraceId | Intrinsic::LinkSpanId) => Some(col::LINKS),
        Field::Intrinsic(_) => None,
    }
}

/// The values of the dedicated column `d`.
pub fn dedicated_source(d: &DedicatedColumn) -> Source {
    Source::Column {
        expr: ident(d.column_name()),
        ty: match d.value_type {
            ScalarType::String => Ty::Str,
            ScalarType::Int => Ty::Int,
            ScalarType::Double => Ty::Float,
            ScalarType::Bool => Ty::Bool,
        },
    }
}

/// A field's values (a label, a measured value, a tag value) as a column of one of a few plain
/// Arrow types; strings as views (grouping by a view column costs less than by a string column
/// each value is copied into: 10 M spans by service name ~310 -> ~260 ms).
pub fn value_expr(source: &Source) -> Expr {
    match source {
        Source::Column { expr, ty: Ty::Any } => expr.clone(),
        Source::Column { expr, ty } => cast(expr.clone(), plain_type(*ty)),
        Source::Missing => lit(ScalarValue::Null),
    }
}

/// The integer (or duration) values of `source` as an Int64 column: null for values of other
/// types.
pub fn integer_expr(source: &Source) -> Expr {
    match source {
        Source::Column {
            expr,
            ty: Ty::Int | Ty::Duration,
        } => cast(expr.clone(), DataType::Int64),
        Source::Column { expr, ty: Ty::Any } => get_field(expr.clone(), ANY_INT),
        _ => cast(lit(ScalarValue::Null), DataType::Int64),
    }
}

/// The numeric values of `source` (integers, doubles, durations in nanoseconds) as a Float64
/// column: null for values of other types, which a measured value leaves out.
pub fn numeric_expr(source: &Source) -> Expr {
    match source {
        Source::Column {
            expr,
            ty: Ty::Int | Ty::Duration | Ty::Float,
        } => cast(expr.clone(), DataType::Float64),
        Source::Column { expr, ty: Ty::Any } => coalesce(vec![
            cast(get_field(expr.clone(), ANY_INT), DataType::Float64),
            get_field(expr.clone(), ANY_DOUBLE),
        ]),
        _ => cast(lit(ScalarValue::Null), DataType::Float64),
    }
}

fn plain_type(ty: Ty) -> DataType {
    match ty {
        Ty::Int | Ty::Duration => DataType::Int64,
        Ty::Float => DataType::Float64,
        Ty::Str => DataType::Utf8View,
        Ty::Bool => DataType::Boolean,
        Ty::Status | Ty::Kind => DataType::Int8,
        Ty::Any => any_type(),
    }
}

/// A field's values as a label to group by: as [`value_expr`], but strings as the scan reads
/// them (views, or dictionaries for a block's low-cardinality columns: a label is numbered
/// once per dictionary value rather than once per row).
pub fn label_expr(source: &Source) -> Expr {
    match source {
        Source::Column { expr, ty: Ty::Str } => expr.clone(),
        _ => value_expr(source),
    }
}

/// The value of a [`value_expr`] or [`label_expr`] column at `row`.
pub fn val_at(source: &Source, array: &ArrayRef, row: usize) -> Val {
    let Source::Column { ty, .. } = source else {
        return Val::Nil;
    };
    if array.is_null(row) {
        return Val::Nil;
    }
    let int8 = || array.as_primitive_opt::<Int8Type>().map(|a| a.value(row));
    let found = match ty {
        Ty::Int => array
            .as_primitive_opt::<Int64Type>()
            .map(|a| Val::Int(a.value(row))),
        Ty::Duration => array
            .as_primitive_opt::<Int64Type>()
            .map(|a| Val::Duration(a.value(row))),
        Ty::Float => array
            .as_primitive_opt::<Float64Type>()
            .map(|a| Val::Float(a.value(row))),
        Ty::Str => string_at(array, row).map(|s| Val::Str(s.to_string())),
        Ty::Bool => array
            .as_boolean_opt()
            .map(|a: &BooleanArray| Val::Bool(a.value(row))),
        Ty::Status => int8().map(|c| Val::Status(status(StatusCode::from_code(i32::from(c))))),
        Ty::Kind => int8().map(|c| Val::Kind(kind(SpanKind::from_code(i32::from(c))))),
        Ty::Any => array.as_struct_opt().and_then(|any| any_at(any, row)),
    };
    found.unwrap_or(Val::Nil)
}

/// The string at `row` (not null) of a column of views, strings, or strings in a dictionary
/// ([`label_expr`]); `None` for a column of another type.
fn string_at(array: &ArrayRef, row: usize) -> Option<&str> {
    if let Some(views) = array.as_string_view_opt() {
        return Some(views.value(row));
    }
    if let Some(strings) = array.as_string_opt::<i32>() {
        return Some(strings.value(row));
    }
    let dictionary = array.as_dictionary_opt::<Int32Type>()?;
    let key = usize::try_from(dictionary.keys().value(row)).ok()?;
    let values = dictionary.values().as_string_opt::<i32>()?;
    (key < values.len() && values.is_valid(key)).then(|| values.value(key))
}

/// The value at `row` of a [`Ty::Any`] column: its one set child.
fn any_at(any: &StructArray, row: usize) -> Option<Val> {
    let child = |name: &str| any.column_by_name(name).filter(|c| c.is_valid(row));
    if let Some(c) = child(ANY_STR) {
        return Some(Val::Str(c.as_string_opt::<i32>()?.value(row).to_string()));
    }
    if let Some(c) = child(ANY_INT) {
        return Some(Val::Int(c.as_primitive_opt::<Int64Type>()?.value(row)));
    }
    if let Some(c) = child(ANY_DOUBLE) {
        return Some(Val::Float(c.as_primitive_opt::<Float64Type>()?.value(row)));
    }
    child(ANY_BOOL).and_then(|c| Some(Val::Bool(c.as_boolean_opt()?.value(row))))
}

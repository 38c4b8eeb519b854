//! Where a field's values live in one block, as a DataFusion expression, and their type.

use datafusion::prelude::{Expr, coalesce, ident, lit};
use traceql_storage::meta::BlockMeta;
use traceql_storage::schema::{DedicatedScope, ScalarType, col};
use traceql_syntax::ast::{Attribute, Field, Intrinsic, Scope};

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

fn intrinsic(i: Intrinsic) -> Option<Source> {
    let column = |name: &str, ty| Source::Column {
        expr: ident(name),
        ty,
    };
    // Trace-level names read as "" when the trace has no root, as in the reference.
    let or_empty = |name: &str| Source::Column {
        expr: coalesce(vec![ident(name), lit("")]),
        ty: Ty::Str,
    };
    Some(match i {
        Intrinsic::Duration => column(col::DURATION, Ty::Duration),
        Intrinsic::Name => column(col::NAME, Ty::Str),
        Intrinsic::Status => column(col::STATUS_CODE, Ty::Status),
        Intrinsic::StatusMessage => column(col::STATUS_MESSAGE, Ty::Str),
        Intrinsic::Kind => column(col::KIND, Ty::Kind),
        Intrinsic::TraceRootName => or_empty(col::TRACE_ROOT_NAME),
        Intrinsic::TraceRootService => or_empty(col::TRACE_ROOT_SERVICE),
        _ => return None,
    })
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
    Some(Source::Column {
        expr: ident(d.column_name()),
        ty: match d.value_type {
            ScalarType::String => Ty::Str,
            ScalarType::Int => Ty::Int,
            ScalarType::Double => Ty::Float,
            ScalarType::Bool => Ty::Bool,
        },
    })
}

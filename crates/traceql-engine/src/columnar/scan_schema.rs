//! The schema a scan declares for a data file: only the columns its expressions read.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::prelude::Expr;

/// The columns of `schema` that `exprs` refer to, plus those named in `always`, plain strings
/// as views (filters compare them without copying each value out of the page) and
/// dictionaries as they are (a block's low-cardinality strings, see
/// [`traceql_storage::dictionary_hint`]: compared once per distinct value). Planning a scan of
/// a 100-column table costs far more than scanning a few of its columns, so every scan
/// declares only what it reads.
pub fn scan_schema(schema: &Schema, exprs: &[Expr], always: &[&str]) -> Schema {
    let mut names: HashSet<String> = always.iter().map(|n| n.to_string()).collect();
    for expr in exprs {
        names.extend(expr.column_refs().into_iter().map(|c| c.name.clone()));
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| names.contains(f.name()))
        .map(|f| match f.data_type() {
            DataType::Utf8 => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View)),
            _ => Arc::clone(f),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

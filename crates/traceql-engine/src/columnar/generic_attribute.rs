//! An attribute kept in a block's generic key/value list (a key without a column of its own),
//! read in a condition, a metrics label or a measured value: a scalar function over the list
//! column that yields, per span, the value of the first entry with the key, as one type (null
//! where that entry has another), as every scalar type at once, or whether there is such an
//! entry. The first entry is the reference's value: the list keeps a span's attributes in their
//! order.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, ident, lit};
use traceql_storage::generic_list::GenericEntries;

/// What a generic attribute read yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    /// The value when a string (`Utf8`).
    Str,
    /// The value when an integer (`Int64`).
    Int,
    /// The value when a double (`Float64`).
    Double,
    /// The value when a boolean (`Boolean`).
    Bool,
    /// Whether the span has the key, whatever its value (`Boolean`, never null).
    Present,
    /// The value whatever its scalar type: a struct of the [`Read::Str`], [`Read::Int`],
    /// [`Read::Double`] and [`Read::Bool`] reads as children [`ANY_STR`], [`ANY_INT`],
    /// [`ANY_DOUBLE`] and [`ANY_BOOL`] (at most one of them set; the struct itself never null).
    Any,
}

/// The string child of a [`Read::Any`] value.
pub const ANY_STR: &str = "str";
/// The integer child of a [`Read::Any`] value.
pub const ANY_INT: &str = "int";
/// The double child of a [`Read::Any`] value.
pub const ANY_DOUBLE: &str = "double";
/// The boolean child of a [`Read::Any`] value.
pub const ANY_BOOL: &str = "bool";

/// The type of a [`Read::Any`] value.
pub fn any_type() -> DataType {
    DataType::Struct(any_fields())
}

/// The children of a [`Read::Any`] value.
fn any_fields() -> Fields {
    Fields::from(vec![
        Field::new(ANY_STR, DataType::Utf8, true),
        Field::new(ANY_INT, DataType::Int64, true),
        Field::new(ANY_DOUBLE, DataType::Float64, true),
        Field::new(ANY_BOOL, DataType::Boolean, true),
    ])
}

/// `read` of attribute `key` from the generic list column `list`.
pub fn generic_attribute(read: Read, list: &str, key: &str) -> Expr {
    let function = GenericAttribute {
        read,
        signature: Signature::any(2, Volatility::Immutable),
    };
    ScalarUDF::from(function).call(vec![ident(list), lit(key)])
}

/// The scalar function behind [`generic_attribute`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct GenericAttribute {
    read: Read,
    signature: Signature,
}

impl ScalarUDFImpl for GenericAttribute {
    fn name(&self) -> &str {
        match self.read {
            Read::Str => "generic_str",
            Read::Int => "generic_int",
            Read::Double => "generic_double",
            Read::Bool => "generic_bool",
            Read::Present => "generic_present",
            Read::Any => "generic_any",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.read {
            Read::Str => DataType::Utf8,
            Read::Int => DataType::Int64,
            Read::Double => DataType::Float64,
            Read::Bool | Read::Present => DataType::Boolean,
            Read::Any => any_type(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [list, key] = args.args.as_slice() else {
            return exec_err!("{} takes a list and a key", self.name());
        };
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(key))) = key else {
            return exec_err!("{} needs a literal key", self.name());
        };
        let list = list.to_array(args.number_rows)?;
        let Some(entries) = list.as_list_opt::<i32>().and_then(GenericEntries::new) else {
            return exec_err!("{} reads a generic attribute list", self.name());
        };
        // Per span, its first entry with the key; the value of that entry, when a scalar.
        let first: Vec<Option<usize>> =
            (0..list.len()).map(|row| entries.first(row, key)).collect();
        let scalars = || first.iter().map(|e| e.and_then(|e| entries.scalar(e)));
        let strings =
            || -> ArrayRef { Arc::new(StringArray::from_iter(scalars().map(|v| v?.as_str()))) };
        let ints =
            || -> ArrayRef { Arc::new(Int64Array::from_iter(scalars().map(|v| v?.as_int()))) };
        let doubles =
            || -> ArrayRef { Arc::new(Float64Array::from_iter(scalars().map(|v| v?.as_double()))) };
        let booleans =
            || -> ArrayRef { Arc::new(BooleanArray::from_iter(scalars().map(|v| v?.as_bool()))) };
        let values: ArrayRef = match self.read {
            Read::Present => Arc::new(
                first
                    .iter()
                    .map(|e| Some(e.is_some()))
                    .collect::<BooleanArray>(),
            ),
            Read::Str => strings(),
            Read::Int => ints(),
            Read::Double => doubles(),
            Read::Bool => booleans(),
            Read::Any => Arc::new(StructArray::try_new(
                any_fields(),
                vec![strings(), ints(), doubles(), booleans()],
                None,
            )?),
        };
        Ok(ColumnarValue::Array(values))
    }
}

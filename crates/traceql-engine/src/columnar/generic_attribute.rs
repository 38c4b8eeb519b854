//! An attribute kept in a block's generic key/value list (a key without a column of its own),
//! read in a condition: a scalar function over the list column that yields, per span, the
//! value of the first entry with the key, as one type (null where that entry has another) or
//! whether there is such an entry. The first entry is the reference's value: the list keeps a
//! span's attributes in their order.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, UInt8Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, ident, lit};
use traceql_storage::schema::{AttrType, attr};

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
        let Some(lists) = list.as_list_opt::<i32>() else {
            return exec_err!("{} reads a list, not {}", self.name(), list.data_type());
        };
        let Some(entries) = lists.values().as_struct_opt() else {
            return exec_err!("{} reads a list of entries", self.name());
        };
        let child = |name: &str| match entries.column_by_name(name) {
            Some(c) => Ok(c),
            None => exec_err!("generic attribute entries lack {name}"),
        };
        let mistyped = |name: &str| exec_err!("generic attribute entries' {name} of another type");
        let (Some(keys), Some(types)) = (
            child(attr::KEY)?.as_string_opt::<i32>(),
            child(attr::TYPE)?.as_primitive_opt::<UInt8Type>(),
        ) else {
            return mistyped("keys or types");
        };
        // Per span, its first entry with the key.
        let offsets = lists.value_offsets();
        let first: Vec<Option<usize>> = (0..lists.len())
            .map(|row| {
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                (start..end).find(|&e| keys.value(e) == key.as_str())
            })
            .collect();
        let (t, name) = match self.read {
            Read::Present => {
                let present = first.iter().map(|e| Some(e.is_some()));
                return Ok(ColumnarValue::Array(Arc::new(
                    present.collect::<BooleanArray>(),
                )));
            }
            Read::Str => (AttrType::String, attr::STR),
            Read::Int => (AttrType::Int, attr::INT),
            Read::Double => (AttrType::Double, attr::DOUBLE),
            Read::Bool => (AttrType::Bool, attr::BOOL),
        };
        // The column of the read's type holds the value of an entry of that type.
        let column = child(name)?;
        if column.data_type() != &self.return_type(&[])? {
            return mistyped(name);
        }
        // Per span, its first entry with the key where that entry has the type and a value.
        let indices: UInt32Array = (first.iter())
            .map(|e| e.filter(|&e| types.value(e) == t as u8 && column.is_valid(e)))
            .map(|e| e.and_then(|e| u32::try_from(e).ok()))
            .collect();
        let values = take(column.as_ref(), &indices, None)?;
        Ok(ColumnarValue::Array(values))
    }
}

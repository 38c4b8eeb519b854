//! The scalar side of a generic attribute list column (`List<Struct<key, type, str, int,
//! double, bool, …>>`): each entry's key and, for an entry of a scalar type, its value, with
//! the children typed once per column.

use std::ops::Range;

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
    UInt8Array,
};

use crate::schema::{AttrType, attr};

/// A scalar value of a generic attribute entry, borrowed from the column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    String(&'a str),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

impl<'a> Scalar<'a> {
    /// The value when a string.
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Scalar::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value when an integer.
    pub fn as_int(self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value when a double.
    pub fn as_double(self) -> Option<f64> {
        match self {
            Scalar::Double(d) => Some(d),
            _ => None,
        }
    }

    /// The value when a boolean.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// The entries of a generic attribute list column.
#[derive(Clone, Copy)]
pub struct GenericEntries<'a> {
    list: &'a ListArray,
    key: &'a StringArray,
    ty: &'a UInt8Array,
    str: &'a StringArray,
    int: &'a Int64Array,
    double: &'a Float64Array,
    bool: &'a BooleanArray,
}

impl<'a> GenericEntries<'a> {
    /// The entries of `list`; `None` when it is not a generic attribute list.
    pub fn new(list: &'a ListArray) -> Option<Self> {
        let entries: &StructArray = list.values().as_struct_opt()?;
        let child = |name: &str| entries.column_by_name(name);
        Some(GenericEntries {
            list,
            key: child(attr::KEY)?.as_string_opt()?,
            ty: child(attr::TYPE)?.as_primitive_opt()?,
            str: child(attr::STR)?.as_string_opt()?,
            int: child(attr::INT)?.as_primitive_opt()?,
            double: child(attr::DOUBLE)?.as_primitive_opt()?,
            bool: child(attr::BOOL)?.as_boolean_opt()?,
        })
    }

    /// The entries of row `row`, in stored order (the span's order).
    pub fn of_row(&self, row: usize) -> Range<usize> {
        let offsets = self.list.value_offsets();
        offsets[row] as usize..offsets[row + 1] as usize
    }

    /// The first entry of row `row` with `key`.
    pub fn first(&self, row: usize, key: &str) -> Option<usize> {
        self.of_row(row).find(|&e| self.key(e) == key)
    }

    /// Entry `entry`'s key.
    pub fn key(&self, entry: usize) -> &'a str {
        self.key.value(entry)
    }

    /// Entry `entry`'s type code (an [`AttrType`]).
    pub fn type_code(&self, entry: usize) -> u8 {
        self.ty.value(entry)
    }

    /// Entry `entry`'s value when its type is a scalar one.
    pub fn scalar(&self, entry: usize) -> Option<Scalar<'a>> {
        let present = |a: &dyn Array| a.is_valid(entry);
        Some(match AttrType::from_code(self.type_code(entry))? {
            AttrType::String if present(self.str) => Scalar::String(self.str.value(entry)),
            AttrType::Int if present(self.int) => Scalar::Int(self.int.value(entry)),
            AttrType::Double if present(self.double) => Scalar::Double(self.double.value(entry)),
            AttrType::Bool if present(self.bool) => Scalar::Bool(self.bool.value(entry)),
            _ => return None,
        })
    }
}

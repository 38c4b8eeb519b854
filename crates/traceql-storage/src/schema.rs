//! The span-block schema: one row per span.
//!
//! Fixed columns hold the span's own fields, its structure (nested sets), its resource and
//! scope, and trace-level values repeated on every row of the trace (they compress to almost
//! nothing because a trace's rows are contiguous). Attributes are stored two ways:
//! - *dedicated* columns, chosen per block for frequent single-typed keys, named
//!   `span.<key>` / `resource.<key>` and typed (`Utf8`, `Int64`, `Float64`, `Boolean`);
//! - a generic list column per scope (`span_attrs`, `resource_attrs`, `scope_attrs`, and inside
//!   events and links) of [`attribute_struct`] entries holding every other attribute.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

/// Column names of the fixed part of the schema.
pub mod col {
    /// `FixedSizeBinary(16)`.
    pub const TRACE_ID: &str = "trace_id";
    /// `FixedSizeBinary(8)`.
    pub const SPAN_ID: &str = "span_id";
    /// `FixedSizeBinary(8)`, null for roots.
    pub const PARENT_SPAN_ID: &str = "parent_span_id";
    /// `Int32`: nested-set left bound (0 when the span has no position).
    pub const NESTED_SET_LEFT: &str = "nested_set_left";
    /// `Int32`: nested-set right bound.
    pub const NESTED_SET_RIGHT: &str = "nested_set_right";
    /// `Int32`: the parent's left bound (-1 for roots, 0 without position).
    pub const PARENT_LEFT: &str = "parent_left";
    /// `Int32`: number of direct children.
    pub const CHILD_COUNT: &str = "child_count";
    /// `Utf8`.
    pub const NAME: &str = "name";
    /// `Int8`: OTLP span kind code.
    pub const KIND: &str = "kind";
    /// `Int8`: OTLP status code.
    pub const STATUS_CODE: &str = "status_code";
    /// `Utf8`.
    pub const STATUS_MESSAGE: &str = "status_message";
    /// `Int64`.
    pub const START_TIME: &str = "start_time_unix_nano";
    /// `Int64`: end minus start.
    pub const DURATION: &str = "duration_nano";
    /// `Utf8`.
    pub const TRACE_STATE: &str = "trace_state";
    /// `UInt32`.
    pub const FLAGS: &str = "flags";
    /// `UInt32`.
    pub const DROPPED_ATTRIBUTES: &str = "dropped_attributes_count";
    /// `UInt32`.
    pub const DROPPED_EVENTS: &str = "dropped_events_count";
    /// `UInt32`.
    pub const DROPPED_LINKS: &str = "dropped_links_count";
    /// `Int64`: earliest span start of the trace.
    pub const TRACE_START: &str = "trace_start_unix_nano";
    /// `Int64`: latest span end minus earliest start.
    pub const TRACE_DURATION: &str = "trace_duration_nano";
    /// `Utf8`, null when the trace has no root span.
    pub const TRACE_ROOT_SERVICE: &str = "trace_root_service";
    /// `Utf8`, null when the trace has no root span.
    pub const TRACE_ROOT_NAME: &str = "trace_root_name";
    /// `Utf8`: spans and errors per service of the trace, as JSON `[[service, spans, errors], …]`,
    /// on the trace's first row only (its other rows hold "").
    pub const TRACE_SERVICE_STATS: &str = "trace_service_stats";
    /// `Utf8`.
    pub const RESOURCE_SCHEMA_URL: &str = "resource_schema_url";
    /// `UInt32`.
    pub const RESOURCE_DROPPED_ATTRIBUTES: &str = "resource_dropped_attributes_count";
    /// `Utf8`.
    pub const SCOPE_NAME: &str = "scope_name";
    /// `Utf8`.
    pub const SCOPE_VERSION: &str = "scope_version";
    /// `Utf8`.
    pub const SCOPE_SCHEMA_URL: &str = "scope_schema_url";
    /// `UInt32`.
    pub const SCOPE_DROPPED_ATTRIBUTES: &str = "scope_dropped_attributes_count";
    /// Generic span attributes.
    pub const SPAN_ATTRS: &str = "span_attrs";
    /// Generic resource attributes.
    pub const RESOURCE_ATTRS: &str = "resource_attrs";
    /// Generic scope attributes.
    pub const SCOPE_ATTRS: &str = "scope_attrs";
    /// `List<Struct{time_since_start_nano, name, attrs, dropped_attributes_count}>`.
    pub const EVENTS: &str = "events";
    /// `List<Struct{trace_id, span_id, trace_state, attrs, dropped_attributes_count, flags}>`.
    pub const LINKS: &str = "links";
}

/// Field names inside a generic attribute entry.
pub mod attr {
    /// `Utf8`: the key.
    pub const KEY: &str = "key";
    /// `UInt8`: which value field holds the value (see [`super::AttrType`]).
    pub const TYPE: &str = "type";
    /// `Utf8`.
    pub const STR: &str = "str";
    /// `Int64`.
    pub const INT: &str = "int";
    /// `Float64`.
    pub const DOUBLE: &str = "double";
    /// `Boolean`.
    pub const BOOL: &str = "bool";
    /// `List<Utf8>`.
    pub const STR_ARRAY: &str = "str_array";
    /// `List<Int64>`.
    pub const INT_ARRAY: &str = "int_array";
    /// `List<Float64>`.
    pub const DOUBLE_ARRAY: &str = "double_array";
    /// `List<Boolean>`.
    pub const BOOL_ARRAY: &str = "bool_array";
    /// `Binary`: bytes values.
    pub const BYTES: &str = "bytes";
    /// `Utf8`: key/value lists, empty and mixed-type arrays, as OTLP/JSON.
    pub const JSON: &str = "json";
}

/// What a generic attribute entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AttrType {
    /// `str`
    String = 1,
    /// `int`
    Int = 2,
    /// `double`
    Double = 3,
    /// `bool`
    Bool = 4,
    /// `bytes` (not queryable)
    Bytes = 5,
    /// `str_array`
    StringArray = 6,
    /// `int_array`
    IntArray = 7,
    /// `double_array`
    DoubleArray = 8,
    /// `bool_array`
    BoolArray = 9,
    /// `json`: a key/value list (not queryable)
    KvList = 10,
    /// `json`: an empty array or one mixing element types
    OtherArray = 11,
}

impl AttrType {
    /// The type for a stored code.
    pub fn from_code(code: u8) -> Option<AttrType> {
        use AttrType::*;
        [
            String,
            Int,
            Double,
            Bool,
            Bytes,
            StringArray,
            IntArray,
            DoubleArray,
            BoolArray,
            KvList,
            OtherArray,
        ]
        .into_iter()
        .find(|t| *t as u8 == code)
    }
}

/// Scalar types a dedicated column can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalarType {
    /// `Utf8`
    String,
    /// `Int64`
    Int,
    /// `Float64`
    Double,
    /// `Boolean`
    Bool,
}

impl ScalarType {
    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            ScalarType::String => DataType::Utf8,
            ScalarType::Int => DataType::Int64,
            ScalarType::Double => DataType::Float64,
            ScalarType::Bool => DataType::Boolean,
        }
    }
}

/// Which attributes a dedicated column can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedicatedScope {
    /// Span attributes.
    Span,
    /// Resource attributes.
    Resource,
}

/// An attribute key stored as its own typed column in a block.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DedicatedColumn {
    /// Span or resource.
    pub scope: DedicatedScope,
    /// The attribute key.
    pub key: String,
    /// The type every value of this key has in the block.
    #[serde(rename = "type")]
    pub value_type: ScalarType,
}

impl DedicatedColumn {
    /// The column name: `span.<key>` or `resource.<key>`.
    pub fn column_name(&self) -> String {
        match self.scope {
            DedicatedScope::Span => format!("span.{}", self.key),
            DedicatedScope::Resource => format!("resource.{}", self.key),
        }
    }

    /// True when `name` is this column's name ([`DedicatedColumn::column_name`]), told
    /// without building the name.
    pub fn is_named(&self, name: &str) -> bool {
        let prefix = match self.scope {
            DedicatedScope::Span => "span.",
            DedicatedScope::Resource => "resource.",
        };
        name.strip_prefix(prefix) == Some(self.key.as_str())
    }
}

/// The struct of one generic attribute entry.
pub fn attribute_struct() -> DataType {
    let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
    DataType::Struct(Fields::from(vec![
        Field::new(attr::KEY, DataType::Utf8, false),
        Field::new(attr::TYPE, DataType::UInt8, false),
        Field::new(attr::STR, DataType::Utf8, true),
        Field::new(attr::INT, DataType::Int64, true),
        Field::new(attr::DOUBLE, DataType::Float64, true),
        Field::new(attr::BOOL, DataType::Boolean, true),
        Field::new(attr::STR_ARRAY, list(DataType::Utf8), true),
        Field::new(attr::INT_ARRAY, list(DataType::Int64), true),
        Field::new(attr::DOUBLE_ARRAY, list(DataType::Float64), true),
        Field::new(attr::BOOL_ARRAY, list(DataType::Boolean), true),
        Field::new(attr::BYTES, DataType::Binary, true),
        Field::new(attr::JSON, DataType::Utf8, true),
    ]))
}

/// The list type of a generic attribute column.
pub fn attribute_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", attribute_struct(), false)))
}

fn event_struct() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("time_since_start_nano", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("attrs", attribute_list(), false),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
    ]))
}

fn link_struct() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("trace_id", DataType::FixedSizeBinary(16), false),
        Field::new("span_id", DataType::FixedSizeBinary(8), false),
        Field::new("trace_state", DataType::Utf8, false),
        Field::new("attrs", attribute_list(), false),
        Field::new("dropped_attributes_count", DataType::UInt32, false),
        Field::new("flags", DataType::UInt32, false),
    ]))
}

/// The schema of a block with the given dedicated columns (appended after the fixed ones).
pub fn block_schema(dedicated: &[DedicatedColumn]) -> SchemaRef {
    let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, false)));
    let mut fields = vec![
        Field::new(col::TRACE_ID, DataType::FixedSizeBinary(16), false),
        Field::new(col::SPAN_ID, DataType::FixedSizeBinary(8), false),
        Field::new(col::PARENT_SPAN_ID, DataType::FixedSizeBinary(8), true),
        Field::new(col::NESTED_SET_LEFT, DataType::Int32, false),
        Field::new(col::NESTED_SET_RIGHT, DataType::Int32, false),
        Field::new(col::PARENT_LEFT, DataType::Int32, false),
        Field::new(col::CHILD_COUNT, DataType::Int32, false),
        Field::new(col::NAME, DataType::Utf8, false),
        Field::new(col::KIND, DataType::Int8, false),
        Field::new(col::STATUS_CODE, DataType::Int8, false),
        Field::new(col::STATUS_MESSAGE, DataType::Utf8, false),
        Field::new(col::START_TIME, DataType::Int64, false),
        Field::new(col::DURATION, DataType::Int64, false),
        Field::new(col::TRACE_STATE, DataType::Utf8, false),
        Field::new(col::FLAGS, DataType::UInt32, false),
        Field::new(col::DROPPED_ATTRIBUTES, DataType::UInt32, false),
        Field::new(col::DROPPED_EVENTS, DataType::UInt32, false),
        Field::new(col::DROPPED_LINKS, DataType::UInt32, false),
        Field::new(col::TRACE_START, DataType::Int64, false),
        Field::new(col::TRACE_DURATION, DataType::Int64, false),
        Field::new(col::TRACE_ROOT_SERVICE, DataType::Utf8, true),
        Field::new(col::TRACE_ROOT_NAME, DataType::Utf8, true),
        Field::new(col::TRACE_SERVICE_STATS, DataType::Utf8, false),
        Field::new(col::RESOURCE_SCHEMA_URL, DataType::Utf8, false),
        Field::new(col::RESOURCE_DROPPED_ATTRIBUTES, DataType::UInt32, false),
        Field::new(col::SCOPE_NAME, DataType::Utf8, false),
        Field::new(col::SCOPE_VERSION, DataType::Utf8, false),
        Field::new(col::SCOPE_SCHEMA_URL, DataType::Utf8, false),
        Field::new(col::SCOPE_DROPPED_ATTRIBUTES, DataType::UInt32, false),
        Field::new(col::SPAN_ATTRS, attribute_list(), false),
        Field::new(col::RESOURCE_ATTRS, attribute_list(), false),
        Field::new(col::SCOPE_ATTRS, attribute_list(), false),
        Field::new(col::EVENTS, list(event_struct()), false),
        Field::new(col::LINKS, list(link_struct()), false),
    ];
    fields.extend(
        dedicated
            .iter()
            .map(|d| Field::new(d.column_name(), d.value_type.data_type(), true)),
    );
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dedicated_column_is_named_by_its_own_name_only() {
        let column = |scope| DedicatedColumn {
            scope,
            key: "http.route".into(),
            value_type: ScalarType::String,
        };
        let (span, resource) = (
            column(DedicatedScope::Span),
            column(DedicatedScope::Resource),
        );
        assert!(span.is_named(&span.column_name()));
        assert!(resource.is_named(&resource.column_name()));
        assert!(!span.is_named(&resource.column_name()));
        assert!(!resource.is_named(&span.column_name()));
        assert!(!span.is_named("span.http"));
        assert!(!span.is_named("span.http.route.x"));
    }
}

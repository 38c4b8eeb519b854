//! Record batches of a block back into spans.
//!
//! Every column (and every child of the nested attribute, event and link columns) is resolved
//! to its concrete array type once per batch; rows are then read through list offsets, so
//! decoding a span allocates only what the span itself owns. Consecutive spans of one resource
//! or scope share one `Arc`, recognised by comparing the stored rows, not by building them.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, FixedSizeBinaryArray, Float64Array, Int8Array,
    Int64Array, ListArray, RecordBatch, StringArray, StructArray, UInt32Array,
};

use crate::generic_list::{GenericEntries, Scalar};
use crate::meta::BlockMeta;
use crate::model::{Event, KeyValue, Link, Resource, Scope, Span, SpanKind, StatusCode, Value};
use crate::otlp::value_from_json;
use crate::projection::Projection;
use crate::schema::{AttrType, DedicatedScope, attr, col};

/// A decoding failure: what is wrong with the batch.
pub type Decode<T> = std::result::Result<T, String>;

/// Decodes the parts `projection` names of the spans of one batch (which must hold those
/// columns), in row order.
pub(crate) fn decode_projected(
    batch: &RecordBatch,
    meta: &BlockMeta,
    projection: &Projection,
) -> Decode<Vec<Span>> {
    let c = SpanColumns::new(batch, meta, projection)?;
    let mut spans = Vec::with_capacity(batch.num_rows());
    let mut last_resource: Option<Arc<Resource>> = None;
    let mut last_scope: Option<Arc<Scope>> = None;
    for i in 0..batch.num_rows() {
        let resource = match &last_resource {
            Some(r) if c.same_resource(i - 1, i) => Arc::clone(r),
            _ => Arc::new(c.resource(i)?),
        };
        last_resource = Some(Arc::clone(&resource));
        let scope = match &last_scope {
            Some(s) if c.same_scope(i - 1, i) => Arc::clone(s),
            _ => Arc::new(c.scope(i)?),
        };
        last_scope = Some(Arc::clone(&scope));
        spans.push(c.span(i, resource, scope)?);
    }
    Ok(spans)
}

/// The columns of a span batch, typed.
struct SpanColumns<'a> {
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a FixedSizeBinaryArray,
    parent: &'a FixedSizeBinaryArray,
    name: &'a StringArray,
    kind: &'a Int8Array,
    status: &'a Int8Array,
    status_message: &'a StringArray,
    start: &'a Int64Array,
    duration: &'a Int64Array,
    trace_state: &'a StringArray,
    flags: &'a UInt32Array,
    dropped_attrs: &'a UInt32Array,
    dropped_events: &'a UInt32Array,
    dropped_links: &'a UInt32Array,
    resource_url: &'a StringArray,
    resource_dropped: &'a UInt32Array,
    scope_name: &'a StringArray,
    scope_version: &'a StringArray,
    scope_url: &'a StringArray,
    scope_dropped: &'a UInt32Array,
    span_attrs: Option<AttrList<'a>>,
    resource_attrs: Option<AttrList<'a>>,
    scope_attrs: Option<AttrList<'a>>,
    events: Option<EventList<'a>>,
    links: Option<LinkList<'a>>,
    dedicated: Vec<Dedicated<'a>>,
}

impl<'a> SpanColumns<'a> {
    fn new(batch: &'a RecordBatch, meta: &'a BlockMeta, projection: &Projection) -> Decode<Self> {
        Ok(SpanColumns {
            trace_id: column(batch, col::TRACE_ID)?,
            span_id: column(batch, col::SPAN_ID)?,
            parent: column(batch, col::PARENT_SPAN_ID)?,
            name: column(batch, col::NAME)?,
            kind: column(batch, col::KIND)?,
            status: column(batch, col::STATUS_CODE)?,
            status_message: column(batch, col::STATUS_MESSAGE)?,
            start: column(batch, col::START_TIME)?,
            duration: column(batch, col::DURATION)?,
            trace_state: column(batch, col::TRACE_STATE)?,
            flags: column(batch, col::FLAGS)?,
            dropped_attrs: column(batch, col::DROPPED_ATTRIBUTES)?,
            dropped_events: column(batch, col::DROPPED_EVENTS)?,
            dropped_links: column(batch, col::DROPPED_LINKS)?,
            resource_url: column(batch, col::RESOURCE_SCHEMA_URL)?,
            resource_dropped: column(batch, col::RESOURCE_DROPPED_ATTRIBUTES)?,
            scope_name: column(batch, col::SCOPE_NAME)?,
            scope_version: column(batch, col::SCOPE_VERSION)?,
            scope_url: column(batch, col::SCOPE_SCHEMA_URL)?,
            scope_dropped: column(batch, col::SCOPE_DROPPED_ATTRIBUTES)?,
            span_attrs: AttrList::read(batch, col::SPAN_ATTRS, projection.span_attributes)?,
            resource_attrs: AttrList::read(
                batch,
                col::RESOURCE_ATTRS,
                projection.resource_attributes,
            )?,
            scope_attrs: AttrList::read(batch, col::SCOPE_ATTRS, projection.scope_attributes)?,
            events: projection
                .events
                .then(|| EventList::new(column(batch, col::EVENTS)?))
                .transpose()?,
            links: projection
                .links
                .then(|| LinkList::new(column(batch, col::LINKS)?))
                .transpose()?,
            dedicated: meta
                .dedicated_columns
                .iter()
                .filter(|d| projection.reads_dedicated(&d.column_name()))
                .map(|d| {
                    let name = d.column_name();
                    let array = batch
                        .column_by_name(&name)
                        .ok_or_else(|| format!("missing column {name}"))?;
                    Dedicated::new(d.scope, &d.key, array.as_ref())
                })
                .collect::<Decode<_>>()?,
        })
    }

    fn span(&self, i: usize, resource: Arc<Resource>, scope: Arc<Scope>) -> Decode<Span> {
        let start = self.start.value(i) as u64;
        Ok(Span {
            trace_id: id(self.trace_id, i)?,
            span_id: id(self.span_id, i)?,
            parent_span_id: if self.parent.is_null(i) {
                None
            } else {
                Some(id(self.parent, i)?)
            },
            trace_state: self.trace_state.value(i).to_string(),
            flags: self.flags.value(i),
            name: self.name.value(i).to_string(),
            kind: SpanKind::from_code(i32::from(self.kind.value(i))),
            start_time_unix_nano: start,
            end_time_unix_nano: start.wrapping_add(self.duration.value(i) as u64),
            attributes: self.attributes(self.span_attrs.as_ref(), DedicatedScope::Span, i)?,
            dropped_attributes_count: self.dropped_attrs.value(i),
            events: match &self.events {
                Some(events) => events.decode(i, start)?,
                None => Vec::new(),
            },
            dropped_events_count: self.dropped_events.value(i),
            links: match &self.links {
                Some(links) => links.decode(i)?,
                None => Vec::new(),
            },
            dropped_links_count: self.dropped_links.value(i),
            status_code: StatusCode::from_code(i32::from(self.status.value(i))),
            status_message: self.status_message.value(i).to_string(),
            resource,
            scope,
        })
    }

    /// Generic and dedicated attributes of one scope at row `i`, sorted by key.
    fn attributes(
        &self,
        generic: Option<&AttrList>,
        scope: DedicatedScope,
        i: usize,
    ) -> Decode<Vec<KeyValue>> {
        let mut attributes = match generic {
            Some(list) => list.decode(i)?,
            None => Vec::new(),
        };
        for d in self.dedicated.iter().filter(|d| d.scope == scope) {
            if let Some(value) = d.value(i)? {
                attributes.push(KeyValue::new(d.key, value));
            }
        }
        attributes.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(attributes)
    }

    fn resource(&self, i: usize) -> Decode<Resource> {
        Ok(Resource {
            attributes: self.attributes(
                self.resource_attrs.as_ref(),
                DedicatedScope::Resource,
                i,
            )?,
            dropped_attributes_count: self.resource_dropped.value(i),
            schema_url: self.resource_url.value(i).to_string(),
        })
    }

    fn scope(&self, i: usize) -> Decode<Scope> {
        Ok(Scope {
            name: self.scope_name.value(i).to_string(),
            version: self.scope_version.value(i).to_string(),
            attributes: match &self.scope_attrs {
                Some(attrs) => {
                    let mut a = attrs.decode(i)?;
                    a.sort_by(|x, y| x.key.cmp(&y.key));
                    a
                }
                None => Vec::new(),
            },
            dropped_attributes_count: self.scope_dropped.value(i),
            schema_url: self.scope_url.value(i).to_string(),
        })
    }

    /// Rows `a` and `b` store the same resource.
    fn same_resource(&self, a: usize, b: usize) -> bool {
        self.resource_url.value(a) == self.resource_url.value(b)
            && self.resource_dropped.value(a) == self.resource_dropped.value(b)
            && self.resource_attrs.as_ref().is_none_or(|r| r.same(a, b))
            && self
                .dedicated
                .iter()
                .filter(|d| d.scope == DedicatedScope::Resource)
                .all(|d| d.same(a, b))
    }

    /// Rows `a` and `b` store the same instrumentation scope.
    fn same_scope(&self, a: usize, b: usize) -> bool {
        self.scope_name.value(a) == self.scope_name.value(b)
            && self.scope_version.value(a) == self.scope_version.value(b)
            && self.scope_url.value(a) == self.scope_url.value(b)
            && self.scope_dropped.value(a) == self.scope_dropped.value(b)
            && self.scope_attrs.as_ref().is_none_or(|s| s.same(a, b))
    }
}

/// A dedicated attribute column.
struct Dedicated<'a> {
    scope: DedicatedScope,
    key: &'a str,
    values: DedicatedValues<'a>,
}

enum DedicatedValues<'a> {
    String(&'a StringArray),
    Int(&'a Int64Array),
    Double(&'a Float64Array),
    Bool(&'a BooleanArray),
}

impl<'a> Dedicated<'a> {
    fn new(scope: DedicatedScope, key: &'a str, array: &'a dyn Array) -> Decode<Self> {
        let any = array.as_any();
        let values = if let Some(a) = any.downcast_ref::<StringArray>() {
            DedicatedValues::String(a)
        } else if let Some(a) = any.downcast_ref::<Int64Array>() {
            DedicatedValues::Int(a)
        } else if let Some(a) = any.downcast_ref::<Float64Array>() {
            DedicatedValues::Double(a)
        } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
            DedicatedValues::Bool(a)
        } else {
            return Err(format!(
                "dedicated column of unexpected type {}",
                array.data_type()
            ));
        };
        Ok(Dedicated { scope, key, values })
    }

    fn array(&self) -> &dyn Array {
        match self.values {
            DedicatedValues::String(a) => a,
            DedicatedValues::Int(a) => a,
            DedicatedValues::Double(a) => a,
            DedicatedValues::Bool(a) => a,
        }
    }

    fn value(&self, i: usize) -> Decode<Option<Value>> {
        if self.array().is_null(i) {
            return Ok(None);
        }
        Ok(Some(match self.values {
            DedicatedValues::String(a) => Value::String(a.value(i).to_string()),
            DedicatedValues::Int(a) => Value::Int(a.value(i)),
            DedicatedValues::Double(a) => Value::Double(a.value(i)),
            DedicatedValues::Bool(a) => Value::Bool(a.value(i)),
        }))
    }

    fn same(&self, a: usize, b: usize) -> bool {
        let array = self.array();
        match (array.is_null(a), array.is_null(b)) {
            (true, true) => true,
            (false, false) => match self.values {
                DedicatedValues::String(v) => v.value(a) == v.value(b),
                DedicatedValues::Int(v) => v.value(a) == v.value(b),
                DedicatedValues::Double(v) => v.value(a).to_bits() == v.value(b).to_bits(),
                DedicatedValues::Bool(v) => v.value(a) == v.value(b),
            },
            _ => false,
        }
    }
}

/// A generic attribute list column (`List<Struct<key, type, str, …>>`), children typed.
struct AttrList<'a> {
    /// Keys, types and scalar values.
    scalars: GenericEntries<'a>,
    bytes: &'a BinaryArray,
    str_array: NestedList<'a, StringArray>,
    int_array: NestedList<'a, Int64Array>,
    double_array: NestedList<'a, Float64Array>,
    bool_array: NestedList<'a, BooleanArray>,
    json: &'a StringArray,
}

/// A `List<T>` child of an attribute entry.
struct NestedList<'a, T> {
    list: &'a ListArray,
    values: &'a T,
}

impl<'a, T: Array + 'static> NestedList<'a, T> {
    fn new(entries: &'a StructArray, name: &str) -> Decode<Self> {
        let list: &ListArray = child(entries, name)?;
        let values = list
            .values()
            .as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| format!("{name} of unexpected type"))?;
        Ok(NestedList { list, values })
    }

    fn range(&self, j: usize) -> Range<usize> {
        offsets(self.list, j)
    }
}

impl<'a> AttrList<'a> {
    /// The attribute list column `name` of `batch` when the read decodes it (`read`).
    fn read(batch: &'a RecordBatch, name: &str, read: bool) -> Decode<Option<Self>> {
        read.then(|| AttrList::new(column(batch, name)?))
            .transpose()
    }

    fn new(list: &'a ListArray) -> Decode<Self> {
        let entries = list
            .values()
            .as_struct_opt()
            .ok_or("attribute list of unexpected type")?;
        Ok(AttrList {
            scalars: GenericEntries::new(list).ok_or("attribute list of unexpected type")?,
            bytes: child(entries, attr::BYTES)?,
            str_array: NestedList::new(entries, attr::STR_ARRAY)?,
            int_array: NestedList::new(entries, attr::INT_ARRAY)?,
            double_array: NestedList::new(entries, attr::DOUBLE_ARRAY)?,
            bool_array: NestedList::new(entries, attr::BOOL_ARRAY)?,
            json: child(entries, attr::JSON)?,
        })
    }

    /// The entries of row `row`, in stored order.
    fn decode(&self, row: usize) -> Decode<Vec<KeyValue>> {
        self.scalars.of_row(row).map(|j| self.entry(j)).collect()
    }

    fn entry(&self, j: usize) -> Decode<KeyValue> {
        let code = self.scalars.type_code(j);
        let ty =
            AttrType::from_code(code).ok_or_else(|| format!("unknown attribute type {code}"))?;
        let value = match ty {
            AttrType::String | AttrType::Int | AttrType::Double | AttrType::Bool => {
                match self.scalars.scalar(j) {
                    Some(Scalar::String(s)) => Value::String(s.to_string()),
                    Some(Scalar::Int(i)) => Value::Int(i),
                    Some(Scalar::Double(d)) => Value::Double(d),
                    Some(Scalar::Bool(b)) => Value::Bool(b),
                    None => return Err(format!("attribute entry {j} lacks its {ty:?} value")),
                }
            }
            AttrType::Bytes => Value::Bytes(self.bytes.value(j).to_vec()),
            AttrType::StringArray => {
                let a = &self.str_array;
                Value::Array(
                    a.range(j)
                        .map(|k| Value::String(a.values.value(k).to_string()))
                        .collect(),
                )
            }
            AttrType::IntArray => {
                let a = &self.int_array;
                Value::Array(a.range(j).map(|k| Value::Int(a.values.value(k))).collect())
            }
            AttrType::DoubleArray => {
                let a = &self.double_array;
                Value::Array(
                    a.range(j)
                        .map(|k| Value::Double(a.values.value(k)))
                        .collect(),
                )
            }
            AttrType::BoolArray => {
                let a = &self.bool_array;
                Value::Array(
                    a.range(j)
                        .map(|k| Value::Bool(a.values.is_valid(k) && a.values.value(k)))
                        .collect(),
                )
            }
            AttrType::KvList | AttrType::OtherArray => {
                value_from_json(self.json.value(j)).map_err(|e| e.to_string())?
            }
        };
        Ok(KeyValue {
            key: self.scalars.key(j).to_string(),
            value,
        })
    }

    /// Rows `a` and `b` hold the same entries in the same order.
    fn same(&self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.scalars.of_row(a), self.scalars.of_row(b));
        ra.len() == rb.len() && ra.zip(rb).all(|(x, y)| self.same_entry(x, y))
    }

    fn same_entry(&self, x: usize, y: usize) -> bool {
        let code = self.scalars.type_code(x);
        if self.scalars.key(x) != self.scalars.key(y) || code != self.scalars.type_code(y) {
            return false;
        }
        let same_list = |l: &ListArray, values: &dyn Fn(usize, usize) -> bool| {
            let (rx, ry) = (offsets(l, x), offsets(l, y));
            rx.len() == ry.len() && rx.zip(ry).all(|(p, q)| values(p, q))
        };
        match AttrType::from_code(code) {
            Some(AttrType::String | AttrType::Int | AttrType::Double | AttrType::Bool) => {
                match (self.scalars.scalar(x), self.scalars.scalar(y)) {
                    (Some(Scalar::Double(a)), Some(Scalar::Double(b))) => {
                        a.to_bits() == b.to_bits()
                    }
                    (a, b) => a == b,
                }
            }
            Some(AttrType::Bytes) => self.bytes.value(x) == self.bytes.value(y),
            Some(AttrType::StringArray) => {
                let v = self.str_array.values;
                same_list(self.str_array.list, &|p, q| v.value(p) == v.value(q))
            }
            Some(AttrType::IntArray) => {
                let v = self.int_array.values;
                same_list(self.int_array.list, &|p, q| v.value(p) == v.value(q))
            }
            Some(AttrType::DoubleArray) => {
                let v = self.double_array.values;
                same_list(self.double_array.list, &|p, q| {
                    v.value(p).to_bits() == v.value(q).to_bits()
                })
            }
            Some(AttrType::BoolArray) => {
                let v = self.bool_array.values;
                same_list(self.bool_array.list, &|p, q| {
                    (v.is_valid(p) && v.value(p)) == (v.is_valid(q) && v.value(q))
                })
            }
            Some(AttrType::KvList | AttrType::OtherArray) => {
                self.json.value(x) == self.json.value(y)
            }
            None => false,
        }
    }
}

/// The events column, children typed.
struct EventList<'a> {
    list: &'a ListArray,
    time: &'a Int64Array,
    name: &'a StringArray,
    attrs: AttrList<'a>,
    dropped: &'a UInt32Array,
}

impl<'a> EventList<'a> {
    fn new(list: &'a ListArray) -> Decode<Self> {
        let entries = list
            .values()
            .as_struct_opt()
            .ok_or("events of unexpected type")?;
        Ok(EventList {
            list,
            time: child(entries, "time_since_start_nano")?,
            name: child(entries, "name")?,
            attrs: AttrList::new(child(entries, "attrs")?)?,
            dropped: child(entries, "dropped_attributes_count")?,
        })
    }

    fn decode(&self, row: usize, span_start: u64) -> Decode<Vec<Event>> {
        offsets(self.list, row)
            .map(|j| {
                let mut attributes = self.attrs.decode(j)?;
                attributes.sort_by(|a, b| a.key.cmp(&b.key));
                Ok(Event {
                    time_unix_nano: span_start.wrapping_add(self.time.value(j) as u64),
                    name: self.name.value(j).to_string(),
                    attributes,
                    dropped_attributes_count: self.dropped.value(j),
                })
            })
            .collect()
    }
}

/// A block's events column, read back one span's events at a time (for conditions on them
/// evaluated in a scan).
pub struct EventColumn<'a>(EventList<'a>);

impl<'a> EventColumn<'a> {
    /// The events column `list`; an error when it is not one.
    pub fn new(list: &'a ListArray) -> Decode<Self> {
        EventList::new(list).map(EventColumn)
    }

    /// The events of row `row`, whose span starts at `span_start` (the column stores times
    /// since the span's start).
    pub fn events(&self, row: usize, span_start: u64) -> Decode<Vec<Event>> {
        self.0.decode(row, span_start)
    }
}

/// A block's generic attribute list column, read back one attribute at a time (for conditions
/// on values a scan cannot compare itself, such as arrays).
pub struct AttributeColumn<'a>(AttrList<'a>);

impl<'a> AttributeColumn<'a> {
    /// The generic attribute list column `list`; an error when it is not one.
    pub fn new(list: &'a ListArray) -> Decode<Self> {
        AttrList::new(list).map(AttributeColumn)
    }

    /// The first attribute of row `row` with `key`, whatever its type.
    pub fn first(&self, row: usize, key: &str) -> Decode<Option<KeyValue>> {
        self.0
            .scalars
            .first(row, key)
            .map(|j| self.0.entry(j))
            .transpose()
    }
}

/// A block's links column, read back one span's links at a time (for conditions on them
/// evaluated in a scan).
pub struct LinkColumn<'a>(LinkList<'a>);

impl<'a> LinkColumn<'a> {
    /// The links column `list`; an error when it is not one.
    pub fn new(list: &'a ListArray) -> Decode<Self> {
        LinkList::new(list).map(LinkColumn)
    }

    /// The links of row `row`.
    pub fn links(&self, row: usize) -> Decode<Vec<Link>> {
        self.0.decode(row)
    }
}

/// The links column, children typed.
struct LinkList<'a> {
    list: &'a ListArray,
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a FixedSizeBinaryArray,
    trace_state: &'a StringArray,
    attrs: AttrList<'a>,
    dropped: &'a UInt32Array,
    flags: &'a UInt32Array,
}

impl<'a> LinkList<'a> {
    fn new(list: &'a ListArray) -> Decode<Self> {
        let entries = list
            .values()
            .as_struct_opt()
            .ok_or("links of unexpected type")?;
        Ok(LinkList {
            list,
            trace_id: child(entries, "trace_id")?,
            span_id: child(entries, "span_id")?,
            trace_state: child(entries, "trace_state")?,
            attrs: AttrList::new(child(entries, "attrs")?)?,
            dropped: child(entries, "dropped_attributes_count")?,
            flags: child(entries, "flags")?,
        })
    }

    fn decode(&self, row: usize) -> Decode<Vec<Link>> {
        offsets(self.list, row)
            .map(|j| {
                let mut attributes = self.attrs.decode(j)?;
                attributes.sort_by(|a, b| a.key.cmp(&b.key));
                Ok(Link {
                    trace_id: id(self.trace_id, j)?,
                    span_id: id(self.span_id, j)?,
                    trace_state: self.trace_state.value(j).to_string(),
                    attributes,
                    dropped_attributes_count: self.dropped.value(j),
                    flags: self.flags.value(j),
                })
            })
            .collect()
    }
}

/// The positions in a list's values that row `row` covers.
fn offsets(list: &ListArray, row: usize) -> Range<usize> {
    let o = list.value_offsets();
    o[row] as usize..o[row + 1] as usize
}

pub(crate) fn column<'a, T: Array + 'static>(batch: &'a RecordBatch, name: &str) -> Decode<&'a T> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("missing column {name}"))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| format!("column {name} has an unexpected type"))
}

fn child<'a, T: Array + 'static>(s: &'a StructArray, name: &str) -> Decode<&'a T> {
    s.column_by_name(name)
        .ok_or_else(|| format!("missing field {name}"))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| format!("field {name} has an unexpected type"))
}

fn id<const N: usize>(a: &FixedSizeBinaryArray, i: usize) -> Decode<[u8; N]> {
    a.value(i)
        .try_into()
        .map_err(|_| format!("ID of length {} where {N} was expected", a.value_length()))
}

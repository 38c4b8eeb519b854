//! Traces to Arrow record batches in the block schema.

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, FixedSizeBinaryBuilder, Float64Builder, Int8Builder,
    Int32Builder, Int64Builder, ListArray, ListBuilder, RecordBatch, StringBuilder, StructArray,
    UInt8Builder, UInt32Builder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use arrow::error::ArrowError;
use rayon::prelude::*;

use crate::meta::{GenericKeys, MAX_GENERIC_KEYS};
use crate::model::{
    KeyValue, Resource, SERVICE_NAME, Span, StatusCode, Trace, TraceId, TraceSummary, Value,
};
use crate::nested_set::{self, Position};
use crate::otlp::value_to_json;
use crate::schema::{AttrType, DedicatedColumn, DedicatedScope, ScalarType};

/// A trace ready to be written: spans in row order with their positions and trace-level values.
#[derive(Clone, Debug)]
pub struct PreparedTrace {
    /// The trace ID.
    pub trace_id: TraceId,
    /// Spans in row order (nested-set order).
    pub spans: Vec<Span>,
    /// `positions[i]` belongs to `spans[i]`.
    pub positions: Vec<Position>,
    /// Earliest span start.
    pub start: u64,
    /// Latest span end.
    pub end: u64,
    /// Service of the root span (the earliest root when there are several).
    pub root_service: Option<String>,
    /// Name of the root span.
    pub root_name: Option<String>,
    /// Spans and errors per service, as JSON `[[service, spans, errors], …]`.
    pub service_stats: String,
}

impl PreparedTrace {
    /// Orders a trace's spans, computes its structure and trace-level values.
    pub fn new(trace: Trace) -> PreparedTrace {
        let structure = nested_set::compute(&trace.spans);
        let mut slots: Vec<Option<Span>> = trace.spans.into_iter().map(Some).collect();
        let mut spans = Vec::with_capacity(slots.len());
        let mut positions = Vec::with_capacity(slots.len());
        for &i in &structure.order {
            if let Some(span) = slots[i].take() {
                spans.push(span);
                positions.push(structure.positions[i]);
            }
        }
        let summary = TraceSummary::of(&spans);
        let mut stats: Vec<(String, u32, u32)> = Vec::new();
        let mut index: FxHashMap<&str, usize> = FxHashMap::default();
        for s in &spans {
            let service = s.resource.service_name();
            let i = *index.entry(service).or_insert_with(|| {
                stats.push((service.to_string(), 0, 0));
                stats.len() - 1
            });
            stats[i].1 += 1;
            stats[i].2 += u32::from(s.status_code == StatusCode::Error);
        }
        let (start, end) = (summary.start, summary.end);
        let root_service = summary.root.map(|r| r.resource.service_name().to_string());
        let root_name = summary.root.map(|r| r.name.clone());
        PreparedTrace {
            trace_id: trace.trace_id,
            root_service,
            root_name,
            service_stats: serde_json::to_string(&stats).unwrap_or_default(),
            spans,
            positions,
            start,
            end,
        }
    }
}

/// Spans examined to choose dedicated columns (evenly spread over the block).
const DEDICATED_SAMPLE: usize = 32 * 1024;

/// Picks the dedicated columns of a block: per scope, the keys whose sampled values all have one
/// scalar type and that appear on at least `min_fraction` of the sampled spans, most frequent
/// first, at most `max_per_scope`. `resource.service.name` comes first when it is a string.
///
/// A value whose type differs from its column's (possible outside the sample) stays in the
/// generic list, so the choice never loses data.
pub fn choose_dedicated(
    traces: &[PreparedTrace],
    max_per_scope: usize,
    min_fraction: f64,
) -> Vec<DedicatedColumn> {
    let total_spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    let stride = total_spans.div_ceil(DEDICATED_SAMPLE).max(1);
    let sample: Vec<&Span> = traces
        .iter()
        .flat_map(|t| &t.spans)
        .step_by(stride)
        .collect();
    let sampled = sample.len();
    // Reading sampled spans is mostly waiting on memory: the chunks are counted on every core.
    let KeySample {
        mut stats,
        resources,
    } = sample
        .par_chunks(SAMPLE_CHUNK)
        .map(|chunk| {
            let mut counts = KeySample::default();
            for span in chunk {
                counts.add(span);
            }
            counts
        })
        .reduce(KeySample::default, KeySample::merge);
    for (resource, weight) in resources.into_values() {
        for kv in &resource.attributes {
            record(&mut stats, DedicatedScope::Resource, kv, weight);
        }
    }
    let threshold = ((sampled as f64) * min_fraction).ceil().max(1.0) as usize;
    let mut chosen = Vec::new();
    for scope in [DedicatedScope::Resource, DedicatedScope::Span] {
        let mut candidates: Vec<(&str, usize, ScalarType)> = stats
            .iter()
            .filter(|((s, _), st)| *s == scope && st.count >= threshold)
            .filter_map(|((_, key), st)| st.one_type.map(|t| (*key, st.count, t)))
            .collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        if scope == DedicatedScope::Resource
            && let Some(i) = candidates
                .iter()
                .position(|c| c.0 == SERVICE_NAME && c.2 == ScalarType::String)
        {
            let c = candidates.remove(i);
            candidates.insert(0, c);
        }
        for (key, _, value_type) in candidates.into_iter().take(max_per_scope) {
            chosen.push(DedicatedColumn {
                scope,
                key: key.to_string(),
                value_type,
            });
        }
    }
    chosen
}

/// Sampled spans counted together by one task of [`choose_dedicated`].
const SAMPLE_CHUNK: usize = 4 * 1024;

/// How often a key appears in a block's sample, and its type when all its values have one
/// scalar type.
struct KeyStats {
    count: usize,
    one_type: Option<ScalarType>,
}

impl KeyStats {
    fn merge(&mut self, other: &KeyStats) {
        self.count += other.count;
        if self.one_type != other.one_type {
            self.one_type = None;
        }
    }
}

/// The span attribute keys of sampled spans, and their distinct resources with how many of the
/// sampled spans each produced (a resource's keys are counted once, weighted). Resources are
/// told apart by address: spans decoded together share one.
#[derive(Default)]
struct KeySample<'a> {
    stats: FxHashMap<(DedicatedScope, &'a str), KeyStats>,
    resources: FxHashMap<usize, (&'a Resource, usize)>,
}

impl<'a> KeySample<'a> {
    fn add(&mut self, span: &'a Span) {
        for kv in &span.attributes {
            record(&mut self.stats, DedicatedScope::Span, kv, 1);
        }
        self.resources
            .entry(Arc::as_ptr(&span.resource) as usize)
            .or_insert((&span.resource, 0))
            .1 += 1;
    }

    fn merge(mut self, other: KeySample<'a>) -> KeySample<'a> {
        for (key, stats) in other.stats {
            self.stats
                .entry(key)
                .and_modify(|s| s.merge(&stats))
                .or_insert(stats);
        }
        for (address, (resource, weight)) in other.resources {
            self.resources.entry(address).or_insert((resource, 0)).1 += weight;
        }
        self
    }
}

fn record<'a>(
    stats: &mut FxHashMap<(DedicatedScope, &'a str), KeyStats>,
    scope: DedicatedScope,
    kv: &'a KeyValue,
    weight: usize,
) {
    let value_type = scalar_type(&kv.value);
    let entry = stats.entry((scope, kv.key.as_str())).or_insert(KeyStats {
        count: 0,
        one_type: value_type,
    });
    entry.count += weight;
    if entry.one_type != value_type {
        entry.one_type = None;
    }
}

fn scalar_type(v: &Value) -> Option<ScalarType> {
    match v {
        Value::String(_) => Some(ScalarType::String),
        Value::Int(_) => Some(ScalarType::Int),
        Value::Double(_) => Some(ScalarType::Double),
        Value::Bool(_) => Some(ScalarType::Bool),
        _ => None,
    }
}

/// Builds one record batch holding `traces` (all rows of each), with the keys it put in the
/// generic attribute lists.
pub fn build_batch<'a>(
    schema: &SchemaRef,
    dedicated: &[DedicatedColumn],
    traces: &'a [PreparedTrace],
) -> Result<(RecordBatch, GenericKeySets<'a>), ArrowError> {
    let rows: usize = traces.iter().map(|t| t.spans.len()).sum();
    let slots = DedicatedSlots::new(dedicated);
    // Per distinct resource: its dedicated values and its generic attributes.
    type ResourceParts<'a> = (Vec<(usize, &'a Value)>, Vec<&'a KeyValue>);
    let mut resource_cache: FxHashMap<*const Resource, ResourceParts<'_>> = FxHashMap::default();
    let mut row: Vec<Option<&Value>> = vec![None; dedicated.len()];
    let mut generic_keys = GenericKeySets::default();

    let mut trace_id = FixedSizeBinaryBuilder::with_capacity(rows, 16);
    let mut span_id = FixedSizeBinaryBuilder::with_capacity(rows, 8);
    let mut parent_span_id = FixedSizeBinaryBuilder::with_capacity(rows, 8);
    let [mut left, mut right, mut parent_left, mut child_count] =
        std::array::from_fn(|_| Int32Builder::with_capacity(rows));
    let mut name = StringBuilder::with_capacity(rows, rows * 24);
    let [mut kind, mut status_code] = std::array::from_fn(|_| Int8Builder::with_capacity(rows));
    let mut status_message = StringBuilder::with_capacity(rows, rows * 4);
    let [mut start, mut duration, mut trace_start, mut trace_duration] =
        std::array::from_fn(|_| Int64Builder::with_capacity(rows));
    let mut trace_state = StringBuilder::with_capacity(rows, rows * 4);
    let [
        mut flags,
        mut dropped_attrs,
        mut dropped_events,
        mut dropped_links,
        mut resource_dropped,
        mut scope_dropped,
    ] = std::array::from_fn(|_| UInt32Builder::with_capacity(rows));
    let [
        mut root_service,
        mut root_name,
        mut service_stats,
        mut resource_schema_url,
        mut scope_name,
        mut scope_version,
        mut scope_schema_url,
    ] = std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 32));
    let mut span_attrs = AttrListBuilder::with_capacity(rows * 4);
    let mut resource_attrs = AttrListBuilder::with_capacity(rows);
    let mut scope_attrs = AttrListBuilder::with_capacity(rows);
    let mut events = EventListBuilder::default();
    let mut links = LinkListBuilder::default();
    let mut dedicated_builders: Vec<ScalarBuilder> = dedicated
        .iter()
        .map(|d| ScalarBuilder::new(d.value_type, rows))
        .collect();

    // Spans in row order, for reading ahead (see `read_ahead`).
    let in_order: Vec<&Span> = traces.iter().flat_map(|t| &t.spans).collect();
    let mut at = 0;
    for trace in traces {
        for (i, (span, pos)) in trace.spans.iter().zip(&trace.positions).enumerate() {
            read_ahead(&in_order, at);
            at += 1;
            trace_id.append_value(trace.trace_id)?;
            span_id.append_value(span.span_id)?;
            match span.parent_span_id {
                Some(p) => parent_span_id.append_value(p)?,
                None => parent_span_id.append_null(),
            }
            left.append_value(pos.left);
            right.append_value(pos.right);
            parent_left.append_value(pos.parent_left);
            child_count.append_value(pos.child_count);
            name.append_value(&span.name);
            kind.append_value(span.kind.code() as i8);
            status_code.append_value(span.status_code.code() as i8);
            status_message.append_value(&span.status_message);
            start.append_value(span.start_time_unix_nano as i64);
            duration.append_value(span.duration_nanos());
            trace_state.append_value(&span.trace_state);
            flags.append_value(span.flags);
            dropped_attrs.append_value(span.dropped_attributes_count);
            dropped_events.append_value(span.dropped_events_count);
            dropped_links.append_value(span.dropped_links_count);
            trace_start.append_value(trace.start as i64);
            trace_duration.append_value(trace.end.saturating_sub(trace.start) as i64);
            root_service.append_option(trace.root_service.as_deref());
            root_name.append_option(trace.root_name.as_deref());
            // Once per trace: repeating a trace's stats on each of its rows cost every row a
            // copy and a dictionary lookup of a long string.
            service_stats.append_value(if i == 0 { &trace.service_stats } else { "" });
            resource_schema_url.append_value(&span.resource.schema_url);
            resource_dropped.append_value(span.resource.dropped_attributes_count);
            scope_name.append_value(&span.scope.name);
            scope_version.append_value(&span.scope.version);
            scope_schema_url.append_value(&span.scope.schema_url);
            scope_dropped.append_value(span.scope.dropped_attributes_count);
            row.fill(None);
            let (resource_values, resource_generic) = resource_cache
                .entry(Arc::as_ptr(&span.resource))
                .or_insert_with(|| {
                    let mut values = Vec::new();
                    let mut generic = Vec::new();
                    for kv in &span.resource.attributes {
                        // A repeated key keeps its first value in the column, the rest in the
                        // generic list: duplicates are never dropped.
                        match slots.slot(DedicatedScope::Resource, kv) {
                            Some(i) if !values.iter().any(|(j, _)| *j == i) => {
                                values.push((i, &kv.value))
                            }
                            _ => {
                                generic_keys.insert(DedicatedScope::Resource, kv);
                                generic.push(kv);
                            }
                        }
                    }
                    (values, generic)
                });
            for (i, v) in resource_values.iter() {
                row[*i] = Some(*v);
            }
            resource_attrs.append_list(resource_generic.iter().copied());
            span_attrs.append_list(span.attributes.iter().filter(|kv| {
                match slots.slot(DedicatedScope::Span, kv) {
                    Some(i) if row[i].is_none() => {
                        row[i] = Some(&kv.value);
                        false
                    }
                    _ => {
                        generic_keys.insert(DedicatedScope::Span, kv);
                        true
                    }
                }
            }));
            scope_attrs.append_list(span.scope.attributes.iter());
            events.append(span);
            links.append(span)?;
            for (builder, value) in dedicated_builders.iter_mut().zip(&row) {
                builder.append(*value);
            }
        }
    }

    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(trace_id.finish()),
        Arc::new(span_id.finish()),
        Arc::new(parent_span_id.finish()),
        Arc::new(left.finish()),
        Arc::new(right.finish()),
        Arc::new(parent_left.finish()),
        Arc::new(child_count.finish()),
        Arc::new(name.finish()),
        Arc::new(kind.finish()),
        Arc::new(status_code.finish()),
        Arc::new(status_message.finish()),
        Arc::new(start.finish()),
        Arc::new(duration.finish()),
        Arc::new(trace_state.finish()),
        Arc::new(flags.finish()),
        Arc::new(dropped_attrs.finish()),
        Arc::new(dropped_events.finish()),
        Arc::new(dropped_links.finish()),
        Arc::new(trace_start.finish()),
        Arc::new(trace_duration.finish()),
        Arc::new(root_service.finish()),
        Arc::new(root_name.finish()),
        Arc::new(service_stats.finish()),
        Arc::new(resource_schema_url.finish()),
        Arc::new(resource_dropped.finish()),
        Arc::new(scope_name.finish()),
        Arc::new(scope_version.finish()),
        Arc::new(scope_schema_url.finish()),
        Arc::new(scope_dropped.finish()),
        Arc::new(span_attrs.finish(list_item(schema, crate::schema::col::SPAN_ATTRS)?)?),
        Arc::new(resource_attrs.finish(list_item(schema, crate::schema::col::RESOURCE_ATTRS)?)?),
        Arc::new(scope_attrs.finish(list_item(schema, crate::schema::col::SCOPE_ATTRS)?)?),
        Arc::new(events.finish(list_item(schema, crate::schema::col::EVENTS)?)?),
        Arc::new(links.finish(list_item(schema, crate::schema::col::LINKS)?)?),
    ];
    columns.extend(dedicated_builders.iter_mut().map(ScalarBuilder::finish));
    Ok((
        RecordBatch::try_new(Arc::clone(schema), columns)?,
        generic_keys,
    ))
}

/// The keys that batches put in their generic attribute lists, per scope: keys without a
/// dedicated column, values of another type than their column, and repeated keys; and which of
/// them hold arrays there. Gathered while the batches are built; past [`MAX_GENERIC_KEYS`] only
/// the overflow is remembered.
#[derive(Debug, Default)]
pub struct GenericKeySets<'a> {
    span: FxHashSet<&'a str>,
    resource: FxHashSet<&'a str>,
    span_arrays: FxHashSet<&'a str>,
    resource_arrays: FxHashSet<&'a str>,
    overflow: bool,
}

impl<'a> GenericKeySets<'a> {
    /// Records `kv`, put in the generic list of `scope`.
    fn insert(&mut self, scope: DedicatedScope, kv: &'a KeyValue) {
        self.insert_key(scope, &kv.key, matches!(kv.value, Value::Array(_)));
    }

    fn insert_key(&mut self, scope: DedicatedScope, key: &'a str, array: bool) {
        if self.overflow {
            return;
        }
        let (keys, arrays) = match scope {
            DedicatedScope::Span => (&mut self.span, &mut self.span_arrays),
            DedicatedScope::Resource => (&mut self.resource, &mut self.resource_arrays),
        };
        keys.insert(key);
        if array {
            arrays.insert(key);
        }
        if self.span.len() + self.resource.len() > MAX_GENERIC_KEYS {
            *self = GenericKeySets::overflowed();
        }
    }

    fn overflowed() -> Self {
        GenericKeySets {
            overflow: true,
            ..GenericKeySets::default()
        }
    }

    /// Adds the keys of `other` (the keys of another batch of the same block).
    pub fn merge(&mut self, other: GenericKeySets<'a>) {
        if other.overflow {
            *self = GenericKeySets::overflowed();
        }
        let scopes = [
            (DedicatedScope::Span, other.span, other.span_arrays),
            (
                DedicatedScope::Resource,
                other.resource,
                other.resource_arrays,
            ),
        ];
        for (scope, keys, arrays) in scopes {
            for key in keys {
                self.insert_key(scope, key, arrays.contains(key));
            }
        }
    }

    /// The block's sorted key lists, or `None` past [`MAX_GENERIC_KEYS`].
    pub fn finish(self) -> Option<GenericKeys> {
        let sorted = |keys: FxHashSet<&str>| {
            let mut v: Vec<String> = keys.into_iter().map(str::to_string).collect();
            v.sort();
            v
        };
        (!self.overflow).then(|| GenericKeys {
            span: sorted(self.span),
            resource: sorted(self.resource),
            span_arrays: Some(sorted(self.span_arrays)),
            resource_arrays: Some(sorted(self.resource_arrays)),
        })
    }
}

/// Rows read ahead together (see [`read_ahead`]).
const AHEAD: usize = 32;

/// Reads a byte of what later rows will copy, so that their memory loads are in flight
/// together. Every key and string of a span is its own allocation, far from the span and
/// long out of the cache when its row is built: building waited on one load after another.
/// Every `AHEAD` rows, a tight loop reads the spans and attribute lists of the rows two
/// blocks on, then one reads the keys and string values of the rows one block on (whose lists
/// the previous call read): loads issued back to back overlap, where loads among the work of
/// building a row did not.
fn read_ahead(in_order: &[&Span], at: usize) {
    if !at.is_multiple_of(AHEAD) {
        return;
    }
    let first_byte = |bytes: &[u8]| std::hint::black_box(bytes.first().copied());
    let block = |k: usize| in_order.iter().skip(at + k * AHEAD).take(AHEAD);
    for span in block(2) {
        std::hint::black_box(span.attributes.first().map(|kv| kv.key.len()));
    }
    for span in block(1) {
        first_byte(span.name.as_bytes());
        for kv in &span.attributes {
            first_byte(kv.key.as_bytes());
            if let Value::String(v) = &kv.value {
                first_byte(v.as_bytes());
            }
        }
    }
}

/// Where each dedicated key's values go.
struct DedicatedSlots<'a> {
    by_key: FxHashMap<(DedicatedScope, &'a str), (usize, ScalarType)>,
}

impl<'a> DedicatedSlots<'a> {
    fn new(dedicated: &'a [DedicatedColumn]) -> Self {
        let by_key = dedicated
            .iter()
            .enumerate()
            .map(|(i, d)| ((d.scope, d.key.as_str()), (i, d.value_type)))
            .collect();
        DedicatedSlots { by_key }
    }

    /// The dedicated column of `kv`, when it has one of its exact type.
    fn slot(&self, scope: DedicatedScope, kv: &KeyValue) -> Option<usize> {
        if self.by_key.is_empty() {
            return None;
        }
        let (i, t) = self.by_key.get(&(scope, kv.key.as_str()))?;
        (scalar_type(&kv.value) == Some(*t)).then_some(*i)
    }
}

/// The item field of a list column of `schema`.
fn list_item(schema: &SchemaRef, column: &str) -> Result<FieldRef, ArrowError> {
    match schema.field_with_name(column)?.data_type() {
        DataType::List(item) => Ok(Arc::clone(item)),
        other => Err(ArrowError::SchemaError(format!(
            "{column} must be a list, found {other}"
        ))),
    }
}

fn struct_fields(item: &FieldRef) -> Result<arrow::datatypes::Fields, ArrowError> {
    match item.data_type() {
        DataType::Struct(fields) => Ok(fields.clone()),
        other => Err(ArrowError::SchemaError(format!(
            "expected a struct, found {other}"
        ))),
    }
}

/// A typed nullable column for one dedicated attribute.
enum ScalarBuilder {
    String(StringBuilder),
    Int(Int64Builder),
    Double(Float64Builder),
    Bool(BooleanBuilder),
}

impl ScalarBuilder {
    fn new(t: ScalarType, rows: usize) -> Self {
        match t {
            ScalarType::String => {
                ScalarBuilder::String(StringBuilder::with_capacity(rows, rows * 8))
            }
            ScalarType::Int => ScalarBuilder::Int(Int64Builder::with_capacity(rows)),
            ScalarType::Double => ScalarBuilder::Double(Float64Builder::with_capacity(rows)),
            ScalarType::Bool => ScalarBuilder::Bool(BooleanBuilder::with_capacity(rows)),
        }
    }

    /// Appends the value, or null when absent or of another type.
    fn append(&mut self, value: Option<&Value>) {
        match (self, value) {
            (ScalarBuilder::String(b), Some(Value::String(s))) => b.append_value(s),
            (ScalarBuilder::Int(b), Some(Value::Int(i))) => b.append_value(*i),
            (ScalarBuilder::Double(b), Some(Value::Double(d))) => b.append_value(*d),
            (ScalarBuilder::Bool(b), Some(Value::Bool(v))) => b.append_value(*v),
            (ScalarBuilder::String(b), _) => b.append_null(),
            (ScalarBuilder::Int(b), _) => b.append_null(),
            (ScalarBuilder::Double(b), _) => b.append_null(),
            (ScalarBuilder::Bool(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ScalarBuilder::String(b) => Arc::new(b.finish()),
            ScalarBuilder::Int(b) => Arc::new(b.finish()),
            ScalarBuilder::Double(b) => Arc::new(b.finish()),
            ScalarBuilder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// Builds a list column of generic attribute entries, one list per row.
#[derive(Default)]
struct AttrListBuilder {
    offsets: Vec<i32>,
    key: StringBuilder,
    ty: UInt8Builder,
    str: StringBuilder,
    int: Int64Builder,
    double: Float64Builder,
    bool: BooleanBuilder,
    str_array: ListBuilder<StringBuilder>,
    int_array: ListBuilder<Int64Builder>,
    double_array: ListBuilder<Float64Builder>,
    bool_array: ListBuilder<BooleanBuilder>,
    bytes: BinaryBuilder,
    json: StringBuilder,
    len: i32,
}

impl AttrListBuilder {
    /// A builder with room for about `entries` entries.
    fn with_capacity(entries: usize) -> Self {
        AttrListBuilder {
            offsets: Vec::with_capacity(entries / 2 + 1),
            key: StringBuilder::with_capacity(entries, entries * 16),
            ty: UInt8Builder::with_capacity(entries),
            str: StringBuilder::with_capacity(entries, entries * 16),
            int: Int64Builder::with_capacity(entries),
            double: Float64Builder::with_capacity(entries),
            bool: BooleanBuilder::with_capacity(entries),
            bytes: BinaryBuilder::with_capacity(entries, 0),
            json: StringBuilder::with_capacity(entries, 0),
            ..AttrListBuilder::default()
        }
    }

    fn append_list<'a>(&mut self, kvs: impl Iterator<Item = &'a KeyValue>) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        for kv in kvs {
            self.append_entry(kv);
            self.len += 1;
        }
        self.offsets.push(self.len);
    }

    fn append_entry(&mut self, kv: &KeyValue) {
        let ty = attr_type(&kv.value);
        self.key.append_value(&kv.key);
        self.ty.append_value(ty as u8);
        match &kv.value {
            Value::String(s) => self.str.append_value(s),
            _ => self.str.append_null(),
        }
        match &kv.value {
            Value::Int(i) => self.int.append_value(*i),
            _ => self.int.append_null(),
        }
        match &kv.value {
            Value::Double(d) => self.double.append_value(*d),
            _ => self.double.append_null(),
        }
        match &kv.value {
            Value::Bool(b) => self.bool.append_value(*b),
            _ => self.bool.append_null(),
        }
        let elements = match &kv.value {
            Value::Array(a) => a.as_slice(),
            _ => &[],
        };
        if ty == AttrType::StringArray {
            for v in elements {
                if let Value::String(s) = v {
                    self.str_array.values().append_value(s);
                }
            }
        }
        self.str_array.append(ty == AttrType::StringArray);
        if ty == AttrType::IntArray {
            for v in elements {
                if let Value::Int(i) = v {
                    self.int_array.values().append_value(*i);
                }
            }
        }
        self.int_array.append(ty == AttrType::IntArray);
        if ty == AttrType::DoubleArray {
            for v in elements {
                if let Value::Double(d) = v {
                    self.double_array.values().append_value(*d);
                }
            }
        }
        self.double_array.append(ty == AttrType::DoubleArray);
        if ty == AttrType::BoolArray {
            for v in elements {
                if let Value::Bool(b) = v {
                    self.bool_array.values().append_value(*b);
                }
            }
        }
        self.bool_array.append(ty == AttrType::BoolArray);
        match &kv.value {
            Value::Bytes(b) => self.bytes.append_value(b),
            _ => self.bytes.append_null(),
        }
        match ty {
            AttrType::KvList | AttrType::OtherArray => {
                self.json.append_value(value_to_json(&kv.value).to_string())
            }
            _ => self.json.append_null(),
        }
    }

    fn finish(&mut self, item: FieldRef) -> Result<ListArray, ArrowError> {
        let fields = struct_fields(&item)?;
        let values = StructArray::try_new(
            fields,
            vec![
                Arc::new(self.key.finish()),
                Arc::new(self.ty.finish()),
                Arc::new(self.str.finish()),
                Arc::new(self.int.finish()),
                Arc::new(self.double.finish()),
                Arc::new(self.bool.finish()),
                Arc::new(self.str_array.finish()),
                Arc::new(self.int_array.finish()),
                Arc::new(self.double_array.finish()),
                Arc::new(self.bool_array.finish()),
                Arc::new(self.bytes.finish()),
                Arc::new(self.json.finish()),
            ],
            None,
        )?;
        self.len = 0;
        list_array(item, &mut self.offsets, values)
    }
}

/// A list column from row offsets (taken, so the builder can start over) and its values.
fn list_array(
    item: FieldRef,
    offsets: &mut Vec<i32>,
    values: StructArray,
) -> Result<ListArray, ArrowError> {
    let mut offsets = std::mem::take(offsets);
    if offsets.is_empty() {
        offsets.push(0);
    }
    ListArray::try_new(
        item,
        OffsetBuffer::new(offsets.into()),
        Arc::new(values),
        None,
    )
}

/// How a value is stored in a generic attribute entry.
pub(crate) fn attr_type(v: &Value) -> AttrType {
    match v {
        Value::String(_) => AttrType::String,
        Value::Int(_) => AttrType::Int,
        Value::Double(_) => AttrType::Double,
        Value::Bool(_) => AttrType::Bool,
        Value::Bytes(_) => AttrType::Bytes,
        Value::KvList(_) => AttrType::KvList,
        Value::Array(a) => {
            let all = |f: fn(&Value) -> bool| !a.is_empty() && a.iter().all(f);
            if all(|v| matches!(v, Value::String(_))) {
                AttrType::StringArray
            } else if all(|v| matches!(v, Value::Int(_))) {
                AttrType::IntArray
            } else if all(|v| matches!(v, Value::Double(_))) {
                AttrType::DoubleArray
            } else if all(|v| matches!(v, Value::Bool(_))) {
                AttrType::BoolArray
            } else {
                AttrType::OtherArray
            }
        }
    }
}

/// Builds the `events` column.
#[derive(Default)]
struct EventListBuilder {
    offsets: Vec<i32>,
    time: Int64Builder,
    name: StringBuilder,
    attrs: AttrListBuilder,
    dropped: UInt32Builder,
    len: i32,
}

impl EventListBuilder {
    fn append(&mut self, span: &Span) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        for e in &span.events {
            self.time
                .append_value(e.time_unix_nano.wrapping_sub(span.start_time_unix_nano) as i64);
            self.name.append_value(&e.name);
            self.attrs.append_list(e.attributes.iter());
            self.dropped.append_value(e.dropped_attributes_count);
            self.len += 1;
        }
        self.offsets.push(self.len);
    }

    fn finish(&mut self, item: FieldRef) -> Result<ListArray, ArrowError> {
        let fields = struct_fields(&item)?;
        let attrs_item = match fields[2].data_type() {
            DataType::List(i) => Arc::clone(i),
            other => {
                return Err(ArrowError::SchemaError(format!(
                    "event attrs must be a list, found {other}"
                )));
            }
        };
        let values = StructArray::try_new(
            fields,
            vec![
                Arc::new(self.time.finish()),
                Arc::new(self.name.finish()),
                Arc::new(self.attrs.finish(attrs_item)?),
                Arc::new(self.dropped.finish()),
            ],
            None,
        )?;
        self.len = 0;
        list_array(item, &mut self.offsets, values)
    }
}

/// Builds the `links` column.
struct LinkListBuilder {
    offsets: Vec<i32>,
    trace_id: FixedSizeBinaryBuilder,
    span_id: FixedSizeBinaryBuilder,
    trace_state: StringBuilder,
    attrs: AttrListBuilder,
    dropped: UInt32Builder,
    flags: UInt32Builder,
    len: i32,
}

impl Default for LinkListBuilder {
    fn default() -> Self {
        LinkListBuilder {
            offsets: Vec::new(),
            trace_id: FixedSizeBinaryBuilder::new(16),
            span_id: FixedSizeBinaryBuilder::new(8),
            trace_state: StringBuilder::new(),
            attrs: AttrListBuilder::default(),
            dropped: UInt32Builder::new(),
            flags: UInt32Builder::new(),
            len: 0,
        }
    }
}

impl LinkListBuilder {
    fn append(&mut self, span: &Span) -> Result<(), ArrowError> {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        for l in &span.links {
            self.trace_id.append_value(l.trace_id)?;
            self.span_id.append_value(l.span_id)?;
            self.trace_state.append_value(&l.trace_state);
            self.attrs.append_list(l.attributes.iter());
            self.dropped.append_value(l.dropped_attributes_count);
            self.flags.append_value(l.flags);
            self.len += 1;
        }
        self.offsets.push(self.len);
        Ok(())
    }

    fn finish(&mut self, item: FieldRef) -> Result<ListArray, ArrowError> {
        let fields = struct_fields(&item)?;
        let attrs_item = match fields[3].data_type() {
            DataType::List(i) => Arc::clone(i),
            other => {
                return Err(ArrowError::SchemaError(format!(
                    "link attrs must be a list, found {other}"
                )));
            }
        };
        let values = StructArray::try_new(
            fields,
            vec![
                Arc::new(self.trace_id.finish()),
                Arc::new(self.span_id.finish()),
                Arc::new(self.trace_state.finish()),
                Arc::new(self.attrs.finish(attrs_item)?),
                Arc::new(self.dropped.finish()),
                Arc::new(self.flags.finish()),
            ],
            None,
        )?;
        self.len = 0;
        list_array(item, &mut self.offsets, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<'a>(span: &[&'a str], resource: &[&'a str]) -> GenericKeySets<'a> {
        let mut sets = GenericKeySets::default();
        span.iter()
            .for_each(|k| sets.insert_key(DedicatedScope::Span, k, false));
        resource
            .iter()
            .for_each(|k| sets.insert_key(DedicatedScope::Resource, k, false));
        sets
    }

    #[test]
    fn merged_key_sets_list_the_sorted_union_per_scope() {
        let mut a = keys(&["b", "a"], &["r"]);
        a.merge(keys(&["c", "a"], &[]));
        let listed = a.finish().expect("within the bound");
        assert_eq!(listed.span, ["a", "b", "c"]);
        assert_eq!(listed.resource, ["r"]);
    }

    fn refs(keys: &[String]) -> Vec<&str> {
        keys.iter().map(String::as_str).collect()
    }

    #[test]
    fn more_keys_than_the_bound_list_none() {
        let names: Vec<String> = (0..=MAX_GENERIC_KEYS).map(|i| format!("k{i}")).collect();
        let (first, rest) = names.split_at(MAX_GENERIC_KEYS / 2);
        // Each half is within the bound; the union is one key past it.
        let mut merged = keys(&refs(first), &[]);
        merged.merge(keys(&[], &refs(rest)));
        assert_eq!(merged.finish(), None);
        // Overflow on either side survives a merge with a small set, in both orders.
        let mut small = keys(&["a"], &[]);
        small.merge(keys(&refs(&names), &[]));
        assert_eq!(small.finish(), None);
        let mut big = keys(&refs(&names), &[]);
        big.merge(keys(&["a"], &[]));
        assert_eq!(big.finish(), None);
    }
}

//! Spans in memory: what OTLP decoding produces and what a block stores and reads back.

use std::sync::Arc;

/// A 16-byte trace ID.
pub type TraceId = [u8; 16];
/// An 8-byte span ID.
pub type SpanId = [u8; 8];

/// An attribute value, as OTLP's `AnyValue`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    String(String),
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// Raw bytes (kept, not queryable).
    Bytes(Vec<u8>),
    /// An array of values.
    Array(Vec<Value>),
    /// A nested key/value list (kept, not queryable).
    KvList(Vec<KeyValue>),
}

impl Value {
    /// Heap bytes the value holds beyond its own size (string and byte contents, elements).
    pub fn heap_len(&self) -> usize {
        match self {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Array(items) => items
                .iter()
                .map(|v| size_of::<Value>() + v.heap_len())
                .sum(),
            Value::KvList(kvs) => kvs
                .iter()
                .map(|kv| size_of::<KeyValue>() + kv.key.len() + kv.value.heap_len())
                .sum(),
            Value::Int(_) | Value::Double(_) | Value::Bool(_) => 0,
        }
    }
}

/// A named attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute's key.
    pub key: String,
    /// Its value.
    pub value: Value,
}

impl KeyValue {
    /// A key/value pair.
    pub fn new(key: impl Into<String>, value: Value) -> Self {
        KeyValue {
            key: key.into(),
            value,
        }
    }
}

/// The resource that produced spans (shared by the spans of one OTLP `ResourceSpans`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// Resource attributes (`service.name`, `k8s.pod.name`, …).
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
    /// The schema URL of the resource spans.
    pub schema_url: String,
}

/// The resource attribute naming a span's service.
pub const SERVICE_NAME: &str = "service.name";

impl Resource {
    /// The `service.name` attribute, or "" when absent or not a string.
    pub fn service_name(&self) -> &str {
        self.attributes
            .iter()
            .find(|kv| kv.key == SERVICE_NAME)
            .and_then(|kv| match &kv.value {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or("")
    }
}

/// The instrumentation scope that produced spans.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    /// Scope name.
    pub name: String,
    /// Scope version.
    pub version: String,
    /// Scope attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
    /// The schema URL of the scope spans.
    pub schema_url: String,
}

/// OTLP span kinds (protocol codes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// 0
    #[default]
    Unspecified,
    /// 1
    Internal,
    /// 2
    Server,
    /// 3
    Client,
    /// 4
    Producer,
    /// 5
    Consumer,
}

impl SpanKind {
    /// The kind for an OTLP code; unknown codes read as unspecified.
    pub fn from_code(code: i32) -> SpanKind {
        match code {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }

    /// The OTLP code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// OTLP status codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// 0
    #[default]
    Unset,
    /// 1
    Ok,
    /// 2
    Error,
}

impl StatusCode {
    /// The status for an OTLP code; unknown codes read as unset.
    pub fn from_code(code: i32) -> StatusCode {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    /// The OTLP code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A span event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// When it happened.
    pub time_unix_nano: u64,
    /// Its name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
}

/// A link to another span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// W3C trace state of the link.
    pub trace_state: String,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
    /// W3C trace flags.
    pub flags: u32,
}

/// One span with its resource and scope.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Span {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its ID.
    pub span_id: SpanId,
    /// Its parent's ID; `None` for a root.
    pub parent_span_id: Option<SpanId>,
    /// W3C trace state.
    pub trace_state: String,
    /// W3C trace flags.
    pub flags: u32,
    /// Operation name.
    pub name: String,
    /// Span kind.
    pub kind: SpanKind,
    /// Start time.
    pub start_time_unix_nano: u64,
    /// End time.
    pub end_time_unix_nano: u64,
    /// Span attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer dropped.
    pub dropped_attributes_count: u32,
    /// Events.
    pub events: Vec<Event>,
    /// Events the producer dropped.
    pub dropped_events_count: u32,
    /// Links.
    pub links: Vec<Link>,
    /// Links the producer dropped.
    pub dropped_links_count: u32,
    /// Status code.
    pub status_code: StatusCode,
    /// Status message.
    pub status_message: String,
    /// The resource that produced the span.
    pub resource: Arc<Resource>,
    /// The instrumentation scope that produced the span.
    pub scope: Arc<Scope>,
}

impl Span {
    /// `end - start` in nanoseconds (negative for malformed spans).
    pub fn duration_nanos(&self) -> i64 {
        self.end_time_unix_nano
            .wrapping_sub(self.start_time_unix_nano) as i64
    }
}

/// The spans of one trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// The trace's ID.
    pub trace_id: TraceId,
    /// Its spans, in no particular order.
    pub spans: Vec<Span>,
}

impl Trace {
    /// About how many bytes the trace takes in memory: the spans themselves plus their names,
    /// attributes, events and links (resources and scopes are shared and not counted).
    pub fn heap_estimate(&self) -> u64 {
        fn attributes(kvs: &[KeyValue]) -> usize {
            kvs.iter()
                .map(|kv| size_of::<KeyValue>() + kv.key.len() + kv.value.heap_len())
                .sum()
        }
        let spans: usize = self
            .spans
            .iter()
            .map(|s| {
                size_of::<Span>()
                    + s.name.len()
                    + s.trace_state.len()
                    + s.status_message.len()
                    + attributes(&s.attributes)
                    + s.events
                        .iter()
                        .map(|e| size_of::<Event>() + e.name.len() + attributes(&e.attributes))
                        .sum::<usize>()
                    + s.links
                        .iter()
                        .map(|l| {
                            size_of::<Link>() + l.trace_state.len() + attributes(&l.attributes)
                        })
                        .sum::<usize>()
            })
            .sum();
        (size_of::<Trace>() + spans) as u64
    }
}

/// Trace-level values derived from a trace's spans.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceSummary<'a> {
    /// Earliest span start.
    pub start: u64,
    /// Latest span end (a span ending before it starts counts as ending at its start).
    pub end: u64,
    /// The root span: the earliest span without a parent, if any.
    pub root: Option<&'a Span>,
}

impl<'a> TraceSummary<'a> {
    /// Summarises `spans` (of one trace).
    pub fn of(spans: &'a [Span]) -> TraceSummary<'a> {
        TraceSummary {
            start: spans
                .iter()
                .map(|s| s.start_time_unix_nano)
                .min()
                .unwrap_or(0),
            end: spans
                .iter()
                .map(|s| s.end_time_unix_nano.max(s.start_time_unix_nano))
                .max()
                .unwrap_or(0),
            root: spans
                .iter()
                .filter(|s| s.parent_span_id.is_none())
                .min_by_key(|s| (s.start_time_unix_nano, s.span_id)),
        }
    }

    /// `end - start`.
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

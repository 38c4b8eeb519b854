//! OTLP protobuf: the trace messages of `opentelemetry/proto/trace/v1/trace.proto` (and the
//! common and resource messages they use), declared with prost. `TracesData` and
//! `ExportTraceServiceRequest` share one wire format.

use std::sync::Arc;

use prost::Message;

use super::DecodeError;
use crate::model::{
    Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, Value,
};

/// `TracesData` / `ExportTraceServiceRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct TracesData {
    /// Spans grouped by resource.
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// Spans of one resource.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceSpans {
    /// The resource.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<ResourceProto>,
    /// Spans grouped by scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
    /// Schema URL.
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `Resource`.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceProto {
    /// Attributes.
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValueProto>,
    /// Dropped attributes.
    #[prost(uint32, tag = "2")]
    pub dropped_attributes_count: u32,
}

/// Spans of one instrumentation scope.
#[derive(Clone, PartialEq, Message)]
pub struct ScopeSpans {
    /// The scope.
    #[prost(message, optional, tag = "1")]
    pub scope: Option<ScopeProto>,
    /// The spans.
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<SpanProto>,
    /// Schema URL.
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `InstrumentationScope`.
#[derive(Clone, PartialEq, Message)]
pub struct ScopeProto {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Version.
    #[prost(string, tag = "2")]
    pub version: String,
    /// Attributes.
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<KeyValueProto>,
    /// Dropped attributes.
    #[prost(uint32, tag = "4")]
    pub dropped_attributes_count: u32,
}

/// `Span`.
#[derive(Clone, PartialEq, Message)]
pub struct SpanProto {
    /// 16 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// 8 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// W3C trace state.
    #[prost(string, tag = "3")]
    pub trace_state: String,
    /// 8 bytes, or empty for a root.
    #[prost(bytes = "vec", tag = "4")]
    pub parent_span_id: Vec<u8>,
    /// W3C flags.
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
    /// Name.
    #[prost(string, tag = "5")]
    pub name: String,
    /// Kind code.
    #[prost(int32, tag = "6")]
    pub kind: i32,
    /// Start.
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    /// End.
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    /// Attributes.
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValueProto>,
    /// Dropped attributes.
    #[prost(uint32, tag = "10")]
    pub dropped_attributes_count: u32,
    /// Events.
    #[prost(message, repeated, tag = "11")]
    pub events: Vec<EventProto>,
    /// Dropped events.
    #[prost(uint32, tag = "12")]
    pub dropped_events_count: u32,
    /// Links.
    #[prost(message, repeated, tag = "13")]
    pub links: Vec<LinkProto>,
    /// Dropped links.
    #[prost(uint32, tag = "14")]
    pub dropped_links_count: u32,
    /// Status.
    #[prost(message, optional, tag = "15")]
    pub status: Option<StatusProto>,
}

/// `Span.Event`.
#[derive(Clone, PartialEq, Message)]
pub struct EventProto {
    /// Time.
    #[prost(fixed64, tag = "1")]
    pub time_unix_nano: u64,
    /// Name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Attributes.
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<KeyValueProto>,
    /// Dropped attributes.
    #[prost(uint32, tag = "4")]
    pub dropped_attributes_count: u32,
}

/// `Span.Link`.
#[derive(Clone, PartialEq, Message)]
pub struct LinkProto {
    /// 16 bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// 8 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// W3C trace state.
    #[prost(string, tag = "3")]
    pub trace_state: String,
    /// Attributes.
    #[prost(message, repeated, tag = "4")]
    pub attributes: Vec<KeyValueProto>,
    /// Dropped attributes.
    #[prost(uint32, tag = "5")]
    pub dropped_attributes_count: u32,
    /// W3C flags.
    #[prost(fixed32, tag = "6")]
    pub flags: u32,
}

/// `Status`.
#[derive(Clone, PartialEq, Message)]
pub struct StatusProto {
    /// Message.
    #[prost(string, tag = "2")]
    pub message: String,
    /// Code.
    #[prost(int32, tag = "3")]
    pub code: i32,
}

/// `KeyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValueProto {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValueProto>,
}

/// `AnyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct AnyValueProto {
    /// The value.
    #[prost(oneof = "AnyValueKind", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<AnyValueKind>,
}

/// The forms of `AnyValue`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum AnyValueKind {
    /// String.
    #[prost(string, tag = "1")]
    StringValue(String),
    /// Bool.
    #[prost(bool, tag = "2")]
    BoolValue(bool),
    /// Int.
    #[prost(int64, tag = "3")]
    IntValue(i64),
    /// Double.
    #[prost(double, tag = "4")]
    DoubleValue(f64),
    /// Array.
    #[prost(message, tag = "5")]
    ArrayValue(ArrayValueProto),
    /// Key/value list.
    #[prost(message, tag = "6")]
    KvlistValue(KeyValueListProto),
    /// Bytes.
    #[prost(bytes = "vec", tag = "7")]
    BytesValue(Vec<u8>),
}

/// `ArrayValue`.
#[derive(Clone, PartialEq, Message)]
pub struct ArrayValueProto {
    /// Elements.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValueProto>,
}

/// `KeyValueList`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValueListProto {
    /// Entries.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<KeyValueProto>,
}

/// Decodes one protobuf `TracesData` / `ExportTraceServiceRequest` into `sink`.
pub(super) fn decode(bytes: &[u8], sink: &mut Vec<Span>) -> Result<(), DecodeError> {
    let data = TracesData::decode(bytes)
        .map_err(|e| DecodeError::new(format!("invalid OTLP protobuf: {e}")))?;
    sink.reserve(
        (data.resource_spans.iter())
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum(),
    );
    for (ri, rs) in data.resource_spans.into_iter().enumerate() {
        let resource = Arc::new(match rs.resource {
            Some(r) => Resource {
                attributes: key_values(r.attributes),
                dropped_attributes_count: r.dropped_attributes_count,
                schema_url: rs.schema_url,
            },
            None => Resource {
                schema_url: rs.schema_url,
                ..Resource::default()
            },
        });
        for (si, ss) in rs.scope_spans.into_iter().enumerate() {
            let scope = Arc::new(match ss.scope {
                Some(s) => Scope {
                    name: s.name,
                    version: s.version,
                    attributes: key_values(s.attributes),
                    dropped_attributes_count: s.dropped_attributes_count,
                    schema_url: ss.schema_url,
                },
                None => Scope {
                    schema_url: ss.schema_url,
                    ..Scope::default()
                },
            });
            for (pi, span) in ss.spans.into_iter().enumerate() {
                let at = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{pi}]");
                let span = convert_span(span, &resource, &scope).map_err(|e| e.at(at()))?;
                sink.push(span);
            }
        }
    }
    Ok(())
}

fn convert_span(
    s: SpanProto,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
) -> Result<Span, DecodeError> {
    let links = s
        .links
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(Link {
                trace_id: trace_id(&l.trace_id).map_err(|e| e.at(format!("links[{i}]")))?,
                span_id: span_id(&l.span_id).map_err(|e| e.at(format!("links[{i}]")))?,
                trace_state: l.trace_state,
                attributes: key_values(l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
        })
        .collect::<Result<_, DecodeError>>()?;
    let status = s.status.unwrap_or(StatusProto {
        message: String::new(),
        code: 0,
    });
    Ok(Span {
        trace_id: trace_id(&s.trace_id)?,
        span_id: span_id(&s.span_id)?,
        parent_span_id: parent_span_id(&s.parent_span_id)?,
        trace_state: s.trace_state,
        flags: s.flags,
        name: s.name,
        kind: SpanKind::from_code(s.kind),
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: key_values(s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .into_iter()
            .map(|e| Event {
                time_unix_nano: e.time_unix_nano,
                name: e.name,
                attributes: key_values(e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links,
        dropped_links_count: s.dropped_links_count,
        status_code: StatusCode::from_code(status.code),
        status_message: status.message,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

/// Checks a trace ID's length.
pub(crate) fn trace_id(bytes: &[u8]) -> Result<TraceId, DecodeError> {
    bytes
        .try_into()
        .map_err(|_| DecodeError::new(format!("trace ID must be 16 bytes, found {}", bytes.len())))
}

/// Checks a span ID's length.
pub(crate) fn span_id(bytes: &[u8]) -> Result<SpanId, DecodeError> {
    bytes
        .try_into()
        .map_err(|_| DecodeError::new(format!("span ID must be 8 bytes, found {}", bytes.len())))
}

/// An empty or all-zero parent ID means "no parent".
pub(crate) fn parent_span_id(bytes: &[u8]) -> Result<Option<SpanId>, DecodeError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let id = span_id(bytes).map_err(|e| e.at("parentSpanId".to_string()))?;
    Ok((id != [0; 8]).then_some(id))
}

fn key_values(kvs: Vec<KeyValueProto>) -> Vec<KeyValue> {
    kvs.into_iter()
        .map(|kv| KeyValue {
            key: kv.key,
            value: any_value(kv.value),
        })
        .collect()
}

fn any_value(v: Option<AnyValueProto>) -> Value {
    match v.and_then(|v| v.value) {
        Some(AnyValueKind::StringValue(s)) => Value::String(s),
        Some(AnyValueKind::BoolValue(b)) => Value::Bool(b),
        Some(AnyValueKind::IntValue(i)) => Value::Int(i),
        Some(AnyValueKind::DoubleValue(d)) => Value::Double(d),
        Some(AnyValueKind::ArrayValue(a)) => {
            Value::Array(a.values.into_iter().map(|v| any_value(Some(v))).collect())
        }
        Some(AnyValueKind::KvlistValue(kv)) => Value::KvList(key_values(kv.values)),
        Some(AnyValueKind::BytesValue(b)) => Value::Bytes(b),
        None => Value::String(String::new()),
    }
}

/// Encodes spans as one `TracesData` message with one `ResourceSpans` per distinct resource
/// and one `ScopeSpans` per distinct scope in it, as SDKs and collectors batch them. The
/// inverse of [`decode`] (up to the order of spans).
pub fn encode(spans: &[Span]) -> Vec<u8> {
    let data = TracesData {
        resource_spans: super::group_by_resource_and_scope(spans)
            .into_iter()
            .map(|(resource, scopes)| ResourceSpans {
                resource: Some(resource_proto(resource)),
                schema_url: resource.schema_url.clone(),
                scope_spans: scopes
                    .into_iter()
                    .map(|(scope, spans)| ScopeSpans {
                        scope: Some(scope_proto(scope)),
                        schema_url: scope.schema_url.clone(),
                        spans: spans.into_iter().map(span_proto).collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    data.encode_to_vec()
}

fn resource_proto(r: &Resource) -> ResourceProto {
    ResourceProto {
        attributes: key_values_proto(&r.attributes),
        dropped_attributes_count: r.dropped_attributes_count,
    }
}

fn scope_proto(s: &Scope) -> ScopeProto {
    ScopeProto {
        name: s.name.clone(),
        version: s.version.clone(),
        attributes: key_values_proto(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
    }
}

fn span_proto(s: &Span) -> SpanProto {
    SpanProto {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        trace_state: s.trace_state.clone(),
        parent_span_id: s.parent_span_id.map(|p| p.to_vec()).unwrap_or_default(),
        flags: s.flags,
        name: s.name.clone(),
        kind: s.kind.code(),
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: key_values_proto(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| EventProto {
                time_unix_nano: e.time_unix_nano,
                name: e.name.clone(),
                attributes: key_values_proto(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: s
            .links
            .iter()
            .map(|l| LinkProto {
                trace_id: l.trace_id.to_vec(),
                span_id: l.span_id.to_vec(),
                trace_state: l.trace_state.clone(),
                attributes: key_values_proto(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: s.dropped_links_count,
        status: Some(StatusProto {
            message: s.status_message.clone(),
            code: s.status_code.code(),
        }),
    }
}

fn key_values_proto(kvs: &[KeyValue]) -> Vec<KeyValueProto> {
    kvs.iter()
        .map(|kv| KeyValueProto {
            key: kv.key.clone(),
            value: Some(any_value_proto(&kv.value)),
        })
        .collect()
}

fn any_value_proto(v: &Value) -> AnyValueProto {
    let kind = match v {
        Value::String(s) => AnyValueKind::StringValue(s.clone()),
        Value::Int(i) => AnyValueKind::IntValue(*i),
        Value::Double(d) => AnyValueKind::DoubleValue(*d),
        Value::Bool(b) => AnyValueKind::BoolValue(*b),
        Value::Bytes(b) => AnyValueKind::BytesValue(b.clone()),
        Value::Array(a) => AnyValueKind::ArrayValue(ArrayValueProto {
            values: a.iter().map(any_value_proto).collect(),
        }),
        Value::KvList(kvs) => AnyValueKind::KvlistValue(KeyValueListProto {
            values: key_values_proto(kvs),
        }),
    };
    AnyValueProto { value: Some(kind) }
}

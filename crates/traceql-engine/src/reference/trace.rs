//! One trace as the reference evaluator sees it: spans with their structure, and how
//! attributes and intrinsics resolve for a span (spec sections 4, 5 and 7.1).

use traceql_storage::model::{
    Event, KeyValue, Link, Span, SpanKind, StatusCode, Trace, TraceId, TraceSummary, Value,
};
use traceql_storage::nested_set::{self, Position};
use traceql_syntax::ast::{Attribute, Field, Intrinsic, Kind, Scope, Status};

use crate::value::Val;

/// A trace with each span's structural position and the trace-level values.
#[derive(Debug)]
pub struct TraceView {
    /// The trace ID.
    pub trace_id: TraceId,
    /// Spans, in the order given.
    pub spans: Vec<Span>,
    /// `positions[i]` belongs to `spans[i]`.
    pub positions: Vec<Position>,
    /// Earliest span start.
    pub start: u64,
    /// Latest span end minus `start`.
    pub duration: u64,
    /// Service of the root span, if the trace has one.
    pub root_service: Option<String>,
    /// Name of the root span.
    pub root_name: Option<String>,
}

impl TraceView {
    /// Computes structure and trace-level values.
    pub fn new(trace: Trace) -> TraceView {
        let structure = nested_set::compute(&trace.spans);
        let summary = TraceSummary::of(&trace.spans);
        let (start, duration) = (summary.start, summary.duration());
        let root = summary.root;
        TraceView {
            trace_id: trace.trace_id,
            root_service: root.map(|r| r.resource.service_name().to_string()),
            root_name: root.map(|r| r.name.clone()),
            positions: structure.positions,
            start,
            duration,
            spans: trace.spans,
        }
    }
}

impl TraceView {
    /// The context of span `index`, without an event or link.
    pub fn context(&self, index: usize) -> SpanContext<'_> {
        SpanContext {
            trace: self,
            index,
            event: None,
            link: None,
        }
    }
}

/// What a span is evaluated with: the span, and the event and link the expression looks at
/// (a span with events or links is evaluated once per event / link; it matches if any does).
#[derive(Clone, Copy)]
pub struct SpanContext<'a> {
    /// The trace.
    pub trace: &'a TraceView,
    /// Index of the span in the trace.
    pub index: usize,
    /// The event under consideration, if any.
    pub event: Option<&'a Event>,
    /// The link under consideration, if any.
    pub link: Option<&'a Link>,
}

impl<'a> SpanContext<'a> {
    fn span(&self) -> &'a Span {
        &self.trace.spans[self.index]
    }

    /// The value of an attribute or intrinsic for this span (nil when missing).
    pub fn field(&self, f: &Field) -> Val {
        match f {
            Field::Attribute(a) => self.attribute(a),
            Field::Intrinsic(i) => self.intrinsic(*i),
        }
    }

    /// The value of an attribute for this span (nil when missing).
    pub fn attribute(&self, a: &Attribute) -> Val {
        let span = self.span();
        let find = |kvs: &[KeyValue]| {
            kvs.iter()
                .find(|kv| kv.key == a.name)
                .map(|kv| value(&kv.value))
        };
        let found = match a.scope {
            Scope::Span => find(&span.attributes),
            Scope::Resource => find(&span.resource.attributes),
            Scope::Instrumentation => find(&span.scope.attributes),
            Scope::Event => self.event.and_then(|e| find(&e.attributes)),
            Scope::Link => self.link.and_then(|l| find(&l.attributes)),
            // The span's key shadows the resource's, whatever its value.
            Scope::Unscoped => find(&span.attributes).or_else(|| find(&span.resource.attributes)),
        };
        found.unwrap_or(Val::Nil)
    }

    /// The value of an intrinsic for this span.
    pub fn intrinsic(&self, i: Intrinsic) -> Val {
        let span = self.span();
        let position = self.trace.positions[self.index];
        match i {
            Intrinsic::Duration => Val::Duration(span.duration_nanos()),
            Intrinsic::Name => Val::Str(span.name.clone()),
            Intrinsic::Status => Val::Status(status(span.status_code)),
            Intrinsic::StatusMessage => Val::Str(span.status_message.clone()),
            Intrinsic::Kind => Val::Kind(kind(span.kind)),
            Intrinsic::SpanId => Val::Str(hex::encode(span.span_id)),
            Intrinsic::ParentId => {
                Val::Str(span.parent_span_id.map(hex::encode).unwrap_or_default())
            }
            Intrinsic::ChildCount => Val::Int(i64::from(position.child_count)),
            Intrinsic::TraceRootName => Val::Str(self.trace.root_name.clone().unwrap_or_default()),
            Intrinsic::TraceRootService => {
                Val::Str(self.trace.root_service.clone().unwrap_or_default())
            }
            Intrinsic::TraceDuration => Val::Duration(self.trace.duration as i64),
            Intrinsic::TraceId => Val::Str(trace_id_hex(&self.trace.trace_id)),
            Intrinsic::EventName => self.event.map_or(Val::Nil, |e| Val::Str(e.name.clone())),
            Intrinsic::EventTimeSinceStart => self.event.map_or(Val::Nil, |e| {
                Val::Duration(e.time_unix_nano.wrapping_sub(span.start_time_unix_nano) as i64)
            }),
            Intrinsic::LinkTraceId => self
                .link
                .map_or(Val::Nil, |l| Val::Str(trace_id_hex(&l.trace_id))),
            Intrinsic::LinkSpanId => self
                .link
                .map_or(Val::Nil, |l| Val::Str(hex::encode(l.span_id))),
            Intrinsic::InstrumentationName => Val::Str(span.scope.name.clone()),
            Intrinsic::InstrumentationVersion => Val::Str(span.scope.version.clone()),
            Intrinsic::NestedSetLeft => Val::Int(i64::from(position.left)),
            Intrinsic::NestedSetRight => Val::Int(i64::from(position.right)),
            Intrinsic::NestedSetParent => Val::Int(i64::from(position.parent_left)),
            Intrinsic::Parent => Val::Nil,
        }
    }
}

/// A trace ID as TraceQL shows it: hex with leading zeros stripped.
pub fn trace_id_hex(id: &TraceId) -> String {
    let full = hex::encode(id);
    let stripped = full.trim_start_matches('0');
    if stripped.is_empty() {
        "0".to_string()
    } else {
        stripped.to_string()
    }
}

/// An OTLP status as TraceQL's enum.
pub fn status(code: StatusCode) -> Status {
    match code {
        StatusCode::Unset => Status::Unset,
        StatusCode::Ok => Status::Ok,
        StatusCode::Error => Status::Error,
    }
}

/// An OTLP span kind as TraceQL's enum.
pub fn kind(k: SpanKind) -> Kind {
    match k {
        SpanKind::Unspecified => Kind::Unspecified,
        SpanKind::Internal => Kind::Internal,
        SpanKind::Server => Kind::Server,
        SpanKind::Client => Kind::Client,
        SpanKind::Producer => Kind::Producer,
        SpanKind::Consumer => Kind::Consumer,
    }
}

/// An attribute value at runtime; bytes and key/value lists exist but match nothing.
pub fn value(v: &Value) -> Val {
    match v {
        Value::String(s) => Val::Str(s.clone()),
        Value::Int(i) => Val::Int(*i),
        Value::Double(d) => Val::Float(*d),
        Value::Bool(b) => Val::Bool(*b),
        Value::Bytes(_) | Value::KvList(_) => Val::Opaque,
        Value::Array(elements) => Val::Array(
            elements
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Value::String(_) | Value::Int(_) | Value::Double(_) | Value::Bool(_)
                    )
                })
                .map(value)
                .collect(),
        ),
    }
}

//! Tempo's search response (`GET /api/search`), serialised as gogo `jsonpb` does: fields in
//! proto order and lowerCamelCase, 64-bit integers as strings, zero values omitted, enums by
//! name, `AnyValue` as OTLP/JSON (spec section 8).

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use traceql_syntax::lexical::duration;

use crate::value::Val;

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// A `uint64`/`int64` field: a JSON string.
fn as_string<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// A search response.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SearchResponse {
    /// Matching traces, newest first.
    pub traces: Vec<TraceSearchMetadata>,
    /// What the search read.
    pub metrics: SearchMetrics,
}

/// One matching trace.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSearchMetadata {
    /// Hex, leading zeros stripped.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Service of the root span, or `<root span not yet received>`.
    pub root_service_name: String,
    /// Name of the root span.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub root_trace_name: String,
    /// Earliest span start.
    #[serde(serialize_with = "as_string")]
    pub start_time_unix_nano: u64,
    /// Trace duration in whole milliseconds.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub duration_ms: u32,
    /// Deprecated copy of the first spanset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_set: Option<SpanSet>,
    /// The spansets the query produced for the trace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub span_sets: Vec<SpanSet>,
    /// Spans and errors per service of the whole trace.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_stats: BTreeMap<String, ServiceStats>,
}

/// Counts for one service of a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStats {
    /// Spans of the service.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub span_count: u32,
    /// Of which with status error.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub error_count: u32,
}

/// One spanset of a trace, cut to `spss` spans.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpanSet {
    /// The first `spss` spans.
    pub spans: Vec<SpanResult>,
    /// Spans in the spanset before cutting.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub matched: u32,
    /// `by(…)` and aggregate values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
}

/// One span of a spanset.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpanResult {
    /// 16 hex characters.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Operation name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Start.
    #[serde(serialize_with = "as_string")]
    pub start_time_unix_nano: u64,
    /// Duration.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub duration_nanos: u64,
    /// Attributes the query referenced or selected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<KeyValue>,
    /// `service.name` of the span's resource. Not part of Tempo's response (never serialised);
    /// kept for tabular views of the results.
    #[serde(skip)]
    pub service: String,
    /// The span's status (`unset`, `ok`, `error`). Not serialised, like `service`.
    #[serde(skip)]
    pub status: String,
}

/// A key and an OTLP `AnyValue`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: AnyValue,
}

/// OTLP/JSON `AnyValue`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AnyValue {
    /// `{"stringValue": "x"}`
    StringValue(String),
    /// `{"intValue": "42"}`
    IntValue(#[serde(serialize_with = "i64_as_string")] i64),
    /// `{"doubleValue": 1.5}`
    DoubleValue(#[serde(serialize_with = "go_double")] f64),
    /// `{"boolValue": true}`
    BoolValue(bool),
    /// `{"arrayValue": {"values": […]}}`
    ArrayValue(ArrayValue),
}

/// The elements of an array value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArrayValue {
    /// Elements.
    pub values: Vec<AnyValue>,
}

fn i64_as_string<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

/// Doubles as Go prints them: integral values without a fraction, NaN and infinities as
/// strings.
fn go_double<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

impl AnyValue {
    /// The response encoding of a runtime value (`None` for values that cannot be shown).
    pub fn from_val(v: &Val) -> Option<AnyValue> {
        Some(match v {
            Val::Nil => AnyValue::StringValue("nil".to_string()),
            Val::Int(i) => AnyValue::IntValue(*i),
            Val::Float(f) => AnyValue::DoubleValue(*f),
            Val::Str(s) => AnyValue::StringValue(s.clone()),
            Val::Bool(b) => AnyValue::BoolValue(*b),
            Val::Duration(d) => AnyValue::StringValue(duration::format(*d)),
            Val::Status(s) => AnyValue::StringValue(s.as_str().to_string()),
            Val::Kind(k) => AnyValue::StringValue(k.as_str().to_string()),
            Val::Array(values) => AnyValue::ArrayValue(ArrayValue {
                values: values.iter().filter_map(AnyValue::from_val).collect(),
            }),
            Val::Opaque => return None,
        })
    }
}

/// What a search read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchMetrics {
    /// Traces evaluated.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub inspected_traces: u32,
    /// Bytes of the blocks read.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub inspected_bytes: u64,
    /// Blocks in the searched range.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub total_blocks: u32,
    /// Blocks searched.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub completed_jobs: u32,
    /// Blocks to search.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub total_jobs: u32,
    /// Bytes of all blocks in range.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub total_block_bytes: u64,
    /// Spans evaluated.
    #[serde(serialize_with = "as_string", skip_serializing_if = "is_zero_u64")]
    pub inspected_spans: u64,
}

impl SearchResponse {
    /// The JSON body Tempo would send.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto3_json_rules() {
        let response = SearchResponse {
            traces: vec![TraceSearchMetadata {
                trace_id: "abc".into(),
                root_service_name: "api".into(),
                start_time_unix_nano: 1_700_000_000_000_000_000,
                span_sets: vec![SpanSet {
                    spans: vec![SpanResult {
                        span_id: "0000000000000001".into(),
                        start_time_unix_nano: 5,
                        attributes: vec![
                            KeyValue {
                                key: "n".into(),
                                value: AnyValue::IntValue(3),
                            },
                            KeyValue {
                                key: "d".into(),
                                value: AnyValue::DoubleValue(1.0),
                            },
                            KeyValue {
                                key: "f".into(),
                                value: AnyValue::DoubleValue(0.25),
                            },
                        ],
                        ..SpanResult::default()
                    }],
                    matched: 0,
                    attributes: vec![],
                }],
                service_stats: BTreeMap::from([(
                    "api".to_string(),
                    ServiceStats {
                        span_count: 2,
                        error_count: 0,
                    },
                )]),
                ..TraceSearchMetadata::default()
            }],
            metrics: SearchMetrics {
                inspected_traces: 1,
                inspected_bytes: 10,
                ..SearchMetrics::default()
            },
        };
        assert_eq!(
            response.to_json(),
            concat!(
                r#"{"traces":[{"traceID":"abc","rootServiceName":"api","startTimeUnixNano":"1700000000000000000","#,
                r#""spanSets":[{"spans":[{"spanID":"0000000000000001","startTimeUnixNano":"5","attributes":["#,
                r#"{"key":"n","value":{"intValue":"3"}},{"key":"d","value":{"doubleValue":1}},"#,
                r#"{"key":"f","value":{"doubleValue":0.25}}]}]}],"serviceStats":{"api":{"spanCount":2}}}],"#,
                r#""metrics":{"inspectedTraces":1,"inspectedBytes":"10"}}"#
            )
        );
    }
}

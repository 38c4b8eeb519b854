//! OTLP/JSON (proto3 JSON mapping: hex IDs, enums as numbers or names, 64-bit integers as
//! strings or numbers), JSON lines of such documents, and Tempo's trace JSON (`batches`, base64
//! IDs, optionally inside `trace`).

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value as Json};

use super::DecodeError;
use super::proto::{parent_span_id, span_id, trace_id};
use crate::model::{Event, KeyValue, Link, Resource, Scope, Span, SpanKind, StatusCode, Value};

type Result<T> = std::result::Result<T, DecodeError>;

/// Decodes every JSON document in `bytes` (one, or several separated by whitespace).
pub(super) fn decode(bytes: &[u8], sink: &mut Vec<Span>) -> Result<()> {
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Json>();
    let mut index = 0;
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => return Ok(()),
            Some(Err(e)) => return Err(DecodeError::new(format!("invalid JSON: {e}"))),
            Some(Ok(doc)) => document(&doc, sink)
                .map_err(|e| e.at(format!("document {index} (byte {offset})")))?,
        }
        index += 1;
    }
}

fn document(doc: &Json, sink: &mut Vec<Span>) -> Result<()> {
    let obj = doc
        .as_object()
        .ok_or_else(|| DecodeError::new("expected a JSON object"))?;
    // Tempo's v2 trace-by-ID response wraps the trace.
    if let Some(trace) = obj.get("trace").and_then(Json::as_object) {
        return resource_spans_list(trace, sink);
    }
    resource_spans_list(obj, sink)
}

fn resource_spans_list(obj: &Map<String, Json>, sink: &mut Vec<Span>) -> Result<()> {
    let (key, list) = ["resourceSpans", "resource_spans", "batches"]
        .iter()
        .find_map(|k| obj.get(*k).map(|v| (*k, v)))
        .ok_or_else(|| DecodeError::new("expected a `resourceSpans` or `batches` array"))?;
    let list = array(list).map_err(|e| e.at(key.to_string()))?;
    for (i, rs) in list.iter().enumerate() {
        resource_spans(rs, sink).map_err(|e| e.at(format!("{key}[{i}]")))?;
    }
    Ok(())
}

fn resource_spans(rs: &Json, sink: &mut Vec<Span>) -> Result<()> {
    let rs = object(rs)?;
    let schema_url = string_field(rs, &["schemaUrl", "schema_url"])?;
    let resource = match rs.get("resource") {
        Some(r) => {
            let r = object(r).map_err(|e| e.at("resource".into()))?;
            Resource {
                attributes: attributes(r).map_err(|e| e.at("resource".into()))?,
                dropped_attributes_count: u32_field(
                    r,
                    &["droppedAttributesCount", "dropped_attributes_count"],
                )?,
                schema_url,
            }
        }
        None => Resource {
            schema_url,
            ..Resource::default()
        },
    };
    let resource = Arc::new(resource);
    let keys = ["scopeSpans", "scope_spans", "instrumentationLibrarySpans"];
    let Some((key, list)) = keys.iter().find_map(|k| rs.get(*k).map(|v| (*k, v))) else {
        return Ok(());
    };
    for (i, ss) in array(list)?.iter().enumerate() {
        scope_spans(ss, &resource, sink).map_err(|e| e.at(format!("{key}[{i}]")))?;
    }
    Ok(())
}

fn scope_spans(ss: &Json, resource: &Arc<Resource>, sink: &mut Vec<Span>) -> Result<()> {
    let ss = object(ss)?;
    let schema_url = string_field(ss, &["schemaUrl", "schema_url"])?;
    let scope = match ss.get("scope").or_else(|| ss.get("instrumentationLibrary")) {
        Some(s) => {
            let s = object(s)?;
            Scope {
                name: string_field(s, &["name"])?,
                version: string_field(s, &["version"])?,
                attributes: attributes(s)?,
                dropped_attributes_count: u32_field(
                    s,
                    &["droppedAttributesCount", "dropped_attributes_count"],
                )?,
                schema_url,
            }
        }
        None => Scope {
            schema_url,
            ..Scope::default()
        },
    };
    let scope = Arc::new(scope);
    let Some(list) = ss.get("spans") else {
        return Ok(());
    };
    for (i, s) in array(list)?.iter().enumerate() {
        let span = span(s, resource, &scope).map_err(|e| e.at(format!("spans[{i}]")))?;
        sink.push(span);
    }
    Ok(())
}

fn span(s: &Json, resource: &Arc<Resource>, scope: &Arc<Scope>) -> Result<Span> {
    let s = object(s)?;
    let status = match s.get("status") {
        Some(st) => {
            let st = object(st).map_err(|e| e.at("status".into()))?;
            let code = match st.get("code") {
                None | Some(Json::Null) => 0,
                Some(c) => enum_code(c, "STATUS_CODE_", &["UNSET", "OK", "ERROR"])
                    .map_err(|e| e.at("status.code".into()))?,
            };
            (StatusCode::from_code(code), string_field(st, &["message"])?)
        }
        None => (StatusCode::Unset, String::new()),
    };
    let kind = match s.get("kind") {
        None | Some(Json::Null) => 0,
        Some(k) => enum_code(
            k,
            "SPAN_KIND_",
            &[
                "UNSPECIFIED",
                "INTERNAL",
                "SERVER",
                "CLIENT",
                "PRODUCER",
                "CONSUMER",
            ],
        )
        .map_err(|e| e.at("kind".into()))?,
    };
    let events = match s.get("events") {
        None | Some(Json::Null) => Vec::new(),
        Some(list) => array(list)?
            .iter()
            .enumerate()
            .map(|(i, e)| event(e).map_err(|err| err.at(format!("events[{i}]"))))
            .collect::<Result<_>>()?,
    };
    let links = match s.get("links") {
        None | Some(Json::Null) => Vec::new(),
        Some(list) => array(list)?
            .iter()
            .enumerate()
            .map(|(i, l)| link(l).map_err(|err| err.at(format!("links[{i}]"))))
            .collect::<Result<_>>()?,
    };
    Ok(Span {
        trace_id: trace_id(&id_bytes(s, &["traceId", "trace_id"], 16)?)
            .map_err(|e| e.at("traceId".into()))?,
        span_id: span_id(&id_bytes(s, &["spanId", "span_id"], 8)?)
            .map_err(|e| e.at("spanId".into()))?,
        parent_span_id: parent_span_id(&id_bytes(s, &["parentSpanId", "parent_span_id"], 8)?)?,
        trace_state: string_field(s, &["traceState", "trace_state"])?,
        flags: u32_field(s, &["flags"])?,
        name: string_field(s, &["name"])?,
        kind: SpanKind::from_code(kind),
        start_time_unix_nano: u64_field(s, &["startTimeUnixNano", "start_time_unix_nano"])?,
        end_time_unix_nano: u64_field(s, &["endTimeUnixNano", "end_time_unix_nano"])?,
        attributes: attributes(s)?,
        dropped_attributes_count: u32_field(
            s,
            &["droppedAttributesCount", "dropped_attributes_count"],
        )?,
        events,
        dropped_events_count: u32_field(s, &["droppedEventsCount", "dropped_events_count"])?,
        links,
        dropped_links_count: u32_field(s, &["droppedLinksCount", "dropped_links_count"])?,
        status_code: status.0,
        status_message: status.1,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

fn event(e: &Json) -> Result<Event> {
    let e = object(e)?;
    Ok(Event {
        time_unix_nano: u64_field(e, &["timeUnixNano", "time_unix_nano"])?,
        name: string_field(e, &["name"])?,
        attributes: attributes(e)?,
        dropped_attributes_count: u32_field(
            e,
            &["droppedAttributesCount", "dropped_attributes_count"],
        )?,
    })
}

fn link(l: &Json) -> Result<Link> {
    let l = object(l)?;
    Ok(Link {
        trace_id: trace_id(&id_bytes(l, &["traceId", "trace_id"], 16)?)
            .map_err(|e| e.at("traceId".into()))?,
        span_id: span_id(&id_bytes(l, &["spanId", "span_id"], 8)?)
            .map_err(|e| e.at("spanId".into()))?,
        trace_state: string_field(l, &["traceState", "trace_state"])?,
        attributes: attributes(l)?,
        dropped_attributes_count: u32_field(
            l,
            &["droppedAttributesCount", "dropped_attributes_count"],
        )?,
        flags: u32_field(l, &["flags"])?,
    })
}

fn attributes(obj: &Map<String, Json>) -> Result<Vec<KeyValue>> {
    match obj.get("attributes") {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(list) => key_values(list).map_err(|e| e.at("attributes".into())),
    }
}

fn key_values(list: &Json) -> Result<Vec<KeyValue>> {
    array(list)?
        .iter()
        .enumerate()
        .map(|(i, kv)| {
            let kv = object(kv).map_err(|e| e.at(format!("[{i}]")))?;
            let key = string_field(kv, &["key"])?;
            let value = match kv.get("value") {
                None | Some(Json::Null) => Value::String(String::new()),
                Some(v) => any_value(v).map_err(|e| e.at(format!("[{i}] ({key})")))?,
            };
            Ok(KeyValue { key, value })
        })
        .collect()
}

fn any_value(v: &Json) -> Result<Value> {
    let obj = object(v)?;
    let Some((kind, inner)) = obj.iter().next() else {
        return Ok(Value::String(String::new()));
    };
    Ok(match kind.as_str() {
        "stringValue" | "string_value" => {
            Value::String(inner.as_str().unwrap_or_default().to_string())
        }
        "boolValue" | "bool_value" => Value::Bool(inner.as_bool().ok_or_else(|| {
            DecodeError::new(format!("boolValue must be a boolean, found {inner}"))
        })?),
        "intValue" | "int_value" => Value::Int(int64(inner)?),
        "doubleValue" | "double_value" => Value::Double(double(inner)?),
        "bytesValue" | "bytes_value" => Value::Bytes(base64_bytes(inner)?),
        "arrayValue" | "array_value" => Value::Array(match object(inner)?.get("values") {
            None | Some(Json::Null) => Vec::new(),
            Some(values) => array(values)?
                .iter()
                .map(any_value)
                .collect::<Result<_>>()?,
        }),
        "kvlistValue" | "kvlist_value" => Value::KvList(match object(inner)?.get("values") {
            None | Some(Json::Null) => Vec::new(),
            Some(values) => key_values(values)?,
        }),
        other => {
            return Err(DecodeError::new(format!(
                "unknown AnyValue field `{other}`"
            )));
        }
    })
}

fn object(v: &Json) -> Result<&Map<String, Json>> {
    v.as_object()
        .ok_or_else(|| DecodeError::new(format!("expected an object, found {}", kind_of(v))))
}

fn array(v: &Json) -> Result<&Vec<Json>> {
    v.as_array()
        .ok_or_else(|| DecodeError::new(format!("expected an array, found {}", kind_of(v))))
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn field<'a>(
    obj: &'a Map<String, Json>,
    names: &[&'static str],
) -> Option<(&'static str, &'a Json)> {
    names
        .iter()
        .find_map(|n| obj.get(*n).map(|v| (*n, v)))
        .filter(|(_, v)| !v.is_null())
}

fn string_field(obj: &Map<String, Json>, names: &[&'static str]) -> Result<String> {
    match field(obj, names) {
        None => Ok(String::new()),
        Some((_, Json::String(s))) => Ok(s.clone()),
        Some((name, v)) => Err(DecodeError::new(format!(
            "`{name}` must be a string, found {}",
            kind_of(v)
        ))),
    }
}

fn u64_field(obj: &Map<String, Json>, names: &[&'static str]) -> Result<u64> {
    match field(obj, names) {
        None => Ok(0),
        Some((name, v)) => {
            let n = match v {
                Json::Number(n) => n.as_u64(),
                Json::String(s) => s.parse::<u64>().ok(),
                _ => None,
            };
            n.ok_or_else(|| {
                DecodeError::new(format!(
                    "`{name}` must be an unsigned 64-bit integer, found {v}"
                ))
            })
        }
    }
}

fn u32_field(obj: &Map<String, Json>, names: &[&'static str]) -> Result<u32> {
    let v = u64_field(obj, names)?;
    u32::try_from(v)
        .map_err(|_| DecodeError::new(format!("`{}` must fit 32 bits, found {v}", names[0])))
}

fn int64(v: &Json) -> Result<i64> {
    let n = match v {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| DecodeError::new(format!("intValue must be a 64-bit integer, found {v}")))
}

fn double(v: &Json) -> Result<f64> {
    let n = match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            s => s.parse::<f64>().ok(),
        },
        _ => None,
    };
    n.ok_or_else(|| DecodeError::new(format!("doubleValue must be a number, found {v}")))
}

/// An enum given as its number or its name (`SPAN_KIND_SERVER` or `SERVER`).
fn enum_code(v: &Json, prefix: &str, names: &[&str]) -> Result<i32> {
    match v {
        Json::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| DecodeError::new(format!("invalid enum value {n}"))),
        Json::String(s) => {
            let bare = s.strip_prefix(prefix).unwrap_or(s);
            names
                .iter()
                .position(|n| *n == bare)
                .map(|p| p as i32)
                .ok_or_else(|| DecodeError::new(format!("unknown enum value `{s}`")))
        }
        _ => Err(DecodeError::new(format!(
            "enum must be a number or a name, found {v}"
        ))),
    }
}

/// An ID: hex (OTLP/JSON) or base64 (Tempo's JSON, proto3 bytes); the two never have the same
/// length for 8- or 16-byte IDs.
fn id_bytes(obj: &Map<String, Json>, names: &[&'static str], len: usize) -> Result<Vec<u8>> {
    let Some((name, v)) = field(obj, names) else {
        return Ok(Vec::new());
    };
    let s = v.as_str().ok_or_else(|| {
        DecodeError::new(format!("`{name}` must be a string, found {}", kind_of(v)))
    })?;
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if s.len() == 2 * len && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).map_err(|e| DecodeError::new(format!("`{name}`: {e}")));
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| {
            DecodeError::new(format!(
                "`{name}` is neither {}-digit hex nor base64: {s:?}",
                2 * len
            ))
        })
}

fn base64_bytes(v: &Json) -> Result<Vec<u8>> {
    let s = v
        .as_str()
        .ok_or_else(|| DecodeError::new("bytesValue must be a base64 string"))?;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| DecodeError::new(format!("bytesValue is not base64: {e}")))
}

/// Encodes a value as an OTLP/JSON `AnyValue` (64-bit integers as strings, bytes as base64,
/// non-finite doubles as `"NaN"`, `"Infinity"`, `"-Infinity"`).
pub(crate) fn value_to_json(value: &Value) -> Json {
    let (key, inner) = match value {
        Value::String(s) => ("stringValue", Json::String(s.clone())),
        Value::Int(i) => ("intValue", Json::String(i.to_string())),
        Value::Double(d) if d.is_nan() => ("doubleValue", Json::String("NaN".into())),
        Value::Double(d) if d.is_infinite() => (
            "doubleValue",
            Json::String(if *d > 0.0 { "Infinity" } else { "-Infinity" }.into()),
        ),
        Value::Double(d) => ("doubleValue", serde_json::json!(d)),
        Value::Bool(b) => ("boolValue", Json::Bool(*b)),
        Value::Bytes(b) => (
            "bytesValue",
            Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        Value::Array(values) => (
            "arrayValue",
            serde_json::json!({ "values": values.iter().map(value_to_json).collect::<Vec<_>>() }),
        ),
        Value::KvList(kvs) => {
            let values: Vec<Json> = kvs
                .iter()
                .map(|kv| serde_json::json!({ "key": kv.key, "value": value_to_json(&kv.value) }))
                .collect();
            ("kvlistValue", serde_json::json!({ "values": values }))
        }
    };
    let mut obj = Map::new();
    obj.insert(key.to_string(), inner);
    Json::Object(obj)
}

/// Decodes an OTLP/JSON `AnyValue` written by [`value_to_json`].
pub(crate) fn value_from_json(text: &str) -> Result<Value> {
    let json: Json = serde_json::from_str(text)
        .map_err(|e| DecodeError::new(format!("invalid JSON value: {e}")))?;
    any_value(&json)
}

/// Encodes spans as one OTLP/JSON `TracesData` document (hex IDs, 64-bit integers as
/// strings), grouped by resource and scope. The inverse of [`decode`] (up to span order).
pub fn encode(spans: &[Span]) -> String {
    let mut resource_spans: Vec<Json> = Vec::new();
    for (resource, scopes) in super::group_by_resource_and_scope(spans) {
        let mut scope_spans: Vec<Json> = Vec::new();
        for (scope, spans) in scopes {
            let encoded: Vec<Json> = spans.into_iter().map(span_json).collect();
            scope_spans.push(serde_json::json!({
                "scope": {
                    "name": scope.name,
                    "version": scope.version,
                    "attributes": key_values_json(&scope.attributes),
                    "droppedAttributesCount": scope.dropped_attributes_count,
                },
                "spans": encoded,
                "schemaUrl": scope.schema_url,
            }));
        }
        resource_spans.push(serde_json::json!({
            "resource": {
                "attributes": key_values_json(&resource.attributes),
                "droppedAttributesCount": resource.dropped_attributes_count,
            },
            "scopeSpans": scope_spans,
            "schemaUrl": resource.schema_url,
        }));
    }
    serde_json::json!({ "resourceSpans": resource_spans }).to_string()
}

fn key_values_json(kvs: &[KeyValue]) -> Vec<Json> {
    kvs.iter()
        .map(|kv| serde_json::json!({ "key": kv.key, "value": value_to_json(&kv.value) }))
        .collect()
}

fn span_json(s: &Span) -> Json {
    serde_json::json!({
        "traceId": hex::encode(s.trace_id),
        "spanId": hex::encode(s.span_id),
        "parentSpanId": s.parent_span_id.map(hex::encode).unwrap_or_default(),
        "traceState": s.trace_state,
        "flags": s.flags,
        "name": s.name,
        "kind": s.kind.code(),
        "startTimeUnixNano": s.start_time_unix_nano.to_string(),
        "endTimeUnixNano": s.end_time_unix_nano.to_string(),
        "attributes": key_values_json(&s.attributes),
        "droppedAttributesCount": s.dropped_attributes_count,
        "events": s.events.iter().map(|e| serde_json::json!({
            "timeUnixNano": e.time_unix_nano.to_string(),
            "name": e.name,
            "attributes": key_values_json(&e.attributes),
            "droppedAttributesCount": e.dropped_attributes_count,
        })).collect::<Vec<_>>(),
        "droppedEventsCount": s.dropped_events_count,
        "links": s.links.iter().map(|l| serde_json::json!({
            "traceId": hex::encode(l.trace_id),
            "spanId": hex::encode(l.span_id),
            "traceState": l.trace_state,
            "attributes": key_values_json(&l.attributes),
            "droppedAttributesCount": l.dropped_attributes_count,
            "flags": l.flags,
        })).collect::<Vec<_>>(),
        "droppedLinksCount": s.dropped_links_count,
        "status": { "code": s.status_code.code(), "message": s.status_message },
    })
}

/// Spans as Tempo returns them from trace-by-ID (gogo `jsonpb`): `resourceSpans` with base64
/// IDs, enum names, 64-bit integers as strings and zero values omitted, fields in proto order.
pub fn encode_jsonpb_resource_spans(spans: &[Span]) -> Json {
    let b64 = |bytes: &[u8]| Json::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    let mut resource_spans = Vec::new();
    for (resource, scopes) in super::group_by_resource_and_scope(spans) {
        let mut scope_spans = Vec::new();
        for (scope, spans) in scopes {
            let mut encoded = Vec::new();
            for s in spans {
                let mut m = Map::new();
                m.insert("traceId".into(), b64(&s.trace_id));
                m.insert("spanId".into(), b64(&s.span_id));
                put_str(&mut m, "traceState", &s.trace_state);
                if let Some(p) = s.parent_span_id {
                    m.insert("parentSpanId".into(), b64(&p));
                }
                put_str(&mut m, "name", &s.name);
                const KINDS: [&str; 6] = [
                    "",
                    "SPAN_KIND_INTERNAL",
                    "SPAN_KIND_SERVER",
                    "SPAN_KIND_CLIENT",
                    "SPAN_KIND_PRODUCER",
                    "SPAN_KIND_CONSUMER",
                ];
                put_str(&mut m, "kind", KINDS[s.kind.code() as usize % KINDS.len()]);
                m.insert(
                    "startTimeUnixNano".into(),
                    Json::String(s.start_time_unix_nano.to_string()),
                );
                m.insert(
                    "endTimeUnixNano".into(),
                    Json::String(s.end_time_unix_nano.to_string()),
                );
                put_attributes(&mut m, &s.attributes);
                put_count(&mut m, "droppedAttributesCount", s.dropped_attributes_count);
                if !s.events.is_empty() {
                    let events = s
                        .events
                        .iter()
                        .map(|e| {
                            let mut em = Map::new();
                            em.insert(
                                "timeUnixNano".into(),
                                Json::String(e.time_unix_nano.to_string()),
                            );
                            put_str(&mut em, "name", &e.name);
                            put_attributes(&mut em, &e.attributes);
                            put_count(
                                &mut em,
                                "droppedAttributesCount",
                                e.dropped_attributes_count,
                            );
                            Json::Object(em)
                        })
                        .collect();
                    m.insert("events".into(), Json::Array(events));
                }
                put_count(&mut m, "droppedEventsCount", s.dropped_events_count);
                if !s.links.is_empty() {
                    let links = s
                        .links
                        .iter()
                        .map(|l| {
                            let mut lm = Map::new();
                            lm.insert("traceId".into(), b64(&l.trace_id));
                            lm.insert("spanId".into(), b64(&l.span_id));
                            put_str(&mut lm, "traceState", &l.trace_state);
                            put_attributes(&mut lm, &l.attributes);
                            put_count(
                                &mut lm,
                                "droppedAttributesCount",
                                l.dropped_attributes_count,
                            );
                            put_count(&mut lm, "flags", l.flags);
                            Json::Object(lm)
                        })
                        .collect();
                    m.insert("links".into(), Json::Array(links));
                }
                put_count(&mut m, "droppedLinksCount", s.dropped_links_count);
                let mut status = Map::new();
                put_str(&mut status, "message", &s.status_message);
                const CODES: [&str; 3] = ["", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
                put_str(
                    &mut status,
                    "code",
                    CODES[s.status_code.code() as usize % CODES.len()],
                );
                m.insert("status".into(), Json::Object(status));
                put_count(&mut m, "flags", s.flags);
                encoded.push(Json::Object(m));
            }
            let mut sm = Map::new();
            let mut scope_json = Map::new();
            put_str(&mut scope_json, "name", &scope.name);
            put_str(&mut scope_json, "version", &scope.version);
            put_attributes(&mut scope_json, &scope.attributes);
            put_count(
                &mut scope_json,
                "droppedAttributesCount",
                scope.dropped_attributes_count,
            );
            sm.insert("scope".into(), Json::Object(scope_json));
            sm.insert("spans".into(), Json::Array(encoded));
            put_str(&mut sm, "schemaUrl", &scope.schema_url);
            scope_spans.push(Json::Object(sm));
        }
        let mut rm = Map::new();
        let mut resource_json = Map::new();
        put_attributes(&mut resource_json, &resource.attributes);
        put_count(
            &mut resource_json,
            "droppedAttributesCount",
            resource.dropped_attributes_count,
        );
        rm.insert("resource".into(), Json::Object(resource_json));
        rm.insert("scopeSpans".into(), Json::Array(scope_spans));
        put_str(&mut rm, "schemaUrl", &resource.schema_url);
        resource_spans.push(Json::Object(rm));
    }
    Json::Array(resource_spans)
}

fn put_str(m: &mut Map<String, Json>, key: &str, value: &str) {
    if !value.is_empty() {
        m.insert(key.into(), Json::String(value.to_string()));
    }
}

fn put_count(m: &mut Map<String, Json>, key: &str, value: u32) {
    if value != 0 {
        m.insert(key.into(), Json::from(value));
    }
}

fn put_attributes(m: &mut Map<String, Json>, kvs: &[KeyValue]) {
    if !kvs.is_empty() {
        m.insert("attributes".into(), Json::Array(key_values_json(kvs)));
    }
}

//! Trace by ID (spec section 8.2).

use traceql_storage::catalog::Catalog;
use traceql_storage::model::{Trace, TraceId};
use traceql_storage::otlp::encode_jsonpb_resource_spans;
use traceql_storage::read::find_trace;

use crate::error::EngineError;

/// A trace and what finding it read.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceLookup {
    /// The trace's spans from every live block, exact duplicates removed.
    pub trace: Trace,
    /// Blocks that held spans of the trace.
    pub blocks: usize,
    /// Row groups read.
    pub row_groups_read: usize,
}

/// Parses a trace ID given as hex (up to 32 digits; leading zeros may be left out).
pub fn parse_trace_id(text: &str) -> Result<TraceId, EngineError> {
    let invalid = || {
        EngineError::InvalidRequest(format!(
            "invalid trace ID {text:?}: expected up to 32 hex digits"
        ))
    };
    if text.is_empty() || text.len() > 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let padded = format!("{text:0>32}");
    let bytes = hex::decode(padded).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

/// Finds a trace in the live blocks of `tenant`, reading in each block only the row groups that
/// may hold it. `None` when no block has it.
pub async fn trace_by_id(
    catalog: &Catalog,
    tenant: &str,
    trace_id: &TraceId,
) -> Result<Option<TraceLookup>, EngineError> {
    let mut spans = Vec::new();
    let (mut blocks, mut row_groups_read) = (0, 0);
    for block in catalog.list_blocks(tenant).await? {
        let (found, read) = find_trace(catalog, &block, trace_id).await?;
        row_groups_read += read;
        if let Some(t) = found {
            blocks += 1;
            for s in t.spans {
                if !spans.contains(&s) {
                    spans.push(s);
                }
            }
        }
    }
    if spans.is_empty() {
        return Ok(None);
    }
    spans.sort_by_key(|s| (s.start_time_unix_nano, s.span_id));
    Ok(Some(TraceLookup {
        trace: Trace {
            trace_id: *trace_id,
            spans,
        },
        blocks,
        row_groups_read,
    }))
}

/// The `GET /api/v2/traces/<id>` body: `{"trace": {"resourceSpans": […]}}`.
pub fn v2_json(trace: &Trace) -> String {
    serde_json::json!({ "trace": { "resourceSpans": encode_jsonpb_resource_spans(&trace.spans) } })
        .to_string()
}

/// The `GET /api/traces/<id>` body: `{"batches": […]}`.
pub fn v1_json(trace: &Trace) -> String {
    serde_json::json!({ "batches": encode_jsonpb_resource_spans(&trace.spans) }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_parse_with_or_without_leading_zeros() {
        let id = parse_trace_id("abc").expect("short");
        assert_eq!(hex::encode(id), "00000000000000000000000000000abc");
        assert_eq!(
            parse_trace_id("00000000000000000000000000000ABC").expect("full"),
            id
        );
        assert!(parse_trace_id("xyz").is_err());
        assert!(parse_trace_id("").is_err());
        assert!(parse_trace_id(&"1".repeat(33)).is_err());
    }
}

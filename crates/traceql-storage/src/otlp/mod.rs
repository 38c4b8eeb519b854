//! OTLP decoding: protobuf, OTLP/JSON (single documents or JSON lines) and Tempo's
//! trace-by-ID JSON (`batches` with base64 IDs).

mod json;
pub mod proto;

pub use json::{encode as encode_json, encode_jsonpb_resource_spans};
pub(crate) use json::{value_from_json, value_to_json};
use std::fmt;
use std::path::Path;

use crate::error::StorageError;
use crate::model::{Resource, Scope, Span};

/// The encodings an OTLP trace file may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Binary protobuf `TracesData` / `ExportTraceServiceRequest`.
    Protobuf,
    /// OTLP/JSON, JSON lines of it, or Tempo's trace JSON.
    Json,
}

impl Format {
    /// The format a file name suggests (`.json`, `.jsonl`, `.ndjson`; `.pb`, `.binpb`), or
    /// else the content: JSON starts with `{` after whitespace.
    pub fn detect(name: &str, bytes: &[u8]) -> Format {
        let lower = name.to_ascii_lowercase();
        if [".json", ".jsonl", ".ndjson"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return Format::Json;
        }
        if [".pb", ".binpb", ".protobuf"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return Format::Protobuf;
        }
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Json,
            _ => Format::Protobuf,
        }
    }
}

/// What went wrong decoding, and where inside the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
    path: Vec<String>,
}

impl DecodeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        DecodeError {
            message: message.into(),
            path: Vec::new(),
        }
    }

    /// Adds an outer location (`resourceSpans[0]`, `document 3`, …).
    pub(crate) fn at(mut self, location: String) -> Self {
        self.path.insert(0, location);
        self
    }

    /// The problem.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where it is, outermost first, joined with dots.
    pub fn location(&self) -> String {
        self.path.join(".")
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.location(), self.message)
        }
    }
}

/// Spans grouped by resource, then by scope, in order of first appearance (resources and
/// scopes compared by value, cheaply when they share an allocation).
pub(crate) type ResourceGroups<'a> = Vec<(&'a Resource, Vec<(&'a Scope, Vec<&'a Span>)>)>;

pub(crate) fn group_by_resource_and_scope(spans: &[Span]) -> ResourceGroups<'_> {
    let mut groups: ResourceGroups<'_> = Vec::new();
    for span in spans {
        let same = |r: &Resource| std::ptr::eq(r, &*span.resource) || *r == *span.resource;
        let ri = match groups.iter().position(|(r, _)| same(r)) {
            Some(i) => i,
            None => {
                groups.push((&span.resource, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[ri].1;
        let same = |s: &Scope| std::ptr::eq(s, &*span.scope) || *s == *span.scope;
        match scopes.iter_mut().find(|(s, _)| same(s)) {
            Some((_, v)) => v.push(span),
            None => scopes.push((&span.scope, vec![span])),
        }
    }
    groups
}

/// Decodes the spans in `bytes`; `source` names the input in errors.
pub fn decode(bytes: &[u8], format: Format, source: &str) -> Result<Vec<Span>, StorageError> {
    let mut spans = Vec::new();
    let result = match format {
        Format::Protobuf => proto::decode(bytes, &mut spans),
        Format::Json => json::decode(bytes, &mut spans),
    };
    result.map_err(|error| StorageError::Decode {
        input: source.to_string(),
        error,
    })?;
    Ok(spans)
}

/// Reads and decodes one file, choosing the format from its name and content.
pub fn decode_file(path: &Path) -> Result<Vec<Span>, StorageError> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path.display().to_string(), e))?;
    let name = path.display().to_string();
    decode(&bytes, Format::detect(&name, &bytes), &name)
}

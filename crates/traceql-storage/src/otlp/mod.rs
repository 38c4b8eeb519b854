//! OTLP decoding: protobuf, OTLP/JSON (single documents or JSON lines) and Tempo's
//! trace-by-ID JSON (`batches` with base64 IDs).

mod json;
pub mod proto;
mod split;

pub use json::{encode as encode_json, encode_jsonpb_resource_spans};
pub(crate) use json::{value_from_json, value_to_json};
use std::fmt;
use std::path::Path;

use rayon::prelude::*;

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

/// Pieces a large input is split into per decoding thread: more than one, so that a thread
/// whose pieces decode faster takes over work of the others.
const PIECES_PER_THREAD: usize = 2;

/// Decodes the spans in `bytes`; `source` names the input in errors.
pub fn decode(bytes: &[u8], format: Format, source: &str) -> Result<Vec<Span>, StorageError> {
    decode_pieces(bytes, format, source).map(concat)
}

/// Decodes the spans in `bytes` as consecutive pieces, in input order; `source` names the input
/// in errors.
///
/// A large input is split into pieces of whole top-level entries that decode in parallel; if
/// any piece fails, the whole input is decoded again in one go, so that the error names its
/// place in the input. Callers that consume the spans in order need not join the pieces: a
/// million spans take a noticeable time to move.
pub fn decode_pieces(
    bytes: &[u8],
    format: Format,
    source: &str,
) -> Result<Vec<Vec<Span>>, StorageError> {
    let pieces = rayon::current_num_threads() * PIECES_PER_THREAD;
    let split = match format {
        Format::Protobuf => split::protobuf(bytes, pieces),
        Format::Json => Some(split::json(bytes, pieces)),
    };
    if let Some(split) = split.filter(|s| s.len() > 1) {
        let decoded: Result<Vec<Vec<Span>>, DecodeError> = split
            .par_iter()
            .map(|piece| decode_whole(piece, format))
            .collect();
        if let Ok(decoded) = decoded {
            return Ok(decoded);
        }
    }
    let spans = decode_whole(bytes, format).map_err(|error| StorageError::Decode {
        input: source.to_string(),
        error,
    })?;
    Ok(vec![spans])
}

/// Decodes all of `bytes` on the calling thread.
fn decode_whole(bytes: &[u8], format: Format) -> Result<Vec<Span>, DecodeError> {
    let mut spans = Vec::new();
    match format {
        Format::Protobuf => proto::decode(bytes, &mut spans),
        Format::Json => json::decode(bytes, &mut spans),
    }?;
    Ok(spans)
}

/// Reads and decodes one file, choosing the format from its name and content.
pub fn decode_file(path: &Path) -> Result<Vec<Span>, StorageError> {
    decode_file_pieces(path).map(concat)
}

/// Reads and decodes one file as consecutive pieces (see [`decode_pieces`]).
pub fn decode_file_pieces(path: &Path) -> Result<Vec<Vec<Span>>, StorageError> {
    let bytes = std::fs::read(path).map_err(|e| StorageError::io(path.display().to_string(), e))?;
    let name = path.display().to_string();
    decode_pieces(&bytes, Format::detect(&name, &bytes), &name)
}

/// Joins consecutive pieces of spans into one list.
fn concat(mut pieces: Vec<Vec<Span>>) -> Vec<Span> {
    if pieces.len() == 1 {
        return pieces.pop().unwrap_or_default();
    }
    let mut spans = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    for piece in pieces {
        spans.extend(piece);
    }
    spans
}

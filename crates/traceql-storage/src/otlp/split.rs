//! Splitting one OTLP input into pieces that decode independently, so that a single large file
//! decodes on every core.
//!
//! A piece is a run of whole top-level entries: protobuf fields of the outer `TracesData`
//! message (its `resource_spans` entries and any other field), or JSON documents. Decoding the
//! pieces in order yields the spans of decoding the whole, because a protobuf message is the
//! merge of its fields in order and a stream of JSON documents is their concatenation.

use prost::encoding::{WireType, decode_key, decode_varint};

/// Pieces smaller than this are not worth a task of their own.
const MIN_PIECE_BYTES: usize = 1 << 20;

/// Splits a protobuf `TracesData` into at most `pieces` runs of whole top-level fields of
/// about equal size. `None` when the top level does not scan (truncated or malformed input,
/// or groups), where the caller decodes the whole to report the error.
pub(super) fn protobuf(bytes: &[u8], pieces: usize) -> Option<Vec<&[u8]>> {
    let target = piece_size(bytes.len(), pieces);
    let mut out = Vec::new();
    let (mut start, mut at) = (0, 0);
    while at < bytes.len() {
        at += field_len(&bytes[at..])?;
        if at - start >= target {
            out.push(&bytes[start..at]);
            start = at;
        }
    }
    if start < bytes.len() {
        out.push(&bytes[start..]);
    }
    Some(out)
}

/// The length in bytes of the protobuf field at the start of `bytes`, key included.
fn field_len(bytes: &[u8]) -> Option<usize> {
    let mut rest = bytes;
    let (_, wire_type) = decode_key(&mut rest).ok()?;
    // What follows the key and, for length-delimited fields, the length.
    let body = match wire_type {
        WireType::Varint => {
            decode_varint(&mut rest).ok()?;
            0
        }
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::LengthDelimited => usize::try_from(decode_varint(&mut rest).ok()?).ok()?,
        WireType::StartGroup | WireType::EndGroup => return None,
    };
    let len = (bytes.len() - rest.len()).checked_add(body)?;
    (len <= bytes.len()).then_some(len)
}

/// Splits a stream of JSON documents into at most `pieces` runs of whole lines of about equal
/// size, cutting only where a line ending in `}` is followed by one starting with `{`: the
/// boundary between two documents of JSON lines. A cut that lands inside a pretty-printed
/// document leaves a piece that does not parse, where the caller decodes the whole instead.
pub(super) fn json(bytes: &[u8], pieces: usize) -> Vec<&[u8]> {
    let target = piece_size(bytes.len(), pieces);
    let mut out = Vec::new();
    let mut start = 0;
    while bytes.len() - start > target {
        let Some(cut) = document_boundary(bytes, start + target) else {
            break;
        };
        out.push(&bytes[start..cut]);
        start = cut;
    }
    out.push(&bytes[start..]);
    out
}

/// The first position at or after `from` that starts a line beginning with `{` right after a
/// line ending in `}`.
fn document_boundary(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let newline = at + bytes.get(at..)?.iter().position(|&b| b == b'\n')?;
        let line_end = bytes[..newline]
            .iter()
            .rposition(|&b| b != b'\r')
            .map(|i| bytes[i]);
        if line_end == Some(b'}') && bytes.get(newline + 1) == Some(&b'{') {
            return Some(newline + 1);
        }
        at = newline + 1;
    }
}

/// The size to aim a piece at: `len` over `pieces`, but no smaller than [`MIN_PIECE_BYTES`].
fn piece_size(len: usize, pieces: usize) -> usize {
    (len / pieces.max(1)).max(MIN_PIECE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_pieces_are_whole_fields_covering_the_input() {
        // Field 1, length-delimited, 3 MiB of payload each: three pieces at 1 MiB targets.
        let mut bytes = Vec::new();
        for fill in [1u8, 2, 3] {
            bytes.push(0x0a);
            let mut len = 3 << 20;
            while len >= 0x80 {
                bytes.push((len as u8 & 0x7f) | 0x80);
                len >>= 7;
            }
            bytes.push(len as u8);
            bytes.extend(std::iter::repeat_n(fill, 3 << 20));
        }
        let pieces = protobuf(&bytes, 3).expect("scans");
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), bytes);
        for (piece, fill) in pieces.iter().zip([1u8, 2, 3]) {
            assert_eq!(piece[0], 0x0a);
            assert_eq!(*piece.last().expect("not empty"), fill);
        }
    }

    #[test]
    fn a_truncated_protobuf_field_does_not_scan() {
        // Field 1 announcing 10 bytes with 3 present.
        assert_eq!(protobuf(&[0x0a, 10, 1, 2, 3], 2), None);
        // A group at the top level.
        assert_eq!(protobuf(&[0x0b, 0x0c], 2), None);
    }

    #[test]
    fn json_lines_split_between_documents_only() {
        let line = format!("{{\"a\": \"{}\"}}\n", "x".repeat(700 << 10));
        let text = line.repeat(6);
        let pieces = json(text.as_bytes(), 3);
        // A piece ends at the first boundary past its target size: here after three lines.
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces.concat(), text.as_bytes());
        for piece in &pieces {
            assert!(piece.starts_with(b"{") && piece.ends_with(b"}\n"));
        }
    }

    #[test]
    fn one_pretty_printed_document_stays_whole() {
        let inner = format!("  {{\"a\": \"{}\"}}", "x".repeat(1 << 20));
        let text = format!("{{\"list\": [\n{inner},\n{inner}\n]}}\n");
        assert_eq!(json(text.as_bytes(), 4), vec![text.as_bytes()]);
    }
}

//! Literal decoding and encoding: strings, attribute names, numbers and durations.

pub mod duration;
pub mod strings;

/// A literal's text that does not decode, with the byte offset of the problem inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    /// What is wrong.
    pub message: String,
    /// Offset from the start of the literal's text.
    pub offset: usize,
}

impl LexError {
    pub(crate) fn new(message: impl Into<String>, offset: usize) -> Self {
        LexError {
            message: message.into(),
            offset,
        }
    }
}

//! The errors a query can get: parse, validation and unsupported (section 9 of the spec).

use std::fmt;

use crate::span::{Position, Span};

/// Which class of failure a query falls in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The grammar rejects the query.
    Parse,
    /// The query parses but static checks reject it (types, regex, nil on an intrinsic, …).
    Validation,
    /// The query parses and is well-typed but uses a feature TraceQL reserves and does not run.
    Unsupported,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Parse => "parse error",
            ErrorKind::Validation => "validation error",
            ErrorKind::Unsupported => "unsupported",
        })
    }
}

/// One problem found in a query, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whose fault, and how bad.
    pub kind: ErrorKind,
    /// What is wrong, in one sentence without position.
    pub message: String,
    /// The bytes of the query the problem is about.
    pub span: Span,
    /// Where `span` starts, 1-based.
    pub position: Position,
}

/// A query that is not valid: one or more diagnostics, the most important first.
///
/// The error's [`kind`](Error::kind) is the class of the query: a validation error outranks an
/// unsupported feature, so `min(3) = max(duration)` is a validation error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    diagnostics: Vec<Diagnostic>,
}

impl Error {
    /// An error with a single diagnostic located in `query`.
    pub fn new(kind: ErrorKind, message: impl Into<String>, span: Span, query: &str) -> Self {
        Error {
            diagnostics: vec![Diagnostic {
                kind,
                message: message.into(),
                span,
                position: span.position(query),
            }],
        }
    }

    /// Gathers diagnostics into one error, most important first; `None` when there are none.
    pub fn from_diagnostics(mut diagnostics: Vec<Diagnostic>) -> Option<Self> {
        diagnostics.sort_by_key(|d| (rank(d.kind), d.span.start));
        (!diagnostics.is_empty()).then_some(Error { diagnostics })
    }

    /// The class of the query.
    pub fn kind(&self) -> ErrorKind {
        self.primary().kind
    }

    /// The most important diagnostic.
    pub fn primary(&self) -> &Diagnostic {
        // `Error` is only built with at least one diagnostic.
        &self.diagnostics[0]
    }

    /// All diagnostics, most important first.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The primary message, without position.
    pub fn message(&self) -> &str {
        &self.primary().message
    }

    /// Where the primary problem starts.
    pub fn position(&self) -> Position {
        self.primary().position
    }

    /// Renders every diagnostic as the query line with a caret under the position, e.g.
    ///
    /// ```text
    /// parse error at line 1, col 8: unexpected `=`, expected a value
    ///   { .a == 1 }
    ///          ^
    /// ```
    pub fn render(&self, query: &str) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            let line = query.lines().nth(d.position.line - 1).unwrap_or("");
            let width = span_width(query, d.span).max(1);
            out.push_str(&format!("{} at {}: {}\n", d.kind, d.position, d.message));
            out.push_str(&format!("  {line}\n"));
            let pad: String = line
                .chars()
                .take(d.position.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("  {pad}{}\n", "^".repeat(width)));
        }
        out
    }
}

/// Characters of `span` that sit on its first line.
fn span_width(query: &str, span: Span) -> usize {
    query
        .get(span.start..span.end.min(query.len()))
        .map_or(1, |s| s.chars().take_while(|c| *c != '\n').count())
}

fn rank(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Parse => 0,
        ErrorKind::Validation => 1,
        ErrorKind::Unsupported => 2,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.primary();
        write!(f, "{} at {}: {}", d.kind, d.position, d.message)?;
        if self.diagnostics.len() > 1 {
            write!(f, " (and {} more)", self.diagnostics.len() - 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_puts_a_caret_under_the_position() {
        let q = "{ .a == 1 }";
        let e = Error::new(ErrorKind::Parse, "unexpected `=`", Span::new(6, 7), q);
        assert_eq!(
            e.render(q),
            "parse error at line 1, col 7: unexpected `=`\n  { .a == 1 }\n        ^\n"
        );
        assert_eq!(
            e.to_string(),
            "parse error at line 1, col 7: unexpected `=`"
        );
    }

    #[test]
    fn validation_outranks_unsupported() {
        let q = "min(3) = max(duration)";
        let unsupported = Diagnostic {
            kind: ErrorKind::Unsupported,
            message: "u".into(),
            span: Span::new(0, 1),
            position: Position { line: 1, column: 1 },
        };
        let invalid = Diagnostic {
            kind: ErrorKind::Validation,
            ..unsupported.clone()
        };
        let e = Error::from_diagnostics(vec![unsupported, invalid]).expect("two diagnostics");
        assert_eq!(e.kind(), ErrorKind::Validation);
        assert_eq!(e.diagnostics().len(), 2);
        assert!(Error::from_diagnostics(vec![]).is_none());
        let _ = q;
    }
}

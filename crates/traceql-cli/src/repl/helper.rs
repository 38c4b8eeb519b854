//! Line editing help: TraceQL highlighting, completion and multi-line input.

use std::borrow::Cow;
use std::cell::RefCell;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use traceql::syntax::ast::ALL_INTRINSICS;

const KEYWORDS: &[&str] = &[
    "by",
    "select",
    "coalesce",
    "count",
    "avg",
    "min",
    "max",
    "sum",
    "rate",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "avg_over_time",
    "sum_over_time",
    "quantile_over_time",
    "histogram_over_time",
    "compare",
    "topk",
    "bottomk",
    "with",
    "true",
    "false",
    "nil",
    "ok",
    "error",
    "unset",
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];
const SCOPED_INTRINSICS: &[&str] = &[
    "span:duration",
    "span:name",
    "span:status",
    "span:statusMessage",
    "span:kind",
    "span:id",
    "span:parentID",
    "span:childCount",
    "trace:rootName",
    "trace:rootService",
    "trace:duration",
    "trace:id",
    "event:name",
    "event:timeSinceStart",
    "link:traceID",
    "link:spanID",
    "instrumentation:name",
    "instrumentation:version",
];
const SCOPES: &[&str] = &["span.", "resource.", "event.", "link.", "instrumentation."];
const DOT_COMMANDS: &[&str] = &[
    ".help", ".data", ".range", ".limit", ".spss", ".format", ".timing", ".explain", ".tags",
    ".trace", ".quit",
];

/// Where completions come from; attribute names and values are looked up in the data.
pub trait Lookup {
    /// Attribute names as TraceQL writes them (`span.http.method`, `resource.service.name`).
    fn attributes(&self) -> Vec<String>;
    /// Values of a tag (`resource.service.name`), for completion after `=`.
    fn values(&self, tag: &str) -> Vec<String>;
}

/// The REPL's rustyline helper.
pub struct ReplHelper {
    lookup: Box<dyn Lookup>,
    attributes: RefCell<Option<Vec<String>>>,
    color: bool,
}

impl ReplHelper {
    pub fn new(lookup: Box<dyn Lookup>, color: bool) -> Self {
        ReplHelper {
            lookup,
            attributes: RefCell::new(None),
            color,
        }
    }

    /// Forgets cached attribute names (after `.data`).
    pub fn reset(&mut self, lookup: Box<dyn Lookup>) {
        self.lookup = lookup;
        self.attributes.replace(None);
    }

    fn attributes(&self) -> Vec<String> {
        self.attributes
            .borrow_mut()
            .get_or_insert_with(|| self.lookup.attributes())
            .clone()
    }
}

/// True while the query cannot be complete yet — brackets or a quote still open, or it ends
/// where more must follow (`{ .a } >>`): the input continues on the next line. An empty line
/// submits whatever is there.
pub fn is_incomplete(text: &str) -> bool {
    if text.trim_start().starts_with('.') || text.ends_with("\n\n") || text.trim().is_empty() {
        return false;
    }
    brackets_open(text)
        || traceql::parse_syntax(text)
            .is_err_and(|e| e.message().contains("unexpected end of query"))
}

/// True while brackets or a quote are still open.
fn brackets_open(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth -= 1,
            '"' | '`' => {
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if c == '"' && d == '\\' {
                        chars.next();
                    } else if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return true;
                }
            }
            _ => {}
        }
    }
    depth > 0
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || "{}()=~!<>&|^,\"`".contains(c))
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        // A value after `<tag> =`: complete quoted values of that tag.
        if let Some(quote) = before.rfind('"')
            && before[quote + 1..].chars().all(|c| c != '"')
        {
            let lhs = before[..quote].trim_end();
            if let Some(lhs) = lhs
                .strip_suffix('=')
                .map(str::trim_end)
                .filter(|l| !l.ends_with(['!', '<', '>', '=']))
            {
                let tag_start = lhs.rfind(|c: char| !is_word_char(c)).map_or(0, |i| i + 1);
                let tag = &lhs[tag_start..];
                let typed = &before[quote + 1..];
                let pairs = self
                    .lookup
                    .values(tag)
                    .into_iter()
                    .filter(|v| v.starts_with(typed))
                    .map(|v| Pair {
                        display: v.clone(),
                        replacement: format!("{v}\""),
                    })
                    .collect();
                return Ok((quote + 1, pairs));
            }
        }
        let start = before
            .rfind(|c: char| !is_word_char(c))
            .map_or(0, |i| i + c_len(before, i));
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let mut candidates: Vec<String> = Vec::new();
        if start == 0 && word.starts_with('.') && !word.contains(' ') {
            candidates.extend(DOT_COMMANDS.iter().map(|s| s.to_string()));
        }
        candidates.extend(KEYWORDS.iter().map(|s| s.to_string()));
        candidates.extend(
            ALL_INTRINSICS
                .iter()
                .map(|i| i.canonical_name().to_string()),
        );
        candidates.extend(SCOPED_INTRINSICS.iter().map(|s| s.to_string()));
        candidates.extend(SCOPES.iter().map(|s| s.to_string()));
        if word.contains('.') {
            candidates.extend(self.attributes());
        }
        candidates.sort();
        candidates.dedup();
        let pairs = candidates
            .into_iter()
            .filter(|c| c.starts_with(word) && c != word)
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

fn c_len(s: &str, i: usize) -> usize {
    s[i..].chars().next().map_or(1, char::len_utf8)
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.color || line.trim_start().starts_with('.') {
            return Cow::Borrowed(line);
        }
        Cow::Owned(highlight(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

impl Helper for ReplHelper {}

const RESET: &str = "\x1b[0m";
const STRING: &str = "\x1b[32m";
const NUMBER: &str = "\x1b[36m";
const KEYWORD: &str = "\x1b[35;1m";
const INTRINSIC: &str = "\x1b[33m";
const ATTRIBUTE: &str = "\x1b[34m";
const ERROR: &str = "\x1b[31;4m";

/// Colours a query: strings, numbers, keywords, intrinsics and attributes; from a syntax error
/// onwards (when the query is complete but does not parse), red.
pub fn highlight(line: &str) -> String {
    let error_at = match traceql::parse_syntax(line) {
        Err(e) if !brackets_open(line) && !e.message().contains("end of query") => {
            let p = e.position();
            if p.line == 1 {
                line.char_indices().nth(p.column - 1).map(|(i, _)| i)
            } else {
                None
            }
        }
        _ => None,
    };
    let mut out = String::with_capacity(line.len() * 2);
    let mut rest = line;
    let mut offset = 0;
    while let Some(c) = rest.chars().next() {
        if error_at.is_some_and(|e| offset >= e) {
            out.push_str(ERROR);
            out.push_str(rest);
            out.push_str(RESET);
            break;
        }
        let (len, color) = if c == '"' || c == '`' {
            let end = rest[1..].find(c).map_or(rest.len(), |i| i + 2);
            (end, Some(STRING))
        } else if c.is_ascii_digit() {
            (
                rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == 'µ'))
                    .unwrap_or(rest.len()),
                Some(NUMBER),
            )
        } else if is_word_char(c) {
            let len = rest
                .find(|ch: char| !is_word_char(ch))
                .unwrap_or(rest.len());
            let word = &rest[..len];
            let color = if KEYWORDS.contains(&word) {
                Some(KEYWORD)
            } else if word.contains(':')
                || ALL_INTRINSICS.iter().any(|i| i.canonical_name() == word)
            {
                Some(INTRINSIC)
            } else if word.starts_with('.') || SCOPES.iter().any(|s| word.starts_with(s)) {
                Some(ATTRIBUTE)
            } else {
                None
            };
            (len, color)
        } else {
            (c.len_utf8(), None)
        };
        let len = len.max(c.len_utf8()).min(rest.len());
        match color {
            Some(col) => {
                out.push_str(col);
                out.push_str(&rest[..len]);
                out.push_str(RESET);
            }
            None => out.push_str(&rest[..len]),
        }
        rest = &rest[len..];
        offset += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_while_open() {
        assert!(is_incomplete("{ .a = 1"));
        assert!(is_incomplete("({ .a } | count() > 1"));
        assert!(is_incomplete("{ .a = \"open"));
        assert!(!is_incomplete("{ .a = \"}\" }"));
        assert!(!is_incomplete("{ .a } >> { .b }"));
        assert!(!is_incomplete(".help"));
        assert!(
            is_incomplete("{ .a } >>"),
            "an operator needs its right side"
        );
        assert!(is_incomplete("{ } |"));
        assert!(!is_incomplete("{ } |\n\n"), "an empty line submits");
        assert!(
            !is_incomplete("{ .a == 1 }"),
            "errors before the end are not incomplete"
        );
    }

    #[test]
    fn highlighting_colours_tokens_and_errors() {
        let h = highlight(r#"{ span.a = "x" && status = error } | count() > 2"#);
        assert!(h.contains(&format!("{ATTRIBUTE}span.a{RESET}")), "{h}");
        assert!(h.contains(&format!("{STRING}\"x\"{RESET}")), "{h}");
        assert!(h.contains(&format!("{INTRINSIC}status{RESET}")), "{h}");
        assert!(h.contains(&format!("{KEYWORD}count{RESET}")), "{h}");
        assert!(h.contains(&format!("{NUMBER}2{RESET}")), "{h}");
        let bad = highlight("{ .a == 1 }");
        assert!(bad.contains(ERROR), "{bad}");
    }
}

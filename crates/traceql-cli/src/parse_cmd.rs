//! `traceql parse`: the class and canonical form of each query.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use traceql::{ErrorKind, parse, parse_syntax};

/// Arguments of `traceql parse`.
#[derive(Args)]
pub struct ParseArgs {
    /// Queries to parse.
    queries: Vec<OsString>,
    /// Read queries from this file, one per line (`-` for standard input).
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// The class and canonical form, or the error with a caret under its position.
    Text,
    /// One JSON object per query.
    Json,
}

/// Parses every query; the exit status is 1 when any is not valid.
pub fn run(args: ParseArgs) -> Result<ExitCode, String> {
    let mut queries = Vec::new();
    for (i, q) in args.queries.into_iter().enumerate() {
        let q = q
            .into_string()
            .map_err(|_| format!("query argument {} is not valid UTF-8", i + 1))?;
        queries.push(q);
    }
    if let Some(path) = &args.file {
        let bytes = if path.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            buf
        } else {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            format!(
                "{} is not valid UTF-8 (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        queries.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(str::to_string),
        );
    }
    if queries.is_empty() {
        return Err("no query given: pass queries as arguments or use --file".into());
    }
    let mut out = std::io::stdout().lock();
    let mut all_valid = true;
    for query in &queries {
        let report = Report::of(query);
        all_valid &= report.class == "valid";
        let text = match args.format {
            Format::Text => report.text(query),
            Format::Json => report.json(query),
        };
        writeln!(out, "{text}").map_err(|e| format!("cannot write output: {e}"))?;
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `parse` says about one query.
struct Report {
    class: &'static str,
    canonical: Option<String>,
    error: Option<traceql::SyntaxError>,
}

impl Report {
    fn of(query: &str) -> Report {
        match parse(query) {
            Ok(ast) => Report {
                class: "valid",
                canonical: Some(ast.to_string()),
                error: None,
            },
            Err(e) => {
                // Invalid and unsupported queries still have a canonical form.
                let canonical = match e.kind() {
                    ErrorKind::Parse => None,
                    _ => parse_syntax(query).ok().map(|ast| ast.to_string()),
                };
                let class = match e.kind() {
                    ErrorKind::Parse => "parse error",
                    ErrorKind::Validation => "validation error",
                    ErrorKind::Unsupported => "unsupported",
                };
                Report {
                    class,
                    canonical,
                    error: Some(e),
                }
            }
        }
    }

    fn text(&self, query: &str) -> String {
        match (&self.error, &self.canonical) {
            (None, Some(c)) => format!("valid: {c}"),
            (Some(e), canonical) => {
                let mut s = e.render(query);
                if let Some(c) = canonical {
                    s.push_str(&format!("  canonical: {c}\n"));
                }
                s.trim_end().to_string()
            }
            (None, None) => String::new(),
        }
    }

    fn json(&self, query: &str) -> String {
        let mut obj = serde_json::Map::new();
        obj.insert("query".into(), query.into());
        obj.insert("class".into(), self.class.into());
        if let Some(c) = &self.canonical {
            obj.insert("canonical".into(), c.clone().into());
        }
        if let Some(e) = &self.error {
            let p = e.position();
            obj.insert(
                "error".into(),
                serde_json::json!({ "message": e.message(), "line": p.line, "column": p.column }),
            );
        }
        serde_json::Value::Object(obj).to_string()
    }
}

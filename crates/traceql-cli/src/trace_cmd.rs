//! `traceql trace`: one trace by ID, as a waterfall tree or Tempo's JSON.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use traceql::engine::trace_by_id::{parse_trace_id, trace_by_id, v1_json, v2_json};
use traceql::storage::model::{StatusCode, Trace, TraceSummary};
use traceql::storage::nested_set;

use crate::data_cmd::DataArgs;

/// Arguments of `traceql trace`.
#[derive(Args)]
pub struct TraceArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TraceFormat::Tree)]
    format: TraceFormat,
    /// The trace ID (hex; leading zeros may be left out).
    id: String,
}

/// How the trace is printed.
#[derive(Clone, Copy, ValueEnum)]
enum TraceFormat {
    /// An indented tree with a duration bar per span.
    Tree,
    /// Tempo's `/api/v2/traces/<id>` JSON.
    Json,
    /// Tempo's `/api/traces/<id>` JSON (`batches`).
    V1,
}

pub fn run(args: TraceArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let id = parse_trace_id(&args.id).map_err(|e| e.to_string())?;
    let runtime = crate::running::runtime()?;
    let Some(found) = runtime
        .block_on(trace_by_id(&catalog, &args.data.tenant, &id))
        .map_err(|e| e.to_string())?
    else {
        eprintln!("trace {} not found", args.id);
        return Ok(ExitCode::from(1));
    };
    match args.format {
        TraceFormat::Json => outln!("{}", v2_json(&found.trace)),
        TraceFormat::V1 => outln!("{}", v1_json(&found.trace)),
        TraceFormat::Tree => {
            out!(
                "{}",
                waterfall(&found.trace, std::io::stdout().is_terminal())
            );
            outln!(
                "({} span(s) from {} block(s), {} row group(s) read)",
                found.trace.spans.len(),
                found.blocks,
                found.row_groups_read
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The trace as an indented tree in depth-first order, with a bar showing where each span sits
/// in the trace's time range; errors in red when `color`.
pub fn waterfall(trace: &Trace, color: bool) -> String {
    const WIDTH: usize = 40;
    let structure = nested_set::compute(&trace.spans);
    let summary = TraceSummary::of(&trace.spans);
    let (start, end) = (summary.start, summary.end.max(summary.start + 1));
    let total = (end - start) as f64;
    let mut out = String::new();
    let mut open_rights: Vec<i32> = Vec::new();
    for &i in &structure.order {
        let s = &trace.spans[i];
        let p = structure.positions[i];
        while open_rights.last().is_some_and(|r| *r < p.left) {
            open_rights.pop();
        }
        let depth = if p.is_known() { open_rights.len() } else { 0 };
        if p.is_known() {
            open_rights.push(p.right);
        }
        let offset = (((s.start_time_unix_nano - start) as f64 / total) * WIDTH as f64) as usize;
        let length = ((s.duration_nanos().max(0) as f64 / total) * WIDTH as f64)
            .ceil()
            .max(1.0) as usize;
        let offset = offset.min(WIDTH - 1);
        let length = length.min(WIDTH - offset);
        let bar = format!(
            "{}{}{}",
            " ".repeat(offset),
            "█".repeat(length),
            " ".repeat(WIDTH - offset - length)
        );
        let label = format!(
            "{}{} ({})",
            "  ".repeat(depth),
            s.name,
            s.resource.service_name()
        );
        let error = s.status_code == StatusCode::Error;
        let line = format!(
            "{label:<64.64} │{bar}│ {:>10.3}ms{}",
            s.duration_nanos() as f64 / 1e6,
            if error { "  error" } else { "" }
        );
        if error && color {
            out.push_str(&format!("\x1b[31m{line}\x1b[0m\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

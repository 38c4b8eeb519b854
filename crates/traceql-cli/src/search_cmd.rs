//! `traceql search`: TraceQL search over a tenant's blocks.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use traceql::engine::EngineError;
use traceql::engine::response::SearchResponse;
use traceql::engine::search::{SearchRequest, explain, search_with_progress};

use crate::data_cmd::DataArgs;
use crate::running::{print_explained, report_timing, with_progress};
use crate::time_arg::{parse_time, parse_timeout};

/// Arguments of `traceql search`.
#[derive(Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Start of the time range: unix seconds or RFC 3339 (with --end).
    #[arg(long, requires = "end")]
    pub start: Option<String>,
    /// End of the time range: unix seconds or RFC 3339 (with --start).
    #[arg(long, requires = "start")]
    pub end: Option<String>,
    /// Number of traces to return (the newest).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Spans per spanset to return.
    #[arg(long, default_value_t = 3)]
    pub spss: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Stop the search after this long, e.g. `30s` or seconds.
    #[arg(long)]
    pub timeout: Option<String>,
    /// Print the query's wall time (from opening the blocks to the finished response) and
    /// the process's peak memory to standard error.
    #[arg(long)]
    pub timing: bool,
    /// Instead of the results, print how the search runs: its execution path and, on the
    /// columnar path, the row groups pruned and the physical plan of its first scan, run,
    /// with the rows and time of every node.
    #[arg(long)]
    pub explain: bool,
    /// The TraceQL query.
    pub query: String,
}

/// How results are printed.
#[derive(Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// A table of traces with their matched spans beneath.
    Table,
    /// Tempo's search response JSON.
    Json,
}

pub fn run(args: SearchArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let mut request = SearchRequest::new(&args.query);
    request.limit = args.limit;
    request.spss = args.spss;
    request.start = args.start.as_deref().map(parse_time).transpose()?;
    request.end = args.end.as_deref().map(parse_time).transpose()?;
    request.timeout = parse_timeout(args.timeout.as_deref())?;
    let runtime = crate::running::runtime()?;
    let tenant = args.data.tenant.clone();
    if args.explain {
        let explained = runtime.block_on(explain(&catalog, &tenant, &request));
        return print_explained(explained, &args.query);
    }
    let started = Instant::now();
    match with_progress(&runtime, "searching", |p| async move {
        search_with_progress(&catalog, &tenant, &request, &p).await
    })? {
        Ok(response) => {
            report_timing(args.timing, started);
            match args.format {
                OutputFormat::Json => outln!("{}", response.to_json()),
                OutputFormat::Table => out!("{}", table(&response)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(EngineError::Query(e)) => {
            eprint!("{}", e.render(&args.query));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Renders results as a table: one line per trace, its matched spans indented beneath.
pub fn table(response: &SearchResponse) -> String {
    let mut out = format!(
        "{:<32}  {:<20}  {:<28}  {:<24}  {:>9}  {:>7}\n",
        "trace", "root service", "root name", "start (UTC)", "duration", "matched"
    );
    for t in &response.traces {
        let matched: u32 = t.span_sets.iter().map(|s| s.matched).sum();
        out.push_str(&format!(
            "{:<32}  {:<20}  {:<28}  {:<24}  {:>7}ms  {:>7}\n",
            t.trace_id,
            truncate(&t.root_service_name, 20),
            truncate(&t.root_trace_name, 28),
            utc(t.start_time_unix_nano),
            t.duration_ms,
            matched
        ));
        for ss in &t.span_sets {
            for s in &ss.spans {
                let attrs: Vec<String> = s
                    .attributes
                    .iter()
                    .map(|kv| {
                        format!(
                            "{}={}",
                            kv.key,
                            serde_json::to_value(&kv.value)
                                .map(|v| short(&v))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "    {}  {:<36} {:>10.3}ms  {}\n",
                    s.span_id,
                    truncate(&s.name, 36),
                    s.duration_nanos as f64 / 1e6,
                    attrs.join(" ")
                ));
            }
        }
    }
    let m = &response.metrics;
    out.push_str(&format!(
        "{} trace(s); inspected {} traces, {} spans, {} bytes in {} block(s)\n",
        response.traces.len(),
        m.inspected_traces,
        m.inspected_spans,
        m.inspected_bytes,
        m.completed_jobs
    ));
    out
}

fn short(v: &serde_json::Value) -> String {
    match v.as_object().and_then(|o| o.values().next()) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => v.to_string(),
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
pub fn utc(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let millis = (unix_nanos / 1_000_000) % 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{millis:03}")
}

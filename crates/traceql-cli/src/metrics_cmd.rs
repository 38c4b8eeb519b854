//! `traceql metrics`: TraceQL metrics over a tenant's blocks.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use traceql::engine::EngineError;
use traceql::engine::metrics::{MetricsRequest, MetricsResult, explain, metrics_with_progress};
use traceql::engine::response::AnyValue;

use crate::data_cmd::DataArgs;
use crate::running::{print_explained, report_timing, with_progress};
use crate::search_cmd::{OutputFormat, utc};
use crate::time_arg::{parse_duration, parse_time, parse_timeout};

/// Arguments of `traceql metrics`.
#[derive(Args)]
pub struct MetricsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Start: unix seconds or RFC 3339.
    #[arg(long)]
    start: String,
    /// End: unix seconds or RFC 3339.
    #[arg(long)]
    end: String,
    /// Step: a duration such as `30s` or `5m`, or seconds (default: about 240 points).
    #[arg(long)]
    step: Option<String>,
    /// One value per series over the whole range.
    #[arg(long)]
    instant: bool,
    /// At most this many exemplars per metrics function (JSON output; 0 turns them off).
    #[arg(long, default_value_t = traceql::engine::metrics::MAX_EXEMPLARS)]
    exemplars: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Stop the query after this long, e.g. `30s` or seconds.
    #[arg(long)]
    timeout: Option<String>,
    /// Print the query's wall time (from opening the blocks to the finished result) and the
    /// process's peak memory to standard error.
    #[arg(long)]
    timing: bool,
    /// Instead of the result, print how the query runs: its execution path and, on the
    /// columnar path, each block's physical plan, run, with the rows and time of every node.
    #[arg(long)]
    explain: bool,
    /// The TraceQL metrics query, e.g. `{ } | rate() by (resource.service.name)`.
    query: String,
}

pub fn run(args: MetricsArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let start = parse_time(&args.start)?.saturating_mul(1_000_000_000);
    let end = parse_time(&args.end)?.saturating_mul(1_000_000_000);
    let mut request = MetricsRequest::range(&args.query, start, end);
    request.instant = args.instant;
    request.exemplars = args.exemplars;
    request.step = args
        .step
        .as_deref()
        .map(|s| parse_duration(s, "step"))
        .transpose()?;
    request.timeout = parse_timeout(args.timeout.as_deref())?;
    let runtime = crate::running::runtime()?;
    let tenant = args.data.tenant.clone();
    if args.explain {
        let explained = runtime.block_on(explain(&catalog, &tenant, &request));
        return print_explained(explained, &args.query);
    }
    let started = Instant::now();
    let result = match with_progress(&runtime, "computing", |p| async move {
        metrics_with_progress(&catalog, &tenant, &request, &p).await
    })? {
        Ok(r) => {
            report_timing(args.timing, started);
            r
        }
        Err(EngineError::Query(e)) => {
            eprint!("{}", e.render(&args.query));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.to_string()),
    };
    match (args.format, args.instant) {
        (OutputFormat::Json, false) => outln!(
            "{}",
            serde_json::to_string(&result.to_range()).map_err(|e| e.to_string())?
        ),
        (OutputFormat::Json, true) => outln!(
            "{}",
            serde_json::to_string(&result.to_instant()).map_err(|e| e.to_string())?
        ),
        (OutputFormat::Table, _) => out!("{}", table(&result)),
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per series: labels, a sparkline over the intervals, and the last, min and max.
pub fn table(result: &MetricsResult) -> String {
    let i = &result.intervals;
    let mut out = format!(
        "{} interval(s) of {} from {} to {} (UTC)\n",
        i.count(),
        traceql::syntax::lexical::duration::format(i.step as i64),
        utc(i.start),
        utc(i.end)
    );
    for s in &result.series {
        let labels: Vec<String> = s
            .labels
            .iter()
            .map(|l| {
                let v = match AnyValue::from_val(&l.value) {
                    Some(AnyValue::StringValue(v)) => v,
                    Some(AnyValue::IntValue(v)) => v.to_string(),
                    Some(AnyValue::DoubleValue(v)) => v.to_string(),
                    Some(AnyValue::BoolValue(v)) => v.to_string(),
                    _ => String::new(),
                };
                format!("{}={v}", l.key)
            })
            .collect();
        let present: Vec<f64> = s.values.iter().copied().filter(|v| !v.is_nan()).collect();
        let (min, max) = present
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let last = present.last().copied().unwrap_or(f64::NAN);
        out.push_str(&format!(
            "{:<48} {}  last {:<10.4} min {:<10.4} max {:.4}\n",
            labels.join(" "),
            sparkline(&s.values, min, max),
            last,
            min,
            max
        ));
    }
    if result.partial {
        out.push_str("(partial: the series limit was reached)\n");
    }
    out.push_str(&format!(
        "{} series; inspected {} spans\n",
        result.series.len(),
        result.metrics.inspected_spans
    ));
    out
}

/// At most 60 characters of `▁▂▃▄▅▆▇█`, one per interval (or per group of intervals); a space
/// where there is no value.
fn sparkline(values: &[f64], min: f64, max: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let per = values.len().div_ceil(60).max(1);
    values
        .chunks(per)
        .map(|chunk| {
            let present: Vec<f64> = chunk.iter().copied().filter(|v| !v.is_nan()).collect();
            if present.is_empty() {
                return ' ';
            }
            let v = present.iter().sum::<f64>() / present.len() as f64;
            let level = if max > min {
                ((v - min) / (max - min) * 7.0).round() as usize
            } else {
                3
            };
            BARS[level.min(7)]
        })
        .collect()
}

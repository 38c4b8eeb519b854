//! Data commands: `ingest`, `generate`, `blocks`, `compact`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use traceql::storage::catalog::{Catalog, DEFAULT_TENANT};
use traceql::storage::compact::compact;
use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::storage::ingest::{ingest_files, ingest_generated};
use traceql::storage::model::Span;
use traceql::storage::otlp;
use traceql::storage::writer::WriteOptions;

use crate::running::{runtime, spinner};

/// Where the blocks live.
#[derive(Args, Clone)]
pub struct DataArgs {
    /// Storage URL: a folder, file://, memory://, s3://bucket/prefix, gs://…, az://…
    #[arg(long, short = 'd', env = "TRACEQL_DATA")]
    pub data: String,
    /// Tenant.
    #[arg(long, short = 't', default_value = DEFAULT_TENANT)]
    pub tenant: String,
}

impl DataArgs {
    pub fn catalog(&self) -> Result<Catalog, String> {
        Catalog::open(&self.data).map_err(|e| e.to_string())
    }
}

/// Arguments of `traceql ingest`.
#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    data: DataArgs,
    /// OTLP files: protobuf (.pb, .binpb), OTLP/JSON (.json, .jsonl) or Tempo trace JSON.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Arguments of `traceql generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// Storage URL to write blocks to: a folder, file://, memory://, s3://bucket/prefix, …
    /// (not needed with --out).
    #[arg(
        long,
        short = 'd',
        env = "TRACEQL_DATA",
        required_unless_present = "out"
    )]
    data: Option<String>,
    /// Tenant.
    #[arg(long, short = 't', default_value = DEFAULT_TENANT)]
    tenant: String,
    /// Write the traces as an OTLP file here instead of as blocks (written whole or not at all).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Encoding of --out: protobuf `TracesData` messages, or OTLP/JSON lines.
    #[arg(long, value_enum, default_value = "otlp-proto", requires = "out")]
    format: OtlpFormat,
    /// About how many spans to generate.
    #[arg(long, default_value_t = 300_000)]
    spans: u64,
    /// Exactly this many traces (instead of --spans).
    #[arg(long, conflicts_with = "spans")]
    traces: Option<u64>,
    /// Seed: the same seed gives the same traces.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// At most this many spans per block.
    #[arg(long, default_value_t = 1_000_000)]
    block_spans: u64,
    /// Start of the generated time range, unix seconds (default: one hour before now).
    #[arg(long)]
    start: Option<u64>,
    /// Length of the generated time range, seconds.
    #[arg(long, default_value_t = 3600)]
    window: u64,
}

/// How `traceql generate --out` encodes the traces.
#[derive(Clone, Copy, ValueEnum)]
pub enum OtlpFormat {
    /// OTLP protobuf: `TracesData` messages one after another (which read as one message).
    OtlpProto,
    /// OTLP/JSON: one `TracesData` object per line.
    OtlpJson,
}

impl GenerateArgs {
    /// The demo's data set: the last hour, default seed, one block per million spans.
    pub fn for_demo(dir: &str, spans: u64) -> GenerateArgs {
        GenerateArgs {
            data: Some(dir.to_string()),
            tenant: DEFAULT_TENANT.to_string(),
            out: None,
            format: OtlpFormat::OtlpProto,
            spans,
            traces: None,
            seed: 42,
            block_spans: 1_000_000,
            start: None,
            window: 3600,
        }
    }
}

/// Arguments of `traceql compact`.
#[derive(Args)]
pub struct CompactArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Only these blocks (default: every live block of the tenant).
    blocks: Vec<String>,
}

pub fn ingest(args: IngestArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let started = Instant::now();
    let bar = spinner(format!("ingesting {} file(s)", args.files.len()));
    let meta = runtime()?
        .block_on(ingest_files(
            &catalog,
            &args.data.tenant,
            &args.files,
            &WriteOptions::default(),
        ))
        .map_err(|e| e.to_string());
    bar.finish_and_clear();
    let meta = meta?;
    let secs = started.elapsed().as_secs_f64();
    outln!(
        "block {}: {} traces, {} spans, {} row groups, {} bytes ({:.0} spans/s)",
        meta.block_id,
        meta.trace_count,
        meta.span_count,
        meta.row_groups,
        meta.size_bytes,
        meta.span_count as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn generate(args: GenerateArgs) -> Result<ExitCode, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let start = args.start.unwrap_or(now.saturating_sub(args.window));
    let config = GeneratorConfig {
        seed: args.seed,
        start_unix_nano: start.saturating_mul(1_000_000_000),
        window_nanos: args.window.max(1).saturating_mul(1_000_000_000),
    };
    let generator = Generator::new(config);
    let traces = args
        .traces
        .unwrap_or_else(|| Generator::traces_for_spans(args.spans));
    let bar = ProgressBar::new(traces);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} traces ({eta})")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    bar.set_message("generating");
    if let Some(out) = &args.out {
        let written = write_otlp_file(&generator, traces, out, args.format, |done| {
            bar.set_position(done)
        });
        bar.finish_and_clear();
        let (traces, spans) = written.map_err(|e| format!("{}: {e}", out.display()))?;
        outln!(
            "generated {traces} traces, {spans} spans into {}",
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let data = args.data.ok_or("--data or --out is required")?;
    let catalog = Catalog::open(&data).map_err(|e| e.to_string())?;
    let per_block = Generator::traces_for_spans(args.block_spans.max(1));
    let blocks = runtime()?
        .block_on(ingest_generated(
            &catalog,
            &args.tenant,
            &generator,
            traces,
            per_block,
            |_, done| bar.set_position(done),
        ))
        .map_err(|e| e.to_string());
    bar.finish_and_clear();
    let blocks = blocks?;
    let written = blocks
        .iter()
        .fold((0, 0), |(t, s), b| (t + b.trace_count, s + b.span_count));
    outln!(
        "generated {} traces, {} spans into {data} (tenant {})",
        written.0,
        written.1,
        args.tenant
    );
    Ok(ExitCode::SUCCESS)
}

/// Traces encoded together in one OTLP message of a generated file.
const TRACES_PER_MESSAGE: u64 = 1_000;

/// Writes traces `0..traces` of `generator` to `path` in `format`, a message at a time (memory
/// stays bounded), into a temporary file renamed over `path` once complete, so `path` is never
/// half written. Returns the traces and spans written; `progress` hears the traces done.
fn write_otlp_file(
    generator: &Generator,
    traces: u64,
    path: &Path,
    format: OtlpFormat,
    progress: impl Fn(u64),
) -> std::io::Result<(u64, u64)> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = (|| {
        let file = File::create(&partial)?;
        let mut writer = BufWriter::new(&file);
        let mut spans_written = 0;
        for first in (0..traces).step_by(TRACES_PER_MESSAGE as usize) {
            let last = (first + TRACES_PER_MESSAGE).min(traces);
            let spans: Vec<Span> = generator
                .traces(first..last)
                .into_iter()
                .flat_map(|t| t.spans)
                .collect();
            spans_written += spans.len() as u64;
            match format {
                OtlpFormat::OtlpProto => writer.write_all(&otlp::proto::encode(&spans))?,
                OtlpFormat::OtlpJson => {
                    writer.write_all(otlp::encode_json(&spans).as_bytes())?;
                    writer.write_all(b"\n")?;
                }
            }
            progress(last);
        }
        writer.flush()?;
        drop(writer);
        file.sync_all()?;
        std::fs::rename(&partial, path)?;
        Ok((traces, spans_written))
    })();
    if written.is_err() {
        // Best effort: the partial file is of no use to anyone.
        let _ = std::fs::remove_file(&partial);
    }
    written
}

pub fn blocks(args: DataArgs) -> Result<ExitCode, String> {
    let catalog = args.catalog()?;
    let blocks = runtime()?
        .block_on(catalog.list_blocks(&args.tenant))
        .map_err(|e| e.to_string())?;
    outln!(
        "{:<36}  {:>8}  {:>10}  {:>6}  {:>12}  start (unix s)",
        "block",
        "traces",
        "spans",
        "groups",
        "bytes"
    );
    for b in &blocks {
        outln!(
            "{:<36}  {:>8}  {:>10}  {:>6}  {:>12}  {}",
            b.block_id,
            b.trace_count,
            b.span_count,
            b.row_groups,
            b.size_bytes,
            b.start_time_unix_nano / 1_000_000_000
        );
    }
    outln!("{} block(s)", blocks.len());
    Ok(ExitCode::SUCCESS)
}

pub fn compact_blocks(args: CompactArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let only = (!args.blocks.is_empty()).then_some(args.blocks.as_slice());
    let bar = spinner("compacting".to_string());
    let done = runtime()?
        .block_on(compact(
            &catalog,
            &args.data.tenant,
            only,
            &WriteOptions::default(),
        ))
        .map_err(|e| e.to_string());
    bar.finish_and_clear();
    match done? {
        None => outln!("nothing to compact: fewer than two live blocks"),
        Some(c) => outln!(
            "block {}: {} traces, {} spans from {} blocks ({} duplicate spans dropped)",
            c.block.block_id,
            c.block.trace_count,
            c.block.span_count,
            c.replaced.len(),
            c.duplicates_dropped
        ),
    }
    Ok(ExitCode::SUCCESS)
}

//! Data commands: `ingest`, `generate`, `blocks`, `compact`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use traceql::storage::catalog::{Catalog, DEFAULT_TENANT};
use traceql::storage::compact::compact;
use traceql::storage::generator::{Generator, GeneratorConfig};
use traceql::storage::ingest::{ingest_files, ingest_generated};
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
    #[command(flatten)]
    data: DataArgs,
    /// About how many spans to generate.
    #[arg(long, default_value_t = 300_000)]
    spans: u64,
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

impl GenerateArgs {
    /// The demo's data set: the last hour, default seed, one block per million spans.
    pub fn for_demo(dir: &str, spans: u64) -> GenerateArgs {
        GenerateArgs {
            data: DataArgs {
                data: dir.to_string(),
                tenant: DEFAULT_TENANT.to_string(),
            },
            spans,
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
    let catalog = args.data.catalog()?;
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
    let traces = Generator::traces_for_spans(args.spans);
    let per_block = Generator::traces_for_spans(args.block_spans.max(1));
    let bar = ProgressBar::new(traces);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} traces ({eta})")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    bar.set_message("generating");
    let blocks = runtime()?
        .block_on(ingest_generated(
            &catalog,
            &args.data.tenant,
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
        "generated {} traces, {} spans into {} (tenant {})",
        written.0,
        written.1,
        args.data.data,
        args.data.tenant
    );
    Ok(ExitCode::SUCCESS)
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

//! The `traceql` command-line tool.

#[macro_use]
mod output;

mod data_cmd;
mod demo_cmd;
mod metrics_cmd;
mod parse_cmd;
mod repl;
mod running;
mod search_cmd;
mod tags_cmd;
mod time_arg;
mod trace_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// TraceQL, the trace query language of Grafana Tempo, run by a columnar engine.
#[derive(Parser)]
#[command(name = "traceql", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    repl: repl::ReplArgs,
}

#[derive(Subcommand)]
enum Command {
    /// The interactive shell (also what `traceql` alone starts); reads queries from standard
    /// input when it is not a terminal.
    Repl(repl::ReplArgs),
    /// Parse and validate queries: print each one's class and canonical form.
    ///
    /// Queries come from the arguments, or from `--file` (one query per line; blank lines and
    /// lines starting with `#` are skipped). Exits with status 1 if any query is not valid.
    Parse(parse_cmd::ParseArgs),
    /// Generate a sample data set (if missing) and run a showcase of queries over it.
    Demo(demo_cmd::DemoArgs),
    /// Search a tenant's blocks with a TraceQL query.
    Search(search_cmd::SearchArgs),
    /// Run a TraceQL metrics query (range or instant).
    Metrics(metrics_cmd::MetricsArgs),
    /// Show one trace by ID: a waterfall tree, or Tempo's trace JSON.
    Trace(trace_cmd::TraceArgs),
    /// List the tag names of a tenant, by scope.
    Tags(tags_cmd::TagsArgs),
    /// List the values of one tag, optionally on spans matching a `{ … }` selector.
    TagValues(tags_cmd::TagValuesArgs),
    /// Ingest OTLP files (protobuf, OTLP/JSON, Tempo trace JSON) as one new block.
    Ingest(data_cmd::IngestArgs),
    /// Generate synthetic traces of "the shop" (a dozen microservices) into blocks, or into an
    /// OTLP file with --out.
    #[command(alias = "gen")]
    Generate(data_cmd::GenerateArgs),
    /// List the live blocks of a tenant.
    Blocks(data_cmd::DataArgs),
    /// Merge a tenant's blocks into one (crash-safe; a trace's spans are merged).
    Compact(data_cmd::CompactArgs),
}

/// mimalloc: the engine allocates many short-lived buffers from several threads, where the
/// system allocator spends a large share of a query's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        return finish(repl::run(cli.repl));
    };
    let result = match command {
        Command::Repl(args) => repl::run(args),
        Command::Parse(args) => parse_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Search(args) => search_cmd::run(args),
        Command::Metrics(args) => metrics_cmd::run(args),
        Command::Trace(args) => trace_cmd::run(args),
        Command::Tags(args) => tags_cmd::tags(args),
        Command::TagValues(args) => tags_cmd::values(args),
        Command::Ingest(args) => data_cmd::ingest(args),
        Command::Generate(args) => data_cmd::generate(args),
        Command::Blocks(args) => data_cmd::blocks(args),
        Command::Compact(args) => data_cmd::compact_blocks(args),
    };
    finish(result)
}

fn finish(result: Result<ExitCode, String>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("traceql: {message}");
            ExitCode::from(2)
        }
    }
}

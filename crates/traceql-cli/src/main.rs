//! The `traceql` command-line tool.

mod parse_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// TraceQL, the trace query language of Grafana Tempo, run by a columnar engine.
#[derive(Parser)]
#[command(name = "traceql", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and validate queries: print each one's class and canonical form.
    ///
    /// Queries come from the arguments, or from `--file` (one query per line; blank lines and
    /// lines starting with `#` are skipped). Exits with status 1 if any query is not valid.
    Parse(parse_cmd::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => parse_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("traceql: {message}");
            ExitCode::from(2)
        }
    }
}

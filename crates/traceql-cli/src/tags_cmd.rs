//! `traceql tags` and `traceql tag-values`.

use std::process::ExitCode;

use clap::Args;
use traceql::engine::tags::{tag_names, tag_values};

use crate::data_cmd::DataArgs;
use crate::running::runtime;

/// Arguments of `traceql tags`.
#[derive(Args)]
pub struct TagsArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Only this scope: resource, span, intrinsic, event, link or instrumentation.
    #[arg(long)]
    scope: Option<String>,
    /// At most this many tags per scope.
    #[arg(long)]
    limit: Option<usize>,
    /// Print Tempo's `/api/v2/search/tags` JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `traceql tag-values`.
#[derive(Args)]
pub struct TagValuesArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Only values on spans matching this `{ … }` selector.
    #[arg(long, short)]
    query: Option<String>,
    /// At most this many values.
    #[arg(long)]
    limit: Option<usize>,
    /// Print Tempo's `/api/v2/search/tag/<tag>/values` JSON.
    #[arg(long)]
    json: bool,
    /// The tag, as TraceQL names it: `resource.service.name`, `.http.method`, `name`, `status` …
    tag: String,
}

pub fn tags(args: TagsArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let names = runtime()?
        .block_on(tag_names(
            &catalog,
            &args.data.tenant,
            args.scope.as_deref(),
            args.limit,
        ))
        .map_err(|e| e.to_string())?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&names).map_err(|e| e.to_string())?
        );
    } else {
        for scope in &names.scopes {
            outln!("{}:", scope.name);
            for tag in &scope.tags {
                outln!("  {tag}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn values(args: TagValuesArgs) -> Result<ExitCode, String> {
    let catalog = args.data.catalog()?;
    let values = runtime()?
        .block_on(tag_values(
            &catalog,
            &args.data.tenant,
            &args.tag,
            args.query.as_deref(),
            args.limit,
        ))
        .map_err(|e| e.to_string())?;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string(&values).map_err(|e| e.to_string())?
        );
    } else {
        for v in &values.tag_values {
            outln!("{:<8}  {}", v.value_type, v.value);
        }
    }
    Ok(ExitCode::SUCCESS)
}

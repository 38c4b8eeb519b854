//! `traceql demo`: a sample data set and a short showcase of queries.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use traceql::engine::metrics::{MetricsRequest, metrics};
use traceql::engine::search::{SearchRequest, search};
use traceql::storage::catalog::{Catalog, DEFAULT_TENANT};
use traceql::storage::meta::time_range;

use crate::search_cmd::table;

/// Arguments of `traceql demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the sample data (created and filled on first use).
    #[arg(long, default_value = "traceql-demo-data")]
    dir: PathBuf,
    /// About how many spans the sample data set has.
    #[arg(long, default_value_t = 300_000)]
    spans: u64,
}

/// The showcase: what each query shows, and the query.
const SHOWCASE: &[(&str, &str)] = &[
    (
        "A filter: failed checkout calls",
        r#"{ resource.service.name = "checkout" && status = error }"#,
    ),
    (
        "A structural query: errors anywhere below the frontend's checkout requests",
        r#"{ resource.service.name = "frontend" && name = "POST /api/checkout" } >> { status = error }"#,
    ),
    (
        "An aggregate: traces whose server spans average over 30ms",
        r#"{ kind = server } | avg(duration) > 30ms"#,
    ),
    (
        "Grouping: services with more than six spans in one trace",
        r#"{ } | by(resource.service.name) | count() > 6"#,
    ),
    (
        "Siblings: database calls next to a cache miss",
        r#"{ event:name = "cache miss" } ~ { span.db.system = "redis" }"#,
    ),
];

pub fn run(args: DemoArgs) -> Result<ExitCode, String> {
    let dir = args
        .dir
        .to_str()
        .ok_or("the demo folder's path is not UTF-8")?
        .to_string();
    let catalog = Catalog::open(&dir).map_err(|e| e.to_string())?;
    let runtime = crate::running::runtime()?;
    let list_blocks = || {
        runtime
            .block_on(catalog.list_blocks(DEFAULT_TENANT))
            .map_err(|e| e.to_string())
    };
    let mut blocks = list_blocks()?;
    if blocks.is_empty() {
        outln!(
            "Generating the sample data set (the shop: a dozen services, ~{} spans) into {dir}/",
            args.spans
        );
        crate::data_cmd::generate(crate::data_cmd::GenerateArgs::for_demo(&dir, args.spans))?;
        blocks = list_blocks()?;
    } else {
        let spans: u64 = blocks.iter().map(|b| b.span_count).sum();
        outln!(
            "Using the sample data in {dir}/ ({} block(s), {spans} spans)",
            blocks.len()
        );
    }
    for (what, query) in SHOWCASE {
        outln!("\n── {what}\n   {query}\n");
        let mut request = SearchRequest::new(*query);
        request.limit = 3;
        let response = runtime
            .block_on(search(&catalog, DEFAULT_TENANT, &request))
            .map_err(|e| e.to_string())?;
        out!("{}", table(&response));
    }
    let what = "A metrics query: request rate per service, over the data's time range";
    let query = "{ kind = server } | rate() by (resource.service.name)";
    outln!("\n── {what}\n   {query}\n");
    let (start, end) = time_range(&blocks).ok_or("the sample data has no blocks")?;
    let result = runtime
        .block_on(metrics(
            &catalog,
            DEFAULT_TENANT,
            &MetricsRequest::range(query, start, end),
        ))
        .map_err(|e| e.to_string())?;
    out!("{}", crate::metrics_cmd::table(&result));
    outln!("\nOpen the shell on this data and try your own queries: traceql --data {dir}");
    outln!("Or one at a time: traceql search --data {dir} '{{ span.http.route = \"/api/cart\" }}'");
    outln!(
        "Every query's canonical form and class: traceql parse '{{ .a = 1 || .b = 2 && .c = 3 }}'"
    );
    Ok(ExitCode::SUCCESS)
}

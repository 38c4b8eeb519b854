//! `traceql repl` (and `traceql` alone): the interactive shell, or a query runner when standard
//! input is not a terminal.

mod helper;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};
use traceql::engine::EngineError;
use traceql::engine::metrics::{MetricsRequest, explain as explain_metrics, metrics_with_progress};
use traceql::engine::search::{SearchRequest, explain as explain_search, search_with_progress};
use traceql::engine::tags::{tag_names, tag_values};
use traceql::engine::trace_by_id::{parse_trace_id, trace_by_id, v2_json};
use traceql::storage::catalog::{Catalog, DEFAULT_TENANT};
use traceql::storage::meta::time_range;
use traceql::syntax::ast::QueryBody;

use crate::running::with_progress;
use crate::time_arg::parse_time;
use helper::{Lookup, ReplHelper, is_incomplete};

/// Arguments of `traceql repl`.
#[derive(Args, Default)]
pub struct ReplArgs {
    /// Storage URL to open (also `.data` inside the shell, or TRACEQL_DATA).
    #[arg(long, short = 'd', env = "TRACEQL_DATA")]
    pub data: Option<String>,
    /// Tenant.
    #[arg(long, short = 't', default_value = DEFAULT_TENANT)]
    pub tenant: String,
}

/// How results are shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Tree,
}

/// The shell's settings and connection.
struct Session {
    catalog: Option<Catalog>,
    tenant: String,
    range: Option<(u64, u64)>,
    limit: usize,
    spss: usize,
    format: Format,
    timing: bool,
    runtime: tokio::runtime::Runtime,
}

const HELP: &str = "\
Type a TraceQL query and press Enter; it continues over several lines while braces, parentheses
or quotes are open. Search queries list traces; metrics queries (`| rate()` …) list series.

  .help                  this text
  .data URL [TENANT]     open blocks: a folder, file://, memory://, s3://, gs://, az://
  .range START END       time range (unix seconds or RFC 3339); `.range off` to clear
  .limit N               traces per search (default 20)
  .spss N                spans per spanset (default 3)
  .format table|json|tree
  .timing on|off         show how long each query took
  .explain QUERY         the query's canonical form and plan; with data open, runs it
                         and shows the DataFusion plans with rows and time per node
  .tags [SCOPE]          tag names (resource, span, intrinsic, event, link, instrumentation)
  .trace ID              one trace as a waterfall
  .quit                  leave (or Ctrl-D)

Tab completes keywords, intrinsics, scopes, attribute names and, after `name = \"`, values.
Ctrl-C cancels a running query.";

struct CatalogLookup {
    catalog: Option<Catalog>,
    tenant: String,
}

impl CatalogLookup {
    fn run<T>(&self, f: impl std::future::Future<Output = Result<T, EngineError>>) -> Option<T> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(f).ok()
    }
}

impl Lookup for CatalogLookup {
    fn attributes(&self) -> Vec<String> {
        let Some(catalog) = &self.catalog else {
            return Vec::new();
        };
        let Some(names) = self.run(tag_names(catalog, &self.tenant, None, None)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for scope in names.scopes {
            if scope.name == "intrinsic" {
                continue;
            }
            for tag in scope.tags {
                out.push(format!("{}.{tag}", scope.name));
                out.push(format!(".{tag}"));
            }
        }
        out
    }

    fn values(&self, tag: &str) -> Vec<String> {
        let Some(catalog) = &self.catalog else {
            return Vec::new();
        };
        self.run(tag_values(catalog, &self.tenant, tag, None, Some(200)))
            .map(|v| {
                v.tag_values
                    .into_iter()
                    .filter(|t| t.value_type == "string")
                    .map(|t| t.value)
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn run(args: ReplArgs) -> Result<ExitCode, String> {
    let runtime = crate::running::runtime()?;
    let catalog = args
        .data
        .as_deref()
        .map(Catalog::open)
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut session = Session {
        catalog,
        tenant: args.tenant,
        range: None,
        limit: 20,
        spss: 3,
        format: Format::Table,
        timing: false,
        runtime,
    };
    if !std::io::stdin().is_terminal() {
        return script(&mut session);
    }
    interactive(&mut session)
}

/// Standard input is not a terminal: run queries one per line (or `;`-separated).
fn script(session: &mut Session) -> Result<ExitCode, String> {
    let mut failed = false;
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("cannot read standard input: {e}"))?;
        for part in split_statements(&line) {
            pending.push_str(&part);
            if is_incomplete(&pending) {
                pending.push('\n');
                continue;
            }
            let statement = std::mem::take(&mut pending);
            if statement.trim().is_empty() {
                continue;
            }
            match execute(session, statement.trim()) {
                Ok(Flow::Quit) => return Ok(exit(failed)),
                Ok(Flow::Continue) => {}
                Err(message) => {
                    eprintln!("{message}");
                    failed = true;
                }
            }
        }
    }
    // An unfinished statement at the end still runs, to report its error.
    if !pending.trim().is_empty()
        && let Err(message) = execute(session, pending.trim())
    {
        eprintln!("{message}");
        failed = true;
    }
    Ok(exit(failed))
}

fn exit(failed: bool) -> ExitCode {
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Splits a line at `;` outside strings.
fn split_statements(line: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (None, ';') => {
                parts.push(String::new());
                continue;
            }
            (None, '"' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        if let Some(part) = parts.last_mut() {
            part.push(c);
        }
    }
    parts
}

fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let dir = state.join("traceql");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history.txt"))
}

fn interactive(session: &mut Session) -> Result<ExitCode, String> {
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<ReplHelper, FileHistory> =
        Editor::with_config(config).map_err(|e| e.to_string())?;
    let lookup = CatalogLookup {
        catalog: session.catalog.clone(),
        tenant: session.tenant.clone(),
    };
    editor.set_helper(Some(ReplHelper::new(
        Box::new(lookup),
        std::io::stdout().is_terminal(),
    )));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    outln!(
        "traceql {} — TraceQL over span blocks. .help for commands, Ctrl-D to quit.",
        env!("CARGO_PKG_VERSION")
    );
    match &session.catalog {
        Some(c) => outln!("data: {} (tenant {})", c.url(), session.tenant),
        None => {
            outln!("no data open: .data FOLDER-OR-URL (try `traceql demo` for a sample data set)")
        }
    }
    loop {
        match editor.readline("traceql> ") {
            Ok(line) => {
                if line.trim().is_empty() {
                    continue;
                }
                let opened = line.trim_start().starts_with(".data");
                match execute(session, line.trim()) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(message) => eprintln!("{message}"),
                }
                if opened && let Some(helper) = editor.helper_mut() {
                    helper.reset(Box::new(CatalogLookup {
                        catalog: session.catalog.clone(),
                        tenant: session.tenant.clone(),
                    }));
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}

enum Flow {
    Continue,
    Quit,
}

/// Runs one dot command or query.
fn execute(session: &mut Session, input: &str) -> Result<Flow, String> {
    if let Some(command) = input.strip_prefix('.') {
        return dot_command(session, command);
    }
    let started = Instant::now();
    let output = run_query(session, input)?;
    out!("{output}");
    if session.timing {
        outln!("time: {:.3} s", started.elapsed().as_secs_f64());
    }
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    Ok(Flow::Continue)
}

fn catalog(session: &Session) -> Result<&Catalog, String> {
    session
        .catalog
        .as_ref()
        .ok_or_else(|| "no data open: use .data FOLDER-OR-URL".to_string())
}

/// Runs `f` on the session's runtime with a spinner; Ctrl-C cancels it.
fn cancellable<T: Send + 'static>(
    session: &Session,
    what: &str,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    crate::running::cancellable(&session.runtime, what, None, f)
}

/// A search request with the session's limit, spans per spanset and range.
fn search_request(session: &Session, query: &str) -> SearchRequest {
    let mut request = SearchRequest::new(query);
    request.limit = session.limit;
    request.spss = session.spss;
    request.start = session.range.map(|r| r.0);
    request.end = session.range.map(|r| r.1);
    request
}

/// A metrics request over the session's range, or over all the data when none is set.
fn metrics_request(
    session: &Session,
    catalog: &Catalog,
    query: &str,
) -> Result<MetricsRequest, String> {
    let (start, end) = match session.range {
        Some((s, e)) => (s * 1_000_000_000, e * 1_000_000_000),
        None => {
            let blocks = session
                .runtime
                .block_on(catalog.list_blocks(&session.tenant))
                .map_err(|e| e.to_string())?;
            time_range(&blocks).ok_or("no blocks to compute metrics over")?
        }
    };
    Ok(MetricsRequest::range(query, start, end))
}

fn run_query(session: &Session, query: &str) -> Result<String, String> {
    let catalog = catalog(session)?;
    let parsed = match traceql::parse(query) {
        Ok(q) => q,
        Err(e) => return Err(e.render(query).trim_end().to_string()),
    };
    let render_error = |e: EngineError| match e {
        EngineError::Query(e) => e.render(query).trim_end().to_string(),
        other => other.to_string(),
    };
    if matches!(parsed.body, QueryBody::Metrics(_)) {
        let request = metrics_request(session, catalog, query)?;
        let (catalog, tenant) = (catalog.clone(), session.tenant.clone());
        let result = with_progress(&session.runtime, "computing", |p| async move {
            metrics_with_progress(&catalog, &tenant, &request, &p).await
        })?
        .map_err(render_error)?;
        return Ok(match session.format {
            Format::Json => {
                serde_json::to_string(&result.to_range()).map_err(|e| e.to_string())? + "\n"
            }
            _ => crate::metrics_cmd::table(&result),
        });
    }
    let request = search_request(session, query);
    let (owned, tenant) = (catalog.clone(), session.tenant.clone());
    let response = with_progress(&session.runtime, "searching", |p| async move {
        search_with_progress(&owned, &tenant, &request, &p).await
    })?
    .map_err(render_error)?;
    Ok(match session.format {
        Format::Json => response.to_json() + "\n",
        Format::Table => crate::search_cmd::table(&response),
        Format::Tree => {
            let mut out = String::new();
            for t in &response.traces {
                let id = parse_trace_id(&t.trace_id).map_err(|e| e.to_string())?;
                if let Some(found) = session
                    .runtime
                    .block_on(trace_by_id(catalog, &session.tenant, &id))
                    .map_err(|e| e.to_string())?
                {
                    out.push_str(&format!("trace {}\n", t.trace_id));
                    out.push_str(&crate::trace_cmd::waterfall(
                        &found.trace,
                        std::io::stdout().is_terminal(),
                    ));
                }
            }
            out.push_str(&format!("{} trace(s)\n", response.traces.len()));
            out
        }
    })
}

fn dot_command(session: &mut Session, command: &str) -> Result<Flow, String> {
    let mut words = command.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    match (name, args.as_slice()) {
        ("help", _) => outln!("{HELP}"),
        ("quit" | "exit", _) => return Ok(Flow::Quit),
        ("data", [url, rest @ ..]) => {
            let catalog = Catalog::open(url).map_err(|e| e.to_string())?;
            if let Some(tenant) = rest.first() {
                session.tenant = tenant.to_string();
            }
            let blocks = session
                .runtime
                .block_on(catalog.list_blocks(&session.tenant))
                .map_err(|e| e.to_string())?;
            let spans: u64 = blocks.iter().map(|b| b.span_count).sum();
            outln!(
                "data: {url} (tenant {}): {} block(s), {spans} spans",
                session.tenant,
                blocks.len()
            );
            session.catalog = Some(catalog);
        }
        ("range", ["off"]) => {
            session.range = None;
            outln!("range: all data");
        }
        ("range", [start, end]) => {
            let (s, e) = (parse_time(start)?, parse_time(end)?);
            if e <= s {
                return Err("the end must be after the start".into());
            }
            session.range = Some((s, e));
            outln!(
                "range: {} to {} (UTC)",
                crate::search_cmd::utc(s * 1_000_000_000),
                crate::search_cmd::utc(e * 1_000_000_000)
            );
        }
        ("limit", [n]) => session.limit = n.parse().map_err(|_| format!("invalid limit {n:?}"))?,
        ("spss", [n]) => session.spss = n.parse().map_err(|_| format!("invalid spss {n:?}"))?,
        ("format", [f]) => {
            session.format = match *f {
                "table" => Format::Table,
                "json" => Format::Json,
                "tree" => Format::Tree,
                other => return Err(format!("unknown format {other:?}: table, json or tree")),
            }
        }
        ("timing", ["on"]) => session.timing = true,
        ("timing", ["off"]) => session.timing = false,
        ("explain", _) => {
            let query = command.trim_start_matches("explain").trim();
            explain(query);
            let body = traceql::parse(query).map(|q| q.body);
            if let (Ok(body), Ok(catalog)) = (body, catalog(session)) {
                let tenant = session.tenant.clone();
                let described = match body {
                    QueryBody::Metrics(_) => {
                        let request = metrics_request(session, catalog, query)?;
                        let catalog = catalog.clone();
                        cancellable(session, "explaining", async move {
                            explain_metrics(&catalog, &tenant, &request).await
                        })?
                    }
                    _ => {
                        let request = search_request(session, query);
                        let catalog = catalog.clone();
                        cancellable(session, "explaining", async move {
                            explain_search(&catalog, &tenant, &request).await
                        })?
                    }
                };
                out!("{}", described.map_err(|e| e.to_string())?);
            }
        }
        ("tags", rest) => {
            let catalog = catalog(session)?;
            let (catalog, tenant) = (catalog.clone(), session.tenant.clone());
            let scope = rest.first().map(|s| s.to_string());
            let names = cancellable(session, "listing", async move {
                tag_names(&catalog, &tenant, scope.as_deref(), None).await
            })?
            .map_err(|e| e.to_string())?;
            for scope in names.scopes {
                outln!("{}: {}", scope.name, scope.tags.join(" "));
            }
        }
        ("trace", [id]) => {
            let catalog = catalog(session)?;
            let id_bytes = parse_trace_id(id).map_err(|e| e.to_string())?;
            let (catalog, tenant) = (catalog.clone(), session.tenant.clone());
            match cancellable(session, "finding", async move {
                trace_by_id(&catalog, &tenant, &id_bytes).await
            })?
            .map_err(|e| e.to_string())?
            {
                None => outln!("trace {id} not found"),
                Some(found) if session.format == Format::Json => {
                    outln!("{}", v2_json(&found.trace))
                }
                Some(found) => out!(
                    "{}",
                    crate::trace_cmd::waterfall(&found.trace, std::io::stdout().is_terminal())
                ),
            }
        }
        _ => {
            return Err(format!(
                "unknown command .{command}: .help lists the commands"
            ));
        }
    }
    Ok(Flow::Continue)
}

/// The class, canonical form and plan of a query.
fn explain(query: &str) {
    match traceql::parse(query) {
        Err(e) => outln!("{}", e.render(query).trim_end()),
        Ok(ast) => {
            outln!("valid: {ast}");
            match &ast.body {
                QueryBody::Pipeline(p) => {
                    outln!("plan: search");
                    for (i, stage) in p.stages.iter().enumerate() {
                        outln!("  stage {}: {stage}", i + 1);
                    }
                }
                QueryBody::Metrics(m) => {
                    outln!("plan: metrics over right-closed intervals");
                    m.expr.visit_pipelines(&mut |p| {
                        outln!("  pipeline: {}  →  {}", p.pipeline, p.function)
                    });
                }
                QueryBody::ScalarFilter(_) => {}
            }
        }
    }
}

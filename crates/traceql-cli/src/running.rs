//! Running work in the foreground: the async runtime, a spinner on a terminal, and Ctrl-C to
//! cancel a query.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use traceql::engine::EngineError;
use traceql::engine::progress::Progress;

/// With `enabled`, prints the wall time since `started` to standard error as
/// `query time: 12.345 ms`, then the process's peak resident memory as `peak memory: 97.2 MiB`
/// where the system tells it (Linux), which is what `--timing` asks for.
pub fn report_timing(enabled: bool, started: Instant) {
    if enabled {
        eprintln!(
            "query time: {:.3} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        if let Some(kib) = peak_memory_kib() {
            eprintln!("peak memory: {:.1} MiB", kib as f64 / 1024.0);
        }
    }
}

/// The process's peak resident memory (`VmHWM` in `/proc/self/status`), KiB; `None` where
/// there is no such file. Unlike the peak a parent reads when the process ends, it counts
/// nothing of the parent the process was forked from.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Prints what `--explain` produced for `query`: the plan on standard output, or a query
/// error with its place (exit status 1); other errors are the caller's.
pub fn print_explained(
    explained: Result<String, EngineError>,
    query: &str,
) -> Result<ExitCode, String> {
    match explained {
        Ok(plan) => {
            out!("{plan}");
            Ok(ExitCode::SUCCESS)
        }
        Err(EngineError::Query(e)) => {
            eprint!("{}", e.render(query));
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The multi-threaded runtime every command runs its storage and query work on.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// A spinner on standard error showing `message` (hidden when it is not a terminal).
pub fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(Duration::from_millis(150));
    bar
}

/// Runs a query on the runtime's workers until it ends or Ctrl-C aborts it (then the error is
/// `cancelled`). A spinner shows on a terminal, with the blocks and spans read so far when
/// `progress` is given.
pub fn cancellable<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    what: &str,
    progress: Option<Arc<Progress>>,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let bar = spinner(what.to_string());
    let mut task = runtime.spawn(f);
    let abort = task.abort_handle();
    let result = runtime.block_on(async {
        let mut ticks = tokio::time::interval(Duration::from_millis(200));
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                r = &mut task => break r.ok(),
                _ = &mut ctrl_c => {
                    abort.abort();
                    break None;
                }
                _ = ticks.tick() => {
                    if let Some(p) = &progress {
                        bar.set_message(format!("{what}: {p}"));
                    }
                }
            }
        }
    });
    bar.finish_and_clear();
    result.ok_or_else(|| "cancelled".to_string())
}

/// [`cancellable`] for a query that counts its work in a fresh [`Progress`]: `start` receives
/// the counters and returns the running query.
pub fn with_progress<T, F>(
    runtime: &tokio::runtime::Runtime,
    what: &str,
    start: impl FnOnce(Arc<Progress>) -> F,
) -> Result<T, String>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let progress = Arc::new(Progress::default());
    let running = start(Arc::clone(&progress));
    cancellable(runtime, what, Some(progress), running)
}

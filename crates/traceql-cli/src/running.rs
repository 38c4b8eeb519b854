//! Running a query in the foreground: a spinner on a terminal, and Ctrl-C to cancel.

use std::sync::Arc;
use std::time::Duration;

use indicatif::ProgressBar;
use traceql::engine::progress::Progress;

/// Runs a query on the runtime's workers until it ends or Ctrl-C aborts it (then the error is
/// `cancelled`). A spinner shows on a terminal, with the blocks and spans read so far when
/// `progress` is given.
pub fn cancellable<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    what: &str,
    progress: Option<Arc<Progress>>,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let bar = ProgressBar::new_spinner().with_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(150));
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

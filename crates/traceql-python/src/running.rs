//! Running engine futures from Python: on one shared Tokio runtime, with the GIL released and
//! Ctrl-C (KeyboardInterrupt) cancelling the work.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// How often a waiting call wakes to let Python deliver signals.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

fn runtime() -> PyResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .thread_name("traceql")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the query runtime: {e}")))?;
    Ok(RUNTIME.get_or_init(|| built))
}

/// Runs `work` to completion without holding the GIL. Every [`SIGNAL_POLL`] the GIL is taken
/// back to run Python's signal handlers; if one raises (KeyboardInterrupt), the work is
/// aborted and that exception returned. A panic inside the work becomes a `RuntimeError`.
///
/// The wait is on a channel with a timeout of the operating system's, not on the runtime's
/// timer: the runtime drives its timers only when a worker is idle, so while a query keeps
/// every worker busy a timer-based wait would not wake (and Ctrl-C would wait for the query).
pub fn run<F, T>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime()?;
    let (done, mut outcome) = mpsc::sync_channel(1);
    let task = rt.spawn(async move {
        // The receiver is gone only when the call was interrupted: nobody wants the value.
        let _ = done.send(work.await);
    });
    loop {
        // The receiver is not `Sync`: it moves into the GIL-free wait and back.
        let (back, waited) = py.detach(move || {
            let waited = outcome.recv_timeout(SIGNAL_POLL);
            (outcome, waited)
        });
        outcome = back;
        match waited {
            Ok(value) => return Ok(value),
            Err(RecvTimeoutError::Disconnected) => {
                // The task ended without sending: it panicked.
                let failed = match rt.block_on(task) {
                    Err(e) => e.to_string(),
                    Ok(()) => "the work ended without a result".to_string(),
                };
                return Err(PyRuntimeError::new_err(format!(
                    "internal error in the traceql engine: {failed}"
                )));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}

//! Running engine futures from Python: on one shared Tokio runtime, with the GIL released and
//! Ctrl-C (KeyboardInterrupt) cancelling the work.

use std::future::Future;
use std::sync::OnceLock;
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
pub fn run<F, T>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime()?;
    let mut task = rt.spawn(work);
    loop {
        let waited =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut task).await }));
        match waited {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failed)) => {
                return Err(PyRuntimeError::new_err(format!(
                    "internal error in the traceql engine: {failed}"
                )));
            }
            Err(_still_running) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}

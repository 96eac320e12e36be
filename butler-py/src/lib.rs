//! Python bindings for Butler: `import butler`.
//!
//! The Rust async runtime lives in the module; every long call releases the
//! GIL. Rust errors become a small exception hierarchy rooted at
//! `butler.ButlerError`. Large results (validation findings) stay in Rust
//! and are read lazily, so fleet-sized calls cost what the Rust call costs.
//! Rust's logs are forwarded to Python's `logging` (pyo3-log).

#![allow(clippy::useless_conversion)] // pyo3's macros generate conversions clippy flags

mod arrow;
mod catalog;
mod convert;
mod deployment;
mod errors;
mod migration;
mod named;
mod notify;
mod requests;
mod session;
mod showback;
mod simulator;
mod target;

use pyo3::prelude::*;
use std::future::Future;
use std::sync::OnceLock;

pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("butler")
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| errors::ButlerError::new_err(format!("cannot start the Butler runtime: {e}")))
}

/// How often a waiting call looks for Ctrl-C (and other Python signals).
const SIGNAL_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs a future on the module's runtime with the GIL released, checking
/// for Python signals every 50 ms: Ctrl-C raises `KeyboardInterrupt` at
/// once and drops the future. Butler's work is written step by step
/// (step log, report lines), so what was done stays recorded and the next
/// call resumes from there.
pub(crate) fn block<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    py.allow_threads(|| {
        rt.block_on(async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    out = &mut fut => return Ok(out),
                    _ = tokio::time::sleep(SIGNAL_CHECK) => {
                        Python::with_gil(|py| py.check_signals())?;
                    }
                }
            }
        })
    })
}

#[pymodule]
fn _butler(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Butler's logs go to Python's `logging` under the logger "butler_core.*"
    // (and "butler_nutanix.*", …); a reset handle lets tests change levels.
    let _ = pyo3_log::try_init();

    catalog::register(m)?;
    requests::register(m)?;
    migration::register(m)?;
    deployment::register(m)?;
    showback::register(m)?;
    Ok(())
}

//! Request events delivered to a Python callable (`Butler(on_event=...)`),
//! off the workflow's path: the callable runs on a worker thread with the
//! GIL, and whatever it raises is logged, never returned to the workflow.

use async_trait::async_trait;
use butler_core::notify::{Event, Notifier, NotifyError};
use chrono::{DateTime, Utc};
use pyo3::prelude::*;

/// A request changed state.
#[pyclass(module = "butler", frozen, get_all)]
#[derive(Clone, Debug)]
pub(crate) struct RequestEvent {
    /// Request number.
    pub request: u64,
    /// State before (``None`` on creation).
    pub from_state: Option<&'static str>,
    /// State after.
    pub to_state: &'static str,
    /// Who acted.
    pub actor: String,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// The requester.
    pub requester: String,
    /// The approver, if any.
    pub approver: Option<String>,
    /// Whether the support list should hear of it.
    pub notify_support: bool,
    /// A line for people.
    pub summary: String,
}

#[pymethods]
impl RequestEvent {
    fn __repr__(&self) -> String {
        format!(
            "RequestEvent(request={}, {} -> {}, actor={:?})",
            self.request,
            self.from_state.unwrap_or("new"),
            self.to_state,
            self.actor
        )
    }
}

impl From<&Event> for RequestEvent {
    fn from(e: &Event) -> Self {
        RequestEvent {
            request: e.request.0,
            from_state: e.from.map(|s| s.as_str()),
            to_state: e.to.as_str(),
            actor: e.actor.clone(),
            at: e.at,
            requester: e.requester.clone(),
            approver: e.approver.clone(),
            notify_support: e.notify_support,
            summary: e.summary.clone(),
        }
    }
}

/// Calls a Python callable with each event.
pub(crate) struct PyNotifier {
    callback: std::sync::Arc<Py<PyAny>>,
}

impl PyNotifier {
    pub(crate) fn new(callback: Py<PyAny>) -> PyNotifier {
        PyNotifier {
            callback: std::sync::Arc::new(callback),
        }
    }
}

#[async_trait]
impl Notifier for PyNotifier {
    fn name(&self) -> &str {
        "python"
    }

    /// Calls the callback; an exception it raises is a failed delivery,
    /// retried later by the hub.
    async fn notify(&self, e: &Event) -> Result<(), NotifyError> {
        let event = RequestEvent::from(e);
        let cb = self.callback.clone();
        // The GIL is taken on a blocking thread, never on a runtime worker.
        let done = tokio::task::spawn_blocking(move || {
            Python::with_gil(|py| {
                cb.call1(py, (event,))
                    .map(|_| ())
                    .map_err(|err| err.to_string())
            })
        })
        .await;
        match done {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => {
                tracing::warn!(error = ?err, "the on_event callback raised; it will be called again later");
                Err(NotifyError::retry(format!(
                    "the on_event callback raised: {err}"
                )))
            }
            Err(join) => Err(NotifyError::retry(format!(
                "the on_event callback did not finish: {join}"
            ))),
        }
    }
}

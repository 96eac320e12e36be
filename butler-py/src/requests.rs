use crate::catalog::{Estimate, VmSpec};
use crate::convert::decimal;
use butler_core::request::{HistoryEntry as CoreEntry, Request as CoreRequest};
use chrono::{DateTime, Utc};
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Request>()?;
    m.add_class::<HistoryEntry>()?;
    m.add_class::<RequestPage>()?;
    Ok(())
}

/// A provisioning request (read-only snapshot; act through a ``Session``).
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct Request {
    pub(crate) inner: CoreRequest,
}

#[pymethods]
impl Request {
    /// Request number.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id.0
    }
    /// State: ``created``, ``requested``, ``reviewed``, ``approved``, ``provisioning``,
    /// ``completed``, ``error``, ``rejected`` or ``cancelled``.
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state.as_str()
    }
    /// Version for the next change (optimistic concurrency).
    #[getter]
    fn version(&self) -> u64 {
        self.inner.version
    }
    /// Owner (requester).
    #[getter]
    fn owner(&self) -> String {
        self.inner.owner.clone()
    }
    /// The approval levels the rules demand (``None``: one approver), as a
    /// dict: ``levels`` (each ``role`` and, when named, ``users``),
    /// ``approved_by`` (who approved each level passed) and
    /// ``restart_on_edit``.
    #[getter]
    fn approval(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.inner
            .approval
            .as_ref()
            .map(|a| crate::convert::as_python(py, a))
            .transpose()
    }
    /// Approver, once one acted.
    #[getter]
    fn approver(&self) -> Option<String> {
        self.inner.approver.clone()
    }
    /// The VM spec.
    #[getter]
    fn spec(&self) -> VmSpec {
        VmSpec::from_core(&self.inner.spec)
    }
    /// Derived cost center.
    #[getter]
    fn cost_center(&self) -> String {
        self.inner.spec.derived().cost_center.clone()
    }
    /// Derived project.
    #[getter]
    fn project(&self) -> String {
        self.inner.spec.derived().project.clone()
    }
    /// The monthly estimate.
    #[getter]
    fn estimate(&self) -> Estimate {
        Estimate {
            inner: self.inner.estimate.clone(),
        }
    }
    /// Platform-wide VM name (``<name>-r<number>``).
    #[getter]
    fn vm_name(&self) -> String {
        match self.inner.kind.target() {
            Some(t) => t.name.clone(),
            None => self.inner.platform_vm_name(),
        }
    }
    /// What the request asks for: ``new_vm`` or ``decommission``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// The inventory VM a decommission retires (``None`` for a new VM).
    #[getter]
    fn target_vm(&self) -> Option<u64> {
        self.inner.kind.target().map(|t| t.vm.0)
    }
    /// Platform VM uuid once created.
    #[getter]
    fn vm_uuid(&self) -> Option<String> {
        self.inner.vm_uuid.clone()
    }
    /// Current provisioning step while provisioning.
    #[getter]
    fn step(&self) -> Option<&'static str> {
        self.inner.progress.map(|p| p.step.as_str())
    }
    /// A ``StepFailure(step, attempts, reason)`` while in ``error``.
    #[getter]
    fn failure(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.inner
            .failure
            .as_ref()
            .map(|f| {
                crate::named::named(
                    py,
                    "StepFailure",
                    (f.step.as_str(), f.attempts, f.reason.clone()),
                )
            })
            .transpose()
    }
    /// Created at (UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.inner.created_at
    }
    /// Last change (UTC).
    #[getter]
    fn updated_at(&self) -> DateTime<Utc> {
        self.inner.updated_at
    }
    /// Full history, oldest first.
    #[getter]
    fn history(&self) -> Vec<HistoryEntry> {
        self.inner
            .history
            .iter()
            .map(|h| HistoryEntry { inner: h.clone() })
            .collect()
    }
    fn __repr__(&self) -> String {
        format!(
            "Request(id={}, state={:?}, owner={:?}, vm={:?}, version={})",
            self.inner.id.0,
            self.state(),
            self.inner.owner,
            self.inner.spec.name,
            self.inner.version
        )
    }
}

/// One history entry.
#[pyclass(module = "butler", frozen)]
pub(crate) struct HistoryEntry {
    inner: CoreEntry,
}

#[pymethods]
impl HistoryEntry {
    /// Position, from 1.
    #[getter]
    fn seq(&self) -> u32 {
        self.inner.seq
    }
    /// When (UTC).
    #[getter]
    fn at(&self) -> DateTime<Utc> {
        self.inner.at
    }
    /// Who.
    #[getter]
    fn actor(&self) -> String {
        self.inner.actor.clone()
    }
    /// Action, e.g. ``review``.
    #[getter]
    fn action(&self) -> &'static str {
        self.inner.action.as_str()
    }
    /// State before (``None`` on creation).
    #[getter]
    #[pyo3(name = "from_state")]
    fn state_before(&self) -> Option<&'static str> {
        self.inner.from.map(|s| s.as_str())
    }
    /// State after.
    #[getter]
    fn to_state(&self) -> &'static str {
        self.inner.to.as_str()
    }
    /// Field changes: ``FieldChange(field, old, new)``.
    #[getter]
    fn changes(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        self.inner
            .changes
            .iter()
            .map(|c| {
                crate::named::named(
                    py,
                    "FieldChange",
                    (c.field.clone(), c.old.clone(), c.new.clone()),
                )
            })
            .collect()
    }
    /// ``CostChange(before, after, currency)`` when the spec changed.
    #[getter]
    fn cost(&self, py: Python<'_>) -> PyResult<Option<PyObject>> {
        self.inner
            .cost
            .as_ref()
            .map(|c| {
                crate::named::named(
                    py,
                    "CostChange",
                    (
                        decimal(py, &c.before)?,
                        decimal(py, &c.after)?,
                        c.currency.clone(),
                    ),
                )
            })
            .transpose()
    }
    /// Note (reason, step outcome).
    #[getter]
    fn note(&self) -> Option<String> {
        self.inner.note.clone()
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
}

/// One page of a request list.
#[pyclass(module = "butler", frozen, get_all)]
pub(crate) struct RequestPage {
    /// The requests of this page, newest first.
    pub items: Vec<Request>,
    /// Requests matching the filter over all pages.
    pub total: usize,
    /// Rows of this page that could not be read (damaged); left out, logged.
    pub skipped: usize,
}

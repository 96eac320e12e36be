//! Requests: create, read, list, the workflow and the export.

use super::Session;
use crate::block;
use crate::catalog::VmSpec;
use crate::errors::{IntoPyResult, InvalidInput};
use crate::requests::{Request, RequestPage};
use butler_core::request::{RequestId, RequestState};
use butler_core::store::RequestQuery;
use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pymethods]
impl Session {
    /// Creates a request (raises ``ValidationError`` listing every problem).
    fn create_request(&self, py: Python<'_>, spec: &VmSpec) -> PyResult<Request> {
        let (a, spec) = (self.actor.clone(), spec.to_core());
        let r = call!(py, self.requests, |s| s.create(&a, spec))?;
        Ok(Request { inner: r })
    }

    /// Asks to retire the inventory VM ``vm_id`` (yours, or any as an
    /// admin): a decommission request, submitted at once for an approver.
    /// Once approved, the engine powers the VM off, takes it out of
    /// protection, deregisters it, stops its billing, deletes it and
    /// records it retired.
    fn retire(&self, py: Python<'_>, vm_id: u64) -> PyResult<Request> {
        let a = self.actor.clone();
        let vm = butler_core::inventory::VmId(vm_id);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.decommission(&a, vm))?,
        })
    }

    /// Brings back the inventory VM ``vm_id`` that its retirement keeps
    /// powered off for the grace period (``Vm.kept_until``): a restore
    /// request, approved by Butler at once; the engine powers it on,
    /// protects, registers and bills it again.
    fn restore_vm(&self, py: Python<'_>, vm_id: u64) -> PyResult<Request> {
        let a = self.actor.clone();
        let vm = butler_core::inventory::VmId(vm_id);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.restore(&a, vm))?,
        })
    }

    /// Asks to extend the lease of the inventory VM ``vm_id`` to ``until``
    /// (a date later than its current end, within the environment's
    /// longest lease from today): a lease extension request, submitted at
    /// once for an approver.
    fn extend_lease(
        &self,
        py: Python<'_>,
        vm_id: u64,
        until: chrono::NaiveDate,
    ) -> PyResult<Request> {
        let a = self.actor.clone();
        let vm = butler_core::inventory::VmId(vm_id);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.extend_lease(&a, vm, until))?,
        })
    }

    /// Asks to change the inventory VM ``vm_id``'s CPU, RAM, disks and NICs
    /// to ``spec`` (the VM's spec as approved, with the changes): a
    /// reconfigure request, submitted at once for an approver. With
    /// ``accept_downtime`` the flow may power the VM off (and on again)
    /// when the change needs it.
    #[pyo3(signature = (vm_id, spec, accept_downtime=false))]
    fn reconfigure(
        &self,
        py: Python<'_>,
        vm_id: u64,
        spec: &VmSpec,
        accept_downtime: bool,
    ) -> PyResult<Request> {
        let (a, spec) = (self.actor.clone(), spec.to_core());
        let vm = butler_core::inventory::VmId(vm_id);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.reconfigure(
                &a,
                vm,
                spec,
                accept_downtime
            ))?,
        })
    }

    /// Reads a request you may see.
    fn get_request(&self, py: Python<'_>, id: u64) -> PyResult<Request> {
        let a = self.actor.clone();
        Ok(Request {
            inner: call!(py, self.requests, |s| s.get(&a, RequestId(id)))?,
        })
    }

    /// Lists requests (a requester sees only their own), newest first.
    #[pyo3(signature = (states=None, owner=None, created_from=None, created_to=None, offset=0, limit=Some(50)))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments
    fn list_requests(
        &self,
        py: Python<'_>,
        states: Option<Vec<String>>,
        owner: Option<String>,
        created_from: Option<DateTime<Utc>>,
        created_to: Option<DateTime<Utc>>,
        offset: usize,
        limit: Option<usize>,
    ) -> PyResult<RequestPage> {
        let states = states
            .unwrap_or_default()
            .iter()
            .map(|s| parse_state(s))
            .collect::<PyResult<Vec<_>>>()?;
        let q = RequestQuery {
            states,
            owner,
            created_from,
            created_to,
            offset,
            limit,
        };
        let a = self.actor.clone();
        let page = call!(py, self.requests, |s| s.list(&a, &q))?;
        Ok(RequestPage {
            items: page
                .items
                .into_iter()
                .map(|r| Request { inner: r })
                .collect(),
            total: page.total,
            skipped: page.skipped,
        })
    }

    /// Edits your draft: ``save(request, spec)`` (or ``save(id, version, spec)``).
    #[pyo3(signature = (target, *args))]
    fn save(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("save", target, args, 1..=1)?;
        let spec = t.rest[0].extract::<PyRef<'_, VmSpec>>()?.to_core();
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.save(&a, id, version, spec))?,
        })
    }

    /// Submits your draft for approval: ``submit(request)`` (or ``submit(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn submit(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("submit", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.submit(&a, id, version))?,
        })
    }

    /// Cancels your request (while created or requested):
    /// ``cancel(request, reason=None)`` (or ``cancel(id, version, reason=None)``).
    #[pyo3(signature = (target, *args, reason=None))]
    fn cancel(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        reason: Option<String>,
    ) -> PyResult<Request> {
        let t = crate::target::request("cancel", target, args, 0..=1)?;
        let reason = match t.rest.first() {
            Some(r) => Some(r.extract::<String>()?),
            None => reason,
        };
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.cancel(&a, id, version, reason))?,
        })
    }

    /// Reviews with edits (approver): ``review(request, spec)`` (or ``review(id, version, spec)``).
    #[pyo3(signature = (target, *args))]
    fn review(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("review", target, args, 1..=1)?;
        let spec = t.rest[0].extract::<PyRef<'_, VmSpec>>()?.to_core();
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.review(&a, id, version, spec))?,
        })
    }

    /// Rejects, with a reason: ``reject(request, reason)`` (or ``reject(id, version, reason)``).
    #[pyo3(signature = (target, *args))]
    fn reject(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("reject", target, args, 1..=1)?;
        let reason: String = t.rest[0].extract()?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.reject(&a, id, version, &reason))?,
        })
    }

    /// Approves: ``approve(request)`` (or ``approve(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn approve(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("approve", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.approve(&a, id, version))?,
        })
    }

    /// Retries a request in error at its failed step (admin):
    /// ``retry(request)`` (or ``retry(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn retry(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("retry", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.retry(&a, id, version))?,
        })
    }

    /// Writes the request list to an ``.xlsx`` file, its sheet and header
    /// row in ``language`` (``"en"`` or ``"es"``); returns the row count.
    #[pyo3(signature = (path, states=None, owner=None, language="en"))]
    fn export_xlsx(
        &self,
        py: Python<'_>,
        path: String,
        states: Option<Vec<String>>,
        owner: Option<String>,
        language: &str,
    ) -> PyResult<usize> {
        let lang = crate::convert::language(language)?;
        let states = states
            .unwrap_or_default()
            .iter()
            .map(|s| parse_state(s))
            .collect::<PyResult<Vec<_>>>()?;
        let q = RequestQuery {
            states,
            owner,
            ..RequestQuery::default()
        };
        let a = self.actor.clone();
        call!(py, self.requests, |s| s.export_xlsx_to_path_in(
            &a,
            &q,
            lang,
            std::path::Path::new(&path)
        ))
    }
}

pub(super) fn parse_state(s: &str) -> PyResult<RequestState> {
    RequestState::ALL
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| InvalidInput::new_err(format!("unknown state {s:?}")))
}

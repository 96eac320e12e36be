//! The inventory (SPEC §12): the VMs Butler made or adopted, their power.

use super::Session;
use crate::block;
use crate::errors::IntoPyResult;
use butler_core::backend::PowerChange;
use butler_core::inventory::{Lifecycle, PowerRequest, VmId, VmQuery, VmRecord};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A record as the ``Vm`` named tuple.
fn vm(py: Python<'_>, r: VmRecord) -> PyResult<PyObject> {
    let drift: Vec<String> = r.drift.iter().map(ToString::to_string).collect();
    // More fields than pyo3 converts as one tuple: each on its own.
    fn any<'py>(py: Python<'py>, v: impl IntoPyObject<'py>) -> PyResult<PyObject> {
        use pyo3::IntoPyObjectExt;
        v.into_py_any(py)
    }
    let fields = vec![
        any(py, r.id.0)?,
        any(py, r.name)?,
        any(py, r.display_name)?,
        any(py, r.owner)?,
        any(py, r.cluster)?,
        any(py, r.cost_center)?,
        any(py, r.power.as_str())?,
        any(py, r.lifecycle.as_str())?,
        any(py, drift)?,
        any(py, r.request.map(|q| q.0))?,
        any(py, r.spec.vcpus)?,
        any(py, r.spec.ram_gib)?,
        any(py, r.spec.disks_gib)?,
        any(py, r.version)?,
        any(py, r.lease_end)?,
        any(py, r.kept_until)?,
    ];
    crate::named::named(py, "Vm", pyo3::types::PyTuple::new(py, fields)?)
}

impl Session {
    fn change_power(
        &self,
        py: Python<'_>,
        id: u64,
        change: PowerChange,
        force: bool,
    ) -> PyResult<String> {
        let req = PowerRequest {
            change,
            force_after_deadline: force,
        };
        let out = call!(py, self.vms, |v| async move {
            v.power(&self.actor, VmId(id), req).await
        })?;
        Ok(out.as_str().to_string())
    }
}

#[pymethods]
impl Session {
    /// The VMs the user may see, newest first, as ``Vm`` records: filters
    /// by owner, cluster, lifecycle (``active``, ``retiring``,
    /// ``retired``), cost center, drift and lease end (``lease_ends_by``,
    /// a date); ``limit`` is 1 to 10,000.
    #[pyo3(signature = (owner = None, cluster = None, lifecycle = None, cost_center = None, drifted = false, offset = 0, limit = 50, lease_ends_by = None))]
    #[allow(clippy::too_many_arguments)]
    fn vms(
        &self,
        py: Python<'_>,
        owner: Option<String>,
        cluster: Option<String>,
        lifecycle: Option<Vec<String>>,
        cost_center: Option<String>,
        drifted: bool,
        offset: usize,
        limit: usize,
        lease_ends_by: Option<chrono::NaiveDate>,
    ) -> PyResult<Vec<PyObject>> {
        let lifecycles = lifecycle
            .unwrap_or_default()
            .iter()
            .map(|l| {
                Lifecycle::from_name(l)
                    .ok_or_else(|| PyValueError::new_err(format!("unknown lifecycle {l:?}")))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let q = VmQuery {
            owner,
            cluster,
            lifecycles,
            cost_center,
            drifted,
            lease_ends_by,
            notices_pending: false,
            before: None,
            after: None,
            offset,
            limit: Some(limit),
        };
        let page = call!(
            py,
            self.vms,
            |v| async move { v.list(&self.actor, &q).await }
        )?;
        page.items.into_iter().map(|r| vm(py, r)).collect()
    }

    /// One VM of the inventory, as a ``Vm`` record.
    fn vm(&self, py: Python<'_>, id: u64) -> PyResult<PyObject> {
        let r = call!(py, self.vms, |v| async move {
            v.get(&self.actor, VmId(id)).await
        })?;
        vm(py, r)
    }

    /// A VM's history as ``(at, actor, what)`` tuples, oldest first.
    fn vm_history(
        &self,
        py: Python<'_>,
        id: u64,
    ) -> PyResult<Vec<(chrono::DateTime<chrono::Utc>, String, String)>> {
        let r = call!(py, self.vms, |v| async move {
            v.get(&self.actor, VmId(id)).await
        })?;
        Ok(r.history
            .into_iter()
            .map(|e| (e.at, e.actor, e.what))
            .collect())
    }

    /// Powers the VM on; ``"done"`` or ``"already"``.
    fn power_on(&self, py: Python<'_>, id: u64) -> PyResult<String> {
        self.change_power(py, id, PowerChange::On, false)
    }

    /// Asks the guest to shut down and waits for it (the deployment's
    /// shutdown wait); ``force=True`` cuts the power when it has not.
    /// ``"done"``, ``"already"``, ``"forced_off"`` or ``"still_on"``.
    #[pyo3(signature = (id, force = false))]
    fn power_off(&self, py: Python<'_>, id: u64, force: bool) -> PyResult<String> {
        self.change_power(py, id, PowerChange::GuestShutdown, force)
    }

    /// Cuts the VM's power at once.
    fn hard_off(&self, py: Python<'_>, id: u64) -> PyResult<String> {
        self.change_power(py, id, PowerChange::HardOff, false)
    }

    /// Asks the guest to restart.
    fn restart(&self, py: Python<'_>, id: u64) -> PyResult<String> {
        self.change_power(py, id, PowerChange::GuestRestart, false)
    }

    /// Adopts the VM named ``name`` on the platform for ``owner`` and
    /// ``cost_center`` (admin); the new ``Vm`` record.
    fn adopt_vm(
        &self,
        py: Python<'_>,
        name: String,
        owner: String,
        cost_center: String,
    ) -> PyResult<PyObject> {
        let r = call!(py, self.vms, |v| async move {
            v.adopt(&self.actor, &name, &owner, &cost_center).await
        })?;
        vm(py, r)
    }

    /// Compares the inventory with the platform now (operator or admin):
    /// ``(checked, changed, drifted)``.
    fn reconcile(&self, py: Python<'_>) -> PyResult<(usize, usize, usize)> {
        let s = call!(
            py,
            self.vms,
            |v| async move { v.reconcile(&self.actor).await }
        )?;
        Ok((s.checked, s.changed, s.drifted))
    }
}

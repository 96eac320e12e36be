use crate::block;
use crate::errors::IntoPyResult;
use butler_core::migration::{
    self as core, EventOutcome, EventStream, FactsSnapshot, MigrationHandle, Severity, VmOutcome,
};
use chrono::{DateTime, Utc};
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<MigrationGroup>()?;
    m.add_class::<Facts>()?;
    m.add_class::<VmFactsRow>()?;
    m.add_class::<PlatformVm>()?;
    m.add_class::<crate::notify::RequestEvent>()?;
    m.add_class::<ValidationReport>()?;
    m.add_class::<ValidationToken>()?;
    m.add_class::<Finding>()?;
    m.add_class::<MigrationEvent>()?;
    m.add_class::<MigrationRun>()?;
    m.add_class::<MigrationReport>()?;
    m.add_class::<RunWatch>()?;
    m.add_class::<VmReport>()?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    Ok(())
}

/// A migration group (snapshot; change it through a ``Session``).
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct MigrationGroup {
    pub(crate) inner: Arc<core::MigrationGroup>,
}

#[pymethods]
impl MigrationGroup {
    /// Id.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id.0
    }
    /// Unique name.
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Source cluster.
    #[getter]
    fn source(&self) -> Option<String> {
        self.inner.source.clone()
    }
    /// Destination cluster.
    #[getter]
    fn destination(&self) -> Option<String> {
        self.inner.destination.clone()
    }
    /// Whether Butler powers the selected VMs that run off before
    /// migrating them and on again at the destination.
    #[getter]
    fn power_off(&self) -> bool {
        self.inner.power_off
    }
    /// Whether the selected VMs that run move while they run, where the
    /// platform makes live moves.
    #[getter]
    fn live(&self) -> bool {
        self.inner.live
    }
    /// Version for the next change.
    #[getter]
    fn version(&self) -> u64 {
        self.inner.version
    }
    /// ``GroupVm(name, selected)`` per VM, in the order added.
    #[getter]
    fn vms(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        self.inner
            .vms
            .iter()
            .map(|v| crate::named::named(py, "GroupVm", (v.name.clone(), v.selected)))
            .collect()
    }
    fn __len__(&self) -> usize {
        self.inner.vms.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "MigrationGroup(id={}, name={:?}, source={:?}, destination={:?}, vms={}, version={})",
            self.inner.id.0,
            self.inner.name,
            self.inner.source,
            self.inner.destination,
            self.inner.vms.len(),
            self.inner.version
        )
    }
}

/// The facts of a group's VMs, as last read from the platform.
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct Facts {
    pub(crate) inner: Arc<FactsSnapshot>,
}

#[pymethods]
impl Facts {
    /// Snapshot id (validation tokens are bound to it).
    #[getter]
    fn snapshot_id(&self) -> u64 {
        self.inner.snapshot_id
    }
    /// When the platform was read (UTC).
    #[getter]
    fn taken_at(&self) -> DateTime<Utc> {
        self.inner.taken_at
    }
    fn __len__(&self) -> usize {
        self.inner.vms.len()
    }

    /// The per-VM facts as rows, ``offset`` to ``offset + limit``
    /// (default: all), in the group's order.
    #[pyo3(signature = (offset=0, limit=None))]
    fn rows(&self, offset: usize, limit: Option<usize>) -> Vec<VmFactsRow> {
        let s = &self.inner;
        (offset
            ..s.vms
                .len()
                .min(offset.saturating_add(limit.unwrap_or(usize::MAX))))
            .filter_map(|i| s.row(i))
            .map(VmFactsRow::from)
            .collect()
    }

    /// The per-VM facts as a ``pyarrow.Table`` (needs ``pyarrow``), built
    /// from buffers in one pass: ``facts.to_arrow().to_pandas()`` or
    /// ``polars.from_arrow(..)`` for large reports. Columns: ``vm``,
    /// ``found``, ``cluster``, ``project``, ``powered_on``,
    /// ``protection_domain`` (dictionary columns for the interned names),
    /// ``schedules``, ``last_replica`` (UTC); null where a VM has no such
    /// fact.
    fn to_arrow(&self, py: Python<'_>) -> PyResult<PyObject> {
        crate::arrow::facts_table(py, &self.inner)
    }

    /// The per-VM facts as columns (a dict of equal-length lists), ready for
    /// ``pandas.DataFrame(facts.columns())`` or ``polars.DataFrame(..)``.
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let s = &self.inner;
        let rows: Vec<core::VmFactsRow> = (0..s.vms.len()).filter_map(|i| s.row(i)).collect();
        let d = pyo3::types::PyDict::new(py);
        d.set_item("vm", rows.iter().map(|r| r.vm.clone()).collect::<Vec<_>>())?;
        d.set_item("found", rows.iter().map(|r| r.found).collect::<Vec<_>>())?;
        d.set_item(
            "cluster",
            rows.iter().map(|r| r.cluster.clone()).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "project",
            rows.iter().map(|r| r.project.clone()).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "powered_on",
            rows.iter().map(|r| r.powered_on).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "protection_domain",
            rows.iter()
                .map(|r| r.protection_domain.clone())
                .collect::<Vec<_>>(),
        )?;
        d.set_item(
            "schedules",
            rows.iter().map(|r| r.schedules).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "last_replica",
            rows.iter().map(|r| r.last_replica).collect::<Vec<_>>(),
        )?;
        Ok(d)
    }
}

impl From<core::VmFactsRow> for VmFactsRow {
    fn from(r: core::VmFactsRow) -> Self {
        VmFactsRow {
            vm: r.vm,
            found: r.found,
            cluster: r.cluster,
            project: r.project,
            powered_on: r.powered_on,
            protection_domain: r.protection_domain,
            schedules: r.schedules,
            last_replica: r.last_replica,
            move_refusals: r.move_refusals,
        }
    }
}

/// One VM's facts.
#[pyclass(module = "butler", frozen, get_all)]
#[derive(Clone, Debug)]
pub(crate) struct VmFactsRow {
    /// VM name.
    pub vm: String,
    /// Whether the platform knows it.
    pub found: bool,
    /// Its cluster.
    pub cluster: Option<String>,
    /// Its project.
    pub project: Option<String>,
    /// Powered on (only a definite off counts as off).
    pub powered_on: bool,
    /// Its protection domain.
    pub protection_domain: Option<String>,
    /// Schedules of that domain.
    pub schedules: Option<u16>,
    /// Last replica of that domain.
    pub last_replica: Option<DateTime<Utc>>,
    /// Why the platform's dry run refuses to move it (empty: it does not,
    /// or the platform has no such dry run).
    pub move_refusals: Vec<String>,
}

#[pymethods]
impl VmFactsRow {
    fn __repr__(&self) -> String {
        format!(
            "VmFactsRow(vm={:?}, cluster={:?}, powered_on={}, protection_domain={:?})",
            self.vm, self.cluster, self.powered_on, self.protection_domain
        )
    }
}

/// A VM as the platform reports it.
#[pyclass(module = "butler", frozen, get_all)]
#[derive(Clone, Debug)]
pub(crate) struct PlatformVm {
    /// Name.
    pub name: String,
    /// Platform id.
    pub uuid: String,
    /// Cluster.
    pub cluster: String,
    /// Project.
    pub project: Option<String>,
    /// ``on``, ``off`` or ``unknown`` (only ``off`` may migrate).
    pub power: &'static str,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in GiB.
    pub ram_gib: u32,
    /// Disk sizes in GiB.
    pub disks_gib: Vec<u32>,
    /// Subnets.
    pub nics: Vec<String>,
}

#[pymethods]
impl PlatformVm {
    fn __repr__(&self) -> String {
        format!(
            "PlatformVm(name={:?}, cluster={:?}, power={:?})",
            self.name, self.cluster, self.power
        )
    }
}

impl From<butler_core::backend::VmInfo> for PlatformVm {
    fn from(v: butler_core::backend::VmInfo) -> Self {
        use butler_core::backend::PowerState as P;
        PlatformVm {
            name: v.name,
            uuid: v.uuid,
            cluster: v.cluster,
            project: v.project,
            power: match v.power {
                P::On => "on",
                P::Off => "off",
                _ => "unknown",
            },
            vcpus: v.vcpus,
            ram_gib: v.ram_gib,
            disks_gib: v.disks_gib,
            nics: v.nics,
        }
    }
}

/// A validation's permission to migrate (opaque).
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct ValidationToken {
    pub(crate) inner: core::ValidationToken,
}

#[pymethods]
impl ValidationToken {
    /// Errors seen (a token with errors never allows a migration).
    #[getter]
    fn errors(&self) -> u32 {
        self.inner.errors()
    }
    /// Group id.
    #[getter]
    fn group_id(&self) -> u64 {
        self.inner.group().0
    }
    /// The group's version when validated.
    #[getter]
    fn group_version(&self) -> u64 {
        self.inner.group_version()
    }
    /// The signed text form, to pass through a web page or a file;
    /// ``Session.parse_token`` reads it back and checks the signature.
    fn __str__(&self) -> String {
        self.inner.encode()
    }
    fn __repr__(&self) -> String {
        format!(
            "ValidationToken(group_id={}, group_version={}, errors={})",
            self.inner.group().0,
            self.inner.group_version(),
            self.inner.errors()
        )
    }
}

/// One finding with its rendered message.
#[pyclass(module = "butler", frozen, get_all)]
pub(crate) struct Finding {
    /// Stable code, e.g. ``powered_on``.
    pub code: String,
    /// ``error``, ``warning`` or ``info``.
    pub severity: String,
    /// The VM's name, or ``None`` for a group-level finding.
    pub vm: Option<String>,
    /// Human message.
    pub message: String,
}

#[pymethods]
impl Finding {
    fn __repr__(&self) -> String {
        format!(
            "Finding({}, {}, vm={:?}: {})",
            self.severity, self.code, self.vm, self.message
        )
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// A validation report. Findings stay in Rust and are rendered on demand,
/// so a million-VM validation costs what the Rust validation costs.
#[pyclass(module = "butler", frozen)]
pub(crate) struct ValidationReport {
    pub(crate) group: Arc<core::MigrationGroup>,
    pub(crate) facts: Arc<FactsSnapshot>,
    pub(crate) inner: core::ValidationReport,
}

#[pymethods]
impl ValidationReport {
    /// Error findings.
    #[getter]
    fn errors(&self) -> u32 {
        self.inner.errors
    }
    /// Warning findings.
    #[getter]
    fn warnings(&self) -> u32 {
        self.inner.warnings
    }
    /// Info findings.
    #[getter]
    fn infos(&self) -> u32 {
        self.inner.infos
    }
    /// Whether migration may start.
    #[getter]
    fn can_migrate(&self) -> bool {
        self.inner.can_migrate()
    }
    /// The token to pass to ``Session.migrate``.
    #[getter]
    fn token(&self) -> PyResult<ValidationToken> {
        let inner = self.inner.token().cloned().ok_or_else(|| {
            crate::errors::MigrationRefused::new_err("this report carries no signed token")
        })?;
        Ok(ValidationToken { inner })
    }
    fn __len__(&self) -> usize {
        self.inner.findings.len()
    }
    /// Count of findings per code.
    fn counts(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for f in &self.inner.findings {
            *m.entry(f.code.as_str().to_string()).or_insert(0) += 1;
        }
        m
    }
    /// Findings (optionally of one ``severity`` or ``code``), at most ``limit``.
    #[pyo3(signature = (severity=None, code=None, limit=None))]
    fn findings(
        &self,
        severity: Option<&str>,
        code: Option<&str>,
        limit: Option<usize>,
    ) -> Vec<Finding> {
        self.inner
            .findings
            .iter()
            .filter(|f| severity.is_none_or(|s| severity_name(f.severity()) == s))
            .filter(|f| code.is_none_or(|c| f.code.as_str() == c))
            .take(limit.unwrap_or(usize::MAX))
            .map(|f| Finding {
                code: f.code.as_str().to_string(),
                severity: severity_name(f.severity()).to_string(),
                vm: self.group.vms.get(f.vm as usize).map(|v| v.name.clone()),
                message: f.message(&self.group, &self.facts),
            })
            .collect()
    }
    fn __repr__(&self) -> String {
        format!(
            "ValidationReport(errors={}, warnings={}, infos={})",
            self.inner.errors, self.inner.warnings, self.inner.infos
        )
    }
}

/// Validates ``group`` against ``facts`` (pure; no platform or store call).
#[pyfunction]
#[pyo3(signature = (group, facts, now=None))]
pub(crate) fn validate(
    py: Python<'_>,
    group: &MigrationGroup,
    facts: &Facts,
    now: Option<DateTime<Utc>>,
) -> ValidationReport {
    let (g, f) = (group.inner.clone(), facts.inner.clone());
    let now = now.unwrap_or(f.taken_at);
    let facts = if f.group_version == g.version {
        f
    } else {
        Arc::new(f.realign(&g))
    };
    let inner = py.allow_threads(|| core::validate(&g, &facts, now, None));
    ValidationReport {
        group: g,
        facts,
        inner,
    }
}

/// A progress event.
#[pyclass(module = "butler", frozen, get_all)]
pub(crate) struct MigrationEvent {
    /// Run id.
    pub run: u64,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// VM, if about one.
    pub vm: Option<String>,
    /// Protection group, if about one.
    pub protection_group: Option<String>,
    /// ``migrate``, ``wait``, ``verify`` or ``run``.
    pub step: String,
    /// Attempt number.
    pub attempt: u32,
    /// ``started``, ``succeeded``, ``failed`` or ``skipped``.
    pub outcome: String,
    /// Reason of a failure or skip.
    pub reason: Option<String>,
    /// Whether a failed step will be retried.
    pub will_retry: bool,
    /// Share of the VMs finished, 0–100.
    pub percent: f32,
}

impl From<core::MigrationEvent> for MigrationEvent {
    fn from(e: core::MigrationEvent) -> Self {
        let (outcome, reason, will_retry) = match e.outcome {
            EventOutcome::Started => ("started", None, false),
            EventOutcome::Succeeded => ("succeeded", None, false),
            EventOutcome::Failed { reason, will_retry } => ("failed", Some(reason), will_retry),
            EventOutcome::Skipped { reason } => ("skipped", Some(reason), false),
        };
        let step = match e.step {
            core::MigrationStep::Migrate => "migrate",
            core::MigrationStep::Wait => "wait",
            core::MigrationStep::Verify => "verify",
            core::MigrationStep::Run => "run",
            core::MigrationStep::PowerOff => "power_off",
            core::MigrationStep::PowerOn => "power_on",
        };
        MigrationEvent {
            run: e.run.0,
            at: e.at,
            vm: e.vm,
            protection_group: e.protection_group,
            step: step.into(),
            attempt: e.attempt,
            outcome: outcome.into(),
            reason,
            will_retry,
            percent: e.percent,
        }
    }
}

#[pymethods]
impl MigrationEvent {
    fn __repr__(&self) -> String {
        format!(
            "MigrationEvent({:.0}% {} {:?} attempt {}: {})",
            self.percent,
            self.step,
            self.vm.as_ref().or(self.protection_group.as_ref()),
            self.attempt,
            self.outcome
        )
    }
}

/// A running migration: iterate it for progress events, ``cancel()`` it,
/// ``wait()`` for its report.
#[pyclass(module = "butler", frozen)]
pub(crate) struct MigrationRun {
    pub(crate) id: u64,
    pub(crate) stream: Mutex<Option<EventStream>>,
    pub(crate) handle: Mutex<Option<MigrationHandle>>,
}

impl MigrationRun {
    pub(crate) fn new(handle: MigrationHandle) -> Self {
        let stream = handle.events();
        MigrationRun {
            id: handle.run().0,
            stream: Mutex::new(Some(stream)),
            handle: Mutex::new(Some(handle)),
        }
    }
}

#[pymethods]
impl MigrationRun {
    /// Run id (the report's id).
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    pub(crate) fn __next__(&self, py: Python<'_>) -> PyResult<MigrationEvent> {
        let taken = self.stream.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut stream) = taken else {
            return Err(PyStopIteration::new_err(()));
        };
        let (next, stream) = block(py, async move {
            let n = stream.next().await;
            (n, stream)
        })?;
        match next {
            Some(e) => {
                *self.stream.lock().unwrap_or_else(|e| e.into_inner()) = Some(stream);
                Ok(e.into())
            }
            None => Err(PyStopIteration::new_err(())),
        }
    }
    /// Stops starting new work; VMs not yet moved are reported skipped.
    fn cancel(&self) {
        if let Some(h) = self
            .handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            h.cancel();
        }
    }
    /// Waits for the end and returns the stored report.
    pub(crate) fn wait(&self, py: Python<'_>) -> PyResult<MigrationReport> {
        let handle = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(handle) = handle else {
            return Err(crate::errors::InvalidInput::new_err(
                "wait() was already called on this run",
            ));
        };
        let report = block(py, handle.wait())?.map_err(crate::errors::to_py)?;
        Ok(MigrationReport { inner: report })
    }
}

/// One VM's line of a migration report.
#[pyclass(module = "butler", frozen, get_all)]
pub(crate) struct VmReport {
    /// VM name.
    pub vm: String,
    /// Protection group.
    pub protection_group: Option<String>,
    /// ``migrated``, ``failed`` or ``skipped``.
    pub outcome: String,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// ``Attempt(number, started, ended, error)`` per attempt.
    pub attempts: Vec<PyObject>,
    /// Verification notes.
    pub notes: Vec<String>,
}

impl VmReport {
    pub(crate) fn from_line(py: Python<'_>, v: &core::VmReport) -> PyResult<VmReport> {
        let (outcome, reason) = match &v.outcome {
            VmOutcome::Migrated => ("migrated", None),
            VmOutcome::Failed { reason } => ("failed", Some(reason.clone())),
            VmOutcome::Skipped { reason } => ("skipped", Some(reason.clone())),
            VmOutcome::StillRunning { reason } => ("still_running", Some(reason.clone())),
            VmOutcome::PostMovePending { reason } => ("post_move_pending", Some(reason.clone())),
        };
        Ok(VmReport {
            vm: v.vm.clone(),
            protection_group: v.protection_group.clone(),
            outcome: outcome.into(),
            reason,
            attempts: v
                .attempts
                .iter()
                .map(|a| {
                    crate::named::named(
                        py,
                        "Attempt",
                        (a.number, a.started, a.ended, a.error.clone()),
                    )
                })
                .collect::<PyResult<Vec<_>>>()?,
            notes: v.notes.clone(),
        })
    }
}

/// A run followed through the store, whichever process runs it
/// (``Session.watch_run``): iterating gives each finished VM's ``VmReport``
/// once, as the runner stores it, and stops when the run has ended;
/// ``report`` then holds the stored ``MigrationReport``.
#[pyclass(module = "butler", frozen)]
pub(crate) struct RunWatch {
    pub(crate) id: u64,
    pub(crate) watch: Mutex<Option<butler_core::migration::RunWatch>>,
    pub(crate) pending: Mutex<std::collections::VecDeque<core::VmReport>>,
    pub(crate) report: Mutex<Option<core::MigrationReport>>,
}

impl RunWatch {
    pub(crate) fn new(watch: butler_core::migration::RunWatch) -> Self {
        RunWatch {
            id: watch.run().0,
            watch: Mutex::new(Some(watch)),
            pending: Mutex::new(Default::default()),
            report: Mutex::new(None),
        }
    }
}

#[pymethods]
impl RunWatch {
    /// The run followed.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }
    /// The stored report once the run has ended (``None`` before).
    #[getter]
    fn report(&self) -> Option<MigrationReport> {
        self.report
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map(|inner| MigrationReport { inner })
    }
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(&self, py: Python<'_>) -> PyResult<VmReport> {
        use butler_core::migration::RunProgress;
        loop {
            if let Some(line) = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return VmReport::from_line(py, &line);
            }
            let taken = self.watch.lock().unwrap_or_else(|e| e.into_inner()).take();
            let Some(mut watch) = taken else {
                return Err(PyStopIteration::new_err(()));
            };
            let (next, watch) = block(py, async move {
                let n = watch.next().await;
                (n, watch)
            })?;
            match next.py()? {
                Some(RunProgress::Lines { lines, .. }) => {
                    self.pending
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(lines);
                    *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(watch);
                }
                Some(RunProgress::Ended(report)) => {
                    *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(*report);
                    return Err(PyStopIteration::new_err(()));
                }
                Some(_) => {
                    *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(watch);
                }
                None => return Err(PyStopIteration::new_err(())),
            }
        }
    }
}

/// A stored migration report.
#[pyclass(module = "butler", frozen)]
pub(crate) struct MigrationReport {
    pub(crate) inner: core::MigrationReport,
}

#[pymethods]
impl MigrationReport {
    /// Run id.
    #[getter]
    fn id(&self) -> u64 {
        self.inner.id.0
    }
    /// Group name at the time.
    #[getter]
    fn group_name(&self) -> String {
        self.inner.group_name.clone()
    }
    /// Source.
    #[getter]
    fn source(&self) -> String {
        self.inner.source.clone()
    }
    /// Destination.
    #[getter]
    fn destination(&self) -> String {
        self.inner.destination.clone()
    }
    /// The VMs the run powers off and on again (sorted).
    #[getter]
    fn power_cycle(&self) -> Vec<String> {
        self.inner.power_cycle.clone()
    }
    /// Who started it.
    #[getter]
    fn started_by(&self) -> String {
        self.inner.started_by.clone()
    }
    /// Whether it was cancelled.
    #[getter]
    fn cancelled(&self) -> bool {
        self.inner.cancelled
    }
    /// VMs migrated.
    #[getter]
    fn migrated(&self) -> usize {
        self.inner.counts().0
    }
    /// VMs failed.
    #[getter]
    fn failed(&self) -> usize {
        self.inner.counts().1
    }
    /// VMs skipped.
    #[getter]
    fn skipped(&self) -> usize {
        self.inner.counts().2
    }
    /// VMs whose migration was still running at the deadline (neither
    /// migrated nor failed: a retry validates where each one is).
    #[getter]
    fn still_running(&self) -> usize {
        self.inner.still_running()
    }
    /// VMs on the destination whose post-move steps (project remap,
    /// schedules) failed or were never run: a retry of the failed VMs
    /// redoes only those steps.
    #[getter]
    fn post_move_pending(&self) -> usize {
        self.inner.post_move_pending()
    }
    /// Names of the VMs a retry takes (failed, still running, or moved
    /// with post-move steps pending).
    #[getter]
    fn failed_vms(&self) -> Vec<String> {
        self.inner.failed_vms()
    }
    /// Per-VM lines.
    #[getter]
    fn vms(&self, py: Python<'_>) -> PyResult<Vec<VmReport>> {
        self.inner
            .vms
            .iter()
            .map(|v| VmReport::from_line(py, v))
            .collect()
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
}

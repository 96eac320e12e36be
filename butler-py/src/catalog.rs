use crate::convert::decimal;
use crate::errors::{IntoPyResult, InvalidInput};
use butler_core::catalog::Catalog as CoreCatalog;
use butler_core::cost::{
    self, Estimate as CoreEstimate, LineItem as CoreLine, RateBook as CoreBook,
};
use butler_core::vm_spec::{self, SpecError, VmSpec as CoreSpec};
use chrono::NaiveDate;
use pyo3::prelude::*;
use std::sync::Arc;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Catalog>()?;
    m.add_class::<RateBook>()?;
    m.add_class::<VmSpec>()?;
    m.add_class::<SpecProblem>()?;
    m.add_class::<Estimate>()?;
    m.add_class::<LineItem>()?;
    Ok(())
}

/// One problem of a VM spec: field path, stable code, message.
#[pyclass(module = "butler", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct SpecProblem {
    /// Field path, e.g. ``nics[1]``.
    pub field: String,
    /// Stable code, e.g. ``nic_vlan_not_allowed``.
    pub code: String,
    /// Human message (English).
    pub message: String,
    /// What the message names (``value``, ``max``, ``vlan``, …), for a
    /// script that words the problem in its users' language.
    pub values: std::collections::BTreeMap<String, String>,
}

impl From<SpecError> for SpecProblem {
    fn from(e: SpecError) -> Self {
        SpecProblem {
            field: e.field,
            code: e.code.as_str().to_string(),
            message: e.message,
            values: e.values,
        }
    }
}

#[pymethods]
impl SpecProblem {
    fn __repr__(&self) -> String {
        format!(
            "SpecProblem(field={:?}, code={:?}, message={:?})",
            self.field, self.code, self.message
        )
    }
}

/// The catalog: divisions, units, environments, disk types, clusters, images, cost centers.
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct Catalog {
    pub(crate) inner: Arc<CoreCatalog>,
}

#[pymethods]
impl Catalog {
    /// The demo catalog used by the quickstart and the tests.
    #[staticmethod]
    fn demo() -> Self {
        Catalog {
            inner: Arc::new(butler_core::demo::catalog()),
        }
    }

    /// Parses a TOML catalog; errors name the bad entry.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        let c =
            CoreCatalog::from_toml_str(text).map_err(|e| InvalidInput::new_err(e.to_string()))?;
        Ok(Catalog { inner: Arc::new(c) })
    }

    /// Parses a JSON catalog.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let c =
            CoreCatalog::from_json_str(text).map_err(|e| InvalidInput::new_err(e.to_string()))?;
        Ok(Catalog { inner: Arc::new(c) })
    }

    /// Reads a ``.toml`` or ``.json`` catalog file.
    #[staticmethod]
    fn from_path(path: &str) -> PyResult<Self> {
        let c = CoreCatalog::from_path(path).map_err(|e| InvalidInput::new_err(e.to_string()))?;
        Ok(Catalog { inner: Arc::new(c) })
    }

    /// Cluster names.
    #[getter]
    fn clusters(&self) -> Vec<String> {
        self.inner.clusters.iter().map(|c| c.name.clone()).collect()
    }

    /// Environment codes.
    #[getter]
    fn environments(&self) -> Vec<String> {
        self.inner
            .environments
            .iter()
            .map(|e| e.code.clone())
            .collect()
    }

    /// Every problem of ``spec`` (an empty list when it is valid).
    fn validate(&self, spec: &VmSpec) -> Vec<SpecProblem> {
        match vm_spec::validate(&spec.to_core(), &self.inner) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.into_iter().map(Into::into).collect(),
        }
    }

    /// The whole catalog as JSON (what ``from_json`` reads), e.g. to see
    /// what a refresh learnt: each cluster's ``vlans`` and
    /// ``storage_containers``, each environment's ``clusters``,
    /// ``platform_categories``.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&*self.inner).map_err(|e| InvalidInput::new_err(e.to_string()))
    }

    /// The cost center the catalog derives for ``spec``, or ``None``.
    fn cost_center(&self, spec: &VmSpec) -> Option<String> {
        self.inner
            .cost_center(
                &spec.division,
                &spec.unit,
                &spec.environment,
                &spec.disk_type,
            )
            .map(str::to_string)
    }
}

/// Versioned rate cards.
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct RateBook {
    pub(crate) inner: Arc<CoreBook>,
}

#[pymethods]
impl RateBook {
    /// The demo rate book (UF; cards from 2026-01-01 and 2026-07-01).
    #[staticmethod]
    fn demo() -> Self {
        RateBook {
            inner: Arc::new(butler_core::demo::rate_book()),
        }
    }

    /// Parses ``[[rate_cards]]`` tables from TOML.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        let b = CoreBook::from_toml_str(text).map_err(|e| InvalidInput::new_err(e.to_string()))?;
        Ok(RateBook { inner: Arc::new(b) })
    }

    /// Card versions, oldest first.
    #[getter]
    fn versions(&self) -> Vec<String> {
        self.inner
            .cards()
            .iter()
            .map(|c| c.version.clone())
            .collect()
    }

    /// The monthly estimate of ``spec`` with the card in force on ``date``
    /// (default: today). Raises ``ValidationError`` for an invalid spec.
    #[pyo3(signature = (spec, catalog, date=None))]
    fn estimate(
        &self,
        spec: &VmSpec,
        catalog: &Catalog,
        date: Option<NaiveDate>,
    ) -> PyResult<Estimate> {
        let valid = vm_spec::validate(&spec.to_core(), &catalog.inner)
            .map_err(butler_core::ButlerError::from)
            .py()?;
        let day = date.unwrap_or_else(|| chrono::Utc::now().date_naive());
        let e = cost::estimate(&valid, &self.inner, day)
            .map_err(butler_core::ButlerError::from)
            .py()?;
        Ok(Estimate { inner: e })
    }
}

/// A requested VM (SPEC §2). Every field has the form's default.
#[pyclass(module = "butler", get_all, set_all)]
#[derive(Clone)]
pub(crate) struct VmSpec {
    /// VM name.
    pub name: String,
    /// Cores per socket (≥ 1).
    pub cores_per_socket: u32,
    /// Sockets (≥ 1).
    pub sockets: u32,
    /// RAM GiB (≥ 1).
    pub ram_gib: u32,
    /// Division code.
    pub division: String,
    /// Unit code.
    pub unit: String,
    /// Environment code.
    pub environment: String,
    /// Disk type code.
    pub disk_type: String,
    /// Cluster.
    pub cluster: String,
    /// Disk sizes GiB (1 to 12).
    pub disks_gib: Vec<u32>,
    /// NIC VLANs (1 to 4).
    pub nics: Vec<String>,
    /// Boot image.
    pub image: Option<String>,
    /// Local snapshots.
    pub backup_local: bool,
    /// Remote replication.
    pub backup_remote: bool,
    /// CD-ROM.
    pub cdrom: bool,
    /// Free text.
    pub special_requirement: String,
    /// Lease in days (None: none, or the environment's cap).
    pub lease_days: Option<u32>,
}

impl VmSpec {
    pub(crate) fn to_core(&self) -> CoreSpec {
        CoreSpec {
            name: self.name.clone(),
            cores_per_socket: self.cores_per_socket,
            sockets: self.sockets,
            ram_gib: self.ram_gib,
            division: self.division.clone(),
            unit: self.unit.clone(),
            environment: self.environment.clone(),
            disk_type: self.disk_type.clone(),
            cluster: self.cluster.clone(),
            disks_gib: self.disks_gib.clone(),
            nics: self.nics.clone(),
            image: self.image.clone(),
            backup_local: self.backup_local,
            backup_remote: self.backup_remote,
            cdrom: self.cdrom,
            special_requirement: self.special_requirement.clone(),
            lease_days: self.lease_days,
        }
    }

    pub(crate) fn from_core(s: &CoreSpec) -> Self {
        VmSpec {
            name: s.name.clone(),
            cores_per_socket: s.cores_per_socket,
            sockets: s.sockets,
            ram_gib: s.ram_gib,
            division: s.division.clone(),
            unit: s.unit.clone(),
            environment: s.environment.clone(),
            disk_type: s.disk_type.clone(),
            cluster: s.cluster.clone(),
            disks_gib: s.disks_gib.clone(),
            nics: s.nics.clone(),
            image: s.image.clone(),
            backup_local: s.backup_local,
            backup_remote: s.backup_remote,
            cdrom: s.cdrom,
            special_requirement: s.special_requirement.clone(),
            lease_days: s.lease_days,
        }
    }
}

#[pymethods]
impl VmSpec {
    #[new]
    #[pyo3(signature = (name="".to_string(), cores_per_socket=1, sockets=1, ram_gib=1, division="".to_string(), unit="".to_string(),
        environment="".to_string(), disk_type="".to_string(), cluster="".to_string(), disks_gib=Vec::new(), nics=Vec::new(),
        image=None, backup_local=true, backup_remote=true, cdrom=true, special_requirement="".to_string(), lease_days=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: String,
        cores_per_socket: u32,
        sockets: u32,
        ram_gib: u32,
        division: String,
        unit: String,
        environment: String,
        disk_type: String,
        cluster: String,
        disks_gib: Vec<u32>,
        nics: Vec<String>,
        image: Option<String>,
        backup_local: bool,
        backup_remote: bool,
        cdrom: bool,
        special_requirement: String,
        lease_days: Option<u32>,
    ) -> Self {
        VmSpec {
            name,
            cores_per_socket,
            sockets,
            ram_gib,
            division,
            unit,
            environment,
            disk_type,
            cluster,
            disks_gib,
            nics,
            image,
            backup_local,
            backup_remote,
            cdrom,
            special_requirement,
            lease_days,
        }
    }

    /// A valid spec on the demo catalog named ``name``.
    #[staticmethod]
    fn demo(name: &str) -> Self {
        VmSpec::from_core(&butler_core::demo::spec(name))
    }

    /// Total vCPUs.
    #[getter]
    fn vcpus(&self) -> u32 {
        self.cores_per_socket.saturating_mul(self.sockets)
    }

    /// A copy.
    fn copy(&self) -> Self {
        self.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "VmSpec(name={:?}, vcpus={}, ram_gib={}, disks_gib={:?}, nics={:?}, cluster={:?})",
            self.name,
            self.vcpus(),
            self.ram_gib,
            self.disks_gib,
            self.nics,
            self.cluster
        )
    }

    fn __eq__(&self, other: &VmSpec) -> bool {
        self.to_core() == other.to_core()
    }
}

/// One estimate line: rate × periods × quantity = amount.
#[pyclass(module = "butler", frozen)]
pub(crate) struct LineItem {
    inner: CoreLine,
}

#[pymethods]
impl LineItem {
    /// What is priced, e.g. ``vCPU`` or ``SSD disk GiB``.
    #[getter]
    fn item(&self) -> String {
        self.inner.item.to_string()
    }
    /// The rate as quoted.
    #[getter]
    fn rate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.rate)
    }
    /// ``hour``, ``day`` or ``month``.
    #[getter]
    fn per(&self) -> String {
        self.inner.per.to_string()
    }
    /// Periods in the 30-day month (720, 30 or 1).
    #[getter]
    fn periods<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.periods)
    }
    /// Quantity.
    #[getter]
    fn quantity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.quantity)
    }
    /// Amount.
    #[getter]
    fn amount<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.amount)
    }
    /// ``cost_center``, ``default`` or ``unpriced``.
    #[getter]
    fn source(&self) -> &'static str {
        match self.inner.source {
            cost::RateSource::CostCenter => "cost_center",
            cost::RateSource::Default => "default",
            cost::RateSource::Unpriced => "unpriced",
        }
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
}

/// A monthly cost estimate (30 days), exact decimals.
#[pyclass(module = "butler", frozen)]
#[derive(Clone)]
pub(crate) struct Estimate {
    pub(crate) inner: CoreEstimate,
}

#[pymethods]
impl Estimate {
    /// Rate card version used.
    #[getter]
    fn card_version(&self) -> String {
        self.inner.card_version.clone()
    }
    /// Currency.
    #[getter]
    fn currency(&self) -> String {
        self.inner.currency.clone()
    }
    /// Cost center priced for.
    #[getter]
    fn cost_center(&self) -> String {
        self.inner.cost_center.clone()
    }
    /// Line items.
    #[getter]
    fn lines(&self) -> Vec<LineItem> {
        self.inner
            .lines
            .iter()
            .map(|l| LineItem { inner: l.clone() })
            .collect()
    }
    /// Sum of the lines.
    #[getter]
    fn subtotal<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.subtotal)
    }
    /// Margin amount.
    #[getter]
    fn margin_amount<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.margin_amount)
    }
    /// Total.
    #[getter]
    fn total<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.total)
    }
    /// Line-by-line difference to ``after``: ``LineDiff(item, before, after, delta)``s.
    fn diff(&self, py: Python<'_>, after: &Estimate) -> PyResult<Vec<PyObject>> {
        self.inner
            .diff(&after.inner)
            .lines
            .iter()
            .map(|l| {
                crate::named::named(
                    py,
                    "LineDiff",
                    (
                        l.item.to_string(),
                        l.before.as_ref().map(|d| decimal(py, d)).transpose()?,
                        l.after.as_ref().map(|d| decimal(py, d)).transpose()?,
                        decimal(py, &l.delta)?,
                    ),
                )
            })
            .collect()
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
}

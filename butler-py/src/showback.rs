//! Showback (SPEC §14) for Python: a report object with its totals, the
//! library's JSON form as a dict, CSV, and an Arrow table of one row per
//! VM and month with money as exact decimals.

use crate::convert::{as_python, decimal};
use butler_core::showback::Showback as CoreShowback;
use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rust_decimal::Decimal;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Showback>()
}

/// What the VMs a session sees cost over a period (``session.showback``).
#[pyclass(module = "butler", frozen)]
pub(crate) struct Showback {
    pub(crate) inner: CoreShowback,
}

#[pymethods]
impl Showback {
    /// First month (``"2026-03"``).
    #[getter(from_month)]
    fn first_month(&self) -> String {
        self.inner.from.to_string()
    }
    /// Last month.
    #[getter(to_month)]
    fn last_month(&self) -> String {
        self.inner.to.to_string()
    }
    /// The currency of every amount (``None``: no rate card in force).
    #[getter]
    fn currency(&self) -> Option<String> {
        self.inner.currency.clone()
    }
    /// What every VM-month cost, summed (a ``decimal.Decimal``).
    #[getter]
    fn actual<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.actual)
    }
    /// What their requests estimated, summed.
    #[getter]
    fn estimate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        decimal(py, &self.inner.estimate)
    }
    fn __len__(&self) -> usize {
        self.inner.vms.iter().map(|v| v.months.len()).sum()
    }
    fn __repr__(&self) -> String {
        format!(
            "Showback({} to {}: {} VMs, {} {})",
            self.inner.from,
            self.inner.to,
            self.inner.vms.len(),
            self.inner.actual,
            self.inner.currency.as_deref().unwrap_or("")
        )
    }

    /// The whole report as a dict (the library's JSON form: ``vms`` with
    /// their ``months``, ``by_month``, ``by_cost_center``,
    /// ``by_division``, ``by_unit``, ``unpriced``; amounts as strings).
    fn as_dict(&self, py: Python<'_>) -> PyResult<PyObject> {
        as_python(py, &self.inner)
    }

    /// One CSV line per VM and month, with a header (texts quoted and never
    /// formulas).
    fn to_csv(&self) -> String {
        butler_core::showback::to_csv(&self.inner)
    }

    /// Writes the report to an ``.xlsx`` file at ``path`` (saved whole or
    /// not at all): a sheet with a row per VM and month (the month a date,
    /// days and amounts numbers) and one with the sums per month and cost
    /// center, headed in ``language`` (``"en"`` or ``"es"``).
    #[pyo3(signature = (path, language="en"))]
    fn to_xlsx(&self, path: std::path::PathBuf, language: &str) -> PyResult<()> {
        let lang = crate::convert::language(language)?;
        let fail =
            |e: butler::export::ExportError| crate::errors::ButlerError::new_err(e.to_string());
        let mut buf = Vec::new();
        butler::export::write_showback_xlsx_in(&self.inner, lang, &mut buf).map_err(fail)?;
        butler::export::save(&path, &buf).map_err(fail)
    }

    /// One row per VM and month as a ``pyarrow.Table`` (needs ``pyarrow``):
    /// ``month``, ``vm``, ``name``, ``owner``, ``cost_center``,
    /// ``division``, ``unit``, ``request``, ``days``, ``days_off``,
    /// ``actual``, ``estimate`` and the causes (``cause_days``,
    /// ``cause_resizes``, ``cause_rate_cards``, ``cause_powered_off``,
    /// ``cause_other``): money as ``decimal128`` with the report's largest
    /// scale, so sums in Arrow are exact; null where a VM has no estimate.
    /// The currency is in the schema's metadata.
    fn to_arrow(&self, py: Python<'_>) -> PyResult<PyObject> {
        let pa = py.import("pyarrow").map_err(|e| {
            PyImportError::new_err(format!(
                "Showback.to_arrow needs pyarrow (pip install pyarrow): {e}"
            ))
        })?;
        let rows: Vec<_> = self
            .inner
            .vms
            .iter()
            .flat_map(|v| v.months.iter().map(move |m| (v, m)))
            .collect();
        let money: [fn(&butler_core::showback::VmMonth) -> Option<Decimal>; 7] = [
            |m| Some(m.actual),
            |m| m.estimate,
            |m| m.causes.as_ref().map(|c| c.days),
            |m| m.causes.as_ref().map(|c| c.resizes),
            |m| m.causes.as_ref().map(|c| c.rate_cards),
            |m| m.causes.as_ref().map(|c| c.powered_off),
            |m| m.causes.as_ref().map(|c| c.other),
        ];
        // The CSV's money columns, in its order.
        let names = &butler_core::showback::COLUMNS[11..];
        let scale = rows
            .iter()
            .flat_map(|(_, m)| money.iter().filter_map(move |f| f(m)))
            .map(|d| d.scale())
            .max()
            .unwrap_or(0);
        let dec = pa.call_method1("decimal128", (38, scale))?;
        let cols = PyDict::new(py);
        let text = |f: fn(&butler_core::showback::VmShowback) -> &str| -> Vec<String> {
            rows.iter().map(|(v, _)| f(v).to_string()).collect()
        };
        let array = |values: PyObject, ty: Bound<'_, PyAny>| -> PyResult<Bound<'_, PyAny>> {
            let kw = PyDict::new(py);
            kw.set_item("type", ty)?;
            pa.call_method("array", (values,), Some(&kw))
        };
        let string = pa.call_method0("string")?;
        let month: Vec<String> = rows.iter().map(|(_, m)| m.month.to_string()).collect();
        cols.set_item(
            "month",
            array(month.into_pyobject(py)?.into_any().unbind(), string.clone())?,
        )?;
        let vm: Vec<u64> = rows.iter().map(|(v, _)| v.vm.0).collect();
        cols.set_item(
            "vm",
            array(
                vm.into_pyobject(py)?.into_any().unbind(),
                pa.call_method0("uint64")?,
            )?,
        )?;
        for (name, f) in [
            (
                "name",
                (|v| v.name.as_str()) as fn(&butler_core::showback::VmShowback) -> &str,
            ),
            ("owner", |v| v.owner.as_str()),
            ("cost_center", |v| v.cost_center.as_str()),
            ("division", |v| v.division.as_str()),
            ("unit", |v| v.unit.as_str()),
        ] {
            cols.set_item(
                name,
                array(
                    text(f).into_pyobject(py)?.into_any().unbind(),
                    string.clone(),
                )?,
            )?;
        }
        let request: Vec<Option<u64>> = rows.iter().map(|(v, _)| v.request.map(|r| r.0)).collect();
        cols.set_item(
            "request",
            array(
                request.into_pyobject(py)?.into_any().unbind(),
                pa.call_method0("uint64")?,
            )?,
        )?;
        let u32s = pa.call_method0("uint32")?;
        let days: Vec<u32> = rows.iter().map(|(_, m)| m.days).collect();
        cols.set_item(
            "days",
            array(days.into_pyobject(py)?.into_any().unbind(), u32s.clone())?,
        )?;
        let off: Vec<u32> = rows.iter().map(|(_, m)| m.days_off).collect();
        cols.set_item(
            "days_off",
            array(off.into_pyobject(py)?.into_any().unbind(), u32s)?,
        )?;
        for (name, f) in names.iter().zip(money) {
            let values = rows
                .iter()
                .map(|(_, m)| f(m).map(|d| decimal(py, &d).map(Bound::unbind)).transpose())
                .collect::<PyResult<Vec<Option<PyObject>>>>()?;
            cols.set_item(
                *name,
                array(values.into_pyobject(py)?.into_any().unbind(), dec.clone())?,
            )?;
        }
        let table = pa.getattr("table")?.call1((cols,))?;
        let meta = PyDict::new(py);
        meta.set_item("currency", self.inner.currency.clone().unwrap_or_default())?;
        meta.set_item("from", self.inner.from.to_string())?;
        meta.set_item("to", self.inner.to.to_string())?;
        Ok(table
            .call_method1("replace_schema_metadata", (meta,))?
            .unbind())
    }
}

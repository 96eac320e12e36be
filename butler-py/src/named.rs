//! Small records as the `NamedTuple`s of `butler.types`, so scripts read
//! `change.field` and can still unpack them as tuples.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyTuple;
use pyo3::BoundObject;

static MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

/// `butler.types.<class>(*values)`.
pub(crate) fn named<'py>(
    py: Python<'py>,
    class: &str,
    values: impl IntoPyObject<'py, Target = PyTuple>,
) -> PyResult<PyObject> {
    let m = MODULE.get_or_try_init(py, || py.import("butler.types").map(|m| m.unbind()))?;
    let args: Bound<'py, PyTuple> = values.into_pyobject(py).map_err(Into::into)?.into_bound();
    Ok(m.bind(py).getattr(class)?.call1(args)?.unbind())
}

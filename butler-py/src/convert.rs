use butler_core::auth::{Actor, Role};
use pyo3::prelude::*;
use rust_decimal::Decimal;

/// A `decimal.Decimal` with the exact value.
pub(crate) fn decimal<'py>(py: Python<'py>, d: &Decimal) -> PyResult<Bound<'py, PyAny>> {
    py.import("decimal")?
        .getattr("Decimal")?
        .call1((d.to_string(),))
}

/// An export's language from ``"en"`` or ``"es"``.
pub(crate) fn language(name: &str) -> PyResult<butler::export::Language> {
    match name {
        "en" => Ok(butler::export::Language::English),
        "es" => Ok(butler::export::Language::Spanish),
        other => Err(crate::errors::InvalidInput::new_err(format!(
            "language {other:?}: use \"en\" or \"es\""
        ))),
    }
}

pub(crate) fn role(name: &str) -> PyResult<Role> {
    Role::parse(name).ok_or_else(|| {
        crate::errors::InvalidInput::new_err(format!(
            "unknown role {name:?}: use requester, approver, viewer, operator or admin"
        ))
    })
}

pub(crate) fn roles(names: &[String]) -> PyResult<Vec<Role>> {
    names.iter().map(|r| role(r)).collect()
}

/// An actor the calling script vouches for (it authenticated the user).
pub(crate) fn trusted_actor(user: &str, roles: &[String]) -> PyResult<Actor> {
    Actor::trusted(user, self::roles(roles)?)
        .map_err(|e| crate::errors::InvalidInput::new_err(e.to_string()))
}

/// `value` as Python data (dicts, lists, strings, numbers).
pub(crate) fn as_python<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<PyObject> {
    let text = serde_json::to_string(value)
        .map_err(|e| crate::errors::InvalidInput::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

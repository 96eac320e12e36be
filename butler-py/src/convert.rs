use butler_core::auth::{Actor, Role};
use pyo3::prelude::*;
use rust_decimal::Decimal;

/// A `decimal.Decimal` with the exact value.
pub(crate) fn decimal<'py>(py: Python<'py>, d: &Decimal) -> PyResult<Bound<'py, PyAny>> {
    py.import("decimal")?
        .getattr("Decimal")?
        .call1((d.to_string(),))
}

pub(crate) fn role(name: &str) -> PyResult<Role> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "requester" => Role::Requester,
        "approver" => Role::Approver,
        "viewer" => Role::Viewer,
        "operator" => Role::Operator,
        "admin" => Role::Admin,
        other => {
            return Err(crate::errors::InvalidInput::new_err(format!(
                "unknown role {other:?}: use requester, approver, viewer, operator or admin"
            )))
        }
    })
}

pub(crate) fn actor(user: &str, roles: &[String]) -> PyResult<Actor> {
    if user.trim().is_empty() {
        return Err(crate::errors::InvalidInput::new_err(
            "the user name is empty",
        ));
    }
    let roles = roles
        .iter()
        .map(|r| role(r))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Actor::new(user, roles))
}

//! What a write acts on: the object read (a `Request` or a
//! `MigrationGroup`, whose id and version are taken from it) or, as in
//! earlier releases, an id and a version.

use crate::errors::InvalidInput;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The id, the version and the method's own arguments.
pub(crate) struct Target<'py> {
    pub id: u64,
    pub version: u64,
    pub rest: Vec<Bound<'py, PyAny>>,
}

/// Splits `(target, *args)`: `target` is the object read, or an id
/// followed by its version in `args`. `extra` is how many of the method's
/// own arguments must follow.
pub(crate) fn target<'py>(
    method: &str,
    target: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    extra: std::ops::RangeInclusive<usize>,
) -> PyResult<Target<'py>> {
    let all: Vec<Bound<'py, PyAny>> = args.iter().collect();
    let (id, version, rest) = if let Ok(r) = target.downcast::<crate::requests::Request>() {
        let r = r.borrow();
        (r.inner.id.0, r.inner.version, all)
    } else if let Ok(g) = target.downcast::<crate::migration::MigrationGroup>() {
        let g = g.borrow();
        (g.inner.id.0, g.inner.version, all)
    } else {
        let id: u64 = target.extract().map_err(|_| {
            InvalidInput::new_err(format!(
                "{method}: pass the object you read (a Request or MigrationGroup), or its id and version"
            ))
        })?;
        let version: u64 = all
            .first()
            .ok_or_else(|| {
                InvalidInput::new_err(format!(
                    "{method}: an id needs its version (or pass the object read)"
                ))
            })?
            .extract()
            .map_err(|_| {
                InvalidInput::new_err(format!("{method}: the version is a whole number"))
            })?;
        (id, version, all.into_iter().skip(1).collect())
    };
    if !extra.contains(&rest.len()) {
        return Err(InvalidInput::new_err(format!(
            "{method}: expected {} more argument(s) after the object, got {}",
            if extra.start() == extra.end() {
                extra.start().to_string()
            } else {
                format!("{} to {}", extra.start(), extra.end())
            },
            rest.len()
        )));
    }
    Ok(Target { id, version, rest })
}

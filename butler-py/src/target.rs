//! What a write acts on: the object read (a `Request` for request
//! methods, a `MigrationGroup` for group methods; id and version are taken
//! from it) or, as in earlier releases, an id and a version. The other
//! kind of object is refused: a group's id is not a request's.

use crate::errors::InvalidInput;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The id, the version and the method's own arguments.
pub(crate) struct Target<'py> {
    pub id: u64,
    pub version: u64,
    pub rest: Vec<Bound<'py, PyAny>>,
}

/// What a method acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Group,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Request => "Request",
            Kind::Group => "MigrationGroup",
        }
    }
}

/// A request method's target (see [`target`]).
pub(crate) fn request<'py>(
    method: &str,
    target: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    extra: std::ops::RangeInclusive<usize>,
) -> PyResult<Target<'py>> {
    self::target(Kind::Request, method, target, args, extra)
}

/// A migration-group method's target (see [`target`]).
pub(crate) fn group<'py>(
    method: &str,
    target: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    extra: std::ops::RangeInclusive<usize>,
) -> PyResult<Target<'py>> {
    self::target(Kind::Group, method, target, args, extra)
}

/// Splits `(target, *args)`: `target` is the object read (of `kind`), or an
/// id followed by its version in `args`. `extra` is how many of the
/// method's own arguments must follow.
fn target<'py>(
    kind: Kind,
    method: &str,
    target: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    extra: std::ops::RangeInclusive<usize>,
) -> PyResult<Target<'py>> {
    let all: Vec<Bound<'py, PyAny>> = args.iter().collect();
    let read = if let Ok(r) = target.downcast::<crate::requests::Request>() {
        let r = r.borrow();
        Some((Kind::Request, r.inner.id.0, r.inner.version))
    } else if let Ok(g) = target.downcast::<crate::migration::MigrationGroup>() {
        let g = g.borrow();
        Some((Kind::Group, g.inner.id.0, g.inner.version))
    } else {
        None
    };
    let (id, version, rest) = if let Some((got, id, version)) = read {
        if got != kind {
            return Err(InvalidInput::new_err(format!(
                "{method} acts on a {}, not a {}",
                kind.name(),
                got.name()
            )));
        }
        (id, version, all)
    } else {
        let id: u64 = target.extract().map_err(|_| {
            InvalidInput::new_err(format!(
                "{method}: pass the {} you read, or its id and version",
                kind.name()
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

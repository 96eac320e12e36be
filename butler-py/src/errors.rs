//! Butler's errors as the Python exceptions of `butler.exceptions`
//! (classes written in Python so each can also derive from the matching
//! built-in), with the library's details as attributes.

use butler_core::backend::ErrorClass;
use butler_core::ButlerError as Core;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyList, PyType};
use pyo3::BoundObject;

static MODULE: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

/// An instance of `butler.exceptions.<class>` with `msg`; a
/// `RuntimeError` if that module cannot be imported (a broken install).
fn make(class: &str, msg: String, attrs: &[(&str, PyObject)]) -> PyErr {
    Python::with_gil(|py| {
        let built = (|| -> PyResult<PyErr> {
            let m = MODULE
                .get_or_try_init(py, || py.import("butler.exceptions").map(|m| m.unbind()))?;
            let cls = m.bind(py).getattr(class)?.downcast_into::<PyType>()?;
            let value = cls.call1((msg.clone(),))?;
            for (k, v) in attrs {
                value.setattr(*k, v)?;
            }
            Ok(PyErr::from_value(value))
        })();
        built.unwrap_or_else(|e| PyRuntimeError::new_err(format!("{msg} ({e})")))
    })
}

macro_rules! exception {
    ($rust:ident, $py:literal) => {
        /// Raises `butler.exceptions.
        #[doc = $py]
        /// `.
        pub(crate) struct $rust;
        impl $rust {
            pub(crate) fn new_err(msg: impl Into<String>) -> PyErr {
                make($py, msg.into(), &[])
            }
        }
    };
}

exception!(ButlerError, "ButlerError");
exception!(InvalidInput, "InvalidInputError");
exception!(MigrationRefused, "MigrationRefusedError");
exception!(Unsupported, "UnsupportedError");

fn obj<'py, T>(py: Python<'py>, v: T) -> PyObject
where
    T: IntoPyObject<'py>,
{
    v.into_pyobject(py)
        .map(|b| BoundObject::into_any(b).unbind())
        .unwrap_or_else(|_| py.None())
}

/// Maps a Butler error to its Python exception.
pub(crate) fn to_py(e: Core) -> PyErr {
    let msg = e.to_string();
    // The library's one answer to "should I try again".
    let class = e.class();
    Python::with_gil(|py| match e {
        Core::Validation(problems) => {
            let list: Vec<crate::catalog::SpecProblem> =
                problems.0.into_iter().map(Into::into).collect();
            let l = PyList::new(py, list)
                .map(|l| l.into_any().unbind())
                .unwrap_or_else(|_| py.None());
            make("ValidationError", msg, &[("problems", l)])
        }
        Core::Denied(d) => {
            let reason = d.reason.code();
            make(
                "PermissionDeniedError",
                msg,
                &[
                    ("actor", obj(py, d.actor.clone())),
                    ("action", obj(py, d.action.to_string())),
                    ("request", obj(py, d.request.map(|r| r.0))),
                    ("state", obj(py, d.state.map(|s| s.as_str()))),
                    ("reason", obj(py, reason)),
                ],
            )
        }
        Core::Auth(a) => {
            use butler_core::auth::AuthError as A;
            match a {
                A::BadCredentials => make("LoginError", msg, &[]),
                A::UnknownUser(u) | A::UnknownToken(u) => {
                    make("NotFoundError", msg, &[("what", obj(py, u))])
                }
                A::Exists(u) => make("ConflictError", msg, &[("what", obj(py, u))]),
                A::AlreadyBootstrapped => make("ConflictError", msg, &[]),
                _ => make("InvalidInputError", msg, &[]),
            }
        }
        Core::Conflict(c) => {
            let attrs = match c {
                butler_core::store::StoreError::Conflict {
                    what,
                    expected,
                    found,
                } => vec![
                    ("what", obj(py, what)),
                    ("expected_version", obj(py, expected)),
                    ("found_version", obj(py, found)),
                ],
                _ => Vec::new(),
            };
            make("ConflictError", msg, &attrs)
        }
        Core::NotFound(what) => make("NotFoundError", msg, &[("what", obj(py, what))]),
        Core::Limit(l) => make(
            "InvalidInputError",
            msg,
            &[
                ("field", obj(py, l.field.clone())),
                ("limit", obj(py, l.limit)),
                ("found", obj(py, l.found)),
                ("unit", obj(py, l.unit)),
            ],
        ),
        Core::Invalid(_) | Core::Refused(_) | Core::Group(_) | Core::Catalog(_) | Core::Cost(_) => {
            make("InvalidInputError", msg, &[])
        }
        Core::ValidationRequired(_) | Core::ConfirmationRequired(_) => {
            make("MigrationRefusedError", msg, &[])
        }
        // Something that exists already (a closed month closed again, a
        // group name taken): the REST API's 409, not a backend failure.
        Core::Store(butler_core::store::StoreError::AlreadyExists(what)) => {
            make("ConflictError", msg, &[("what", obj(py, what))])
        }
        Core::Store(_) => make(
            "BackendError",
            msg,
            &[
                ("retryable", obj(py, class.is_retryable())),
                ("error_class", obj(py, class.as_str())),
            ],
        ),
        Core::Backend(b) => {
            let attrs = [
                ("retryable", obj(py, class.is_retryable())),
                ("error_class", obj(py, class.as_str())),
                ("operation", obj(py, b.operation.clone())),
                ("attempts", obj(py, b.attempts)),
            ];
            match class {
                ErrorClass::Unsupported => make("UnsupportedError", msg, &attrs),
                _ => make("BackendError", msg, &attrs),
            }
        }
        Core::Export(_) => make("BackendError", msg, &[]),
        Core::Quota(q) => {
            let (kind, name) = q.scope.parts();
            make(
                "QuotaExceededError",
                msg,
                &[
                    ("scope_kind", obj(py, kind)),
                    ("scope_name", obj(py, name.to_string())),
                    ("dimension", obj(py, q.dimension.clone())),
                    ("limit", obj(py, q.limit.to_string())),
                    ("used", obj(py, q.used.to_string())),
                    ("would_use", obj(py, q.would_use.to_string())),
                ],
            )
        }
        _ => make("ButlerError", msg, &[]),
    })
}

/// `Result<T, ButlerError>` → `PyResult<T>`.
pub(crate) trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Core> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

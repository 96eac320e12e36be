use butler_core::ButlerError as Core;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

create_exception!(
    butler,
    ButlerError,
    PyException,
    "Base class of every Butler error."
);
create_exception!(
    butler,
    ValidationError,
    ButlerError,
    "The VM spec has problems; `problems` lists them all."
);
create_exception!(
    butler,
    PermissionDenied,
    ButlerError,
    "The user may not do this (role, ownership or state)."
);
create_exception!(
    butler,
    Conflict,
    ButlerError,
    "Someone changed the object first; reload and try again."
);
create_exception!(
    butler,
    NotFound,
    ButlerError,
    "No such object (or not visible to the user)."
);
create_exception!(butler, InvalidInput, ButlerError, "The input is malformed.");
create_exception!(
    butler,
    BackendError,
    ButlerError,
    "The platform, monitoring, billing or the store failed."
);
create_exception!(
    butler,
    LoginError,
    ButlerError,
    "User name or password is wrong (the same error whether or not the user exists)."
);
create_exception!(
    butler,
    MigrationRefused,
    ButlerError,
    "Migration needs a fresh validation with no errors."
);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ButlerError", py.get_type::<ButlerError>())?;
    m.add("ValidationError", py.get_type::<ValidationError>())?;
    m.add("PermissionDenied", py.get_type::<PermissionDenied>())?;
    m.add("Conflict", py.get_type::<Conflict>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("BackendError", py.get_type::<BackendError>())?;
    m.add("MigrationRefused", py.get_type::<MigrationRefused>())?;
    m.add("LoginError", py.get_type::<LoginError>())?;
    Ok(())
}

/// Maps a Butler error to its Python exception.
pub(crate) fn to_py(e: Core) -> PyErr {
    let msg = e.to_string();
    match e {
        Core::Validation(problems) => {
            let err = ValidationError::new_err(msg);
            Python::with_gil(|py| {
                let list: Vec<crate::catalog::SpecProblem> =
                    problems.0.into_iter().map(Into::into).collect();
                if let Ok(l) = PyList::new(py, list) {
                    let _ = err.value(py).setattr("problems", l);
                }
            });
            err
        }
        Core::Denied(_) => PermissionDenied::new_err(msg),
        Core::Auth(a) => {
            use butler_core::auth::AuthError as A;
            match a {
                A::BadCredentials => LoginError::new_err(msg),
                A::UnknownUser(_) => NotFound::new_err(msg),
                A::Exists(_) | A::AlreadyBootstrapped => Conflict::new_err(msg),
                _ => InvalidInput::new_err(msg),
            }
        }
        Core::Conflict(_) => Conflict::new_err(msg),
        Core::NotFound(_) => NotFound::new_err(msg),
        Core::Invalid(_) | Core::Group(_) | Core::Catalog(_) | Core::Cost(_) | Core::Limit(_) => {
            InvalidInput::new_err(msg)
        }
        Core::ValidationRequired(_) => MigrationRefused::new_err(msg),
        Core::Store(_) | Core::Backend(_) | Core::Export(_) => BackendError::new_err(msg),
        _ => ButlerError::new_err(msg),
    }
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

//! `Session`: everything a user does, checked against their roles, one
//! file per concern (pyo3's `multiple-pymethods` joins the method blocks).

use butler_core::auth::Actor;
use butler_core::backend::ClusterBackend;
use butler_core::migration::MigrationService;
use butler_core::service::RequestService;
use butler_core::users::UserService;
use pyo3::prelude::*;
use std::sync::Arc;

/// Runs a service call on Butler's runtime and maps its error.
macro_rules! call {
    ($py:expr, $svc:expr, |$s:ident| $body:expr) => {{
        let $s = $svc.clone();
        block($py, async move { $body.await })?.py()
    }};
}

mod admin;
mod groups;
mod requests;
mod rules;
mod runs;
mod vms;

/// Everything a user does, checked against their roles.
#[pyclass(module = "butler", frozen)]
pub(crate) struct Session {
    pub(crate) actor: Actor,
    pub(crate) requests: Arc<RequestService>,
    pub(crate) migrations: Arc<MigrationService>,
    pub(crate) users: Arc<UserService>,
    pub(crate) vms: Arc<butler_core::inventory::VmService>,
    pub(crate) platform: Arc<dyn ClusterBackend>,
    /// The engine's billing backend (showback compares what it charged);
    /// `None` without an engine.
    pub(crate) billing: Option<Arc<dyn butler_core::backend::Billing>>,
}

#[pymethods]
impl Session {
    /// The user name.
    #[getter]
    fn user(&self) -> String {
        self.actor.name().to_string()
    }

    /// The roles the user holds (read-only: a session never gains roles).
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.actor
            .roles()
            .iter()
            .map(|r| r.as_str().to_string())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Session(user={:?}, roles={:?})",
            self.actor.name(),
            self.roles()
        )
    }
}

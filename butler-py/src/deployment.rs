use crate::block;
use crate::catalog::{Catalog, RateBook, VmSpec};
use crate::convert::{roles, trusted_actor};
use crate::errors::{IntoPyResult, InvalidInput};
use crate::migration::{
    Facts, MigrationGroup, MigrationReport, MigrationRun, ValidationReport, ValidationToken,
};
use crate::requests::{Request, RequestPage};
use crate::simulator::Simulator;
use butler_core::auth::{Actor, Policy};
use butler_core::backend::ClusterBackend;
use butler_core::engine::Engine;
use butler_core::migration::{GroupId, MigrationService, RunId};
use butler_core::request::{RequestId, RequestState};
use butler_core::service::RequestService;
use butler_core::store::RequestQuery;
use butler_core::users::UserService;
use butler_sim::SimPlatform;
use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::types::PyTuple;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Butler>()?;
    m.add_class::<Session>()?;
    m.add_class::<crate::simulator::Simulator>()?;
    Ok(())
}

/// A Butler: request service, provisioning engine and migrations over a
/// platform and a store. ``Butler()`` runs on the simulated platform and an
/// in-memory SQLite store; give ``db_path`` for a file.
#[pyclass(module = "butler", frozen)]
pub(crate) struct Butler {
    requests: Arc<RequestService>,
    migrations: Arc<MigrationService>,
    users: Arc<UserService>,
    /// `None` on Nutanix until monitoring and billing adapters exist.
    engine: Option<Arc<Engine>>,
    sim: Option<SimPlatform>,
    platform: Arc<dyn ClusterBackend>,
}

#[pymethods]
impl Butler {
    /// A Butler on the simulator, with the demo catalog and rate book
    /// unless others are given: for trying Butler out, tests and demos.
    /// ``db_path`` keeps the store in a SQLite file (default: in memory);
    /// ``seed`` fixes the simulator's random choices.
    #[staticmethod]
    #[pyo3(signature = (db_path=None, seed=0, catalog=None, rate_book=None, *, postgres_url_env=None, four_eyes=true, on_event=None))]
    #[allow(clippy::too_many_arguments)]
    fn demo(
        py: Python<'_>,
        db_path: Option<&str>,
        seed: u64,
        catalog: Option<&Catalog>,
        rate_book: Option<&RateBook>,
        postgres_url_env: Option<&str>,
        four_eyes: bool,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let mut b = butler::Butler::builder()
            .seed(seed)
            .policy(policy(four_eyes));
        b = with_store(py, b, db_path, postgres_url_env)?;
        if let Some(c) = catalog {
            b = b.catalog((*c.inner).clone());
        }
        if let Some(r) = rate_book {
            b = b.rate_book((*r.inner).clone());
        }
        if let Some(cb) = on_event {
            b = b.notifier(Arc::new(crate::notify::PyNotifier::new(cb)));
        }
        Self::from_built(b)
    }

    /// A Butler for a real deployment, from one deployment file
    /// (``butler::deployment``):
    /// ``[prism_central]`` and ``[clusters.*]`` (passwords from
    /// ``BUTLER_NUTANIX_*_PASSWORD``), ``[monitoring.icinga]`` (password from
    /// ``BUTLER_ICINGA_PASSWORD``), ``[billing.nutanix_category]`` and/or
    /// ``[billing.webhook]`` (secret from ``BUTLER_BILLING_WEBHOOK_SECRET``).
    /// With both steps configured (or switched off, here or by ``enabled =
    /// false`` in the file: history then says "skipped by configuration"),
    /// ``provision()`` provisions end to end; without them requests and
    /// migrations work and provisioning is refused.
    ///
    /// A real deployment needs its own ``catalog`` and ``rate_book`` (the
    /// demo ones only with ``demo_catalog=True``). Migration settings:
    /// ``project_map`` (source project → destination cluster → project),
    /// ``recreate_schedules`` (``(remote site, every minutes, retention)``),
    /// ``max_parallel`` and ``deadline_seconds``.
    /// ``four_eyes=False`` lets approvers handle their own requests (logged);
    /// ``on_event`` receives every request state change. For the simulator
    /// and the demo data: ``Butler.demo()``.
    #[new]
    #[pyo3(signature = (config, db_path=None, catalog=None, rate_book=None, *, postgres_url_env=None, monitoring=true, billing=true, demo_catalog=false, project_map=None, recreate_schedules=None, max_parallel=None, deadline_seconds=None, four_eyes=true, on_event=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        config: &str,
        db_path: Option<&str>,
        catalog: Option<&Catalog>,
        rate_book: Option<&RateBook>,
        postgres_url_env: Option<&str>,
        monitoring: bool,
        billing: bool,
        demo_catalog: bool,
        project_map: Option<BTreeMap<String, BTreeMap<String, String>>>,
        recreate_schedules: Option<Vec<(String, u32, u32)>>,
        max_parallel: Option<usize>,
        deadline_seconds: Option<f64>,
        four_eyes: bool,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        Self::from_config(
            py,
            config,
            db_path,
            catalog,
            rate_book,
            postgres_url_env,
            monitoring,
            billing,
            demo_catalog,
            project_map,
            recreate_schedules,
            max_parallel,
            deadline_seconds,
            four_eyes,
            on_event,
        )
    }

    /// The same as ``Butler(config, ...)`` (kept for scripts written
    /// against the first Python API).
    #[staticmethod]
    #[pyo3(signature = (config_path, db_path=None, catalog=None, rate_book=None, *, postgres_url_env=None, monitoring=true, billing=true, demo_catalog=false, project_map=None, recreate_schedules=None, max_parallel=None, deadline_seconds=None, four_eyes=true, on_event=None))]
    #[allow(clippy::too_many_arguments)]
    fn nutanix(
        py: Python<'_>,
        config_path: &str,
        db_path: Option<&str>,
        catalog: Option<&Catalog>,
        rate_book: Option<&RateBook>,
        postgres_url_env: Option<&str>,
        monitoring: bool,
        billing: bool,
        demo_catalog: bool,
        project_map: Option<BTreeMap<String, BTreeMap<String, String>>>,
        recreate_schedules: Option<Vec<(String, u32, u32)>>,
        max_parallel: Option<usize>,
        deadline_seconds: Option<f64>,
        four_eyes: bool,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        Self::from_config(
            py,
            config_path,
            db_path,
            catalog,
            rate_book,
            postgres_url_env,
            monitoring,
            billing,
            demo_catalog,
            project_map,
            recreate_schedules,
            max_parallel,
            deadline_seconds,
            four_eyes,
            on_event,
        )
    }

    /// Logs in with a stored user's name and password and returns their
    /// session. Raises ``LoginError`` for an unknown user, a wrong password
    /// or a disabled user alike (the same error after the same work, so
    /// nobody learns which users exist).
    fn login(&self, py: Python<'_>, name: &str, password: &str) -> PyResult<Session> {
        let (users, name, password) = (self.users.clone(), name.to_string(), password.to_string());
        let actor = block(
            py,
            async move { users.authenticate(&name, &password).await },
        )?
        .py()?;
        Ok(self.session_for(actor))
    }

    /// Adds the first admin of an empty deployment and returns their
    /// session; refused once any user exists.
    fn bootstrap_admin(&self, py: Python<'_>, name: &str, password: &str) -> PyResult<Session> {
        let (users, name, password) = (self.users.clone(), name.to_string(), password.to_string());
        let actor = block(
            py,
            async move { users.bootstrap_admin(&name, &password).await },
        )?
        .py()?;
        Ok(self.session_for(actor))
    }

    /// A session for ``user`` holding ``roles`` **that this script vouches
    /// for**: Butler does not check a password. For scripts that
    /// authenticated the user themselves (single sign-on, a service
    /// account); everyone else uses ``login``.
    fn trusted_session(&self, user: &str, roles: Vec<String>) -> PyResult<Session> {
        Ok(self.session_for(trusted_actor(user, &roles)?))
    }

    /// Provisions every approved request now; returns counts.
    fn provision<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Some(engine) = self.engine.clone() else {
            return Err(crate::errors::ButlerError::new_err(
                "provisioning on Nutanix needs monitoring and billing adapters, which this version does not ship: pass monitoring=False, billing=False to record those steps as skipped by configuration, or use the Rust API with your own Monitor and Billing",
            ));
        };
        let s = block(py, async move { engine.run_until_idle().await })?
            .map_err(|e| crate::errors::ButlerError::new_err(e.to_string()))?;
        let d = PyDict::new(py);
        d.set_item("completed", s.completed)?;
        d.set_item("failed", s.failed)?;
        d.set_item("skipped", s.skipped)?;
        Ok(d)
    }

    /// The simulated platform (to inspect it and inject faults); ``None`` on Nutanix.
    #[getter]
    fn simulator(&self) -> Option<Simulator> {
        self.sim.clone().map(|sim| Simulator { sim })
    }
}

impl Butler {
    #[allow(clippy::too_many_arguments)]
    fn from_config(
        py: Python<'_>,
        config: &str,
        db_path: Option<&str>,
        catalog: Option<&Catalog>,
        rate_book: Option<&RateBook>,
        postgres_url_env: Option<&str>,
        monitoring: bool,
        billing: bool,
        demo_catalog: bool,
        project_map: Option<BTreeMap<String, BTreeMap<String, String>>>,
        recreate_schedules: Option<Vec<(String, u32, u32)>>,
        max_parallel: Option<usize>,
        deadline_seconds: Option<f64>,
        four_eyes: bool,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        if !demo_catalog && (catalog.is_none() || rate_book.is_none()) {
            return Err(InvalidInput::new_err(
                "Butler(config) needs catalog= and rate_book= for the deployment (the demo ones only with demo_catalog=True)",
            ));
        }
        let migration = migration_config(
            project_map,
            recreate_schedules,
            max_parallel,
            deadline_seconds,
        )?;
        let mut d = butler::deployment::Deployment::from_path(std::path::Path::new(config))
            .map_err(|e| InvalidInput::new_err(e.to_string()))?;
        if !monitoring {
            (d.monitor, d.monitoring_enabled) = (None, false);
        }
        if !billing {
            (d.billing, d.billing_enabled) = (None, false);
        }
        let mut b = butler::Butler::builder()
            .policy(policy(four_eyes))
            .catalog(
                catalog
                    .map(|c| (*c.inner).clone())
                    .unwrap_or_else(butler_core::demo::catalog),
            )
            .rate_book(
                rate_book
                    .map(|r| (*r.inner).clone())
                    .unwrap_or_else(butler_core::demo::rate_book),
            );
        b = with_store(py, b, db_path, postgres_url_env)?;
        b = d
            .apply(b, butler_core::engine::EngineConfig::default())
            .migration_config(migration);
        if let Some(cb) = on_event {
            b = b.notifier(Arc::new(crate::notify::PyNotifier::new(cb)));
        }
        Self::from_built(b)
    }

    fn from_built(builder: butler::ButlerBuilder) -> PyResult<Self> {
        // Notifiers start their delivery task on Butler's runtime.
        let _rt = crate::runtime()?.enter();
        let b = builder.build().py()?;
        Ok(Butler {
            requests: b.requests().clone(),
            migrations: b.migrations().clone(),
            users: b.users().clone(),
            engine: b.engine().cloned(),
            sim: b.simulator().cloned(),
            platform: b.platform().clone(),
        })
    }

    fn session_for(&self, actor: Actor) -> Session {
        Session {
            actor,
            requests: self.requests.clone(),
            migrations: self.migrations.clone(),
            users: self.users.clone(),
            platform: self.platform.clone(),
        }
    }
}

/// Migration settings from keyword arguments (defaults for the rest).
fn migration_config(
    project_map: Option<BTreeMap<String, BTreeMap<String, String>>>,
    recreate_schedules: Option<Vec<(String, u32, u32)>>,
    max_parallel: Option<usize>,
    deadline_seconds: Option<f64>,
) -> PyResult<butler_core::migration::MigrationConfig> {
    let mut c = butler_core::migration::MigrationConfig::default();
    if let Some(m) = project_map {
        c.project_map = m;
    }
    if let Some(list) = recreate_schedules {
        for (site, every, retention) in &list {
            if site.trim().is_empty() || *every == 0 || *retention == 0 {
                return Err(InvalidInput::new_err(
                    "recreate_schedules: each is (remote site, every minutes ≥ 1, retention ≥ 1)",
                ));
            }
        }
        c.recreate_schedules = list
            .into_iter()
            .map(|(site, every, retention)| {
                butler_core::backend::Schedule::remote(site, every, retention)
            })
            .collect();
    }
    if let Some(n) = max_parallel {
        if n == 0 || n > 1024 {
            return Err(InvalidInput::new_err("max_parallel must be 1 to 1024"));
        }
        c.max_parallel = n;
    }
    if let Some(s) = deadline_seconds {
        if !s.is_finite() || s <= 0.0 || s > 30.0 * 86_400.0 {
            return Err(InvalidInput::new_err(
                "deadline_seconds must be above 0 and at most 30 days",
            ));
        }
        c.deadline = std::time::Duration::from_secs_f64(s);
    }
    Ok(c)
}

/// Runs a migration-group operation and wraps its result.
fn group<F>(py: Python<'_>, fut: F) -> PyResult<MigrationGroup>
where
    F: std::future::Future<
            Output = Result<butler_core::migration::MigrationGroup, butler_core::ButlerError>,
        > + Send,
{
    Ok(MigrationGroup {
        inner: Arc::new(block(py, fut)?.py()?),
    })
}

fn parse_state(s: &str) -> PyResult<RequestState> {
    RequestState::ALL
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| InvalidInput::new_err(format!("unknown state {s:?}")))
}

/// The store: a SQLite file (`db_path`), PostgreSQL (the connection
/// string in the environment variable named `postgres_url_env`, so it
/// never sits in a script), or SQLite in memory.
fn with_store(
    py: Python<'_>,
    b: butler::ButlerBuilder,
    db_path: Option<&str>,
    postgres_url_env: Option<&str>,
) -> PyResult<butler::ButlerBuilder> {
    match (db_path, postgres_url_env) {
        (Some(_), Some(_)) => Err(InvalidInput::new_err(
            "give db_path (SQLite) or postgres_url_env (PostgreSQL), not both",
        )),
        (Some(p), None) => Ok(b.sqlite(p)),
        (None, Some(var)) => {
            let url = std::env::var(var).map_err(|_| {
                InvalidInput::new_err(format!(
                    "postgres_url_env: set {var} to the PostgreSQL connection string"
                ))
            })?;
            let store = block(py, async move {
                butler::postgres::PostgresStore::connect(&url).await
            })?
            .map_err(butler_core::ButlerError::from)
            .py()?;
            Ok(b.store(Arc::new(store)))
        }
        (None, None) => Ok(b),
    }
}

fn policy(four_eyes: bool) -> Policy {
    if four_eyes {
        Policy::standard()
    } else {
        Policy::without_four_eyes()
    }
}

/// Everything a user does, checked against their roles.
#[pyclass(module = "butler", frozen)]
pub(crate) struct Session {
    actor: Actor,
    requests: Arc<RequestService>,
    migrations: Arc<MigrationService>,
    users: Arc<UserService>,
    platform: Arc<dyn ClusterBackend>,
}

macro_rules! call {
    ($py:expr, $svc:expr, |$s:ident| $body:expr) => {{
        let $s = $svc.clone();
        block($py, async move { $body.await })?.py()
    }};
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

    // ---- users ----

    /// Adds a user (admin).
    fn add_user(
        &self,
        py: Python<'_>,
        name: String,
        roles: Vec<String>,
        password: String,
    ) -> PyResult<()> {
        let roles = self::roles(&roles)?;
        call!(py, self.users, |u| async move {
            u.add(&self.actor, &name, roles, &password)
                .await
                .map(|_| ())
        })
    }

    /// Replaces a user's roles (admin).
    fn set_user_roles(&self, py: Python<'_>, name: String, roles: Vec<String>) -> PyResult<()> {
        let roles = self::roles(&roles)?;
        call!(py, self.users, |u| async move {
            u.set_roles(&self.actor, &name, roles).await.map(|_| ())
        })
    }

    /// Disables (or enables again) a user (admin).
    fn set_user_disabled(&self, py: Python<'_>, name: String, disabled: bool) -> PyResult<()> {
        call!(py, self.users, |u| async move {
            u.set_disabled(&self.actor, &name, disabled)
                .await
                .map(|_| ())
        })
    }

    /// Sets a new password for a user (admin).
    fn reset_password(&self, py: Python<'_>, name: String, password: String) -> PyResult<()> {
        call!(py, self.users, |u| async move {
            u.reset_password(&self.actor, &name, &password)
                .await
                .map(|_| ())
        })
    }

    /// Removes a user (admin).
    fn remove_user(&self, py: Python<'_>, name: String) -> PyResult<()> {
        call!(py, self.users, |u| async move {
            u.remove(&self.actor, &name).await
        })
    }

    /// Users as ``(name, roles, disabled)`` (admin).
    fn users(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let list = call!(py, self.users, |u| async move { u.list(&self.actor).await })?;
        list.into_iter()
            .map(|u| {
                let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                crate::named::named(py, "UserInfo", (u.name, roles, u.disabled))
            })
            .collect()
    }

    /// Notification deliveries that failed at least once, given-up ones
    /// first, as ``FailedDelivery`` records (admin). ``limit`` is 1 to 1,000.
    #[pyo3(signature = (limit = 100))]
    fn failed_deliveries(&self, py: Python<'_>, limit: usize) -> PyResult<Vec<PyObject>> {
        if !(1..=1000).contains(&limit) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "limit must be 1 to 1000",
            ));
        }
        let list = call!(py, self.requests, |r| async move {
            r.failed_deliveries(&self.actor, limit).await
        })?;
        list.into_iter()
            .map(|d| {
                crate::named::named(
                    py,
                    "FailedDelivery",
                    (
                        d.notifier,
                        d.request.0,
                        d.event.to.as_str(),
                        d.event.summary,
                        d.event.at,
                        d.attempts,
                        d.last_error,
                        d.gave_up,
                        (!d.gave_up).then_some(d.next_at),
                    ),
                )
            })
            .collect()
    }

    /// Changes this user's own password, given the current one.
    fn change_password(&self, py: Python<'_>, old: String, new: String) -> PyResult<()> {
        let name = self.actor.name().to_string();
        call!(py, self.users, |u| async move {
            u.change_password(&name, &old, &new).await
        })
    }

    /// Reads a token's text form (``str(token)``), checking its signature.
    fn parse_token(&self, py: Python<'_>, text: String) -> PyResult<ValidationToken> {
        let inner = call!(py, self.migrations, |m| async move {
            m.parse_token(&text).await
        })?;
        Ok(ValidationToken { inner })
    }

    // ---- requests ----

    /// Creates a request (raises ``ValidationError`` listing every problem).
    fn create_request(&self, py: Python<'_>, spec: &VmSpec) -> PyResult<Request> {
        let (a, spec) = (self.actor.clone(), spec.to_core());
        let r = call!(py, self.requests, |s| s.create(&a, spec))?;
        Ok(Request { inner: r })
    }

    /// Reads a request you may see.
    fn get_request(&self, py: Python<'_>, id: u64) -> PyResult<Request> {
        let a = self.actor.clone();
        Ok(Request {
            inner: call!(py, self.requests, |s| s.get(&a, RequestId(id)))?,
        })
    }

    /// Lists requests (a requester sees only their own), newest first.
    #[pyo3(signature = (states=None, owner=None, created_from=None, created_to=None, offset=0, limit=Some(50)))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python keyword arguments
    fn list_requests(
        &self,
        py: Python<'_>,
        states: Option<Vec<String>>,
        owner: Option<String>,
        created_from: Option<DateTime<Utc>>,
        created_to: Option<DateTime<Utc>>,
        offset: usize,
        limit: Option<usize>,
    ) -> PyResult<RequestPage> {
        let states = states
            .unwrap_or_default()
            .iter()
            .map(|s| parse_state(s))
            .collect::<PyResult<Vec<_>>>()?;
        let q = RequestQuery {
            states,
            owner,
            created_from,
            created_to,
            offset,
            limit,
        };
        let a = self.actor.clone();
        let page = call!(py, self.requests, |s| s.list(&a, &q))?;
        Ok(RequestPage {
            items: page
                .items
                .into_iter()
                .map(|r| Request { inner: r })
                .collect(),
            total: page.total,
            skipped: page.skipped,
        })
    }

    /// Edits your draft: ``save(request, spec)`` (or ``save(id, version, spec)``).
    #[pyo3(signature = (target, *args))]
    fn save(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("save", target, args, 1..=1)?;
        let spec = t.rest[0].extract::<PyRef<'_, VmSpec>>()?.to_core();
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.save(&a, id, version, spec))?,
        })
    }

    /// Submits your draft for approval: ``submit(request)`` (or ``submit(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn submit(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("submit", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.submit(&a, id, version))?,
        })
    }

    /// Cancels your request (while created or requested):
    /// ``cancel(request, reason=None)`` (or ``cancel(id, version, reason=None)``).
    #[pyo3(signature = (target, *args, reason=None))]
    fn cancel(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        reason: Option<String>,
    ) -> PyResult<Request> {
        let t = crate::target::request("cancel", target, args, 0..=1)?;
        let reason = match t.rest.first() {
            Some(r) => Some(r.extract::<String>()?),
            None => reason,
        };
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.cancel(&a, id, version, reason))?,
        })
    }

    /// Reviews with edits (approver): ``review(request, spec)`` (or ``review(id, version, spec)``).
    #[pyo3(signature = (target, *args))]
    fn review(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("review", target, args, 1..=1)?;
        let spec = t.rest[0].extract::<PyRef<'_, VmSpec>>()?.to_core();
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.review(&a, id, version, spec))?,
        })
    }

    /// Rejects, with a reason: ``reject(request, reason)`` (or ``reject(id, version, reason)``).
    #[pyo3(signature = (target, *args))]
    fn reject(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("reject", target, args, 1..=1)?;
        let reason: String = t.rest[0].extract()?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.reject(&a, id, version, &reason))?,
        })
    }

    /// Approves: ``approve(request)`` (or ``approve(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn approve(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("approve", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.approve(&a, id, version))?,
        })
    }

    /// Retries a request in error at its failed step (admin):
    /// ``retry(request)`` (or ``retry(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn retry(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<Request> {
        let t = crate::target::request("retry", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), RequestId(t.id), t.version);
        Ok(Request {
            inner: call!(py, self.requests, |s| s.retry(&a, id, version))?,
        })
    }

    /// Writes the request list to an ``.xlsx`` file; returns the row count.
    #[pyo3(signature = (path, states=None, owner=None))]
    fn export_xlsx(
        &self,
        py: Python<'_>,
        path: String,
        states: Option<Vec<String>>,
        owner: Option<String>,
    ) -> PyResult<usize> {
        let states = states
            .unwrap_or_default()
            .iter()
            .map(|s| parse_state(s))
            .collect::<PyResult<Vec<_>>>()?;
        let q = RequestQuery {
            states,
            owner,
            ..RequestQuery::default()
        };
        let a = self.actor.clone();
        call!(py, self.requests, |s| s.export_xlsx_to_path(
            &a,
            &q,
            std::path::Path::new(&path)
        ))
    }

    // ---- catalog and rate cards ----

    /// The catalog in use.
    fn catalog(&self) -> Catalog {
        Catalog {
            inner: self.requests.catalog(),
        }
    }

    /// Replaces the catalog (admins). New and edited requests are checked
    /// against it; stored requests keep what they were priced with.
    fn set_catalog(&self, catalog: &Catalog) -> PyResult<()> {
        self.requests
            .set_catalog(&self.actor, (*catalog.inner).clone())
            .py()
    }

    /// Reads clusters (their VLANs and storage containers), images, the
    /// environments' projects and which environment categories exist from
    /// the platform into the catalog (admins). Returns what changed: a
    /// dict of name lists (``clusters_added``, ``clusters_removed``,
    /// ``clusters_changed``, ``images_changed``, ``images_removed``,
    /// ``environments_changed``, ``categories_missing``). On failure the
    /// catalog in use stays.
    fn refresh_catalog(&self, py: Python<'_>) -> PyResult<BTreeMap<&'static str, Vec<String>>> {
        let (svc, platform, actor) = (
            self.requests.clone(),
            self.platform.clone(),
            self.actor.clone(),
        );
        let ch = block(py, async move {
            svc.refresh_catalog(&actor, platform.as_ref()).await
        })?
        .py()?;
        Ok(BTreeMap::from([
            ("clusters_added", ch.clusters_added),
            ("clusters_removed", ch.clusters_removed),
            ("clusters_changed", ch.clusters_changed),
            ("images_changed", ch.images_changed),
            ("images_removed", ch.images_removed),
            ("environments_changed", ch.environments_changed),
            ("categories_missing", ch.categories_missing),
        ]))
    }

    /// The rate book in use (every card version).
    fn rate_book(&self) -> RateBook {
        RateBook {
            inner: self.requests.rate_book(),
        }
    }

    /// Replaces the rate book (admins): estimates from now on use its card
    /// in force on the day; stored estimates keep their card version.
    fn set_rate_book(&self, rate_book: &RateBook) -> PyResult<()> {
        self.requests
            .set_rate_book(&self.actor, (*rate_book.inner).clone())
            .py()
    }

    // ---- migration groups ----

    /// Creates an empty group.
    fn create_group(&self, py: Python<'_>, name: String) -> PyResult<MigrationGroup> {
        let (m, a) = (self.migrations.clone(), self.actor.clone());
        group(py, async move { m.create_group(&a, &name).await })
    }

    /// Creates a group with clusters and VMs in one go.
    fn create_group_with_vms(
        &self,
        py: Python<'_>,
        name: String,
        source: String,
        destination: String,
        vms: Vec<String>,
    ) -> PyResult<MigrationGroup> {
        let a = self.actor.clone();
        let g = call!(py, self.migrations, |m| async move {
            let g = m.create_group(&a, &name).await?;
            let edit = g.with_members(&source, &destination, vms);
            m.save(&a, &edit).await
        })?;
        Ok(MigrationGroup { inner: Arc::new(g) })
    }

    /// A group.
    fn group(&self, py: Python<'_>, id: u64) -> PyResult<MigrationGroup> {
        let (m, a) = (self.migrations.clone(), self.actor.clone());
        group(py, async move { m.group(&a, GroupId(id)).await })
    }

    /// The platform's VMs on ``cluster`` whose name contains ``contains``
    /// (any case), by name, at most ``limit`` (operators: to pick VMs for a
    /// group).
    #[pyo3(signature = (cluster, contains=String::new(), limit=100))]
    fn platform_vms(
        &self,
        py: Python<'_>,
        cluster: String,
        contains: String,
        limit: usize,
    ) -> PyResult<Vec<crate::migration::PlatformVm>> {
        let a = self.actor.clone();
        let vms = call!(py, self.migrations, |m| m
            .platform_vms(&a, &cluster, &contains, limit))?;
        Ok(vms.into_iter().map(Into::into).collect())
    }

    /// Groups whose name contains ``name_part``.
    #[pyo3(signature = (name_part=String::new()))]
    fn find_groups(&self, py: Python<'_>, name_part: String) -> PyResult<Vec<MigrationGroup>> {
        let a = self.actor.clone();
        let gs = call!(py, self.migrations, |m| m.find_groups(&a, &name_part))?;
        Ok(gs
            .into_iter()
            .map(|g| MigrationGroup { inner: Arc::new(g) })
            .collect())
    }

    /// Clones a group (default name: ``<name> (return)``).
    #[pyo3(signature = (id, name=None))]
    fn clone_group(
        &self,
        py: Python<'_>,
        id: u64,
        name: Option<String>,
    ) -> PyResult<MigrationGroup> {
        let (m, a) = (self.migrations.clone(), self.actor.clone());
        group(py, async move {
            m.clone_group(&a, GroupId(id), name.as_deref()).await
        })
    }

    /// Renames a group: ``rename_group(group, name)`` (or ``rename_group(id, version, name)``).
    #[pyo3(signature = (target, *args))]
    fn rename_group(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("rename_group", target, args, 1..=1)?;
        let name: String = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(py, async move { m.rename(&a, id, version, &name).await })
    }

    /// Swaps source and destination: ``switch(group)`` (or ``switch(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn switch(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("switch", target, args, 0..=0)?;

        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(py, async move { m.switch(&a, id, version).await })
    }

    /// Sets the source cluster: ``set_source(group, cluster)``.
    #[pyo3(signature = (target, *args))]
    fn set_source(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("set_source", target, args, 1..=1)?;
        let cluster: String = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(
            py,
            async move { m.set_source(&a, id, version, &cluster).await },
        )
    }

    /// Sets the destination cluster: ``set_destination(group, cluster)``.
    #[pyo3(signature = (target, *args))]
    fn set_destination(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("set_destination", target, args, 1..=1)?;
        let cluster: String = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(py, async move {
            m.set_destination(&a, id, version, &cluster).await
        })
    }

    /// Adds a platform VM: ``add_vm(group, vm)``.
    #[pyo3(signature = (target, *args))]
    fn add_vm(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("add_vm", target, args, 1..=1)?;
        let vm: String = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(py, async move { m.add_vm(&a, id, version, &vm).await })
    }

    /// Removes a VM: ``remove_vm(group, vm)``.
    #[pyo3(signature = (target, *args))]
    fn remove_vm(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("remove_vm", target, args, 1..=1)?;
        let vm: String = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(py, async move { m.remove_vm(&a, id, version, &vm).await })
    }

    /// Selects or deselects a VM: ``select(group, vm, selected)``.
    #[pyo3(signature = (target, *args))]
    fn select(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("select", target, args, 2..=2)?;
        let vm: String = t.rest[0].extract()?;
        let selected: bool = t.rest[1].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(
            py,
            async move { m.select(&a, id, version, &vm, selected).await },
        )
    }

    /// Adds platform VMs, all or none: ``add_vms(group, ["vm1", "vm2"])``.
    /// Returns the group's new version; the store writes the VMs named,
    /// not the group, so this is as quick on a million-VM group.
    #[pyo3(signature = (target, *args))]
    fn add_vms(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<u64> {
        self.edit_vms(
            py,
            "add_vms",
            false,
            target,
            args,
            |m, a, id, v, vms, _| async move { m.add_vms(&a, id, v, &vms).await },
        )
    }

    /// Removes VMs, all or none: ``remove_vms(group, ["vm1"])``. Returns
    /// the group's new version.
    #[pyo3(signature = (target, *args))]
    fn remove_vms(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<u64> {
        self.edit_vms(
            py,
            "remove_vms",
            false,
            target,
            args,
            |m, a, id, v, vms, _| async move { m.remove_vms(&a, id, v, &vms).await },
        )
    }

    /// Selects or deselects VMs, all or none: ``select_vms(group, ["vm1"],
    /// False)``. Returns the group's new version.
    #[pyo3(signature = (target, *args))]
    fn select_vms(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<u64> {
        self.edit_vms(
            py,
            "select_vms",
            true,
            target,
            args,
            |m, a, id, v, vms, selected| async move {
                m.select_vms(&a, id, v, &vms, selected.unwrap_or(true))
                    .await
            },
        )
    }

    /// Deletes a group: ``delete_group(group)`` (or ``delete_group(id, version)``).
    #[pyo3(signature = (target, *args))]
    fn delete_group(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<()> {
        let t = crate::target::group("delete_group", target, args, 0..=0)?;
        let (a, id, version) = (self.actor.clone(), GroupId(t.id), t.version);
        call!(py, self.migrations, |m| m.delete_group(&a, id, version))
    }

    // ---- facts, validation, migration ----

    /// Reads the platform (batched) and returns the group's facts.
    fn refresh(&self, py: Python<'_>, id: u64) -> PyResult<Facts> {
        let a = self.actor.clone();
        Ok(Facts {
            inner: call!(py, self.migrations, |m| m.refresh(&a, GroupId(id)))?,
        })
    }

    /// The facts held for a group (from the last refresh), without reading
    /// the platform; ``NotFoundError`` before the first refresh.
    fn facts(&self, id: u64) -> PyResult<Facts> {
        let f = self.migrations.facts(&self.actor, GroupId(id)).py()?;
        Ok(Facts { inner: f.snapshot })
    }

    /// Validates the group as it stands against its current facts.
    fn validate(&self, py: Python<'_>, id: u64) -> PyResult<ValidationReport> {
        let a = self.actor.clone();
        let (g, f, r) = call!(py, self.migrations, |m| m.validate(&a, GroupId(id)))?;
        Ok(ValidationReport {
            group: g,
            facts: f,
            inner: r,
        })
    }

    /// Validates only the VMs that failed in run ``run_id``.
    fn validate_failed(&self, py: Python<'_>, run_id: u64) -> PyResult<ValidationReport> {
        let a = self.actor.clone();
        let (g, f, r) = call!(py, self.migrations, |m| m
            .validate_failed(&a, RunId(run_id)))?;
        Ok(ValidationReport {
            group: g,
            facts: f,
            inner: r,
        })
    }

    /// Starts a migration; iterate the result for progress, then ``wait()``.
    fn start_migration(&self, py: Python<'_>, token: &ValidationToken) -> PyResult<MigrationRun> {
        let (a, t) = (self.actor.clone(), token.inner.clone());
        let h = call!(py, self.migrations, |m| m.migrate(&a, &t))?;
        Ok(MigrationRun::new(h))
    }

    /// Migrates and returns the report, calling ``on_event(event)`` for
    /// each progress event if given.
    #[pyo3(signature = (token, on_event=None))]
    fn migrate(
        &self,
        py: Python<'_>,
        token: &ValidationToken,
        on_event: Option<PyObject>,
    ) -> PyResult<MigrationReport> {
        let run = self.start_migration(py, token)?;
        loop {
            match run.__next__(py) {
                Ok(event) => {
                    if let Some(cb) = &on_event {
                        cb.call1(py, (event,))?;
                    }
                }
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => break,
                Err(e) => return Err(e),
            }
        }
        run.wait(py)
    }

    /// A stored report.
    fn report(&self, py: Python<'_>, run_id: u64) -> PyResult<MigrationReport> {
        let a = self.actor.clone();
        Ok(MigrationReport {
            inner: call!(py, self.migrations, |m| m.report(&a, RunId(run_id)))?,
        })
    }

    /// Asks run ``run_id`` to stop, whichever process runs it (it reads the
    /// request before starting each protection group); what it did not
    /// move is reported skipped. A run that has ended is refused.
    fn cancel_run(&self, py: Python<'_>, run_id: u64) -> PyResult<()> {
        let a = self.actor.clone();
        call!(py, self.migrations, |m| m.cancel(&a, RunId(run_id)))
    }

    /// A group's reports, newest first.
    fn reports(&self, py: Python<'_>, group_id: u64) -> PyResult<Vec<MigrationReport>> {
        let a = self.actor.clone();
        let rs = call!(py, self.migrations, |m| m.reports(&a, GroupId(group_id)))?;
        Ok(rs
            .into_iter()
            .map(|r| MigrationReport { inner: r })
            .collect())
    }
}

impl Session {
    /// The shared part of the bulk VM edits: `(group, names)` or
    /// `(id, version, names)`, plus `selected` when `with_flag`; returns the
    /// new version.
    #[allow(clippy::too_many_arguments)]
    fn edit_vms<F, Fut>(
        &self,
        py: Python<'_>,
        what: &str,
        with_flag: bool,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        edit: F,
    ) -> PyResult<u64>
    where
        F: FnOnce(
            Arc<butler_core::migration::MigrationService>,
            butler_core::auth::Actor,
            GroupId,
            u64,
            Vec<String>,
            Option<bool>,
        ) -> Fut,
        Fut: std::future::Future<
                Output = Result<butler_core::migration::GroupVmsEdited, butler_core::ButlerError>,
            > + Send,
    {
        let arity = if with_flag { 2..=2 } else { 1..=1 };
        let t = crate::target::group(what, target, args, arity)?;
        let vms: Vec<String> = t.rest[0].extract()?;
        let selected: Option<bool> = if with_flag {
            Some(t.rest[1].extract()?)
        } else {
            None
        };
        let fut = edit(
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
            vms,
            selected,
        );
        Ok(block(py, fut)?.py()?.version)
    }
}

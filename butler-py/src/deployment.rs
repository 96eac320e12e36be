//! `Butler`: the constructors (the demo on the simulator, a deployment
//! file) and their options, and the sessions they hand out.

use crate::block;
use crate::catalog::{Catalog, RateBook};
use crate::convert::trusted_actor;
use crate::errors::{IntoPyResult, InvalidInput};
use crate::session::Session;
use crate::simulator::Simulator;
use butler_core::auth::{Actor, Policy};
use butler_core::backend::ClusterBackend;
use butler_core::engine::Engine;
use butler_core::migration::MigrationService;
use butler_core::service::RequestService;
use butler_core::users::UserService;
use butler_sim::SimPlatform;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Butler>()?;
    m.add_class::<crate::session::Session>()?;
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
    vms: Arc<butler_core::inventory::VmService>,
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
    /// ``seed`` fixes the simulator's random choices;
    /// ``retirement_grace_days`` keeps retired VMs powered off, restorable
    /// (``session.restore_vm``), that many days before deleting them.
    #[staticmethod]
    #[pyo3(signature = (db_path=None, seed=0, catalog=None, rate_book=None, *, postgres_url_env=None, four_eyes=true, on_event=None, retirement_grace_days=0))]
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
        retirement_grace_days: u32,
    ) -> PyResult<Self> {
        if retirement_grace_days > 365 {
            return Err(InvalidInput::new_err(
                "retirement_grace_days must be 0 to 365",
            ));
        }
        let engine = butler_core::engine::EngineConfig {
            retirement_grace: std::time::Duration::from_secs(
                u64::from(retirement_grace_days) * 86_400,
            ),
            ..butler_core::engine::EngineConfig::default()
        };
        let mut b = butler::Butler::builder()
            .seed(seed)
            .engine_config(engine)
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
        let options = DeploymentOptions {
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
        };
        Self::from_config(py, config, options)
    }

    /// The same as ``Butler(config, ...)`` (kept for scripts written
    /// against the first Python API).
    #[staticmethod]
    #[pyo3(signature = (config_path, *args, **kwargs))]
    fn nutanix(
        py: Python<'_>,
        config_path: Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<Butler>> {
        let all: Vec<Bound<'_, PyAny>> = std::iter::once(config_path).chain(args.iter()).collect();
        let all = PyTuple::new(py, all)?;
        py.get_type::<Butler>().call(all, kwargs)?.extract()
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
    fn from_config(py: Python<'_>, config: &str, options: DeploymentOptions<'_>) -> PyResult<Self> {
        let DeploymentOptions {
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
        } = options;
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
            vms: b.vms().clone(),
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
            vms: self.vms.clone(),
            platform: self.platform.clone(),
            billing: self.engine.as_ref().map(|e| e.billing()),
        }
    }
}

/// The keyword arguments of ``Butler(config, ...)`` (see its docs).
struct DeploymentOptions<'a> {
    db_path: Option<&'a str>,
    catalog: Option<&'a Catalog>,
    rate_book: Option<&'a RateBook>,
    postgres_url_env: Option<&'a str>,
    monitoring: bool,
    billing: bool,
    demo_catalog: bool,
    project_map: Option<BTreeMap<String, BTreeMap<String, String>>>,
    recreate_schedules: Option<Vec<(String, u32, u32)>>,
    max_parallel: Option<usize>,
    deadline_seconds: Option<f64>,
    four_eyes: bool,
    on_event: Option<Py<PyAny>>,
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

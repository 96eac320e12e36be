//! Facts, validation, migration runs and their reports.

use super::Session;
use crate::block;
use crate::errors::IntoPyResult;
use crate::migration::{
    Facts, MigrationReport, MigrationRun, RunWatch, ValidationReport, ValidationToken,
};
use butler_core::migration::{GroupId, RunId};
use pyo3::prelude::*;

#[pymethods]
impl Session {
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
    /// A run that would power VMs off (the group's ``power_off``) needs
    /// ``confirm_power_off=True``; without it ``MigrationRefusedError``.
    #[pyo3(signature = (token, confirm_power_off=false))]
    fn start_migration(
        &self,
        py: Python<'_>,
        token: &ValidationToken,
        confirm_power_off: bool,
    ) -> PyResult<MigrationRun> {
        let (a, t) = (self.actor.clone(), token.inner.clone());
        let confirmed = butler_core::migration::Confirmations {
            power_off: confirm_power_off,
        };
        let h = call!(py, self.migrations, |m| m.migrate_with(&a, &t, confirmed))?;
        Ok(MigrationRun::new(h))
    }

    /// Migrates and returns the report, calling ``on_event(event)`` for
    /// each progress event if given (``confirm_power_off`` as for
    /// ``start_migration``).
    #[pyo3(signature = (token, on_event=None, confirm_power_off=false))]
    fn migrate(
        &self,
        py: Python<'_>,
        token: &ValidationToken,
        on_event: Option<PyObject>,
        confirm_power_off: bool,
    ) -> PyResult<MigrationReport> {
        let run = self.start_migration(py, token, confirm_power_off)?;
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

    /// Follows run ``run_id`` through the store, whichever process runs
    /// it (this one, another script, a server): iterate for each finished
    /// VM's line, once, as it is stored (the store is read every
    /// ``poll_seconds``); ``report`` holds the stored report after the end.
    #[pyo3(signature = (run_id, poll_seconds=2.0))]
    fn watch_run(&self, py: Python<'_>, run_id: u64, poll_seconds: f64) -> PyResult<RunWatch> {
        if !poll_seconds.is_finite() || !(0.01..=3600.0).contains(&poll_seconds) {
            return Err(crate::errors::InvalidInput::new_err(
                "poll_seconds must be between 0.01 and 3600",
            ));
        }
        let (a, poll) = (
            self.actor.clone(),
            std::time::Duration::from_secs_f64(poll_seconds),
        );
        let w = call!(py, self.migrations, |m| m.watch(&a, RunId(run_id), poll))?;
        Ok(RunWatch::new(w))
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

//! Approval rules: the book in force, its versions, an Admin's change, and
//! a requester's dry run. Rules and explanations come as plain dicts (the
//! library's JSON forms, described in its rustdoc).

use super::Session;
use crate::block;
use crate::catalog::VmSpec;
use crate::convert::as_python;
use crate::errors::IntoPyResult;
use butler_core::request::RequestId;
use butler_core::rules::Rules;
use pyo3::prelude::*;

#[pymethods]
impl Session {
    /// The approval rules in force, as a dict: ``version`` (0: no rules),
    /// ``rules``, ``changed_by``, ``changed_at``.
    fn rules(&self, py: Python<'_>) -> PyResult<PyObject> {
        let book = call!(py, self.requests, |s| s.rules())?;
        as_python(py, &*book)
    }

    /// Every version of the rules since the service started, oldest first.
    fn rule_history(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let books = call!(py, self.requests, |s| s.rule_history())?;
        books.iter().map(|b| as_python(py, b)).collect()
    }

    /// Replaces the approval rules (admins) from their TOML form
    /// (``[[rule]]`` tables) and returns the new version. A book with a
    /// problem raises ``InvalidInputError`` naming the rule, and the rules in
    /// force stay.
    fn set_rules(&self, py: Python<'_>, toml: &str) -> PyResult<u32> {
        let rules = Rules::parse(toml).py()?;
        let a = self.actor.clone();
        Ok(call!(py, self.requests, |s| s.set_rules(&a, rules))?.version)
    }

    /// What the rules decide for your request ``id`` if you submit it now,
    /// and why: a dict with ``decision`` (``outcome``, ``book_version``,
    /// ``rules``) and ``rules`` (each rule's conditions, checked). Nothing
    /// changes.
    fn dry_run(&self, py: Python<'_>, id: u64) -> PyResult<PyObject> {
        let a = self.actor.clone();
        let e = call!(py, self.requests, |s| s.dry_run(&a, RequestId(id)))?;
        as_python(py, &e)
    }

    /// What the rules decide for a new VM of ``spec`` asked by you, and
    /// why (the form's dry run; nothing is saved).
    fn dry_run_spec(&self, py: Python<'_>, spec: &VmSpec) -> PyResult<PyObject> {
        let (a, spec) = (self.actor.clone(), spec.to_core());
        let e = call!(py, self.requests, |s| s.dry_run_spec(&a, &spec))?;
        as_python(py, &e)
    }

    /// The requests waiting for your approval now (up to ``limit``, 1 to
    /// 10,000): submitted or reviewed, not your own, at a level you
    /// approve at that you have not approved at before.
    #[pyo3(signature = (limit = 100))]
    fn approval_queue(
        &self,
        py: Python<'_>,
        limit: usize,
    ) -> PyResult<Vec<crate::requests::Request>> {
        let a = self.actor.clone();
        let list = call!(py, self.requests, |s| s.approval_queue(&a, limit))?;
        Ok(list
            .into_iter()
            .map(|r| crate::requests::Request { inner: r })
            .collect())
    }

    /// Every quota scope with its limits and what it holds now, as dicts:
    /// ``scope`` (``kind``: ``"division"``, ``"unit"`` or ``"requester"``;
    /// ``name``), ``limits`` and ``used`` (``vcpus``, ``ram_gib``,
    /// ``storage_gib``, ``vms``, ``monthly_cost`` as a decimal string;
    /// a limit left out is no limit). Approvers, Viewers and Admins see
    /// every requester; others their own.
    fn quotas(&self, py: Python<'_>) -> PyResult<PyObject> {
        let a = self.actor.clone();
        let lines = call!(py, self.requests, |s| s.quota_usage(&a))?;
        as_python(py, &lines)
    }

    /// What your request ``id`` holds (a draft: if submitted now) and what
    /// it would leave: a dict with ``share`` and ``lines`` (its division's,
    /// unit's and requester's quota lines, each with ``with_request``).
    fn quota_preview(&self, py: Python<'_>, id: u64) -> PyResult<PyObject> {
        let a = self.actor.clone();
        let p = call!(py, self.requests, |s| s.quota_preview(&a, RequestId(id)))?;
        as_python(py, &p)
    }

    /// :meth:`quota_preview` for a new VM of ``spec`` asked by you (the
    /// form's preview; nothing is saved).
    fn quota_preview_spec(&self, py: Python<'_>, spec: &VmSpec) -> PyResult<PyObject> {
        let (a, spec) = (self.actor.clone(), spec.to_core());
        let p = call!(py, self.requests, |s| s.quota_preview_spec(&a, spec))?;
        as_python(py, &p)
    }

    /// Counts every quota hold again from the requests and the inventory
    /// (an Admin); returns how many holds there are.
    fn recount_quotas(&self, py: Python<'_>) -> PyResult<usize> {
        let a = self.actor.clone();
        call!(py, self.requests, |s| s.recount_quotas(&a))
    }

    /// What the VMs you see cost from ``from_month`` to ``to_month``
    /// (``"2026-03"``; the first month when omitted), beside their
    /// requests' estimates: a ``Showback`` (``.actual``, ``.as_dict()``,
    /// ``.to_csv()``, ``.to_arrow()``). Approvers, viewers and admins see
    /// every VM, others their own; closed months read as they were closed.
    #[pyo3(signature = (from_month, to_month=None))]
    fn showback(
        &self,
        py: Python<'_>,
        from_month: &str,
        to_month: Option<&str>,
    ) -> PyResult<crate::showback::Showback> {
        let from = month(from_month)?;
        let to = to_month.map(month).transpose()?.unwrap_or(from);
        let a = self.actor.clone();
        let inner = call!(py, self.requests, |s| s.showback(&a, from, to))?;
        Ok(crate::showback::Showback { inner })
    }

    /// Closes ``month`` (admins): its figures are kept as priced now and
    /// never change after. Returns the closed month as a dict; a month not
    /// ended raises ``InvalidInputError``, one closed already
    /// ``ConflictError``.
    fn close_month(&self, py: Python<'_>, month: &str) -> PyResult<PyObject> {
        let m = self::month(month)?;
        let a = self.actor.clone();
        let closed = call!(py, self.requests, |s| s.close_month(&a, m))?;
        as_python(py, &closed)
    }

    /// The closed months, oldest first, with their totals over every VM
    /// (approvers, viewers, admins), as dicts.
    fn closed_months(&self, py: Python<'_>) -> PyResult<Vec<PyObject>> {
        let a = self.actor.clone();
        let months = call!(py, self.requests, |s| s.closed_months(&a))?;
        months.iter().map(|m| as_python(py, m)).collect()
    }

    /// ``month``'s showback of every VM beside what the billing system
    /// charged for it (approvers, viewers, admins), as a dict: ``lines``
    /// (``vm_name``, ``butler``, ``billed``, ``difference``, ``flagged``),
    /// the totals and how many lines are ``flagged`` (differing by more
    /// than ``tolerance``, default ``"0.01"``, or on one side only). A
    /// billing system that does not report charges raises
    /// ``UnsupportedError``.
    #[pyo3(signature = (month, tolerance=None))]
    fn compare_with_billing(
        &self,
        py: Python<'_>,
        month: &str,
        tolerance: Option<&str>,
    ) -> PyResult<PyObject> {
        let m = self::month(month)?;
        let tolerance = tolerance
            .map(butler_core::showback::parse_tolerance)
            .transpose()
            .map_err(crate::errors::InvalidInput::new_err)?;
        let Some(billing) = self.billing.clone() else {
            return Err(crate::errors::Unsupported::new_err(
                "this Butler has no billing backend",
            ));
        };
        let a = self.actor.clone();
        let c = call!(py, self.requests, |s| s
            .compare_with_billing(&a, m, billing, tolerance))?;
        as_python(py, &c)
    }
}

/// A month from its ``YYYY-MM`` text, or ``InvalidInputError`` naming it.
fn month(text: &str) -> PyResult<butler_core::showback::Month> {
    text.parse().map_err(|e: butler_core::showback::BadMonth| {
        crate::errors::InvalidInput::new_err(e.to_string())
    })
}

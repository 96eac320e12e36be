//! Users, notifications and the catalog and rate cards (admin work).

use super::Session;
use crate::block;
use crate::catalog::{Catalog, RateBook};
use crate::convert::roles;
use crate::errors::IntoPyResult;
use crate::migration::ValidationToken;
use pyo3::prelude::*;
use std::collections::BTreeMap;

#[pymethods]
impl Session {
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
}

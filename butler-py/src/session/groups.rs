//! Migration groups: create, edit, clone, switch, delete.

use super::Session;
use crate::block;
use crate::errors::IntoPyResult;
use crate::migration::MigrationGroup;
use butler_core::migration::GroupId;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Arc;

#[pymethods]
impl Session {
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

    /// Has Butler power the group's running VMs off before migrating them
    /// and on again at the destination (``True``), or not:
    /// ``set_power_off(group, True)`` (or ``set_power_off(id, version, True)``).
    #[pyo3(signature = (target, *args))]
    fn set_power_off(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("set_power_off", target, args, 1..=1)?;
        let on: bool = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(
            py,
            async move { m.set_power_off(&a, id, version, on).await },
        )
    }

    /// Has the group's running VMs move while they run (``True``: live
    /// migration, vMotion, where the platform makes live moves; validation
    /// says when it does not), or cold: ``set_live(group, True)`` (or
    /// ``set_live(id, version, True)``).
    #[pyo3(signature = (target, *args))]
    fn set_live(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<MigrationGroup> {
        let t = crate::target::group("set_live", target, args, 1..=1)?;
        let live: bool = t.rest[0].extract()?;
        let (m, a, id, version) = (
            self.migrations.clone(),
            self.actor.clone(),
            GroupId(t.id),
            t.version,
        );
        group(py, async move { m.set_live(&a, id, version, live).await })
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
        group(py, async move {
            let e = m.add_vm(&a, id, version, &vm).await?;
            m.group(&a, e.id).await
        })
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
        group(py, async move {
            let e = m.remove_vm(&a, id, version, &vm).await?;
            m.group(&a, e.id).await
        })
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
        group(py, async move {
            let e = m.select(&a, id, version, &vm, selected).await?;
            m.group(&a, e.id).await
        })
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

/// Runs a migration-group operation and wraps its result.
pub(super) fn group<F>(py: Python<'_>, fut: F) -> PyResult<MigrationGroup>
where
    F: std::future::Future<
            Output = Result<butler_core::migration::MigrationGroup, butler_core::ButlerError>,
        > + Send,
{
    Ok(MigrationGroup {
        inner: Arc::new(block(py, fut)?.py()?),
    })
}

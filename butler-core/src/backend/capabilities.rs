//! What a platform can do beyond the core every [`ClusterBackend`]
//! offers (inventory, creating VMs, tasks). Callers ask before they use an
//! optional feature; a backend asked for one it lacks answers
//! [`ErrorKind::Unsupported`], never an empty value that reads like "none".
//!
//! [`ClusterBackend`]: super::ClusterBackend
//! [`ErrorKind::Unsupported`]: super::ErrorKind::Unsupported

use serde::{Deserialize, Serialize};
use std::fmt;

/// One optional feature of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// Protection groups: `list_protection_groups`, `protect_vm`.
    Protection,
    /// Moving a protection group to another site: `migrate_protection_group`.
    Migration,
    /// Moving a VM between projects: `set_vm_project`.
    ProjectRemap,
    /// Storage containers: `list_storage_containers`.
    StorageContainers,
    /// Categories: `category_values`.
    Categories,
    /// Waiting on the platform for a task to end: `wait_task` long-polls.
    TaskLongPoll,
    /// Powering VMs on, off and restarting them: `set_power`.
    Power,
    /// Deleting VMs: `delete_vm` (the decommission flow).
    Delete,
    /// Changing a VM's CPU, RAM, disks and NICs: `reconfigure_vm`.
    Reconfigure,
    /// A create repeated with the same [`VmCreate::request_id`] answers
    /// the first create's task and makes no second VM (Prism Central v4's
    /// `NTNX-Request-Id`). Without it, a repeat is recognised only by the
    /// name look-up before the create.
    ///
    /// [`VmCreate::request_id`]: super::VmCreate::request_id
    IdempotentCreate,
    /// Moving one VM to another cluster: `migrate_vm` (cold, or live where
    /// asked) and `check_vm_migration`, the platform's own verdict on a
    /// move before it is made (vMotion, AHV cross-cluster migration).
    VmMigration,
    /// Moving a running VM to another cluster while it runs:
    /// `migrate_vm` with [`VmMove::live`] (vMotion, AHV live migration).
    /// Without it a VM moves only when off.
    ///
    /// [`VmMove::live`]: super::VmMove::live
    LiveMigration,
}

impl Capability {
    /// Every capability, in order.
    pub const ALL: [Capability; 12] = [
        Capability::Protection,
        Capability::Migration,
        Capability::ProjectRemap,
        Capability::StorageContainers,
        Capability::Categories,
        Capability::TaskLongPoll,
        Capability::Power,
        Capability::Delete,
        Capability::Reconfigure,
        Capability::IdempotentCreate,
        Capability::VmMigration,
        Capability::LiveMigration,
    ];

    /// Its name (`storage_containers`).
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Protection => "protection",
            Capability::Migration => "migration",
            Capability::ProjectRemap => "project_remap",
            Capability::StorageContainers => "storage_containers",
            Capability::Categories => "categories",
            Capability::TaskLongPoll => "task_long_poll",
            Capability::Power => "power",
            Capability::Delete => "delete",
            Capability::Reconfigure => "reconfigure",
            Capability::IdempotentCreate => "idempotent_create",
            Capability::VmMigration => "vm_migration",
            Capability::LiveMigration => "live_migration",
        }
    }

    /// The capability named `name` ([`as_str`](Self::as_str)), if any.
    ///
    /// ```
    /// use butler_core::backend::Capability;
    /// assert_eq!(Capability::from_name("migration"), Some(Capability::Migration));
    /// assert_eq!(Capability::from_name("teleport"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of optional features a platform has.
///
/// ```
/// use butler_core::backend::{Capabilities, Capability};
/// let c = Capabilities::none().with(Capability::Protection);
/// assert!(c.has(Capability::Protection) && !c.has(Capability::Categories));
/// assert_eq!(Capabilities::all().without(Capability::Categories).iter().count(), 11);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// None of them.
    pub const fn none() -> Self {
        Capabilities(0)
    }

    /// Every one.
    pub fn all() -> Self {
        Capability::ALL.into_iter().fold(Self::none(), Self::with)
    }

    /// This set and `c`.
    pub fn with(self, c: Capability) -> Self {
        Capabilities(self.0 | c.bit())
    }

    /// This set without `c`.
    pub fn without(self, c: Capability) -> Self {
        Capabilities(self.0 & !c.bit())
    }

    /// Whether `c` is in the set.
    pub fn has(self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    /// The capabilities in the set, in order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter().fold(Self::none(), Self::with)
    }
}

//! Migration groups (SPEC §7): plain data and pure edits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A group's id, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub u64);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "g{}", self.0)
    }
}

/// A VM of a group and whether it is selected for migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVm {
    /// The VM's platform name.
    pub name: String,
    /// Selected for migration.
    pub selected: bool,
}

/// A migration group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationGroup {
    /// Id.
    pub id: GroupId,
    /// Unique name.
    pub name: String,
    /// Source cluster (unset on a new group).
    pub source: Option<String>,
    /// Destination cluster (unset on a new group; never equal to the source).
    pub destination: Option<String>,
    /// VMs, in the order added.
    pub vms: Vec<GroupVm>,
    /// Whether Butler powers the selected VMs that run off before
    /// migrating them, and on again at the destination once verified
    /// (their owners are told; the Operator starting the run confirms).
    /// Unset, a VM that runs is a validation error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub power_off: bool,
    /// Whether the selected VMs that run move while they run (vMotion,
    /// live migration), on a platform that moves VMs one by one and live
    /// ([`Capability::LiveMigration`]); they are then neither powered off
    /// nor an error for running. Unset, a move is cold.
    ///
    /// [`Capability::LiveMigration`]: crate::backend::Capability::LiveMigration
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// Optimistic-concurrency version.
    pub version: u64,
    /// Last changed by.
    pub updated_by: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Why an edit of a group was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Names must be 1–80 printable characters, not blank, with no
    /// invisible or bidirectional characters.
    #[error("group name {0:?} is invalid: use 1 to {MAX_GROUP_NAME_CHARS} visible characters, not only spaces")]
    InvalidName(String),
    /// Source and destination would be equal.
    #[error("source and destination must differ (both {0:?})")]
    SameClusters(String),
    /// The VM is already in the group.
    #[error("VM {0:?} is already in the group")]
    DuplicateVm(String),
    /// The VM is not in the group.
    #[error("VM {0:?} is not in the group")]
    UnknownVm(String),
    /// A VM name is empty, too long or holds control, invisible or
    /// bidirectional characters.
    #[error("VM name {0:?} is invalid: use 1 to {MAX_VM_NAME_CHARS} characters without control, invisible or bidirectional characters")]
    InvalidVmName(String),
    /// The group would hold more than [`MAX_GROUP_VMS`](crate::limits::MAX_GROUP_VMS) VMs.
    #[error("a group holds at most {max} VMs ({0} given)", max = crate::limits::MAX_GROUP_VMS)]
    TooManyVms(usize),
}

impl MigrationGroup {
    /// A new, empty group.
    pub fn new(
        id: GroupId,
        name: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<MigrationGroup, GroupError> {
        Ok(MigrationGroup {
            id,
            name: check_name(name)?,
            source: None,
            destination: None,
            vms: Vec::new(),
            power_off: false,
            live: false,
            version: 1,
            updated_by: by.to_string(),
            updated_at: at,
        })
    }

    /// The name suggested for a clone: `<name> (return)` when the clone is
    /// meant to bring the VMs back, which is the typical use.
    pub fn suggested_clone_name(&self) -> String {
        format!("{} (return)", self.name)
    }

    /// A copy under `id` and `name` with the same clusters and VMs.
    pub fn clone_as(
        &self,
        id: GroupId,
        name: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<MigrationGroup, GroupError> {
        Ok(MigrationGroup {
            id,
            name: check_name(name)?,
            version: 1,
            updated_by: by.to_string(),
            updated_at: at,
            ..self.clone()
        })
    }

    /// Renames.
    pub fn rename(&mut self, name: &str) -> Result<(), GroupError> {
        self.name = check_name(name)?;
        Ok(())
    }

    /// Asks Butler to power the selected VMs off before migrating them and
    /// on again at the destination (`true`), or not (`false`: running VMs
    /// are a validation error).
    pub fn set_power_off(&mut self, power_off: bool) {
        self.power_off = power_off;
    }

    /// Asks for the selected VMs that run to move while they run (`true`),
    /// or cold (`false`).
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
    }

    /// Swaps source and destination.
    pub fn switch(&mut self) {
        std::mem::swap(&mut self.source, &mut self.destination);
    }

    /// Sets the source.
    pub fn set_source(&mut self, cluster: &str) -> Result<(), GroupError> {
        if self.destination.as_deref() == Some(cluster) {
            return Err(GroupError::SameClusters(cluster.to_string()));
        }
        self.source = Some(cluster.to_string());
        Ok(())
    }

    /// Sets the destination.
    pub fn set_destination(&mut self, cluster: &str) -> Result<(), GroupError> {
        if self.source.as_deref() == Some(cluster) {
            return Err(GroupError::SameClusters(cluster.to_string()));
        }
        self.destination = Some(cluster.to_string());
        Ok(())
    }

    /// Adds a VM, selected (as the original did).
    pub fn add_vm(&mut self, name: &str) -> Result<(), GroupError> {
        check_vm_name(name)?;
        if self.vms.len() >= crate::limits::MAX_GROUP_VMS {
            return Err(GroupError::TooManyVms(self.vms.len() + 1));
        }
        if self.vms.iter().any(|v| v.name == name) {
            return Err(GroupError::DuplicateVm(name.to_string()));
        }
        self.vms.push(GroupVm {
            name: name.to_string(),
            selected: true,
        });
        Ok(())
    }

    /// Removes a VM.
    pub fn remove_vm(&mut self, name: &str) -> Result<(), GroupError> {
        let before = self.vms.len();
        self.vms.retain(|v| v.name != name);
        if self.vms.len() == before {
            return Err(GroupError::UnknownVm(name.to_string()));
        }
        Ok(())
    }

    /// Selects or deselects a VM.
    pub fn select(&mut self, name: &str, selected: bool) -> Result<(), GroupError> {
        let vm = self
            .vms
            .iter_mut()
            .find(|v| v.name == name)
            .ok_or_else(|| GroupError::UnknownVm(name.to_string()))?;
        vm.selected = selected;
        Ok(())
    }

    /// This group with `source`, `destination` and `vms` (all selected), to
    /// hand whole to `MigrationService::save`, which checks it.
    pub fn with_members(
        mut self,
        source: &str,
        destination: &str,
        vms: impl IntoIterator<Item = String>,
    ) -> MigrationGroup {
        self.source = Some(source.to_string());
        self.destination = Some(destination.to_string());
        self.vms = vms
            .into_iter()
            .map(|name| GroupVm {
                name,
                selected: true,
            })
            .collect();
        self
    }

    /// The selected VMs' names.
    pub fn selected(&self) -> impl Iterator<Item = &str> {
        self.vms
            .iter()
            .filter(|v| v.selected)
            .map(|v| v.name.as_str())
    }
}

/// A change to a group's VM list that a store applies in place
/// (the group store's `change_group_vms`): on a
/// million-VM group an edit writes the VMs it names, not the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupVmsEdit {
    /// Add these VMs, selected, after the others.
    Add(Vec<String>),
    /// Remove these VMs.
    Remove(Vec<String>),
    /// Select (or deselect) these VMs.
    Select {
        /// The VMs.
        vms: Vec<String>,
        /// Selected for migration or not.
        selected: bool,
    },
}

impl GroupVmsEdit {
    /// The VMs it names.
    pub fn vms(&self) -> &[String] {
        match self {
            GroupVmsEdit::Add(v)
            | GroupVmsEdit::Remove(v)
            | GroupVmsEdit::Select { vms: v, .. } => v,
        }
    }

    /// Checks what can be checked without the group: valid names, no name
    /// twice, an addition within [`MAX_GROUP_VMS`](crate::limits::MAX_GROUP_VMS).
    pub fn check(&self) -> Result<(), GroupError> {
        let vms = self.vms();
        if vms.len() > crate::limits::MAX_GROUP_VMS {
            return Err(GroupError::TooManyVms(vms.len()));
        }
        let mut seen = std::collections::HashSet::with_capacity(vms.len());
        for v in vms {
            check_vm_name(v)?;
            if !seen.insert(v.as_str()) {
                return Err(GroupError::DuplicateVm(v.clone()));
            }
        }
        Ok(())
    }
}

/// What a VM-list edit left: the group's new version and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVmsEdited {
    /// The group.
    pub id: GroupId,
    /// Its version after the edit (pass it to the next edit).
    pub version: u64,
    /// How many VMs it holds now.
    pub vms: usize,
}

impl MigrationGroup {
    /// Applies `edit`: all of it, or nothing when a VM is refused (already
    /// in the group for an addition, not in it otherwise). Does not touch
    /// the version; the caller stamps the edit.
    pub fn apply_vms_edit(&mut self, edit: &GroupVmsEdit) -> Result<(), GroupError> {
        edit.check()?;
        let index: std::collections::HashMap<&str, usize> = self
            .vms
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        match edit {
            GroupVmsEdit::Add(vms) => {
                if let Some(dup) = vms.iter().find(|v| index.contains_key(v.as_str())) {
                    return Err(GroupError::DuplicateVm(dup.clone()));
                }
                let total = self.vms.len() + vms.len();
                if total > crate::limits::MAX_GROUP_VMS {
                    return Err(GroupError::TooManyVms(total));
                }
                self.vms.extend(vms.iter().map(|name| GroupVm {
                    name: name.clone(),
                    selected: true,
                }));
            }
            GroupVmsEdit::Remove(vms) | GroupVmsEdit::Select { vms, .. } => {
                let mut at = Vec::with_capacity(vms.len());
                for v in vms {
                    at.push(
                        *index
                            .get(v.as_str())
                            .ok_or_else(|| GroupError::UnknownVm(v.clone()))?,
                    );
                }
                if let GroupVmsEdit::Select { selected, .. } = edit {
                    for i in at {
                        self.vms[i].selected = *selected;
                    }
                } else {
                    let gone: std::collections::HashSet<usize> = at.into_iter().collect();
                    let mut i = 0;
                    self.vms.retain(|_| {
                        i += 1;
                        !gone.contains(&(i - 1))
                    });
                }
            }
        }
        Ok(())
    }

    /// This group without its VM list: what stores keep beside the rows.
    pub fn header(&self) -> MigrationGroup {
        MigrationGroup {
            id: self.id,
            name: self.name.clone(),
            source: self.source.clone(),
            destination: self.destination.clone(),
            vms: Vec::new(),
            power_off: self.power_off,
            live: self.live,
            version: self.version,
            updated_by: self.updated_by.clone(),
            updated_at: self.updated_at,
        }
    }
}

pub use crate::limits::{MAX_GROUP_NAME_CHARS, MAX_VM_NAME_CHARS};

/// A VM name as a group may hold it: 1 to 255 characters, no control
/// characters (NUL included), not only spaces. Echoed back truncated.
pub fn check_vm_name(name: &str) -> Result<(), GroupError> {
    // Invisible and bidirectional characters make two names look alike
    // (a right-to-left override shows `vm-gpj.exe` as `vm-exe.jpg`).
    let bad = name.trim().is_empty()
        || name
            .chars()
            .any(|c| c.is_control() || crate::auth::names::is_invisible(c))
        || name.chars().nth(MAX_VM_NAME_CHARS).is_some();
    if bad {
        let shown: String = name.chars().take(crate::limits::ECHO_CHARS).collect();
        return Err(GroupError::InvalidVmName(shown));
    }
    Ok(())
}

/// A group name as stored: NFC, trimmed, 1–80 characters, no control,
/// invisible or bidirectional characters (two names must never look alike
/// and differ). Uniqueness ignores case: see [`name_key`].
fn check_name(name: &str) -> Result<String, GroupError> {
    use unicode_normalization::UnicodeNormalization;
    let shown = || GroupError::InvalidName(name.chars().take(MAX_GROUP_NAME_CHARS).collect());
    if name.chars().nth(4 * MAX_GROUP_NAME_CHARS).is_some() {
        return Err(shown());
    }
    let n: String = name.trim().nfc().collect();
    let bad = n.is_empty()
        || n.chars().count() > MAX_GROUP_NAME_CHARS
        || n.chars()
            .any(|c| c.is_control() || crate::auth::names::is_invisible(c));
    if bad {
        return Err(shown());
    }
    Ok(n)
}

/// The key under which group names are unique: the NFC name in lower case,
/// so `Drill` and `drill` (or `drill` typed with a decomposed accent) are
/// one name.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.trim().nfc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> MigrationGroup {
        MigrationGroup::new(GroupId(1), " drill ", "ops", Utc::now()).unwrap()
    }

    #[test]
    fn edits_keep_the_rules() {
        let mut g = g();
        assert_eq!(g.name, "drill");
        g.set_source("a").unwrap();
        assert_eq!(
            g.set_destination("a"),
            Err(GroupError::SameClusters("a".into()))
        );
        g.set_destination("b").unwrap();
        g.switch();
        assert_eq!(
            (g.source.as_deref(), g.destination.as_deref()),
            (Some("b"), Some("a"))
        );
        assert_eq!(g.set_source("a"), Err(GroupError::SameClusters("a".into())));
        g.add_vm("v1").unwrap();
        g.add_vm("v2").unwrap();
        assert_eq!(g.add_vm("v1"), Err(GroupError::DuplicateVm("v1".into())));
        g.select("v2", false).unwrap();
        assert_eq!(g.selected().collect::<Vec<_>>(), vec!["v1"]);
        g.remove_vm("v1").unwrap();
        assert_eq!(g.remove_vm("v1"), Err(GroupError::UnknownVm("v1".into())));
        assert!(g.rename("   ").is_err());
        assert!(g.rename(&"x".repeat(81)).is_err());
        let c = g
            .clone_as(GroupId(2), &g.suggested_clone_name(), "ops", Utc::now())
            .unwrap();
        assert_eq!(
            (c.name.as_str(), c.vms.clone(), c.version),
            ("drill (return)", g.vms.clone(), 1)
        );
    }
}

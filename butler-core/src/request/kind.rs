//! What a request asks for: a new VM (provisioning) or the retirement of
//! one in the inventory (decommission). Each kind runs its own flow
//! ([`super::flow`]) through the same review, approval and engine.

use crate::inventory::VmId;
use serde::{Deserialize, Serialize};

/// What a request asks for. Stored in the request's body; a request
/// stored before kinds existed reads as [`RequestKind::NewVm`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A new VM of the request's spec ([`super::flow::PROVISIONING`]).
    #[default]
    NewVm,
    /// Retire an inventory VM ([`super::flow::DECOMMISSION`]): power off,
    /// remove from protection, deregister from monitoring, stop billing,
    /// delete, record it retired. The request's spec and estimate are the
    /// VM's as approved (the monthly cost that stops).
    Decommission(Target),
    /// Change an inventory VM's CPU, RAM, disks and NICs to the request's
    /// spec ([`super::flow::RECONFIGURE`]).
    Reconfigure(Reconfigure),
    /// Move an inventory VM's lease end later
    /// ([`super::flow::EXTEND_LEASE`]). The request's spec and estimate
    /// are the VM's as approved.
    ExtendLease(ExtendLease),
    /// Delete an inventory VM whose retirement kept it powered off for a
    /// grace period, now over ([`super::flow::DELETE_AFTER_GRACE`]); asked
    /// and approved by Butler.
    DeleteAfterGrace(Target),
    /// Bring back an inventory VM kept powered off in its retirement's
    /// grace period ([`super::flow::RESTORE`]): the undo of a retirement,
    /// asked by its owner or an Admin and approved by Butler.
    Restore(Target),
}

impl RequestKind {
    /// Its name (`new_vm`, `decommission`).
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestKind::NewVm => "new_vm",
            RequestKind::Decommission(_) => "decommission",
            RequestKind::Reconfigure(_) => "reconfigure",
            RequestKind::ExtendLease(_) => "extend_lease",
            RequestKind::DeleteAfterGrace(_) => "delete_after_grace",
            RequestKind::Restore(_) => "restore",
        }
    }

    /// The inventory VM the request acts on, if it acts on one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            RequestKind::NewVm => None,
            RequestKind::Decommission(t) => Some(t),
            RequestKind::Reconfigure(c) => Some(&c.target),
            RequestKind::ExtendLease(e) => Some(&e.target),
            RequestKind::DeleteAfterGrace(t) | RequestKind::Restore(t) => Some(t),
        }
    }

    /// Whether the request's spec may be edited (a new VM's, and a
    /// reconfigure's CPU, RAM, disks and NICs; a decommission or a lease
    /// extension acts on the VM as it is).
    pub fn is_editable(&self) -> bool {
        matches!(self, RequestKind::NewVm | RequestKind::Reconfigure(_))
    }

    pub(crate) fn is_new_vm(&self) -> bool {
        matches!(self, RequestKind::NewVm)
    }
}

/// The inventory VM a day-2 request acts on, as the request was made: the
/// flow acts on this platform id and name only, so a VM of the same name
/// made since is never touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The inventory record.
    pub vm: VmId,
    /// The platform-wide name.
    pub name: String,
    /// The platform's id.
    pub platform_id: String,
    /// The cluster it runs on.
    pub cluster: String,
    /// How many times it had been restored when the request was made
    /// ([`VmRecord::restores`](crate::inventory::VmRecord::restores)):
    /// which of its lives billing hears of.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restores: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A change of an inventory VM: which one, and whether its owner accepted
/// the downtime a change that needs the VM off brings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconfigure {
    /// The VM changed.
    pub target: Target,
    /// The flow may power the VM off (and on again after) when the change
    /// needs it; without this such a change stops in `Error`, naming why.
    pub accept_downtime: bool,
}

/// A lease extension: which VM, and the day its lease is to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendLease {
    /// The VM whose lease moves.
    pub target: Target,
    /// The lease's new end (later than the one it replaces).
    pub until: chrono::NaiveDate,
}

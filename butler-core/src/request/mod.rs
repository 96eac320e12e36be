//! The provisioning request (SPEC §3): aggregate, states, actions, who may
//! do what, and history.
//!
//! Every change a user makes goes through [`transition`], a pure function
//! of (policy, request, actor, action, time) that returns the new request
//! with its history entry appended and its version bumped, or a
//! [`Denied`](crate::auth::Denied) naming the actor, the action, the state
//! and the reason. Nothing is changed on error. Who may do what is in
//! [`crate::auth::policy`].
//!
//! The engine's actions (start provisioning, record a step, `Completed`,
//! `Error`) are not in [`Action`]: they exist only inside the library.

mod action_kind;
mod approval;
pub mod flow;
mod history;
mod kind;
mod transition;

pub use action_kind::ActionKind;
pub use approval::Approval;
pub use history::{CostChange, FieldChange, HistoryEntry};
pub use kind::{ExtendLease, Reconfigure, RequestKind, Target};
pub(crate) use transition::{advance, decided, EngineAction};
pub use transition::{
    approved_by_butler, create, create_change, retirement_at_lease_end, transition, Action, Priced,
};

use crate::cost::Estimate;
use crate::vm_spec::ValidSpec;
#[cfg(doc)]
use crate::vm_spec::VmSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A request number, assigned by the store, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The states of SPEC §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Being drafted by its owner.
    Created,
    /// Submitted, waiting for an approver.
    Requested,
    /// Edited by an approver.
    Reviewed,
    /// Approved; the engine will provision it.
    Approved,
    /// The engine is running its steps (see [`Request::progress`]).
    Provisioning,
    /// Provisioned (final).
    Completed,
    /// A step kept failing (final for the workflow; may be retried).
    Error,
    /// Rejected by an approver (final).
    Rejected,
    /// Cancelled by its owner (final).
    Cancelled,
}

impl RequestState {
    /// Every state.
    pub const ALL: [RequestState; 9] = [
        RequestState::Created,
        RequestState::Requested,
        RequestState::Reviewed,
        RequestState::Approved,
        RequestState::Provisioning,
        RequestState::Completed,
        RequestState::Error,
        RequestState::Rejected,
        RequestState::Cancelled,
    ];

    /// `Completed`, `Rejected`, `Cancelled`: nothing ever leaves them.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestState::Completed | RequestState::Rejected | RequestState::Cancelled
        )
    }

    /// The state's name in `snake_case`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Created => "created",
            RequestState::Requested => "requested",
            RequestState::Reviewed => "reviewed",
            RequestState::Approved => "approved",
            RequestState::Provisioning => "provisioning",
            RequestState::Completed => "completed",
            RequestState::Error => "error",
            RequestState::Rejected => "rejected",
            RequestState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps of every flow (SPEC §5, §12): provisioning's, decommission's,
/// then reconfigure's. The name is provisioning's, kept for compatibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningStep {
    /// Create the VM and wait for the platform's task.
    CreateVm,
    /// Protect it as its backup flags ask.
    Protect,
    /// Register it with monitoring.
    Monitor,
    /// Activate billing for its cost center.
    Bill,
    /// Record the VM in the inventory (SPEC §12).
    Inventory,
    /// Decommission: power the VM off (guest shutdown, then hard off).
    PowerOff,
    /// Decommission: take it out of its protection group.
    Unprotect,
    /// Decommission: deregister it from monitoring.
    Deregister,
    /// Decommission: stop billing with the end date.
    StopBilling,
    /// Decommission: delete it on the platform and record it retired in
    /// the inventory (or, within a grace period, keep it powered off).
    DeleteVm,
    /// Decommission, as an earlier version ran it: record it retired in
    /// the inventory (now part of [`DeleteVm`](Self::DeleteVm); kept for
    /// requests left at this step).
    Retire,
    /// Reconfigure: read the VM and decide whether the change needs it off.
    CheckChange,
    /// Reconfigure: power it off when the change needs it (and the owner
    /// accepted the downtime).
    PowerOffForChange,
    /// Reconfigure: apply the change on the platform.
    ApplyChange,
    /// Reconfigure: read the VM back and compare.
    VerifyChange,
    /// Reconfigure: power it on again when it was on before.
    PowerOnAfterChange,
    /// Reconfigure: tell billing the new resources and monthly cost.
    UpdateBilling,
    /// Reconfigure: record the new spec in the inventory.
    RecordChange,
    /// Lease extension: record the new lease end in the inventory.
    ExtendLease,
    /// Restore: power on the VM kept in its retirement's grace period.
    RestorePower,
    /// Restore: protect it again as its request asked.
    Reprotect,
    /// Restore: register it with monitoring again.
    Reregister,
    /// Restore: bill it again.
    ResumeBilling,
    /// Restore: record it active in the inventory.
    Reactivate,
}

impl ProvisioningStep {
    /// The provisioning flow's steps, in order.
    pub const PROVISIONING: [ProvisioningStep; 5] = [
        ProvisioningStep::CreateVm,
        ProvisioningStep::Protect,
        ProvisioningStep::Monitor,
        ProvisioningStep::Bill,
        ProvisioningStep::Inventory,
    ];

    /// The decommission flow's steps, in order.
    pub const DECOMMISSION: [ProvisioningStep; 5] = [
        ProvisioningStep::PowerOff,
        ProvisioningStep::Unprotect,
        ProvisioningStep::Deregister,
        ProvisioningStep::StopBilling,
        ProvisioningStep::DeleteVm,
    ];

    /// The reconfigure flow's steps, in order.
    pub const RECONFIGURE: [ProvisioningStep; 7] = [
        ProvisioningStep::CheckChange,
        ProvisioningStep::PowerOffForChange,
        ProvisioningStep::ApplyChange,
        ProvisioningStep::VerifyChange,
        ProvisioningStep::PowerOnAfterChange,
        ProvisioningStep::UpdateBilling,
        ProvisioningStep::RecordChange,
    ];

    /// The lease extension's one step.
    pub const EXTEND_LEASE: [ProvisioningStep; 1] = [ProvisioningStep::ExtendLease];

    /// The deletion at the end of a retirement's grace period: power off
    /// (it may have been powered on meanwhile), delete and record retired.
    pub const DELETE_AFTER_GRACE: [ProvisioningStep; 2] =
        [ProvisioningStep::PowerOff, ProvisioningStep::DeleteVm];

    /// The restore flow's steps, in order.
    pub const RESTORE: [ProvisioningStep; 5] = [
        ProvisioningStep::RestorePower,
        ProvisioningStep::Reprotect,
        ProvisioningStep::Reregister,
        ProvisioningStep::ResumeBilling,
        ProvisioningStep::Reactivate,
    ];

    /// Every step of every flow.
    pub const ALL: [ProvisioningStep; 24] = [
        ProvisioningStep::CreateVm,
        ProvisioningStep::Protect,
        ProvisioningStep::Monitor,
        ProvisioningStep::Bill,
        ProvisioningStep::Inventory,
        ProvisioningStep::PowerOff,
        ProvisioningStep::Unprotect,
        ProvisioningStep::Deregister,
        ProvisioningStep::StopBilling,
        ProvisioningStep::DeleteVm,
        ProvisioningStep::Retire,
        ProvisioningStep::CheckChange,
        ProvisioningStep::PowerOffForChange,
        ProvisioningStep::ApplyChange,
        ProvisioningStep::VerifyChange,
        ProvisioningStep::PowerOnAfterChange,
        ProvisioningStep::UpdateBilling,
        ProvisioningStep::RecordChange,
        ProvisioningStep::ExtendLease,
        ProvisioningStep::RestorePower,
        ProvisioningStep::Reprotect,
        ProvisioningStep::Reregister,
        ProvisioningStep::ResumeBilling,
        ProvisioningStep::Reactivate,
    ];

    /// The step after this one in the provisioning flow, or `None` after
    /// the last ([`flow::PROVISIONING`]).
    pub fn next(self) -> Option<ProvisioningStep> {
        flow::PROVISIONING.next(self)
    }

    /// The step's name in `snake_case`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningStep::CreateVm => "create_vm",
            ProvisioningStep::Protect => "protect",
            ProvisioningStep::Monitor => "monitor",
            ProvisioningStep::Bill => "bill",
            ProvisioningStep::Inventory => "inventory",
            ProvisioningStep::PowerOff => "power_off",
            ProvisioningStep::Unprotect => "unprotect",
            ProvisioningStep::Deregister => "deregister",
            ProvisioningStep::StopBilling => "stop_billing",
            ProvisioningStep::DeleteVm => "delete_vm",
            ProvisioningStep::Retire => "retire",
            ProvisioningStep::CheckChange => "check_change",
            ProvisioningStep::PowerOffForChange => "power_off_for_change",
            ProvisioningStep::ApplyChange => "apply_change",
            ProvisioningStep::VerifyChange => "verify_change",
            ProvisioningStep::PowerOnAfterChange => "power_on_after_change",
            ProvisioningStep::UpdateBilling => "update_billing",
            ProvisioningStep::RecordChange => "record_change",
            ProvisioningStep::ExtendLease => "extend_lease",
            ProvisioningStep::RestorePower => "restore_power",
            ProvisioningStep::Reprotect => "reprotect",
            ProvisioningStep::Reregister => "reregister",
            ProvisioningStep::ResumeBilling => "resume_billing",
            ProvisioningStep::Reactivate => "reactivate",
        }
    }
}

impl fmt::Display for ProvisioningStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where provisioning stands: the current step and its attempt (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    /// The step running.
    pub step: ProvisioningStep,
    /// Its attempt number, from 1.
    pub attempt: u32,
}

/// Why provisioning stopped in `Error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFailure {
    /// The failing step (a retry resumes there).
    pub step: ProvisioningStep,
    /// Attempts made.
    pub attempts: u32,
    /// The last reason.
    pub reason: String,
}

/// A provisioning request: the aggregate every action acts on.
///
/// Fields are public for reading; change a request only through
/// [`transition`] (the service and the stores do).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "repr::Owned")]
pub struct Request {
    /// Request number.
    pub id: RequestId,
    /// User name of the requester who owns it.
    pub owner: String,
    /// The approver who last reviewed, approved or rejected it.
    pub approver: Option<String>,
    /// Current state.
    pub state: RequestState,
    /// The VM spec as validated against the catalog (normalised), with the
    /// project, category and cost center derived from it
    /// ([`ValidSpec::derived`]). Only validation makes one, so a stored
    /// request always holds a checked spec. It reads as a [`VmSpec`]
    /// (`r.spec.name`); stored as the fields `spec` and `derived`.
    pub spec: ValidSpec,
    /// Monthly cost estimate of the current spec.
    pub estimate: Estimate,
    /// Current provisioning step while `Provisioning`.
    pub progress: Option<StepProgress>,
    /// The failure while in `Error`.
    pub failure: Option<StepFailure>,
    /// The platform's VM id, once created (a day-2 request: its target's).
    pub vm_uuid: Option<String>,
    /// What the request asks for: a new VM, or a day-2 change of one.
    pub kind: RequestKind,
    /// Optimistic-concurrency version, bumped by every change.
    pub version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Append-only history, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The approval levels its rules demand and who approved at each
    /// (`None`: one approver, as without rules).
    pub approval: Option<Approval>,
}

impl Request {
    /// The platform-wide unique VM name: the requested name plus the request
    /// number (`web01-r42`). Deterministic, so the engine can look it up
    /// before creating (idempotent creates).
    pub fn platform_vm_name(&self) -> String {
        format!("{}-r{}", self.spec.name, self.id.0)
    }
}

impl Serialize for Request {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        repr::Borrowed::from(self).serialize(s)
    }
}

/// How a request is stored: its spec and what was derived from it as two
/// fields, as before `ValidSpec` was kept whole (rows stay readable).
mod repr {
    use super::*;
    use crate::vm_spec::{Derived, VmSpec};

    #[derive(Serialize)]
    pub(super) struct Borrowed<'a> {
        id: RequestId,
        owner: &'a str,
        approver: &'a Option<String>,
        state: RequestState,
        spec: &'a VmSpec,
        derived: &'a Derived,
        estimate: &'a Estimate,
        progress: &'a Option<StepProgress>,
        failure: &'a Option<StepFailure>,
        vm_uuid: &'a Option<String>,
        #[serde(skip_serializing_if = "RequestKind::is_new_vm")]
        kind: &'a RequestKind,
        version: u64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        history: &'a [HistoryEntry],
        #[serde(skip_serializing_if = "Option::is_none")]
        approval: &'a Option<Approval>,
    }

    impl<'a> From<&'a Request> for Borrowed<'a> {
        fn from(r: &'a Request) -> Self {
            Borrowed {
                id: r.id,
                owner: &r.owner,
                approver: &r.approver,
                state: r.state,
                spec: r.spec.spec(),
                derived: r.spec.derived(),
                estimate: &r.estimate,
                progress: &r.progress,
                failure: &r.failure,
                vm_uuid: &r.vm_uuid,
                kind: &r.kind,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
                history: &r.history,
                approval: &r.approval,
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct Owned {
        id: RequestId,
        owner: String,
        approver: Option<String>,
        state: RequestState,
        spec: VmSpec,
        derived: Derived,
        estimate: Estimate,
        progress: Option<StepProgress>,
        failure: Option<StepFailure>,
        vm_uuid: Option<String>,
        #[serde(default)]
        kind: RequestKind,
        version: u64,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        #[serde(default)]
        history: Vec<HistoryEntry>,
        #[serde(default)]
        approval: Option<Approval>,
    }

    impl From<Owned> for Request {
        fn from(o: Owned) -> Self {
            Request {
                id: o.id,
                owner: o.owner,
                approver: o.approver,
                state: o.state,
                // Stored requests were validated when they were written.
                spec: ValidSpec::from_stored(o.spec, o.derived),
                estimate: o.estimate,
                progress: o.progress,
                failure: o.failure,
                vm_uuid: o.vm_uuid,
                kind: o.kind,
                version: o.version,
                created_at: o.created_at,
                updated_at: o.updated_at,
                history: o.history,
                approval: o.approval,
            }
        }
    }
}

#[cfg(test)]
mod tests;

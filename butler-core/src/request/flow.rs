//! Flows as data: the named steps an approved request goes through, in
//! order. The state machine reads a request's first and next step here,
//! and the engine looks each step's action up in its own table
//! (`engine::actions`), so a new flow is a new list and new actions, never
//! a new executor.

use super::{ProvisioningStep, Request, RequestKind};

/// One flow: a name and its steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    name: &'static str,
    steps: &'static [ProvisioningStep],
}

impl Flow {
    /// A flow of `steps`, in order. A flow has at least one step: an empty
    /// list fails to compile where the flow is a constant.
    pub const fn new(name: &'static str, steps: &'static [ProvisioningStep]) -> Flow {
        assert!(!steps.is_empty(), "a flow has at least one step");
        Flow { name, steps }
    }

    /// The flow's name (in traces and the docs).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Its steps, in order.
    pub const fn steps(&self) -> &'static [ProvisioningStep] {
        self.steps
    }

    /// The step a request of this flow starts with.
    pub fn first(&self) -> ProvisioningStep {
        // Never empty: `new` refuses that.
        self.steps[0]
    }

    /// The step after `step`, or `None` after the last (or for a step
    /// that is not part of this flow).
    pub fn next(&self, step: ProvisioningStep) -> Option<ProvisioningStep> {
        let i = self.steps.iter().position(|s| *s == step)?;
        self.steps.get(i + 1).copied()
    }
}

/// Provisioning (SPEC §5): create the VM, protect it, register it with
/// monitoring, activate billing.
pub const PROVISIONING: Flow = Flow::new("provisioning", &ProvisioningStep::PROVISIONING);

/// Decommission (SPEC §12): power off, take out of protection, deregister
/// from monitoring, stop billing, delete and record retired (or keep it
/// powered off for the grace period). Every step looks its effect up
/// first, so a repeated step finds it done.
pub const DECOMMISSION: Flow = Flow::new("decommission", &ProvisioningStep::DECOMMISSION);

/// Reconfigure (SPEC §12): read the VM and decide what needs it off;
/// power it off only if so (and the owner accepted the downtime); apply;
/// read back; power on again if it was on; update billing; record the new
/// spec. Whether the VM was on is the first step's output, kept in the
/// step log, so a resumed flow powers on exactly what it powered off.
pub const RECONFIGURE: Flow = Flow::new("reconfigure", &ProvisioningStep::RECONFIGURE);

/// Lease extension (SPEC §12): record the new lease end; the VM's notices
/// start afresh.
pub const EXTEND_LEASE: Flow = Flow::new("extend_lease", &ProvisioningStep::EXTEND_LEASE);

/// The deletion Butler asks at the end of a retirement's grace period
/// (SPEC §12): power off, delete, record retired.
pub const DELETE_AFTER_GRACE: Flow =
    Flow::new("delete_after_grace", &ProvisioningStep::DELETE_AFTER_GRACE);

/// Restore (SPEC §12): bring back a VM kept powered off in its
/// retirement's grace period: power on, protect, register with
/// monitoring, bill, record active.
pub const RESTORE: Flow = Flow::new("restore", &ProvisioningStep::RESTORE);

/// Every flow the engine runs; the generic fault test walks each of them.
pub const ALL: [&Flow; 6] = [
    &PROVISIONING,
    &DECOMMISSION,
    &RECONFIGURE,
    &EXTEND_LEASE,
    &DELETE_AFTER_GRACE,
    &RESTORE,
];

impl Request {
    /// The flow this request runs once approved.
    pub fn flow(&self) -> &'static Flow {
        match self.kind {
            RequestKind::NewVm => &PROVISIONING,
            RequestKind::Decommission(_) => &DECOMMISSION,
            RequestKind::Reconfigure(_) => &RECONFIGURE,
            RequestKind::ExtendLease(_) => &EXTEND_LEASE,
            RequestKind::DeleteAfterGrace(_) => &DELETE_AFTER_GRACE,
            RequestKind::Restore(_) => &RESTORE,
        }
    }
}

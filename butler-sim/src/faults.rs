//! Fault injection: random faults per operation and one-shot scripted ones.

use butler_core::backend::{BackendError, ErrorKind};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A simulated operation (one per trait method), for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Op {
    /// `ClusterBackend::list_clusters`.
    ListClusters,
    /// `ClusterBackend::list_projects`.
    ListProjects,
    /// `ClusterBackend::list_subnets`.
    ListSubnets,
    /// `ClusterBackend::list_images`.
    ListImages,
    /// `ClusterBackend::list_vms`.
    ListVms,
    /// `ClusterBackend::find_vm`.
    FindVm,
    /// `ClusterBackend::create_vm`.
    CreateVm,
    /// `ClusterBackend::task`.
    Task,
    /// `ClusterBackend::list_protection_groups`.
    ListProtectionGroups,
    /// `ClusterBackend::remote_sites`.
    RemoteSites,
    /// `ClusterBackend::protect_vm`.
    ProtectVm,
    /// `ClusterBackend::migrate_protection_group`.
    MigrateProtectionGroup,
    /// `ClusterBackend::set_vm_project`.
    SetVmProject,
    /// `ClusterBackend::set_power`.
    SetPower,
    /// `ClusterBackend::unprotect_vm`.
    UnprotectVm,
    /// `ClusterBackend::delete_vm`.
    DeleteVm,
    /// `ClusterBackend::reconfigure_vm`.
    ReconfigureVm,
    /// `ClusterBackend::migrate_vm`.
    MigrateVm,
    /// `ClusterBackend::check_vm_migration`.
    CheckVmMigration,
    /// `ClusterBackend::list_storage_containers`.
    ListStorageContainers,
    /// `ClusterBackend::category_values`.
    CategoryValues,
    /// `Monitor::find`.
    MonitorFind,
    /// `Monitor::register`.
    MonitorRegister,
    /// `Monitor::deregister`.
    MonitorDeregister,
    /// `Billing::find`.
    BillingFind,
    /// `Billing::activate`.
    BillingActivate,
    /// `Billing::stop`.
    BillingStop,
    /// `Billing::change`.
    BillingChange,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 28] = [
        Op::ListClusters,
        Op::ListProjects,
        Op::ListSubnets,
        Op::ListImages,
        Op::ListVms,
        Op::FindVm,
        Op::CreateVm,
        Op::Task,
        Op::ListProtectionGroups,
        Op::RemoteSites,
        Op::ProtectVm,
        Op::MigrateProtectionGroup,
        Op::SetVmProject,
        Op::SetPower,
        Op::UnprotectVm,
        Op::DeleteVm,
        Op::ReconfigureVm,
        Op::MigrateVm,
        Op::CheckVmMigration,
        Op::ListStorageContainers,
        Op::CategoryValues,
        Op::MonitorFind,
        Op::MonitorRegister,
        Op::MonitorDeregister,
        Op::BillingFind,
        Op::BillingActivate,
        Op::BillingStop,
        Op::BillingChange,
    ];

    /// The operation's name (`create_vm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::ListClusters => "list_clusters",
            Op::ListProjects => "list_projects",
            Op::ListSubnets => "list_subnets",
            Op::ListImages => "list_images",
            Op::ListVms => "list_vms",
            Op::FindVm => "find_vm",
            Op::CreateVm => "create_vm",
            Op::Task => "task",
            Op::ListProtectionGroups => "list_protection_groups",
            Op::RemoteSites => "remote_sites",
            Op::ProtectVm => "protect_vm",
            Op::MigrateProtectionGroup => "migrate_protection_group",
            Op::SetVmProject => "set_vm_project",
            Op::SetPower => "set_power",
            Op::UnprotectVm => "unprotect_vm",
            Op::DeleteVm => "delete_vm",
            Op::ReconfigureVm => "reconfigure_vm",
            Op::MigrateVm => "migrate_vm",
            Op::CheckVmMigration => "check_vm_migration",
            Op::ListStorageContainers => "list_storage_containers",
            Op::CategoryValues => "category_values",
            Op::MonitorFind => "monitor_find",
            Op::MonitorRegister => "monitor_register",
            Op::MonitorDeregister => "monitor_deregister",
            Op::BillingFind => "billing_find",
            Op::BillingActivate => "billing_activate",
            Op::BillingStop => "billing_stop",
            Op::BillingChange => "billing_change",
        }
    }

    /// Whether the operation changes the platform (a lost reply matters).
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Op::CreateVm
                | Op::ProtectVm
                | Op::MigrateProtectionGroup
                | Op::SetVmProject
                | Op::SetPower
                | Op::UnprotectVm
                | Op::DeleteVm
                | Op::ReconfigureVm
                | Op::MigrateVm
                | Op::MonitorRegister
                | Op::MonitorDeregister
                | Op::BillingActivate
                | Op::BillingStop
                | Op::BillingChange
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Fail before doing anything, retryable (`ErrorKind::Transient`).
    Transient,
    /// Fail before doing anything, not retryable (`ErrorKind::Permanent`).
    Permanent,
    /// Fail before doing anything with `ErrorKind::Timeout`.
    Timeout,
    /// Do the work, then answer `ErrorKind::Timeout` as if the reply was
    /// lost: the case that makes a blind retry of a create create twice.
    LoseReply,
}

/// Random faults for one operation. Rates are probabilities per call, drawn
/// in this order: transient, permanent, timeout, lose reply.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultConfig {
    /// Probability of a transient error.
    pub transient: f64,
    /// Probability of a permanent error.
    pub permanent: f64,
    /// Probability of a timeout (work not done).
    pub timeout: f64,
    /// Probability of a lost reply (work done) — mutations only.
    pub lose_reply: f64,
    /// Latency added to every call (simulated time).
    pub latency: Duration,
}

impl FaultConfig {
    /// Only transient errors at `rate`.
    pub fn transient(rate: f64) -> Self {
        FaultConfig {
            transient: rate,
            ..Self::default()
        }
    }
    /// Only permanent errors at `rate`.
    pub fn permanent(rate: f64) -> Self {
        FaultConfig {
            permanent: rate,
            ..Self::default()
        }
    }
    /// Only lost replies at `rate`.
    pub fn lose_reply(rate: f64) -> Self {
        FaultConfig {
            lose_reply: rate,
            ..Self::default()
        }
    }
}

/// A one-shot fault: "the `nth` call of `op` (counting only calls about
/// `key`, when given) fails with `kind`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedFault {
    /// The operation.
    pub op: Op,
    /// Which matching call, from 1.
    pub nth: u64,
    /// Only calls about this key count (a VM or protection-group name).
    pub key: Option<String>,
    /// What happens.
    pub kind: FaultKind,
}

impl ScriptedFault {
    /// The `nth` call of `op` about `key` fails with `kind`.
    pub fn nth_call(op: Op, nth: u64, key: Option<&str>, kind: FaultKind) -> Self {
        ScriptedFault {
            op,
            nth,
            key: key.map(str::to_string),
            kind,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    pub(crate) default: FaultConfig,
    pub(crate) per_op: BTreeMap<Op, FaultConfig>,
    scripted: Vec<(ScriptedFault, u64)>,
}

impl FaultPlan {
    pub(crate) fn script(&mut self, f: ScriptedFault) {
        self.scripted.push((f, 0));
    }

    fn config(&self, op: Op) -> FaultConfig {
        self.per_op.get(&op).copied().unwrap_or(self.default)
    }

    /// Decides the fault (if any) and the latency for one call.
    pub(crate) fn decide(
        &mut self,
        op: Op,
        key: Option<&str>,
        rng: &mut ChaCha8Rng,
    ) -> (Option<FaultKind>, Duration) {
        let cfg = self.config(op);
        let mut hit = None;
        let mut fired = None;
        for (i, (f, seen)) in self.scripted.iter_mut().enumerate() {
            if f.op == op && (f.key.is_none() || f.key.as_deref() == key) {
                *seen += 1;
                if *seen == f.nth && hit.is_none() {
                    hit = Some(f.kind);
                    fired = Some(i);
                }
            }
        }
        if let Some(i) = fired {
            self.scripted.remove(i);
        }
        if hit.is_some() {
            return (hit, cfg.latency);
        }
        // One draw per call keeps the random stream independent of the rates.
        let x: f64 = rng.gen();
        let mut edge = cfg.transient;
        let kind = if x < edge {
            Some(FaultKind::Transient)
        } else if x < {
            edge += cfg.permanent;
            edge
        } {
            Some(FaultKind::Permanent)
        } else if x < {
            edge += cfg.timeout;
            edge
        } {
            Some(FaultKind::Timeout)
        } else if op.is_mutation() && x < edge + cfg.lose_reply {
            Some(FaultKind::LoseReply)
        } else {
            None
        };
        (kind, cfg.latency)
    }
}

pub(crate) fn fault_error(op: Op, kind: FaultKind) -> BackendError {
    let (k, msg) = match kind {
        FaultKind::Transient => (
            ErrorKind::Transient,
            "injected transient failure (503 Service Unavailable)",
        ),
        FaultKind::Permanent => (ErrorKind::Permanent, "injected permanent failure"),
        FaultKind::Timeout => (ErrorKind::Timeout, "injected timeout: no reply"),
        FaultKind::LoseReply => (
            ErrorKind::Timeout,
            "injected timeout: reply lost after the work was done",
        ),
    };
    BackendError::new(k, op.as_str(), msg)
}

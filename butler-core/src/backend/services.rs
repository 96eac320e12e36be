use super::BackendError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What monitoring is told about a new VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorRegistration {
    /// Platform-wide VM name (the idempotency key).
    pub vm_name: String,
    /// Platform VM uuid.
    pub vm_uuid: String,
    /// Cluster it runs on.
    pub cluster: String,
}

/// A monitoring system. `register` must be idempotent per `vm_name`: callers
/// first ask [`Monitor::find`] and register only when absent.
#[async_trait]
pub trait Monitor: Send + Sync {
    /// The registration for `vm_name`, if any.
    async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError>;
    /// Registers a VM.
    async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError>;
}

/// What billing is told: the VM, its cost center and provisioned resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingActivation {
    /// Platform-wide VM name (the idempotency key).
    pub vm_name: String,
    /// Platform VM uuid.
    pub vm_uuid: String,
    /// Cost center billed.
    pub cost_center: String,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM GiB.
    pub ram_gib: u32,
    /// Storage GiB.
    pub storage_gib: u64,
    /// Disk type code.
    pub disk_type: String,
}

/// A billing system. As with [`Monitor`], look up before activating.
#[async_trait]
pub trait Billing: Send + Sync {
    /// The activation for `vm_name`, if any.
    async fn find(&self, vm_name: &str) -> Result<Option<BillingActivation>, BackendError>;
    /// Activates billing.
    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError>;
}

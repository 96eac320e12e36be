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
    /// The address to check (the VM's first IP address).
    pub address: String,
    /// Name shown to people: the VM name the requester asked for.
    pub display_name: String,
    /// Request number.
    pub request: u64,
    /// Who asked for the VM.
    pub requester: String,
    /// Cost center billed for the VM.
    pub cost_center: String,
}

/// A monitoring system. `register` must be idempotent per `vm_name`: callers
/// first ask [`Monitor::find`] and register only when absent.
#[async_trait]
pub trait Monitor: Send + Sync {
    /// The registration for `vm_name`, if any.
    async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError>;
    /// Registers a VM.
    async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError>;
    /// Removes the registration of `vm_name` (a retired VM) with its
    /// checks. Look it up first: one already gone answers
    /// [`ErrorKind::NotFound`](super::ErrorKind::NotFound).
    async fn deregister(&self, vm_name: &str) -> Result<(), BackendError>;
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
    /// Request number.
    pub request: u64,
    /// The monthly estimate the request was approved with (card version,
    /// currency, line items, total).
    pub estimate: crate::cost::Estimate,
    /// First day billed.
    pub effective_date: chrono::NaiveDate,
    /// How many times the VM was restored within a retirement's grace
    /// period before this activation (0: its first life). A billing
    /// system keeps each life apart (the webhook's idempotency key).
    #[serde(default)]
    pub restores: u32,
}

/// What billing is told when a VM is retired: bill it no more after
/// `end_date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingStop {
    /// Platform-wide VM name (the idempotency key).
    pub vm_name: String,
    /// Platform VM uuid.
    pub vm_uuid: String,
    /// Cost center that was billed.
    pub cost_center: String,
    /// The decommission request.
    pub request: u64,
    /// Last day billed.
    pub end_date: chrono::NaiveDate,
    /// How many times the VM was restored before this stop (0: the end of
    /// its first life), as [`BillingActivation::restores`].
    #[serde(default)]
    pub restores: u32,
}

/// What a billing system charged one VM for a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// Platform-wide VM name (what the system bills by).
    pub vm_name: String,
    /// Cost center charged.
    pub cost_center: String,
    /// The amount charged for the month.
    pub amount: rust_decimal::Decimal,
    /// Its currency.
    pub currency: String,
}

/// A billing system. As with [`Monitor`], look up before activating.
///
/// Billing systems keep different things (a category on the VM, a row in a
/// chargeback tool, a webhook receiver's ledger), so the look-up only asks
/// whether the VM is billed. One that cannot be asked answers `false` and
/// makes `activate` idempotent itself (the webhook adapter sends the same
/// idempotency key on every attempt).
#[async_trait]
pub trait Billing: Send + Sync {
    /// Whether billing is already active for `vm_name`.
    async fn is_active(&self, vm_name: &str) -> Result<bool, BackendError>;
    /// Whether [`is_active`](Self::is_active) tells the truth. A system
    /// that cannot be asked (a webhook) answers `false` here and makes
    /// `activate` and `stop` idempotent itself; callers then skip the
    /// look-up before stopping.
    fn looks_up(&self) -> bool {
        true
    }
    /// Activates billing.
    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError>;
    /// Tells billing a VM's resources changed (a reconfigure): `act` holds
    /// the new resources and monthly estimate, `act.request` the change's
    /// request and `act.effective_date` the first day at the new rate.
    /// Idempotent per (`vm_name`, `request`): systems that keep a ledger
    /// key the change by both; a webhook sends the same idempotency key on
    /// every attempt.
    async fn change(&self, act: &BillingActivation) -> Result<(), BackendError>;
    /// Stops billing (a retired VM). Look up with
    /// [`is_active`](Self::is_active) first; stopping a VM not billed is
    /// the caller's to avoid.
    async fn stop(&self, stop: &BillingStop) -> Result<(), BackendError>;
    /// Whether the system reports what it charged
    /// ([`charges`](Self::charges)): showback compares them with its own
    /// figures.
    fn reports_charges(&self) -> bool {
        false
    }
    /// What the system charged for `month`, one line per VM it billed.
    /// A system that does not report ([`reports_charges`](Self::reports_charges)
    /// is `false`) answers [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported).
    async fn charges(&self, month: crate::showback::Month) -> Result<Vec<Charge>, BackendError> {
        let _ = month;
        Err(BackendError::new(
            super::ErrorKind::Unsupported,
            "billing charges",
            "this billing system does not report what it charged",
        ))
    }
}

/// Several billing systems at once (a category on the VM for the finance
/// tools that read Prism, and a webhook to the chargeback system): billing
/// is active when every one says so, and activating asks each one that is
/// not yet active, in order.
pub struct EveryBilling(Vec<std::sync::Arc<dyn Billing>>);

impl EveryBilling {
    /// All of `systems`.
    pub fn new(systems: Vec<std::sync::Arc<dyn Billing>>) -> EveryBilling {
        EveryBilling(systems)
    }
}

#[async_trait]
impl Billing for EveryBilling {
    async fn is_active(&self, vm_name: &str) -> Result<bool, BackendError> {
        for b in &self.0 {
            if !b.is_active(vm_name).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError> {
        for b in &self.0 {
            if !b.is_active(&act.vm_name).await? {
                b.activate(act).await?;
            }
        }
        Ok(())
    }

    fn looks_up(&self) -> bool {
        self.0.iter().all(|b| b.looks_up())
    }

    async fn change(&self, act: &BillingActivation) -> Result<(), BackendError> {
        for b in &self.0 {
            b.change(act).await?;
        }
        Ok(())
    }

    async fn stop(&self, stop: &BillingStop) -> Result<(), BackendError> {
        for b in &self.0 {
            if !b.looks_up() || b.is_active(&stop.vm_name).await? {
                b.stop(stop).await?;
            }
        }
        Ok(())
    }

    /// The first system that reports charges reports for all.
    fn reports_charges(&self) -> bool {
        self.0.iter().any(|b| b.reports_charges())
    }

    async fn charges(&self, month: crate::showback::Month) -> Result<Vec<Charge>, BackendError> {
        match self.0.iter().find(|b| b.reports_charges()) {
            Some(b) => b.charges(month).await,
            None => Err(BackendError::new(
                super::ErrorKind::Unsupported,
                "billing charges",
                "none of the billing systems reports what it charged",
            )),
        }
    }
}

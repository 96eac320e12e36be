//! Billing by category: the VM carries `{key: cost center}` (e.g.
//! `CostCenter: CC-1001`), which chargeback tools that read Prism
//! categories bill from (SPEC §5).

use crate::NutanixBackend;
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Billing, BillingActivation, BillingStop, ClusterBackend, ErrorKind,
};
use std::sync::Arc;

/// The default category key.
pub const DEFAULT_KEY: &str = "CostCenter";

/// Activates billing by setting the cost-center category on the VM.
///
/// ```no_run
/// # fn demo(backend: std::sync::Arc<butler_nutanix::NutanixBackend>) {
/// let billing = butler_nutanix::CategoryBilling::new(backend, "CostCenter");
/// # }
/// ```
#[derive(Clone)]
pub struct CategoryBilling {
    backend: Arc<NutanixBackend>,
    key: String,
}

impl std::fmt::Debug for CategoryBilling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CategoryBilling")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl CategoryBilling {
    /// Billing through `backend` under the category `key`.
    pub fn new(backend: Arc<NutanixBackend>, key: impl Into<String>) -> CategoryBilling {
        CategoryBilling {
            backend,
            key: key.into(),
        }
    }

    /// The category key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[async_trait]
impl Billing for CategoryBilling {
    /// Active when the VM carries the key (whatever the value: a cost
    /// center changed by hand in Prism is the finance team's call).
    async fn is_active(&self, vm_name: &str) -> Result<bool, BackendError> {
        let prefix = format!("{}:", self.key);
        Ok(self
            .backend
            .find_vm(vm_name)
            .await?
            .is_some_and(|vm| vm.categories.iter().any(|c| c.starts_with(&prefix))))
    }

    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let op = "billing_activate";
        if act.cost_center.is_empty() {
            return Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                "the cost center is empty",
            ));
        }
        self.backend
            .set_vm_category(&act.vm_uuid, &self.key, &act.cost_center, op)
            .await
    }

    /// The category names the cost center, which a reconfigure keeps:
    /// nothing to change (the tools that read it price the new size).
    async fn change(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let _ = act;
        Ok(())
    }

    /// Takes the cost-center category off the VM (and off its mapping), so
    /// the tools that bill from it stop.
    async fn stop(&self, stop: &BillingStop) -> Result<(), BackendError> {
        self.backend
            .clear_vm_category(&stop.vm_uuid, &self.key, "billing_stop")
            .await
    }
}

//! Billing by category: the VM carries `{key: cost center}` (e.g.
//! `CostCenter: CC-1001`), which chargeback tools that read Prism
//! categories bill from (SPEC §5).

use crate::NutanixBackend;
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Billing, BillingActivation, BillingStop, ClusterBackend, ErrorKind,
};
use serde_json::json;
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
            .ensure_category(&self.key, &act.cost_center, op)
            .await?;
        let (key, value) = (self.key.clone(), act.cost_center.clone());
        self.backend
            .update_vm_metadata(
                &act.vm_uuid,
                op,
                &format!("setting category {key}:{value}"),
                |m| {
                    let categories = m.entry("categories").or_insert_with(|| json!({}));
                    if !categories.is_object() {
                        *categories = json!({});
                    }
                    if let Some(c) = categories.as_object_mut() {
                        c.insert(key.clone(), json!(value));
                    }
                    // Honoured instead of `categories` when the VM uses
                    // mappings: keep the two in step.
                    let uses_mapping = m
                        .get("use_categories_mapping")
                        .and_then(serde_json::Value::as_bool)
                        == Some(true);
                    if let Some(mapping) = m
                        .get_mut("categories_mapping")
                        .and_then(|v| v.as_object_mut())
                        .filter(|_| uses_mapping)
                    {
                        mapping.insert(key.clone(), json!([value]));
                    }
                },
            )
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
        let key = self.key.clone();
        self.backend
            .update_vm_metadata(
                &stop.vm_uuid,
                "billing_stop",
                &format!("removing category {key}"),
                |m| {
                    for field in ["categories", "categories_mapping"] {
                        if let Some(c) = m.get_mut(field).and_then(|v| v.as_object_mut()) {
                            c.remove(&key);
                        }
                    }
                },
            )
            .await
    }
}

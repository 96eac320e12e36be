//! A VM's category of one key (billing's cost center): set to one value,
//! or taken off. On v3 the VM's `metadata.categories` (and its
//! `categories_mapping`, when the VM uses one) is edited and PUT back under
//! `spec_version`; on v4 the category is associated and the key's other
//! values disassociated through `$actions`, each under the VM's `ETag`.
//! Either way a VM already as asked gets nothing.

use crate::backend::{NutanixBackend, Update};
use crate::url_safe;
use crate::v4::{Mutation, VMS};
use butler_core::backend::BackendError;
use serde_json::{json, Value};

impl NutanixBackend {
    /// Ensures VM `vm_uuid` carries `key:value` and no other value of
    /// `key`; the category is created first if Prism lacks it.
    pub(crate) async fn set_vm_category(
        &self,
        vm_uuid: &str,
        key: &str,
        value: &str,
        op: &'static str,
    ) -> Result<(), BackendError> {
        self.ensure_category(key, value, op).await?;
        if self.uses_v4().await? {
            let wanted = self.category_ext_id(&format!("{key}:{value}"), op).await?;
            return self.v4_categories_to(vm_uuid, key, Some(wanted), op).await;
        }
        let (key, value) = (key.to_string(), value.to_string());
        self.update_vm(
            vm_uuid,
            op,
            &format!("setting category {key}:{value}"),
            |vm| {
                let m = metadata(vm);
                let as_wanted = m["categories"][&key] == json!(value);
                let mapping_ok =
                    !uses_mapping(m) || m["categories_mapping"][&key] == json!([value]);
                if as_wanted && mapping_ok {
                    return Ok(Update::Nothing);
                }
                if let Some(m) = vm.get_mut("metadata").and_then(Value::as_object_mut) {
                    let categories = m.entry("categories").or_insert_with(|| json!({}));
                    if !categories.is_object() {
                        *categories = json!({});
                    }
                    if let Some(c) = categories.as_object_mut() {
                        c.insert(key.clone(), json!(value));
                    }
                    // Honoured instead of `categories` when the VM uses
                    // mappings: keep the two in step.
                    let mapped =
                        m.get("use_categories_mapping").and_then(Value::as_bool) == Some(true);
                    if let Some(mapping) = m
                        .get_mut("categories_mapping")
                        .and_then(Value::as_object_mut)
                        .filter(|_| mapped)
                    {
                        mapping.insert(key.clone(), json!([value]));
                    }
                }
                Ok(Update::Put)
            },
        )
        .await
    }

    /// Takes every value of category `key` off VM `vm_uuid`.
    pub(crate) async fn clear_vm_category(
        &self,
        vm_uuid: &str,
        key: &str,
        op: &'static str,
    ) -> Result<(), BackendError> {
        if self.uses_v4().await? {
            return self.v4_categories_to(vm_uuid, key, None, op).await;
        }
        let key = key.to_string();
        self.update_vm(vm_uuid, op, &format!("removing category {key}"), |vm| {
            let m = metadata(vm);
            let carried = ["categories", "categories_mapping"]
                .iter()
                .any(|f| m[*f].get(&key).is_some());
            if !carried {
                return Ok(Update::Nothing);
            }
            if let Some(m) = vm.get_mut("metadata").and_then(Value::as_object_mut) {
                for field in ["categories", "categories_mapping"] {
                    if let Some(c) = m.get_mut(field).and_then(Value::as_object_mut) {
                        c.remove(&key);
                    }
                }
            }
            Ok(Update::Put)
        })
        .await
    }

    /// v4: the VM's values of `key` made exactly `wanted` (an id, or
    /// none): the others disassociated, then `wanted` associated, each
    /// action under the VM's `ETag` and waited for.
    async fn v4_categories_to(
        &self,
        vm_uuid: &str,
        key: &str,
        wanted: Option<String>,
        op: &'static str,
    ) -> Result<(), BackendError> {
        let of_key = self.v4_category_ids(key, op).await?;
        let segment = url_safe::segment(vm_uuid, op)?;
        let action = |name: &str, ids: Vec<String>| {
            let body = json!({"categories": ids.iter().map(|id| json!({"extId": id})).collect::<Vec<_>>()});
            Mutation::post(format!("{VMS}/{segment}/$actions/{name}"), Some(body))
        };
        let on_vm = |vm: &Value| -> Vec<String> {
            vm["categories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["extId"].as_str())
                .map(str::to_string)
                .collect()
        };
        let stale = |vm: &Value| -> Vec<String> {
            on_vm(vm)
                .into_iter()
                .filter(|id| of_key.contains(id) && Some(id) != wanted.as_ref())
                .collect()
        };
        if let Some(task) = self
            .v4_mutate(vm_uuid, op, |vm| {
                let stale = stale(vm);
                (!stale.is_empty()).then(|| action("disassociate-categories", stale))
            })
            .await?
        {
            self.v4_finish(&task, op, &format!("removing category {key}"))
                .await?;
        }
        let Some(wanted) = wanted else { return Ok(()) };
        if let Some(task) = self
            .v4_mutate(vm_uuid, op, |vm| {
                (!on_vm(vm).contains(&wanted))
                    .then(|| action("associate-categories", vec![wanted.clone()]))
            })
            .await?
        {
            self.v4_finish(&task, op, &format!("setting category {key}"))
                .await?;
        }
        Ok(())
    }
}

/// The VM's `metadata` (checked present by `update_vm`).
fn metadata(vm: &serde_json::Map<String, Value>) -> &Value {
    vm.get("metadata").unwrap_or(&Value::Null)
}

fn uses_mapping(m: &Value) -> bool {
    m["use_categories_mapping"].as_bool() == Some(true) && m["categories_mapping"].is_object()
}

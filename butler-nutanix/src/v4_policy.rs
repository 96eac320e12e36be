//! Protection by policy, as Prism Central's Leap does it, when the
//! configuration names `protection_category`: a VM is protected by
//! carrying the category a protection policy applies to. Protecting one
//! checks that the category exists and that some policy
//! (`/api/datapolicies/v4.0/config/protection-policies`, its
//! `categoryIds`) covers it, associates it with the VM under the VM's
//! `ETag`, and reads the VM back as a protected resource
//! (`/api/dataprotection/v4.0/config/protected-resources/{extId}`); Prism
//! applies a policy a little after the association, so "not yet" is a
//! passing failure the step retries. The policy's schedules and
//! replication are the administrator's; the request's are not used. The
//! VM's protection group is then the category (`key:value`), which
//! unprotecting takes off again.

use crate::backend::NutanixBackend;
use crate::url_safe;
use butler_core::backend::{BackendError, ErrorKind, ProtectRequest, ProtectionGroup};
use reqwest::Method;
use std::sync::Arc;

/// Protection policies (`datapolicies`, v4.0).
const POLICIES: &str = "/datapolicies/v4.0/config/protection-policies";
/// Protected resources (`dataprotection`, v4.0).
const PROTECTED: &str = "/dataprotection/v4.0/config/protected-resources";

/// `category`'s key and value (checked when the configuration was read).
fn key_value<'a>(category: &'a str, op: &'static str) -> Result<(&'a str, &'a str), BackendError> {
    category.split_once(':').ok_or_else(|| {
        BackendError::new(
            ErrorKind::Invalid,
            op,
            format!("protection_category {category:?} is not key:value"),
        )
    })
}

impl NutanixBackend {
    /// Protection by policy needs Prism Central v4.
    async fn policy_v4(&self, op: &'static str) -> Result<(), BackendError> {
        if self.uses_v4().await? {
            return Ok(());
        }
        Err(BackendError::new(
            ErrorKind::Unsupported,
            op,
            "protection by policy (protection_category) needs Prism Central v4; this one speaks v3 only",
        ))
    }

    /// Protects VM `req.vm_name` on `cluster` by `category`'s policy.
    pub(crate) async fn policy_protect(
        &self,
        category: &str,
        cluster: &str,
        req: &ProtectRequest,
    ) -> Result<String, BackendError> {
        let op = "protect_vm";
        self.policy_v4(op).await?;
        let vm = self.v4_find_vm(&req.vm_name).await?.ok_or_else(|| {
            BackendError::new(ErrorKind::NotFound, op, format!("no VM {:?}", req.vm_name))
        })?;
        if vm.cluster != cluster {
            return Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("VM {:?} is not on cluster {cluster:?}", req.vm_name),
            ));
        }
        let (key, value) = key_value(category, op)?;
        // A policy applies to a category that exists: a missing one is
        // refused like an uncovered one, and nothing is made.
        let id = self.category_ext_id(category, op).await.map_err(|_| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("category {category:?} does not exist on Prism Central, so no protection policy applies to it"),
            )
        })?;
        let covered = self.v4_list(POLICIES, None, op).await?.iter().any(|p| {
            p["categoryIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|c| c == id.as_str()))
        });
        if !covered {
            return Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                format!(
                    "no protection policy of Prism Central applies to category {category:?}: create one (Data Protection, Protection Policies) or name another protection_category"
                ),
            ));
        }
        self.set_vm_category(&vm.uuid, key, value, op).await?;
        let path = format!("{PROTECTED}/{}", url_safe::segment(&vm.uuid, op)?);
        match self.v4.call_v4(Method::GET, &path, None, &[], true).await {
            Ok(_) => Ok(category.to_string()),
            Err(e) if e.status == Some(404) => Err(BackendError::new(
                ErrorKind::Transient,
                op,
                format!(
                    "Prism has not yet applied the protection policy of {category:?} to VM {:?}",
                    req.vm_name
                ),
            )),
            Err(e) => Err(e.into_backend(op)),
        }
    }

    /// The one group protection by policy has on `cluster`: the category,
    /// with the cluster's VMs that carry it.
    pub(crate) async fn policy_groups(
        &self,
        category: &str,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        self.policy_v4("list_protection_groups").await?;
        let vms: Vec<Arc<str>> = self
            .v4_list_vms(cluster)
            .await?
            .into_iter()
            .filter(|v| v.categories.iter().any(|c| c == category))
            .map(|v| Arc::from(v.name))
            .collect();
        Ok(vec![ProtectionGroup {
            name: category.to_string(),
            cluster: cluster.to_string(),
            active: true,
            vms,
            schedules: Vec::new(),
            remote_sites: Vec::new(),
            last_replica: None,
        }])
    }

    /// The groups of VM `vm_name`: the category, when it carries it (one
    /// look-up by name, not the cluster's whole list).
    pub(crate) async fn policy_groups_of(
        &self,
        category: &str,
        vm_name: &str,
    ) -> Result<Vec<String>, BackendError> {
        self.policy_v4("protection_groups_of").await?;
        let carries = self
            .v4_find_vm(vm_name)
            .await?
            .is_some_and(|v| v.categories.iter().any(|c| c == category));
        Ok(if carries {
            vec![category.to_string()]
        } else {
            Vec::new()
        })
    }

    /// Takes `category` off VM `vm_name`: `NotFound` when `group` is not
    /// the category or the VM does not carry it.
    pub(crate) async fn policy_unprotect(
        &self,
        category: &str,
        group: &str,
        vm_name: &str,
    ) -> Result<(), BackendError> {
        let op = "unprotect_vm";
        self.policy_v4(op).await?;
        let vm = self
            .v4_find_vm(vm_name)
            .await?
            .filter(|v| group == category && v.categories.iter().any(|c| c == category))
            .ok_or_else(|| {
                BackendError::new(
                    ErrorKind::NotFound,
                    op,
                    format!("VM {vm_name:?} is not protected by {group:?}"),
                )
            })?;
        let (key, _) = key_value(category, op)?;
        self.clear_vm_category(&vm.uuid, key, op).await
    }
}

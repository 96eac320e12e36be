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
use butler_core::backend::{BackendError, ErrorKind, ProtectRequest, ProtectionGroup, Schedule};
use reqwest::Method;
use serde_json::Value;
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

/// The clusters of a policy's replication location `label` (none listed:
/// every cluster of its Prism Central).
fn location_clusters<'a>(policy: &'a Value, label: &str) -> Option<Vec<&'a str>> {
    let l = policy["replicationLocations"]
        .as_array()?
        .iter()
        .find(|l| l["label"] == label)?;
    Some(
        l["replicationSubLocation"]["clusterExtIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect(),
    )
}

/// The remote schedules policy `policy` replicates from cluster `here`
/// with, each to a cluster it names.
fn replication_from(
    policy: &Value,
    here: Option<&str>,
    names: &std::collections::HashMap<&str, &str>,
) -> Vec<Schedule> {
    let mut out = Vec::new();
    for r in policy["replicationConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let label = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let (Some(from), Some(to)) = (
            location_clusters(policy, &label("sourceLocationLabel")),
            location_clusters(policy, &label("remoteLocationLabel")),
        ) else {
            continue;
        };
        if !(from.is_empty() || here.is_some_and(|h| from.contains(&h))) {
            continue;
        }
        let every_minutes = r["schedule"]["recoveryPointObjectiveTimeSeconds"]
            .as_u64()
            .map_or(0, |s| u32::try_from(s / 60).unwrap_or(u32::MAX));
        let retention = r["schedule"]["retention"]["remote"]
            .as_u64()
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX));
        for c in to.iter().filter(|c| Some(**c) != here) {
            if let Some(name) = names.get(c) {
                out.push(Schedule::remote(*name, every_minutes, retention));
            }
        }
    }
    out
}

impl NutanixBackend {
    /// Protection by policy needs Prism Central v4.
    pub(crate) async fn policy_v4(&self, op: &'static str) -> Result<(), BackendError> {
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
    /// with the cluster's VMs that carry it, and the replication its
    /// policies configure from this cluster (each a remote schedule to the
    /// cluster it replicates to, every recovery point objective).
    pub(crate) async fn policy_groups(
        &self,
        category: &str,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        let op = "list_protection_groups";
        self.policy_v4(op).await?;
        // A category Prism lacks has no policy, hence no replication (the
        // protect step says why); any other failure is the listing's.
        let category_id = async {
            match self.category_ext_id(category, op).await {
                Ok(id) => Ok(Some(id)),
                Err(e) if e.kind == ErrorKind::Invalid => Ok(None),
                Err(e) => Err(e),
            }
        };
        let (vms, clusters, category_id, policies) = futures::try_join!(
            self.v4_list_vms(cluster),
            self.v4_clusters(),
            category_id,
            self.v4_list(POLICIES, None, op),
        )?;
        let vms: Vec<Arc<str>> = vms
            .into_iter()
            .filter(|v| v.categories.iter().any(|c| c == category))
            .map(|v| Arc::from(v.name))
            .collect();
        let names: std::collections::HashMap<&str, &str> = clusters
            .iter()
            .map(|c| (c.uuid.as_str(), c.name.as_str()))
            .collect();
        let here = clusters
            .iter()
            .find(|c| c.name == cluster)
            .map(|c| c.uuid.as_str());
        let mut schedules = Vec::new();
        for p in policies.iter().filter(|p| {
            p["categoryIds"].as_array().is_some_and(|ids| {
                ids.iter()
                    .any(|c| category_id.as_deref().is_some_and(|id| c == id))
            })
        }) {
            schedules.extend(replication_from(p, here, &names));
        }
        let mut remote_sites: Vec<String> = schedules
            .iter()
            .filter_map(|s| s.remote_site.clone())
            .collect();
        remote_sites.sort();
        remote_sites.dedup();
        Ok(vec![ProtectionGroup {
            name: category.to_string(),
            cluster: cluster.to_string(),
            active: true,
            vms,
            schedules,
            remote_sites,
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

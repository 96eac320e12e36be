//! Moving a VM to another cluster on Prism Central v4: `POST
//! …/vms/{extId}/$actions/migrate` (`VmCrossClusterMigrateParams`: the
//! target cluster, cold or live) under the VM's `ETag`, and the same call
//! with `$dryrun=true`, Prism's own verdict before anything moves (guest
//! tools missing, delta disks, legacy protection, a VM that runs for a
//! cold move). A dry run's objections come back as the error messages of
//! its refusal (400, 409 or 422) or, from a Prism that answers a dry run
//! with a task, as that task's failure.
//!
//! A VLAN subnet belongs to one cluster: a VM arriving on another needs
//! each NIC on that cluster's subnet of the same name
//! (`overrides.overrideNicList`, every NIC in order). A NIC whose subnet
//! has no namesake there is Butler's own objection, and nothing is sent;
//! an OVERLAY subnet (a VPC's) goes anywhere as it is.

use crate::backend::NutanixBackend;
use crate::url_safe;
use crate::v4::{request_id, task_of, Mutation, VMS};
use butler_core::backend::{BackendError, ErrorKind, PowerState, TaskId, TaskState, VmMove};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Dry runs of one batch sent at once.
const DRY_RUNS_AT_ONCE: usize = 8;

/// Every subnet by id (its name and, for a VLAN one, its cluster).
pub(crate) struct Subnets(HashMap<String, (String, Option<String>)>);

impl Subnets {
    /// The NIC list a VM with `nics` (NIC id, subnet id) needs on
    /// `destination`: `Ok(None)` when every subnet goes as it is, else the
    /// override list; `Err`: the NICs that cannot arrive, why each.
    pub(crate) fn overrides(
        &self,
        nics: &[(String, String)],
        destination: &str,
    ) -> Result<Option<Value>, Vec<String>> {
        let mut ids = Vec::with_capacity(nics.len());
        let mut objections = Vec::new();
        for (i, (_, subnet)) in nics.iter().enumerate() {
            let Some((name, cluster)) = self.0.get(subnet) else {
                objections.push(format!(
                    "NIC {i} is on subnet {subnet}, which Prism does not list"
                ));
                continue;
            };
            if cluster.as_deref().is_none_or(|c| c == destination) {
                ids.push(subnet.clone());
                continue;
            }
            let namesake = self
                .0
                .iter()
                .find(|(_, (n, c))| n == name && c.as_deref().is_none_or(|c| c == destination));
            match namesake {
                Some((id, _)) => ids.push(id.clone()),
                None => objections.push(format!(
                    "NIC {i} is on subnet {name:?} of cluster {:?}, and {destination:?} has no subnet of that name",
                    cluster.as_deref().unwrap_or_default()
                )),
            }
        }
        if !objections.is_empty() {
            return Err(objections);
        }
        if ids.iter().zip(nics).all(|(id, (_, was))| id == was) {
            return Ok(None);
        }
        let list: Vec<Value> = ids
            .iter()
            .map(|id| {
                json!({"$objectType": "vmm.v4.ahv.config.Nic",
                       "networkInfo": {"$objectType": "vmm.v4.ahv.config.NicNetworkInfo",
                                       "subnet": {"$objectType": "vmm.v4.ahv.config.SubnetReference", "extId": id}}})
            })
            .collect();
        Ok(Some(json!({
            "$objectType": "vmm.v4.ahv.config.VmCrossClusterMigrateOverrides",
            "overrideNicList": list,
        })))
    }
}

/// `params` with the NIC overrides a VM needs, or its objections.
fn with_nics(
    params: &Value,
    subnets: &Subnets,
    nics: &[(String, String)],
    destination: &str,
) -> Result<Value, Vec<String>> {
    let mut p = params.clone();
    if let Some(o) = subnets.overrides(nics, destination)? {
        p["overrides"] = o;
    }
    Ok(p)
}

impl NutanixBackend {
    /// Whether migrations move Prism Element protection domains: the
    /// configured path, and VMs protected in domains (not by policy).
    pub(crate) fn moves_protection_domains(&self) -> bool {
        self.migration == crate::config::MigrationPath::ProtectionDomains
            && self.protection_category.is_none()
    }

    /// Every subnet Prism lists, by id.
    async fn subnets_by_id(&self) -> Result<Subnets, BackendError> {
        Ok(Subnets(
            self.v4_subnets()
                .await?
                .into_iter()
                .map(|s| (s.uuid, (s.name, s.cluster)))
                .collect(),
        ))
    }

    /// `Unsupported` for a move this Prism and configuration do not make
    /// (after learning which API Prism Central speaks).
    pub(crate) async fn offers_move(
        &self,
        to: &VmMove,
        op: &'static str,
    ) -> Result<(), BackendError> {
        use butler_core::backend::{Capability, ClusterBackend};
        self.uses_v4().await?;
        let caps = self.capabilities();
        let live = to.live.then_some(Capability::LiveMigration);
        match [Some(Capability::VmMigration), live]
            .into_iter()
            .flatten()
            .find(|c| !caps.has(*c))
        {
            Some(c) => Err(BackendError::unsupported(op, c)),
            None => Ok(()),
        }
    }

    /// The body of a move to `to`, naming the destination by its id (an
    /// unknown cluster is `Invalid`, and nothing is sent).
    async fn move_params(&self, to: &VmMove, op: &'static str) -> Result<Value, BackendError> {
        let cluster = self.v4_cluster_id(&to.destination).await?.ok_or_else(|| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("Prism Central has no cluster named {:?}", to.destination),
            )
        })?;
        Ok(json!({
            "$objectType": "vmm.v4.ahv.config.VmCrossClusterMigrateParams",
            "targetCluster": {"$objectType": "vmm.v4.ahv.config.ClusterReference", "extId": cluster},
            "isLiveMigration": to.live,
        }))
    }

    /// Starts the move of VM `uuid` under its `ETag`; a VM on the
    /// destination already is `Invalid` (nothing to move).
    pub(crate) async fn v4_migrate(&self, uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        let op = "migrate_vm";
        let params = self.move_params(to, op).await?;
        let subnets = self.subnets_by_id().await?;
        let path = format!("{VMS}/{}/$actions/migrate", url_safe::segment(uuid, op)?);
        let target = params["targetCluster"]["extId"].clone();
        // Why the VM read cannot arrive, if so (the closure cannot fail).
        let refused = std::sync::Mutex::new(None);
        let task = self
            .v4_mutate(uuid, op, |vm| {
                if vm["cluster"]["extId"] == target {
                    return None;
                }
                let nics = crate::v4_reads::nic_subnets(vm);
                match with_nics(&params, &subnets, &nics, &to.destination) {
                    Ok(p) => Some(Mutation::post(path.clone(), Some(p))),
                    Err(why) => {
                        *refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                        None
                    }
                }
            })
            .await?;
        if let Some(why) = refused.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(BackendError::new(ErrorKind::Invalid, op, why.join("; ")));
        }
        task.ok_or_else(|| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("VM {uuid} is on {:?} already", to.destination),
            )
        })
    }

    /// Prism's dry run of moving VM `uuid` as `to` says.
    pub(crate) async fn v4_check_migration(
        &self,
        uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        let op = "check_vm_migration";
        let params = self.move_params(to, op).await?;
        let subnets = self.subnets_by_id().await?;
        let (vm, _) = self.v4_vm(uuid, op).await?;
        let nics = crate::v4_reads::nic_subnets(&vm);
        match with_nics(&params, &subnets, &nics, &to.destination) {
            Ok(p) => self.dry_run(uuid, &p, op).await,
            Err(why) => Ok(why),
        }
    }

    /// The dry runs of moving each VM named in `names`: one list of every
    /// VM for their ids, then one dry run per VM, [`DRY_RUNS_AT_ONCE`] at
    /// a time (Prism has no batched one). A VM that runs is not asked
    /// about a cold move: Prism would object to its power, which Butler
    /// judges itself; its other objections show when it moves.
    pub(crate) async fn v4_check_migrations(
        &self,
        names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        use futures::{StreamExt, TryStreamExt};
        let op = "check_vm_migrations";
        let params = self.move_params(to, op).await?;
        let (places, subnets) = futures::try_join!(self.v4_vm_places(op), self.subnets_by_id())?;
        // By index: a closure over `&String` would not be general enough
        // for the `Send` future `async_trait` needs.
        futures::stream::iter(0..names.len())
            .map(|i| {
                let (params, subnets, name) = (&params, &subnets, &names[i]);
                let place = places.get(name);
                async move {
                    match place {
                        None => Ok(vec![format!("Prism Central has no VM named {name:?}")]),
                        Some(p) if p.power == PowerState::On && !to.live => Ok(Vec::new()),
                        Some(p) => match with_nics(params, subnets, &p.nics, &to.destination) {
                            Ok(params) => self.dry_run(&p.ext_id, &params, op).await,
                            Err(why) => Ok(why),
                        },
                    }
                }
            })
            .buffered(DRY_RUNS_AT_ONCE)
            .try_collect()
            .await
    }

    /// `$actions/migrate?$dryrun=true` for VM `uuid`: its objections.
    async fn dry_run(
        &self,
        uuid: &str,
        params: &Value,
        op: &'static str,
    ) -> Result<Vec<String>, BackendError> {
        let path = format!(
            "{VMS}/{}/$actions/migrate?$dryrun=true",
            url_safe::segment(uuid, op)?
        );
        // A fresh request id per dry run: Prism answers a repeated id with
        // the first answer, which would be a stale verdict. The standard
        // library's per-instance random hash keys make it unique.
        let nonce = {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(uuid)
        };
        let id = request_id(&[op, uuid, &params.to_string(), &nonce.to_string()]);
        let headers = [("NTNX-Request-Id", id)];
        match self
            .v4
            .call_v4(Method::POST, &path, Some(params), &headers, true)
            .await
        {
            Ok((answer, _)) => {
                let task = task_of(&answer, op)?;
                let status = self
                    .v4_wait_task(&task, std::time::Duration::from_secs(60))
                    .await?;
                match status.state {
                    TaskState::Succeeded => Ok(Vec::new()),
                    TaskState::Failed(why) => Ok(vec![why]),
                    TaskState::Aborted => Err(BackendError::new(
                        ErrorKind::Permanent,
                        op,
                        "Prism canceled the dry run",
                    )),
                    TaskState::Queued | TaskState::Running => Err(BackendError::new(
                        ErrorKind::Timeout,
                        op,
                        format!("the dry run was not done after 60 s (task {})", task.0),
                    )),
                }
            }
            Err(e) if matches!(e.status, Some(400 | 409 | 422)) => Ok(if e.messages.is_empty() {
                vec![e.message]
            } else {
                e.messages
            }),
            Err(e) => Err(e.into_backend(op)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnets() -> Subnets {
        Subnets(
            [
                ("s1-a", "vlan-10", Some("a")),
                ("s1-b", "vlan-10", Some("b")),
                ("s2-a", "vlan-20", Some("a")),
                ("vpc", "apps", None),
            ]
            .into_iter()
            .map(|(id, n, c)| (id.to_string(), (n.to_string(), c.map(str::to_string))))
            .collect(),
        )
    }

    fn nics(ids: &[&str]) -> Vec<(String, String)> {
        ids.iter()
            .map(|s| (format!("nic-{s}"), s.to_string()))
            .collect()
    }

    #[test]
    fn nics_arrive_on_the_destinations_namesake_and_overlay_goes_as_it_is() {
        let s = subnets();
        let o = s.overrides(&nics(&["s1-a", "vpc"]), "b").unwrap().unwrap();
        let ids: Vec<&str> = o["overrideNicList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["networkInfo"]["subnet"]["extId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["s1-b", "vpc"]);
        assert_eq!(
            s.overrides(&nics(&["vpc"]), "b"),
            Ok(None),
            "nothing to map"
        );
        assert_eq!(s.overrides(&nics(&["s1-a"]), "a"), Ok(None));
        let why = s.overrides(&nics(&["s1-a", "s2-a"]), "b").unwrap_err();
        assert_eq!(why.len(), 1);
        assert!(
            why[0].contains("vlan-20") && why[0].contains("\"b\""),
            "{why:?}"
        );
        let unknown = s.overrides(&nics(&["gone"]), "b").unwrap_err();
        assert!(unknown[0].contains("gone"), "{unknown:?}");
    }
}

//! [`NutanixBackend`]: `ClusterBackend` over Prism Central v3 (inventory,
//! VMs, tasks, projects) and Prism Element v2 (protection domains).

use crate::client::{Api, PrismClient};
use crate::config::NutanixConfig;
use crate::decode;
use crate::error::NutanixError;
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Capabilities, ClusterBackend, ClusterInfo, ErrorKind, ImageInfo, PowerChange,
    ProjectInfo, ProtectRequest, ProtectionGroup, RemoteSite, ScheduleKind, StorageContainerInfo,
    SubnetInfo, TaskId, TaskState, TaskStatus, VmBrief, VmCreate, VmInfo, VmMove, VmReconfig,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The Nutanix adapter.
#[derive(Debug)]
pub struct NutanixBackend {
    pc: PrismClient,
    /// Prism Central's v4 API (creates, power, deletes, tasks).
    pub(crate) v4: PrismClient,
    pub(crate) central_api: crate::config::CentralApi,
    pub(crate) migration: crate::config::MigrationPath,
    /// Protection by policy: the category its policy applies to.
    pub(crate) protection_category: Option<String>,
    /// What the probe found (`auto`): whether v4 serves.
    pub(crate) v4_probe: tokio::sync::OnceCell<bool>,
    pe: BTreeMap<String, PrismClient>,
    pub(crate) page: u32,
    pub(crate) list_concurrency: usize,
    pub(crate) max_entities: usize,
    requests: Arc<AtomicU64>,
}

/// A source cluster's remote sites: Prism names them as it likes; the
/// remote site's uuid is the remote cluster's uuid.
#[derive(Debug, Default)]
struct RemoteSites {
    /// Remote-site name → cluster name (for what PDs say they replicate to).
    to_cluster: BTreeMap<String, String>,
    /// Cluster name → remote-site name (for what migrate wants).
    to_site: BTreeMap<String, String>,
    /// Every site, in Prism's order, with its cluster when known.
    all: Vec<RemoteSite>,
}

impl RemoteSites {
    /// Butler's name for the site Prism calls `site`: the cluster it
    /// points at, or the site's own name when it points at no known cluster.
    fn butler_name(&self, site: &str) -> String {
        self.to_cluster
            .get(site)
            .cloned()
            .unwrap_or_else(|| site.to_string())
    }

    /// Prism's name for the site Butler calls `name` (a cluster name; a
    /// site name that points at no known cluster is taken as it is).
    fn prism_name(&self, name: &str) -> String {
        self.to_site
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// `group` in Butler's vocabulary: the sites it replicates to and its
    /// schedules' sites named by their clusters.
    fn translate(&self, group: &mut ProtectionGroup) {
        for r in &mut group.remote_sites {
            *r = self.butler_name(r);
        }
        for s in &mut group.schedules {
            if let Some(site) = &mut s.remote_site {
                *site = self.butler_name(site);
            }
        }
    }
}

/// Prism answered with a shape Butler cannot read: a permanent error
/// naming what and where (serde's path), never a guess.
fn unreadable(op: &'static str, what: &str, e: serde_json::Error) -> BackendError {
    BackendError::new(
        ErrorKind::Permanent,
        op,
        format!("Prism returned a {what} Butler cannot read: {e}"),
    )
}

/// What an edit of a VM read from Prism found ([`NutanixBackend::update_vm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    /// The edited VM is to be sent.
    Put,
    /// The VM is as wanted already: nothing is sent.
    Nothing,
}

/// `group` names a remote site (as a replication target or in a schedule).
fn replicates(group: &ProtectionGroup) -> bool {
    !group.remote_sites.is_empty() || group.schedules.iter().any(|s| s.remote_site.is_some())
}

fn op_err(op: &'static str) -> impl Fn(NutanixError) -> BackendError {
    move |e| e.into_backend(op)
}

impl NutanixBackend {
    /// Clients for Prism Central and every configured Prism Element.
    pub fn new(config: &NutanixConfig) -> Result<NutanixBackend, NutanixError> {
        config
            .check_endpoints()
            .map_err(|e| NutanixError::new(ErrorKind::Invalid, None, e.to_string()))?;
        let requests = Arc::new(AtomicU64::new(0));
        let pc = PrismClient::new(
            &config.prism_central,
            Api::CentralV3,
            config,
            requests.clone(),
        )?;
        let v4 = PrismClient::new(
            &config.prism_central,
            Api::CentralV4,
            config,
            requests.clone(),
        )?;
        let mut pe = BTreeMap::new();
        for (name, ep) in &config.clusters {
            pe.insert(
                name.clone(),
                PrismClient::new(ep, Api::ElementV2, config, requests.clone())?,
            );
        }
        Ok(NutanixBackend {
            pc,
            v4,
            central_api: config.central_api,
            migration: config.migration,
            protection_category: config.protection_category.clone(),
            v4_probe: tokio::sync::OnceCell::new(),
            pe,
            page: config.page_size,
            list_concurrency: config.list_concurrency.max(1),
            max_entities: config.max_list_entities,
            requests,
        })
    }

    /// The clock the adapter waits on: its clients' (Prism's tasks run in
    /// real time).
    pub(crate) fn clock(&self) -> Arc<dyn butler_core::backend::Clock> {
        self.pc.clock()
    }

    /// The remote sites configured on `cluster`'s Prism Element, mapped to
    /// and from the clusters they point at (`GET /remote_sites`; a remote
    /// site's uuid is its cluster's uuid).
    async fn site_map(&self, cluster: &str, op: &'static str) -> Result<RemoteSites, BackendError> {
        let sites = self
            .pe(cluster, op)?
            .call(Method::GET, "/remote_sites", None, true)
            .await
            .map_err(op_err(op))?;
        let clusters = self.list_clusters().await?;
        let mut map = RemoteSites::default();
        for site in decode::entities(&sites) {
            let name = decode::s(site, &["name"]);
            let uuid = decode::s(site, &["uuid"]);
            let cluster = clusters.iter().find(|c| !uuid.is_empty() && c.uuid == uuid);
            if let Some(c) = cluster {
                map.to_cluster.insert(name.clone(), c.name.clone());
                map.to_site.insert(c.name.clone(), name.clone());
            }
            if !name.is_empty() {
                map.all
                    .push(RemoteSite::new(name, cluster.map(|c| c.name.clone())));
            }
        }
        Ok(map)
    }

    /// The storage containers of `cluster`, from its Prism Element
    /// (`GET /storage_containers`; Prism Central v3 has no such list).
    async fn storage_containers_of(
        &self,
        cluster: &str,
        op: &'static str,
    ) -> Result<Vec<StorageContainerInfo>, BackendError> {
        let resp = self
            .pe(cluster, op)?
            .call(Method::GET, "/storage_containers", None, true)
            .await
            .map_err(op_err(op))?;
        Ok(decode::entities(&resp)
            .iter()
            .map(|c| StorageContainerInfo {
                name: decode::s(c, &["name"]),
                uuid: decode::s(c, &["storage_container_uuid"]),
                cluster: cluster.to_string(),
            })
            .filter(|c| !c.name.is_empty() && !c.uuid.is_empty())
            .collect())
    }

    /// Changes a VM's metadata the way Prism wants it: GET the VM, drop
    /// `status`, edit `metadata`, PUT it back with the `spec_version` read
    /// (a 409 means someone changed it in between: read again, once), then
    /// wait for the task the PUT started.
    /// An ACPI reboot through the VM's Prism Element (v3 has no restart):
    /// `POST /vms/{uuid}/set_power_state {"transition": "ACPI_REBOOT"}`.
    /// Prism Element answers with a task of its own, which Prism Central
    /// does not list; the accepted request is the answer.
    async fn guest_restart(&self, vm_uuid: &str, op: &'static str) -> Result<(), BackendError> {
        let path = format!("/vms/{}", crate::url_safe::segment(vm_uuid, op)?);
        let vm = self
            .pc
            .call(Method::GET, &path, None, true)
            .await
            .map_err(op_err(op))?;
        let cluster = decode::s(&vm, &["status", "cluster_reference", "name"]);
        self.pe(&cluster, op)?
            .call(
                Method::POST,
                &format!(
                    "/vms/{}/set_power_state",
                    crate::url_safe::segment(vm_uuid, op)?
                ),
                Some(&json!({"transition": "ACPI_REBOOT"})),
                false,
            )
            .await
            .map_err(op_err(op))?;
        Ok(())
    }

    pub(crate) async fn update_vm_metadata(
        &self,
        vm_uuid: &str,
        op: &'static str,
        what: &str,
        edit: impl Fn(&mut serde_json::Map<String, Value>),
    ) -> Result<(), BackendError> {
        self.update_vm(vm_uuid, op, what, |vm| {
            // Checked by `update_vm` before this runs.
            if let Some(m) = vm.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                edit(m);
            }
            Ok(Update::Put)
        })
        .await
    }

    /// Reads the VM, lets `edit` change what it read (it sees `status`,
    /// which is dropped before sending), PUTs it back with the
    /// `spec_version` read (once more on a 409: the version moved
    /// meanwhile) and waits for the change's task; unless `edit` finds the
    /// VM as wanted already ([`Update::Nothing`]).
    pub(crate) async fn update_vm(
        &self,
        vm_uuid: &str,
        op: &'static str,
        what: &str,
        edit: impl Fn(&mut serde_json::Map<String, Value>) -> Result<Update, BackendError>,
    ) -> Result<(), BackendError> {
        let path = format!("/vms/{}", crate::url_safe::segment(vm_uuid, op)?);
        let mut tries = 0;
        let answer = loop {
            tries += 1;
            let mut vm = self
                .pc
                .call(Method::GET, &path, None, true)
                .await
                .map_err(op_err(op))?;
            let Some(obj) = vm.as_object_mut() else {
                return Err(BackendError::new(
                    ErrorKind::Permanent,
                    op,
                    "Prism returned a VM that is not an object",
                ));
            };
            // `IndexMut` on a JSON value panics unless it is an object:
            // check what Prism sent before writing into it.
            if !obj.get("metadata").is_some_and(Value::is_object) {
                return Err(BackendError::new(
                    ErrorKind::Permanent,
                    op,
                    "Prism returned a VM without metadata",
                ));
            }
            if edit(obj)? == Update::Nothing {
                return Ok(());
            }
            obj.remove("status");
            match self.pc.call(Method::PUT, &path, Some(&vm), false).await {
                Ok(a) => break a,
                Err(e) if e.status == Some(409) && tries < 2 => {
                    tracing::info!(
                        vm = vm_uuid,
                        "spec_version changed under us; reading the VM again"
                    );
                }
                Err(e) => return Err(e.into_backend(op)),
            }
        };
        // The PUT only starts the change: it is done when its task is.
        let Some(task) = decode::task_uuid(&answer) else {
            return Ok(());
        };
        let task = TaskId(task);
        for _ in 0..4 {
            let status = self
                .wait_task(&task, std::time::Duration::from_secs(20))
                .await?;
            match status.state {
                TaskState::Succeeded => return Ok(()),
                TaskState::Failed(why) => {
                    return Err(BackendError::new(
                        ErrorKind::Permanent,
                        op,
                        format!("{what} failed: {why}"),
                    ))
                }
                TaskState::Aborted => {
                    return Err(BackendError::new(
                        ErrorKind::Permanent,
                        op,
                        format!("{what} was aborted"),
                    ))
                }
                TaskState::Queued | TaskState::Running => {}
            }
        }
        Err(BackendError::new(
            ErrorKind::Timeout,
            op,
            format!("the task {what} is still running"),
        ))
    }

    /// Ensures the category `key` and its `value` exist (`PUT
    /// /categories/{key}` and `PUT /categories/{key}/{value}`: both create
    /// or keep, so repeating them is harmless).
    pub(crate) async fn ensure_category(
        &self,
        key: &str,
        value: &str,
        op: &'static str,
    ) -> Result<(), BackendError> {
        let k = crate::url_safe::segment(key, op)?;
        let v = crate::url_safe::segment(value, op)?;
        self.pc
            .call(
                Method::PUT,
                &format!("/categories/{k}"),
                Some(&json!({"name": key, "description": "set by Butler"})),
                true,
            )
            .await
            .map_err(op_err(op))?;
        self.pc
            .call(
                Method::PUT,
                &format!("/categories/{k}/{v}"),
                Some(&json!({"value": value, "description": "set by Butler"})),
                true,
            )
            .await
            .map_err(op_err(op))?;
        Ok(())
    }

    /// HTTP requests sent so far (all endpoints, logins and retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn pe(&self, cluster: &str, op: &'static str) -> Result<&PrismClient, BackendError> {
        self.pe.get(cluster).ok_or_else(|| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!(
                    "no Prism Element is configured for cluster {cluster:?} ([clusters.{cluster}])"
                ),
            )
        })
    }

    /// Every entity of `kind`. The first page tells `total_matches` and
    /// how many entities Prism serves a page (it may cap a page below the
    /// `length` asked: 50, 90 or 500 on real versions); the other pages are
    /// then fetched `list_concurrency` at a time, stepping by what was
    /// served, and read on from what was received while the total is not
    /// reached. Without a total (some PCs omit it) pages are read one by
    /// one until an empty page. An exact multiple of the page size costs no
    /// extra request when the total is known.
    pub(crate) async fn list_all(
        &self,
        kind: &str,
        filter: Option<String>,
    ) -> Result<Vec<Value>, NutanixError> {
        self.list_all_as::<Value>(kind, filter).await
    }

    /// The VMs on `cluster`, each entity decoded as `E` and read by `read`,
    /// which answers `None` for an entity on another cluster: the filter
    /// narrows the transfer, the check keeps us right if a PC ignores it.
    async fn vms_on<E: serde::de::DeserializeOwned + Send + 'static, T>(
        &self,
        cluster: &str,
        op: &'static str,
        read: impl FnMut(E) -> Option<T>,
    ) -> Result<Vec<T>, BackendError> {
        let all = self
            .list_all_as::<E>(
                "vm",
                crate::url_safe::fiql_plain(cluster).then(|| format!("cluster_name=={cluster}")),
            )
            .await
            .map_err(op_err(op))?;
        Ok(all.into_iter().filter_map(read).collect())
    }

    async fn list_all_as<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        kind: &str,
        filter: Option<String>,
    ) -> Result<Vec<T>, NutanixError> {
        use futures::{StreamExt, TryStreamExt};
        let path = format!("/{kind}s/list");
        let body = |offset: usize| {
            let mut b = json!({"kind": kind, "offset": offset, "length": self.page});
            if let Some(f) = &filter {
                b["filter"] = json!(f);
            }
            b
        };
        let first = self.pc.call_list::<T>(&path, &body(0)).await?;
        let total = first.metadata.total_matches;
        let mut out: Vec<T> = first.entities;
        let max = self.max_entities;
        let too_many = |n: u64| {
            NutanixError::new(
                ErrorKind::Permanent,
                None,
                format!("Prism lists {n} {kind}s or more, above max_list_entities = {max}"),
            )
        };
        if let Some(total) = total {
            // The claimed total is checked before anything is reserved or requested.
            if total > max as u64 {
                return Err(too_many(total));
            }
            // Pages as Prism serves them: it may cap a page below what was
            // asked (50, 90 or 500 on real versions), so the step is what
            // the first page held.
            let served = out.len();
            if served == 0 || out.len() as u64 >= total {
                return Ok(out);
            }
            let offsets = (1..)
                .map(move |i| i * served)
                .take_while(move |o| (*o as u64) < total);
            let pages: Vec<Vec<T>> = futures::stream::iter(offsets)
                .map(|o| {
                    let b = body(o);
                    let path = path.clone();
                    async move { self.pc.call_list::<T>(&path, &b).await.map(|a| a.entities) }
                })
                .buffered(self.list_concurrency)
                .try_collect()
                .await?;
            out.extend(pages.into_iter().flatten());
        } else if out.is_empty() {
            return Ok(out);
        }
        // Read on from what was received, one page at a time, until the
        // total (a later page shorter than the first) or, without a
        // total, an empty page (a short page may only be Prism trimming);
        // never past the entity bound.
        while total.is_none_or(|t| (out.len() as u64) < t) {
            let got = self
                .pc
                .call_list::<T>(&path, &body(out.len()))
                .await?
                .entities;
            if got.is_empty() {
                break;
            }
            out.extend(got);
            if out.len() > max {
                return Err(too_many(out.len() as u64));
            }
        }
        Ok(out)
    }

    async fn uuid_of(
        &self,
        kind: &str,
        name: &str,
        op: &'static str,
    ) -> Result<String, BackendError> {
        let all = self.list_all(kind, None).await.map_err(op_err(op))?;
        let uuids: Vec<String> = all
            .iter()
            .filter(|e| kind != "image" || decode::image_is_bootable_disk(e))
            .filter(|e| {
                decode::s(e, &["status", "name"]) == name || decode::s(e, &["spec", "name"]) == name
            })
            .map(|e| decode::s(e, &["metadata", "uuid"]))
            .collect();
        match uuids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("no {kind} named {name:?} in Prism Central"),
            )),
            many => Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                format!(
                    "{} {kind}s are named {name:?} in Prism Central ({}): rename one, Butler will not guess",
                    many.len(),
                    many.join(", ")
                ),
            )),
        }
    }
}

#[async_trait]
impl ClusterBackend for NutanixBackend {
    /// Prism Central v3 and Prism Element v2 offer every feature Butler
    /// uses; tasks long-poll through `/tasks/poll`. v4 adds request ids
    /// and, where the configuration moves VMs one by one, cross-cluster
    /// migration (cold and live) instead of protection domains' (Prism
    /// Central's API is known once first used: until then, v3's).
    fn capabilities(&self) -> Capabilities {
        // v3 takes no request id: a repeated create is found by its name;
        // v4's NTNX-Request-Id makes a repeat the same create.
        let v4 = match self.central_api {
            crate::config::CentralApi::V3 => false,
            crate::config::CentralApi::V4 => true,
            crate::config::CentralApi::Auto => self.v4_probe.get().copied().unwrap_or(false),
        };
        use butler_core::backend::Capability as C;
        // Migrations move protection domains, or (as configured, on v4)
        // one VM at a time with cross-cluster migrate: never both, so a
        // migration's path follows from the capabilities.
        let all = match (self.migration, v4) {
            (crate::config::MigrationPath::ProtectionDomains, _)
                if self.moves_protection_domains() =>
            {
                Capabilities::all()
                    .without(C::VmMigration)
                    .without(C::LiveMigration)
            }
            // Protected by policy: no domain to migrate (recovery plans
            // would move them: not built).
            (crate::config::MigrationPath::ProtectionDomains, _) => Capabilities::all()
                .without(C::Migration)
                .without(C::VmMigration)
                .without(C::LiveMigration),
            (crate::config::MigrationPath::VmByVm, true) => {
                Capabilities::all().without(C::Migration)
            }
            // Recovery plans move the policy's category, live where asked.
            (crate::config::MigrationPath::RecoveryPlans, true) => {
                Capabilities::all().without(C::VmMigration)
            }
            // v3 has no cross-cluster migrate and no recovery plan actions:
            // no migration at all.
            (
                crate::config::MigrationPath::VmByVm | crate::config::MigrationPath::RecoveryPlans,
                false,
            ) => Capabilities::all()
                .without(C::Migration)
                .without(C::VmMigration)
                .without(C::LiveMigration),
        };
        if v4 {
            all
        } else {
            all.without(C::IdempotentCreate)
        }
    }

    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_clusters().await;
        }
        let all = self
            .list_all("cluster", None)
            .await
            .map_err(op_err("list_clusters"))?;
        Ok(all
            .iter()
            .filter(|e| !decode::is_prism_central(e))
            .map(decode::cluster)
            .collect())
    }

    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError> {
        let all = self
            .list_all("project", None)
            .await
            .map_err(op_err("list_projects"))?;
        let needs_names = all.iter().any(|p| {
            ["cluster_reference_list", "subnet_reference_list"]
                .iter()
                .any(|k| {
                    decode::at(p, &["spec", "resources", k])
                        .as_array()
                        .is_some_and(|l| l.iter().any(|r| decode::s(r, &["name"]).is_empty()))
                })
        });
        let unrestricted = all.iter().any(|p| !decode::project_lists_clusters(p));
        let mut names = BTreeMap::new();
        let mut every_cluster = Vec::new();
        if needs_names || unrestricted {
            for c in self.list_clusters().await? {
                every_cluster.push(c.name.clone());
                names.insert(c.uuid, c.name);
            }
            for s in self.list_subnets().await? {
                names.insert(s.uuid, s.name);
            }
        }
        Ok(all
            .iter()
            .map(|p| {
                let mut project = decode::project(p, &|u| names.get(u).cloned());
                if !decode::project_lists_clusters(p) {
                    project.clusters = every_cluster.clone();
                }
                project
            })
            .collect())
    }

    async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_subnets().await;
        }
        let all = self
            .list_all("subnet", None)
            .await
            .map_err(op_err("list_subnets"))?;
        // An OVERLAY subnet belongs to a VPC, not to the clusters: a VM's
        // NIC on it needs a VPC Butler's v3 path does not place, so it is
        // not offered (its lack of a cluster reference would offer it to
        // every cluster).
        let (overlay, all): (Vec<Value>, Vec<Value>) =
            all.into_iter().partition(decode::subnet_is_overlay);
        if !overlay.is_empty() {
            tracing::debug!(
                count = overlay.len(),
                "overlay (VPC) subnets left out of the catalog's VLANs"
            );
        }
        let mut subnets: Vec<SubnetInfo> = all.iter().map(decode::subnet).collect();
        // A cluster reference without its name: name it from the clusters.
        let unnamed: Vec<(usize, String)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| subnets.get(*i).is_some_and(|s| s.cluster.is_none()))
            .map(|(i, e)| (i, decode::s(e, &["status", "cluster_reference", "uuid"])))
            .filter(|(_, uuid)| !uuid.is_empty())
            .collect();
        if !unnamed.is_empty() {
            let clusters = self.list_clusters().await?;
            for (i, uuid) in unnamed {
                let name = clusters
                    .iter()
                    .find(|c| c.uuid == uuid)
                    .map(|c| c.name.clone());
                if let Some(s) = subnets.get_mut(i) {
                    // Unknown uuid: keep it, so the subnet fits no cluster
                    // rather than every cluster.
                    s.cluster = Some(name.unwrap_or(uuid));
                }
            }
        }
        Ok(subnets)
    }

    async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError> {
        Ok(self
            .list_all("image", None)
            .await
            .map_err(op_err("list_images"))?
            .iter()
            .filter(|e| decode::image_is_bootable_disk(e))
            .map(decode::image)
            .collect())
    }

    async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_list_vms(cluster).await;
        }
        self.vms_on(cluster, "list_vms", |e: decode::VmEntity| {
            Some(e.into_info()).filter(|v| v.cluster == cluster)
        })
        .await
    }

    async fn list_vm_briefs(&self, cluster: &str) -> Result<Vec<VmBrief>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_list_vm_briefs(cluster).await;
        }
        let mut briefs = decode::ClusterBriefs::on(cluster);
        self.vms_on(cluster, "list_vm_briefs", |e| briefs.read(e))
            .await
    }

    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_find_vm(name).await;
        }
        let all = self
            .list_all_as::<decode::VmEntity>(
                "vm",
                crate::url_safe::fiql_plain(name).then(|| format!("vm_name=={name}")),
            )
            .await
            .map_err(op_err("find_vm"))?;
        Ok(all
            .into_iter()
            .map(decode::VmEntity::into_info)
            .find(|v| v.name == name))
    }

    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError> {
        let op = "create_vm";
        let cluster = self.uuid_of("cluster", &vm.cluster, op).await?;
        let project = self.uuid_of("project", &vm.project, op).await?;
        let subnets = self.list_subnets().await?;
        let mut nics = Vec::new();
        for n in &vm.nics {
            // The subnet of that name on the VM's cluster (or one every
            // cluster may use): real Prism has one name on several clusters.
            let fits: Vec<&SubnetInfo> = subnets
                .iter()
                .filter(|s| &s.name == n)
                .filter(|s| s.cluster.as_ref().is_none_or(|c| *c == vm.cluster))
                .collect();
            let s =
                match fits.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(BackendError::new(
                            ErrorKind::Invalid,
                            op,
                            format!("no subnet named {n:?} on cluster {:?}", vm.cluster),
                        ))
                    }
                    many => {
                        return Err(BackendError::new(
                            ErrorKind::Invalid,
                            op,
                            format!(
                            "{} subnets named {n:?} may be used on cluster {:?} ({}); rename one",
                            many.len(),
                            vm.cluster,
                            many.iter().map(|s| s.uuid.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                        ))
                    }
                };
            nics.push(json!({"subnet_reference": {"kind": "subnet", "uuid": s.uuid, "name": s.name}, "is_connected": true}));
        }
        let image = match &vm.image {
            Some(i) => Some(self.uuid_of("image", i, op).await?),
            None => None,
        };
        // The disk type's container on this cluster: the bill names the
        // disk type, so the disks must really be there.
        let container = match &vm.storage_container {
            None => None,
            Some(name) => {
                let all = self.storage_containers_of(&vm.cluster, op).await?;
                let found: Vec<&StorageContainerInfo> =
                    all.iter().filter(|c| &c.name == name).collect();
                match found.as_slice() {
                    [one] => Some(one.uuid.clone()),
                    [] => {
                        return Err(BackendError::new(
                            ErrorKind::Invalid,
                            op,
                            format!(
                                "no storage container named {name:?} on cluster {:?}",
                                vm.cluster
                            ),
                        ))
                    }
                    many => {
                        return Err(BackendError::new(
                            ErrorKind::Invalid,
                            op,
                            format!(
                            "{} storage containers are named {name:?} on cluster {:?}; rename one",
                            many.len(),
                            vm.cluster
                        ),
                        ))
                    }
                }
            }
        };
        if self.uses_v4().await? {
            let placement = crate::v4::Placement {
                cluster,
                project,
                subnets: nics
                    .iter()
                    .map(|n| decode::s(n, &["subnet_reference", "uuid"]))
                    .collect(),
                image,
                container,
            };
            return self.v4_create(vm, &placement).await;
        }
        let mut disks = Vec::new();
        for (i, size) in vm.disks_gib.iter().enumerate() {
            let mut d = json!({"device_properties": {"device_type": "DISK", "disk_address": {"adapter_type": "SCSI", "device_index": i}},
                               "disk_size_mib": u64::from(*size) * 1024});
            if let Some(ctr) = &container {
                d["storage_config"] = json!({"storage_container_reference": {"kind": "storage_container", "uuid": ctr}});
            }
            if let (0, Some(img)) = (i, &image) {
                d["data_source_reference"] = json!({"kind": "image", "uuid": img});
            }
            disks.push(d);
        }
        if vm.cdrom {
            disks.push(json!({"device_properties": {"device_type": "CDROM", "disk_address": {"adapter_type": "IDE", "device_index": 0}}}));
        }
        let mut categories = serde_json::Map::new();
        if let Some((k, v)) = vm.category.split_once(':') {
            categories.insert(k.to_string(), json!(v));
        }
        let body = json!({
            "api_version": "3.1",
            "metadata": {"kind": "vm", "project_reference": {"kind": "project", "uuid": project}, "categories": categories},
            "spec": {
                "name": vm.name,
                "description": "created by butler",
                "cluster_reference": {"kind": "cluster", "uuid": cluster},
                "resources": {
                    "num_sockets": vm.sockets, "num_vcpus_per_socket": vm.cores_per_socket, "num_threads_per_core": 1,
                    "memory_size_mib": u64::from(vm.ram_gib) * 1024,
                    "power_state": if vm.power_on { "ON" } else { "OFF" },
                    "boot_config": {"boot_type": if vm.uefi { "UEFI" } else { "LEGACY" }},
                    "disk_list": disks,
                    "nic_list": nics,
                }
            }
        });
        // Never retried blindly: the caller looks the VM up by name first.
        let resp = self
            .pc
            .call(Method::POST, "/vms", Some(&body), false)
            .await
            .map_err(op_err(op))?;
        decode::task_uuid(&resp).map(TaskId).ok_or_else(|| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                "Prism accepted the VM but returned no task_uuid",
            )
        })
    }

    async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError> {
        if let Some((job, made)) = crate::v4_recovery::job_of_task(id) {
            return self.plan_job_status(job, made).await;
        }
        if crate::v4::is_v4_task(id) {
            return self.v4_task(id).await;
        }
        let resp = self
            .pc
            .call(
                Method::GET,
                &format!("/tasks/{}", crate::url_safe::segment(&id.0, "task")?),
                None,
                true,
            )
            .await
            .map_err(op_err("task"))?;
        Ok(decode::task(&resp))
    }

    async fn wait_task(
        &self,
        id: &TaskId,
        max_wait: std::time::Duration,
    ) -> Result<TaskStatus, BackendError> {
        if crate::v4_recovery::job_of_task(id).is_some() {
            return self.task(id).await;
        }
        if crate::v4::is_v4_task(id) {
            return self.v4_wait_task(id, max_wait).await;
        }
        // `/tasks/poll` holds the request until the task ends or the timeout
        // (at most 30 s) passes: fewer requests than polling `/tasks/{uuid}`.
        let secs = max_wait.as_secs().min(30);
        let body = json!({"task_uuid_list": [id.0], "poll_timeout_seconds": secs});
        let resp = self
            .pc
            .call(Method::POST, "/tasks/poll", Some(&body), true)
            .await
            .map_err(op_err("task"))?;
        match decode::entities(&resp)
            .iter()
            .find(|t| decode::s(t, &["uuid"]) == id.0)
        {
            Some(t) => Ok(decode::task(t)),
            // Timed out without news: ask directly.
            None => self.task(id).await,
        }
    }

    /// By policy, one look-up of the VM by name; else the cluster's
    /// protection domains, filtered.
    async fn protection_groups_of(
        &self,
        cluster: &str,
        vm_name: &str,
    ) -> Result<Vec<String>, BackendError> {
        if let Some(category) = &self.protection_category {
            return self.policy_groups_of(category, vm_name).await;
        }
        Ok(butler_core::backend::groups_holding(
            self.list_protection_groups(cluster).await?,
            vm_name,
        ))
    }

    async fn list_protection_groups(
        &self,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        if let Some(category) = &self.protection_category {
            return self.policy_groups(category, cluster).await;
        }
        let op = "list_protection_groups";
        let resp = self
            .pe(cluster, op)?
            .get_list::<decode::PdEntity>("/protection_domains/?include_deleted=false")
            .await
            .map_err(op_err(op))?;
        let mut groups: Vec<ProtectionGroup> = resp
            .entities
            .into_iter()
            .map(|p| p.into_group(cluster))
            .collect();
        // PDs and their schedules name remote sites as this PE does;
        // Butler names them by the cluster they point at (a site that
        // matches no cluster keeps its own name and matches nothing).
        if groups.iter().any(replicates) {
            let sites = self.site_map(cluster, op).await?;
            for g in &mut groups {
                sites.translate(g);
            }
        }
        Ok(groups)
    }

    async fn remote_sites(&self, cluster: &str) -> Result<Vec<RemoteSite>, BackendError> {
        Ok(self.site_map(cluster, "remote_sites").await?.all)
    }

    async fn protect_vm(
        &self,
        cluster: &str,
        req: &ProtectRequest,
    ) -> Result<String, BackendError> {
        if let Some(category) = &self.protection_category {
            return self.policy_protect(category, cluster, req).await;
        }
        let op = "protect_vm";
        let pe = self.pe(cluster, op)?;
        match pe
            .call(
                Method::POST,
                "/protection_domains",
                Some(&json!({"value": req.group})),
                false,
            )
            .await
        {
            Ok(_) => {}
            // 422 saying it exists: the protection domain exists already
            // (idempotent create). A 422 for any other reason is Prism's
            // refusal, passed on with its words.
            Err(e)
                if e.status == Some(422) && e.message.to_ascii_lowercase().contains("exists") => {}
            Err(e) => return Err(e.into_backend(op)),
        }
        let body = json!({"names": [req.vm_name], "ignore_dup_or_missing_vms": true});
        pe.call(
            Method::POST,
            &format!(
                "/protection_domains/{}/protect_vms",
                crate::url_safe::segment(&req.group, "protect_vm")?
            ),
            Some(&body),
            true,
        )
        .await
        .map_err(op_err(op))?;
        // Prism skips, without a word, a VM it cannot add (and a 422 on the
        // create above may hide a real refusal): read the domain back, by
        // name (one domain, not the cluster's whole list: protecting VM
        // number n must not read n domains).
        let pd = match pe
            .call(
                Method::GET,
                &format!(
                    "/protection_domains/{}",
                    crate::url_safe::segment(&req.group, "protect_vm")?
                ),
                None,
                true,
            )
            .await
        {
            Ok(v) => decode::protection_domain(&v, cluster)
                .map_err(|e| unreadable(op, "protection domain", e))?,
            Err(e) if e.status == Some(404) => {
                return Err(BackendError::new(
                    ErrorKind::Permanent,
                    op,
                    format!(
                        "protection domain {:?} is not on {cluster} after creating it",
                        req.group
                    ),
                ))
            }
            Err(e) => return Err(e.into_backend(op)),
        };
        if !pd.vms.iter().any(|v| **v == *req.vm_name) {
            return Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!(
                    "Prism did not add VM {:?} to protection domain {:?} (missing, or protected by another domain)",
                    req.vm_name, req.group
                ),
            ));
        }
        let existing = pe
            .call(
                Method::GET,
                &format!(
                    "/protection_domains/{}/schedules",
                    crate::url_safe::segment(&req.group, "protect_vm")?
                ),
                None,
                true,
            )
            .await
            .map_err(op_err(op))?;
        let mut have = decode::protection_domain(&json!({"cron_schedules": existing.get("entities").cloned().unwrap_or(existing.clone())}), cluster)
            .map_err(|e| unreadable(op, "schedule list", e))?;
        // Schedules name remote sites by cluster (Butler's vocabulary);
        // this PE names them its own way, on the wire and in what it holds.
        let sites = if req.schedules.iter().any(|s| s.remote_site.is_some()) || replicates(&have) {
            self.site_map(cluster, op).await?
        } else {
            RemoteSites::default()
        };
        sites.translate(&mut have);
        for s in req.schedules.iter().filter(|s| !have.schedules.contains(s)) {
            let (ty, nth) = if s.every_minutes % 1440 == 0 {
                ("DAILY", s.every_minutes / 1440)
            } else if s.every_minutes % 60 == 0 {
                ("HOURLY", s.every_minutes / 60)
            } else {
                ("MINUTELY", s.every_minutes)
            };
            let retention = match (&s.kind, &s.remote_site) {
                (ScheduleKind::Remote, Some(site)) => {
                    json!({"local_max_snapshots": 1, "remote_max_snapshots": {sites.prism_name(site): s.retention}})
                }
                _ => json!({"local_max_snapshots": s.retention}),
            };
            let body = json!({"pd_name": req.group, "type": ty, "every_nth": nth, "user_start_time_in_usecs": 0, "app_consistent": false, "retention_policy": retention});
            pe.call(
                Method::POST,
                &format!(
                    "/protection_domains/{}/schedules",
                    crate::url_safe::segment(&req.group, "protect_vm")?
                ),
                Some(&body),
                false,
            )
            .await
            .map_err(op_err(op))?;
        }
        Ok(req.group.clone())
    }

    /// By recovery plan where so configured (its failover job the move's
    /// task, live where asked); else a protection domain's cold migrate.
    async fn move_protection_group(
        &self,
        source: &str,
        group: &str,
        to: &butler_core::backend::VmMove,
    ) -> Result<Option<TaskId>, BackendError> {
        if self.migration == crate::config::MigrationPath::RecoveryPlans {
            return self.plan_failover(source, group, to).await;
        }
        if to.live {
            return Err(BackendError::unsupported(
                "move_protection_group",
                butler_core::backend::Capability::LiveMigration,
            ));
        }
        self.migrate_protection_group(source, group, &to.destination)
            .await
            .map(|()| None)
    }

    async fn migrate_protection_group(
        &self,
        source: &str,
        group: &str,
        destination: &str,
    ) -> Result<(), BackendError> {
        let op = "migrate_protection_group";
        if self.migration == crate::config::MigrationPath::RecoveryPlans {
            let to = butler_core::backend::VmMove::cold(destination);
            return self.plan_failover(source, group, &to).await.map(drop);
        }
        // Configured to move VMs one by one, or to protect by policy,
        // protection domains stay put.
        if !self.moves_protection_domains() {
            return Err(BackendError::unsupported(
                op,
                butler_core::backend::Capability::Migration,
            ));
        }
        // Prism migrates to a remote site, named as the source PE names it.
        let sites = self.site_map(source, op).await?;
        let Some(site) = sites.to_site.get(destination) else {
            return Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("{source} has no remote site pointing at cluster {destination}"),
            ));
        };
        // Per protection domain, on the source, to the remote-site name; no
        // task id comes back. A 200 with a non-empty list is a refusal.
        let answer = self
            .pe(source, op)?
            .call(
                Method::POST,
                &format!(
                    "/protection_domains/{}/migrate",
                    crate::url_safe::segment(group, op)?
                ),
                Some(&json!({"value": site})),
                false,
            )
            .await
            .map_err(op_err(op))?;
        match decode::migrate_refusal(&answer) {
            None => Ok(()),
            Some(reasons) => Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("Prism refused to migrate protection domain {group:?}: {reasons}"),
            )),
        }
    }

    async fn migrate_vm(&self, vm_uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        self.offers_move(to, "migrate_vm").await?;
        self.v4_migrate(vm_uuid, to).await
    }

    async fn check_vm_migration(
        &self,
        vm_uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        self.offers_move(to, "check_vm_migration").await?;
        self.v4_check_migration(vm_uuid, to).await
    }

    async fn check_vm_migrations(
        &self,
        vm_names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        self.offers_move(to, "check_vm_migrations").await?;
        self.v4_check_migrations(vm_names, to).await
    }

    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        let op = "set_vm_project";
        let project_uuid = self.uuid_of("project", project, op).await?;
        if self.uses_v4().await? {
            return self.v4_set_project(vm_uuid, &project_uuid, project).await;
        }
        let reference = json!({"kind": "project", "uuid": project_uuid, "name": project});
        self.update_vm_metadata(
            vm_uuid,
            op,
            &format!("moving the VM to project {project:?}"),
            |m| {
                m.insert("project_reference".into(), reference.clone());
            },
        )
        .await
    }

    /// PE v2 `POST /protection_domains/{group}/unprotect_vms` with the
    /// list of names as the body (a JSON array, not an object).
    async fn unprotect_vm(
        &self,
        cluster: &str,
        group: &str,
        vm_name: &str,
    ) -> Result<(), BackendError> {
        if let Some(category) = &self.protection_category {
            return self.policy_unprotect(category, group, vm_name).await;
        }
        let op = "unprotect_vm";
        let pe = self.pe(cluster, op)?;
        let path = format!(
            "/protection_domains/{}/unprotect_vms",
            crate::url_safe::segment(group, op)?
        );
        // Not retried blindly: the flow looks the domain up again first.
        pe.call(Method::POST, &path, Some(&json!([vm_name])), false)
            .await
            .map_err(op_err(op))?;
        Ok(())
    }

    /// v3 `DELETE /vms/{uuid}`: 202 with `DELETE_PENDING` and the task.
    async fn delete_vm(&self, vm_uuid: &str) -> Result<TaskId, BackendError> {
        if self.uses_v4().await? {
            return self.v4_delete(vm_uuid).await;
        }
        let op = "delete_vm";
        let path = format!("/vms/{}", crate::url_safe::segment(vm_uuid, op)?);
        let answer = self
            .pc
            .call(Method::DELETE, &path, None, false)
            .await
            .map_err(op_err(op))?;
        decode::task_uuid(&answer).map(TaskId).ok_or_else(|| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                "Prism accepted the delete without naming its task",
            )
        })
    }

    /// v3 read-edit-PUT of `spec.resources`: sockets, cores per socket and
    /// memory; each `DISK` of `disk_list` grown in order (never shrunk)
    /// and new disks appended on the first disk's storage container; NICs
    /// kept when their subnet is still wanted, new ones appended. Prism
    /// refuses what AHV cannot do while the VM runs.
    async fn reconfigure_vm(&self, vm_uuid: &str, to: &VmReconfig) -> Result<(), BackendError> {
        let op = "reconfigure_vm";
        let cluster = match self.uses_v4().await? {
            true => self.v4_cluster_of(vm_uuid, op).await?,
            false => {
                let path = format!("/vms/{}", crate::url_safe::segment(vm_uuid, op)?);
                let current = self
                    .pc
                    .call(Method::GET, &path, None, true)
                    .await
                    .map_err(op_err(op))?;
                decode::vm(&current)
                    .map_err(|e| {
                        BackendError::new(ErrorKind::Permanent, op, format!("unreadable VM: {e}"))
                    })?
                    .cluster
            }
        };
        let subnets = self.list_subnets().await?;
        let mut wanted = Vec::new();
        for n in &to.nics {
            let fits: Vec<&SubnetInfo> = subnets
                .iter()
                .filter(|s| &s.name == n && s.cluster.as_ref().is_none_or(|c| *c == cluster))
                .collect();
            match fits.as_slice() {
                [one] => wanted.push((one.uuid.clone(), one.name.clone())),
                [] => {
                    return Err(BackendError::new(
                        ErrorKind::Invalid,
                        op,
                        format!("no subnet named {n:?} on cluster {cluster:?}"),
                    ))
                }
                _ => {
                    return Err(BackendError::new(
                        ErrorKind::Invalid,
                        op,
                        format!("several subnets named {n:?} on cluster {cluster:?}; rename one"),
                    ))
                }
            }
        }
        if self.uses_v4().await? {
            let ids: Vec<String> = wanted.into_iter().map(|(id, _)| id).collect();
            return self.v4_reconfigure(vm_uuid, to, &ids).await;
        }
        self.update_vm(vm_uuid, op, "reconfigure", |vm| {
            let resources = resources_of(vm, op)?;
            resources.insert("num_sockets".into(), json!(to.sockets));
            resources.insert("num_vcpus_per_socket".into(), json!(to.cores_per_socket));
            resources.insert(
                "memory_size_mib".into(),
                json!(u64::from(to.ram_gib) * 1024),
            );
            resize_disks(resources, &to.disks_gib);
            rewire_nics(resources, &wanted);
            Ok(Update::Put)
        })
        .await
    }

    async fn set_power(&self, vm_uuid: &str, change: PowerChange) -> Result<(), BackendError> {
        if self.uses_v4().await? {
            return self.v4_set_power(vm_uuid, change).await;
        }
        let op = "set_power";
        let (state, mechanism) = match change {
            PowerChange::On => ("ON", None),
            PowerChange::HardOff => ("OFF", Some("HARD")),
            PowerChange::GuestShutdown => ("OFF", Some("ACPI")),
            PowerChange::GuestRestart => return self.guest_restart(vm_uuid, op).await,
            other => {
                return Err(BackendError::new(
                    ErrorKind::Unsupported,
                    op,
                    format!("power change {other} is not known to this adapter"),
                ))
            }
        };
        // v3: the wanted state in the spec (and how to get there); Prism
        // bumps `spec_version` on every power change, which `update_vm`
        // reads afresh.
        self.update_vm(vm_uuid, op, &format!("power {change}"), |vm| {
            // In that state already, and not on its way elsewhere: nothing
            // to ask (Prism fails a power-off of an off VM).
            let said = |part: &str| {
                decode::s(
                    vm.get(part).unwrap_or(&Value::Null),
                    &["resources", "power_state"],
                )
                .eq_ignore_ascii_case(state)
            };
            if said("spec") && said("status") {
                return Ok(Update::Nothing);
            }
            let resources = resources_of(vm, op)?;
            resources.insert("power_state".into(), json!(state));
            match mechanism {
                Some(m) => {
                    resources.insert("power_state_mechanism".into(), json!({"mechanism": m}));
                }
                None => {
                    resources.remove("power_state_mechanism");
                }
            }
            Ok(Update::Put)
        })
        .await
    }

    async fn list_storage_containers(&self) -> Result<Vec<StorageContainerInfo>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_storage_containers().await;
        }
        use futures::{StreamExt, TryStreamExt};
        let lists: Vec<Vec<StorageContainerInfo>> =
            futures::stream::iter(self.pe.keys().cloned().collect::<Vec<_>>())
                .map(|c| async move {
                    self.storage_containers_of(&c, "list_storage_containers")
                        .await
                })
                .buffered(self.list_concurrency)
                .try_collect()
                .await?;
        Ok(lists.into_iter().flatten().collect())
    }

    async fn category_values(&self, key: &str) -> Result<Vec<String>, BackendError> {
        if self.uses_v4().await? {
            return self.v4_category_values(key).await;
        }
        let op = "category_values";
        let path = format!("/categories/{}/list", crate::url_safe::segment(key, op)?);
        let mut values = Vec::new();
        loop {
            let body = json!({"kind": "category", "offset": values.len(), "length": self.page});
            let resp = match self.pc.call(Method::POST, &path, Some(&body), true).await {
                Ok(r) => r,
                // No such key: none of its values exist.
                Err(e) if e.status == Some(404) => return Ok(Vec::new()),
                Err(e) => return Err(e.into_backend(op)),
            };
            let got = decode::entities(&resp);
            values.extend(
                got.iter()
                    .map(|v| decode::s(v, &["value"]))
                    .filter(|v| !v.is_empty()),
            );
            let total = decode::at(&resp, &["metadata", "total_matches"]).as_u64();
            // Read by what was received: a capped page is not the end
            // while the total says more.
            let done = total.is_some_and(|t| values.len() as u64 >= t);
            if got.is_empty() || done {
                return Ok(values);
            }
            if values.len() > self.max_entities {
                return Err(BackendError::new(
                    ErrorKind::Permanent,
                    op,
                    format!(
                        "category {key:?} lists more than {} values",
                        self.max_entities
                    ),
                ));
            }
        }
    }
}

/// `disk_list` with its `DISK` entries grown to `sizes_gib` in order (a
/// disk never shrinks) and the extra sizes appended as new disks, on the
/// first disk's storage container; CD-ROMs are left as they are.
fn resize_disks(resources: &mut serde_json::Map<String, Value>, sizes_gib: &[u32]) {
    let list = resources.entry("disk_list").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    let is_disk = |d: &Value| decode::s(d, &["device_properties", "device_type"]) == "DISK";
    let storage = list
        .iter()
        .find(|d| is_disk(d))
        .and_then(|d| d.get("storage_config").cloned());
    let mut sizes = sizes_gib.iter();
    let mut disks = 0;
    for d in list.iter_mut().filter(|d| is_disk(d)) {
        disks += 1;
        let Some(want) = sizes.next() else { break };
        let want = u64::from(*want) * 1024;
        let have = d.get("disk_size_mib").and_then(Value::as_u64).unwrap_or(0);
        if let Some(o) = d.as_object_mut() {
            if want > have {
                o.insert("disk_size_mib".into(), json!(want));
                // Prism reads bytes before MiB when both are sent.
                o.remove("disk_size_bytes");
            }
        }
    }
    for (i, size) in sizes.enumerate() {
        let mut d = json!({"device_properties": {"device_type": "DISK", "disk_address": {"adapter_type": "SCSI", "device_index": disks + i}},
                           "disk_size_mib": u64::from(*size) * 1024});
        if let Some(s) = &storage {
            d["storage_config"] = s.clone();
        }
        list.push(d);
    }
}

/// `nic_list` keeping each NIC whose subnet (by uuid, or by name where
/// Prism left the uuid out) is still wanted, once, then new NICs for the
/// wanted subnets not kept, in order.
fn rewire_nics(resources: &mut serde_json::Map<String, Value>, wanted: &[(String, String)]) {
    let old = match resources.remove("nic_list") {
        Some(Value::Array(l)) => l,
        _ => Vec::new(),
    };
    let mut left: Vec<&(String, String)> = wanted.iter().collect();
    let mut nics = Vec::new();
    for n in old {
        let uuid = decode::s(&n, &["subnet_reference", "uuid"]);
        let name = decode::s(&n, &["subnet_reference", "name"]);
        let hit = left
            .iter()
            .position(|(u, m)| (!uuid.is_empty() && *u == uuid) || (uuid.is_empty() && *m == name));
        if let Some(i) = hit {
            left.remove(i);
            nics.push(n);
        }
    }
    for (uuid, name) in left {
        nics.push(json!({"subnet_reference": {"kind": "subnet", "uuid": uuid, "name": name}, "is_connected": true}));
    }
    resources.insert("nic_list".into(), Value::Array(nics));
}

/// The `spec.resources` object of a VM read for a PUT.
fn resources_of<'a>(
    vm: &'a mut serde_json::Map<String, Value>,
    op: &'static str,
) -> Result<&'a mut serde_json::Map<String, Value>, BackendError> {
    vm.get_mut("spec")
        .and_then(|s| s.as_object_mut())
        .and_then(|s| s.get_mut("resources"))
        .and_then(|r| r.as_object_mut())
        .ok_or_else(|| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                "Prism returned a VM without spec.resources",
            )
        })
}

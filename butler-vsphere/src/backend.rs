//! [`VsphereBackend`]: Butler's [`ClusterBackend`] on vCenter.

use crate::config::VsphereConfig;
use crate::error::VsphereError;
use crate::inventory::{self, VM_PATHS};
use crate::soap::Soap;
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Capabilities, Capability, Clock, ClusterBackend, ClusterInfo, ImageInfo,
    PowerChange, ProjectInfo, StorageContainerInfo, SubnetInfo, TaskId, TaskStatus, VmCreate,
    VmInfo, VmMove, VmReconfig,
};
use std::sync::Arc;

/// The custom attribute that holds a VM's project.
pub const PROJECT_FIELD: &str = "Project";

/// Butler's cluster backend on a vCenter.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use butler_core::backend::ClusterBackend;
/// let config = butler_vsphere::VsphereConfig::from_path("vsphere.toml".as_ref())?;
/// let vcenter = butler_vsphere::VsphereBackend::new(&config)?;
/// for c in vcenter.list_clusters().await? {
///     println!("{}", c.name);
/// }
/// vcenter.logout().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct VsphereBackend {
    pub(crate) soap: Soap,
    pub(crate) config: VsphereConfig,
}

impl VsphereBackend {
    /// A backend for the configured vCenter, waiting on the system clock.
    pub fn new(config: &VsphereConfig) -> Result<VsphereBackend, VsphereError> {
        Self::with_clock(config, Arc::new(butler_core::backend::SystemClock))
    }

    /// A backend waiting (between retries and task reads) on `clock`.
    pub fn with_clock(
        config: &VsphereConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<VsphereBackend, VsphereError> {
        Ok(VsphereBackend {
            soap: Soap::new(config, clock)?,
            config: config.clone(),
        })
    }

    /// Ends the vCenter session (vCenter keeps few per user); the next
    /// call logs in again.
    pub async fn logout(&self) -> Result<(), BackendError> {
        self.soap
            .logout()
            .await
            .map_err(|e| e.into_backend("logout"))
    }

    /// The current vCenter session's key, if logged in.
    pub fn session_key(&self) -> Option<String> {
        self.soap.session_key()
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.soap.requests()
    }

    /// Logins so far (the first, and one per session vCenter ended).
    pub fn logins(&self) -> u64 {
        self.soap.logins()
    }
}

fn op(operation: &'static str) -> impl Fn(VsphereError) -> BackendError {
    move |e| e.into_backend(operation)
}

#[async_trait]
impl ClusterBackend for VsphereBackend {
    /// No protection groups (so no protection-group migration: VMs move
    /// one by one), no long-polled tasks and no request ids on creates;
    /// everything else.
    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
            .without(Capability::Protection)
            .without(Capability::Migration)
            .without(Capability::TaskLongPoll)
            .without(Capability::IdempotentCreate)
    }

    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError> {
        let w = self.world().await.map_err(op("list_clusters"))?;
        Ok(w.clusters
            .into_iter()
            .map(|c| ClusterInfo {
                name: c.name,
                uuid: c.moref.value,
            })
            .collect())
    }

    /// The projects of the configuration, each with the clusters and port
    /// groups it names that vCenter has.
    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError> {
        let w = self.world().await.map_err(op("list_projects"))?;
        Ok(self
            .config
            .projects
            .iter()
            .map(|(name, p)| ProjectInfo {
                name: name.clone(),
                uuid: name.clone(),
                clusters: p
                    .clusters
                    .iter()
                    .filter(|c| w.cluster(c).is_some())
                    .cloned()
                    .collect(),
                subnets: p
                    .port_groups
                    .iter()
                    .filter(|g| w.nets.iter().any(|n| &n.name == *g))
                    .cloned()
                    .collect(),
            })
            .collect())
    }

    /// One subnet per port group a cluster reaches (uplinks left out).
    async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError> {
        let w = self.world().await.map_err(op("list_subnets"))?;
        let mut out = Vec::new();
        for c in &w.clusters {
            for n in w
                .nets
                .iter()
                .filter(|n| !n.uplink && c.networks.contains(&n.moref))
            {
                out.push(SubnetInfo {
                    name: n.name.clone(),
                    uuid: n.moref.value.clone(),
                    vlan_id: n.vlan,
                    cluster: Some(c.name.clone()),
                });
            }
        }
        Ok(out)
    }

    /// Templates, sized by their disks.
    async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError> {
        let root = self
            .soap
            .service()
            .await
            .map_err(op("list_images"))?
            .root_folder
            .clone();
        let all = self
            .vm_objects(
                &root,
                &["name", "config.template", "config.hardware.device"],
            )
            .await
            .map_err(op("list_images"))?;
        Ok(all
            .iter()
            .filter(|o| o.text("config.template") == "true")
            .map(|o| {
                let kb: i64 = o
                    .prop("config.hardware.device")
                    .map(|d| {
                        d.children
                            .iter()
                            .filter(|d| inventory::is_disk(d))
                            .filter_map(|d| d.number_at(&["capacityInKB"]))
                            .sum()
                    })
                    .unwrap_or(0);
                ImageInfo {
                    name: o.text("name").to_string(),
                    uuid: o.moref().value,
                    size_gib: u32::try_from((kb.max(0) as u64).div_ceil(1 << 20))
                        .unwrap_or(u32::MAX),
                }
            })
            .collect())
    }

    async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError> {
        let w = self.world().await.map_err(op("list_vms"))?;
        if w.cluster(cluster).is_none() {
            return Ok(Vec::new());
        }
        // A VM is on the cluster of the host it runs on; its resource pool
        // may still be another cluster's after a relocation (vcsim), so
        // every VM is read and kept by its host.
        let root = self
            .soap
            .service()
            .await
            .map_err(op("list_vms"))?
            .root_folder
            .clone();
        let all = self
            .vm_objects(&root, VM_PATHS)
            .await
            .map_err(op("list_vms"))?;
        Ok(all
            .iter()
            .filter(|o| o.text("config.template") != "true")
            .map(|o| w.vm(o, PROJECT_FIELD))
            .filter(|v| v.cluster == cluster)
            .collect())
    }

    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        let named = self.vms_named(name).await.map_err(op("find_vm"))?;
        let Some(first) = named.first() else {
            return Ok(None);
        };
        let w = self.world().await.map_err(op("find_vm"))?;
        Ok(Some(w.vm(first, PROJECT_FIELD)))
    }

    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError> {
        self.create(vm).await.map_err(op("create_vm"))
    }

    async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError> {
        self.task_status(id).await.map_err(op("task"))
    }

    async fn set_power(&self, vm_uuid: &str, change: PowerChange) -> Result<(), BackendError> {
        let vm = crate::soap::MoRef::new("VirtualMachine", vm_uuid);
        self.power(&vm, change).await.map_err(op("set_power"))
    }

    async fn delete_vm(&self, vm_uuid: &str) -> Result<TaskId, BackendError> {
        self.delete(vm_uuid).await.map_err(op("delete_vm"))
    }

    async fn reconfigure_vm(&self, vm_uuid: &str, to: &VmReconfig) -> Result<(), BackendError> {
        self.reconfigure(vm_uuid, to)
            .await
            .map_err(op("reconfigure_vm"))
    }

    async fn migrate_vm(&self, vm_uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        self.start_move(vm_uuid, to).await.map_err(op("migrate_vm"))
    }

    async fn check_vm_migration(
        &self,
        vm_uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        self.check_move(vm_uuid, to)
            .await
            .map_err(op("check_vm_migration"))
    }

    async fn check_vm_migrations(
        &self,
        vm_names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        self.check_moves(vm_names, to)
            .await
            .map_err(op("check_vm_migrations"))
    }

    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        self.set_project(vm_uuid, project)
            .await
            .map_err(op("set_vm_project"))
    }

    /// The values the custom attribute `key` holds on VMs.
    async fn category_values(&self, key: &str) -> Result<Vec<String>, BackendError> {
        self.field_values(key).await.map_err(op("category_values"))
    }

    async fn list_storage_containers(&self) -> Result<Vec<StorageContainerInfo>, BackendError> {
        let w = self.world().await.map_err(op("list_storage_containers"))?;
        let mut out = Vec::new();
        for c in &w.clusters {
            for d in w
                .datastores
                .iter()
                .filter(|d| c.datastores.contains(&d.moref))
            {
                out.push(StorageContainerInfo {
                    name: d.name.clone(),
                    uuid: d.moref.value.clone(),
                    cluster: c.name.clone(),
                });
            }
        }
        Ok(out)
    }
}

use super::{BackendError, Capabilities, Capability};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A cluster of the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Name (also the remote-site name other clusters use for it).
    pub name: String,
    /// Platform id.
    pub uuid: String,
}

/// A project (tenant) with the clusters and subnets it may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfo {
    /// Name.
    pub name: String,
    /// Platform id.
    pub uuid: String,
    /// Cluster names it may use.
    pub clusters: Vec<String>,
    /// Subnet (VLAN) names it may use.
    pub subnets: Vec<String>,
}

/// A subnet / VLAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetInfo {
    /// Name.
    pub name: String,
    /// Platform id.
    pub uuid: String,
    /// VLAN id (0 for an overlay subnet).
    pub vlan_id: u32,
    /// The cluster a VLAN subnet belongs to (real Prism Central has the
    /// same subnet name on several clusters, with different VLANs); `None`
    /// for a subnet every cluster may use (overlay, or a platform without
    /// per-cluster subnets).
    #[serde(default)]
    pub cluster: Option<String>,
}

/// A storage container of a cluster (where a VM's disks are placed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageContainerInfo {
    /// Name (unique on its cluster).
    pub name: String,
    /// Platform id.
    pub uuid: String,
    /// The cluster it belongs to.
    pub cluster: String,
}

/// A boot image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Name.
    pub name: String,
    /// Platform id.
    pub uuid: String,
    /// Size in GiB, rounded up.
    pub size_gib: u32,
}

/// Power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    /// Running.
    On,
    /// Stopped: the only state in which a VM may migrate.
    Off,
    /// Paused, suspended, unknown or not reported: not safely off.
    Unknown,
}

impl PowerState {
    /// Its name (`on`, `off`, `unknown`), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "on",
            PowerState::Off => "off",
            PowerState::Unknown => "unknown",
        }
    }
}

/// Where a VM's own provisioning stands (Nutanix v3 `status.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    /// Accepted; its create task is still running. The VM is already
    /// visible by name, which is what makes look-up-before-create safe.
    Pending,
    /// Created.
    Ready,
    /// Its create task failed; the entity remains.
    Error,
}

/// A VM as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmInfo {
    /// Platform id.
    pub uuid: String,
    /// Name.
    pub name: String,
    /// Cluster it is on.
    pub cluster: String,
    /// Project, if any.
    pub project: Option<String>,
    /// Power state.
    pub power: PowerState,
    /// Provisioning state.
    pub state: VmState,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM GiB.
    pub ram_gib: u32,
    /// Disk sizes GiB.
    pub disks_gib: Vec<u32>,
    /// Subnet of each NIC.
    pub nics: Vec<String>,
    /// Categories `key:value`.
    pub categories: Vec<String>,
    /// IP addresses the platform reports for the VM's NICs (Prism's
    /// `nic_list[].ip_endpoint_list[].ip`); empty until the VM has one.
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}

/// Where and how a VM moves between clusters
/// ([`ClusterBackend::migrate_vm`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMove {
    /// The cluster it moves to.
    pub destination: String,
    /// While it runs (vMotion, AHV live migration); else it must be off.
    pub live: bool,
}

impl VmMove {
    /// A cold move to `destination`.
    pub fn cold(destination: impl Into<String>) -> VmMove {
        VmMove {
            destination: destination.into(),
            live: false,
        }
    }

    /// A live move to `destination`.
    pub fn live(destination: impl Into<String>) -> VmMove {
        VmMove {
            destination: destination.into(),
            live: true,
        }
    }
}

/// The names of the `groups` that hold the VM named `vm_name` (what
/// [`ClusterBackend::protection_groups_of`] answers from a list).
pub fn groups_holding(groups: Vec<ProtectionGroup>, vm_name: &str) -> Vec<String> {
    groups
        .into_iter()
        .filter(|g| g.vms.iter().any(|v| **v == *vm_name))
        .map(|g| g.name)
        .collect()
}

/// What a migration refresh reads of a VM ([`ClusterBackend::list_vm_briefs`]).
///
/// Its strings are shared, not owned: a list of a million briefs names a
/// handful of clusters and projects, so a backend hands every brief of one
/// cluster (or project) the same [`Arc`], and one that holds its VMs' names
/// as shared strings (the simulator) hands those out rather than copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmBrief {
    /// Name.
    pub name: Arc<str>,
    /// Cluster it is on.
    pub cluster: Arc<str>,
    /// Project, if any.
    pub project: Option<Arc<str>>,
    /// Power state.
    pub power: PowerState,
}

/// One shared copy of each distinct string handed to it: what a backend
/// uses to give every [`VmBrief`] of one project the same [`Arc`].
#[derive(Debug, Default)]
pub struct SharedStrings {
    seen: std::collections::HashSet<Arc<str>>,
    // Neighbouring VMs mostly name the same project or subnet: the last
    // one is answered without hashing.
    last: Option<Arc<str>>,
}

impl SharedStrings {
    /// The shared copy of `s`, made on first sight.
    pub fn share(&mut self, s: &str) -> Arc<str> {
        if let Some(last) = self.last.as_ref().filter(|l| ***l == *s) {
            return last.clone();
        }
        let shared = match self.seen.get(s) {
            Some(shared) => shared.clone(),
            None => {
                let shared: Arc<str> = Arc::from(s);
                self.seen.insert(shared.clone());
                shared
            }
        };
        self.last = Some(shared.clone());
        shared
    }
}

impl From<VmInfo> for VmBrief {
    fn from(v: VmInfo) -> VmBrief {
        VmBrief {
            name: v.name.into(),
            cluster: v.cluster.into(),
            project: v.project.map(Into::into),
            power: v.power,
        }
    }
}

/// What an inventory reconcile reads of a VM
/// ([`ClusterBackend::list_vm_sizes`]): where it is, its power and its
/// size. Its strings are shared as a [`VmBrief`]'s are: a reconcile of a
/// million VMs compares them, it need not own a copy of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSize {
    /// Name.
    pub name: Arc<str>,
    /// Cluster it is on.
    pub cluster: Arc<str>,
    /// Power state.
    pub power: PowerState,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM GiB.
    pub ram_gib: u32,
    /// Disk sizes GiB.
    pub disks_gib: Vec<u32>,
    /// Subnet of each NIC.
    pub nics: Vec<Arc<str>>,
}

impl From<VmInfo> for VmSize {
    fn from(v: VmInfo) -> VmSize {
        VmSize {
            name: v.name.into(),
            cluster: v.cluster.into(),
            power: v.power,
            vcpus: v.vcpus,
            ram_gib: v.ram_gib,
            disks_gib: v.disks_gib,
            nics: v.nics.into_iter().map(Into::into).collect(),
        }
    }
}

/// What to create. Non-exhaustive, so a field can be added without
/// breaking adapters: other crates build one with [`VmCreate::new`] and the
/// setters, and read its public fields.
///
/// ```
/// use butler_core::backend::VmCreate;
/// let vm = VmCreate::new("web01", "c1-madrid")
///     .project("prod-project")
///     .cpu(2, 1)
///     .ram_gib(4)
///     .disks_gib(vec![40])
///     .nics(vec!["vlan-10".into()]);
/// assert_eq!((vm.sockets, vm.ram_gib, vm.power_on), (2, 4, false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VmCreate {
    /// Platform-wide unique name (idempotency key: look it up before creating).
    pub name: String,
    /// Cluster.
    pub cluster: String,
    /// Project.
    pub project: String,
    /// Category `key:value`.
    pub category: String,
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// Sockets.
    pub sockets: u32,
    /// RAM GiB.
    pub ram_gib: u32,
    /// Disk sizes GiB; disk 0 holds the image if any.
    pub disks_gib: Vec<u32>,
    /// Image cloned onto disk 0.
    pub image: Option<String>,
    /// Subnet of each NIC.
    pub nics: Vec<String>,
    /// The storage container (name, on `cluster`) every disk is placed on:
    /// the disk type's, so the VM and its bill agree. `None`: the
    /// platform's default container.
    #[serde(default)]
    pub storage_container: Option<String>,
    /// Add an empty CD-ROM.
    pub cdrom: bool,
    /// UEFI boot.
    pub uefi: bool,
    /// Power on once created.
    pub power_on: bool,
    /// The create's idempotency key, the same on every retry of one
    /// create (Butler keeps it in the step log before the first call): a
    /// platform that takes one (Prism Central v4's `NTNX-Request-Id`, the
    /// simulator) answers a repeat with the first create's task, so a lost
    /// reply never makes a second VM whatever its listing shows. Adapters
    /// of platforms without one ignore it; the name look-up before every
    /// create remains.
    #[serde(default)]
    pub request_id: Option<String>,
}

impl VmCreate {
    /// A VM named `name` on `cluster`: one socket of one core, 1 GiB of
    /// RAM, no disk, NIC, image, project or category, UEFI, left off.
    pub fn new(name: impl Into<String>, cluster: impl Into<String>) -> Self {
        VmCreate {
            name: name.into(),
            cluster: cluster.into(),
            project: String::new(),
            category: String::new(),
            cores_per_socket: 1,
            sockets: 1,
            ram_gib: 1,
            disks_gib: Vec::new(),
            image: None,
            nics: Vec::new(),
            storage_container: None,
            cdrom: false,
            uefi: true,
            power_on: false,
            request_id: None,
        }
    }
    /// Sent with the idempotency key `key` ([`VmCreate::request_id`]).
    pub fn request_id(mut self, key: impl Into<String>) -> Self {
        self.request_id = Some(key.into());
        self
    }
    /// In `project`.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }
    /// Tagged with the category `key:value`.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = category.into();
        self
    }
    /// `sockets` sockets of `cores_per_socket` cores.
    pub fn cpu(mut self, sockets: u32, cores_per_socket: u32) -> Self {
        self.sockets = sockets;
        self.cores_per_socket = cores_per_socket;
        self
    }
    /// RAM in GiB.
    pub fn ram_gib(mut self, gib: u32) -> Self {
        self.ram_gib = gib;
        self
    }
    /// Disk sizes in GiB (disk 0 holds the image, if any).
    pub fn disks_gib(mut self, disks: Vec<u32>) -> Self {
        self.disks_gib = disks;
        self
    }
    /// The image cloned onto disk 0.
    pub fn image(mut self, image: Option<String>) -> Self {
        self.image = image;
        self
    }
    /// The subnet of each NIC.
    pub fn nics(mut self, nics: Vec<String>) -> Self {
        self.nics = nics;
        self
    }
    /// The storage container every disk is placed on.
    pub fn storage_container(mut self, container: Option<String>) -> Self {
        self.storage_container = container;
        self
    }
    /// With an empty CD-ROM.
    pub fn cdrom(mut self, cdrom: bool) -> Self {
        self.cdrom = cdrom;
        self
    }
    /// UEFI (else legacy BIOS) boot.
    pub fn uefi(mut self, uefi: bool) -> Self {
        self.uefi = uefi;
        self
    }
    /// Powered on once created.
    pub fn power_on(mut self, on: bool) -> Self {
        self.power_on = on;
        self
    }
}

/// A platform task id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskId(pub String);

/// Where a task is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting to run.
    Queued,
    /// Running.
    Running,
    /// Done.
    Succeeded,
    /// Failed, with the platform's reason.
    Failed(String),
    /// Aborted.
    Aborted,
}

impl TaskState {
    /// Succeeded, failed or aborted.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            TaskState::Succeeded | TaskState::Failed(_) | TaskState::Aborted
        )
    }
}

/// A task's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// State.
    pub state: TaskState,
    /// Percent complete, 0–100.
    pub percent: u8,
    /// The entity the task made (the VM uuid of a create).
    pub entity_uuid: Option<String>,
}

/// Local or remote snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Snapshots kept on the cluster.
    Local,
    /// Snapshots replicated to a remote site.
    Remote,
}

/// A snapshot schedule of a protection group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Local or remote.
    pub kind: ScheduleKind,
    /// Interval in minutes.
    pub every_minutes: u32,
    /// Snapshots kept.
    pub retention: u32,
    /// Remote site (for remote schedules), named as Butler names every
    /// remote site: by the cluster it points at ([`RemoteSite::target`]),
    /// whatever the platform calls it.
    pub remote_site: Option<String>,
}

impl Schedule {
    /// Local snapshots every `every_minutes`, keeping `retention`.
    pub fn local(every_minutes: u32, retention: u32) -> Schedule {
        Schedule {
            kind: ScheduleKind::Local,
            every_minutes,
            retention,
            remote_site: None,
        }
    }

    /// Replication to `remote_site` every `every_minutes`, keeping `retention` there.
    pub fn remote(remote_site: impl Into<String>, every_minutes: u32, retention: u32) -> Schedule {
        Schedule {
            kind: ScheduleKind::Remote,
            every_minutes,
            retention,
            remote_site: Some(remote_site.into()),
        }
    }
}

/// A protection group (Nutanix: protection domain): the unit that is
/// snapshotted, replicated and migrated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionGroup {
    /// Name.
    pub name: String,
    /// Cluster it lives on.
    pub cluster: String,
    /// Active on this cluster (the side that runs the VMs).
    pub active: bool,
    /// Member VM names, shared strings (see [`VmBrief`]).
    pub vms: Vec<Arc<str>>,
    /// Schedules.
    pub schedules: Vec<Schedule>,
    /// Remote sites it replicates to, by the clusters they point at (the
    /// same names as its schedules' [`Schedule::remote_site`]).
    pub remote_sites: Vec<String>,
    /// Time of the last replica sent, if any.
    pub last_replica: Option<DateTime<Utc>>,
}

/// A site a cluster can replicate to ([`ClusterBackend::remote_sites`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemoteSite {
    /// The platform's name for it (Prism Element's remote-site name).
    pub name: String,
    /// The cluster it points at, when the platform knows it.
    pub cluster: Option<String>,
}

impl RemoteSite {
    /// A site named `name` pointing at `cluster`.
    pub fn new(name: impl Into<String>, cluster: Option<String>) -> Self {
        RemoteSite {
            name: name.into(),
            cluster,
        }
    }

    /// Butler's name for this site, the one [`Schedule::remote_site`] and
    /// [`ProtectionGroup::remote_sites`] use: the cluster it points at, or
    /// the platform's name for a site that points at no known cluster.
    /// Adapters translate to the platform's own names on the wire.
    pub fn target(&self) -> &str {
        self.cluster.as_deref().unwrap_or(&self.name)
    }
}

/// A change of a VM's power ([`ClusterBackend::set_power`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PowerChange {
    /// Power on.
    On,
    /// Ask the guest to shut down (ACPI): the VM is off once the guest is
    /// done, which may take a while or never happen.
    GuestShutdown,
    /// Cut the power at once.
    HardOff,
    /// Ask the guest to restart (ACPI reboot).
    GuestRestart,
}

impl PowerChange {
    /// Every change, in order.
    pub const ALL: [PowerChange; 4] = [
        PowerChange::On,
        PowerChange::GuestShutdown,
        PowerChange::HardOff,
        PowerChange::GuestRestart,
    ];

    /// Its name (`guest_shutdown`).
    pub fn as_str(self) -> &'static str {
        match self {
            PowerChange::On => "on",
            PowerChange::GuestShutdown => "guest_shutdown",
            PowerChange::HardOff => "hard_off",
            PowerChange::GuestRestart => "guest_restart",
        }
    }

    /// The power state the change leads to (a restart: on).
    pub fn target(self) -> PowerState {
        match self {
            PowerChange::On | PowerChange::GuestRestart => PowerState::On,
            PowerChange::GuestShutdown | PowerChange::HardOff => PowerState::Off,
        }
    }
}

impl std::fmt::Display for PowerChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a VM is changed to ([`ClusterBackend::reconfigure_vm`]): its whole
/// CPU, RAM, disk and NIC layout after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmReconfig {
    /// Cores per socket.
    pub cores_per_socket: u32,
    /// Sockets.
    pub sockets: u32,
    /// RAM in GiB.
    pub ram_gib: u32,
    /// Every disk's size in GiB, in order: the VM's disks grown or kept,
    /// then the new ones. A disk never shrinks.
    pub disks_gib: Vec<u32>,
    /// The subnet of every NIC, in order: kept ones, then new ones.
    pub nics: Vec<String>,
}

impl VmReconfig {
    /// vCPUs: cores per socket × sockets (saturating).
    pub fn vcpus(&self) -> u32 {
        self.cores_per_socket.saturating_mul(self.sockets)
    }

    /// Whether `vm` already is what this asks for.
    pub fn is_done_on(&self, vm: &VmInfo) -> bool {
        (vm.vcpus, vm.ram_gib, &vm.disks_gib, &vm.nics)
            == (self.vcpus(), self.ram_gib, &self.disks_gib, &self.nics)
    }

    /// What of this change needs `vm` powered off: fewer vCPUs or less RAM
    /// (AHV and vSphere add CPU and memory to a running VM, never remove
    /// them), a different number of cores per socket is not visible in
    /// [`VmInfo`] and is left to the platform. Disks and NICs are added
    /// and disks grown while it runs. Empty: it can be done hot.
    pub fn needs_power_off(&self, vm: &VmInfo) -> Vec<String> {
        let mut why = Vec::new();
        if self.vcpus() < vm.vcpus {
            why.push(format!("fewer vCPUs ({} → {})", vm.vcpus, self.vcpus()));
        }
        if self.ram_gib < vm.ram_gib {
            why.push(format!("less RAM ({} → {} GiB)", vm.ram_gib, self.ram_gib));
        }
        let removed = vm.nics.len().saturating_sub(self.nics.len());
        if removed > 0 {
            why.push(format!("{removed} NIC(s) removed"));
        }
        why
    }
}

/// Protect a VM: put it in a group (created if absent) with schedules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectRequest {
    /// Group name (e.g. `PD-<vm>`).
    pub group: String,
    /// The VM's platform-wide name.
    pub vm_name: String,
    /// Schedules to ensure.
    pub schedules: Vec<Schedule>,
}

/// An IaaS cluster backend: inventory, VM creation and tasks, and the
/// optional features its [`capabilities`](Self::capabilities) name
/// (protection, migration, project remap, storage containers, categories).
/// Callers ask before using an optional feature; one the platform lacks
/// answers [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported) (the
/// defaults below), never an empty value. Implementations do the paging
/// and retries of their transport; callers retry on
/// [`BackendError::is_retryable`].
#[async_trait]
pub trait ClusterBackend: Send + Sync {
    /// The optional features this platform has.
    fn capabilities(&self) -> Capabilities;
    /// Clusters (never the management plane itself).
    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError>;
    /// Projects with their clusters and subnets.
    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError>;
    /// Subnets.
    async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError>;
    /// Images.
    async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError>;
    /// Every VM on a cluster.
    async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError>;
    /// The names of every VM on a cluster: what checking many names
    /// against the platform needs. The default lists the VMs; a backend
    /// that can answer with names alone overrides it.
    async fn list_vm_names(&self, cluster: &str) -> Result<Vec<String>, BackendError> {
        Ok(self
            .list_vms(cluster)
            .await?
            .into_iter()
            .map(|v| v.name)
            .collect())
    }
    /// Every VM on a cluster, briefly: what a migration refresh reads.
    /// The default lists the VMs; a backend that can answer with less
    /// overrides it (a million full VM records cost a refresh more than
    /// everything else it does).
    async fn list_vm_briefs(&self, cluster: &str) -> Result<Vec<VmBrief>, BackendError> {
        Ok(self
            .list_vms(cluster)
            .await?
            .into_iter()
            .map(VmBrief::from)
            .collect())
    }
    /// Every VM on a cluster with its power and size: what an inventory
    /// reconcile reads. The default lists the VMs; a backend that can
    /// answer with less overrides it.
    async fn list_vm_sizes(&self, cluster: &str) -> Result<Vec<VmSize>, BackendError> {
        Ok(self
            .list_vms(cluster)
            .await?
            .into_iter()
            .map(VmSize::from)
            .collect())
    }
    /// The VM named `name`, anywhere on the platform.
    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError>;
    /// Starts creating a VM. Not idempotent on the platform: look it up with
    /// [`find_vm`](Self::find_vm) first.
    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError>;
    /// A task's status.
    async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError>;
    /// A task's status, waiting up to `max_wait` on the platform for it to
    /// end when the platform can long-poll (Prism's `/tasks/poll`). The
    /// default asks once and returns at once; callers sleep the remainder.
    async fn wait_task(
        &self,
        id: &TaskId,
        max_wait: std::time::Duration,
    ) -> Result<TaskStatus, BackendError> {
        let _ = max_wait;
        self.task(id).await
    }
    /// Every protection group on a cluster, with schedules and replication
    /// ([`Capability::Protection`]).
    async fn list_protection_groups(
        &self,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        let _ = cluster;
        Err(BackendError::unsupported(
            "list_protection_groups",
            Capability::Protection,
        ))
    }
    /// The names of the protection groups on `cluster` that hold the VM
    /// named `vm_name` ([`Capability::Protection`]). The default filters
    /// [`list_protection_groups`](Self::list_protection_groups); a backend
    /// that can look a VM's groups up directly overrides it (retiring a
    /// VM should not cost a read of every group).
    async fn protection_groups_of(
        &self,
        cluster: &str,
        vm_name: &str,
    ) -> Result<Vec<String>, BackendError> {
        Ok(groups_holding(
            self.list_protection_groups(cluster).await?,
            vm_name,
        ))
    }
    /// The remote sites `cluster` can replicate to, each with the
    /// platform's name and the cluster it points at when the platform
    /// knows it ([`RemoteSite::target`] is the name a
    /// [`Schedule::remote_site`] takes)
    /// ([`Capability::Protection`]). Provisioning's protect step replicates
    /// to the only one there is unless the deployment chooses
    /// ([`EngineConfig::protection`](crate::engine::EngineConfig::protection)).
    async fn remote_sites(&self, cluster: &str) -> Result<Vec<RemoteSite>, BackendError> {
        let _ = cluster;
        Err(BackendError::unsupported(
            "remote_sites",
            Capability::Protection,
        ))
    }
    /// Ensures the VM is protected, idempotent
    /// ([`Capability::Protection`]): in the request's group with its
    /// schedules, or, on a platform that protects by policy, as its policy
    /// says. Returns the group the VM is in now, as
    /// [`protection_groups_of`](Self::protection_groups_of) names it: the
    /// request's, or the platform's own (a policy's category).
    async fn protect_vm(
        &self,
        cluster: &str,
        req: &ProtectRequest,
    ) -> Result<String, BackendError> {
        let _ = (cluster, req);
        Err(BackendError::unsupported(
            "protect_vm",
            Capability::Protection,
        ))
    }
    /// Removes the VM named `vm_name` from the protection group `group`
    /// on `cluster` ([`Capability::Protection`]). Look the VM up in
    /// [`list_protection_groups`](Self::list_protection_groups) first: a
    /// VM not in the group answers [`ErrorKind::NotFound`](super::ErrorKind::NotFound).
    async fn unprotect_vm(
        &self,
        cluster: &str,
        group: &str,
        vm_name: &str,
    ) -> Result<(), BackendError> {
        let _ = (cluster, group, vm_name);
        Err(BackendError::unsupported(
            "unprotect_vm",
            Capability::Protection,
        ))
    }
    /// Starts migrating a protection group from `source` to the remote site
    /// `destination`. Completion shows in [`list_protection_groups`](Self::list_protection_groups)
    /// (active on the destination) and [`list_vms`](Self::list_vms)
    /// ([`Capability::Migration`]).
    async fn migrate_protection_group(
        &self,
        source: &str,
        group: &str,
        destination: &str,
    ) -> Result<(), BackendError> {
        let _ = (source, group, destination);
        Err(BackendError::unsupported(
            "migrate_protection_group",
            Capability::Migration,
        ))
    }
    /// Starts moving a protection group from `source` to `to.destination`
    /// as [`migrate_protection_group`](Self::migrate_protection_group)
    /// does, with its running VMs moved while they run where `to.live`
    /// says so (a recovery plan's planned failover with live migration)
    /// ([`Capability::Migration`]; live: [`Capability::LiveMigration`]).
    /// Answers the platform's task for the move where it has one that
    /// ends with it ([`task`](Self::task) then gives its progress and, if
    /// it fails, the platform's reason); `None` where only
    /// [`list_protection_groups`](Self::list_protection_groups) shows the
    /// end. The default makes cold moves only (a live one is
    /// [`ErrorKind::Unsupported`](super::ErrorKind::Unsupported)) and
    /// answers `None`.
    async fn move_protection_group(
        &self,
        source: &str,
        group: &str,
        to: &VmMove,
    ) -> Result<Option<TaskId>, BackendError> {
        if to.live {
            return Err(BackendError::unsupported(
                "move_protection_group",
                Capability::LiveMigration,
            ));
        }
        self.migrate_protection_group(source, group, &to.destination)
            .await
            .map(|()| None)
    }
    /// Starts moving the VM `vm_uuid` to the cluster `to.destination`
    /// ([`Capability::VmMigration`]): cold (the VM must be off) or, with
    /// `to.live`, while it runs. The task ends when the VM is there, in
    /// the power state it had; [`find_vm`](Self::find_vm) then shows its
    /// new cluster. A move the platform refuses outright (the VM on for a
    /// cold move, an unknown destination) is an error that is not
    /// retryable.
    async fn migrate_vm(&self, vm_uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        let _ = (vm_uuid, to);
        Err(BackendError::unsupported(
            "migrate_vm",
            Capability::VmMigration,
        ))
    }
    /// Why moving the VM `vm_uuid` as `to` says would fail, in the
    /// platform's words, without moving it (its dry run); empty when it
    /// would go ([`Capability::VmMigration`]). An unknown VM is
    /// [`ErrorKind::NotFound`](super::ErrorKind::NotFound), an unknown
    /// destination [`ErrorKind::Invalid`](super::ErrorKind::Invalid).
    async fn check_vm_migration(
        &self,
        vm_uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        let _ = (vm_uuid, to);
        Err(BackendError::unsupported(
            "check_vm_migration",
            Capability::VmMigration,
        ))
    }
    /// The platform's dry run of moving each VM named in `vm_names` as
    /// `to` says, asked at once (vCenter's is one read of every VM; a
    /// platform with no batched dry run, as Prism, asks per VM, a few at a
    /// time): per name, in order, why the move would fail, in the
    /// platform's words; empty when it would go
    /// ([`Capability::VmMigration`]). What a migration's validation shows
    /// before anyone approves.
    ///
    /// Unlike [`check_vm_migration`](Self::check_vm_migration), a VM's
    /// power is no reason here: whether it runs is Butler's to judge (its
    /// own findings name it, and a group may have Butler power it off
    /// first). A name the platform does not know is a reason of its own; a
    /// destination it does not know is [`ErrorKind::Invalid`](super::ErrorKind::Invalid).
    async fn check_vm_migrations(
        &self,
        vm_names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        let _ = (vm_names, to);
        Err(BackendError::unsupported(
            "check_vm_migrations",
            Capability::VmMigration,
        ))
    }
    /// Moves a VM to another project, after a migration
    /// ([`Capability::ProjectRemap`]).
    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        let _ = (vm_uuid, project);
        Err(BackendError::unsupported(
            "set_vm_project",
            Capability::ProjectRemap,
        ))
    }
    /// Changes the power of the VM `vm_uuid` ([`Capability::Power`]);
    /// returns once the platform has done it (its task, where it reports
    /// one, succeeded). A guest shutdown is done when the guest is: read
    /// the power state to know. Asking for the state a VM is already in
    /// (and not on its way out of) succeeds and changes nothing: adapters
    /// look before they ask (Prism fails a power-off of an off VM).
    async fn set_power(&self, vm_uuid: &str, change: PowerChange) -> Result<(), BackendError> {
        let _ = (vm_uuid, change);
        Err(BackendError::unsupported("set_power", Capability::Power))
    }
    /// Starts deleting the VM `vm_uuid` with its disks
    /// ([`Capability::Delete`]); the task ends when it is gone. Not
    /// idempotent on the platform: a VM already gone answers
    /// [`ErrorKind::NotFound`](super::ErrorKind::NotFound), so look it up
    /// with [`find_vm`](Self::find_vm) first.
    async fn delete_vm(&self, vm_uuid: &str) -> Result<TaskId, BackendError> {
        let _ = vm_uuid;
        Err(BackendError::unsupported("delete_vm", Capability::Delete))
    }
    /// Changes the VM `vm_uuid`'s CPU, RAM, disks and NICs to `to`
    /// ([`Capability::Reconfigure`]); returns once the platform has done
    /// it. What needs the VM off ([`VmReconfig::needs_power_off`]) is
    /// refused while it runs, as the platform would; a disk never shrinks.
    async fn reconfigure_vm(&self, vm_uuid: &str, to: &VmReconfig) -> Result<(), BackendError> {
        let _ = (vm_uuid, to);
        Err(BackendError::unsupported(
            "reconfigure_vm",
            Capability::Reconfigure,
        ))
    }
    /// The storage containers of every cluster
    /// ([`Capability::StorageContainers`]; without it disk placement is
    /// left unchecked).
    async fn list_storage_containers(&self) -> Result<Vec<StorageContainerInfo>, BackendError> {
        Err(BackendError::unsupported(
            "list_storage_containers",
            Capability::StorageContainers,
        ))
    }
    /// The values of the category `key` (`Environment` → `Production`, …);
    /// an empty list when the key does not exist ([`Capability::Categories`];
    /// without it environment categories are left unchecked).
    async fn category_values(&self, key: &str) -> Result<Vec<String>, BackendError> {
        let _ = key;
        Err(BackendError::unsupported(
            "category_values",
            Capability::Categories,
        ))
    }
}

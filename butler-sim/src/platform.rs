//! [`SimPlatform`]: the simulated platform and its trait implementations.

use crate::clock::SimClock;
use crate::faults::{fault_error, FaultConfig, FaultKind, FaultPlan, Op, ScriptedFault};
use crate::world::{Effect, SimPg, Timings, World};
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Billing, BillingActivation, Clock, ClusterBackend, ClusterInfo, ErrorKind,
    ImageInfo, Monitor, MonitorRegistration, PowerState, ProjectInfo, ProtectRequest,
    ProtectionGroup, ScheduleKind, SubnetInfo, TaskId, TaskStatus, VmCreate, VmInfo, VmState,
};
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A simulated IaaS platform: clusters, projects, subnets, images, VMs,
/// tasks, protection groups with schedules and replicas, migration,
/// monitoring and billing — with fault injection and call counters.
///
/// Cheap to clone (a handle); every clone sees the same platform.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use butler_core::backend::{ClusterBackend, Clock, TaskState};
/// use butler_sim::{FaultConfig, Op, SimPlatform};
/// use std::time::Duration;
///
/// let sim = SimPlatform::demo(42);
/// // One in ten create calls fails with a transient error.
/// sim.set_faults(Op::CreateVm, FaultConfig::transient(0.1));
/// let task = loop {
///     match sim.create_vm(&sim.sample_vm("app01")).await {
///         Ok(t) => break t,
///         Err(e) => assert!(e.is_retryable()),
///     }
/// };
/// // Time is virtual: advance it instead of waiting.
/// sim.clock().advance(Duration::from_secs(60));
/// assert_eq!(sim.task(&task).await.unwrap().state, TaskState::Succeeded);
/// assert_eq!(sim.vms_named("app01"), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct SimPlatform {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<SimClock>,
    world: Mutex<World>,
    faults: Mutex<(FaultPlan, ChaCha8Rng)>,
    calls: Mutex<BTreeMap<Op, u64>>,
}

impl std::fmt::Debug for SimPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.world();
        f.debug_struct("SimPlatform")
            .field("clusters", &w.clusters.len())
            .field("vms", &w.vms.len())
            .field("protection_groups", &w.pgs.len())
            .finish()
    }
}

/// Builds a [`SimPlatform`].
#[derive(Debug)]
pub struct SimBuilder {
    seed: u64,
    clock: Option<Arc<SimClock>>,
    timings: Timings,
    clusters: Vec<String>,
    projects: Vec<(String, Vec<String>, Vec<String>)>,
    subnets: Vec<(String, u32)>,
    images: Vec<(String, u32)>,
    remote_pairs: Vec<(String, String)>,
}

impl SimBuilder {
    /// Seeds every random choice (ids, faults, task outcomes).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Uses `clock` (default: a virtual clock).
    pub fn clock(mut self, clock: Arc<SimClock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// Operation durations.
    pub fn timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }
    /// Adds a cluster.
    pub fn cluster(mut self, name: &str) -> Self {
        self.clusters.push(name.to_string());
        self
    }
    /// Adds a subnet with its VLAN id.
    pub fn subnet(mut self, name: &str, vlan_id: u32) -> Self {
        self.subnets.push((name.to_string(), vlan_id));
        self
    }
    /// Adds a project allowed on `clusters` with `subnets`.
    pub fn project(mut self, name: &str, clusters: &[&str], subnets: &[&str]) -> Self {
        self.projects.push((
            name.to_string(),
            clusters.iter().map(|s| s.to_string()).collect(),
            subnets.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }
    /// Adds an image of `size_gib`.
    pub fn image(mut self, name: &str, size_gib: u32) -> Self {
        self.images.push((name.to_string(), size_gib));
        self
    }
    /// Makes `a` and `b` remote sites of each other (named like the clusters).
    pub fn remote_sites(mut self, a: &str, b: &str) -> Self {
        self.remote_pairs.push((a.to_string(), b.to_string()));
        self
    }
    /// Builds the platform.
    pub fn build(self) -> SimPlatform {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let fault_rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_fa17);
        use rand::Rng;
        let world_seed: u64 = rng.gen();
        let mut w = World::new(ChaCha8Rng::seed_from_u64(world_seed), self.timings);
        for c in &self.clusters {
            let uuid = w.uuid();
            w.clusters.insert(
                c.clone(),
                ClusterInfo {
                    name: c.clone(),
                    uuid,
                },
            );
        }
        for (s, vlan) in &self.subnets {
            let uuid = w.uuid();
            w.subnets.insert(
                s.clone(),
                SubnetInfo {
                    name: s.clone(),
                    uuid,
                    vlan_id: *vlan,
                },
            );
        }
        for (p, clusters, subnets) in &self.projects {
            let uuid = w.uuid();
            w.projects.insert(
                p.clone(),
                ProjectInfo {
                    name: p.clone(),
                    uuid,
                    clusters: clusters.clone(),
                    subnets: subnets.clone(),
                },
            );
        }
        for (i, size) in &self.images {
            let uuid = w.uuid();
            w.images.insert(
                i.clone(),
                ImageInfo {
                    name: i.clone(),
                    uuid,
                    size_gib: *size,
                },
            );
        }
        let mut remote: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (a, b) in &self.remote_pairs {
            remote.entry(a.clone()).or_default().push(b.clone());
            remote.entry(b.clone()).or_default().push(a.clone());
        }
        SimPlatform {
            inner: Arc::new(Inner {
                clock: self
                    .clock
                    .unwrap_or_else(|| Arc::new(SimClock::virtual_default())),
                world: Mutex::new(w),
                faults: Mutex::new((FaultPlan::default(), fault_rng)),
                calls: Mutex::new(BTreeMap::new()),
            }),
        }
        .with_remote_sites(remote)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The simulator never leaves its state half-updated across a panic
    // point, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimPlatform {
    /// A builder with seed 0 and a virtual clock.
    pub fn builder() -> SimBuilder {
        SimBuilder {
            seed: 0,
            clock: None,
            timings: Timings::default(),
            clusters: Vec::new(),
            projects: Vec::new(),
            subnets: Vec::new(),
            images: Vec::new(),
            remote_pairs: Vec::new(),
        }
    }

    /// The platform matching `butler_core::demo::catalog()`: clusters
    /// `c1-madrid` and `c2-santiago` (remote sites of each other), projects
    /// `prod-project` (`vlan-10`, `vlan-11`) and `dev-project` (`vlan-30`) on
    /// both, images `rhel9` (40 GiB) and `win2022` (64 GiB).
    pub fn demo(seed: u64) -> SimPlatform {
        Self::demo_builder(seed).build()
    }

    /// The builder behind [`SimPlatform::demo`], to change timings or the clock.
    pub fn demo_builder(seed: u64) -> SimBuilder {
        Self::builder()
            .seed(seed)
            .cluster("c1-madrid")
            .cluster("c2-santiago")
            .remote_sites("c1-madrid", "c2-santiago")
            .subnet("vlan-10", 10)
            .subnet("vlan-11", 11)
            .subnet("vlan-30", 30)
            .project(
                "prod-project",
                &["c1-madrid", "c2-santiago"],
                &["vlan-10", "vlan-11"],
            )
            .project("dev-project", &["c1-madrid", "c2-santiago"], &["vlan-30"])
            .image("rhel9", 40)
            .image("win2022", 64)
    }

    fn with_remote_sites(self, remote: BTreeMap<String, Vec<String>>) -> Self {
        self.world().remote_sites = remote;
        self
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.inner.world)
    }

    /// The platform's clock.
    pub fn clock(&self) -> Arc<SimClock> {
        self.inner.clock.clone()
    }

    /// The current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Random faults for every operation without its own setting.
    pub fn set_default_faults(&self, cfg: FaultConfig) {
        lock(&self.inner.faults).0.default = cfg;
    }

    /// Random faults for one operation.
    pub fn set_faults(&self, op: Op, cfg: FaultConfig) {
        lock(&self.inner.faults).0.per_op.insert(op, cfg);
    }

    /// Removes every random and scripted fault.
    pub fn clear_faults(&self) {
        let mut f = lock(&self.inner.faults);
        f.0 = FaultPlan::default();
    }

    /// Adds a one-shot scripted fault.
    pub fn script_fault(&self, fault: ScriptedFault) {
        lock(&self.inner.faults).0.script(fault);
    }

    /// Calls made to `op` so far (including failed ones).
    pub fn calls(&self, op: Op) -> u64 {
        lock(&self.inner.calls).get(&op).copied().unwrap_or(0)
    }

    /// Calls made to every operation.
    pub fn all_calls(&self) -> BTreeMap<Op, u64> {
        lock(&self.inner.calls).clone()
    }

    /// Total calls to all operations.
    pub fn total_calls(&self) -> u64 {
        lock(&self.inner.calls).values().sum()
    }

    /// Resets the call counters.
    pub fn reset_calls(&self) {
        lock(&self.inner.calls).clear();
    }

    /// Counts a call, applies due effects, waits the latency and decides the
    /// fault. `Err` means the call fails before doing its work.
    async fn enter(&self, op: Op, key: Option<&str>) -> Result<Option<FaultKind>, BackendError> {
        *lock(&self.inner.calls).entry(op).or_insert(0) += 1;
        let (fault, latency) = {
            let mut f = lock(&self.inner.faults);
            let (plan, rng) = &mut *f;
            plan.decide(op, key, rng)
        };
        if !latency.is_zero() {
            self.inner.clock.sleep(latency).await;
        }
        let now = self.now();
        self.world().settle(now);
        match fault {
            Some(FaultKind::LoseReply) if op.is_mutation() => Ok(Some(FaultKind::LoseReply)),
            Some(FaultKind::LoseReply) | None => Ok(None),
            Some(kind) => Err(fault_error(op, kind)),
        }
    }

    /// Turns a successful mutation into a lost reply when so decided.
    fn exit<T>(op: Op, fault: Option<FaultKind>, ok: T) -> Result<T, BackendError> {
        match fault {
            Some(FaultKind::LoseReply) => Err(fault_error(op, FaultKind::LoseReply)),
            _ => Ok(ok),
        }
    }

    // ---- inspection and setup, for tests, demos and benchmarks ----

    /// How many VMs are named `name` (more than 1 means a duplicate create).
    pub fn vms_named(&self, name: &str) -> usize {
        self.world().vm_by_name.get(name).map_or(0, Vec::len)
    }

    /// Every VM.
    pub fn vm_count(&self) -> usize {
        self.world().vms.len()
    }

    /// The VM named `name` (the first, if duplicated).
    pub fn vm(&self, name: &str) -> Option<VmInfo> {
        self.world().vm_named(name).map(|v| v.info.clone())
    }

    /// Monitoring registrations for `vm_name` (more than 1 is a duplicate).
    pub fn monitor_registrations(&self, vm_name: &str) -> usize {
        self.world()
            .monitor
            .iter()
            .filter(|r| r.vm_name == vm_name)
            .count()
    }

    /// Billing activations for `vm_name` (more than 1 is a duplicate).
    pub fn billing_activations(&self, vm_name: &str) -> usize {
        self.world()
            .billing
            .iter()
            .filter(|r| r.vm_name == vm_name)
            .count()
    }

    /// Every billing activation, in order.
    pub fn billing_log(&self) -> Vec<BillingActivation> {
        self.world().billing.clone()
    }

    /// The protection group `name` on `cluster`.
    pub fn protection_group(&self, cluster: &str, name: &str) -> Option<ProtectionGroup> {
        let now = self.now();
        self.world()
            .pgs
            .get(&(cluster.to_string(), name.to_string()))
            .map(|p| p.view(now))
    }

    /// The remote replicas of a protection group sent in the last `window`,
    /// newest first: (creation time, size in GiB of its VMs' disks).
    pub fn replicas(
        &self,
        cluster: &str,
        group: &str,
        window: std::time::Duration,
    ) -> Vec<(DateTime<Utc>, u64)> {
        let now = self.now();
        let w = self.world();
        let Some(pg) = w.pgs.get(&(cluster.to_string(), group.to_string())) else {
            return Vec::new();
        };
        let size: u64 = pg
            .vms
            .iter()
            .filter_map(|n| w.vm_named(n))
            .map(|v| v.info.disks_gib.iter().map(|d| u64::from(*d)).sum::<u64>())
            .sum();
        pg.replicas(now, crate::clock::to_chrono(window), size)
    }

    /// Adds a VM directly (no task), e.g. to set up a migration scenario.
    pub fn add_vm(&self, info: VmInfo) {
        self.world().insert_vm(info);
    }

    /// Sets a VM's power state.
    pub fn set_power(&self, name: &str, power: PowerState) -> bool {
        let mut w = self.world();
        let idx = w.vm_by_name.get(name).cloned().unwrap_or_default();
        for i in &idx {
            if let Some(vm) = w.vms.get_mut(*i) {
                vm.info.power = power;
            }
        }
        !idx.is_empty()
    }

    /// Stops (`true`) or resumes replication of a protection group, so its
    /// last replica grows stale.
    pub fn stall_replication(&self, cluster: &str, group: &str, stalled: bool) -> bool {
        let now = self.now();
        let mut w = self.world();
        match w.pgs.get_mut(&(cluster.to_string(), group.to_string())) {
            Some(pg) => {
                pg.replication_stalled_at = stalled.then_some(now);
                true
            }
            None => false,
        }
    }

    /// One page of `list_vms(cluster)` and the total, cloning only the page
    /// (for HTTP facades that page large fleets). Counts and faults as `ListVms`.
    pub async fn list_vms_page(
        &self,
        cluster: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<VmInfo>, usize), BackendError> {
        self.enter(Op::ListVms, Some(cluster)).await?;
        let w = self.world();
        if !w.clusters.contains_key(cluster) {
            return Err(not_found(Op::ListVms, format!("no cluster {cluster:?}")));
        }
        let on = w.vms.iter().filter(|v| v.info.cluster == cluster);
        let total = on.clone().count();
        Ok((
            on.skip(offset)
                .take(limit)
                .map(|v| v.info.clone())
                .collect(),
            total,
        ))
    }

    /// A new VM uuid from the seeded generator.
    pub fn new_uuid(&self) -> String {
        self.world().uuid()
    }

    /// A valid create request on the demo platform (`c1-madrid`,
    /// `prod-project`, `vlan-10`), powered off.
    pub fn sample_vm(&self, name: &str) -> VmCreate {
        VmCreate {
            name: name.to_string(),
            cluster: "c1-madrid".into(),
            project: "prod-project".into(),
            category: "Environment:Production".into(),
            cores_per_socket: 1,
            sockets: 2,
            ram_gib: 4,
            disks_gib: vec![40],
            image: None,
            nics: vec!["vlan-10".into()],
            cdrom: true,
            uefi: true,
            power_on: false,
        }
    }
}

fn invalid(op: Op, msg: String) -> BackendError {
    BackendError::new(ErrorKind::Invalid, op.as_str(), msg)
}

fn not_found(op: Op, msg: String) -> BackendError {
    BackendError::new(ErrorKind::NotFound, op.as_str(), msg)
}

#[async_trait]
impl ClusterBackend for SimPlatform {
    async fn list_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError> {
        self.enter(Op::ListClusters, None).await?;
        Ok(self.world().clusters.values().cloned().collect())
    }

    async fn list_projects(&self) -> Result<Vec<ProjectInfo>, BackendError> {
        self.enter(Op::ListProjects, None).await?;
        Ok(self.world().projects.values().cloned().collect())
    }

    async fn list_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError> {
        self.enter(Op::ListSubnets, None).await?;
        Ok(self.world().subnets.values().cloned().collect())
    }

    async fn list_images(&self) -> Result<Vec<ImageInfo>, BackendError> {
        self.enter(Op::ListImages, None).await?;
        Ok(self.world().images.values().cloned().collect())
    }

    async fn list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError> {
        self.enter(Op::ListVms, Some(cluster)).await?;
        let w = self.world();
        if !w.clusters.contains_key(cluster) {
            return Err(not_found(Op::ListVms, format!("no cluster {cluster:?}")));
        }
        Ok(w.vms
            .iter()
            .filter(|v| v.info.cluster == cluster)
            .map(|v| v.info.clone())
            .collect())
    }

    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        self.enter(Op::FindVm, Some(name)).await?;
        Ok(self.world().vm_named(name).map(|v| v.info.clone()))
    }

    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError> {
        let fault = self.enter(Op::CreateVm, Some(&vm.name)).await?;
        let now = self.now();
        let mut w = self.world();
        let op = Op::CreateVm;
        if !w.clusters.contains_key(&vm.cluster) {
            return Err(invalid(op, format!("no cluster {:?}", vm.cluster)));
        }
        let project = w
            .projects
            .get(&vm.project)
            .ok_or_else(|| invalid(op, format!("no project {:?}", vm.project)))?;
        if !project.clusters.contains(&vm.cluster) {
            return Err(invalid(
                op,
                format!(
                    "project {:?} may not use cluster {:?}",
                    vm.project, vm.cluster
                ),
            ));
        }
        for nic in &vm.nics {
            if !project.subnets.contains(nic) {
                return Err(invalid(
                    op,
                    format!(
                        "subnet {nic:?} is not available to project {:?}",
                        vm.project
                    ),
                ));
            }
        }
        if vm.name.is_empty() || vm.name.len() > 80 {
            return Err(invalid(op, "name must be 1 to 80 characters".into()));
        }
        if vm.disks_gib.is_empty()
            || vm.nics.is_empty()
            || vm.sockets == 0
            || vm.cores_per_socket == 0
            || vm.ram_gib == 0
        {
            return Err(invalid(
                op,
                "a VM needs at least one disk, one NIC, one vCPU and 1 GiB".into(),
            ));
        }
        let mut disks = vm.disks_gib.clone();
        if let Some(img) = &vm.image {
            let size = w
                .images
                .get(img)
                .map(|i| i.size_gib)
                .ok_or_else(|| invalid(op, format!("no image {img:?}")))?;
            if let Some(d0) = disks.first_mut() {
                if *d0 < size {
                    return Err(invalid(
                        op,
                        format!("disk 0 ({d0} GiB) is smaller than image {img:?} ({size} GiB)"),
                    ));
                }
            }
        }
        let uuid = w.uuid();
        let info = VmInfo {
            uuid: uuid.clone(),
            name: vm.name.clone(),
            cluster: vm.cluster.clone(),
            project: Some(vm.project.clone()),
            power: PowerState::Off,
            state: VmState::Pending,
            vcpus: vm.cores_per_socket * vm.sockets,
            ram_gib: vm.ram_gib,
            disks_gib: std::mem::take(&mut disks),
            nics: vm.nics.clone(),
            categories: vec![vm.category.clone()],
        };
        use rand::Rng;
        let rate = w.timings.task_failure_rate;
        let fails = (rate > 0.0 && w.rng.gen::<f64>() < rate)
            .then(|| "injected task failure: host out of memory".to_string());
        let run = w.timings.create_vm;
        // Like Prism Central v3, the entity exists (PENDING) as soon as the
        // create is accepted; the task settles it.
        w.insert_vm(info);
        let effect = Effect::CreateVm {
            uuid: uuid.clone(),
            power_on: vm.power_on,
        };
        let id = w.new_task(now, run, fails, Some(uuid), Some(effect));
        drop(w);
        Self::exit(op, fault, TaskId(id))
    }

    async fn task(&self, id: &TaskId) -> Result<TaskStatus, BackendError> {
        self.enter(Op::Task, Some(&id.0)).await?;
        let now = self.now();
        let w = self.world();
        let t = w
            .tasks
            .get(&id.0)
            .ok_or_else(|| not_found(Op::Task, format!("no task {:?}", id.0)))?;
        Ok(w.task_status(t, now))
    }

    async fn list_protection_groups(
        &self,
        cluster: &str,
    ) -> Result<Vec<ProtectionGroup>, BackendError> {
        self.enter(Op::ListProtectionGroups, Some(cluster)).await?;
        let now = self.now();
        let w = self.world();
        if !w.clusters.contains_key(cluster) {
            return Err(not_found(
                Op::ListProtectionGroups,
                format!("no cluster {cluster:?}"),
            ));
        }
        Ok(w.pgs
            .values()
            .filter(|p| p.cluster == cluster)
            .map(|p| p.view(now))
            .collect())
    }

    async fn protect_vm(&self, cluster: &str, req: &ProtectRequest) -> Result<(), BackendError> {
        let fault = self.enter(Op::ProtectVm, Some(&req.group)).await?;
        let now = self.now();
        let op = Op::ProtectVm;
        let mut w = self.world();
        match w.vm_named(&req.vm_name) {
            Some(vm) if vm.info.cluster == cluster => {}
            Some(_) => {
                return Err(invalid(
                    op,
                    format!("VM {:?} is not on cluster {cluster:?}", req.vm_name),
                ))
            }
            None => return Err(not_found(op, format!("no VM {:?}", req.vm_name))),
        }
        let sites = w.remote_sites.get(cluster).cloned().unwrap_or_default();
        for s in &req.schedules {
            if s.kind == ScheduleKind::Remote
                && !s.remote_site.as_ref().is_some_and(|r| sites.contains(r))
            {
                return Err(invalid(
                    op,
                    format!(
                        "remote site {:?} is not configured on {cluster:?}",
                        s.remote_site
                    ),
                ));
            }
        }
        let in_other = w
            .pgs
            .values()
            .any(|p| p.name != req.group && p.active && p.vms.contains(&req.vm_name));
        if in_other {
            return Err(BackendError::new(
                ErrorKind::Conflict,
                op.as_str(),
                format!(
                    "VM {:?} is already in another protection domain",
                    req.vm_name
                ),
            ));
        }
        let pg = w
            .pgs
            .entry((cluster.to_string(), req.group.clone()))
            .or_insert_with(|| SimPg::new(cluster, &req.group));
        if !pg.active {
            return Err(BackendError::new(
                ErrorKind::Conflict,
                op.as_str(),
                format!(
                    "protection domain {:?} is inactive on {cluster:?}",
                    req.group
                ),
            ));
        }
        if !pg.vms.contains(&req.vm_name) {
            pg.vms.push(req.vm_name.clone());
        }
        for s in &req.schedules {
            if !pg.schedules.contains(s) {
                pg.schedules.push(s.clone());
            }
            if let Some(site) = &s.remote_site {
                if !pg.remote_sites.contains(site) {
                    pg.remote_sites.push(site.clone());
                }
                if pg.replication_since.is_none() {
                    pg.replication_since = Some(now);
                }
            }
        }
        drop(w);
        Self::exit(op, fault, ())
    }

    async fn migrate_protection_group(
        &self,
        source: &str,
        group: &str,
        destination: &str,
    ) -> Result<(), BackendError> {
        let fault = self.enter(Op::MigrateProtectionGroup, Some(group)).await?;
        let now = self.now();
        let op = Op::MigrateProtectionGroup;
        let run = self.world().migration_time(source, group);
        let mut w = self.world();
        let pg = w
            .pgs
            .get(&(source.to_string(), group.to_string()))
            .ok_or_else(|| {
                not_found(op, format!("no protection domain {group:?} on {source:?}"))
            })?;
        if !pg.active {
            return Err(BackendError::new(
                ErrorKind::Conflict,
                op.as_str(),
                format!("protection domain {group:?} is not active on {source:?}"),
            ));
        }
        if pg.migrating_until.is_some() {
            return Err(BackendError::new(
                ErrorKind::Conflict,
                op.as_str(),
                format!("protection domain {group:?} is already migrating"),
            ));
        }
        if !pg.remote_sites.iter().any(|s| s == destination) {
            return Err(invalid(
                op,
                format!("protection domain {group:?} has no remote site {destination:?}"),
            ));
        }
        let effect = Effect::Migrate {
            source: source.to_string(),
            group: group.to_string(),
            destination: destination.to_string(),
        };
        let task = w.new_task(now, run, None, None, Some(effect));
        let ends = w.tasks.get(&task).map(|t| t.ends);
        if let Some(pg) = w.pgs.get_mut(&(source.to_string(), group.to_string())) {
            pg.migrating_until = ends;
        }
        drop(w);
        Self::exit(op, fault, ())
    }

    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        let fault = self.enter(Op::SetVmProject, Some(vm_uuid)).await?;
        let op = Op::SetVmProject;
        let mut w = self.world();
        let i = *w
            .vm_by_uuid
            .get(vm_uuid)
            .ok_or_else(|| not_found(op, format!("no VM {vm_uuid:?}")))?;
        let cluster = w
            .vms
            .get(i)
            .map(|v| v.info.cluster.clone())
            .unwrap_or_default();
        let p = w
            .projects
            .get(project)
            .ok_or_else(|| invalid(op, format!("no project {project:?}")))?;
        if !p.clusters.contains(&cluster) {
            return Err(invalid(
                op,
                format!("project {project:?} may not use cluster {cluster:?}"),
            ));
        }
        if let Some(vm) = w.vms.get_mut(i) {
            vm.info.project = Some(project.to_string());
        }
        drop(w);
        Self::exit(op, fault, ())
    }
}

#[async_trait]
impl Monitor for SimPlatform {
    async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError> {
        self.enter(Op::MonitorFind, Some(vm_name)).await?;
        Ok(self
            .world()
            .monitor
            .iter()
            .find(|r| r.vm_name == vm_name)
            .cloned())
    }

    async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError> {
        let fault = self.enter(Op::MonitorRegister, Some(&reg.vm_name)).await?;
        // Like most monitoring APIs, registering twice makes two hosts.
        self.world().monitor.push(reg.clone());
        Self::exit(Op::MonitorRegister, fault, ())
    }
}

#[async_trait]
impl Billing for SimPlatform {
    async fn find(&self, vm_name: &str) -> Result<Option<BillingActivation>, BackendError> {
        self.enter(Op::BillingFind, Some(vm_name)).await?;
        Ok(self
            .world()
            .billing
            .iter()
            .find(|r| r.vm_name == vm_name)
            .cloned())
    }

    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let fault = self.enter(Op::BillingActivate, Some(&act.vm_name)).await?;
        self.world().billing.push(act.clone());
        Self::exit(Op::BillingActivate, fault, ())
    }
}

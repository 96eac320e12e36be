//! The simulated platform as a backend: `ClusterBackend`, `Monitor`, `Billing`.

use super::*;
use butler_core::backend::{SharedStrings, VmMove, VmSize};

impl SimPlatform {
    /// The world, for a listing of `cluster`'s VMs: one `ListVms`
    /// operation (its faults and latency), `NotFound` for a cluster it
    /// does not have.
    async fn listing(&self, cluster: &str) -> Result<MutexGuard<'_, World>, BackendError> {
        self.enter(Op::ListVms, Some(cluster)).await?;
        let w = self.world();
        if !w.clusters.contains_key(cluster) {
            return Err(not_found(Op::ListVms, format!("no cluster {cluster:?}")));
        }
        Ok(w)
    }

    /// Starts moving protection group `group` from `source` as `to` says
    /// (one `MigrateProtectionGroup` operation: its faults and latency).
    async fn start_group_move(
        &self,
        source: &str,
        group: &str,
        to: &VmMove,
    ) -> Result<(), BackendError> {
        let destination = to.destination.as_str();
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
            live: to.live,
        };
        let task = w.new_task(now, run, None, None, Some(effect));
        let ends = w.tasks.get(&task).map(|t| t.ends);
        if let Some(pg) = w.pgs.get_mut(&(source.to_string(), group.to_string())) {
            pg.migrating_until = ends;
        }
        drop(w);
        Self::exit(op, fault, ())
    }
}

#[async_trait]
impl ClusterBackend for SimPlatform {
    fn capabilities(&self) -> Capabilities {
        *lock(&self.inner.capabilities)
    }

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
        let w = self.listing(cluster).await?;
        // Sized once: a million VMs are not moved by repeated growth.
        let mut out = Vec::with_capacity(w.vm_count_on(cluster));
        out.extend(w.vms_on(cluster, 0).map(|v| v.info.clone()));
        Ok(out)
    }

    async fn list_vm_briefs(&self, cluster: &str) -> Result<Vec<VmBrief>, BackendError> {
        let w = self.listing(cluster).await?;
        // Sized once: a million briefs are not moved by repeated growth.
        let mut out = Vec::with_capacity(w.vm_count_on(cluster));
        // Every brief shares its cluster's and its project's one string.
        let on: Arc<str> = Arc::from(cluster);
        let mut projects = SharedStrings::default();
        out.extend(w.vms_on(cluster, 0).map(|v| VmBrief {
            name: v.name.clone(),
            cluster: on.clone(),
            project: v.info.project.as_deref().map(|p| projects.share(p)),
            power: v.info.power,
        }));
        Ok(out)
    }

    async fn list_vm_sizes(&self, cluster: &str) -> Result<Vec<VmSize>, BackendError> {
        let w = self.listing(cluster).await?;
        let mut out = Vec::with_capacity(w.vm_count_on(cluster));
        // Every VM shares its cluster's and its subnets' one string.
        let on: Arc<str> = Arc::from(cluster);
        let mut subnets = SharedStrings::default();
        out.extend(w.vms_on(cluster, 0).map(|v| VmSize {
            name: v.name.clone(),
            cluster: on.clone(),
            power: v.info.power,
            vcpus: v.info.vcpus,
            ram_gib: v.info.ram_gib,
            disks_gib: v.info.disks_gib.clone(),
            nics: v.info.nics.iter().map(|n| subnets.share(n)).collect(),
        }));
        Ok(out)
    }

    async fn list_vm_names(&self, cluster: &str) -> Result<Vec<String>, BackendError> {
        let w = self.listing(cluster).await?;
        Ok(w.vms_on(cluster, 0).map(|v| v.info.name.clone()).collect())
    }

    async fn find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        self.enter(Op::FindVm, Some(name)).await?;
        let now = self.now();
        Ok(self
            .world()
            .vm_named(name)
            .filter(|v| v.listed_from.is_none_or(|t| t <= now))
            .map(|v| v.info.clone()))
    }

    async fn create_vm(&self, vm: &VmCreate) -> Result<TaskId, BackendError> {
        let fault = self.enter(Op::CreateVm, Some(&vm.name)).await?;
        let now = self.now();
        let keyed = self.has(Capability::IdempotentCreate);
        let mut w = self.world();
        let op = Op::CreateVm;
        // A repeat of a create (same request id) answers its task, as
        // Prism Central v4 does with `NTNX-Request-Id`.
        if let Some(task) = vm
            .request_id
            .as_ref()
            .filter(|_| keyed)
            .and_then(|k| w.create_requests.get(k))
        {
            let task = TaskId(task.clone());
            drop(w);
            return Self::exit(op, fault, task);
        }
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
            let elsewhere = w
                .subnets
                .get(nic)
                .and_then(|s| s.cluster.as_ref())
                .filter(|c| **c != vm.cluster);
            if let Some(c) = elsewhere {
                return Err(invalid(
                    op,
                    format!("subnet {nic:?} is on cluster {c:?}, not {:?}", vm.cluster),
                ));
            }
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
        if let Some(ctr) = &vm.storage_container {
            if !w
                .containers
                .iter()
                .any(|c| c.cluster == vm.cluster && &c.name == ctr)
            {
                return Err(invalid(
                    op,
                    format!("no storage container {ctr:?} on cluster {:?}", vm.cluster),
                ));
            }
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
            ip_addresses: Vec::new(),
        };
        use rand::Rng;
        let rate = w.timings.task_failure_rate;
        let fails = (rate > 0.0 && w.rng.gen::<f64>() < rate)
            .then(|| "injected task failure: host out of memory".to_string());
        let run = w.timings.create_vm;
        // Like Prism Central v3, the entity exists (PENDING) as soon as the
        // create is accepted; the task settles it.
        w.insert_vm(info);
        let lag = w.listing_lag;
        if !lag.is_zero() {
            if let Some(v) = w.vms.last_mut() {
                v.listed_from = Some(butler_core::backend::after(now, lag));
            }
        }
        if let Some(ctr) = &vm.storage_container {
            w.placements.insert(uuid.clone(), ctr.clone());
        }
        let effect = Effect::CreateVm {
            uuid: uuid.clone(),
            power_on: vm.power_on,
        };
        let id = w.new_task(now, run, fails, Some(uuid), Some(effect));
        if let Some(k) = vm.request_id.as_ref().filter(|_| keyed) {
            w.create_requests.insert(k.clone(), id.clone());
        }
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
        self.offers(Capability::Protection, "list_protection_groups")?;
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

    async fn remote_sites(&self, cluster: &str) -> Result<Vec<RemoteSite>, BackendError> {
        self.offers(Capability::Protection, "remote_sites")?;
        let fault = self.enter(Op::RemoteSites, Some(cluster)).await?;
        let w = self.world();
        if !w.clusters.contains_key(cluster) {
            return Err(not_found(
                Op::RemoteSites,
                format!("no cluster {cluster:?}"),
            ));
        }
        // The simulator names each remote site after the cluster it points at.
        let sites = w
            .remote_sites
            .get(cluster)
            .into_iter()
            .flatten()
            .map(|s| RemoteSite::new(s.clone(), Some(s.clone())))
            .collect();
        drop(w);
        Self::exit(Op::RemoteSites, fault, sites)
    }

    async fn protect_vm(
        &self,
        cluster: &str,
        req: &ProtectRequest,
    ) -> Result<String, BackendError> {
        self.offers(Capability::Protection, "protect_vm")?;
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
        let in_other = w.in_other_active_group(&req.vm_name, &req.group);
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
        let key = (cluster.to_string(), req.group.clone());
        let pg = w
            .pgs
            .entry(key.clone())
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
        w.add_to_group(&key, &req.vm_name);
        drop(w);
        Self::exit(op, fault, req.group.clone())
    }

    async fn migrate_protection_group(
        &self,
        source: &str,
        group: &str,
        destination: &str,
    ) -> Result<(), BackendError> {
        self.offers(Capability::Migration, "migrate_protection_group")?;
        self.start_group_move(source, group, &VmMove::cold(destination))
            .await
    }

    /// Live where asked and offered: the running VMs arrive running.
    async fn move_protection_group(
        &self,
        source: &str,
        group: &str,
        to: &VmMove,
    ) -> Result<Option<TaskId>, BackendError> {
        self.offers(Capability::Migration, "move_protection_group")?;
        if to.live {
            self.offers(Capability::LiveMigration, "move_protection_group")?;
        }
        self.start_group_move(source, group, to)
            .await
            .map(|()| None)
    }

    async fn check_vm_migration(
        &self,
        vm_uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, BackendError> {
        self.offers_move(to, "check_vm_migration")?;
        let op = Op::CheckVmMigration;
        let fault = self.enter(op, Some(vm_uuid)).await?;
        let protection = self.has(Capability::Protection);
        let reasons = self
            .world()
            .move_refusals(vm_uuid, to, protection, true, op.as_str())?;
        Self::exit(op, fault, reasons)
    }

    async fn check_vm_migrations(
        &self,
        vm_names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, BackendError> {
        self.offers_move(to, "check_vm_migrations")?;
        // One operation for the whole batch: its faults and latency once.
        let op = Op::CheckVmMigration;
        let fault = self.enter(op, None).await?;
        let protection = self.has(Capability::Protection);
        let w = self.world();
        let mut verdicts = Vec::with_capacity(vm_names.len());
        for name in vm_names {
            let reasons = match w.vm_named(name).map(|v| v.info.uuid.clone()) {
                Some(uuid) => w.move_refusals(&uuid, to, protection, false, op.as_str())?,
                None => vec![format!("the platform has no VM named {name:?}")],
            };
            verdicts.push(reasons);
        }
        drop(w);
        Self::exit(op, fault, verdicts)
    }

    async fn migrate_vm(&self, vm_uuid: &str, to: &VmMove) -> Result<TaskId, BackendError> {
        self.offers_move(to, "migrate_vm")?;
        let op = Op::MigrateVm;
        let fault = self.enter(op, Some(vm_uuid)).await?;
        let now = self.now();
        let protection = self.has(Capability::Protection);
        let mut w = self.world();
        // Asked again while it moves, the platform answers the same task.
        if let Some(t) = w.moving.get(vm_uuid).cloned() {
            drop(w);
            return Self::exit(op, fault, TaskId(t));
        }
        let why = w.move_refusals(vm_uuid, to, protection, true, op.as_str())?;
        if !why.is_empty() {
            return Err(invalid(op, why.join("; ")));
        }
        let run = w.move_time(vm_uuid);
        let effect = Effect::MoveVm {
            uuid: vm_uuid.to_string(),
            destination: to.destination.clone(),
        };
        let t = w.new_task(now, run, None, Some(vm_uuid.to_string()), Some(effect));
        w.moving.insert(vm_uuid.to_string(), t.clone());
        drop(w);
        Self::exit(op, fault, TaskId(t))
    }

    async fn set_power(&self, vm_uuid: &str, change: PowerChange) -> Result<(), BackendError> {
        self.offers(Capability::Power, "set_power")?;
        let fault = self.enter(Op::SetPower, Some(vm_uuid)).await?;
        let op = Op::SetPower;
        let mut w = self.world();
        let i = *w
            .vm_by_uuid
            .get(vm_uuid)
            .ok_or_else(|| not_found(op, format!("no VM {vm_uuid:?}")))?;
        let unresponsive = w.unresponsive_guests.contains(vm_uuid);
        let Some(vm) = w.vms.get_mut(i) else {
            return Err(not_found(op, format!("no VM {vm_uuid:?}")));
        };
        if vm.info.state != VmState::Ready {
            return Err(invalid(
                op,
                format!("VM {:?} is not ready ({:?})", vm.info.name, vm.info.state),
            ));
        }
        let on = vm.info.power == PowerState::On;
        match change {
            PowerChange::On => vm.info.power = PowerState::On,
            PowerChange::HardOff => vm.info.power = PowerState::Off,
            // A guest only answers ACPI while it runs, and only if it listens.
            PowerChange::GuestShutdown if on && !unresponsive => vm.info.power = PowerState::Off,
            PowerChange::GuestRestart if on && !unresponsive => {
                *w.guest_restarts.entry(vm_uuid.to_string()).or_default() += 1;
            }
            PowerChange::GuestShutdown | PowerChange::GuestRestart if !on => {
                return Err(invalid(
                    op,
                    format!("VM {:?} is off: its guest cannot answer", vm.info.name),
                ));
            }
            _ => {}
        }
        drop(w);
        Self::exit(op, fault, ())
    }

    async fn protection_groups_of(
        &self,
        cluster: &str,
        vm_name: &str,
    ) -> Result<Vec<String>, BackendError> {
        self.offers(Capability::Protection, "protection_groups_of")?;
        self.enter(Op::ListProtectionGroups, Some(cluster)).await?;
        let w = self.world();
        Ok(w.vm_groups
            .get(vm_name)
            .into_iter()
            .flatten()
            .filter(|(c, g)| {
                c == cluster
                    && w.pgs
                        .get(&(c.clone(), g.clone()))
                        .is_some_and(|p| p.vms.iter().any(|v| **v == *vm_name))
            })
            .map(|(_, g)| g.clone())
            .collect())
    }

    async fn unprotect_vm(
        &self,
        cluster: &str,
        group: &str,
        vm_name: &str,
    ) -> Result<(), BackendError> {
        self.offers(Capability::Protection, "unprotect_vm")?;
        let fault = self.enter(Op::UnprotectVm, Some(vm_name)).await?;
        let op = Op::UnprotectVm;
        let mut w = self.world();
        let key = (cluster.to_string(), group.to_string());
        let Some(pg) = w.pgs.get_mut(&key) else {
            return Err(not_found(
                op,
                format!("no protection domain {group:?} on {cluster:?}"),
            ));
        };
        let before = pg.vms.len();
        pg.vms.retain(|v| **v != *vm_name);
        if pg.vms.len() == before {
            return Err(not_found(
                op,
                format!("VM {vm_name:?} is not in protection domain {group:?}"),
            ));
        }
        if let Some(listed) = w.vm_groups.get_mut(vm_name) {
            listed.retain(|k| *k != key);
        }
        drop(w);
        Self::exit(op, fault, ())
    }

    async fn reconfigure_vm(&self, vm_uuid: &str, to: &VmReconfig) -> Result<(), BackendError> {
        self.offers(Capability::Reconfigure, "reconfigure_vm")?;
        let fault = self.enter(Op::ReconfigureVm, Some(vm_uuid)).await?;
        let op = Op::ReconfigureVm;
        let mut w = self.world();
        let i = *w
            .vm_by_uuid
            .get(vm_uuid)
            .ok_or_else(|| not_found(op, format!("no VM {vm_uuid:?}")))?;
        let Some(vm) = w.vms.get(i) else {
            return Err(not_found(op, format!("no VM {vm_uuid:?}")));
        };
        // AHV's rules: CPU and memory are hot-added, never hot-removed;
        // disks grow and are added; NICs are added while it runs.
        if vm.info.power == PowerState::On {
            let why = to.needs_power_off(&vm.info);
            if !why.is_empty() {
                return Err(invalid(
                    op,
                    format!(
                        "VM {:?} is on: {} needs it off",
                        vm.info.name,
                        why.join(", ")
                    ),
                ));
            }
        }
        for (n, (was, now)) in vm.info.disks_gib.iter().zip(&to.disks_gib).enumerate() {
            if now < was {
                return Err(invalid(
                    op,
                    format!("disk {n} cannot shrink ({was} → {now} GiB)"),
                ));
            }
        }
        if to.disks_gib.len() < vm.info.disks_gib.len() {
            return Err(invalid(op, "disks cannot be removed here".into()));
        }
        let uuid = vm.info.uuid.clone();
        if let Some(vm) = w.vms.get_mut(i) {
            vm.info.vcpus = to.vcpus();
            vm.info.ram_gib = to.ram_gib;
            vm.info.disks_gib = to.disks_gib.clone();
            vm.info.nics = to.nics.clone();
        }
        *w.reconfigurations.entry(uuid).or_default() += 1;
        drop(w);
        Self::exit(op, fault, ())
    }

    async fn delete_vm(&self, vm_uuid: &str) -> Result<TaskId, BackendError> {
        self.offers(Capability::Delete, "delete_vm")?;
        let fault = self.enter(Op::DeleteVm, Some(vm_uuid)).await?;
        let op = Op::DeleteVm;
        let now = self.now();
        let mut w = self.world();
        if !w.vm_by_uuid.contains_key(vm_uuid) {
            return Err(not_found(op, format!("no VM {vm_uuid:?}")));
        }
        // Asked again while its delete runs, the platform answers the same task.
        let task = match w.deleting.get(vm_uuid) {
            Some(t) => t.clone(),
            None => {
                let run = w.timings.queue;
                let effect = Effect::DeleteVm {
                    uuid: vm_uuid.to_string(),
                };
                let t = w.new_task(now, run, None, Some(vm_uuid.to_string()), Some(effect));
                w.deleting.insert(vm_uuid.to_string(), t.clone());
                t
            }
        };
        drop(w);
        Self::exit(op, fault, TaskId(task))
    }

    async fn set_vm_project(&self, vm_uuid: &str, project: &str) -> Result<(), BackendError> {
        self.offers(Capability::ProjectRemap, "set_vm_project")?;
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

    async fn list_storage_containers(&self) -> Result<Vec<StorageContainerInfo>, BackendError> {
        self.offers(Capability::StorageContainers, "list_storage_containers")?;
        self.enter(Op::ListStorageContainers, None).await?;
        Ok(self.world().containers.clone())
    }

    async fn category_values(&self, key: &str) -> Result<Vec<String>, BackendError> {
        self.offers(Capability::Categories, "category_values")?;
        self.enter(Op::CategoryValues, Some(key)).await?;
        Ok(self
            .world()
            .categories
            .get(key)
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl Monitor for SimPlatform {
    async fn find(&self, vm_name: &str) -> Result<Option<MonitorRegistration>, BackendError> {
        self.enter(Op::MonitorFind, Some(vm_name)).await?;
        let w = self.world();
        Ok(w.monitor_by_name
            .get(vm_name)
            .and_then(|at| at.first())
            .and_then(|i| w.monitor.get(*i))
            .cloned())
    }

    async fn register(&self, reg: &MonitorRegistration) -> Result<(), BackendError> {
        let fault = self.enter(Op::MonitorRegister, Some(&reg.vm_name)).await?;
        // Like most monitoring APIs, registering twice makes two hosts.
        self.world().add_registration(reg.clone());
        Self::exit(Op::MonitorRegister, fault, ())
    }

    async fn deregister(&self, vm_name: &str) -> Result<(), BackendError> {
        let fault = self.enter(Op::MonitorDeregister, Some(vm_name)).await?;
        let mut w = self.world();
        if w.monitor_by_name.remove(vm_name).is_none() {
            return Err(not_found(
                Op::MonitorDeregister,
                format!("no host {vm_name:?}"),
            ));
        }
        *w.deregistrations.entry(vm_name.to_string()).or_default() += 1;
        drop(w);
        Self::exit(Op::MonitorDeregister, fault, ())
    }
}

#[async_trait]
impl Billing for SimPlatform {
    async fn is_active(&self, vm_name: &str) -> Result<bool, BackendError> {
        self.enter(Op::BillingFind, Some(vm_name)).await?;
        let w = self.world();
        // A ledger: billed while it has more activations than stops (a VM
        // restored after its retirement is billed again).
        let activations = w.billing_by_name.get(vm_name).copied().unwrap_or(0);
        let stops = w.stops_by_name.get(vm_name).copied().unwrap_or(0);
        Ok(activations as u64 > u64::from(stops))
    }

    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let fault = self.enter(Op::BillingActivate, Some(&act.vm_name)).await?;
        self.world().add_activation(act.clone());
        Self::exit(Op::BillingActivate, fault, ())
    }

    async fn change(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let fault = self.enter(Op::BillingChange, Some(&act.vm_name)).await?;
        self.world()
            .billing_changes
            .entry((act.vm_name.clone(), act.request))
            .or_insert_with(|| act.clone());
        Self::exit(Op::BillingChange, fault, ())
    }

    fn reports_charges(&self) -> bool {
        true
    }

    /// What the simulated chargeback ledger charged for `month`
    /// ([`butler_core::showback::ledger_charges`]): each activation,
    /// change and stop it was told of, once each.
    async fn charges(
        &self,
        month: butler_core::showback::Month,
    ) -> Result<Vec<butler_core::backend::Charge>, BackendError> {
        use butler_core::showback::LedgerEntry;
        let entries: Vec<LedgerEntry> = {
            let w = self.world();
            w.billing
                .iter()
                .map(LedgerEntry::activated)
                .chain(w.billing_changes.values().map(LedgerEntry::changed))
                .chain(w.billing_stops.iter().map(LedgerEntry::stopped))
                .collect()
        };
        Ok(butler_core::showback::ledger_charges(&entries, month))
    }

    async fn stop(&self, stop: &BillingStop) -> Result<(), BackendError> {
        let fault = self.enter(Op::BillingStop, Some(&stop.vm_name)).await?;
        let mut w = self.world();
        // Like a chargeback ledger, stopping twice records two stops.
        *w.stops_by_name.entry(stop.vm_name.clone()).or_default() += 1;
        w.billing_stops.push(stop.clone());
        drop(w);
        Self::exit(Op::BillingStop, fault, ())
    }
}

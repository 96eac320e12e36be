//! What tests and demos read and change on the simulated platform directly
//! (not through the backend traits): counts, records, power, replication.

use super::*;

impl SimPlatform {
    /// How many VMs are named `name` (more than 1 means a duplicate create).
    pub fn vms_named(&self, name: &str) -> usize {
        self.world().vm_by_name.get(name).map_or(0, Vec::len)
    }

    /// The storage container the disks of the VM named `name` were placed
    /// on (`None`: the default container, or no such VM).
    pub fn vm_storage_container(&self, name: &str) -> Option<String> {
        let w = self.world();
        let uuid = &w.vm_named(name)?.info.uuid;
        w.placements.get(uuid).cloned()
    }

    /// Number of VMs.
    pub fn vm_count(&self) -> usize {
        self.world().vms.len()
    }

    /// A task's state, read without an operation (no faults, no
    /// latency, what is due settled): what a fake in front of the
    /// simulator derives its own jobs from. `None`: no such task.
    pub fn peek_task(
        &self,
        id: &butler_core::backend::TaskId,
    ) -> Option<butler_core::backend::TaskState> {
        let now = self.now();
        let mut w = self.world();
        // What has happened by now has happened, as for any read.
        w.settle(now);
        w.tasks.get(&id.0).map(|t| w.task_status(t, now).state)
    }

    /// The VM named `name` (the first, if duplicated).
    pub fn vm(&self, name: &str) -> Option<VmInfo> {
        self.world().vm_named(name).map(|v| v.info.clone())
    }

    /// Monitoring registrations for `vm_name` (more than 1 is a duplicate).
    pub fn monitor_registrations(&self, vm_name: &str) -> usize {
        self.world()
            .monitor_by_name
            .get(vm_name)
            .map_or(0, Vec::len)
    }

    /// Billing activations for `vm_name` (more than 1 is a duplicate).
    pub fn billing_activations(&self, vm_name: &str) -> usize {
        self.world()
            .billing_by_name
            .get(vm_name)
            .copied()
            .unwrap_or(0)
    }

    /// Billing stops for `vm_name` (more than 1 stops twice).
    pub fn billing_stops(&self, vm_name: &str) -> u32 {
        self.world()
            .stops_by_name
            .get(vm_name)
            .copied()
            .unwrap_or(0)
    }

    /// Every billing stop, in order.
    pub fn billing_stop_log(&self) -> Vec<BillingStop> {
        self.world().billing_stops.clone()
    }

    /// Deregistrations from monitoring of `vm_name`.
    pub fn monitor_deregistrations(&self, vm_name: &str) -> u32 {
        self.world()
            .deregistrations
            .get(vm_name)
            .copied()
            .unwrap_or(0)
    }

    /// The billing changes recorded for `vm_name`, one per request.
    pub fn billing_changes(&self, vm_name: &str) -> Vec<BillingActivation> {
        self.world()
            .billing_changes
            .iter()
            .filter(|((n, _), _)| n == vm_name)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// How many times the VM `uuid` was reconfigured.
    pub fn reconfigurations(&self, uuid: &str) -> u32 {
        self.world()
            .reconfigurations
            .get(uuid)
            .copied()
            .unwrap_or(0)
    }

    /// How many times Butler deleted the VM `uuid` (more than 1 deletes twice).
    pub fn deletions(&self, uuid: &str) -> u32 {
        self.world().deletions.get(uuid).copied().unwrap_or(0)
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

    /// Adds an image of `size_gib`, as an administrator uploading one at
    /// the platform would (no call is counted); an image of that name is
    /// replaced.
    pub fn add_image(&self, name: &str, size_gib: u32) {
        let mut w = self.world();
        let uuid = w.uuid();
        w.images.insert(
            name.to_string(),
            butler_core::backend::ImageInfo {
                name: name.to_string(),
                uuid,
                size_gib,
            },
        );
    }

    /// Sets a VM's power state, as someone at the platform's own console
    /// would (no call is counted, no fault applies).
    pub fn set_vm_power(&self, name: &str, power: PowerState) -> bool {
        let mut w = self.world();
        let idx = w.vm_by_name.get(name).cloned().unwrap_or_default();
        for i in &idx {
            if let Some(vm) = w.vms.get_mut(*i) {
                vm.info.power = power;
            }
        }
        !idx.is_empty()
    }

    /// Makes the guest of the VM named `name` ignore (or again obey) ACPI
    /// requests: a guest shutdown or restart is accepted and nothing
    /// happens, as with a hung guest or one without ACPI support.
    pub fn set_guest_unresponsive(&self, name: &str, unresponsive: bool) -> bool {
        let mut w = self.world();
        let Some(uuid) = w.vm_named(name).map(|v| v.info.uuid.clone()) else {
            return false;
        };
        if unresponsive {
            w.unresponsive_guests.insert(uuid);
        } else {
            w.unresponsive_guests.remove(&uuid);
        }
        true
    }

    /// Deletes the VM named `name` as someone at the platform's own
    /// console would (no call is counted): what a reconcile must notice.
    pub fn delete_vm_outside(&self, name: &str) -> bool {
        let mut w = self.world();
        let Some(i) = w.vm_by_name.get(name).and_then(|v| v.first().copied()) else {
            return false;
        };
        w.delete_vm(i);
        true
    }

    /// Resizes the VM named `name` as someone at the platform's own console
    /// would (no call is counted).
    pub fn resize_vm_outside(&self, name: &str, vcpus: u32, ram_gib: u32) -> bool {
        let mut w = self.world();
        let idx = w.vm_by_name.get(name).cloned().unwrap_or_default();
        for i in &idx {
            if let Some(vm) = w.vms.get_mut(*i) {
                vm.info.vcpus = vcpus;
                vm.info.ram_gib = ram_gib;
            }
        }
        !idx.is_empty()
    }

    /// Guest restarts done on the VM named `name`.
    pub fn guest_restarts(&self, name: &str) -> u32 {
        let w = self.world();
        w.vm_named(name)
            .and_then(|v| w.guest_restarts.get(&v.info.uuid).copied())
            .unwrap_or(0)
    }

    /// Replaces the categories (`key:value`) of the VM with `uuid`; `false`
    /// when there is none (the fake Prism's VM update uses it).
    pub fn set_vm_categories(&self, uuid: &str, categories: Vec<String>) -> bool {
        let mut w = self.world();
        let Some(i) = w.vm_by_uuid.get(uuid).copied() else {
            return false;
        };
        match w.vms.get_mut(i) {
            Some(vm) => {
                vm.info.categories = categories;
                true
            }
            None => false,
        }
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
        let total = w.vm_count_on(cluster);
        Ok((
            w.vms_on(cluster, offset)
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

    /// Every category `(key, value)` the platform has.
    pub fn category_pairs(&self) -> Vec<(String, String)> {
        self.world()
            .categories
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect()
    }

    /// A valid create request on the demo platform (`c1-madrid`,
    /// `prod-project`, `vlan-10`), powered off.
    pub fn sample_vm(&self, name: &str) -> VmCreate {
        VmCreate::new(name, "c1-madrid")
            .project("prod-project")
            .category("Environment:Production")
            .cpu(2, 1)
            .ram_gib(4)
            .disks_gib(vec![40])
            .nics(vec!["vlan-10".into()])
            .cdrom(true)
    }
}

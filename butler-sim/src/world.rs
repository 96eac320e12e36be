//! The simulated platform's state and the effects of long operations.

use butler_core::backend::{
    BackendError, BillingActivation, BillingStop, ClusterInfo, ErrorKind, ImageInfo,
    MonitorRegistration, PowerState, ProjectInfo, ProtectionGroup, Schedule, ScheduleKind,
    StorageContainerInfo, SubnetInfo, TaskState, TaskStatus, VmInfo, VmMove, VmState,
};
use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Durations of long operations (simulated time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// Time a task waits `QUEUED` before `RUNNING`.
    pub queue: Duration,
    /// Time a VM create runs.
    pub create_vm: Duration,
    /// Fixed part of a protection-group migration.
    pub migrate_base: Duration,
    /// Added per GiB of the group's VMs' disks.
    pub migrate_per_gib: Duration,
    /// Probability that a VM-create task ends `FAILED`.
    pub task_failure_rate: f64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            queue: Duration::from_secs(2),
            create_vm: Duration::from_secs(30),
            migrate_base: Duration::from_secs(60),
            migrate_per_gib: Duration::from_millis(200),
            task_failure_rate: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SimVm {
    pub(crate) info: VmInfo,
    /// `info.name`, shared with the name index, the groups that hold the
    /// VM and every brief listed: a refresh of a million VMs counts
    /// references instead of copying names.
    pub(crate) name: Arc<str>,
    /// Before this time the name look-up does not find the VM (a
    /// listing that lags behind creates, [`World::listing_lag`]).
    pub(crate) listed_from: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimPg {
    pub(crate) name: String,
    pub(crate) cluster: String,
    pub(crate) active: bool,
    /// Members, sharing their VMs' names ([`SimVm::name`]).
    pub(crate) vms: Vec<Arc<str>>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) remote_sites: Vec<String>,
    /// When remote replication started (replicas every remote interval since).
    pub(crate) replication_since: Option<DateTime<Utc>>,
    /// Replication stopped here (a stale replica), if set.
    pub(crate) replication_stalled_at: Option<DateTime<Utc>>,
    pub(crate) migrating_until: Option<DateTime<Utc>>,
}

impl SimPg {
    pub(crate) fn new(cluster: &str, name: &str) -> Self {
        SimPg {
            name: name.to_string(),
            cluster: cluster.to_string(),
            active: true,
            vms: Vec::new(),
            schedules: Vec::new(),
            remote_sites: Vec::new(),
            replication_since: None,
            replication_stalled_at: None,
            migrating_until: None,
        }
    }

    /// The time of the last replica at `now`: remote replicas are sent every
    /// remote-schedule interval from `replication_since`, unless stalled.
    pub(crate) fn last_replica(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let since = self.replication_since?;
        let every = self
            .schedules
            .iter()
            .filter(|s| s.kind == ScheduleKind::Remote)
            .map(|s| s.every_minutes)
            .min()?;
        let until = self.replication_stalled_at.map_or(now, |s| s.min(now));
        if until < since {
            return None;
        }
        let every = chrono::Duration::minutes(i64::from(every.max(1)));
        let n = (until - since).num_seconds() / every.num_seconds().max(1);
        Some(since + every * i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// Remote replicas sent in the last `window`, newest first, with their size.
    pub(crate) fn replicas(
        &self,
        now: DateTime<Utc>,
        window: chrono::Duration,
        size_gib: u64,
    ) -> Vec<(DateTime<Utc>, u64)> {
        let Some(last) = self.last_replica(now) else {
            return Vec::new();
        };
        let every = self
            .schedules
            .iter()
            .filter(|s| s.kind == ScheduleKind::Remote)
            .map(|s| s.every_minutes)
            .min()
            .unwrap_or(60);
        let step = chrono::Duration::minutes(i64::from(every.max(1)));
        let since = self.replication_since.unwrap_or(last);
        let mut out = Vec::new();
        let mut t = last;
        while t >= since && now - t <= window {
            out.push((t, size_gib));
            t -= step;
        }
        out
    }

    pub(crate) fn view(&self, now: DateTime<Utc>) -> ProtectionGroup {
        ProtectionGroup {
            name: self.name.clone(),
            cluster: self.cluster.clone(),
            active: self.active,
            vms: self.vms.clone(),
            schedules: self.schedules.clone(),
            remote_sites: self.remote_sites.clone(),
            last_replica: self.last_replica(now),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Settles a pending VM: ready (and powered on if asked) or error.
    CreateVm { uuid: String, power_on: bool },
    /// Deletes a VM (Butler's decommission).
    DeleteVm { uuid: String },
    /// Moves a protection group's VMs: powered off on arrival, unless
    /// `live` (they keep the power state they had).
    Migrate {
        source: String,
        group: String,
        destination: String,
        live: bool,
    },
    /// Moves one VM to another cluster, in the power state it has.
    MoveVm { uuid: String, destination: String },
}

#[derive(Debug, Clone)]
pub(crate) struct SimTask {
    pub(crate) starts: DateTime<Utc>,
    pub(crate) ends: DateTime<Utc>,
    pub(crate) fails: Option<String>,
    pub(crate) entity_uuid: Option<String>,
    pub(crate) effect: Option<Effect>,
}

/// The VMs of one cluster.
#[derive(Debug, Default)]
pub(crate) struct ClusterVms {
    /// VM indexes, ascending (creation order); some may be of VMs that
    /// have moved away since.
    pub(crate) on: Vec<usize>,
    /// How many entries of `on` are VMs that moved away.
    pub(crate) moved: usize,
}

/// The whole simulated platform.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) timings: Timings,
    pub(crate) clusters: BTreeMap<String, ClusterInfo>,
    pub(crate) projects: BTreeMap<String, ProjectInfo>,
    pub(crate) subnets: BTreeMap<String, SubnetInfo>,
    pub(crate) images: BTreeMap<String, ImageInfo>,
    pub(crate) vms: Vec<SimVm>,
    pub(crate) vm_by_uuid: HashMap<String, usize>,
    /// Name → indexes (names are not unique on real platforms either).
    pub(crate) vm_by_name: HashMap<Arc<str>, Vec<usize>>,
    /// Cluster → its VMs (see [`ClusterVms`]): listing a cluster or one
    /// page of it never scans the others.
    pub(crate) vm_by_cluster: HashMap<String, ClusterVms>,
    pub(crate) pgs: BTreeMap<(String, String), SimPg>,
    pub(crate) tasks: HashMap<String, SimTask>,
    pub(crate) pending: Vec<(DateTime<Utc>, String)>,
    pub(crate) remote_sites: BTreeMap<String, Vec<String>>,
    pub(crate) monitor: Vec<MonitorRegistration>,
    pub(crate) billing: Vec<BillingActivation>,
    /// Billing stops, in order.
    pub(crate) billing_stops: Vec<BillingStop>,
    /// Stops per VM name (more than 1 stops twice).
    pub(crate) stops_by_name: HashMap<String, u32>,
    /// Billing changes per (VM name, request), each applied once however
    /// often it is sent (a ledger keyed by both).
    pub(crate) billing_changes: BTreeMap<(String, u64), BillingActivation>,
    /// Reconfigurations applied per VM uuid.
    pub(crate) reconfigurations: HashMap<String, u32>,
    /// Deregistrations per VM name.
    pub(crate) deregistrations: HashMap<String, u32>,
    /// Deletions done by Butler, per VM uuid (more than 1 deletes twice).
    pub(crate) deletions: HashMap<String, u32>,
    /// The pending delete task of a VM, per uuid: asked again while it
    /// runs, the platform answers the same task.
    pub(crate) deleting: HashMap<String, String>,
    /// The pending move task of a VM, per uuid (asked again while it runs,
    /// the platform answers the same task).
    pub(crate) moving: HashMap<String, String>,
    /// VM name → positions in `monitor` (look-ups stay O(1) on large runs).
    pub(crate) monitor_by_name: HashMap<String, Vec<usize>>,
    /// VM name → activations in `billing`.
    pub(crate) billing_by_name: HashMap<String, usize>,
    /// VM name → the protection groups (cluster, name) that list it, so
    /// "is it protected elsewhere" never scans every group.
    pub(crate) vm_groups: HashMap<String, Vec<(String, String)>>,
    pub(crate) containers: Vec<StorageContainerInfo>,
    /// VM uuid → the storage container its disks were placed on.
    pub(crate) placements: HashMap<String, String>,
    /// Category key → values.
    pub(crate) categories: BTreeMap<String, BTreeSet<String>>,
    /// VM uuids whose guests ignore ACPI shutdown and restart.
    pub(crate) unresponsive_guests: HashSet<String>,
    /// VM uuid → guest restarts done.
    pub(crate) guest_restarts: HashMap<String, u32>,
    /// Create request id → the task of the create that carried it first.
    pub(crate) create_requests: HashMap<String, String>,
    /// How long after its create a VM stays out of the name look-up.
    pub(crate) listing_lag: Duration,
}

impl World {
    pub(crate) fn new(rng: ChaCha8Rng, timings: Timings) -> Self {
        World {
            rng,
            timings,
            clusters: BTreeMap::new(),
            projects: BTreeMap::new(),
            subnets: BTreeMap::new(),
            images: BTreeMap::new(),
            vms: Vec::new(),
            vm_by_uuid: HashMap::new(),
            vm_by_name: HashMap::new(),
            vm_by_cluster: HashMap::new(),
            pgs: BTreeMap::new(),
            tasks: HashMap::new(),
            pending: Vec::new(),
            remote_sites: BTreeMap::new(),
            monitor: Vec::new(),
            billing: Vec::new(),
            monitor_by_name: HashMap::new(),
            billing_by_name: HashMap::new(),
            billing_stops: Vec::new(),
            stops_by_name: HashMap::new(),
            deregistrations: HashMap::new(),
            billing_changes: BTreeMap::new(),
            reconfigurations: HashMap::new(),
            deletions: HashMap::new(),
            deleting: HashMap::new(),
            moving: HashMap::new(),
            vm_groups: HashMap::new(),
            containers: Vec::new(),
            placements: HashMap::new(),
            categories: BTreeMap::new(),
            unresponsive_guests: HashSet::new(),
            guest_restarts: HashMap::new(),
            create_requests: HashMap::new(),
            listing_lag: Duration::ZERO,
        }
    }

    /// A deterministic UUID-shaped id from the seeded generator.
    pub(crate) fn uuid(&mut self) -> String {
        let a: u128 = self.rng.gen();
        butler_core::backend::uuid_text(a.to_be_bytes())
    }

    /// One address per NIC, handed out per subnet as a DHCP server would:
    /// `10.<subnet>.<vm>` with the subnet's place in the platform's list
    /// and the VM's index (unique per subnet up to 65,536 VMs).
    fn addresses_for(&self, vm: usize) -> Vec<String> {
        let Some(v) = self.vms.get(vm) else {
            return Vec::new();
        };
        v.info
            .nics
            .iter()
            .map(|subnet| {
                let s = self.subnets.keys().position(|k| k == subnet).unwrap_or(0) % 250;
                format!("10.{s}.{}.{}", (vm >> 8) & 0xff, vm & 0xff)
            })
            .collect()
    }

    /// Records a monitoring registration (twice makes two, as most
    /// monitoring APIs do).
    pub(crate) fn add_registration(&mut self, reg: MonitorRegistration) {
        self.monitor_by_name
            .entry(reg.vm_name.clone())
            .or_default()
            .push(self.monitor.len());
        self.monitor.push(reg);
    }

    /// Records a billing activation (twice bills twice).
    pub(crate) fn add_activation(&mut self, act: BillingActivation) {
        *self.billing_by_name.entry(act.vm_name.clone()).or_default() += 1;
        self.billing.push(act);
    }

    /// Adds the VM; returns its shared name.
    pub(crate) fn insert_vm(&mut self, info: VmInfo) -> Arc<str> {
        let i = self.vms.len();
        self.vm_by_uuid.insert(info.uuid.clone(), i);
        let name = self.shared_name(&info.name);
        self.vm_by_name.entry(name.clone()).or_default().push(i);
        self.vm_by_cluster
            .entry(info.cluster.clone())
            .or_default()
            .on
            .push(i);
        self.vms.push(SimVm {
            info,
            listed_from: None,
            name: name.clone(),
        });
        name
    }

    /// The shared copy of a VM name the world knows, or a new one.
    fn shared_name(&self, name: &str) -> Arc<str> {
        self.vm_by_name
            .get_key_value(name)
            .map_or_else(|| Arc::from(name), |(k, _)| k.clone())
    }

    /// The VMs on `cluster`, in creation order, from the `skip`-th on.
    pub(crate) fn vms_on<'a>(
        &'a self,
        cluster: &'a str,
        skip: usize,
    ) -> impl Iterator<Item = &'a SimVm> + 'a {
        let (on, moved) = self
            .vm_by_cluster
            .get(cluster)
            .map_or((&[][..], 0), |c| (c.on.as_slice(), c.moved));
        // Without moved-away entries a page starts at its offset directly.
        let (from, skip) = if moved == 0 {
            (on.get(skip..).unwrap_or_default(), 0)
        } else {
            (on, skip)
        };
        from.iter()
            .filter_map(|i| self.vms.get(*i))
            .filter(move |v| moved == 0 || v.info.cluster == cluster)
            .skip(skip)
    }

    /// Deletes the VM at index `i` as someone at the platform's console
    /// would: gone from every index; its slot stays, on no cluster.
    pub(crate) fn delete_vm(&mut self, i: usize) {
        let Some(vm) = self.vms.get_mut(i) else {
            return;
        };
        let cluster = std::mem::take(&mut vm.info.cluster);
        let (name, uuid) = (vm.name.clone(), vm.info.uuid.clone());
        self.vm_by_uuid.remove(&uuid);
        if let Some(same) = self.vm_by_name.get_mut(&*name) {
            same.retain(|x| *x != i);
            if same.is_empty() {
                self.vm_by_name.remove(&*name);
            }
        }
        if let Some(c) = self.vm_by_cluster.get_mut(&cluster) {
            c.moved += 1;
        }
    }

    /// How many VMs are on `cluster`.
    pub(crate) fn vm_count_on(&self, cluster: &str) -> usize {
        self.vm_by_cluster
            .get(cluster)
            .map_or(0, |c| c.on.len().saturating_sub(c.moved))
    }

    /// Records that the VMs `arrived` (indexes) moved from `source` to
    /// `destination`: the source keeps their entries as moved-away until
    /// they are half its list; the destination merges them in order (one
    /// entry still there from an earlier stay counts again).
    fn index_moves(&mut self, source: &str, destination: &str, arrived: Vec<usize>) {
        if arrived.is_empty() {
            return;
        }
        let vms = &self.vms;
        if let Some(src) = self.vm_by_cluster.get_mut(source) {
            src.moved += arrived.len();
            if src.moved * 2 >= src.on.len() {
                src.on
                    .retain(|i| vms.get(*i).is_some_and(|v| v.info.cluster == source));
                src.moved = 0;
            }
        }
        let dst = self
            .vm_by_cluster
            .entry(destination.to_string())
            .or_default();
        let mut new = Vec::with_capacity(arrived.len());
        for i in arrived {
            if dst.on.binary_search(&i).is_ok() {
                dst.moved = dst.moved.saturating_sub(1);
            } else {
                new.push(i);
            }
        }
        new.sort_unstable();
        dst.on.extend(new);
        // Two sorted runs: the stable sort merges them in linear time.
        dst.on.sort();
    }

    /// Adds `vm` to the group `key` (created if absent) and indexes it.
    pub(crate) fn add_to_group(&mut self, key: &(String, String), vm: &str) {
        let name = self.shared_name(vm);
        let pg = self
            .pgs
            .entry(key.clone())
            .or_insert_with(|| SimPg::new(&key.0, &key.1));
        if !pg.vms.contains(&name) {
            pg.vms.push(name);
        }
        let listed = self.vm_groups.entry(vm.to_string()).or_default();
        if !listed.contains(key) {
            listed.push(key.clone());
        }
    }

    /// Whether an active group other than `group` holds `vm`.
    pub(crate) fn in_other_active_group(&self, vm: &str, group: &str) -> bool {
        self.vm_groups.get(vm).into_iter().flatten().any(|k| {
            k.1 != group
                && self
                    .pgs
                    .get(k)
                    .is_some_and(|p| p.active && p.vms.iter().any(|v| **v == *vm))
        })
    }

    pub(crate) fn vm_named(&self, name: &str) -> Option<&SimVm> {
        self.vm_by_name
            .get(name)
            .and_then(|v| v.first())
            .and_then(|i| self.vms.get(*i))
    }

    pub(crate) fn new_task(
        &mut self,
        now: DateTime<Utc>,
        run: Duration,
        fails: Option<String>,
        entity: Option<String>,
        effect: Option<Effect>,
    ) -> String {
        let id = self.uuid();
        let starts = butler_core::backend::after(now, self.timings.queue);
        let ends = butler_core::backend::after(starts, run);
        self.tasks.insert(
            id.clone(),
            SimTask {
                starts,
                ends,
                fails,
                entity_uuid: entity,
                effect,
            },
        );
        self.pending.push((ends, id.clone()));
        id
    }

    pub(crate) fn task_status(&self, t: &SimTask, now: DateTime<Utc>) -> TaskStatus {
        let (state, percent) = if now < t.starts {
            (TaskState::Queued, 0)
        } else if now < t.ends {
            let total = (t.ends - t.starts).num_milliseconds().max(1);
            let done = (now - t.starts).num_milliseconds();
            (
                TaskState::Running,
                u8::try_from((done * 100 / total).clamp(0, 99)).unwrap_or(99),
            )
        } else {
            match &t.fails {
                Some(reason) => (TaskState::Failed(reason.clone()), 100),
                None => (TaskState::Succeeded, 100),
            }
        };
        TaskStatus {
            state,
            percent,
            entity_uuid: t.entity_uuid.clone(),
        }
    }

    /// Applies every effect due by `now`, oldest first.
    pub(crate) fn settle(&mut self, now: DateTime<Utc>) {
        if self.pending.iter().all(|(due, _)| *due > now) {
            return;
        }
        self.pending.sort_by_key(|(due, _)| *due);
        let split = self.pending.partition_point(|(due, _)| *due <= now);
        let due: Vec<(DateTime<Utc>, String)> = self.pending.drain(..split).collect();
        for (_, id) in due {
            let (effect, failed) = match self.tasks.get_mut(&id) {
                Some(t) => (t.effect.take(), t.fails.is_some()),
                None => (None, false),
            };
            match effect {
                Some(Effect::CreateVm { uuid, power_on }) => {
                    let i = self.vm_by_uuid.get(&uuid).copied();
                    let addresses = i.map(|i| self.addresses_for(i)).unwrap_or_default();
                    if let Some(vm) = i.and_then(|i| self.vms.get_mut(i)) {
                        if !failed {
                            vm.info.ip_addresses = addresses;
                        }
                        vm.info.state = if failed {
                            VmState::Error
                        } else {
                            VmState::Ready
                        };
                        if power_on && !failed {
                            vm.info.power = PowerState::On;
                        }
                    }
                }
                Some(Effect::DeleteVm { uuid }) => {
                    self.deleting.remove(&uuid);
                    if let Some(i) = self.vm_by_uuid.get(&uuid).copied() {
                        if !failed {
                            *self.deletions.entry(uuid).or_default() += 1;
                            self.delete_vm(i);
                        }
                    }
                }
                Some(Effect::Migrate {
                    source,
                    group,
                    destination,
                    live,
                }) if !failed => self.finish_migration(&source, &group, &destination, live),
                Some(Effect::MoveVm { uuid, destination }) => {
                    self.moving.remove(&uuid);
                    let at = self.vm_by_uuid.get(&uuid).copied();
                    if let (false, Some(i)) = (failed, at) {
                        let source = self.vms.get(i).map(|v| v.info.cluster.clone());
                        if let (Some(source), Some(vm)) = (source, self.vms.get_mut(i)) {
                            vm.info.cluster = destination.clone();
                            self.index_moves(&source, &destination, vec![i]);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn finish_migration(&mut self, source: &str, group: &str, destination: &str, live: bool) {
        let Some(src) = self.pgs.get_mut(&(source.to_string(), group.to_string())) else {
            return;
        };
        let members = std::mem::take(&mut src.vms);
        src.active = false;
        src.migrating_until = None;
        src.replication_since = None;
        let mut arrived = Vec::new();
        for name in &members {
            if let Some(idxs) = self.vm_by_name.get(name) {
                for &i in idxs {
                    if let Some(vm) = self.vms.get_mut(i) {
                        if vm.info.cluster == source {
                            vm.info.cluster = destination.to_string();
                            if !live {
                                vm.info.power = PowerState::Off;
                            }
                            arrived.push(i);
                        }
                    }
                }
            }
        }
        self.index_moves(source, destination, arrived);
        let dst_key = (destination.to_string(), group.to_string());
        for m in &members {
            let listed = self.vm_groups.entry(m.to_string()).or_default();
            if !listed.contains(&dst_key) {
                listed.push(dst_key.clone());
            }
        }
        let dst = self
            .pgs
            .entry(dst_key.clone())
            .or_insert_with(|| SimPg::new(destination, group));
        dst.active = true;
        dst.vms = members;
        if !dst.remote_sites.iter().any(|s| s == source) {
            dst.remote_sites.push(source.to_string());
        }
    }

    /// Why VM `uuid` cannot move as `to` says (empty: it can); an unknown
    /// VM or destination is an error. `protection`: the platform has
    /// protection domains (a protected VM moves with its domain).
    pub(crate) fn move_refusals(
        &self,
        uuid: &str,
        to: &VmMove,
        protection: bool,
        judge_power: bool,
        op: &'static str,
    ) -> Result<Vec<String>, BackendError> {
        let vm = self
            .vm_by_uuid
            .get(uuid)
            .and_then(|i| self.vms.get(*i))
            .ok_or_else(|| BackendError::new(ErrorKind::NotFound, op, format!("no VM {uuid:?}")))?;
        if !self.clusters.contains_key(&to.destination) {
            return Err(BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("no cluster {:?}", to.destination),
            ));
        }
        let v = &vm.info;
        let mut why = Vec::new();
        if v.state != VmState::Ready {
            why.push(format!("VM {:?} is not ready ({:?})", v.name, v.state));
        }
        if v.cluster == to.destination {
            why.push(format!(
                "VM {:?} is on {:?} already",
                v.name, to.destination
            ));
        }
        if judge_power && v.power == PowerState::On && !to.live {
            why.push(format!(
                "VM {:?} is on: a cold move needs it off (or ask for a live one)",
                v.name
            ));
        }
        // A NIC's VLAN subnet that belongs to another cluster does not
        // reach the destination (a port group vCenter lacks there).
        for nic in &v.nics {
            let only_on = self.subnets.get(nic).and_then(|s| s.cluster.as_deref());
            if let Some(c) = only_on.filter(|c| *c != to.destination) {
                why.push(format!(
                    "subnet {nic:?} of VM {:?} is on cluster {c:?} only, not on {:?}",
                    v.name, to.destination
                ));
            }
        }
        let groups = self.vm_groups.get(&*v.name).filter(|_| protection);
        for (cluster, group) in groups.into_iter().flatten() {
            let active = self
                .pgs
                .get(&(cluster.clone(), group.clone()))
                .is_some_and(|g| g.active && g.vms.iter().any(|n| **n == *v.name));
            if active && *cluster == v.cluster {
                why.push(format!(
                    "VM {:?} is protected by {group:?}: migrate the domain, or unprotect it first",
                    v.name
                ));
            }
        }
        Ok(why)
    }

    /// How long moving one VM takes (as a migration of its disks).
    pub(crate) fn move_time(&self, uuid: &str) -> Duration {
        let gib: u64 = self
            .vm_by_uuid
            .get(uuid)
            .and_then(|i| self.vms.get(*i))
            .map(|v| v.info.disks_gib.iter().map(|d| u64::from(*d)).sum())
            .unwrap_or(0);
        self.timings.migrate_base
            + Duration::from_secs_f64(self.timings.migrate_per_gib.as_secs_f64() * gib as f64)
    }

    pub(crate) fn migration_time(&self, source: &str, group: &str) -> Duration {
        let gib: u64 = self
            .pgs
            .get(&(source.to_string(), group.to_string()))
            .map(|pg| {
                pg.vms
                    .iter()
                    .filter_map(|n| self.vm_named(n))
                    .map(|v| v.info.disks_gib.iter().map(|d| u64::from(*d)).sum::<u64>())
                    .sum()
            })
            .unwrap_or(0);
        let per = self.timings.migrate_per_gib.as_secs_f64() * gib as f64;
        self.timings.migrate_base + Duration::from_secs_f64(per)
    }
}

//! A fleet generator: N VMs over P protection groups on a source cluster,
//! replicating to a destination, with a chosen mix of migration problems.
//! A million VMs generate in about a second (release build).

use crate::platform::SimPlatform;
use crate::world::SimPg;
use butler_core::backend::{PowerState, ProjectInfo, Schedule, VmInfo, VmState};
use chrono::Duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Fractions (0–1) of VMs or groups carrying each problem. Each is drawn
/// independently, so a VM may carry several.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProblemMix {
    /// VMs powered on.
    pub powered_on: f64,
    /// VMs in no protection group.
    pub no_group: f64,
    /// Groups without schedules (and so without replication).
    pub no_schedule: f64,
    /// Groups whose replication stalled 3 hours ago (stale replica).
    pub stale_replica: f64,
    /// Groups with a remote schedule that never replicated yet.
    pub never_replicated: f64,
    /// VMs placed on a cluster other than the source.
    pub wrong_cluster: f64,
    /// VMs in a project that may not use their cluster.
    pub project_mismatch: f64,
}

impl ProblemMix {
    /// No problems at all.
    pub const NONE: ProblemMix = ProblemMix {
        powered_on: 0.0,
        no_group: 0.0,
        no_schedule: 0.0,
        stale_replica: 0.0,
        never_replicated: 0.0,
        wrong_cluster: 0.0,
        project_mismatch: 0.0,
    };

    /// A realistic mix where about half the VMs carry at least one finding.
    pub const REALISTIC: ProblemMix = ProblemMix {
        powered_on: 0.30,
        no_group: 0.05,
        no_schedule: 0.05,
        stale_replica: 0.10,
        never_replicated: 0.02,
        wrong_cluster: 0.03,
        project_mismatch: 0.02,
    };
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// Number of VMs.
    pub vms: usize,
    /// Number of protection groups (VMs are spread over them evenly).
    pub groups: usize,
    /// Source cluster (default: the platform's first).
    pub source: Option<String>,
    /// Destination cluster, a remote site of the source (default: the second).
    pub destination: Option<String>,
    /// The problems.
    pub mix: ProblemMix,
    /// Seed of the problem draws.
    pub seed: u64,
    /// Prefix of VM and group names.
    pub prefix: String,
    /// Project of well-placed VMs (must allow the source cluster).
    pub project: String,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            vms: 1000,
            groups: 100,
            source: None,
            destination: None,
            mix: ProblemMix::NONE,
            seed: 1,
            prefix: "fleet".into(),
            project: "prod-project".into(),
        }
    }
}

/// A generated protection group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetGroup {
    /// Cluster it is active on (the source).
    pub cluster: String,
    /// Name.
    pub name: String,
}

/// What was generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// Source cluster.
    pub source: String,
    /// Destination cluster.
    pub destination: String,
    /// VM names, in generation order.
    pub vm_names: Vec<String>,
    /// Groups, in generation order.
    pub groups: Vec<FleetGroup>,
}

/// Most VMs one fleet may have.
pub const MAX_FLEET_VMS: usize = 20_000_000;
/// Most protection groups one fleet may have.
pub const MAX_FLEET_GROUPS: usize = 2_000_000;

/// A fleet spec out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fleet {field} = {value} is out of range 1..={limit}")]
pub struct FleetError {
    /// `vms` or `groups`.
    pub field: &'static str,
    /// The value given.
    pub value: usize,
    /// The largest allowed.
    pub limit: usize,
}

impl FleetSpec {
    /// Checks the sizes before any memory is reserved.
    pub fn check(&self) -> Result<(), FleetError> {
        if self.vms > MAX_FLEET_VMS {
            return Err(FleetError {
                field: "vms",
                value: self.vms,
                limit: MAX_FLEET_VMS,
            });
        }
        if self.groups == 0 || self.groups > MAX_FLEET_GROUPS {
            return Err(FleetError {
                field: "groups",
                value: self.groups,
                limit: MAX_FLEET_GROUPS,
            });
        }
        Ok(())
    }
}

/// Adds a fleet to `sim` (which needs at least two clusters), or says
/// which size is out of bounds.
pub fn try_generate(sim: &SimPlatform, spec: &FleetSpec) -> Result<Fleet, FleetError> {
    spec.check()?;
    Ok(generate_checked(sim, spec))
}

/// Adds a fleet to `sim` (which needs at least two clusters).
///
/// # Panics
/// When `spec` is out of bounds ([`FleetSpec::check`]); use
/// [`try_generate`] with sizes that come from outside.
pub fn generate(sim: &SimPlatform, spec: &FleetSpec) -> Fleet {
    if let Err(e) = spec.check() {
        panic!("{e}");
    }
    generate_checked(sim, spec)
}

fn generate_checked(sim: &SimPlatform, spec: &FleetSpec) -> Fleet {
    let now = sim.now();
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let (clusters, source, destination) = {
        let w = sim.world();
        let clusters: Vec<String> = w.clusters.keys().cloned().collect();
        let source = spec
            .source
            .clone()
            .or_else(|| clusters.first().cloned())
            .unwrap_or_default();
        let destination = spec
            .destination
            .clone()
            .or_else(|| clusters.iter().find(|c| **c != source).cloned())
            .unwrap_or_default();
        (clusters, source, destination)
    };
    let others: Vec<&String> = clusters.iter().filter(|c| **c != source).collect();
    let mismatch_project = format!("{}-elsewhere", spec.prefix);
    {
        let mut w = sim.world();
        let uuid = w.uuid();
        w.projects.insert(
            mismatch_project.clone(),
            ProjectInfo {
                name: mismatch_project.clone(),
                uuid,
                clusters: vec![destination.clone()],
                subnets: vec![],
            },
        );
    }

    let groups = spec.groups.max(1);
    let mut pgs: Vec<SimPg> = (0..groups)
        .map(|g| {
            let mut pg = SimPg::new(&source, &format!("{}-pd-{g:06}", spec.prefix));
            if rng.gen::<f64>() >= spec.mix.no_schedule {
                pg.schedules = vec![
                    Schedule::local(60, 24),
                    Schedule::remote(destination.clone(), 60, 24),
                ];
                pg.remote_sites = vec![destination.clone()];
                if rng.gen::<f64>() < spec.mix.never_replicated {
                    pg.replication_since = None;
                } else {
                    pg.replication_since = Some(now - Duration::days(1));
                    if rng.gen::<f64>() < spec.mix.stale_replica {
                        pg.replication_stalled_at = Some(now - Duration::hours(3));
                    }
                }
            }
            pg
        })
        .collect();

    let mut vm_names = Vec::with_capacity(spec.vms);
    let mut w = sim.world();
    w.vms.reserve(spec.vms);
    w.vm_by_uuid.reserve(spec.vms);
    w.vm_by_name.reserve(spec.vms);
    for i in 0..spec.vms {
        let name = format!("{}-vm-{i:07}", spec.prefix);
        let cluster = if !others.is_empty() && rng.gen::<f64>() < spec.mix.wrong_cluster {
            others[i % others.len()].clone()
        } else {
            source.clone()
        };
        let project = if rng.gen::<f64>() < spec.mix.project_mismatch {
            &mismatch_project
        } else {
            &spec.project
        };
        let power = if rng.gen::<f64>() < spec.mix.powered_on {
            PowerState::On
        } else {
            PowerState::Off
        };
        let grouped = rng.gen::<f64>() >= spec.mix.no_group;
        let uuid = w.uuid();
        let shared = w.insert_vm(VmInfo {
            uuid,
            name: name.clone(),
            cluster,
            project: Some(project.clone()),
            power,
            state: VmState::Ready,
            vcpus: 2,
            ram_gib: 4,
            disks_gib: vec![40 + (i % 5) as u32 * 20],
            nics: vec!["vlan-10".into()],
            categories: vec!["Environment:Production".into()],
            ip_addresses: Vec::new(),
        });
        if grouped {
            pgs[i % groups].vms.push(shared);
        }
        vm_names.push(name);
    }
    let fleet_groups = pgs
        .iter()
        .map(|p| FleetGroup {
            cluster: p.cluster.clone(),
            name: p.name.clone(),
        })
        .collect();
    for pg in pgs {
        let key = (pg.cluster.clone(), pg.name.clone());
        for vm in &pg.vms {
            w.vm_groups
                .entry(vm.to_string())
                .or_default()
                .push(key.clone());
        }
        w.pgs.insert(key, pg);
    }
    Fleet {
        source,
        destination,
        vm_names,
        groups: fleet_groups,
    }
}

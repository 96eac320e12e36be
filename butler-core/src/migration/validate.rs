//! Validation of a group against a facts snapshot (SPEC §8): a pure
//! function, compact findings (a code and a VM index), messages rendered
//! only when asked.

use super::facts::{FactsSnapshot, NONE16, NONE32};
use super::group::MigrationGroup;
use super::token::ValidationToken;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    Info,
    /// Migration may go ahead, at the operator's discretion.
    Warning,
    /// Migration may not start.
    Error,
}

/// A stable code per check. Serialised in `snake_case`; never renumbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
#[non_exhaustive]
pub enum FindingCode {
    /// The group has no source cluster.
    MissingSource,
    /// The group has no destination cluster.
    MissingDestination,
    /// Source equals destination.
    SameClusters,
    /// The group has no VMs at all.
    EmptyGroup,
    /// No VM is selected.
    NoSelectedVm,
    /// The platform does not know the VM (or facts are missing: refresh).
    VmNotFound,
    /// The VM is not on the group's source cluster.
    NotOnSource,
    /// The VM's project may not use its cluster (or it has none).
    ProjectMismatch,
    /// The VM is powered on.
    PoweredOn,
    /// The VM is in no protection group.
    NoProtectionGroup,
    /// Its protection group is not active on the source.
    GroupNotActiveOnSource,
    /// Its protection group has no schedule.
    NoSchedule,
    /// Its protection group does not replicate to the destination.
    NotReplicatingToDestination,
    /// Its protection group also holds VMs not selected here (they would move too).
    GroupHasUnselectedVms,
    /// No replica yet: migration will take longer.
    NoReplica,
    /// Last replica older than the limit (60 minutes).
    StaleReplica,
    /// Several selected VMs share one protection group: one migrate call moves them.
    SharedGroup,
    /// The VM is not selected.
    NotSelected,
}

impl FindingCode {
    /// The check's severity.
    pub fn severity(self) -> Severity {
        use FindingCode as F;
        match self {
            F::NoReplica | F::StaleReplica => Severity::Warning,
            F::SharedGroup | F::NotSelected => Severity::Info,
            _ => Severity::Error,
        }
    }

    /// The code's name (`not_on_source`).
    pub fn as_str(self) -> &'static str {
        use FindingCode as F;
        match self {
            F::MissingSource => "missing_source",
            F::MissingDestination => "missing_destination",
            F::SameClusters => "same_clusters",
            F::EmptyGroup => "empty_group",
            F::NoSelectedVm => "no_selected_vm",
            F::VmNotFound => "vm_not_found",
            F::NotOnSource => "not_on_source",
            F::ProjectMismatch => "project_mismatch",
            F::PoweredOn => "powered_on",
            F::NoProtectionGroup => "no_protection_group",
            F::GroupNotActiveOnSource => "group_not_active_on_source",
            F::NoSchedule => "no_schedule",
            F::NotReplicatingToDestination => "not_replicating_to_destination",
            F::GroupHasUnselectedVms => "group_has_unselected_vms",
            F::NoReplica => "no_replica",
            F::StaleReplica => "stale_replica",
            F::SharedGroup => "shared_group",
            F::NotSelected => "not_selected",
        }
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding: a code and the index of the VM in the group (or
/// [`Finding::GROUP`] for a group-level finding). 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The check.
    pub code: FindingCode,
    /// Index into `group.vms`, or [`Finding::GROUP`].
    pub vm: u32,
}

impl Finding {
    /// The `vm` value of group-level findings.
    pub const GROUP: u32 = u32::MAX;

    /// The finding's severity.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// A sentence for people, naming the VM, its group and the clusters.
    pub fn message(&self, group: &MigrationGroup, facts: &FactsSnapshot) -> String {
        use FindingCode as F;
        let vm = group
            .vms
            .get(self.vm as usize)
            .map(|v| v.name.as_str())
            .unwrap_or("");
        let f = facts.vms.get(self.vm as usize).copied();
        let pg = f
            .filter(|f| f.group != NONE32)
            .and_then(|f| facts.groups.get(f.group as usize))
            .map(|g| g.name.as_str())
            .unwrap_or("");
        let cluster = |i: u16| {
            facts
                .clusters
                .get(i as usize)
                .map(String::as_str)
                .unwrap_or("?")
        };
        let src = group.source.as_deref().unwrap_or("?");
        let dst = group.destination.as_deref().unwrap_or("?");
        match self.code {
            F::MissingSource => "the group has no source cluster".into(),
            F::MissingDestination => "the group has no destination cluster".into(),
            F::SameClusters => format!("source and destination are both {src:?}"),
            F::EmptyGroup => "the group has no VMs".into(),
            F::NoSelectedVm => "no VM is selected for migration".into(),
            F::VmNotFound => format!("VM {vm:?} was not found on the platform (refresh the facts if it was just added)"),
            F::NotOnSource => format!("VM {vm:?} is on {:?}, not on the source {src:?}", f.map_or("?", |f| cluster(f.cluster))),
            F::ProjectMismatch => {
                let project = f.and_then(|f| facts.projects.get(f.project as usize)).map(|p| p.name.as_str());
                match project {
                    Some(p) => format!("VM {vm:?} is in project {p:?}, which may not use cluster {:?}", f.map_or("?", |f| cluster(f.cluster))),
                    None => format!("VM {vm:?} has no project"),
                }
            }
            F::PoweredOn => format!("VM {vm:?} is not powered off (on, paused, suspended or unknown); power it off first"),
            F::NoProtectionGroup => format!("VM {vm:?} is in no protection domain"),
            F::GroupNotActiveOnSource => format!("protection domain {pg:?} of VM {vm:?} is not active on {src:?}"),
            F::NoSchedule => format!("protection domain {pg:?} of VM {vm:?} has no replication schedule"),
            F::NotReplicatingToDestination => format!("protection domain {pg:?} of VM {vm:?} does not replicate to {dst:?}"),
            F::GroupHasUnselectedVms => {
                format!("protection domain {pg:?} of VM {vm:?} holds VMs not selected in this group; they would move too")
            }
            F::NoReplica => format!("protection domain {pg:?} of VM {vm:?} has no replica yet; migration will take longer"),
            F::StaleReplica => {
                let last = f
                    .and_then(|f| facts.groups.get(f.group as usize))
                    .and_then(|g| g.last_replica)
                    .map(|t| facts.taken_at - t);
                let mins = last.map_or(0, |d| d.num_minutes());
                format!("the last replica of protection domain {pg:?} (VM {vm:?}) is {mins} minutes old; migration may take longer")
            }
            F::SharedGroup => format!("several selected VMs share protection domain {pg:?}; one migrate call moves them all"),
            F::NotSelected => format!("VM {vm:?} is not selected for migration"),
        }
    }
}

/// Counts and findings of one validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Error findings.
    pub errors: u32,
    /// Warning findings.
    pub warnings: u32,
    /// Info findings.
    pub infos: u32,
    /// Every finding, group-level first, then by VM order.
    pub findings: Vec<Finding>,
    /// The subset validated (retry of failed VMs), if any; sorted names.
    pub only: Option<Vec<String>>,
    /// For a retry of failed VMs: those left out because the facts show
    /// them on the destination already.
    #[serde(default)]
    pub already_moved: Vec<String>,
    /// The signed token, when the service issued one.
    #[serde(skip)]
    pub(crate) token: Option<ValidationToken>,
}

impl ValidationReport {
    /// The token to pass to
    /// [`MigrationService::migrate`](super::MigrationService::migrate):
    /// present on every report [`MigrationService`](super::MigrationService)
    /// returns, absent on the pure [`validate`] function's (only the
    /// service holds the signing key).
    pub fn token(&self) -> Option<&ValidationToken> {
        self.token.as_ref()
    }

    /// Whether migration may start (no errors).
    pub fn can_migrate(&self) -> bool {
        self.errors == 0
    }
}

/// Age beyond which a replica is stale.
pub const STALE_AFTER_MINUTES: i64 = 60;

// Per-protection-group verdicts, computed once per validation.
const PG_INACTIVE: u8 = 1;
const PG_NO_SCHEDULE: u8 = 2;
const PG_NO_REPLICATION: u8 = 4;
const PG_NO_REPLICA: u8 = 8;
const PG_STALE: u8 = 16;

/// VMs per chunk below which validation stays on the calling thread.
const CHUNK_MIN: usize = 131_072;

/// How many chunks a validation of `n` VMs works in: one on small groups,
/// else one per core (at most 8), each at least [`CHUNK_MIN`] long.
fn chunks_for(n: usize) -> usize {
    // Asked once: on Linux the answer reads the cgroup files.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if n < 2 * CHUNK_MIN {
        return 1;
    }
    let cores =
        *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get().min(8)));
    (n / CHUNK_MIN).clamp(1, cores)
}

/// `n` VMs cut into `parts` ranges (at least one, maybe empty).
fn chunk_ranges(n: usize, parts: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let parts = parts.max(1);
    let size = n.div_ceil(parts).max(1);
    (0..parts).map(move |k| (k * size).min(n)..((k + 1) * size).min(n))
}

/// `work(k, range)` over each of [`chunk_ranges`]`(n, parts)`, the chunks on
/// threads of their own when there are several; results in chunk order.
fn in_chunks<T: Send>(
    n: usize,
    parts: usize,
    work: impl Fn(usize, std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let ranges: Vec<_> = chunk_ranges(n, parts).collect();
    if ranges.len() == 1 {
        return ranges.into_iter().map(|r| work(0, r)).collect();
    }
    std::thread::scope(|scope| {
        let work = &work;
        // A chunk no thread can be had for runs on this one, in its turn.
        let running: Vec<_> = ranges
            .into_iter()
            .enumerate()
            .map(|(k, r)| {
                let mine = r.clone();
                std::thread::Builder::new()
                    .spawn_scoped(scope, move || work(k, mine))
                    .map_err(|_| (k, r))
            })
            .collect();
        running
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err((k, r)) => work(k, r),
            })
            .collect()
    })
}

/// Validates `group` against `facts` (aligned with it) at time `now`,
/// optionally only the VMs named in `only` (a retry of failed VMs).
pub fn validate(
    group: &MigrationGroup,
    facts: &FactsSnapshot,
    now: DateTime<Utc>,
    only: Option<&[String]>,
) -> ValidationReport {
    validate_in(group, facts, now, only, chunks_for(group.vms.len()))
}

/// [`validate`] in `parts` chunks (threads when more than one).
pub(super) fn validate_in(
    group: &MigrationGroup,
    facts: &FactsSnapshot,
    now: DateTime<Utc>,
    only: Option<&[String]>,
    parts: usize,
) -> ValidationReport {
    use FindingCode as F;
    let mut findings = Vec::new();
    let push = |f: &mut Vec<Finding>, code, vm| f.push(Finding { code, vm });

    let src = group
        .source
        .as_deref()
        .and_then(|s| facts.cluster_index(s).or(Some(NONE16 - 1)));
    let dst = group
        .destination
        .as_deref()
        .and_then(|s| facts.cluster_index(s).or(Some(NONE16 - 1)));
    if group.source.is_none() {
        push(&mut findings, F::MissingSource, Finding::GROUP);
    }
    if group.destination.is_none() {
        push(&mut findings, F::MissingDestination, Finding::GROUP);
    }
    if group.source.is_some() && group.source == group.destination {
        push(&mut findings, F::SameClusters, Finding::GROUP);
    }
    if group.vms.is_empty() {
        push(&mut findings, F::EmptyGroup, Finding::GROUP);
    }

    // The selection: the group's ticks, narrowed to `only` when given.
    let set: Option<std::collections::HashSet<&str>> =
        only.map(|names| names.iter().map(String::as_str).collect());
    let n = group.vms.len();
    let aligned = facts.vms.len() == n;
    let groups = facts.groups.len();
    // Pass 1, in chunks: the selection, and the selected VMs per protection
    // group (to spot groups that would carry unselected VMs along, and
    // groups shared by several selected VMs).
    let pass1 = in_chunks(n, parts, |_, range| {
        let selected: Vec<bool> = group.vms[range.clone()]
            .iter()
            .map(|v| v.selected && set.as_ref().is_none_or(|s| s.contains(v.name.as_str())))
            .collect();
        let mut count = vec![0u32; groups];
        let mut first = vec![NONE32; groups];
        if aligned {
            for (i, (f, s)) in facts.vms[range.clone()].iter().zip(&selected).enumerate() {
                // `get_mut`: facts built elsewhere may point past their groups.
                if let (true, Some(c), Some(first)) = (
                    *s,
                    count.get_mut(f.group as usize),
                    first.get_mut(f.group as usize),
                ) {
                    *c += 1;
                    if *first == NONE32 {
                        *first = (range.start + i) as u32;
                    }
                }
            }
        }
        (selected, count, first)
    });
    let mut selected_in_pg = vec![0u32; groups];
    let mut first_in_pg = vec![NONE32; groups];
    let mut any_selected = false;
    for (selected, count, first) in &pass1 {
        any_selected |= selected.iter().any(|s| *s);
        for g in 0..groups {
            selected_in_pg[g] += count[g];
            if first_in_pg[g] == NONE32 {
                first_in_pg[g] = first[g];
            }
        }
    }
    if n > 0 && !any_selected {
        push(&mut findings, F::NoSelectedVm, Finding::GROUP);
    }

    let (src, dst) = (src.unwrap_or(NONE16), dst.unwrap_or(NONE16));
    let stale_before = now - Duration::minutes(STALE_AFTER_MINUTES);
    let pg_flags: Vec<u8> = facts
        .groups
        .iter()
        .map(|g| {
            let mut f = 0;
            if !(g.active && g.cluster == src) {
                f |= PG_INACTIVE;
            }
            if g.schedules == 0 {
                f |= PG_NO_SCHEDULE;
            }
            if !g.remote_sites.contains(&dst) {
                f |= PG_NO_REPLICATION;
            }
            match g.last_replica {
                None => f |= PG_NO_REPLICA,
                Some(t) if t < stale_before => f |= PG_STALE,
                Some(_) => {}
            }
            f
        })
        .collect();

    // (project, cluster) → allowed, flat, so the per-VM check is one load.
    let n_clusters = facts.clusters.len();
    let mut project_ok = vec![false; facts.projects.len() * n_clusters];
    for (p, proj) in facts.projects.iter().enumerate() {
        for c in &proj.clusters {
            let c = usize::from(*c);
            if let Some(cell) = project_ok
                .get_mut(p * n_clusters + c)
                .filter(|_| c < n_clusters)
            {
                *cell = true;
            }
        }
    }

    // Pass 2, over the same chunks: the per-VM checks.
    let pass2 = in_chunks(n, parts, |k, range| {
        let Some((selected, ..)) = pass1.get(k) else {
            return (Vec::new(), [0; 3]);
        };
        let mut findings: Vec<Finding> = Vec::with_capacity(range.len() / 2 + 8);
        for (k, s) in selected.iter().enumerate() {
            let i = range.start + k;
            let vm = i as u32;
            if !*s {
                if only.is_none() {
                    push(&mut findings, F::NotSelected, vm);
                }
                continue;
            }
            let f = if aligned {
                facts.vms[i]
            } else {
                super::facts::VmFacts::MISSING
            };
            if f.cluster == NONE16 {
                push(&mut findings, F::VmNotFound, vm);
                continue;
            }
            if f.cluster != src {
                push(&mut findings, F::NotOnSource, vm);
            }
            let cell = usize::from(f.project) * n_clusters + usize::from(f.cluster);
            let allowed =
                usize::from(f.cluster) < n_clusters && project_ok.get(cell) == Some(&true);
            if f.project == NONE16 || !allowed {
                push(&mut findings, F::ProjectMismatch, vm);
            }
            if f.powered_on {
                push(&mut findings, F::PoweredOn, vm);
            }
            let g = f.group as usize;
            // NONE32, or an index past the groups (facts not built by Butler).
            let (Some(&flags), Some(pg)) = (pg_flags.get(g), facts.groups.get(g)) else {
                push(&mut findings, F::NoProtectionGroup, vm);
                continue;
            };
            if flags != 0 {
                if flags & PG_INACTIVE != 0 {
                    push(&mut findings, F::GroupNotActiveOnSource, vm);
                }
                if flags & PG_NO_SCHEDULE != 0 {
                    push(&mut findings, F::NoSchedule, vm);
                }
                if flags & PG_NO_REPLICATION != 0 {
                    push(&mut findings, F::NotReplicatingToDestination, vm);
                }
                if flags & PG_NO_REPLICA != 0 {
                    push(&mut findings, F::NoReplica, vm);
                }
                if flags & PG_STALE != 0 {
                    push(&mut findings, F::StaleReplica, vm);
                }
            }
            if selected_in_pg[g] < pg.members {
                push(&mut findings, F::GroupHasUnselectedVms, vm);
            }
            if selected_in_pg[g] > 1 && first_in_pg[g] == vm {
                push(&mut findings, F::SharedGroup, vm);
            }
        }
        let mut counts = [0u32; 3];
        for f in &findings {
            counts[f.severity() as usize] += 1;
        }
        (findings, counts)
    });
    let mut counts = [0u32; 3];
    for f in &findings {
        counts[f.severity() as usize] += 1;
    }
    // The group's findings first, then each chunk's.
    findings.reserve(pass2.iter().map(|(f, _)| f.len()).sum());
    for (part, c) in pass2 {
        findings.extend(part);
        for (total, c) in counts.iter_mut().zip(c) {
            *total += c;
        }
    }
    let [infos, warnings, errors] = counts; // in `Severity` order
    let only = only.map(|o| {
        let mut v = o.to_vec();
        v.sort();
        v
    });
    ValidationReport {
        errors,
        warnings,
        infos,
        findings,
        only,
        already_moved: Vec::new(),
        token: None,
    }
}

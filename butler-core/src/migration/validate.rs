//! Validation of a group against a facts snapshot (SPEC §8): a pure
//! function, compact findings (a code and a VM index), messages rendered
//! only when asked.

use super::chunks::{chunks_for, two_passes};
use super::facts::{FactsSnapshot, VmFacts, NONE16, NONE32};
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
    /// The VM runs and the group asks Butler to power it off before
    /// migrating it (and on again at the destination).
    PowerOffPlanned,
    /// The platform's own dry run refuses to move the VM (its reasons in
    /// its words: a port group or datastore the destination lacks, …).
    PlatformRefuses,
    /// The platform moves VMs one by one, and its dry run of the group's
    /// moves, as the group now asks them, has not been read: refresh.
    MovesNotChecked,
    /// The group asks for live moves, which the platform does not make.
    LiveMovesUnavailable,
}

impl FindingCode {
    /// Every code, group-level first.
    pub const ALL: [FindingCode; 22] = {
        use FindingCode as F;
        [
            F::MissingSource,
            F::MissingDestination,
            F::SameClusters,
            F::EmptyGroup,
            F::NoSelectedVm,
            F::MovesNotChecked,
            F::LiveMovesUnavailable,
            F::VmNotFound,
            F::NotOnSource,
            F::ProjectMismatch,
            F::PoweredOn,
            F::NoProtectionGroup,
            F::GroupNotActiveOnSource,
            F::NoSchedule,
            F::NotReplicatingToDestination,
            F::GroupHasUnselectedVms,
            F::NoReplica,
            F::StaleReplica,
            F::SharedGroup,
            F::NotSelected,
            F::PowerOffPlanned,
            F::PlatformRefuses,
        ]
    };

    /// The check's severity.
    pub fn severity(self) -> Severity {
        use FindingCode as F;
        match self {
            F::NoReplica | F::StaleReplica | F::PowerOffPlanned => Severity::Warning,
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
            F::PowerOffPlanned => "power_off_planned",
            F::PlatformRefuses => "platform_refuses",
            F::MovesNotChecked => "moves_not_checked",
            F::LiveMovesUnavailable => "live_moves_unavailable",
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

    /// What a finding's sentence names, for a translation to word it:
    /// the VM (`vm`), its protection group (`pg`), the group's clusters
    /// (`src`, `dst`), the cluster the VM is on (`cluster`), its project
    /// (`project`, `has_project` "yes" or "no"), the last replica's age
    /// in minutes (`minutes`) and the platform's reasons for refusing its
    /// move (`reasons`).
    pub fn values(&self, group: &MigrationGroup, facts: &FactsSnapshot) -> FindingValues {
        let vm = vm_name_of(group, self.vm);
        let f = facts.vms.get(self.vm as usize).copied();
        let g = f
            .filter(|f| f.group != NONE32)
            .and_then(|f| facts.groups.get(f.group as usize));
        let cluster = f
            .and_then(|f| facts.clusters.get(f.cluster as usize))
            .cloned()
            .unwrap_or_else(|| "?".into());
        let project = f
            .and_then(|f| facts.projects.get(f.project as usize))
            .map(|p| p.name.clone());
        let minutes = g
            .and_then(|g| g.last_replica)
            .map_or(0, |t| (facts.taken_at - t).num_minutes());
        let reasons = facts.refusals_of(&vm).join("; ");
        FindingValues {
            vm,
            pg: g.map(|g| g.name.clone()).unwrap_or_default(),
            src: group.source.clone().unwrap_or_else(|| "?".into()),
            dst: group.destination.clone().unwrap_or_else(|| "?".into()),
            cluster,
            project,
            minutes,
            reasons,
        }
    }

    /// A sentence for people (English), naming the VM, its group and the
    /// clusters ([`Finding::values`] for other languages).
    pub fn message(&self, group: &MigrationGroup, facts: &FactsSnapshot) -> String {
        use FindingCode as F;
        let FindingValues {
            vm,
            pg,
            src,
            dst,
            cluster,
            project,
            minutes,
            reasons,
        } = self.values(group, facts);
        match self.code {
            F::MissingSource => "the group has no source cluster".into(),
            F::MissingDestination => "the group has no destination cluster".into(),
            F::SameClusters => format!("source and destination are both {src:?}"),
            F::EmptyGroup => "the group has no VMs".into(),
            F::NoSelectedVm => "no VM is selected for migration".into(),
            F::VmNotFound => format!("VM {vm:?} was not found on the platform (refresh the facts if it was just added)"),
            F::NotOnSource => format!("VM {vm:?} is on {cluster:?}, not on the source {src:?}"),
            F::ProjectMismatch => match project {
                Some(p) => format!("VM {vm:?} is in project {p:?}, which may not use cluster {cluster:?}"),
                None => format!("VM {vm:?} has no project"),
            },
            F::PoweredOn => format!("VM {vm:?} is not powered off (on, paused, suspended or unknown); power it off first"),
            F::NoProtectionGroup => format!("VM {vm:?} is in no protection domain"),
            F::GroupNotActiveOnSource => format!("protection domain {pg:?} of VM {vm:?} is not active on {src:?}"),
            F::NoSchedule => format!("protection domain {pg:?} of VM {vm:?} has no replication schedule"),
            F::NotReplicatingToDestination => format!("protection domain {pg:?} of VM {vm:?} does not replicate to {dst:?}"),
            F::GroupHasUnselectedVms => {
                format!("protection domain {pg:?} of VM {vm:?} holds VMs not selected in this group; they would move too")
            }
            F::NoReplica => format!("protection domain {pg:?} of VM {vm:?} has no replica yet; migration will take longer"),
            F::StaleReplica => format!("the last replica of protection domain {pg:?} (VM {vm:?}) is {minutes} minutes old; migration may take longer"),
            F::SharedGroup => format!("several selected VMs share protection domain {pg:?}; one migrate call moves them all"),
            F::NotSelected => format!("VM {vm:?} is not selected for migration"),
            F::PowerOffPlanned => format!("VM {vm:?} is not powered off: Butler powers it off before migrating it (its owner is told) and on again at {dst:?}"),
            F::PlatformRefuses => format!("the platform refuses to move VM {vm:?} to {dst:?}: {reasons}"),
            F::MovesNotChecked => format!("the platform has not yet judged the moves to {dst:?} as the group asks them; refresh the facts"),
            F::LiveMovesUnavailable => "the group asks for live moves, which the platform does not make; move the VMs cold".into(),
        }
    }
}

/// What a finding's sentence names ([`Finding::values`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingValues {
    /// The VM's name (empty for group-level findings).
    pub vm: String,
    /// Its protection group's name (empty without one).
    pub pg: String,
    /// The group's source cluster (`?` when none).
    pub src: String,
    /// The group's destination cluster (`?` when none).
    pub dst: String,
    /// The cluster the VM is on (`?` when unknown).
    pub cluster: String,
    /// Its project, if it has one.
    pub project: Option<String>,
    /// Minutes since its protection group's last replica (0 without one).
    pub minutes: i64,
    /// The platform's reasons for refusing the VM's move, joined by `; `
    /// (empty when it does not refuse it).
    pub reasons: String,
}

/// The name of the group's `i`-th VM (empty past the end).
fn vm_name_of(group: &MigrationGroup, i: u32) -> String {
    group
        .vms
        .get(i as usize)
        .map(|v| v.name.clone())
        .unwrap_or_default()
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
    /// For a retry of failed VMs: those the facts show on the destination
    /// already, so not validated; the retry redoes only their post-move
    /// steps (project remap, schedules). Sorted.
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

    /// The codes of the findings of the group's `vm`-th VM (or
    /// [`Finding::GROUP`]'s), in the report's order.
    pub fn codes_of(&self, vm: u32) -> Vec<FindingCode> {
        self.findings
            .iter()
            .filter(|f| f.vm == vm)
            .map(|f| f.code)
            .collect()
    }
}

/// Age beyond which a replica is stale.
pub const STALE_AFTER_MINUTES: i64 = 60;

/// How many codes a VM's findings may carry, each a bit of [`BY_BIT`].
const VM_CODES: usize = 15;

/// A VM's findings as bits, bit `b` standing for `BY_BIT[b]`: the order of
/// the bits is the order of a VM's findings in the report. The entries past
/// the fifteen codes are never emitted (no check sets their bit); they keep
/// a lookup by the `trailing_zeros` of an empty set in bounds.
const BY_BIT: [FindingCode; 33] = {
    use FindingCode as F;
    let order: [FindingCode; VM_CODES] = [
        F::NotSelected,
        F::VmNotFound,
        F::NotOnSource,
        F::ProjectMismatch,
        F::PoweredOn,
        F::PowerOffPlanned,
        F::PlatformRefuses,
        F::NoProtectionGroup,
        F::GroupNotActiveOnSource,
        F::NoSchedule,
        F::NotReplicatingToDestination,
        F::NoReplica,
        F::StaleReplica,
        F::GroupHasUnselectedVms,
        F::SharedGroup,
    ];
    let mut table = [F::NotSelected; 33];
    let mut b = 0;
    while b < order.len() {
        table[b] = order[b];
        b += 1;
    }
    table
};

/// The bit of a VM-level `code` (evaluated at compile time).
const fn bit(code: FindingCode) -> u32 {
    let mut b = 0;
    while b < VM_CODES {
        if BY_BIT[b] as u8 == code as u8 {
            return 1 << b;
        }
        b += 1;
    }
    panic!("a VM-level code without a bit")
}

/// `bit` when `holds`, else 0, without a branch.
fn on(holds: bool, bit: u32) -> u32 {
    u32::from(holds).wrapping_neg() & bit
}

/// The bits of the info codes but the shared-group one (a VM may have
/// both), and of the warning codes.
const INFO_BITS: u32 = bit(FindingCode::NotSelected);
const WARNING_BITS: u32 = bit(FindingCode::NoReplica)
    | bit(FindingCode::StaleReplica)
    | bit(FindingCode::PowerOffPlanned);

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
    let live = group.live && facts.live_moves;
    if group.live && !facts.live_moves {
        push(&mut findings, F::LiveMovesUnavailable, Finding::GROUP);
    }
    if let (true, Some(s), Some(d)) = (facts.vm_moves, &group.source, &group.destination) {
        // Moves to a cluster the platform has, from another one, are the
        // platform's to judge first; any other move is an error already.
        let judged = facts
            .moves
            .as_ref()
            .map(|m| (m.to.destination.as_str(), m.to.live));
        if s != d && facts.cluster_index(d).is_some() && judged != Some((d.as_str(), live)) {
            push(&mut findings, F::MovesNotChecked, Finding::GROUP);
        }
    }

    // The selection: the group's ticks, narrowed to `only` when given.
    let set: Option<std::collections::HashSet<&str>> =
        only.map(|names| names.iter().map(String::as_str).collect());
    let n = group.vms.len();
    let aligned = facts.vms.len() == n;
    let groups = facts.groups.len();
    let (src, dst) = (src.unwrap_or(NONE16), dst.unwrap_or(NONE16));
    // A chunk's facts, when they are aligned with the group.
    let facts_of =
        |range: &std::ops::Range<usize>| facts.vms.get(range.clone()).filter(|_| aligned);
    let head = findings;
    let chunks = two_passes(
        n,
        parts,
        // Pass 1, per chunk: the selection, and the selected VMs per
        // protection group (to spot groups that would carry unselected VMs
        // along, and groups shared by several selected VMs).
        |_, range| {
            let vms = &group.vms[range.clone()];
            let mut selected = Vec::with_capacity(vms.len());
            match &set {
                None => selected.extend(vms.iter().map(|v| v.selected)),
                Some(set) => selected.extend(
                    vms.iter()
                        .map(|v| v.selected && set.contains(v.name.as_str())),
                ),
            }
            let any = selected.contains(&true);
            // Per protection group: selected VMs and the first of them.
            let mut per_pg = vec![(0u32, NONE32); groups];
            if let Some(facts) = facts_of(&range) {
                let len = facts.len().min(selected.len());
                let (facts, selected) = (&facts[..len], &selected[..len]);
                for i in 0..len {
                    // `get_mut`: facts built elsewhere may point past their groups.
                    if let (true, Some((count, first))) =
                        (selected[i], per_pg.get_mut(facts[i].group as usize))
                    {
                        *count += 1;
                        if *first == NONE32 {
                            *first = (range.start + i) as u32;
                        }
                    }
                }
            }
            (selected, any, per_pg)
        },
        // What follows from the facts alone, while pass 1 runs.
        || Rules::new(facts, src, dst, now, only.is_none(), group.power_off, live),
        // Between the passes: the chunks' counts added up.
        |rules, pass1| {
            let mut selected_in_pg = vec![0u32; groups];
            let mut first_in_pg = vec![NONE32; groups];
            let mut any_selected = false;
            for (_, any, per_pg) in pass1 {
                any_selected |= any;
                let totals = selected_in_pg.iter_mut().zip(&mut first_in_pg);
                for ((total, first), (count, first_here)) in totals.zip(per_pg) {
                    *total += count;
                    if *first == NONE32 {
                        *first = *first_here;
                    }
                }
            }
            let mut head = head;
            if n > 0 && !any_selected {
                push(&mut head, F::NoSelectedVm, Finding::GROUP);
            }
            (
                rules.with_selection(facts, &selected_in_pg, &first_in_pg),
                head,
            )
        },
        // Pass 2, per chunk: the per-VM checks.
        |k, range, (selected, ..), (rules, head)| {
            // Chunk 0 starts with the group's findings and becomes the
            // report's list: the others are appended to it, so no list is
            // copied whole. Room for a finding per VM, the realistic upper
            // end (about half the VMs have one, some several), so a list
            // rarely grows (a copy); chunk 0 has room for the whole group's.
            let head: &[Finding] = if k == 0 { head } else { &[] };
            let room = if k == 0 { n } else { range.len() };
            let mut out = Vec::with_capacity(head.len() + room + 2);
            out.extend_from_slice(head);
            let mut counts = head.iter().fold([0u32; 3], |mut c, f| {
                c[f.severity() as usize] += 1;
                c
            });
            let missing;
            let chunk_facts = match facts_of(&range) {
                Some(f) => f,
                None => {
                    missing = vec![VmFacts::MISSING; range.len()];
                    &missing[..]
                }
            };
            let vm_counts = rules.check(range.start as u32, selected, chunk_facts, &mut out);
            for (total, c) in counts.iter_mut().zip(vm_counts) {
                *total += c;
            }
            (out, counts)
        },
    );
    let mut chunks = chunks.into_iter();
    let (mut findings, mut counts) = chunks.next().unwrap_or_default();
    for (part, c) in chunks {
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

/// A protection group's verdict for its selected VMs.
#[derive(Debug, Clone, Copy)]
struct PgRule {
    /// The bits of the findings each selected VM in it gets (the shared-group
    /// bit only applies to `first`).
    bits: u32,
    /// Its first selected VM.
    first: u32,
}

/// What the per-VM checks need of the whole group, worked out once.
struct Rules {
    /// The bits of an unselected VM (none when validating a retry subset).
    unselected: u32,
    /// Per protection group, and a last entry for VMs in none or pointing
    /// past the groups (facts not built by Butler).
    pg: Vec<PgRule>,
    /// (project, cluster) → the bits of its placement findings (not on the
    /// source, project may not use the cluster), flat, with a last row and
    /// column for "none" or out of range, so the checks are one load. One
    /// byte a cell: both bits are among the low eight.
    placement: Vec<u8>,
    /// Columns of `placement` (clusters and "none").
    cols: usize,
    /// Rows of `placement` (projects and "none").
    rows: usize,
    /// The bit of a selected VM that runs: an error, or a warning when
    /// the group has Butler power its VMs off, none when it moves live.
    running: u32,
}

impl Rules {
    /// The rules that follow from the facts alone; the protection groups'
    /// selection-dependent bits come with [`with_selection`](Self::with_selection).
    fn new(
        facts: &FactsSnapshot,
        src: u16,
        dst: u16,
        now: DateTime<Utc>,
        report_unselected: bool,
        power_off: bool,
        live: bool,
    ) -> Rules {
        use FindingCode as F;
        let stale_before = now - Duration::minutes(STALE_AFTER_MINUTES);
        let pg = facts
            .groups
            .iter()
            .map(|g| {
                let replica = match g.last_replica {
                    None => bit(F::NoReplica),
                    Some(t) if t < stale_before => bit(F::StaleReplica),
                    Some(_) => 0,
                };
                let bits = replica
                    | on(
                        !(g.active && g.cluster == src),
                        bit(F::GroupNotActiveOnSource),
                    )
                    | on(g.schedules == 0, bit(F::NoSchedule))
                    | on(
                        !g.remote_sites.contains(&dst),
                        bit(F::NotReplicatingToDestination),
                    );
                PgRule {
                    bits,
                    first: NONE32,
                }
            })
            // In no protection group: nothing moves it, unless the
            // platform moves VMs one by one.
            .chain([PgRule {
                bits: on(!facts.vm_moves, bit(F::NoProtectionGroup)),
                first: NONE32,
            }])
            .collect();
        let n_clusters = facts.clusters.len();
        let (cols, rows) = (n_clusters + 1, facts.projects.len() + 1);
        const NOT_ON_SOURCE: u8 = bit(FindingCode::NotOnSource) as u8;
        const MISMATCH: u8 = bit(FindingCode::ProjectMismatch) as u8;
        let mut placement: Vec<u8> = (0..rows * cols)
            .map(|cell| {
                MISMATCH
                    | if cell % cols == usize::from(src) {
                        0
                    } else {
                        NOT_ON_SOURCE
                    }
            })
            .collect();
        for (p, proj) in facts.projects.iter().enumerate() {
            for c in proj.clusters.iter().map(|c| usize::from(*c)) {
                if c < n_clusters {
                    placement[p * cols + c] &= !MISMATCH;
                }
            }
        }
        Rules {
            unselected: if report_unselected {
                bit(F::NotSelected)
            } else {
                0
            },
            pg,
            placement,
            cols,
            rows,
            running: if live {
                0
            } else if power_off {
                bit(F::PowerOffPlanned)
            } else {
                bit(F::PoweredOn)
            },
        }
    }

    /// Adds what the selection says of each protection group: its selected
    /// VMs (`selected[g]`, against its members on the platform) and the
    /// first of them (`first[g]`).
    fn with_selection(mut self, facts: &FactsSnapshot, selected: &[u32], first: &[u32]) -> Rules {
        use FindingCode as F;
        for (((pg, g), &selected), &first) in self
            .pg
            .iter_mut()
            .zip(&facts.groups)
            .zip(selected)
            .zip(first)
        {
            pg.bits |= on(selected < g.members, bit(F::GroupHasUnselectedVms))
                | on(selected > 1, bit(F::SharedGroup));
            pg.first = first;
        }
        self
    }

    /// Appends the findings of the VMs from `start` on (their selection and
    /// facts) to `out`; returns their counts in [`Severity`] order.
    ///
    /// About half the VMs fail some check, at random, so a branch per check
    /// would mispredict often. The checks are bits instead, and the first
    /// two findings of a VM are written whether it has them or not, then
    /// cut off again.
    fn check(
        &self,
        start: u32,
        selected: &[bool],
        facts: &[VmFacts],
        out: &mut Vec<Finding>,
    ) -> [u32; 3] {
        use FindingCode as F;
        let Rules {
            unselected,
            ref pg,
            ref placement,
            cols,
            rows,
            running,
        } = *self;
        let (last_pg, last_row, last_col) = (pg.len() - 1, rows - 1, cols - 1);
        let n = selected.len().min(facts.len());
        let (selected, facts) = (&selected[..n], &facts[..n]);
        let first = out.len();
        let (mut infos, mut warnings) = (0u32, 0u32);
        for i in 0..n {
            let vm = start + i as u32;
            let f = facts[i];
            let mut bits = if !selected[i] {
                unselected
            } else if f.cluster == NONE16 {
                bit(F::VmNotFound)
            } else {
                let cell = usize::from(f.project).min(last_row) * cols
                    + usize::from(f.cluster).min(last_col);
                let pg = pg[(f.group as usize).min(last_pg)];
                let elsewhere = on(pg.first != vm, bit(F::SharedGroup));
                u32::from(placement[cell])
                    | on(f.powered_on, running)
                    | on(f.refused, bit(F::PlatformRefuses))
                    | (pg.bits & !elsewhere)
            };
            infos += u32::from(bits & INFO_BITS != 0) + u32::from(bits & bit(F::SharedGroup) != 0);
            warnings += (bits & WARNING_BITS).count_ones();
            let a = Finding {
                code: BY_BIT[bits.trailing_zeros() as usize],
                vm,
            };
            let mut kept = usize::from(bits != 0);
            bits &= bits.wrapping_sub(1);
            let b = Finding {
                code: BY_BIT[bits.trailing_zeros() as usize],
                vm,
            };
            kept += usize::from(bits != 0);
            bits &= bits.wrapping_sub(1);
            out.extend_from_slice(&[a, b]);
            out.truncate(out.len() - 2 + kept);
            while bits != 0 {
                out.push(Finding {
                    code: BY_BIT[bits.trailing_zeros() as usize],
                    vm,
                });
                bits &= bits - 1;
            }
        }
        let all = (out.len() - first) as u32;
        [infos, warnings, all - infos - warnings]
    }
}

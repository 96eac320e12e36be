//! Migration facts: what the platform says about each VM of a group,
//! gathered in batched calls and kept compact so validation over a million
//! VMs is a memory scan.

use super::group::MigrationGroup;
use super::inventory::{Inventory, MoveVerdicts};
use super::name_table::NameTable;
use crate::backend::PowerState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// "Absent" in a `u16` index.
pub const NONE16: u16 = u16::MAX;
/// "Absent" in a `u32` index.
pub const NONE32: u32 = u32::MAX;

/// One VM's facts (12 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmFacts {
    /// Index into [`FactsSnapshot::clusters`]; [`NONE16`]: the VM was not found.
    pub cluster: u16,
    /// Index into [`FactsSnapshot::projects`]; [`NONE16`]: no project.
    pub project: u16,
    /// Index into [`FactsSnapshot::groups`]; [`NONE32`]: in no protection group.
    pub group: u32,
    /// Powered on.
    pub powered_on: bool,
    /// The platform's dry run refuses its move
    /// ([`FactsSnapshot::moves`] says why).
    #[serde(default)]
    pub refused: bool,
}

impl VmFacts {
    /// Facts of a VM the platform does not know.
    pub const MISSING: VmFacts = VmFacts {
        cluster: NONE16,
        project: NONE16,
        group: NONE32,
        powered_on: false,
        refused: false,
    };
}

/// A project and the clusters (indexes) it may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFacts {
    /// Name.
    pub name: String,
    /// Cluster indexes it may use.
    pub clusters: Vec<u16>,
}

/// A protection group's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFacts {
    /// Name.
    pub name: String,
    /// Cluster index it lives on.
    pub cluster: u16,
    /// Active there.
    pub active: bool,
    /// Number of schedules.
    pub schedules: u16,
    /// Remote sites (cluster-name indexes) it replicates to.
    pub remote_sites: Vec<u16>,
    /// Last replica, if any.
    pub last_replica: Option<DateTime<Utc>>,
    /// Member VMs on the platform.
    pub members: u32,
}

/// The facts of one group's VMs, aligned with `group.vms` (same order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactsSnapshot {
    /// Id of this snapshot (tokens are bound to it).
    pub snapshot_id: u64,
    /// The group version the facts are aligned with.
    pub group_version: u64,
    /// When the platform was read.
    pub taken_at: DateTime<Utc>,
    /// Cluster and remote-site names, interned.
    pub clusters: Vec<String>,
    /// Projects.
    pub projects: Vec<ProjectFacts>,
    /// Protection groups.
    pub groups: Vec<GroupFacts>,
    /// Per group VM, in the group's order.
    pub vms: Vec<VmFacts>,
    /// The VM names the facts are aligned with (for re-alignment), shared
    /// with the group's [`GroupIndex`]: a refresh copies no name.
    #[serde(skip)]
    pub names: Arc<[String]>,
    /// The platform moves VMs one by one, without protection groups
    /// ([`Inventory::vm_moves`]).
    #[serde(default)]
    pub vm_moves: bool,
    /// It also moves them live ([`Inventory::live_moves`]).
    #[serde(default)]
    pub live_moves: bool,
    /// The platform's dry run of the group's moves, where it moves VMs
    /// one by one ([`MoveVerdicts`]); `None` elsewhere, or before the
    /// group had a source and a known destination.
    #[serde(default)]
    pub moves: Option<MoveVerdicts>,
    /// [`content_hash`](Self::content_hash), computed once.
    #[serde(skip)]
    pub(super) content: HashCache,
}

/// A lazily computed hash that takes no part in equality.
#[derive(Debug, Clone, Default)]
pub(super) struct HashCache(std::sync::OnceLock<[u8; 32]>);

impl PartialEq for HashCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HashCache {}

/// The first 8 bytes of the SHA-256 of `parts`, each length-prefixed.
fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 8] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let full = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&full[..8]);
    out
}

struct Interner<'a> {
    index: HashMap<&'a str, u16>,
    names: Vec<String>,
    last: Option<(&'a str, u16)>,
}

impl<'a> Interner<'a> {
    fn get(&mut self, name: &'a str) -> u16 {
        // Platform lists come cluster by cluster: mostly the last name again.
        if let Some((last, i)) = self.last {
            if last == name {
                return i;
            }
        }
        let i = self.lookup(name);
        self.last = Some((name, i));
        i
    }

    fn lookup(&mut self, name: &'a str) -> u16 {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = u16::try_from(self.names.len())
            .unwrap_or(NONE16 - 1)
            .min(NONE16 - 1);
        self.index.insert(name, i);
        self.names.push(name.to_string());
        i
    }
}

/// A group's VM positions by name, for [`FactsSnapshot::build_indexed`],
/// built once per group version and kept between refreshes. It holds
/// fingerprints of the names, not the names (see `name_table`): a lookup
/// touches the table alone, not the group's strings.
pub struct GroupIndex {
    group: super::group::GroupId,
    version: u64,
    len: usize,
    names: Arc<[String]>,
    table: NameTable,
}

impl std::fmt::Debug for GroupIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupIndex")
            .field("version", &self.version)
            .field("vms", &self.len)
            .finish_non_exhaustive()
    }
}

impl GroupIndex {
    /// Indexes `group`'s VMs (the first of a repeated name wins).
    pub fn new(group: &MigrationGroup) -> GroupIndex {
        GroupIndex {
            group: group.id,
            version: group.version,
            len: group.vms.len(),
            names: group.vms.iter().map(|v| v.name.clone()).collect(),
            table: NameTable::new(group.vms.iter().map(|v| v.name.as_str())),
        }
    }

    /// Whether it indexes `group` as it stands.
    pub fn fits(&self, group: &MigrationGroup) -> bool {
        self.group == group.id && self.version == group.version && self.len == group.vms.len()
    }
}

impl FactsSnapshot {
    /// Aligns the inventory with `group`'s VMs.
    pub fn build(group: &MigrationGroup, inv: &Inventory, snapshot_id: u64) -> FactsSnapshot {
        FactsSnapshot::build_indexed(group, &GroupIndex::new(group), inv, snapshot_id)
    }

    /// [`build`](Self::build) with the group's index made beforehand (the
    /// service keeps one per group version). An index that does not
    /// [`fit`](GroupIndex::fits) the group is rebuilt.
    pub fn build_indexed(
        group: &MigrationGroup,
        index: &GroupIndex,
        inv: &Inventory,
        snapshot_id: u64,
    ) -> FactsSnapshot {
        // The two passes each look up to a million names up in the index,
        // one cache miss apiece: a large group runs them on two threads.
        const TWO_THREADS_FROM: usize = 100_000;
        Self::build_split(group, index, inv, snapshot_id, TWO_THREADS_FROM)
    }

    /// [`build_indexed`](Self::build_indexed), on two threads when the
    /// group has `two_threads_from` VMs or more.
    pub(crate) fn build_split(
        group: &MigrationGroup,
        index: &GroupIndex,
        inv: &Inventory,
        snapshot_id: u64,
        two_threads_from: usize,
    ) -> FactsSnapshot {
        if !index.fits(group) {
            return FactsSnapshot::build(group, inv, snapshot_id);
        }
        let mut clusters = Interner {
            index: HashMap::new(),
            names: Vec::new(),
            last: None,
        };
        for c in &inv.clusters {
            clusters.get(&c.name);
        }
        let mut project_index: HashMap<&str, u16, ahash::RandomState> = HashMap::default();
        let projects: Vec<ProjectFacts> = inv
            .projects
            .iter()
            .enumerate()
            .map(|(i, p)| {
                project_index.insert(p.name.as_str(), i as u16);
                ProjectFacts {
                    name: p.name.clone(),
                    clusters: p.clusters.iter().map(|c| clusters.get(c)).collect(),
                }
            })
            .collect();
        let groups: Vec<GroupFacts> = inv
            .groups
            .iter()
            .map(|g| GroupFacts {
                name: g.name.clone(),
                cluster: clusters.get(&g.cluster),
                active: g.active,
                schedules: u16::try_from(g.schedules.len()).unwrap_or(u16::MAX),
                remote_sites: g.remote_sites.iter().map(|s| clusters.get(s)).collect(),
                last_replica: g.last_replica,
                members: u32::try_from(g.vms.len()).unwrap_or(u32::MAX),
            })
            .collect();
        let mut vms = vec![VmFacts::MISSING; group.vms.len()];
        let group_of = if group.vms.len() < two_threads_from {
            let of = Self::memberships(index, inv, group.vms.len());
            Self::read_vms(index, inv, &mut clusters, &project_index, &mut vms);
            of
        } else {
            std::thread::scope(|s| {
                let of = std::thread::Builder::new()
                    .spawn_scoped(s, || Self::memberships(index, inv, group.vms.len()));
                Self::read_vms(index, inv, &mut clusters, &project_index, &mut vms);
                match of {
                    Ok(of) => of.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                    // No thread to be had: both passes on this one.
                    Err(_) => Self::memberships(index, inv, group.vms.len()),
                }
            })
        };
        for (f, g) in vms.iter_mut().zip(group_of) {
            // A VM the platform does not list has no facts at all.
            if f.cluster == NONE16 {
                *f = VmFacts::MISSING;
            } else {
                f.group = g;
            }
        }
        FactsSnapshot {
            snapshot_id,
            group_version: group.version,
            taken_at: inv.taken_at,
            clusters: clusters.names,
            projects,
            groups,
            vms,
            names: index.names.clone(),
            vm_moves: inv.vm_moves,
            live_moves: inv.live_moves,
            moves: None,
            content: HashCache::default(),
        }
    }

    /// These facts with the platform's dry run of the group's moves: each
    /// VM it refuses is flagged, its reasons kept by name.
    pub fn with_moves(mut self, moves: Option<MoveVerdicts>) -> FactsSnapshot {
        if let Some(m) = moves.as_ref().filter(|m| !m.refusals.is_empty()) {
            for (f, name) in self.vms.iter_mut().zip(self.names.iter()) {
                f.refused = m.refusals.contains_key(name);
            }
        }
        self.moves = moves;
        self.content = HashCache::default();
        self
    }

    /// The platform's reasons for refusing the move of VM `name`, if it does.
    pub fn refusals_of(&self, name: &str) -> &[String] {
        self.moves
            .as_ref()
            .and_then(|m| m.refusals.get(name))
            .map_or(&[], Vec::as_slice)
    }

    /// Each group VM's protection group (an index into `inv.groups`), or
    /// [`NONE32`].
    fn memberships(index: &GroupIndex, inv: &Inventory, len: usize) -> Vec<u32> {
        let mut of = vec![NONE32; len];
        for (i, g) in inv.groups.iter().enumerate() {
            index.table.each_position(
                &g.vms,
                |n| &**n,
                |_, at| {
                    let Some(held) = of.get_mut(at) else {
                        return;
                    };
                    // A VM's group is the one active where it runs; an
                    // inactive replica-side copy only counts if nothing else does.
                    if *held == NONE32 || (g.active && !inv.groups[*held as usize].active) {
                        *held = i as u32;
                    }
                },
            );
        }
        of
    }

    /// Each group VM's cluster, project and power, from the platform's
    /// VM list.
    fn read_vms<'a>(
        index: &GroupIndex,
        inv: &'a Inventory,
        clusters: &mut Interner<'a>,
        projects: &HashMap<&str, u16, ahash::RandomState>,
        vms: &mut [VmFacts],
    ) {
        index.table.each_position(
            &inv.vms,
            |v| &*v.name,
            |v, at| {
                let Some(facts) = vms.get_mut(at) else {
                    return;
                };
                // The first VM of a name the platform lists is the one.
                if facts.cluster != NONE16 {
                    return;
                }
                facts.cluster = clusters.get(&v.cluster);
                facts.project = v
                    .project
                    .as_deref()
                    .and_then(|p| projects.get(p).copied())
                    .unwrap_or(NONE16);
                // Anything but a definite off counts (SPEC §8).
                facts.powered_on = v.power != PowerState::Off;
            },
        );
    }

    /// A SHA-256 over what the platform says about the group's VMs, by
    /// name, not by position in the platform's lists: per VM its cluster,
    /// project (with the clusters it may use), power state and protection
    /// group (cluster, active, schedules, remote sites, last replica,
    /// members), plus the platform's cluster names. A refresh that finds the
    /// same facts gives the same hash; when the read time is all that
    /// changed, a validation token stays valid (SPEC §8).
    pub fn content_hash(&self) -> [u8; 32] {
        *self.content.0.get_or_init(|| self.compute_content_hash())
    }

    fn compute_content_hash(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let name = |i: u16| {
            self.clusters
                .get(usize::from(i))
                .map_or(&[][..], |s| s.as_bytes())
        };
        let clusters: Vec<[u8; 8]> = self
            .clusters
            .iter()
            .map(|c| digest([c.as_bytes()]))
            .collect();
        let projects: Vec<[u8; 8]> = self
            .projects
            .iter()
            .map(|p| {
                let mut allowed: Vec<&[u8]> = p.clusters.iter().map(|c| name(*c)).collect();
                allowed.sort_unstable();
                digest(std::iter::once(p.name.as_bytes()).chain(allowed))
            })
            .collect();
        let groups: Vec<[u8; 8]> = self
            .groups
            .iter()
            .map(|g| {
                let mut remote: Vec<&[u8]> = g.remote_sites.iter().map(|c| name(*c)).collect();
                remote.sort_unstable();
                let replica = g
                    .last_replica
                    .map_or(i64::MIN, |t| t.timestamp_micros())
                    .to_le_bytes();
                let fixed = [
                    &[u8::from(g.active)][..],
                    &g.schedules.to_le_bytes(),
                    &replica,
                    &g.members.to_le_bytes(),
                ];
                digest(
                    [g.name.as_bytes(), name(g.cluster)]
                        .into_iter()
                        .chain(fixed)
                        .chain(remote),
                )
            })
            .collect();
        let mut h = Sha256::new();
        // Facts of a platform that moves VMs one by one validate by other
        // rules: a token of one kind never passes for the other.
        if self.vm_moves {
            h.update(b"vm_moves");
        }
        if self.live_moves {
            h.update(b"live_moves");
        }
        // The platform's dry run: the move it judged and every refusal.
        if let Some(m) = &self.moves {
            let to = [m.to.destination.as_bytes(), &[u8::from(m.to.live)][..]];
            h.update(digest(to));
            h.update((m.refusals.len() as u64).to_le_bytes());
            for (vm, why) in &m.refusals {
                let reasons = why.iter().map(String::as_bytes);
                h.update(digest(std::iter::once(vm.as_bytes()).chain(reasons)));
            }
        }
        let mut sorted: Vec<&[u8; 8]> = clusters.iter().collect();
        sorted.sort_unstable();
        h.update((sorted.len() as u64).to_le_bytes());
        for c in sorted {
            h.update(c);
        }
        const ABSENT: [u8; 8] = [0xff; 8];
        let mut buf = Vec::with_capacity(25 * 4096);
        for chunk in self.vms.chunks(4096) {
            buf.clear();
            for v in chunk {
                let pick = |table: &[[u8; 8]], i: usize| table.get(i).copied().unwrap_or(ABSENT);
                buf.extend_from_slice(&pick(&clusters, usize::from(v.cluster)));
                buf.extend_from_slice(&pick(&projects, usize::from(v.project)));
                buf.extend_from_slice(&pick(&groups, v.group as usize));
                buf.push(u8::from(v.powered_on) | u8::from(v.refused) << 1);
            }
            h.update(&buf);
        }
        h.finalize().into()
    }

    /// The index of a cluster name, if known.
    pub fn cluster_index(&self, name: &str) -> Option<u16> {
        self.clusters
            .iter()
            .position(|c| c == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// The facts re-aligned with a changed group: VMs added since the
    /// refresh have no facts ([`VmFacts::MISSING`]) until the next one.
    pub fn realign(&self, group: &MigrationGroup) -> FactsSnapshot {
        let old: HashMap<&str, VmFacts> = self
            .names
            .iter()
            .map(String::as_str)
            .zip(self.vms.iter().copied())
            .collect();
        FactsSnapshot {
            group_version: group.version,
            vms: group
                .vms
                .iter()
                .map(|v| {
                    old.get(v.name.as_str())
                        .copied()
                        .unwrap_or(VmFacts::MISSING)
                })
                .collect(),
            names: group.vms.iter().map(|v| v.name.clone()).collect(),
            content: HashCache::default(),
            ..self.clone()
        }
    }

    /// How old the facts are at `now`.
    pub fn age(&self, now: DateTime<Utc>) -> chrono::Duration {
        now - self.taken_at
    }

    /// The facts of the `i`-th VM (in the group's order) with the indexes
    /// resolved to names, as people read them; `None` past the end.
    pub fn row(&self, i: usize) -> Option<VmFactsRow> {
        let f = *self.vms.get(i)?;
        let pg = (f.group != NONE32)
            .then(|| self.groups.get(f.group as usize))
            .flatten();
        Some(VmFactsRow {
            vm: self.names.get(i).cloned().unwrap_or_default(),
            found: f.cluster != NONE16,
            cluster: (f.cluster != NONE16)
                .then(|| self.clusters.get(usize::from(f.cluster)).cloned())
                .flatten(),
            project: (f.project != NONE16)
                .then(|| {
                    self.projects
                        .get(usize::from(f.project))
                        .map(|p| p.name.clone())
                })
                .flatten(),
            powered_on: f.powered_on,
            protection_domain: pg.map(|g| g.name.clone()),
            schedules: pg.map(|g| g.schedules),
            last_replica: pg.and_then(|g| g.last_replica),
            move_refusals: self
                .names
                .get(i)
                .map(|n| self.refusals_of(n).to_vec())
                .unwrap_or_default(),
        })
    }
}

/// One VM's facts with names instead of indexes ([`FactsSnapshot::row`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmFactsRow {
    /// VM name.
    pub vm: String,
    /// Whether the platform knows it.
    pub found: bool,
    /// Its cluster.
    pub cluster: Option<String>,
    /// Its project.
    pub project: Option<String>,
    /// Powered on (only a definite off counts as off).
    pub powered_on: bool,
    /// Its protection domain.
    pub protection_domain: Option<String>,
    /// Schedules of that domain.
    pub schedules: Option<u16>,
    /// Last replica of that domain.
    pub last_replica: Option<DateTime<Utc>>,
    /// Why the platform's dry run refuses to move it (empty: it does not,
    /// or the platform has no such dry run).
    pub move_refusals: Vec<String>,
}

//! What a refresh reads from the platform for migration facts (read by
//! [`super::inventory_read`], the one place a refresh does I/O);
//! [`super::facts`] then builds the snapshot from it, purely.

use crate::backend::{ClusterInfo, ProjectInfo, ProtectionGroup, VmBrief, VmMove};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything a refresh reads from the platform, in 2 + 2 × clusters calls:
/// clusters, projects, then per cluster its VMs and its protection groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// When it was read.
    pub taken_at: DateTime<Utc>,
    /// Clusters.
    pub clusters: Vec<ClusterInfo>,
    /// Projects.
    pub projects: Vec<ProjectInfo>,
    /// VMs of every cluster, briefly.
    pub vms: Vec<VmBrief>,
    /// Protection groups of every cluster.
    pub groups: Vec<ProtectionGroup>,
    /// The platform moves VMs one by one (it declares `vm_migration`, and
    /// not `migration` of protection groups): the protection-group rules
    /// do not apply, and no protection group is read.
    #[serde(default)]
    pub vm_moves: bool,
    /// It also moves running VMs while they run (it declares
    /// `live_migration` too).
    #[serde(default)]
    pub live_moves: bool,
}

/// The platform's own dry run of a group's moves, read at a refresh of a
/// group on a platform that moves VMs one by one: what it would refuse
/// (a port group or datastore the destination lacks, a VM not ready),
/// shown by validation before anyone approves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveVerdicts {
    /// The move judged: the group's destination, live or cold.
    pub to: VmMove,
    /// The VMs whose move it refuses, by name, with its reasons in its
    /// own words; the group's other VMs on the source would go.
    pub refusals: BTreeMap<String, Vec<String>>,
}

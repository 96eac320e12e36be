//! What a refresh reads from the platform for migration facts (read by
//! [`super::inventory_read`], the one place a refresh does I/O);
//! [`super::facts`] then builds the snapshot from it, purely.

use crate::backend::{ClusterInfo, ProjectInfo, ProtectionGroup, VmBrief};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// The platform moves VMs one by one (it declares `vm_migration`) and
    /// has no protection groups: the protection-group rules do not apply.
    #[serde(default)]
    pub vm_moves: bool,
}

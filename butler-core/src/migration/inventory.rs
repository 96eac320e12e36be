//! Reading the platform for migration facts: the one place a refresh does
//! I/O (2 + 2 × clusters batched calls); [`super::facts`] then builds the
//! snapshot from what was read, purely.

use crate::backend::{
    BackendError, Clock, ClusterBackend, ClusterInfo, ProjectInfo, ProtectionGroup, VmBrief,
};
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
}

impl Inventory {
    /// Reads the inventory in batched calls (never one call per VM), the
    /// clusters concurrently.
    pub async fn fetch(
        backend: &dyn ClusterBackend,
        clock: &dyn Clock,
    ) -> Result<Inventory, BackendError> {
        let (clusters, projects) =
            futures::try_join!(backend.list_clusters(), backend.list_projects())?;
        // Every cluster at once: the wait is the slowest cluster's, not the sum.
        let per_cluster = futures::future::try_join_all(clusters.iter().map(|c| async move {
            futures::try_join!(
                backend.list_vm_briefs(&c.name),
                backend.list_protection_groups(&c.name)
            )
        }))
        .await?;
        // Sized once: a million VMs are not moved by repeated growth.
        let mut vms = Vec::with_capacity(per_cluster.iter().map(|(v, _)| v.len()).sum());
        let mut groups = Vec::with_capacity(per_cluster.iter().map(|(_, g)| g.len()).sum());
        for (v, g) in per_cluster {
            vms.extend(v);
            groups.extend(g);
        }
        Ok(Inventory {
            taken_at: clock.now(),
            clusters,
            projects,
            vms,
            groups,
        })
    }
}

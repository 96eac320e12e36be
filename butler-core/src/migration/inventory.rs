//! Reading the platform for migration facts: the one place a refresh does
//! I/O (2 + 2 × clusters batched calls); [`super::facts`] then builds the
//! snapshot from what was read, purely.

use crate::backend::{
    BackendError, Clock, ClusterBackend, ClusterInfo, ProjectInfo, ProtectionGroup, VmInfo,
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
    /// VMs of every cluster.
    pub vms: Vec<VmInfo>,
    /// Protection groups of every cluster.
    pub groups: Vec<ProtectionGroup>,
}

impl Inventory {
    /// Reads the inventory in batched calls (never one call per VM).
    pub async fn fetch(
        backend: &dyn ClusterBackend,
        clock: &dyn Clock,
    ) -> Result<Inventory, BackendError> {
        let clusters = backend.list_clusters().await?;
        let projects = backend.list_projects().await?;
        let mut vms = Vec::new();
        let mut groups = Vec::new();
        for c in &clusters {
            vms.extend(backend.list_vms(&c.name).await?);
            groups.extend(backend.list_protection_groups(&c.name).await?);
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

//! Reading the platform for migration facts: the one place a refresh does
//! I/O (2 + 2 × clusters batched calls).

use super::inventory::Inventory;
use crate::backend::{BackendError, Capability, Clock, ClusterBackend};

impl Inventory {
    /// Reads the inventory in batched calls (never one call per VM), the
    /// clusters concurrently.
    pub async fn fetch(
        backend: &dyn ClusterBackend,
        clock: &dyn Clock,
    ) -> Result<Inventory, BackendError> {
        let (clusters, projects) =
            futures::try_join!(backend.list_clusters(), backend.list_projects())?;
        // A platform without protection groups has none to read.
        let caps = backend.capabilities();
        let protection = caps.has(Capability::Protection);
        // Every cluster at once: the wait is the slowest cluster's, not the sum.
        let per_cluster = futures::future::try_join_all(clusters.iter().map(|c| async move {
            futures::try_join!(backend.list_vm_briefs(&c.name), async {
                if protection {
                    backend.list_protection_groups(&c.name).await
                } else {
                    Ok(Vec::new())
                }
            })
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
            vm_moves: !protection && caps.has(Capability::VmMigration),
        })
    }
}

//! Reading the platform for migration facts: the one place a refresh does
//! I/O (2 + 2 × clusters batched calls).

use super::group::MigrationGroup;
use super::inventory::{Inventory, MoveVerdicts};
use crate::backend::{BackendError, Capability, Clock, ClusterBackend, ErrorKind, VmMove};
use std::collections::{BTreeMap, HashSet};

impl Inventory {
    /// Reads the inventory in batched calls (never one call per VM), the
    /// clusters concurrently.
    pub async fn fetch(
        backend: &dyn ClusterBackend,
        clock: &dyn Clock,
    ) -> Result<Inventory, BackendError> {
        let (clusters, projects) =
            futures::try_join!(backend.list_clusters(), backend.list_projects())?;
        // VM by VM where the platform moves VMs but not protection groups
        // (it may still protect them): their groups are then the
        // platform's business, its dry run says when one is in the way.
        let caps = backend.capabilities();
        let vm_moves = caps.has(Capability::VmMigration) && !caps.has(Capability::Migration);
        let protection = caps.has(Capability::Protection) && !vm_moves;
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
            vm_moves,
            // Live where the platform moves whatever it moves (VMs, or
            // protection groups by recovery plan) while they run.
            live_moves: (vm_moves || protection && caps.has(Capability::Migration))
                && caps.has(Capability::LiveMigration),
        })
    }
}

impl MoveVerdicts {
    /// The platform's dry run of moving `group`'s VMs that `inv` shows on
    /// its source, as the group asks (live only where the platform moves
    /// VMs live), in one batched call; `None` where the platform has no
    /// such moves or the group no source and known destination.
    pub async fn fetch(
        backend: &dyn ClusterBackend,
        group: &MigrationGroup,
        inv: &Inventory,
    ) -> Result<Option<MoveVerdicts>, BackendError> {
        let (Some(source), Some(destination)) = (&group.source, &group.destination) else {
            return Ok(None);
        };
        let known = inv.clusters.iter().any(|c| c.name == *destination);
        if !inv.vm_moves || source == destination || !known {
            return Ok(None);
        }
        let to = VmMove {
            destination: destination.clone(),
            live: group.live && inv.live_moves,
        };
        let in_group: HashSet<&str> = group.vms.iter().map(|v| v.name.as_str()).collect();
        let mut names: Vec<String> = inv
            .vms
            .iter()
            .filter(|v| *v.cluster == **source && in_group.contains(&*v.name))
            .map(|v| v.name.to_string())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut refusals = BTreeMap::new();
        if !names.is_empty() {
            let verdicts = backend.check_vm_migrations(&names, &to).await?;
            if verdicts.len() != names.len() {
                return Err(BackendError::new(
                    ErrorKind::Permanent,
                    "check_vm_migrations",
                    format!(
                        "the platform judged {} moves when asked about {}",
                        verdicts.len(),
                        names.len()
                    ),
                ));
            }
            refusals.extend(
                names
                    .into_iter()
                    .zip(verdicts)
                    .filter(|(_, why)| !why.is_empty()),
            );
        }
        Ok(Some(MoveVerdicts { to, refusals }))
    }
}

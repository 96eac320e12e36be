//! Keeping the catalog in step with the platform (SPEC §5): clusters,
//! images and each environment's VLANs are read from the platform; the
//! organisation (divisions, units, cost centers, environment → project and
//! category) stays as configured. A failed refresh keeps the last good copy.

use crate::backend::ClusterBackend;
use crate::catalog::{Catalog, Cluster, Image};
use crate::error::ButlerError;
use std::collections::BTreeSet;

/// What a refresh changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogChanges {
    /// Clusters that appeared.
    pub clusters_added: Vec<String>,
    /// Clusters that disappeared.
    pub clusters_removed: Vec<String>,
    /// Images that appeared or changed size.
    pub images_changed: Vec<String>,
    /// Images that disappeared.
    pub images_removed: Vec<String>,
    /// Environments whose VLANs changed.
    pub environments_changed: Vec<String>,
}

impl CatalogChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == CatalogChanges::default()
    }
}

/// The catalog `current` updated from the platform, and what changed.
/// Environments whose project the platform does not know keep their VLANs
/// (and are logged), so a half-configured platform cannot empty them.
pub async fn refresh(
    current: &Catalog,
    backend: &dyn ClusterBackend,
) -> Result<(Catalog, CatalogChanges), ButlerError> {
    let clusters = backend.list_clusters().await?;
    let images = backend.list_images().await?;
    let projects = backend.list_projects().await?;
    let mut next = current.clone();
    let mut ch = CatalogChanges::default();

    let old: BTreeSet<&str> = current.clusters.iter().map(|c| c.name.as_str()).collect();
    let new: BTreeSet<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    ch.clusters_added = new.difference(&old).map(|s| s.to_string()).collect();
    ch.clusters_removed = old.difference(&new).map(|s| s.to_string()).collect();
    next.clusters = clusters
        .iter()
        .map(|c| Cluster {
            name: c.name.clone(),
        })
        .collect();

    for i in &images {
        if current.image(&i.name).map(|x| x.size_gib) != Some(i.size_gib) {
            ch.images_changed.push(i.name.clone());
        }
    }
    ch.images_removed = current
        .images
        .iter()
        .filter(|x| !images.iter().any(|i| i.name == x.name))
        .map(|x| x.name.clone())
        .collect();
    next.images = images
        .iter()
        .map(|i| Image {
            name: i.name.clone(),
            size_gib: i.size_gib.max(1),
        })
        .collect();

    for env in &mut next.environments {
        match projects.iter().find(|p| p.name == env.project) {
            Some(p) if !p.subnets.is_empty() => {
                if env.vlans != p.subnets {
                    env.vlans = p.subnets.clone();
                    ch.environments_changed.push(env.code.clone());
                }
            }
            _ => {
                tracing::warn!(environment = %env.code, project = %env.project, "the platform has no such project (or it has no subnets); keeping the configured VLANs")
            }
        }
    }
    let checked = Catalog::new(next)?;
    Ok((checked, ch))
}

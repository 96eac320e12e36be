//! Keeping the catalog in step with the platform (SPEC §5): clusters (with
//! the VLANs and storage containers each one has), images, each
//! environment's VLANs and clusters (its project's) and whether each
//! environment's category exists are read from the platform; the
//! organisation (divisions, units, cost centers, environment → project and
//! category, disk type → storage container) stays as configured. A failed
//! refresh keeps the last good copy.

use crate::backend::ClusterBackend;
use crate::catalog::{Catalog, Cluster, Image};
use crate::error::ButlerError;
use std::collections::BTreeMap;
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
    /// Environments whose VLANs or clusters changed.
    pub environments_changed: Vec<String>,
    /// Clusters whose VLANs or storage containers changed.
    pub clusters_changed: Vec<String>,
    /// Environment categories (`key:value`) the platform does not have:
    /// specs of those environments are refused until they exist.
    pub categories_missing: Vec<String>,
}

impl CatalogChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == CatalogChanges::default()
    }
}

/// The catalog `current` updated from the platform, and what changed.
/// Environments whose project the platform does not know keep their VLANs
/// and clusters (and are logged), so a half-configured platform cannot
/// empty them.
pub async fn refresh(
    current: &Catalog,
    backend: &dyn ClusterBackend,
) -> Result<(Catalog, CatalogChanges), ButlerError> {
    let clusters = backend.list_clusters().await?;
    let images = backend.list_images().await?;
    let projects = backend.list_projects().await?;
    let subnets = backend.list_subnets().await?;
    // A platform that does not place disks by container leaves placement
    // unchecked.
    let containers = if backend
        .capabilities()
        .has(crate::backend::Capability::StorageContainers)
    {
        backend.list_storage_containers().await?
    } else {
        Vec::new()
    };
    let mut next = current.clone();
    let mut ch = CatalogChanges::default();

    let old: BTreeSet<&str> = current.clusters.iter().map(|c| c.name.as_str()).collect();
    let new: BTreeSet<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    ch.clusters_added = new.difference(&old).map(|s| s.to_string()).collect();
    ch.clusters_removed = old.difference(&new).map(|s| s.to_string()).collect();
    next.clusters = clusters
        .iter()
        .map(|c| {
            // A subnet without a cluster (overlay) is usable on every cluster.
            let vlans: BTreeSet<String> = subnets
                .iter()
                .filter(|s| s.cluster.as_ref().is_none_or(|sc| *sc == c.name))
                .map(|s| s.name.clone())
                .collect();
            let ctrs: BTreeSet<String> = containers
                .iter()
                .filter(|x| x.cluster == c.name)
                .map(|x| x.name.clone())
                .collect();
            Cluster {
                name: c.name.clone(),
                vlans: vlans.into_iter().collect(),
                storage_containers: ctrs.into_iter().collect(),
            }
        })
        .collect();
    for c in &next.clusters {
        let was = current.cluster(&c.name);
        if was.is_some_and(|w| w.vlans != c.vlans || w.storage_containers != c.storage_containers) {
            ch.clusters_changed.push(c.name.clone());
        }
    }

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
                // Only clusters the platform lists; a project allowed on
                // every cluster lists them all, which is no restriction.
                let mut allowed: Vec<String> = p
                    .clusters
                    .iter()
                    .filter(|c| new.contains(c.as_str()))
                    .cloned()
                    .collect();
                allowed.sort();
                allowed.dedup();
                if allowed.len() == new.len() {
                    allowed.clear();
                }
                if env.vlans != p.subnets || env.clusters != allowed {
                    env.vlans = p.subnets.clone();
                    env.clusters = allowed;
                    ch.environments_changed.push(env.code.clone());
                }
            }
            _ => {
                tracing::warn!(environment = %env.code, project = %env.project, "the platform has no such project (or it has no subnets); keeping the configured VLANs and clusters")
            }
        }
    }

    next.platform_categories = platform_categories(current, backend).await?;
    if let Some(known) = &next.platform_categories {
        ch.categories_missing = current
            .environments
            .iter()
            .map(|e| e.category.clone())
            .filter(|c| !known.contains(c))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
    }
    let checked = Catalog::new(next)?;
    Ok((checked, ch))
}

/// The environments' categories that exist on the platform (one look-up
/// per category key), or `None` for a platform without categories.
async fn platform_categories(
    catalog: &Catalog,
    backend: &dyn ClusterBackend,
) -> Result<Option<Vec<String>>, ButlerError> {
    let mut by_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &catalog.environments {
        let (key, value) = e.category.split_once(':').unwrap_or((&e.category, ""));
        by_key.entry(key).or_default().insert(value);
    }
    if !backend
        .capabilities()
        .has(crate::backend::Capability::Categories)
    {
        return Ok(None);
    }
    let mut found = Vec::new();
    for (key, wanted) in by_key {
        let values = backend.category_values(key).await?;
        found.extend(
            wanted
                .into_iter()
                .filter(|v| values.iter().any(|x| x == v))
                .map(|v| format!("{key}:{v}")),
        );
    }
    Ok(Some(found))
}

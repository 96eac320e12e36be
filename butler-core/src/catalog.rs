//! The catalog (SPEC §2): divisions, management units, environments, disk
//! types, clusters, boot images and the cost-center table.
//!
//! A catalog is loaded from TOML or JSON and checked as a whole: every
//! reference must resolve and every code must be unique. A bad file gives a
//! [`CatalogError`] naming the entry (`units[2] "GER-X"`) and the field.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A corporate division ("Corporativa").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Division {
    /// Stable code, unique in the catalog.
    pub code: String,
    /// Display name.
    pub name: String,
}

/// A management unit ("Gerencia"), always inside one division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// Stable code, unique in the catalog.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Code of the division it belongs to.
    pub division: String,
}

/// An environment ("Ambiente"): fixes the VM's project, category and VLANs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Stable code, unique in the catalog.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The platform project VMs of this environment go into.
    pub project: String,
    /// The platform category (`key:value`, e.g. `Environment:Production`).
    pub category: String,
    /// VLANs (subnet names) of the project that NICs may use.
    pub vlans: Vec<String>,
    /// Clusters the project may use; empty: any cluster (a project of an
    /// older Prism Central lists none and is not restricted). A catalog
    /// refresh reads it from the platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// The longest lease a VM of this environment may have, in days; every
    /// VM of it then has a lease (the cap when its request names none).
    /// `None`: leases are optional, up to
    /// [`MAX_LEASE_DAYS`](crate::limits::MAX_LEASE_DAYS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lease_days: Option<u32>,
}

/// A disk type (HDD, SSD, …); one per VM, applied to every disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskType {
    /// Stable code, unique in the catalog (used by rate cards).
    pub code: String,
    /// Display name.
    pub name: String,
    /// The storage container (by name) a VM's disks of this type go to on
    /// every cluster; `None`: the platform's default placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_container: Option<String>,
}

/// A cluster VMs may be placed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Cluster name as the platform knows it.
    pub name: String,
    /// The VLANs (subnet names) that exist on this cluster. When no cluster
    /// of the catalog lists any, they are not known and NICs are checked
    /// against the environment only. A catalog refresh reads them from the
    /// platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vlans: Vec<String>,
    /// The storage containers (names) on this cluster. When no cluster of
    /// the catalog lists any, they are not known and disk placement is not
    /// checked. A catalog refresh reads them from the platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_containers: Vec<String>,
}

impl Cluster {
    /// A cluster known by name only (VLANs and storage not known).
    pub fn named(name: impl Into<String>) -> Cluster {
        Cluster {
            name: name.into(),
            vlans: Vec::new(),
            storage_containers: Vec::new(),
        }
    }
}

/// A boot image, cloned onto disk 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Image name, unique in the catalog.
    pub name: String,
    /// Size in GiB (rounded up); disk 0 is raised to at least this.
    pub size_gib: u32,
}

/// One row of the cost-center table: (division, unit, environment, disk type) → cost center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostCenterEntry {
    /// Division code.
    pub division: String,
    /// Unit code.
    pub unit: String,
    /// Environment code.
    pub environment: String,
    /// Disk type code.
    pub disk_type: String,
    /// The cost center billed for such a VM.
    pub cost_center: String,
}

/// Upper limits on a VM spec. The defaults are what a mid-size Nutanix
/// cluster accepts for one VM; a catalog may tighten or widen them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Maximum cores per socket.
    pub max_cores_per_socket: u32,
    /// Maximum sockets.
    pub max_sockets: u32,
    /// Maximum total vCPUs (cores per socket × sockets).
    pub max_vcpus: u32,
    /// Maximum RAM in GiB.
    pub max_ram_gib: u32,
    /// Maximum size of one disk in GiB.
    pub max_disk_gib: u32,
    /// Maximum length of the special-requirement text, in characters.
    pub max_note_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_cores_per_socket: 64,
            max_sockets: 8,
            max_vcpus: 128,
            max_ram_gib: 4096,
            max_disk_gib: 65_536,
            max_note_chars: 4000,
        }
    }
}

/// The whole catalog. Build it with [`Catalog::from_toml_str`],
/// [`Catalog::from_json_str`], [`Catalog::from_path`] or [`Catalog::new`];
/// all of them check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Corporate divisions.
    pub divisions: Vec<Division>,
    /// Management units.
    pub units: Vec<Unit>,
    /// Environments.
    pub environments: Vec<Environment>,
    /// Disk types.
    pub disk_types: Vec<DiskType>,
    /// Clusters.
    pub clusters: Vec<Cluster>,
    /// Boot images.
    #[serde(default)]
    pub images: Vec<Image>,
    /// The cost-center table.
    pub cost_centers: Vec<CostCenterEntry>,
    /// Spec limits.
    #[serde(default)]
    pub limits: Limits,
    /// The categories (`key:value`) of the environments that exist on the
    /// platform, as the last catalog refresh read them; `None` until a
    /// refresh has read them. A spec whose environment's category is not
    /// here is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_categories: Option<Vec<String>>,
}

/// Why a catalog was refused. Every variant names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read catalog file {path}: {reason}")]
    Io {
        /// The path given.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The text is not valid TOML/JSON or does not have the catalog's shape.
    #[error("catalog is not well formed: {0}")]
    Syntax(String),
    /// The file extension is neither `.toml` nor `.json`.
    #[error("catalog file {0} must end in .toml or .json")]
    UnknownFormat(String),
    /// Two entries of one list share a code.
    #[error("{entry}: duplicate code {code:?}")]
    Duplicate {
        /// The entry, e.g. `units[3]`.
        entry: String,
        /// The repeated code.
        code: String,
    },
    /// A field refers to something the catalog does not hold.
    #[error("{entry}: {field} {value:?} is not in the catalog")]
    UnknownReference {
        /// The entry, e.g. `units[3] "GER-X"`.
        entry: String,
        /// The field, e.g. `division`.
        field: &'static str,
        /// The value that did not resolve.
        value: String,
    },
    /// The text, a list or a field is past one of the [`limits`](crate::limits).
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
    /// A field has a value that can never be right.
    #[error("{entry}: {field} {reason}")]
    Invalid {
        /// The entry.
        entry: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Catalog {
    /// Checks and returns a catalog built in code.
    pub fn new(catalog: Catalog) -> Result<Catalog, CatalogError> {
        catalog.check()?;
        Ok(catalog)
    }

    /// Parses and checks a TOML catalog.
    pub fn from_toml_str(text: &str) -> Result<Catalog, CatalogError> {
        check_text_size(text.len())?;
        let c: Catalog = toml::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        Catalog::new(c)
    }

    /// Parses and checks a JSON catalog.
    pub fn from_json_str(text: &str) -> Result<Catalog, CatalogError> {
        check_text_size(text.len())?;
        let c: Catalog =
            serde_json::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        Catalog::new(c)
    }

    /// Reads a `.toml` or `.json` catalog file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let io = |e: std::io::Error| CatalogError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        };
        // Refuse a huge file before reading it, not after.
        let size = std::fs::metadata(path).map_err(io)?.len();
        check_text_size(usize::try_from(size).unwrap_or(usize::MAX))?;
        let text = std::fs::read_to_string(path).map_err(io)?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Catalog::from_toml_str(&text),
            Some("json") => Catalog::from_json_str(&text),
            _ => Err(CatalogError::UnknownFormat(shown)),
        }
    }

    fn check(&self) -> Result<(), CatalogError> {
        self.check_sizes()?;
        let divisions = unique("divisions", self.divisions.iter().map(|d| &d.code))?;
        let units = unique("units", self.units.iter().map(|u| &u.code))?;
        let envs = unique("environments", self.environments.iter().map(|e| &e.code))?;
        let disks = unique("disk_types", self.disk_types.iter().map(|d| &d.code))?;
        unique("clusters", self.clusters.iter().map(|c| &c.name))?;
        unique("images", self.images.iter().map(|i| &i.name))?;
        for (i, u) in self.units.iter().enumerate() {
            if !divisions.contains(u.division.as_str()) {
                return Err(CatalogError::UnknownReference {
                    entry: format!("units[{i}] {:?}", u.code),
                    field: "division",
                    value: u.division.clone(),
                });
            }
        }
        for (i, e) in self.environments.iter().enumerate() {
            let entry = || format!("environments[{i}] {:?}", e.code);
            if e.project.trim().is_empty() {
                return Err(CatalogError::Invalid {
                    entry: entry(),
                    field: "project",
                    reason: "is empty".into(),
                });
            }
            if e.vlans.is_empty() {
                return Err(CatalogError::Invalid {
                    entry: entry(),
                    field: "vlans",
                    reason: "must list at least one VLAN".into(),
                });
            }
            if let Some(c) = e.clusters.iter().find(|c| self.cluster(c).is_none()) {
                return Err(CatalogError::UnknownReference {
                    entry: entry(),
                    field: "clusters",
                    value: c.clone(),
                });
            }
        }
        for (i, img) in self.images.iter().enumerate() {
            if img.size_gib == 0 {
                return Err(CatalogError::Invalid {
                    entry: format!("images[{i}] {:?}", img.name),
                    field: "size_gib",
                    reason: "must be at least 1".into(),
                });
            }
        }
        let mut keys = BTreeSet::new();
        for (i, cc) in self.cost_centers.iter().enumerate() {
            let entry = || format!("cost_centers[{i}] {:?}", cc.cost_center);
            let refs: [(&'static str, &String, &BTreeSet<&str>); 4] = [
                ("division", &cc.division, &divisions),
                ("unit", &cc.unit, &units),
                ("environment", &cc.environment, &envs),
                ("disk_type", &cc.disk_type, &disks),
            ];
            for (field, value, set) in refs {
                if !set.contains(value.as_str()) {
                    return Err(CatalogError::UnknownReference {
                        entry: entry(),
                        field,
                        value: value.clone(),
                    });
                }
            }
            if self.unit(&cc.unit).map(|u| u.division.as_str()) != Some(cc.division.as_str()) {
                return Err(CatalogError::Invalid {
                    entry: entry(),
                    field: "unit",
                    reason: format!("{:?} is not in division {:?}", cc.unit, cc.division),
                });
            }
            if cc.cost_center.trim().is_empty() {
                return Err(CatalogError::Invalid {
                    entry: entry(),
                    field: "cost_center",
                    reason: "is empty".into(),
                });
            }
            if !keys.insert((&cc.division, &cc.unit, &cc.environment, &cc.disk_type)) {
                return Err(CatalogError::Duplicate {
                    entry: entry(),
                    code: format!(
                        "{}/{}/{}/{}",
                        cc.division, cc.unit, cc.environment, cc.disk_type
                    ),
                });
            }
        }
        Ok(())
    }

    /// List lengths first (before any per-entry work), then every text
    /// field: short, without control characters.
    fn check_sizes(&self) -> Result<(), CatalogError> {
        use crate::limits::{check, MAX_CATALOG_ENTRIES, MAX_ENVIRONMENT_VLANS, MAX_NOTE_CHARS};
        for (list, len) in [
            ("divisions", self.divisions.len()),
            ("units", self.units.len()),
            ("environments", self.environments.len()),
            ("disk_types", self.disk_types.len()),
            ("clusters", self.clusters.len()),
            ("images", self.images.len()),
            ("cost_centers", self.cost_centers.len()),
        ] {
            check(list, len, MAX_CATALOG_ENTRIES, "entries")?;
        }
        check(
            "limits.max_note_chars",
            self.limits.max_note_chars,
            MAX_NOTE_CHARS,
            "characters",
        )?;
        let mut fields: Vec<(String, &'static str, &str)> = Vec::new();
        for (i, d) in self.divisions.iter().enumerate() {
            fields.push((format!("divisions[{i}]"), "code", &d.code));
            fields.push((format!("divisions[{i}]"), "name", &d.name));
        }
        for (i, u) in self.units.iter().enumerate() {
            fields.push((format!("units[{i}]"), "code", &u.code));
            fields.push((format!("units[{i}]"), "name", &u.name));
            fields.push((format!("units[{i}]"), "division", &u.division));
        }
        for (i, e) in self.environments.iter().enumerate() {
            let entry = format!("environments[{i}]");
            check(
                format!("{entry}.vlans"),
                e.vlans.len(),
                MAX_ENVIRONMENT_VLANS,
                "entries",
            )?;
            fields.push((entry.clone(), "code", &e.code));
            fields.push((entry.clone(), "name", &e.name));
            fields.push((entry.clone(), "project", &e.project));
            fields.push((entry.clone(), "category", &e.category));
            fields.extend(e.vlans.iter().map(|v| (entry.clone(), "vlans", v.as_str())));
            check(
                format!("{entry}.clusters"),
                e.clusters.len(),
                MAX_CATALOG_ENTRIES,
                "entries",
            )?;
            fields.extend(
                e.clusters
                    .iter()
                    .map(|c| (entry.clone(), "clusters", c.as_str())),
            );
        }
        for (i, d) in self.disk_types.iter().enumerate() {
            fields.push((format!("disk_types[{i}]"), "code", &d.code));
            fields.push((format!("disk_types[{i}]"), "name", &d.name));
            if let Some(ctr) = &d.storage_container {
                fields.push((format!("disk_types[{i}]"), "storage_container", ctr));
            }
        }
        for (i, c) in self.clusters.iter().enumerate() {
            let entry = format!("clusters[{i}]");
            fields.push((entry.clone(), "name", &c.name));
            for (list, items) in [
                ("vlans", &c.vlans),
                ("storage_containers", &c.storage_containers),
            ] {
                check(
                    format!("{entry}.{list}"),
                    items.len(),
                    MAX_CATALOG_ENTRIES,
                    "entries",
                )?;
                fields.extend(items.iter().map(|v| (entry.clone(), list, v.as_str())));
            }
        }
        if let Some(cats) = &self.platform_categories {
            check(
                "platform_categories",
                cats.len(),
                MAX_CATALOG_ENTRIES,
                "entries",
            )?;
            fields.extend(
                cats.iter()
                    .map(|c| ("platform_categories".to_string(), "category", c.as_str())),
            );
        }
        for (i, img) in self.images.iter().enumerate() {
            fields.push((format!("images[{i}]"), "name", &img.name));
        }
        for (i, cc) in self.cost_centers.iter().enumerate() {
            let entry = format!("cost_centers[{i}]");
            fields.push((entry.clone(), "division", &cc.division));
            fields.push((entry.clone(), "unit", &cc.unit));
            fields.push((entry.clone(), "environment", &cc.environment));
            fields.push((entry.clone(), "disk_type", &cc.disk_type));
            fields.push((entry, "cost_center", &cc.cost_center));
        }
        for (entry, field, value) in fields {
            check_code_text(&entry, field, value)?;
        }
        Ok(())
    }

    /// The division with `code`.
    pub fn division(&self, code: &str) -> Option<&Division> {
        self.divisions.iter().find(|d| d.code == code)
    }
    /// The unit with `code`.
    pub fn unit(&self, code: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.code == code)
    }
    /// The environment with `code`.
    pub fn environment(&self, code: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.code == code)
    }
    /// The disk type with `code`.
    pub fn disk_type(&self, code: &str) -> Option<&DiskType> {
        self.disk_types.iter().find(|d| d.code == code)
    }
    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
    /// Whether the catalog knows which VLANs each cluster has (some cluster
    /// lists VLANs): then a VLAN missing from a cluster's list is not on it.
    pub fn knows_cluster_vlans(&self) -> bool {
        self.clusters.iter().any(|c| !c.vlans.is_empty())
    }
    /// Whether the catalog knows each cluster's storage containers (some
    /// cluster lists them): then a container missing from a cluster's list
    /// is not on it.
    pub fn knows_storage_containers(&self) -> bool {
        self.clusters
            .iter()
            .any(|c| !c.storage_containers.is_empty())
    }
    /// The image named `name`.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }
    /// The cost center for (division, unit, environment, disk type), if mapped.
    pub fn cost_center(
        &self,
        division: &str,
        unit: &str,
        environment: &str,
        disk_type: &str,
    ) -> Option<&str> {
        self.cost_centers
            .iter()
            .find(|c| {
                c.division == division
                    && c.unit == unit
                    && c.environment == environment
                    && c.disk_type == disk_type
            })
            .map(|c| c.cost_center.as_str())
    }
}

fn check_text_size(bytes: usize) -> Result<(), CatalogError> {
    crate::limits::check(
        "catalog text",
        bytes,
        crate::limits::MAX_CONFIG_BYTES,
        "bytes",
    )?;
    Ok(())
}

/// A code or name of a catalog or rate card: at most
/// [`MAX_CODE_CHARS`](crate::limits::MAX_CODE_CHARS) characters and no
/// control characters. The reason, not the value, is echoed.
pub(crate) fn code_text_problem(value: &str) -> Option<String> {
    use crate::limits::MAX_CODE_CHARS;
    if value.chars().nth(MAX_CODE_CHARS).is_some() {
        return Some(format!(
            "is longer than {MAX_CODE_CHARS} characters ({})",
            crate::limits::shown(value)
        ));
    }
    if value.chars().any(char::is_control) {
        return Some(format!(
            "has control characters ({})",
            crate::limits::shown(value)
        ));
    }
    None
}

fn check_code_text(entry: &str, field: &'static str, value: &str) -> Result<(), CatalogError> {
    match code_text_problem(value) {
        None => Ok(()),
        Some(reason) => Err(CatalogError::Invalid {
            entry: entry.to_string(),
            field,
            reason,
        }),
    }
}

fn unique<'a>(
    list: &str,
    codes: impl Iterator<Item = &'a String>,
) -> Result<BTreeSet<&'a str>, CatalogError> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, code) in codes.enumerate() {
        if code.trim().is_empty() {
            return Err(CatalogError::Invalid {
                entry: format!("{list}[{i}]"),
                field: "code",
                reason: "is empty".into(),
            });
        }
        if seen.insert(code.as_str(), i).is_some() {
            return Err(CatalogError::Duplicate {
                entry: format!("{list}[{i}]"),
                code: code.clone(),
            });
        }
    }
    Ok(seen.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[divisions]]
code = "CORP"
name = "Corporate"
[[units]]
code = "IT"
name = "IT"
division = "CORP"
[[environments]]
code = "PRD"
name = "Production"
project = "prod"
category = "Environment:Production"
vlans = ["vlan-10"]
[[disk_types]]
code = "SSD"
name = "SSD"
[[clusters]]
name = "c1"
[[cost_centers]]
division = "CORP"
unit = "IT"
environment = "PRD"
disk_type = "SSD"
cost_center = "30010112"
"#;

    #[test]
    fn loads_a_good_catalog_and_maps_cost_centers() {
        let c = Catalog::from_toml_str(GOOD).unwrap();
        assert_eq!(c.cost_center("CORP", "IT", "PRD", "SSD"), Some("30010112"));
        assert_eq!(c.cost_center("CORP", "IT", "PRD", "HDD"), None);
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn json_round_trip() {
        let c = Catalog::from_toml_str(GOOD).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(Catalog::from_json_str(&json).unwrap(), c);
    }

    #[test]
    fn unknown_division_names_the_unit() {
        let bad = GOOD.replace(
            "division = \"CORP\"\n[[environments]]",
            "division = \"NOPE\"\n[[environments]]",
        );
        let err = Catalog::from_toml_str(&bad).unwrap_err();
        assert_eq!(
            err,
            CatalogError::UnknownReference {
                entry: "units[0] \"IT\"".into(),
                field: "division",
                value: "NOPE".into()
            }
        );
        assert!(err.to_string().contains("units[0]"));
    }

    #[test]
    fn unknown_disk_type_in_cost_center_is_named() {
        let bad = GOOD.replace("disk_type = \"SSD\"", "disk_type = \"HDD\"");
        let err = Catalog::from_toml_str(&bad).unwrap_err();
        assert!(
            matches!(
                err,
                CatalogError::UnknownReference {
                    field: "disk_type",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("cost_centers[0]"));
    }

    #[test]
    fn duplicate_codes_are_refused() {
        let bad = format!("{GOOD}\n[[clusters]]\nname = \"c1\"\n");
        let err = Catalog::from_toml_str(&bad).unwrap_err();
        assert_eq!(
            err,
            CatalogError::Duplicate {
                entry: "clusters[1]".into(),
                code: "c1".into()
            }
        );
    }

    #[test]
    fn syntax_errors_and_missing_files_are_typed() {
        assert!(matches!(
            Catalog::from_toml_str("divisions = 3"),
            Err(CatalogError::Syntax(_))
        ));
        assert!(matches!(
            Catalog::from_path("/nonexistent/catalog.toml"),
            Err(CatalogError::Io { .. })
        ));
        assert!(matches!(
            Catalog::from_path("catalog.yaml"),
            Err(CatalogError::Io { .. }) | Err(CatalogError::UnknownFormat(_))
        ));
    }
}

use super::{Derived, ValidSpec, VmSpec};
use crate::catalog::{Catalog, Environment};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Longest VM name accepted (see [`limits`](crate::limits)).
pub use crate::limits::MAX_SPEC_NAME_CHARS as MAX_NAME_LEN;
use crate::limits::{cut, shown, MAX_DISKS, MAX_LEASE_DAYS, MAX_NICS};

/// A stable code per kind of problem. Serialised in `snake_case`; codes are
/// never renumbered or reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpecErrorCode {
    /// The name is empty.
    NameEmpty,
    /// The name is longer than [`MAX_NAME_LEN`].
    NameTooLong,
    /// The name has characters other than ASCII letters, digits, `-`, `_`, `.`,
    /// or does not start with a letter or digit.
    NameInvalid,
    /// Cores per socket is 0 or above the limit.
    CoresPerSocketOutOfRange,
    /// Sockets is 0 or above the limit.
    SocketsOutOfRange,
    /// Cores per socket × sockets is above the limit.
    VcpusOutOfRange,
    /// RAM is 0 or above the limit.
    RamOutOfRange,
    /// The division is not in the catalog.
    UnknownDivision,
    /// The unit is not in the catalog.
    UnknownUnit,
    /// The unit belongs to another division.
    UnitNotInDivision,
    /// The environment is not in the catalog.
    UnknownEnvironment,
    /// The disk type is not in the catalog.
    UnknownDiskType,
    /// No cost center is mapped for (division, unit, environment, disk type).
    NoCostCenter,
    /// The cluster is not in the catalog.
    UnknownCluster,
    /// Fewer than 1 or more than 12 disks.
    DiskCountOutOfRange,
    /// A disk is 0 GiB or above the limit.
    DiskSizeOutOfRange,
    /// Fewer than 1 or more than 4 NICs.
    NicCountOutOfRange,
    /// A NIC's VLAN is not one the environment's project may use.
    NicVlanNotAllowed,
    /// Two NICs on the same VLAN.
    NicDuplicate,
    /// The image is not in the catalog.
    UnknownImage,
    /// The special-requirement text is too long.
    NoteTooLong,
    /// The environment's project may not use the cluster.
    ClusterNotAllowed,
    /// A NIC's VLAN does not exist on the chosen cluster.
    NicVlanNotOnCluster,
    /// The disk type's storage container does not exist on the cluster.
    DiskTypeNotOnCluster,
    /// The environment's category does not exist on the platform.
    EnvironmentCategoryMissing,
    /// A reconfigure changes a field that names or places the VM (name,
    /// division, unit, environment, cluster, disk type, image, backups).
    FixedOnReconfigure,
    /// A reconfigure shrinks or removes a disk.
    DiskShrinks,
    /// A reconfigure changes nothing.
    NothingChanged,
    /// The lease is 0 days, or longer than the environment (or Butler)
    /// allows.
    LeaseOutOfRange,
}

impl SpecErrorCode {
    /// Every code.
    pub const ALL: [SpecErrorCode; 29] = [
        Self::NameEmpty,
        Self::NameTooLong,
        Self::NameInvalid,
        Self::CoresPerSocketOutOfRange,
        Self::SocketsOutOfRange,
        Self::VcpusOutOfRange,
        Self::RamOutOfRange,
        Self::UnknownDivision,
        Self::UnknownUnit,
        Self::UnitNotInDivision,
        Self::UnknownEnvironment,
        Self::UnknownDiskType,
        Self::NoCostCenter,
        Self::UnknownCluster,
        Self::DiskCountOutOfRange,
        Self::DiskSizeOutOfRange,
        Self::NicCountOutOfRange,
        Self::NicVlanNotAllowed,
        Self::NicDuplicate,
        Self::UnknownImage,
        Self::NoteTooLong,
        Self::ClusterNotAllowed,
        Self::NicVlanNotOnCluster,
        Self::DiskTypeNotOnCluster,
        Self::EnvironmentCategoryMissing,
        Self::FixedOnReconfigure,
        Self::DiskShrinks,
        Self::NothingChanged,
        Self::LeaseOutOfRange,
    ];

    /// The code as serialised (`"nic_vlan_not_allowed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NameEmpty => "name_empty",
            Self::NameTooLong => "name_too_long",
            Self::NameInvalid => "name_invalid",
            Self::CoresPerSocketOutOfRange => "cores_per_socket_out_of_range",
            Self::SocketsOutOfRange => "sockets_out_of_range",
            Self::VcpusOutOfRange => "vcpus_out_of_range",
            Self::RamOutOfRange => "ram_out_of_range",
            Self::UnknownDivision => "unknown_division",
            Self::UnknownUnit => "unknown_unit",
            Self::UnitNotInDivision => "unit_not_in_division",
            Self::UnknownEnvironment => "unknown_environment",
            Self::UnknownDiskType => "unknown_disk_type",
            Self::NoCostCenter => "no_cost_center",
            Self::UnknownCluster => "unknown_cluster",
            Self::DiskCountOutOfRange => "disk_count_out_of_range",
            Self::DiskSizeOutOfRange => "disk_size_out_of_range",
            Self::NicCountOutOfRange => "nic_count_out_of_range",
            Self::NicVlanNotAllowed => "nic_vlan_not_allowed",
            Self::NicDuplicate => "nic_duplicate",
            Self::UnknownImage => "unknown_image",
            Self::NoteTooLong => "note_too_long",
            Self::ClusterNotAllowed => "cluster_not_allowed",
            Self::NicVlanNotOnCluster => "nic_vlan_not_on_cluster",
            Self::DiskTypeNotOnCluster => "disk_type_not_on_cluster",
            Self::EnvironmentCategoryMissing => "environment_category_missing",
            Self::FixedOnReconfigure => "fixed_on_reconfigure",
            Self::DiskShrinks => "disk_shrinks",
            Self::NothingChanged => "nothing_changed",
            Self::LeaseOutOfRange => "lease_out_of_range",
        }
    }
}

impl fmt::Display for SpecErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem: the field path (`disks_gib[3]`), a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecError {
    /// Field path, e.g. `nics[1]`.
    pub field: String,
    /// Stable code.
    pub code: SpecErrorCode,
    /// Human message (English).
    pub message: String,
    /// What the message names (`value`, `max`, `vlan`, …), for a
    /// translation to word it; values are cut as messages cut them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<String, String>,
}

/// Every problem found in a spec (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl SpecErrors {
    /// The codes, in the order found.
    pub fn codes(&self) -> Vec<SpecErrorCode> {
        self.0.iter().map(|e| e.code).collect()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the VM spec:", self.0.len())?;
        for e in &self.0 {
            write!(f, " [{}] {}: {};", e.code, e.field, e.message)?;
        }
        Ok(())
    }
}

pub(super) struct Problems(pub(super) Vec<SpecError>);

impl Problems {
    pub(super) fn add(
        &mut self,
        field: impl Into<String>,
        code: SpecErrorCode,
        message: impl Into<String>,
        values: &[(&str, String)],
    ) {
        self.0.push(SpecError {
            field: field.into(),
            code,
            message: message.into(),
            values: values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        });
    }
}

/// Checks the lease against the environment's cap (or Butler's), and gives
/// a VM of a capped environment that names no lease the cap.
fn check_lease(spec: &mut VmSpec, env: Option<&Environment>, p: &mut Problems) {
    let cap = env.and_then(|e| e.max_lease_days);
    let max = cap.unwrap_or(MAX_LEASE_DAYS).min(MAX_LEASE_DAYS);
    match spec.lease_days {
        None => spec.lease_days = cap.map(|c| c.min(MAX_LEASE_DAYS)),
        Some(d) if !(1..=max).contains(&d) => {
            let whose = match (cap, env) {
                (Some(_), Some(e)) => format!("environment {:?}", e.code),
                _ => "Butler".into(),
            };
            p.add(
                "lease_days",
                SpecErrorCode::LeaseOutOfRange,
                format!("{d} days; {whose} allows leases of 1 to {max} days"),
                &[
                    ("case", "range".into()),
                    ("days", d.to_string()),
                    ("max", max.to_string()),
                    (
                        "environment",
                        cap.and(env).map(|e| cut(&e.code)).unwrap_or_default(),
                    ),
                ],
            );
        }
        Some(_) => {}
    }
}

/// Validates `spec` against `catalog`, returning the normalised spec with its
/// derived project, category and cost center, or every problem found.
///
/// Normalisation: when an image is set, disk 0 is raised to at least the
/// image's size (this is not an error).
///
/// ```
/// use butler_core::{catalog::Catalog, vm_spec::{validate, VmSpec, SpecErrorCode}};
/// let catalog = butler_core::demo::catalog();
/// let spec = VmSpec { name: "bad name!".into(), ..butler_core::demo::spec("web01") };
/// let errs = validate(&spec, &catalog).unwrap_err();
/// assert_eq!(errs.codes(), vec![SpecErrorCode::NameInvalid]);
/// ```
pub fn validate(spec: &VmSpec, catalog: &Catalog) -> Result<ValidSpec, SpecErrors> {
    use SpecErrorCode as C;
    let lim = catalog.limits;
    let mut p = Problems(Vec::new());
    let mut spec = spec.clone();

    check_name(&spec.name, &mut p);
    if !(1..=lim.max_cores_per_socket).contains(&spec.cores_per_socket) {
        p.add(
            "cores_per_socket",
            C::CoresPerSocketOutOfRange,
            format!("must be 1 to {}", lim.max_cores_per_socket),
            &[("max", lim.max_cores_per_socket.to_string())],
        );
    }
    if !(1..=lim.max_sockets).contains(&spec.sockets) {
        p.add(
            "sockets",
            C::SocketsOutOfRange,
            format!("must be 1 to {}", lim.max_sockets),
            &[("max", lim.max_sockets.to_string())],
        );
    }
    if spec.cores_per_socket >= 1 && spec.sockets >= 1 && spec.vcpus() > lim.max_vcpus {
        p.add(
            "sockets",
            C::VcpusOutOfRange,
            format!(
                "{} cores per socket × {} sockets = {} vCPUs, more than {}",
                spec.cores_per_socket,
                spec.sockets,
                spec.vcpus(),
                lim.max_vcpus
            ),
            &[
                ("cores", spec.cores_per_socket.to_string()),
                ("sockets", spec.sockets.to_string()),
                ("vcpus", spec.vcpus().to_string()),
                ("max", lim.max_vcpus.to_string()),
            ],
        );
    }
    if !(1..=lim.max_ram_gib).contains(&spec.ram_gib) {
        p.add(
            "ram_gib",
            C::RamOutOfRange,
            format!("must be 1 to {} GiB", lim.max_ram_gib),
            &[("max", lim.max_ram_gib.to_string())],
        );
    }

    let division_ok = catalog.division(&spec.division).is_some();
    if !division_ok {
        p.add(
            "division",
            C::UnknownDivision,
            format!("unknown division {}", shown(&spec.division)),
            &[("value", cut(&spec.division))],
        );
    }
    match catalog.unit(&spec.unit) {
        None => p.add(
            "unit",
            C::UnknownUnit,
            format!("unknown unit {}", shown(&spec.unit)),
            &[("value", cut(&spec.unit))],
        ),
        Some(u) if division_ok && u.division != spec.division => p.add(
            "unit",
            C::UnitNotInDivision,
            format!(
                "unit {:?} belongs to division {:?}, not {}",
                u.code,
                u.division,
                shown(&spec.division)
            ),
            &[
                ("value", cut(&u.code)),
                ("division", cut(&u.division)),
                ("asked", cut(&spec.division)),
            ],
        ),
        Some(_) => {}
    }
    let env = catalog.environment(&spec.environment);
    match env {
        None => p.add(
            "environment",
            C::UnknownEnvironment,
            format!("unknown environment {}", shown(&spec.environment)),
            &[("value", cut(&spec.environment))],
        ),
        Some(e) => {
            let on_platform = catalog
                .platform_categories
                .as_ref()
                .is_none_or(|cats| cats.contains(&e.category));
            if !on_platform {
                p.add(
                    "environment",
                    C::EnvironmentCategoryMissing,
                    format!(
                        "the category {:?} of environment {:?} does not exist on the platform",
                        e.category, e.code
                    ),
                    &[("category", cut(&e.category)), ("value", cut(&e.code))],
                );
            }
        }
    }
    let disk_type = catalog.disk_type(&spec.disk_type);
    if disk_type.is_none() {
        p.add(
            "disk_type",
            C::UnknownDiskType,
            format!("unknown disk type {}", shown(&spec.disk_type)),
            &[("value", cut(&spec.disk_type))],
        );
    }
    let cost_center = catalog.cost_center(
        &spec.division,
        &spec.unit,
        &spec.environment,
        &spec.disk_type,
    );
    if cost_center.is_none() && p.0.iter().all(|e| !is_cost_center_input(e.code)) {
        p.add(
            "cost_center",
            C::NoCostCenter,
            format!(
                "no cost center is mapped for division {}, unit {}, environment {}, disk type {}",
                shown(&spec.division),
                shown(&spec.unit),
                shown(&spec.environment),
                shown(&spec.disk_type)
            ),
            &[
                ("division", cut(&spec.division)),
                ("unit", cut(&spec.unit)),
                ("environment", cut(&spec.environment)),
                ("disk_type", cut(&spec.disk_type)),
            ],
        );
    }
    let cluster = catalog.cluster(&spec.cluster);
    match (cluster, env) {
        (None, _) => p.add(
            "cluster",
            C::UnknownCluster,
            format!("unknown cluster {}", shown(&spec.cluster)),
            &[("value", cut(&spec.cluster))],
        ),
        (Some(c), Some(e)) if !e.clusters.is_empty() && !e.clusters.contains(&c.name) => p.add(
            "cluster",
            C::ClusterNotAllowed,
            format!(
                "project {:?} of environment {:?} may not use cluster {:?}",
                e.project, e.code, c.name
            ),
            &[
                ("project", cut(&e.project)),
                ("environment", cut(&e.code)),
                ("value", cut(&c.name)),
            ],
        ),
        _ => {}
    }
    let storage_container = disk_type.and_then(|d| d.storage_container.clone());
    if let (Some(c), Some(ctr)) = (cluster, &storage_container) {
        if catalog.knows_storage_containers() && !c.storage_containers.contains(ctr) {
            p.add(
                "disk_type",
                C::DiskTypeNotOnCluster,
                format!(
                    "disk type {:?} goes to storage container {ctr:?}, which cluster {:?} does not have",
                    spec.disk_type, c.name
                ),
                &[
                    ("disk_type", cut(&spec.disk_type)),
                    ("container", cut(ctr)),
                    ("cluster", cut(&c.name)),
                ],
            );
        }
    }

    if !(1..=MAX_DISKS).contains(&spec.disks_gib.len()) {
        p.add(
            "disks_gib",
            C::DiskCountOutOfRange,
            format!("{} disks; a VM has 1 to {MAX_DISKS}", spec.disks_gib.len()),
            &[
                ("count", spec.disks_gib.len().to_string()),
                ("max", MAX_DISKS.to_string()),
            ],
        );
    }
    // Per-disk checks only for a list within bounds: a million disks is one
    // problem, not a million.
    let disks_in_bounds = spec.disks_gib.len() <= MAX_DISKS;
    for (i, d) in spec
        .disks_gib
        .iter()
        .enumerate()
        .take_while(|_| disks_in_bounds)
    {
        if !(1..=lim.max_disk_gib).contains(d) {
            p.add(
                format!("disks_gib[{i}]"),
                C::DiskSizeOutOfRange,
                format!("{d} GiB; a disk is 1 to {} GiB", lim.max_disk_gib),
                &[
                    ("value", d.to_string()),
                    ("max", lim.max_disk_gib.to_string()),
                ],
            );
        }
    }
    if let Some(name) = &spec.image {
        match catalog.image(name) {
            None => p.add(
                "image",
                C::UnknownImage,
                format!("unknown image {}", shown(name)),
                &[("value", cut(name))],
            ),
            Some(img) => {
                if let Some(d0) = spec.disks_gib.first_mut() {
                    if *d0 < img.size_gib {
                        *d0 = img.size_gib;
                    }
                }
            }
        }
    }

    if !(1..=MAX_NICS).contains(&spec.nics.len()) {
        p.add(
            "nics",
            C::NicCountOutOfRange,
            format!("{} NICs; a VM has 1 to {MAX_NICS}", spec.nics.len()),
            &[
                ("count", spec.nics.len().to_string()),
                ("max", MAX_NICS.to_string()),
            ],
        );
    }
    let mut seen = BTreeSet::new();
    let nics_in_bounds = spec.nics.len() <= MAX_NICS;
    for (i, vlan) in spec.nics.iter().enumerate().take_while(|_| nics_in_bounds) {
        if let Some(env) = env {
            if !env.vlans.iter().any(|v| v == vlan) {
                p.add(
                    format!("nics[{i}]"),
                    C::NicVlanNotAllowed,
                    format!(
                        "VLAN {} is not available to project {:?} of environment {:?}",
                        shown(vlan),
                        env.project,
                        env.code
                    ),
                    &[
                        ("value", cut(vlan)),
                        ("project", cut(&env.project)),
                        ("environment", cut(&env.code)),
                    ],
                );
            } else if let Some(c) = cluster.filter(|_| catalog.knows_cluster_vlans()) {
                // VLANs belong to one cluster: the same name elsewhere is
                // another network.
                if !c.vlans.contains(vlan) {
                    p.add(
                        format!("nics[{i}]"),
                        C::NicVlanNotOnCluster,
                        format!(
                            "VLAN {} does not exist on cluster {:?}",
                            shown(vlan),
                            c.name
                        ),
                        &[("value", cut(vlan)), ("cluster", cut(&c.name))],
                    );
                }
            }
        }
        if !seen.insert(vlan) {
            p.add(
                format!("nics[{i}]"),
                C::NicDuplicate,
                format!("VLAN {} is used by another NIC", shown(vlan)),
                &[("value", cut(vlan))],
            );
        }
    }
    check_lease(&mut spec, env, &mut p);
    spec.special_requirement = clean_note(&spec.special_requirement);
    let note_chars = spec.special_requirement.chars().count();
    if note_chars > lim.max_note_chars {
        p.add(
            "special_requirement",
            C::NoteTooLong,
            format!("{note_chars} characters; at most {}", lim.max_note_chars),
            &[
                ("count", note_chars.to_string()),
                ("max", lim.max_note_chars.to_string()),
            ],
        );
    }

    match (p.0.is_empty(), env, cost_center) {
        (true, Some(env), Some(cc)) => {
            let derived = Derived {
                project: env.project.clone(),
                category: env.category.clone(),
                cost_center: cc.to_string(),
                storage_container,
            };
            Ok(ValidSpec { spec, derived })
        }
        _ => Err(SpecErrors(p.0)),
    }
}

/// Free text as kept: control characters other than line breaks and tabs
/// dropped (a note must not carry terminal escapes or forge log lines;
/// logs take it as an escaped field anyway).
fn clean_note(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return text.to_string();
    }
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// Codes whose problem already explains why no cost center resolves.
fn is_cost_center_input(code: SpecErrorCode) -> bool {
    use SpecErrorCode as C;
    matches!(
        code,
        C::UnknownDivision
            | C::UnknownUnit
            | C::UnitNotInDivision
            | C::UnknownEnvironment
            | C::UnknownDiskType
    )
}

fn check_name(name: &str, p: &mut Problems) {
    use SpecErrorCode as C;
    if name.is_empty() {
        p.add("name", C::NameEmpty, "the VM name is required", &[]);
        return;
    }
    if name.chars().count() > MAX_NAME_LEN {
        p.add(
            "name",
            C::NameTooLong,
            format!("at most {MAX_NAME_LEN} characters"),
            &[("max", MAX_NAME_LEN.to_string())],
        );
    }
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !starts_ok || !chars_ok {
        p.add(
            "name",
            C::NameInvalid,
            "use ASCII letters, digits, '-', '_' and '.', starting with a letter or digit",
            &[],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use proptest::prelude::*;

    #[test]
    fn huge_lists_and_fields_give_few_short_problems() {
        let huge = "x".repeat(10 << 20);
        let spec = VmSpec {
            disks_gib: vec![0; 1_000_000],
            nics: vec!["nope".into(); 100_000],
            division: huge.clone(),
            unit: huge.clone(),
            environment: huge.clone(),
            disk_type: huge.clone(),
            cluster: huge,
            ..demo::spec("web01")
        };
        let errs = validate(&spec, &demo::catalog()).unwrap_err();
        assert!(errs.0.len() < 20, "{} problems", errs.0.len());
        let text = errs.to_string();
        assert!(text.len() < 4096, "{} bytes of message", text.len());
        assert!(
            text.contains("1000000 disks") && text.contains("100000 NICs"),
            "{text}"
        );
    }

    #[test]
    fn a_capped_environment_gives_every_vm_a_lease_within_its_cap() {
        let mut catalog = demo::catalog();
        let prd = demo::spec("web01").environment;
        for e in &mut catalog.environments {
            if e.code == prd {
                e.max_lease_days = Some(90);
            }
        }
        let none = validate(&demo::spec("web01"), &catalog).unwrap();
        assert_eq!(none.lease_days, Some(90), "the cap when none is asked");
        let within = VmSpec {
            lease_days: Some(30),
            ..demo::spec("web01")
        };
        assert_eq!(validate(&within, &catalog).unwrap().lease_days, Some(30));
        let past = VmSpec {
            lease_days: Some(91),
            ..demo::spec("web01")
        };
        let errs = validate(&past, &catalog).unwrap_err();
        assert_eq!(errs.codes(), [SpecErrorCode::LeaseOutOfRange]);
        assert!(
            errs.0[0].message.contains(&format!("environment {prd:?}"))
                && errs.0[0].message.contains("1 to 90 days"),
            "{errs}"
        );
        // Uncapped: none stays none; Butler's ten years bound the rest.
        let free = validate(&demo::spec("web01"), &demo::catalog()).unwrap();
        assert_eq!(free.lease_days, None);
    }

    #[test]
    fn a_good_spec_derives_project_category_and_cost_center() {
        let v = validate(&demo::spec("web01"), &demo::catalog()).unwrap();
        assert_eq!(v.derived().project, "prod-project");
        assert_eq!(v.derived().category, "Environment:Production");
        assert_eq!(v.derived().cost_center, "CC-1001");
    }

    #[test]
    fn reports_every_problem_at_once_with_field_paths() {
        let spec = VmSpec {
            name: "-bad".into(),
            cores_per_socket: 0,
            sockets: 9,
            ram_gib: 0,
            disks_gib: vec![10, 0],
            nics: vec!["vlan-10".into(), "vlan-999".into(), "vlan-10".into()],
            image: Some("nope".into()),
            cluster: "mars".into(),
            ..demo::spec("x")
        };
        let errs = validate(&spec, &demo::catalog()).unwrap_err();
        let got: Vec<(String, SpecErrorCode)> =
            errs.0.iter().map(|e| (e.field.clone(), e.code)).collect();
        use SpecErrorCode as C;
        assert_eq!(
            got,
            vec![
                ("name".into(), C::NameInvalid),
                ("cores_per_socket".into(), C::CoresPerSocketOutOfRange),
                ("sockets".into(), C::SocketsOutOfRange),
                ("ram_gib".into(), C::RamOutOfRange),
                ("cluster".into(), C::UnknownCluster),
                ("disks_gib[1]".into(), C::DiskSizeOutOfRange),
                ("image".into(), C::UnknownImage),
                ("nics[1]".into(), C::NicVlanNotAllowed),
                ("nics[2]".into(), C::NicDuplicate),
            ]
        );
    }

    #[test]
    fn catalog_problems_and_missing_cost_center() {
        let cat = demo::catalog();
        let spec = VmSpec {
            unit: "FIN".into(),
            ..demo::spec("a")
        };
        // FIN is in division RET, not CORP.
        assert_eq!(
            validate(&spec, &cat).unwrap_err().codes(),
            vec![SpecErrorCode::UnitNotInDivision]
        );
        let spec = VmSpec {
            disk_type: "HDD".into(),
            environment: "DEV".into(),
            nics: vec!["vlan-30".into()],
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&spec, &cat).unwrap_err().codes(),
            vec![SpecErrorCode::NoCostCenter]
        );
        let spec = VmSpec {
            division: "X".into(),
            environment: "Y".into(),
            disk_type: "Z".into(),
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&spec, &cat).unwrap_err().codes(),
            vec![
                SpecErrorCode::UnknownDivision,
                SpecErrorCode::UnknownEnvironment,
                SpecErrorCode::UnknownDiskType
            ]
        );
    }

    #[test]
    fn counts_and_limits() {
        let cat = demo::catalog();
        use SpecErrorCode as C;
        let none = VmSpec {
            disks_gib: vec![],
            nics: vec![],
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&none, &cat).unwrap_err().codes(),
            vec![C::DiskCountOutOfRange, C::NicCountOutOfRange]
        );
        let many = VmSpec {
            disks_gib: vec![1; 13],
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&many, &cat).unwrap_err().codes(),
            vec![C::DiskCountOutOfRange]
        );
        let twelve = VmSpec {
            disks_gib: vec![1; 12],
            ..demo::spec("a")
        };
        assert!(validate(&twelve, &cat).is_ok());
        let wide = VmSpec {
            cores_per_socket: 64,
            sockets: 4,
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&wide, &cat).unwrap_err().codes(),
            vec![C::VcpusOutOfRange]
        );
        let long = VmSpec {
            name: "a".repeat(MAX_NAME_LEN + 1),
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&long, &cat).unwrap_err().codes(),
            vec![C::NameTooLong]
        );
        let empty = VmSpec {
            name: String::new(),
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&empty, &cat).unwrap_err().codes(),
            vec![C::NameEmpty]
        );
        let note = VmSpec {
            special_requirement: "x".repeat(4001),
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&note, &cat).unwrap_err().codes(),
            vec![C::NoteTooLong]
        );
    }

    #[test]
    fn image_raises_disk_zero_only_when_smaller() {
        let cat = demo::catalog(); // image "rhel9" is 40 GiB
        let small = VmSpec {
            image: Some("rhel9".into()),
            disks_gib: vec![10, 5],
            ..demo::spec("a")
        };
        assert_eq!(
            validate(&small, &cat).unwrap().spec().disks_gib,
            vec![40, 5]
        );
        let big = VmSpec {
            image: Some("rhel9".into()),
            disks_gib: vec![100],
            ..demo::spec("a")
        };
        assert_eq!(validate(&big, &cat).unwrap().spec().disks_gib, vec![100]);
    }

    #[test]
    fn codes_serialise_as_their_stable_names() {
        for code in [
            SpecErrorCode::NicVlanNotAllowed,
            SpecErrorCode::NoCostCenter,
            SpecErrorCode::NameInvalid,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    proptest! {
        #[test]
        fn validation_never_panics_and_valid_means_within_rules(
            name in "[ -~]{0,70}",
            cps in 0u32..100, sockets in 0u32..12, ram in 0u32..5000,
            disks in proptest::collection::vec(0u32..70_000, 0..14),
            nics in proptest::collection::vec(prop_oneof!["vlan-10", "vlan-11", "vlan-30", "x"], 0..6),
            image in proptest::option::of(prop_oneof!["rhel9", "nope"]),
        ) {
            let cat = demo::catalog();
            let spec = VmSpec { name, cores_per_socket: cps, sockets, ram_gib: ram, disks_gib: disks, nics, image, ..demo::spec("a") };
            match validate(&spec, &cat) {
                Ok(v) => {
                    let s = v.spec();
                    prop_assert!((1..=12).contains(&s.disks_gib.len()));
                    prop_assert!((1..=4).contains(&s.nics.len()));
                    prop_assert!(s.vcpus() >= 1 && s.vcpus() <= cat.limits.max_vcpus);
                    prop_assert!(s.ram_gib >= 1);
                    if s.image.is_some() { prop_assert!(s.disks_gib[0] >= 40); }
                }
                Err(e) => prop_assert!(!e.0.is_empty()),
            }
        }
    }
}

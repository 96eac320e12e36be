//! The VM a request asks for (SPEC §2) and its validation.
//!
//! [`VmSpec`] is what a person types; [`validate`] checks it against the
//! [`Catalog`](crate::catalog::Catalog) and returns a [`ValidSpec`] — the spec
//! normalised (disk 0 raised to the image size) plus what is derived from the
//! catalog (project, category, cost center) — or *every* problem at once.

mod change;
mod validate;

pub use change::change_problems;
pub use validate::{validate, SpecError, SpecErrorCode, SpecErrors, MAX_NAME_LEN};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A requested VM, as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmSpec {
    /// The VM name; Butler derives the platform-wide unique name from it.
    pub name: String,
    /// Cores per socket (≥ 1).
    pub cores_per_socket: u32,
    /// Sockets (≥ 1).
    pub sockets: u32,
    /// RAM in GiB (≥ 1).
    pub ram_gib: u32,
    /// Corporate division code.
    pub division: String,
    /// Management unit code (inside the division).
    pub unit: String,
    /// Environment code (fixes project, category and VLANs).
    pub environment: String,
    /// Disk type code, for every disk.
    pub disk_type: String,
    /// Cluster name.
    pub cluster: String,
    /// Disk sizes in GiB, 1 to 12 disks.
    pub disks_gib: Vec<u32>,
    /// NICs: the VLAN of each, 1 to 4.
    pub nics: Vec<String>,
    /// Optional boot image (UEFI), cloned onto disk 0.
    pub image: Option<String>,
    /// Local snapshot copies.
    pub backup_local: bool,
    /// Remote replication.
    pub backup_remote: bool,
    /// An empty CD-ROM drive.
    pub cdrom: bool,
    /// Free text for the support team.
    pub special_requirement: String,
    /// Days the VM is leased for, counted from the day it is built; at the
    /// lease's end it is retired (see [`crate::inventory::LeaseWatch`]). `None`:
    /// no lease, or, where the environment caps leases
    /// ([`crate::catalog::Environment::max_lease_days`]), the cap, which
    /// validation fills in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_days: Option<u32>,
}

impl Default for VmSpec {
    /// The form's defaults: 1 × 1 vCPU, 1 GiB, backups and CD-ROM on.
    fn default() -> Self {
        VmSpec {
            name: String::new(),
            cores_per_socket: 1,
            sockets: 1,
            ram_gib: 1,
            division: String::new(),
            unit: String::new(),
            environment: String::new(),
            disk_type: String::new(),
            cluster: String::new(),
            disks_gib: Vec::new(),
            nics: Vec::new(),
            image: None,
            backup_local: true,
            backup_remote: true,
            cdrom: true,
            special_requirement: String::new(),
            lease_days: None,
        }
    }
}

impl VmSpec {
    /// Total vCPUs: cores per socket × sockets (saturating).
    pub fn vcpus(&self) -> u32 {
        self.cores_per_socket.saturating_mul(self.sockets)
    }

    /// Total storage in GiB.
    pub fn storage_gib(&self) -> u64 {
        self.disks_gib.iter().map(|d| u64::from(*d)).sum()
    }

    /// The spec as (field path → displayed value), for history diffs.
    pub fn fields(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("name".into(), self.name.clone());
        m.insert("cores_per_socket".into(), self.cores_per_socket.to_string());
        m.insert("sockets".into(), self.sockets.to_string());
        m.insert("ram_gib".into(), self.ram_gib.to_string());
        m.insert("division".into(), self.division.clone());
        m.insert("unit".into(), self.unit.clone());
        m.insert("environment".into(), self.environment.clone());
        m.insert("disk_type".into(), self.disk_type.clone());
        m.insert("cluster".into(), self.cluster.clone());
        for (i, d) in self.disks_gib.iter().enumerate() {
            m.insert(format!("disks_gib[{i}]"), d.to_string());
        }
        for (i, n) in self.nics.iter().enumerate() {
            m.insert(format!("nics[{i}]"), n.clone());
        }
        m.insert("image".into(), self.image.clone().unwrap_or_default());
        m.insert("backup_local".into(), self.backup_local.to_string());
        m.insert("backup_remote".into(), self.backup_remote.to_string());
        m.insert("cdrom".into(), self.cdrom.to_string());
        m.insert(
            "special_requirement".into(),
            self.special_requirement.clone(),
        );
        m.insert(
            "lease_days".into(),
            self.lease_days.map(|d| d.to_string()).unwrap_or_default(),
        );
        m
    }
}

/// A spec that passed validation, with what the catalog derives from it.
///
/// Only [`validate`] builds one, so holding a `ValidSpec` proves the spec was
/// checked against a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidSpec {
    spec: VmSpec,
    derived: Derived,
}

/// What Butler derives from a valid spec: never typed by a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// The environment's project.
    pub project: String,
    /// The environment's category.
    pub category: String,
    /// The cost center from the catalog's table.
    pub cost_center: String,
    /// The storage container of the disk type, where every disk goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_container: Option<String>,
}

impl ValidSpec {
    /// The normalised spec.
    pub fn spec(&self) -> &VmSpec {
        &self.spec
    }
    /// Project, category and cost center.
    pub fn derived(&self) -> &Derived {
        &self.derived
    }
    /// A spec read back from storage, validated when it was written.
    pub(crate) fn from_stored(spec: VmSpec, derived: Derived) -> Self {
        ValidSpec { spec, derived }
    }

    /// Splits into its parts.
    pub fn into_parts(self) -> (VmSpec, Derived) {
        (self.spec, self.derived)
    }
}

/// A valid spec reads as the spec it holds (`r.spec.name`, `&r.spec`).
impl std::ops::Deref for ValidSpec {
    type Target = VmSpec;
    fn deref(&self) -> &VmSpec {
        &self.spec
    }
}

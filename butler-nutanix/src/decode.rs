//! Tolerant decoding of Prism JSON into Butler's types: missing fields
//! become defaults or `None`, never panics.

use butler_core::backend::{
    ClusterInfo, ImageInfo, PowerState, ProjectInfo, ProtectionGroup, Schedule, ScheduleKind,
    SharedStrings, SubnetInfo, TaskState, TaskStatus, VmBrief, VmInfo, VmState,
};
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The value at `path` (object keys), or `Null`.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
}

/// The string at `path`, or "".
pub fn s(v: &Value, path: &[&str]) -> String {
    at(v, path).as_str().unwrap_or_default().to_string()
}

pub(crate) fn first_s(v: &Value, paths: &[&[&str]]) -> String {
    paths
        .iter()
        .map(|p| s(v, p))
        .find(|x| !x.is_empty())
        .unwrap_or_default()
}

fn u(v: &Value, path: &[&str]) -> u64 {
    at(v, path).as_u64().unwrap_or(0)
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// `entities` of a list response.
pub fn entities(v: &Value) -> &[Value] {
    arr(v, &["entities"])
}

/// Whether a v3 cluster entity is Prism Central itself.
pub fn is_prism_central(e: &Value) -> bool {
    arr(e, &["status", "resources", "config", "service_list"])
        .iter()
        .any(|x| x.as_str() == Some("PRISM_CENTRAL"))
}

/// A v3 cluster.
pub fn cluster(e: &Value) -> ClusterInfo {
    ClusterInfo {
        name: first_s(e, &[&["status", "name"], &["spec", "name"]]),
        uuid: s(e, &["metadata", "uuid"]),
    }
}

/// Whether a v3 subnet is an OVERLAY subnet (of a VPC), not a VLAN.
pub fn subnet_is_overlay(e: &Value) -> bool {
    first_s(
        e,
        &[
            &["status", "resources", "subnet_type"],
            &["spec", "resources", "subnet_type"],
        ],
    )
    .eq_ignore_ascii_case("OVERLAY")
}

/// A v3 subnet.
pub fn subnet(e: &Value) -> SubnetInfo {
    let vlan = at(e, &["status", "resources", "vlan_id"])
        .as_u64()
        .or_else(|| at(e, &["spec", "resources", "vlan_id"]).as_u64());
    let cluster = first_s(
        e,
        &[
            &["status", "cluster_reference", "name"],
            &["spec", "cluster_reference", "name"],
        ],
    );
    SubnetInfo {
        name: first_s(e, &[&["status", "name"], &["spec", "name"]]),
        uuid: s(e, &["metadata", "uuid"]),
        vlan_id: u32::try_from(vlan.unwrap_or(0)).unwrap_or(0),
        cluster: (!cluster.is_empty()).then_some(cluster),
    }
}

/// A v3 image (size rounded up to whole GiB).
pub fn image(e: &Value) -> ImageInfo {
    let bytes = u(e, &["status", "resources", "size_bytes"]);
    ImageInfo {
        name: first_s(e, &[&["status", "name"], &["spec", "name"]]),
        uuid: s(e, &["metadata", "uuid"]),
        size_gib: u32::try_from(bytes.div_ceil(1 << 30)).unwrap_or(u32::MAX),
    }
}

/// Whether a v3 image can boot a VM: a disk image (not an ISO), complete
/// (not still uploading or failed). Fields an older Prism omits count as fine.
pub fn image_is_bootable_disk(e: &Value) -> bool {
    let ty = first_s(
        e,
        &[
            &["status", "resources", "image_type"],
            &["spec", "resources", "image_type"],
        ],
    );
    let state = s(e, &["status", "state"]);
    (ty.is_empty() || ty.eq_ignore_ascii_case("DISK_IMAGE"))
        && (state.is_empty() || state.eq_ignore_ascii_case("COMPLETE"))
}

/// Whether a v3 project says which clusters it may use. Older Prism Central
/// versions send no `cluster_reference_list` at all: such a project is not
/// restricted to any cluster (it is not "allowed on none").
pub fn project_lists_clusters(e: &Value) -> bool {
    ["spec", "status"]
        .iter()
        .any(|side| at(e, &[side, "resources", "cluster_reference_list"]).is_array())
}

/// What a PE v2 `protection_domains/{pd}/migrate` answer says: `Ok` when
/// the migration was accepted (an empty list), or the platform's reasons
/// when it refused (a non-empty list, or `metadata.count` above 0, with 200).
pub fn migrate_refusal(v: &Value) -> Option<String> {
    let entities: Vec<Value> = match v {
        Value::Array(items) => items.clone(),
        Value::Object(_) => arr(v, &["entities"]).to_vec(),
        _ => Vec::new(),
    };
    let count = u(v, &["metadata", "count"]);
    if entities.is_empty() && count == 0 {
        return None;
    }
    let reasons: Vec<String> = entities
        .iter()
        .take(10)
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => {
                let text = other.to_string();
                text.chars().take(300).collect()
            }
        })
        .collect();
    Some(if reasons.is_empty() {
        format!("{count} refusal(s) without details")
    } else {
        reasons.join("; ")
    })
}

/// A v3 project; references are resolved to names by `name_of` when the
/// reference carries no name.
pub fn project(e: &Value, name_of: &dyn Fn(&str) -> Option<String>) -> ProjectInfo {
    let refs = |key: &str| -> Vec<String> {
        let mut list = arr(e, &["spec", "resources", key]);
        if list.is_empty() {
            list = arr(e, &["status", "resources", key]);
        }
        list.iter()
            .filter_map(|r| {
                let n = s(r, &["name"]);
                if n.is_empty() {
                    name_of(&s(r, &["uuid"]))
                } else {
                    Some(n)
                }
            })
            .collect()
    };
    ProjectInfo {
        name: first_s(e, &[&["spec", "name"], &["status", "name"]]),
        uuid: s(e, &["metadata", "uuid"]),
        clusters: refs("cluster_reference_list"),
        subnets: refs("subnet_reference_list"),
    }
}

/// A v3 VM entity read from a JSON value (list answers decode as
/// [`VmEntity`] directly). A field of the wrong type is an error naming
/// it, never an empty VM.
pub fn vm(e: &Value) -> Result<VmInfo, serde_json::Error> {
    Ok(VmEntity::deserialize(e)?.into_info())
}

/// The fields of a v3 VM entity Butler reads (`metadata`, `spec`,
/// `status`), decoded without building a JSON tree; every other field is
/// skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VmEntity {
    metadata: VmMetadata,
    spec: VmPart,
    status: VmPart,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VmMetadata {
    uuid: Option<String>,
    categories: Option<BTreeMap<String, Value>>,
    project_reference: Option<NamedRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NamedRef {
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VmPart {
    name: Option<String>,
    state: Option<String>,
    cluster_reference: Option<NamedRef>,
    resources: Option<VmResources>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VmResources {
    power_state: Option<String>,
    num_sockets: Option<u64>,
    num_vcpus_per_socket: Option<u64>,
    memory_size_mib: Option<u64>,
    disk_list: Option<Vec<VmDisk>>,
    nic_list: Option<Vec<VmNic>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VmDisk {
    device_properties: Option<DeviceProperties>,
    disk_size_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeviceProperties {
    device_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VmNic {
    subnet_reference: Option<NamedRef>,
    ip_endpoint_list: Option<Vec<VmIp>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VmIp {
    ip: Option<String>,
}

/// Only a definite OFF is off: PAUSED, SUSPENDED, UNKNOWN or a missing
/// state must never let a VM pass as safely stopped (SPEC §8).
fn power_of(state: Option<String>) -> PowerState {
    match state.map(|p| p.to_ascii_uppercase()).as_deref() {
        Some("ON") => PowerState::On,
        Some("OFF") => PowerState::Off,
        _ => PowerState::Unknown,
    }
}

/// The fields of a v3 VM entity a migration refresh reads (name, cluster,
/// project, power), decoded alone: disks, NICs, addresses and categories
/// are skipped without being kept.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VmBriefEntity {
    metadata: BriefMetadata,
    spec: BriefPart,
    status: BriefPart,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BriefMetadata {
    project_reference: Option<NamedRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BriefPart {
    name: Option<String>,
    cluster_reference: Option<NamedRef>,
    resources: Option<BriefResources>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BriefResources {
    power_state: Option<String>,
}

/// A VM's name and cluster: status first, spec where status lacks one
/// (the full and the brief decoders read them alike).
fn name_and_cluster(
    status: (Option<String>, Option<NamedRef>),
    spec: (Option<String>, Option<NamedRef>),
) -> (String, String) {
    let nonempty = |s: Option<String>| s.filter(|x| !x.is_empty());
    let cluster_of = |r: Option<NamedRef>| nonempty(r.and_then(|r| r.name));
    let name = nonempty(status.0).or_else(|| nonempty(spec.0));
    let cluster = cluster_of(status.1).or_else(|| cluster_of(spec.1));
    (name.unwrap_or_default(), cluster.unwrap_or_default())
}

/// The project a VM's metadata names, if any.
fn project_name(reference: Option<NamedRef>) -> Option<String> {
    reference.and_then(|r| r.name).filter(|x| !x.is_empty())
}

impl VmBriefEntity {
    /// The brief, read as [`VmEntity::into_info`] reads the same fields.
    pub fn into_brief(self) -> VmBrief {
        let (name, cluster, project, power) = self.into_parts();
        VmBrief {
            name: name.into(),
            cluster: cluster.into(),
            project: project.map(Into::into),
            power,
        }
    }

    /// Name, cluster, project and power state.
    fn into_parts(self) -> (String, String, Option<String>, PowerState) {
        let VmBriefEntity {
            metadata,
            spec,
            status,
        } = self;
        let power = |p: &BriefPart| p.resources.as_ref().and_then(|r| r.power_state.clone());
        let power = power_of(power(&status).or_else(|| power(&spec)));
        let (name, cluster) = name_and_cluster(
            (status.name, status.cluster_reference),
            (spec.name, spec.cluster_reference),
        );
        (
            name,
            cluster,
            project_name(metadata.project_reference),
            power,
        )
    }
}

/// Reads the briefs of one cluster's VM list: every brief shares one string
/// for the cluster and one per project, not a copy each.
#[derive(Debug)]
pub struct ClusterBriefs {
    cluster: Arc<str>,
    projects: SharedStrings,
}

impl ClusterBriefs {
    /// A reader for the list of `cluster`.
    pub fn on(cluster: &str) -> ClusterBriefs {
        ClusterBriefs {
            cluster: Arc::from(cluster),
            projects: SharedStrings::default(),
        }
    }

    /// The entity's brief, or `None` when it is on another cluster (a
    /// Prism Central that ignores the list's filter).
    pub fn read(&mut self, e: VmBriefEntity) -> Option<VmBrief> {
        let (name, cluster, project, power) = e.into_parts();
        if *cluster != *self.cluster {
            return None;
        }
        let project = project.map(|p| self.projects.share(&p));
        Some(VmBrief {
            name: name.into(),
            cluster: self.cluster.clone(),
            project,
            power,
        })
    }
}

/// A v3 VM entity's brief read from a JSON value.
pub fn vm_brief(e: &Value) -> Result<VmBrief, serde_json::Error> {
    Ok(VmBriefEntity::deserialize(e)?.into_brief())
}

impl VmEntity {
    /// The VM as Butler sees it: status first, spec where status lacks a
    /// field.
    pub fn into_info(self) -> VmInfo {
        let VmEntity {
            metadata,
            spec,
            status,
        } = self;
        let (name, cluster) = name_and_cluster(
            (status.name, status.cluster_reference),
            (spec.name, spec.cluster_reference),
        );
        let (sr, pr) = (
            status.resources.unwrap_or_default(),
            spec.resources.unwrap_or_default(),
        );
        let power = power_of(sr.power_state.or(pr.power_state));
        let state = match status
            .state
            .unwrap_or_default()
            .to_ascii_uppercase()
            .as_str()
        {
            "COMPLETE" => VmState::Ready,
            "ERROR" => VmState::Error,
            _ => VmState::Pending,
        };
        let disks = sr
            .disk_list
            .or(pr.disk_list)
            .unwrap_or_default()
            .into_iter()
            .filter(|d| {
                matches!(
                    d.device_properties
                        .as_ref()
                        .and_then(|p| p.device_type.as_deref())
                        .unwrap_or_default(),
                    "" | "DISK"
                )
            })
            .map(|d| u32::try_from(d.disk_size_mib.unwrap_or(0).div_ceil(1024)).unwrap_or(u32::MAX))
            .collect();
        let nic_list = sr.nic_list.or(pr.nic_list).unwrap_or_default();
        // Every NIC's addresses (learned or assigned), in NIC order.
        let ip_addresses = nic_list
            .iter()
            .flat_map(|n| n.ip_endpoint_list.iter().flatten())
            .filter_map(|ip| ip.ip.clone())
            .filter(|ip| !ip.is_empty())
            .collect();
        let nics = nic_list
            .into_iter()
            .map(|n| n.subnet_reference.and_then(|r| r.name).unwrap_or_default())
            .collect();
        let categories = metadata
            .categories
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
            .collect();
        let sockets = sr.num_sockets.or(pr.num_sockets).unwrap_or(1);
        let cores = sr
            .num_vcpus_per_socket
            .or(pr.num_vcpus_per_socket)
            .unwrap_or(1);
        let memory = sr.memory_size_mib.or(pr.memory_size_mib).unwrap_or(0);
        VmInfo {
            uuid: metadata.uuid.unwrap_or_default(),
            name,
            cluster,
            project: project_name(metadata.project_reference),
            power,
            state,
            vcpus: u32::try_from(sockets.saturating_mul(cores)).unwrap_or(u32::MAX),
            ram_gib: u32::try_from(memory.div_ceil(1024)).unwrap_or(u32::MAX),
            disks_gib: disks,
            nics,
            categories,
            ip_addresses,
        }
    }
}

/// `task_uuid` of a create/update response: a string in POST/PUT replies,
/// a list in GET replies.
pub fn task_uuid(v: &Value) -> Option<String> {
    match at(v, &["status", "execution_context", "task_uuid"]) {
        Value::String(s) => Some(s.clone()),
        Value::Array(l) => l.iter().find_map(|x| x.as_str().map(str::to_string)),
        _ => None,
    }
}

/// A v3 task.
pub fn task(v: &Value) -> TaskStatus {
    let detail = [s(v, &["error_detail"]), s(v, &["progress_message"])]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let state = match s(v, &["status"]).to_ascii_uppercase().as_str() {
        "QUEUED" => TaskState::Queued,
        "RUNNING" | "SUSPENDED" => TaskState::Running,
        "SUCCEEDED" => TaskState::Succeeded,
        "ABORTED" => TaskState::Aborted,
        "FAILED" => TaskState::Failed(if detail.is_empty() {
            "task failed".into()
        } else {
            detail
        }),
        other => TaskState::Failed(format!("unknown task status {other:?}")),
    };
    // The VM's reference, wherever it stands in the list (a task may name
    // its cluster first); a reference without a kind only where no VM's is.
    let refs = arr(v, &["entity_reference_list"]);
    let uuid_of = |kind: Option<&str>| {
        refs.iter()
            .filter(|r| r.get("kind").and_then(Value::as_str) == kind)
            .find_map(|r| r.get("uuid").and_then(Value::as_str).map(str::to_string))
    };
    let entity = uuid_of(Some("vm")).or_else(|| uuid_of(None));
    TaskStatus {
        state,
        percent: u8::try_from(u(v, &["percentage_complete"]).min(100)).unwrap_or(100),
        entity_uuid: entity,
    }
}

fn micros(t: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_micros(i64::try_from(t).ok()?).single()
}

/// Minutes between snapshots of a v2 cron schedule.
pub fn schedule_minutes(kind: &str, every_nth: u64) -> u32 {
    let unit: u64 = match kind.to_ascii_uppercase().as_str() {
        "MINUTELY" => 1,
        "HOURLY" => 60,
        "DAILY" => 1440,
        "WEEKLY" => 10_080,
        "MONTHLY" => 43_200,
        _ => 60,
    };
    u32::try_from(unit.saturating_mul(every_nth.max(1))).unwrap_or(u32::MAX)
}

/// A PE v2 protection domain read from a JSON value (list answers decode
/// as [`PdEntity`] directly). A field of the wrong type is an error naming
/// it, never an empty domain.
pub fn protection_domain(v: &Value, cluster: &str) -> Result<ProtectionGroup, serde_json::Error> {
    Ok(PdEntity::deserialize(v)?.into_group(cluster))
}

/// The fields of a PE v2 protection domain Butler reads, decoded without a
/// JSON tree for its member list (a cluster's list can hold 100,000 VMs).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PdEntity {
    name: Option<String>,
    active: Option<bool>,
    vms: Option<Vec<PdVm>>,
    remote_site_names: Option<Vec<Value>>,
    cron_schedules: Option<Vec<Value>>,
    replication_links: Option<Vec<PdLink>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PdVm {
    vm_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PdLink {
    last_replication_start_time_in_usecs: Option<u64>,
}

impl PdEntity {
    /// The protection group as Butler sees it, on `cluster`.
    pub fn into_group(self, cluster: &str) -> ProtectionGroup {
        let schedules = self
            .cron_schedules
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let remote = at(c, &["retention_policy", "remote_max_snapshots"]).as_object();
                let site = remote.and_then(|m| m.keys().next().cloned());
                Schedule {
                    kind: if site.is_some() {
                        ScheduleKind::Remote
                    } else {
                        ScheduleKind::Local
                    },
                    every_minutes: schedule_minutes(&s(c, &["type"]), u(c, &["every_nth"])),
                    retention: u32::try_from(match (&site, remote) {
                        (Some(k), Some(m)) => m.get(k).and_then(Value::as_u64).unwrap_or(0),
                        _ => u(c, &["retention_policy", "local_max_snapshots"]),
                    })
                    .unwrap_or(u32::MAX),
                    remote_site: site,
                }
            })
            .collect();
        let last_replica = self
            .replication_links
            .unwrap_or_default()
            .iter()
            .filter_map(|l| l.last_replication_start_time_in_usecs)
            .max()
            .and_then(micros);
        ProtectionGroup {
            name: self.name.unwrap_or_default(),
            cluster: cluster.to_string(),
            active: self.active.unwrap_or(false),
            vms: self
                .vms
                .unwrap_or_default()
                .into_iter()
                .filter_map(|m| m.vm_name)
                .filter(|n| !n.is_empty())
                .map(Arc::from)
                .collect(),
            schedules,
            remote_sites: self
                .remote_site_names
                .unwrap_or_default()
                .into_iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            last_replica,
        }
    }
}

#[cfg(test)]
mod tests {

    /// A task's VM is its VM's reference, not the first reference of any
    /// kind (issue 35, v3 defect 5).
    #[test]
    fn a_tasks_entity_is_its_vms_reference() {
        use serde_json::json;
        let t = super::task(&json!({"status": "SUCCEEDED", "entity_reference_list": [
            {"kind": "cluster", "uuid": "c-1"}, {"kind": "vm", "uuid": "v-1"}]}));
        assert_eq!(t.entity_uuid.as_deref(), Some("v-1"));
        let t = super::task(&json!({"status": "SUCCEEDED", "entity_reference_list": [
            {"kind": "cluster", "uuid": "c-1"}]}));
        assert_eq!(t.entity_uuid, None, "no VM named");
        let t = super::task(
            &json!({"status": "SUCCEEDED", "entity_reference_list": [{"uuid": "x-1"}]}),
        );
        assert_eq!(
            t.entity_uuid.as_deref(),
            Some("x-1"),
            "a reference without a kind"
        );
    }

    #[test]
    fn briefs_of_one_cluster_share_its_and_their_projects_strings() {
        use serde_json::json;
        let entity = |name: &str, cluster: &str, project: &str| {
            VmBriefEntity::deserialize(json!({
                "metadata": {"project_reference": {"kind": "project", "name": project}},
                "status": {"name": name, "cluster_reference": {"kind": "cluster", "name": cluster},
                           "resources": {"power_state": "ON"}},
            }))
            .expect("entity")
        };
        let mut briefs = ClusterBriefs::on("c1");
        let a = briefs.read(entity("a", "c1", "p")).expect("on c1");
        let b = briefs.read(entity("b", "c1", "p")).expect("on c1");
        assert_eq!(briefs.read(entity("x", "c2", "p")), None, "another cluster");
        assert_eq!(
            (&*a.name, &*a.cluster, a.project.as_deref()),
            ("a", "c1", Some("p"))
        );
        assert_eq!(a.power, PowerState::On);
        assert!(Arc::ptr_eq(&a.cluster, &b.cluster));
        assert!(Arc::ptr_eq(
            a.project.as_ref().expect("project"),
            b.project.as_ref().expect("project")
        ));
        assert_eq!(
            a,
            entity("a", "c1", "p").into_brief(),
            "reads as the lone decoder"
        );
    }

    #[test]
    fn a_migrate_answer_with_entries_is_a_refusal() {
        use serde_json::json;
        assert_eq!(migrate_refusal(&json!([])), None);
        assert_eq!(
            migrate_refusal(&json!({"metadata": {"count": 0}, "entities": []})),
            None
        );
        assert_eq!(migrate_refusal(&Value::Null), None);
        assert_eq!(
            migrate_refusal(&json!(["NGT disabled"])).as_deref(),
            Some("NGT disabled")
        );
        assert!(migrate_refusal(
            &json!({"metadata": {"count": 1}, "entities": [{"reason": "delta disks"}]})
        )
        .is_some_and(|r| r.contains("delta disks")));
        assert!(migrate_refusal(&json!({"metadata": {"count": 2}})).is_some());
    }

    #[test]
    fn power_states_other_than_on_and_off_are_unknown() {
        use serde_json::json;
        for (given, want) in [
            (json!("ON"), PowerState::On),
            (json!("off"), PowerState::Off),
            (json!("PAUSED"), PowerState::Unknown),
            (json!("SUSPENDED"), PowerState::Unknown),
            (json!("UNKNOWN"), PowerState::Unknown),
            (Value::Null, PowerState::Unknown),
        ] {
            let v = vm(&json!({"status": {"resources": {"power_state": given.clone()}}})).unwrap();
            assert_eq!(v.power, want, "{given}");
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error_naming_it_not_an_empty_entity() {
        use serde_json::json;
        let e = vm(
            &json!({"metadata": {"uuid": "u1"}, "status": {"resources": {"num_sockets": "two"}}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e =
            protection_domain(&json!({"name": "PD-1", "vms": {"vm_name": "a"}}), "c1").unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn task_uuid_comes_as_string_or_list() {
        let post = serde_json::json!({"status": {"execution_context": {"task_uuid": "t-1"}}});
        let get = serde_json::json!({"status": {"execution_context": {"task_uuid": ["t-2"]}}});
        assert_eq!(task_uuid(&post).as_deref(), Some("t-1"));
        assert_eq!(task_uuid(&get).as_deref(), Some("t-2"));
        assert_eq!(task_uuid(&serde_json::json!({})), None);
    }

    #[test]
    fn every_terminal_task_status_is_handled() {
        let t = |st: &str| {
            task(&serde_json::json!({"status": st, "error_detail": "INTERNAL_ERROR: ErrorCode: 9"}))
                .state
        };
        assert_eq!(t("SUCCEEDED"), TaskState::Succeeded);
        assert_eq!(t("ABORTED"), TaskState::Aborted);
        assert_eq!(
            t("FAILED"),
            TaskState::Failed("INTERNAL_ERROR: ErrorCode: 9".into())
        );
        assert_eq!(t("QUEUED"), TaskState::Queued);
        assert!(matches!(t("WEIRD"), TaskState::Failed(_)));
    }

    #[test]
    fn pe_power_state_and_replication_links() {
        let pd = serde_json::json!({"name": "PD-1", "active": true, "vms": [{"vm_name": "a"}],
            "remote_site_names": ["dr"], "cron_schedules": [{"type": "HOURLY", "every_nth": 2,
            "retention_policy": {"local_max_snapshots": 4, "remote_max_snapshots": {"dr": 6}}}],
            "replication_links": [{"last_replication_start_time_in_usecs": 1_700_000_000_000_000u64},
                                  {"remote_site_name": "dr"}]});
        let g = protection_domain(&pd, "c1").unwrap();
        assert_eq!(
            g.schedules[0],
            Schedule {
                kind: ScheduleKind::Remote,
                every_minutes: 120,
                retention: 6,
                remote_site: Some("dr".into())
            }
        );
        assert!(
            g.last_replica.is_some(),
            "a link without a timestamp does not hide the other"
        );
        let on = vm(&serde_json::json!({"status": {"resources": {"power_state": "on"}}})).unwrap();
        assert_eq!(on.power, PowerState::On);
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            "[a-zA-Z_ ]{0,8}".prop_map(serde_json::Value::from),
            prop_oneof![
                Just("ON"),
                Just("on"),
                Just("FAILED"),
                Just("PRISM_CENTRAL"),
                Just("DISK")
            ]
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("status".to_string()),
                        Just("spec".to_string()),
                        Just("resources".to_string()),
                        Just("metadata".to_string()),
                        Just("entities".to_string()),
                        Just("disk_list".to_string()),
                        Just("cron_schedules".to_string()),
                        Just("retention_policy".to_string()),
                        Just("remote_max_snapshots".to_string()),
                        Just("task_uuid".to_string()),
                        Just("name".to_string())
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bodies_never_panics(v in arb_json(), text in ".{0,64}") {
            let _ = vm(&v);
            let _ = task(&v);
            let _ = task_uuid(&v);
            let _ = protection_domain(&v, "c");
            let _ = project(&v, &|_| None);
            let _ = (cluster(&v), subnet(&v), image(&v), is_prism_central(&v));
            let _ = crate::error::NutanixError::from_response(500, &text);
            let _ = crate::error::NutanixError::from_response(422, &v.to_string());
        }
    }
}

//! Prism Central v4 reads: VMs (`vmm`), clusters and storage containers
//! (`clustermgmt`), subnets (`networking`) and categories (`prism`).
//!
//! Every list pages as v4 pages: `$page` counts pages from 0, `$limit` is
//! at most 100, and `metadata.totalAvailableResults` is read on every page,
//! because Prism's count and data are only eventually consistent: the last
//! total seen says when to stop, and an empty page ends the list whatever
//! the total said. Entities that moved between pages while they were read
//! are kept once.
//!
//! v4 refers to clusters, subnets, projects and categories by `extId`;
//! Butler's records name them, so a VM read resolves those ids through the
//! lists they come from (projects through v3's, which v4.0 has no API for).

use crate::backend::NutanixBackend;
use crate::url_safe;
use butler_core::backend::{
    BackendError, ClusterInfo, ErrorKind, PowerState, SharedStrings, StorageContainerInfo,
    SubnetInfo, VmBrief, VmInfo, VmState,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Clusters (`clustermgmt`, v4.0).
const CLUSTERS: &str = "/clustermgmt/v4.0/config/clusters";
/// Storage containers (`clustermgmt`, v4.0).
const CONTAINERS: &str = "/clustermgmt/v4.0/config/storage-containers";
/// Subnets (`networking`, v4.0).
const SUBNETS: &str = "/networking/v4.0/config/subnets";
/// The most entities a v4 page holds (above is a validation error).
const MOST_PER_PAGE: u32 = 100;

/// A reference by id (`{"extId": …}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Ref {
    ext_id: String,
}

/// A VM's id and power ([`NutanixBackend::v4_vm_places`]).
pub(crate) struct VmPlace {
    pub(crate) ext_id: String,
    pub(crate) power: PowerState,
    /// Each NIC's id and its subnet's id.
    pub(crate) nics: Vec<(String, String)>,
}

/// The fields of a `vmm.v4.ahv.config.Vm` Butler reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Vm {
    ext_id: String,
    name: String,
    cluster: Option<Ref>,
    project: Option<Ref>,
    power_state: String,
    num_sockets: u32,
    num_cores_per_socket: u32,
    memory_size_bytes: u64,
    disks: Vec<Disk>,
    nics: Vec<Nic>,
    categories: Vec<Ref>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Disk {
    backing_info: Option<Backing>,
}

/// A disk's backing: a `VmDisk` has a size; a volume group has none and
/// is not one of the VM's own disks.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Backing {
    #[serde(rename = "$objectType")]
    object_type: String,
    disk_size_bytes: Option<u64>,
}

/// A NIC: v4.1 moved its network to `nicNetworkInfo` and keeps
/// `networkInfo` for older clients; either is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Nic {
    ext_id: String,
    network_info: Option<NicNetwork>,
    nic_network_info: Option<NicNetwork>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct NicNetwork {
    subnet: Option<Ref>,
    ipv4_config: Option<Ipv4Config>,
    ipv4_info: Option<Ipv4Info>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Ipv4Config {
    ip_address: Option<Address>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Ipv4Info {
    learned_ip_addresses: Vec<Address>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Address {
    value: String,
}

impl Nic {
    fn network(&self) -> Option<&NicNetwork> {
        self.nic_network_info
            .as_ref()
            .or(self.network_info.as_ref())
    }
}

impl Vm {
    /// Each NIC's id and its subnet's id, in order.
    fn nic_subnets(&self) -> Vec<(String, String)> {
        self.nics
            .iter()
            .map(|n| {
                let subnet = n.network().and_then(|x| x.subnet.as_ref());
                (
                    n.ext_id.clone(),
                    subnet.map(|s| s.ext_id.clone()).unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// Each NIC's id and its subnet's id, in order, of a VM as v4 answers it
/// (none when it cannot be read).
pub(crate) fn nic_subnets(vm: &Value) -> Vec<(String, String)> {
    serde_json::from_value::<Vm>(vm.clone())
        .map(|v| v.nic_subnets())
        .unwrap_or_default()
}

fn power_of(state: &str) -> PowerState {
    match state {
        "ON" => PowerState::On,
        "OFF" => PowerState::Off,
        // PAUSED, UNDETERMINED: neither, as far as Butler may act on it.
        _ => PowerState::Unknown,
    }
}

/// Names of what v4 refers to by id, for turning a VM into Butler's terms.
#[derive(Debug, Default)]
struct Names {
    clusters: HashMap<String, String>,
    subnets: HashMap<String, String>,
    projects: HashMap<String, String>,
    categories: HashMap<String, String>,
}

impl Names {
    fn of(map: &HashMap<String, String>, r: &Option<Ref>) -> Option<String> {
        r.as_ref().and_then(|r| map.get(&r.ext_id).cloned())
    }

    /// The VM as Butler describes it. A VM is listed by v4 once it exists,
    /// so it is ready; an id no list names is kept as the id, so nothing
    /// is silently dropped.
    fn vm(&self, vm: Vm) -> VmInfo {
        let cluster = Self::of(&self.clusters, &vm.cluster)
            .or(vm.cluster.as_ref().map(|c| c.ext_id.clone()))
            .unwrap_or_default();
        let ip_addresses = vm
            .nics
            .iter()
            .filter_map(Nic::network)
            .flat_map(|n| {
                let assigned = n.ipv4_config.iter().filter_map(|c| c.ip_address.as_ref());
                let learned = n.ipv4_info.iter().flat_map(|i| &i.learned_ip_addresses);
                assigned.chain(learned).map(|a| a.value.clone())
            })
            .filter(|ip| !ip.is_empty())
            .fold(Vec::new(), |mut all, ip| {
                if !all.contains(&ip) {
                    all.push(ip);
                }
                all
            });
        VmInfo {
            uuid: vm.ext_id,
            name: vm.name,
            cluster,
            project: Self::of(&self.projects, &vm.project),
            power: power_of(&vm.power_state),
            state: VmState::Ready,
            vcpus: vm.num_sockets.max(1) * vm.num_cores_per_socket.max(1),
            ram_gib: u32::try_from(vm.memory_size_bytes.div_ceil(1 << 30)).unwrap_or(u32::MAX),
            disks_gib: vm
                .disks
                .iter()
                .filter_map(|d| d.backing_info.as_ref())
                .filter(|b| matches!(b.object_type.as_str(), "" | "vmm.v4.ahv.config.VmDisk"))
                .filter_map(|b| b.disk_size_bytes)
                .map(|b| u32::try_from(b.div_ceil(1 << 30)).unwrap_or(u32::MAX))
                .collect(),
            nics: vm
                .nics
                .iter()
                .filter_map(|n| n.network()?.subnet.as_ref())
                .map(|s| {
                    self.subnets
                        .get(&s.ext_id)
                        .cloned()
                        .unwrap_or_else(|| s.ext_id.clone())
                })
                .collect(),
            categories: vm
                .categories
                .iter()
                .filter_map(|c| self.categories.get(&c.ext_id).cloned())
                .collect(),
            ip_addresses,
        }
    }
}

/// The entities of one v4 list answer, and the total it claimed.
fn page_of(answer: &Value) -> (Vec<Value>, Option<u64>) {
    let data = answer["data"].as_array().cloned().unwrap_or_default();
    let total = answer
        .pointer("/metadata/totalAvailableResults")
        .and_then(Value::as_u64);
    (data, total)
}

/// Whether a `clustermgmt.v4.config.Cluster` is Prism Central itself
/// (listed beside the clusters it manages).
fn is_prism_central(c: &Value) -> bool {
    c.pointer("/config/clusterFunction")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == "PRISM_CENTRAL"))
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

impl NutanixBackend {
    /// Every entity of the v4 list at `path` (narrowed by an OData
    /// `filter`): the first page, then the pages its total promises,
    /// `list_concurrency` at a time, then page by page while the last
    /// total seen says more and no page came back empty. Bounded by
    /// `max_list_entities`.
    pub(crate) async fn v4_list(
        &self,
        path: &str,
        filter: Option<&str>,
        op: &'static str,
    ) -> Result<Vec<Value>, BackendError> {
        use futures::{StreamExt, TryStreamExt};
        let limit = self.page.clamp(1, MOST_PER_PAGE);
        let url = |page: u64| {
            let mut url = format!("{path}?$page={page}&$limit={limit}");
            if let Some(f) = filter {
                url.push_str("&$filter=");
                url.push_str(&url_safe::query_value(f));
            }
            url
        };
        let read = |page: u64| {
            let url = url(page);
            async move {
                self.v4
                    .call_v4(Method::GET, &url, None, &[], true)
                    .await
                    .map(|(answer, _)| page_of(&answer))
                    .map_err(|e| e.into_backend(op))
            }
        };
        let max = self.max_entities as u64;
        let too_many = |n: u64| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                format!(
                    "Prism lists {n} entities or more at {path}, above max_list_entities = {max}"
                ),
            )
        };
        let (mut out, mut total) = read(0).await?;
        if let Some(t) = total.filter(|t| *t > max) {
            return Err(too_many(t));
        }
        let mut last_was_empty = out.is_empty();
        let mut next = 1u64;
        let promised = total.unwrap_or(0).div_ceil(u64::from(limit));
        if !last_was_empty && promised > 1 {
            let pages: Vec<(Vec<Value>, Option<u64>)> = futures::stream::iter(1..promised)
                .map(read)
                .buffered(self.list_concurrency)
                .try_collect()
                .await?;
            next = promised;
            for (data, page_total) in pages {
                last_was_empty = data.is_empty();
                total = page_total.or(total);
                out.extend(data);
            }
        }
        // Read on while the last total says more (without any total, until
        // an empty page).
        while !last_was_empty && total.is_none_or(|t| (out.len() as u64) < t) {
            if out.len() as u64 > max {
                return Err(too_many(out.len() as u64));
            }
            let (data, page_total) = read(next).await?;
            next += 1;
            last_was_empty = data.is_empty();
            total = page_total.or(total);
            out.extend(data);
        }
        // An entity that moved back a page between two reads was read twice.
        let mut seen = HashSet::new();
        out.retain(|e| {
            e["extId"]
                .as_str()
                .is_none_or(|id| seen.insert(id.to_string()))
        });
        Ok(out)
    }

    /// Clusters from `clustermgmt`, without Prism Central itself.
    pub(crate) async fn v4_clusters(&self) -> Result<Vec<ClusterInfo>, BackendError> {
        Ok(self
            .v4_list(CLUSTERS, None, "list_clusters")
            .await?
            .iter()
            .filter(|c| !is_prism_central(c))
            .map(|c| ClusterInfo {
                name: text(c, "name"),
                uuid: text(c, "extId"),
            })
            .filter(|c| !c.name.is_empty() && !c.uuid.is_empty())
            .collect())
    }

    /// Cluster names by id, read only when `needed`.
    async fn cluster_names(&self, needed: bool) -> Result<HashMap<String, String>, BackendError> {
        if !needed {
            return Ok(HashMap::new());
        }
        Ok(self
            .v4_clusters()
            .await?
            .into_iter()
            .map(|c| (c.uuid, c.name))
            .collect())
    }

    /// Every cluster's storage containers, from Prism Central (no Prism
    /// Element needed), without those marked for removal.
    pub(crate) async fn v4_storage_containers(
        &self,
    ) -> Result<Vec<StorageContainerInfo>, BackendError> {
        let op = "list_storage_containers";
        let all = self.v4_list(CONTAINERS, None, op).await?;
        let unnamed = all.iter().any(|c| text(c, "clusterName").is_empty());
        let clusters = self.cluster_names(unnamed).await?;
        Ok(all
            .iter()
            .filter(|c| c["isMarkedForRemoval"] != true)
            .map(|c| {
                let id = text(c, "containerExtId");
                let cluster = match text(c, "clusterName") {
                    n if !n.is_empty() => n,
                    _ => {
                        let id = text(c, "clusterExtId");
                        clusters.get(&id).cloned().unwrap_or(id)
                    }
                };
                StorageContainerInfo {
                    name: text(c, "name"),
                    uuid: if id.is_empty() { text(c, "extId") } else { id },
                    cluster,
                }
            })
            .filter(|c| !c.name.is_empty() && !c.uuid.is_empty())
            .collect())
    }

    /// Subnets from `networking`: a VLAN subnet belongs to its cluster (by
    /// `clusterReference`); an OVERLAY subnet belongs to a VPC, which v4
    /// creates place by the subnet alone, so it is offered to every
    /// cluster (`cluster` `None`, VLAN 0).
    pub(crate) async fn v4_subnets(&self) -> Result<Vec<SubnetInfo>, BackendError> {
        let all = self.v4_list(SUBNETS, None, "list_subnets").await?;
        let needs_names = all.iter().any(|s| {
            text(s, "subnetType") != "OVERLAY"
                && text(s, "clusterName").is_empty()
                && !text(s, "clusterReference").is_empty()
        });
        let clusters = self.cluster_names(needs_names).await?;
        Ok(all
            .iter()
            .map(|s| {
                let overlay = text(s, "subnetType") == "OVERLAY";
                let cluster = match (overlay, text(s, "clusterName")) {
                    (true, _) => None,
                    (false, n) if !n.is_empty() => Some(n),
                    (false, _) => Some(text(s, "clusterReference"))
                        .filter(|id| !id.is_empty())
                        // Unknown id: kept, so the subnet fits no cluster
                        // rather than every cluster.
                        .map(|id| clusters.get(&id).cloned().unwrap_or(id)),
                };
                SubnetInfo {
                    name: text(s, "name"),
                    uuid: text(s, "extId"),
                    vlan_id: if overlay {
                        0
                    } else {
                        s["networkId"]
                            .as_u64()
                            .and_then(|v| u32::try_from(v).ok())
                            .unwrap_or(0)
                    },
                    cluster,
                }
            })
            .filter(|s| !s.name.is_empty() && !s.uuid.is_empty())
            .collect())
    }

    /// Categories as `(extId, key, value)`, all or those of one key.
    async fn v4_categories(
        &self,
        key: Option<&str>,
        op: &'static str,
    ) -> Result<Vec<(String, String, String)>, BackendError> {
        let filter = key.map(|k| format!("key eq {}", url_safe::odata_string(k)));
        Ok(self
            .v4_list(crate::v4::CATEGORIES, filter.as_deref(), op)
            .await?
            .iter()
            .map(|c| (text(c, "extId"), text(c, "key"), text(c, "value")))
            .filter(|(id, k, v)| !id.is_empty() && !k.is_empty() && !v.is_empty())
            .collect())
    }

    /// The ids of category `key`'s values.
    pub(crate) async fn v4_category_ids(
        &self,
        key: &str,
        op: &'static str,
    ) -> Result<Vec<String>, BackendError> {
        Ok(self
            .v4_categories(Some(key), op)
            .await?
            .into_iter()
            .filter(|(_, k, _)| k == key)
            .map(|(id, _, _)| id)
            .collect())
    }

    /// The values of category `key` (none when the key does not exist).
    pub(crate) async fn v4_category_values(&self, key: &str) -> Result<Vec<String>, BackendError> {
        Ok(self
            .v4_categories(Some(key), "category_values")
            .await?
            .into_iter()
            .filter(|(_, k, _)| k == key)
            .map(|(_, _, v)| v)
            .collect())
    }

    /// Project names by id, from v3 (v4.0 has no project API); read only
    /// when some VM names a project.
    async fn project_names(
        &self,
        vms: &[Vm],
        op: &'static str,
    ) -> Result<HashMap<String, String>, BackendError> {
        if vms.iter().all(|v| v.project.is_none()) {
            return Ok(HashMap::new());
        }
        Ok(self
            .list_all("project", None)
            .await
            .map_err(|e| e.into_backend(op))?
            .iter()
            .map(|p| {
                let name = crate::decode::first_s(p, &[&["status", "name"], &["spec", "name"]]);
                (crate::decode::s(p, &["metadata", "uuid"]), name)
            })
            .collect())
    }

    /// The VMs a filter selects, decoded.
    async fn v4_vms(
        &self,
        filter: Option<&str>,
        op: &'static str,
    ) -> Result<Vec<Vm>, BackendError> {
        self.v4_list(crate::v4::VMS, filter, op)
            .await?
            .into_iter()
            .map(|v| {
                serde_json::from_value::<Vm>(v).map_err(|e| {
                    BackendError::new(
                        ErrorKind::Permanent,
                        op,
                        format!("Prism answered a VM Butler cannot read: {e}"),
                    )
                })
            })
            .collect()
    }

    /// The VMs a filter selects, in Butler's terms.
    async fn v4_vm_infos(
        &self,
        filter: &str,
        op: &'static str,
    ) -> Result<Vec<VmInfo>, BackendError> {
        let vms = self.v4_vms(Some(filter), op).await?;
        if vms.is_empty() {
            return Ok(Vec::new());
        }
        let names = Names {
            clusters: self.cluster_names(true).await?,
            subnets: if vms.iter().all(|v| v.nics.is_empty()) {
                HashMap::new()
            } else {
                self.v4_subnets()
                    .await?
                    .into_iter()
                    .map(|s| (s.uuid, s.name))
                    .collect()
            },
            projects: self.project_names(&vms, op).await?,
            categories: if vms.iter().all(|v| v.categories.is_empty()) {
                HashMap::new()
            } else {
                self.v4_categories(None, op)
                    .await?
                    .into_iter()
                    .map(|(id, k, v)| (id, format!("{k}:{v}")))
                    .collect()
            },
        };
        Ok(vms.into_iter().map(|v| names.vm(v)).collect())
    }

    /// Every VM's id and power, by name (the first VM of a
    /// name, as the name look-up answers), in one paged list.
    pub(crate) async fn v4_vm_places(
        &self,
        op: &'static str,
    ) -> Result<HashMap<String, VmPlace>, BackendError> {
        let mut out = HashMap::new();
        for v in self.v4_vms(None, op).await? {
            let nics = v.nic_subnets();
            out.entry(v.name).or_insert(VmPlace {
                ext_id: v.ext_id,
                power: power_of(&v.power_state),
                nics,
            });
        }
        Ok(out)
    }

    /// The id of cluster `name`, if Prism has it.
    pub(crate) async fn v4_cluster_id(&self, name: &str) -> Result<Option<String>, BackendError> {
        Ok(self
            .v4_clusters()
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.uuid))
    }

    /// The VMs on `cluster` (none when there is no such cluster); a VM on
    /// another cluster (a Prism that ignored the filter) is left out.
    pub(crate) async fn v4_list_vms(&self, cluster: &str) -> Result<Vec<VmInfo>, BackendError> {
        let Some(id) = self.v4_cluster_id(cluster).await? else {
            return Ok(Vec::new());
        };
        let filter = format!("cluster/extId eq {}", url_safe::odata_string(&id));
        let mut vms = self.v4_vm_infos(&filter, "list_vms").await?;
        vms.retain(|v| v.cluster == cluster);
        Ok(vms)
    }

    /// What a migration refresh reads of the VMs on `cluster`: no subnet
    /// or category look-up, one shared string per project.
    pub(crate) async fn v4_list_vm_briefs(
        &self,
        cluster: &str,
    ) -> Result<Vec<VmBrief>, BackendError> {
        let op = "list_vm_briefs";
        let Some(id) = self.v4_cluster_id(cluster).await? else {
            return Ok(Vec::new());
        };
        let filter = format!("cluster/extId eq {}", url_safe::odata_string(&id));
        let vms = self.v4_vms(Some(&filter), op).await?;
        let projects = self.project_names(&vms, op).await?;
        let on: Arc<str> = Arc::from(cluster);
        let mut shared = SharedStrings::default();
        Ok(vms
            .into_iter()
            .filter(|v| v.cluster.as_ref().is_some_and(|c| c.ext_id == id))
            .map(|v| VmBrief {
                project: Names::of(&projects, &v.project).map(|p| shared.share(&p)),
                name: v.name.into(),
                cluster: on.clone(),
                power: power_of(&v.power_state),
            })
            .collect())
    }

    /// The name of the cluster VM `uuid` is on.
    pub(crate) async fn v4_cluster_of(
        &self,
        uuid: &str,
        op: &'static str,
    ) -> Result<String, BackendError> {
        let (vm, _) = self.v4_vm(uuid, op).await?;
        let id = vm["cluster"]["extId"].as_str().unwrap_or_default();
        let names = self.cluster_names(true).await?;
        Ok(names.get(id).cloned().unwrap_or_else(|| id.to_string()))
    }

    /// The VM named `name`, if one exists.
    pub(crate) async fn v4_find_vm(&self, name: &str) -> Result<Option<VmInfo>, BackendError> {
        let filter = format!("name eq {}", url_safe::odata_string(name));
        Ok(self
            .v4_vm_infos(&filter, "find_vm")
            .await?
            .into_iter()
            .find(|v| v.name == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_v4_vm_reads_as_butler_names_it() {
        let vm: Vm = serde_json::from_value(json!({
            "$objectType": "vmm.v4.ahv.config.Vm", "extId": "vm-1", "name": "web-1",
            "cluster": {"extId": "c-1"}, "project": {"extId": "p-1"}, "powerState": "PAUSED",
            "numSockets": 2, "numCoresPerSocket": 2, "memorySizeBytes": 4u64 << 30,
            "disks": [
                {"backingInfo": {"$objectType": "vmm.v4.ahv.config.VmDisk", "diskSizeBytes": (20u64 << 30) + 1}},
                {"backingInfo": {"$objectType": "vmm.v4.ahv.config.ADSFVolumeGroupReference", "volumeGroupExtId": "vg"}}],
            "nics": [
                {"networkInfo": {"subnet": {"extId": "s-1"},
                                 "ipv4Config": {"ipAddress": {"value": "10.0.0.5"}},
                                 "ipv4Info": {"learnedIpAddresses": [{"value": "10.0.0.5"}, {"value": "10.0.0.6"}]}}},
                {"nicNetworkInfo": {"$objectType": "vmm.v4.ahv.config.VirtualEthernetNicNetworkInfo",
                                    "subnet": {"extId": "s-gone"}}}],
            "categories": [{"extId": "k-1"}, {"extId": "k-unknown"}]
        }))
        .expect("a VM");
        let names = Names {
            clusters: HashMap::from([("c-1".into(), "PHX".into())]),
            subnets: HashMap::from([("s-1".into(), "vlan-10".into())]),
            projects: HashMap::from([("p-1".into(), "apps".into())]),
            categories: HashMap::from([("k-1".into(), "CostCenter:CC-1".into())]),
        };
        let v = names.vm(vm);
        assert_eq!(
            (v.uuid.as_str(), v.name.as_str(), v.cluster.as_str()),
            ("vm-1", "web-1", "PHX")
        );
        assert_eq!(v.project.as_deref(), Some("apps"));
        assert_eq!(v.power, PowerState::Unknown, "PAUSED is neither on nor off");
        assert_eq!((v.vcpus, v.ram_gib), (4, 4));
        assert_eq!(v.disks_gib, vec![21], "a volume group is not the VM's disk");
        assert_eq!(
            v.nics,
            vec!["vlan-10".to_string(), "s-gone".into()],
            "an unknown subnet keeps its id"
        );
        assert_eq!(v.categories, vec!["CostCenter:CC-1".to_string()]);
        assert_eq!(
            v.ip_addresses,
            vec!["10.0.0.5".to_string(), "10.0.0.6".into()]
        );
    }

    #[test]
    fn prism_central_is_told_from_the_clusters_it_manages() {
        assert!(is_prism_central(
            &json!({"config": {"clusterFunction": ["PRISM_CENTRAL"]}})
        ));
        assert!(!is_prism_central(
            &json!({"config": {"clusterFunction": ["AOS"]}})
        ));
        assert!(!is_prism_central(&json!({"name": "c"})));
    }
}

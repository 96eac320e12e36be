//! What vCenter holds, read in Butler's terms: clusters, their port groups
//! and datastores, templates, VMs with their hardware, power, custom
//! attributes and addresses.

use crate::error::VsphereError;
use crate::props::Object;
use crate::soap::MoRef;
use crate::xml::Node;
use crate::VsphereBackend;
use butler_core::backend::{ErrorKind, PowerState, VmInfo, VmState};
use std::collections::BTreeMap;

/// The VM properties a VM read needs.
pub(crate) const VM_PATHS: &[&str] = &[
    "name",
    "config.template",
    "config.hardware.numCPU",
    "config.hardware.numCoresPerSocket",
    "config.hardware.memoryMB",
    "config.hardware.device",
    "config.firmware",
    "runtime.powerState",
    "runtime.host",
    "customValue",
    "guest.net",
];

/// Most objects of one kind Butler reads in one list.
pub(crate) const MOST: usize = 5_000_000;

/// A cluster: its name and what hangs off it.
#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub(crate) moref: MoRef,
    pub(crate) name: String,
    pub(crate) resource_pool: Option<MoRef>,
    pub(crate) datastores: Vec<MoRef>,
    pub(crate) networks: Vec<MoRef>,
    pub(crate) hosts: Vec<MoRef>,
}

/// A port group (standard or distributed).
#[derive(Debug, Clone)]
pub(crate) struct Net {
    pub(crate) moref: MoRef,
    pub(crate) name: String,
    pub(crate) vlan: u32,
    /// A distributed switch's uplinks: no VM attaches there.
    pub(crate) uplink: bool,
    /// The distributed switch's uuid (for a NIC's port backing).
    pub(crate) switch_uuid: Option<String>,
}

/// A datastore.
#[derive(Debug, Clone)]
pub(crate) struct Datastore {
    pub(crate) moref: MoRef,
    pub(crate) name: String,
}

/// Everything a VM's description refers to, read once per list.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub(crate) clusters: Vec<Cluster>,
    /// Host → the cluster it is in.
    pub(crate) host_cluster: BTreeMap<MoRef, String>,
    pub(crate) nets: Vec<Net>,
    pub(crate) datastores: Vec<Datastore>,
    /// Custom field key → name.
    pub(crate) fields: BTreeMap<i64, String>,
}

impl World {
    pub(crate) fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The port group a NIC's backing is on.
    pub(crate) fn net_name(&self, backing: &Node) -> String {
        // A standard port group names itself; a distributed port names
        // its port group by key.
        if let Some(net) = backing.child("network").and_then(MoRef::of) {
            if let Some(n) = self.nets.iter().find(|n| n.moref == net) {
                return n.name.clone();
            }
        }
        let key = backing.text_at(&["port", "portgroupKey"]);
        if !key.is_empty() {
            return self
                .nets
                .iter()
                .find(|n| n.moref.value == key)
                .map_or_else(|| key.to_string(), |n| n.name.clone());
        }
        backing.text_at(&["deviceName"]).to_string()
    }

    /// The VM's custom attributes by name, the last value of each (an
    /// empty value is no value).
    pub(crate) fn custom_values(&self, o: &Object) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for v in o
            .prop("customValue")
            .map(|c| c.children.as_slice())
            .unwrap_or_default()
        {
            let Some(name) = v.number_at(&["key"]).and_then(|k| self.fields.get(&k)) else {
                continue;
            };
            match v.text_at(&["value"]) {
                "" => out.remove(name),
                value => out.insert(name.clone(), value.to_string()),
            };
        }
        out
    }

    /// A VM object as Butler describes it; `project_field` is the custom
    /// attribute holding its project (every other one is a category).
    pub(crate) fn vm(&self, o: &Object, project_field: &str) -> VmInfo {
        let devices = o.prop("config.hardware.device");
        let devices: Vec<&Node> = devices
            .map(|d| d.children.iter().collect())
            .unwrap_or_default();
        let disks_gib = disks_in_order(devices.iter().copied())
            .into_iter()
            .map(|d| {
                let kb = d.number_at(&["capacityInKB"]).unwrap_or(0).max(0) as u64;
                u32::try_from(kb.div_ceil(1 << 20)).unwrap_or(u32::MAX)
            })
            .collect();
        let nics = devices
            .iter()
            .filter(|d| is_nic(d))
            .map(|d| {
                d.child("backing")
                    .map(|b| self.net_name(b))
                    .unwrap_or_default()
            })
            .collect();
        let values = self.custom_values(o);
        let project = values.get(project_field).cloned();
        let categories = values
            .iter()
            .filter(|(name, _)| name.as_str() != project_field)
            .map(|(name, value)| format!("{name}:{value}"))
            .collect();
        let ip_addresses = o
            .prop("guest.net")
            .map(|n| {
                n.children
                    .iter()
                    .flat_map(|nic| nic.all("ipAddress"))
                    .map(|ip| ip.text.clone())
                    .filter(|ip| !ip.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let cluster = o
            .reference("runtime.host")
            .and_then(|h| self.host_cluster.get(&h).cloned())
            .unwrap_or_default();
        let created = o.prop("config.hardware.numCPU").is_some();
        VmInfo {
            uuid: o.moref().value,
            name: o.text("name").to_string(),
            cluster,
            project,
            power: power_of(o.text("runtime.powerState")),
            state: if created {
                VmState::Ready
            } else {
                VmState::Pending
            },
            vcpus: u32::try_from(o.number("config.hardware.numCPU").unwrap_or(0)).unwrap_or(0),
            ram_gib: u32::try_from(
                (o.number("config.hardware.memoryMB").unwrap_or(0).max(0) as u64).div_ceil(1024),
            )
            .unwrap_or(u32::MAX),
            disks_gib,
            nics,
            categories,
            ip_addresses,
        }
    }
}

pub(crate) fn power_of(state: &str) -> PowerState {
    match state {
        "poweredOn" => PowerState::On,
        "poweredOff" => PowerState::Off,
        // suspended: neither, as far as Butler may act on it.
        _ => PowerState::Unknown,
    }
}

pub(crate) fn is_disk(d: &Node) -> bool {
    d.xsi_type.as_deref() == Some("VirtualDisk")
}

/// A VM's disks in their order on the bus (controller, then unit), which
/// is how Butler numbers them; vCenter lists devices in no set order (an
/// edited disk may move to the end).
pub(crate) fn disks_in_order<'a>(devices: impl IntoIterator<Item = &'a Node>) -> Vec<&'a Node> {
    let mut disks: Vec<&Node> = devices.into_iter().filter(|d| is_disk(d)).collect();
    disks.sort_by_key(|d| {
        (
            d.number_at(&["controllerKey"]).unwrap_or(i64::MAX),
            d.number_at(&["unitNumber"]).unwrap_or(i64::MAX),
        )
    });
    disks
}

/// Ethernet cards of every kind carry a MAC address field.
pub(crate) fn is_nic(d: &Node) -> bool {
    matches!(
        d.xsi_type.as_deref(),
        Some(
            "VirtualE1000"
                | "VirtualE1000e"
                | "VirtualVmxnet"
                | "VirtualVmxnet2"
                | "VirtualVmxnet3"
                | "VirtualVmxnet3Vrdma"
                | "VirtualPCNet32"
                | "VirtualSriovEthernetCard"
        )
    )
}

impl VsphereBackend {
    /// Clusters, hosts, port groups, datastores and custom fields.
    pub(crate) async fn world(&self) -> Result<World, VsphereError> {
        let root = self.soap.service().await?.root_folder.clone();
        let page = self.config.page_size;
        let clusters = self
            .soap
            .objects(
                &root,
                "ClusterComputeResource",
                &["name", "resourcePool", "datastore", "network", "host"],
                page,
                MOST,
            )
            .await?;
        let clusters: Vec<Cluster> = clusters
            .iter()
            .map(|o| Cluster {
                moref: o.moref(),
                name: o.text("name").to_string(),
                resource_pool: o.reference("resourcePool"),
                datastores: o.references("datastore"),
                networks: o.references("network"),
                hosts: o.references("host"),
            })
            .collect();
        let host_cluster = clusters
            .iter()
            .flat_map(|c| c.hosts.iter().map(|h| (h.clone(), c.name.clone())))
            .collect();
        let mut nets: Vec<Net> = self
            .soap
            .objects(&root, "Network", &["name"], page, MOST)
            .await?
            .iter()
            .map(|o| Net {
                moref: o.moref(),
                name: o.text("name").to_string(),
                vlan: 0,
                uplink: false,
                switch_uuid: None,
            })
            .collect();
        // Distributed port groups are Networks too: their VLAN, their
        // switch, and whether they are its uplinks (no VM attaches there).
        let dvpgs = self
            .soap
            .objects(
                &root,
                "DistributedVirtualPortgroup",
                &[
                    "config.defaultPortConfig",
                    "config.distributedVirtualSwitch",
                    "config.uplink",
                    "tag",
                ],
                page,
                MOST,
            )
            .await?;
        let switches = self
            .soap
            .objects(
                &root,
                "DistributedVirtualSwitch",
                &["uuid", "config.uplinkPortgroup"],
                page,
                MOST,
            )
            .await?;
        for pg in &dvpgs {
            let Some(n) = nets.iter_mut().find(|n| n.moref == pg.moref()) else {
                continue;
            };
            let vlan = pg
                .prop("config.defaultPortConfig")
                .and_then(|c| c.number_at(&["vlan", "vlanId"]));
            n.vlan = u32::try_from(vlan.unwrap_or(0)).unwrap_or(0);
            let switch = pg
                .reference("config.distributedVirtualSwitch")
                .and_then(|s| switches.iter().find(|o| o.moref() == s));
            // vCenter says so three ways, by version: the switch lists its
            // uplink port groups, the port group is tagged, or (6.5 and
            // later) flagged. (vcsim says none of them.)
            n.uplink = switch
                .is_some_and(|s| s.references("config.uplinkPortgroup").contains(&n.moref))
                || pg.text("config.uplink") == "true"
                || pg.prop("tag").is_some_and(|t| {
                    t.children
                        .iter()
                        .any(|t| t.text_at(&["key"]) == "SYSTEM/DVS.UPLINKPG")
                });
            n.switch_uuid = switch.map(|s| s.text("uuid").to_string());
        }
        let datastores = self
            .soap
            .objects(&root, "Datastore", &["name"], page, MOST)
            .await?
            .iter()
            .map(|o| Datastore {
                moref: o.moref(),
                name: o.text("name").to_string(),
            })
            .collect();
        Ok(World {
            clusters,
            host_cluster,
            nets,
            datastores,
            fields: self.fields().await?,
        })
    }

    /// Custom field definitions: key → name.
    pub(crate) async fn fields(&self) -> Result<BTreeMap<i64, String>, VsphereError> {
        let Some(cfm) = self.soap.service().await?.custom_fields_manager.clone() else {
            return Ok(BTreeMap::new());
        };
        let o = self.soap.object(&cfm, &["field"]).await?;
        Ok(o.prop("field")
            .map(|f| {
                f.children
                    .iter()
                    .filter_map(|d| {
                        Some((d.number_at(&["key"])?, d.text_at(&["name"]).to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// VMs and templates under `container`.
    pub(crate) async fn vm_objects(
        &self,
        container: &MoRef,
        paths: &[&str],
    ) -> Result<Vec<Object>, VsphereError> {
        self.soap
            .objects(
                container,
                "VirtualMachine",
                paths,
                self.config.page_size,
                MOST,
            )
            .await
    }

    /// The VMs (not templates) named `name`.
    pub(crate) async fn vms_named(&self, name: &str) -> Result<Vec<Object>, VsphereError> {
        let root = self.soap.service().await?.root_folder.clone();
        // vCenter has no filter by name in the PropertyCollector: names
        // only are read first, then the one VM in full.
        let named: Vec<MoRef> = self
            .vm_objects(&root, &["name", "config.template"])
            .await?
            .into_iter()
            .filter(|o| o.text("name") == name && o.text("config.template") != "true")
            .map(|o| o.moref())
            .collect();
        let mut out = Vec::new();
        for vm in named {
            match self.soap.object(&vm, VM_PATHS).await {
                Ok(o) => out.push(o),
                // Deleted between the two reads.
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

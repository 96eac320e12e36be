//! Changing VMs: create (a clone of a template, or a new VM), reconfigure,
//! power, delete, project and categories (custom attributes).
//!
//! A create is made under a provisional name (`<name>.butler-partial`),
//! brought to the asked shape, given its custom attributes and powered as
//! asked, and renamed last: a VM under its final name is always complete,
//! so the engine's look-up by name before a create never adopts half a
//! VM, and a create cut short resumes from the provisional one.

use crate::error::VsphereError;
use crate::inventory::{disks_in_order, is_nic, Net, World, VM_PATHS};
use crate::props::Object;
use crate::soap::MoRef;
use crate::xml::{escape, Node};
use crate::{VsphereBackend, PROJECT_FIELD};
use butler_core::backend::{ErrorKind, PowerChange, PowerState, TaskId, VmCreate, VmReconfig};
use std::time::Duration;

/// The suffix of a VM being made.
pub const PARTIAL: &str = ".butler-partial";

/// The shape a VM is brought to.
#[derive(Debug, Clone)]
pub(crate) struct Shape<'a> {
    pub(crate) cores_per_socket: u32,
    pub(crate) sockets: u32,
    pub(crate) ram_gib: u32,
    pub(crate) disks_gib: &'a [u32],
    /// The port group of each NIC, in order.
    pub(crate) nics: Vec<&'a Net>,
    /// A CD-ROM drive wanted (`None`: as it is).
    pub(crate) cdrom: Option<bool>,
    /// UEFI firmware wanted (`None`: as it is).
    pub(crate) uefi: Option<bool>,
}

fn invalid(message: String) -> VsphereError {
    VsphereError::new(ErrorKind::Invalid, message)
}

/// A new NIC's backing on `net`.
fn nic_backing(net: &Net) -> String {
    match &net.switch_uuid {
        Some(uuid) => format!(
            "<backing xsi:type=\"VirtualEthernetCardDistributedVirtualPortBackingInfo\"><port>\
             <switchUuid>{}</switchUuid><portgroupKey>{}</portgroupKey></port></backing>",
            escape(uuid),
            escape(&net.moref.value)
        ),
        None => format!(
            "<backing xsi:type=\"VirtualEthernetCardNetworkBackingInfo\"><deviceName>{}</deviceName>{}</backing>",
            escape(&net.name),
            net.moref.xml("network")
        ),
    }
}

const CONNECTABLE: &str = "<connectable><startConnected>true</startConnected>\
    <allowGuestControl>true</allowGuestControl><connected>false</connected></connectable>";

fn device_change(operation: &str, file_create: bool, device: &str) -> String {
    let file = if file_create {
        "<fileOperation>create</fileOperation>"
    } else {
        ""
    };
    format!("<deviceChange><operation>{operation}</operation>{file}{device}</deviceChange>")
}

/// A device read, as the `device` element of a change.
fn as_device(d: &Node) -> Node {
    let mut d = d.clone();
    d.name = "device".into();
    d
}

fn is_scsi_controller(d: &Node) -> bool {
    matches!(
        d.xsi_type.as_deref(),
        Some(
            "ParaVirtualSCSIController"
                | "VirtualLsiLogicController"
                | "VirtualLsiLogicSASController"
                | "VirtualBusLogicController"
        )
    )
}

/// The `VirtualMachineConfigSpec` (its inner XML, in the WSDL's order)
/// bringing `vm` to `to`, or `None` when it is so already. Disks never
/// shrink; NICs on a port group asked are kept (as many as asked), others
/// removed, missing ones added.
pub(crate) fn config_spec(vm: &Object, to: &Shape<'_>, world: &World) -> Option<String> {
    let devices: Vec<&Node> = vm
        .prop("config.hardware.device")
        .map(|d| d.children.iter().collect())
        .unwrap_or_default();
    let mut spec = String::new();
    let vcpus = i64::from(to.sockets.max(1) * to.cores_per_socket.max(1));
    if vm.number("config.hardware.numCPU") != Some(vcpus)
        || vm.number("config.hardware.numCoresPerSocket")
            != Some(i64::from(to.cores_per_socket.max(1)))
    {
        spec.push_str(&format!(
            "<numCPUs>{vcpus}</numCPUs><numCoresPerSocket>{}</numCoresPerSocket>",
            to.cores_per_socket.max(1)
        ));
    }
    let memory = i64::from(to.ram_gib) * 1024;
    if vm.number("config.hardware.memoryMB") != Some(memory) {
        spec.push_str(&format!("<memoryMB>{memory}</memoryMB>"));
    }
    let mut changes = String::new();
    let mut new_key = -100;
    let mut next_key = || {
        new_key -= 1;
        new_key
    };
    // Disks: grown in place, then added on the first SCSI controller.
    let disks = disks_in_order(devices.iter().copied());
    for (d, want) in disks.iter().zip(to.disks_gib) {
        let want_kb = i64::from(*want) << 20;
        if d.number_at(&["capacityInKB"]).unwrap_or(0) < want_kb {
            let mut dev = as_device(d);
            dev.set("capacityInKB", &want_kb.to_string());
            dev.remove("capacityInBytes");
            changes.push_str(&device_change("edit", false, &dev.to_xml()));
        }
    }
    if to.disks_gib.len() > disks.len() {
        let controller = devices
            .iter()
            .find(|d| is_scsi_controller(d))
            .and_then(|c| c.number_at(&["key"]));
        let controller = match controller {
            Some(k) => k,
            None => {
                let k = next_key();
                changes.push_str(&device_change(
                    "add",
                    false,
                    &format!(
                        "<device xsi:type=\"ParaVirtualSCSIController\"><key>{k}</key><busNumber>0</busNumber>\
                         <sharedBus>noSharing</sharedBus></device>"
                    ),
                ));
                k
            }
        };
        let mut used: Vec<i64> = devices
            .iter()
            .filter(|d| d.number_at(&["controllerKey"]) == Some(controller))
            .filter_map(|d| d.number_at(&["unitNumber"]))
            .collect();
        for size in &to.disks_gib[disks.len()..] {
            // Unit 7 is the controller's own.
            let unit = (0..16).find(|u| *u != 7 && !used.contains(u)).unwrap_or(15);
            used.push(unit);
            let k = next_key();
            changes.push_str(&device_change(
                "add",
                true,
                &format!(
                    "<device xsi:type=\"VirtualDisk\"><key>{k}</key>\
                     <backing xsi:type=\"VirtualDiskFlatVer2BackingInfo\"><fileName></fileName>\
                     <diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned></backing>\
                     <controllerKey>{controller}</controllerKey><unitNumber>{unit}</unitNumber>\
                     <capacityInKB>{}</capacityInKB></device>",
                    i64::from(*size) << 20
                ),
            ));
        }
    }
    // NICs.
    let mut left: Vec<&Net> = to.nics.clone();
    for d in devices.iter().filter(|d| is_nic(d)) {
        let on = d
            .child("backing")
            .map(|b| world.net_name(b))
            .unwrap_or_default();
        match left.iter().position(|n| n.name == on) {
            Some(i) => {
                left.remove(i);
            }
            None => changes.push_str(&device_change("remove", false, &as_device(d).to_xml())),
        }
    }
    for net in left {
        let k = next_key();
        changes.push_str(&device_change(
            "add",
            false,
            &format!(
                "<device xsi:type=\"VirtualVmxnet3\"><key>{k}</key>{}{CONNECTABLE}\
                 <addressType>generated</addressType></device>",
                nic_backing(net)
            ),
        ));
    }
    // A CD-ROM drive on a free IDE slot, when asked and absent.
    let has_cdrom = devices
        .iter()
        .any(|d| d.xsi_type.as_deref() == Some("VirtualCdrom"));
    if to.cdrom == Some(true) && !has_cdrom {
        let slot = devices
            .iter()
            .filter(|d| d.xsi_type.as_deref() == Some("VirtualIDEController"))
            .filter_map(|c| {
                let key = c.number_at(&["key"])?;
                let used: Vec<i64> = devices
                    .iter()
                    .filter(|d| d.number_at(&["controllerKey"]) == Some(key))
                    .filter_map(|d| d.number_at(&["unitNumber"]))
                    .collect();
                (0..2).find(|u| !used.contains(u)).map(|u| (key, u))
            })
            .next();
        if let Some((controller, unit)) = slot {
            let k = next_key();
            changes.push_str(&device_change(
                "add",
                false,
                &format!(
                    "<device xsi:type=\"VirtualCdrom\"><key>{k}</key>\
                     <backing xsi:type=\"VirtualCdromRemotePassthroughBackingInfo\"><deviceName></deviceName>\
                     <exclusive>false</exclusive></backing>{CONNECTABLE}\
                     <controllerKey>{controller}</controllerKey><unitNumber>{unit}</unitNumber></device>"
                ),
            ));
        }
    }
    spec.push_str(&changes);
    if let Some(uefi) = to.uefi {
        let want = if uefi { "efi" } else { "bios" };
        if vm.text("config.firmware") != want {
            spec.push_str(&format!("<firmware>{want}</firmware>"));
        }
    }
    (!spec.is_empty()).then_some(spec)
}

impl VsphereBackend {
    /// The folder VMs are made in: the configured datacenter's (or the
    /// first one's) `vmFolder`.
    async fn vm_folder(&self) -> Result<MoRef, VsphereError> {
        let root = self.soap.service().await?.root_folder.clone();
        let dcs = self
            .soap
            .objects(
                &root,
                "Datacenter",
                &["name", "vmFolder"],
                self.config.page_size,
                1000,
            )
            .await?;
        let dc = match &self.config.datacenter {
            Some(name) => dcs.iter().find(|d| d.text("name") == name),
            None => dcs.first(),
        };
        dc.and_then(|d| d.reference("vmFolder")).ok_or_else(|| {
            invalid(match &self.config.datacenter {
                Some(name) => format!("vCenter has no datacenter named {name:?}"),
                None => "vCenter has no datacenter".into(),
            })
        })
    }

    /// The port groups `names` as a VM on `cluster` reaches them.
    fn nets<'w>(
        world: &'w World,
        cluster: &str,
        names: &[String],
    ) -> Result<Vec<&'w Net>, VsphereError> {
        let c = world
            .cluster(cluster)
            .ok_or_else(|| invalid(format!("vCenter has no cluster named {cluster:?}")))?;
        names
            .iter()
            .map(|n| {
                world
                    .nets
                    .iter()
                    .find(|net| &net.name == n && !net.uplink && c.networks.contains(&net.moref))
                    .ok_or_else(|| {
                        invalid(format!("no port group named {n:?} on cluster {cluster:?}"))
                    })
            })
            .collect()
    }

    /// Brings VM `vm` to `to` (one `ReconfigVM_Task`; nothing when it is
    /// so already).
    pub(crate) async fn converge(
        &self,
        vm: &MoRef,
        to: &Shape<'_>,
        world: &World,
    ) -> Result<(), VsphereError> {
        let current = self.soap.object(vm, VM_PATHS).await?;
        if let Some(spec) = config_spec(&current, to, world) {
            self.run_task(
                "ReconfigVM_Task",
                vm,
                &format!("<spec>{spec}</spec>"),
                "reconfiguring the VM",
            )
            .await?;
        }
        Ok(())
    }

    /// Makes sure the VM-level custom attribute `name` exists.
    async fn ensure_field(&self, name: &str, world: &World) -> Result<(), VsphereError> {
        if world.fields.values().any(|f| f == name) {
            return Ok(());
        }
        let Some(cfm) = self.soap.service().await?.custom_fields_manager.clone() else {
            return Err(VsphereError::new(
                ErrorKind::Unsupported,
                "this vCenter has no custom attributes",
            ));
        };
        let args = format!(
            "<name>{}</name><moType>VirtualMachine</moType>",
            escape(name)
        );
        match self
            .soap
            .call("AddCustomFieldDef", &cfm, &args, false)
            .await
        {
            Ok(_) => Ok(()),
            // Made meanwhile by someone else.
            Err(e) if e.fault.as_deref() == Some("DuplicateName") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sets custom attribute `name` of VM `vm` to `value`, unless it holds it.
    async fn set_field(
        &self,
        vm: &MoRef,
        name: &str,
        value: &str,
        world: &World,
    ) -> Result<(), VsphereError> {
        let current = self.soap.object(vm, &["customValue"]).await?;
        if world.custom_values(&current).get(name).map(String::as_str) == Some(value) {
            return Ok(());
        }
        self.ensure_field(name, world).await?;
        let args = format!(
            "<key>{}</key><value>{}</value>",
            escape(name),
            escape(value)
        );
        self.soap
            .call("setCustomValue", vm, &args, false)
            .await
            .map(drop)
    }

    /// A create, as the module says.
    pub(crate) async fn create(&self, vm: &VmCreate) -> Result<TaskId, VsphereError> {
        if vm.name.is_empty() || vm.name.ends_with(PARTIAL) || vm.name.len() > 80 {
            return Err(invalid(format!(
                "{:?} cannot be a VM name on vSphere (1 to 80 characters, not ending {PARTIAL})",
                vm.name
            )));
        }
        let world = self.world().await?;
        let cluster = world
            .cluster(&vm.cluster)
            .ok_or_else(|| invalid(format!("vCenter has no cluster named {:?}", vm.cluster)))?;
        let nets = Self::nets(&world, &vm.cluster, &vm.nics)?;
        if !self.vms_named(&vm.name).await?.is_empty() {
            return Err(VsphereError::new(
                ErrorKind::Conflict,
                format!("a VM named {:?} exists", vm.name),
            ));
        }
        let datastore = match &vm.storage_container {
            Some(name) => world
                .datastores
                .iter()
                .find(|d| &d.name == name && cluster.datastores.contains(&d.moref))
                .ok_or_else(|| {
                    invalid(format!(
                        "no datastore named {name:?} on cluster {:?}",
                        vm.cluster
                    ))
                })?,
            None => world
                .datastores
                .iter()
                .find(|d| cluster.datastores.contains(&d.moref))
                .ok_or_else(|| invalid(format!("cluster {:?} has no datastore", vm.cluster)))?,
        };
        let pool = cluster
            .resource_pool
            .clone()
            .ok_or_else(|| invalid(format!("cluster {:?} has no resource pool", vm.cluster)))?;
        let partial = format!("{}{PARTIAL}", vm.name);
        let made = match self.vms_named(&partial).await?.first() {
            Some(o) => o.moref(),
            None => {
                let folder = self.vm_folder().await?;
                match &vm.image {
                    Some(image) => {
                        let root = self.soap.service().await?.root_folder.clone();
                        let template = self
                            .vm_objects(&root, &["name", "config.template"])
                            .await?
                            .into_iter()
                            .find(|o| {
                                o.text("name") == image && o.text("config.template") == "true"
                            })
                            .ok_or_else(|| invalid(format!("no template named {image:?}")))?;
                        let args = format!(
                            "{}<name>{}</name><spec><location>{}{}</location><template>false</template>\
                             <powerOn>false</powerOn></spec>",
                            folder.xml("folder"),
                            escape(&partial),
                            datastore.moref.xml("datastore"),
                            pool.xml("pool")
                        );
                        self.run_task(
                            "CloneVM_Task",
                            &template.moref(),
                            &args,
                            "cloning the template",
                        )
                        .await?;
                    }
                    None => {
                        let args = format!(
                            "<config><name>{}</name><guestId>otherLinux64Guest</guestId>\
                             <files><vmPathName>[{}]</vmPathName></files></config>{}",
                            escape(&partial),
                            escape(&datastore.name),
                            pool.xml("pool")
                        );
                        self.run_task("CreateVM_Task", &folder, &args, "creating the VM")
                            .await?;
                    }
                }
                match self.vms_named(&partial).await?.first() {
                    Some(o) => o.moref(),
                    None => {
                        return Err(VsphereError::new(
                            ErrorKind::Transient,
                            format!("the VM {partial:?} made is not listed yet"),
                        ))
                    }
                }
            }
        };
        let shape = Shape {
            cores_per_socket: vm.cores_per_socket,
            sockets: vm.sockets,
            ram_gib: vm.ram_gib,
            disks_gib: &vm.disks_gib,
            nics: nets,
            cdrom: Some(vm.cdrom),
            uefi: Some(vm.uefi),
        };
        self.converge(&made, &shape, &world).await?;
        if !vm.project.is_empty() {
            self.set_field(&made, PROJECT_FIELD, &vm.project, &world)
                .await?;
        }
        if let Some((key, value)) = vm.category.split_once(':') {
            self.set_field(&made, key, value, &world).await?;
        }
        if vm.power_on {
            self.power(&made, PowerChange::On).await?;
        }
        let (task, _) = self
            .run_task(
                "Rename_Task",
                &made,
                &format!("<newName>{}</newName>", escape(&vm.name)),
                "naming the VM",
            )
            .await?;
        Ok(TaskId(task.value))
    }

    /// Reconfigures VM `uuid`: what needs it off (less CPU or memory, a
    /// NIC removed) is refused while it runs, as vSphere cannot hot-remove.
    pub(crate) async fn reconfigure(
        &self,
        uuid: &str,
        to: &VmReconfig,
    ) -> Result<(), VsphereError> {
        let vm = MoRef::new("VirtualMachine", uuid);
        let world = self.world().await?;
        let current = self.soap.object(&vm, VM_PATHS).await?;
        let info = world.vm(&current, PROJECT_FIELD);
        if info.power == PowerState::On {
            let why = to.needs_power_off(&info);
            if !why.is_empty() {
                return Err(VsphereError::new(
                    ErrorKind::Conflict,
                    format!("VM {:?} is on: {} needs it off", info.name, why.join(", ")),
                ));
            }
        }
        let nets = Self::nets(&world, &info.cluster, &to.nics)?;
        let shape = Shape {
            cores_per_socket: to.cores_per_socket,
            sockets: to.sockets,
            ram_gib: to.ram_gib,
            disks_gib: &to.disks_gib,
            nics: nets,
            cdrom: None,
            uefi: None,
        };
        self.converge(&vm, &shape, &world).await
    }

    /// Power: nothing sent when the VM is in the state asked already. A
    /// guest shutdown asks the guest (VMware Tools), then waits up to 5
    /// minutes for the VM to be off.
    pub(crate) async fn power(&self, vm: &MoRef, change: PowerChange) -> Result<(), VsphereError> {
        let state = || async {
            let o = self.soap.object(vm, &["runtime.powerState"]).await?;
            Ok::<_, VsphereError>(crate::inventory::power_of(o.text("runtime.powerState")))
        };
        let now = state().await?;
        match change {
            PowerChange::On if now != PowerState::On => self
                .run_task("PowerOnVM_Task", vm, "", "powering the VM on")
                .await
                .map(drop),
            PowerChange::HardOff if now != PowerState::Off => self
                .run_task("PowerOffVM_Task", vm, "", "powering the VM off")
                .await
                .map(drop),
            PowerChange::GuestShutdown if now != PowerState::Off => {
                self.soap.call("ShutdownGuest", vm, "", false).await?;
                let clock = self.soap.clock();
                let until = butler_core::backend::after(clock.now(), Duration::from_secs(300));
                while state().await? != PowerState::Off {
                    if clock.now() >= until {
                        return Err(VsphereError::new(
                            ErrorKind::Timeout,
                            "the guest did not shut down within 5 minutes",
                        ));
                    }
                    clock.sleep(Duration::from_secs(1)).await;
                }
                Ok(())
            }
            // The guest restarts itself (VMware Tools). A vCenter without
            // `RebootGuest` (vcsim) gets the same done as a guest shutdown,
            // then a power-on.
            PowerChange::GuestRestart => match self.soap.call("RebootGuest", vm, "", false).await {
                Err(e) if e.kind == ErrorKind::Unsupported => {
                    tracing::info!(vm = %vm.value, error = %e, "no RebootGuest here: shutting the guest down, then powering on");
                    Box::pin(self.power(vm, PowerChange::GuestShutdown)).await?;
                    Box::pin(self.power(vm, PowerChange::On)).await
                }
                other => other.map(drop),
            },
            PowerChange::On | PowerChange::HardOff | PowerChange::GuestShutdown => Ok(()),
            other => Err(VsphereError::new(
                ErrorKind::Unsupported,
                format!("power change {other} is not known to this adapter"),
            )),
        }
    }

    /// `Destroy_Task` of VM `uuid`.
    pub(crate) async fn delete(&self, uuid: &str) -> Result<TaskId, VsphereError> {
        let vm = MoRef::new("VirtualMachine", uuid);
        let answer = self.soap.call("Destroy_Task", &vm, "", false).await?;
        answer
            .child("returnval")
            .and_then(MoRef::of)
            .map(|t| TaskId(t.value))
            .ok_or_else(|| VsphereError::new(ErrorKind::Permanent, "Destroy_Task answered no task"))
    }

    /// Sets the VM's project (its `Project` custom attribute), which must
    /// be a configured project.
    pub(crate) async fn set_project(&self, uuid: &str, project: &str) -> Result<(), VsphereError> {
        if !self.config.projects.contains_key(project) {
            return Err(invalid(format!(
                "{project:?} is not a project of this vSphere configuration"
            )));
        }
        let world = self.world().await?;
        self.set_field(
            &MoRef::new("VirtualMachine", uuid),
            PROJECT_FIELD,
            project,
            &world,
        )
        .await
    }

    /// The values custom attribute `key` holds on any VM.
    pub(crate) async fn field_values(&self, key: &str) -> Result<Vec<String>, VsphereError> {
        let world = self.world().await?;
        let root = self.soap.service().await?.root_folder.clone();
        let mut values: Vec<String> = self
            .vm_objects(&root, &["customValue"])
            .await?
            .iter()
            .filter_map(|o| world.custom_values(o).remove(key))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

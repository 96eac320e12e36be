//! Moving a VM to another cluster: `RelocateVM_Task` into the destination
//! cluster's resource pool (cold, or vMotion while it runs when asked),
//! its disks kept where the destination reaches their datastore and moved
//! to the destination's first datastore otherwise. Before it, Butler's
//! own dry run in vSphere's terms.

use crate::error::VsphereError;
use crate::inventory::{is_nic, World};
use crate::soap::MoRef;
use crate::VsphereBackend;
use butler_core::backend::{ErrorKind, PowerState, TaskId, VmMove};

/// Where a moved VM goes.
struct Placement {
    pool: MoRef,
    /// `None`: its disks stay where they are.
    datastore: Option<MoRef>,
    host: Option<MoRef>,
}

/// What a dry run reads of each VM.
const MOVE_PATHS: &[&str] = &[
    "name",
    "config.template",
    "runtime.powerState",
    "runtime.host",
    "datastore",
    "config.hardware.device",
];

impl VsphereBackend {
    /// Why the move would fail (empty: it would go), with what the move
    /// needs: the VM and the destination's resource pool and datastore.
    async fn plan_move(
        &self,
        uuid: &str,
        to: &VmMove,
    ) -> Result<(Vec<String>, Placement), VsphereError> {
        let vm = MoRef::new("VirtualMachine", uuid);
        let world = self.world().await?;
        let o = self.soap.object(&vm, MOVE_PATHS).await?;
        judge(&world, &o, to, true)
    }

    /// The dry run of moving each VM named in `names`, from one read of
    /// every VM (vCenter filters no property read by name), the power of
    /// each left to the caller.
    pub(crate) async fn check_moves(
        &self,
        names: &[String],
        to: &VmMove,
    ) -> Result<Vec<Vec<String>>, VsphereError> {
        let world = self.world().await?;
        let root = self.soap.service().await?.root_folder.clone();
        let all = self.vm_objects(&root, MOVE_PATHS).await?;
        let mut by_name: std::collections::HashMap<&str, &crate::props::Object> =
            std::collections::HashMap::with_capacity(all.len());
        for o in all.iter().filter(|o| o.text("config.template") != "true") {
            // The first VM of a name, as the name look-up answers.
            by_name.entry(o.text("name")).or_insert(o);
        }
        names
            .iter()
            .map(|name| match by_name.get(name.as_str()) {
                Some(o) => judge(&world, o, to, false).map(|(why, _)| why),
                None => Ok(vec![format!("vCenter has no VM named {name:?}")]),
            })
            .collect()
    }

    /// Butler's dry run of the move.
    pub(crate) async fn check_move(
        &self,
        uuid: &str,
        to: &VmMove,
    ) -> Result<Vec<String>, VsphereError> {
        Ok(self.plan_move(uuid, to).await?.0)
    }

    /// Starts the move (after its dry run: a refusal is an `Invalid`
    /// error naming every reason, and nothing is sent).
    pub(crate) async fn start_move(&self, uuid: &str, to: &VmMove) -> Result<TaskId, VsphereError> {
        let (why, at) = self.plan_move(uuid, to).await?;
        if !why.is_empty() {
            return Err(VsphereError::new(ErrorKind::Invalid, why.join("; ")));
        }
        let vm = MoRef::new("VirtualMachine", uuid);
        // RelocateSpec's order: datastore, pool, host.
        let spec = format!(
            "<spec>{}{}{}</spec><priority>defaultPriority</priority>",
            at.datastore.map(|d| d.xml("datastore")).unwrap_or_default(),
            at.pool.xml("pool"),
            at.host.map(|h| h.xml("host")).unwrap_or_default()
        );
        let answer = self.soap.call("RelocateVM_Task", &vm, &spec, false).await?;
        answer
            .child("returnval")
            .and_then(MoRef::of)
            .map(|t| TaskId(t.value))
            .ok_or_else(|| {
                VsphereError::new(ErrorKind::Permanent, "RelocateVM_Task answered no task")
            })
    }
}

/// Why moving the VM read as `o` as `to` says would fail (its power
/// judged only when `judge_power`), and where it would go.
fn judge(
    world: &World,
    o: &crate::props::Object,
    to: &VmMove,
    judge_power: bool,
) -> Result<(Vec<String>, Placement), VsphereError> {
    let destination = world.cluster(&to.destination).ok_or_else(|| {
        VsphereError::new(
            ErrorKind::Invalid,
            format!("vCenter has no cluster named {:?}", to.destination),
        )
    })?;
    let name = o.text("name").to_string();
    let here = o
        .reference("runtime.host")
        .and_then(|h| world.host_cluster.get(&h).cloned())
        .unwrap_or_default();
    let mut why = Vec::new();
    if here == to.destination {
        why.push(format!("VM {name:?} is on {:?} already", to.destination));
    }
    let on = crate::inventory::power_of(o.text("runtime.powerState")) == PowerState::On;
    if judge_power && on && !to.live {
        why.push(format!(
            "VM {name:?} is on: a cold move needs it off (or ask for a live one, vMotion)"
        ));
    }
    for net in nics_of(o, world) {
        let reached = world
            .nets
            .iter()
            .any(|n| n.name == net && destination.networks.contains(&n.moref));
        if !reached {
            why.push(format!(
                "port group {net:?} of VM {name:?} is not on cluster {:?}",
                to.destination
            ));
        }
    }
    let pool = destination.resource_pool.clone().ok_or_else(|| {
        VsphereError::new(
            ErrorKind::Invalid,
            format!("cluster {:?} has no resource pool", to.destination),
        )
    })?;
    // Disks stay where the destination reaches their datastore.
    let kept = o
        .references("datastore")
        .iter()
        .all(|d| destination.datastores.contains(d));
    let datastore = if kept {
        None
    } else {
        match destination.datastores.first() {
            Some(d) => Some(d.clone()),
            None => {
                why.push(format!("cluster {:?} has no datastore", to.destination));
                None
            }
        }
    };
    // A host of the destination too: without DRS, vCenter (and vcsim)
    // leave the VM on its host when only the pool changes.
    let host = destination.hosts.first().cloned();
    if host.is_none() {
        why.push(format!("cluster {:?} has no host", to.destination));
    }
    Ok((
        why,
        Placement {
            pool,
            datastore,
            host,
        },
    ))
}

/// The port groups of a VM's NICs.
fn nics_of(o: &crate::props::Object, world: &World) -> Vec<String> {
    o.prop("config.hardware.device")
        .map(|d| {
            d.children
                .iter()
                .filter(|d| is_nic(d))
                .filter_map(|d| d.child("backing").map(|b| world.net_name(b)))
                .collect()
        })
        .unwrap_or_default()
}

//! Reconfiguring a VM on v4: CPU and memory by `PUT …/vms/{extId}`, disks
//! grown by `PUT …/vms/{extId}/disks/{diskExtId}` and added by `POST
//! …/disks`, NICs removed by `DELETE …/nics/{nicExtId}` and added by `POST
//! …/nics`; each one write under the VM's `ETag`, waited for, then the VM
//! read again for the next. What is already as asked is never sent, so a
//! reconfigure stopped half-way (a crash, a lost reply) finishes by being
//! run again.

use crate::backend::NutanixBackend;
use crate::url_safe;
use crate::v4::{Mutation, VMS};
use butler_core::backend::{BackendError, ErrorKind, VmReconfig};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Mutex;

/// A VM's own disks (`VmDisk` backing; not CD-ROMs, not volume groups).
fn vm_disks(vm: &Value) -> Vec<&Value> {
    vm["disks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| {
            matches!(
                d["backingInfo"]["$objectType"].as_str(),
                None | Some("vmm.v4.ahv.config.VmDisk")
            ) && d["backingInfo"]["diskSizeBytes"].is_u64()
        })
        .collect()
}

/// A disk's or NIC's id as a path segment (`None`: not one).
fn id_segment(id: &str) -> Option<String> {
    url_safe::segment(id, "reconfigure_vm").ok()
}

/// A NIC's id and subnet id (v4.1's `nicNetworkInfo`, or `networkInfo`).
fn nic_subnet(n: &Value) -> (Option<&str>, &str) {
    let info = if n["nicNetworkInfo"].is_object() {
        &n["nicNetworkInfo"]
    } else {
        &n["networkInfo"]
    };
    (
        n["extId"].as_str(),
        info["subnet"]["extId"].as_str().unwrap_or_default(),
    )
}

/// The first write that brings `vm` closer to `to` (`subnets`: the subnet
/// id of each NIC asked), with what it does; `None` when the VM is as
/// asked.
fn next_change(
    vm: &Value,
    segment: &str,
    to: &VmReconfig,
    subnets: &[String],
) -> Option<(Mutation, String)> {
    let base = format!("{VMS}/{segment}");
    let count = |k: &str| vm[k].as_u64().unwrap_or(1).max(1);
    let vcpus = count("numSockets") * count("numCoresPerSocket");
    let memory = u64::from(to.ram_gib) << 30;
    if vcpus != u64::from(to.vcpus()) || vm["memorySizeBytes"].as_u64() != Some(memory) {
        let mut body = vm.clone();
        body["numSockets"] = json!(to.sockets);
        body["numCoresPerSocket"] = json!(to.cores_per_socket);
        body["memorySizeBytes"] = json!(memory);
        let what = format!(
            "setting {} vCPUs and {} GiB of memory",
            to.vcpus(),
            to.ram_gib
        );
        return Some((
            Mutation {
                method: Method::PUT,
                path: base,
                body: Some(body),
            },
            what,
        ));
    }
    let disks = vm_disks(vm);
    for (i, (d, want)) in disks.iter().zip(&to.disks_gib).enumerate() {
        let want = u64::from(*want) << 30;
        let have = d["backingInfo"]["diskSizeBytes"].as_u64().unwrap_or(0);
        // A disk never shrinks; one without an id cannot be addressed (the
        // flow's verification then names what is missing).
        if let (true, Some(id)) = (want > have, d["extId"].as_str().and_then(id_segment)) {
            let mut body = (*d).clone();
            body["backingInfo"]["diskSizeBytes"] = json!(want);
            return Some((
                Mutation {
                    method: Method::PUT,
                    path: format!("{base}/disks/{id}"),
                    body: Some(body),
                },
                format!("growing disk {i} to {} GiB", want >> 30),
            ));
        }
    }
    if let Some(size) = to.disks_gib.get(disks.len()) {
        let index = vm["disks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["diskAddress"]["busType"] == "SCSI")
            .filter_map(|d| d["diskAddress"]["index"].as_u64())
            .max()
            .map_or(0, |i| i + 1);
        let mut backing = json!({"$objectType": "vmm.v4.ahv.config.VmDisk",
                                 "diskSizeBytes": u64::from(*size) << 30});
        if let Some(ctr) = disks
            .first()
            .map(|d| &d["backingInfo"]["storageContainer"])
            .filter(|c| c.is_object())
        {
            backing["storageContainer"] = ctr.clone();
        }
        let body = json!({"$objectType": "vmm.v4.ahv.config.Disk",
                          "diskAddress": {"busType": "SCSI", "index": index},
                          "backingInfo": backing});
        return Some((
            Mutation::post(format!("{base}/disks"), Some(body)),
            format!("adding a disk of {size} GiB"),
        ));
    }
    // NICs: those on a subnet asked are kept (as many as asked), the others
    // removed, the missing ones added.
    let mut left: Vec<&str> = subnets.iter().map(String::as_str).collect();
    for n in vm["nics"].as_array().into_iter().flatten() {
        let (id, subnet) = nic_subnet(n);
        match left.iter().position(|s| *s == subnet) {
            Some(i) => {
                left.remove(i);
            }
            None => {
                if let Some(id) = id.and_then(id_segment) {
                    return Some((
                        Mutation {
                            method: Method::DELETE,
                            path: format!("{base}/nics/{id}"),
                            body: None,
                        },
                        format!("removing the NIC on subnet {subnet}"),
                    ));
                }
            }
        }
    }
    left.first().map(|subnet| {
        let body = json!({"$objectType": "vmm.v4.ahv.config.Nic",
                          "networkInfo": {"$objectType": "vmm.v4.ahv.config.NicNetworkInfo",
                                          "nicType": "NORMAL_NIC", "vlanMode": "ACCESS",
                                          "subnet": {"extId": subnet}}});
        (
            Mutation::post(format!("{base}/nics"), Some(body)),
            format!("adding a NIC on subnet {subnet}"),
        )
    })
}

impl NutanixBackend {
    /// Moves VM `uuid` to the project with id `project` (`name` for
    /// errors): the VM as read, its `project` changed, `PUT` under its
    /// `ETag`; nothing sent when it is there already.
    pub(crate) async fn v4_set_project(
        &self,
        uuid: &str,
        project: &str,
        name: &str,
    ) -> Result<(), BackendError> {
        let op = "set_vm_project";
        let path = format!("{VMS}/{}", url_safe::segment(uuid, op)?);
        let task = self
            .v4_mutate(uuid, op, |vm| {
                (vm["project"]["extId"] != project).then(|| {
                    let mut body = vm.clone();
                    body["project"] = json!({"$objectType": "vmm.v4.ahv.config.ProjectReference",
                                             "extId": project});
                    Mutation {
                        method: Method::PUT,
                        path: path.clone(),
                        body: Some(body),
                    }
                })
            })
            .await?;
        match task {
            Some(task) => {
                let what = format!("moving the VM to project {name:?}");
                self.v4_finish(&task, op, &what).await
            }
            None => Ok(()),
        }
    }

    /// Brings VM `uuid` to `to`, one write at a time (`subnets`: the id of
    /// each NIC's subnet, in order).
    pub(crate) async fn v4_reconfigure(
        &self,
        uuid: &str,
        to: &VmReconfig,
        subnets: &[String],
    ) -> Result<(), BackendError> {
        let op = "reconfigure_vm";
        let segment = url_safe::segment(uuid, op)?;
        // One write per difference, and a few for changes made meanwhile:
        // a VM that keeps changing under us is an error, not a loop.
        let most = 4 + 2 * (to.disks_gib.len() + to.nics.len());
        for _ in 0..most {
            // What the write does, for its error (the closure only reads).
            let what = Mutex::new(String::new());
            let task = self
                .v4_mutate(uuid, op, |vm| {
                    next_change(vm, &segment, to, subnets).map(|(m, w)| {
                        *what.lock().unwrap_or_else(|e| e.into_inner()) = w;
                        m
                    })
                })
                .await?;
            match task {
                Some(task) => {
                    let what = what.into_inner().unwrap_or_else(|e| e.into_inner());
                    self.v4_finish(&task, op, &what).await?
                }
                None => return Ok(()),
            }
        }
        Err(BackendError::new(
            ErrorKind::Conflict,
            op,
            format!("VM {uuid} was still not as asked after {most} changes: it is being changed elsewhere"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconfig(disks: Vec<u32>, nics: Vec<&str>) -> VmReconfig {
        VmReconfig {
            cores_per_socket: 1,
            sockets: 2,
            ram_gib: 4,
            disks_gib: disks,
            nics: nics.into_iter().map(str::to_string).collect(),
        }
    }

    fn vm() -> Value {
        json!({"extId": "vm-1", "numSockets": 2, "numCoresPerSocket": 1, "memorySizeBytes": 4u64 << 30,
               "disks": [
                   {"extId": "d-0", "diskAddress": {"busType": "SCSI", "index": 0},
                    "backingInfo": {"$objectType": "vmm.v4.ahv.config.VmDisk", "diskSizeBytes": 40u64 << 30,
                                    "storageContainer": {"extId": "ctr-1"}}},
                   {"extId": "cd-0", "diskAddress": {"busType": "IDE", "index": 0}}],
               "nics": [{"extId": "n-0", "networkInfo": {"subnet": {"extId": "s-a"}}},
                        {"extId": "n-1", "nicNetworkInfo": {"subnet": {"extId": "s-b"}}}]})
    }

    #[test]
    fn each_difference_is_one_write_in_order_and_none_when_as_asked() {
        let subnets = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let vm = vm();
        let same = reconfig(vec![40], vec!["a", "b"]);
        assert!(next_change(&vm, "vm-1", &same, &subnets(&["s-a", "s-b"])).is_none());

        let mut more = same.clone();
        more.ram_gib = 8;
        let (m, _) = next_change(&vm, "vm-1", &more, &subnets(&["s-a", "s-b"])).expect("a PUT");
        assert_eq!(
            (m.method, m.path.as_str()),
            (Method::PUT, "/vmm/v4.1/ahv/config/vms/vm-1")
        );
        let body = m.body.expect("the VM");
        assert_eq!(body["memorySizeBytes"], 8u64 << 30);
        assert_eq!(body["disks"], vm["disks"], "the rest as read");

        let grow = reconfig(vec![50, 10], vec!["a", "b"]);
        let (m, _) = next_change(&vm, "vm-1", &grow, &subnets(&["s-a", "s-b"])).expect("a grow");
        assert_eq!(m.path, "/vmm/v4.1/ahv/config/vms/vm-1/disks/d-0");
        assert_eq!(
            m.body.expect("a disk")["backingInfo"]["diskSizeBytes"],
            50u64 << 30
        );

        let add = reconfig(vec![40, 10], vec!["a", "b"]);
        let (m, _) = next_change(&vm, "vm-1", &add, &subnets(&["s-a", "s-b"])).expect("an add");
        assert_eq!(
            (m.method, m.path.as_str()),
            (Method::POST, "/vmm/v4.1/ahv/config/vms/vm-1/disks")
        );
        let body = m.body.expect("a disk");
        assert_eq!(body["diskAddress"]["index"], 1, "after the last SCSI disk");
        assert_eq!(body["backingInfo"]["storageContainer"]["extId"], "ctr-1");
        let shrink = reconfig(vec![30], vec!["a", "b"]);
        assert!(
            next_change(&vm, "vm-1", &shrink, &subnets(&["s-a", "s-b"])).is_none(),
            "never shrinks"
        );

        let (m, _) = next_change(&vm, "vm-1", &same, &subnets(&["s-b", "s-c"])).expect("a NIC off");
        assert_eq!(
            (m.method, m.path.as_str()),
            (Method::DELETE, "/vmm/v4.1/ahv/config/vms/vm-1/nics/n-0")
        );
        let (m, _) =
            next_change(&vm, "vm-1", &same, &subnets(&["s-a", "s-b", "s-c"])).expect("a NIC on");
        assert_eq!(
            (m.method, m.path.as_str()),
            (Method::POST, "/vmm/v4.1/ahv/config/vms/vm-1/nics")
        );
        assert_eq!(
            m.body.expect("a NIC")["networkInfo"]["subnet"]["extId"],
            "s-c"
        );
    }
}

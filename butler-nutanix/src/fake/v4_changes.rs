//! Prism Central v4 changes to an existing VM beyond power: categories
//! (`$actions/associate-categories`, `disassociate-categories`), CPU and
//! memory (`PUT …/vms/{extId}`), disks (`POST …/disks`, `PUT
//! …/disks/{extId}`) and NICs (`POST …/nics`, `DELETE …/nics/{extId}`).
//! Each carries `If-Match` and `NTNX-Request-Id`, has its body checked raw
//! against the SDK's model before anything reads it, goes through the
//! simulator's own rules (AHV's hot-add rules, disks never shrink) and
//! answers a task.

use super::v4::{
    disk_id, done, error, from_backend, guarded, known_categories, nic_id, vm_by_ext_id,
};
use super::*;
use axum::extract::Path;
use butler_core::backend::{VmInfo, VmReconfig};

/// A refusal, boxed (a `Response` is large).
type Refusal = Box<Response>;

fn invalid(message: &str) -> Refusal {
    Box::new(error(
        StatusCode::BAD_REQUEST,
        "VMM-30100",
        "VALIDATION_ERROR",
        message,
    ))
}

/// The JSON body of a change of `kind` (kept as the last of its kind), or
/// Prism's validation error.
fn json_body(f: &Fake, kind: &'static str, body: &[u8]) -> Result<Value, Refusal> {
    let body: Value =
        serde_json::from_slice(body).map_err(|e| invalid(&format!("the body is not JSON: {e}")))?;
    f.keep_v4_body(kind, &body);
    Ok(body)
}

/// Whole GiB from a positive byte count (the simulator counts in GiB).
fn gib(v: &Value, field: &str) -> Result<u32, Refusal> {
    v.as_u64()
        .filter(|b| *b > 0 && b % (1 << 30) == 0)
        .and_then(|b| u32::try_from(b >> 30).ok())
        .ok_or_else(|| {
            invalid(&format!(
                "{field} must be a positive whole number of GiB, got {v}"
            ))
        })
}

/// The VM as it is, as a reconfiguration to edit (the fake serves every VM
/// with one core per socket).
fn as_is(vm: &VmInfo) -> VmReconfig {
    VmReconfig {
        cores_per_socket: 1,
        sockets: vm.vcpus,
        ram_gib: vm.ram_gib,
        disks_gib: vm.disks_gib.clone(),
        nics: vm.nics.clone(),
    }
}

/// Guards the write, reads the VM, lets `edit` change it, applies it and
/// answers `kind`'s task.
async fn change(
    f: &Fake,
    headers: &HeaderMap,
    ext_id: &str,
    kind: &str,
    edit: impl FnOnce(&VmInfo, &mut VmReconfig) -> Result<(), Refusal>,
) -> Response {
    if let Err(r) = guarded(f, headers, ext_id).await {
        return r;
    }
    let vm = match vm_by_ext_id(f, ext_id).await {
        Ok(vm) => vm,
        Err(r) => return r,
    };
    let mut to = as_is(&vm);
    if let Err(r) = edit(&vm, &mut to) {
        return *r;
    }
    match f.sim.reconfigure_vm(ext_id, &to).await {
        Ok(()) => done(f, kind),
        Err(e) => from_backend(e),
    }
}

/// `PUT /api/vmm/{v}/ahv/config/vms/{extId}`: the VM as read, with new
/// `numSockets`, `numCoresPerSocket` and `memorySizeBytes`, and its
/// `project` (v4.1) moved where it names another.
pub(super) async fn update_vm(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&f, "update-vm", &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let project = match body["project"]["extId"].as_str() {
        None => None,
        Some(id) => match super::v4_lists::Ids::load(&f).await {
            Ok(ids) => match ids.project_name(id) {
                Some(name) => Some(name),
                None => return *invalid(&format!("project {id:?} does not exist")),
            },
            Err(r) => return r,
        },
    };
    let changed = change(&f, &headers, &ext_id, "UpdateVmApiResponse", |_, to| {
        let count = |k: &str| {
            body[k]
                .as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| invalid(&format!("{k} must be a positive integer, got {}", body[k])))
        };
        to.sockets = count("numSockets")?;
        to.cores_per_socket = count("numCoresPerSocket")?;
        to.ram_gib = gib(&body["memorySizeBytes"], "memorySizeBytes")?;
        Ok(())
    })
    .await;
    if let (true, Some(p)) = (changed.status().is_success(), project) {
        let vm = match vm_by_ext_id(&f, &ext_id).await {
            Ok(vm) => vm,
            Err(r) => return r,
        };
        if vm.project.as_deref() != Some(p.as_str()) {
            if let Err(e) = f.sim.set_vm_project(&ext_id, &p).await {
                return from_backend(e);
            }
        }
    }
    changed
}

/// The size of a `vmm.v4.ahv.config.Disk` body's `VmDisk` backing.
fn disk_size(body: &Value) -> Result<u32, Refusal> {
    let b = &body["backingInfo"];
    if b["$objectType"] != "vmm.v4.ahv.config.VmDisk" {
        return Err(invalid(&format!(
            "backingInfo.$objectType must be vmm.v4.ahv.config.VmDisk, got {}",
            b["$objectType"]
        )));
    }
    gib(&b["diskSizeBytes"], "backingInfo.diskSizeBytes")
}

/// `POST /api/vmm/{v}/ahv/config/vms/{extId}/disks`: a new disk.
pub(super) async fn create_disk(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&f, "disk", &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    change(&f, &headers, &ext_id, "CreateDiskApiResponse", |_, to| {
        to.disks_gib.push(disk_size(&body)?);
        Ok(())
    })
    .await
}

/// `PUT /api/vmm/{v}/ahv/config/vms/{extId}/disks/{diskExtId}`: a disk's
/// new size (the simulator refuses a smaller one, as AHV does).
pub(super) async fn update_disk(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id, disk)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&f, "disk-update", &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    change(&f, &headers, &ext_id, "UpdateDiskApiResponse", |vm, to| {
        let i = (0..vm.disks_gib.len())
            .find(|i| disk_id(&vm.uuid, *i) == disk)
            .ok_or_else(|| not_found("disk", &disk))?;
        to.disks_gib[i] = disk_size(&body)?;
        Ok(())
    })
    .await
}

/// `POST /api/vmm/{v}/ahv/config/vms/{extId}/nics`: a NIC on a subnet the
/// VM's cluster has.
pub(super) async fn create_nic(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_body(&f, "nic", &body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let ids = match super::v4_lists::Ids::load(&f).await {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    change(&f, &headers, &ext_id, "CreateNicApiResponse", |vm, to| {
        let info = if body["nicNetworkInfo"].is_object() {
            &body["nicNetworkInfo"]
        } else {
            &body["networkInfo"]
        };
        let subnet = info["subnet"]["extId"].as_str().unwrap_or_default();
        let name = ids.subnet_name(subnet, &vm.cluster).ok_or_else(|| {
            invalid(&format!(
                "subnet {subnet:?} is not on the VM's cluster {}",
                vm.cluster
            ))
        })?;
        to.nics.push(name);
        Ok(())
    })
    .await
}

/// `DELETE /api/vmm/{v}/ahv/config/vms/{extId}/nics/{nicExtId}`.
pub(super) async fn delete_nic(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id, nic)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    change(&f, &headers, &ext_id, "DeleteNicApiResponse", |vm, to| {
        let i = (0..vm.nics.len())
            .find(|i| nic_id(&vm.uuid, *i) == nic)
            .ok_or_else(|| not_found("NIC", &nic))?;
        to.nics.remove(i);
        Ok(())
    })
    .await
}

fn not_found(what: &str, id: &str) -> Refusal {
    Box::new(error(
        StatusCode::NOT_FOUND,
        "VMM-20005",
        "VMM_ERROR",
        &format!("{what} {id} not found on this VM"),
    ))
}

/// `associate-categories` / `disassociate-categories`: the body checked
/// raw (`{"categories": [{"extId": …}, …]}`, at least one, each a category
/// Prism has), then the VM's categories changed and a task answered.
pub(super) async fn categories(
    f: &Fake,
    headers: &HeaderMap,
    ext_id: &str,
    associate: bool,
    body: &[u8],
) -> Response {
    if let Err(r) = guarded(f, headers, ext_id).await {
        return r;
    }
    let body = match json_body(f, "categories", body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(refs) = body["categories"].as_array().filter(|c| !c.is_empty()) else {
        return *invalid("categories must be a non-empty list of {\"extId\": …}");
    };
    let known = known_categories(f).await;
    let mut pairs = Vec::new();
    for r in refs {
        let id = r["extId"].as_str().unwrap_or_default();
        match known.iter().find(|(_, _, k)| k == id) {
            Some((k, v, _)) => pairs.push(format!("{k}:{v}")),
            None => return *invalid(&format!("category {id:?} does not exist")),
        }
    }
    let vm = match vm_by_ext_id(f, ext_id).await {
        Ok(vm) => vm,
        Err(r) => return r,
    };
    let mut categories = vm.categories.clone();
    if associate {
        for p in pairs {
            if !categories.contains(&p) {
                categories.push(p);
            }
        }
    } else {
        categories.retain(|c| !pairs.contains(c));
    }
    f.sim.set_vm_categories(ext_id, categories);
    done(
        f,
        if associate {
            "AssociateCategoriesApiResponse"
        } else {
            "DisassociateCategoriesApiResponse"
        },
    )
}

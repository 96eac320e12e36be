//! Prism Central v4 (GA `v4.0` and later minor versions): the fake's VM,
//! VM action and task routes, in v4's shapes (`data` envelopes with
//! `$objectType`, sizes in bytes, `ETag` and `If-Match`, `NTNX-Request-Id`
//! on every mutation, task ids `ZXJnb24=:<uuid>`, errors as
//! `data.error[]`). Every answer is checked by Nutanix's own Python SDKs in
//! `butler-py/tests/test_nutanix_v4_sdk.py`; request bodies are checked here, raw,
//! before anything reads them.

use super::*;
use axum::extract::Path;
use butler_core::backend::{PowerChange, PowerState, TaskState, VmCreate, VmInfo};

/// The prefix of every v4 task id (base64 of "ergon", then a colon).
const TASK_PREFIX: &str = "ZXJnb24=:";

/// v4's error envelope: `data.error[]` with a code, an error group and a
/// message, as `prism.v4.error.ErrorResponse` holds it.
pub(super) fn error(status: StatusCode, code: &str, group: &str, message: &str) -> Response {
    let body = json!({
        "data": {
            "$objectType": "vmm.v4.error.ErrorResponse",
            "error": [{"$objectType": "vmm.v4.error.AppMessage",
                       "code": code, "errorGroup": group, "message": message,
                       "severity": "ERROR", "locale": "en_US"}],
        },
        "$objectType": "vmm.v4.error.ErrorResponse",
    });
    (status, axum::Json(body)).into_response()
}

pub(super) fn from_backend(e: BackendError) -> Response {
    let status = super::from_backend(e.clone()).status();
    let code = match e.kind {
        ErrorKind::NotFound => "VMM-20005",
        ErrorKind::Invalid => "VMM-30100",
        ErrorKind::Conflict => "VMM-30303",
        ErrorKind::RateLimited => "PLAT-429",
        _ => "VMM-50000",
    };
    let group = if e.kind == ErrorKind::RateLimited {
        "RATE_LIMIT_EXCEEDED"
    } else {
        "VMM_ERROR"
    };
    error(status, code, group, &e.message)
}

/// The `NTNX-Request-Id` of a mutation: required, and a UUID (Prism
/// refuses anything else).
pub(super) fn request_id(headers: &HeaderMap) -> Result<String, Box<Response>> {
    let id = headers
        .get("ntnx-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let uuid_shaped = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if uuid_shaped {
        Ok(id.to_string())
    } else {
        Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "PLAT-10009",
            "VALIDATION_ERROR",
            &format!("NTNX-Request-Id must be a UUID, got {id:?}"),
        )))
    }
}

/// A VM's `ETag`: a digest of everything a change would move, so any
/// change (power included) makes the previous one stale.
fn etag(f: &Fake, v: &VmInfo) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let changed_outside = f
        .etag_bumps
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&v.uuid)
        .copied()
        .unwrap_or(0);
    (
        changed_outside,
        &v.uuid,
        v.power == PowerState::On,
        v.vcpus,
        v.ram_gib,
        &v.disks_gib,
        &v.nics,
        &v.categories,
        &v.project,
    )
        .hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

/// The `If-Match` a mutation of `v` must carry: missing is 412
/// `PLAT-10004`, stale is 412 `VM_ETAG_MISMATCH` (re-read and retry).
fn if_match(f: &Fake, headers: &HeaderMap, v: &VmInfo) -> Result<(), Box<Response>> {
    match headers.get("if-match").and_then(|h| h.to_str().ok()) {
        None => Err(Box::new(error(
            StatusCode::PRECONDITION_FAILED,
            "PLAT-10004",
            "MISSING_ETAG_HEADER",
            "If-Match header is required",
        ))),
        Some(t) if t == etag(f, v) => Ok(()),
        Some(_) => {
            f.stale_etags.fetch_add(1, Ordering::SeqCst);
            Err(Box::new(error(
                StatusCode::PRECONDITION_FAILED,
                "VMM-30303",
                "VM_ETAG_MISMATCH",
                "If-Match header value passed does not match the VM's current ETag",
            )))
        }
    }
}

pub(super) async fn vm_by_ext_id(f: &Fake, ext_id: &str) -> Result<VmInfo, Response> {
    for c in f.sim.list_clusters().await.map_err(from_backend)? {
        if let Some(v) = f
            .sim
            .list_vms(&c.name)
            .await
            .map_err(from_backend)?
            .into_iter()
            .find(|v| v.uuid == ext_id)
        {
            return Ok(v);
        }
    }
    Err(error(
        StatusCode::NOT_FOUND,
        "VMM-20005",
        "VMM_ERROR",
        &format!("VM {ext_id} not found"),
    ))
}

/// A VM as `vmm.v4.ahv.config.Vm` (the fields Butler and the SDK read),
/// referring to its cluster, subnets, project and categories by id.
pub(super) fn vm_json(v: &VmInfo, ids: &super::v4_lists::Ids) -> Value {
    let disks: Vec<Value> = v
        .disks_gib
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({"$objectType": "vmm.v4.ahv.config.Disk", "extId": disk_id(&v.uuid, i),
                   "diskAddress": {"$objectType": "vmm.v4.ahv.config.DiskAddress", "busType": "SCSI", "index": i},
                   "backingInfo": {"$objectType": "vmm.v4.ahv.config.VmDisk",
                                   "diskSizeBytes": u64::from(*g) << 30}})
        })
        .collect();
    let nics: Vec<Value> = v
        .nics
        .iter()
        .enumerate()
        .map(|(i, subnet)| {
            let mut info = json!({"$objectType": "vmm.v4.ahv.config.NicNetworkInfo", "nicType": "NORMAL_NIC"});
            if let Some(id) = ids.subnet(subnet, &v.cluster) {
                info["subnet"] = json!({"$objectType": "vmm.v4.ahv.config.SubnetReference", "extId": id});
            }
            if let Some(ip) = v.ip_addresses.get(i) {
                info["ipv4Info"] = json!({"$objectType": "vmm.v4.ahv.config.Ipv4Info",
                    "learnedIpAddresses": [{"$objectType": "common.v1.config.IPv4Address", "value": ip, "prefixLength": 32}]});
            }
            json!({"$objectType": "vmm.v4.ahv.config.Nic", "extId": nic_id(&v.uuid, i), "networkInfo": info})
        })
        .collect();
    let mut vm = json!({
        "$objectType": "vmm.v4.ahv.config.Vm",
        // Every v4 object carries `$reserved`; the SDKs put the `ETag`
        // header there, and only where it exists.
        "$reserved": {"$fv": "v4.r1"},
        "extId": v.uuid,
        "name": v.name,
        "numSockets": v.vcpus,
        "numCoresPerSocket": 1,
        "memorySizeBytes": u64::from(v.ram_gib) << 30,
        "powerState": match v.power {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
            _ => "UNDETERMINED",
        },
        "cluster": {"$objectType": "vmm.v4.ahv.config.ClusterReference", "extId": ids.cluster(&v.cluster)},
        "disks": disks,
        "nics": nics,
    });
    if let Some(p) = ids.project(&v.project) {
        vm["project"] = json!({"$objectType": "vmm.v4.ahv.config.ProjectReference", "extId": p});
    }
    let categories: Vec<Value> = v
        .categories
        .iter()
        .filter_map(|c| ids.category(c))
        .map(|id| json!({"$objectType": "vmm.v4.ahv.config.CategoryReference", "extId": id}))
        .collect();
    if !categories.is_empty() {
        vm["categories"] = json!(categories);
    }
    vm
}

pub(super) fn envelope(object_type: &str, data: Value) -> Value {
    json!({"data": data,
           "metadata": {"$objectType": "common.v1.response.ApiResponseMetadata",
                        "flags": [{"$objectType": "common.v1.config.Flag", "name": "hasError", "value": false},
                                  {"$objectType": "common.v1.config.Flag", "name": "isPaginated", "value": false}]},
           "$objectType": object_type})
}

/// A mutation's answer: 202 with the task to follow.
pub(super) fn task_reference(object_type: &str, task: &str) -> Response {
    let data = json!({"$objectType": "prism.v4.config.TaskReference",
                      "$reserved": {"$fv": "v4.r0"},
                      "extId": format!("{TASK_PREFIX}{task}")});
    (
        StatusCode::ACCEPTED,
        axum::Json(envelope(object_type, data)),
    )
        .into_response()
}

/// A change the fake made at once: answered with a task that has
/// succeeded, in the `vmm.v4.ahv.config.{kind}` envelope.
pub(super) fn done(f: &Fake, kind: &str) -> Response {
    let t = format!("v4-change-{}", f.counter.fetch_add(1, Ordering::SeqCst));
    f.synthetic_tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(t.clone());
    task_reference(&format!("vmm.v4.ahv.config.{kind}"), &t)
}

/// The id of disk `i` of VM `vm` (stable while the disks before it stay).
pub(super) fn disk_id(vm: &str, i: usize) -> String {
    crate::v4::request_id(&["disk", vm, &i.to_string()])
}

/// The id of NIC `i` of VM `vm`.
pub(super) fn nic_id(vm: &str, i: usize) -> String {
    crate::v4::request_id(&["nic", vm, &i.to_string()])
}

/// `GET /api/vmm/{v}/ahv/config/vms/{extId}`: the VM, its `ETag` in the
/// header.
pub(super) async fn get_vm(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
) -> Response {
    let vm = match vm_by_ext_id(&f, &ext_id).await {
        Ok(vm) => vm,
        Err(r) => return r,
    };
    let ids = match super::v4_lists::Ids::load(&f).await {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let tag = etag(&f, &vm);
    // A change made elsewhere right after this read (a test's race).
    let raced = f
        .etag_race
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take_if(|u| *u == vm.uuid)
        .is_some();
    if raced {
        *f.etag_bumps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(vm.uuid.clone())
            .or_insert(0) += 1;
    }
    (
        [("etag", tag)],
        axum::Json(envelope(
            "vmm.v4.ahv.config.GetVmApiResponse",
            vm_json(&vm, &ids),
        )),
    )
        .into_response()
}

/// `POST /api/vmm/{v}/ahv/config/vms`: a create, checked raw against
/// `vmm.v4.ahv.config.Vm`, deduplicated by its `NTNX-Request-Id` (a repeat
/// answers the first create's task); in its `project` (v4.1), or else in
/// Prism's default project.
pub(super) async fn create_vm(
    State(f): State<Arc<Fake>>,
    headers: HeaderMap,
    Body(body): Body,
) -> Response {
    let key = match request_id(&headers) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    f.keep_v4_body("vm", &body);
    let create = match create_of(&f, &body).await {
        Ok(c) => c.request_id(key),
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                "VMM-30100",
                "VALIDATION_ERROR",
                &why,
            )
        }
    };
    // The simulator keeps the request id with its task, as Prism does: a
    // repeat (a reply lost after the work) answers the first task.
    match f.sim.create_vm(&create).await {
        Ok(task) => task_reference("vmm.v4.ahv.config.CreateVmApiResponse", &task.0),
        Err(e) => from_backend(e),
    }
}

/// The simulator's create for a v4 body, or what is wrong with the body.
async fn create_of(f: &Fake, body: &Value) -> Result<VmCreate, String> {
    let positive = |key: &str| {
        body[key]
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{key} must be a positive integer, got {}", body[key]))
    };
    let name = body["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or("name is required")?;
    let sockets = u32::try_from(positive("numSockets")?).map_err(|e| e.to_string())?;
    let cores = u32::try_from(positive("numCoresPerSocket")?).map_err(|e| e.to_string())?;
    let memory = positive("memorySizeBytes")?;
    if memory % (1 << 20) != 0 {
        return Err(format!(
            "memorySizeBytes {memory} is not a whole number of MiB"
        ));
    }
    let clusters = f.sim.list_clusters().await.map_err(|e| e.message)?;
    let cluster_id = body["cluster"]["extId"].as_str().unwrap_or_default();
    let cluster = clusters
        .iter()
        .find(|c| c.uuid == cluster_id)
        .map(|c| c.name.clone())
        .ok_or_else(|| format!("cluster.extId {cluster_id:?} is not a cluster"))?;
    let images = f.sim.list_images().await.map_err(|e| e.message)?;
    let containers = f
        .sim
        .list_storage_containers()
        .await
        .map_err(|e| e.message)?;
    let subnets = f.sim.list_subnets().await.map_err(|e| e.message)?;
    let (mut disks, mut image, mut container) = (Vec::new(), None, None);
    for d in body["disks"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let b = &d["backingInfo"];
        if b["$objectType"] != "vmm.v4.ahv.config.VmDisk" {
            return Err(format!(
                "disks[].backingInfo.$objectType must be vmm.v4.ahv.config.VmDisk, got {}",
                b["$objectType"]
            ));
        }
        let bytes = b["diskSizeBytes"]
            .as_u64()
            .filter(|n| *n > 0 && n % (1 << 30) == 0)
            .ok_or_else(|| {
                format!(
                    "diskSizeBytes must be whole GiB, got {}",
                    b["diskSizeBytes"]
                )
            })?;
        disks.push(u32::try_from(bytes >> 30).map_err(|e| e.to_string())?);
        if let Some(ctr) = b["storageContainer"]["extId"].as_str() {
            let c = containers
                .iter()
                .find(|c| c.uuid == ctr && c.cluster == cluster)
                .ok_or_else(|| format!("storage container {ctr} is not on cluster {cluster}"))?;
            container = Some(c.name.clone());
        }
        let reference = &b["dataSource"]["reference"];
        if let Some(img) = reference["imageExtId"].as_str() {
            if reference["$objectType"] != "vmm.v4.ahv.config.ImageReference" {
                return Err(
                    "dataSource.reference.$objectType must be vmm.v4.ahv.config.ImageReference"
                        .into(),
                );
            }
            image = Some(
                images
                    .iter()
                    .find(|i| i.uuid == img)
                    .map(|i| i.name.clone())
                    .ok_or_else(|| format!("image {img} not found"))?,
            );
        }
    }
    let mut nics = Vec::new();
    for n in body["nics"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let id = n["networkInfo"]["subnet"]["extId"]
            .as_str()
            .unwrap_or_default();
        let base = id.split_once(':').map_or(id, |(b, _)| b);
        nics.push(
            subnets
                .iter()
                .find(|s| s.uuid == base)
                .map(|s| s.name.clone())
                .ok_or_else(|| format!("subnet {id:?} not found"))?,
        );
    }
    let boot = body["bootConfig"]["$objectType"]
        .as_str()
        .unwrap_or_default();
    if !["vmm.v4.ahv.config.UefiBoot", "vmm.v4.ahv.config.LegacyBoot"].contains(&boot) {
        return Err(format!(
            "bootConfig.$objectType {boot:?} is not a boot type"
        ));
    }
    let projects = f.sim.list_projects().await.map_err(|e| e.message)?;
    let project = match body["project"]["extId"].as_str() {
        Some(id) => projects
            .iter()
            .find(|p| p.uuid == id)
            .map(|p| p.name.clone())
            .ok_or_else(|| format!("project.extId {id:?} is not a project"))?,
        // No project: Prism's default one (here the first that may use
        // the VM's cluster and subnets).
        None => projects
            .iter()
            .find(|p| p.clusters.contains(&cluster) && nics.iter().all(|n| p.subnets.contains(n)))
            .map(|p| p.name.clone())
            .unwrap_or_default(),
    };
    let mut category = String::new();
    for c in body["categories"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let id = c["extId"].as_str().unwrap_or_default();
        category = known_categories(f)
            .await
            .into_iter()
            .find(|(_, _, ext_id)| ext_id == id)
            .map(|(k, v, _)| format!("{k}:{v}"))
            .ok_or_else(|| format!("category {id:?} not found"))?;
    }
    Ok(VmCreate::new(name, cluster)
        .project(project)
        .category(category)
        .power_on(body["powerState"] == "ON")
        .cpu(sockets, cores)
        .ram_gib(u32::try_from(memory >> 30).map_err(|e| e.to_string())?)
        .disks_gib(disks)
        .image(image)
        .nics(nics)
        .storage_container(container)
        .cdrom(body["cdRoms"].as_array().is_some_and(|c| !c.is_empty()))
        .uefi(boot == "vmm.v4.ahv.config.UefiBoot"))
}

/// Every category the fake knows (the simulator's and those created
/// through v3), with its v4 id (a digest of key and value).
pub(super) async fn known_categories(f: &Fake) -> Vec<(String, String, String)> {
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    let created = f
        .categories
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for (k, values) in created {
        pairs.extend(values.into_iter().map(|v| (k.clone(), v)));
    }
    pairs.extend(f.sim.category_pairs());
    pairs
        .into_iter()
        .map(|(k, v)| {
            let id = crate::v4::request_id(&["category", &k, &v]);
            (k, v, id)
        })
        .collect()
}

/// What every v4 mutation of VM `ext_id` must carry: a request id, and
/// the VM's current `ETag` as `If-Match` (Prism's refusal otherwise).
pub(super) async fn guarded(f: &Fake, headers: &HeaderMap, ext_id: &str) -> Result<(), Response> {
    request_id(headers).map_err(|r| *r)?;
    let vm = vm_by_ext_id(f, ext_id).await?;
    if_match(f, headers, &vm).map_err(|r| *r)?;
    f.v4_writes.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// `DELETE /api/vmm/{v}/ahv/config/vms/{extId}` (`If-Match` required).
pub(super) async fn delete_vm(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = guarded(&f, &headers, &ext_id).await {
        return r;
    }
    match f.sim.delete_vm(&ext_id).await {
        Ok(task) => task_reference("vmm.v4.ahv.config.DeleteVmApiResponse", &task.0),
        Err(e) => from_backend(e),
    }
}

/// `POST /api/vmm/{v}/ahv/config/vms/{extId}/$actions/{action}`: the power
/// actions (`power-on`, `power-off`, `shutdown`, `reboot`), the category
/// ones (`associate-categories`, `disassociate-categories`), each with
/// `If-Match` and `NTNX-Request-Id`, and `migrate` (its `$dryrun` too).
pub(super) async fn action(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id, action)): Path<(String, String, String)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if action == "migrate" {
        let dry_run = query
            .unwrap_or_default()
            .split('&')
            .any(|kv| kv == "$dryrun=true" || kv == "%24dryrun=true");
        return super::v4_moves::migrate(&f, &headers, &ext_id, dry_run, &body).await;
    }
    if let Some(associate) = match action.as_str() {
        "associate-categories" => Some(true),
        "disassociate-categories" => Some(false),
        _ => None,
    } {
        return super::v4_changes::categories(&f, &headers, &ext_id, associate, &body).await;
    }
    let change = match action.as_str() {
        "power-on" => PowerChange::On,
        "power-off" => PowerChange::HardOff,
        "shutdown" => PowerChange::GuestShutdown,
        "reboot" => PowerChange::GuestRestart,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                "PLAT-404",
                "NOT_FOUND",
                &format!("no action {other}"),
            )
        }
    };
    if let Err(r) = guarded(&f, &headers, &ext_id).await {
        return r;
    }
    match f.sim.set_power(&ext_id, change).await {
        Ok(()) => done(
            &f,
            match change {
                PowerChange::On => "PowerOnVmApiResponse",
                PowerChange::HardOff => "PowerOffVmApiResponse",
                PowerChange::GuestShutdown => "ShutdownVmApiResponse",
                _ => "RebootVmApiResponse",
            },
        ),
        Err(e) => from_backend(e),
    }
}

/// `GET /api/prism/{v}/config/tasks/{extId}` (`prism.v4.config.Task`):
/// status, progress, the VM among `entitiesAffected` by its `rel`, and why
/// it failed.
pub(super) async fn task(
    State(f): State<Arc<Fake>>,
    Path((_v, ext_id)): Path<(String, String)>,
) -> Response {
    let Some(id) = ext_id.strip_prefix(TASK_PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            "PRISM-40404",
            "NOT_FOUND",
            &format!("task {ext_id} not found"),
        );
    };
    let synthetic = f
        .synthetic_tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(id);
    let failed = f
        .failed_tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned();
    let (status, percent, entity, failure) = if synthetic {
        ("SUCCEEDED", 100, None, None)
    } else if let Some(why) = failed {
        ("FAILED", 100, None, Some(why))
    } else {
        match f
            .sim
            .task(&butler_core::backend::TaskId(id.to_string()))
            .await
        {
            Ok(t) => {
                let (status, failure) = match t.state {
                    TaskState::Queued => ("QUEUED", None),
                    TaskState::Running => ("RUNNING", None),
                    TaskState::Succeeded => ("SUCCEEDED", None),
                    TaskState::Failed(why) => ("FAILED", Some(why)),
                    TaskState::Aborted => ("CANCELED", None),
                };
                (status, t.percent, t.entity_uuid, failure)
            }
            Err(_) => {
                return error(
                    StatusCode::NOT_FOUND,
                    "PRISM-40404",
                    "NOT_FOUND",
                    &format!("task {ext_id} not found"),
                )
            }
        }
    };
    if f.task_in_progress(&ext_id) {
        let data = json!({"$objectType": "prism.v4.config.Task", "extId": ext_id,
                          "status": "RUNNING", "progressPercentage": 0});
        return axum::Json(envelope("prism.v4.config.GetTaskApiResponse", data)).into_response();
    }
    // A cluster reference first, as Prism lists it: the VM is found by
    // its `rel`, never by position.
    let mut affected = vec![json!({"$objectType": "prism.v4.config.EntityReference",
                                   "extId": "00000000-0000-0000-0000-00000000c1a5",
                                   "rel": "clustermgmt:config:cluster"})];
    if let Some(vm) = entity {
        affected.push(json!({"$objectType": "prism.v4.config.EntityReference",
                             "extId": vm, "rel": "vmm:ahv:config:vm"}));
    }
    let named = f
        .task_entities
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(id)
        .cloned()
        .unwrap_or_default();
    for (rel, ext) in named {
        affected.push(json!({"$objectType": "prism.v4.config.EntityReference",
                             "extId": ext, "rel": rel}));
    }
    let mut data = json!({"$objectType": "prism.v4.config.Task", "extId": ext_id,
                          "status": status, "progressPercentage": percent,
                          "entitiesAffected": affected});
    if let Some(why) = failure {
        data["errorMessages"] = json!([{"$objectType": "prism.v4.config.AppMessage",
                                        "message": why, "severity": "ERROR"}]);
    }
    axum::Json(envelope("prism.v4.config.GetTaskApiResponse", data)).into_response()
}

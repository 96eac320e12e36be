//! Prism Central v3: the fake's routes, one handler each.

use super::*;
use axum::extract::Path;
use butler_core::backend::{PowerChange, PowerState, TaskState, VmCreate, VmInfo, VmState};

/// Clusters and projects as PC v3 refers to them (by uuid).
struct Pc {
    clusters: Vec<butler_core::backend::ClusterInfo>,
    projects: Vec<butler_core::backend::ProjectInfo>,
}

impl Pc {
    async fn load(sim: &SimPlatform) -> Result<Pc, Response> {
        Ok(Pc {
            clusters: sim.list_clusters().await.map_err(from_backend)?,
            projects: sim.list_projects().await.map_err(from_backend)?,
        })
    }

    fn cluster_uuid(&self, name: &str) -> String {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.uuid.clone())
            .unwrap_or_default()
    }

    fn project_uuid(&self, name: &Option<String>) -> String {
        name.as_ref()
            .and_then(|n| self.projects.iter().find(|p| &p.name == n))
            .map(|p| p.uuid.clone())
            .unwrap_or_default()
    }
}

macro_rules! pc_or_return {
    ($sim:expr) => {
        match Pc::load($sim).await {
            Ok(pc) => pc,
            Err(r) => return r,
        }
    };
}

/// `GET /users/me`: Basic credentials in, a session cookie out.
pub(super) async fn login(State(f): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    if !basic_ok(&headers) {
        return unauthorized();
    }
    if f.quirks().login_without_cookie {
        return axum::Json(json!({"status": {"name": USER}})).into_response();
    }
    let token = format!("s{}", f.counter.fetch_add(1, Ordering::SeqCst));
    f.sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone());
    (
        StatusCode::OK,
        [(
            "set-cookie",
            format!("NTNX_IGW_SESSION={token}; Path=/; HttpOnly"),
        )],
        axum::Json(json!({"status": {"name": USER}})),
    )
        .into_response()
}

/// `POST /{kind}/list`, with the paging quirks switched on in [`Quirks`]:
/// a lying `total_matches`, pages that never end, padded bodies.
pub(super) async fn list(
    State(f): State<Arc<Fake>>,
    uri: axum::http::Uri,
    Body(body): Body,
) -> Response {
    let q = f.quirks();
    let body = capped(&q, body);
    if q.in_band_errors {
        return axum::Json(json!({"api_version": "3.1", "code": 422, "kind": "vm", "state": "ERROR",
            "message_list": [{"reason": "INVALID_REQUEST", "message": "Request could not be processed.",
                              "details": {"metadata": ["'kind' is a required property"]}}]}))
        .into_response();
    }
    if q.endless_pages {
        // Always a full page, never a total: a client must bound itself.
        let length = body
            .get("length")
            .and_then(Value::as_u64)
            .unwrap_or(20)
            .min(500);
        let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0);
        let items: Vec<Value> = (offset..offset + length)
            .map(|i| json!({"metadata": {"kind": "vm", "uuid": format!("endless-{i}")}, "status": {"name": format!("endless-{i}")}}))
            .collect();
        return axum::Json(
            json!({"api_version": "3.1", "metadata": {"kind": "vm"}, "entities": items}),
        )
        .into_response();
    }
    let resp = list_pages(State(f.clone()), uri, Body(body)).await;
    if q.claim_total.is_none() && q.pad_bytes == 0 {
        return resp;
    }
    let (parts, b) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(b, usize::MAX).await else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "body");
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return (parts.status, bytes).into_response();
    };
    if let Some(t) = q.claim_total {
        v["metadata"]["total_matches"] = json!(t);
    }
    if q.pad_bytes > 0 {
        v["padding"] = json!("x".repeat(q.pad_bytes));
    }
    (parts.status, axum::Json(v)).into_response()
}

/// A list request as a Prism capping its pages at [`Quirks::page_cap`]
/// serves it: `length` cut to the cap.
fn capped(q: &super::Quirks, mut body: Value) -> Value {
    if let Some(cap) = q.page_cap {
        let asked = body.get("length").and_then(Value::as_u64).unwrap_or(20);
        body["length"] = json!(asked.min(cap as u64));
    }
    body
}

/// Paged lists with Prism's defaults (20 per page, at most 500).
async fn list_pages(
    State(f): State<Arc<Fake>>,
    uri: axum::http::Uri,
    Body(body): Body,
) -> Response {
    // The kind is the segment before `/list` (`/vms/list` shares its prefix
    // with `/vms/{uuid}`, so it cannot be a path parameter).
    let kind = uri
        .path()
        .trim_end_matches("/list")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let sim = &f.sim;
    let pc = pc_or_return!(sim);
    let body = &body;

    let filter = body
        .get("filter")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match kind.as_str() {
        "clusters" => {
            let mut list = vec![json!({"metadata": {"kind": "cluster", "uuid": "pc-0000"},
                        "status": {"name": "prism-central", "resources": {"config": {"service_list": ["PRISM_CENTRAL"]}}}})];
            list.extend(pc.clusters.iter().map(|c| json!({"metadata": {"kind": "cluster", "uuid": c.uuid},
                        "status": {"name": c.name, "resources": {"config": {"service_list": ["AOS"]}}}})));
            page(list, body, "cluster", false)
        }
        "projects" => {
            let omit_clusters = f.quirks().projects_without_clusters;
            let list = pc.projects
                        .iter()
                        .map(|p| {
                            let mut v = json!({"metadata": {"kind": "project", "uuid": p.uuid}, "spec": {"name": p.name, "resources": {
                                "cluster_reference_list": p.clusters.iter().map(|c| json!({"kind": "cluster", "uuid": pc.cluster_uuid(c)})).collect::<Vec<_>>(),
                                "subnet_reference_list": p.subnets.iter().map(|s| json!({"kind": "subnet", "name": s})).collect::<Vec<_>>()}}});
                            if omit_clusters {
                                if let Some(r) = v["spec"]["resources"].as_object_mut() {
                                    r.remove("cluster_reference_list");
                                }
                            }
                            v
                        })
                        .collect();
            page(list, body, "project", true)
        }
        "subnets" => match sim.list_subnets().await {
            Ok(s) => {
                let list = super::served_subnets(&f.quirks(), &s, &pc.clusters)
                            .into_iter()
                            .map(|s| {
                                let mut v = json!({"metadata": {"kind": "subnet", "uuid": s.uuid}, "status": {"name": s.name,
                                    "resources": {"subnet_type": "VLAN", "vlan_id": s.vlan_id}}});
                                if let Some(c) = s.cluster {
                                    v["status"]["cluster_reference"] = json!({"kind": "cluster", "name": c.name, "uuid": c.uuid});
                                }
                                if let Some(vpc) = s.vpc {
                                    // A VPC's overlay subnet: no cluster
                                    // reference, a VPC reference instead.
                                    v["status"]["resources"] = json!({"subnet_type": "OVERLAY",
                                        "vpc_reference": {"kind": "vpc", "name": "apps", "uuid": vpc}});
                                }
                                v
                            })
                            .collect();
                page(list, body, "subnet", true)
            }
            Err(e) => from_backend(e),
        },
        "images" => match sim.list_images().await {
            Ok(i) => {
                let mut list: Vec<Value> = i.iter().map(|i| json!({"metadata": {"kind": "image", "uuid": i.uuid}, "status": {"name": i.name, "state": "COMPLETE", "resources": {"image_type": "DISK_IMAGE", "size_bytes": u64::from(i.size_gib) << 30}}})).collect();
                if f.quirks().iso_and_duplicate_images {
                    // An ISO and an upload in progress under a disk image's
                    // name, and a second complete disk image under another's.
                    for (n, (name, ty, state)) in i.iter().take(2).enumerate().map(|(k, im)| {
                        (
                            k,
                            match k {
                                0 => (im.name.clone(), "ISO_IMAGE", "COMPLETE"),
                                _ => (im.name.clone(), "DISK_IMAGE", "COMPLETE"),
                            },
                        )
                    }) {
                        list.push(json!({"metadata": {"kind": "image", "uuid": format!("dup-{n}")}, "status": {"name": name, "state": state, "resources": {"image_type": ty, "size_bytes": 1u64 << 30}}}));
                    }
                    if let Some(first) = i.first() {
                        list.push(json!({"metadata": {"kind": "image", "uuid": "pending-0"}, "status": {"name": first.name, "state": "PENDING", "resources": {"image_type": "DISK_IMAGE"}}}));
                    }
                }
                page(list, body, "image", true)
            }
            Err(e) => from_backend(e),
        },
        "vms" => {
            if let Some(c) = filter.strip_prefix("cluster_name==") {
                let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
                let length = body
                    .get("length")
                    .and_then(Value::as_u64)
                    .unwrap_or(20)
                    .min(500) as usize;
                let bare = f.quirks().pending_without_status;
                return match sim.list_vms_page(c, offset, length).await {
                    Ok((vms, total)) => {
                        let uuids: Vec<(String, String)> = vms
                            .iter()
                            .map(|v| (pc.cluster_uuid(&v.cluster), pc.project_uuid(&v.project)))
                            .collect();
                        let entities: Vec<_> = vms
                            .iter()
                            .zip(&uuids)
                            .map(|(v, (c, p))| vm_entity(v, c, p, None, bare))
                            .collect();
                        let metadata = shape::PageMetadata {
                            kind: "vm",
                            total_matches: total,
                            offset,
                            length: entities.len(),
                        };
                        axum::Json(shape::Page {
                            api_version: "3.1",
                            metadata,
                            entities,
                        })
                        .into_response()
                    }
                    Err(e) => from_backend(e),
                };
            }
            let vms = all_vms(sim)
                .await
                .map(|all| match filter.strip_prefix("vm_name==") {
                    Some(n) => all.into_iter().filter(|v| v.name == n).collect(),
                    None => all,
                });
            match vms {
                // "Entities that have not been created successfully are not listed" — but
                // PENDING ones are, which is what makes look-up-before-create work.
                Ok(vms) => page_of(vms, body, "vm", true, |v| {
                    vm_json(
                        &v,
                        &pc.cluster_uuid(&v.cluster),
                        &pc.project_uuid(&v.project),
                        None,
                        f.quirks().pending_without_status,
                    )
                }),
                Err(e) => from_backend(e),
            }
        }
        other => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no list endpoint {other}"),
        ),
    }
}

/// `POST /vms`: creates a VM; answers 202 with the task.
pub(super) async fn create_vm(State(f): State<Arc<Fake>>, Body(body): Body) -> Response {
    let sim = &f.sim;
    let pc = pc_or_return!(sim);
    *f.last_vm_create.lock().unwrap_or_else(|e| e.into_inner()) = Some(body.clone());
    let body = &body;
    // The documented shape, checked on the raw body: sizes are positive
    // integers where the v3 schema puts them (never defaulted).
    for key in ["num_sockets", "num_vcpus_per_socket", "memory_size_mib"] {
        let v = &body["spec"]["resources"][key];
        if v.as_u64().is_none_or(|n| n == 0) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_REQUEST",
                &format!("spec.resources.{key} must be a positive integer, got {v}"),
            );
        }
    }

    let s = |p: &[&str]| crate::decode::s(body, p);
    let r = crate::decode::at(body, &["spec", "resources"]);
    let cluster = pc
        .clusters
        .iter()
        .find(|c| c.uuid == s(&["spec", "cluster_reference", "uuid"]))
        .map(|c| c.name.clone());
    let project = pc
        .projects
        .iter()
        .find(|p| p.uuid == s(&["metadata", "project_reference", "uuid"]))
        .map(|p| p.name.clone());
    let (Some(cluster), Some(project)) = (cluster, project) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "unknown cluster_reference or project_reference",
        );
    };
    let subnets = sim.list_subnets().await.unwrap_or_default();
    let images = sim.list_images().await.unwrap_or_default();
    let containers = sim.list_storage_containers().await.unwrap_or_default();
    let mut placed = BTreeSet::new();
    let mut disks = Vec::new();
    let mut image = None;
    let mut cdrom = false;
    for d in r
        .get("disk_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        if crate::decode::s(&d, &["device_properties", "device_type"]) == "CDROM" {
            cdrom = true;
            continue;
        }
        disks.push(
            u32::try_from(d.get("disk_size_mib").and_then(Value::as_u64).unwrap_or(0) / 1024)
                .unwrap_or(0),
        );
        let ctr = crate::decode::s(
            &d,
            &["storage_config", "storage_container_reference", "uuid"],
        );
        if !ctr.is_empty() {
            // Prism places a disk only on a container of the VM's cluster.
            match containers.iter().find(|c| c.uuid == ctr) {
                Some(c) if c.cluster == cluster => {
                    placed.insert(c.name.clone());
                }
                _ => {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "INVALID_REQUEST",
                        &format!("storage container {ctr} is not on cluster {cluster}"),
                    )
                }
            }
        }
        let img = crate::decode::s(&d, &["data_source_reference", "uuid"]);
        if !img.is_empty() {
            image = images
                .iter()
                .find(|i| i.uuid == img)
                .map(|i| i.name.clone());
        }
    }
    let mut nics = Vec::new();
    for n in r
        .get("nic_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let u = crate::decode::s(&n, &["subnet_reference", "uuid"]);
        // Per-cluster subnets: Prism refuses a subnet of another cluster.
        let (base, on) = match u.split_once(':') {
            Some((b, c)) => (b.to_string(), Some(c.to_string())),
            None => (u.clone(), None),
        };
        if let Some(on) = on.filter(|c| *c != cluster) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_REQUEST",
                &format!("subnet {u} belongs to cluster {on}, not {cluster}"),
            );
        }
        nics.push(
            subnets
                .iter()
                .find(|s| s.uuid == base)
                .map(|s| s.name.clone())
                .unwrap_or(u),
        );
    }
    let category = crate::decode::at(body, &["metadata", "categories"])
        .as_object()
        .and_then(|m| {
            m.iter()
                .next()
                .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or_default()))
        })
        .unwrap_or_default();
    // Butler puts every disk of a VM on one container (its disk type's).
    let storage_container = match placed.len() {
        0 => None,
        1 => placed.into_iter().next(),
        _ => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_REQUEST",
                "the fake expects every disk of a VM on one storage container",
            )
        }
    };
    let n = |k: &str| u32::try_from(r.get(k).and_then(Value::as_u64).unwrap_or(1)).unwrap_or(1);
    let create = VmCreate::new(s(&["spec", "name"]), cluster)
        .project(project)
        .category(category)
        .cpu(n("num_sockets"), n("num_vcpus_per_socket"))
        .ram_gib(n("memory_size_mib") / 1024)
        .disks_gib(disks)
        .image(image)
        .nics(nics)
        .storage_container(storage_container)
        .cdrom(cdrom)
        .uefi(crate::decode::s(r, &["boot_config", "boot_type"]) == "UEFI")
        .power_on(crate::decode::s(r, &["power_state"]) == "ON");
    match sim.create_vm(&create).await {
        Ok(task) => {
            let vm_uuid = sim
                .task(&task)
                .await
                .ok()
                .and_then(|t| t.entity_uuid)
                .unwrap_or_default();
            let resp = json!({"api_version": "3.1", "metadata": {"kind": "vm", "uuid": vm_uuid, "spec_version": 0},
                        "spec": body.get("spec").cloned().unwrap_or(Value::Null),
                        "status": {"state": "PENDING", "execution_context": {"task_uuid": task.0}}});
            (StatusCode::ACCEPTED, axum::Json(resp)).into_response()
        }
        Err(e) => from_backend(e),
    }
}

/// `GET /vms/{uuid}`.
pub(super) async fn get_vm(State(f): State<Arc<Fake>>, Path(uuid): Path<String>) -> Response {
    let sim = &f.sim;
    let pc = pc_or_return!(sim);
    match all_vms(sim).await {
        Ok(all) => match all.iter().find(|v| v.uuid == uuid) {
            Some(v) => axum::Json(vm_json(
                v,
                &pc.cluster_uuid(&v.cluster),
                &pc.project_uuid(&v.project),
                Some("t-create"),
                f.quirks().pending_without_status,
            ))
            .into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "ENTITY_NOT_FOUND",
                &format!("VM {uuid} not found"),
            ),
        },
        Err(e) => from_backend(e),
    }
}

/// `PUT /vms/{uuid}`: moves a VM to another project; answers 202 with a task.
pub(super) async fn put_vm(
    State(f): State<Arc<Fake>>,
    Path(uuid): Path<String>,
    Body(body): Body,
) -> Response {
    let sim = &f.sim;
    let pc = pc_or_return!(sim);
    let body = &body;
    let uuid = uuid.as_str();

    {
        let mut q = f.quirks.lock().unwrap_or_else(|e| e.into_inner());
        if q.spec_version_conflicts > 0 {
            q.spec_version_conflicts -= 1;
            return error(
                StatusCode::CONFLICT,
                "CONFLICT",
                "spec_version mismatch: the VM was changed by another request",
            );
        }
    }
    // What Prism checks on the wire: a PUT carries the spec_version read,
    // and only category values that exist.
    if !body["metadata"]["spec_version"].is_u64() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "metadata.spec_version is required",
        );
    }
    let current = match all_vms(sim).await {
        Ok(all) => all.into_iter().find(|v| v.uuid == uuid),
        Err(e) => return from_backend(e),
    };
    let Some(current) = current else {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("VM {uuid} not found"),
        );
    };
    let mut categories = Vec::new();
    if let Some(wanted) = body["metadata"]["categories"].as_object() {
        let known = f
            .categories
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (k, v) in wanted {
            let Some(v) = v.as_str() else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    "a category value must be a string",
                );
            };
            let pair = format!("{k}:{v}");
            let exists = current.categories.contains(&pair)
                || known.get(k).is_some_and(|vals| vals.contains(v));
            if !exists {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    &format!("category {k}:{v} does not exist"),
                );
            }
            categories.push(pair);
        }
    }
    let p = crate::decode::s(body, &["metadata", "project_reference", "uuid"]);
    let Some(project) = pc.projects.iter().find(|x| x.uuid == p) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "unknown project_reference",
        );
    };
    // The power state the spec asks for, and how (v3 `power_state`,
    // `power_state_mechanism.mechanism`).
    let resources = &body["spec"]["resources"];
    let mechanism = resources["power_state_mechanism"]["mechanism"].as_str();
    let power = match (resources["power_state"].as_str(), mechanism) {
        (None, _) => None,
        (Some("ON"), _) => Some(PowerChange::On),
        (Some("OFF"), None | Some("HARD")) => Some(PowerChange::HardOff),
        (Some("OFF"), Some("ACPI" | "GUEST")) => Some(PowerChange::GuestShutdown),
        (Some(other), m) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_REQUEST",
                &format!("power_state {other:?} with mechanism {m:?} is not valid"),
            )
        }
    };
    // The state the VM is in already: no transition (Prism compares too).
    let power = power.filter(|c| c.target() != current.power || mechanism.is_some());
    let already_off =
        power.is_some_and(|c| c.target() == PowerState::Off) && current.power == PowerState::Off;
    if already_off && f.quirks().power_off_when_off_fails {
        let t = format!("powerfail-{}", f.counter.fetch_add(1, Ordering::SeqCst));
        return (StatusCode::ACCEPTED, axum::Json(json!({"metadata": {"kind": "vm", "uuid": uuid}, "status": {"state": "PENDING", "execution_context": {"task_uuid": t}}}))).into_response();
    }
    if f.quirks().failing_put_tasks {
        // Accepted, then the task fails: nothing changes.
        let t = format!("putfail-{}", f.counter.fetch_add(1, Ordering::SeqCst));
        return (StatusCode::ACCEPTED, axum::Json(json!({"metadata": {"kind": "vm", "uuid": uuid}, "status": {"state": "PENDING", "execution_context": {"task_uuid": t}}}))).into_response();
    }
    // What the spec's resources ask for, read off the wire: a change of
    // CPU, memory, disks or NICs goes to the simulator, which keeps AHV's
    // rules (nothing removed while the VM runs, no disk shrinks).
    let wanted = match resources_asked(sim, resources).await {
        Ok(w) => w,
        Err(msg) => return error(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST", &msg),
    };
    if let Some(to) = wanted.filter(|to| !to.is_done_on(&current)) {
        if let Err(e) = sim.reconfigure_vm(uuid, &to).await {
            return from_backend(e);
        }
    }
    match sim.set_vm_project(uuid, &project.name).await {
        Ok(()) => {
            if body["metadata"]["categories"].is_object() {
                sim.set_vm_categories(uuid, categories);
            }
            match power {
                Some(c) if c.target() != current.power || c == PowerChange::HardOff => {
                    if let Err(e) = sim.set_power(uuid, c).await {
                        return from_backend(e);
                    }
                }
                _ => {}
            }
            let t = format!("put-{}", f.counter.fetch_add(1, Ordering::SeqCst));
            f.synthetic_tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(t.clone());
            (StatusCode::ACCEPTED, axum::Json(json!({"metadata": {"kind": "vm", "uuid": uuid}, "status": {"state": "PENDING", "execution_context": {"task_uuid": t}}}))).into_response()
        }
        Err(e) => from_backend(e),
    }
}

/// The CPU, memory, disks and NICs a PUT's `spec.resources` asks for;
/// `None` when it names none of them. A NIC's subnet is read by uuid (a
/// per-cluster subnet's `<uuid>:<cluster>` too), else by name.
async fn resources_asked(
    sim: &butler_sim::SimPlatform,
    r: &Value,
) -> Result<Option<butler_core::backend::VmReconfig>, String> {
    let (Some(sockets), Some(cores), Some(mib)) = (
        r["num_sockets"].as_u64(),
        r["num_vcpus_per_socket"].as_u64(),
        r["memory_size_mib"].as_u64(),
    ) else {
        return Ok(None);
    };
    let n =
        |v: u64, what: &str| u32::try_from(v).map_err(|_| format!("{what} {v} is out of range"));
    let mut disks = Vec::new();
    for d in r["disk_list"].as_array().cloned().unwrap_or_default() {
        if crate::decode::s(&d, &["device_properties", "device_type"]) == "DISK" {
            let mib = d["disk_size_mib"]
                .as_u64()
                .ok_or("every DISK needs disk_size_mib")?;
            disks.push(n(mib / 1024, "disk size")?);
        }
    }
    let subnets = sim.list_subnets().await.map_err(|e| e.to_string())?;
    let mut nics = Vec::new();
    for nic in r["nic_list"].as_array().cloned().unwrap_or_default() {
        let u = crate::decode::s(&nic, &["subnet_reference", "uuid"]);
        let base = u.split_once(':').map_or(u.as_str(), |(b, _)| b);
        let name = if u.is_empty() {
            crate::decode::s(&nic, &["subnet_reference", "name"])
        } else {
            subnets
                .iter()
                .find(|s| s.uuid == base)
                .map(|s| s.name.clone())
                .ok_or_else(|| format!("unknown subnet {u}"))?
        };
        nics.push(name);
    }
    Ok(Some(butler_core::backend::VmReconfig {
        cores_per_socket: n(cores, "num_vcpus_per_socket")?,
        sockets: n(sockets, "num_sockets")?,
        ram_gib: n(mib / 1024, "memory")?,
        disks_gib: disks,
        nics,
    }))
}

/// `DELETE /vms/{uuid}`: 202 with the VM's intent, `DELETE_PENDING` and
/// the task that deletes it (Prism's `vm_intent_response`).
pub(super) async fn delete_vm(State(f): State<Arc<Fake>>, Path(uuid): Path<String>) -> Response {
    let sim = &f.sim;
    match sim.delete_vm(&uuid).await {
        Ok(task) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "api_version": "3.1",
                "metadata": {"kind": "vm", "uuid": uuid},
                "status": {"state": "DELETE_PENDING", "execution_context": {"task_uuid": task.0}},
            })),
        )
            .into_response(),
        Err(e) if e.kind == butler_core::backend::ErrorKind::NotFound => error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("VM {uuid} not found"),
        ),
        Err(e) => from_backend(e),
    }
}

/// `PUT /categories/{key}`: creates or keeps a category key; the body's
/// `name` must be the key (Prism's `category_key`).
pub(super) async fn put_category_key(
    State(f): State<Arc<Fake>>,
    Path(key): Path<String>,
    Body(body): Body,
) -> Response {
    if body["name"].as_str() != Some(key.as_str()) || key.is_empty() || key.len() > 64 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "category_key: name must be the key in the path (1 to 64 characters)",
        );
    }
    f.categories
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.clone())
        .or_default();
    (
        StatusCode::OK,
        axum::Json(json!({"name": key, "system_defined": false})),
    )
        .into_response()
}

/// `PUT /categories/{key}/{value}`: creates or keeps a value of an existing
/// key; the body's `value` must be the value (Prism's `category_value`).
pub(super) async fn put_category_value(
    State(f): State<Arc<Fake>>,
    Path((key, value)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    if body["value"].as_str() != Some(value.as_str()) || value.is_empty() || value.len() > 64 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "category_value: value must be the value in the path (1 to 64 characters)",
        );
    }
    let mut cats = f.categories.lock().unwrap_or_else(|e| e.into_inner());
    let Some(values) = cats.get_mut(&key) else {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("category {key} does not exist"),
        );
    };
    values.insert(value.clone());
    (
        StatusCode::OK,
        axum::Json(json!({"name": key, "value": value})),
    )
        .into_response()
}

/// `POST /categories/{key}/list`: the key's values (`category_value_list_response`:
/// entities with `name` and `value`), the platform's and those put since;
/// Prism's 404 for an unknown key.
pub(super) async fn category_values(
    State(f): State<Arc<Fake>>,
    Path(key): Path<String>,
    Body(body): Body,
) -> Response {
    let body = capped(&f.quirks(), body);
    let mut values: BTreeSet<String> = match f.sim.category_values(&key).await {
        Ok(v) => v.into_iter().collect(),
        Err(e) => return from_backend(e),
    };
    let put = f
        .categories
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
        .cloned();
    let known = !values.is_empty() || put.is_some();
    values.extend(put.unwrap_or_default());
    if !known {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("category {key} does not exist"),
        );
    }
    let entities: Vec<Value> = values
        .iter()
        .map(|v| json!({"name": key, "value": v, "system_defined": false}))
        .collect();
    page(entities, &body, "category", true)
}

/// `POST /tasks/poll`: the tasks of the list that have ended.
pub(super) async fn poll_tasks(State(f): State<Arc<Fake>>, Body(body): Body) -> Response {
    let sim = &f.sim;

    // The simulator's time is its own, so the fake answers at once:
    // finished tasks in `entities`, `has_poll_timed_out` otherwise.
    let ids: Vec<String> = body
        .get("task_uuid_list")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut done = Vec::new();
    for id in &ids {
        if f.task_in_progress(id) {
            continue;
        }
        if let Ok(t) = sim.task(&butler_core::backend::TaskId(id.clone())).await {
            let (status, detail) = match &t.state {
                TaskState::Succeeded => ("SUCCEEDED", None),
                TaskState::Aborted => ("ABORTED", None),
                TaskState::Failed(r) => ("FAILED", Some(r.clone())),
                TaskState::Queued | TaskState::Running => continue,
            };
            done.push(json!({"uuid": id, "status": status, "percentage_complete": 100, "error_detail": detail,
                        "entity_reference_list": t.entity_uuid.map(|u| vec![json!({"kind": "vm", "uuid": u})]).unwrap_or_default()}));
        }
    }
    let timed_out = done.is_empty();
    axum::Json(json!({"entities": done, "has_poll_timed_out": timed_out})).into_response()
}

/// `GET /tasks/{id}`.
pub(super) async fn task(State(f): State<Arc<Fake>>, Path(id): Path<String>) -> Response {
    let sim = &f.sim;
    let known = id.starts_with("powerfail-")
        || id.starts_with("putfail-")
        || f.synthetic_tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id.as_str())
        || sim
            .task(&butler_core::backend::TaskId(id.clone()))
            .await
            .is_ok();
    if known && f.task_in_progress(&id) {
        let first = f
            .task_reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            == Some(&1);
        let status = if first { "QUEUED" } else { "RUNNING" };
        return axum::Json(json!({"uuid": id, "status": status, "percentage_complete": 0}))
            .into_response();
    }
    if id.starts_with("powerfail-") {
        return axum::Json(
            json!({"uuid": id, "status": "FAILED", "percentage_complete": 100,
            "error_detail": "INTERNAL_ERROR: ErrorCode: 9"}),
        )
        .into_response();
    }
    if id.starts_with("putfail-") {
        return axum::Json(
            json!({"uuid": id, "status": "FAILED", "percentage_complete": 100,
            "error_detail": "the VM cannot be moved to that project now"}),
        )
        .into_response();
    }

    if f.synthetic_tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(id.as_str())
    {
        return axum::Json(json!({"uuid": id, "status": "SUCCEEDED", "percentage_complete": 100}))
            .into_response();
    }
    match sim
        .task(&butler_core::backend::TaskId(id.to_string()))
        .await
    {
        Ok(t) => {
            let (status, detail) = match &t.state {
                TaskState::Queued => ("QUEUED", None),
                TaskState::Running => ("RUNNING", None),
                TaskState::Succeeded => ("SUCCEEDED", None),
                TaskState::Failed(r) => ("FAILED", Some(r.clone())),
                TaskState::Aborted => ("ABORTED", None),
            };
            axum::Json(json!({"uuid": id, "status": status, "percentage_complete": t.percent, "error_detail": detail,
                        "entity_reference_list": t.entity_uuid.map(|u| vec![json!({"kind": "vm", "uuid": u})]).unwrap_or_default()}))
                    .into_response()
        }
        Err(e) => from_backend(e),
    }
}

async fn all_vms(sim: &SimPlatform) -> Result<Vec<VmInfo>, BackendError> {
    let mut out = Vec::new();
    for c in sim.list_clusters().await? {
        out.extend(sim.list_vms(&c.name).await?);
    }
    Ok(out)
}

fn vm_json(
    v: &VmInfo,
    cluster_uuid: &str,
    project_uuid: &str,
    task: Option<&str>,
    bare_pending: bool,
) -> Value {
    serde_json::to_value(vm_entity(v, cluster_uuid, project_uuid, task, bare_pending))
        .unwrap_or(Value::Null)
}

/// A VM entity as PC v3 serves it (the fields of the recorded `vm_get.json`
/// Butler reads), serialised straight from the simulator's record: a
/// 100,000-VM listing builds no intermediate JSON tree. With
/// `bare_pending` ([`super::Quirks::pending_without_status`]) a pending
/// VM's status names no cluster and holds no resources.
fn vm_entity<'a>(
    v: &'a VmInfo,
    cluster_uuid: &'a str,
    project_uuid: &'a str,
    task: Option<&'a str>,
    bare_pending: bool,
) -> shape::Vm<'a> {
    use shape::*;
    let resources = Resources {
        power_state: match v.power {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
            // Prism's other states; the simulator's "unknown" stands for them.
            PowerState::Unknown => "PAUSED",
        },
        num_sockets: v.vcpus,
        num_vcpus_per_socket: 1,
        memory_size_mib: u64::from(v.ram_gib) * 1024,
        disk_list: v
            .disks_gib
            .iter()
            .map(|d| Disk {
                device_properties: DeviceProperties {
                    device_type: "DISK",
                },
                disk_size_mib: u64::from(*d) * 1024,
            })
            .collect(),
        // Prism reports a NIC's addresses in status only, once the VM has them.
        nic_list: v
            .nics
            .iter()
            .enumerate()
            .map(|(i, n)| Nic {
                subnet_reference: Ref::named("subnet", n, None),
                is_connected: true,
                ip_endpoint_list: v
                    .ip_addresses
                    .get(i)
                    .map(|ip| Ip {
                        ip,
                        kind: "ASSIGNED",
                    })
                    .into_iter()
                    .collect(),
            })
            .collect(),
    };
    let cluster = Ref::named("cluster", &v.cluster, Some(cluster_uuid));
    let bare = bare_pending && v.state == VmState::Pending;
    Vm {
        metadata: Metadata {
            kind: "vm",
            uuid: &v.uuid,
            categories: v
                .categories
                .iter()
                .filter_map(|c| c.split_once(':'))
                .collect(),
            spec_version: 0,
            project_reference: v
                .project
                .as_deref()
                .map(|p| Ref::named("project", p, Some(project_uuid))),
        },
        spec: Spec {
            name: &v.name,
            cluster_reference: cluster.clone(),
            resources: resources.clone(),
        },
        status: Status {
            name: &v.name,
            state: match v.state {
                VmState::Pending => "PENDING",
                VmState::Ready => "COMPLETE",
                VmState::Error => "ERROR",
            },
            cluster_reference: Some(cluster).filter(|_| !bare),
            resources: Some(resources).filter(|_| !bare),
            execution_context: task.map(|t| ExecutionContext { task_uuid: [t] }),
        },
    }
}

/// PC v3 VM entity shapes, serialised without building a JSON tree.
mod shape {
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    pub(super) struct Vm<'a> {
        pub metadata: Metadata<'a>,
        pub spec: Spec<'a>,
        pub status: Status<'a>,
    }
    #[derive(Serialize)]
    pub(super) struct Metadata<'a> {
        pub kind: &'static str,
        pub uuid: &'a str,
        pub categories: BTreeMap<&'a str, &'a str>,
        pub spec_version: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub project_reference: Option<Ref<'a>>,
    }
    #[derive(Serialize, Clone)]
    pub(super) struct Ref<'a> {
        pub kind: &'static str,
        pub name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub uuid: Option<&'a str>,
    }
    impl<'a> Ref<'a> {
        pub fn named(kind: &'static str, name: &'a str, uuid: Option<&'a str>) -> Self {
            Ref { kind, name, uuid }
        }
    }
    #[derive(Serialize)]
    pub(super) struct Spec<'a> {
        pub name: &'a str,
        pub cluster_reference: Ref<'a>,
        pub resources: Resources<'a>,
    }
    #[derive(Serialize)]
    pub(super) struct Status<'a> {
        pub name: &'a str,
        pub state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cluster_reference: Option<Ref<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub resources: Option<Resources<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub execution_context: Option<ExecutionContext<'a>>,
    }
    #[derive(Serialize)]
    pub(super) struct ExecutionContext<'a> {
        pub task_uuid: [&'a str; 1],
    }
    #[derive(Serialize, Clone)]
    pub(super) struct Resources<'a> {
        pub power_state: &'static str,
        pub num_sockets: u32,
        pub num_vcpus_per_socket: u32,
        pub memory_size_mib: u64,
        pub disk_list: Vec<Disk>,
        pub nic_list: Vec<Nic<'a>>,
    }
    #[derive(Serialize, Clone)]
    pub(super) struct Disk {
        pub device_properties: DeviceProperties,
        pub disk_size_mib: u64,
    }
    #[derive(Serialize, Clone)]
    pub(super) struct DeviceProperties {
        pub device_type: &'static str,
    }
    #[derive(Serialize, Clone)]
    pub(super) struct Nic<'a> {
        pub subnet_reference: Ref<'a>,
        pub is_connected: bool,
        pub ip_endpoint_list: Vec<Ip<'a>>,
    }
    #[derive(Serialize, Clone)]
    pub(super) struct Ip<'a> {
        pub ip: &'a str,
        #[serde(rename = "type")]
        pub kind: &'static str,
    }
    /// A v3 list answer.
    #[derive(Serialize)]
    pub(super) struct Page<T> {
        pub api_version: &'static str,
        pub metadata: PageMetadata,
        pub entities: Vec<T>,
    }
    #[derive(Serialize)]
    pub(super) struct PageMetadata {
        pub kind: &'static str,
        pub total_matches: usize,
        pub offset: usize,
        pub length: usize,
    }
}

fn page(entities: Vec<Value>, body: &Value, kind: &str, with_offsets: bool) -> Response {
    page_of(entities, body, kind, with_offsets, |v| v)
}

/// Pages `all` and renders only the page's items.
fn page_of<T>(
    all: Vec<T>,
    body: &Value,
    kind: &str,
    with_offsets: bool,
    render: impl Fn(T) -> Value,
) -> Response {
    let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    // Real Prism: 20 when `length` is missing, never more than 500.
    let length = body
        .get("length")
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .min(500) as usize;
    let total = all.len();
    let items: Vec<Value> = all
        .into_iter()
        .skip(offset)
        .take(length)
        .map(render)
        .collect();
    let mut metadata = json!({"kind": kind, "total_matches": total});
    if with_offsets {
        metadata["offset"] = json!(offset);
        metadata["length"] = json!(items.len());
    }
    axum::Json(json!({"api_version": "3.1", "metadata": metadata, "entities": items}))
        .into_response()
}

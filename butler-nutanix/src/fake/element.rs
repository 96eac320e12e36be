//! Prism Element v2: the fake's protection-domain routes, one handler each.

use super::*;
use axum::extract::Path;
use butler_core::backend::{ProtectRequest, Schedule, ScheduleKind};
use std::collections::BTreeMap;

/// Prism Element v2's own error shape (`message`, `error_code` with a
/// code and a help URL; no `message_list`), never v3's: a client that reads
/// only v3 errors loses PE's reason. `reason` becomes PE's numeric code.
fn error(status: StatusCode, reason: &str, message: &str) -> Response {
    let code = match reason {
        "ENTITY_NOT_FOUND" => 1202,
        "INVALID_REQUEST" => 1101,
        "CONFLICT" => 1103,
        _ => 1000,
    };
    let body = json!({"message": message,
                      "error_code": {"code": code, "help_url": "http://my.nutanix.com"},
                      "detail_message": Value::Null});
    (status, axum::Json(body)).into_response()
}

/// A simulator refusal in PE's shape (status as [`super::from_backend`] maps it).
fn from_backend(e: BackendError) -> Response {
    let status = super::from_backend(e.clone()).status();
    let reason = match e.kind {
        ErrorKind::NotFound => "ENTITY_NOT_FOUND",
        ErrorKind::Invalid => "INVALID_REQUEST",
        ErrorKind::Conflict => "CONFLICT",
        _ => "INTERNAL_ERROR",
    };
    error(status, reason, &e.message)
}

/// The name this PE gives the remote site pointing at `cluster`.
fn site_name(f: &Fake, cluster: &str) -> String {
    match f.quirks().remote_site_prefix {
        Some(p) => format!("{p}{cluster}"),
        None => cluster.to_string(),
    }
}

/// `GET /remote_sites`: every other cluster, by its remote-site name, with
/// the remote cluster's uuid.
pub(super) async fn remote_sites(
    State(f): State<Arc<Fake>>,
    Path(cluster): Path<String>,
) -> Response {
    match f.sim.list_clusters().await {
        Ok(all) => {
            let entities: Vec<Value> = all
                .iter()
                .filter(|c| c.name != cluster)
                .map(|c| json!({"name": site_name(&f, &c.name), "uuid": c.uuid, "remote_ip_ports": {"10.0.0.1": 2020}}))
                .collect();
            let n = entities.len();
            axum::Json(json!({"metadata": {"count": n, "total_entities": n}, "entities": entities}))
                .into_response()
        }
        Err(e) => from_backend(e),
    }
}

/// `GET /storage_containers`: this cluster's containers in PE v2's list
/// envelope (`storage_container_uuid`, `name`, `cluster_uuid`).
pub(super) async fn storage_containers(
    State(f): State<Arc<Fake>>,
    Path(cluster): Path<String>,
) -> Response {
    let (containers, clusters) = match (
        f.sim.list_storage_containers().await,
        f.sim.list_clusters().await,
    ) {
        (Ok(a), Ok(c)) => (a, c),
        (Err(e), _) | (_, Err(e)) => return from_backend(e),
    };
    let cluster_uuid = clusters
        .iter()
        .find(|c| c.name == cluster)
        .map(|c| c.uuid.clone())
        .unwrap_or_default();
    let entities: Vec<Value> = containers
        .iter()
        .filter(|c| c.cluster == cluster)
        .map(|c| {
            json!({"id": format!("{cluster_uuid}::{}", c.uuid), "storage_container_uuid": c.uuid,
                        "name": c.name, "cluster_uuid": cluster_uuid, "replication_factor": 2})
        })
        .collect();
    let n = entities.len();
    axum::Json(
        json!({"metadata": {"grand_total_entities": n, "total_entities": n, "count": n,
                                   "start_index": 0, "end_index": n},
                      "entities": entities}),
    )
    .into_response()
}

/// One protection domain as PE v2 serves it (the recorded fields Butler
/// reads), serialised without building a JSON tree for its members.
#[derive(serde::Serialize)]
struct Pd {
    name: String,
    active: bool,
    vms: Vec<PdVm>,
    remote_site_names: Vec<String>,
    cron_schedules: Vec<Value>,
    replication_links: Vec<Value>,
    marked_for_removal: bool,
}

#[derive(serde::Serialize)]
struct PdVm {
    vm_name: String,
}

impl Pd {
    /// A domain declared (created) with nothing in it yet.
    fn empty(name: &str) -> Pd {
        Pd {
            name: name.to_string(),
            active: true,
            vms: Vec::new(),
            remote_site_names: Vec::new(),
            cron_schedules: Vec::new(),
            replication_links: Vec::new(),
            marked_for_removal: false,
        }
    }
}

fn pd_json(f: &Fake, g: &butler_core::backend::ProtectionGroup) -> Pd {
    let links: Vec<Value> = g
        .remote_sites
        .iter()
        .map(|s| match g.last_replica {
            Some(t) => json!({"remote_site_name": site_name(f, s), "last_replication_start_time_in_usecs": t.timestamp_micros()}),
            None => json!({"remote_site_name": site_name(f, s)}),
        })
        .collect();
    Pd {
        name: g.name.clone(),
        active: g.active,
        vms: g
            .vms
            .iter()
            .map(|v| PdVm {
                vm_name: v.to_string(),
            })
            .collect(),
        remote_site_names: g.remote_sites.iter().map(|r| site_name(f, r)).collect(),
        cron_schedules: g.schedules.iter().map(|s| schedule_json(f, s)).collect(),
        replication_links: links,
        marked_for_removal: false,
    }
}

/// `GET /protection_domains/{name}`: one PD (a declared empty one too), or
/// Prism's 404.
pub(super) async fn one(
    State(f): State<Arc<Fake>>,
    Path((cluster, name)): Path<(String, String)>,
) -> Response {
    if let Some(g) = f.sim.protection_group(&cluster, &name) {
        return axum::Json(pd_json(&f, &g)).into_response();
    }
    let declared = f
        .declared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|(c, n)| c == &cluster && n == &name);
    if declared {
        return axum::Json(Pd::empty(&name)).into_response();
    }
    error(
        StatusCode::NOT_FOUND,
        "ENTITY_NOT_FOUND",
        &format!("Protection domain {name} does not exist"),
    )
}

/// `GET /protection_domains`: every PD of the cluster, with Prism's
/// `total_entities: 0` quirk.
pub(super) async fn list(State(f): State<Arc<Fake>>, Path(cluster): Path<String>) -> Response {
    let sim = &f.sim;
    let cluster = cluster.as_str();

    match sim.list_protection_groups(cluster).await {
        Ok(groups) => {
            let mut names: BTreeMap<String, Pd> = BTreeMap::new();
            for g in &groups {
                names.insert(g.name.clone(), pd_json(&f, g));
            }
            for (c, n) in f.declared.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if c == cluster && !names.contains_key(n) {
                    names.insert(n.clone(), Pd::empty(n));
                }
            }
            let n = names.len();
            // Recorded quirk: total_entities 0 while count holds the real number.
            axum::Json(json!({"metadata": {"grand_total_entities": n, "total_entities": 0, "count": n}, "entities": names.into_values().collect::<Vec<_>>()})).into_response()
        }
        Err(e) => from_backend(e),
    }
}

/// `POST /protection_domains`: declares an empty PD (422 when it exists).
pub(super) async fn create(
    State(f): State<Arc<Fake>>,
    Path(cluster): Path<String>,
    Body(body): Body,
) -> Response {
    let sim = &f.sim;
    let cluster = cluster.as_str();
    let body = &body;

    let name = body
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "value (the protection domain name) is required",
        );
    }
    let exists = sim.protection_group(cluster, &name).is_some();
    if let Some(refusal) = f
        .quirks()
        .refuse_pd_create
        .filter(|r| !exists && name.starts_with(&r.names_starting))
    {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            &refusal.message,
        );
    }
    let mut declared = f.declared.lock().unwrap_or_else(|e| e.into_inner());
    if exists || !declared.insert((cluster.to_string(), name.clone())) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            &format!("protection domain {name} already exists"),
        );
    }
    (StatusCode::CREATED, axum::Json(json!({"value": name}))).into_response()
}

/// `POST /protection_domains/{name}/protect_vms`.
pub(super) async fn protect_vms(
    State(f): State<Arc<Fake>>,
    Path((cluster, name)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    let sim = &f.sim;
    let (cluster, name) = (cluster.as_str(), name.as_str());
    let body = &body;

    let vms: Vec<String> = body
        .get("names")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    // Real Prism with `ignore_dup_or_missing_vms: true` answers 200 and
    // says nothing about VMs it skipped (missing, or in another PD).
    let silent = body
        .get("ignore_dup_or_missing_vms")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && f.quirks().silent_protect;
    for vm in vms {
        let req = ProtectRequest {
            group: name.to_string(),
            vm_name: vm,
            schedules: vec![],
        };
        if let Err(e) = sim.protect_vm(cluster, &req).await {
            if silent {
                continue;
            }
            return from_backend(e);
        }
    }
    axum::Json(json!([])).into_response()
}

/// `POST /protection_domains/{name}/unprotect_vms`: the body is a JSON
/// list of VM names (not an object, unlike `protect_vms`).
pub(super) async fn unprotect_vms(
    State(f): State<Arc<Fake>>,
    Path((cluster, name)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    let Some(list) = body.as_array() else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "the body must be a list of VM names",
        );
    };
    let mut names = Vec::new();
    for v in list {
        match v.as_str() {
            Some(n) => names.push(n.to_string()),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "every VM name must be a string",
                )
            }
        }
    }
    for vm in &names {
        if let Err(e) = f.sim.unprotect_vm(&cluster, &name, vm).await {
            return from_backend(e);
        }
    }
    axum::Json(json!(names)).into_response()
}

/// `GET /protection_domains/{name}/schedules`.
pub(super) async fn schedules(
    State(f): State<Arc<Fake>>,
    Path((cluster, name)): Path<(String, String)>,
) -> Response {
    let sim = &f.sim;
    let (cluster, name) = (cluster.as_str(), name.as_str());

    let list = sim
        .protection_group(cluster, name)
        .map(|g| {
            g.schedules
                .iter()
                .map(|s| schedule_json(&f, s))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    axum::Json(json!(list)).into_response()
}

/// `POST /protection_domains/{name}/schedules`.
pub(super) async fn add_schedule(
    State(f): State<Arc<Fake>>,
    Path((cluster, name)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    let sim = &f.sim;
    let (cluster, name) = (cluster.as_str(), name.as_str());
    let body = &body;
    // The documented shape, checked on the raw body before anything reads
    // it (the adapter's own decoder is tolerant: it would take "HOUR").
    if let Err(why) = schedule_shape(body) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST", &why);
    }

    let Some(g) = sim.protection_group(cluster, name) else {
        return error(
            StatusCode::NOT_FOUND,
            "ENTITY_NOT_FOUND",
            &format!("no protection domain {name}"),
        );
    };
    let Some(vm) = g.vms.first().map(|v| v.to_string()) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_REQUEST",
            "protect a VM before adding schedules",
        );
    };
    let decoded =
        match crate::decode::protection_domain(&json!({"cron_schedules": [body]}), cluster) {
            Ok(pd) => pd.schedules,
            Err(e) => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    &format!("schedule: {e}"),
                )
            }
        };
    // The simulator names sites by cluster; this PE by its own names: a
    // site it does not have is refused, as Prism does.
    let clusters = sim.list_clusters().await.unwrap_or_default();
    let mut schedules = Vec::new();
    for mut sched in decoded {
        if let Some(site) = &sched.remote_site {
            let Some(c) = clusters
                .iter()
                .find(|c| c.name != cluster && site_name(&f, &c.name) == *site)
            else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "INVALID_REQUEST",
                    &format!("remote site {site} is not configured"),
                );
            };
            sched.remote_site = Some(c.name.clone());
        }
        schedules.push(sched);
    }
    let req = ProtectRequest {
        group: name.to_string(),
        vm_name: vm,
        schedules,
    };
    match sim.protect_vm(cluster, &req).await {
        Ok(_) => (StatusCode::CREATED, axum::Json(body.clone())).into_response(),
        Err(e) => from_backend(e),
    }
}

/// `POST /protection_domains/{name}/migrate`.
pub(super) async fn migrate(
    State(f): State<Arc<Fake>>,
    Path((cluster, name)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    let sim = &f.sim;
    let (cluster, name) = (cluster.as_str(), name.as_str());
    let body = &body;

    let site = body
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The value is a remote-site name: find the cluster it points at.
    let clusters = f.sim.list_clusters().await.unwrap_or_default();
    let Some(dest) = clusters
        .iter()
        .map(|c| c.name.clone())
        .find(|c| c != cluster && site_name(&f, c) == site)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            &format!("remote site {site} not found"),
        );
    };
    let dest = dest.as_str();
    if let Some(reasons) = f.quirks().refuse_migrations {
        // Recorded shape (SB Invoke-AsyncDr.ps1): 200, count > 0, one entity per problem.
        let entities: Vec<Value> = reasons
            .iter()
            .map(|r| json!({"protection_domain_name": name, "reason": r}))
            .collect();
        return axum::Json(json!({"metadata": {"count": entities.len()}, "entities": entities}))
            .into_response();
    }
    match sim.migrate_protection_group(cluster, name, dest).await {
        Ok(()) => axum::Json(json!({"metadata": {"count": 0}, "entities": []})).into_response(),
        Err(e) => from_backend(e),
    }
}

/// `POST /vms/{uuid}/set_power_state` `{"transition": ...}`: answers a
/// task of this Prism Element.
pub(super) async fn set_power_state(
    State(f): State<Arc<Fake>>,
    Path((_cluster, uuid)): Path<(String, String)>,
    Body(body): Body,
) -> Response {
    use butler_core::backend::PowerChange;
    let change = match body.get("transition").and_then(Value::as_str) {
        Some("ON") => PowerChange::On,
        Some("OFF") => PowerChange::HardOff,
        Some("ACPI_SHUTDOWN") => PowerChange::GuestShutdown,
        Some("ACPI_REBOOT") => PowerChange::GuestRestart,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                &format!("transition {other:?} is not valid"),
            )
        }
    };
    match f.sim.set_power(&uuid, change).await {
        Ok(()) => {
            let t = format!("pe-power-{}", f.counter.fetch_add(1, Ordering::SeqCst));
            axum::Json(json!({"task_uuid": t})).into_response()
        }
        Err(e) => from_backend(e),
    }
}

/// A PE v2 schedule POST as documented: `type` one of the cron types,
/// `every_nth` a positive integer, `retention_policy` with a local count
/// or a map of remote site to count.
fn schedule_shape(body: &Value) -> Result<(), String> {
    const TYPES: [&str; 5] = ["MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY"];
    let ty = body["type"].as_str().unwrap_or_default();
    if !TYPES.contains(&ty) {
        return Err(format!("type {:?} is not one of {TYPES:?}", body["type"]));
    }
    if body["every_nth"].as_u64().is_none_or(|n| n == 0) {
        return Err(format!(
            "every_nth must be a positive integer, got {}",
            body["every_nth"]
        ));
    }
    let r = &body["retention_policy"];
    let local = r["local_max_snapshots"].as_u64().is_some();
    let remote = r["remote_max_snapshots"]
        .as_object()
        .is_some_and(|m| !m.is_empty() && m.values().all(|v| v.as_u64().is_some()));
    if !local && !remote {
        return Err("retention_policy needs local_max_snapshots or remote_max_snapshots".into());
    }
    Ok(())
}

/// A schedule as this PE serves it: remote sites by its own names.
fn schedule_json(f: &Fake, s: &Schedule) -> Value {
    let (ty, nth) = if s.every_minutes % 1440 == 0 {
        ("DAILY", s.every_minutes / 1440)
    } else if s.every_minutes % 60 == 0 {
        ("HOURLY", s.every_minutes / 60)
    } else {
        ("MINUTELY", s.every_minutes)
    };
    let retention = match &s.remote_site {
        Some(site) if s.kind == ScheduleKind::Remote => {
            json!({"local_max_snapshots": 1, "remote_max_snapshots": {site_name(f, site): s.retention}})
        }
        _ => json!({"local_max_snapshots": s.retention, "remote_max_snapshots": {}}),
    };
    json!({"type": ty, "every_nth": nth, "retention_policy": retention, "suspended": false})
}

//! Prism Central v4's cross-cluster migrate, `POST
//! /api/vmm/{v}/ahv/config/vms/{extId}/$actions/migrate`, and its dry run
//! (`?$dryrun=true`): the body checked raw against the SDK's
//! `VmCrossClusterMigrateParams` before anything reads it, the verdict the
//! simulator's own (a VM that runs for a cold move, a subnet the
//! destination lacks, a VM a protection domain holds). A dry run's
//! objections refuse the request (400, one message each) or, with
//! [`Quirks::dry_run_answers_a_task`](super::Quirks::dry_run_answers_a_task),
//! fail the task it answers; the move itself needs `If-Match` and a
//! request id, and answers the simulator's task. Each NIC must arrive on a
//! subnet of the destination: as it is where its subnet serves every
//! cluster, else through `overrides.overrideNicList` (every NIC, in order,
//! each on the destination's subnet of its own subnet's name: the
//! simulator keeps NICs by subnet name).

use super::v4::{error, from_backend, guarded, task_reference, vm_by_ext_id};
use super::v4_lists::Ids;
use super::*;
use butler_core::backend::VmMove;

/// The move a body asks for, or Prism's validation error.
fn move_of(body: &Value, clusters: &[butler_core::backend::ClusterInfo]) -> Result<VmMove, String> {
    const KIND: &str = "vmm.v4.ahv.config.VmCrossClusterMigrateParams";
    if !body.is_object() {
        return Err("the body must be a VmCrossClusterMigrateParams object".into());
    }
    if let Some(t) = body.get("$objectType").filter(|t| *t != KIND) {
        return Err(format!("$objectType must be {KIND}, got {t}"));
    }
    let live = match body.get("isLiveMigration") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("isLiveMigration must be a boolean, got {other}")),
    };
    let id = body["targetCluster"]["extId"]
        .as_str()
        .ok_or("targetCluster.extId is required")?;
    let destination = clusters
        .iter()
        .find(|c| c.uuid == id)
        .map(|c| c.name.clone())
        .ok_or_else(|| format!("targetCluster {id:?} is not a cluster of this Prism Central"))?;
    Ok(VmMove { destination, live })
}

/// The migrate action (`dry_run`: `$dryrun=true`).
pub(super) async fn migrate(
    f: &Fake,
    headers: &HeaderMap,
    ext_id: &str,
    dry_run: bool,
    body: &[u8],
) -> Response {
    let invalid = |why: &str| {
        error(
            StatusCode::BAD_REQUEST,
            "VMM-30100",
            "VALIDATION_ERROR",
            why,
        )
    };
    let body: Value = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => return invalid(&format!("the body is not JSON: {e}")),
    };
    f.keep_v4_body("migrate", &body);
    let clusters = match f.sim.list_clusters().await {
        Ok(c) => c,
        Err(e) => return from_backend(e),
    };
    let to = match move_of(&body, &clusters) {
        Ok(to) => to,
        Err(why) => return invalid(&why),
    };
    let (vm, ids) = match (vm_by_ext_id(f, ext_id).await, Ids::load(f).await) {
        (Ok(vm), Ok(ids)) => (vm, ids),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let arrival = nics_on_arrival(&body, &vm, &ids, &to.destination);
    const KIND: &str = "vmm.v4.ahv.config.CrossClusterMigrateVmApiResponse";
    if dry_run {
        let objections = match f.sim.check_vm_migration(ext_id, &to).await {
            Ok(o) => arrival.into_iter().chain(o).collect::<Vec<_>>(),
            Err(e) => return from_backend(e),
        };
        if objections.is_empty() {
            return super::v4::done(f, "CrossClusterMigrateVmApiResponse");
        }
        if f.quirks().dry_run_answers_a_task {
            let t = format!("v4-dry-run-{}", f.counter.fetch_add(1, Ordering::SeqCst));
            f.failed_tasks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(t.clone(), objections.join("; "));
            return task_reference(KIND, &t);
        }
        return refusal(&objections);
    }
    if let Err(r) = guarded(f, headers, ext_id).await {
        return r;
    }
    if !arrival.is_empty() {
        return refusal(&arrival);
    }
    match f.sim.migrate_vm(ext_id, &to).await {
        Ok(task) => task_reference(KIND, &task.0),
        Err(e) => from_backend(e),
    }
}

/// Why the VM's NICs could not arrive on `destination` as the body asks
/// (empty: they can).
fn nics_on_arrival(
    body: &Value,
    vm: &butler_core::backend::VmInfo,
    ids: &Ids,
    destination: &str,
) -> Vec<String> {
    let Some(list) = body["overrides"]["overrideNicList"].as_array() else {
        return vm
            .nics
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let here = ids.subnet(name, &vm.cluster).unwrap_or_default();
                ids.subnet_name(&here, destination).is_none().then(|| {
                    format!("NIC {i}'s subnet {here} is not on cluster {destination}: map it in overrides.overrideNicList")
                })
            })
            .collect();
    };
    if list.len() != vm.nics.len() {
        return vec![format!(
            "overrideNicList names {} NICs; the VM has {}",
            list.len(),
            vm.nics.len()
        )];
    }
    list.iter()
        .zip(&vm.nics)
        .enumerate()
        .filter_map(|(i, (o, name))| {
            let info = if o["nicNetworkInfo"].is_object() {
                &o["nicNetworkInfo"]
            } else {
                &o["networkInfo"]
            };
            let id = info["subnet"]["extId"].as_str().unwrap_or_default();
            match ids.subnet_name(id, destination) {
                Some(n) if n == *name => None,
                Some(n) => Some(format!(
                    "override of NIC {i} names subnet {n:?}; this fake keeps a NIC on a subnet of its own name ({name:?})"
                )),
                None => Some(format!(
                    "override of NIC {i}: subnet {id:?} is not on cluster {destination}"
                )),
            }
        })
        .collect()
}

/// A 400 `vmm.v4.error.ErrorResponse` with one `AppMessage` per objection.
fn refusal(objections: &[String]) -> Response {
    let messages: Vec<Value> = objections
        .iter()
        .map(|m| {
            json!({"$objectType": "vmm.v4.error.AppMessage", "code": "VMM-30100",
                   "errorGroup": "VM_MIGRATION_VALIDATION", "message": m,
                   "severity": "ERROR", "locale": "en_US"})
        })
        .collect();
    let body = json!({
        "data": {"$objectType": "vmm.v4.error.ErrorResponse", "error": messages},
        "$objectType": "vmm.v4.error.ErrorResponse",
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

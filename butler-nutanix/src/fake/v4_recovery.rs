//! Leap recovery plans as Prism Central v4 serves them: plans and their
//! stages (`/api/datapolicies/{v}/config/recovery-plans`, `…/stages`), the
//! `validate` and `planned-failover` actions
//! (`/api/dataprotection/{v}/operations/recovery-plans/{extId}/$actions/…`)
//! and the jobs they start (`/api/dataprotection/{v}/config/recovery-plan-jobs`,
//! `…/execution-steps`, `…/validation-errors`), in the shapes of Nutanix's
//! `datapolicies` and `dataprotection` 4.2 SDK models (which read every
//! answer in `butler-py/tests/test_nutanix_v4_sdk.py`). Every write's body
//! is checked raw, before anything reads it, and needs a request id.
//!
//! A planned failover moves every VM on the plan's primary cluster that
//! carries a category one of its stages recovers, through the simulator:
//! cold (a running VM is powered off first and on again at the recovery
//! cluster once all arrived) or live (`shouldLiveMigrateVMs`). The job is
//! the simulator's moves: running while one is, failed (each failed VM a
//! failed execution step, in the simulator's words) when one failed.
//! [`Quirks::plan_validation_errors`](super::Quirks::plan_validation_errors)
//! and `…_warnings` are what Prism's validation finds; with errors, a
//! failover's job fails in its validation step and moves nothing.

use super::v4::{error, from_backend, known_categories, request_id, task_reference};
use super::*;
use axum::extract::{Path, Query};
use butler_core::backend::{PowerChange, PowerState, TaskId, TaskState, VmMove};
use std::collections::HashMap;

/// What a task's `entitiesAffected` calls a recovery plan job.
pub(super) const JOB_REL: &str = "dataprotection:config:recovery-plan-job";
/// What a task's `entitiesAffected` calls a recovery plan.
pub(super) const PLAN_REL: &str = "datapolicies:config:recovery-plan";

/// A recovery plan: from the primary cluster to the recovery cluster.
#[derive(Debug, Clone)]
pub(super) struct FakePlan {
    id: String,
    name: String,
    description: Option<String>,
    primary: Vec<String>,
    recovery: Vec<String>,
    /// Each stage's id and the category ids it recovers.
    stages: Vec<(String, Vec<String>)>,
}

impl FakePlan {
    /// Its name and the categories (`key:value`) its stages recover.
    pub(super) fn summary(&self, f: &Fake) -> (String, Vec<String>) {
        let known = f.sim.category_pairs();
        let cats = known
            .into_iter()
            .chain(
                f.categories
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
                    .collect::<Vec<_>>(),
            )
            .filter(|(k, v)| {
                let id = crate::v4::request_id(&["category", k, v]);
                self.stages.iter().any(|(_, c)| c.contains(&id))
            })
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<BTreeSet<_>>();
        (self.name.clone(), cats.into_iter().collect())
    }
}

/// Adds a plan of the administrator's (see `FakePrism::add_recovery_plan`).
pub(super) async fn add_plan(f: &Fake, name: &str, category: &str, primary: &str, recovery: &str) {
    let clusters = f.sim.list_clusters().await.unwrap_or_default();
    let id_of = |n: &str| {
        clusters
            .iter()
            .filter(|c| c.name == n)
            .map(|c| c.uuid.clone())
            .collect::<Vec<_>>()
    };
    let (key, value) = category.split_once(':').unwrap_or((category, ""));
    let cat = crate::v4::request_id(&["category", key, value]);
    let id = crate::v4::request_id(&["recovery-plan", name]);
    f.recovery_plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(FakePlan {
            stages: vec![(crate::v4::request_id(&["stage", &id, "0"]), vec![cat])],
            id,
            name: name.to_string(),
            description: Some("DR plan of the storage team".into()),
            primary: id_of(primary),
            recovery: id_of(recovery),
        });
}

/// Every job: name, action, live.
pub(super) fn job_summaries(f: &Fake) -> Vec<(String, String, bool)> {
    f.recovery_jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|j| (j.name.clone(), j.action.to_string(), j.live))
        .collect()
}

/// One VM a failover moves.
#[derive(Debug, Clone)]
struct FakeMove {
    uuid: String,
    name: String,
    task: Result<TaskId, String>,
    /// Running before a cold move: powered on again at the end.
    was_on: bool,
}

/// A recovery plan job.
#[derive(Debug, Clone)]
pub(super) struct FakeJob {
    id: String,
    plan: String,
    name: String,
    action: &'static str,
    live: bool,
    directions: Value,
    started: String,
    moves: Vec<FakeMove>,
    /// Prism's validation's findings: `(severity, message)`.
    findings: Vec<(&'static str, String)>,
    /// Powered on what it powered off (once).
    settled: bool,
}

fn bad_request(why: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "DATAPROTECTION-30100",
        "VALIDATION_ERROR",
        why,
    )
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "DATAPROTECTION-20005",
        "NOT_FOUND",
        &format!("{what} not found"),
    )
}

/// A synthetic task that has succeeded, naming `(rel, extId)`.
fn done_naming(f: &Fake, object_type: &str, rel: &'static str, id: &str) -> Response {
    let t = format!("v4-plan-{}", f.counter.fetch_add(1, Ordering::SeqCst));
    f.synthetic_tasks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(t.clone());
    f.task_entities
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(t.clone(), vec![(rel, id.to_string())]);
    task_reference(object_type, &t)
}

/// The JSON body of a write, checked to be an object of `kind` (when it
/// names its `$objectType`).
fn body_of(raw: &[u8], kind: &str) -> Result<Value, Box<Response>> {
    let body: Value = serde_json::from_slice(raw)
        .map_err(|e| Box::new(bad_request(&format!("the body is not JSON: {e}"))))?;
    if !body.is_object() {
        return Err(Box::new(bad_request(&format!(
            "the body must be a {kind} object"
        ))));
    }
    if let Some(t) = body.get("$objectType").filter(|t| *t != kind) {
        return Err(Box::new(bad_request(&format!(
            "$objectType must be {kind}, got {t}"
        ))));
    }
    Ok(body)
}

/// The cluster ids of a `DisasterRecoveryLocation`, each a cluster of
/// this Prism Central.
fn location(
    body: &Value,
    field: &str,
    clusters: &[butler_core::backend::ClusterInfo],
) -> Result<Vec<String>, String> {
    let list = body[field]["clusters"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or(format!("{field}.clusters must list at least one cluster"))?;
    list.iter()
        .map(|c| {
            let id = c["extId"]
                .as_str()
                .ok_or(format!("{field}.clusters[].extId is required"))?;
            if clusters.iter().any(|k| k.uuid == id) {
                Ok(id.to_string())
            } else {
                Err(format!(
                    "{field}: {id:?} is not a cluster of this Prism Central"
                ))
            }
        })
        .collect()
}

fn plan_json(p: &FakePlan) -> Value {
    let loc = |ids: &[String]| {
        let clusters: Vec<Value> = ids
            .iter()
            .map(|id| json!({"$objectType": "datapolicies.v4.config.EntityReference", "extId": id}))
            .collect();
        json!({"$objectType": "datapolicies.v4.config.DisasterRecoveryLocation", "clusters": clusters})
    };
    let mut v = json!({"$objectType": "datapolicies.v4.config.RecoveryPlan",
                       "extId": p.id, "name": p.name,
                       "primaryLocation": loc(&p.primary), "recoveryLocation": loc(&p.recovery)});
    if let Some(d) = &p.description {
        v["description"] = json!(d);
    }
    v
}

fn plan_by_id(f: &Fake, id: &str) -> Option<FakePlan> {
    f.recovery_plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|p| p.id == id)
        .cloned()
}

/// `OPTIONS /api/{namespace}/unversioned/info`: the newest version the
/// namespace serves, which Nutanix's 4.2 SDKs negotiate with before their
/// first call.
pub(super) async fn version_info() -> Response {
    axum::Json(json!({"data": "v4.2"})).into_response()
}

/// `GET …/recovery-plans`.
pub(super) async fn plans(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let all: Vec<Value> = f
        .recovery_plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(plan_json)
        .collect();
    super::v4_lists::answer_list(
        &q,
        &[],
        "datapolicies.v4.config.ListRecoveryPlansApiResponse",
        all,
    )
}

/// `POST …/recovery-plans` (`datapolicies.v4.config.RecoveryPlan`).
pub(super) async fn create_plan(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    if let Err(r) = request_id(&headers) {
        return *r;
    }
    let body = match body_of(&raw, "datapolicies.v4.config.RecoveryPlan") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    f.keep_v4_body("recovery-plan", &body);
    let name = match body["name"].as_str() {
        Some(n) if (1..=256).contains(&n.chars().count()) => n.to_string(),
        _ => return bad_request("name is required, 1 to 256 characters"),
    };
    let description = match body.get("description") {
        None => None,
        Some(Value::String(d)) if d.chars().count() <= 1000 => Some(d.clone()),
        Some(_) => return bad_request("description must be a string of at most 1000 characters"),
    };
    let clusters = match f.sim.list_clusters().await {
        Ok(c) => c,
        Err(e) => return from_backend(e),
    };
    let (primary, recovery) = match (
        location(&body, "primaryLocation", &clusters),
        location(&body, "recoveryLocation", &clusters),
    ) {
        (Ok(p), Ok(r)) => (p, r),
        (Err(why), _) | (_, Err(why)) => return bad_request(&why),
    };
    let id = crate::v4::request_id(&["recovery-plan", &name]);
    {
        let mut plans = f.recovery_plans.lock().unwrap_or_else(|e| e.into_inner());
        if plans.iter().any(|p| p.name == name) {
            return error(
                StatusCode::CONFLICT,
                "DATAPOLICIES-30409",
                "ALREADY_EXISTS",
                &format!("a recovery plan named {name:?} exists"),
            );
        }
        plans.push(FakePlan {
            id: id.clone(),
            name,
            description,
            primary,
            recovery,
            stages: Vec::new(),
        });
    }
    done_naming(
        &f,
        "datapolicies.v4.config.CreateRecoveryPlanApiResponse",
        PLAN_REL,
        &id,
    )
}

/// `GET …/recovery-plans/{extId}`.
pub(super) async fn get_plan(
    State(f): State<Arc<Fake>>,
    Path((_v, id)): Path<(String, String)>,
) -> Response {
    match plan_by_id(&f, &id) {
        Some(p) => axum::Json(super::v4::envelope(
            "datapolicies.v4.config.GetRecoveryPlanApiResponse",
            plan_json(&p),
        ))
        .into_response(),
        None => not_found(&format!("recovery plan {id}")),
    }
}

/// `DELETE …/recovery-plans/{extId}`.
pub(super) async fn delete_plan(
    State(f): State<Arc<Fake>>,
    Path((_v, id)): Path<(String, String)>,
) -> Response {
    let mut plans = f.recovery_plans.lock().unwrap_or_else(|e| e.into_inner());
    let before = plans.len();
    plans.retain(|p| p.id != id);
    if plans.len() == before {
        return not_found(&format!("recovery plan {id}"));
    }
    drop(plans);
    done_naming(
        &f,
        "datapolicies.v4.config.DeleteRecoveryPlanApiResponse",
        PLAN_REL,
        &id,
    )
}

/// `GET …/recovery-plans/{extId}/stages`.
pub(super) async fn stages(
    State(f): State<Arc<Fake>>,
    Path((_v, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(plan) = plan_by_id(&f, &id) else {
        return not_found(&format!("recovery plan {id}"));
    };
    let all: Vec<Value> = plan
        .stages
        .iter()
        .enumerate()
        .map(|(i, (sid, cats))| {
            json!({"$objectType": "datapolicies.v4.config.RecoveryStage", "extId": sid,
                   "entityType": "VM", "categoryExtIds": cats, "priority": i + 1})
        })
        .collect();
    super::v4_lists::answer_list(
        &q,
        &[],
        "datapolicies.v4.config.ListRecoveryStagesApiResponse",
        all,
    )
}

/// `POST …/recovery-plans/{extId}/stages` (`RecoveryStage`: an entity
/// type, the categories it recovers by id, a priority from 1).
pub(super) async fn create_stage(
    State(f): State<Arc<Fake>>,
    Path((_v, id)): Path<(String, String)>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    if let Err(r) = request_id(&headers) {
        return *r;
    }
    let body = match body_of(&raw, "datapolicies.v4.config.RecoveryStage") {
        Ok(b) => b,
        Err(r) => return *r,
    };
    f.keep_v4_body("recovery-stage", &body);
    if !matches!(body["entityType"].as_str(), Some("VM" | "VOLUME_GROUP")) {
        return bad_request("entityType is required: VM or VOLUME_GROUP");
    }
    if body
        .get("priority")
        .is_some_and(|p| p.as_u64().is_none_or(|p| p < 1))
    {
        return bad_request("priority must be an integer from 1");
    }
    let known = known_categories(&f).await;
    let Some(cats) = body["categoryExtIds"].as_array() else {
        return bad_request("categoryExtIds is required (this fake recovers categories only)");
    };
    let mut ids = Vec::new();
    for c in cats {
        match c.as_str() {
            Some(c) if known.iter().any(|(_, _, k)| k == c) => ids.push(c.to_string()),
            _ => {
                return bad_request(&format!(
                    "categoryExtIds: {c} is not a category of this Prism Central"
                ))
            }
        }
    }
    let mut plans = f.recovery_plans.lock().unwrap_or_else(|e| e.into_inner());
    let Some(plan) = plans.iter_mut().find(|p| p.id == id) else {
        return not_found(&format!("recovery plan {id}"));
    };
    let sid = crate::v4::request_id(&["stage", &id, &plan.stages.len().to_string()]);
    plan.stages.push((sid.clone(), ids));
    drop(plans);
    done_naming(
        &f,
        "datapolicies.v4.config.CreateRecoveryStageApiResponse",
        PLAN_REL,
        &id,
    )
}

/// `POST …/operations/recovery-plans/{extId}/$actions/{validate|planned-failover}`.
pub(super) async fn action(
    State(f): State<Arc<Fake>>,
    Path((_v, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    if let Err(r) = request_id(&headers) {
        return *r;
    }
    let (kind, action_type, answer) = match action.as_str() {
        "validate" => (
            "dataprotection.v4.operations.BaseRecoveryPlanActionSpec",
            "VALIDATE",
            "dataprotection.v4.operations.ValidateRecoveryPlanApiResponse",
        ),
        "planned-failover" => (
            "dataprotection.v4.operations.PlannedFailoverSpec",
            "PLANNED_FAILOVER",
            "dataprotection.v4.operations.PlannedFailoverRecoveryPlanApiResponse",
        ),
        other => {
            return not_found(&format!(
                "recovery plan action {other:?} (this fake serves validate and planned-failover)"
            ))
        }
    };
    let body = match body_of(&raw, kind) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    f.keep_v4_body(
        if action_type == "VALIDATE" {
            "plan-validate"
        } else {
            "planned-failover"
        },
        &body,
    );
    for flag in ["shouldLiveMigrateVMs", "shouldIgnoreWarnings"] {
        if body.get(flag).is_some_and(|b| !b.is_boolean()) {
            return bad_request(&format!("{flag} must be a boolean"));
        }
    }
    let name = match body["name"].as_str() {
        Some(n) if n.chars().count() <= 256 => n.to_string(),
        Some(_) => return bad_request("name must be at most 256 characters"),
        None => format!("{action_type}-{}", f.counter.fetch_add(1, Ordering::SeqCst)),
    };
    let Some(plan) = plan_by_id(&f, &id) else {
        return not_found(&format!("recovery plan {id}"));
    };
    let Some(dirs) = body["failoverDirections"]
        .as_array()
        .filter(|d| !d.is_empty())
    else {
        return bad_request("failoverDirections must name at least one direction");
    };
    for d in dirs {
        let (src, dst) = (
            d["sourceCluster"]["extId"].as_str().unwrap_or_default(),
            d["targetCluster"]["extId"].as_str().unwrap_or_default(),
        );
        if !plan.primary.iter().any(|c| c == src) || !plan.recovery.iter().any(|c| c == dst) {
            return bad_request(&format!(
                "failoverDirections: the plan recovers from {:?} on {:?}, not from {src:?} on {dst:?}",
                plan.primary, plan.recovery
            ));
        }
    }
    let live = body["shouldLiveMigrateVMs"].as_bool().unwrap_or(false);
    if action_type == "PLANNED_FAILOVER" {
        let busy = f
            .recovery_jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|j| {
                j.plan == plan.id
                    && j.action == "PLANNED_FAILOVER"
                    && !matches!(status(&f, j).0, "SUCCEEDED" | "FAILED" | "ABORTED")
            });
        if busy {
            return error(
                StatusCode::CONFLICT,
                "DATAPROTECTION-30409",
                "RECOVERY_PLAN_JOB_IN_PROGRESS",
                &format!("recovery plan {:?} has a failover in progress", plan.name),
            );
        }
    }
    let q = f.quirks();
    let mut findings: Vec<(&'static str, String)> = q
        .plan_validation_errors
        .iter()
        .map(|m| ("ERROR", m.clone()))
        .collect();
    findings.extend(
        q.plan_validation_warnings
            .iter()
            .map(|m| ("WARNING", m.clone())),
    );
    let blocked = findings.iter().any(|(s, _)| *s == "ERROR");
    let moves = if action_type == "PLANNED_FAILOVER" && !blocked {
        match start_moves(&f, &plan, live).await {
            Ok(m) => m,
            Err(r) => return r,
        }
    } else {
        Vec::new()
    };
    let job = FakeJob {
        id: crate::v4::request_id(&[
            "job",
            &plan.id,
            &f.counter.fetch_add(1, Ordering::SeqCst).to_string(),
        ]),
        plan: plan.id.clone(),
        name,
        action: action_type,
        live,
        directions: Value::Array(dirs.clone()),
        started: butler_core::backend::Clock::now(f.sim.clock().as_ref()).to_rfc3339(),
        moves,
        findings,
        settled: false,
    };
    let job_id = job.id.clone();
    f.recovery_jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(job);
    done_naming(&f, answer, JOB_REL, &job_id)
}

/// Starts moving every VM the plan recovers from its primary cluster.
async fn start_moves(f: &Fake, plan: &FakePlan, live: bool) -> Result<Vec<FakeMove>, Response> {
    let clusters = f.sim.list_clusters().await.map_err(from_backend)?;
    let name_of = |id: &str| {
        clusters
            .iter()
            .find(|c| c.uuid == id)
            .map(|c| c.name.clone())
    };
    let (Some(source), Some(destination)) = (
        plan.primary.first().and_then(|c| name_of(c)),
        plan.recovery.first().and_then(|c| name_of(c)),
    ) else {
        return Err(bad_request("the plan's clusters are gone"));
    };
    let known = known_categories(f).await;
    let recovered: Vec<String> = known
        .iter()
        .filter(|(_, _, id)| plan.stages.iter().any(|(_, cats)| cats.contains(id)))
        .map(|(k, v, _)| format!("{k}:{v}"))
        .collect();
    let mut moves = Vec::new();
    for vm in f.sim.list_vms(&source).await.map_err(from_backend)? {
        if !vm.categories.iter().any(|c| recovered.contains(c)) {
            continue;
        }
        let was_on = !live && vm.power == PowerState::On;
        // A cold planned failover shuts the VM down first.
        let off = if was_on {
            f.sim.set_power(&vm.uuid, PowerChange::HardOff).await
        } else {
            Ok(())
        };
        let to = VmMove {
            destination: destination.clone(),
            live,
        };
        let task = match off {
            Ok(()) => f
                .sim
                .migrate_vm(&vm.uuid, &to)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        moves.push(FakeMove {
            uuid: vm.uuid,
            name: vm.name,
            task,
            was_on,
        });
    }
    Ok(moves)
}

/// A job's status, percentage and execution steps, settling it (the
/// VMs a cold failover powered off are powered on) once every move has
/// arrived.
fn status(f: &Fake, job: &FakeJob) -> (&'static str, u8, Vec<Value>) {
    if job.findings.iter().any(|(s, _)| *s == "ERROR") {
        let step = step_json(
            job,
            "validate",
            "Validate the recovery plan",
            "FAILED",
            &[],
            Some(
                &job.findings
                    .iter()
                    .filter(|(s, _)| *s == "ERROR")
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        );
        let status = if job.action == "VALIDATE" {
            "SUCCEEDED"
        } else {
            "FAILED"
        };
        return (status, 100, vec![step]);
    }
    let mut steps = Vec::new();
    let (mut running, mut failed) = (0, 0);
    for m in &job.moves {
        let state = match &m.task {
            Ok(t) => match f.sim.peek_task(t) {
                Some(TaskState::Succeeded) => Ok(true),
                Some(TaskState::Failed(why)) => Err(why),
                Some(TaskState::Aborted) => Err("aborted".into()),
                Some(_) => Ok(false),
                None => Err(format!("task {} lost", t.0)),
            },
            Err(why) => Err(why.clone()),
        };
        let op = if job.live { "live-migrate" } else { "migrate" };
        let what = format!("{op} VM {}", m.name);
        let entity = [(m.uuid.as_str(), m.name.as_str())];
        match state {
            Ok(true) => steps.push(step_json(job, &m.uuid, &what, "SUCCEEDED", &entity, None)),
            Ok(false) => {
                running += 1;
                steps.push(step_json(job, &m.uuid, &what, "RUNNING", &entity, None));
            }
            Err(why) => {
                failed += 1;
                steps.push(step_json(
                    job,
                    &m.uuid,
                    &what,
                    "FAILED",
                    &entity,
                    Some(&why),
                ));
            }
        }
    }
    let total = job.moves.len().max(1);
    let percent = u8::try_from((total - running) * 100 / total).unwrap_or(100);
    let status = match (running, failed) {
        (0, 0) => "SUCCEEDED",
        (0, _) => "FAILED",
        _ => "RUNNING",
    };
    (status, percent, steps)
}

fn step_json(
    job: &FakeJob,
    key: &str,
    what: &str,
    status: &str,
    entities: &[(&str, &str)],
    why: Option<&str>,
) -> Value {
    let affected: Vec<Value> = entities
        .iter()
        .map(|(id, name)| {
            json!({"$objectType": "dataprotection.v4.config.ExecutionStepEntityReference",
                                  "extId": id, "name": name, "entityType": "VM"})
        })
        .collect();
    let operation = match (job.live, key) {
        (_, "validate") => "AUDIT",
        (true, _) => "ENTITY_LIVE_MIGRATION",
        (false, _) => "ENTITY_MIGRATION",
    };
    let mut step = json!({"$objectType": "dataprotection.v4.config.RecoveryPlanJobExecutionStep",
                          "extId": crate::v4::request_id(&["step", &job.id, key]),
                          "phase": if key == "validate" { "PRE_PROCESSING" } else { "ENTITY_RECOVERY" },
                          "operationType": operation, "stepDescription": what, "status": status,
                          "percentageComplete": if status == "RUNNING" { 0 } else { 100 },
                          "affectedEntities": affected});
    if let Some(why) = why {
        step["errorMessage"] = json!({"$objectType": "dataprotection.v4.error.AppMessage",
                                      "message": why, "severity": "ERROR", "code": "DATAPROTECTION-50000"});
    }
    step
}

/// The job, settled when its moves have all arrived: the VMs a cold
/// failover powered off are powered on again, once.
async fn settled(f: &Fake, id: &str) -> Option<(FakeJob, &'static str, u8, Vec<Value>)> {
    let job = f
        .recovery_jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|j| j.id == id)
        .cloned()?;
    let (mut state, percent, steps) = status(f, &job);
    if f.task_in_progress(&format!("job-{id}")) && state == "SUCCEEDED" {
        state = "RUNNING";
    }
    if state == "SUCCEEDED" && !job.settled {
        for m in job.moves.iter().filter(|m| m.was_on) {
            // Prism powers the recovered VMs on; a failure is the job's.
            if let Err(e) = f.sim.set_power(&m.uuid, PowerChange::On).await {
                tracing::warn!(vm = %m.name, error = %e, "the fake could not power a recovered VM on");
            }
        }
        if let Some(j) = f
            .recovery_jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter_mut()
            .find(|j| j.id == id)
        {
            j.settled = true;
        }
    }
    Some((job, state, percent, steps))
}

fn job_json(job: &FakeJob, state: &str, percent: u8) -> Value {
    json!({"$objectType": "dataprotection.v4.config.RecoveryPlanJob",
           "extId": job.id, "name": job.name, "recoveryPlanExtId": job.plan,
           "actionType": job.action, "isLiveMigrateVMs": job.live,
           "failoverDirections": job.directions, "startTime": job.started,
           "status": state, "percentageComplete": percent})
}

/// `GET …/recovery-plan-jobs` (`$filter=recoveryPlanExtId eq '…'`).
pub(super) async fn jobs(
    State(f): State<Arc<Fake>>,
    Path(_v): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ids: Vec<String> = f
        .recovery_jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|j| j.id.clone())
        .collect();
    let mut all = Vec::new();
    for id in ids {
        if let Some((job, state, percent, _)) = settled(&f, &id).await {
            all.push(job_json(&job, state, percent));
        }
    }
    super::v4_lists::answer_list(
        &q,
        &["recoveryPlanExtId"],
        "dataprotection.v4.config.ListRecoveryPlanJobsApiResponse",
        all,
    )
}

/// `GET …/recovery-plan-jobs/{extId}`.
pub(super) async fn job(
    State(f): State<Arc<Fake>>,
    Path((_v, id)): Path<(String, String)>,
) -> Response {
    match settled(&f, &id).await {
        Some((job, state, percent, _)) => axum::Json(super::v4::envelope(
            "dataprotection.v4.config.GetRecoveryPlanJobApiResponse",
            job_json(&job, state, percent),
        ))
        .into_response(),
        None => not_found(&format!("recovery plan job {id}")),
    }
}

/// `GET …/recovery-plan-jobs/{extId}/{execution-steps|validation-errors}`.
pub(super) async fn job_list(
    State(f): State<Arc<Fake>>,
    Path((_v, id, what)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some((job, _, _, steps)) = settled(&f, &id).await else {
        return not_found(&format!("recovery plan job {id}"));
    };
    match what.as_str() {
        "execution-steps" => super::v4_lists::answer_list(
            &q,
            &[],
            "dataprotection.v4.config.ListRecoveryPlanJobExecutionStepsApiResponse",
            steps,
        ),
        "validation-errors" => {
            let all: Vec<Value> = job
                .findings
                .iter()
                .enumerate()
                .map(|(i, (severity, message))| {
                    json!({"$objectType": "dataprotection.v4.config.RecoveryPlanValidationError",
                           "extId": crate::v4::request_id(&["finding", &job.id, &i.to_string()]),
                           "errorCode": if *severity == "ERROR" { "DATAPROTECTION-30500" } else { "DATAPROTECTION-30501" },
                           "errorGroup": "ENTITY", "message": message, "severity": severity})
                })
                .collect();
            super::v4_lists::answer_list(
                &q,
                &[],
                "dataprotection.v4.config.ListRecoveryPlanJobValidationErrorsApiResponse",
                all,
            )
        }
        other => not_found(&format!("{other} of recovery plan job {id}")),
    }
}

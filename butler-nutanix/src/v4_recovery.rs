//! Migrations by Leap recovery plans (`migration = "recovery_plans"`, with
//! `protection_category`): a group's VMs carry the category a protection
//! policy applies to, so the protection group Butler moves is that
//! category, and moving it from one cluster to another is the planned
//! failover of the recovery plan that recovers the category from the
//! source on the destination.
//!
//! - **Create or adopt.** A plan of Prism's (`datapolicies` v4.2
//!   `recovery-plans`) whose primary location holds the source cluster,
//!   whose recovery location holds the destination and one of whose stages
//!   (`…/stages`) recovers the category is adopted as it is. Without one,
//!   Butler makes one (`butler-<key>-<value>-<source>-to-<destination>`,
//!   its description saying so), adds the stage, and deletes the plan once
//!   its failover has succeeded; a plan Butler made that a crash left
//!   without its stage is found by name and finished.
//! - **Validate.** Prism's own validation of the plan (`$actions/validate`,
//!   its job's `validation-errors`) comes first: an error stops the move
//!   before anything moves, in Prism's words; warnings are logged and do
//!   not block, as in Prism.
//! - **Planned failover**, live where the group asks
//!   (`shouldLiveMigrateVMs`): a failover of the plan already under way
//!   (an earlier attempt whose reply was lost, a run a crash stopped) is
//!   followed, never started twice.
//! - **Job status and steps.** The move's task is the recovery plan job
//!   (`dataprotection` v4.2 `recovery-plan-jobs`): its status and
//!   percentage are the move's, and a failed job's reasons are its failed
//!   execution steps' messages.

use crate::backend::NutanixBackend;
use crate::url_safe;
use crate::v4::{request_id, task_of};
use butler_core::backend::{BackendError, ErrorKind, TaskId, TaskState, TaskStatus, VmMove};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Recovery plans and their stages (`datapolicies`, v4.2).
const PLANS: &str = "/datapolicies/v4.2/config/recovery-plans";
/// Recovery plan actions (`dataprotection`, v4.2).
const ACTIONS: &str = "/dataprotection/v4.2/operations/recovery-plans";
/// Recovery plan jobs (`dataprotection`, v4.2).
const JOBS: &str = "/dataprotection/v4.2/config/recovery-plan-jobs";
/// What a task's `entitiesAffected` calls a recovery plan job.
const JOB_REL: &str = "dataprotection:config:recovery-plan-job";
/// What a task's `entitiesAffected` calls a recovery plan.
const PLAN_REL: &str = "datapolicies:config:recovery-plan";
/// How the task id of a move by recovery plan starts: the job's id
/// follows, then, for a plan Butler made, the plan's (deleted once the
/// job has succeeded).
const JOB_TASK: &str = "recovery-plan-job/";
/// The opening of the description of every plan Butler makes.
const MADE_BY_BUTLER: &str = "Made by Butler";
/// How long one of the plan's own tasks (create, stage, validation) is
/// waited for inside the call.
const PLAN_TASK_WAIT: Duration = Duration::from_secs(30);

/// The recovery plan a move uses.
struct Plan {
    id: String,
    name: String,
    /// Butler made it, and deletes it once its failover succeeded.
    made_by_butler: bool,
}

/// The job a move-by-plan task id names, and the plan to delete after it.
pub(crate) fn job_of_task(id: &TaskId) -> Option<(&str, Option<&str>)> {
    let rest = id.0.strip_prefix(JOB_TASK)?;
    Some(match rest.split_once('/') {
        Some((job, plan)) => (job, Some(plan)),
        None => (rest, None),
    })
}

/// The failover direction of a move, as the v4 action bodies take it.
fn directions(source_id: &str, destination_id: &str) -> Value {
    json!([{
        "$objectType": "dataprotection.v4.config.FailoverDirection",
        "sourceCluster": {"$objectType": "dataprotection.v4.config.EntityReference", "extId": source_id},
        "targetCluster": {"$objectType": "dataprotection.v4.config.EntityReference", "extId": destination_id},
    }])
}

/// A location's cluster ids.
fn location_clusters(plan: &Value, location: &str) -> Vec<String> {
    plan[location]["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["extId"].as_str().map(str::to_string))
        .collect()
}

/// The id of the first entity of kind `rel` a task names.
fn affected(task: &Value, rel: &str) -> Option<String> {
    let t = task.get("data").unwrap_or(task);
    t["entitiesAffected"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["rel"] == rel)
        .and_then(|e| e["extId"].as_str())
        .map(str::to_string)
}

/// A recovery plan job's status as a task's.
fn job_state(job: &Value) -> TaskState {
    match job["status"].as_str().unwrap_or_default() {
        "SUCCEEDED" | "SUCCEEDED_WITH_VALIDATION_WARNING" => TaskState::Succeeded,
        "FAILED" => TaskState::Failed(String::new()),
        "ABORTED" => TaskState::Aborted,
        "QUEUED" => TaskState::Queued,
        _ => TaskState::Running,
    }
}

/// Why a job failed: its failed steps, each as Prism words it.
fn failed_steps(steps: &[Value]) -> String {
    let reasons: Vec<String> = steps
        .iter()
        .filter(|s| s["status"] == "FAILED")
        .map(|s| {
            let what = s["stepDescription"]
                .as_str()
                .or_else(|| s["operationType"].as_str())
                .unwrap_or("a step");
            let entities: Vec<&str> = s["affectedEntities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["name"].as_str())
                .collect();
            let why = s["errorMessage"]["message"]
                .as_str()
                .unwrap_or("failed without a message");
            if entities.is_empty() {
                format!("{what}: {why}")
            } else {
                format!("{what} ({}): {why}", entities.join(", "))
            }
        })
        .collect();
    reasons.join("; ")
}

impl NutanixBackend {
    /// Moves protection group `group` (the configured category) from
    /// `source` to `to.destination` by recovery plan: the move's task is
    /// the plan's failover job.
    pub(crate) async fn plan_failover(
        &self,
        source: &str,
        group: &str,
        to: &VmMove,
    ) -> Result<Option<TaskId>, BackendError> {
        let op = "move_protection_group";
        self.policy_v4(op).await?;
        let Some(category) = self.protection_category.as_deref() else {
            return Err(BackendError::unsupported(
                op,
                butler_core::backend::Capability::Migration,
            ));
        };
        if group != category {
            return Err(BackendError::new(
                ErrorKind::NotFound,
                op,
                format!("no protection group {group:?} on {source:?}: VMs are protected by category {category:?}"),
            ));
        }
        let cluster = |name: String| async move {
            self.v4_cluster_id(&name).await?.ok_or_else(|| {
                BackendError::new(
                    ErrorKind::Invalid,
                    op,
                    format!("Prism Central has no cluster named {name:?}"),
                )
            })
        };
        let (src, dst) =
            futures::try_join!(cluster(source.to_string()), cluster(to.destination.clone()))?;
        let category_id = self.category_ext_id(category, op).await?;
        let plan = self
            .recovery_plan(
                category,
                &category_id,
                (source, &src),
                (&to.destination, &dst),
            )
            .await?;
        // A failover already under way is followed, never started twice.
        if let Some(job) = self
            .plan_jobs(&plan.id, "PLANNED_FAILOVER", true)
            .await?
            .pop()
        {
            return Ok(Some(job_task(&job, &plan)));
        }
        self.validate_plan(&plan, &src, &dst).await?;
        let body = json!({
            "$objectType": "dataprotection.v4.operations.PlannedFailoverSpec",
            "name": format!("butler-failover-{}", plan.name),
            "failoverDirections": directions(&src, &dst),
            "shouldLiveMigrateVMs": to.live,
            // Butler has read the warnings (logged); Prism's errors stopped it.
            "shouldIgnoreWarnings": true,
        });
        let path = format!(
            "{ACTIONS}/{}/$actions/planned-failover",
            url_safe::segment(&plan.id, op)?
        );
        let answer = self.plan_action(&path, &body, op).await?;
        let task = task_of(&answer, op)?;
        let job = match affected(
            &self.v4_wait_task_answer(&task, Duration::ZERO).await?,
            JOB_REL,
        ) {
            Some(job) => job,
            // Not named yet: the plan's running failover is it.
            None => match self
                .plan_jobs(&plan.id, "PLANNED_FAILOVER", true)
                .await?
                .pop()
            {
                Some(job) => job,
                // Over already, or not started: its own task says which.
                None => return Ok(Some(task)),
            },
        };
        Ok(Some(job_task(&job, &plan)))
    }

    /// A recovery plan action: sent with a fresh request id (the client's
    /// own retries of this call repeat it, so a lost reply is one action).
    async fn plan_action(
        &self,
        path: &str,
        body: &Value,
        op: &'static str,
    ) -> Result<Value, BackendError> {
        let now = self.clock().now().to_rfc3339();
        let id = request_id(&[path, &now]);
        self.v4
            .call_v4(
                Method::POST,
                path,
                Some(body),
                &[("NTNX-Request-Id", id)],
                true,
            )
            .await
            .map(|(answer, _)| answer)
            .map_err(|e| e.into_backend(op))
    }

    /// The plan to use: adopted, or made.
    async fn recovery_plan(
        &self,
        category: &str,
        category_id: &str,
        (source, src): (&str, &str),
        (destination, dst): (&str, &str),
    ) -> Result<Plan, BackendError> {
        let op = "move_protection_group";
        let name = format!(
            "butler-{}-{source}-to-{destination}",
            category.replace(':', "-")
        );
        let plans = self.v4_list(PLANS, None, op).await?;
        let mut own = None;
        for p in &plans {
            let id = p["extId"].as_str().unwrap_or_default().to_string();
            let here = location_clusters(p, "primaryLocation")
                .iter()
                .any(|c| c == src)
                && location_clusters(p, "recoveryLocation")
                    .iter()
                    .any(|c| c == dst);
            if id.is_empty() || !here {
                continue;
            }
            let plan = Plan {
                id,
                name: p["name"].as_str().unwrap_or_default().to_string(),
                made_by_butler: p["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with(MADE_BY_BUTLER)),
            };
            if self.plan_recovers(&plan.id, category_id).await? {
                return Ok(plan);
            }
            if plan.made_by_butler && plan.name == name {
                own = Some(plan);
            }
        }
        let plan = match own {
            Some(plan) => plan,
            None => self.create_plan(&name, category, src, dst).await?,
        };
        let stage = json!({
            "$objectType": "datapolicies.v4.config.RecoveryStage",
            "entityType": "VM",
            "categoryExtIds": [category_id],
            "priority": 1,
        });
        let path = format!("{PLANS}/{}/stages", url_safe::segment(&plan.id, op)?);
        let answer = self.plan_action(&path, &stage, op).await?;
        self.plan_task_done(&task_of(&answer, op)?, "adding the stage of", &plan.name)
            .await?;
        Ok(plan)
    }

    /// Whether a stage of plan `id` recovers category `category_id`.
    async fn plan_recovers(&self, id: &str, category_id: &str) -> Result<bool, BackendError> {
        let op = "move_protection_group";
        let path = format!("{PLANS}/{}/stages", url_safe::segment(id, op)?);
        Ok(self.v4_list(&path, None, op).await?.iter().any(|s| {
            s["categoryExtIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|c| c == category_id))
        }))
    }

    /// Makes the plan `name` from `src` to `dst`.
    async fn create_plan(
        &self,
        name: &str,
        category: &str,
        src: &str,
        dst: &str,
    ) -> Result<Plan, BackendError> {
        let op = "move_protection_group";
        let location = |cluster: &str| {
            json!({"$objectType": "datapolicies.v4.config.DisasterRecoveryLocation",
                   "clusters": [{"$objectType": "datapolicies.v4.config.EntityReference", "extId": cluster}]})
        };
        let body = json!({
            "$objectType": "datapolicies.v4.config.RecoveryPlan",
            "name": name,
            "description": format!("{MADE_BY_BUTLER} to migrate the VMs of category {category}; Butler deletes it after the migration"),
            "primaryLocation": location(src),
            "recoveryLocation": location(dst),
        });
        let answer = self.plan_action(PLANS, &body, op).await?;
        let task = task_of(&answer, op)?;
        let done = self.plan_task_done(&task, "creating", name).await?;
        let id = match affected(&done, PLAN_REL) {
            Some(id) => id,
            None => self
                .v4_list(PLANS, None, op)
                .await?
                .iter()
                .find(|p| p["name"] == name)
                .and_then(|p| p["extId"].as_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    BackendError::new(
                        ErrorKind::Transient,
                        op,
                        format!("Prism made recovery plan {name:?} but does not list it yet"),
                    )
                })?,
        };
        Ok(Plan {
            id,
            name: name.to_string(),
            made_by_butler: true,
        })
    }

    /// Waits for one of the plan's own tasks: its last answer when it
    /// succeeded; a failure in Prism's words; still running after
    /// [`PLAN_TASK_WAIT`], a passing failure (the move is asked again).
    async fn plan_task_done(
        &self,
        task: &TaskId,
        doing: &str,
        plan: &str,
    ) -> Result<Value, BackendError> {
        let op = "move_protection_group";
        let answer = self.v4_wait_task_answer(task, PLAN_TASK_WAIT).await?;
        match crate::v4::task_status(&answer).state {
            TaskState::Succeeded => Ok(answer),
            TaskState::Failed(why) => Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("{doing} recovery plan {plan:?} failed: {why}"),
            )),
            TaskState::Aborted => Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("{doing} recovery plan {plan:?} was cancelled"),
            )),
            TaskState::Queued | TaskState::Running => Err(BackendError::new(
                ErrorKind::Transient,
                op,
                format!("{doing} recovery plan {plan:?} has not finished after {PLAN_TASK_WAIT:?}"),
            )),
        }
    }

    /// Prism's validation of the plan's failover from `src` to `dst`: its
    /// errors refuse the move (nothing moved), its warnings are logged.
    async fn validate_plan(&self, plan: &Plan, src: &str, dst: &str) -> Result<(), BackendError> {
        let op = "move_protection_group";
        let body = json!({
            "$objectType": "dataprotection.v4.operations.BaseRecoveryPlanActionSpec",
            "name": format!("butler-validate-{}", plan.name),
            "failoverDirections": directions(src, dst),
        });
        let path = format!(
            "{ACTIONS}/{}/$actions/validate",
            url_safe::segment(&plan.id, op)?
        );
        let answer = self.plan_action(&path, &body, op).await?;
        let done = self
            .plan_task_done(&task_of(&answer, op)?, "validating", &plan.name)
            .await?;
        let job = match affected(&done, JOB_REL) {
            Some(job) => job,
            None => match self.plan_jobs(&plan.id, "VALIDATE", false).await?.pop() {
                Some(job) => job,
                None => return Ok(()),
            },
        };
        let path = format!("{JOBS}/{}/validation-errors", url_safe::segment(&job, op)?);
        let found = self.v4_list(&path, None, op).await?;
        let (errors, warnings): (Vec<&Value>, Vec<&Value>) =
            found.iter().partition(|f| f["severity"] != "WARNING");
        let words = |list: &[&Value]| -> Vec<String> {
            list.iter()
                .map(|f| {
                    let group = f["errorGroup"].as_str().unwrap_or("ENTITY");
                    let message = f["message"].as_str().unwrap_or("no message");
                    format!("{group}: {message}")
                })
                .collect()
        };
        if !warnings.is_empty() {
            tracing::warn!(plan = %plan.name, warnings = ?words(&warnings), "Prism's validation of the recovery plan warns");
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(BackendError::new(
            ErrorKind::Invalid,
            op,
            format!(
                "Prism's validation of recovery plan {:?} refuses the failover: {}",
                plan.name,
                words(&errors).join("; ")
            ),
        ))
    }

    /// Plan `plan`'s jobs of `action` (oldest first), only those not over
    /// when `running`.
    async fn plan_jobs(
        &self,
        plan: &str,
        action: &str,
        running: bool,
    ) -> Result<Vec<String>, BackendError> {
        let filter = format!("recoveryPlanExtId eq {}", url_safe::odata_string(plan));
        let mut jobs = self
            .v4_list(JOBS, Some(&filter), "move_protection_group")
            .await?;
        jobs.retain(|j| j["actionType"] == action && !(running && job_state(j).is_terminal()));
        jobs.sort_by(|a, b| {
            let at = |j: &Value| j["startTime"].as_str().unwrap_or_default().to_string();
            at(a).cmp(&at(b))
        });
        Ok(jobs
            .iter()
            .filter_map(|j| j["extId"].as_str().map(str::to_string))
            .collect())
    }

    /// The status of the failover job `job`: a failed one's reasons are
    /// its failed steps'. Once it has succeeded, the plan Butler made for
    /// it (`made`) is deleted (gone already is fine; a refusal is logged,
    /// the move stands).
    pub(crate) async fn plan_job_status(
        &self,
        job: &str,
        made: Option<&str>,
    ) -> Result<TaskStatus, BackendError> {
        let op = "task";
        let path = format!("{JOBS}/{}", url_safe::segment(job, op)?);
        let (answer, _) = self
            .v4
            .call_v4(Method::GET, &path, None, &[], true)
            .await
            .map_err(|e| e.into_backend(op))?;
        let j = answer.get("data").unwrap_or(&answer);
        let mut state = job_state(j);
        if let TaskState::Failed(_) = state {
            let steps = format!("{path}/execution-steps");
            let why = failed_steps(&self.v4_list(&steps, None, op).await?);
            let name = j["name"].as_str().unwrap_or(job);
            state = TaskState::Failed(if why.is_empty() {
                format!("recovery plan job {name:?} failed without a failed step")
            } else {
                format!("recovery plan job {name:?} failed: {why}")
            });
        }
        if let (TaskState::Succeeded, Some(plan)) = (&state, made) {
            self.delete_plan(plan).await;
        }
        Ok(TaskStatus {
            percent: u8::try_from(j["percentageComplete"].as_u64().unwrap_or(0).min(100))
                .unwrap_or(100),
            state,
            entity_uuid: None,
        })
    }

    /// Deletes a plan Butler made (clean-up after its failover).
    async fn delete_plan(&self, plan: &str) {
        let Ok(segment) = url_safe::segment(plan, "task") else {
            return;
        };
        let path = format!("{PLANS}/{segment}");
        match self
            .v4
            .call_v4(Method::DELETE, &path, None, &[], true)
            .await
        {
            Ok(_) => tracing::info!(
                plan,
                "deleted the recovery plan Butler made for a migration"
            ),
            Err(e) if e.status == Some(404) => {}
            Err(e) => {
                tracing::warn!(plan, error = %e, "could not delete the recovery plan Butler made; delete it in Prism Central")
            }
        }
    }
}

/// The task id of failover job `job` of `plan`.
fn job_task(job: &str, plan: &Plan) -> TaskId {
    TaskId(if plan.made_by_butler {
        format!("{JOB_TASK}{job}/{}", plan.id)
    } else {
        format!("{JOB_TASK}{job}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_by_plan_names_its_job_and_the_plan_butler_made() {
        let made = Plan {
            id: "p-1".into(),
            name: "n".into(),
            made_by_butler: true,
        };
        let theirs = Plan {
            id: "p-2".into(),
            name: "n".into(),
            made_by_butler: false,
        };
        assert_eq!(
            job_of_task(&job_task("j-1", &made)),
            Some(("j-1", Some("p-1")))
        );
        assert_eq!(job_of_task(&job_task("j-2", &theirs)), Some(("j-2", None)));
        assert_eq!(job_of_task(&TaskId("ZXJnb24=:abc".into())), None);
    }

    #[test]
    fn a_failed_job_says_which_steps_failed_and_why() {
        let steps = vec![
            json!({"status": "SUCCEEDED", "stepDescription": "Power off VMs"}),
            json!({"status": "FAILED", "stepDescription": "Migrate entities",
                   "affectedEntities": [{"name": "vm-1"}],
                   "errorMessage": {"message": "Insufficient memory on the recovery cluster"}}),
        ];
        assert_eq!(
            failed_steps(&steps),
            "Migrate entities (vm-1): Insufficient memory on the recovery cluster"
        );
        assert_eq!(
            job_state(&json!({"status": "SUCCEEDED_WITH_VALIDATION_WARNING"})),
            TaskState::Succeeded
        );
        assert_eq!(job_state(&json!({"status": "ABORTED"})), TaskState::Aborted);
    }
}

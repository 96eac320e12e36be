//! Prism Central v4 for what v4 does better than v3: creates that carry an
//! `NTNX-Request-Id` (a repeat answers the first create's task), power
//! actions and deletes guarded by the VM's `ETag` (`If-Match`, re-read and
//! retried on 412), and tasks that name the VM they made by its `rel`
//! (`vmm:ahv:config:vm`), with `CANCELED` terminal. Reads are in
//! [`crate::v4_reads`]; projects, images, VM reconfiguration and
//! protection stay on v3 and PE v2.
//!
//! Paths: VMs on `vmm` v4.1 (the first version whose VM carries its
//! project), tasks and categories on `prism` v4.0.

use crate::backend::NutanixBackend;
use crate::config::CentralApi;
use crate::decode;
use crate::url_safe;
use butler_core::backend::{
    BackendError, ErrorKind, PowerChange, TaskId, TaskState, TaskStatus, VmCreate,
};
use reqwest::Method;
use serde_json::{json, Value};

/// VMs (`vmm`, v4.1).
pub(crate) const VMS: &str = "/vmm/v4.1/ahv/config/vms";
/// Tasks (`prism`, v4.0).
const TASKS: &str = "/prism/v4.0/config/tasks";
/// Categories (`prism`, v4.0).
pub(crate) const CATEGORIES: &str = "/prism/v4.0/config/categories";
/// What a task's `entitiesAffected` calls a VM.
const VM_REL: &str = "vmm:ahv:config:vm";
/// Times a mutation is re-read and sent again after a stale `ETag`.
const ETAG_RETRIES: u32 = 3;

/// Where a create puts the VM, as Prism's ids.
pub(crate) struct Placement {
    pub(crate) cluster: String,
    pub(crate) project: String,
    /// Subnet uuid of each NIC.
    pub(crate) subnets: Vec<String>,
    pub(crate) image: Option<String>,
    pub(crate) container: Option<String>,
}

/// A v4 write to send under the VM's `ETag`.
pub(crate) struct Mutation {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Option<Value>,
}

impl Mutation {
    pub(crate) fn post(path: String, body: Option<Value>) -> Mutation {
        Mutation {
            method: Method::POST,
            path,
            body,
        }
    }
}

/// Whether `id` is a v4 task id (`ZXJnb24=:<uuid>`; v3's are bare uuids).
pub(crate) fn is_v4_task(id: &TaskId) -> bool {
    id.0.contains(':')
}

/// A UUID-shaped id (RFC 9562 version 8) from a hash of `parts`: the same
/// parts give the same id, so a repeat of one logical call is one request
/// for Prism.
pub(crate) fn request_id(parts: &[&str]) -> String {
    use std::hash::{Hash, Hasher};
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, parts).hash(&mut h);
        h.finish()
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&half(1).to_be_bytes());
    b[8..].copy_from_slice(&half(2).to_be_bytes());
    butler_core::backend::uuid_v8(b)
}

/// A v4 task as Butler reads it.
pub(crate) fn task_status(answer: &Value) -> TaskStatus {
    let t = answer.get("data").unwrap_or(answer);
    let failure = || {
        let messages: Vec<String> = t["errorMessages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["message"].as_str().map(str::to_string))
            .collect();
        if messages.is_empty() {
            t["legacyErrorMessage"]
                .as_str()
                .unwrap_or("the task failed without a message")
                .to_string()
        } else {
            messages.join("; ")
        }
    };
    let state = match decode::s(t, &["status"]).as_str() {
        "SUCCEEDED" => TaskState::Succeeded,
        "FAILED" => TaskState::Failed(failure()),
        "CANCELED" => TaskState::Aborted,
        "QUEUED" => TaskState::Queued,
        // RUNNING, CANCELING, SUSPENDED, UNKNOWN: not over yet.
        _ => TaskState::Running,
    };
    let entity_uuid = t["entitiesAffected"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["rel"] == VM_REL)
        .and_then(|e| e["extId"].as_str())
        .map(str::to_string);
    TaskStatus {
        state,
        percent: u8::try_from(t["progressPercentage"].as_u64().unwrap_or(0).min(100))
            .unwrap_or(100),
        entity_uuid,
    }
}

/// The task id a v4 mutation answered with (`data.extId` of a
/// `TaskReference`).
pub(crate) fn task_of(answer: &Value, op: &'static str) -> Result<TaskId, BackendError> {
    answer
        .pointer("/data/extId")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(|t| TaskId(t.to_string()))
        .ok_or_else(|| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                "Prism accepted the call without naming its task",
            )
        })
}

/// A v4 create body for `vm` placed at `p` (sizes in bytes).
pub(crate) fn create_body(vm: &VmCreate, p: &Placement, category: Option<&str>) -> Value {
    let disks: Vec<Value> = vm
        .disks_gib
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let mut backing = json!({"$objectType": "vmm.v4.ahv.config.VmDisk",
                                     "diskSizeBytes": u64::from(*size) << 30});
            if let Some(ctr) = &p.container {
                backing["storageContainer"] = json!({"extId": ctr});
            }
            if let (0, Some(img)) = (i, &p.image) {
                backing["dataSource"] = json!({"reference": {
                    "$objectType": "vmm.v4.ahv.config.ImageReference", "imageExtId": img}});
            }
            json!({"diskAddress": {"busType": "SCSI", "index": i}, "backingInfo": backing})
        })
        .collect();
    let nics: Vec<Value> = p
        .subnets
        .iter()
        .map(|s| json!({"networkInfo": {"nicType": "NORMAL_NIC", "vlanMode": "ACCESS", "subnet": {"extId": s}}}))
        .collect();
    let mut body = json!({
        "name": vm.name,
        "description": "created by butler",
        "numSockets": vm.sockets,
        "numCoresPerSocket": vm.cores_per_socket,
        "numThreadsPerCore": 1,
        "memorySizeBytes": u64::from(vm.ram_gib) << 30,
        "cluster": {"extId": p.cluster},
        "project": {"extId": p.project},
        "powerState": if vm.power_on { "ON" } else { "OFF" },
        "bootConfig": {"$objectType": if vm.uefi { "vmm.v4.ahv.config.UefiBoot" } else { "vmm.v4.ahv.config.LegacyBoot" }},
        "disks": disks,
        "nics": nics,
    });
    if vm.cdrom {
        body["cdRoms"] = json!([{"diskAddress": {"busType": "IDE", "index": 0}}]);
    }
    if let Some(c) = category {
        body["categories"] = json!([{"extId": c}]);
    }
    body
}

impl NutanixBackend {
    /// Whether VM creates, power, deletes and tasks go to v4: as
    /// configured, or (`auto`) as a probe found, once. A Prism Central that
    /// answers the probe 404 predates v4 and stays on v3; any other
    /// failure is returned and the probe runs again next time.
    pub async fn uses_v4(&self) -> Result<bool, BackendError> {
        match self.central_api {
            CentralApi::V3 => Ok(false),
            CentralApi::V4 => Ok(true),
            CentralApi::Auto => self
                .v4_probe
                .get_or_try_init(|| async {
                    let path = format!("{VMS}?$limit=1");
                    match self.v4.call_v4(Method::GET, &path, None, &[], true).await {
                        Ok(_) => {
                            tracing::info!("Prism Central serves v4: VM creates, power, deletes and tasks use it");
                            Ok(true)
                        }
                        Err(e) if e.status == Some(404) => {
                            tracing::info!("Prism Central has no v4 VM API: staying on v3");
                            Ok(false)
                        }
                        Err(e) => Err(e.into_backend("probe_v4")),
                    }
                })
                .await
                .copied(),
        }
    }

    /// The v4 id of category `key:value`, which must exist.
    pub(crate) async fn category_ext_id(
        &self,
        category: &str,
        op: &'static str,
    ) -> Result<String, BackendError> {
        let (key, value) = category.split_once(':').ok_or_else(|| {
            BackendError::new(
                ErrorKind::Invalid,
                op,
                format!("category {category:?} is not key:value"),
            )
        })?;
        let filter = format!(
            "key eq {} and value eq {}",
            url_safe::odata_string(key),
            url_safe::odata_string(value)
        );
        let path = format!(
            "{CATEGORIES}?$filter={}&$limit=1",
            url_safe::query_value(&filter)
        );
        let (answer, _) = self
            .v4
            .call_v4(Method::GET, &path, None, &[], true)
            .await
            .map_err(|e| e.into_backend(op))?;
        answer
            .pointer("/data/0/extId")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                BackendError::new(
                    ErrorKind::Invalid,
                    op,
                    format!("category {category:?} does not exist on Prism Central"),
                )
            })
    }

    /// `POST …/vms` with the create's request id: safe to send again (a
    /// lost reply is retried by the client; a repeat answers the first
    /// create's task). A create without one gets a fresh id and is not
    /// repeated.
    pub(crate) async fn v4_create(
        &self,
        vm: &VmCreate,
        placement: &Placement,
    ) -> Result<TaskId, BackendError> {
        let op = "create_vm";
        let category = match vm.category.as_str() {
            "" => None,
            c => Some(self.category_ext_id(c, op).await?),
        };
        let body = create_body(vm, placement, category.as_deref());
        let (id, repeatable) = match &vm.request_id {
            Some(id) => (id.clone(), true),
            None => {
                let now = self.clock().now().to_rfc3339();
                (request_id(&[&vm.name, &vm.cluster, &now]), false)
            }
        };
        let (answer, _) = self
            .v4
            .call_v4(
                Method::POST,
                VMS,
                Some(&body),
                &[("NTNX-Request-Id", id)],
                repeatable,
            )
            .await
            .map_err(|e| e.into_backend(op))?;
        task_of(&answer, op)
    }

    /// `GET …/tasks/{extId}`.
    pub(crate) async fn v4_task(&self, id: &TaskId) -> Result<TaskStatus, BackendError> {
        Ok(task_status(&self.v4_task_answer(id).await?))
    }

    /// `GET …/tasks/{extId}`, as Prism answered.
    async fn v4_task_answer(&self, id: &TaskId) -> Result<Value, BackendError> {
        let path = format!("{TASKS}/{}", url_safe::segment(&id.0, "task")?);
        let (answer, _) = self
            .v4
            .call_v4(Method::GET, &path, None, &[], true)
            .await
            .map_err(|e| e.into_backend("task"))?;
        Ok(answer)
    }

    /// Reads the task until it ends or `max_wait` passes (v4 has no long
    /// poll): 50 ms, doubling, at most 2 s between reads.
    pub(crate) async fn v4_wait_task(
        &self,
        id: &TaskId,
        max_wait: std::time::Duration,
    ) -> Result<TaskStatus, BackendError> {
        Ok(task_status(&self.v4_wait_task_answer(id, max_wait).await?))
    }

    /// [`v4_wait_task`](Self::v4_wait_task), the last answer as Prism gave
    /// it (what it names among `entitiesAffected`).
    pub(crate) async fn v4_wait_task_answer(
        &self,
        id: &TaskId,
        max_wait: std::time::Duration,
    ) -> Result<Value, BackendError> {
        let clock = self.clock();
        let until = butler_core::backend::after(clock.now(), max_wait);
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            let answer = self.v4_task_answer(id).await?;
            if task_status(&answer).state.is_terminal() || clock.now() >= until {
                return Ok(answer);
            }
            clock.sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(2));
        }
    }

    /// The VM and its `ETag`.
    pub(crate) async fn v4_vm(
        &self,
        uuid: &str,
        op: &'static str,
    ) -> Result<(Value, String), BackendError> {
        let path = format!("{VMS}/{}", url_safe::segment(uuid, op)?);
        let (answer, etag) = self
            .v4
            .call_v4(Method::GET, &path, None, &[], true)
            .await
            .map_err(|e| e.into_backend(op))?;
        let etag = etag.ok_or_else(|| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                "Prism returned the VM without an ETag; it cannot be changed safely",
            )
        })?;
        Ok((answer.get("data").cloned().unwrap_or(answer), etag))
    }

    /// A mutation of VM `uuid` under its current `ETag`: `call` gets the
    /// VM read and answers the request to send (`None`: nothing to do). A
    /// stale tag (412) is read again and the request sent again, up to
    /// [`ETAG_RETRIES`] times. Returns the task, if any.
    pub(crate) async fn v4_mutate(
        &self,
        uuid: &str,
        op: &'static str,
        call: impl Fn(&Value) -> Option<Mutation>,
    ) -> Result<Option<TaskId>, BackendError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let (vm, etag) = self.v4_vm(uuid, op).await?;
            let Some(m) = call(&vm) else {
                return Ok(None);
            };
            let body_text = m.body.as_ref().map(Value::to_string).unwrap_or_default();
            let id = request_id(&[op, uuid, &m.path, &etag, &body_text]);
            let headers = [("If-Match", etag), ("NTNX-Request-Id", id)];
            match self
                .v4
                .call_v4(m.method, &m.path, m.body.as_ref(), &headers, true)
                .await
            {
                Ok((answer, _)) => return task_of(&answer, op).map(Some),
                Err(e) if e.status == Some(412) && tries <= ETAG_RETRIES => {
                    tracing::info!(
                        vm = uuid,
                        "the VM changed under us (stale ETag); reading it again"
                    );
                }
                Err(e) => return Err(e.into_backend(op)),
            }
        }
    }

    /// Waits up to 60 s for a mutation's task: its failure or
    /// cancellation is an error naming `what` was done.
    pub(crate) async fn v4_finish(
        &self,
        task: &TaskId,
        op: &'static str,
        what: &str,
    ) -> Result<(), BackendError> {
        let status = self
            .v4_wait_task(task, std::time::Duration::from_secs(60))
            .await?;
        match status.state {
            TaskState::Succeeded => Ok(()),
            TaskState::Failed(why) => Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("{what} failed: {why}"),
            )),
            TaskState::Aborted => Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("{what} was canceled"),
            )),
            TaskState::Queued | TaskState::Running => Err(BackendError::new(
                ErrorKind::Timeout,
                op,
                format!("{what} not done after 60 s (task {})", task.0),
            )),
        }
    }

    /// Power through `$actions`, after a read: a VM in the state asked
    /// already gets nothing. Returns once the action's task succeeded.
    pub(crate) async fn v4_set_power(
        &self,
        uuid: &str,
        change: PowerChange,
    ) -> Result<(), BackendError> {
        let op = "set_power";
        let (action, target) = match change {
            PowerChange::On => ("power-on", Some("ON")),
            PowerChange::HardOff => ("power-off", Some("OFF")),
            PowerChange::GuestShutdown => ("shutdown", Some("OFF")),
            PowerChange::GuestRestart => ("reboot", None),
            other => {
                return Err(BackendError::new(
                    ErrorKind::Unsupported,
                    op,
                    format!("power change {other} is not known to this adapter"),
                ))
            }
        };
        let segment = url_safe::segment(uuid, op)?;
        let task = self
            .v4_mutate(uuid, op, |vm| {
                let already = target.is_some_and(|t| vm["powerState"] == t);
                (!already)
                    .then(|| Mutation::post(format!("{VMS}/{segment}/$actions/{action}"), None))
            })
            .await?;
        match task {
            Some(task) => self.v4_finish(&task, op, &format!("power {change}")).await,
            None => Ok(()),
        }
    }

    /// `DELETE …/vms/{extId}` under the VM's `ETag`.
    pub(crate) async fn v4_delete(&self, uuid: &str) -> Result<TaskId, BackendError> {
        let op = "delete_vm";
        let path = format!("{VMS}/{}", url_safe::segment(uuid, op)?);
        self.v4_mutate(uuid, op, |_| {
            Some(Mutation {
                method: Method::DELETE,
                path: path.clone(),
                body: None,
            })
        })
        .await?
        .ok_or_else(|| BackendError::new(ErrorKind::Permanent, op, "nothing was deleted"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vm_is_the_affected_entity_with_the_vm_rel_and_canceled_ends_a_task() {
        let t = json!({"data": {"status": "SUCCEEDED", "progressPercentage": 100, "entitiesAffected": [
            {"extId": "c-1", "rel": "clustermgmt:config:cluster"},
            {"extId": "vm-1", "rel": "vmm:ahv:config:vm"},
            {"extId": "vm-1", "rel": "vmm:ahv:config:vm"}]}});
        let s = task_status(&t);
        assert_eq!(s.state, TaskState::Succeeded);
        assert_eq!(s.entity_uuid.as_deref(), Some("vm-1"));
        let canceled = task_status(&json!({"data": {"status": "CANCELED"}}));
        assert_eq!(canceled.state, TaskState::Aborted);
        assert!(canceled.state.is_terminal());
        let failed = task_status(&json!({"data": {"status": "FAILED",
            "errorMessages": [{"message": "no room on host"}]}}));
        assert_eq!(failed.state, TaskState::Failed("no room on host".into()));
        let canceling = task_status(&json!({"data": {"status": "CANCELING"}}));
        assert!(!canceling.state.is_terminal());
    }

    #[test]
    fn request_ids_are_uuid_shaped_and_stable() {
        let a = request_id(&["power-off", "vm-1", "\"e1\""]);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert_eq!(a, request_id(&["power-off", "vm-1", "\"e1\""]));
        assert_ne!(a, request_id(&["power-off", "vm-1", "\"e2\""]));
        assert!(is_v4_task(&TaskId("ZXJnb24=:abc".into())));
        assert!(!is_v4_task(&TaskId(
            "5f0c2a8e-7d41-4b6a-9e3f-2c8d1a7b6e40".into()
        )));
    }
}

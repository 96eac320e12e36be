//! What the executor needs of a flow's steps: a table from each step to its
//! action, the context an action gets, and what it returns. The order of
//! the steps is data in [`crate::request::flow`]; the actions of the
//! provisioning flow live in `provisioning.rs`.

use super::EngineConfig;
use crate::backend::{BackendError, Billing, Clock, ClusterBackend, Monitor};
use crate::inventory::{VmId, VmRecord};
use crate::request::{ProvisioningStep, Request, RequestId};
use crate::store::{StepLogEntry, StepPhase};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The backends every action may call, each behind its deadline guard.
pub(crate) struct Backends {
    /// The store, for steps that record in it (the inventory).
    pub(crate) store: Arc<dyn crate::store::Store>,
    pub(crate) cluster: Arc<dyn ClusterBackend>,
    pub(crate) monitor: Arc<dyn Monitor>,
    pub(crate) billing: Arc<dyn Billing>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// What an action sees: the request, the engine's settings, the step's
/// deadline and what earlier steps of the flow returned.
pub(crate) struct StepCtx<'a> {
    pub(crate) config: &'a EngineConfig,
    pub(crate) request: &'a Request,
    pub(crate) deadline: DateTime<Utc>,
    pub(crate) outputs: &'a StepOutputs,
    /// The step's idempotency key, for a step that takes one
    /// ([`keyed`]): already in the step log when the action runs.
    pub(crate) key: Option<&'a str>,
}

/// What a step achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepOutcome {
    /// The VM's platform id, when the step learned it (the request keeps it).
    pub(crate) vm_uuid: Option<String>,
    /// One line for the history and the step log.
    pub(crate) detail: crate::said::Said,
    /// The step's output for later steps, kept in the step log
    /// (`serde_json::Value::Null`: none).
    pub(crate) output: serde_json::Value,
    /// The step's change to a VM record, written in the same store write
    /// as the step's success (`None`: nothing to record).
    pub(crate) record: Option<RecordWrite>,
}

impl StepOutcome {
    /// An outcome with a detail line and no output.
    pub(crate) fn done(detail: impl Into<crate::said::Said>) -> StepOutcome {
        StepOutcome {
            vm_uuid: None,
            detail: detail.into(),
            output: serde_json::Value::Null,
            record: None,
        }
    }

    /// This outcome, with `record` written when the step's success is.
    pub(crate) fn recording(self, record: Option<RecordWrite>) -> StepOutcome {
        StepOutcome { record, ..self }
    }

    /// The detail as a code with its values, for the step log (`None`
    /// for text from elsewhere).
    pub(crate) fn said(&self) -> Option<crate::said::Said> {
        (self.detail.code != crate::said::SaidCode::Text).then(|| self.detail.clone())
    }
}

/// A VM record as a step leaves it, and the version it was read at: the
/// executor writes it with the step's success
/// ([`crate::store::Store::update_request_with_vm`]). When the record
/// changed meanwhile (the reconciler, an owner's power request) the write
/// is refused and the step runs again, reading it afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordWrite {
    pub(crate) record: VmRecord,
    /// The record as the step read it.
    pub(crate) before: VmRecord,
}

impl Backends {
    /// The record `id` with `what` by the engine in its history, and
    /// `edit`ed; `None` when `edit` answers that there is nothing to do (a
    /// repeated step).
    pub(crate) async fn plan_record(
        &self,
        id: VmId,
        what: crate::said::Said,
        edit: impl FnOnce(&mut VmRecord) -> bool,
    ) -> Result<Option<RecordWrite>, StepFault> {
        let stored = self
            .store
            .get_vm(id)
            .await
            .map_err(|e| store_fault("read the VM", e))?;
        let mut record = stored.next(crate::auth::ENGINE_NAME, self.clock.now(), what);
        if !edit(&mut record) {
            return Ok(None);
        }
        record.note_life(&stored);
        Ok(Some(RecordWrite {
            record,
            before: stored,
        }))
    }
}

/// Why a step attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepFault {
    pub(crate) retryable: bool,
    pub(crate) reason: String,
}

impl From<BackendError> for StepFault {
    fn from(e: BackendError) -> Self {
        StepFault {
            retryable: e.is_retryable(),
            reason: e.to_string(),
        }
    }
}

/// A store failure as a step's fault: retried when passing (a conflict
/// included: the step reads afresh).
fn store_fault(what: &str, e: crate::store::StoreError) -> StepFault {
    StepFault {
        retryable: e.is_retryable() || matches!(e, crate::store::StoreError::Conflict { .. }),
        reason: format!("cannot {what} in the inventory: {e}"),
    }
}

pub(crate) fn permanent(reason: String) -> StepFault {
    StepFault {
        retryable: false,
        reason,
    }
}

/// The future an action returns.
pub(crate) type StepFuture<'a> =
    Pin<Box<dyn Future<Output = Result<StepOutcome, StepFault>> + Send + 'a>>;

/// One step's action: a plain async function of the backends and the
/// step's context. It must be idempotent (look up before acting): the
/// executor runs it again after a lost reply, a crash or a lease expiry.
pub(crate) type Action = for<'a> fn(&'a Backends, &'a StepCtx<'a>) -> StepFuture<'a>;

/// A step of some flow and its action.
pub(crate) struct StepAction {
    pub(crate) step: ProvisioningStep,
    pub(crate) run: Action,
}

/// Every flow's table of actions.
pub(crate) const TABLES: [&[StepAction]; 5] = [
    &super::provisioning::ACTIONS,
    &super::decommission::ACTIONS,
    &super::reconfigure::ACTIONS,
    &super::extend::ACTIONS,
    &super::restore::ACTIONS,
];

/// The action of `step`: a permanent fault when this engine has none (a
/// request written by a newer version of Butler, say), never a panic.
pub(crate) fn action_of(step: ProvisioningStep) -> Result<Action, StepFault> {
    TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|a| a.step == step)
        .map(|a| a.run)
        .ok_or_else(|| permanent(format!("this engine has no action for step {step}")))
}

/// Steps whose side effect is a create the platform can recognise when
/// repeated, by an idempotency key the step log keeps
/// ([`crate::backend::VmCreate::request_id`]).
pub(crate) fn keyed(step: ProvisioningStep) -> bool {
    step == ProvisioningStep::CreateVm
}

/// A new idempotency key for `step` of request `r`, attempt `attempt`
/// under lease generation `lease`: UUID-shaped (what Prism's
/// `NTNX-Request-Id` asks for), from a hash of the four, so no two
/// attempts' keys meet (the generation is the request's fencing token,
/// new for every engine that takes it) and a line written ahead and the
/// attempt that runs agree without passing it.
pub(crate) fn new_key(r: RequestId, step: ProvisioningStep, lease: u64, attempt: u32) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"butler idempotency key\0")
        .chain_update(r.0.to_be_bytes())
        .chain_update(step.to_string().as_bytes())
        .chain_update(lease.to_be_bytes())
        .chain_update(attempt.to_be_bytes())
        .finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    crate::backend::uuid_v8(b)
}

/// The outputs of a request's succeeded steps, by step, and the
/// idempotency keys of the keyed steps under way: filled as the executor
/// goes, and read back from the step log when it resumes a request another
/// process (or an earlier pass) started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StepOutputs {
    outputs: BTreeMap<ProvisioningStep, serde_json::Value>,
    keys: BTreeMap<ProvisioningStep, String>,
}

impl StepOutputs {
    /// The outputs the step log records (the last success of each step
    /// wins), and the key of each keyed step started and not yet ended
    /// (succeeded, or failed for good).
    pub(crate) fn from_log(log: &[StepLogEntry]) -> StepOutputs {
        let mut out = StepOutputs::default();
        for line in log {
            match &line.phase {
                StepPhase::Started => {
                    if let Some(k) = &line.key {
                        out.keep_key(line.step, k.clone());
                    }
                }
                StepPhase::Succeeded { output, .. } => {
                    out.record(line.step, output.clone());
                    out.end_key(line.step);
                }
                StepPhase::Failed {
                    will_retry: false, ..
                } => out.end_key(line.step),
                StepPhase::Failed { .. } => {}
            }
        }
        out
    }

    pub(crate) fn record(&mut self, step: ProvisioningStep, output: serde_json::Value) {
        if !output.is_null() {
            self.outputs.insert(step, output);
        }
    }

    /// `step`'s output, if it returned one.
    pub(crate) fn get(&self, step: ProvisioningStep) -> Option<&serde_json::Value> {
        self.outputs.get(&step)
    }

    /// Field `key` of `step`'s output, if that step returned it as a string.
    pub(crate) fn text(&self, step: ProvisioningStep, key: &str) -> Option<&str> {
        self.outputs.get(&step)?.get(key)?.as_str()
    }

    /// The idempotency key `step`'s attempts send, once one was logged.
    pub(crate) fn key(&self, step: ProvisioningStep) -> Option<&str> {
        self.keys.get(&step).map(String::as_str)
    }

    pub(crate) fn keep_key(&mut self, step: ProvisioningStep, key: String) {
        self.keys.insert(step, key);
    }

    /// `step` ended: its next run, if any, makes a new key.
    pub(crate) fn end_key(&mut self, step: ProvisioningStep) {
        self.keys.remove(&step);
    }
}

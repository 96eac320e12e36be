use super::history::{field_changes, CostChange, HistoryEntry};
use super::{
    ActionKind, ProvisioningStep, Request, RequestId, RequestState, StepFailure, StepProgress,
};
use crate::auth::{Actor, Denied, DenyReason, Operation, Policy};
use crate::cost::Estimate;
use crate::said::{Said, SaidCode};
use crate::vm_spec::ValidSpec;
use chrono::{DateTime, Utc};

/// A validated spec with its estimate: what `Save`, `Review` and [`create`]
/// take, so a transition never has to consult the catalog or the rate cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// The validated spec.
    pub spec: ValidSpec,
    /// Its estimate.
    pub estimate: Estimate,
}

/// An action a user takes on an existing request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Owner edits a draft.
    Save(Box<Priced>),
    /// Owner submits for approval.
    Submit,
    /// Owner cancels.
    Cancel {
        /// Optional reason for history.
        reason: Option<String>,
    },
    /// Approver edits.
    Review(Box<Priced>),
    /// Approver rejects.
    Reject {
        /// Reason, required by the service layer for people to read.
        reason: String,
    },
    /// Approver approves.
    Approve,
    /// Admin (or approver) retries a request in `Error` at its failed step.
    Retry,
}

impl Action {
    /// The action's kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Save(_) => ActionKind::Save,
            Action::Submit => ActionKind::Submit,
            Action::Cancel { .. } => ActionKind::Cancel,
            Action::Review(_) => ActionKind::Review,
            Action::Reject { .. } => ActionKind::Reject,
            Action::Approve => ActionKind::Approve,
            Action::Retry => ActionKind::Retry,
        }
    }
}

/// What the provisioning engine records. Crate-private: no host code, user
/// or role can produce one (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineAction {
    /// Start at the first step.
    StartProvisioning,
    /// A failed attempt that will be retried.
    StepRetry {
        step: ProvisioningStep,
        reason: String,
    },
    /// A finished step: its outcome in English (`note`) and as the step
    /// said it (`said`), which the history keeps for other languages.
    StepDone {
        step: ProvisioningStep,
        vm_uuid: Option<String>,
        note: Option<String>,
        said: Option<Said>,
    },
    /// Give up on a step.
    Fail {
        step: ProvisioningStep,
        reason: String,
    },
}

impl EngineAction {
    fn kind(&self) -> ActionKind {
        match self {
            EngineAction::StartProvisioning => ActionKind::StartProvisioning,
            EngineAction::StepRetry { .. } => ActionKind::StepRetry,
            EngineAction::StepDone { .. } => ActionKind::StepDone,
            EngineAction::Fail { .. } => ActionKind::Fail,
        }
    }
}

/// Creates a request (state `Created`, version 1) for `actor`, who becomes
/// its owner. `id` comes from the store.
pub fn create(
    policy: &Policy,
    id: RequestId,
    actor: &Actor,
    priced: Priced,
    at: DateTime<Utc>,
) -> Result<Request, Denied> {
    policy.check_request(actor, None, ActionKind::Create)?;
    let entry = HistoryEntry {
        seq: 1,
        at,
        actor: actor.name().to_string(),
        action: ActionKind::Create,
        from: None,
        to: RequestState::Created,
        changes: Vec::new(),
        cost: None,
        note: None,
        said: None,
    };
    Ok(Request {
        id,
        owner: actor.name().to_string(),
        approver: None,
        state: RequestState::Created,
        spec: priced.spec,
        estimate: priced.estimate,
        progress: None,
        failure: None,
        vm_uuid: None,
        kind: super::RequestKind::NewVm,
        version: 1,
        created_at: at,
        updated_at: at,
        history: vec![entry],
        approval: None,
    })
}

/// Creates a day-2 request of `kind` (a decommission or a reconfigure of
/// an inventory VM owned by `vm_owner`), asked by `actor` and submitted at
/// once (state `Requested`, version 1, two history entries): the form is
/// the draft. `priced` is what the request holds: for a decommission the
/// VM's spec and monthly cost as approved (what stops); for a reconfigure
/// the new spec and cost, with `before` (the VM as approved) giving the
/// changed fields and the cost before and after in the first entry. The
/// VM's owner may ask; anyone else needs [`Operation::ChangeVms`].
#[allow(clippy::too_many_arguments)]
pub fn create_change(
    policy: &Policy,
    id: RequestId,
    actor: &Actor,
    vm_owner: &str,
    kind: super::RequestKind,
    before: Option<&Priced>,
    priced: Priced,
    at: DateTime<Utc>,
) -> Result<Request, Denied> {
    if !crate::auth::same_user(actor.name(), vm_owner) {
        policy.check(actor, Operation::ChangeVms)?;
    }
    let Some(target) = kind.target().cloned() else {
        return Err(Denied {
            actor: actor.name().to_string(),
            action: Operation::Request(ActionKind::Create),
            request: Some(id),
            state: None,
            reason: DenyReason::WrongState,
        });
    };
    let verb = match &kind {
        super::RequestKind::Reconfigure(_) => "change".to_string(),
        super::RequestKind::ExtendLease(e) => format!("extend to {} the lease of", e.until),
        _ => "retire".to_string(),
    };
    let (changes, cost) = match before {
        Some(b) => (
            field_changes(&b.spec, &priced.spec),
            Some(CostChange {
                before: b.estimate.total,
                after: priced.estimate.total,
                currency: priced.estimate.currency.clone(),
            }),
        ),
        None => (Vec::new(), None),
    };
    let created = HistoryEntry {
        seq: 1,
        at,
        actor: actor.name().to_string(),
        action: ActionKind::Create,
        from: None,
        to: RequestState::Created,
        changes,
        cost,
        note: Some(format!("{verb} {} ({})", target.name, target.vm)),
        said: None,
    };
    let submitted = HistoryEntry {
        seq: 2,
        action: ActionKind::Submit,
        from: Some(RequestState::Created),
        to: RequestState::Requested,
        changes: Vec::new(),
        cost: None,
        note: None,
        ..created.clone()
    };
    Ok(Request {
        id,
        owner: actor.name().to_string(),
        approver: None,
        state: RequestState::Requested,
        spec: priced.spec,
        estimate: priced.estimate,
        progress: None,
        failure: None,
        vm_uuid: Some(target.platform_id),
        kind,
        version: 1,
        created_at: at,
        updated_at: at,
        history: vec![created, submitted],
        approval: None,
    })
}

/// The decommission of a VM whose lease ended on `ended`, where the
/// deployment retires VMs at lease end: made by Butler itself (the engine's
/// reserved name) for the VM's owner `vm_owner`, and approved at once, as
/// the deployment's rule and not a person decided; its three history
/// entries say so. `priced` is the VM's spec and cost as approved.
pub fn retirement_at_lease_end(
    id: RequestId,
    vm_owner: &str,
    target: super::Target,
    priced: Priced,
    ended: chrono::NaiveDate,
    at: DateTime<Utc>,
) -> Request {
    let why = Said::new(
        SaidCode::RetireAtLeaseEnd,
        [
            ("vm", target.name.clone()),
            ("record", target.vm.to_string()),
            ("ended", ended.to_string()),
        ],
    );
    approved_by_butler(
        id,
        vm_owner,
        crate::auth::ENGINE_NAME,
        super::RequestKind::Decommission(target),
        priced,
        why,
        Said::just(SaidCode::DeploymentRetires),
        at,
    )
}

/// A day-2 request of `kind` for an inventory VM of `vm_owner` that needs
/// no person's approval, asked by `asked_by` (Butler's reserved name when
/// Butler asks it) and approved at once by Butler: created (saying `why`),
/// submitted and approved (saying `approved_because`), three history
/// entries. `priced` is the VM's spec and cost as approved.
#[allow(clippy::too_many_arguments)]
pub fn approved_by_butler(
    id: RequestId,
    vm_owner: &str,
    asked_by: &str,
    kind: super::RequestKind,
    priced: Priced,
    why: Said,
    approved_because: Said,
    at: DateTime<Utc>,
) -> Request {
    let butler = Actor::engine();
    let created = HistoryEntry {
        seq: 1,
        at,
        actor: asked_by.to_string(),
        action: ActionKind::Create,
        from: None,
        to: RequestState::Created,
        changes: Vec::new(),
        cost: None,
        note: Some(why.to_string()),
        said: Some(why),
    };
    let submitted = HistoryEntry {
        seq: 2,
        action: ActionKind::Submit,
        from: Some(RequestState::Created),
        to: RequestState::Requested,
        note: None,
        said: None,
        ..created.clone()
    };
    let approved = HistoryEntry {
        seq: 3,
        actor: butler.name().to_string(),
        action: ActionKind::Approve,
        from: Some(RequestState::Requested),
        to: RequestState::Approved,
        note: Some(approved_because.to_string()),
        said: Some(approved_because),
        ..created.clone()
    };
    Request {
        id,
        owner: vm_owner.to_string(),
        approver: Some(butler.name().to_string()),
        state: RequestState::Approved,
        spec: priced.spec,
        estimate: priced.estimate,
        progress: None,
        failure: None,
        vm_uuid: kind.target().map(|t| t.platform_id.clone()),
        kind,
        version: 1,
        created_at: at,
        updated_at: at,
        history: vec![created, submitted, approved],
        approval: None,
    }
}

/// Applies a rule book's `decision` to `submitted`, a request its
/// requester has just submitted (state `Requested`), in the same write:
/// approved or refused by Butler (an entry by the engine's reserved name
/// saying which rule, of which version), or left for its levels' approvers
/// with the submit entry saying what it needs and why.
pub(crate) fn decided(
    mut submitted: Request,
    decision: &crate::rules::Decision,
    at: DateTime<Utc>,
) -> Request {
    use crate::rules::Outcome;
    let note = decision.note();
    let (action, to) = match &decision.outcome {
        Outcome::Require {
            levels,
            restart_on_edit,
        } => {
            if let Some(last) = submitted.history.last_mut() {
                last.note = Some(note);
                last.said = Some(decision.said());
            }
            // No rule matched: one approver, as without rules.
            if !decision.rules.is_empty() {
                submitted.approval = Some(super::Approval {
                    levels: levels.clone(),
                    approved_by: Vec::new(),
                    restart_on_edit: *restart_on_edit,
                });
            }
            return submitted;
        }
        Outcome::Approve => (ActionKind::Approve, RequestState::Approved),
        Outcome::Refuse { .. } => (ActionKind::Reject, RequestState::Rejected),
    };
    let entry = HistoryEntry {
        seq: u32::try_from(submitted.history.len() + 1).unwrap_or(u32::MAX),
        at,
        actor: crate::auth::ENGINE_NAME.to_string(),
        action,
        from: Some(submitted.state),
        to,
        changes: Vec::new(),
        cost: None,
        note: Some(note),
        said: Some(decision.said()),
    };
    submitted.history.push(entry);
    submitted.state = to;
    submitted.approver = Some(crate::auth::ENGINE_NAME.to_string());
    submitted.updated_at = at;
    submitted
}

/// Applies `action` by `actor` to `request` at time `at`, if `policy`
/// allows it.
///
/// Returns the new request (history entry appended, version + 1) and a copy
/// of the entry; or an error, and `request` is untouched.
pub fn transition(
    policy: &Policy,
    request: &Request,
    actor: &Actor,
    action: Action,
    at: DateTime<Utc>,
) -> Result<(Request, HistoryEntry), Denied> {
    let kind = action.kind();
    policy.check_request(
        actor,
        Some((request.id, &request.owner, request.state)),
        kind,
    )?;
    if matches!(action, Action::Save(_) | Action::Review(_)) && !request.kind.is_editable() {
        return Err(denied(request, actor, kind, DenyReason::NotEditable));
    }
    let mut next = request.clone();
    let mut changes = Vec::new();
    let mut cost = None;
    let mut note = None;
    match action {
        Action::Save(priced) | Action::Review(priced) => {
            changes = field_changes(&request.spec, &priced.spec);
            if request.estimate.total != priced.estimate.total || !changes.is_empty() {
                cost = Some(CostChange {
                    before: request.estimate.total,
                    after: priced.estimate.total,
                    currency: priced.estimate.currency.clone(),
                });
            }
            next.spec = priced.spec;
            next.estimate = priced.estimate;
            if kind == ActionKind::Review {
                next.state = RequestState::Reviewed;
                next.approver = Some(actor.name().to_string());
                if let Some(a) = next.approval.as_mut() {
                    if a.restart_on_edit && !a.approved_by.is_empty() {
                        note = Some(format!(
                            "edited after {} of {} levels: back to level 1",
                            a.approved_by.len(),
                            a.levels.len()
                        ));
                        a.approved_by.clear();
                    }
                }
            }
        }
        Action::Submit => next.state = RequestState::Requested,
        Action::Cancel { reason } => {
            next.state = RequestState::Cancelled;
            note = reason;
        }
        Action::Reject { reason } => {
            next.state = RequestState::Rejected;
            next.approver = Some(actor.name().to_string());
            note = Some(reason);
        }
        Action::Approve => {
            next.approver = Some(actor.name().to_string());
            match next.approval.as_mut() {
                None => next.state = RequestState::Approved,
                Some(a) => {
                    let Some((i, level)) = a.next_level() else {
                        return Err(denied(request, actor, kind, DenyReason::WrongState));
                    };
                    if a.approved_by(actor.name()) {
                        return Err(denied(request, actor, kind, DenyReason::ApprovedAlready));
                    }
                    if !level.admits(actor) {
                        return Err(denied(request, actor, kind, DenyReason::NotAtLevel));
                    }
                    note = Some(format!("level {} of {} ({level})", i + 1, a.levels.len()));
                    a.approved_by.push(actor.name().to_string());
                    if a.next_level().is_none() {
                        next.state = RequestState::Approved;
                    }
                }
            }
        }
        Action::Retry => {
            let Some(failure) = request.failure.clone() else {
                return Err(denied(request, actor, kind, DenyReason::WrongState));
            };
            next.state = RequestState::Provisioning;
            next.progress = Some(StepProgress {
                step: failure.step,
                attempt: 1,
            });
            next.failure = None;
            note = Some(format!("retry at step {}", failure.step));
        }
    }
    Ok(finish(request, next, actor, kind, changes, cost, note, at))
}

fn denied(request: &Request, actor: &Actor, kind: ActionKind, reason: DenyReason) -> Denied {
    Denied {
        actor: actor.name().to_string(),
        action: Operation::Request(kind),
        request: Some(request.id),
        state: Some(request.state),
        reason,
    }
}

/// Appends the history entry and bumps the version.
#[allow(clippy::too_many_arguments)]
fn finish(
    request: &Request,
    mut next: Request,
    actor: &Actor,
    kind: ActionKind,
    changes: Vec<super::FieldChange>,
    cost: Option<CostChange>,
    note: Option<String>,
    at: DateTime<Utc>,
) -> (Request, HistoryEntry) {
    let entry = HistoryEntry {
        seq: u32::try_from(request.history.len() + 1).unwrap_or(u32::MAX),
        at,
        actor: actor.name().to_string(),
        action: kind,
        from: Some(request.state),
        to: next.state,
        changes,
        cost,
        note,
        said: None,
    };
    next.history.push(entry.clone());
    next.version += 1;
    next.updated_at = at;
    (next, entry)
}

/// Applies an engine action. Crate-private: the engine is the only caller,
/// so `Completed` is reached only after its steps really ran.
pub(crate) fn advance(
    request: &Request,
    action: EngineAction,
    at: DateTime<Utc>,
) -> Result<(Request, HistoryEntry), Denied> {
    let engine = Actor::engine();
    let kind = action.kind();
    let deny = |reason| denied(request, &engine, kind, reason);
    let wanted = if kind == ActionKind::StartProvisioning {
        RequestState::Approved
    } else {
        RequestState::Provisioning
    };
    if request.state != wanted {
        let reason = if request.state.is_final() {
            DenyReason::Final
        } else {
            DenyReason::WrongState
        };
        return Err(deny(reason));
    }
    let current_step = |step: ProvisioningStep| match request.progress {
        Some(p) if p.step == step => Ok(p),
        _ => Err(deny(DenyReason::WrongStep)),
    };
    let mut next = request.clone();
    let note;
    // The note as a code, for the languages other than English.
    let mut said = None;
    match action {
        EngineAction::StartProvisioning => {
            next.state = RequestState::Provisioning;
            next.progress = Some(StepProgress {
                step: request.flow().first(),
                attempt: 1,
            });
            note = None;
        }
        EngineAction::StepRetry { step, reason } => {
            let p = current_step(step)?;
            next.progress = Some(StepProgress {
                step,
                attempt: p.attempt.saturating_add(1),
            });
            note = Some(format!("{step} attempt {} failed: {reason}", p.attempt));
            said = Some(Said::new(
                SaidCode::StepAttemptFailed,
                [
                    ("step", step.to_string()),
                    ("attempt", p.attempt.to_string()),
                    ("reason", reason),
                ],
            ));
        }
        EngineAction::StepDone {
            step,
            vm_uuid,
            note: outcome,
            said: outcome_said,
        } => {
            current_step(step)?;
            if vm_uuid.is_some() {
                next.vm_uuid = vm_uuid;
            }
            match request.flow().next(step) {
                Some(s) => {
                    next.progress = Some(StepProgress {
                        step: s,
                        attempt: 1,
                    })
                }
                None => {
                    next.progress = None;
                    next.state = RequestState::Completed;
                }
            }
            // The step's own line, else its English outcome as text.
            let detail = outcome_said.or_else(|| outcome.clone().map(Said::text));
            note = Some(match outcome {
                Some(o) => format!("{step} done: {o}"),
                None => format!("{step} done"),
            });
            said = Some(
                Said::new(SaidCode::StepSucceeded, [("step", step.to_string())])
                    .with_parts(detail.into_iter().collect()),
            );
        }
        EngineAction::Fail { step, reason } => {
            let p = current_step(step)?;
            next.state = RequestState::Error;
            next.progress = None;
            next.failure = Some(StepFailure {
                step,
                attempts: p.attempt,
                reason: reason.clone(),
            });
            note = Some(format!(
                "{step} failed after {} attempt(s): {reason}",
                p.attempt
            ));
        }
    }
    let (mut next, mut entry) = finish(request, next, &engine, kind, Vec::new(), None, note, at);
    if let Some(last) = next.history.last_mut() {
        last.said.clone_from(&said);
    }
    entry.said = said;
    Ok((next, entry))
}

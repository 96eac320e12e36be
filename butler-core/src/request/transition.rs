use super::history::{field_changes, CostChange, HistoryEntry};
use super::policy::{permits, ActionKind, DenyReason};
use super::{ProvisioningStep, Request, RequestId, RequestState, StepFailure, StepProgress};
use crate::auth::Actor;
use crate::cost::Estimate;
use crate::spec::ValidSpec;
use chrono::{DateTime, Utc};
use std::fmt;

/// A validated spec with its estimate: what `Save`, `Review` and [`create`]
/// take, so a transition never has to consult the catalog or the rate cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// The validated spec.
    pub spec: ValidSpec,
    /// Its estimate.
    pub estimate: Estimate,
}

/// An action on an existing request.
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
    /// Engine starts at the first step.
    StartProvisioning,
    /// Engine records a failed attempt it will retry.
    StepRetry {
        /// The step (must be the current one).
        step: ProvisioningStep,
        /// Why the attempt failed.
        reason: String,
    },
    /// Engine finished a step.
    StepDone {
        /// The step (must be the current one).
        step: ProvisioningStep,
        /// The VM uuid, when `CreateVm` finishes.
        vm_uuid: Option<String>,
        /// Outcome for history.
        note: Option<String>,
    },
    /// Engine gives up on a step.
    Fail {
        /// The step (must be the current one).
        step: ProvisioningStep,
        /// The last reason.
        reason: String,
    },
    /// Admin retries a request in `Error` at its failed step.
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
            Action::StartProvisioning => ActionKind::StartProvisioning,
            Action::StepRetry { .. } => ActionKind::StepRetry,
            Action::StepDone { .. } => ActionKind::StepDone,
            Action::Fail { .. } => ActionKind::Fail,
            Action::Retry => ActionKind::Retry,
        }
    }
}

/// A refused action: who, what, in which state, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TransitionError {
    /// The actor's user name.
    pub actor: String,
    /// The action.
    pub action: ActionKind,
    /// The request, if it exists yet.
    pub request: Option<RequestId>,
    /// The request's state.
    pub state: Option<RequestState>,
    /// Why.
    pub reason: DenyReason,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} may not {}", self.actor, self.action)?;
        if let Some(id) = self.request {
            write!(f, " request {id}")?;
        }
        if let Some(s) = self.state {
            write!(f, " in state {s}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Creates a request (state `Created`, version 1) for `actor`, who becomes
/// its owner. `id` comes from the store.
pub fn create(
    id: RequestId,
    actor: &Actor,
    priced: Priced,
    at: DateTime<Utc>,
) -> Result<Request, TransitionError> {
    permits(actor, true, RequestState::Created, ActionKind::Create).map_err(|reason| {
        TransitionError {
            actor: actor.name.clone(),
            action: ActionKind::Create,
            request: None,
            state: None,
            reason,
        }
    })?;
    let (spec, derived) = priced.spec.into_parts();
    let entry = HistoryEntry {
        seq: 1,
        at,
        actor: actor.name.clone(),
        action: ActionKind::Create,
        from: None,
        to: RequestState::Created,
        changes: Vec::new(),
        cost: None,
        note: None,
    };
    Ok(Request {
        id,
        owner: actor.name.clone(),
        approver: None,
        state: RequestState::Created,
        spec,
        derived,
        estimate: priced.estimate,
        progress: None,
        failure: None,
        vm_uuid: None,
        version: 1,
        created_at: at,
        updated_at: at,
        history: vec![entry],
    })
}

/// Applies `action` by `actor` to `request` at time `at`.
///
/// Returns the new request (history entry appended, version + 1) and a copy
/// of the entry; or an error, and `request` is untouched.
pub fn transition(
    request: &Request,
    actor: &Actor,
    action: Action,
    at: DateTime<Utc>,
) -> Result<(Request, HistoryEntry), TransitionError> {
    let kind = action.kind();
    let deny = |reason| TransitionError {
        actor: actor.name.clone(),
        action: kind,
        request: Some(request.id),
        state: Some(request.state),
        reason,
    };
    permits(actor, request.owner == actor.name, request.state, kind).map_err(deny)?;

    let mut next = request.clone();
    let mut changes = Vec::new();
    let mut cost = None;
    let mut note = None;
    let from = request.state;
    let current_step = |step: ProvisioningStep| match request.progress {
        Some(p) if p.step == step => Ok(p),
        _ => Err(deny(DenyReason::WrongStep)),
    };

    match action {
        Action::Save(priced) | Action::Review(priced) => {
            let (spec, derived) = priced.spec.into_parts();
            changes = field_changes(&request.spec, &spec);
            if request.estimate.total != priced.estimate.total || !changes.is_empty() {
                cost = Some(CostChange {
                    before: request.estimate.total,
                    after: priced.estimate.total,
                    currency: priced.estimate.currency.clone(),
                });
            }
            next.spec = spec;
            next.derived = derived;
            next.estimate = priced.estimate;
            if kind == ActionKind::Review {
                next.state = RequestState::Reviewed;
                next.approver = Some(actor.name.clone());
            }
        }
        Action::Submit => next.state = RequestState::Requested,
        Action::Cancel { reason } => {
            next.state = RequestState::Cancelled;
            note = reason;
        }
        Action::Reject { reason } => {
            next.state = RequestState::Rejected;
            next.approver = Some(actor.name.clone());
            note = Some(reason);
        }
        Action::Approve => {
            next.state = RequestState::Approved;
            next.approver = Some(actor.name.clone());
        }
        Action::StartProvisioning => {
            next.state = RequestState::Provisioning;
            next.progress = Some(StepProgress {
                step: ProvisioningStep::CreateVm,
                attempt: 1,
            });
        }
        Action::StepRetry { step, reason } => {
            let p = current_step(step)?;
            next.progress = Some(StepProgress {
                step,
                attempt: p.attempt.saturating_add(1),
            });
            note = Some(format!("{step} attempt {} failed: {reason}", p.attempt));
        }
        Action::StepDone {
            step,
            vm_uuid,
            note: outcome,
        } => {
            current_step(step)?;
            if vm_uuid.is_some() {
                next.vm_uuid = vm_uuid;
            }
            match step.next() {
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
            note = Some(match outcome {
                Some(o) => format!("{step} done: {o}"),
                None => format!("{step} done"),
            });
        }
        Action::Fail { step, reason } => {
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
        Action::Retry => {
            let failure = request
                .failure
                .clone()
                .ok_or_else(|| deny(DenyReason::WrongState))?;
            next.state = RequestState::Provisioning;
            next.progress = Some(StepProgress {
                step: failure.step,
                attempt: 1,
            });
            next.failure = None;
            note = Some(format!("retry at step {}", failure.step));
        }
    }

    let entry = HistoryEntry {
        seq: u32::try_from(request.history.len() + 1).unwrap_or(u32::MAX),
        at,
        actor: actor.name.clone(),
        action: kind,
        from: Some(from),
        to: next.state,
        changes,
        cost,
        note,
    };
    next.history.push(entry.clone());
    next.version += 1;
    next.updated_at = at;
    Ok((next, entry))
}

use super::{Request, RequestState};
use crate::auth::{Actor, Role};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of action on a request (what history and errors name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Create a new request (→ `Created`).
    Create,
    /// The owner edits a draft (`Created` → `Created`).
    Save,
    /// The owner submits (`Created` → `Requested`).
    Submit,
    /// The owner cancels (`Created`/`Requested` → `Cancelled`).
    Cancel,
    /// An approver edits (`Requested`/`Reviewed` → `Reviewed`).
    Review,
    /// An approver rejects (→ `Rejected`).
    Reject,
    /// An approver approves (→ `Approved`).
    Approve,
    /// The engine starts provisioning (`Approved` → `Provisioning`).
    StartProvisioning,
    /// The engine records a failed attempt that will be retried.
    StepRetry,
    /// The engine finishes a step (→ next step, or `Completed` after the last).
    StepDone,
    /// The engine gives up on a step (→ `Error`).
    Fail,
    /// An admin (or approver) retries a request in `Error` at its failed step.
    Retry,
}

impl ActionKind {
    /// Every action kind.
    pub const ALL: [ActionKind; 12] = [
        ActionKind::Create,
        ActionKind::Save,
        ActionKind::Submit,
        ActionKind::Cancel,
        ActionKind::Review,
        ActionKind::Reject,
        ActionKind::Approve,
        ActionKind::StartProvisioning,
        ActionKind::StepRetry,
        ActionKind::StepDone,
        ActionKind::Fail,
        ActionKind::Retry,
    ];

    /// The action's name in `snake_case`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Save => "save",
            ActionKind::Submit => "submit",
            ActionKind::Cancel => "cancel",
            ActionKind::Review => "review",
            ActionKind::Reject => "reject",
            ActionKind::Approve => "approve",
            ActionKind::StartProvisioning => "start_provisioning",
            ActionKind::StepRetry => "step_retry",
            ActionKind::StepDone => "step_done",
            ActionKind::Fail => "fail",
            ActionKind::Retry => "retry",
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// The actor holds none of the roles the action needs.
    MissingRole {
        /// The roles any of which would do.
        needs: Vec<Role>,
    },
    /// The action is only for the request's owner.
    NotOwner,
    /// The actor may not even see the request.
    NotVisible,
    /// The action is not possible in this state.
    WrongState,
    /// The request is in a final state.
    Final,
    /// An engine action that does not match the current step.
    WrongStep,
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::MissingRole { needs } => {
                let names: Vec<String> = needs.iter().map(|r| r.to_string()).collect();
                write!(f, "needs the role {}", names.join(" or "))
            }
            DenyReason::NotOwner => f.write_str("only the request's owner may do this"),
            DenyReason::NotVisible => f.write_str("the request is not visible to this user"),
            DenyReason::WrongState => f.write_str("not possible in this state"),
            DenyReason::Final => f.write_str("the request is in a final state"),
            DenyReason::WrongStep => f.write_str("that is not the step provisioning is at"),
        }
    }
}

/// Whether `actor` may see `request`: its owner, or anyone holding
/// Approver, Viewer or Admin (and the engine).
pub fn can_view(actor: &Actor, request: &Request) -> bool {
    request.owner == actor.name || sees_all_requests(actor)
}

/// Whether `actor` sees every request (Approver, Viewer, Admin, Engine).
pub fn sees_all_requests(actor: &Actor) -> bool {
    [Role::Approver, Role::Viewer, Role::Admin, Role::Engine]
        .into_iter()
        .any(|r| actor.has(r))
}

/// The authorization rule of SPEC §1 and §3: may `actor` do `action` on a
/// request in `state` that `is_owner` or not? `Create` ignores the state.
pub fn permits(
    actor: &Actor,
    is_owner: bool,
    state: RequestState,
    action: ActionKind,
) -> Result<(), DenyReason> {
    use ActionKind as A;
    use RequestState as S;
    let (roles, states, owner_only): (&[Role], &[RequestState], bool) = match action {
        A::Create => return require(actor, &[Role::Requester, Role::Approver]),
        A::Save | A::Submit => (&[Role::Requester, Role::Approver], &[S::Created], true),
        A::Cancel => (
            &[Role::Requester, Role::Approver],
            &[S::Created, S::Requested],
            true,
        ),
        A::Review | A::Reject | A::Approve => {
            (&[Role::Approver], &[S::Requested, S::Reviewed], false)
        }
        A::StartProvisioning => (&[Role::Engine], &[S::Approved], false),
        A::StepRetry | A::StepDone | A::Fail => (&[Role::Engine], &[S::Provisioning], false),
        A::Retry => (&[Role::Admin, Role::Approver], &[S::Error], false),
    };
    if !is_owner && !sees_all_requests(actor) {
        return Err(DenyReason::NotVisible);
    }
    require(actor, roles)?;
    if owner_only && !is_owner {
        return Err(DenyReason::NotOwner);
    }
    if state.is_final() {
        return Err(DenyReason::Final);
    }
    if !states.contains(&state) {
        return Err(DenyReason::WrongState);
    }
    Ok(())
}

fn require(actor: &Actor, roles: &[Role]) -> Result<(), DenyReason> {
    if roles.iter().any(|r| actor.has(*r)) {
        Ok(())
    } else {
        Err(DenyReason::MissingRole {
            needs: roles.to_vec(),
        })
    }
}

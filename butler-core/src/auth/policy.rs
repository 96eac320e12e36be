//! Who may do what (SPEC §1, §3): one table for requests, one for every
//! other operation, and one error shape for every refusal.
//!
//! | request action | roles | states | whose |
//! |---|---|---|---|
//! | create | Requester, Approver | – | becomes the owner |
//! | save, submit | Requester, Approver | Created | owner only |
//! | cancel | Requester, Approver | Created, Requested | owner only |
//! | review, reject, approve | Approver | Requested, Reviewed | **not** the owner (four eyes) |
//! | retry | Admin, Approver | Error | any |
//! | start provisioning, step retry, step done, fail | nobody: the engine inside the library | | |
//!
//! Seeing a request: its owner, or Approver, Viewer, Admin.
//!
//! | operation | roles |
//! |---|---|
//! | read groups, facts, reports | Viewer, Operator, Admin |
//! | edit groups, validate, migrate | Operator |
//! | refresh facts | Operator, Admin (and the periodic refresher) |
//! | read users, manage users, edit catalog, edit rate cards | Admin |

use super::{Actor, Role};
use crate::request::{ActionKind, RequestId, RequestState};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Whose request an action may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// Anyone who may see it.
    Any,
    /// Only its owner.
    OwnerOnly,
    /// Anyone but its owner (four eyes), unless the deployment switched it off.
    NotOwner,
}

/// One row of the request table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRule {
    /// The action.
    pub action: ActionKind,
    /// Roles any of which allow it (empty: no user, only the engine).
    pub roles: &'static [Role],
    /// States it is possible in (empty for `Create`).
    pub states: &'static [RequestState],
    /// Whose request.
    pub whose: Whose,
}

const SUBMITTERS: &[Role] = &[Role::Requester, Role::Approver];

/// The request table of SPEC §1 and §3, one row per [`ActionKind`].
pub const REQUEST_RULES: [RequestRule; 12] = {
    use ActionKind as A;
    use RequestState as S;
    const fn row(
        action: ActionKind,
        roles: &'static [Role],
        states: &'static [RequestState],
        whose: Whose,
    ) -> RequestRule {
        RequestRule {
            action,
            roles,
            states,
            whose,
        }
    }
    [
        row(A::Create, SUBMITTERS, &[], Whose::OwnerOnly),
        row(A::Save, SUBMITTERS, &[S::Created], Whose::OwnerOnly),
        row(A::Submit, SUBMITTERS, &[S::Created], Whose::OwnerOnly),
        row(
            A::Cancel,
            SUBMITTERS,
            &[S::Created, S::Requested],
            Whose::OwnerOnly,
        ),
        row(
            A::Review,
            &[Role::Approver],
            &[S::Requested, S::Reviewed],
            Whose::NotOwner,
        ),
        row(
            A::Reject,
            &[Role::Approver],
            &[S::Requested, S::Reviewed],
            Whose::NotOwner,
        ),
        row(
            A::Approve,
            &[Role::Approver],
            &[S::Requested, S::Reviewed],
            Whose::NotOwner,
        ),
        row(A::StartProvisioning, &[], &[S::Approved], Whose::Any),
        row(A::StepRetry, &[], &[S::Provisioning], Whose::Any),
        row(A::StepDone, &[], &[S::Provisioning], Whose::Any),
        row(A::Fail, &[], &[S::Provisioning], Whose::Any),
        row(
            A::Retry,
            &[Role::Admin, Role::Approver],
            &[S::Error],
            Whose::Any,
        ),
    ]
};

/// Roles that see every request (the others see only their own).
pub const SEE_ALL_REQUESTS: &[Role] = &[Role::Approver, Role::Viewer, Role::Admin];

/// Everything an actor can be refused: a request action, or one of the
/// operations outside the request workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// An action on a request.
    Request(ActionKind),
    /// Read migration groups, their facts and reports.
    ReadGroups,
    /// Create, change, clone and delete migration groups.
    EditGroups,
    /// Refresh migration facts from the platform.
    RefreshFacts,
    /// Validate a migration group.
    ValidateGroups,
    /// Start or cancel a migration.
    Migrate,
    /// List users and read their audit trail.
    ReadUsers,
    /// Add, change, disable and remove users.
    ManageUsers,
    /// Replace or refresh the catalog.
    EditCatalog,
    /// Replace the rate cards.
    EditRates,
    /// Replace the approval rules.
    EditRules,
    /// See notification deliveries that failed.
    ReadNotifications,
    /// Power any VM of the inventory (owners may power their own).
    PowerVms,
    /// Adopt a VM that predates Butler into the inventory.
    AdoptVms,
    /// Reconcile the inventory with the platform.
    ReconcileVms,
    /// Ask to change or retire any VM of the inventory (owners may ask for
    /// their own).
    ChangeVms,
    /// Read showback over every VM: the closed months' totals, the
    /// comparison with what billing charged (anyone may read the showback
    /// of the VMs they see).
    ReadShowbackTotals,
    /// Close a showback month: its figures never change after.
    CloseMonths,
}

impl Operation {
    /// Every operation outside the request workflow.
    pub const OTHERS: [Operation; 17] = [
        Operation::ReadGroups,
        Operation::EditGroups,
        Operation::RefreshFacts,
        Operation::ValidateGroups,
        Operation::Migrate,
        Operation::ReadUsers,
        Operation::ManageUsers,
        Operation::EditCatalog,
        Operation::EditRates,
        Operation::EditRules,
        Operation::ReadNotifications,
        Operation::PowerVms,
        Operation::AdoptVms,
        Operation::ReconcileVms,
        Operation::ChangeVms,
        Operation::ReadShowbackTotals,
        Operation::CloseMonths,
    ];

    /// The roles any of which allow this operation (requests: see [`REQUEST_RULES`]).
    pub fn roles(self) -> &'static [Role] {
        use Operation as O;
        match self {
            O::Request(a) => request_rule(a).roles,
            O::ReadGroups => &[Role::Viewer, Role::Operator, Role::Admin],
            O::EditGroups | O::ValidateGroups | O::Migrate => &[Role::Operator],
            O::RefreshFacts | O::PowerVms | O::ReconcileVms => &[Role::Operator, Role::Admin],
            O::AdoptVms | O::ChangeVms => &[Role::Admin],
            O::ReadShowbackTotals => &[Role::Approver, Role::Viewer, Role::Admin],
            O::CloseMonths => &[Role::Admin],
            O::ReadUsers
            | O::ManageUsers
            | O::EditCatalog
            | O::EditRates
            | O::EditRules
            | O::ReadNotifications => &[Role::Admin],
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Operation as O;
        f.write_str(match self {
            O::Request(a) => return f.write_str(a.as_str()),
            O::ReadGroups => "read migration groups",
            O::EditGroups => "change migration groups",
            O::RefreshFacts => "refresh migration facts",
            O::ValidateGroups => "validate migration groups",
            O::Migrate => "migrate",
            O::ReadUsers => "read users",
            O::ManageUsers => "manage users",
            O::EditCatalog => "change the catalog",
            O::EditRates => "change the rate cards",
            O::EditRules => "change the approval rules",
            O::ReadNotifications => "read failed notifications",
            O::PowerVms => "power VMs",
            O::AdoptVms => "adopt VMs",
            O::ReconcileVms => "reconcile the inventory",
            O::ChangeVms => "change or retire VMs",
            O::ReadShowbackTotals => "read showback over every VM",
            O::CloseMonths => "close showback months",
        })
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The actor holds none of the roles the action needs.
    MissingRole {
        /// The roles any of which would do.
        needs: Vec<Role>,
    },
    /// The action is only for the request's owner.
    NotOwner,
    /// The request is the actor's own and needs a second person (four eyes).
    OwnRequest,
    /// The actor may not even see the request.
    NotVisible,
    /// The action is not possible in this state.
    WrongState,
    /// The request is in a final state.
    Final,
    /// Only Butler's provisioning engine does this, never a user.
    EngineOnly,
    /// An engine action that does not match the current step.
    WrongStep,
    /// The request's spec cannot be edited (a decommission acts on the VM
    /// as it is).
    NotEditable,
    /// The request waits for approval at a level whose role (or named
    /// approvers) the actor is not.
    NotAtLevel,
    /// The actor approved this request at an earlier level (four eyes hold
    /// at every level: nobody approves twice).
    ApprovedAlready,
}

impl DenyReason {
    /// A stable code for programs (`missing_role`, `not_owner`, …), as the
    /// HTTP service and the Python exceptions report it.
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::MissingRole { .. } => "missing_role",
            DenyReason::NotOwner => "not_owner",
            DenyReason::OwnRequest => "own_request",
            DenyReason::NotVisible => "not_visible",
            DenyReason::WrongState => "wrong_state",
            DenyReason::Final => "final",
            DenyReason::EngineOnly => "engine_only",
            DenyReason::WrongStep => "wrong_step",
            DenyReason::NotEditable => "not_editable",
            DenyReason::NotAtLevel => "not_at_level",
            DenyReason::ApprovedAlready => "approved_already",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::MissingRole { needs } => {
                let names: Vec<&str> = needs.iter().map(|r| r.as_str()).collect();
                write!(f, "needs the role {}", names.join(" or "))
            }
            DenyReason::NotOwner => f.write_str("only the request's owner may do this"),
            DenyReason::OwnRequest => {
                f.write_str("four eyes: nobody reviews, approves or rejects their own request")
            }
            DenyReason::NotVisible => f.write_str("the request is not visible to this user"),
            DenyReason::WrongState => f.write_str("not possible in this state"),
            DenyReason::Final => f.write_str("the request is in a final state"),
            DenyReason::EngineOnly => {
                f.write_str("only Butler's provisioning engine does this, never a user")
            }
            DenyReason::WrongStep => f.write_str("that is not the step provisioning is at"),
            DenyReason::NotEditable => f.write_str("this kind of request cannot be edited"),
            DenyReason::NotAtLevel => {
                f.write_str("not an approver at the level this request waits for")
            }
            DenyReason::ApprovedAlready => f.write_str(
                "four eyes at every level: this user approved the request at an earlier level",
            ),
        }
    }
}

/// A refused operation: who, what, on which request in which state, why.
/// Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Denied {
    /// The actor's user name.
    pub actor: String,
    /// What was refused.
    pub action: Operation,
    /// The request, for request actions on an existing request.
    pub request: Option<RequestId>,
    /// The request's state.
    pub state: Option<RequestState>,
    /// Why.
    pub reason: DenyReason,
}

impl fmt::Display for Denied {
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

/// The row of [`REQUEST_RULES`] for `action`.
pub fn request_rule(action: ActionKind) -> &'static RequestRule {
    // Rows are in `ActionKind` declaration order; a test keeps it so.
    &REQUEST_RULES[action as usize]
}

/// The authorization policy of a deployment: SPEC §1 with four eyes on
/// ([`Policy::standard`]), or with four eyes explicitly switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    four_eyes: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::standard()
    }
}

impl Policy {
    /// SPEC §1 as written: four eyes on.
    pub const fn standard() -> Policy {
        Policy { four_eyes: true }
    }

    /// SPEC §1 with four eyes off: approvers may handle their own requests.
    /// Services built with it log a warning when they start.
    pub const fn without_four_eyes() -> Policy {
        Policy { four_eyes: false }
    }

    /// Whether four eyes are required.
    pub fn four_eyes(&self) -> bool {
        self.four_eyes
    }

    /// Whether `actor` sees every request, not only their own.
    pub fn sees_all_requests(&self, actor: &Actor) -> bool {
        SEE_ALL_REQUESTS.iter().any(|r| actor.has(*r))
    }

    /// Whether `actor` may see a request owned by `owner`.
    pub fn can_view(&self, actor: &Actor, owner: &str) -> bool {
        super::same_user(owner, actor.name()) || self.sees_all_requests(actor)
    }

    /// May `actor` do `action` on a request in `state` that `is_owner` or
    /// not? `Create` ignores the state.
    pub fn request(
        &self,
        actor: &Actor,
        is_owner: bool,
        state: RequestState,
        action: ActionKind,
    ) -> Result<(), DenyReason> {
        let rule = request_rule(action);
        if rule.roles.is_empty() {
            return Err(DenyReason::EngineOnly);
        }
        if action == ActionKind::Create {
            return require(actor, rule.roles);
        }
        if !is_owner && !self.sees_all_requests(actor) {
            return Err(DenyReason::NotVisible);
        }
        require(actor, rule.roles)?;
        match rule.whose {
            Whose::OwnerOnly if !is_owner => return Err(DenyReason::NotOwner),
            Whose::NotOwner if is_owner && self.four_eyes => return Err(DenyReason::OwnRequest),
            _ => {}
        }
        if state.is_final() {
            return Err(DenyReason::Final);
        }
        if !rule.states.contains(&state) {
            return Err(DenyReason::WrongState);
        }
        Ok(())
    }

    /// [`request`](Self::request) as a [`Denied`] naming the actor and request.
    pub fn check_request(
        &self,
        actor: &Actor,
        request: Option<(RequestId, &str, RequestState)>,
        action: ActionKind,
    ) -> Result<(), Denied> {
        let (id, is_owner, state) = match request {
            Some((id, owner, state)) => (Some(id), super::same_user(owner, actor.name()), state),
            None => (None, true, RequestState::Created),
        };
        self.request(actor, is_owner, state, action)
            .map_err(|reason| Denied {
                actor: actor.name().to_string(),
                action: Operation::Request(action),
                request: id,
                state: request.map(|r| r.2),
                reason,
            })
    }

    /// May `actor` do `op` (an operation outside the request workflow)?
    pub fn check(&self, actor: &Actor, op: Operation) -> Result<(), Denied> {
        require(actor, op.roles()).map_err(|reason| Denied {
            actor: actor.name().to_string(),
            action: op,
            request: None,
            state: None,
            reason,
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_rows_follow_action_kind_order() {
        for (i, a) in ActionKind::ALL.into_iter().enumerate() {
            assert_eq!(REQUEST_RULES[i].action, a);
            assert_eq!(a as usize, i);
        }
    }
}

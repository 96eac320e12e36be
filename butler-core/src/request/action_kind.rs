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
    /// Whether only the engine inside the library does this.
    pub fn is_engine_only(self) -> bool {
        matches!(
            self,
            ActionKind::StartProvisioning
                | ActionKind::StepRetry
                | ActionKind::StepDone
                | ActionKind::Fail
        )
    }
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

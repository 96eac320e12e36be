use crate::request::{ProvisioningStep, RequestId};

/// Where a hook is consulted: right before a step's side effect (after the
/// step log says `Started`) and right after it (before its outcome is
/// recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookPoint {
    /// Before the side effect.
    Before(ProvisioningStep),
    /// After the side effect.
    After(ProvisioningStep),
}

/// What the engine does at a hook point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookAction {
    /// Go on.
    Continue,
    /// Stop as if the process died here: nothing more is written.
    Crash,
    /// (At `Before` only) fail this attempt with a retryable fault instead
    /// of running the step's action, as a platform's passing error would.
    Fail,
    /// (At `After` only) do the side effect once more, as a redelivered
    /// message or a re-run after a crash would.
    Repeat,
}

/// Fault-injection hooks for crash-recovery tests (steno's "fail every
/// node, repeat every node"). Production engines use [`NoHooks`].
pub trait Hooks: Send + Sync {
    /// Decides what happens at `point` for request `id`.
    fn at(&self, id: RequestId, point: HookPoint) -> HookAction;
}

/// No hooks: always continue.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn at(&self, _: RequestId, _: HookPoint) -> HookAction {
        HookAction::Continue
    }
}

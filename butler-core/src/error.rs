//! The error of Butler's public operations.

use crate::auth::{AuthError, Denied};
use crate::backend::{BackendError, ErrorClass};
use crate::catalog::CatalogError;
use crate::cost::CostError;
use crate::store::StoreError;
use crate::vm_spec::SpecErrors;

/// Everything a Butler operation can fail with. Each variant keeps the typed
/// error of its boundary so callers can match on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ButlerError {
    /// The VM spec has problems (all of them are listed).
    #[error(transparent)]
    Validation(#[from] SpecErrors),
    /// No estimate could be made.
    #[error(transparent)]
    Cost(#[from] CostError),
    /// The actor may not do this (role, ownership, four eyes or state).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// A login failed, or a user operation was refused for its input.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Someone else changed the object first; reload and retry.
    #[error("conflict: {0}")]
    Conflict(StoreError),
    /// The object does not exist (or is not visible to the actor).
    #[error("not found: {0}")]
    NotFound(String),
    /// A migration group edit was refused.
    #[error(transparent)]
    Group(#[from] crate::migration::GroupError),
    /// The input is malformed.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Input or a change refused (a change already open, a VM no longer
    /// active, a grace period over, a VM or cluster the platform does not
    /// have, a run that has ended), as a code with what it names so that a
    /// user interface words it in its language; answered as
    /// [`ButlerError::Invalid`] is.
    #[error("invalid input: {0}")]
    Refused(crate::said::Said),
    /// The catalog is malformed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// A migration was refused: no validation, a stale one, or one with errors.
    #[error("migration refused: {0}")]
    ValidationRequired(String),
    /// The action does something its caller must confirm first (a
    /// migration that powers running VMs off); nothing was done.
    #[error("confirmation required: {0}")]
    ConfirmationRequired(String),
    /// Writing an export failed.
    #[error("export failed: {0}")]
    Export(String),
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// An input is past one of the [`limits`](crate::limits).
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
    /// A quota would be exceeded ([`crate::quota`]); nothing was written.
    #[error(transparent)]
    Quota(#[from] crate::quota::QuotaExceeded),
}

impl From<crate::showback::ShowbackError> for ButlerError {
    fn from(e: crate::showback::ShowbackError) -> Self {
        ButlerError::Invalid(e.to_string())
    }
}

impl From<StoreError> for ButlerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => ButlerError::Conflict(e),
            StoreError::NotFound(what) => ButlerError::NotFound(what),
            other => ButlerError::Store(other),
        }
    }
}

impl ButlerError {
    /// What a caller may do about it ([`ErrorClass`]): the one answer
    /// the REST problem mapping and the Python exceptions both read.
    /// Refusals of the input, the actor or the state are
    /// [`ErrorClass::Permanent`]: the same call fails the same way.
    ///
    /// ```
    /// use butler_core::backend::{BackendError, ErrorClass, ErrorKind};
    /// use butler_core::ButlerError;
    /// let e = ButlerError::from(BackendError::new(ErrorKind::Timeout, "find_vm", "no answer"));
    /// assert_eq!(e.class(), ErrorClass::Retryable);
    /// assert_eq!(ButlerError::Invalid("x".into()).class(), ErrorClass::Permanent);
    /// ```
    pub fn class(&self) -> ErrorClass {
        match self {
            ButlerError::Store(e) if e.is_retryable() => ErrorClass::Retryable,
            ButlerError::Backend(e) => e.class(),
            _ => ErrorClass::Permanent,
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }
}

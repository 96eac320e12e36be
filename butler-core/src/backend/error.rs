use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of failure a backend call met; retry decisions read this, never
/// message strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A passing failure (connection reset, 502/503): retry.
    Transient,
    /// The call timed out: retry (after checking whether it took effect).
    Timeout,
    /// The platform asked us to slow down (429, `RATE_LIMIT_EXCEEDED`): retry later.
    RateLimited,
    /// The thing does not exist.
    NotFound,
    /// The thing already exists or is in a conflicting state.
    Conflict,
    /// Credentials refused.
    Unauthorized,
    /// The platform refused the request as invalid.
    Invalid,
    /// Any other failure that retrying will not fix.
    Permanent,
    /// The platform lacks the feature asked for (see
    /// [`Capabilities`](super::Capabilities)); callers ask before use.
    Unsupported,
}

impl ErrorKind {
    /// The kind an HTTP error status means, the one mapping every adapter
    /// starts from (an adapter overrides only what its platform documents
    /// otherwise, e.g. Prism Element's refusals sent as 500).
    ///
    /// ```
    /// use butler_core::backend::ErrorKind;
    /// assert_eq!(ErrorKind::from_http_status(429), ErrorKind::RateLimited);
    /// assert_eq!(ErrorKind::from_http_status(503), ErrorKind::Transient);
    /// assert!(!ErrorKind::from_http_status(422).is_retryable());
    /// ```
    pub fn from_http_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Unauthorized,
            404 | 410 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            409 | 412 => ErrorKind::Conflict,
            429 => ErrorKind::RateLimited,
            501 => ErrorKind::Unsupported,
            500..=599 => ErrorKind::Transient,
            400..=499 => ErrorKind::Invalid,
            _ => ErrorKind::Permanent,
        }
    }

    /// Whether a retry may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::RateLimited
        )
    }
}

/// A failed backend call: kind, operation and message (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct BackendError {
    /// The kind.
    pub kind: ErrorKind,
    /// The operation, e.g. `create_vm`.
    pub operation: String,
    /// What the platform said.
    pub message: String,
}

impl BackendError {
    /// A new error.
    pub fn new(kind: ErrorKind, operation: impl Into<String>, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            operation: operation.into(),
            message: message.into(),
        }
    }
    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// `operation` needs `capability`, which the platform lacks.
    pub fn unsupported(operation: &str, capability: super::Capability) -> Self {
        BackendError::new(
            ErrorKind::Unsupported,
            operation,
            format!("the platform has no {capability}"),
        )
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed ({:?}): {}",
            self.operation, self.kind, self.message
        )
    }
}

/// An error and its whole source chain, `outer: inner: root`: HTTP
/// clients put the cause (connection refused, certificate not trusted)
/// only in the sources, which their own message leaves out.
///
/// ```
/// let e = std::io::Error::new(std::io::ErrorKind::Other, "root cause");
/// assert_eq!(butler_core::backend::error_chain(&e), "root cause");
/// ```
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // Some layers repeat their source's message; say it once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

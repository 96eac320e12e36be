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

    /// The kind of a call that got no answer, the other mapping every HTTP
    /// adapter shares: [`Timeout`](Self::Timeout) when it ran out of time,
    /// else [`Transient`](Self::Transient) (refused, reset, unreachable).
    ///
    /// ```
    /// use butler_core::backend::ErrorKind;
    /// assert_eq!(ErrorKind::unanswered(true), ErrorKind::Timeout);
    /// assert!(ErrorKind::unanswered(false).is_retryable());
    /// ```
    pub fn unanswered(timed_out: bool) -> ErrorKind {
        if timed_out {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transient
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

/// What a caller may do about an error: the one place that says whether
/// a failure is worth retrying, will never work, needs a feature the
/// platform lacks, or was retried to the end already.
///
/// ```
/// use butler_core::backend::{BackendError, ErrorClass, ErrorKind};
/// let e = BackendError::new(ErrorKind::Transient, "create_vm", "HTTP 503");
/// assert_eq!(e.class(), ErrorClass::Retryable);
/// assert_eq!(e.exhausted_after(5).class(), ErrorClass::RetriesExhausted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// Trying again may work.
    Retryable,
    /// Trying again will fail the same way.
    Permanent,
    /// The platform lacks the feature asked for.
    Unsupported,
    /// A passing failure that was retried until the policy ran out
    /// (attempts or deadline): callers above must not retry it again, or
    /// retries would multiply.
    RetriesExhausted,
}

impl ErrorClass {
    /// Whether trying again may work.
    pub fn is_retryable(self) -> bool {
        self == ErrorClass::Retryable
    }

    /// A stable name (`retryable`, `permanent`, `unsupported`,
    /// `retries_exhausted`) for wire formats.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::RetriesExhausted => "retries_exhausted",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The underlying error a [`BackendError`] keeps (an HTTP client's, an
/// I/O error), for [`std::error::Error::source`].
pub type ErrorSource = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A failed backend call: kind, operation and message (never a secret),
/// how many attempts were made, and the cause it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackendError {
    /// The kind.
    pub kind: ErrorKind,
    /// The operation, e.g. `create_vm`.
    pub operation: String,
    /// What the platform said.
    pub message: String,
    /// Attempts made before giving up: 1 unless a retry loop ran out
    /// ([`BackendError::exhausted_after`]).
    #[serde(default = "one")]
    pub attempts: u32,
    /// Whether a retry policy ran out on it.
    #[serde(default)]
    exhausted: bool,
    /// The cause, when a lower layer failed (kept in-process only).
    #[serde(skip)]
    source: Option<ErrorSource>,
}

fn one() -> u32 {
    1
}

/// Equal when kind, operation, message and attempts are: a cause is
/// detail, and most causes cannot be compared.
impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        (
            self.kind,
            &self.operation,
            &self.message,
            self.attempts,
            self.exhausted,
        ) == (
            other.kind,
            &other.operation,
            &other.message,
            other.attempts,
            other.exhausted,
        )
    }
}

impl Eq for BackendError {}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl BackendError {
    /// A new error.
    pub fn new(kind: ErrorKind, operation: impl Into<String>, message: impl Into<String>) -> Self {
        BackendError {
            kind,
            operation: operation.into(),
            message: message.into(),
            attempts: 1,
            exhausted: false,
            source: None,
        }
    }

    /// The same error, keeping `cause` as its [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(cause));
        self
    }

    /// The same error after `attempts` attempts that all failed: a passing
    /// failure becomes [`ErrorClass::RetriesExhausted`].
    pub fn exhausted_after(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self.exhausted = true;
        self
    }

    /// What a caller may do about it; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self.kind {
            ErrorKind::Unsupported => ErrorClass::Unsupported,
            k if k.is_retryable() && self.exhausted => ErrorClass::RetriesExhausted,
            k if k.is_retryable() => ErrorClass::Retryable,
            _ => ErrorClass::Permanent,
        }
    }

    /// Whether a retry may succeed: a passing failure not yet retried to
    /// the end.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
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
        write!(f, "{} failed ({:?}", self.operation, self.kind)?;
        if self.class() == ErrorClass::RetriesExhausted {
            let s = if self.attempts == 1 { "" } else { "s" };
            write!(f, ", retries exhausted after {} attempt{s}", self.attempts)?;
        }
        write!(f, "): {}", self.message)
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
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

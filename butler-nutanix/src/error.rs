use butler_core::backend::{BackendError, ErrorKind, ErrorSource};
use std::fmt;

/// A failed Prism call: HTTP status (if any), Nutanix `message_list`
/// reasons, a message, and the transport error it came from (kept as its
/// `source()`). Never holds credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NutanixError {
    /// What kind of failure (retry decisions read this).
    pub kind: ErrorKind,
    /// HTTP status, when a response came back.
    pub status: Option<u16>,
    /// `message_list[].reason` values (e.g. `INVALID_REQUEST`, `RATE_LIMIT_EXCEEDED`).
    pub reasons: Vec<String>,
    /// What happened.
    pub message: String,
    /// Each message of the answer's error body on its own (v3's
    /// `message_list`, v4's `error[]`), in order.
    pub messages: Vec<String>,
    /// The HTTP client's error, for a call that got no answer.
    cause: Option<ErrorSource>,
}

impl std::error::Error for NutanixError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Equal when everything but the cause is (causes cannot be compared).
impl PartialEq for NutanixError {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, self.status, &self.reasons, &self.message)
            == (other.kind, other.status, &other.reasons, &other.message)
    }
}

impl Eq for NutanixError {}

impl NutanixError {
    pub(crate) fn new(kind: ErrorKind, status: Option<u16>, message: impl Into<String>) -> Self {
        NutanixError {
            kind,
            status,
            reasons: Vec::new(),
            message: message.into(),
            messages: Vec::new(),
            cause: None,
        }
    }

    /// The same error, keeping `cause` as its source.
    pub(crate) fn caused_by(
        mut self,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.cause = Some(std::sync::Arc::new(cause));
        self
    }

    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The error for a backend caller, naming the operation.
    pub fn into_backend(self, operation: &str) -> BackendError {
        let message = self.to_string();
        let kind = self.kind;
        BackendError::new(kind, operation, message).with_source(self)
    }

    /// Classifies an HTTP status and the body Prism answered with (v3's
    /// `message_list`, PE v2's `message`/`error_code`, or anything else).
    pub fn from_response(status: u16, body: &str) -> Self {
        // 401 bodies are not JSON: never parse them.
        if status == 401 {
            return NutanixError::new(
                ErrorKind::Unauthorized,
                Some(401),
                "credentials refused (HTTP 401)",
            );
        }
        let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
        let reasons: Vec<String> = parsed
            .as_ref()
            .and_then(|v| v.get("message_list"))
            .and_then(|l| l.as_array())
            .map(|l| {
                l.iter()
                    .filter_map(|m| m.get("reason").and_then(|r| r.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let messages: Vec<String> = parsed
            .as_ref()
            .and_then(|v| v.get("message_list"))
            .and_then(|l| l.as_array())
            .map(|l| l.iter().filter_map(message_with_details).collect())
            .unwrap_or_default();
        let mut reasons = reasons;
        let mut messages = messages;
        // v4 answers `{"data": {"error": [{"code", "errorGroup", "message"}]}}`.
        if let Some(items) = parsed
            .as_ref()
            .and_then(|v| v.pointer("/data/error"))
            .and_then(|e| e.as_array())
        {
            for item in items {
                let field = |k: &str| item.get(k).and_then(|x| x.as_str());
                if let Some(m) = field("message") {
                    messages.push(m.to_string());
                }
                reasons.extend(
                    [field("errorGroup"), field("code")]
                        .into_iter()
                        .flatten()
                        .map(str::to_string),
                );
            }
        }
        // Prism Element v2 answers `{"message": …, "error_code": {"code": …}}`.
        if messages.is_empty() {
            if let Some(m) = parsed
                .as_ref()
                .and_then(|v| v.get("message"))
                .and_then(|m| m.as_str())
            {
                messages.push(m.to_string());
            }
            if let Some(code) = parsed
                .as_ref()
                .and_then(|v| v.get("error_code"))
                .and_then(|c| c.get("code").or(Some(c)))
                .filter(|c| c.is_number() || c.is_string())
            {
                reasons.push(format!(
                    "error_code {}",
                    code.as_str().map_or(code.to_string(), str::to_string)
                ));
            }
        }
        let rate_limited = reasons.iter().any(|r| r.starts_with("RATE_LIMIT"))
            || body.contains("RATE_LIMIT_EXCEEDED");
        let kind = match status {
            _ if rate_limited => ErrorKind::RateLimited,
            // Prism Element answers refusals ("PD has VMs in another
            // consistency group") with 500: not worth a retry.
            500 | 501 => ErrorKind::Permanent,
            s => ErrorKind::from_http_status(s),
        };
        let text = if messages.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {}", messages.join("; "))
        };
        NutanixError {
            kind,
            status: Some(status),
            reasons,
            message: text,
            messages,
            cause: None,
        }
    }
}

/// Characters of a message's `details` kept in an error.
const DETAILS_CHARS: usize = 500;

/// A `message_list` entry's `message`, with its `details` when it has
/// any: in some errors (a required property missing) `details` is the
/// only text that names what is wrong.
fn message_with_details(m: &serde_json::Value) -> Option<String> {
    let message = m.get("message").and_then(|r| r.as_str());
    let details = m
        .get("details")
        .filter(|d| !d.is_null() && d.as_object().is_none_or(|o| !o.is_empty()))
        .map(|d| match d.as_str() {
            Some(text) => text.to_string(),
            None => d.to_string(),
        })
        .map(|d| d.chars().take(DETAILS_CHARS).collect::<String>());
    match (message, details) {
        (Some(m), Some(d)) => Some(format!("{m} (details: {d})")),
        (Some(m), None) => Some(m.to_string()),
        (None, Some(d)) => Some(format!("details: {d}")),
        (None, None) => None,
    }
}

impl fmt::Display for NutanixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if !self.reasons.is_empty() {
            write!(f, " [{}]", self.reasons.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_are_classified() {
        let e = NutanixError::from_response(401, "<html>login</html>");
        assert_eq!((e.kind, e.status), (ErrorKind::Unauthorized, Some(401)));
        let e = NutanixError::from_response(
            422,
            r#"{"state":"ERROR","message_list":[{"reason":"INVALID_REQUEST","message":"bad nic"}]}"#,
        );
        assert_eq!(
            (e.kind, e.reasons.clone()),
            (ErrorKind::Invalid, vec!["INVALID_REQUEST".to_string()])
        );
        assert!(e.to_string().contains("bad nic"));
        let e = NutanixError::from_response(
            400,
            r#"{"message_list":[{"reason":"RATE_LIMIT_EXCEEDED","message":"slow down"}]}"#,
        );
        assert!(e.is_retryable());
        for s in [408, 429, 502, 503] {
            assert!(NutanixError::from_response(s, "").is_retryable(), "{s}");
        }
        assert!(!NutanixError::from_response(500, "not json").is_retryable());
    }

    /// `details` names what the message does not (issue 35, v3 defect 10).
    #[test]
    fn a_messages_details_are_kept() {
        let e = NutanixError::from_response(
            422,
            r#"{"api_version":"3.1","code":422,"kind":"vm","state":"ERROR","message_list":[{"reason":"INVALID_REQUEST","message":"Request could not be processed.","details":{"metadata":["'kind' is a required property"]}}]}"#,
        );
        assert!(e.message.contains("'kind' is a required property"), "{e}");
        assert!(e.message.contains("Request could not be processed."), "{e}");
        let long = format!(
            r#"{{"message_list":[{{"reason":"X","message":"m","details":"{}"}}]}}"#,
            "d".repeat(5_000)
        );
        let e = NutanixError::from_response(400, &long);
        assert!(
            e.message.len() < 700,
            "details are cut: {}",
            e.message.len()
        );
        let e = NutanixError::from_response(
            400,
            r#"{"message_list":[{"reason":"X","message":"m","details":{}}]}"#,
        );
        assert_eq!(e.message, "HTTP 400: m");
    }

    #[test]
    fn prism_element_errors_keep_their_message_and_code() {
        let e = NutanixError::from_response(
            500,
            r#"{"message": "Protection domain PD-x has VMs in another consistency group", "error_code": {"code": 1103, "help_url": "http://x"}}"#,
        );
        assert!(e.message.contains("another consistency group"), "{e}");
        assert_eq!(e.reasons, vec!["error_code 1103".to_string()]);
    }
}

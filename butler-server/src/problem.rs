//! Errors on the wire: `application/problem+json` (RFC 9457). Each answer
//! carries Butler's stable code in `code` (and in `type`, as
//! `urn:butler:problem:<code>`), and a validation failure lists every
//! problem at once in `problems`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use butler::auth::{AuthError, DenyReason};
use butler::backend::ErrorClass;
use butler::vm_spec::SpecError;
use butler::ButlerError;
use serde::Serialize;
use utoipa::ToSchema;

/// One RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:butler:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, fixed summary of the kind of problem.
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// Butler's stable code (`validation`, `denied`, `stale_version`, …).
    pub code: String,
    /// Every spec problem, for `validation`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<SpecError>,
    /// Why it was refused, for `denied` (`missing_role`, `own_request`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The version the caller sent and the one stored, for `stale_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// The stored version, for `stale_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found_version: Option<u64>,
    /// The quota a change would exceed, for `quota_exceeded`: scope (kind,
    /// name), dimension, limit, used, would_use.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub quota: Option<butler::quota::QuotaExceeded>,
    /// Seconds to wait, for `too_many_attempts`.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with no extra members.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:butler:problem:{code}"),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            problems: Vec::new(),
            reason: None,
            expected_version: None,
            found_version: None,
            quota: None,
            retry_after: None,
        }
    }

    /// 400: the request itself is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 401: no valid session or token.
    pub fn unauthenticated() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in first (session cookie or bearer token)",
        )
    }

    /// 403: a cookie session wrote without its CSRF token.
    pub fn csrf() -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong X-CSRF-Token header for this session",
        )
    }

    /// 428: a write without `If-Match`.
    pub fn if_match_required() -> Problem {
        Problem::new(
            StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
            "send If-Match with the ETag of the version you read",
        )
    }

    /// 404 for a route or object.
    pub fn not_found(what: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", what)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = retry {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

impl From<ButlerError> for Problem {
    fn from(e: ButlerError) -> Problem {
        use StatusCode as S;
        let detail = e.to_string();
        match e {
            ButlerError::Validation(errs) => {
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "validation",
                    format!("the VM spec has {} problem(s)", errs.0.len()),
                );
                p.problems = errs.0;
                p
            }
            ButlerError::Cost(_) => Problem::new(S::UNPROCESSABLE_ENTITY, "cost", detail),
            ButlerError::Denied(d) => {
                // A request the caller may not see is answered as missing.
                if matches!(d.reason, DenyReason::NotVisible) {
                    return Problem::not_found("no such request");
                }
                let mut p = Problem::new(S::FORBIDDEN, "denied", detail);
                p.reason = Some(d.reason.code().to_string());
                p
            }
            ButlerError::Auth(a) => match a {
                AuthError::BadCredentials => {
                    Problem::new(S::UNAUTHORIZED, "bad_credentials", detail)
                }
                AuthError::InvalidName(_) => {
                    Problem::new(S::UNPROCESSABLE_ENTITY, "invalid_user_name", detail)
                }
                AuthError::WeakPassword(_) => {
                    Problem::new(S::UNPROCESSABLE_ENTITY, "weak_password", detail)
                }
                AuthError::UnknownUser(_) => Problem::new(S::NOT_FOUND, "unknown_user", detail),
                AuthError::Exists(_) => Problem::new(S::CONFLICT, "user_exists", detail),
                AuthError::LastAdmin(_) => Problem::new(S::CONFLICT, "last_admin", detail),
                AuthError::AlreadyBootstrapped => {
                    Problem::new(S::CONFLICT, "already_bootstrapped", detail)
                }
                AuthError::UnknownToken(_) => Problem::new(S::NOT_FOUND, "unknown_token", detail),
                AuthError::TooManyTokens(_) => {
                    Problem::new(S::UNPROCESSABLE_ENTITY, "too_many_tokens", detail)
                }
                AuthError::NoRole(_) => Problem::new(S::UNPROCESSABLE_ENTITY, "no_role", detail),
                _ => Problem::new(S::BAD_REQUEST, "auth", detail),
            },
            ButlerError::Conflict(store) => {
                let mut p = Problem::new(S::PRECONDITION_FAILED, "stale_version", detail);
                if let butler::store::StoreError::Conflict {
                    expected, found, ..
                } = store
                {
                    p.expected_version = Some(expected);
                    p.found_version = Some(found);
                }
                p
            }
            ButlerError::NotFound(what) => Problem::not_found(format!("not found: {what}")),
            ButlerError::Group(_) => Problem::new(S::UNPROCESSABLE_ENTITY, "group_edit", detail),
            ButlerError::Invalid(_) | ButlerError::Refused(_) => {
                Problem::new(S::UNPROCESSABLE_ENTITY, "invalid", detail)
            }
            ButlerError::Catalog(_) => Problem::new(S::UNPROCESSABLE_ENTITY, "catalog", detail),
            ButlerError::Store(s) => {
                if let butler::store::StoreError::AlreadyExists(what) = &s {
                    return Problem::new(S::CONFLICT, "exists", format!("{what} already exists"));
                }
                // Storage details stay in the log, not on the wire.
                tracing::error!(error = ?s, "storage failed while serving a request");
                let status = if s.is_retryable() {
                    S::SERVICE_UNAVAILABLE
                } else {
                    S::INTERNAL_SERVER_ERROR
                };
                Problem::new(status, "store", "storage failed; see the server log")
            }
            ButlerError::ValidationRequired(_) => {
                Problem::new(S::CONFLICT, "validation_required", detail)
            }
            ButlerError::ConfirmationRequired(_) => {
                Problem::new(S::CONFLICT, "confirmation_required", detail)
            }
            ButlerError::Export(_) => {
                tracing::error!(error = ?detail, "export failed");
                Problem::new(
                    S::INTERNAL_SERVER_ERROR,
                    "export",
                    "the export could not be written",
                )
            }
            ButlerError::Backend(b) => match b.class() {
                ErrorClass::Unsupported => Problem::new(S::NOT_IMPLEMENTED, "unsupported", detail),
                ErrorClass::Retryable => Problem::new(S::SERVICE_UNAVAILABLE, "backend", detail),
                // Butler retried already: the client may come back later,
                // but not at once.
                ErrorClass::RetriesExhausted => {
                    Problem::new(S::SERVICE_UNAVAILABLE, "retries_exhausted", detail)
                }
                _ => Problem::new(S::BAD_GATEWAY, "backend", detail),
            },
            ButlerError::Limit(_) => Problem::new(S::UNPROCESSABLE_ENTITY, "limit", detail),
            ButlerError::Quota(q) => {
                let mut p = Problem::new(S::CONFLICT, "quota_exceeded", detail);
                p.quota = Some(q);
                p
            }
            _ => Problem::new(S::INTERNAL_SERVER_ERROR, "internal", detail),
        }
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use super::*;
    use butler::backend::{BackendError, ErrorKind};

    fn problem_of(e: BackendError) -> Problem {
        Problem::from(ButlerError::from(e))
    }

    #[test]
    fn backend_errors_answer_by_their_class() {
        let passing = BackendError::new(ErrorKind::Transient, "find_vm", "HTTP 503");
        let cases = [
            (passing.clone(), 503, "backend"),
            (passing.exhausted_after(8), 503, "retries_exhausted"),
            (
                BackendError::new(ErrorKind::Invalid, "create_vm", "bad spec"),
                502,
                "backend",
            ),
            (
                BackendError::new(ErrorKind::Unsupported, "migrate", "no migration"),
                501,
                "unsupported",
            ),
        ];
        for (e, status, code) in cases {
            let p = problem_of(e.clone());
            assert_eq!((p.status, p.code.as_str()), (status, code), "{e}");
        }
        let p = problem_of(
            BackendError::new(ErrorKind::Timeout, "find_vm", "no answer").exhausted_after(3),
        );
        assert!(
            p.detail.contains("retries exhausted after 3 attempts"),
            "{}",
            p.detail
        );
    }
}

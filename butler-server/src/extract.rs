//! What handlers take from a call: the caller (session or bearer token),
//! the `If-Match` version, and JSON bodies and queries whose mistakes come
//! back as problem documents.

use crate::problem::Problem;
use crate::session::{same_secret, Session, SessionKind};
use crate::AppState;
use axum::async_trait;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use butler::auth::Actor;
use butler::store::StoreError;
use serde::de::DeserializeOwned;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "butler_session";
/// The header cookie sessions send their CSRF token in on writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who is calling: a live session of an enabled user, with the roles the
/// store holds now (a role change or a disabled user takes effect at once).
pub struct Caller {
    /// The actor every library call is made as.
    pub actor: Actor,
    /// The session; `None` for a personal API token.
    pub session: Option<Session>,
    /// The presented token (to log out).
    pub(crate) token: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn writes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[async_trait]
impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let now = state.butler().clock().now();
        if let Some(t) =
            bearer(&parts.headers).filter(|t| t.starts_with(butler::users::TOKEN_PREFIX))
        {
            let actor = state
                .butler()
                .users()
                .authenticate_api_token(t)
                .await
                .map_err(|e| match e {
                    butler::ButlerError::Auth(_) => Problem::unauthenticated(),
                    other => other.into(),
                })?;
            return Ok(Caller {
                actor,
                session: None,
                token: String::new(),
            });
        }
        let (token, kind) = match bearer(&parts.headers) {
            Some(t) => (t, SessionKind::Bearer),
            None => (
                cookie(&parts.headers, SESSION_COOKIE).ok_or_else(Problem::unauthenticated)?,
                SessionKind::Cookie,
            ),
        };
        let session = state
            .sessions()
            .find(token, kind, now)
            .ok_or_else(Problem::unauthenticated)?;
        if kind == SessionKind::Cookie && writes(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same_secret(sent, &session.csrf) {
                return Err(Problem::csrf());
            }
        }
        let actor = session_actor(state, &session)
            .await?
            .ok_or_else(Problem::unauthenticated)?;
        Ok(Caller {
            actor,
            session: Some(session),
            token: token.to_string(),
        })
    }
}

/// The actor of a live session: the roles a directory gave at login, or
/// the stored user's roles now. `None` when the stored user is gone or
/// disabled (their sessions are ended then).
pub(crate) async fn session_actor(
    state: &AppState,
    session: &Session,
) -> Result<Option<Actor>, Problem> {
    let bad = |e: butler::auth::AuthError| Problem::from(butler::ButlerError::from(e));
    if let Some(roles) = session.directory_roles {
        return Actor::trusted(&session.user, roles).map(Some).map_err(bad);
    }
    match state.butler().store().get_user(&session.user).await {
        Ok(u) if !u.disabled => Actor::trusted(&u.name, u.roles).map(Some).map_err(bad),
        Ok(_) | Err(StoreError::NotFound(_)) => {
            state.sessions().close_all_of(&session.user);
            Ok(None)
        }
        Err(e) => Err(butler::ButlerError::from(e).into()),
    }
}

/// The version named by `If-Match` (required on every write of a
/// versioned object).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub u64);

/// The strong ETag of a version.
pub fn etag(version: u64) -> HeaderValue {
    // Digits and quotes only: always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Parses `"7"` (or `W/"7"`) into 7.
pub fn parse_etag(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

#[async_trait]
impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let v = parts
            .headers
            .get(header::IF_MATCH)
            .ok_or_else(Problem::if_match_required)?;
        v.to_str()
            .ok()
            .and_then(parse_etag)
            .map(IfMatch)
            .ok_or_else(|| {
                Problem::bad_request("If-Match must be one ETag as sent by a read, e.g. \"3\"")
            })
    }
}

/// A JSON body; a wrong content type, bad JSON or a wrong shape is a
/// problem document naming what is wrong.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

#[async_trait]
impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        use axum::extract::rejection::JsonRejection as J;
        use axum::http::StatusCode;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(J::MissingJsonContentType(_)) => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as Content-Type: application/json",
            )),
            Err(J::JsonDataError(e)) => Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_body",
                e.body_text(),
            )),
            Err(J::JsonSyntaxError(e)) => Err(Problem::bad_request(e.body_text())),
            Err(J::BytesRejection(e)) => Err(Problem::new(
                e.status(),
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    "body_too_large"
                } else {
                    "bad_body"
                },
                e.body_text(),
            )),
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}

/// A query string; mistakes are problem documents.
#[derive(Debug)]
pub struct QueryArgs<T>(pub T);

#[async_trait]
impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryArgs<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryArgs(q.0))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// A path parameter; mistakes are problem documents.
#[derive(Debug)]
pub struct PathArgs<T>(pub T);

#[async_trait]
impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathArgs<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        // Ids are stored as 64-bit signed numbers: one past them names
        // nothing and is refused as the document says.
        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await {
            for (name, value) in raw.iter() {
                if value.bytes().all(|b| b.is_ascii_digit()) && value.parse::<i64>().is_err() {
                    return Err(Problem::bad_request(format!(
                        "{name} {value} is out of range (at most {})",
                        i64::MAX
                    )));
                }
            }
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathArgs(p.0))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip_and_refuse_other_shapes() {
        assert_eq!(parse_etag(etag(42).to_str().unwrap_or("")), Some(42));
        assert_eq!(parse_etag("W/\"7\""), Some(7));
        for bad in ["7", "*", "\"x\"", "\"-1\"", "\"7", ""] {
            assert_eq!(parse_etag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; butler_session=xyz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }
}

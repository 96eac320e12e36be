//! Login, logout, the caller and their password.

use crate::extract::{Caller, JsonBody, SESSION_COOKIE};
use crate::problem::{ApiResult, Problem};
use crate::session::SessionKind;
use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use butler::auth::RoleSet;
use butler::ButlerError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;

/// A login.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// User name.
    pub user: String,
    /// Password (never logged).
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    /// `true` for a bearer token in the answer (scripts) instead of a
    /// session cookie (browsers).
    #[serde(default)]
    pub bearer: bool,
}

/// Who is logged in.
#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    /// User name.
    pub user: String,
    /// Roles.
    pub roles: Vec<String>,
    /// For cookie sessions: send it back in `X-CSRF-Token` on every write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// For bearer sessions: send `Authorization: Bearer <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Seconds of idleness after which the session ends.
    pub idle_timeout_seconds: i64,
}

pub(crate) fn role_names(roles: RoleSet) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_string()).collect()
}

pub(crate) fn client_address(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
) -> String {
    let Some(ConnectInfo(peer)) = peer else {
        return "unknown".into();
    };
    let settings = state.settings();
    if settings.trust_forwarded_for {
        if let Some(xff) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            return forwarded_client(xff, peer.ip(), &settings.trusted_proxies).to_string();
        }
    }
    peer.ip().to_string()
}

/// The client behind trusted proxies: only a peer that is a trusted proxy
/// (`trusted`; loopback when none is configured) is believed, and then
/// the `X-Forwarded-For` list is read from the right, where each proxy
/// appended the address it saw, past the trusted proxies: the first
/// address no trusted proxy owns is the client. Whatever the client wrote
/// itself (the left of the list) is never taken. An entry that is not an
/// address stops the walk at the last one believed.
pub(crate) fn forwarded_client(xff: &str, peer: IpAddr, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| {
        if trusted.is_empty() {
            ip.is_loopback()
        } else {
            trusted.contains(ip)
        }
    };
    let mut client = peer;
    for hop in xff.rsplit(',') {
        if !is_trusted(&client) {
            break;
        }
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => client = ip,
            Err(_) => break,
        }
    }
    client
}

pub(crate) fn session_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if state.settings().cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
}

/// Checks a login: the rate limit first (per user and per address, the
/// same whether the user exists), then stored users, then the directory
/// for names the store does not hold. Returns the actor and, for a
/// directory user, the roles the directory gave.
pub(crate) async fn check_login(
    state: &AppState,
    user: &str,
    password: &str,
    address: &str,
) -> Result<(butler::auth::Actor, Option<RoleSet>), Problem> {
    let now = state.butler().clock().now();
    if let Err(wait) = state.limiter().check(user, address, now) {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed logins; wait and try again",
        );
        p.retry_after = Some(wait);
        return Err(p);
    }
    // Stored users first; a name the store does not hold may be a
    // directory user.
    let stored = match butler::auth::normalize_user_name(user) {
        Ok(n) => match state.butler().store().get_user(&n).await {
            Ok(_) => true,
            Err(butler::store::StoreError::NotFound(_)) => false,
            Err(e) => return Err(ButlerError::from(e).into()),
        },
        Err(_) => true,
    };
    let directory = state.directory().filter(|_| !stored).cloned();
    let result = match &directory {
        Some(d) => match d.authenticate(user, password).await {
            Ok(a) => one_identity(state, a).await,
            Err(e) => {
                // The same work as a stored user's failed login (the
                // password hashed, against a decoy) and the same answer,
                // whatever the directory said: an anonymous caller learns
                // neither which names are stored nor that the directory is
                // down. The operator reads why in the log.
                let _ = state.butler().users().authenticate(user, password).await;
                if !matches!(e, ButlerError::Auth(_)) {
                    tracing::warn!(error = %e, "the directory could not check a login; answered as a failed login");
                }
                Err(butler::auth::AuthError::BadCredentials.into())
            }
        },
        None => state.butler().users().authenticate(user, password).await,
    };
    match result {
        Ok(a) => {
            state.limiter().succeeded(user, address);
            let roles = directory.map(|_| a.roles());
            Ok((a, roles))
        }
        Err(e @ ButlerError::Auth(_)) => {
            state.limiter().failed(user, address, now);
            tracing::info!(address = ?address, "failed login");
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// One identity per name: a directory user whose name (as the directory
/// gives it, folded to lower case) is also a stored user's is refused, so
/// `Alice` with the directory's password never acts as the stored `alice`.
/// The answer is the one every failed login gets; the log says why, for
/// the Admin who must rename or remove one of the two.
async fn one_identity(
    state: &AppState,
    actor: butler::auth::Actor,
) -> Result<butler::auth::Actor, ButlerError> {
    match state.butler().users().same_user(actor.name()).await {
        Ok(None) => Ok(actor),
        Ok(Some(_)) => {
            tracing::warn!(
                user = ?actor.name(),
                "a directory login names a stored user; refused (one identity per name: rename or remove one of them)"
            );
            Err(butler::auth::AuthError::BadCredentials.into())
        }
        Err(e) => Err(e),
    }
}

/// Logs in with a stored user's name and password. Wrong names, wrong
/// passwords and disabled users get the same answer; too many failures
/// for one user or one address get 429 before any password is checked.
#[utoipa::path(post, path = "/api/login", tag = "session", request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in; a cookie session also gets Set-Cookie", body = LoginAnswer),
        (status = 401, description = "Wrong user name or password", body = Problem),
        (status = 429, description = "Too many failed logins; see Retry-After", body = Problem),
    ))]
pub async fn login(
    State(state): State<AppState>,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> ApiResult<Response> {
    let now = state.butler().clock().now();
    let address = client_address(&state, &headers, peer);
    let (actor, directory_roles) =
        check_login(&state, &body.user, body.password.expose_secret(), &address).await?;
    // A session id known before login is never reused (fixation).
    if let Some(old) = crate::extract::cookie(&headers, SESSION_COOKIE) {
        state.sessions().close(old);
    }
    let kind = if body.bearer {
        SessionKind::Bearer
    } else {
        SessionKind::Cookie
    };
    let (token, session) = state
        .sessions()
        .open_with(actor.name(), kind, now, directory_roles);
    let idle = state.sessions().idle().num_seconds();
    let answer = LoginAnswer {
        user: actor.name().to_string(),
        roles: role_names(actor.roles()),
        csrf_token: (kind == SessionKind::Cookie).then(|| session.csrf.clone()),
        token: (kind == SessionKind::Bearer).then(|| token.clone()),
        idle_timeout_seconds: idle,
    };
    let mut res = Json(answer).into_response();
    if kind == SessionKind::Cookie {
        res.headers_mut()
            .insert(header::SET_COOKIE, session_cookie(&state, &token, idle));
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/api/logout", tag = "session",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Response {
    if caller.session.is_some() {
        state.sessions().close(&caller.token);
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    res
}

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// User name.
    pub user: String,
    /// Roles.
    pub roles: Vec<String>,
    /// For cookie sessions, the CSRF token again (a reloaded page needs it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// Who is logged in.
#[utoipa::path(get, path = "/api/me", tag = "session",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        user: caller.actor.name().to_string(),
        roles: role_names(caller.actor.roles()),
        csrf_token: caller
            .session
            .filter(|s| s.kind == SessionKind::Cookie)
            .map(|s| s.csrf),
    })
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    #[schema(value_type = String, format = Password)]
    pub current: SecretString,
    /// The new password.
    #[schema(value_type = String, format = Password)]
    pub new: SecretString,
}

/// Changes the caller's password; every session of the caller ends (log
/// in again with the new one).
#[utoipa::path(put, path = "/api/me/password", tag = "session", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<StatusCode> {
    state
        .butler()
        .users()
        .change_password(
            caller.actor.name(),
            body.current.expose_secret(),
            body.new.expose_secret(),
        )
        .await?;
    state.sessions().close_all_of(caller.actor.name());
    Ok(StatusCode::NO_CONTENT)
}

/// A personal API token as listed.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    /// Id (to revoke it).
    pub id: String,
    /// Label.
    pub label: String,
    /// Made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Stops working.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<butler::auth::ApiToken> for TokenView {
    fn from(t: butler::auth::ApiToken) -> Self {
        TokenView {
            id: t.id,
            label: t.label,
            created_at: t.created_at,
            expires_at: t.expires_at,
        }
    }
}

/// The caller's personal API tokens (never their secrets).
#[utoipa::path(get, path = "/api/me/tokens", tag = "session",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenView>>> {
    let t = state.butler().users().api_tokens(&caller.actor).await?;
    Ok(Json(t.into_iter().map(TokenView::from).collect()))
}

/// A new token's label and lifetime.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for.
    pub label: String,
    /// Days it works (none: until revoked).
    pub expires_in_days: Option<u32>,
}

/// A token just made: `token` is shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The record.
    #[serde(flatten)]
    pub info: TokenView,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// Makes a personal API token for scripts (stored users only).
#[utoipa::path(post, path = "/api/me/tokens", tag = "session", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewToken>,
) -> ApiResult<Response> {
    let now = state.butler().clock().now();
    let expires = match body.expires_in_days {
        Some(0) | Some(3651..) => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "expires_in_days must be 1 to 3650",
            ))
        }
        Some(d) => Some(now + chrono::Duration::days(i64::from(d))),
        None => None,
    };
    let made = state
        .butler()
        .users()
        .create_api_token(&caller.actor, &body.label, expires)
        .await?;
    let mut res = (
        StatusCode::CREATED,
        Json(CreatedToken {
            info: made.token.into(),
            token: made.secret,
        }),
    )
        .into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/me/tokens/{id}", tag = "session", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::PathArgs(id): crate::extract::PathArgs<String>,
) -> ApiResult<StatusCode> {
    state
        .butler()
        .users()
        .revoke_api_token(&caller.actor, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod forwarded_tests {
    use super::forwarded_client;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn the_client_is_what_the_trusted_proxy_appended_never_what_it_wrote() {
        let local = ip("127.0.0.1");
        // The client wrote 1.2.3.4; the proxy on this host appended its peer.
        assert_eq!(
            forwarded_client("1.2.3.4, 198.51.100.7", local, &[]),
            ip("198.51.100.7")
        );
        // Two proxies of ours: past both.
        let ours = [ip("10.0.0.2"), ip("10.0.0.3")];
        let xff = "6.6.6.6, 198.51.100.7, 10.0.0.2";
        assert_eq!(
            forwarded_client(xff, ip("10.0.0.3"), &ours),
            ip("198.51.100.7")
        );
        // A peer that is no trusted proxy is the client, whatever it says.
        assert_eq!(
            forwarded_client("1.2.3.4", ip("203.0.113.9"), &[]),
            ip("203.0.113.9")
        );
        assert_eq!(
            forwarded_client("1.2.3.4", ip("203.0.113.9"), &ours),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last address believed.
        assert_eq!(forwarded_client("junk", local, &[]), local);
        assert_eq!(forwarded_client("1.2.3.4, junk", local, &[]), local);
    }
}

//! Stored users (Admin). Answers never carry password hashes.

use super::auth::role_names;
use crate::extract::{Caller, JsonBody, PathArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use butler::auth::{Role, RoleSet, User};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as shown.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// Name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Cannot log in.
    pub disabled: bool,
    /// Version.
    pub version: u64,
    /// Added.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            name: u.name,
            roles: role_names(u.roles),
            disabled: u.disabled,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

pub(crate) fn parse_roles(names: &[String]) -> Result<RoleSet, Problem> {
    let mut set = RoleSet::default();
    for n in names {
        let r = Role::parse(n).ok_or_else(|| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_role",
                format!("unknown role {n:?}: use requester, approver, operator or admin"),
            )
        })?;
        set = set.with(r);
    }
    Ok(set)
}

/// Every user.
#[utoipa::path(get, path = "/api/users", tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<UserView>>> {
    let users = state.butler().users().list(&caller.actor).await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// A new user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Name.
    pub name: String,
    /// Roles (`requester`, `approver`, `operator`, `admin`).
    pub roles: Vec<String>,
    /// First password.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Adds a user.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let roles = parse_roles(&body.roles)?;
    let u = state
        .butler()
        .users()
        .add(
            &caller.actor,
            &body.name,
            roles,
            body.password.expose_secret(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(u.into())))
}

/// Changes to a user (each optional; none: the user as stored).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    /// New roles.
    #[schema(nullable = false)]
    pub roles: Option<Vec<String>>,
    /// Disable (or enable) the user; disabling ends their sessions.
    #[schema(nullable = false)]
    pub disabled: Option<bool>,
    /// A new password (reset by an Admin); ends their sessions.
    #[schema(value_type = String, format = Password, required = false)]
    pub password: Option<SecretString>,
}

/// Changes a user's roles, enabled state or password.
#[utoipa::path(patch, path = "/api/users/{name}", tag = "users", request_body = UserChanges,
    params(("name" = String, Path)),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(name): PathArgs<String>,
    JsonBody(body): JsonBody<UserChanges>,
) -> ApiResult<Json<UserView>> {
    let users = state.butler().users();
    let roles = body.roles.as_deref().map(parse_roles).transpose()?;
    let mut last = None;
    if let Some(r) = roles {
        last = Some(users.set_roles(&caller.actor, &name, r).await?);
    }
    if let Some(d) = body.disabled {
        last = Some(users.set_disabled(&caller.actor, &name, d).await?);
        if d {
            state.sessions().close_all_of(&name);
        }
    }
    if let Some(p) = &body.password {
        last = Some(
            users
                .reset_password(&caller.actor, &name, p.expose_secret())
                .await?,
        );
        state.sessions().close_all_of(&name);
    }
    match last {
        Some(u) => Ok(Json(u.into())),
        // Nothing asked: the user as stored (an Admin's read).
        None => users
            .list(&caller.actor)
            .await?
            .into_iter()
            .find(|u| butler::auth::same_user(&u.name, &name))
            .map(|u| Json(u.into()))
            .ok_or_else(|| Problem::not_found(format!("no user {name:?}"))),
    }
}

/// Removes a user (their name stays wherever they acted).
#[utoipa::path(delete, path = "/api/users/{name}", tag = "users", params(("name" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(name): PathArgs<String>,
) -> ApiResult<StatusCode> {
    state.butler().users().remove(&caller.actor, &name).await?;
    state.sessions().close_all_of(&name);
    Ok(StatusCode::NO_CONTENT)
}

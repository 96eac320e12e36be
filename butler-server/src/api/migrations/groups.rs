//! Migration groups: find, create, read, edit, delete, clone and switch.

use crate::api::{GroupDoc, CREATED};
use crate::extract::{etag, Caller, IfMatch, JsonBody, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use butler::migration::{GroupId, MigrationGroup};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

pub(super) fn group_response(status: StatusCode, g: &MigrationGroup) -> Response {
    let mut res = (status, Json(g)).into_response();
    res.headers_mut().insert(header::ETAG, etag(g.version));
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("/api/groups/{}", g.id.0)) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

/// Name filter.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindArgs {
    /// Part of the name, any case; none: every group.
    #[serde(default)]
    pub name: String,
}

/// Groups whose name contains `name`.
#[utoipa::path(get, path = "/api/groups", tag = "migrations", params(FindArgs),
    responses((status = 200, body = Vec<GroupDoc>)))]
pub async fn find_groups(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<FindArgs>,
) -> ApiResult<Json<Vec<MigrationGroup>>> {
    Ok(Json(
        state
            .butler()
            .migrations()
            .find_groups(&caller.actor, &args.name)
            .await?,
    ))
}

/// A new group's name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Unique name.
    pub name: String,
}

/// Creates an empty group.
#[utoipa::path(post, path = "/api/groups", tag = "migrations", request_body = NewGroup,
    responses((status = 201, body = GroupDoc), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewGroup>,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .create_group(&caller.actor, &body.name)
        .await?;
    Ok(group_response(CREATED, &g))
}

/// One group; the ETag is its version.
#[utoipa::path(get, path = "/api/groups/{id}", tag = "migrations", params(("id" = u64, Path)),
    responses((status = 200, body = GroupDoc), (status = 404, body = Problem)))]
pub async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .group(&caller.actor, GroupId(id))
        .await?;
    Ok(group_response(StatusCode::OK, &g))
}

/// Changes to a group's name, clusters and power handling (each optional).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChanges {
    /// New name.
    pub name: Option<String>,
    /// Source cluster.
    pub source: Option<String>,
    /// Destination cluster.
    pub destination: Option<String>,
    /// Whether Butler powers the selected VMs that run off before
    /// migrating them (their owners are told) and on again at the
    /// destination once verified; unset, a running VM is a validation error.
    pub power_off: Option<bool>,
    /// Whether the selected VMs that run move while they run (vMotion,
    /// live migration) where the platform makes live moves; unset, moves
    /// are cold.
    pub live: Option<bool>,
}

/// Renames a group, sets its clusters, its power handling and live
/// moves, in that order; the first refused change stops the rest (earlier ones stay).
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "migrations", request_body = GroupChanges,
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn edit_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    JsonBody(body): JsonBody<GroupChanges>,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    let id = GroupId(id);
    let mut g = m.group(&caller.actor, id).await?;
    if g.version != v {
        return Err(stale(v, g.version));
    }
    if let Some(name) = &body.name {
        g = m.rename(&caller.actor, id, g.version, name).await?;
    }
    if let Some(c) = &body.source {
        g = m.set_source(&caller.actor, id, g.version, c).await?;
    }
    if let Some(c) = &body.destination {
        g = m.set_destination(&caller.actor, id, g.version, c).await?;
    }
    if let Some(on) = body.power_off {
        g = m.set_power_off(&caller.actor, id, g.version, on).await?;
    }
    if let Some(live) = body.live {
        g = m.set_live(&caller.actor, id, g.version, live).await?;
    }
    Ok(group_response(StatusCode::OK, &g))
}

pub(super) fn stale(expected: u64, found: u64) -> Problem {
    let mut p = Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "stale_version",
        format!("changed by someone else (expected version {expected}, found {found}); reload and try again"),
    );
    p.expected_version = Some(expected);
    p.found_version = Some(found);
    p
}

/// Deletes a group.
#[utoipa::path(delete, path = "/api/groups/{id}", tag = "migrations",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 412, body = Problem)))]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<StatusCode> {
    state
        .butler()
        .migrations()
        .delete_group(&caller.actor, GroupId(id), v)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The clone's name (none: the suggested "(return)" name).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneName {
    /// Name of the copy.
    pub name: Option<String>,
}

/// Copies a group (clusters and VMs).
#[utoipa::path(post, path = "/api/groups/{id}/clone", tag = "migrations", request_body = CloneName,
    params(("id" = u64, Path)),
    responses((status = 201, body = GroupDoc), (status = 409, body = Problem)))]
pub async fn clone_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    JsonBody(body): JsonBody<CloneName>,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .clone_group(&caller.actor, GroupId(id), body.name.as_deref())
        .await?;
    Ok(group_response(CREATED, &g))
}

/// Swaps source and destination.
#[utoipa::path(post, path = "/api/groups/{id}/switch", tag = "migrations",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 412, body = Problem)))]
pub async fn switch_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .switch(&caller.actor, GroupId(id), v)
        .await?;
    Ok(group_response(StatusCode::OK, &g))
}

//! A group's VMs: add, remove, select.

use super::groups::group_response;
use crate::api::GroupDoc;
use crate::extract::{Caller, IfMatch, JsonBody, PathArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use butler::migration::GroupId;
use serde::Deserialize;
use utoipa::ToSchema;

/// A VM to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VmName {
    /// The VM's name on the platform.
    pub name: String,
}

/// Adds a VM the platform knows.
#[utoipa::path(post, path = "/api/groups/{id}/vms", tag = "migrations", request_body = VmName,
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_vm(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    JsonBody(body): JsonBody<VmName>,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    m.add_vm(&caller.actor, GroupId(id), v, &body.name).await?;
    // The group as the client reads it after the edit.
    let g = m.group(&caller.actor, GroupId(id)).await?;
    Ok(group_response(StatusCode::OK, &g))
}

/// Removes a VM.
#[utoipa::path(delete, path = "/api/groups/{id}/vms/{vm}", tag = "migrations",
    params(("id" = u64, Path), ("vm" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 422, body = Problem)))]
pub async fn remove_vm(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, vm)): PathArgs<(u64, String)>,
    IfMatch(v): IfMatch,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    m.remove_vm(&caller.actor, GroupId(id), v, &vm).await?;
    // The group as the client reads it after the edit.
    let g = m.group(&caller.actor, GroupId(id)).await?;
    Ok(group_response(StatusCode::OK, &g))
}

/// Selection of one VM.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selected {
    /// Migrate it with the group.
    pub selected: bool,
}

/// Selects or deselects a VM.
#[utoipa::path(put, path = "/api/groups/{id}/vms/{vm}/selected", tag = "migrations", request_body = Selected,
    params(("id" = u64, Path), ("vm" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 422, body = Problem)))]
pub async fn select_vm(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, vm)): PathArgs<(u64, String)>,
    IfMatch(v): IfMatch,
    JsonBody(body): JsonBody<Selected>,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    m.select(&caller.actor, GroupId(id), v, &vm, body.selected)
        .await?;
    // The group as the client reads it after the edit.
    let g = m.group(&caller.actor, GroupId(id)).await?;
    Ok(group_response(StatusCode::OK, &g))
}

//! Facts of a group: refresh and read (with row paging).

use crate::api::FactsDoc;
use crate::extract::{Caller, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use butler::migration::{FactsSnapshot, GroupId, VmFactsRow};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The facts held for a group.
#[derive(Serialize, ToSchema)]
pub struct FactsView {
    /// Snapshot id (validations are bound to it).
    pub snapshot: u64,
    /// When the platform was read.
    pub taken_at: DateTime<Utc>,
    /// Age in seconds when asked.
    pub age_seconds: i64,
    /// The group version the facts are aligned with.
    pub group_version: u64,
    /// VMs in all.
    pub vms: usize,
    /// The last failed refresh since, if any.
    pub last_error: Option<String>,
    /// Rows `offset..offset+limit`: vm, found, cluster, project,
    /// powered_on, protection_domain, schedules, last_replica,
    /// move_refusals (the platform's reasons for refusing the VM's move).
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<VmFactsRow>,
}

/// Paging of facts rows.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RowArgs {
    /// Rows to skip.
    #[serde(default)]
    #[param(maximum = 9223372036854775807_i64)]
    pub offset: usize,
    /// Rows (default 100, at most 10,000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

pub(super) fn facts_view(
    snap: &FactsSnapshot,
    age: chrono::Duration,
    last_error: Option<String>,
    args: &RowArgs,
) -> Result<FactsView, Problem> {
    let limit = args.limit.unwrap_or(100);
    if limit == 0 || limit > butler::limits::MAX_PAGE_SIZE {
        return Err(Problem::bad_request(format!(
            "limit must be 1 to {}",
            butler::limits::MAX_PAGE_SIZE
        )));
    }
    let rows = (args.offset..snap.vms.len())
        .take(limit)
        .filter_map(|i| snap.row(i))
        .collect();
    Ok(FactsView {
        snapshot: snap.snapshot_id,
        taken_at: snap.taken_at,
        age_seconds: age.num_seconds(),
        group_version: snap.group_version,
        vms: snap.vms.len(),
        last_error,
        rows,
    })
}

/// Reads the platform now and keeps the group's facts.
#[utoipa::path(post, path = "/api/groups/{id}/refresh", tag = "migrations",
    params(("id" = u64, Path), RowArgs),
    responses((status = 200, body = FactsDoc), (status = 502, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    QueryArgs(args): QueryArgs<RowArgs>,
) -> ApiResult<Json<FactsView>> {
    let snap = state
        .butler()
        .migrations()
        .refresh(&caller.actor, GroupId(id))
        .await?;
    let age = snap.age(state.butler().clock().now());
    Ok(Json(facts_view(&snap, age, None, &args)?))
}

/// The facts held for a group, with their age.
#[utoipa::path(get, path = "/api/groups/{id}/facts", tag = "migrations",
    params(("id" = u64, Path), RowArgs),
    responses((status = 200, body = FactsView), (status = 404, body = Problem)))]
pub async fn facts(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    QueryArgs(args): QueryArgs<RowArgs>,
) -> ApiResult<Json<FactsView>> {
    let f = state
        .butler()
        .migrations()
        .facts(&caller.actor, GroupId(id))?;
    let err = f.last_error.map(|(at, why)| format!("{at}: {why}"));
    Ok(Json(facts_view(&f.snapshot, f.age, err, &args)?))
}

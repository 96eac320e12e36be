//! Validation of a group, or of a run's failed VMs.

use crate::api::ValidationDoc;
use crate::extract::{Caller, PathArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use butler::migration::{GroupId, RunId, ValidationReport};
use serde::Serialize;
use utoipa::ToSchema;

/// A validation and the token that lets it be migrated.
#[derive(Serialize, ToSchema)]
pub struct Validated {
    /// Counts and findings.
    #[serde(flatten)]
    #[schema(value_type = ValidationDoc)]
    pub report: ValidationReport,
    /// The signed token for `POST /api/runs` (absent when there are errors
    /// it would be refused for anyway, never forgeable).
    pub token: Option<String>,
}

pub(super) fn validated(report: ValidationReport) -> Validated {
    let token = report.token().map(|t| t.encode());
    Validated { report, token }
}

/// Validates the group as it stands against its facts.
#[utoipa::path(post, path = "/api/groups/{id}/validate", tag = "migrations",
    params(("id" = u64, Path)),
    responses((status = 200, body = Validated), (status = 404, body = Problem)))]
pub async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<Validated>> {
    let (_, _, report) = state
        .butler()
        .migrations()
        .validate(&caller.actor, GroupId(id))
        .await?;
    Ok(Json(validated(report)))
}

/// Validates only the VMs that failed in a run, to retry them.
#[utoipa::path(post, path = "/api/runs/{run}/validate-failed", tag = "migrations", params(("run" = u64, Path)),
    responses((status = 200, body = Validated), (status = 422, body = Problem)))]
pub async fn validate_failed(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(run): PathArgs<u64>,
) -> ApiResult<Json<Validated>> {
    let (_, _, report) = state
        .butler()
        .migrations()
        .validate_failed(&caller.actor, RunId(run))
        .await?;
    Ok(Json(validated(report)))
}

//! Approval rules (SPEC §13): the book in force and its versions, read by
//! anyone logged in and replaced by an Admin (the library checks the role
//! and the rules); what they decide for a draft or a form, and why.

use super::catalog::text_body;
use super::{ExplanationDoc, QuotaLineDoc, QuotaPreviewDoc, RequestDoc, RuleBookDoc, SpecDoc};
use crate::extract::{Caller, JsonBody, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use butler::quota::{QuotaLine, QuotaPreview};
use butler::request::{Request, RequestId};
use butler::rules::{Explanation, RuleBook, Rules};
use butler::vm_spec::VmSpec;

/// The rules in force, with their version and who wrote them when.
#[utoipa::path(get, path = "/api/rules", tag = "rules",
    responses((status = 200, body = RuleBookDoc)))]
pub async fn get_rules(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<RuleBook>> {
    Ok(Json((*state.butler().requests().rules().await?).clone()))
}

/// Replaces the rules (Admin), from their TOML form (`[[rule]]` tables):
/// checked against the catalog first; a refused book names the rule and
/// the problem, and the rules in force stay. Answers the new version.
#[utoipa::path(put, path = "/api/rules", tag = "rules",
    request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = RuleBookDoc), (status = 403, body = Problem), (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_rules(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<RuleBook>> {
    let text = text_body(&headers, &body, "rules")?;
    let rules = Rules::parse(&text)?;
    let book = state
        .butler()
        .requests()
        .set_rules(&caller.actor, rules)
        .await?;
    Ok(Json((*book).clone()))
}

/// Every version of the rules since the service started, oldest first.
#[utoipa::path(get, path = "/api/rules/history", tag = "rules",
    responses((status = 200, body = Vec<RuleBookDoc>)))]
pub async fn history(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<RuleBook>>> {
    Ok(Json(state.butler().requests().rule_history().await?))
}

/// What the rules decide for the caller's request if they submit it now,
/// and why, rule by rule (a dry run: nothing changes).
#[utoipa::path(get, path = "/api/requests/{id}/decision", tag = "rules",
    params(("id" = u64, Path, description = "Request number")),
    responses((status = 200, body = ExplanationDoc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn decision(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<Explanation>> {
    let e = state
        .butler()
        .requests()
        .dry_run(&caller.actor, RequestId(id))
        .await?;
    Ok(Json(e))
}

/// What the rules decide for a new VM of this spec asked by the caller,
/// and why: the form's dry run, before anything is saved.
#[utoipa::path(post, path = "/api/requests/decision", tag = "rules", request_body = SpecDoc,
    responses((status = 200, body = ExplanationDoc), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn draft_decision(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(spec): JsonBody<VmSpec>,
) -> ApiResult<Json<Explanation>> {
    Ok(Json(
        state
            .butler()
            .requests()
            .dry_run_spec(&caller.actor, &spec)
            .await?,
    ))
}

/// How many requests of a queue to answer.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueArgs {
    /// Requests to answer, 1 to 10,000 (default 50).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// The requests waiting for the caller's approval now: submitted or
/// reviewed, not their own, at a level they approve at that they have not
/// approved at before (empty for a user who does not approve).
#[utoipa::path(get, path = "/api/requests/queue", tag = "rules", params(QueueArgs),
    responses((status = 200, body = Vec<RequestDoc>), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn queue(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<QueueArgs>,
) -> ApiResult<Json<Vec<Request>>> {
    let limit = super::requests::page_limit(args.limit)?;
    Ok(Json(
        state
            .butler()
            .requests()
            .approval_queue(&caller.actor, limit)
            .await?,
    ))
}

/// Every quota scope with its limits and what it holds now: divisions,
/// units, then requesters (Approvers, Viewers and Admins see every
/// requester; others their own).
#[utoipa::path(get, path = "/api/quotas", tag = "rules",
    responses((status = 200, body = Vec<QuotaLineDoc>)))]
pub async fn quotas(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<QuotaLine>>> {
    Ok(Json(
        state.butler().requests().quota_usage(&caller.actor).await?,
    ))
}

/// What a recount found.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Recounted {
    /// How many holds there are now.
    pub holds: u64,
}

/// Counts every quota hold again from the requests and the inventory
/// (Admin); answers how many holds there are.
#[utoipa::path(post, path = "/api/quotas/recount", tag = "rules",
    responses((status = 200, body = Recounted), (status = 403, body = Problem)))]
pub async fn recount_quotas(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Recounted>> {
    let n = state
        .butler()
        .requests()
        .recount_quotas(&caller.actor)
        .await?;
    Ok(Json(Recounted {
        holds: u64::try_from(n).unwrap_or(u64::MAX),
    }))
}

/// What the request holds (a draft: if submitted now) and what it would
/// leave in its division's, unit's and requester's quotas.
#[utoipa::path(get, path = "/api/requests/{id}/quota", tag = "rules",
    params(("id" = u64, Path, description = "Request number")),
    responses((status = 200, body = QuotaPreviewDoc), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn quota_preview(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<QuotaPreview>> {
    Ok(Json(
        state
            .butler()
            .requests()
            .quota_preview(&caller.actor, RequestId(id))
            .await?,
    ))
}

/// What a new VM of this spec asked by the caller would hold and leave:
/// the form's preview, before anything is saved.
#[utoipa::path(post, path = "/api/requests/quota", tag = "rules", request_body = SpecDoc,
    responses((status = 200, body = QuotaPreviewDoc), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn draft_quota_preview(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(spec): JsonBody<VmSpec>,
) -> ApiResult<Json<QuotaPreview>> {
    Ok(Json(
        state
            .butler()
            .requests()
            .quota_preview_spec(&caller.actor, spec)
            .await?,
    ))
}

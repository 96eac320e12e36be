//! Approval rules (SPEC §13): the book in force and its versions, read by
//! anyone logged in and replaced by an Admin (the library checks the role
//! and the rules); what they decide for a draft or a form, and why.

use super::catalog::text_body;
use super::{ExplanationDoc, RuleBookDoc, SpecDoc};
use crate::extract::{Caller, JsonBody, PathArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use butler::request::RequestId;
use butler::rules::{Explanation, RuleBook, Rules};
use butler::vm_spec::VmSpec;
use butler::ButlerError;

/// The rules in force, with their version and who wrote them when.
#[utoipa::path(get, path = "/api/rules", tag = "rules",
    responses((status = 200, body = RuleBookDoc)))]
pub async fn get_rules(State(state): State<AppState>, _caller: Caller) -> Json<RuleBook> {
    Json((*state.butler().requests().rules()).clone())
}

/// Replaces the rules (Admin), from their TOML form (`[[rule]]` tables):
/// checked against the catalog first; a refused book names the rule and
/// the problem, and the rules in force stay. Answers the new version.
#[utoipa::path(put, path = "/api/rules", tag = "rules",
    request_body(content = String, content_type = "application/toml"),
    responses((status = 200, body = RuleBookDoc), (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn put_rules(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<RuleBook>> {
    let text = text_body(&headers, &body, "rules")?;
    let rules = Rules::from_toml(&text)
        .map_err(|e| ButlerError::Invalid(format!("approval rules: {}", e.message())))?;
    let book = state.butler().requests().set_rules(&caller.actor, rules)?;
    Ok(Json((*book).clone()))
}

/// Every version of the rules since the service started, oldest first.
#[utoipa::path(get, path = "/api/rules/history", tag = "rules",
    responses((status = 200, body = Vec<RuleBookDoc>)))]
pub async fn history(State(state): State<AppState>, _caller: Caller) -> Json<Vec<RuleBook>> {
    Json(
        state
            .butler()
            .requests()
            .rule_history()
            .iter()
            .map(|b| (**b).clone())
            .collect(),
    )
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
            .dry_run_spec(&caller.actor, &spec)?,
    ))
}

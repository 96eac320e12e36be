//! Requests: create, read, list, edit and every workflow action.

use super::{EstimateDoc, RequestDoc, SpecDoc};
use crate::extract::{etag, Caller, IfMatch, JsonBody, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use butler::request::{Request, RequestId, RequestState};
use butler::store::RequestQuery;
use butler::vm_spec::VmSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A request with its version as the ETag.
pub(crate) fn with_etag(status: StatusCode, r: &Request) -> Response {
    let mut res = (status, Json(r)).into_response();
    res.headers_mut().insert(header::ETAG, etag(r.version));
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("/api/requests/{}", r.id.0)) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

/// A page's offset: at most `i64::MAX`, as the document says.
pub(crate) fn page_offset(offset: usize) -> Result<usize, Problem> {
    if i64::try_from(offset).is_err() {
        return Err(Problem::bad_request(format!(
            "offset must be at most {}",
            i64::MAX
        )));
    }
    Ok(offset)
}

/// A page's size as asked (50 when not): 1 to
/// [`butler::limits::MAX_PAGE_SIZE`], as the document says. Past it, the
/// library's own limit check answers (422 `limit`); an empty page, which
/// the library would serve, gets the same answer here.
pub(crate) fn page_limit(asked: Option<usize>) -> Result<usize, Problem> {
    let n = asked.unwrap_or(50);
    butler::limits::check("limit", n, butler::limits::MAX_PAGE_SIZE, "rows")
        .map_err(|e| Problem::from(butler::ButlerError::from(e)))?;
    if n == 0 {
        return Err(Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
            format!(
                "limit: 0 rows; a page is 1 to {} rows",
                butler::limits::MAX_PAGE_SIZE
            ),
        ));
    }
    Ok(n)
}

/// Filters and paging of a list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListArgs {
    /// States, comma-separated (`requested,reviewed`); none: all.
    #[param(
        pattern = r"^((created|requested|reviewed|approved|provisioning|completed|error|rejected|cancelled)(,(created|requested|reviewed|approved|provisioning|completed|error|rejected|cancelled))*)?$"
    )]
    pub state: Option<String>,
    /// Only this requester's (Requesters only ever see their own).
    pub owner: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub created_to: Option<DateTime<Utc>>,
    /// Rows to skip.
    #[serde(default)]
    #[param(maximum = 9223372036854775807_i64)]
    pub offset: usize,
    /// Rows per page, 1 to 10,000 (default 50).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

impl ListArgs {
    fn query(&self) -> Result<RequestQuery, Problem> {
        let mut states = Vec::new();
        for name in self
            .state
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| s.split(','))
        {
            let s = RequestState::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| Problem::bad_request(format!("unknown state {name:?}")))?;
            states.push(s);
        }
        Ok(RequestQuery {
            states,
            owner: self.owner.clone(),
            created_from: self.created_from,
            created_to: self.created_to,
            offset: page_offset(self.offset)?,
            limit: Some(page_limit(self.limit)?),
        })
    }
}

/// One page of requests.
#[derive(Serialize, ToSchema)]
pub struct RequestPage {
    /// The rows.
    #[schema(value_type = Vec<RequestDoc>)]
    pub items: Vec<Request>,
    /// Rows matching the filters over all pages.
    pub total: usize,
    /// Rows of this page left out because they could not be read.
    pub skipped: usize,
    /// The offset asked.
    pub offset: usize,
}

/// Lists the requests the caller may see.
#[utoipa::path(get, path = "/api/requests", tag = "requests", params(ListArgs),
    responses((status = 200, body = RequestPage), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<ListArgs>,
) -> ApiResult<Json<RequestPage>> {
    let q = args.query()?;
    let page = state.butler().requests().list(&caller.actor, &q).await?;
    Ok(Json(RequestPage {
        items: page.items,
        total: page.total,
        skipped: page.skipped,
        offset: q.offset,
    }))
}

/// Creates a draft. Every problem of the spec comes back at once.
#[utoipa::path(post, path = "/api/requests", tag = "requests", request_body = SpecDoc,
    responses(
        (status = 201, description = "Created; ETag and Location set", body = RequestDoc),
        (status = 422, description = "Every problem of the spec", body = Problem),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(spec): JsonBody<VmSpec>,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .create(&caller.actor, spec)
        .await?;
    Ok(with_etag(StatusCode::CREATED, &r))
}

/// The estimate of a draft spec, without storing anything.
#[derive(Serialize, ToSchema)]
pub struct DraftEstimate {
    /// The spec as it would be stored (normalised).
    #[schema(value_type = SpecDoc)]
    pub spec: VmSpec,
    /// Project, category and cost center derived from it.
    #[schema(value_type = Object)]
    pub derived: butler::vm_spec::Derived,
    /// The monthly estimate.
    #[schema(value_type = EstimateDoc)]
    pub estimate: butler::cost::Estimate,
}

/// Validates and prices a draft spec without storing it.
#[utoipa::path(post, path = "/api/requests/estimate", tag = "requests", request_body = SpecDoc,
    responses((status = 200, body = DraftEstimate), (status = 422, body = Problem)))]
pub async fn estimate(
    State(state): State<AppState>,
    _caller: Caller,
    JsonBody(spec): JsonBody<VmSpec>,
) -> ApiResult<Json<DraftEstimate>> {
    let p = state.butler().requests().price(&spec)?;
    Ok(Json(DraftEstimate {
        derived: p.spec.derived().clone(),
        spec: p.spec.into_parts().0,
        estimate: p.estimate,
    }))
}

/// The exporter's language: the console's language (its cookie), else
/// the first of `Accept-Language`, else English.
pub(crate) fn export_language(headers: &axum::http::HeaderMap) -> butler::export::Language {
    use butler::export::Language;
    if let Some(lang) = crate::extract::cookie(headers, crate::console::LANG_COOKIE) {
        return Language::from_tag(lang);
    }
    // The browser's most wanted supported language, as the console reads it.
    match headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::console::i18n::accepted)
    {
        Some(crate::console::i18n::Lang::Es) => Language::Spanish,
        _ => Language::English,
    }
}

/// The requests a list would select, as an `.xlsx` workbook (every page),
/// headed in the exporter's language (the console's, else
/// `Accept-Language`, else English).
#[utoipa::path(get, path = "/api/requests/export.xlsx", tag = "requests", params(ListArgs),
    responses((status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
pub async fn export_xlsx(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    QueryArgs(args): QueryArgs<ListArgs>,
) -> ApiResult<Response> {
    let q = args.query()?;
    let mut buf = Vec::new();
    state
        .butler()
        .requests()
        .export_xlsx_in(&caller.actor, &q, export_language(&headers), &mut buf)
        .await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"requests.xlsx\"",
            ),
        ],
        buf,
    )
        .into_response())
}

/// One request, with its history; the ETag is its version.
#[utoipa::path(get, path = "/api/requests/{id}", tag = "requests",
    params(("id" = u64, Path, description = "Request number")),
    responses((status = 200, body = RequestDoc), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .get(&caller.actor, RequestId(id))
        .await?;
    Ok(with_etag(StatusCode::OK, &r))
}

/// The owner edits a draft.
#[utoipa::path(put, path = "/api/requests/{id}", tag = "requests", request_body = SpecDoc,
    params(("id" = u64, Path), ("If-Match" = String, Header, description = "ETag of the version read")),
    responses((status = 200, body = RequestDoc), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    JsonBody(spec): JsonBody<VmSpec>,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .save(&caller.actor, RequestId(id), v, spec)
        .await?;
    Ok(with_etag(StatusCode::OK, &r))
}

/// The owner submits a draft for approval.
#[utoipa::path(post, path = "/api/requests/{id}/submit", tag = "requests",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = RequestDoc), (status = 403, body = Problem), (status = 412, body = Problem)))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .submit(&caller.actor, RequestId(id), v)
        .await?;
    Ok(with_etag(StatusCode::OK, &r))
}

/// An approver reviews, with edits.
#[utoipa::path(post, path = "/api/requests/{id}/review", tag = "requests", request_body = SpecDoc,
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = RequestDoc), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    JsonBody(spec): JsonBody<VmSpec>,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .review(&caller.actor, RequestId(id), v, spec)
        .await?;
    Ok(with_etag(StatusCode::OK, &r))
}

/// An approver approves; provisioning starts on its own.
#[utoipa::path(post, path = "/api/requests/{id}/approve", tag = "requests",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = RequestDoc), (status = 403, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .approve(&caller.actor, RequestId(id), v)
        .await?;
    state.wake_engine();
    Ok(with_etag(StatusCode::OK, &r))
}

/// A reason, for reject and cancel.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why (required to reject; optional to cancel).
    pub reason: Option<String>,
}

/// An approver rejects, with a reason.
#[utoipa::path(post, path = "/api/requests/{id}/reject", tag = "requests", request_body = Reason,
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = RequestDoc), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    JsonBody(body): JsonBody<Reason>,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .reject(
            &caller.actor,
            RequestId(id),
            v,
            body.reason.as_deref().unwrap_or(""),
        )
        .await?;
    Ok(with_etag(StatusCode::OK, &r))
}

/// The owner cancels (an optional reason); the body may be omitted.
#[utoipa::path(post, path = "/api/requests/{id}/cancel", tag = "requests", request_body = Reason,
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = RequestDoc), (status = 403, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    body: Option<JsonBody<Reason>>,
) -> ApiResult<Response> {
    let reason = body.and_then(|JsonBody(b)| b.reason);
    let r = state
        .butler()
        .requests()
        .cancel(&caller.actor, RequestId(id), v, reason)
        .await?;
    Ok(with_etag(StatusCode::OK, &r))
}

/// Retries a failed provisioning from the failed step.
#[utoipa::path(post, path = "/api/requests/{id}/retry", tag = "requests",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = RequestDoc), (status = 403, body = Problem)))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<Response> {
    let r = state
        .butler()
        .requests()
        .retry(&caller.actor, RequestId(id), v)
        .await?;
    state.wake_engine();
    Ok(with_etag(StatusCode::OK, &r))
}

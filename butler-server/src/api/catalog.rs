//! The catalog and the rate book: read by anyone logged in, replaced by an
//! Admin (the library checks the role and the content).

use super::{CatalogDoc, RatesDoc};
use crate::extract::Caller;
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use butler::catalog::Catalog;
use butler::cost::RateBook;
use butler::ButlerError;

/// A TOML body sent as `application/toml`, as text.
pub(super) fn text_body(headers: &HeaderMap, body: &[u8], what: &str) -> Result<String, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/toml") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the {what} as Content-Type: application/toml"),
        ));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| Problem::bad_request(format!("the {what} is not UTF-8")))
}

/// The catalog in use.
#[utoipa::path(get, path = "/api/catalog", tag = "catalog",
    responses((status = 200, body = CatalogDoc)))]
pub async fn get_catalog(State(state): State<AppState>, _caller: Caller) -> Json<Catalog> {
    Json((*state.butler().requests().catalog()).clone())
}

/// Replaces the catalog (Admin), from its TOML form; a catalog with any
/// problem is refused whole and nothing changes.
#[utoipa::path(put, path = "/api/catalog", tag = "catalog",
    request_body(content = String, content_type = "application/toml"),
    responses((status = 204), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_catalog(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let text = text_body(&headers, &body, "catalog")?;
    let cat = Catalog::from_toml_str(&text).map_err(ButlerError::from)?;
    state.butler().requests().set_catalog(&caller.actor, cat)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The rate book in use.
#[utoipa::path(get, path = "/api/rates", tag = "catalog",
    responses((status = 200, body = RatesDoc)))]
pub async fn get_rates(State(state): State<AppState>, _caller: Caller) -> Json<RateBook> {
    Json((*state.butler().requests().rate_book()).clone())
}

/// Replaces the rate book (Admin), from its TOML form.
#[utoipa::path(put, path = "/api/rates", tag = "catalog",
    request_body(content = String, content_type = "application/toml"),
    responses((status = 204), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_rates(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let text = text_body(&headers, &body, "rate book")?;
    let rates = RateBook::from_toml_str(&text).map_err(ButlerError::from)?;
    state
        .butler()
        .requests()
        .set_rate_book(&caller.actor, rates)?;
    Ok(StatusCode::NO_CONTENT)
}

//! Showback (SPEC §14): what the VMs the caller sees cost, month by
//! month, beside their requests' estimates (JSON or CSV); the closed
//! months, closing one (Admin), and a closed month's lines by page.

use super::{BillingComparisonDoc, ClosedMonthDoc, ShowbackDoc, ShowbackPageDoc};
use crate::extract::{Caller, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use butler::inventory::VmId;
use butler::service::ShowbackPage;
use butler::showback::{BillingComparison, ClosedMonth, Month, Showback};
use serde::Deserialize;
use utoipa::IntoParams;

/// A period of months, both included.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodArgs {
    /// First month (`2026-03`).
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}$")]
    pub from: String,
    /// Last month (`2026-05`); the first when absent.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}$")]
    pub to: Option<String>,
}

fn month(text: &str) -> Result<Month, Problem> {
    text.parse::<Month>()
        .map_err(|e| Problem::from(butler::ButlerError::Invalid(e.to_string())))
}

impl PeriodArgs {
    fn period(&self) -> Result<(Month, Month), Problem> {
        let from = month(&self.from)?;
        let to = self.to.as_deref().map(month).transpose()?.unwrap_or(from);
        Ok((from, to))
    }

    /// The period's report as `caller` sees it, and the period.
    async fn report(
        &self,
        state: &AppState,
        caller: &Caller,
    ) -> Result<(Month, Month, Showback), Problem> {
        let (from, to) = self.period()?;
        let r = state
            .butler()
            .requests()
            .showback(&caller.actor, from, to)
            .await?;
        Ok((from, to, r))
    }
}

/// What every VM the caller sees cost in the period: per VM and month
/// (days, days powered off, actual, the request's estimate and the
/// difference by cause), per month, cost center, division and unit, and
/// in all. Approvers, Viewers and Admins see every VM, others their own;
/// closed months read as they were closed.
#[utoipa::path(get, path = "/api/showback", tag = "showback", params(PeriodArgs),
    responses((status = 200, body = ShowbackDoc), (status = 422, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<PeriodArgs>,
) -> ApiResult<Json<Showback>> {
    Ok(Json(args.report(&state, &caller).await?.2))
}

/// The same report as CSV: one line per VM and month (texts quoted and
/// never formulas, amounts as plain decimals).
#[utoipa::path(get, path = "/api/showback.csv", tag = "showback", params(PeriodArgs),
    responses((status = 200, description = "One line per VM and month", content_type = "text/csv"), (status = 422, body = Problem)))]
pub async fn report_csv(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<PeriodArgs>,
) -> ApiResult<Response> {
    let (from, to, r) = args.report(&state, &caller).await?;
    let name = format!("attachment; filename=\"showback-{from}-{to}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        butler::showback::to_csv(&r),
    )
        .into_response())
}

/// The same report as an `.xlsx` workbook: a row per VM and month (the
/// month a date, days and amounts numbers) and the sums per month and
/// cost center, headed in the exporter's language (the console's, else
/// `Accept-Language`, else English).
#[utoipa::path(get, path = "/api/showback.xlsx", tag = "showback", params(PeriodArgs),
    responses((status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 422, body = Problem)))]
pub async fn report_xlsx(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    QueryArgs(args): QueryArgs<PeriodArgs>,
) -> ApiResult<Response> {
    let (from, to, r) = args.report(&state, &caller).await?;
    let mut buf = Vec::new();
    let lang = super::requests::export_language(&headers);
    butler::export::write_showback_xlsx_in(&r, lang, &mut buf)
        .map_err(|e| Problem::from(butler::ButlerError::Export(e.to_string())))?;
    let name = format!("attachment; filename=\"showback-{from}-{to}.xlsx\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, name),
        ],
        buf,
    )
        .into_response())
}

/// The closed months, oldest first, with their totals over every VM
/// (Approvers, Viewers, Admins).
#[utoipa::path(get, path = "/api/showback/months", tag = "showback",
    responses((status = 200, body = Vec<ClosedMonthDoc>), (status = 403, body = Problem)))]
pub async fn closed_months(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ClosedMonth>>> {
    Ok(Json(
        state
            .butler()
            .requests()
            .closed_months(&caller.actor)
            .await?,
    ))
}

/// Closes a month that has ended (Admin): its figures are kept as priced
/// now and never change after, whatever rate card or record changes.
/// A month closed already: 409.
#[utoipa::path(post, path = "/api/showback/months/{month}/close", tag = "showback",
    params(("month" = String, Path, description = "The month, `2026-03`", pattern = r"^[0-9]{4}-[0-9]{2}$")),
    responses((status = 200, body = ClosedMonthDoc), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(m): PathArgs<String>,
) -> ApiResult<Json<ClosedMonth>> {
    let m = month(&m)?;
    Ok(Json(
        state
            .butler()
            .requests()
            .close_month(&caller.actor, m)
            .await?,
    ))
}

/// How close the figures must be.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BilledArgs {
    /// Differences up to this amount are not flagged (default `0.01`).
    #[param(pattern = r"^[0-9]{1,12}(\.[0-9]{1,12})?$")]
    pub tolerance: Option<String>,
}

/// A month's showback of every VM beside what the billing system charged
/// for it, matched by VM name; lines differing by more than the tolerance,
/// or on one side only, are flagged (Approvers, Viewers, Admins). A
/// billing system that does not report charges: 501.
#[utoipa::path(get, path = "/api/showback/months/{month}/billed", tag = "showback",
    params(("month" = String, Path, description = "The month, `2026-03`", pattern = r"^[0-9]{4}-[0-9]{2}$"), BilledArgs),
    responses((status = 200, body = BillingComparisonDoc), (status = 403, body = Problem), (status = 422, body = Problem), (status = 501, body = Problem)))]
pub async fn billed(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(m): PathArgs<String>,
    QueryArgs(args): QueryArgs<BilledArgs>,
) -> ApiResult<Json<BillingComparison>> {
    let m = month(&m)?;
    let tolerance = args
        .tolerance
        .as_deref()
        .map(butler::showback::parse_tolerance)
        .transpose()
        .map_err(|e| Problem::from(butler::ButlerError::Invalid(e)))?;
    let butler = state.butler();
    let Some(engine) = butler.engine() else {
        return Err(Problem::from(butler::ButlerError::Backend(
            butler::backend::BackendError::new(
                butler::backend::ErrorKind::Unsupported,
                "billing charges",
                "this Butler has no billing backend",
            ),
        )));
    };
    let billing = engine.billing();
    Ok(Json(
        butler
            .requests()
            .compare_with_billing(&caller.actor, m, billing, tolerance)
            .await?,
    ))
}

/// A page of a month's lines.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinesArgs {
    /// Only VMs numbered above this one (the `next` of the page before).
    #[param(maximum = 9223372036854775807_u64)]
    pub after: Option<u64>,
    /// Lines to answer, 1 to 10,000 (default 50).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// A page of one month's VM lines, by VM number, of the VMs the caller
/// sees: a closed month from its kept lines (with when and by whom it was
/// closed), an open one priced now.
#[utoipa::path(get, path = "/api/showback/months/{month}/lines", tag = "showback",
    params(("month" = String, Path, description = "The month, `2026-03`", pattern = r"^[0-9]{4}-[0-9]{2}$"), LinesArgs),
    responses((status = 200, body = ShowbackPageDoc), (status = 422, body = Problem)))]
pub async fn lines(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(m): PathArgs<String>,
    QueryArgs(args): QueryArgs<LinesArgs>,
) -> ApiResult<Json<ShowbackPage>> {
    let m = month(&m)?;
    let limit = super::requests::page_limit(args.limit)?;
    let after = args
        .after
        .map(|a| {
            i64::try_from(a)
                .map(|_| VmId(a))
                .map_err(|_| Problem::bad_request(format!("after must be at most {}", i64::MAX)))
        })
        .transpose()?;
    Ok(Json(
        state
            .butler()
            .requests()
            .showback_page(&caller.actor, m, after, limit)
            .await?,
    ))
}

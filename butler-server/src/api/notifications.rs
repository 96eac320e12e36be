//! Notification deliveries that failed (Admin): what waits in the outbox
//! for a retry, and what was given up.

use crate::extract::{Caller, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use butler::store::Delivery;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most deliveries listed at once.
const MAX_LIMIT: usize = 1000;

/// How many to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FailedArgs {
    /// Rows, 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// One failed delivery.
#[derive(Serialize, ToSchema)]
pub struct FailedDelivery {
    /// The notifier (`mail`, `webhook`, …).
    pub notifier: String,
    /// The request.
    pub request: u64,
    /// The request's state the event announced.
    pub to_state: String,
    /// The event's summary.
    pub summary: String,
    /// When the event happened.
    pub at: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last one failed.
    pub last_error: Option<String>,
    /// Given up (no more attempts); otherwise the next is at `next_at`.
    pub gave_up: bool,
    /// When the next attempt is due.
    pub next_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for FailedDelivery {
    fn from(d: Delivery) -> Self {
        FailedDelivery {
            notifier: d.notifier,
            request: d.request.0,
            to_state: d.event.to.as_str().to_string(),
            summary: d.event.summary,
            at: d.event.at,
            attempts: d.attempts,
            last_error: d.last_error,
            next_at: (!d.gave_up).then_some(d.next_at),
            gave_up: d.gave_up,
        }
    }
}

/// Deliveries that failed at least once: given up first, then those
/// waiting for a retry.
#[utoipa::path(get, path = "/api/notifications/failed", tag = "notifications", params(FailedArgs),
    responses((status = 200, body = Vec<FailedDelivery>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn failed(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<FailedArgs>,
) -> ApiResult<Json<Vec<FailedDelivery>>> {
    let limit = args.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request(format!(
            "limit must be 1 to {MAX_LIMIT}"
        )));
    }
    let failed = state
        .butler()
        .requests()
        .failed_deliveries(&caller.actor, limit)
        .await?;
    Ok(Json(failed.into_iter().map(FailedDelivery::from).collect()))
}

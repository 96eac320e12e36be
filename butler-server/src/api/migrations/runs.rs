//! Runs: start, read, list, the progress stream and cancel.

use crate::api::ReportDoc;
use crate::extract::{Caller, JsonBody, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use butler::migration::{GroupId, MigrationReport, RunId};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// A group's reports, newest first.
#[utoipa::path(get, path = "/api/groups/{id}/reports", tag = "migrations",
    params(("id" = u64, Path)),
    responses((status = 200, body = Vec<ReportDoc>)))]
pub async fn reports(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<Vec<MigrationReport>>> {
    Ok(Json(
        state
            .butler()
            .migrations()
            .reports(&caller.actor, GroupId(id))
            .await?,
    ))
}

/// The validation token to migrate by, and what the Operator confirms.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateBody {
    /// As returned by a validation.
    pub token: String,
    /// The run may power off the running VMs it moves (the group's
    /// `power_off`); without it such a run is refused with 409
    /// `confirmation_required`.
    #[serde(default)]
    pub confirm_power_off: bool,
}

/// A started run.
#[derive(Serialize, ToSchema)]
pub struct Started {
    /// The run (its report's id).
    pub run: u64,
    /// Its progress stream.
    pub events: String,
}

/// Starts migrating what the token validated. A token that is forged,
/// stale (group or facts changed) or carries errors is refused and nothing
/// moves; so is a run that would power VMs off without `confirm_power_off`.
#[utoipa::path(post, path = "/api/runs", tag = "migrations", request_body = MigrateBody,
    responses((status = 202, body = Started), (status = 409, description = "Validation or confirmation required", body = Problem)))]
pub async fn migrate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<MigrateBody>,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    let token = m.parse_token(&body.token).await?;
    let confirmed = butler::migration::Confirmations {
        power_off: body.confirm_power_off,
    };
    let handle = m.migrate_with(&caller.actor, &token, confirmed).await?;
    let run = handle.run().0;
    state.runs().follow(handle);
    let started = Started {
        run,
        events: format!("/api/runs/{run}/events"),
    };
    let mut res = (StatusCode::ACCEPTED, Json(started)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/runs/{run}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// A run's report (lines are stored as VMs finish).
#[utoipa::path(get, path = "/api/runs/{run}", tag = "migrations", params(("run" = u64, Path)),
    responses((status = 200, body = ReportDoc), (status = 404, body = Problem)))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(run): PathArgs<u64>,
) -> ApiResult<Json<MigrationReport>> {
    Ok(Json(
        state
            .butler()
            .migrations()
            .report(&caller.actor, RunId(run))
            .await?,
    ))
}

/// Where a resumed stream starts: `Last-Event-ID` (as browsers send it)
/// or `?last_event_id=`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResumeArgs {
    /// The id of the last event received.
    pub last_event_id: Option<usize>,
}

/// The run's progress as server-sent events, then one `end` event once the
/// run is over and its report stored. A run this process started sends
/// `progress` events (JSON of one migration event: every step). A run
/// started elsewhere (another instance sharing the store, a script, or
/// this process before a restart) is followed through the store: one `vm`
/// event per finished VM (JSON of its report line), read every 2 s. Ids
/// count from 1 in both; reconnect with `Last-Event-ID` to get exactly the
/// events after it.
#[utoipa::path(get, path = "/api/runs/{run}/events", tag = "migrations",
    params(("run" = u64, Path), ResumeArgs),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 404, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(run): PathArgs<u64>,
    QueryArgs(args): QueryArgs<ResumeArgs>,
    headers: HeaderMap,
) -> ApiResult<Sse<EventStream>> {
    // Reading the report checks the caller may see migrations at all.
    state
        .butler()
        .migrations()
        .report(&caller.actor, RunId(run))
        .await?;
    let from = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(text) => text
            .trim()
            .parse::<usize>()
            .map_err(|_| Problem::bad_request("Last-Event-ID must be an event id (a number)"))?,
        None => args.last_event_id.unwrap_or(0),
    };
    let Some(log) = state.runs().get(RunId(run)) else {
        let watch = state
            .butler()
            .migrations()
            .watch(&caller.actor, RunId(run), STORE_POLL)
            .await?;
        let stream = stored_events(watch, run, from);
        return Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::default()));
    };
    let watch = log.watch();
    let stream = stream::unfold(
        (log, watch, from, false),
        move |(log, mut watch, next, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let (batch, done) = log.since(next);
                if !batch.is_empty() {
                    let n = batch.len();
                    let out = batch
                        .iter()
                        .enumerate()
                        .map(|(i, e)| Ok(progress_event(next + i + 1, e)))
                        .collect();
                    return Some((out, (log, watch, next + n, false)));
                }
                if done {
                    return Some((vec![Ok(end_event(run))], (log, watch, next, true)));
                }
                // The run's log is gone: the run is over once all is read.
                if watch.changed().await.is_err() && log.since(next).0.is_empty() {
                    return Some((vec![Ok(end_event(run))], (log, watch, next, true)));
                }
            }
        },
    )
    .flat_map(stream::iter);
    Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::default()))
}

/// How often a run followed through the store is read.
const STORE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

type EventStream = futures_util::stream::BoxStream<'static, Result<Event, Infallible>>;

fn end_event(run: u64) -> Event {
    Event::default().event("end").data(run.to_string())
}

/// A run followed through the store: `vm` events (ids from 1; those up to
/// `after` skipped, for a reconnect), then `end`. A store failure ends the
/// stream early; the client reconnects with the last id.
fn stored_events(watch: butler::migration::RunWatch, run: u64, after: usize) -> EventStream {
    use butler::migration::RunProgress;
    stream::unfold(Some((watch, 0usize)), move |state| async move {
        let (mut watch, mut n) = state?;
        loop {
            match watch.next().await {
                Ok(Some(RunProgress::Lines { lines, .. })) => {
                    let mut out = Vec::new();
                    for line in &lines {
                        n += 1;
                        if n > after {
                            let data = serde_json::to_string(line).unwrap_or_else(|_| "{}".into());
                            out.push(Ok(Event::default()
                                .id(n.to_string())
                                .event("vm")
                                .data(data)));
                        }
                    }
                    if !out.is_empty() {
                        return Some((out, Some((watch, n))));
                    }
                }
                Ok(Some(RunProgress::Ended(_))) => return Some((vec![Ok(end_event(run))], None)),
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(run, error = %e, "following a run through the store failed");
                    return None;
                }
            }
        }
    })
    .flat_map(stream::iter)
    .boxed()
}

pub(super) fn progress_event(id: usize, e: &Arc<butler::migration::MigrationEvent>) -> Event {
    let data = serde_json::to_string(e.as_ref()).unwrap_or_else(|_| "{}".into());
    Event::default()
        .id(id.to_string())
        .event("progress")
        .data(data)
}

/// Asks a run to stop starting new work, whichever instance runs it; VMs
/// not yet moved are reported skipped.
#[utoipa::path(post, path = "/api/runs/{run}/cancel", tag = "migrations", params(("run" = u64, Path)),
    responses((status = 202), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(run): PathArgs<u64>,
) -> ApiResult<StatusCode> {
    let migrations = state.butler().migrations();
    match migrations.cancel(&caller.actor, RunId(run)).await {
        Ok(()) => {}
        // A run that has ended is refused by the library (a code, its
        // English here), as older versions' plain text was.
        Err(butler::ButlerError::Refused(said)) => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "run_not_running",
                said.to_string(),
            ))
        }
        Err(butler::ButlerError::Invalid(m)) => {
            return Err(Problem::new(StatusCode::CONFLICT, "run_not_running", m))
        }
        Err(e) => return Err(e.into()),
    }
    // A run of this process stops at once; another's within its poll.
    if let Some(l) = state.runs().get(RunId(run)) {
        l.cancel();
    }
    Ok(StatusCode::ACCEPTED)
}

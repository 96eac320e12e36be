//! Migration groups, facts, validation, runs and their progress stream.

use super::{FactsDoc, GroupDoc, ReportDoc, ValidationDoc, CREATED};
use crate::extract::{etag, Caller, IfMatch, JsonBody, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use butler::migration::{
    FactsSnapshot, GroupId, MigrationGroup, MigrationReport, RunId, ValidationReport, VmFactsRow,
};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

fn group_response(status: StatusCode, g: &MigrationGroup) -> Response {
    let mut res = (status, Json(g)).into_response();
    res.headers_mut().insert(header::ETAG, etag(g.version));
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&format!("/api/groups/{}", g.id.0)) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

/// Name filter.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// Part of the name, any case; none: every group.
    #[serde(default)]
    pub name: String,
}

/// Groups whose name contains `name`.
#[utoipa::path(get, path = "/api/groups", tag = "migrations", params(FindArgs),
    responses((status = 200, body = Vec<GroupDoc>)))]
pub async fn find_groups(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<FindArgs>,
) -> ApiResult<Json<Vec<MigrationGroup>>> {
    Ok(Json(
        state
            .butler()
            .migrations()
            .find_groups(&caller.actor, &args.name)
            .await?,
    ))
}

/// A new group's name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Unique name.
    pub name: String,
}

/// Creates an empty group.
#[utoipa::path(post, path = "/api/groups", tag = "migrations", request_body = NewGroup,
    responses((status = 201, body = GroupDoc), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewGroup>,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .create_group(&caller.actor, &body.name)
        .await?;
    Ok(group_response(CREATED, &g))
}

/// One group; the ETag is its version.
#[utoipa::path(get, path = "/api/groups/{id}", tag = "migrations", params(("id" = u64, Path)),
    responses((status = 200, body = GroupDoc), (status = 404, body = Problem)))]
pub async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .group(&caller.actor, GroupId(id))
        .await?;
    Ok(group_response(StatusCode::OK, &g))
}

/// Changes to a group's name and clusters (each optional).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChanges {
    /// New name.
    pub name: Option<String>,
    /// Source cluster.
    pub source: Option<String>,
    /// Destination cluster.
    pub destination: Option<String>,
}

/// Renames a group and sets its clusters, in that order; the first
/// refused change stops the rest (earlier ones stay).
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "migrations", request_body = GroupChanges,
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn edit_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
    JsonBody(body): JsonBody<GroupChanges>,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    let id = GroupId(id);
    let mut g = m.group(&caller.actor, id).await?;
    if g.version != v {
        return Err(stale(v, g.version));
    }
    if let Some(name) = &body.name {
        g = m.rename(&caller.actor, id, g.version, name).await?;
    }
    if let Some(c) = &body.source {
        g = m.set_source(&caller.actor, id, g.version, c).await?;
    }
    if let Some(c) = &body.destination {
        g = m.set_destination(&caller.actor, id, g.version, c).await?;
    }
    Ok(group_response(StatusCode::OK, &g))
}

fn stale(expected: u64, found: u64) -> Problem {
    let mut p = Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "stale_version",
        format!("changed by someone else (expected version {expected}, found {found}); reload and try again"),
    );
    p.expected_version = Some(expected);
    p.found_version = Some(found);
    p
}

/// Deletes a group.
#[utoipa::path(delete, path = "/api/groups/{id}", tag = "migrations",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 204), (status = 412, body = Problem)))]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<StatusCode> {
    state
        .butler()
        .migrations()
        .delete_group(&caller.actor, GroupId(id), v)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The clone's name (none: the suggested "(return)" name).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneName {
    /// Name of the copy.
    pub name: Option<String>,
}

/// Copies a group (clusters and VMs).
#[utoipa::path(post, path = "/api/groups/{id}/clone", tag = "migrations", request_body = CloneName,
    params(("id" = u64, Path)),
    responses((status = 201, body = GroupDoc), (status = 409, body = Problem)))]
pub async fn clone_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    JsonBody(body): JsonBody<CloneName>,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .clone_group(&caller.actor, GroupId(id), body.name.as_deref())
        .await?;
    Ok(group_response(CREATED, &g))
}

/// Swaps source and destination.
#[utoipa::path(post, path = "/api/groups/{id}/switch", tag = "migrations",
    params(("id" = u64, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = GroupDoc), (status = 412, body = Problem)))]
pub async fn switch_group(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    IfMatch(v): IfMatch,
) -> ApiResult<Response> {
    let g = state
        .butler()
        .migrations()
        .switch(&caller.actor, GroupId(id), v)
        .await?;
    Ok(group_response(StatusCode::OK, &g))
}

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
    let g = state
        .butler()
        .migrations()
        .add_vm(&caller.actor, GroupId(id), v, &body.name)
        .await?;
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
    let g = state
        .butler()
        .migrations()
        .remove_vm(&caller.actor, GroupId(id), v, &vm)
        .await?;
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
    let g = state
        .butler()
        .migrations()
        .select(&caller.actor, GroupId(id), v, &vm, body.selected)
        .await?;
    Ok(group_response(StatusCode::OK, &g))
}

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
    /// powered_on, protection_domain, schedules, last_replica.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<VmFactsRow>,
}

/// Paging of facts rows.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RowArgs {
    /// Rows to skip.
    #[serde(default)]
    pub offset: usize,
    /// Rows (default 100, at most 10,000).
    pub limit: Option<usize>,
}

fn facts_view(
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

fn validated(report: ValidationReport) -> Validated {
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

/// The validation token to migrate by.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateBody {
    /// As returned by a validation.
    pub token: String,
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
/// moves.
#[utoipa::path(post, path = "/api/runs", tag = "migrations", request_body = MigrateBody,
    responses((status = 202, body = Started), (status = 409, description = "Validation required", body = Problem)))]
pub async fn migrate(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<MigrateBody>,
) -> ApiResult<Response> {
    let m = state.butler().migrations();
    let token = m.parse_token(&body.token).await?;
    let handle = m.migrate(&caller.actor, &token).await?;
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
pub struct ResumeArgs {
    /// The id of the last event received.
    pub last_event_id: Option<usize>,
}

/// The run's progress as server-sent events: `progress` events (JSON of
/// one migration event; ids count from 1) and one `end` event once the
/// run is over and its report stored. Reconnect with `Last-Event-ID` to
/// get exactly the events after it.
#[utoipa::path(get, path = "/api/runs/{run}/events", tag = "migrations",
    params(("run" = u64, Path), ResumeArgs),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 404, body = Problem)))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(run): PathArgs<u64>,
    QueryArgs(args): QueryArgs<ResumeArgs>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Reading the report checks the caller may see migrations at all.
    let report = state
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
    let log = state.runs().get(RunId(run));
    if log.is_none() && report.ended.is_none() {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "run_not_followed",
            "this run was not started by this server process (or it restarted); read its report",
        ));
    }
    let watch = log.as_ref().map(|l| l.watch());
    let stream = stream::unfold(
        (log, watch, from, false),
        move |(log, mut watch, next, ended)| async move {
            if ended {
                return None;
            }
            let Some(l) = log.clone() else {
                // A finished run this process does not follow: only the end.
                let e = Event::default().event("end").data(run.to_string());
                return Some((vec![Ok(e)], (None, None, next, true)));
            };
            loop {
                let (batch, done) = l.since(next);
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
                    let e = Event::default().event("end").data(run.to_string());
                    return Some((vec![Ok(e)], (log, watch, next, true)));
                }
                match watch.as_mut() {
                    Some(w) => {
                        if w.changed().await.is_err() {
                            // The run's log is gone: the run is over.
                            let (batch, _) = l.since(next);
                            if batch.is_empty() {
                                let e = Event::default().event("end").data(run.to_string());
                                return Some((vec![Ok(e)], (log, watch, next, true)));
                            }
                        }
                    }
                    None => return None,
                }
            }
        },
    )
    .flat_map(stream::iter);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn progress_event(id: usize, e: &Arc<butler::migration::MigrationEvent>) -> Event {
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

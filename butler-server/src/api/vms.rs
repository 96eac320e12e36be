//! The inventory (SPEC §12): the VMs Butler made or adopted, their power,
//! adoption and the reconcile with the platform.

use super::{RequestDoc, SpecDoc, VmDoc};
use crate::extract::{Caller, JsonBody, PathArgs, QueryArgs};
use crate::problem::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use butler::backend::PowerChange;
use butler::inventory::{Lifecycle, PowerRequest, ReconcileSummary, VmId, VmQuery, VmRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Filters and a page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VmListArgs {
    /// Only this owner's (Requesters only ever see their own).
    pub owner: Option<String>,
    /// Only on this cluster.
    pub cluster: Option<String>,
    /// Lifecycles, comma-separated (`active,retiring`); none: all.
    #[param(pattern = r"^((active|retiring|retired)(,(active|retiring|retired))*)?$")]
    pub lifecycle: Option<String>,
    /// Only this cost center.
    pub cost_center: Option<String>,
    /// Only VMs a reconcile found changed outside Butler.
    #[serde(default)]
    pub drifted: bool,
    /// Only VMs whose lease ends on or before this day (`2027-01-31`).
    #[param(value_type = Option<String>, format = Date)]
    pub lease_ends_by: Option<chrono::NaiveDate>,
    /// Only VMs numbered below this one (the next page after the last id
    /// of one, at the same cost however deep).
    #[param(maximum = 9223372036854775807_i64)]
    pub before: Option<u64>,
    /// Rows to skip.
    #[serde(default)]
    #[param(maximum = 9223372036854775807_i64)]
    pub offset: usize,
    /// Rows per page, 1 to 10,000 (default 50).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

impl VmListArgs {
    fn query(&self) -> Result<VmQuery, Problem> {
        let mut lifecycles = Vec::new();
        for name in self
            .lifecycle
            .iter()
            .filter(|s| !s.is_empty())
            .flat_map(|s| s.split(','))
        {
            lifecycles.push(
                Lifecycle::from_name(name)
                    .ok_or_else(|| Problem::bad_request(format!("unknown lifecycle {name:?}")))?,
            );
        }
        Ok(VmQuery {
            owner: self.owner.clone(),
            cluster: self.cluster.clone(),
            lifecycles,
            cost_center: self.cost_center.clone(),
            drifted: self.drifted,
            lease_ends_by: self.lease_ends_by,
            notices_pending: false,
            before: self
                .before
                .map(|b| {
                    i64::try_from(b).map(|_| VmId(b)).map_err(|_| {
                        Problem::bad_request(format!("before must be at most {}", i64::MAX))
                    })
                })
                .transpose()?,
            after: None,
            offset: super::requests::page_offset(self.offset)?,
            limit: Some(super::requests::page_limit(self.limit)?),
        })
    }
}

/// One page of VMs.
#[derive(Serialize, ToSchema)]
pub struct VmPage {
    /// The rows.
    #[schema(value_type = Vec<VmDoc>)]
    pub items: Vec<VmRecord>,
    /// Rows matching the filters over all pages.
    pub total: usize,
    /// Rows of this page left out because they could not be read.
    pub skipped: usize,
    /// The offset asked.
    pub offset: usize,
}

/// Lists the VMs the caller may see, newest first.
#[utoipa::path(get, path = "/api/vms", tag = "vms", params(VmListArgs),
    responses((status = 200, body = VmPage), (status = 400, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(args): QueryArgs<VmListArgs>,
) -> ApiResult<Json<VmPage>> {
    let q = args.query()?;
    let page = state.butler().vms().list(&caller.actor, &q).await?;
    Ok(Json(VmPage {
        items: page.items,
        total: page.total,
        skipped: page.skipped,
        offset: q.offset,
    }))
}

/// One VM, with its history.
#[utoipa::path(get, path = "/api/vms/{id}", tag = "vms", params(("id" = u64, Path)),
    responses((status = 200, body = VmDoc), (status = 404, body = Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<VmRecord>> {
    Ok(Json(
        state.butler().vms().get(&caller.actor, VmId(id)).await?,
    ))
}

/// A power change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerBody {
    /// `on`, `guest_shutdown`, `hard_off` or `guest_restart`.
    #[schema(value_type = String)]
    pub change: PowerChange,
    /// For `guest_shutdown`: power off hard when the guest has not shut
    /// down in time.
    #[serde(default)]
    pub force_after_deadline: bool,
}

/// How a power change ended.
#[derive(Serialize, ToSchema)]
pub struct PowerAnswer {
    /// `done`, `already`, `forced_off` or `still_on`.
    pub outcome: &'static str,
    /// The VM's power now (`on`, `off`, `unknown`).
    pub power: &'static str,
}

/// Powers a VM on or off, or restarts it: its owner, an Operator or an Admin.
#[utoipa::path(post, path = "/api/vms/{id}/power", tag = "vms", params(("id" = u64, Path)),
    request_body = PowerBody,
    responses((status = 200, body = PowerAnswer), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn power(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    JsonBody(body): JsonBody<PowerBody>,
) -> ApiResult<Json<PowerAnswer>> {
    let req = PowerRequest {
        change: body.change,
        force_after_deadline: body.force_after_deadline,
    };
    let out = state
        .butler()
        .vms()
        .power(&caller.actor, VmId(id), req)
        .await?;
    Ok(Json(PowerAnswer {
        outcome: out.as_str(),
        power: out.power().as_str(),
    }))
}

/// A VM to adopt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptBody {
    /// Its name on the platform.
    pub name: String,
    /// Who owns it from now on.
    pub owner: String,
    /// The cost center it is billed to.
    pub cost_center: String,
}

/// Adopts a VM that predates Butler into the inventory (Admin).
#[utoipa::path(post, path = "/api/vms/adopt", tag = "vms", request_body = AdoptBody,
    responses((status = 201, body = VmDoc), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn adopt(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<AdoptBody>,
) -> ApiResult<(axum::http::StatusCode, Json<VmRecord>)> {
    let r = state
        .butler()
        .vms()
        .adopt(&caller.actor, &body.name, &body.owner, &body.cost_center)
        .await?;
    Ok((super::CREATED, Json(r)))
}

/// What a reconcile saw.
#[derive(Serialize, ToSchema)]
pub struct ReconcileAnswer {
    /// Records compared with the platform.
    pub checked: usize,
    /// Records whose drift flags changed.
    pub changed: usize,
    /// Records now flagged.
    pub drifted: usize,
}

impl From<ReconcileSummary> for ReconcileAnswer {
    fn from(s: ReconcileSummary) -> Self {
        ReconcileAnswer {
            checked: s.checked,
            changed: s.changed,
            drifted: s.drifted,
        }
    }
}

/// Compares the inventory with the platform now (Operator or Admin).
#[utoipa::path(post, path = "/api/vms/reconcile", tag = "vms",
    responses((status = 200, body = ReconcileAnswer), (status = 403, body = Problem)))]
pub async fn reconcile(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ReconcileAnswer>> {
    let s = state.butler().vms().reconcile(&caller.actor).await?;
    Ok(Json(s.into()))
}

/// Asks to retire a VM: a decommission request, submitted at once for an
/// approver (the VM's owner, or an Admin for any VM). Once approved, the
/// engine powers the VM off, takes it out of protection, deregisters it
/// from monitoring, stops billing, deletes it and records it retired.
#[utoipa::path(post, path = "/api/vms/{id}/retire", tag = "vms", params(("id" = u64, Path)),
    responses(
        (status = 201, description = "The decommission request; ETag and Location set", body = RequestDoc),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn retire(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<axum::response::Response> {
    let r = state
        .butler()
        .requests()
        .decommission(&caller.actor, VmId(id))
        .await?;
    Ok(super::requests::with_etag(super::CREATED, &r))
}

/// Brings back a VM its retirement keeps powered off for the deployment's
/// grace period (`[inventory] retirement_grace_days`): a restore request
/// (the VM's owner, or an Admin), approved by Butler at once. The engine
/// powers the VM on, protects it, registers it with monitoring, bills it
/// again and records it active. Refused (422) once the period is over or
/// Butler has asked the deletion.
#[utoipa::path(post, path = "/api/vms/{id}/restore", tag = "vms", params(("id" = u64, Path)),
    responses(
        (status = 201, description = "The restore request; ETag and Location set", body = RequestDoc),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<axum::response::Response> {
    let r = state
        .butler()
        .requests()
        .restore(&caller.actor, VmId(id))
        .await?;
    Ok(super::requests::with_etag(super::CREATED, &r))
}

/// A change of a VM.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconfigureBody {
    /// The VM's spec as approved, with the new CPU, RAM, disks and NICs.
    #[schema(value_type = SpecDoc)]
    pub spec: butler::vm_spec::VmSpec,
    /// The flow may power the VM off (and on again) when the change needs it.
    #[serde(default)]
    pub accept_downtime: bool,
}

/// Asks to change a VM's CPU, RAM, disks and NICs: a reconfigure request,
/// submitted at once for an approver (the VM's owner, or an Admin). Every
/// problem of the spec and of the change comes back at once; the request's
/// first history entry holds the fields changed and the monthly cost before
/// and after.
#[utoipa::path(post, path = "/api/vms/{id}/reconfigure", tag = "vms", params(("id" = u64, Path)),
    request_body = ReconfigureBody,
    responses(
        (status = 201, description = "The reconfigure request; ETag and Location set", body = RequestDoc),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn reconfigure(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    JsonBody(body): JsonBody<ReconfigureBody>,
) -> ApiResult<axum::response::Response> {
    let r = state
        .butler()
        .requests()
        .reconfigure(&caller.actor, VmId(id), body.spec, body.accept_downtime)
        .await?;
    Ok(super::requests::with_etag(super::CREATED, &r))
}

/// A lease extension.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// The lease's new end (`2027-06-30`): later than the current one, and
    /// within the environment's longest lease from today.
    #[schema(value_type = String, format = Date)]
    pub until: chrono::NaiveDate,
}

/// Asks to extend a VM's lease: a lease extension request, submitted at
/// once for an approver (the VM's owner, or an Admin). Once approved the
/// engine records the new end and the lease notices start afresh.
#[utoipa::path(post, path = "/api/vms/{id}/extend", tag = "vms", params(("id" = u64, Path)),
    request_body = ExtendBody,
    responses(
        (status = 201, description = "The lease extension request; ETag and Location set", body = RequestDoc),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn extend(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    JsonBody(body): JsonBody<ExtendBody>,
) -> ApiResult<axum::response::Response> {
    let r = state
        .butler()
        .requests()
        .extend_lease(&caller.actor, VmId(id), body.until)
        .await?;
    Ok(super::requests::with_etag(super::CREATED, &r))
}

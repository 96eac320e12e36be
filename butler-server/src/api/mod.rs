//! The routes. Each handler carries its `#[utoipa::path]`; the router is
//! built from those annotations ([`utoipa_axum::routes!`]), so the OpenAPI
//! document at `/openapi.json` and the routes served are one list.

pub mod auth;
pub mod catalog;
pub mod migrations;
pub mod notifications;
pub mod requests;
pub mod rules;
pub mod showback;
mod truth;
pub mod users;
pub mod vms;

use crate::problem::Problem;
use crate::AppState;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use std::sync::Arc;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Butler",
        description = "VM provisioning requests and cluster migrations. Errors are application/problem+json (RFC 9457) with Butler's stable `code`; writes need If-Match with the ETag read; cookie sessions send X-CSRF-Token on writes."
    ),
    components(schemas(Problem)),
    tags(
        (name = "session", description = "Login, logout and the caller"),
        (name = "requests", description = "VM requests and their workflow"),
        (name = "migrations", description = "Migration groups, validation and runs"),
        (name = "vms", description = "The inventory: VMs Butler made or adopted, their power"),
        (name = "users", description = "Stored users (Admin)"),
        (name = "catalog", description = "Catalog and rate cards"),
        (name = "rules", description = "Approval rules: the book in force, its versions, and what it decides for a draft"),
        (name = "notifications", description = "Failed notification deliveries (Admin)"),
        (name = "showback", description = "What the VMs actually cost, month by month, beside their estimates; closed months"),
    )
)]
struct ApiDoc;

/// Domain objects documented as JSON objects: their fields are the
/// library's serde forms, described in its rustdoc.
macro_rules! described_object {
    ($(#[$doc:meta] $name:ident = $desc:expr;)*) => {$(
        #[$doc]
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new().description(Some($desc)).into()
            }
        }
        impl utoipa::ToSchema for $name {}
    )*};
}

described_object! {
    /// A VM spec.
    SpecDoc = "A VM spec (SPEC §2): name, cores_per_socket, sockets, ram_gib, division, unit, environment, disk_type, cluster, disks_gib, nics, image, backup_local, backup_remote, cdrom, special_requirement, lease_days (optional: days leased from the day it is built; where the environment caps leases, the cap when absent)";
    /// A request.
    RequestDoc = "A request: id, owner, approver, state, spec, derived, estimate, progress, failure, vm_uuid, kind (absent for a new VM; {\"decommission\": {vm, name, platform_id, cluster}} to retire one; {\"reconfigure\": {target, accept_downtime}} to change one; {\"extend_lease\": {target, until}} to extend its lease; {\"delete_after_grace\": {vm, name, platform_id, cluster}} for the deletion Butler asks once a retirement's grace period is over; {\"restore\": {vm, name, platform_id, cluster}} to bring back a VM kept in that period), version, created_at, updated_at, history, approval (present when the approval rules demand levels: levels [{role, users}], approved_by (who approved each level passed, in order), restart_on_edit)";
    /// An estimate.
    EstimateDoc = "A monthly estimate with its lines (rate card, quantity, unit price, amount) and total";
    /// A migration group.
    GroupDoc = "A migration group: id, name, source, destination, vms (name, selected), power_off (present and true when Butler powers the selected VMs that run off before migrating them and on again at the destination), live (present and true when the selected VMs that run move while they run, where the platform makes live moves), version, updated_by, updated_at";
    /// A validation.
    ValidationDoc = "A validation: errors, warnings, infos, findings (severity, code, vm, message), only, already_moved, token";
    /// A migration report.
    ReportDoc = "A migration report: id, group, source, destination, started_by, started, ended, cancelled, interrupted, planned, power_cycle (the VMs Butler powers off and on again), vms (per-VM outcome, attempts and notes in English, with said: the same notes as codes with their values)";
    /// Facts of a group.
    FactsDoc = "The facts held for a group: snapshot id, taken_at, age_seconds, vm count, last refresh error, and per-VM rows";
    /// The catalog.
    CatalogDoc = "The catalog: divisions, units, environments (each with its optional max_lease_days), clusters, disk types, images, limits";
    /// The rate book.
    RatesDoc = "The rate book: rate cards with their effective dates";
    /// A version of the approval rules.
    RuleBookDoc = "A version of the approval rules: version (0: no rules), rules (each name, when (kinds, divisions, units, environments, clusters, images, requesters, requester_roles as lists; vcpus, ram_gib, storage_gib, monthly_cost, lease_days as {min, max}), outcome (approve; require with levels [{role, users}] and restart_on_edit; refuse with reason)), changed_by, changed_at";
    /// What the rules decide, and why.
    ExplanationDoc = "What the rules decide and why: decision (outcome, book_version, rules: the deciding rules' names) and rules (each rule in book order: rule, position, matched, conditions (condition, value, holds))";
    /// A scope's quota and usage.
    QuotaLineDoc = "A quota scope's line: scope (kind: division, unit or requester; name), limits (vcpus, ram_gib, storage_gib, vms, monthly_cost; unset: no limit), used (the same five: what its holders hold now), with_request (for a preview: what it would hold with the request)";
    /// What a request would hold and leave.
    QuotaPreviewDoc = "What a request holds (share: vcpus, ram_gib, storage_gib, vms, monthly_cost; a reconfigure: what it adds) and lines: its division's, unit's and requester's quota lines, each with with_request";
    /// A showback report.
    ShowbackDoc = "What the VMs cost (SPEC §14): from, to (months, YYYY-MM), currency, vms (each vm, name, owner, cost_center, division, unit, request, storage_unpriced, months: month, days, days_off, actual, estimate (the request's monthly estimate; absent for adopted VMs), causes (days, resizes, rate_cards, powered_off, other: adding up to actual − estimate)), by_month, by_cost_center, by_division, by_unit (each month, key, vms, actual, estimate), actual, estimate, unpriced (vm, name, reason). Amounts are exact decimals as strings";
    /// A closed showback month.
    ClosedMonthDoc = "A closed showback month: month, closed_by, closed_at, currency, vms, actual, estimate, unpriced (vm, name, reason)";
    /// A month's showback beside what billing charged.
    BillingComparisonDoc = "A month's showback beside what the billing system charged: month, currency, tolerance, lines (vm_name, butler (Butler's figure; absent: billed but not priced), billed (absent: not billed), difference (billed − butler), flagged), butler, billed (totals), flagged (how many lines)";
    /// A page of a month's showback lines.
    ShowbackPageDoc = "A page of one month's showback lines: month, closed (the closed month, or absent while open; its totals are zero for callers who see their own VMs only), currency, lines (as a report's vms, by VM number), next (the after of the next page; absent on the last)";
    /// A VM of the inventory.
    VmDoc = "A VM of the inventory: id, version, name, display_name, request, owner, division, unit, environment, cost_center, cluster, spec (vcpus, ram_gib, disks_gib, nics, image), platform_id, power, lease_end, lifecycle (active, retiring, retired), drift, created_at, history (each line: at, actor, what in English, and said: the same as a code with its values, for a client to word in its language), last_change, lease_notices (per notifier, the fewest days left announced), lease_retirement (the decommission Butler asked at lease end), kept_until (while its retirement keeps it powered off, restorable, before the deletion), deletion (the deletion Butler asked after that), restore (the restore asked), restores (how many times it was restored)";
}

/// The router with every route, the OpenAPI document, `/healthz`, the
/// body limit and the timeout.
pub fn router(state: AppState) -> axum::Router {
    let (router, mut doc) = api_router().split_for_parts();
    truth::make_true(&mut doc);
    let doc = Arc::new(doc);
    let settings = state.settings().clone();
    router
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json((*doc).clone()) }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::console::router())
        .fallback(|| async { Problem::not_found("no such route") })
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        // Outermost, so the limit's and the timeout's answers pass through it.
        .layer(axum::middleware::map_response(as_problem))
        .layer(axum::middleware::map_response(harden))
        .with_state(state)
}

/// Every answer: `X-Content-Type-Options: nosniff` (a browser never
/// guesses a type other than the one sent), and `Cache-Control: no-store`
/// unless the answer chose its own caching (the console's static assets):
/// answers carry personal data, which no shared cache may keep.
async fn harden(mut res: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Answers made below the handlers (body limit, timeout, wrong method)
/// become problem documents too, so every error a client sees has one
/// shape.
async fn as_problem(res: axum::response::Response) -> axum::response::Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let ct = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Problem documents and the console's own error pages stay as they are.
    if ct.starts_with("application/problem+json") || ct.starts_with("text/html") {
        return res;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let detail = status.canonical_reason().unwrap_or("error").to_string();
    axum::response::IntoResponse::into_response(Problem::new(status, code, detail))
}

/// The API routes with their documentation (also used by the tests that
/// check the document against the router).
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::list_tokens, auth::create_token))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(requests::list, requests::create))
        .routes(routes!(requests::estimate))
        .routes(routes!(rules::draft_decision))
        .routes(routes!(rules::decision))
        .routes(routes!(rules::queue))
        .routes(routes!(rules::quota_preview))
        .routes(routes!(rules::draft_quota_preview))
        .routes(routes!(requests::export_xlsx))
        .routes(routes!(requests::get_one, requests::save))
        .routes(routes!(requests::submit))
        .routes(routes!(requests::review))
        .routes(routes!(requests::approve))
        .routes(routes!(requests::reject))
        .routes(routes!(requests::cancel))
        .routes(routes!(requests::retry))
        .routes(routes!(migrations::find_groups, migrations::create_group))
        .routes(routes!(
            migrations::get_group,
            migrations::edit_group,
            migrations::delete_group
        ))
        .routes(routes!(migrations::clone_group))
        .routes(routes!(migrations::switch_group))
        .routes(routes!(migrations::add_vm))
        .routes(routes!(migrations::remove_vm))
        .routes(routes!(migrations::select_vm))
        .routes(routes!(migrations::refresh))
        .routes(routes!(migrations::facts))
        .routes(routes!(migrations::validate))
        .routes(routes!(migrations::reports))
        .routes(routes!(migrations::migrate))
        .routes(routes!(migrations::report))
        .routes(routes!(migrations::events))
        .routes(routes!(migrations::cancel_run))
        .routes(routes!(migrations::validate_failed))
        .routes(routes!(users::list, users::add))
        .routes(routes!(users::update, users::remove))
        .routes(routes!(catalog::get_catalog, catalog::put_catalog))
        .routes(routes!(catalog::get_rates, catalog::put_rates))
        .routes(routes!(rules::get_rules, rules::put_rules))
        .routes(routes!(rules::history))
        .routes(routes!(rules::quotas))
        .routes(routes!(rules::recount_quotas))
        .routes(routes!(notifications::failed))
        .routes(routes!(vms::list))
        .routes(routes!(vms::adopt))
        .routes(routes!(vms::reconcile))
        .routes(routes!(vms::get_one))
        .routes(routes!(vms::power))
        .routes(routes!(vms::retire))
        .routes(routes!(vms::restore))
        .routes(routes!(vms::reconfigure))
        .routes(routes!(vms::extend))
        .routes(routes!(showback::report))
        .routes(routes!(showback::report_csv))
        .routes(routes!(showback::report_xlsx))
        .routes(routes!(showback::closed_months))
        .routes(routes!(showback::close))
        .routes(routes!(showback::lines))
        .routes(routes!(showback::billed))
}

/// `201 Created`.
pub(crate) const CREATED: StatusCode = StatusCode::CREATED;

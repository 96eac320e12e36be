//! The inventory in the console: the VMs the user may see, with their
//! power and drift, and a form per power change; a VM's own page with its
//! history and the forms that ask to change or retire it (SPEC §12).

use super::{render, Chrome, Form, Viewer};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use butler::backend::{PowerChange, PowerState};
use butler::inventory::{PowerOutcome, PowerRequest, VmId, VmQuery};

struct VmRow {
    id: u64,
    name: String,
    display_name: String,
    owner: String,
    cluster: String,
    power: String,
    drift: String,
}

#[derive(Template)]
#[template(path = "vms.html")]
struct VmsPage {
    c: Chrome,
    vms: Vec<VmRow>,
    total: usize,
    changes: Vec<(&'static str, String)>,
    notice: String,
}

/// The reconfigure form, filled with the VM's spec as approved.
struct ChangeForm {
    cores_per_socket: u32,
    sockets: u32,
    ram_gib: u32,
    disks: String,
    nics: String,
}

#[derive(Template)]
#[template(path = "vm.html")]
struct VmPage {
    c: Chrome,
    vm: VmRow,
    cost_center: String,
    lifecycle: String,
    lease_end: Option<chrono::NaiveDate>,
    /// While its retirement keeps it powered off, restorable.
    kept_until: Option<String>,
    vcpus: u32,
    ram_gib: u32,
    disks: String,
    nics: String,
    active: bool,
    changes: Vec<(&'static str, String)>,
    form: Option<ChangeForm>,
    history: Vec<(String, String, String)>,
    notice: String,
}

fn joined<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a reconcile found different, in the page's language.
fn drift_text(c: &Chrome, drift: &[butler::inventory::Drift]) -> String {
    let lines: Vec<_> = drift.iter().map(butler::inventory::Drift::said).collect();
    c.said_all(&lines, "; ")
}

fn power_changes(c: &Chrome) -> Vec<(&'static str, String)> {
    [
        ("on", "power_on"),
        ("guest_shutdown", "power_off"),
        ("guest_restart", "restart"),
    ]
    .into_iter()
    .map(|(change, k)| (change, c.t(k).to_string()))
    .collect()
}

/// The VM's spec as approved (the request that made or last changed
/// it), when the viewer may read that request.
async fn approved_spec(
    state: &AppState,
    v: &Viewer,
    rec: &butler::inventory::VmRecord,
) -> Option<butler::vm_spec::VmSpec> {
    let id = rec.last_change.or(rec.request)?;
    let r = state.butler().requests().get(&v.actor, id).await.ok()?;
    Some(r.spec.spec().clone())
}

async fn vm_page(state: &AppState, v: Viewer, id: u64, notice: String) -> Response {
    let rec = match state.butler().vms().get(&v.actor, VmId(id)).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let active = rec.lifecycle == butler::inventory::Lifecycle::Active;
    let form = match active {
        true => approved_spec(state, &v, &rec).await.map(|s| ChangeForm {
            cores_per_socket: s.cores_per_socket,
            sockets: s.sockets,
            ram_gib: s.ram_gib,
            disks: super::requests::disks_text(&s),
            nics: joined(&s.nics),
        }),
        false => None,
    };
    let page = VmPage {
        vm: VmRow {
            id: rec.id.0,
            name: rec.name.clone(),
            display_name: rec.display_name.clone(),
            owner: rec.owner.clone(),
            cluster: rec.cluster.clone(),
            power: v.chrome.t(power_key(rec.power)).to_string(),
            drift: drift_text(&v.chrome, &rec.drift),
        },
        cost_center: rec.cost_center.clone(),
        lifecycle: v.chrome.term("lifecycle", rec.lifecycle.as_str()),
        lease_end: rec.lease_end,
        kept_until: rec
            .kept_until
            .filter(|_| rec.lifecycle == butler::inventory::Lifecycle::Retiring)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        vcpus: rec.spec.vcpus,
        ram_gib: rec.spec.ram_gib,
        disks: joined(&rec.spec.disks_gib),
        nics: joined(&rec.spec.nics),
        active,
        changes: power_changes(&v.chrome),
        form,
        history: rec
            .history
            .iter()
            .rev()
            .map(|h| {
                (
                    h.at.format("%Y-%m-%d %H:%M").to_string(),
                    h.actor.clone(),
                    v.chrome.said(&h.said()),
                )
            })
            .collect(),
        notice,
        c: v.chrome,
    };
    render(&page).into_response()
}

/// `GET /vms/{id}`: the VM, its history, and the forms of what may be
/// asked of it.
pub(super) async fn one(State(state): State<AppState>, v: Viewer, Path(id): Path<u64>) -> Response {
    vm_page(&state, v, id, String::new()).await
}

/// `POST /vms/{id}/retire`: asks to retire the VM; on to the request.
pub(super) async fn retire(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let asked = state
        .butler()
        .requests()
        .decommission(&v.actor, VmId(id))
        .await;
    on_to_request(v, asked)
}

/// `POST /vms/{id}/restore`: brings back a VM kept powered off in its
/// retirement's grace period (approved by Butler); on to the request.
pub(super) async fn restore(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let asked = state.butler().requests().restore(&v.actor, VmId(id)).await;
    on_to_request(v, asked)
}

/// `POST /vms/{id}/extend`: asks to extend the VM's lease to the date
/// given (`until`, as a date field sends it); on to the request.
pub(super) async fn extend(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let Ok(until) = form.one("until").trim().parse::<chrono::NaiveDate>() else {
        return v.error_page(
            StatusCode::BAD_REQUEST,
            "problems",
            "until: a date (2027-06-30)",
        );
    };
    let asked = state
        .butler()
        .requests()
        .extend_lease(&v.actor, VmId(id), until)
        .await;
    on_to_request(v, asked)
}

/// `POST /vms/{id}/reconfigure`: asks to change the VM's CPU, RAM, disks
/// (comma-separated GiB) and NICs (comma-separated VLANs); on to the
/// request. Every problem of the change comes back at once.
pub(super) async fn reconfigure(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let rec = match state.butler().vms().get(&v.actor, VmId(id)).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    let Some(mut spec) = approved_spec(&state, &v, &rec).await else {
        return v.error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "problems",
            "this VM has no request to change (adopted): use the API",
        );
    };
    let mut errors = std::collections::BTreeMap::new();
    let (cores, sockets, ram, disks) = super::requests::resources_from(&form, &mut errors);
    if !errors.is_empty() {
        let named: Vec<String> = errors
            .iter()
            .map(|(field, why)| format!("{field}: {}", why.join("; ")))
            .collect();
        return v.error_page(StatusCode::BAD_REQUEST, "problems", &named.join("; "));
    }
    (spec.cores_per_socket, spec.sockets, spec.ram_gib) = (cores, sockets, ram);
    spec.disks_gib = disks;
    spec.nics = form
        .one("nics")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    let downtime = form.checked("accept_downtime");
    let asked = state
        .butler()
        .requests()
        .reconfigure(&v.actor, VmId(id), spec, downtime)
        .await;
    on_to_request(v, asked)
}

/// On to the request a form asked for, or the reason it was not made.
fn on_to_request(
    v: Viewer,
    asked: Result<butler::request::Request, butler::ButlerError>,
) -> Response {
    match asked {
        Ok(r) => Redirect::to(&format!("/requests/{}", r.id.0)).into_response(),
        Err(e) => v.butler_error(e),
    }
}

fn power_key(p: PowerState) -> &'static str {
    match p {
        PowerState::On => "power_on_state",
        PowerState::Off => "power_off_state",
        PowerState::Unknown => "power_unknown_state",
    }
}

async fn page(state: &AppState, v: Viewer, notice: String, status: StatusCode) -> Response {
    let q = VmQuery {
        limit: Some(200),
        ..VmQuery::default()
    };
    match state.butler().vms().list(&v.actor, &q).await {
        Ok(p) => {
            let page = VmsPage {
                vms: p
                    .items
                    .into_iter()
                    .map(|r| VmRow {
                        id: r.id.0,
                        power: v.chrome.t(power_key(r.power)).to_string(),
                        drift: drift_text(&v.chrome, &r.drift),
                        name: r.name,
                        display_name: r.display_name,
                        owner: r.owner,
                        cluster: r.cluster,
                    })
                    .collect(),
                total: p.total,
                changes: power_changes(&v.chrome),
                notice,
                c: v.chrome,
            };
            (status, render(&page)).into_response()
        }
        Err(e) => v.butler_error(e),
    }
}

/// `GET /vms`.
pub(super) async fn list(State(state): State<AppState>, v: Viewer) -> Response {
    page(&state, v, String::new(), StatusCode::OK).await
}

/// `POST /vms/{id}/power`: `change` is `on`, `guest_shutdown` (powered
/// off hard if the guest has not stopped in time) or `guest_restart`.
pub(super) async fn power(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let change = match form.one("change") {
        "on" => PowerChange::On,
        "guest_shutdown" => PowerChange::GuestShutdown,
        "guest_restart" => PowerChange::GuestRestart,
        other => {
            return v.error_page(
                StatusCode::BAD_REQUEST,
                "problems",
                &format!("no power change {other:?}"),
            )
        }
    };
    let req = PowerRequest {
        change,
        force_after_deadline: true,
    };
    match state.butler().vms().power(&v.actor, VmId(id), req).await {
        Ok(out) => {
            let key = match out {
                PowerOutcome::Already(_) => "power_already",
                _ => "power_done",
            };
            let notice = v.chrome.t(key).to_string();
            if form.one("back") == "vm" {
                return vm_page(&state, v, id, notice).await;
            }
            page(&state, v, notice, StatusCode::OK).await
        }
        Err(e) => v.butler_error(e),
    }
}

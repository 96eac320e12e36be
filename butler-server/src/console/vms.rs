//! The inventory in the console: the VMs the user may see, with their
//! power and drift, and a form per power change (SPEC §12).

use super::{render, Chrome, Form, Viewer};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
                        drift: r
                            .drift
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "),
                        name: r.name,
                        display_name: r.display_name,
                        owner: r.owner,
                        cluster: r.cluster,
                    })
                    .collect(),
                total: p.total,
                changes: [
                    ("on", "power_on"),
                    ("guest_shutdown", "power_off"),
                    ("guest_restart", "restart"),
                ]
                .into_iter()
                .map(|(c, k)| (c, v.chrome.t(k).to_string()))
                .collect(),
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
            page(&state, v, notice, StatusCode::OK).await
        }
        Err(e) => v.butler_error(e),
    }
}

//! Users and roles (Admin).

use super::{render, Chrome, Form, Viewer};
use crate::api::users::parse_roles;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use butler::auth::Role;

struct UserRow {
    name: String,
    roles: Vec<&'static str>,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<UserRow>,
    all_roles: Vec<&'static str>,
    error: String,
}

impl UsersPage {
    fn has_role(&self, u: &UserRow, role: &str) -> bool {
        u.roles.contains(&role)
    }
}

async fn page(state: &AppState, v: Viewer, error: String) -> Response {
    match state.butler().users().list(&v.actor).await {
        Ok(users) => {
            let status = if error.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = UsersPage {
                c: v.chrome,
                users: users
                    .into_iter()
                    .map(|u| UserRow {
                        roles: u.roles.iter().map(Role::as_str).collect(),
                        name: u.name,
                        disabled: u.disabled,
                    })
                    .collect(),
                all_roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
                error,
            };
            (status, render(&page)).into_response()
        }
        Err(e) => v.butler_error(e),
    }
}

pub(super) async fn users(State(state): State<AppState>, v: Viewer) -> Response {
    page(&state, v, String::new()).await
}

pub(super) async fn add_user(State(state): State<AppState>, v: Viewer, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let roles = match parse_roles(&form.all("roles")) {
        Ok(r) => r,
        Err(p) => return page(&state, v, p.detail).await,
    };
    match state
        .butler()
        .users()
        .add(&v.actor, form.one("name"), roles, form.one("password"))
        .await
    {
        Ok(_) => Redirect::to("/admin/users").into_response(),
        Err(e) => {
            let msg = e.to_string();
            page(&state, v, msg).await
        }
    }
}

pub(super) async fn change_user(
    State(state): State<AppState>,
    v: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let users = state.butler().users();
    let result = match form.one("what") {
        "roles" => match parse_roles(&form.all("roles")) {
            Ok(r) => users.set_roles(&v.actor, &name, r).await.map(|_| ()),
            Err(p) => return page(&state, v, p.detail).await,
        },
        "disable" => {
            let r = users.set_disabled(&v.actor, &name, true).await.map(|_| ());
            if r.is_ok() {
                state.sessions().close_all_of(&name);
            }
            r
        }
        "enable" => users.set_disabled(&v.actor, &name, false).await.map(|_| ()),
        _ => return v.error_page(StatusCode::NOT_FOUND, "not_found", "action"),
    };
    match result {
        Ok(()) => Redirect::to("/admin/users").into_response(),
        Err(e) => {
            let msg = e.to_string();
            page(&state, v, msg).await
        }
    }
}

/// One rate card as listed.
struct CardRow {
    version: String,
    effective_from: String,
    currency: String,
    margin: String,
    cost_centers: usize,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    c: Chrome,
    cat: std::sync::Arc<butler::catalog::Catalog>,
    cards: Vec<CardRow>,
    message: String,
    /// How long ago the catalog was read from the platform (`None`: not
    /// since the start).
    refreshed_ago: Option<String>,
}

async fn catalog_page(
    state: &AppState,
    v: Viewer,
    message: String,
    status: StatusCode,
) -> Response {
    let rates = state.butler().requests().rate_book();
    let refreshed_ago = state.butler().requests().catalog_refreshed_at().map(|at| {
        let now = state.butler().clock().now();
        format!("{} s", (now - at).num_seconds().max(0))
    });
    let page = CatalogPage {
        refreshed_ago,
        cat: state.butler().requests().catalog(),
        cards: rates
            .cards()
            .iter()
            .map(|card| CardRow {
                version: card.version.clone(),
                effective_from: card.effective_from.to_string(),
                currency: card.currency.clone(),
                margin: card.margin.map(|m| m.to_string()).unwrap_or_default(),
                cost_centers: card.cost_centers.len(),
            })
            .collect(),
        c: v.chrome,
        message,
    };
    (status, render(&page)).into_response()
}

pub(super) async fn catalog(State(state): State<AppState>, v: Viewer) -> Response {
    catalog_page(&state, v, String::new(), StatusCode::OK).await
}

/// Replaces the catalog or the rate book from pasted TOML (Admin; the
/// library checks the role and refuses a faulty file whole).
pub(super) async fn replace_catalog(
    State(state): State<AppState>,
    v: Viewer,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let text = form.one("toml");
    let requests = state.butler().requests();
    let result = match form.one("what") {
        "catalog" => butler::catalog::Catalog::from_toml_str(text)
            .map_err(butler::ButlerError::from)
            .and_then(|c| requests.set_catalog(&v.actor, c)),
        "rates" => butler::cost::RateBook::from_toml_str(text)
            .map_err(butler::ButlerError::from)
            .and_then(|r| requests.set_rate_book(&v.actor, r)),
        _ => return v.error_page(StatusCode::NOT_FOUND, "not_found", "what"),
    };
    match result {
        Ok(()) => {
            let msg = v.chrome.t("saved").to_string();
            catalog_page(&state, v, msg, StatusCode::OK).await
        }
        Err(e @ butler::ButlerError::Denied(_)) => v.butler_error(e),
        Err(e) => catalog_page(&state, v, e.to_string(), StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

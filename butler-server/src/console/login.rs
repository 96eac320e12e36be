//! Login, logout and "my account".

use super::{render, Chrome, Form, Viewer, LANG_COOKIE};
use crate::api::auth::{check_login, client_address, session_cookie};
use crate::extract::{cookie, SESSION_COOKIE};
use crate::session::SessionKind;
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    user: String,
    error: Option<&'static str>,
}

fn anonymous(headers: &HeaderMap) -> Chrome {
    Chrome {
        lang: cookie(headers, LANG_COOKIE)
            .map(super::i18n::Lang::parse)
            .unwrap_or(super::i18n::Lang::Es),
        user: None,
        roles: Vec::new(),
        csrf: String::new(),
        path: "/login".into(),
    }
}

pub(super) async fn page(headers: HeaderMap) -> Response {
    render(&LoginPage {
        c: anonymous(&headers),
        user: String::new(),
        error: None,
    })
}

pub(super) async fn submit(
    State(state): State<AppState>,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let user = form.one("user").to_string();
    let password = SecretString::from(form.one("password").to_string());
    let address = client_address(&state, &headers, peer);
    let c = anonymous(&headers);
    match check_login(&state, &user, password.expose_secret(), &address).await {
        Ok((actor, roles)) => {
            if let Some(old) = cookie(&headers, SESSION_COOKIE) {
                state.sessions().close(old);
            }
            let now = state.butler().clock().now();
            let (token, _) =
                state
                    .sessions()
                    .open_with(actor.name(), SessionKind::Cookie, now, roles);
            let idle = state.sessions().idle().num_seconds();
            let mut res = Redirect::to("/requests").into_response();
            res.headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&state, &token, idle));
            res
        }
        Err(p) => {
            let key = if p.status == 429 {
                "too_many"
            } else {
                "bad_login"
            };
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNAUTHORIZED);
            let page = LoginPage {
                error: Some(c.t(key)),
                c,
                user,
            };
            (status, render(&page)).into_response()
        }
    }
}

pub(super) async fn logout(
    State(state): State<AppState>,
    v: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = v.check_csrf(&Form::parse(&body)) {
        return r;
    }
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        state.sessions().close(t);
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    res
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    c: Chrome,
    message: Option<String>,
}

pub(super) async fn account(v: Viewer) -> Response {
    render(&AccountPage {
        c: v.chrome,
        message: None,
    })
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    v: Viewer,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    match state
        .butler()
        .users()
        .change_password(v.actor.name(), form.one("current"), form.one("new"))
        .await
    {
        Ok(()) => {
            state.sessions().close_all_of(v.actor.name());
            Redirect::to("/login").into_response()
        }
        Err(e) => {
            let msg = e.to_string();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&AccountPage {
                    c: v.chrome,
                    message: Some(msg),
                }),
            )
                .into_response()
        }
    }
}

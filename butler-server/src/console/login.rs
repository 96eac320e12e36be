//! Login, logout and "my account".

use super::{render, Chrome, Form, Viewer};
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
    error: Option<String>,
}

fn anonymous(headers: &HeaderMap) -> Chrome {
    Chrome {
        lang: super::i18n::Lang::of(headers),
        user: None,
        roles: Vec::new(),
        csrf: String::new(),
        path: "/login".into(),
    }
}

/// The cookie holding the login form's token: a form posted from another
/// site carries neither (the cookie is `SameSite=Strict`), so nobody can
/// sign a victim's browser into the attacker's account (login CSRF).
const LOGIN_FORM_COOKIE: &str = "butler_login_form";

/// The login page with `error`, and a fresh form token in the page and in
/// its cookie.
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    user: String,
    error: Option<String>,
) -> Response {
    let token = crate::session::random_token();
    let mut c = anonymous(headers);
    c.csrf = token.clone();
    let page = LoginPage { c, user, error };
    let mut res = (status, render(&page)).into_response();
    let secure = if state.settings().cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{LOGIN_FORM_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    );
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_page(&state, &headers, StatusCode::OK, String::new(), None)
}

pub(super) async fn submit(
    State(state): State<AppState>,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let user = form.one("user").to_string();
    let sent = form.one("_csrf");
    let kept = cookie(&headers, LOGIN_FORM_COOKIE).unwrap_or("");
    if sent.is_empty() || !crate::session::same_secret(sent, kept) {
        // Not this site's form (or an old one): nothing is checked.
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            user,
            Some(anonymous(&headers).t("stale_form")),
        );
    }
    let password = SecretString::from(form.one("password").to_string());
    let address = client_address(&state, &headers, peer);
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
            let said = anonymous(&headers).t(key);
            login_page(&state, &headers, status, user, Some(said))
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

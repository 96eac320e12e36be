//! The web console: the original product's screens for requesters,
//! approvers and operators, rendered on the server (askama templates
//! compiled into the binary) with a little script for the live estimate
//! and the migration progress (server-sent events from the REST API).
//!
//! Pages call the same library services the REST handlers call, as the
//! logged-in actor: what a page offers is what the library's policy
//! allows, and what it refuses is refused by the library. Every form
//! carries the session's CSRF token; every write carries the version read.

mod admin;
mod groups;
pub mod i18n;
mod login;
mod quota;
mod requests;
mod rules;
mod showback;
mod vms;

use crate::extract::{cookie, SESSION_COOKIE};
use crate::session::{same_secret, Session, SessionKind};
use crate::AppState;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use butler::auth::{Actor, Role};
use butler::ButlerError;
use i18n::{word, Lang};

/// The language cookie.
pub const LANG_COOKIE: &str = "butler_lang";

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The language.
    pub lang: Lang,
    /// The logged-in user, if any.
    pub user: Option<String>,
    /// Roles, for the menu (the library decides what is allowed).
    pub roles: Vec<Role>,
    /// The session's CSRF token for forms.
    pub csrf: String,
    /// The page's path (for the language switch).
    pub path: String,
}

impl Chrome {
    /// A word in the page's language.
    pub fn t(&self, key: &str) -> String {
        word(self.lang, key)
    }

    /// One of the library's terms (`state`, `role`, `step`, `action`,
    /// `phase`, `lifecycle`) in the page's language.
    pub fn term(&self, kind: &str, value: &str) -> String {
        i18n::term(self.lang, kind, value)
    }

    /// Money as the page's language writes it (two decimals, grouped).
    pub fn money(&self, amount: &rust_decimal::Decimal) -> String {
        i18n::money(self.lang, *amount)
    }

    /// A line of a cost estimate, in the page's language and its way of
    /// writing numbers.
    pub fn estimate_line(&self, l: &butler::cost::LineItem) -> String {
        i18n::estimate_line(self.lang, l)
    }

    /// A VM spec's field as the request form labels it.
    pub fn field(&self, name: &str) -> String {
        i18n::field(self.lang, name)
    }

    /// A library error in the page's language where the library says it
    /// by code (a refusal by role, a group edit, a change the VM's state
    /// refuses), else as the library words it.
    pub fn error(&self, e: &ButlerError) -> String {
        match e {
            ButlerError::Denied(d) => i18n::denied(self.lang, d),
            ButlerError::Group(g) => i18n::group_error(self.lang, g),
            ButlerError::Refused(s) => self.said(s),
            other => other.to_string(),
        }
    }

    /// A line the library wrote, in the page's language.
    pub fn said(&self, s: &butler::said::Said) -> String {
        i18n::said(self.lang, s)
    }

    /// Lines the library wrote, in the page's language, joined by `sep`.
    pub fn said_all(&self, lines: &[butler::said::Said], sep: &str) -> String {
        lines
            .iter()
            .map(|s| self.said(s))
            .collect::<Vec<_>>()
            .join(sep)
    }

    /// A date and time as the page's language writes it.
    pub fn date(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        i18n::date_time(self.lang, *at)
    }

    /// Whether the menu shows the entry `page` (`new_request`, `groups`,
    /// `users`): by the library's own policy table, so the menu offers
    /// exactly what the user may open.
    pub fn may(&self, page: &str) -> bool {
        use butler::auth::Operation;
        let op = match page {
            "new_request" => Operation::Request(butler::request::ActionKind::Create),
            "groups" => Operation::ReadGroups,
            "users" => Operation::ReadUsers,
            _ => return false,
        };
        op.roles().iter().any(|r| self.roles.contains(r))
    }

    /// Whether the menu shows an entry for `role`.
    pub fn has(&self, role: &str) -> bool {
        Role::parse(role).is_some_and(|r| self.roles.contains(&r))
    }

    /// The other language's code.
    pub fn other_lang(&self) -> &'static str {
        self.lang.other().code()
    }
}

/// A logged-in browser user: a cookie session of an enabled user, roles
/// as stored now. Anyone else is sent to the login page.
pub struct Viewer {
    /// The actor.
    pub actor: Actor,
    /// The page chrome.
    pub chrome: Chrome,
    session: Session,
}

#[axum::async_trait]
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let now = state.butler().clock().now();
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(to_login)?;
        let session = state
            .sessions()
            .find(token, SessionKind::Cookie, now)
            .ok_or_else(to_login)?;
        let actor = match crate::extract::session_actor(state, &session).await {
            Ok(Some(a)) => a,
            _ => return Err(to_login()),
        };
        let chrome = Chrome {
            lang: Lang::of(&parts.headers),
            user: Some(actor.name().to_string()),
            roles: actor.roles().iter().collect(),
            csrf: session.csrf.clone(),
            path: parts.uri.path().to_string(),
        };
        Ok(Viewer {
            actor,
            chrome,
            session,
        })
    }
}

impl Viewer {
    /// Refuses a form whose `_csrf` is not this session's token.
    pub fn check_csrf(&self, form: &Form) -> Result<(), Response> {
        if same_secret(form.one("_csrf"), &self.session.csrf) {
            Ok(())
        } else {
            Err(self.error_page(StatusCode::FORBIDDEN, "denied", "CSRF"))
        }
    }

    /// The version the form was read at; a form without one (not ours, or
    /// tampered with) gets an error page, never a guess.
    pub fn version(&self, form: &Form) -> Result<u64, Response> {
        form.one("version").parse().map_err(|_| {
            self.error_page(
                StatusCode::BAD_REQUEST,
                "problems",
                "the form carries no version of what it edits; reload the page",
            )
        })
    }

    /// A page for a refused or failed action.
    pub fn error_page(&self, status: StatusCode, title_key: &str, detail: &str) -> Response {
        let page = ErrorPage {
            c: self.chrome.clone(),
            title: self.chrome.t(title_key),
            detail: detail.to_string(),
        };
        (status, render(&page)).into_response()
    }

    /// The page for a library error.
    pub fn butler_error(&self, e: ButlerError) -> Response {
        if let ButlerError::Denied(d) = &e {
            // A request the user may not see is answered as missing.
            if !matches!(d.reason, butler::auth::DenyReason::NotVisible) {
                let why = i18n::denied(self.chrome.lang, d);
                return self.error_page(StatusCode::FORBIDDEN, "denied", &why);
            }
        }
        if matches!(e, ButlerError::Group(_) | ButlerError::Refused(_)) {
            let why = self.chrome.error(&e);
            return self.error_page(StatusCode::UNPROCESSABLE_ENTITY, "problems", &why);
        }
        let p = crate::problem::Problem::from(e);
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let key = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::FORBIDDEN => "denied",
            _ => "problems",
        };
        self.error_page(status, key, &p.detail)
    }
}

/// A submitted form (fields may repeat).
#[derive(Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key` ("" when absent).
    pub fn one(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a checkbox `key` was ticked.
    pub fn checked(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

/// Renders a template (a template error is a 500 with a plain message).
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = Html(html).into_response();
            // Pages hold personal data: never cached by shared caches, and
            // never framed by another site.
            let h = res.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = ?e.to_string(), "a console template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    title: String,
    detail: String,
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/console.js"),
    )
        .into_response()
}

/// The first path segments of the console's own pages.
const CONSOLE_PAGES: [&str; 6] = ["requests", "vms", "groups", "admin", "account", "login"];

/// Whether `path` is one of the console's own pages: `/<page>` or
/// `/<page>/...`, plain visible ASCII without a backslash (browsers read
/// `/\host` and `/<TAB>/host` as another host), so a redirect to it can
/// never leave the site.
fn is_console_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let first = rest.split(['/', '?', '#']).next().unwrap_or("");
    CONSOLE_PAGES.contains(&first) && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

/// Sets the language cookie and goes back to the page it came from, when
/// that is one of the console's.
async fn set_lang(
    axum::extract::Path(code): axum::extract::Path<String>,
    parts: Parts,
) -> Response {
    let lang = Lang::parse(&code);
    let back = parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.find("://")
                .and_then(|i| r[i + 3..].find('/').map(|j| &r[i + 3 + j..]))
        })
        .filter(|p| is_console_path(p))
        .unwrap_or("/requests")
        .to_string();
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
        lang.code()
    )) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// The console's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/requests") }))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/lang/:code", get(set_lang))
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/account", get(login::account).post(login::change_password))
        .route("/requests", get(requests::list))
        .route(
            "/requests/new",
            get(requests::new_form).post(requests::create),
        )
        .route("/requests/estimate", post(requests::estimate))
        .route("/requests/:id", get(requests::show))
        .route(
            "/requests/:id/edit",
            get(requests::edit_form).post(requests::edit),
        )
        .route("/requests/:id/act/:action", post(requests::act))
        .route("/vms", get(vms::list))
        .route("/vms/:id", get(vms::one))
        .route("/vms/:id/power", post(vms::power))
        .route("/vms/:id/retire", post(vms::retire))
        .route("/vms/:id/restore", post(vms::restore))
        .route("/vms/:id/extend", post(vms::extend))
        .route("/vms/:id/reconfigure", post(vms::reconfigure))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/:id", get(groups::show))
        .route("/groups/:id/do/:what", post(groups::act))
        .route("/groups/:id/run/:run", get(groups::run_page))
        .route("/groups/:id/run/:run/report.csv", get(groups::run_csv))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/rules", get(rules::show).post(rules::save))
        .route("/queue", get(rules::queue))
        .route("/quotas", get(quota::show))
        .route("/showback", get(showback::show))
        .route("/showback/close", post(showback::close))
        .route("/admin/users/:name", post(admin::change_user))
        .route(
            "/admin/catalog",
            get(admin::catalog).post(admin::replace_catalog),
        )
}

#[cfg(test)]
mod tests {
    use super::is_console_path;

    #[test]
    fn the_language_switch_goes_back_only_to_the_consoles_own_pages() {
        for ok in [
            "/requests",
            "/requests/7?state=completed",
            "/groups/3/run/2",
            "/vms",
        ] {
            assert!(is_console_path(ok), "{ok}");
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\\/evil.example",
            "/requests\\..\\evil",
            "evil.example",
            "/evil.example",
            "/requests\n/x",
            "",
        ] {
            assert!(!is_console_path(bad), "{bad:?}");
        }
    }
}

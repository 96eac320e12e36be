//! The approval rules (read by everyone; an Admin edits them as TOML,
//! checked by the library before they are saved) and an approver's queue.

use super::{render, Form, Viewer};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use butler::rules::{RuleBook, Rules};

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    c: super::Chrome,
    book: std::sync::Arc<RuleBook>,
    /// What the editor shows: the rules in force, or the text refused.
    text: String,
    history: Vec<RuleBook>,
    message: String,
}

/// The rules in force as the TOML an Admin edits.
fn as_toml(book: &RuleBook) -> String {
    toml::to_string(&Rules {
        rules: book.rules.clone(),
        quotas: book.quotas.clone(),
        approvers: book.approvers.clone(),
    })
    .unwrap_or_default()
}

async fn page(
    state: &AppState,
    v: Viewer,
    text: Option<String>,
    message: String,
    status: StatusCode,
) -> Response {
    let requests = state.butler().requests();
    let (book, mut history) = match (requests.rules().await, requests.rule_history().await) {
        (Ok(b), Ok(h)) => (b, h),
        (Err(e), _) | (_, Err(e)) => return v.butler_error(e),
    };
    history.reverse();
    let page = RulesPage {
        text: text.unwrap_or_else(|| as_toml(&book)),
        book,
        history,
        c: v.chrome,
        message,
    };
    (status, render(&page)).into_response()
}

pub(super) async fn show(State(state): State<AppState>, v: Viewer) -> Response {
    page(&state, v, None, String::new(), StatusCode::OK).await
}

/// Saves pasted rules (Admin): a refused text stays in the editor with
/// the library's reason, and the rules in force do not change.
pub(super) async fn save(State(state): State<AppState>, v: Viewer, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let text = form.one("toml").to_string();
    let result = async {
        let rules = Rules::parse(&text)?;
        state.butler().requests().set_rules(&v.actor, rules).await
    }
    .await;
    match result {
        Ok(_) => {
            let msg = v.chrome.t("saved").to_string();
            page(&state, v, None, msg, StatusCode::OK).await
        }
        Err(e @ butler::ButlerError::Denied(_)) => v.butler_error(e),
        Err(e) => {
            let msg = e.to_string();
            page(&state, v, Some(text), msg, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

struct QueueRow {
    id: u64,
    name: String,
    owner: String,
    /// `2 / 3 · admin`, or empty for a request without levels.
    level: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    c: super::Chrome,
    rows: Vec<QueueRow>,
}

/// What waits for the user's approval now.
pub(super) async fn queue(State(state): State<AppState>, v: Viewer) -> Response {
    let list = match state
        .butler()
        .requests()
        .approval_queue(&v.actor, 200)
        .await
    {
        Ok(l) => l,
        Err(e) => return v.butler_error(e),
    };
    let rows = list
        .into_iter()
        .map(|r| QueueRow {
            id: r.id.0,
            level: r
                .approval
                .as_ref()
                .and_then(|a| {
                    a.next_level()
                        .map(|(i, l)| format!("{} / {} · {l}", i + 1, a.levels.len()))
                })
                .unwrap_or_default(),
            name: r.spec.name.clone(),
            owner: r.owner,
        })
        .collect();
    render(&QueuePage { c: v.chrome, rows }).into_response()
}

//! Quotas in the console: the quota page (every scope the user may see,
//! a usage bar per limit) and the lines a request's page shows (what it
//! would leave).

use super::{render, Chrome, Viewer};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use butler::quota::{QuotaLine, Scope, DIMENSIONS};
use rust_decimal::Decimal;

/// One limit of a scope as a bar: what is used, of how much, and what a
/// request would bring it to.
pub(super) struct QuotaCell {
    /// The dimension's label.
    pub label: String,
    pub used: String,
    /// Empty: no limit.
    pub limit: String,
    /// Empty: nothing previewed.
    pub after: String,
    /// The bar's value and maximum (the limit; at least the value).
    pub value: String,
    pub max: String,
    /// Whether the scope is (or would be) over the limit.
    pub over: bool,
}

/// A scope's line.
pub(super) struct QuotaRow {
    pub kind: String,
    pub name: String,
    pub cells: Vec<QuotaCell>,
}

fn label(c: &Chrome, d: &str) -> String {
    c.t(match d {
        "vcpus" => "vcpus",
        "ram_gib" => "ram_gib",
        "storage_gib" => "storage_gib",
        "vms" => "quota_vms",
        _ => "monthly_cost",
    })
}

/// `lines` as the console shows them; `limited_only`: only dimensions
/// with a limit (a request's page), else every dimension.
pub(super) fn rows(c: &Chrome, lines: &[QuotaLine], limited_only: bool) -> Vec<QuotaRow> {
    lines
        .iter()
        .filter(|l| !limited_only || !l.limits.is_empty())
        .map(|l| {
            let (kind, name) = l.scope.parts();
            let cells = DIMENSIONS
                .iter()
                .filter_map(|d| {
                    let limit = l.limits.get(d);
                    if limited_only && limit.is_none() {
                        return None;
                    }
                    let used = l.used.get(d);
                    let after = l.with_request.as_ref().map(|a| a.get(d));
                    let top = after.unwrap_or(used);
                    Some(QuotaCell {
                        label: label(c, d),
                        used: used.normalize().to_string(),
                        limit: limit.map(|x| x.normalize().to_string()).unwrap_or_default(),
                        after: after.map(|x| x.normalize().to_string()).unwrap_or_default(),
                        value: top.normalize().to_string(),
                        max: limit
                            .map(|x| x.max(top).max(Decimal::ONE))
                            .unwrap_or(Decimal::ONE)
                            .normalize()
                            .to_string(),
                        // The library's own reading of what is left.
                        over: l
                            .left_after(d)
                            .or_else(|| l.left(d))
                            .is_some_and(|left| left < Decimal::ZERO),
                    })
                })
                .collect();
            QuotaRow {
                kind: c.t(match kind {
                    "division" => "division",
                    "unit" => "unit",
                    _ => "requester",
                }),
                name: name.to_string(),
                cells,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "quotas.html")]
struct QuotasPage {
    c: Chrome,
    rows: Vec<QuotaRow>,
}

/// Every scope with a quota or a share held that the user may see.
pub(super) async fn show(State(state): State<AppState>, v: Viewer) -> Response {
    let lines = match state.butler().requests().quota_usage(&v.actor).await {
        Ok(l) => l,
        Err(e) => return v.butler_error(e),
    };
    // Divisions, then units, then requesters (the library's order).
    let lines: Vec<QuotaLine> = lines
        .into_iter()
        .filter(|l| !matches!(&l.scope, Scope::Requester(n) if n.is_empty()))
        .collect();
    let rows = rows(&v.chrome, &lines, false);
    render(&QuotasPage { c: v.chrome, rows }).into_response()
}

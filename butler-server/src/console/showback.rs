//! Showback in the console: a period's cost per month as a chart
//! (server-rendered SVG, described for screen readers, with the same
//! figures in a table), per cost center and per VM; downloads; the closed
//! months and, for an Admin, closing one.

use super::i18n::{money, Lang};
use super::{render, Chrome, Form, Viewer};
use crate::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use butler::showback::{ClosedMonth, Month, Showback};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Lines of VMs shown on the page (the downloads hold every one).
const SHOWN: usize = 500;

/// One bar of the chart.
struct Bar {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    class: &'static str,
    title: String,
}

/// A month's label under its bars.
struct Tick {
    x: u32,
    label: String,
}

/// A line of the vertical scale.
struct Grid {
    y: u32,
    label: String,
}

/// The chart's geometry: plot box inside a 640 × 260 view.
const W: u32 = 640;
const H: u32 = 260;
const LEFT: u32 = 80;
const BOTTOM: u32 = 30;
const TOP: u32 = 10;

fn chart(lang: Lang, c: &Chrome, r: &Showback) -> (Vec<Bar>, Vec<Tick>, Vec<Grid>) {
    let top = r
        .by_month
        .iter()
        .flat_map(|s| [s.actual, s.estimate])
        .max()
        .unwrap_or(Decimal::ZERO)
        .max(Decimal::ONE);
    let plot_h = H - BOTTOM - TOP;
    let n = u32::try_from(r.by_month.len().max(1)).unwrap_or(1);
    let slot = (W - LEFT - 10) / n;
    let bar_w = (slot * 2 / 5).clamp(2, 48);
    let height = |d: Decimal| -> u32 {
        use rust_decimal::prelude::ToPrimitive;
        let share = (d.max(Decimal::ZERO) / top * Decimal::from(plot_h)).round();
        share.to_u32().unwrap_or(0).min(plot_h)
    };
    let mut bars = Vec::new();
    let mut ticks = Vec::new();
    for (i, s) in r.by_month.iter().enumerate() {
        let x0 = LEFT + slot * u32::try_from(i).unwrap_or(0) + (slot - 2 * bar_w) / 2;
        for (k, (value, class, word)) in [
            (s.actual, "actual", "showback_actual"),
            (s.estimate, "estimate", "showback_estimate"),
        ]
        .into_iter()
        .enumerate()
        {
            let h = height(value);
            bars.push(Bar {
                x: x0 + u32::try_from(k).unwrap_or(0) * bar_w,
                y: TOP + plot_h - h,
                w: bar_w,
                h,
                class,
                title: format!("{} {}: {}", s.month, c.t(word), money(lang, value)),
            });
        }
        ticks.push(Tick {
            x: x0 + bar_w,
            label: s.month.to_string(),
        });
    }
    let grid = (0..=4u32)
        .map(|k| Grid {
            y: TOP + plot_h - plot_h * k / 4,
            label: money(lang, top * Decimal::from(k) / Decimal::from(4)),
        })
        .collect();
    (bars, ticks, grid)
}

struct CcRow {
    month: String,
    key: String,
    vms: u64,
    actual: String,
    estimate: String,
    difference: String,
}

struct VmRow {
    month: String,
    vm: u64,
    name: String,
    owner: String,
    cost_center: String,
    days: u32,
    days_off: u32,
    actual: String,
    estimate: String,
    difference: String,
}

struct ClosedRow {
    month: String,
    by: String,
    at: String,
    actual: String,
}

#[derive(Template)]
#[template(path = "showback.html")]
struct ShowbackPage {
    c: Chrome,
    from: String,
    to: String,
    currency: String,
    total: String,
    estimated: String,
    bars: Vec<Bar>,
    ticks: Vec<Tick>,
    grid: Vec<Grid>,
    summary: String,
    cc: Vec<CcRow>,
    lines: Vec<VmRow>,
    more: bool,
    unpriced: Vec<(u64, String, String)>,
    closed: Vec<ClosedRow>,
    may_close: bool,
    message: String,
    w: u32,
    h: u32,
    left: u32,
    baseline: u32,
}

/// The period asked (`from`, `to`), else the current month.
fn period(state: &AppState, q: &HashMap<String, String>) -> Result<(Month, Month), String> {
    let now = Month::of(state.butler().clock().now().date_naive());
    let parse = |key: &str| -> Result<Option<Month>, String> {
        match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|e: butler::showback::BadMonth| e.to_string()),
            None => Ok(None),
        }
    };
    let from = parse("from")?.unwrap_or(now);
    let to = parse("to")?.unwrap_or(from);
    Ok((from, to))
}

pub(super) async fn show(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    page(&state, v, &q, String::new()).await
}

async fn page(
    state: &AppState,
    v: Viewer,
    q: &HashMap<String, String>,
    message: String,
) -> Response {
    let (from, to) = match period(state, q) {
        Ok(p) => p,
        Err(e) => {
            return v.error_page(axum::http::StatusCode::UNPROCESSABLE_ENTITY, "problems", &e)
        }
    };
    let svc = state.butler().requests();
    let r = match svc.showback(&v.actor, from, to).await {
        Ok(r) => r,
        Err(e) => return v.butler_error(e),
    };
    // Those who see their own VMs only are not shown the closed months'
    // totals over every VM.
    let closed: Vec<ClosedMonth> = match svc.closed_months(&v.actor).await {
        Ok(m) => m,
        Err(butler::ButlerError::Denied(_)) => Vec::new(),
        Err(e) => return v.butler_error(e),
    };
    let lang = v.chrome.lang;
    let c = &v.chrome;
    let (bars, ticks, grid) = chart(lang, c, &r);
    let summary = r
        .by_month
        .iter()
        .map(|s| {
            format!(
                "{}: {} {}, {} {}",
                s.month,
                c.t("showback_actual"),
                money(lang, s.actual),
                c.t("showback_estimate"),
                money(lang, s.estimate)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let cc = r
        .by_cost_center
        .iter()
        .map(|s| CcRow {
            month: s.month.to_string(),
            key: s.key.clone(),
            vms: s.vms,
            actual: money(lang, s.actual),
            estimate: money(lang, s.estimate),
            difference: money(lang, s.actual - s.estimate),
        })
        .collect();
    let mut lines = Vec::new();
    for vm in &r.vms {
        for m in &vm.months {
            lines.push(VmRow {
                month: m.month.to_string(),
                vm: vm.vm.0,
                name: vm.name.clone(),
                owner: vm.owner.clone(),
                cost_center: vm.cost_center.clone(),
                days: m.days,
                days_off: m.days_off,
                actual: money(lang, m.actual),
                estimate: m.estimate.map(|e| money(lang, e)).unwrap_or_default(),
                difference: m
                    .estimate
                    .map(|e| money(lang, m.actual - e))
                    .unwrap_or_default(),
            });
        }
    }
    let more = lines.len() > SHOWN;
    lines.truncate(SHOWN);
    let closed = closed
        .iter()
        .rev()
        .map(|m| ClosedRow {
            month: m.month.to_string(),
            by: m.closed_by.clone(),
            at: m.closed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            actual: money(lang, m.actual),
        })
        .collect();
    let may_close = butler::auth::Operation::CloseMonths
        .roles()
        .iter()
        .any(|role| c.roles.contains(role));
    let page = ShowbackPage {
        from: from.to_string(),
        to: to.to_string(),
        currency: r.currency.clone().unwrap_or_default(),
        total: money(lang, r.actual),
        estimated: money(lang, r.estimate),
        bars,
        ticks,
        grid,
        summary,
        cc,
        lines,
        more,
        unpriced: r
            .unpriced
            .iter()
            .map(|u| (u.vm.0, u.name.clone(), u.reason.clone()))
            .collect(),
        closed,
        may_close,
        message,
        w: W,
        h: H,
        left: LEFT,
        baseline: H - BOTTOM,
        c: v.chrome,
    };
    render(&page).into_response()
}

/// Closes a month (Admin), then shows it.
pub(super) async fn close(State(state): State<AppState>, v: Viewer, body: Bytes) -> Response {
    let form = Form::parse(&body);
    if let Err(r) = v.check_csrf(&form) {
        return r;
    }
    let month = match form.one("month").trim().parse::<Month>() {
        Ok(m) => m,
        Err(e) => {
            return v.error_page(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "problems",
                &e.to_string(),
            )
        }
    };
    match state.butler().requests().close_month(&v.actor, month).await {
        Ok(_) => Redirect::to(&format!("/showback?from={month}&to={month}")).into_response(),
        Err(e) => v.butler_error(e),
    }
}

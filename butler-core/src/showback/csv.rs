//! A report as CSV: one line per VM and month.

use super::Showback;
use crate::csv::cell;
use std::fmt::Write;

/// The header line's columns.
pub const COLUMNS: [&str; 18] = [
    "month",
    "vm",
    "name",
    "owner",
    "cost_center",
    "division",
    "unit",
    "request",
    "days",
    "days_off",
    "currency",
    "actual",
    "estimate",
    "cause_days",
    "cause_resizes",
    "cause_rate_cards",
    "cause_powered_off",
    "cause_other",
];

/// `report` as CSV (CRLF lines, a header first): one line per VM and
/// month, by VM then month; texts quoted and never formulas
/// ([`crate::csv::cell`]), amounts as plain decimals (empty where there
/// is no estimate).
///
/// ```
/// use butler_core::showback::{compute, to_csv};
/// let book = butler_core::demo::rate_book();
/// let m = "2026-03".parse()?;
/// let csv = to_csv(&compute(&[], &book, m, m)?);
/// assert!(csv.starts_with("month,vm,name,"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_csv(report: &Showback) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    let currency = cell(report.currency.as_deref().unwrap_or(""));
    let opt = |d: Option<rust_decimal::Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    for v in &report.vms {
        let request = v.request.map(|r| r.0.to_string()).unwrap_or_default();
        for m in &v.months {
            let c = m.causes.as_ref();
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
                m.month,
                v.vm.0,
                cell(&v.name),
                cell(&v.owner),
                cell(&v.cost_center),
                cell(&v.division),
                cell(&v.unit),
                request,
                m.days,
                m.days_off,
                currency,
                m.actual,
                opt(m.estimate),
                opt(c.map(|c| c.days)),
                opt(c.map(|c| c.resizes)),
                opt(c.map(|c| c.rate_cards)),
                opt(c.map(|c| c.powered_off)),
                opt(c.map(|c| c.other)),
            );
        }
    }
    out
}

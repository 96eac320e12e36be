//! A VM's life as showback prices it: from which day it stood how.

use crate::cost::Sizing;
use crate::inventory::{VmId, VmRecord};
use crate::request::RequestId;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What a request promised: its monthly estimate, and the card it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promise {
    /// The estimate's monthly total.
    pub monthly: Decimal,
    /// The version of the card it was priced on.
    pub card_version: String,
}

/// From `from` on (until the next span), the VM stood so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// First day.
    pub from: NaiveDate,
    /// What it was priced by.
    pub sizing: Arc<Sizing>,
    /// Powered on (else off).
    pub on: bool,
}

/// A VM's life: who pays for it, what was promised, and how it stood
/// from day to day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmLife {
    /// The VM.
    pub vm: VmId,
    /// Its name.
    pub name: String,
    /// Its owner.
    pub owner: String,
    /// Cost center billed.
    pub cost_center: String,
    /// Division.
    pub division: String,
    /// Unit.
    pub unit: String,
    /// The request that made it.
    pub request: Option<RequestId>,
    /// Its request's estimate (`None`: adopted).
    pub promise: Option<Promise>,
    /// How it stood, oldest first; the first span's day is the day it was
    /// made. Never empty for a VM that existed.
    pub spans: Vec<Span>,
    /// The day it was retired (its last day), if it was.
    pub last_day: Option<NaiveDate>,
}

#[cfg(test)]
impl VmLife {
    /// A VM of ana's in CC-1001 (CORP/IT), made on `from` at `sizing`,
    /// on and unchanged since, with no request (tests).
    pub(crate) fn steady(id: u64, name: &str, sizing: Arc<Sizing>, from: NaiveDate) -> VmLife {
        VmLife {
            vm: VmId(id),
            name: name.into(),
            owner: "ana".into(),
            cost_center: "CC-1001".into(),
            division: "CORP".into(),
            unit: "IT".into(),
            request: None,
            promise: None,
            spans: vec![Span {
                from,
                sizing,
                on: true,
            }],
            last_day: None,
        }
    }
}

/// The life of `record`, whose request promised `promise`; `sizing` gives
/// the sizing of the spec of a request (`None`: the request that made it,
/// or what an adopted VM was found as), or why there is none.
///
/// Each day takes the state of the day's last mark; the day of the
/// retirement takes the state it had just before.
pub fn life_of(
    record: &VmRecord,
    promise: Option<Promise>,
    mut sizing: impl FnMut(Option<RequestId>) -> Result<Arc<Sizing>, String>,
) -> Result<VmLife, String> {
    let mut spans: Vec<Span> = Vec::new();
    let mut last_day = None;
    for mark in record.life_marks() {
        let day = mark.at.date_naive();
        if mark.state.retired {
            last_day = Some(day.max(spans.first().map_or(day, |s| s.from)));
            break;
        }
        let span = Span {
            from: day,
            sizing: sizing(mark.state.change)?,
            on: !mark.state.off,
        };
        match spans.last_mut() {
            // A later mark of the same day (or a clock that went back)
            // decides that day.
            Some(last) if last.from >= day => {
                let from = last.from;
                *last = Span { from, ..span };
                if spans.len() > 1 && same(&spans[spans.len() - 2], &spans[spans.len() - 1]) {
                    spans.pop();
                }
            }
            Some(last) if same(last, &span) => {}
            _ => spans.push(span),
        }
    }
    Ok(VmLife {
        vm: record.id,
        name: record.name.clone(),
        owner: record.owner.clone(),
        cost_center: record.cost_center.clone(),
        division: record.division.clone(),
        unit: record.unit.clone(),
        request: record.request,
        promise,
        spans,
        last_day,
    })
}

fn same(a: &Span, b: &Span) -> bool {
    a.on == b.on && (Arc::ptr_eq(&a.sizing, &b.sizing) || a.sizing == b.sizing)
}

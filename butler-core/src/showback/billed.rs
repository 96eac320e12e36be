//! What a billing system charged, beside Butler's own figures: charges
//! worked out from a billing ledger (activations, changes, stops) the
//! way a chargeback system bills, and the comparison line by line.

use super::{Month, Showback, SCALE};
use crate::backend::{BillingActivation, BillingStop, Charge};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One entry of a billing system's ledger: what it was told, in the
/// terms it bills by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEntry {
    /// Billing started (or started again, after a restore) on `from` at
    /// `monthly` a 30-day month.
    Started(Rate),
    /// The VM's monthly total changed from `from` on.
    Changed(Rate),
    /// Billing stopped after `through`.
    Stopped {
        /// The VM's platform-wide name.
        vm_name: String,
        /// Its last billed day.
        through: NaiveDate,
    },
}

/// A VM's rate in a ledger, from a day on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// The VM's platform-wide name.
    pub vm_name: String,
    /// Cost center charged.
    pub cost_center: String,
    /// First day at this rate.
    pub from: NaiveDate,
    /// Monthly total (a 30-day month).
    pub monthly: Decimal,
    /// Its currency.
    pub currency: String,
}

impl Rate {
    fn of(a: &BillingActivation) -> Rate {
        Rate {
            vm_name: a.vm_name.clone(),
            cost_center: a.cost_center.clone(),
            from: a.effective_date,
            monthly: a.estimate.total,
            currency: a.estimate.currency.clone(),
        }
    }
}

impl LedgerEntry {
    /// What an activation tells a ledger.
    pub fn activated(a: &BillingActivation) -> LedgerEntry {
        LedgerEntry::Started(Rate::of(a))
    }

    /// What a change tells a ledger.
    pub fn changed(a: &BillingActivation) -> LedgerEntry {
        LedgerEntry::Changed(Rate::of(a))
    }

    /// What a stop tells a ledger.
    pub fn stopped(s: &BillingStop) -> LedgerEntry {
        LedgerEntry::Stopped {
            vm_name: s.vm_name.clone(),
            through: s.end_date,
        }
    }

    fn vm(&self) -> &str {
        match self {
            LedgerEntry::Started(r) | LedgerEntry::Changed(r) => &r.vm_name,
            LedgerEntry::Stopped { vm_name, .. } => vm_name,
        }
    }

    /// When it takes effect, and its order among entries of one day (a
    /// start before a change before a stop).
    fn at(&self) -> (NaiveDate, u8) {
        match self {
            LedgerEntry::Started(r) => (r.from, 0),
            LedgerEntry::Changed(r) => (r.from, 1),
            LedgerEntry::Stopped { through, .. } => (*through, 2),
        }
    }
}

/// What a ledger charges for `month`, the way a chargeback system bills
/// what it was told: from each activation's first day at the estimate's
/// monthly total, from each change's day at the new total, through each
/// stop's last day; a day is a thirtieth of the monthly total, a VM's
/// month rounded once to [`SCALE`] places. Powered-off days and rate
/// cards that took effect later are not known to it: that is what
/// showback's comparison shows.
pub fn ledger_charges(entries: &[LedgerEntry], month: Month) -> Vec<Charge> {
    let mut by_vm: BTreeMap<&str, Vec<&LedgerEntry>> = BTreeMap::new();
    for e in entries {
        by_vm.entry(e.vm()).or_default().push(e);
    }
    let (first, last) = (month.first(), month.last());
    let mut out = Vec::new();
    for (vm, mut es) in by_vm {
        es.sort_by_key(|e| e.at());
        // (from, through, monthly, cost center, currency) periods.
        let mut periods: Vec<(NaiveDate, NaiveDate, Decimal, String, String)> = Vec::new();
        let mut open: Option<(NaiveDate, Decimal, String, String)> = None;
        for e in es {
            match e {
                LedgerEntry::Started(r) => {
                    if open.is_none() {
                        open = Some((r.from, r.monthly, r.cost_center.clone(), r.currency.clone()));
                    }
                }
                LedgerEntry::Changed(r) => {
                    if let Some((from, rate, cc, cur)) = open.take() {
                        if let Some(before) = r.from.pred_opt().filter(|b| *b >= from) {
                            periods.push((from, before, rate, cc, cur));
                        }
                        open = Some((r.from, r.monthly, r.cost_center.clone(), r.currency.clone()));
                    }
                }
                LedgerEntry::Stopped { through, .. } => {
                    if let Some((from, rate, cc, cur)) = open.take() {
                        if *through >= from {
                            periods.push((from, *through, rate, cc, cur));
                        }
                    }
                }
            }
        }
        if let Some((from, rate, cc, cur)) = open {
            periods.push((from, NaiveDate::MAX, rate, cc, cur));
        }
        let mut sum = Decimal::ZERO;
        let mut billed = None;
        for (from, through, rate, cc, cur) in periods {
            let (lo, hi) = (from.max(first), through.min(last));
            if lo > hi {
                continue;
            }
            let days = Decimal::from((hi - lo).num_days() + 1);
            // A ledger past exact decimals (its figures come from outside)
            // shows as the largest amount, which a comparison flags; it is
            // never dropped.
            sum = rate
                .checked_mul(days)
                .and_then(|a| sum.checked_add(a))
                .unwrap_or(Decimal::MAX);
            billed = Some((cc, cur));
        }
        if let Some((cost_center, currency)) = billed {
            out.push(Charge {
                vm_name: vm.to_string(),
                cost_center,
                amount: (sum / Decimal::from(30))
                    .round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero),
                currency,
            });
        }
    }
    out
}

/// One VM's figures side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComparedLine {
    /// The VM's platform-wide name.
    pub vm_name: String,
    /// Butler's figure (`None`: billed, but not a VM Butler priced).
    pub butler: Option<Decimal>,
    /// The billing system's (`None`: not billed).
    pub billed: Option<Decimal>,
    /// billed − Butler's (a missing side counts as nothing).
    pub difference: Decimal,
    /// Differs by more than the tolerance, is on one side only, or is
    /// billed in another currency.
    pub flagged: bool,
}

/// A month's showback beside what the billing system charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingComparison {
    /// The month.
    pub month: Month,
    /// Showback's currency.
    pub currency: Option<String>,
    /// Differences up to this much are not flagged.
    pub tolerance: Decimal,
    /// Every VM on either side, by name.
    pub lines: Vec<ComparedLine>,
    /// Butler's total.
    pub butler: Decimal,
    /// The billing system's total.
    pub billed: Decimal,
    /// How many lines are flagged.
    pub flagged: usize,
}

fn total(mut amounts: impl Iterator<Item = Decimal>) -> Decimal {
    amounts
        .try_fold(Decimal::ZERO, |a, b| a.checked_add(b))
        .unwrap_or(Decimal::MAX)
}

/// A tolerance from its text: a decimal amount, not negative.
///
/// ```
/// use butler_core::showback::parse_tolerance;
/// assert_eq!(parse_tolerance("0.05").unwrap().to_string(), "0.05");
/// assert!(parse_tolerance("-1").is_err() && parse_tolerance("lots").is_err());
/// ```
pub fn parse_tolerance(text: &str) -> Result<Decimal, String> {
    match text.trim().parse::<Decimal>() {
        Ok(t) if !t.is_sign_negative() => Ok(t),
        Ok(t) => Err(format!("tolerance {t} is negative")),
        Err(_) => Err(format!(
            "tolerance {} is not a decimal amount",
            crate::limits::shown(text)
        )),
    }
}

/// The tolerance a comparison uses unless told otherwise: a cent.
pub const TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// `report`'s lines of `month` beside `charges`, matched by VM name.
pub fn compare(
    report: &Showback,
    month: Month,
    charges: &[Charge],
    tolerance: Decimal,
) -> BillingComparison {
    let mut lines: BTreeMap<String, (Option<Decimal>, Option<Decimal>, bool)> = BTreeMap::new();
    for v in &report.vms {
        for m in v.months.iter().filter(|m| m.month == month) {
            lines.entry(v.name.clone()).or_default().0 = Some(m.actual);
        }
    }
    let currency = report.currency.clone();
    for c in charges {
        let e = lines.entry(c.vm_name.clone()).or_default();
        // A charge past exact decimals (from outside) is flagged, never a
        // panic.
        let sum = e.1.unwrap_or(Decimal::ZERO).checked_add(c.amount);
        e.1 = Some(sum.unwrap_or(Decimal::MAX));
        e.2 |= sum.is_none() || currency.as_deref().is_some_and(|cur| cur != c.currency);
    }
    let lines: Vec<ComparedLine> = lines
        .into_iter()
        .map(|(vm_name, (butler, billed, other_currency))| {
            let difference = billed
                .unwrap_or(Decimal::ZERO)
                .checked_sub(butler.unwrap_or(Decimal::ZERO))
                .unwrap_or(Decimal::MAX);
            ComparedLine {
                flagged: other_currency
                    || butler.is_none()
                    || billed.is_none()
                    || difference.abs() > tolerance,
                vm_name,
                butler,
                billed,
                difference,
            }
        })
        .collect();
    BillingComparison {
        month,
        currency,
        tolerance,
        butler: total(lines.iter().filter_map(|l| l.butler)),
        billed: total(lines.iter().filter_map(|l| l.billed)),
        flagged: lines.iter().filter(|l| l.flagged).count(),
        lines,
    }
}

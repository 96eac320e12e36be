//! Showback (SPEC §14): what each VM, cost center, division and unit
//! actually cost, month by month, beside what its request estimated.
//!
//! **The rule.** Every day a VM exists (from the day it was made to the day
//! it was retired, both counted) is priced with the rate card in force that
//! day applied to the VM as it stood at the day's end (on its last day, as
//! it stood before it was deleted): its spec (the request's, then each
//! reconfigure's from the day it was applied), powered on or off (the
//! card's [`powered_off`](crate::cost::RateCard::powered_off) rates). A
//! day costs a thirtieth of the card's 30-day month, as estimates are
//! quoted. A VM's month is the sum of its days, rounded once to
//! [`SCALE`] decimal places; every subtotal and the total are exact sums
//! of those lines, so they add up to the last digit.
//!
//! **Why it differs from the estimate.** A VM-month beside its request's
//! monthly estimate explains the difference by cause: the days it was
//! active against the estimate's 30, its resizes (priced on the
//! estimate's card), rate-card changes since the estimate, the days it
//! stood powered off, and what is left (the rounding, or an estimate made
//! some other way): the causes add up to the difference exactly.
//!
//! Pure: [`compute`] takes each VM's life ([`VmLife`], built from its
//! record's [`life_marks`](crate::inventory::VmRecord::life_marks)) and the
//! rate book; the service's [`showback`](crate::service::RequestService::showback)
//! reads them from the store.

mod billed;
mod compute;
mod csv;
mod life;
mod month;
#[cfg(test)]
mod tests;

pub use billed::{
    compare, ledger_charges, parse_tolerance, BillingComparison, ComparedLine, LedgerEntry, Rate,
    TOLERANCE,
};
pub use compute::{compute, currency_of, months, price, summed, Priced};
pub use csv::{to_csv, COLUMNS};
pub use life::{life_of, Promise, Span, VmLife};
pub use month::{BadMonth, Month};

use crate::inventory::VmId;
use crate::request::RequestId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Decimal places of a VM-month's amount.
pub const SCALE: u32 = 4;

/// Why a VM-month differs from its request's estimate. The causes add up
/// to `actual − estimate` exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Causes {
    /// The days it was active against the estimate's 30-day month.
    pub days: Decimal,
    /// Its resizes since the request (priced on the estimate's card).
    pub resizes: Decimal,
    /// Rate cards that took effect since the estimate.
    pub rate_cards: Decimal,
    /// Days it stood powered off, where the card prices them differently.
    pub powered_off: Decimal,
    /// The rest: rounding, or an estimate that priced something else.
    pub other: Decimal,
}

/// One VM's month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmMonth {
    /// The month.
    pub month: Month,
    /// Days it existed in the month.
    pub days: u32,
    /// Of those, days it stood powered off.
    pub days_off: u32,
    /// What it cost, rounded to [`SCALE`] places.
    pub actual: Decimal,
    /// Its request's monthly estimate (`None`: adopted, no request).
    pub estimate: Option<Decimal>,
    /// Why `actual` differs from `estimate` (with an estimate only).
    pub causes: Option<Causes>,
}

/// One VM's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmShowback {
    /// The VM.
    pub vm: VmId,
    /// Its name on the platform.
    pub name: String,
    /// Its owner.
    pub owner: String,
    /// Cost center billed.
    pub cost_center: String,
    /// Division.
    pub division: String,
    /// Unit.
    pub unit: String,
    /// The request that made it (`None`: adopted).
    pub request: Option<RequestId>,
    /// Its storage is left unpriced: an adopted VM's disks have no disk
    /// type Butler chose.
    pub storage_unpriced: bool,
    /// Each month of the period it existed in, in order.
    pub months: Vec<VmMonth>,
}

/// A sum over VMs for one month and one cost center, division or unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subtotal {
    /// The month.
    pub month: Month,
    /// The cost center, division, or `division/unit`; empty for a month's
    /// total.
    pub key: String,
    /// VMs counted.
    pub vms: u64,
    /// Sum of their actual cost.
    pub actual: Decimal,
    /// Sum of the estimates of those with one.
    pub estimate: Decimal,
}

/// A VM left out of the report, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unpriced {
    /// The VM.
    pub vm: VmId,
    /// Its name.
    pub name: String,
    /// Why it could not be priced (a card with no rate for what it has).
    pub reason: String,
}

/// What a period cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Showback {
    /// First month.
    pub from: Month,
    /// Last month.
    pub to: Month,
    /// The currency of every amount (`None`: no card is in force).
    pub currency: Option<String>,
    /// Every VM that existed in the period, by number.
    pub vms: Vec<VmShowback>,
    /// Per month.
    pub by_month: Vec<Subtotal>,
    /// Per month and cost center.
    pub by_cost_center: Vec<Subtotal>,
    /// Per month and division.
    pub by_division: Vec<Subtotal>,
    /// Per month and unit (`division/unit`).
    pub by_unit: Vec<Subtotal>,
    /// Sum of every VM-month.
    pub actual: Decimal,
    /// Sum of every VM-month's estimate.
    pub estimate: Decimal,
    /// VMs that could not be priced.
    pub unpriced: Vec<Unpriced>,
}

/// A month an Admin closed: its figures as they were then, never priced
/// again (its VM lines are kept beside it, [`crate::store::ShowbackStore`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedMonth {
    /// The month.
    pub month: Month,
    /// Who closed it.
    pub closed_by: String,
    /// When.
    pub closed_at: chrono::DateTime<chrono::Utc>,
    /// The currency of its amounts.
    pub currency: Option<String>,
    /// VMs priced in it.
    pub vms: u64,
    /// Their actual cost.
    pub actual: Decimal,
    /// Their estimates.
    pub estimate: Decimal,
    /// VMs that could not be priced then.
    pub unpriced: Vec<Unpriced>,
}

/// Why no report could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShowbackError {
    /// The period ends before it starts.
    #[error("the period ends ({to}) before it starts ({from})")]
    Reversed {
        /// First month asked.
        from: Month,
        /// Last month asked.
        to: Month,
    },
    /// The period is longer than a report may be.
    #[error("the period has {months} months; a report covers at most {max}")]
    TooLong {
        /// Months asked.
        months: u32,
        /// The most allowed.
        max: u32,
    },
    /// The cards in force in the period are in more than one currency.
    #[error("the rate cards in force from {from} to {to} are in {first} and {second}; report the months of each currency apart")]
    MixedCurrencies {
        /// First month.
        from: Month,
        /// Last month.
        to: Month,
        /// One currency.
        first: String,
        /// Another.
        second: String,
    },
    /// A sum does not fit exact decimals.
    #[error("the {what} overflows exact decimal arithmetic")]
    Overflow {
        /// Which sum.
        what: String,
    },
}

/// The longest period one report covers (ten years).
pub const MAX_MONTHS: u32 = 120;

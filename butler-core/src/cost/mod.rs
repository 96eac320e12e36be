//! Monthly cost estimates (SPEC §4).
//!
//! A [`RateBook`] holds versioned [`RateCard`]s; the card in force at a date
//! is the one with the latest `effective_from` not after it. A card prices
//! each resource per hour, day or month; every rate is brought to the 30-day
//! month (hour × 720, day × 30, month × 1) and multiplied by the quantity, in
//! exact decimals. A cost center may override any rate; what it does not
//! override falls back to the card's default.
//!
//! **Unpriced resources.** When a spec asks for something the card has no
//! rate for (say an `HDD` disk on a card pricing only `SSD`), the card's
//! [`UnpricedPolicy`] decides: `Error` (the default) refuses the estimate with
//! [`CostError::MissingRate`]; `Zero` adds an explicit zero line marked
//! [`RateSource::Unpriced`]. Never a silent 0.

mod card;
mod estimate;
mod sizing;

pub use card::{Period, Rate, RateBook, RateCard, Rates, UnpricedPolicy};
pub use card::{MAX_MARGIN, MAX_RATE};
pub use estimate::{estimate, CostItem, Estimate, EstimateDiff, LineDelta, LineItem, RateSource};
pub use sizing::Sizing;

/// Why no estimate could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CostError {
    /// No card is in force at the date.
    #[error("no rate card is in force on {date}; the earliest takes effect on {earliest:?}")]
    NoCardInForce {
        /// The date asked for.
        date: chrono::NaiveDate,
        /// The earliest card's effective date, if any card exists.
        earliest: Option<chrono::NaiveDate>,
    },
    /// The card has no rate for something the spec requests.
    #[error("rate card {card} has no rate for {item} (cost center {cost_center}); add one or set unpriced = \"zero\"")]
    MissingRate {
        /// Card version.
        card: String,
        /// What is unpriced.
        item: CostItem,
        /// The cost center asked for.
        cost_center: String,
    },
    /// An amount does not fit Butler's exact decimals (28 digits); nothing
    /// was priced. Rate cards within [`MAX_RATE`] and [`MAX_MARGIN`] never
    /// get here with a valid spec.
    #[error("rate card {card}: the {what} overflows exact decimal arithmetic")]
    Overflow {
        /// Card version.
        card: String,
        /// Which amount (a line's item, the subtotal, the margin, the total).
        what: String,
    },
    /// A card is malformed.
    #[error("rate card {card}: {reason}")]
    InvalidCard {
        /// Card version.
        card: String,
        /// What is wrong.
        reason: String,
    },
}

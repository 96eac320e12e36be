use super::CostError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The period a rate is quoted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Per hour: × 720 to the 30-day month.
    Hour,
    /// Per day: × 30.
    Day,
    /// Per 30-day month: × 1.
    Month,
}

impl Period {
    /// How many of this period make the 30-day month.
    pub fn per_month(self) -> Decimal {
        match self {
            Period::Hour => Decimal::from(720),
            Period::Day => Decimal::from(30),
            Period::Month => Decimal::ONE,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
        })
    }
}

/// A price per unit per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Price per unit, in the card's currency.
    pub amount: Decimal,
    /// Period the price is for.
    pub per: Period,
}

pub use crate::limits::{MAX_MARGIN, MAX_RATE};

impl Rate {
    /// The price per unit per 30-day month, or `None` when it does not fit
    /// exact decimal arithmetic.
    pub fn monthly(&self) -> Option<Decimal> {
        self.amount.checked_mul(self.per.per_month())
    }
}

/// Rates per resource. `None` means "not priced here" (a cost-center table
/// then falls back to the card's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rates {
    /// Per vCPU.
    pub vcpu: Option<Rate>,
    /// Per GiB of RAM.
    pub ram_gib: Option<Rate>,
    /// Per GiB of disk, by disk type code.
    pub disk_gib: BTreeMap<String, Rate>,
    /// Per GiB of storage with local snapshot copies.
    pub backup_local_gib: Option<Rate>,
    /// Per GiB of storage replicated to the remote site.
    pub backup_remote_gib: Option<Rate>,
    /// Per CD-ROM drive.
    pub cdrom: Option<Rate>,
    /// Per NIC.
    pub nic: Option<Rate>,
    /// Per VM cloned from a boot image.
    pub image: Option<Rate>,
}

/// What to do when the card has no rate for a requested resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnpricedPolicy {
    /// Refuse the estimate with [`CostError::MissingRate`].
    #[default]
    Error,
    /// Add an explicit zero line marked unpriced.
    Zero,
}

/// One version of the prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateCard {
    /// Version label, unique in a book (e.g. `2026-07`).
    pub version: String,
    /// First day the card applies.
    pub effective_from: NaiveDate,
    /// Currency code (e.g. `UF`, `USD`).
    pub currency: String,
    /// Optional margin: the total is multiplied by (1 + margin); `0.10` is +10 %.
    #[serde(default)]
    pub margin: Option<Decimal>,
    /// Unpriced-resource policy.
    #[serde(default)]
    pub unpriced: UnpricedPolicy,
    /// The default rates.
    pub default: Rates,
    /// Per-cost-center overrides.
    #[serde(default)]
    pub cost_centers: BTreeMap<String, Rates>,
    /// Rates for the days a VM stands powered off, where they differ
    /// (showback's actual cost): an item priced here replaces the cost
    /// center's and the default rate on those days; an item not priced
    /// here costs what it costs powered on. Estimates never use them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub powered_off: Option<Rates>,
}

/// A set of rate cards, ordered by effective date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateBook {
    cards: Vec<RateCard>,
}

#[derive(Deserialize)]
struct RateBookFile {
    rate_cards: Vec<RateCard>,
}

impl RateBook {
    /// Checks and orders the cards: versions and effective dates unique,
    /// amounts and margin not negative.
    pub fn new(mut cards: Vec<RateCard>) -> Result<RateBook, CostError> {
        use crate::limits::MAX_CATALOG_ENTRIES;
        let too_many = |what: &str, card: &str, n: usize| CostError::InvalidCard {
            card: card.to_string(),
            reason: format!("{n} {what}; at most {MAX_CATALOG_ENTRIES}"),
        };
        if cards.len() > MAX_CATALOG_ENTRIES {
            return Err(too_many("rate cards", "(book)", cards.len()));
        }
        let mut versions = BTreeSet::new();
        let mut dates = BTreeSet::new();
        for c in &cards {
            let card = || -> String { c.version.chars().take(crate::limits::ECHO_CHARS).collect() };
            let bad = |reason: String| CostError::InvalidCard {
                card: card(),
                reason,
            };
            if c.cost_centers.len() > MAX_CATALOG_ENTRIES {
                return Err(too_many(
                    "cost-center overrides",
                    &card(),
                    c.cost_centers.len(),
                ));
            }
            let keys = std::iter::once(("version", c.version.as_str()))
                .chain(std::iter::once(("currency", c.currency.as_str())))
                .chain(c.cost_centers.keys().map(|k| ("cost center", k.as_str())))
                .chain(
                    std::iter::once(&c.default)
                        .chain(c.powered_off.iter())
                        .chain(c.cost_centers.values())
                        .flat_map(|r| r.disk_gib.keys())
                        .map(|k| ("disk type", k.as_str())),
                );
            for (what, text) in keys {
                if let Some(problem) = crate::catalog::code_text_problem(text) {
                    return Err(bad(format!("{what} {problem}")));
                }
            }
            if c.version.trim().is_empty() || c.currency.trim().is_empty() {
                return Err(bad("version and currency must not be empty".into()));
            }
            if !versions.insert(c.version.clone()) {
                return Err(bad("version is used by another card".into()));
            }
            if !dates.insert(c.effective_from) {
                return Err(bad(format!(
                    "another card also takes effect on {}",
                    c.effective_from
                )));
            }
            if c.margin.is_some_and(|m| m.is_sign_negative()) {
                return Err(bad("margin is negative".into()));
            }
            if let Some(m) = c.margin.filter(|m| *m > MAX_MARGIN) {
                return Err(bad(format!("margin {m} is above the limit {MAX_MARGIN}")));
            }
            for (scope, rates) in std::iter::once(("default", &c.default))
                .chain(c.powered_off.iter().map(|r| ("powered-off", r)))
                .chain(c.cost_centers.iter().map(|(k, v)| (k.as_str(), v)))
            {
                for (item, r) in rates.all() {
                    if r.amount.is_sign_negative() {
                        return Err(bad(format!("the {scope} rate for {item} is negative")));
                    }
                    if r.amount > MAX_RATE {
                        return Err(bad(format!(
                            "the {scope} rate for {item} ({}) is above the limit {MAX_RATE} per {:?}",
                            r.amount, r.per
                        )));
                    }
                }
            }
        }
        cards.sort_by_key(|c| c.effective_from);
        Ok(RateBook { cards })
    }

    /// A book of `cards` as given, without the load-time checks (tests of
    /// the estimator's own overflow handling).
    #[cfg(test)]
    pub(crate) fn unchecked(cards: Vec<RateCard>) -> RateBook {
        RateBook { cards }
    }

    /// Parses `[[rate_cards]]` tables from TOML.
    pub fn from_toml_str(text: &str) -> Result<RateBook, CostError> {
        if text.len() > crate::limits::MAX_CONFIG_BYTES {
            return Err(CostError::InvalidCard {
                card: "(file)".into(),
                reason: format!(
                    "{} bytes; a rate-card file has at most {}",
                    text.len(),
                    crate::limits::MAX_CONFIG_BYTES
                ),
            });
        }
        let f: RateBookFile = toml::from_str(text).map_err(|e| CostError::InvalidCard {
            card: "(file)".into(),
            reason: e.to_string(),
        })?;
        RateBook::new(f.rate_cards)
    }

    /// The card in force on `date`.
    pub fn in_force(&self, date: NaiveDate) -> Result<&RateCard, CostError> {
        self.cards
            .iter()
            .rev()
            .find(|c| c.effective_from <= date)
            .ok_or(CostError::NoCardInForce {
                date,
                earliest: self.cards.first().map(|c| c.effective_from),
            })
    }

    /// The cards, oldest first.
    pub fn cards(&self) -> &[RateCard] {
        &self.cards
    }
}

impl Rates {
    fn all(&self) -> impl Iterator<Item = (String, &Rate)> {
        let fixed = [
            ("vcpu", &self.vcpu),
            ("ram_gib", &self.ram_gib),
            ("backup_local_gib", &self.backup_local_gib),
            ("backup_remote_gib", &self.backup_remote_gib),
            ("cdrom", &self.cdrom),
            ("nic", &self.nic),
            ("image", &self.image),
        ];
        fixed
            .into_iter()
            .filter_map(|(k, r)| r.as_ref().map(|r| (k.to_string(), r)))
            .chain(
                self.disk_gib
                    .iter()
                    .map(|(k, r)| (format!("disk_gib.{k}"), r)),
            )
    }
}

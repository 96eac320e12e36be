//! The pricing of VM lives over a period, and the sums.

use super::{
    Causes, Month, Showback, ShowbackError, Subtotal, Unpriced, VmLife, VmMonth, VmShowback,
    MAX_MONTHS, SCALE,
};
use crate::cost::{RateBook, RateCard, Sizing};
use ahash::AHashMap as HashMap;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;

/// Prices every life in `lives` over the months `from` to `to` on `book`
/// (the module's rule), and sums. A VM the book cannot price (a card
/// without a rate it needs, no card in force) is listed in
/// [`Showback::unpriced`] and left out of every sum.
pub fn compute(
    lives: &[VmLife],
    book: &RateBook,
    from: Month,
    to: Month,
) -> Result<Showback, ShowbackError> {
    let p = price(lives, book, from, to)?;
    summed(from, to, p.currency, p.vms, p.unpriced)
}

/// Every VM's lines, before the sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    /// The currency of the cards in force.
    pub currency: Option<String>,
    /// Each VM that existed in the period, in the order of `lives`.
    pub vms: Vec<VmShowback>,
    /// VMs that could not be priced.
    pub unpriced: Vec<Unpriced>,
}

/// The lines of every life in `lives` from `from` to `to` ([`compute`]
/// without the sums).
pub fn price(
    lives: &[VmLife],
    book: &RateBook,
    from: Month,
    to: Month,
) -> Result<Priced, ShowbackError> {
    let months = months(from, to)?;
    let cards = book.cards();
    let currency = currency(cards, from, to)?;
    let mut vms = Vec::new();
    let mut unpriced = Vec::new();
    for life in lives {
        match price_life(life, cards, &months) {
            Ok(Some(priced)) => vms.push(priced),
            Ok(None) => {}
            Err(reason) => unpriced.push(Unpriced {
                vm: life.vm,
                name: life.name.clone(),
                reason,
            }),
        }
    }
    Ok(Priced {
        currency,
        vms,
        unpriced,
    })
}

/// The report of VM lines `vms` (each VM once, its months in order):
/// sorted by VM, with every subtotal an exact sum of the lines.
pub fn summed(
    from: Month,
    to: Month,
    currency: Option<String>,
    mut vms: Vec<VmShowback>,
    mut unpriced: Vec<Unpriced>,
) -> Result<Showback, ShowbackError> {
    vms.sort_by_key(|v| v.vm);
    unpriced.sort_by_key(|u| u.vm);
    let mut sums = Sums::default();
    for v in &vms {
        sums.add(v)?;
    }
    let sums = sums.into_sums()?;
    Ok(Showback {
        from,
        to,
        currency,
        vms,
        by_month: sums.0,
        by_cost_center: sums.1,
        by_division: sums.2,
        by_unit: sums.3,
        actual: sums.4,
        estimate: sums.5,
        unpriced,
    })
}

/// The months from `from` to `to`, both included, or why that is not a
/// period a report covers (reversed, longer than [`MAX_MONTHS`]).
pub fn months(from: Month, to: Month) -> Result<Vec<Month>, ShowbackError> {
    if to < from {
        return Err(ShowbackError::Reversed { from, to });
    }
    let mut out = vec![from];
    let mut m = from;
    while m < to {
        if out.len() as u32 >= MAX_MONTHS {
            let mut count = out.len() as u32;
            while let Some(n) = m.next().filter(|n| *n <= to) {
                m = n;
                count = count.saturating_add(1);
            }
            return Err(ShowbackError::TooLong {
                months: count,
                max: MAX_MONTHS,
            });
        }
        match m.next() {
            Some(n) => {
                m = n;
                out.push(n);
            }
            None => break,
        }
    }
    Ok(out)
}

/// The one currency of `book`'s cards in force from `from` to `to`
/// (`None`: no card is), or [`ShowbackError::MixedCurrencies`].
pub fn currency_of(
    book: &RateBook,
    from: Month,
    to: Month,
) -> Result<Option<String>, ShowbackError> {
    currency(book.cards(), from, to)
}

/// The one currency of the cards in force in the period.
fn currency(cards: &[RateCard], from: Month, to: Month) -> Result<Option<String>, ShowbackError> {
    let (first, last) = (from.first(), to.last());
    let in_force_at_start = cards.iter().rposition(|c| c.effective_from <= first);
    let used = cards.iter().enumerate().filter(|(i, c)| {
        Some(*i) == in_force_at_start || (c.effective_from > first && c.effective_from <= last)
    });
    let mut currency: Option<&str> = None;
    for (_, c) in used {
        match currency {
            Some(cur) if cur != c.currency => {
                return Err(ShowbackError::MixedCurrencies {
                    from,
                    to,
                    first: cur.to_string(),
                    second: c.currency.clone(),
                })
            }
            _ => currency = Some(&c.currency),
        }
    }
    Ok(currency.map(str::to_string))
}

/// Monthly prices already worked out for one VM, by sizing, card and
/// power: a VM has few of each, so a short list beats a map; the first
/// few live on the stack (a million VMs, a million allocations saved).
#[derive(Default)]
struct Prices {
    first: [((usize, usize, bool), Decimal); 4],
    len: usize,
    more: Vec<((usize, usize, bool), Decimal)>,
}

impl Prices {
    fn get(
        &mut self,
        sizing: &Arc<Sizing>,
        cards: &[RateCard],
        card: usize,
        on: bool,
    ) -> Result<Decimal, String> {
        let key = (Arc::as_ptr(sizing) as usize, card, on);
        let known = self.first[..self.len].iter().chain(&self.more);
        if let Some((_, p)) = known.into_iter().find(|(k, _)| *k == key) {
            return Ok(*p);
        }
        let c = cards.get(card).ok_or("no rate card")?;
        let p = sizing.monthly(c, on).map_err(|e| e.to_string())?;
        match self.first.get_mut(self.len) {
            Some(slot) => {
                *slot = (key, p);
                self.len += 1;
            }
            None => self.more.push((key, p)),
        }
        Ok(p)
    }
}

/// Month amounts are kept as (monthly price × days) until the month is
/// done, then divided by 30 and rounded once.
#[derive(Default)]
struct MonthSum {
    days: u32,
    days_off: u32,
    actual: Decimal,
    resizes: Decimal,
    rate_cards: Decimal,
    powered_off: Decimal,
}

fn overflow() -> String {
    "its cost overflows exact decimal arithmetic".to_string()
}

fn add_times(sum: &mut Decimal, amount: Decimal, days: u32) -> Result<(), String> {
    *sum = amount
        .checked_mul(Decimal::from(days))
        .and_then(|a| sum.checked_add(a))
        .ok_or_else(overflow)?;
    Ok(())
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, String> {
    a.checked_sub(b).ok_or_else(overflow)
}

fn month_amount(day_months: Decimal) -> Decimal {
    // Most causes are nothing; a decimal division is not.
    if day_months.is_zero() {
        return Decimal::ZERO;
    }
    (day_months / Decimal::from(30))
        .round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero)
}

/// The index of the card in force on `day`.
fn card_on(cards: &[RateCard], day: NaiveDate) -> Option<usize> {
    cards.iter().rposition(|c| c.effective_from <= day)
}

fn price_life(
    life: &VmLife,
    cards: &[RateCard],
    months: &[Month],
) -> Result<Option<VmShowback>, String> {
    let (Some(first), Some(period_end)) = (life.spans.first(), months.last()) else {
        return Ok(None);
    };
    let born = first.from;
    let gone = life.last_day.unwrap_or(NaiveDate::MAX);
    if born > period_end.last() || months.first().is_some_and(|m| gone < m.first()) {
        return Ok(None);
    }
    let promised = match &life.promise {
        Some(p) => {
            let card = cards
                .iter()
                .position(|c| c.version == p.card_version)
                .or_else(|| card_on(cards, born))
                .ok_or("no rate card was in force when it was made")?;
            Some((p.monthly, card))
        }
        None => None,
    };
    let mut prices = Prices::default();
    let mut out = Vec::new();
    for &month in months {
        let lo = month.first().max(born);
        let hi = month.last().min(gone);
        if lo > hi {
            continue;
        }
        let mut sum = MonthSum::default();
        let mut day = lo;
        while day <= hi {
            let si = life.spans.partition_point(|s| s.from <= day) - 1;
            let span = &life.spans[si];
            let ci =
                card_on(cards, day).ok_or_else(|| format!("no rate card is in force on {day}"))?;
            let mut end = hi;
            if let Some(next) = life.spans.get(si + 1) {
                end = end.min(next.from.pred_opt().unwrap_or(next.from));
            }
            if let Some(next) = cards.get(ci + 1) {
                end = end.min(
                    next.effective_from
                        .pred_opt()
                        .unwrap_or(next.effective_from),
                );
            }
            let days = u32::try_from((end - day).num_days() + 1).unwrap_or(u32::MAX);
            let actual = prices.get(&span.sizing, cards, ci, span.on)?;
            add_times(&mut sum.actual, actual, days)?;
            sum.days += days;
            if !span.on {
                sum.days_off += days;
            }
            if let Some((_, ce)) = promised {
                let on_now = prices.get(&span.sizing, cards, ci, true)?;
                let on_then = prices.get(&span.sizing, cards, ce, true)?;
                let made_then = prices.get(&first.sizing, cards, ce, true)?;
                add_times(&mut sum.resizes, sub(on_then, made_then)?, days)?;
                add_times(&mut sum.rate_cards, sub(on_now, on_then)?, days)?;
                add_times(&mut sum.powered_off, sub(actual, on_now)?, days)?;
            }
            match end.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        let actual = month_amount(sum.actual);
        let (estimate, causes) = match promised {
            Some((monthly, _)) => {
                let days_part = monthly
                    .checked_mul(Decimal::from(sum.days))
                    .map(month_amount)
                    .ok_or_else(overflow)?;
                let mut c = Causes {
                    days: sub(days_part, monthly)?,
                    resizes: month_amount(sum.resizes),
                    rate_cards: month_amount(sum.rate_cards),
                    powered_off: month_amount(sum.powered_off),
                    other: Decimal::ZERO,
                };
                let explained = [c.days, c.resizes, c.rate_cards, c.powered_off]
                    .into_iter()
                    .try_fold(Decimal::ZERO, Decimal::checked_add)
                    .ok_or_else(overflow)?;
                c.other = sub(sub(actual, monthly)?, explained)?;
                (Some(monthly), Some(c))
            }
            None => (None, None),
        };
        out.push(VmMonth {
            month,
            days: sum.days,
            days_off: sum.days_off,
            actual,
            estimate,
            causes,
        });
    }
    Ok(Some(VmShowback {
        vm: life.vm,
        name: life.name.clone(),
        owner: life.owner.clone(),
        cost_center: life.cost_center.clone(),
        division: life.division.clone(),
        unit: life.unit.clone(),
        request: life.request,
        storage_unpriced: life.spans.iter().any(|s| s.sizing.disk_type.is_none()),
        months: out,
    }))
}

#[derive(Default)]
struct Sum {
    vms: u64,
    actual: Decimal,
    estimate: Decimal,
}

impl Sum {
    fn add(&mut self, m: &VmMonth) -> Result<(), ShowbackError> {
        let over = |what: &str| ShowbackError::Overflow {
            what: what.to_string(),
        };
        self.vms += 1;
        self.actual = self
            .actual
            .checked_add(m.actual)
            .ok_or_else(|| over("actual sum"))?;
        if let Some(e) = m.estimate {
            self.estimate = self
                .estimate
                .checked_add(e)
                .ok_or_else(|| over("estimate sum"))?;
        }
        Ok(())
    }
}

/// The running subtotals, keyed by month and the lines' own texts.
#[derive(Default)]
struct Sums<'a> {
    month: HashMap<Month, Sum>,
    cost_center: HashMap<(Month, &'a str), Sum>,
    division: HashMap<(Month, &'a str), Sum>,
    unit: HashMap<(Month, &'a str, &'a str), Sum>,
}

fn total(
    subtotals: &[Subtotal],
    part: impl Fn(&Subtotal) -> Decimal,
) -> Result<Decimal, ShowbackError> {
    subtotals
        .iter()
        .try_fold(Decimal::ZERO, |sum, s| sum.checked_add(part(s)))
        .ok_or_else(|| ShowbackError::Overflow {
            what: "total".into(),
        })
}

/// Per month, cost center, division and unit, and the two totals.
type Families = (
    Vec<Subtotal>,
    Vec<Subtotal>,
    Vec<Subtotal>,
    Vec<Subtotal>,
    Decimal,
    Decimal,
);

impl<'a> Sums<'a> {
    fn add(&mut self, v: &'a VmShowback) -> Result<(), ShowbackError> {
        for m in &v.months {
            self.month.entry(m.month).or_default().add(m)?;
            let cc = (m.month, v.cost_center.as_str());
            self.cost_center.entry(cc).or_default().add(m)?;
            let div = (m.month, v.division.as_str());
            self.division.entry(div).or_default().add(m)?;
            let unit = (m.month, v.division.as_str(), v.unit.as_str());
            self.unit.entry(unit).or_default().add(m)?;
        }
        Ok(())
    }

    fn into_sums(self) -> Result<Families, ShowbackError> {
        fn line(month: Month, key: String, s: Sum) -> Subtotal {
            Subtotal {
                month,
                key,
                vms: s.vms,
                actual: s.actual,
                estimate: s.estimate,
            }
        }
        fn sorted(mut v: Vec<Subtotal>) -> Vec<Subtotal> {
            v.sort_by(|a, b| (a.month, &a.key).cmp(&(b.month, &b.key)));
            v
        }
        let by_month = sorted(
            self.month
                .into_iter()
                .map(|(m, s)| line(m, String::new(), s))
                .collect(),
        );
        let keyed = |map: HashMap<(Month, &str), Sum>| {
            sorted(
                map.into_iter()
                    .map(|((m, k), s)| line(m, k.to_string(), s))
                    .collect(),
            )
        };
        let by_unit = sorted(
            self.unit
                .into_iter()
                .map(|((m, d, u), s)| line(m, format!("{d}/{u}"), s))
                .collect(),
        );
        let actual = total(&by_month, |s| s.actual)?;
        let estimate = total(&by_month, |s| s.estimate)?;
        Ok((
            by_month,
            keyed(self.cost_center),
            keyed(self.division),
            by_unit,
            actual,
            estimate,
        ))
    }
}

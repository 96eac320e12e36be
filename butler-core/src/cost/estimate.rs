use super::card::{Period, Rate, RateBook, RateCard, Rates, UnpricedPolicy};
use super::sizing::Sizing;
use super::CostError;
use crate::vm_spec::ValidSpec;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A priced resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostItem {
    /// vCPUs.
    Vcpu,
    /// GiB of RAM.
    RamGib,
    /// GiB of disk of a disk type.
    DiskGib(String),
    /// GiB of storage with local snapshot copies.
    BackupLocalGib,
    /// GiB of storage replicated remotely.
    BackupRemoteGib,
    /// CD-ROM drive.
    Cdrom,
    /// NICs.
    Nic,
    /// Boot image.
    Image,
}

impl fmt::Display for CostItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CostItem::Vcpu => f.write_str("vCPU"),
            CostItem::RamGib => f.write_str("RAM GiB"),
            CostItem::DiskGib(t) => write!(f, "{t} disk GiB"),
            CostItem::BackupLocalGib => f.write_str("local backup GiB"),
            CostItem::BackupRemoteGib => f.write_str("remote backup GiB"),
            CostItem::Cdrom => f.write_str("CD-ROM"),
            CostItem::Nic => f.write_str("NIC"),
            CostItem::Image => f.write_str("boot image"),
        }
    }
}

/// Where a line's rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateSource {
    /// The cost center's own rate.
    CostCenter,
    /// The card's default rate.
    Default,
    /// No rate; an explicit zero line under [`UnpricedPolicy::Zero`].
    Unpriced,
}

/// One line: rate × period factor × quantity = amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// What is priced.
    pub item: CostItem,
    /// The rate as quoted on the card.
    pub rate: Decimal,
    /// The period it is quoted for.
    pub per: Period,
    /// Periods in the 30-day month (720, 30 or 1).
    pub periods: Decimal,
    /// How many units.
    pub quantity: Decimal,
    /// rate × periods × quantity.
    pub amount: Decimal,
    /// Where the rate came from.
    pub source: RateSource,
}

impl fmt::Display for LineItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source == RateSource::Unpriced {
            return write!(f, "{}: unpriced × {} = 0", self.item, self.quantity);
        }
        write!(
            f,
            "{}: {}/{} × {} × {} = {}",
            self.item,
            self.rate.normalize(),
            self.per,
            self.periods,
            self.quantity,
            self.amount.normalize()
        )
    }
}

/// A monthly estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// Version of the card used.
    pub card_version: String,
    /// Currency of every amount.
    pub currency: String,
    /// Cost center priced for.
    pub cost_center: String,
    /// Line items, in a fixed order.
    pub lines: Vec<LineItem>,
    /// Sum of the lines.
    pub subtotal: Decimal,
    /// Margin rate applied, if any.
    pub margin: Option<Decimal>,
    /// subtotal × margin.
    pub margin_amount: Decimal,
    /// subtotal + margin amount.
    pub total: Decimal,
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "monthly estimate (30 days, card {}, cost center {}):",
            self.card_version, self.cost_center
        )?;
        for l in &self.lines {
            writeln!(f, "  {l}")?;
        }
        if let Some(m) = self.margin {
            writeln!(
                f,
                "  margin {} × {} = {}",
                m.normalize(),
                self.subtotal.normalize(),
                self.margin_amount.normalize()
            )?;
        }
        write!(f, "  total {} {}", self.total.normalize(), self.currency)
    }
}

/// Estimates the monthly cost of `spec` with the card in force on `date`.
///
/// ```
/// use butler_core::{cost, demo, vm_spec::validate};
/// use chrono::NaiveDate;
/// let spec = validate(&demo::spec("web01"), &demo::catalog()).unwrap();
/// let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
/// let e = cost::estimate(&spec, &demo::rate_book(), day).unwrap();
/// assert_eq!(e.card_version, "2026-01");
/// assert_eq!(e.total, e.lines.iter().map(|l| l.amount).sum());
/// ```
pub fn estimate(spec: &ValidSpec, book: &RateBook, date: NaiveDate) -> Result<Estimate, CostError> {
    let card = book.in_force(date)?;
    let sizing = Sizing::of(spec);
    let cc = sizing.cost_center.as_str();
    let wanted = sizing.items();
    let mut lines = Vec::with_capacity(wanted.len());
    for (item, quantity) in wanted {
        lines.push(price(card, cc, item, quantity)?);
    }
    let cc = cc.to_string();
    let overflow = |what: &str| CostError::Overflow {
        card: card.version.clone(),
        what: what.to_string(),
    };
    let subtotal = lines
        .iter()
        .try_fold(Decimal::ZERO, |sum, l| sum.checked_add(l.amount))
        .ok_or_else(|| overflow("subtotal"))?;
    let margin_amount = match card.margin {
        Some(m) => subtotal.checked_mul(m).ok_or_else(|| overflow("margin"))?,
        None => Decimal::ZERO,
    };
    let total = subtotal
        .checked_add(margin_amount)
        .ok_or_else(|| overflow("total"))?;
    Ok(Estimate {
        card_version: card.version.clone(),
        currency: card.currency.clone(),
        cost_center: cc,
        lines,
        subtotal,
        margin: card.margin,
        margin_amount,
        total,
    })
}

fn lookup<'a>(rates: &'a Rates, item: &CostItem) -> Option<&'a Rate> {
    super::sizing::Item::of(item).rate(rates)
}

fn price(
    card: &RateCard,
    cc: &str,
    item: CostItem,
    quantity: Decimal,
) -> Result<LineItem, CostError> {
    let own = card.cost_centers.get(cc).and_then(|r| lookup(r, &item));
    let found = match own {
        Some(r) => Some((r, RateSource::CostCenter)),
        None => lookup(&card.default, &item).map(|r| (r, RateSource::Default)),
    };
    match found {
        Some((rate, source)) => {
            let Some(amount) = rate.monthly().and_then(|m| m.checked_mul(quantity)) else {
                return Err(CostError::Overflow {
                    card: card.version.clone(),
                    what: format!("{item} line"),
                });
            };
            Ok(LineItem {
                item,
                rate: rate.amount,
                per: rate.per,
                periods: rate.per.per_month(),
                quantity,
                amount,
                source,
            })
        }
        None if card.unpriced == UnpricedPolicy::Zero => Ok(LineItem {
            item,
            rate: Decimal::ZERO,
            per: Period::Month,
            periods: Decimal::ONE,
            quantity,
            amount: Decimal::ZERO,
            source: RateSource::Unpriced,
        }),
        None => Err(CostError::MissingRate {
            card: card.version.clone(),
            item,
            cost_center: cc.to_string(),
        }),
    }
}

/// How one line changed between two estimates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDelta {
    /// The item.
    pub item: CostItem,
    /// Amount before (`None`: the line did not exist).
    pub before: Option<Decimal>,
    /// Amount after (`None`: the line is gone).
    pub after: Option<Decimal>,
    /// after − before.
    pub delta: Decimal,
}

/// The difference of two estimates, line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstimateDiff {
    /// Lines whose amount changed, appeared or disappeared.
    pub lines: Vec<LineDelta>,
    /// Total before.
    pub total_before: Decimal,
    /// Total after.
    pub total_after: Decimal,
    /// total_after − total_before.
    pub delta: Decimal,
}

impl Estimate {
    /// The line-by-line difference from `self` (before) to `after`; lines
    /// with equal amounts are left out.
    pub fn diff(&self, after: &Estimate) -> EstimateDiff {
        let mut lines = Vec::new();
        let find = |e: &Estimate, item: &CostItem| {
            e.lines.iter().find(|l| &l.item == item).map(|l| l.amount)
        };
        let mut items: Vec<&CostItem> = self.lines.iter().map(|l| &l.item).collect();
        items.extend(
            after
                .lines
                .iter()
                .map(|l| &l.item)
                .filter(|i| find(self, i).is_none()),
        );
        for item in items {
            let (b, a) = (find(self, item), find(after, item));
            if b != a {
                lines.push(LineDelta {
                    item: item.clone(),
                    before: b,
                    after: a,
                    delta: a.unwrap_or_default() - b.unwrap_or_default(),
                });
            }
        }
        EstimateDiff {
            lines,
            total_before: self.total,
            total_after: after.total,
            delta: after.total - self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;
    use crate::vm_spec::{validate, VmSpec};
    use rust_decimal_macros::dec;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn normalises_periods_to_thirty_days_exactly() {
        let v = validate(&demo::spec("a"), &demo::catalog()).unwrap();
        let e = estimate(&v, &demo::rate_book(), day(2026, 2, 1)).unwrap();
        let line = |i: CostItem| e.lines.iter().find(|l| l.item == i).unwrap().clone();
        // 0.0015 UF/h × 720 × 2 vCPU
        assert_eq!(line(CostItem::Vcpu).amount, dec!(2.16));
        // 0.02 UF/day × 30 × 4 GiB
        assert_eq!(line(CostItem::RamGib).amount, dec!(2.4));
        // 0.003 UF/month × 50 GiB
        assert_eq!(line(CostItem::DiskGib("SSD".into())).amount, dec!(0.15));
        assert_eq!(line(CostItem::BackupLocalGib).amount, dec!(0.025));
        assert_eq!(line(CostItem::BackupRemoteGib).amount, dec!(0.05));
        assert_eq!(line(CostItem::Cdrom).amount, dec!(0));
        assert_eq!(line(CostItem::Nic).amount, dec!(0.05));
        assert_eq!(e.total, dec!(4.835));
        assert_eq!(e.margin, None);
        assert_eq!(
            line(CostItem::Vcpu).to_string(),
            "vCPU: 0.0015/hour × 720 × 2 = 2.16"
        );
    }

    #[test]
    fn chooses_card_in_force_applies_margin_and_cost_center_rates() {
        let book = demo::rate_book();
        let v = validate(&demo::spec("a"), &demo::catalog()).unwrap();
        assert_eq!(
            estimate(&v, &book, day(2026, 6, 30)).unwrap().card_version,
            "2026-01"
        );
        let e = estimate(&v, &book, day(2026, 7, 1)).unwrap();
        assert_eq!(e.card_version, "2026-07");
        // vCPU 0.002 × 720 × 2 = 2.88; the rest as in January: 2.675
        assert_eq!(e.subtotal, dec!(5.555));
        assert_eq!(e.margin_amount, dec!(0.5555));
        assert_eq!(e.total, dec!(6.1105));
        let ops = validate(
            &VmSpec {
                unit: "OPS".into(),
                ..demo::spec("a")
            },
            &demo::catalog(),
        )
        .unwrap();
        let e = estimate(&ops, &book, day(2026, 7, 1)).unwrap();
        let vcpu = e.lines.iter().find(|l| l.item == CostItem::Vcpu).unwrap();
        assert_eq!(
            (vcpu.source, vcpu.amount),
            (RateSource::CostCenter, dec!(1.44))
        );
        let ram = e.lines.iter().find(|l| l.item == CostItem::RamGib).unwrap();
        assert_eq!(ram.source, RateSource::Default);
        assert!(matches!(
            estimate(&v, &book, day(2025, 12, 31)),
            Err(CostError::NoCardInForce {
                earliest: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn unpriced_items_are_an_error_or_an_explicit_zero_line() {
        let mut cards = demo::rate_book().cards().to_vec();
        cards[0].default.disk_gib.remove("SSD");
        let book = RateBook::new(cards.clone()).unwrap();
        let v = validate(&demo::spec("a"), &demo::catalog()).unwrap();
        let err = estimate(&v, &book, day(2026, 2, 1)).unwrap_err();
        assert_eq!(
            err,
            CostError::MissingRate {
                card: "2026-01".into(),
                item: CostItem::DiskGib("SSD".into()),
                cost_center: "CC-1001".into()
            }
        );
        cards[0].unpriced = UnpricedPolicy::Zero;
        let e = estimate(&v, &RateBook::new(cards).unwrap(), day(2026, 2, 1)).unwrap();
        let disk = e
            .lines
            .iter()
            .find(|l| l.item == CostItem::DiskGib("SSD".into()))
            .unwrap();
        assert_eq!((disk.source, disk.amount), (RateSource::Unpriced, dec!(0)));
    }

    #[test]
    fn diff_shows_changed_added_and_removed_lines() {
        let cat = demo::catalog();
        let book = demo::rate_book();
        let before = estimate(
            &validate(&demo::spec("a"), &cat).unwrap(),
            &book,
            day(2026, 2, 1),
        )
        .unwrap();
        let bigger = VmSpec {
            ram_gib: 8,
            cdrom: false,
            image: Some("rhel9".into()),
            ..demo::spec("a")
        };
        let after = estimate(&validate(&bigger, &cat).unwrap(), &book, day(2026, 2, 1)).unwrap();
        let d = before.diff(&after);
        let items: Vec<_> = d
            .lines
            .iter()
            .map(|l| (l.item.clone(), l.before, l.after))
            .collect();
        assert!(items.contains(&(CostItem::RamGib, Some(dec!(2.4)), Some(dec!(4.8)))));
        assert!(items.contains(&(CostItem::Cdrom, Some(dec!(0)), None)));
        assert!(items.contains(&(CostItem::Image, None, Some(dec!(0.2)))));
        assert!(!items.iter().any(|(i, _, _)| *i == CostItem::Vcpu));
        assert_eq!(d.delta, after.total - before.total);
        assert_eq!(d.lines.iter().map(|l| l.delta).sum::<Decimal>(), d.delta);
    }

    #[test]
    fn rate_book_checks_cards_and_loads_toml() {
        let mut cards = demo::rate_book().cards().to_vec();
        cards[1].effective_from = cards[0].effective_from;
        assert!(matches!(
            RateBook::new(cards),
            Err(CostError::InvalidCard { .. })
        ));
        let book = RateBook::from_toml_str(
            r#"
[[rate_cards]]
version = "v1"
effective_from = "2026-01-01"
currency = "USD"
margin = "0.05"
[rate_cards.default]
vcpu = { amount = "10", per = "month" }
ram_gib = { amount = "0.01", per = "hour" }
disk_gib = { SSD = { amount = "0.1", per = "month" } }
nic = { amount = "0", per = "month" }
backup_local_gib = { amount = "0", per = "month" }
backup_remote_gib = { amount = "0", per = "month" }
cdrom = { amount = "0", per = "month" }
"#,
        )
        .unwrap();
        let v = validate(&demo::spec("a"), &demo::catalog()).unwrap();
        let e = estimate(&v, &book, day(2026, 5, 5)).unwrap();
        // 10×2 + 0.01×720×4 + 0.1×50 = 20 + 28.8 + 5 = 53.8; × 1.05
        assert_eq!(e.total, dec!(56.49));
        assert!(RateBook::from_toml_str("rate_cards = 1").is_err());
    }

    mod overflow {
        use super::super::*;
        use crate::cost::card::{Period, Rate, RateBook, RateCard, Rates, UnpricedPolicy};
        use crate::cost::{CostError, MAX_MARGIN, MAX_RATE};
        use crate::{demo, vm_spec::validate};
        use chrono::NaiveDate;
        use proptest::prelude::*;
        use rust_decimal::Decimal;

        fn amount() -> impl Strategy<Value = Decimal> {
            prop_oneof![
                (0i64..1_000_000, 0u32..6).prop_map(|(m, s)| Decimal::new(m, s)),
                (any::<u32>(), any::<u32>(), any::<u32>(), 0u32..28)
                    .prop_map(|(lo, mid, hi, sc)| Decimal::from_parts(lo, mid, hi, false, sc)),
                Just(Decimal::MAX),
            ]
        }

        fn period() -> impl Strategy<Value = Period> {
            prop_oneof![Just(Period::Hour), Just(Period::Day), Just(Period::Month)]
        }

        fn card(rate: Decimal, per: Period, margin: Option<Decimal>) -> RateCard {
            let r = Some(Rate { amount: rate, per });
            RateCard {
                version: "p".into(),
                effective_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                currency: "UF".into(),
                margin,
                unpriced: UnpricedPolicy::Zero,
                default: Rates {
                    vcpu: r,
                    ram_gib: r,
                    disk_gib: [
                        ("SSD".to_string(), Rate { amount: rate, per }),
                        ("HDD".to_string(), Rate { amount: rate, per }),
                    ]
                    .into(),
                    backup_local_gib: r,
                    backup_remote_gib: r,
                    cdrom: r,
                    nic: r,
                    image: r,
                },
                cost_centers: Default::default(),
                powered_off: None,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            /// Any card, loaded or not, and a spec up to the catalog's limits:
            /// never a panic; an estimate adds up exactly; a loadable card
            /// never overflows.
            #[test]
            fn no_card_and_spec_panic_and_totals_add_up(
                rate in amount(), per in period(), margin in proptest::option::of(amount()),
                ram_pick in any::<u32>(), sockets_pick in any::<u32>(), disks in proptest::collection::vec(any::<u32>(), 1..12),
            ) {
                // Quantities anywhere within the catalog's limits, up to them.
                let limits = demo::catalog().limits;
                let spec = crate::vm_spec::VmSpec {
                    ram_gib: 1 + ram_pick % limits.max_ram_gib,
                    sockets: 1 + sockets_pick % limits.max_sockets,
                    disks_gib: disks.into_iter().map(|d| 64 + d % (limits.max_disk_gib - 64)).collect(),
                    ..demo::spec("p")
                };
                let valid = validate(&spec, &demo::catalog());
                prop_assert!(valid.is_ok(), "{:?}", valid.err());
                let Ok(valid) = valid else { return Ok(()); };
                let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
                let c = card(rate, per, margin);
                let loadable = RateBook::new(vec![c.clone()]).is_ok();
                match estimate(&valid, &RateBook::unchecked(vec![c]), day) {
                    Ok(e) => {
                        let sum = e.lines.iter().try_fold(Decimal::ZERO, |a, l| a.checked_add(l.amount));
                        prop_assert_eq!(Some(e.subtotal), sum);
                        prop_assert_eq!(e.total, e.subtotal + e.margin_amount);
                    }
                    Err(CostError::Overflow { .. }) => prop_assert!(!loadable, "a loadable card overflowed"),
                    Err(other) => prop_assert!(false, "{other}"),
                }
            }
        }

        #[test]
        fn absurd_rates_and_margins_are_refused_when_the_card_is_loaded() {
            assert_eq!(MAX_RATE, Decimal::new(1_000_000_000_000, 0));
            assert_eq!(MAX_MARGIN, Decimal::new(100, 0));
            let huge = Decimal::new(1, 0) * Decimal::from(10u64.pow(13));
            let err = RateBook::new(vec![card(huge, Period::Hour, None)]).unwrap_err();
            assert!(err.to_string().contains("above the limit"), "{err}");
            let err = RateBook::new(vec![card(
                Decimal::ONE,
                Period::Hour,
                Some(Decimal::from(101)),
            )])
            .unwrap_err();
            assert!(
                err.to_string().contains("margin 101 is above the limit"),
                "{err}"
            );
            // An unchecked book with an absurd rate gives a typed error, not a panic.
            let valid = validate(&demo::spec("p"), &demo::catalog()).unwrap();
            let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
            let e = estimate(
                &valid,
                &RateBook::unchecked(vec![card(Decimal::MAX, Period::Hour, None)]),
                day,
            );
            assert!(matches!(e, Err(CostError::Overflow { .. })), "{e:?}");
        }
    }
}

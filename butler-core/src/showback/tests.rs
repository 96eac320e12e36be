use super::*;
use crate::cost::{self, Period, Rate, RateBook, Rates, Sizing};
use crate::demo;
use crate::inventory::{LifeMark, LifeState, VmRecord};
use crate::request::{Request, RequestId};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

/// The demo book, with powered-off days priced without vCPU and RAM on
/// its July card, and a card from mid-October with dearer RAM.
fn book() -> RateBook {
    let mut cards = demo::rate_book().cards().to_vec();
    let mut october = cards[1].clone();
    october.version = "2026-10b".into();
    october.effective_from = day(2026, 10, 15);
    october.default.ram_gib = Some(Rate {
        amount: Decimal::new(5, 2),
        per: Period::Day,
    });
    cards.push(october);
    cards[1].powered_off = Some(Rates {
        vcpu: Some(Rate {
            amount: Decimal::ZERO,
            per: Period::Month,
        }),
        ram_gib: Some(Rate {
            amount: Decimal::ZERO,
            per: Period::Month,
        }),
        ..Rates::default()
    });
    RateBook::new(cards).unwrap()
}

fn sizing(cc: &str, vcpus: u32, ram: u32, storage: u64) -> Arc<Sizing> {
    Arc::new(Sizing {
        cost_center: cc.into(),
        vcpus,
        ram_gib: ram,
        disk_type: Some("SSD".into()),
        storage_gib: storage,
        backup_local: true,
        backup_remote: false,
        cdrom: false,
        nics: 1,
        image: false,
    })
}

/// Prices a life one day at a time, the rule as the module states it.
fn by_day(life: &VmLife, book: &RateBook, m: Month) -> Option<(u32, Decimal)> {
    let mut sum = Decimal::ZERO;
    let mut days = 0;
    let mut d = m.first();
    while d <= m.last() {
        let alive = life.spans[0].from <= d && life.last_day.is_none_or(|l| d <= l);
        if alive {
            let span = life.spans.iter().rev().find(|s| s.from <= d).unwrap();
            let card = book.in_force(d).unwrap();
            sum += span.sizing.monthly(card, span.on).unwrap();
            days += 1;
        }
        d = d.succ_opt().unwrap();
    }
    (days > 0).then(|| {
        let amount = (sum / Decimal::from(30))
            .round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero);
        (days, amount)
    })
}

const CCS: [&str; 3] = ["CC-1001", "CC-2001", "CC-3001"];
const DIVS: [&str; 2] = ["CORP", "RETAIL"];

fn life() -> impl Strategy<Value = VmLife> {
    let span = (0i64..400, 0usize..3, any::<bool>());
    (
        0u64..1_000_000,
        0usize..3,
        0usize..2,
        proptest::collection::vec(span, 1..6),
        proptest::option::of(0i64..120),
        any::<bool>(),
    )
        .prop_map(|(id, cc, div, spans, gone, promised)| {
            let sizes = [
                sizing(CCS[cc], 2, 4, 50),
                sizing(CCS[cc], 8, 32, 500),
                sizing(CCS[cc], 1, 1, 10),
            ];
            let start = day(2026, 1, 1);
            let mut froms: Vec<(i64, usize, bool)> = spans;
            froms.sort_by_key(|s| s.0);
            froms.dedup_by_key(|s| s.0);
            let spans: Vec<Span> = froms
                .iter()
                .map(|&(off, s, on)| Span {
                    from: start + Duration::days(off),
                    sizing: sizes[s].clone(),
                    on,
                })
                .collect();
            let last_day = gone.map(|g| spans.last().unwrap().from + Duration::days(g));
            VmLife {
                vm: crate::inventory::VmId(id),
                name: format!("vm{id}"),
                owner: "ana".into(),
                cost_center: CCS[cc].into(),
                division: DIVS[div].into(),
                unit: if id % 2 == 0 { "IT" } else { "OPS" }.into(),
                request: promised.then_some(RequestId(id)),
                promise: promised.then(|| Promise {
                    monthly: sizes[froms[0].1].monthly(&book().cards()[0], true).unwrap(),
                    card_version: "2026-01".into(),
                }),
                spans,
                last_day,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Each VM-month is its days priced one by one; the sums add up to the
    /// last digit at every level; the causes explain the difference exactly.
    #[test]
    fn prices_each_day_and_adds_up(lives in proptest::collection::vec(life(), 0..25), first in 0u32..14, len in 0u32..6) {
        let book = book();
        let mut from = month("2026-01");
        for _ in 0..first { from = from.next().unwrap(); }
        let mut to = from;
        for _ in 0..len { to = to.next().unwrap(); }
        let report = compute(&lives, &book, from, to).unwrap();
        prop_assert!(report.unpriced.is_empty());
        let mut lines = 0;
        for v in &report.vms {
            let life = lives.iter().find(|l| l.vm == v.vm).unwrap();
            for m in &v.months {
                lines += 1;
                let (days, amount) = by_day(life, &book, m.month).unwrap();
                prop_assert_eq!(m.days, days);
                prop_assert_eq!(m.actual, amount, "{} {}", v.vm, m.month);
                if let (Some(e), Some(c)) = (m.estimate, &m.causes) {
                    prop_assert_eq!(c.days + c.resizes + c.rate_cards + c.powered_off + c.other, m.actual - e);
                    // The estimate was made on its card from the first
                    // sizing: what is left is the five roundings only.
                    prop_assert!(c.other.abs() <= Decimal::new(25, 5), "{} {} {:?}", v.vm, m.month, c);
                }
            }
        }
        // Every month a life has a day in is in the report, and no other.
        let mut expected = 0;
        for life in &lives {
            let mut m = from;
            loop {
                expected += usize::from(by_day(life, &book, m).is_some());
                if m == to { break; }
                m = m.next().unwrap();
            }
        }
        prop_assert_eq!(lines, expected);
        let all: Vec<(&VmShowback, &VmMonth)> = report.vms.iter().flat_map(|v| v.months.iter().map(move |m| (v, m))).collect();
        let total: Decimal = all.iter().map(|(_, m)| m.actual).sum();
        prop_assert_eq!(report.actual, total);
        let estimated: Decimal = all.iter().filter_map(|(_, m)| m.estimate).sum();
        prop_assert_eq!(report.estimate, estimated);
        for (family, key) in [
            (&report.by_cost_center, (|v: &VmShowback| v.cost_center.clone()) as fn(&VmShowback) -> String),
            (&report.by_division, |v| v.division.clone()),
            (&report.by_unit, |v| format!("{}/{}", v.division, v.unit)),
            (&report.by_month, |_| String::new()),
        ] {
            prop_assert_eq!(family.iter().map(|s| s.actual).sum::<Decimal>(), report.actual);
            for s in family {
                let mine: Vec<_> = all.iter().filter(|(v, m)| m.month == s.month && key(v) == s.key).collect();
                prop_assert_eq!(s.vms, mine.len() as u64);
                prop_assert_eq!(s.actual, mine.iter().map(|(_, m)| m.actual).sum::<Decimal>());
                prop_assert_eq!(s.estimate, mine.iter().filter_map(|(_, m)| m.estimate).sum::<Decimal>());
            }
        }
    }

    /// The sizing of a request's spec prices on as its estimate does.
    #[test]
    fn sizing_prices_as_the_estimate(cores in 1u32..8, ram in 1u32..64, disk in 1u32..2000, local in any::<bool>(), remote in any::<bool>(), cdrom in any::<bool>(), july in any::<bool>()) {
        let mut spec = demo::spec("web01");
        spec.cores_per_socket = cores;
        spec.ram_gib = ram;
        spec.disks_gib = vec![disk];
        spec.backup_local = local;
        spec.backup_remote = remote;
        spec.cdrom = cdrom;
        let valid = crate::vm_spec::validate(&spec, &demo::catalog()).unwrap();
        let d = if july { day(2026, 7, 3) } else { day(2026, 3, 3) };
        let e = cost::estimate(&valid, &book(), d).unwrap();
        let card = book().in_force(d).unwrap().clone();
        prop_assert_eq!(Sizing::of(&valid).monthly(&card, true).unwrap(), e.total);
    }
}

/// A VM made on 20 June, doubled on 10 July, off from 20 July, retired on
/// 5 August: each cause where it belongs.
#[test]
fn a_life_explained() {
    let book = book();
    let (small, big) = (sizing("CC-1001", 2, 4, 50), sizing("CC-1001", 4, 8, 50));
    let (jan, jul) = (&book.cards()[0], &book.cards()[1]);
    let promised = small.monthly(jan, true).unwrap();
    let life = VmLife {
        vm: crate::inventory::VmId(7),
        name: "web01-r7".into(),
        owner: "ana".into(),
        cost_center: "CC-1001".into(),
        division: "CORP".into(),
        unit: "IT".into(),
        request: Some(RequestId(7)),
        promise: Some(Promise {
            monthly: promised,
            card_version: "2026-01".into(),
        }),
        spans: vec![
            Span {
                from: day(2026, 6, 20),
                sizing: small.clone(),
                on: true,
            },
            Span {
                from: day(2026, 7, 10),
                sizing: big.clone(),
                on: true,
            },
            Span {
                from: day(2026, 7, 20),
                sizing: big.clone(),
                on: false,
            },
        ],
        last_day: Some(day(2026, 8, 5)),
    };
    let r = compute(&[life], &book, month("2026-05"), month("2026-09")).unwrap();
    assert_eq!(r.currency.as_deref(), Some("UF"));
    let months = &r.vms[0].months;
    let names: Vec<String> = months.iter().map(|m| m.month.to_string()).collect();
    assert_eq!(names, ["2026-06", "2026-07", "2026-08"]);
    let thirtieth = |d: Decimal| {
        (d / Decimal::from(30))
            .round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero)
    };
    // June: 11 days as estimated, on the estimate's card.
    let june = &months[0];
    assert_eq!((june.days, june.days_off), (11, 0));
    assert_eq!(june.actual, thirtieth(promised * Decimal::from(11)));
    let c = june.causes.as_ref().unwrap();
    assert_eq!(c.days, thirtieth(promised * Decimal::from(11)) - promised);
    assert_eq!(
        (c.resizes, c.rate_cards, c.powered_off),
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
    );
    // July: 9 days small and 10 big on the July card, 12 off.
    let july = &months[1];
    assert_eq!((july.days, july.days_off), (31, 12));
    let on = |s: &Arc<Sizing>| s.monthly(jul, true).unwrap();
    let want = small.monthly(jul, true).unwrap() * Decimal::from(9)
        + on(&big) * Decimal::from(10)
        + big.monthly(jul, false).unwrap() * Decimal::from(12);
    assert_eq!(july.actual, thirtieth(want));
    let c = july.causes.as_ref().unwrap();
    let resized = (big.monthly(jan, true).unwrap() - promised) * Decimal::from(22);
    assert_eq!(c.resizes, thirtieth(resized));
    assert!(c.rate_cards > Decimal::ZERO, "the July card is dearer");
    assert!(c.powered_off < Decimal::ZERO, "off days cost less");
    // August: five days off, the last the retirement's.
    assert_eq!((months[2].days, months[2].days_off), (5, 5));
    assert_eq!(r.actual, months.iter().map(|m| m.actual).sum::<Decimal>());
}

#[test]
fn a_card_in_another_currency_is_refused_and_a_period_must_run_forward() {
    let mut cards = book().cards().to_vec();
    cards[1].currency = "USD".into();
    let book = RateBook::new(cards).unwrap();
    let err = compute(&[], &book, month("2026-06"), month("2026-07")).unwrap_err();
    assert!(
        matches!(err, ShowbackError::MixedCurrencies { .. }),
        "{err}"
    );
    assert!(compute(&[], &book, month("2026-06"), month("2026-06")).is_ok());
    let err = compute(&[], &book, month("2026-07"), month("2026-06")).unwrap_err();
    assert!(matches!(err, ShowbackError::Reversed { .. }), "{err}");
    let err = compute(&[], &book, month("2000-01"), month("2026-06")).unwrap_err();
    assert_eq!(
        err,
        ShowbackError::TooLong {
            months: 318,
            max: MAX_MONTHS
        }
    );
}

#[test]
fn a_vm_the_card_cannot_price_is_named_and_left_out() {
    let odd = Arc::new(Sizing {
        disk_type: Some("TAPE".into()),
        ..(*sizing("CC-1001", 1, 1, 1)).clone()
    });
    let life = VmLife::steady(1, "odd", odd, day(2026, 3, 1));
    let r = compute(&[life], &book(), month("2026-03"), month("2026-03")).unwrap();
    assert!(r.vms.is_empty());
    assert_eq!(r.unpriced.len(), 1);
    assert!(
        r.unpriced[0].reason.contains("TAPE"),
        "{}",
        r.unpriced[0].reason
    );
    assert_eq!(r.actual, Decimal::ZERO);
}

#[test]
fn months_parse_strictly() {
    assert_eq!(month("2026-03").days(), 31);
    assert_eq!(month("2028-02").days(), 29);
    assert_eq!(month("2026-12").next(), Some(month("2027-01")));
    for bad in [
        "2026-3",
        "2026-13",
        "2026-00",
        "26-03",
        "2026/03",
        "",
        "2026-03-01",
        "+026-03",
    ] {
        assert!(bad.parse::<Month>().is_err(), "{bad}");
    }
    let json = serde_json::to_string(&month("2026-03")).unwrap();
    assert_eq!(json, "\"2026-03\"");
    assert!(serde_json::from_str::<Month>("\"2026-13\"").is_err());
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// The record of demo request 5, made on 1 March at 10:00.
fn record() -> (VmRecord, Request) {
    let r = crate::testing::store::sample_request(RequestId(5), "ana", at(2026, 3, 1, 9));
    let rec = VmRecord::provisioned(crate::inventory::VmId(1), &r, "uuid-1", at(2026, 3, 1, 10));
    (rec, r)
}

fn mark(at: DateTime<Utc>, off: bool, retired: bool, change: Option<RequestId>) -> LifeMark {
    LifeMark {
        at,
        state: LifeState {
            off,
            retired,
            change,
        },
    }
}

#[test]
fn a_day_takes_its_last_state_and_the_retirement_day_the_one_before() {
    let (mut rec, request) = record();
    let small = Arc::new(Sizing::of(&request.spec));
    let big = sizing("CC-1001", 8, 8, 50);
    rec.life = vec![
        // Off and on again the day it was made: that day is on.
        mark(at(2026, 3, 1, 12), true, false, None),
        mark(at(2026, 3, 1, 13), false, false, None),
        // Resized, then off the same day: the day is big and off.
        mark(at(2026, 3, 4, 8), false, false, Some(RequestId(9))),
        mark(at(2026, 3, 4, 9), true, false, Some(RequestId(9))),
        // Retired on the 9th: that day counts, as it stood before.
        mark(at(2026, 3, 9, 9), true, true, Some(RequestId(9))),
    ];
    rec.power = crate::backend::PowerState::Off;
    rec.lifecycle = crate::inventory::Lifecycle::Retired;
    rec.last_change = Some(RequestId(9));
    let life = life_of(&rec, None, |change| match change {
        None => Ok(small.clone()),
        Some(RequestId(9)) => Ok(big.clone()),
        Some(other) => Err(format!("unknown {other}")),
    })
    .unwrap();
    assert_eq!(life.spans.len(), 2, "{:?}", life.spans);
    assert_eq!(
        (life.spans[0].from, life.spans[0].on),
        (day(2026, 3, 1), true)
    );
    assert_eq!(
        (life.spans[1].from, life.spans[1].on),
        (day(2026, 3, 4), false)
    );
    assert!(Arc::ptr_eq(&life.spans[1].sizing, &big));
    assert_eq!(life.last_day, Some(day(2026, 3, 9)));
    let r = compute(&[life], &book(), month("2026-03"), month("2026-03")).unwrap();
    assert_eq!(
        (r.vms[0].months[0].days, r.vms[0].months[0].days_off),
        (9, 6)
    );
}

/// A record changed before marks were kept stands as its last history
/// line says from then on.
#[test]
fn a_record_from_before_marks_ends_as_it_stands() {
    let (mut rec, request) = record();
    rec = rec.next("ana", at(2026, 3, 20, 8), "powered off");
    rec.power = crate::backend::PowerState::Off;
    let marks = rec.life_marks();
    assert_eq!(marks.len(), 2);
    assert_eq!(marks[1], mark(at(2026, 3, 20, 8), true, false, None));
    let small = Arc::new(Sizing::of(&request.spec));
    let life = life_of(&rec, None, |_| Ok(small.clone())).unwrap();
    assert_eq!(life.spans.len(), 2);
    assert!(!life.spans[1].on);
}

/// Every write of a changed record marks it: a power change through the
/// inventory's amend keeps the mark beside the history line.
#[test]
fn note_life_marks_a_change_only() {
    let (rec, _) = record();
    let mut same = rec.next("ana", at(2026, 3, 2, 8), "renamed");
    same.display_name = "other".into();
    same.note_life(&rec);
    assert!(same.life.is_empty());
    let mut off = rec.next("ana", at(2026, 3, 2, 9), "powered off");
    off.power = crate::backend::PowerState::Off;
    off.note_life(&rec);
    assert_eq!(off.life, vec![mark(at(2026, 3, 2, 9), true, false, None)]);
}

/// One CSV line per VM-month, amounts that add up to the report's, and a
/// name that would be a formula written as text.
#[test]
fn csv_lines_add_up_and_never_hold_a_formula() {
    let lives: Vec<VmLife> = (1..=3)
        .map(|i| {
            let name = if i == 2 {
                "=HYPERLINK(\"x\")".to_string()
            } else {
                format!("vm{i}")
            };
            VmLife::steady(i, &name, sizing("CC-1001", 2, 4, 50), day(2026, 2, 10))
        })
        .collect();
    let r = compute(&lives, &book(), month("2026-02"), month("2026-03")).unwrap();
    let csv = to_csv(&r);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], COLUMNS.join(","));
    assert_eq!(lines.len(), 1 + 6);
    assert!(
        lines[3].contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "{}",
        lines[3]
    );
    let actual = COLUMNS.iter().position(|c| *c == "actual").unwrap();
    let sum: Decimal = lines[1..]
        .iter()
        .map(|l| {
            l.rsplit(',')
                .nth(COLUMNS.len() - 1 - actual)
                .unwrap()
                .parse::<Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum, r.actual);
}

fn activation(
    name: &str,
    total: &str,
    from: NaiveDate,
    request: u64,
) -> crate::backend::BillingActivation {
    let spec = crate::vm_spec::validate(&demo::spec("x"), &demo::catalog()).unwrap();
    let mut estimate = cost::estimate(&spec, &demo::rate_book(), from).unwrap();
    estimate.total = total.parse().unwrap();
    crate::backend::BillingActivation {
        vm_name: name.into(),
        vm_uuid: "u".into(),
        cost_center: "CC-1001".into(),
        vcpus: 2,
        ram_gib: 4,
        storage_gib: 50,
        disk_type: "SSD".into(),
        request,
        estimate,
        effective_date: from,
        restores: 0,
    }
}

fn stop(name: &str, end: NaiveDate) -> crate::backend::BillingStop {
    crate::backend::BillingStop {
        vm_name: name.into(),
        vm_uuid: "u".into(),
        cost_center: "CC-1001".into(),
        request: 9,
        end_date: end,
        restores: 0,
    }
}

/// A ledger bills from each start at its total, from each change at the
/// new one, through each stop; a restore bills again; a month with no
/// billed day has no line.
#[test]
fn a_ledger_charges_the_days_it_was_told_of() {
    let entries = vec![
        LedgerEntry::activated(&activation("a", "30", day(2026, 3, 11), 1)),
        LedgerEntry::changed(&activation("a", "60", day(2026, 3, 21), 2)),
        LedgerEntry::stopped(&stop("a", day(2026, 3, 25))),
        // Restored: billed again from the 29th.
        LedgerEntry::activated(&activation("a", "60", day(2026, 3, 29), 3)),
        LedgerEntry::activated(&activation("b", "90", day(2026, 4, 2), 4)),
        // A stop of something never started changes nothing.
        LedgerEntry::stopped(&stop("c", day(2026, 3, 5))),
    ];
    let march = ledger_charges(&entries, month("2026-03"));
    assert_eq!(march.len(), 1);
    // 10 days at 30, 5 at 60, then 3 at 60: (300 + 300 + 180) / 30.
    assert_eq!(march[0].amount, Decimal::from(26));
    assert_eq!(
        (march[0].vm_name.as_str(), march[0].currency.as_str()),
        ("a", "UF")
    );
    let april = ledger_charges(&entries, month("2026-04"));
    let amounts: Vec<(String, Decimal)> = april
        .iter()
        .map(|c| (c.vm_name.clone(), c.amount))
        .collect();
    assert_eq!(
        amounts,
        [
            ("a".into(), Decimal::from(60)),
            ("b".into(), Decimal::from(87))
        ]
    );
    assert!(ledger_charges(&entries, month("2026-02")).is_empty());
}

/// Lines on both sides within the tolerance pass; a difference, a VM
/// billed but not priced, one priced but not billed, another currency are
/// flagged.
#[test]
fn a_comparison_flags_what_differs() {
    let life = |id: u64, name: &str| {
        VmLife::steady(id, name, sizing("CC-1001", 2, 4, 50), day(2026, 3, 1))
    };
    let m = month("2026-03");
    let r = compute(
        &[life(1, "same"), life(2, "differs"), life(3, "unbilled")],
        &book(),
        m,
        m,
    )
    .unwrap();
    let actual = r.vms[0].months[0].actual;
    let charge = |name: &str, amount: Decimal, currency: &str| crate::backend::Charge {
        vm_name: name.into(),
        cost_center: "CC-1001".into(),
        amount,
        currency: currency.into(),
    };
    let charges = vec![
        charge("same", actual + Decimal::new(1, 2), "UF"),
        charge("differs", actual + Decimal::new(2, 2), "UF"),
        charge("stranger", Decimal::ONE, "UF"),
    ];
    let c = compare(&r, m, &charges, TOLERANCE);
    let flags: Vec<(&str, bool)> = c
        .lines
        .iter()
        .map(|l| (l.vm_name.as_str(), l.flagged))
        .collect();
    assert_eq!(
        flags,
        [
            ("differs", true),
            ("same", false),
            ("stranger", true),
            ("unbilled", true)
        ]
    );
    assert_eq!(c.flagged, 3);
    assert_eq!(c.lines[0].difference, Decimal::new(2, 2));
    assert_eq!(c.butler, r.actual);
    let other = compare(&r, m, &[charge("same", actual, "USD")], TOLERANCE);
    assert!(
        other
            .lines
            .iter()
            .find(|l| l.vm_name == "same")
            .unwrap()
            .flagged,
        "another currency"
    );
    let loose = compare(&r, m, &charges[..2], Decimal::ONE);
    assert_eq!(loose.flagged, 1, "only the unbilled VM: {loose:?}");
}

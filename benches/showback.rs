//! Showback (SPEC §14): 1,000,000 VM-months priced and summed, as one
//! month of a million VMs and as a year of 83,334, each VM with its own
//! sizing (as each request has its own spec), one in ten resized in the
//! period and one in seven powered off for part of it, over 50 cost
//! centers, 5 divisions and 20 units, on the demo book (whose card
//! changes on 1 July).
//!
//! `closed_page/sqlite/<n>`: one page (100 lines) of a closed month of `n`
//! VMs (`BUTLER_BENCH_VMS`, default 1,000,000) through
//! `RequestService::showback_page` on the SQLite file store, from the
//! middle of the month (`after` a VM half-way) as an approver and, for an
//! owner of 1,000 VMs, through the owner index.

use butler::cost::Sizing;
use butler::inventory::VmId;
use butler::request::RequestId;
use butler::showback::{compute, Month, Promise, Span, VmLife};
use chrono::{Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal::Decimal;
use std::hint::black_box;
use std::sync::Arc;

fn lives(n: u64, start: NaiveDate, days: u64) -> Vec<VmLife> {
    let book = butler::demo::rate_book();
    (0..n)
        .map(|i| {
            let cc = format!("CC-{}", 1000 + i % 50);
            let sizing = |vcpus: u32| {
                Arc::new(Sizing {
                    cost_center: cc.clone(),
                    vcpus,
                    ram_gib: 4 + (i % 4) as u32 * 4,
                    disk_type: Some("SSD".into()),
                    storage_gib: 50 + i % 200,
                    backup_local: i % 2 == 0,
                    backup_remote: i % 3 == 0,
                    cdrom: false,
                    nics: 1,
                    image: i % 5 == 0,
                })
            };
            let first = sizing(2 + (i % 3) as u32);
            let promise = Promise {
                monthly: first.monthly(&book.cards()[0], true).unwrap_or_default(),
                card_version: "2026-01".into(),
            };
            let at = |d: u64| start.checked_add_days(Days::new(d)).unwrap_or(start);
            let mut spans = vec![Span {
                from: start,
                sizing: first.clone(),
                on: true,
            }];
            if i % 7 == 0 {
                spans.push(Span {
                    from: at(days / 3),
                    sizing: first.clone(),
                    on: false,
                });
            }
            if i % 10 == 0 {
                spans.push(Span {
                    from: at(days / 2),
                    sizing: sizing(8),
                    on: true,
                });
            }
            VmLife {
                vm: VmId(i),
                name: format!("vm{i}-r{i}"),
                owner: "ana".into(),
                cost_center: cc.clone(),
                division: format!("D{}", i % 5),
                unit: format!("U{}", i % 20),
                request: Some(RequestId(i)),
                promise: Some(promise),
                spans,
                last_day: None,
            }
        })
        .collect()
}

fn showback(c: &mut Criterion) {
    let book = butler::demo::rate_book();
    let day = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap_or_default();
    let month = |s: &str| s.parse::<Month>().unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("showback");
    g.sample_size(10);
    for (name, lives, from, to) in [
        (
            "vm_months/1000000x1",
            lives(1_000_000, day(3), 30),
            month("2026-03"),
            month("2026-03"),
        ),
        (
            "vm_months/83334x12",
            lives(83_334, day(1), 360),
            month("2026-01"),
            month("2026-12"),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| compute(black_box(&lives), &book, from, to).map(|r| r.actual))
        });
        let r = compute(&lives, &book, from, to).unwrap_or_else(|e| panic!("{e}"));
        let months: usize = r.vms.iter().map(|v| v.months.len()).sum();
        assert!(months >= 999_990 && r.unpriced.is_empty() && r.actual > Decimal::ZERO);
    }
    g.finish();
}

fn stored() -> u64 {
    std::env::var("BUTLER_BENCH_VMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn closed_page(c: &mut Criterion) {
    use butler::auth::{Actor, Role};
    use butler::showback::ClosedMonth;
    use butler::store::{SqliteStore, Store};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let n = stored();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path().join("butler.db")).unwrap_or_else(|e| panic!("{e}")));
    let book = butler::demo::rate_book();
    let march = "2026-03".parse::<Month>().unwrap_or_else(|e| panic!("{e}"));
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
    rt.block_on(async {
        let mut ls = lives(n, day, 30);
        for l in &mut ls {
            l.owner = format!("u{}", l.vm.0 % 1000);
        }
        let r = compute(&ls, &book, march, march).unwrap_or_else(|e| panic!("{e}"));
        drop(ls);
        let month = ClosedMonth {
            month: march,
            closed_by: "bench".into(),
            closed_at: chrono::Utc::now(),
            currency: r.currency.clone(),
            vms: r.vms.len() as u64,
            actual: r.actual,
            estimate: r.estimate,
            unpriced: Vec::new(),
        };
        store
            .close_month(&month, &r.vms)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    });
    let svc = butler::service::RequestService::new(store, butler::demo::catalog(), book);
    let viewer = Actor::trusted("val", [Role::Viewer]).unwrap_or_else(|e| panic!("{e}"));
    let owner = Actor::trusted("u7", [Role::Requester]).unwrap_or_else(|e| panic!("{e}"));
    let middle = Some(VmId(n / 2));
    let mut g = c.benchmark_group("showback");
    for (name, who) in [
        ("closed_page/sqlite", &viewer),
        ("closed_page_owner/sqlite", &owner),
    ] {
        g.bench_function(format!("{name}/{n}"), |b| {
            b.iter(|| {
                rt.block_on(svc.showback_page(who, march, middle, 100))
                    .map(|p| p.lines.len())
            })
        });
        let page = rt
            .block_on(svc.showback_page(who, march, middle, 100))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.lines.len(), 100);
        assert!(page.closed.is_some());
    }
    g.finish();
}

criterion_group!(benches, showback, closed_page);
criterion_main!(benches);

//! Showback (SPEC §14) through the request service on the simulator: a
//! VM made, powered off and on, resized and retired over six weeks of
//! virtual time is priced day by day as it stood, on the memory and the
//! SQLite store; who sees what; bad periods refused.

mod common;

use butler::auth::{Actor, Role};
use butler::backend::{Clock, PowerChange};
use butler::cost::{Period, Rate, RateBook, Rates, Sizing};
use butler::inventory::PowerRequest;
use butler::request::RequestState;
use butler::showback::{Month, SCALE};
use butler::sim::SimPlatform;
use butler::store::Store;
use butler::ButlerError;
use common::{ana, bea, World};
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;
use std::time::Duration;

fn ada() -> Actor {
    Actor::trusted("ada", [Role::Admin]).unwrap()
}

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

const DAY: Duration = Duration::from_secs(86_400);

/// The demo book, whose January card prices powered-off days without
/// vCPUs.
fn book() -> RateBook {
    let mut cards = butler::demo::rate_book().cards().to_vec();
    cards[0].powered_off = Some(Rates {
        vcpu: Some(Rate {
            amount: Decimal::ZERO,
            per: Period::Month,
        }),
        ..Rates::default()
    });
    RateBook::new(cards).unwrap()
}

async fn power(w: &World, id: butler::inventory::VmId, change: PowerChange) {
    let req = PowerRequest {
        change,
        force_after_deadline: false,
    };
    w.vms.power(&ana(), id, req).await.unwrap();
}

async fn run(w: &World) {
    w.engine(World::engine_config("e"))
        .run_until_idle()
        .await
        .unwrap();
}

/// Made on 5 January; off from the 14th to the 16th; resized on the
/// 22nd (off and on again that day); retired on 10 February.
async fn a_life(store: Arc<dyn Store>) {
    let w = World::new(SimPlatform::demo(7), store);
    w.svc.set_rate_book(&ada(), book()).unwrap();
    let rec = w.provisioned("sb1").await;
    let made = w.get(rec.request.unwrap()).await;
    let clock = w.sim.clock();
    clock.advance(9 * DAY);
    power(&w, rec.id, PowerChange::HardOff).await;
    clock.advance(3 * DAY);
    power(&w, rec.id, PowerChange::On).await;
    clock.advance(5 * DAY);
    let change = w
        .svc
        .reconfigure(&ana(), rec.id, World::changed_spec(&rec), true)
        .await
        .unwrap();
    let change = w
        .svc
        .approve(&bea(), change.id, change.version)
        .await
        .unwrap();
    run(&w).await;
    let change = w.get(change.id).await;
    assert_eq!(change.state, RequestState::Completed);
    clock.advance(19 * DAY);
    let retire = w.svc.decommission(&ana(), rec.id).await.unwrap();
    w.svc
        .approve(&bea(), retire.id, retire.version)
        .await
        .unwrap();
    run(&w).await;
    assert_eq!(w.get(retire.id).await.state, RequestState::Completed);
    assert_eq!(clock.now().date_naive().to_string(), "2026-02-10");

    let viewer = Actor::trusted("val", [Role::Viewer]).unwrap();
    let r = w
        .svc
        .showback(&viewer, month("2026-01"), month("2026-03"))
        .await
        .unwrap();
    let everything = r.clone();
    assert_eq!(r.vms.len(), 1, "{r:?}");
    let vm = &r.vms[0];
    assert_eq!((vm.vm, vm.request), (rec.id, Some(made.id)));
    let months: Vec<(String, u32, u32)> = vm
        .months
        .iter()
        .map(|m| (m.month.to_string(), m.days, m.days_off))
        .collect();
    assert_eq!(
        months,
        [("2026-01".into(), 27, 3), ("2026-02".into(), 10, 1)],
        "retired on 10 February: that day counts, powered off"
    );

    let jan = book().cards()[0].clone();
    let (small, big) = (Sizing::of(&made.spec), Sizing::of(&change.spec));
    let m = |s: &Sizing, on: bool| s.monthly(&jan, on).unwrap();
    let d = |n: i64| Decimal::from(n);
    let thirtieth = |x: Decimal| {
        (x / d(30)).round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero)
    };
    assert!(
        m(&small, false) < m(&small, true),
        "off days cost less here"
    );
    let january = m(&small, true) * d(9 + 5) + m(&small, false) * d(3) + m(&big, true) * d(10);
    let february = m(&big, true) * d(9) + m(&big, false);
    assert_eq!(vm.months[0].actual, thirtieth(january));
    assert_eq!(vm.months[1].actual, thirtieth(february));
    assert_eq!(vm.months[0].estimate, Some(made.estimate.total));
    let c = vm.months[0].causes.as_ref().unwrap();
    assert_eq!(
        c.resizes,
        thirtieth((m(&big, true) - m(&small, true)) * d(10))
    );
    assert_eq!(c.rate_cards, Decimal::ZERO);
    assert_eq!(
        c.powered_off,
        thirtieth((m(&small, false) - m(&small, true)) * d(3))
    );
    assert_eq!(r.actual, vm.months[0].actual + vm.months[1].actual);
    assert_eq!(r.by_cost_center.len(), 2);
    assert_eq!(r.by_cost_center[0].key, made.spec.derived().cost_center);

    // The owner sees hers; another requester nothing.
    let own = w
        .svc
        .showback(&ana(), month("2026-01"), month("2026-01"))
        .await
        .unwrap();
    assert_eq!((own.vms.len(), own.actual), (1, vm.months[0].actual));
    let carl = Actor::trusted("carl", [Role::Requester]).unwrap();
    let none = w
        .svc
        .showback(&carl, month("2026-01"), month("2026-03"))
        .await
        .unwrap();
    assert!(none.vms.is_empty() && none.actual.is_zero());
    // A month before it was made and one after it was retired are empty.
    for (from, to) in [("2025-12", "2025-12"), ("2026-03", "2026-04")] {
        let r = w
            .svc
            .showback(&viewer, month(from), month(to))
            .await
            .unwrap();
        assert!(r.vms.is_empty(), "{from}..{to}: {r:?}");
    }
    billed(&w, &everything, &made, &change).await;
    closing(&w, &everything).await;
}

/// January beside what the simulated chargeback ledger charged: it bills
/// the estimates from the day it was told (27 days, the change from the
/// 22nd) and knows nothing of the days off, so the line is flagged.
async fn billed(
    w: &World,
    before: &butler::showback::Showback,
    made: &butler::request::Request,
    change: &butler::request::Request,
) {
    let viewer = Actor::trusted("val", [Role::Viewer]).unwrap();
    let jan = month("2026-01");
    let c = w
        .svc
        .compare_with_billing(&viewer, jan, Arc::new(w.sim.clone()), None)
        .await
        .unwrap();
    assert_eq!(c.lines.len(), 1, "{c:?}");
    let line = &c.lines[0];
    assert_eq!(line.vm_name, before.vms[0].name);
    assert_eq!(line.butler, Some(before.vms[0].months[0].actual));
    let d = |n: i64| Decimal::from(n);
    let ledger = ((made.estimate.total * d(17) + change.estimate.total * d(10)) / d(30))
        .round_dp_with_strategy(SCALE, RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(line.billed, Some(ledger));
    assert_eq!(line.difference, ledger - line.butler.unwrap());
    assert!(line.flagged && c.flagged == 1, "{c:?}");
    let loose = w
        .svc
        .compare_with_billing(&viewer, jan, Arc::new(w.sim.clone()), Some(d(1_000)))
        .await
        .unwrap();
    assert_eq!(loose.flagged, 0);
    let e = w
        .svc
        .compare_with_billing(&ana(), jan, Arc::new(w.sim.clone()), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ButlerError::Denied(_)), "{e}");
}

/// January closed by an Admin, then the rate card changed: January reads
/// as it was closed, February (open) as priced now.
async fn closing(w: &World, before: &butler::showback::Showback) {
    let viewer = Actor::trusted("val", [Role::Viewer]).unwrap();
    let (jan, feb) = (month("2026-01"), month("2026-02"));
    let e = w.svc.close_month(&ana(), jan).await.unwrap_err();
    assert!(matches!(e, ButlerError::Denied(_)), "{e}");
    let e = w.svc.close_month(&ada(), feb).await.unwrap_err();
    assert!(
        e.to_string().contains("it can be closed from 2026-03-01"),
        "{e}"
    );
    let closed = w.svc.close_month(&ada(), jan).await.unwrap();
    assert_eq!((closed.vms, closed.actual), (1, before.by_month[0].actual));
    assert_eq!(closed.closed_by, "ada");
    let e = w.svc.close_month(&ada(), jan).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "a closed showback month 2026-01 already exists"
    );

    // Every rate doubled, on every card, from before January.
    let mut cards = book().cards().to_vec();
    for c in &mut cards {
        c.margin = Some(Decimal::ONE);
    }
    w.svc
        .set_rate_book(&ada(), RateBook::new(cards).unwrap())
        .unwrap();
    let after = w.svc.showback(&viewer, jan, feb).await.unwrap();
    assert_eq!(
        after.vms[0].months[0], before.vms[0].months[0],
        "January is closed"
    );
    assert!(after.vms[0].months[1].actual > before.vms[0].months[1].actual);
    assert_eq!(after.by_month[0], before.by_month[0]);
    let only_jan = w.svc.showback(&viewer, jan, jan).await.unwrap();
    assert_eq!(only_jan.actual, before.by_month[0].actual);
    assert_eq!(only_jan.currency.as_deref(), Some("UF"));

    // Closed months: those who see every request; a page of January.
    let months = w.svc.closed_months(&viewer).await.unwrap();
    assert_eq!(months, vec![closed.clone()]);
    let e = w.svc.closed_months(&ana()).await.unwrap_err();
    assert!(matches!(e, ButlerError::Denied(_)), "{e}");
    let page = w.svc.showback_page(&viewer, jan, None, 10).await.unwrap();
    assert_eq!(page.closed.as_ref(), Some(&closed));
    assert_eq!((page.lines.len(), page.next), (1, None));
    assert_eq!(page.lines[0].months, before.vms[0].months[..1]);
    let hers = w.svc.showback_page(&ana(), jan, None, 10).await.unwrap();
    assert_eq!(hers.lines, page.lines);
    assert!(
        hers.closed.as_ref().unwrap().actual.is_zero(),
        "no totals over every VM"
    );
    let carl = Actor::trusted("carl", [Role::Requester]).unwrap();
    assert!(w
        .svc
        .showback_page(&carl, jan, None, 10)
        .await
        .unwrap()
        .lines
        .is_empty());
    let open = w.svc.showback_page(&viewer, feb, None, 10).await.unwrap();
    assert!(open.closed.is_none());
    assert_eq!(open.lines[0].months, after.vms[0].months[1..]);
}

#[tokio::test]
async fn a_life_priced_as_it_stood_on_the_memory_store() {
    a_life(Arc::new(butler::store::MemoryStore::new())).await;
}

#[tokio::test]
async fn a_life_priced_as_it_stood_on_sqlite() {
    a_life(Arc::new(
        butler::store::SqliteStore::open_in_memory().unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn a_bad_period_is_refused_naming_it() {
    let w = World::new(
        SimPlatform::demo(7),
        Arc::new(butler::store::MemoryStore::new()),
    );
    let e = w
        .svc
        .showback(&ana(), month("2026-05"), month("2026-04"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ButlerError::Invalid(m) if m.contains("2026-04")),
        "{e}"
    );
    let e = w
        .svc
        .showback(&ana(), month("2000-01"), month("2026-04"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 120"), "{e}");
    assert!("2026-13".parse::<Month>().is_err());
}

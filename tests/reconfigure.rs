//! Reconfigure (SPEC §12) on the simulator: what may change and what the
//! request shows, the platform's hot-add rules and the owner's downtime,
//! and each change applied once through a storm of faults.

mod common;

use butler::auth::{Actor, DenyReason, Role};
use butler::backend::PowerState;
use butler::request::{ProvisioningStep, RequestKind, RequestState};
use butler::sim::{Op, SimPlatform};
use butler::store::MemoryStore;
use butler::vm_spec::SpecErrorCode;
use butler::ButlerError;
use common::{ana, bea, World};
use std::sync::Arc;

fn world(seed: u64) -> World {
    World::new(SimPlatform::demo(seed), Arc::new(MemoryStore::new()))
}

fn codes(e: ButlerError) -> Vec<SpecErrorCode> {
    match e {
        ButlerError::Validation(v) => v.codes(),
        other => panic!("expected spec problems, got {other}"),
    }
}

async fn run(w: &World) {
    w.engine(World::engine_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reconfigure_shows_what_changes_and_the_cost_before_and_after() {
    let w = world(1);
    let rec = w.provisioned("app").await;
    let origin = w.get(rec.request.unwrap()).await;
    let mut spec = origin.spec.spec().clone();
    spec.ram_gib = 16;
    spec.disks_gib.push(100);
    let r = w
        .svc
        .reconfigure(&ana(), rec.id, spec, false)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Requested);
    assert_eq!(r.flow().name(), "reconfigure");
    assert!(
        matches!(&r.kind, RequestKind::Reconfigure(c) if c.target.vm == rec.id && !c.accept_downtime)
    );
    let first = &r.history[0];
    let fields: Vec<&str> = first.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["ram_gib", "disks_gib[1]"], "{:?}", first.changes);
    let cost = first.cost.clone().unwrap();
    assert_eq!(cost.before, origin.estimate.total);
    assert_eq!(cost.after, r.estimate.total);
    assert!(
        cost.after > cost.before,
        "more RAM and disk cost more: {cost:?}"
    );

    // An approver may edit what a reconfigure may change, nothing else.
    let mut edit = r.spec.spec().clone();
    edit.ram_gib = 12;
    let reviewed = w
        .svc
        .review(&bea(), r.id, r.version, edit.clone())
        .await
        .unwrap();
    assert_eq!(reviewed.spec.ram_gib, 12);
    edit.cluster = "c2-santiago".into();
    let e = w
        .svc
        .review(&bea(), r.id, reviewed.version, edit)
        .await
        .unwrap_err();
    assert_eq!(codes(e), [SpecErrorCode::FixedOnReconfigure]);
    w.svc.approve(&bea(), r.id, reviewed.version).await.unwrap();
    run(&w).await;
    w.assert_exactly_once(r.id).await;
    // More RAM and a disk are hot changes: the VM never went off.
    assert_eq!(w.sim.calls(Op::SetPower), 0);
    // The next change starts from this one.
    let rec = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!((rec.spec.ram_gib, rec.last_change), (12, Some(r.id)));
    let mut again = w.get(r.id).await.spec.spec().clone();
    again.sockets = 2;
    let next = w
        .svc
        .reconfigure(&ana(), rec.id, again, false)
        .await
        .unwrap();
    assert_eq!(
        next.history[0].cost.as_ref().unwrap().before,
        w.get(r.id).await.estimate.total
    );
    // The reconcile finds nothing changed outside Butler.
    let ops = Actor::trusted("olga", [Role::Operator]).unwrap();
    w.sim.clock().advance(std::time::Duration::from_secs(1));
    let b = butler::Butler::builder()
        .store(w.svc.store().clone())
        .simulator(w.sim.clone())
        .build()
        .unwrap();
    assert_eq!(b.vms().reconcile(&ops).await.unwrap().drifted, 0);
}

#[tokio::test]
async fn every_problem_of_a_change_is_reported_at_once_and_nothing_is_stored() {
    let w = world(2);
    let rec = w.provisioned("fixed").await;
    let before = w
        .svc
        .store()
        .list_requests(&Default::default())
        .await
        .unwrap()
        .total;
    let mut spec = butler::demo::spec("fixed");
    spec.cluster = "c2-santiago".into();
    spec.environment = "DEV".into();
    spec.disks_gib = vec![10];
    spec.ram_gib = 0;
    let e = w
        .svc
        .reconfigure(&ana(), rec.id, spec, true)
        .await
        .unwrap_err();
    let got = codes(e);
    for c in [
        SpecErrorCode::RamOutOfRange,
        SpecErrorCode::FixedOnReconfigure,
        SpecErrorCode::DiskShrinks,
    ] {
        assert!(got.contains(&c), "{c:?} missing from {got:?}");
    }
    let same = w
        .svc
        .reconfigure(&ana(), rec.id, butler::demo::spec("fixed"), true)
        .await
        .unwrap_err();
    assert_eq!(codes(same), [SpecErrorCode::NothingChanged]);
    let carl = Actor::trusted("carl", [Role::Requester]).unwrap();
    let mut bigger = butler::demo::spec("fixed");
    bigger.ram_gib = 8;
    let hidden = w.svc.reconfigure(&carl, rec.id, bigger.clone(), true).await;
    assert!(
        matches!(hidden, Err(ButlerError::NotFound(_))),
        "{hidden:?}"
    );
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    match w.svc.reconfigure(&olga, rec.id, bigger, true).await {
        Err(ButlerError::Denied(d)) => assert!(matches!(d.reason, DenyReason::MissingRole { .. })),
        other => panic!("{other:?}"),
    }
    let after = w
        .svc
        .store()
        .list_requests(&Default::default())
        .await
        .unwrap()
        .total;
    assert_eq!(after, before, "nothing stored");
}

#[tokio::test]
async fn a_change_that_needs_the_vm_off_waits_for_the_owners_consent() {
    let w = world(3);
    let rec = w.provisioned("busy").await;
    let spec = World::changed_spec(&rec);
    let r = w
        .svc
        .reconfigure(&ana(), rec.id, spec, false)
        .await
        .unwrap();
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    run(&w).await;
    let stopped = w.get(r.id).await;
    assert_eq!(stopped.state, RequestState::Error);
    let f = stopped.failure.unwrap();
    assert_eq!(f.step, ProvisioningStep::CheckChange);
    assert!(
        f.reason.contains("less RAM (4 → 2 GiB)") && f.reason.contains("downtime"),
        "{}",
        f.reason
    );
    let vm = w.sim.vm(&rec.name).unwrap();
    assert_eq!((vm.power, vm.ram_gib), (PowerState::On, 4), "untouched");
    assert_eq!(w.sim.reconfigurations(&rec.platform_id), 0);
}

#[tokio::test]
async fn a_vm_that_was_off_stays_off_after_a_change_that_needs_it_off() {
    let w = world(4);
    let rec = w.provisioned("sleepy").await;
    w.sim.set_vm_power(&rec.name, PowerState::Off);
    let spec = World::changed_spec(&rec);
    let r = w.svc.reconfigure(&ana(), rec.id, spec, true).await.unwrap();
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    run(&w).await;
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
    let vm = w.sim.vm(&rec.name).unwrap();
    assert_eq!((vm.power, vm.ram_gib), (PowerState::Off, 2));
    assert_eq!(w.sim.calls(Op::SetPower), 0, "nothing powered");
}

/// A thousand reconfigures (each needing the VM off and on again) through
/// 30 % transient faults, 5 % timeouts and 5 % lost replies: each applied
/// once, each VM on again, billing told once per change; the VMs beside
/// them untouched.
#[tokio::test(start_paused = true)]
async fn a_storm_of_1000_reconfigures_applies_each_once_and_touches_nothing_else() {
    let (w, records) = World::fleet(5, "grow", 1100).await;
    let (change, keep) = records.split_at(1000);
    let mut asked = Vec::new();
    for rec in change {
        let spec = World::changed_spec(rec);
        let r = w.svc.reconfigure(&ana(), rec.id, spec, true).await.unwrap();
        asked.push(w.svc.approve(&bea(), r.id, r.version).await.unwrap().id);
    }
    w.storm(&asked).await;
    for rec in keep {
        let vm = w.sim.vm(&rec.name).unwrap();
        assert_eq!(
            (vm.ram_gib, vm.power),
            (4, PowerState::On),
            "{} untouched",
            rec.name
        );
        assert_eq!(w.sim.reconfigurations(&rec.platform_id), 0);
        assert!(w.sim.billing_changes(&rec.name).is_empty());
    }
}

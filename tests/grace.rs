//! A retirement's grace period (SPEC §12): with
//! `EngineConfig::retirement_grace` the decommission keeps the VM powered
//! off instead of deleting it; its owner (or one who may change any VM)
//! can restore it until the period is over; after that Butler asks and
//! approves the deletion itself, once, and never while a restore is asked.

mod common;

use butler::auth::{Actor, Role};
use butler::backend::Clock;
use butler::inventory::Lifecycle;
use butler::request::{RequestKind, RequestState};
use butler::sim::SimPlatform;
use butler::store::MemoryStore;
use butler::ButlerError;
use common::{ana, bea, World};
use std::sync::Arc;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fn world(seed: u64) -> World {
    World::new(SimPlatform::demo(seed), Arc::new(MemoryStore::new()))
}

#[tokio::test]
async fn a_retired_vm_is_kept_off_restored_once_then_deleted_after_its_next_grace_period() {
    let w = world(1);
    let rec = w.kept("keep").await;
    let name = rec.name.clone();
    // Kept: off, out of monitoring and billing, not deleted.
    assert_eq!(
        (rec.lifecycle, rec.power),
        (Lifecycle::Retiring, butler::backend::PowerState::Off)
    );
    let vm = w.sim.vm(&name).expect("still on the platform");
    assert_eq!(vm.power, butler::backend::PowerState::Off);
    assert_eq!(w.sim.deletions(&rec.platform_id), 0);
    assert_eq!(w.sim.billing_stops(&name), 1);
    assert_eq!(w.sim.monitor_registrations(&name), 0);
    let now = w.sim.clock().now();
    let kept = rec.kept_until.unwrap();
    assert_eq!((kept - now).num_days(), 7, "{kept} vs {now}");

    // Only its owner (or one who may change any VM) may restore it.
    let bea_restores = w.svc.restore(&bea(), rec.id).await.unwrap_err();
    assert!(
        matches!(bea_restores, ButlerError::Denied(_)),
        "{bea_restores}"
    );
    let eve = Actor::trusted("eve", [Role::Requester]).unwrap();
    let eve_restores = w.svc.restore(&eve, rec.id).await.unwrap_err();
    assert!(
        matches!(eve_restores, ButlerError::NotFound(_)),
        "{eve_restores}"
    );
    let r = w.svc.restore(&ana(), rec.id).await.unwrap();
    assert_eq!(r.state, RequestState::Approved, "an undo needs no approval");
    assert_eq!(r.history[0].actor, "ana");
    let twice = w.svc.restore(&ana(), rec.id).await.unwrap_err();
    assert!(twice.to_string().contains("being restored"), "{twice}");
    w.engine(World::grace_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
    w.assert_exactly_once(r.id).await;
    let back = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!((back.lifecycle, back.restores), (Lifecycle::Active, 1));
    // Nothing is due after the date the first retirement had set.
    w.sim.clock().advance(8 * DAY);
    assert_eq!(w.leases.sweep().await.unwrap().deletions, 0);

    // Retired again: kept again; once the period is over it can no longer
    // be restored, and Butler deletes it, once.
    let d = w.svc.decommission(&ana(), rec.id).await.unwrap();
    w.svc.approve(&bea(), d.id, d.version).await.unwrap();
    w.engine(World::grace_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
    let again = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(again.lifecycle, Lifecycle::Retiring);
    assert_eq!(w.sim.billing_stops(&name), 2, "one stop per life");
    w.sim.clock().advance(7 * DAY + Duration::from_secs(60));
    let late = w.svc.restore(&ana(), rec.id).await.unwrap_err();
    assert!(late.to_string().contains("grace period"), "{late}");
    assert_eq!(w.leases.sweep().await.unwrap().deletions, 1);
    assert_eq!(w.leases.sweep().await.unwrap().deletions, 0, "asked once");
    let deletion = w
        .svc
        .store()
        .get_vm(rec.id)
        .await
        .unwrap()
        .deletion
        .unwrap();
    let asked = w.get(deletion).await;
    assert!(matches!(asked.kind, RequestKind::DeleteAfterGrace(_)));
    assert_eq!(asked.approver.as_deref(), Some(butler::auth::ENGINE_NAME));
    let refused = w.svc.restore(&ana(), rec.id).await.unwrap_err();
    assert!(refused.to_string().contains("deletion"), "{refused}");
    w.engine(World::grace_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
    assert_eq!(w.get(deletion).await.state, RequestState::Completed);
    assert_eq!(w.sim.deletions(&rec.platform_id), 1);
    assert!(w.sim.vm(&name).is_none());
    let gone = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(gone.lifecycle, Lifecycle::Retired);
}

#[tokio::test]
async fn a_restore_asked_in_time_holds_off_the_deletion_even_before_it_runs() {
    let w = world(2);
    let rec = w.kept("race").await;
    let r = w.svc.restore(&ana(), rec.id).await.unwrap();
    w.sim.clock().advance(8 * DAY);
    let pass = w.leases.sweep().await.unwrap();
    assert_eq!(pass.deletions, 0, "{pass:?}");
    w.engine(World::grace_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
    assert_eq!(w.sim.deletions(&rec.platform_id), 0);
    let back = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(back.lifecycle, Lifecycle::Active);
}

#[tokio::test]
async fn without_a_grace_period_a_retired_vm_is_deleted_at_once_and_cannot_be_restored() {
    let w = world(3);
    let d = w.decommission_approved("now").await;
    w.engine(World::engine_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
    w.assert_exactly_once(d.id).await;
    let t = d.kind.target().unwrap();
    let refused = w.svc.restore(&ana(), t.vm).await.unwrap_err();
    assert!(refused.to_string().contains("retired"), "{refused}");
}

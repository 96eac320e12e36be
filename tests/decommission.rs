//! Decommission (SPEC §12) on the simulator: who may ask, what the
//! request carries, and the flow that powers off, unprotects, deregisters,
//! stops billing, deletes and records the VM retired, each exactly once
//! through a storm of faults, touching nothing it was not asked to.

mod common;

use butler::auth::{Actor, DenyReason, Role};
use butler::backend::PowerState;
use butler::inventory::Lifecycle;
use butler::request::{Action, ProvisioningStep, RequestKind, RequestState};
use butler::sim::{Op, SimPlatform};
use butler::store::MemoryStore;
use butler::ButlerError;
use common::{ana, bea, World};
use std::sync::Arc;

fn world(seed: u64) -> World {
    World::new(SimPlatform::demo(seed), Arc::new(MemoryStore::new()))
}

fn denied(e: ButlerError) -> DenyReason {
    match e {
        ButlerError::Denied(d) => d.reason,
        other => panic!("expected a denial, got {other}"),
    }
}

#[tokio::test]
async fn a_decommission_carries_the_vm_as_approved_and_runs_its_own_flow() {
    let w = world(1);
    let rec = w.provisioned("old-web").await;
    let origin = w.get(rec.request.unwrap()).await;
    let r = w.svc.decommission(&ana(), rec.id).await.unwrap();
    assert_eq!(r.state, RequestState::Requested, "submitted at once");
    assert_eq!(r.owner, "ana");
    assert_eq!(r.flow().name(), "decommission");
    let RequestKind::Decommission(t) = &r.kind else {
        panic!("{:?}", r.kind)
    };
    assert_eq!(
        (t.vm, &t.name, &t.platform_id),
        (rec.id, &rec.name, &rec.platform_id)
    );
    assert_eq!(r.spec, origin.spec, "the VM's spec as approved");
    assert_eq!(
        r.estimate.total, origin.estimate.total,
        "the monthly cost that stops"
    );
    assert_eq!(r.vm_uuid.as_deref(), Some(rec.platform_id.as_str()));
    // Stored and read back whole.
    assert_eq!(w.get(r.id).await.kind, r.kind);

    // Nothing to edit: neither the owner nor an approver may change the spec.
    let priced = w.svc.price(&butler::demo::spec("other")).unwrap();
    let edit = w
        .svc
        .review(&bea(), r.id, r.version, butler::demo::spec("other"))
        .await
        .unwrap_err();
    assert_eq!(denied(edit), DenyReason::NotEditable);
    let direct = butler::request::transition(
        w.svc.policy(),
        &r,
        &bea(),
        Action::Review(Box::new(priced)),
        chrono::Utc::now(),
    );
    assert_eq!(direct.unwrap_err().reason, DenyReason::NotEditable);
    // Four eyes: ana cannot approve her own (she is no approver anyway),
    // an approver who asked cannot approve theirs.
    let r = w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    let e = w.engine(World::engine_config("e1"));
    assert_eq!(e.run_until_idle().await.unwrap().completed, 1);
    let done = w.get(r.id).await;
    assert_eq!(done.state, RequestState::Completed);
    let steps: Vec<ProvisioningStep> = w
        .svc
        .store()
        .step_log(r.id)
        .await
        .unwrap()
        .iter()
        .filter(|l| matches!(l.phase, butler::store::StepPhase::Succeeded { .. }))
        .map(|l| l.step)
        .collect();
    assert_eq!(steps, ProvisioningStep::DECOMMISSION.to_vec());
    w.assert_exactly_once(r.id).await;
    let retired = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(retired.power, PowerState::Off);
    assert!(
        retired
            .history
            .iter()
            .any(|h| h.what.contains(&r.id.to_string())),
        "{:?}",
        retired.history
    );
    // Its protection domain no longer lists it.
    let pd = w
        .sim
        .protection_group(&rec.cluster, &format!("PD-{}", rec.name));
    assert!(pd.is_none_or(|g| g.vms.iter().all(|v| **v != *rec.name)));
    // A retired VM cannot be retired again.
    let again = w.svc.decommission(&ana(), rec.id).await.unwrap_err();
    assert!(
        matches!(again, ButlerError::Refused(ref s) if s.to_string().contains("retired")),
        "{again}"
    );
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_ask_and_others_learn_nothing() {
    let w = world(2);
    let rec = w.provisioned("theirs").await;
    let carl = Actor::trusted("carl", [Role::Requester]).unwrap();
    let e = w.svc.decommission(&carl, rec.id).await.unwrap_err();
    assert!(matches!(e, ButlerError::NotFound(_)), "{e}");
    // An Operator sees the VM but may not retire someone else's.
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    let e = w.svc.decommission(&olga, rec.id).await.unwrap_err();
    assert!(matches!(denied(e), DenyReason::MissingRole { .. }));
    let missing = w
        .svc
        .decommission(&ana(), butler::inventory::VmId(999_999))
        .await
        .unwrap_err();
    assert!(matches!(missing, ButlerError::NotFound(_)), "{missing}");
    let before = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(
        before.lifecycle,
        Lifecycle::Active,
        "refusals change nothing"
    );
    // An Admin may, and owns the request; an approver other than them approves.
    let root = Actor::trusted("root", [Role::Admin]).unwrap();
    let r = w.svc.decommission(&root, rec.id).await.unwrap();
    assert_eq!(r.owner, "root");
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
}

#[tokio::test]
async fn a_guest_that_ignores_the_shutdown_is_powered_off_after_the_wait() {
    let w = world(3);
    let rec = w.provisioned("deaf").await;
    assert!(w.sim.set_guest_unresponsive(&rec.name, true));
    let r = w.svc.decommission(&ana(), rec.id).await.unwrap();
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    let mut cfg = World::engine_config("e1");
    cfg.shutdown_wait = std::time::Duration::from_secs(60);
    w.engine(cfg).run_until_idle().await.unwrap();
    let done = w.get(r.id).await;
    assert_eq!(done.state, RequestState::Completed, "{:?}", done.failure);
    let power_off = done
        .history
        .iter()
        .find(|h| {
            h.note
                .as_deref()
                .is_some_and(|n| n.starts_with("power_off done"))
        })
        .unwrap();
    assert!(
        power_off
            .note
            .as_deref()
            .unwrap()
            .contains("did not shut down within 60 s"),
        "{power_off:?}"
    );
    w.assert_exactly_once(r.id).await;
}

#[tokio::test]
async fn a_vm_deleted_outside_butler_is_still_deregistered_and_unbilled() {
    let w = world(4);
    let rec = w.provisioned("vanished").await;
    assert!(w.sim.delete_vm_outside(&rec.name));
    let r = w.svc.decommission(&ana(), rec.id).await.unwrap();
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    w.engine(World::engine_config("e1"))
        .run_until_idle()
        .await
        .unwrap();
    let done = w.get(r.id).await;
    assert_eq!(done.state, RequestState::Completed, "{:?}", done.failure);
    assert_eq!(
        w.sim.deletions(&rec.platform_id),
        0,
        "nothing left to delete"
    );
    assert_eq!(w.sim.calls(Op::DeleteVm), 0);
    assert_eq!(w.sim.billing_stops(&rec.name), 1);
    assert_eq!(w.sim.monitor_deregistrations(&rec.name), 1);
    let retired = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(retired.lifecycle, Lifecycle::Retired);
}

/// A thousand decommissions through 30 % transient faults, 5 % timeouts
/// and 5 % lost replies: every VM asked for is deleted, deregistered and
/// unbilled exactly once and recorded retired; the VMs beside them are
/// not touched.
#[tokio::test(start_paused = true)]
async fn a_storm_of_1000_decommissions_retires_each_once_and_touches_nothing_else() {
    let (w, records) = World::fleet(5, "fleet", 1100).await;
    let (retire, keep) = records.split_at(1000);
    let mut asked = Vec::new();
    for rec in retire {
        let r = w.svc.decommission(&ana(), rec.id).await.unwrap();
        asked.push(w.svc.approve(&bea(), r.id, r.version).await.unwrap().id);
    }
    w.storm(&asked).await;
    assert!(w.sim.calls(Op::DeleteVm) >= 1000);
    for rec in keep {
        let name = &rec.name;
        assert_eq!(w.sim.vms_named(name), 1, "{name} kept");
        assert_eq!(w.sim.deletions(&rec.platform_id), 0, "{name} not deleted");
        assert_eq!(w.sim.billing_stops(name), 0, "{name} still billed");
        assert_eq!(
            w.sim.monitor_deregistrations(name),
            0,
            "{name} still monitored"
        );
        assert_eq!(
            w.sim.vm(name).unwrap().power,
            PowerState::On,
            "{name} still on"
        );
        let now = w.svc.store().get_vm(rec.id).await.unwrap();
        assert_eq!(now.lifecycle, Lifecycle::Active, "{name} still active");
    }
}

/// A decommission an earlier version left at its last step (`retire`,
/// now part of `delete_vm`) still finishes: the record is retired.
#[tokio::test]
async fn a_request_left_at_the_old_retire_step_still_finishes() {
    use butler::request::StepProgress;
    let w = world(9);
    let r = w.decommission_approved("legacy").await;
    let t = r.kind.target().unwrap().clone();
    let mut left = r.clone();
    left.state = RequestState::Provisioning;
    left.progress = Some(StepProgress {
        step: ProvisioningStep::Retire,
        attempt: 1,
    });
    left.version += 1;
    w.svc
        .store()
        .update_request(&left, r.version)
        .await
        .unwrap();
    let e = w.engine(World::engine_config("e1"));
    assert_eq!(e.run_until_idle().await.unwrap().completed, 1);
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
    let rec = w.svc.store().get_vm(t.vm).await.unwrap();
    assert_eq!(rec.lifecycle, Lifecycle::Retired);
}

/// A VM record changed by someone else while a step runs (here the
/// reconciler's power line, landing between the step's read and its
/// write) is never overwritten: the step's success and its record change
/// are refused together, the step runs again on the record as it is now,
/// and both changes are kept.
#[tokio::test]
async fn a_record_changed_while_a_step_runs_sends_the_step_round_again_and_keeps_both() {
    let stores: [(&str, Arc<dyn butler::store::Store>); 2] = [
        ("memory", Arc::new(MemoryStore::new())),
        (
            "sqlite",
            Arc::new(butler::store::SqliteStore::open_in_memory().unwrap()),
        ),
    ];
    for (name, inner) in stores {
        record_changed_mid_step(name, inner).await;
    }
}

async fn record_changed_mid_step(name: &str, inner: Arc<dyn butler::store::Store>) {
    let store = Arc::new(butler::testing::FaultyStore::new(inner));
    let w = World::new(SimPlatform::demo(7), store.clone());
    let r = w.decommission_approved("meddled").await;
    let vm = r.kind.target().unwrap().vm;
    store.before_call("update_request_with_vm", 1, move |s| async move {
        let rec = s.get_vm(vm).await.unwrap();
        let next = rec.next("butler", rec.created_at, "reconcile: power off");
        s.update_vm(&next, rec.version).await.unwrap();
    });
    let e = w.engine(World::engine_config("e1"));
    let summary = e.run_until_idle().await.unwrap();
    let done = w.get(r.id).await;
    assert_eq!(
        summary.completed, 1,
        "{name}: {summary:?} {:?}",
        done.history
    );
    let rec = w.svc.store().get_vm(vm).await.unwrap();
    assert_eq!(rec.lifecycle, Lifecycle::Retired);
    let lines: Vec<&str> = rec.history.iter().map(|h| h.what.as_str()).collect();
    for line in [
        "reconcile: power off".to_string(),
        format!("retiring by request {}", r.id),
        format!("retired by request {}", r.id),
    ] {
        assert_eq!(
            lines.iter().filter(|l| **l == line).count(),
            1,
            "{name}: {line:?} once in {lines:?}"
        );
    }
    let log = w.svc.store().step_log(r.id).await.unwrap();
    let power_off: Vec<_> = log
        .iter()
        .filter(|l| l.step == ProvisioningStep::PowerOff)
        .map(|l| &l.phase)
        .collect();
    assert!(
        matches!(
            power_off.as_slice(),
            [_, butler::store::StepPhase::Failed { reason, will_retry: true }, _, butler::store::StepPhase::Succeeded { .. }]
                if reason.contains("changed while the step ran")
        ),
        "{name}: {power_off:?}"
    );
    w.assert_exactly_once(r.id).await;
}

/// One change at a time per VM: while a decommission, reconfigure or
/// lease extension of it waits or runs, another is refused, naming it;
/// once it ends (rejected here), the VM may be asked for again. Asked at
/// once by many, exactly one is stored.
#[tokio::test]
async fn a_vm_has_one_open_change_request_at_a_time() {
    let w = World::new(
        SimPlatform::demo(5),
        Arc::new(butler::store::SqliteStore::open_in_memory().unwrap()),
    );
    let rec = w.provisioned("one-at-a-time").await;
    let first = w.svc.decommission(&ana(), rec.id).await.unwrap();
    match w.svc.decommission(&ana(), rec.id).await {
        Err(ButlerError::Refused(s)) => {
            let m = s.to_string();
            assert!(
                m.contains(&format!("request {}", first.id)) && m.contains("decommission"),
                "{m}"
            )
        }
        other => panic!("a second decommission: {other:?}"),
    }
    let mut bigger = w.get(rec.request.unwrap()).await.spec.spec().clone();
    bigger.ram_gib += 4;
    assert!(matches!(
        w.svc
            .reconfigure(&ana(), rec.id, bigger.clone(), false)
            .await,
        Err(ButlerError::Refused(_))
    ));
    w.svc
        .reject(&bea(), first.id, first.version, "not yet")
        .await
        .unwrap();
    let change = w
        .svc
        .reconfigure(&ana(), rec.id, bigger, false)
        .await
        .unwrap();
    w.svc
        .cancel(&ana(), change.id, change.version, None)
        .await
        .unwrap();
    // Twenty at once: one is stored, the others refused.
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let svc = w.svc.clone();
        asks.spawn(async move { svc.decommission(&ana(), rec.id).await });
    }
    let mut stored = 0;
    while let Some(r) = asks.join_next().await {
        match r.unwrap() {
            Ok(_) => stored += 1,
            Err(ButlerError::Refused(_) | ButlerError::Conflict(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(stored, 1);
}

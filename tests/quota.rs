//! Quotas (SPEC §13) through the request service on the simulator: a
//! submit past a quota refused naming it, changing nothing; shares freed
//! by a rejection, a cancel and a retirement, and held by a VM as built
//! and a reconfigure as what it adds; approvals checked again; 1,000
//! submits at once against room for 100 admitting exactly 100 on the
//! SQLite file store; a store from before quotas counted on first use;
//! the kept usage always equal to a recount.

mod common;

use butler::auth::{Actor, Role};
use butler::quota::{Scope, Share};
use butler::request::RequestState;
use butler::rules::Rules;
use butler::sim::SimPlatform;
use butler::store::{MemoryStore, Store};
use butler::ButlerError;
use common::{ana, bea, World};
use std::collections::BTreeMap;
use std::sync::Arc;

fn world() -> World {
    World::new(SimPlatform::demo(7), Arc::new(MemoryStore::new()))
}

fn ada() -> Actor {
    Actor::trusted("ada", [Role::Admin]).unwrap()
}

fn unit_it() -> Scope {
    Scope::Unit("IT".into())
}

async fn quotas(w: &World, text: &str) {
    w.svc
        .set_rules(&ada(), Rules::from_toml(text).unwrap())
        .await
        .unwrap();
}

/// What every scope holds, as kept by the writes.
async fn kept(store: &Arc<dyn Store>) -> BTreeMap<Scope, Share> {
    store
        .all_usage()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| !u.used.is_zero())
        .map(|u| (u.scope, u.used))
        .collect()
}

/// The kept usage equals a recount from the requests and records.
async fn agrees_with_a_recount(w: &World) -> BTreeMap<Scope, Share> {
    let store = w.svc.store().clone();
    let before = kept(&store).await;
    w.svc.recount_quotas(&ada()).await.unwrap();
    assert_eq!(
        kept(&store).await,
        before,
        "kept usage differs from a recount"
    );
    before
}

fn quota_refusal(e: ButlerError) -> butler::quota::QuotaExceeded {
    match e {
        ButlerError::Quota(q) => q,
        other => panic!("expected a quota refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_submit_past_a_quota_is_refused_naming_it_and_changes_nothing() {
    let w = world();
    quotas(&w, "[[quota]]\nunit = \"IT\"\nvcpus = 5\n").await;
    for name in ["q1", "q2"] {
        let r = w
            .svc
            .create(&ana(), butler::demo::spec(name))
            .await
            .unwrap();
        w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    }
    let third = w
        .svc
        .create(&ana(), butler::demo::spec("q3"))
        .await
        .unwrap();
    let preview = w.svc.quota_preview(&ana(), third.id).await.unwrap();
    assert_eq!(preview.share.vcpus, 2);
    let line = &preview.lines[1];
    assert_eq!(line.scope, unit_it());
    assert_eq!(
        (line.used.vcpus, line.with_request.as_ref().unwrap().vcpus),
        (4, 6)
    );
    assert_eq!(line.left("vcpus"), Some(1.into()));
    assert!(preview.would_exceed());

    let e = w
        .svc
        .submit(&ana(), third.id, third.version)
        .await
        .unwrap_err();
    let q = quota_refusal(e.clone());
    assert_eq!((q.scope, q.dimension.as_str()), (unit_it(), "vcpus"));
    assert_eq!(
        (q.limit, q.used, q.would_use),
        (5.into(), 4.into(), 6.into())
    );
    assert_eq!(
        e.to_string(),
        "quota exceeded: unit IT may use 5 vcpus; this would bring it to 6 (4 in use)"
    );
    let still = w.get(third.id).await;
    assert_eq!(
        (still.state, still.version),
        (RequestState::Created, third.version)
    );
    assert_eq!(kept(w.svc.store()).await[&unit_it()].vcpus, 4);

    // The quota page: the unit's line with its limit, and ana's.
    let lines = w.svc.quota_usage(&ana()).await.unwrap();
    let it = lines.iter().find(|l| l.scope == unit_it()).unwrap();
    assert_eq!(
        (it.limits.vcpus, it.used.vcpus, it.used.vms),
        (Some(5), 4, 2)
    );
    assert!(lines
        .iter()
        .all(|l| !matches!(&l.scope, Scope::Requester(n) if n != "ana")));
    agrees_with_a_recount(&w).await;
}

#[tokio::test]
async fn rejected_and_cancelled_requests_free_their_share() {
    let w = world();
    quotas(&w, "[[quota]]\nrequester = \"*\"\nvms = 1\n").await;
    let a = w
        .svc
        .create(&ana(), butler::demo::spec("r1"))
        .await
        .unwrap();
    let a = w.svc.submit(&ana(), a.id, a.version).await.unwrap();
    let b = w
        .svc
        .create(&ana(), butler::demo::spec("r2"))
        .await
        .unwrap();
    let q = quota_refusal(w.svc.submit(&ana(), b.id, b.version).await.unwrap_err());
    assert_eq!(q.scope, Scope::Requester("ana".into()));
    w.svc
        .reject(&bea(), a.id, a.version, "too big")
        .await
        .unwrap();
    let b = w.svc.submit(&ana(), b.id, b.version).await.unwrap();
    w.svc.cancel(&ana(), b.id, b.version, None).await.unwrap();
    assert!(kept(w.svc.store()).await.is_empty());
    // bea has a quota of her own under the same rule.
    let c = w
        .svc
        .create(&bea(), butler::demo::spec("r3"))
        .await
        .unwrap();
    w.svc.submit(&bea(), c.id, c.version).await.unwrap();
    agrees_with_a_recount(&w).await;
}

#[tokio::test]
async fn an_approval_is_checked_again_once_an_admin_lowers_the_quota() {
    let w = world();
    quotas(&w, "[[quota]]\ndivision = \"CORP\"\nvms = 2\n").await;
    let mut asked = Vec::new();
    for name in ["a1", "a2"] {
        let r = w
            .svc
            .create(&ana(), butler::demo::spec(name))
            .await
            .unwrap();
        asked.push(w.svc.submit(&ana(), r.id, r.version).await.unwrap());
    }
    quotas(&w, "[[quota]]\ndivision = \"CORP\"\nvms = 1\n").await;
    let q = quota_refusal(
        w.svc
            .approve(&bea(), asked[0].id, asked[0].version)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (q.scope, q.would_use),
        (Scope::Division("CORP".into()), 2.into())
    );
    assert_eq!(w.get(asked[0].id).await.state, RequestState::Requested);
    // Rejecting one makes room for the other.
    w.svc
        .reject(&bea(), asked[1].id, asked[1].version, "one is enough")
        .await
        .unwrap();
    let ok = w
        .svc
        .approve(&bea(), asked[0].id, asked[0].version)
        .await
        .unwrap();
    assert_eq!(ok.state, RequestState::Approved);
}

#[tokio::test]
async fn a_vm_holds_its_share_until_retired_and_a_reconfigure_what_it_adds() {
    let w = world();
    let rec = w.provisioned("life").await;
    let held = agrees_with_a_recount(&w).await;
    let it = held[&unit_it()].clone();
    assert_eq!(
        (it.vcpus, it.ram_gib, it.storage_gib, it.vms),
        (2, 4, 50, 1)
    );
    assert!(it.monthly_cost > 0.into());

    // A reconfigure to 4 vCPUs, 2 GiB, disks 60 + 20 holds what it adds.
    let spec = World::changed_spec(&rec);
    let r = w.svc.reconfigure(&ana(), rec.id, spec, true).await.unwrap();
    let held = agrees_with_a_recount(&w).await;
    let it = &held[&unit_it()];
    assert_eq!(
        (it.vcpus, it.ram_gib, it.storage_gib, it.vms),
        (4, 4, 80, 1)
    );
    w.svc.approve(&bea(), r.id, r.version).await.unwrap();
    w.engine(World::engine_config("changer"))
        .run_until_idle()
        .await
        .unwrap();
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
    // Applied: the VM holds its new size, the request nothing.
    let held = agrees_with_a_recount(&w).await;
    let it = &held[&unit_it()];
    assert_eq!(
        (it.vcpus, it.ram_gib, it.storage_gib, it.vms),
        (4, 2, 80, 1)
    );

    // Retired: nothing held.
    let d = w.svc.decommission(&ana(), rec.id).await.unwrap();
    w.svc.approve(&bea(), d.id, d.version).await.unwrap();
    w.engine(World::engine_config("retirer"))
        .run_until_idle()
        .await
        .unwrap();
    assert_eq!(w.get(d.id).await.state, RequestState::Completed);
    assert!(agrees_with_a_recount(&w).await.is_empty());
}

#[tokio::test]
async fn a_reconfigure_past_a_quota_is_refused_and_leaves_the_vm_free() {
    let w = world();
    let rec = w.provisioned("grow").await;
    quotas(&w, "[[quota]]\nunit = \"IT\"\nvcpus = 3\n").await;
    let spec = World::changed_spec(&rec);
    let q = quota_refusal(
        w.svc
            .reconfigure(&ana(), rec.id, spec.clone(), true)
            .await
            .unwrap_err(),
    );
    assert_eq!((q.dimension.as_str(), q.would_use), ("vcpus", 4.into()));
    let after = w.svc.store().get_vm(rec.id).await.unwrap();
    assert_eq!(after.open_change, None, "the VM is not marked");
    // Shrinking is never refused; a decommission holds nothing.
    let mut smaller = spec;
    smaller.sockets = 1;
    smaller.cores_per_socket = 1;
    smaller.disks_gib = vec![50];
    let r = w
        .svc
        .reconfigure(&ana(), rec.id, smaller, true)
        .await
        .unwrap();
    assert_eq!(r.state, RequestState::Requested);
    agrees_with_a_recount(&w).await;
}

#[tokio::test]
async fn a_store_from_before_quotas_is_counted_on_first_use() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // A request submitted by an earlier Butler: stored, never held.
    let old = {
        let w = World::new(SimPlatform::demo(7), store.clone());
        let r = w
            .svc
            .create(&ana(), butler::demo::spec("old"))
            .await
            .unwrap();
        let mut r = r;
        r.state = RequestState::Requested;
        store.update_request(&r, r.version).await.unwrap();
        r
    };
    assert!(store
        .held(butler::quota::Holder::Request(old.id))
        .await
        .unwrap()
        .is_none());
    let w = World::new(SimPlatform::demo(7), store.clone());
    let lines = w.svc.quota_usage(&ana()).await.unwrap();
    let it = lines.iter().find(|l| l.scope == unit_it()).unwrap();
    assert_eq!((it.used.vcpus, it.used.vms), (2, 1));
}

/// 1,000 requesters submit at once against a unit with room for 100 VMs,
/// on the SQLite file store: exactly 100 are admitted, every other one is
/// refused for the quota and left a draft.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_submits_against_room_for_100_admit_exactly_100() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(butler::store::SqliteStore::open(dir.path().join("q.db")).unwrap());
    let w = World::new(SimPlatform::demo(7), store.clone());
    quotas(&w, "[[quota]]\nunit = \"IT\"\nvms = 100\n").await;
    let mut drafts = Vec::new();
    for i in 0..1000 {
        let who = Actor::trusted(&format!("u{i}"), [Role::Requester]).unwrap();
        let r = w
            .svc
            .create(&who, butler::demo::spec(&format!("c{i}")))
            .await
            .unwrap();
        drafts.push((who, r));
    }
    let tasks: Vec<_> = drafts
        .into_iter()
        .map(|(who, r)| {
            let svc = w.svc.clone();
            tokio::spawn(async move { svc.submit(&who, r.id, r.version).await })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert_eq!(r.state, RequestState::Requested);
                admitted += 1;
            }
            Err(e) => assert_eq!(quota_refusal(e).scope, unit_it()),
        }
    }
    assert_eq!(admitted, 100);
    let waiting = store
        .request_ids_in_states(&[RequestState::Requested])
        .await
        .unwrap();
    assert_eq!(waiting.len(), 100);
    assert_eq!(agrees_with_a_recount(&w).await[&unit_it()].vms, 100);
}

#[tokio::test]
async fn an_adopted_vm_counts_against_its_owner() {
    let sim = SimPlatform::demo(7);
    let w = World::new(sim.clone(), Arc::new(MemoryStore::new()));
    let b = butler::Butler::builder()
        .store(w.svc.store().clone())
        .simulator(sim.clone())
        .build()
        .unwrap();
    sim.add_vm(butler::backend::VmInfo {
        uuid: sim.new_uuid(),
        name: "legacy-db".into(),
        cluster: "c1-madrid".into(),
        project: None,
        power: butler::backend::PowerState::On,
        state: butler::backend::VmState::Ready,
        vcpus: 8,
        ram_gib: 32,
        disks_gib: vec![100, 500],
        nics: vec!["vlan-10".into()],
        categories: vec![],
        ip_addresses: vec![],
    });
    b.vms()
        .adopt(&ada(), "legacy-db", "ana", "CC-1001")
        .await
        .unwrap();
    let held = agrees_with_a_recount(&w).await;
    let ana_holds = &held[&Scope::Requester("ana".into())];
    assert_eq!(
        (ana_holds.vcpus, ana_holds.storage_gib, ana_holds.vms),
        (8, 600, 1)
    );
    // No division or unit: counted for its owner alone.
    assert_eq!(held.len(), 1, "{held:?}");
}

/// Twenty submits of one draft at once: one is taken, the others are
/// conflicts, and the share stays held exactly once (a loser giving back
/// what it took must not free the winner's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_submits_of_one_request_leave_its_share_held_once() {
    let store: Arc<dyn Store> = Arc::new(
        butler::store::SqliteStore::open(tempfile::tempdir().unwrap().keep().join("r.db")).unwrap(),
    );
    let w = World::new(SimPlatform::demo(7), store);
    quotas(&w, "[[quota]]\nunit = \"IT\"\nvms = 10\n").await;
    for round in 0..10 {
        let r = w
            .svc
            .create(&ana(), butler::demo::spec(&format!("twice{round}")))
            .await
            .unwrap();
        let tries: Vec<_> = (0..20)
            .map(|_| {
                let svc = w.svc.clone();
                tokio::spawn(async move { svc.submit(&ana(), r.id, r.version).await })
            })
            .collect();
        let mut taken = 0;
        for t in tries {
            match t.await.unwrap() {
                Ok(_) => taken += 1,
                Err(ButlerError::Conflict(_)) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(taken, 1);
        let held = agrees_with_a_recount(&w).await;
        assert_eq!(held[&unit_it()].vms, round + 1, "round {round}");
    }
}

//! The inventory (SPEC §12) on the simulator: every VM provisioning makes
//! is recorded once; lists follow the request visibility rules; power by
//! owner, Operator or Admin with the platform read first; guest shutdown
//! with its deadline; adoption; the reconcile flags what changed outside.

mod common;

use butler::auth::{Actor, Role};
use butler::backend::{PowerChange, PowerState};
use butler::inventory::{Drift, InventoryConfig, Lifecycle, PowerOutcome, PowerRequest, VmQuery};
use butler::sim::{Op, SimPlatform};
use butler::store::{MemoryStore, SqliteStore, Store, StoreError};
use butler::{Butler, ButlerError};
use common::{ana, bea};
use std::sync::Arc;
use std::time::Duration;

fn butler(sim: &SimPlatform) -> Butler {
    butler_on(sim, Arc::new(MemoryStore::new()))
}

/// A Butler on `sim`'s virtual clock over `store`.
fn butler_on(sim: &SimPlatform, store: Arc<dyn Store>) -> Butler {
    Butler::builder()
        .simulator(sim.clone())
        .store(store)
        .inventory_config(InventoryConfig {
            shutdown_wait: Duration::from_secs(120),
            poll: Duration::from_secs(10),
            reconcile_page: 3,
            reconcile_every: Duration::from_secs(60),
            ..InventoryConfig::default()
        })
        .build()
        .unwrap()
}

fn olga() -> Actor {
    Actor::trusted("olga", [Role::Operator]).unwrap()
}

fn ada() -> Actor {
    Actor::trusted("ada", [Role::Admin]).unwrap()
}

fn vera() -> Actor {
    Actor::trusted("vera", [Role::Viewer]).unwrap()
}

/// Provisions `names` for `owner`, to `Completed`.
async fn provisioned(b: &Butler, owner: &Actor, names: &[&str]) {
    for n in names {
        let r = b
            .requests()
            .create(owner, butler::demo::spec(n))
            .await
            .unwrap();
        let r = b.requests().submit(owner, r.id, r.version).await.unwrap();
        b.requests().approve(&bea(), r.id, r.version).await.unwrap();
    }
    let s = b.engine().unwrap().run_until_idle().await.unwrap();
    assert_eq!(s.completed, names.len());
}

/// The newest VM `who` sees.
async fn first_vm(b: &Butler, who: &Actor) -> butler::inventory::VmRecord {
    b.vms().list(who, &VmQuery::default()).await.unwrap().items[0].clone()
}

fn power(change: PowerChange, force: bool) -> PowerRequest {
    PowerRequest {
        change,
        force_after_deadline: force,
    }
}

#[tokio::test]
async fn provisioning_records_each_vm_once_and_lists_follow_visibility() {
    let sim = SimPlatform::demo(61);
    let b = butler(&sim);
    let zoe = Actor::trusted("zoe", [Role::Requester]).unwrap();
    provisioned(&b, &ana(), &["inv-a1", "inv-a2"]).await;
    provisioned(&b, &zoe, &["inv-z1"]).await;
    let all = b.vms().list(&vera(), &VmQuery::default()).await.unwrap();
    assert_eq!(all.total, 3);
    let rec = &all.items[0];
    assert_eq!(
        (rec.display_name.as_str(), rec.owner.as_str(), rec.lifecycle),
        ("inv-z1", "zoe", Lifecycle::Active)
    );
    let vm = sim.vm(&rec.name).unwrap();
    assert_eq!(
        (rec.platform_id.as_str(), rec.power),
        (vm.uuid.as_str(), PowerState::On)
    );
    assert_eq!(rec.spec.vcpus, vm.vcpus);
    assert!(rec.request.is_some() && rec.cost_center.starts_with("CC-"));
    // A Requester sees their own, whatever they ask for.
    let mine = b
        .vms()
        .list(
            &ana(),
            &VmQuery {
                owner: Some("zoe".into()),
                ..VmQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.total, 2);
    assert!(mine.items.iter().all(|r| r.owner == "ana"));
    assert!(matches!(
        b.vms().get(&ana(), rec.id).await,
        Err(ButlerError::NotFound(_))
    ));
    assert!(matches!(
        b.vms()
            .list(
                &ana(),
                &VmQuery {
                    limit: Some(10_001),
                    ..VmQuery::default()
                }
            )
            .await,
        Err(ButlerError::Limit(_))
    ));
}

#[tokio::test]
async fn power_reads_the_platform_first_and_records_every_change() {
    let sim = SimPlatform::demo(62);
    let b = butler(&sim);
    provisioned(&b, &ana(), &["pw-1"]).await;
    let rec = first_vm(&b, &ana()).await;
    let calls = || sim.calls(Op::SetPower);

    // The owner shuts the guest down; the VM is off, in the record too.
    let out = b
        .vms()
        .power(&ana(), rec.id, power(PowerChange::GuestShutdown, false))
        .await
        .unwrap();
    assert_eq!(out, PowerOutcome::Done(PowerState::Off));
    assert_eq!(sim.vm(&rec.name).unwrap().power, PowerState::Off);
    assert_eq!(calls(), 1);
    // No notifier, nobody to deliver a notice: none is kept.
    assert!(first_vm(&b, &ana()).await.outbox.is_empty());
    // Off already: nothing is asked of the platform (Prism would fail it).
    for change in [PowerChange::GuestShutdown, PowerChange::HardOff] {
        let out = b
            .vms()
            .power(&ana(), rec.id, power(change, false))
            .await
            .unwrap();
        assert_eq!(out, PowerOutcome::Already(PowerState::Off));
    }
    assert_eq!(calls(), 1);
    // Someone else's VM: a Requester does not even see it; a Viewer sees
    // it and may not power it; an Operator may.
    let zoe = Actor::trusted("zoe", [Role::Requester]).unwrap();
    assert!(matches!(
        b.vms()
            .power(&zoe, rec.id, power(PowerChange::On, false))
            .await,
        Err(ButlerError::NotFound(_))
    ));
    assert!(matches!(
        b.vms()
            .power(&vera(), rec.id, power(PowerChange::On, false))
            .await,
        Err(ButlerError::Denied(_))
    ));
    let out = b
        .vms()
        .power(&olga(), rec.id, power(PowerChange::On, false))
        .await
        .unwrap();
    assert_eq!(out, PowerOutcome::Done(PowerState::On));
    b.vms()
        .power(&olga(), rec.id, power(PowerChange::GuestRestart, false))
        .await
        .unwrap();
    assert_eq!(sim.guest_restarts(&rec.name), 1);
    assert_eq!(calls(), 3);
    let after = b.vms().get(&ana(), rec.id).await.unwrap();
    assert_eq!(after.power, PowerState::On);
    let lines: Vec<(&str, &str)> = after
        .history
        .iter()
        .map(|e| (e.actor.as_str(), e.what.as_str()))
        .collect();
    assert_eq!(
        &lines[1..],
        [
            ("ana", "power guest_shutdown: done"),
            ("ana", "power guest_shutdown: already off"),
            ("ana", "power hard_off: already off"),
            ("olga", "power on: done"),
            ("olga", "power guest_restart: done"),
        ]
    );
}

#[tokio::test]
async fn a_guest_that_does_not_stop_is_waited_for_then_left_on_or_cut_off() {
    // The wait runs on the virtual clock: on SQLite too, whose calls wait
    // on its own thread (time must not jump while they do).
    let stores: [Arc<dyn Store>; 2] = [
        Arc::new(MemoryStore::new()),
        Arc::new(SqliteStore::open_in_memory().unwrap()),
    ];
    for store in stores {
        guest_that_does_not_stop(store).await;
    }
}

async fn guest_that_does_not_stop(store: Arc<dyn Store>) {
    let sim = SimPlatform::demo(63);
    let b = butler_on(&sim, store);
    provisioned(&b, &ana(), &["hung-1"]).await;
    let rec = first_vm(&b, &ana()).await;
    assert!(sim.set_guest_unresponsive(&rec.name, true));
    let t0 = sim.now();
    let out = b
        .vms()
        .power(&ana(), rec.id, power(PowerChange::GuestShutdown, false))
        .await
        .unwrap();
    assert_eq!(out, PowerOutcome::StillOn);
    assert!(
        sim.now() - t0 >= chrono::Duration::seconds(120),
        "the wait ran its course"
    );
    assert_eq!(sim.vm(&rec.name).unwrap().power, PowerState::On);
    let out = b
        .vms()
        .power(&ana(), rec.id, power(PowerChange::GuestShutdown, true))
        .await
        .unwrap();
    assert_eq!(out, PowerOutcome::ForcedOff);
    assert_eq!(sim.vm(&rec.name).unwrap().power, PowerState::Off);
    let last = b.vms().get(&ana(), rec.id).await.unwrap();
    assert_eq!(last.power, PowerState::Off);
    assert!(last
        .history
        .last()
        .unwrap()
        .what
        .contains("powered off hard"));
}

#[tokio::test]
async fn an_admin_adopts_an_existing_vm_once() {
    let sim = SimPlatform::demo(64);
    let b = butler(&sim);
    sim.add_vm(butler::backend::VmInfo {
        uuid: sim.new_uuid(),
        name: "legacy-db".into(),
        cluster: "c1-madrid".into(),
        project: Some("prod-project".into()),
        power: PowerState::On,
        state: butler::backend::VmState::Ready,
        vcpus: 8,
        ram_gib: 32,
        disks_gib: vec![100, 500],
        nics: vec!["vlan-10".into()],
        categories: vec![],
        ip_addresses: vec![],
    });
    assert!(matches!(
        b.vms().adopt(&olga(), "legacy-db", "ana", "CC-1001").await,
        Err(ButlerError::Denied(_))
    ));
    assert!(matches!(
        b.vms().adopt(&ada(), "no-such-vm", "ana", "CC-1001").await,
        Err(ButlerError::NotFound(_))
    ));
    assert!(matches!(
        b.vms().adopt(&ada(), "legacy-db", "ana", " ").await,
        Err(ButlerError::Invalid(_))
    ));
    let r = b
        .vms()
        .adopt(&ada(), "legacy-db", "ana", "CC-1001")
        .await
        .unwrap();
    assert_eq!(
        (r.owner.as_str(), r.request, r.spec.vcpus),
        ("ana", None, 8)
    );
    assert!(matches!(
        b.vms().adopt(&ada(), "legacy-db", "bea", "CC-1001").await,
        Err(ButlerError::Store(StoreError::AlreadyExists(_)))
    ));
    // Now its owner manages it like any other.
    let mine = b.vms().list(&ana(), &VmQuery::default()).await.unwrap();
    assert_eq!(mine.items[0].name, "legacy-db");
    b.vms()
        .power(&ana(), r.id, power(PowerChange::HardOff, false))
        .await
        .unwrap();
    assert_eq!(sim.vm("legacy-db").unwrap().power, PowerState::Off);
}

#[tokio::test]
async fn the_reconcile_flags_what_changed_outside_and_clears_what_came_back() {
    let sim = SimPlatform::demo(65);
    let b = butler(&sim);
    // More records than one reconcile page (3), so paging is exercised.
    provisioned(&b, &ana(), &["rc-1", "rc-2", "rc-3", "rc-4", "rc-5"]).await;
    let page = b.vms().list(&ana(), &VmQuery::default()).await.unwrap();
    let by_name = |n: &str| {
        page.items
            .iter()
            .find(|r| r.display_name == n)
            .unwrap()
            .clone()
    };
    let (deleted, resized, off) = (by_name("rc-1"), by_name("rc-2"), by_name("rc-3"));
    assert!(matches!(
        b.vms().reconcile(&ana()).await,
        Err(ButlerError::Denied(_))
    ));
    let s = b.vms().reconcile(&olga()).await.unwrap();
    assert_eq!((s.checked, s.changed, s.drifted), (5, 0, 0));

    assert!(sim.delete_vm_outside(&deleted.name));
    assert!(sim.resize_vm_outside(&resized.name, 16, 64));
    sim.set_vm_power(&off.name, PowerState::Off);
    let s = b.vms().reconcile(&olga()).await.unwrap();
    assert_eq!((s.checked, s.changed, s.drifted), (5, 2, 2));
    assert_eq!(
        b.vms().get(&ana(), deleted.id).await.unwrap().drift,
        [Drift::Deleted]
    );
    let r = b.vms().get(&ana(), resized.id).await.unwrap();
    assert!(
        matches!(&r.drift[..], [Drift::Resized { found, .. }] if found.vcpus == 16 && found.ram_gib == 64),
        "{:?}",
        r.drift
    );
    assert_eq!(
        b.vms().get(&ana(), off.id).await.unwrap().power,
        PowerState::Off
    );
    let flagged = b
        .vms()
        .list(
            &vera(),
            &VmQuery {
                drifted: true,
                ..VmQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(flagged.total, 2);
    // Nothing new: nothing changes, no history line is added.
    let lines = b.vms().get(&ana(), resized.id).await.unwrap().history.len();
    let s = b.vms().reconcile(&olga()).await.unwrap();
    assert_eq!((s.changed, s.drifted), (0, 2));
    assert_eq!(
        b.vms().get(&ana(), resized.id).await.unwrap().history.len(),
        lines
    );
    // Resized back: the flag clears, and says so.
    assert!(sim.resize_vm_outside(&resized.name, resized.spec.vcpus, resized.spec.ram_gib));
    let s = b.vms().reconcile(&olga()).await.unwrap();
    assert_eq!((s.changed, s.drifted), (1, 1));
    let r = b.vms().get(&ana(), resized.id).await.unwrap();
    assert!(r.drift.is_empty());
    assert_eq!(
        r.history.last().unwrap().what,
        "reconcile: matches the platform again"
    );
}

/// The reconcile's readers split the records below its first page into
/// ranges of numbers: whatever the estate's size against the page (3) and
/// the ranges, on either store, every record is compared exactly once,
/// retired ones never.
#[tokio::test]
async fn the_reconcile_compares_every_record_once_whatever_the_estate_size() {
    for store in ["memory", "sqlite"] {
        for n in 0..14usize {
            let sim = SimPlatform::demo(66);
            let records: Arc<dyn Store> = match store {
                "memory" => Arc::new(MemoryStore::new()),
                _ => Arc::new(SqliteStore::open_in_memory().unwrap()),
            };
            let b = butler_on(&sim, records.clone());
            let fleet = butler::sim::fleet::generate(
                &sim,
                &butler::sim::fleet::FleetSpec {
                    vms: n + 1,
                    groups: 1,
                    ..Default::default()
                },
            );
            let mut ids = Vec::new();
            for name in &fleet.vm_names {
                ids.push(
                    b.vms()
                        .adopt(&ada(), name, "ana", "CC-1001")
                        .await
                        .unwrap()
                        .id,
                );
            }
            // The last adopted is retired: never compared.
            let retired = ids.pop().unwrap();
            let mut r = records
                .get_vm(retired)
                .await
                .unwrap()
                .next("test", sim.now(), "retired");
            r.lifecycle = Lifecycle::Retired;
            records.update_vm(&r, r.version - 1).await.unwrap();
            for name in &fleet.vm_names {
                assert!(sim.delete_vm_outside(name));
            }
            let s = b.vms().reconcile(&olga()).await.unwrap();
            assert_eq!(
                (s.checked, s.changed, s.drifted),
                (n, n, n),
                "{store}, {n} records"
            );
            for id in &ids {
                let r = b.vms().get(&ada(), *id).await.unwrap();
                let lines = r
                    .history
                    .iter()
                    .filter(|e| e.what.starts_with("reconcile"))
                    .count();
                assert_eq!(
                    (r.drift.as_slice(), lines),
                    (&[Drift::Deleted][..], 1),
                    "{store}, {n}: {id}"
                );
            }
            assert!(b.vms().get(&ada(), retired).await.unwrap().drift.is_empty());
        }
    }
}

/// What the simulator lists for a reconcile is what it lists in full.
#[tokio::test]
async fn the_simulators_sizes_are_its_vms_listed_briefly() {
    use butler::backend::{ClusterBackend, VmSize};
    let sim = SimPlatform::demo(67);
    butler::sim::fleet::generate(
        &sim,
        &butler::sim::fleet::FleetSpec {
            vms: 20,
            groups: 2,
            ..Default::default()
        },
    );
    for c in sim.list_clusters().await.unwrap() {
        let full: Vec<VmSize> = sim
            .list_vms(&c.name)
            .await
            .unwrap()
            .into_iter()
            .map(VmSize::from)
            .collect();
        assert_eq!(sim.list_vm_sizes(&c.name).await.unwrap(), full);
    }
    assert!(sim.list_vm_sizes("no-such-cluster").await.is_err());
}

/// The migration journey from the inventory: an Operator powers the VM
/// off through Butler (validation then passes), migrates it, and the
/// record follows the VM to the destination with a history line; the
/// reconcile then finds nothing moved outside Butler.
#[tokio::test]
async fn a_migration_moves_the_record_and_a_reconcile_finds_no_drift() {
    let sim = SimPlatform::demo(66);
    let b = butler(&sim);
    provisioned(&b, &ana(), &["mig-1"]).await;
    let rec = first_vm(&b, &olga()).await;
    let m = b.migrations();
    let g = m.create_group(&olga(), "inv-drill").await.unwrap();
    let g = m
        .set_source(&olga(), g.id, g.version, "c1-madrid")
        .await
        .unwrap();
    let g = m
        .set_destination(&olga(), g.id, g.version, "c2-santiago")
        .await
        .unwrap();
    let g = m.add_vm(&olga(), g.id, g.version, &rec.name).await.unwrap();
    m.refresh(&olga(), g.id).await.unwrap();
    let (_, _, v) = m.validate(&olga(), g.id).await.unwrap();
    assert!(!v.can_migrate(), "powered on: refused");
    let out = b
        .vms()
        .power(&olga(), rec.id, power(PowerChange::GuestShutdown, true))
        .await
        .unwrap();
    assert_eq!(out, PowerOutcome::Done(PowerState::Off));
    m.refresh(&olga(), g.id).await.unwrap();
    let (_, _, v) = m.validate(&olga(), g.id).await.unwrap();
    assert!(v.can_migrate(), "{:?}", v.findings);
    let run = m.migrate(&olga(), v.token().unwrap()).await.unwrap();
    let report = run.wait().await.unwrap();
    assert_eq!(report.counts(), (1, 0, 0), "{report}");
    let moved = b.vms().get(&ana(), rec.id).await.unwrap();
    assert_eq!(moved.cluster, "c2-santiago");
    let last = moved.history.last().unwrap();
    assert_eq!(last.actor, "olga");
    assert!(
        last.what
            .starts_with("migrated from c1-madrid to c2-santiago by run"),
        "{}",
        last.what
    );
    let s = b.vms().reconcile(&olga()).await.unwrap();
    assert_eq!((s.checked, s.drifted), (1, 0));
}

/// The server's background reconcile: it runs every interval of the
/// injected clock by itself and flags what changed; it stops on request.
#[tokio::test]
async fn the_background_reconciler_flags_drift_on_its_own() {
    let sim = SimPlatform::demo(67);
    let b = butler(&sim);
    provisioned(&b, &ana(), &["bg-1"]).await;
    let rec = first_vm(&b, &ana()).await;
    let handle = b.vms().clone().start_reconciler();
    assert!(sim.delete_vm_outside(&rec.name));
    // Each interval passes on the clock until a pass has run on the
    // reconciler's own task; real time bounds only a broken one.
    let mut drift = Vec::new();
    for _ in 0..1000 {
        sim.clock().advance(Duration::from_secs(61));
        drift = b.vms().get(&ana(), rec.id).await.unwrap().drift;
        if !drift.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(drift, [Drift::Deleted]);
    let by = b
        .vms()
        .get(&ana(), rec.id)
        .await
        .unwrap()
        .history
        .last()
        .unwrap()
        .actor
        .clone();
    assert_eq!(by, butler::auth::ENGINE_NAME);
    handle.shutdown().await;
}

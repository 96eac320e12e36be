//! Conformance checks of the inventory port.

use crate::backend::PowerState;
use crate::inventory::{BuiltSpec, Drift, Lifecycle, VmEvent, VmId, VmQuery, VmRecord};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};

/// A record of Ana's VM `name` on `c1-madrid`, active and running, as
/// the conformance checks store it.
pub fn sample_vm(id: VmId, name: &str) -> VmRecord {
    record(id, name, "ana", "c1-madrid")
}

fn record(id: VmId, name: &str, owner: &str, cluster: &str) -> VmRecord {
    let at = DateTime::<Utc>::UNIX_EPOCH;
    VmRecord {
        id,
        version: 1,
        name: name.into(),
        display_name: name.into(),
        request: None,
        owner: owner.into(),
        division: "Sales".into(),
        unit: "Web".into(),
        environment: "Production".into(),
        cost_center: format!("CC-{owner}"),
        cluster: cluster.into(),
        spec: BuiltSpec {
            vcpus: 2,
            ram_gib: 4,
            disks_gib: vec![40, 100],
            nics: vec!["vlan-10".into()],
            image: Some("ubuntu-22.04".into()),
        },
        platform_id: format!("uuid-{name}"),
        power: PowerState::On,
        lease_end: None,
        lifecycle: Lifecycle::Active,
        drift: vec![],
        created_at: at,
        // A line kept as its code and values comes back as written.
        history: vec![VmEvent::new(
            at,
            "butler",
            crate::said::Said::new(
                crate::said::SaidCode::Provisioned,
                [("request", "1".into())],
            ),
        )],
        last_change: None,
        lease_noticed: None,
        outbox: Vec::new(),
        lease_retirement: None,
        lease_extension: None,
        kept_until: None,
        deletion: None,
        restore: None,
        restores: 0,
        open_change: None,
        life: Vec::new(),
    }
}

/// Numbers are new each time; a record reads back whole; a second record
/// with the same number or platform name is refused; a stale update
/// conflicts and a missing record is not found.
pub async fn vm_records_are_unique_versioned_and_round_trip(store: &dyn Store) {
    let a = store.next_vm_id().await.unwrap();
    let b = store.next_vm_id().await.unwrap();
    assert!(b > a, "{a} then {b}");
    let r = record(a, "rt-web01-r1", "ana", "c1-madrid");
    store.insert_vm(&r).await.unwrap();
    assert_eq!(store.get_vm(a).await.unwrap(), r);
    assert_eq!(
        store.find_vm_named("rt-web01-r1").await.unwrap(),
        Some(r.clone())
    );
    assert_eq!(store.find_vm_named("rt-nobody").await.unwrap(), None);
    let same_name = record(b, "rt-web01-r1", "bea", "c1-madrid");
    assert!(matches!(
        store.insert_vm(&same_name).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let same_id = record(a, "rt-other", "bea", "c1-madrid");
    assert!(matches!(
        store.insert_vm(&same_id).await,
        Err(StoreError::AlreadyExists(_))
    ));
    // A record inserted with its own number keeps later numbers past it.
    let far = VmId(b.0 + 1000);
    store
        .insert_vm(&record(far, "rt-far", "ana", "c1-madrid"))
        .await
        .unwrap();
    assert!(store.next_vm_id().await.unwrap() > far);

    let mut next = r.next("ops", DateTime::<Utc>::UNIX_EPOCH, "powered off");
    next.power = PowerState::Off;
    next.drift = vec![Drift::Deleted];
    store.update_vm(&next, 1).await.unwrap();
    assert_eq!(store.get_vm(a).await.unwrap(), next);
    match store.update_vm(&next, 1).await {
        Err(StoreError::Conflict {
            expected, found, ..
        }) => assert_eq!((expected, found), (1, 2)),
        other => panic!("a stale update answered {other:?}"),
    }
    // Each filtered column, changed alone or unchanged, is what the lists
    // and look-ups find (a store that writes only what changed included).
    let listed = |q: VmQuery| async move {
        let names: Vec<String> = store
            .list_vms(&q)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.contains(&"rt-renamed".to_string())
    };
    let mut moved = next.next("ops", DateTime::<Utc>::UNIX_EPOCH, "moved on");
    moved.name = "rt-renamed".into();
    moved.owner = "bea".into();
    moved.cluster = "c2-valencia".into();
    moved.lifecycle = Lifecycle::Retiring;
    moved.lease_end = Some(chrono::NaiveDate::from_ymd_opt(2030, 1, 31).unwrap());
    store.update_vm(&moved, 2).await.unwrap();
    assert_eq!(store.get_vm(a).await.unwrap(), moved);
    assert_eq!(store.find_vm_named("rt-web01-r1").await.unwrap(), None);
    assert!(store.find_vm_named("rt-renamed").await.unwrap().is_some());
    for (q, expected) in [
        (
            VmQuery {
                owner: Some("bea".into()),
                ..VmQuery::default()
            },
            true,
        ),
        (
            VmQuery {
                owner: Some("ana".into()),
                ..VmQuery::default()
            },
            false,
        ),
        (
            VmQuery {
                cluster: Some("c2-valencia".into()),
                ..VmQuery::default()
            },
            true,
        ),
        (
            VmQuery {
                lifecycles: vec![Lifecycle::Retiring],
                ..VmQuery::default()
            },
            true,
        ),
        (
            VmQuery {
                lifecycles: vec![Lifecycle::Active],
                ..VmQuery::default()
            },
            false,
        ),
        (
            VmQuery {
                lease_ends_by: chrono::NaiveDate::from_ymd_opt(2030, 2, 1),
                ..VmQuery::default()
            },
            true,
        ),
    ] {
        assert_eq!(listed(q.clone()).await, expected, "{q:?}");
    }
    // The body alone changes: every filter still finds it where it was.
    let mut noted = moved.next("ops", DateTime::<Utc>::UNIX_EPOCH, "a note");
    noted.power = PowerState::On;
    store.update_vm(&noted, 3).await.unwrap();
    assert_eq!(store.get_vm(a).await.unwrap(), noted);
    assert!(
        listed(VmQuery {
            lifecycles: vec![Lifecycle::Retiring],
            owner: Some("bea".into()),
            ..VmQuery::default()
        })
        .await
    );
    // A name another record has is refused, and nothing changes.
    let mut clash = noted.next("ops", DateTime::<Utc>::UNIX_EPOCH, "renamed");
    clash.name = "rt-far".into();
    assert!(matches!(
        store.update_vm(&clash, 4).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.get_vm(a).await.unwrap(), noted);
    let ghost = record(VmId(b.0 + 5000), "rt-ghost", "ana", "c1-madrid");
    assert!(matches!(
        store.update_vm(&ghost, 1).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_vm(ghost.id).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Lists filter by owner, cluster, lifecycle, cost center, drift, lease
/// end and waiting notices, newest first, with the total over all pages.
pub async fn vm_lists_filter_page_and_order(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..7u32 {
        let id = store.next_vm_id().await.unwrap();
        let owner = if i % 2 == 0 { "lf-ana" } else { "lf-bea" };
        let cluster = if i < 4 { "lf-c1" } else { "lf-c2" };
        let mut r = record(id, &format!("lf-vm{i}"), owner, cluster);
        if i == 5 {
            r.lifecycle = Lifecycle::Retired;
        }
        if i == 6 {
            r.drift = vec![Drift::Moved {
                from: "lf-c1".into(),
                to: "lf-c2".into(),
            }];
        }
        store.insert_vm(&r).await.unwrap();
        ids.push(id);
    }
    let names = |page: &crate::store::Page<VmRecord>| -> Vec<String> {
        page.items.iter().map(|r| r.name.clone()).collect()
    };
    let q = VmQuery {
        owner: Some("lf-ana".into()),
        ..VmQuery::default()
    };
    let page = store.list_vms(&q).await.unwrap();
    assert_eq!(names(&page), ["lf-vm6", "lf-vm4", "lf-vm2", "lf-vm0"]);
    assert_eq!(page.total, 4);
    let q = VmQuery {
        owner: Some("lf-ana".into()),
        offset: 1,
        limit: Some(2),
        ..VmQuery::default()
    };
    let page = store.list_vms(&q).await.unwrap();
    assert_eq!(
        (names(&page), page.total),
        (vec!["lf-vm4".to_string(), "lf-vm2".into()], 4)
    );
    // Keyset: the page after lf-vm4, whatever the offset.
    let q = VmQuery {
        owner: Some("lf-ana".into()),
        before: Some(ids[4]),
        ..VmQuery::default()
    };
    let page = store.list_vms(&q).await.unwrap();
    assert_eq!(
        (names(&page), page.total),
        (vec!["lf-vm2".to_string(), "lf-vm0".into()], 2)
    );
    // A range of numbers (how a reconcile's readers split the estate):
    // both bounds excluded, and an empty or reversed range is empty.
    let range = |after: usize, before: usize| VmQuery {
        owner: Some("lf-ana".into()),
        after: Some(ids[after]),
        before: Some(ids[before]),
        ..VmQuery::default()
    };
    let page = store.list_vms(&range(0, 6)).await.unwrap();
    assert_eq!(names(&page), ["lf-vm4", "lf-vm2"]);
    let q = VmQuery {
        before: None,
        ..range(2, 0)
    };
    assert_eq!(
        names(&store.list_vms(&q).await.unwrap()),
        ["lf-vm6", "lf-vm4"]
    );
    for (a, b) in [(4, 4), (6, 2), (4, 5)] {
        let page = store.list_vms(&range(a, b)).await.unwrap();
        assert!(
            page.items.is_empty(),
            "after {a}, before {b}: {:?}",
            names(&page)
        );
    }
    let q = VmQuery {
        cluster: Some("lf-c2".into()),
        lifecycles: vec![Lifecycle::Active],
        limit: None,
        ..VmQuery::default()
    };
    assert_eq!(
        names(&store.list_vms(&q).await.unwrap()),
        ["lf-vm6", "lf-vm4"]
    );
    let q = VmQuery {
        cluster: Some("lf-c2".into()),
        lifecycles: vec![Lifecycle::Retired, Lifecycle::Retiring],
        ..VmQuery::default()
    };
    assert_eq!(names(&store.list_vms(&q).await.unwrap()), ["lf-vm5"]);
    let q = VmQuery {
        cost_center: Some("CC-lf-bea".into()),
        ..VmQuery::default()
    };
    assert_eq!(store.list_vms(&q).await.unwrap().total, 3);
    let q = VmQuery {
        cluster: Some("lf-c2".into()),
        drifted: true,
        ..VmQuery::default()
    };
    assert_eq!(names(&store.list_vms(&q).await.unwrap()), ["lf-vm6"]);
    // Shapes are the same records, read short, with their drift.
    let whole = store.list_vms(&q).await.unwrap();
    let shapes = store.list_vm_shapes(&q).await.unwrap();
    let expected: Vec<crate::inventory::VmShape> =
        whole.items.iter().cloned().map(Into::into).collect();
    assert_eq!((shapes.items, shapes.total), (expected, whole.total));
    assert!(!whole.items[0].drift.is_empty(), "a drifted record");

    // Leases: the filter reads the lease end as written last (an update
    // moves it), and a record without a lease never matches.
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    for (i, end) in [(1, "2027-01-10"), (3, "2027-02-01")] {
        let mut r = store.get_vm(ids[i]).await.unwrap();
        let version = r.version;
        r.version += 1;
        r.lease_end = Some(day(end));
        store.update_vm(&r, version).await.unwrap();
    }
    let leased_by = |by: &str| VmQuery {
        lease_ends_by: Some(day(by)),
        owner: Some("lf-bea".into()),
        ..VmQuery::default()
    };
    assert_eq!(
        names(&store.list_vms(&leased_by("2027-01-31")).await.unwrap()),
        ["lf-vm1"]
    );
    let mut r = store.get_vm(ids[1]).await.unwrap();
    let version = r.version;
    r.version += 1;
    r.lease_end = Some(day("2027-03-01"));
    store.update_vm(&r, version).await.unwrap();
    assert!(store
        .list_vms(&leased_by("2027-01-31"))
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        names(&store.list_vms(&leased_by("2027-03-01")).await.unwrap()),
        ["lf-vm3", "lf-vm1"]
    );

    // Outboxes: a record with a notice waiting is found, and no longer
    // once its outbox is empty again.
    let pending = VmQuery {
        notices_pending: true,
        cluster: Some("lf-c1".into()),
        ..VmQuery::default()
    };
    assert!(store.list_vms(&pending).await.unwrap().items.is_empty());
    let mut r = store.get_vm(ids[2]).await.unwrap();
    let version = r.version;
    r.version += 1;
    r.outbox.push(crate::inventory::PendingNotice {
        notice: crate::notify::VmNotice {
            vm: r.id,
            name: r.name.clone(),
            display_name: r.display_name.clone(),
            owner: r.owner.clone(),
            kind: crate::notify::VmNoticeKind::LeaseEnded {
                ended: day("2027-01-01"),
            },
            at: r.created_at,
        },
        done: ["mail".to_string()].into(),
    });
    store.update_vm(&r, version).await.unwrap();
    let found = store.list_vms(&pending).await.unwrap();
    assert_eq!(names(&found), ["lf-vm2"]);
    assert_eq!(
        found.items[0].outbox, r.outbox,
        "the outbox reads back whole"
    );
    let version = r.version;
    r.version += 1;
    r.outbox.clear();
    store.update_vm(&r, version).await.unwrap();
    assert!(store.list_vms(&pending).await.unwrap().items.is_empty());
}

/// A step's success and its change to a VM record are one write
/// ([`Store::update_request_with_vm`]): a stale record or a stale request
/// refuses both (the record's refusal is the VM conflict), and the write
/// that passes lands both, the record found by its new lifecycle.
pub async fn step_and_record_change_are_one_write(store: &dyn Store) {
    use crate::auth::{Actor, Policy, Role};
    use crate::request::{self, Action};
    use crate::store::{StepLogEntry, StepPhase};
    let at = super::t0();
    let rid = store.next_request_id().await.unwrap();
    store
        .insert_request(&super::sample_request(rid, "ana", at))
        .await
        .unwrap();
    let vid = store.next_vm_id().await.unwrap();
    let vm = record(vid, &format!("one-write-r{rid}"), "ana", "c1-madrid");
    store.insert_vm(&vm).await.unwrap();
    let r = store.get_request(rid).await.unwrap();
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let (submitted, _) =
        request::transition(&Policy::standard(), &r, &ana, Action::Submit, at).unwrap();
    let line = StepLogEntry {
        at,
        engine: "e1".into(),
        step: crate::request::ProvisioningStep::PowerOff,
        attempt: 1,
        phase: StepPhase::Started,
        lease: 1,
        key: None,
    };
    let mut retiring = vm.next("butler", at, "retiring");
    retiring.lifecycle = Lifecycle::Retiring;
    let unchanged = || async {
        assert_eq!(
            store.get_vm(vid).await.unwrap(),
            vm,
            "the record was written"
        );
        let stored = store.get_request(rid).await.unwrap();
        assert_eq!(
            (stored.state, stored.version),
            (r.state, r.version),
            "the request was written"
        );
        assert!(
            store.step_log(rid).await.unwrap().is_empty(),
            "a line was written"
        );
    };

    let stale_vm = store
        .update_request_with_vm(
            &submitted,
            r.version,
            std::slice::from_ref(&line),
            &retiring,
            &VmRecord {
                version: vm.version + 1,
                ..vm.clone()
            },
        )
        .await;
    assert!(
        stale_vm.as_ref().is_err_and(|e| e.is_vm_conflict(vid)),
        "a stale record answered {stale_vm:?}"
    );
    unchanged().await;
    let stale_request = store
        .update_request_with_vm(
            &submitted,
            r.version + 1,
            std::slice::from_ref(&line),
            &retiring,
            &vm,
        )
        .await;
    assert!(
        matches!(&stale_request, Err(e @ StoreError::Conflict { .. }) if !e.is_vm_conflict(vid)),
        "a stale request answered {stale_request:?}"
    );
    unchanged().await;
    let mut ghost = retiring.clone();
    ghost.id = VmId(vid.0 + 10_000);
    ghost.name = format!("one-write-ghost-r{rid}");
    let missing = store
        .update_request_with_vm(
            &submitted,
            r.version,
            std::slice::from_ref(&line),
            &ghost,
            &VmRecord {
                id: ghost.id,
                ..vm.clone()
            },
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    unchanged().await;

    store
        .update_request_with_vm(
            &submitted,
            r.version,
            std::slice::from_ref(&line),
            &retiring,
            &vm,
        )
        .await
        .unwrap();
    assert_eq!(store.get_vm(vid).await.unwrap(), retiring);
    let stored = store.get_request(rid).await.unwrap();
    assert_eq!(
        (stored.state, stored.version),
        (submitted.state, submitted.version)
    );
    assert_eq!(store.step_log(rid).await.unwrap(), vec![line]);
    let q = VmQuery {
        lifecycles: vec![Lifecycle::Retiring],
        limit: None,
        ..VmQuery::default()
    };
    let found = store.list_vms(&q).await.unwrap();
    assert!(
        found.items.iter().any(|v| v.id == vid),
        "not listed as retiring"
    );

    // Written retired, the record frees its quota share in the same
    // write; a refused write frees nothing.
    let share = crate::quota::vm_hold(&retiring, rust_decimal::Decimal::ONE).unwrap();
    let holder = share.holder;
    store
        .hold(&[crate::quota::HoldChange::Set(share.clone())], &[])
        .await
        .unwrap()
        .unwrap();
    let mut retired = retiring.next("butler", at, "retired");
    retired.lifecycle = Lifecycle::Retired;
    let later = store.get_request(rid).await.unwrap();
    let refused = store
        .update_request_with_vm(&later, later.version + 1, &[], &retired, &retiring)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        store.held(holder).await.unwrap(),
        Some(share),
        "freed by a refused write"
    );
    store
        .update_request_with_vm(&later, later.version, &[], &retired, &retiring)
        .await
        .unwrap();
    assert_eq!(
        store.held(holder).await.unwrap(),
        None,
        "still held once retired"
    );
}

//! The [`Store`] conformance suite: call [`run_all`] from a backend's tests.

use crate::auth::{Actor, Role};
use crate::cost::estimate;
use crate::demo;
use crate::request::{self, Action, Priced, Request, RequestId, RequestState};
use crate::store::{RequestQuery, Store, StoreError};
use crate::vm_spec::validate;
use chrono::{DateTime, Duration, TimeZone, Utc};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Unwraps a store call that must succeed.
fn ok(r: Result<(), StoreError>) {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh `Created` request owned by `owner`, created at `at`.
pub fn sample_request(id: RequestId, owner: &str, at: DateTime<Utc>) -> Request {
    let valid = validate(&demo::spec(&format!("vm{}", id.0)), &demo::catalog())
        .unwrap_or_else(|e| panic!("{e}"));
    let est =
        estimate(&valid, &demo::rate_book(), at.date_naive()).unwrap_or_else(|e| panic!("{e}"));
    request::create(
        &crate::auth::Policy::standard(),
        id,
        &Actor::trusted(owner, [Role::Requester]).unwrap(),
        Priced {
            spec: valid,
            estimate: est,
        },
        at,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs every port's checks below.
pub async fn run_all(store: &dyn Store) {
    requests(store).await;
    flow(store).await;
    groups(store).await;
    reports(store).await;
    vms(store).await;
    users(store).await;
    keys(store).await;
    outbox(store).await;
    rule_books(store).await;
    quota_holds(store).await;
    showback(store).await;
}

/// The [`ShowbackStore`](crate::store::ShowbackStore) port: a month and
/// its lines written together, read back by page and by owner; a month
/// closed twice refused with nothing written; lines past one insert's
/// batch all kept.
pub async fn showback(store: &dyn Store) {
    use crate::inventory::VmId;
    use crate::showback::{ClosedMonth, Month, VmMonth, VmShowback};
    use rust_decimal::Decimal;
    let month = |s: &str| s.parse::<Month>().unwrap();
    let line = |vm: u64, owner: &str, m: Month| VmShowback {
        vm: VmId(vm),
        name: format!("vm{vm}"),
        owner: owner.into(),
        cost_center: "CC-1001".into(),
        division: "CORP".into(),
        unit: "IT".into(),
        request: Some(RequestId(vm)),
        storage_unpriced: false,
        months: vec![VmMonth {
            month: m,
            days: 31,
            days_off: 0,
            actual: Decimal::new(i64::try_from(vm).unwrap() * 101, 4),
            estimate: None,
            causes: None,
        }],
    };
    let closed = |m: Month, vms: u64| ClosedMonth {
        month: m,
        closed_by: "ada".into(),
        closed_at: Utc.with_ymd_and_hms(2026, 4, 2, 9, 0, 0).unwrap(),
        currency: Some("UF".into()),
        vms,
        actual: Decimal::new(42, 0),
        estimate: Decimal::ZERO,
        unpriced: Vec::new(),
    };
    let march = month("2026-03");
    let before = store.closed_months().await.unwrap();
    assert!(before.iter().all(|c| c.month != march));
    let lines = vec![
        line(1, "ana", march),
        line(5, "bea", march),
        line(9, "ana", march),
    ];
    store.close_month(&closed(march, 3), &lines).await.unwrap();
    let months = store.closed_months().await.unwrap();
    assert_eq!(
        months.iter().find(|c| c.month == march),
        Some(&closed(march, 3))
    );
    let ids = |ls: Vec<VmShowback>| ls.iter().map(|l| l.vm.0).collect::<Vec<_>>();
    assert_eq!(
        store.closed_lines(march, None, None, 10).await.unwrap(),
        lines
    );
    let page = store
        .closed_lines(march, None, Some(VmId(1)), 1)
        .await
        .unwrap();
    assert_eq!(ids(page), [5]);
    assert_eq!(
        ids(store
            .closed_lines(march, Some("ana"), None, 10)
            .await
            .unwrap()),
        [1, 9]
    );
    assert_eq!(
        ids(store
            .closed_lines(march, Some("ana"), Some(VmId(1)), 10)
            .await
            .unwrap()),
        [9]
    );
    assert!(store
        .closed_lines(month("2026-02"), None, None, 10)
        .await
        .unwrap()
        .is_empty());

    // Closed again (another closer): refused, nothing of it written.
    let again = vec![line(1, "ana", march), line(2, "ana", march)];
    let e = store
        .close_month(&closed(march, 2), &again)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyExists(_)), "{e}");
    assert_eq!(
        store.closed_lines(march, None, None, 10).await.unwrap(),
        lines
    );
    let months = store.closed_months().await.unwrap();
    assert_eq!(
        months.iter().find(|c| c.month == march),
        Some(&closed(march, 3))
    );

    // More lines than one insert carries.
    let april = month("2026-04");
    let many: Vec<VmShowback> = (1..=1_201).map(|v| line(v, "carl", april)).collect();
    store
        .close_month(&closed(april, 1_201), &many)
        .await
        .unwrap();
    let mut read = Vec::new();
    let mut after = None;
    loop {
        let page = store.closed_lines(april, None, after, 400).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.vm);
        read.extend(page);
    }
    assert_eq!(read, many);
    let months: Vec<Month> = store
        .closed_months()
        .await
        .unwrap()
        .iter()
        .map(|c| c.month)
        .collect();
    let (m3, m4) = (
        months.iter().position(|m| *m == march),
        months.iter().position(|m| *m == april),
    );
    assert!(m3.unwrap() < m4.unwrap(), "oldest first: {months:?}");
}

/// The [`QuotaStore`](crate::store::QuotaStore) port: holds set and
/// released keep every scope's usage; a change over a limit is refused
/// and writes nothing; a recount replaces everything; 200 holds at once
/// against a limit of 20 admit exactly 20.
pub async fn quota_holds(store: &dyn Store) {
    use crate::quota::{Hold, HoldChange, Holder, Limits, Scope, Share};
    use std::collections::BTreeMap;
    let one = |cpus: u64| Share {
        vcpus: cpus,
        ram_gib: 4,
        storage_gib: 50,
        vms: 1,
        monthly_cost: rust_decimal::Decimal::new(1_234, 2),
    };
    let hold = |n: u64, unit: &str, owner: &str, cpus: u64| {
        Hold::new(Holder::Request(RequestId(n)), "D1", unit, owner, one(cpus))
    };
    let used = |usage: Vec<crate::quota::Usage>| -> BTreeMap<Scope, Share> {
        usage.into_iter().map(|u| (u.scope, u.used)).collect()
    };
    let all = || async { used(store.all_usage().await.unwrap()) };
    assert!(store.replace_holds(&[], false).await.unwrap());
    assert!(store.holds_counted().await.unwrap());
    // A first count after another process counted changes nothing.
    let stray = hold(99, "U9", "zed", 1);
    assert!(!store
        .replace_holds(std::slice::from_ref(&stray), true)
        .await
        .unwrap());
    assert_eq!(store.held(stray.holder).await.unwrap(), None);
    assert!(all().await.values().all(Share::is_zero));

    let unit = Scope::Unit("U1".into());
    let cap = |vcpus: u64| {
        vec![(
            unit.clone(),
            Limits {
                vcpus: Some(vcpus),
                ..Limits::default()
            },
        )]
    };
    let a = hold(1, "U1", "Ana", 4);
    let after = store
        .hold(&[HoldChange::Set(a.clone())], &cap(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used(after)[&unit].vcpus, 4);
    assert_eq!(store.held(a.holder).await.unwrap(), Some(a.clone()));
    assert_eq!(
        used(
            store
                .usage(&[Scope::Requester("ana".into())])
                .await
                .unwrap()
        )[&Scope::Requester("ana".into())],
        one(4)
    );
    // Over the limit: refused, naming it, nothing written.
    let b = hold(2, "U1", "bea", 8);
    let refused = store
        .hold(&[HoldChange::Set(b.clone())], &cap(10))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (refused.dimension.as_str(), refused.would_use),
        ("vcpus", 12.into())
    );
    assert_eq!(store.held(b.holder).await.unwrap(), None);
    assert_eq!(all().await[&unit].vcpus, 4);
    // Grown within the limit, moved to another unit, released.
    let grown = hold(1, "U1", "Ana", 6);
    store
        .hold(&[HoldChange::Set(grown)], &cap(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all().await[&unit].vcpus, 6);
    let moved = hold(1, "U2", "Ana", 6);
    store
        .hold(&[HoldChange::Set(moved)], &[])
        .await
        .unwrap()
        .unwrap();
    let now = all().await;
    assert_eq!(
        (now[&unit].vcpus, now[&Scope::Unit("U2".into())].vcpus),
        (0, 6)
    );
    store
        .hold(&[HoldChange::Release(a.holder)], &cap(0))
        .await
        .unwrap()
        .unwrap();
    assert!(all().await.values().all(Share::is_zero));
    assert_eq!(store.held(a.holder).await.unwrap(), None);

    // A recount replaces every hold and the usage.
    assert!(store
        .replace_holds(&[hold(7, "U3", "carl", 2), hold(8, "U3", "carl", 3)], false)
        .await
        .unwrap());
    let now = all().await;
    assert_eq!(now[&Scope::Unit("U3".into())].vcpus, 5);
    assert_eq!(now[&Scope::Division("D1".into())].vms, 2);
    assert_eq!(
        store.held(Holder::Request(RequestId(1))).await.unwrap(),
        None
    );

    // Atomic under concurrency.
    assert!(store.replace_holds(&[], false).await.unwrap());
    let tries = (0..200u64).map(|n| {
        let h = hold(1_000 + n, "U1", &format!("u{}", n % 7), 1);
        async move {
            store
                .hold(&[HoldChange::Set(h)], &cap(20))
                .await
                .unwrap()
                .is_ok()
        }
    });
    let admitted = futures::future::join_all(tries)
        .await
        .into_iter()
        .filter(|a| *a)
        .count();
    assert_eq!(admitted, 20);
    assert_eq!(all().await[&unit].vcpus, 20);
}

/// The [`RuleStore`](crate::store::RuleStore) port: versions added one
/// after another, a version written twice refused, the newest found.
pub async fn rule_books(store: &dyn Store) {
    use crate::rules::{Outcome, Rule, RuleBook};
    let start = store.rule_books().await.unwrap();
    let newest = start.last().map_or(0, |b| b.version);
    assert_eq!(store.newer_rule_book(newest).await.unwrap(), None);
    let book = |version: u32, name: &str| RuleBook {
        version,
        rules: vec![Rule {
            name: name.into(),
            when: Default::default(),
            then: Outcome::Refuse {
                reason: format!("{name} \"quoted\" ünïcode"),
            },
        }],
        quotas: vec![crate::quota::Quota {
            scope: crate::quota::Scope::Requester("ana".into()),
            limits: crate::quota::Limits {
                vcpus: Some(8),
                monthly_cost: Some(rust_decimal::Decimal::new(12_345, 2)),
                ..Default::default()
            },
        }],
        approvers: vec![crate::rules::Approvers {
            division: None,
            unit: Some("U1".into()),
            users: vec!["bea".into()],
        }],
        changed_by: "ada".into(),
        changed_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    };
    let first = book(newest + 1, "first");
    store.add_rule_book(&first).await.unwrap();
    // The same version again (another writer), or one that skips: refused.
    for bad in [book(newest + 1, "again"), book(newest + 3, "skips")] {
        match store.add_rule_book(&bad).await {
            Err(StoreError::Conflict { found, .. }) => assert_eq!(found, u64::from(newest + 1)),
            other => panic!("{other:?}"),
        }
    }
    let second = book(newest + 2, "second");
    store.add_rule_book(&second).await.unwrap();
    assert_eq!(
        store.newer_rule_book(newest).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.newer_rule_book(newest + 2).await.unwrap(), None);
    let all = store.rule_books().await.unwrap();
    assert_eq!(&all[start.len()..], &[first, second]);
}

mod vms;
pub use vms::{
    sample_vm, step_and_record_change_are_one_write, vm_lists_filter_page_and_order,
    vm_records_are_unique_versioned_and_round_trip,
};

/// The [`VmStore`](crate::store::VmStore) port: the inventory.
pub async fn vms(store: &dyn Store) {
    vm_records_are_unique_versioned_and_round_trip(store).await;
    vm_lists_filter_page_and_order(store).await;
    step_and_record_change_are_one_write(store).await;
}

/// The [`RequestStore`](crate::store::RequestStore) port: ids, rows,
/// versions, lists.
pub async fn requests(store: &dyn Store) {
    ids_are_unique_and_round_trip(store).await;
    stale_updates_conflict(store).await;
    lists_filter_page_and_order(store).await;
}

/// The [`FlowStore`](crate::store::FlowStore) port: the step log and leases.
pub async fn flow(store: &dyn Store) {
    step_log_appends_in_order(store).await;
    leases_exclude_other_owners_until_expiry(store).await;
}

/// The [`GroupStore`](crate::store::GroupStore) port.
pub async fn groups(store: &dyn Store) {
    groups_have_unique_names_and_versions(store).await;
    group_vm_edits_apply_in_place_all_or_nothing(store).await;
}

/// The [`ReportStore`](crate::store::ReportStore) port.
pub async fn reports(store: &dyn Store) {
    reports_round_trip_newest_first(store).await;
    runs_can_be_asked_to_stop(store).await;
}

/// The [`UserStore`](crate::store::UserStore) port.
pub async fn users(store: &dyn Store) {
    users_round_trip_with_versions_and_audit(store).await;
}

/// The [`KeyStore`](crate::store::KeyStore) port.
pub async fn keys(store: &dyn Store) {
    secret_keys_are_made_once_and_kept(store).await;
}

/// The [`OutboxStore`](crate::store::OutboxStore) port.
pub async fn outbox(store: &dyn Store) {
    outbox_queues_each_event_once_per_notifier(store).await;
}

/// Group names are unique (the store refuses), updates check versions,
/// deletes remove, finds match by part of the name.
pub async fn groups_have_unique_names_and_versions(store: &dyn Store) {
    use crate::migration::MigrationGroup;
    let id1 = store
        .next_group_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let id2 = store
        .next_group_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(id1, id2);
    let mut a =
        MigrationGroup::new(id1, "Drill North", "ops", t0()).unwrap_or_else(|e| panic!("{e}"));
    a.add_vm("v1").unwrap_or_else(|e| panic!("{e}"));
    ok(store.insert_group(&a).await);
    let b = MigrationGroup::new(id2, "Drill North", "ops", t0()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            store.insert_group(&b).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "duplicate name"
    );
    let shouting =
        MigrationGroup::new(id2, "DRILL NORTH", "ops", t0()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            store.insert_group(&shouting).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "names differing only by case are one name"
    );
    let b = MigrationGroup::new(id2, "drill south", "ops", t0()).unwrap_or_else(|e| panic!("{e}"));
    ok(store.insert_group(&b).await);
    assert_eq!(store.get_group(id1).await.ok(), Some(a.clone()));
    let found: Vec<String> = store
        .find_groups("DRILL")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(
        found,
        vec!["Drill North".to_string(), "drill south".to_string()]
    );
    assert_eq!(
        store.find_groups("north").await.map(|v| v.len()).ok(),
        Some(1)
    );
    assert_eq!(
        store.find_groups("%").await.map(|v| v.len()).ok(),
        Some(0),
        "wildcards are literal"
    );
    let mut renamed = b.clone();
    renamed.name = "Drill North".into();
    renamed.version = 2;
    assert!(
        matches!(
            store.update_group(&renamed, 1).await,
            Err(StoreError::AlreadyExists(_))
        ),
        "rename onto a taken name"
    );
    renamed.name = "Drill East".into();
    assert_eq!(store.group_version(id2).await, Ok(1));
    ok(store.update_group(&renamed, 1).await);
    assert_eq!(
        store.group_version(id2).await,
        Ok(2),
        "the version alone, read cheaply"
    );
    assert!(matches!(
        store.update_group(&renamed, 1).await,
        Err(StoreError::Conflict {
            expected: 1,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        store.delete_group(id2, 1).await,
        Err(StoreError::Conflict { .. })
    ));
    ok(store.delete_group(id2, 2).await);
    assert!(matches!(
        store.get_group(id2).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.group_version(id2).await,
        Err(StoreError::NotFound(_))
    ));
    ok(store.delete_group(id1, 1).await);
}

/// VM-list edits apply in place, in order, all or nothing, with a version
/// check; a header update keeps the VM list; a delete takes the VMs along.
pub async fn group_vm_edits_apply_in_place_all_or_nothing(store: &dyn Store) {
    use crate::migration::{GroupError, GroupVm, GroupVmsEdit, MigrationGroup};
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let id = store
        .next_group_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut g = MigrationGroup::new(id, "rows", "ops", t0()).unwrap_or_else(|e| panic!("{e}"));
    g.add_vm("a").unwrap_or_else(|e| panic!("{e}"));
    ok(store.insert_group(&g).await);
    let edit = |e: GroupVmsEdit, v: u64| async move {
        store
            .change_group_vms(id, v, &e, "olga", t0() + Duration::minutes(v as i64))
            .await
    };
    let done = edit(GroupVmsEdit::Add(names(&["b", "c", "d"])), 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((done.id, done.version, done.vms), (id, 2, 4));
    assert_eq!(
        edit(GroupVmsEdit::Add(names(&["e"])), 1).await,
        Err(StoreError::Conflict {
            what: format!("migration group {id}"),
            expected: 1,
            found: 2
        }),
        "a stale version changes nothing"
    );
    assert_eq!(
        edit(GroupVmsEdit::Add(names(&["e", "b"])), 2).await,
        Ok(Err(GroupError::DuplicateVm("b".into()))),
        "a VM already in the group refuses the whole batch"
    );
    assert_eq!(
        edit(GroupVmsEdit::Remove(names(&["d", "zz"])), 2).await,
        Ok(Err(GroupError::UnknownVm("zz".into())))
    );
    assert_eq!(
        edit(
            GroupVmsEdit::Select {
                vms: names(&["c", "nope"]),
                selected: false
            },
            2
        )
        .await,
        Ok(Err(GroupError::UnknownVm("nope".into())))
    );
    assert_eq!(
        store.group_version(id).await,
        Ok(2),
        "refusals keep the version"
    );
    let stored = store.get_group(id).await.unwrap_or_else(|e| panic!("{e}"));
    let listed: Vec<&str> = stored.vms.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        listed,
        ["a", "b", "c", "d"],
        "nothing of a refused batch stays"
    );
    ok(edit(GroupVmsEdit::Remove(names(&["b"])), 2)
        .await
        .map(|_| ()));
    ok(edit(
        GroupVmsEdit::Select {
            vms: names(&["c"]),
            selected: false,
        },
        3,
    )
    .await
    .map(|_| ()));
    ok(edit(GroupVmsEdit::Add(names(&["b"])), 4).await.map(|_| ()));
    let stored = store.get_group(id).await.unwrap_or_else(|e| panic!("{e}"));
    let vm = |n: &str, selected| GroupVm {
        name: n.into(),
        selected,
    };
    assert_eq!(
        stored.vms,
        vec![vm("a", true), vm("c", false), vm("d", true), vm("b", true)],
        "order kept, a re-added VM goes last"
    );
    assert_eq!(
        (
            stored.version,
            stored.updated_by.as_str(),
            stored.updated_at
        ),
        (5, "olga", t0() + Duration::minutes(4)),
        "each edit is stamped"
    );
    let mut renamed = stored.header();
    renamed.name = "rows renamed".into();
    renamed.version = 6;
    ok(store.update_group_header(&renamed, 5).await);
    let stored = store.get_group(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (stored.name.as_str(), stored.vms.len()),
        ("rows renamed", 4)
    );
    assert!(matches!(
        store.update_group_header(&renamed, 5).await,
        Err(StoreError::Conflict { .. })
    ));
    let mut whole = stored.clone();
    whole.vms = vec![vm("z", true)];
    whole.version = 7;
    ok(store.update_group(&whole, 6).await);
    assert_eq!(
        store.get_group(id).await.map(|g| g.vms).ok(),
        Some(vec![vm("z", true)]),
        "a whole-group update replaces the list"
    );
    ok(store.delete_group(id, 7).await);
    let mut again = MigrationGroup::new(id, "rows", "ops", t0()).unwrap_or_else(|e| panic!("{e}"));
    again.vms = vec![vm("z", true)];
    ok(store.insert_group(&again).await);
    assert_eq!(
        store.get_group(id).await.map(|g| g.vms).ok(),
        Some(vec![vm("z", true)]),
        "a deleted group's VMs went with it"
    );
    ok(store.delete_group(id, 1).await);
}

/// A report of run `id` of `group`, started at `t0()` and still running.
fn running_report(
    id: crate::migration::RunId,
    group: crate::migration::GroupId,
) -> crate::migration::MigrationReport {
    crate::migration::MigrationReport {
        id,
        group,
        group_name: "g".into(),
        source: "a".into(),
        destination: "b".into(),
        started_by: "ops".into(),
        started: t0(),
        ended: None,
        cancelled: false,
        interrupted: false,
        planned: Vec::new(),
        power_cycle: Vec::new(),
        vms: Vec::new(),
    }
}

/// Reports are stored, replaced and listed newest first per group.
pub async fn reports_round_trip_newest_first(store: &dyn Store) {
    use crate::migration::{GroupId, VmOutcome, VmReport};
    let mk = running_report;
    let r1 = store.next_run_id().await.unwrap_or_else(|e| panic!("{e}"));
    let r2 = store.next_run_id().await.unwrap_or_else(|e| panic!("{e}"));
    let g = GroupId(4242);
    let mut first = mk(r1, g);
    store
        .save_report(&first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .save_report(&mk(r2, g))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .save_report(&mk(r2, GroupId(4243)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    first.ended = Some(t0());
    first.vms.push(VmReport {
        vm: "v".into(),
        protection_group: None,
        outcome: VmOutcome::Migrated,
        attempts: vec![],
        notes: vec![],
        said: vec![],
    });
    store
        .save_report(&first)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.get_report(r1).await.ok(), Some(first));
    let ids: Vec<_> = store
        .list_reports(g)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        vec![r1],
        "a report moved to another group leaves this one"
    );

    // A running report: lines appended as they happen show in reads and in
    // the unfinished list, and the final save replaces them.
    let r3 = store.next_run_id().await.unwrap_or_else(|e| panic!("{e}"));
    let mut running = mk(r3, GroupId(4244));
    store
        .save_report(&running)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let line = |vm: &str| VmReport {
        vm: vm.into(),
        protection_group: Some("pd".into()),
        outcome: VmOutcome::Migrated,
        attempts: vec![],
        // A note kept as its code and values comes back as written.
        notes: vec!["no project".into()],
        said: vec![crate::said::Said::just(crate::said::SaidCode::NoProject)],
    };
    store
        .append_report_lines(r3, &[line("a"), line("b")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .append_report_lines(r3, &[line("c")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen = store.get_report(r3).await.unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = seen.vms.iter().map(|v| v.vm.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"], "lines in the order they happened");
    let unfinished = store
        .unfinished_reports()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(unfinished.iter().any(|r| r.id == r3 && r.vms.len() == 3));
    assert!(
        unfinished.iter().all(|r| r.id != r1),
        "an ended run is not unfinished"
    );
    running.ended = Some(t0());
    running.vms = vec![line("a"), line("b"), line("c"), line("d")];
    store
        .save_report(&running)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.get_report(r3).await.ok(), Some(running));
    assert!(store
        .unfinished_reports()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .all(|r| r.id != r3));
}

/// The step log keeps entries in order, per request.
pub async fn step_log_appends_in_order(store: &dyn Store) {
    use crate::request::ProvisioningStep;
    use crate::store::{StepLogEntry, StepPhase};
    let id = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .insert_request(&sample_request(id, "ana", t0()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let e1 = StepLogEntry {
        at: t0(),
        engine: "e1".into(),
        step: ProvisioningStep::CreateVm,
        attempt: 1,
        phase: StepPhase::Started,
        lease: 7,
        // Kept as written: a create's idempotency key outlives a crash.
        key: Some("8d6e7a5c-0b1f-8a2e-9c3d-4e5f60718293".into()),
    };
    let e2 = StepLogEntry {
        phase: StepPhase::Failed {
            reason: "503".into(),
            will_retry: true,
        },
        ..e1.clone()
    };
    let e3 = StepLogEntry {
        attempt: 2,
        phase: StepPhase::Succeeded {
            detail: "made".into(),
            said: Some(crate::said::Said::just(
                crate::said::SaidCode::AlreadyRegistered,
            )),
            output: serde_json::json!({ "vm_uuid": "u-1", "disks": [1, 2] }),
        },
        ..e1.clone()
    };
    for e in [&e1, &e2, &e3] {
        store
            .append_step_log(id, e)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(
        store.step_log(id).await.unwrap_or_else(|e| panic!("{e}")),
        vec![e1.clone(), e2, e3]
    );
    assert!(matches!(
        store.append_step_log(RequestId(u64::MAX / 2), &e1).await,
        Err(StoreError::NotFound(_))
    ));

    // Lines written with an update land in order, after the others, with
    // the request's new version; a refused update writes none of its lines.
    let r = store
        .get_request(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap_or_else(|e| panic!("{e}"));
    let policy = crate::auth::Policy::standard();
    let (submitted, _) = request::transition(&policy, &r, &ana, Action::Submit, t0())
        .unwrap_or_else(|e| panic!("{e}"));
    let (cancelled, _) =
        request::transition(&policy, &r, &ana, Action::Cancel { reason: None }, t0())
            .unwrap_or_else(|e| panic!("{e}"));
    let e4 = StepLogEntry {
        step: ProvisioningStep::Protect,
        attempt: 1,
        ..e1.clone()
    };
    let e5 = StepLogEntry {
        step: ProvisioningStep::Monitor,
        ..e4.clone()
    };
    store
        .update_request_with_log(&submitted, r.version, &[e4.clone(), e5.clone()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = store
        .update_request_with_log(&cancelled, r.version, std::slice::from_ref(&e1))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict { .. })),
        "{refused:?}"
    );
    let log = store.step_log(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(log.len(), 5);
    assert_eq!(log[3..], [e4, e5]);
    let stored = store
        .get_request(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.state, RequestState::Requested);
    assert_eq!(stored.history.len(), submitted.history.len());
}

/// A lease excludes other owners until it expires; its owner may renew it.
pub async fn leases_exclude_other_owners_until_expiry(store: &dyn Store) {
    let id = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .insert_request(&sample_request(id, "ana", t0()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let lease = |owner: &'static str, now_min: i64| async move {
        let now = t0() + Duration::minutes(now_min);
        store
            .acquire_lease(id, owner, now, now + Duration::minutes(5))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(lease("a", 0).await, Some(1));
    assert_eq!(lease("b", 1).await, None);
    assert_eq!(
        lease("a", 2).await,
        Some(1),
        "the owner renews, same generation"
    );
    assert_eq!(lease("b", 6).await, None, "renewed until minute 7");
    assert_eq!(
        lease("b", 8).await,
        Some(2),
        "expired: another takes it, next generation"
    );
    store
        .release_lease(id, "a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        lease("a", 9).await,
        None,
        "a release by a non-holder changes nothing"
    );
    store
        .release_lease(id, "b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lease("a", 9).await, Some(3), "generations never go back");
    store
        .release_lease(id, "a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lease("a", 10).await, Some(3), "the same owner again");
}

/// Allocated ids are distinct; a stored request reads back equal; a second
/// insert of the same id is refused; a missing id is `NotFound`.
pub async fn ids_are_unique_and_round_trip(store: &dyn Store) {
    let a = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a, b);
    let r = sample_request(a, "ana", t0());
    store
        .insert_request(&r)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.get_request(a).await.ok(), Some(r.clone()));
    assert!(matches!(
        store.insert_request(&r).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.get_request(RequestId(u64::MAX / 2)).await,
        Err(StoreError::NotFound(_))
    ));
}

/// An update against a stale version is a conflict and changes nothing.
pub async fn stale_updates_conflict(store: &dyn Store) {
    let id = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = sample_request(id, "ana", t0());
    store
        .insert_request(&r)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let (submitted, _) = request::transition(
        &crate::auth::Policy::standard(),
        &r,
        &ana,
        Action::Submit,
        t0(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (cancelled, _) = request::transition(
        &crate::auth::Policy::standard(),
        &r,
        &ana,
        Action::Cancel { reason: None },
        t0(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    store
        .update_request(&submitted, r.version)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let err = store.update_request(&cancelled, r.version).await;
    assert!(
        matches!(
            err,
            Err(StoreError::Conflict {
                expected: 1,
                found: 2,
                ..
            })
        ),
        "{err:?}"
    );
    let stored = store
        .get_request(id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.state, RequestState::Requested);
    assert_eq!(stored.history.len(), 2);
}

/// Lists honour state, owner and date filters, page, and come newest first.
pub async fn lists_filter_page_and_order(store: &dyn Store) {
    let owner = format!(
        "lister-{}",
        store.next_request_id().await.map(|i| i.0).unwrap_or(0)
    );
    let mut ids = Vec::new();
    for i in 0..7 {
        let id = store
            .next_request_id()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let r = sample_request(id, &owner, t0() + Duration::hours(i));
        store
            .insert_request(&r)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.push(id);
    }
    let q = RequestQuery {
        owner: Some(owner.clone()),
        limit: Some(3),
        ..RequestQuery::default()
    };
    let page = store
        .list_requests(&q)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.total, 7);
    let got: Vec<RequestId> = page.items.iter().map(|r| r.id).collect();
    assert_eq!(got, vec![ids[6], ids[5], ids[4]]);
    let q2 = RequestQuery {
        offset: 6,
        ..q.clone()
    };
    let got: Vec<RequestId> = store
        .list_requests(&q2)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .items
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, vec![ids[0]]);
    let dated = RequestQuery {
        created_from: Some(t0() + Duration::hours(2)),
        created_to: Some(t0() + Duration::hours(4)),
        limit: None,
        ..q.clone()
    };
    let got: Vec<RequestId> = store
        .list_requests(&dated)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .items
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(got, vec![ids[3], ids[2]]);
    let none = RequestQuery {
        states: vec![RequestState::Approved],
        ..q
    };
    assert_eq!(
        store
            .list_requests(&none)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .total,
        0
    );
}

fn user(name: &str, version: u64) -> crate::auth::User {
    crate::auth::User {
        name: name.to_string(),
        roles: [crate::auth::Role::Viewer].into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        disabled: false,
        version,
        created_at: t0(),
        updated_at: t0(),
        api_tokens: Vec::new(),
    }
}

fn audit(user: &str, change: crate::auth::UserChange) -> crate::auth::UserAudit {
    crate::auth::UserAudit {
        at: t0(),
        actor: "root".into(),
        user: user.into(),
        change,
    }
}

/// Users: unique names, versioned updates and deletes, and an audit line
/// written with every change (and none with a refused one).
pub async fn users_round_trip_with_versions_and_audit(store: &dyn Store) {
    use crate::auth::UserChange as C;
    let before = store
        .user_audit()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .len();
    let added = C::Added {
        roles: [crate::auth::Role::Viewer].into(),
    };
    store
        .insert_user(&user("zoe", 1), &audit("zoe", added.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        store
            .insert_user(&user("zoe", 1), &audit("zoe", added))
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.get_user("zoe").await.map(|u| u.version), Ok(1));
    let mut v2 = user("zoe", 2);
    v2.disabled = true;
    let disabled = C::Disabled { disabled: true };
    store
        .update_user(&v2, 1, &audit("zoe", disabled.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        store.update_user(&v2, 1, &audit("zoe", disabled)).await,
        Err(StoreError::Conflict {
            expected: 1,
            found: 2,
            ..
        })
    ));
    assert_eq!(store.get_user("zoe").await.map(|u| u.disabled), Ok(true));
    assert!(store
        .list_users()
        .await
        .unwrap_or_default()
        .iter()
        .any(|u| u.name == "zoe"));
    assert!(matches!(
        store.delete_user("zoe", 1, &audit("zoe", C::Removed)).await,
        Err(StoreError::Conflict { .. })
    ));
    store
        .delete_user("zoe", 2, &audit("zoe", C::Removed))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        store.get_user("zoe").await,
        Err(StoreError::NotFound(_))
    ));
    let trail = store.user_audit().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(trail.len(), before + 3, "one line per accepted change");
    assert_eq!(trail.last().map(|a| &a.change), Some(&C::Removed));
}

/// A secret key is made on first use and the same ever after; purposes differ.
pub async fn secret_keys_are_made_once_and_kept(store: &dyn Store) {
    let a = store
        .secret_key("test-a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.secret_key("test-a").await.as_ref(), Ok(&a));
    let b = store
        .secret_key("test-b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a, b);
    assert_eq!(format!("{a:?}"), "SecretKey(…)");
}

/// The outbox: every history entry written after a notifier registered is
/// queued for it in the same write (a refused update queues nothing);
/// deliveries come due in order, are rescheduled, given up or removed as
/// recorded; the failed ones are listed; one owner at a time may deliver.
pub async fn outbox_queues_each_event_once_per_notifier(store: &dyn Store) {
    let mine = |ds: Vec<crate::store::Delivery>, id: RequestId| -> Vec<crate::store::Delivery> {
        ds.into_iter().filter(|d| d.request == id).collect()
    };
    let later = t0() + Duration::days(400);
    let before = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    ok(store
        .insert_request(&sample_request(before, "ana", t0()))
        .await);
    for name in ["outbox-mail", "outbox-hook", "outbox-mail"] {
        ok(store.register_notifier(name).await);
    }
    let id = store
        .next_request_id()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = sample_request(id, "ana", t0());
    ok(store.insert_request(&r).await);
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let policy = crate::auth::Policy::standard();
    let (submitted, _) = request::transition(&policy, &r, &ana, Action::Submit, t0())
        .unwrap_or_else(|e| panic!("{e}"));
    let (cancelled, _) =
        request::transition(&policy, &r, &ana, Action::Cancel { reason: None }, t0())
            .unwrap_or_else(|e| panic!("{e}"));
    ok(store.update_request(&submitted, r.version).await);
    assert!(store.update_request(&cancelled, r.version).await.is_err());

    let all = store
        .due_deliveries("outbox-mail", later, 100_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        mine(all.clone(), before).is_empty(),
        "written before registering"
    );
    let due = mine(all, id);
    let seen: Vec<(u32, RequestState)> = due.iter().map(|d| (d.seq, d.event.to)).collect();
    assert_eq!(
        seen,
        vec![(1, RequestState::Created), (2, RequestState::Requested)],
        "one delivery per entry, in order; none for the refused update"
    );
    assert_eq!(due[1].event.requester, "ana");
    assert_eq!(due[1].event.from, Some(RequestState::Created));
    let hook = store
        .due_deliveries("outbox-hook", later, 100_000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mine(hook, id).len(), 2, "each notifier has its own");

    let outcome = |seq, result| crate::store::DeliveryOutcome {
        request: id,
        seq,
        result,
    };
    let retry_at = later + Duration::hours(1);
    ok(store
        .record_deliveries(
            "outbox-mail",
            &[
                outcome(1, crate::store::DeliveryResult::Delivered),
                outcome(
                    2,
                    crate::store::DeliveryResult::Retry {
                        attempts: 1,
                        next_at: retry_at,
                        error: "server down".into(),
                    },
                ),
            ],
        )
        .await);
    let due = |at| async move {
        let all = store
            .due_deliveries("outbox-mail", at, 100_000)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        mine(all, id)
    };
    assert!(
        due(later).await.is_empty(),
        "delivered, and the retry is not due"
    );
    let again = due(retry_at).await;
    assert_eq!(
        (again.len(), again[0].seq, again[0].attempts),
        (1, 2, 1),
        "{again:?}"
    );
    assert_eq!(again[0].last_error.as_deref(), Some("server down"));
    let failed = mine(
        store
            .failed_deliveries(100_000)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        id,
    );
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].gave_up && failed[0].notifier == "outbox-mail");
    ok(store
        .record_deliveries(
            "outbox-mail",
            &[outcome(
                2,
                crate::store::DeliveryResult::GaveUp {
                    attempts: 2,
                    error: "refused".into(),
                },
            )],
        )
        .await);
    assert!(due(retry_at).await.is_empty(), "given up: never due again");
    let failed = mine(
        store
            .failed_deliveries(100_000)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        id,
    );
    assert_eq!(
        (failed.len(), failed[0].gave_up, failed[0].attempts),
        (1, true, 2)
    );

    let claim = |owner: &'static str, now| async move {
        store
            .claim_notifier("outbox-hook", owner, now, now + Duration::minutes(2))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(claim("p1", t0()).await);
    assert!(!claim("p2", t0() + Duration::minutes(1)).await, "held");
    assert!(claim("p1", t0() + Duration::minutes(1)).await, "renewed");
    assert!(claim("p2", t0() + Duration::minutes(4)).await, "expired");
    assert!(matches!(
        store
            .claim_notifier("nobody", "p1", t0(), t0() + Duration::minutes(1))
            .await,
        Err(StoreError::NotFound(_))
    ));
}

/// A cancel request is kept per run (asking twice is asking once); an
/// unknown run is `NotFound`.
pub async fn runs_can_be_asked_to_stop(store: &dyn Store) {
    use crate::migration::{GroupId, RunId};
    let run = store.next_run_id().await.unwrap_or_else(|e| panic!("{e}"));
    let other = store.next_run_id().await.unwrap_or_else(|e| panic!("{e}"));
    for id in [run, other] {
        ok(store.save_report(&running_report(id, GroupId(4250))).await);
    }
    let asked = |id| async move {
        store
            .cancel_requested(id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(!asked(run).await);
    ok(store.request_cancel(run).await);
    ok(store.request_cancel(run).await);
    assert!(asked(run).await);
    assert!(!asked(other).await, "only the run asked");
    assert!(matches!(
        store.request_cancel(RunId(u64::MAX / 4)).await,
        Err(StoreError::NotFound(_))
    ));
}

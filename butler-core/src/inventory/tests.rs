use super::*;
use crate::backend::{PowerState, VmInfo, VmState};
use proptest::prelude::*;

fn vm(cluster: &str, vcpus: u32, ram: u32, disks: Vec<u32>) -> VmInfo {
    VmInfo {
        uuid: "u-1".into(),
        name: "web01-r1".into(),
        cluster: cluster.into(),
        project: None,
        power: PowerState::On,
        state: VmState::Ready,
        vcpus,
        ram_gib: ram,
        disks_gib: disks,
        nics: vec!["vlan-10".into()],
        categories: vec![],
        ip_addresses: vec![],
    }
}

fn record() -> VmRecord {
    VmRecord::adopted(
        VmId(1),
        &vm("c1", 2, 4, vec![40]),
        "ana",
        "CC-1",
        "root",
        chrono::DateTime::UNIX_EPOCH,
    )
}

#[test]
fn drift_names_what_changed_and_nothing_else() {
    let r = record();
    assert_eq!(drift(&r, Some(&vm("c1", 2, 4, vec![40]))), vec![]);
    assert_eq!(drift(&r, None), vec![Drift::Deleted]);
    assert_eq!(
        drift(&r, Some(&vm("c2", 2, 4, vec![40]))),
        vec![Drift::Moved {
            from: "c1".into(),
            to: "c2".into()
        }]
    );
    let d = drift(&r, Some(&vm("c1", 4, 4, vec![40, 10])));
    assert!(
        matches!(&d[..], [Drift::Resized { found, .. }] if found.vcpus == 4 && found.disks_gib == [40, 10]),
        "{d:?}"
    );
    // Power is read, not drift.
    let mut off = vm("c1", 2, 4, vec![40]);
    off.power = PowerState::Off;
    assert_eq!(drift(&r, Some(&off)), vec![]);
}

#[test]
fn a_change_is_one_version_and_one_history_line_on() {
    let r = record();
    let n = r.next("ops", chrono::DateTime::UNIX_EPOCH, "powered off");
    assert_eq!((n.version, n.history.len()), (2, 2));
    assert_eq!(n.history[1].what, "powered off");
    assert_eq!(r.version, 1, "the original is untouched");
}

proptest! {
    /// A query matches a record exactly when each filter it sets holds.
    #[test]
    fn queries_match_by_every_filter_they_set(
        owner in proptest::option::of(prop_oneof!["ana", "bea"]),
        cluster in proptest::option::of(prop_oneof!["c1", "c2"]),
        lifecycles in proptest::collection::vec(prop_oneof![Just(Lifecycle::Active), Just(Lifecycle::Retired)], 0..2),
        drifted in any::<bool>(),
        rec_owner in prop_oneof!["ana", "bea"],
        rec_cluster in prop_oneof!["c1", "c2"],
        rec_retired in any::<bool>(),
        rec_drift in any::<bool>(),
    ) {
        let mut r = record();
        r.owner = rec_owner.to_string();
        r.cluster = rec_cluster.to_string();
        r.lifecycle = if rec_retired { Lifecycle::Retired } else { Lifecycle::Active };
        if rec_drift { r.drift = vec![Drift::Deleted]; }
        let q = VmQuery { owner: owner.clone(), cluster: cluster.clone(), lifecycles: lifecycles.clone(), drifted, ..VmQuery::default() };
        let expected = owner.is_none_or(|o| o == r.owner)
            && cluster.is_none_or(|c| c == r.cluster)
            && (lifecycles.is_empty() || lifecycles.contains(&r.lifecycle))
            && (!drifted || rec_drift);
        prop_assert_eq!(q.matches(&r), expected);
    }
}

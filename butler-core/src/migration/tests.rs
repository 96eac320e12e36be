//! Validation rules over hand-built facts: every finding code, the
//! severities, and invariants under random input.

use super::*;
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).single().unwrap()
}

/// Clusters: 0 = src, 1 = dst, 2 = other. Projects: 0 "p" on src+dst, 1 "q" on dst only.
/// Groups: 0 healthy, 1 inactive, 2 no schedule, 3 not replicating to dst,
/// 4 never replicated, 5 stale, 6 holds an extra unselected member.
fn facts(vms: Vec<VmFacts>) -> FactsSnapshot {
    let members_ok = vms.iter().filter(|v| v.group == 0).count() as u32;
    let g =
        |name: &str, cluster, active, schedules, sites: Vec<u16>, last: Option<i64>, members| {
            GroupFacts {
                name: name.into(),
                cluster,
                active,
                schedules,
                remote_sites: sites,
                last_replica: last.map(|m| now() - Duration::minutes(m)),
                members,
            }
        };
    FactsSnapshot {
        snapshot_id: 7,
        group_version: 1,
        taken_at: now(),
        clusters: vec!["src".into(), "dst".into(), "other".into()],
        projects: vec![
            ProjectFacts {
                name: "p".into(),
                clusters: vec![0, 1],
            },
            ProjectFacts {
                name: "q".into(),
                clusters: vec![1],
            },
        ],
        groups: vec![
            g("pd-ok", 0, true, 2, vec![1], Some(10), members_ok),
            g("pd-inactive", 0, false, 2, vec![1], Some(10), 1),
            g("pd-nosched", 0, true, 0, vec![1], Some(10), 1),
            g("pd-norepl", 0, true, 2, vec![2], Some(10), 1),
            g("pd-never", 0, true, 2, vec![1], None, 1),
            g("pd-stale", 0, true, 2, vec![1], Some(61), 1),
            g("pd-extra", 0, true, 2, vec![1], Some(10), 2),
        ],
        names: (0..vms.len()).map(|i| format!("vm{i}")).collect(),
        vms,
        vm_moves: false,
        live_moves: false,
        moves: None,
        content: Default::default(),
    }
}

fn ok_vm(group: u32) -> VmFacts {
    VmFacts {
        cluster: 0,
        project: 0,
        group,
        powered_on: false,
        refused: false,
    }
}

fn group(n: usize) -> MigrationGroup {
    let mut g = MigrationGroup::new(GroupId(1), "g", "ops", now()).unwrap();
    g.set_source("src").unwrap();
    g.set_destination("dst").unwrap();
    for i in 0..n {
        g.add_vm(&format!("vm{i}")).unwrap();
    }
    g
}

fn codes_of(r: &ValidationReport, vm: u32) -> Vec<FindingCode> {
    r.codes_of(vm)
}

#[test]
fn every_vm_level_code_is_found_with_its_severity() {
    use FindingCode as F;
    let vms = vec![
        ok_vm(0),         // 0 clean
        VmFacts::MISSING, // 1 not found
        VmFacts {
            cluster: 2,
            ..ok_vm(0)
        }, // 2 wrong cluster (and project p not on "other")
        VmFacts {
            project: 1,
            ..ok_vm(0)
        }, // 3 project q not on src
        VmFacts {
            powered_on: true,
            ..ok_vm(0)
        }, // 4 powered on
        VmFacts {
            group: NONE32,
            ..ok_vm(0)
        }, // 5 no group
        ok_vm(1),         // 6 inactive
        ok_vm(2),         // 7 no schedule
        ok_vm(3),         // 8 not replicating to dst
        ok_vm(4),         // 9 never replicated
        ok_vm(5),         // 10 stale
        ok_vm(6),         // 11 group has another member
        VmFacts {
            project: NONE16,
            ..ok_vm(0)
        }, // 12 no project
        ok_vm(0),         // 13 unselected
    ];
    let mut g = group(vms.len());
    g.select("vm13", false).unwrap();
    let f = facts(vms);
    let r = validate(&g, &f, now(), None);
    // vm0 and vm13 share pd-ok... vm13 is unselected, so pd-ok carries an unselected VM.
    assert_eq!(
        codes_of(&r, 0),
        vec![F::GroupHasUnselectedVms, F::SharedGroup]
    );
    assert_eq!(codes_of(&r, 1), vec![F::VmNotFound]);
    assert_eq!(
        codes_of(&r, 2),
        vec![F::NotOnSource, F::ProjectMismatch, F::GroupHasUnselectedVms]
    );
    assert_eq!(
        codes_of(&r, 3),
        vec![F::ProjectMismatch, F::GroupHasUnselectedVms]
    );
    assert_eq!(
        codes_of(&r, 4),
        vec![F::PoweredOn, F::GroupHasUnselectedVms]
    );
    assert_eq!(codes_of(&r, 5), vec![F::NoProtectionGroup]);
    assert_eq!(codes_of(&r, 6), vec![F::GroupNotActiveOnSource]);
    assert_eq!(codes_of(&r, 7), vec![F::NoSchedule]);
    assert_eq!(codes_of(&r, 8), vec![F::NotReplicatingToDestination]);
    assert_eq!(codes_of(&r, 9), vec![F::NoReplica]);
    assert_eq!(codes_of(&r, 10), vec![F::StaleReplica]);
    assert_eq!(codes_of(&r, 11), vec![F::GroupHasUnselectedVms]);
    assert_eq!(
        codes_of(&r, 12),
        vec![F::ProjectMismatch, F::GroupHasUnselectedVms]
    );
    assert_eq!(codes_of(&r, 13), vec![F::NotSelected]);
    // pd-ok holds 5 selected VMs (0, 2, 3, 4, 12): one shared-group info, on the first.
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.code == F::SharedGroup)
            .map(|f| f.vm)
            .collect::<Vec<_>>(),
        vec![0]
    );
    assert_eq!(F::NoReplica.severity(), Severity::Warning);
    assert_eq!(F::StaleReplica.severity(), Severity::Warning);
    assert_eq!(F::SharedGroup.severity(), Severity::Info);
    assert!(!r.can_migrate());
    for finding in &r.findings {
        assert!(!finding.message(&g, &f).is_empty());
    }
    let stale = r
        .findings
        .iter()
        .find(|x| x.code == F::StaleReplica)
        .unwrap();
    assert!(
        stale.message(&g, &f).contains("61 minutes"),
        "{}",
        stale.message(&g, &f)
    );
}

#[test]
fn group_level_codes() {
    use FindingCode as F;
    let mut g = MigrationGroup::new(GroupId(1), "g", "ops", now()).unwrap();
    let empty = facts(vec![]);
    let r = validate(&g, &empty, now(), None);
    let codes: Vec<_> = r.findings.iter().map(|f| (f.code, f.vm)).collect();
    assert_eq!(
        codes,
        vec![
            (F::MissingSource, Finding::GROUP),
            (F::MissingDestination, Finding::GROUP),
            (F::EmptyGroup, Finding::GROUP)
        ]
    );
    g.source = Some("src".into());
    g.destination = Some("src".into()); // bypassing set_destination, as a corrupt save might
    g.add_vm("vm0").unwrap();
    g.select("vm0", false).unwrap();
    let r = validate(&g, &facts(vec![ok_vm(0)]), now(), None);
    let codes: Vec<_> = r.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        vec![F::SameClusters, F::NoSelectedVm, F::NotSelected]
    );
}

#[test]
fn a_clean_group_can_migrate_and_the_pure_check_signs_nothing() {
    let g = group(1);
    let r = validate(&g, &facts(vec![ok_vm(0)]), now(), None);
    assert!(r.can_migrate(), "{:?}", r.findings);
    assert_eq!((r.errors, r.warnings), (0, 0));
    assert!(r.token().is_none(), "only the service holds the key");
}

#[test]
fn the_content_hash_follows_the_facts_not_the_read_time_or_snapshot() {
    let a = facts(vec![ok_vm(0), ok_vm(0)]);
    let mut b = facts(vec![ok_vm(0), ok_vm(0)]);
    b.snapshot_id = 99;
    b.taken_at = now() + Duration::minutes(5);
    assert_eq!(a.content_hash(), b.content_hash());
    let mut c = facts(vec![ok_vm(0), ok_vm(0)]);
    c.vms[1].powered_on = true;
    assert_ne!(a.content_hash(), c.content_hash());
    let mut d = facts(vec![ok_vm(0), ok_vm(0)]);
    d.groups[0].last_replica = Some(now());
    assert_ne!(a.content_hash(), d.content_hash());
    let mut e = facts(vec![ok_vm(0), ok_vm(0)]);
    e.projects[0].clusters = vec![1];
    assert_ne!(a.content_hash(), e.content_hash());
    // Same facts listed in another order on the platform: same hash.
    let mut f = facts(vec![ok_vm(0), ok_vm(0)]);
    f.projects.swap(0, 1);
    for v in &mut f.vms {
        v.project = 1 - v.project;
    }
    assert_eq!(a.content_hash(), f.content_hash());
}

#[test]
fn a_running_vm_is_a_warning_when_the_group_has_butler_power_it_off() {
    let running = VmFacts {
        powered_on: true,
        ..ok_vm(0)
    };
    let f = facts(vec![running]);
    let mut g = group(1);
    let r = validate(&g, &f, now(), None);
    assert_eq!(codes_of(&r, 0), vec![FindingCode::PoweredOn]);
    assert!(!r.can_migrate());
    g.set_power_off(true);
    let r = validate(&g, &f, now(), None);
    assert_eq!(codes_of(&r, 0), vec![FindingCode::PowerOffPlanned]);
    assert_eq!((r.errors, r.warnings), (0, 1));
    assert!(r.can_migrate());
    let said = r.findings[0].message(&g, &f);
    assert!(
        said.contains("powers it off") && said.contains("\"dst\""),
        "{said}"
    );
}

#[test]
fn a_subset_validation_looks_only_at_the_subset() {
    let g = group(2);
    let r = validate(
        &g,
        &facts(vec![
            VmFacts {
                powered_on: true,
                ..ok_vm(0)
            },
            ok_vm(3),
        ]),
        now(),
        Some(&["vm0".to_string()]),
    );
    let codes: Vec<_> = r.findings.iter().map(|f| (f.code, f.vm)).collect();
    assert_eq!(codes, vec![(FindingCode::PoweredOn, 0)]);
    assert_eq!(r.only, Some(vec!["vm0".to_string()]));
}

#[test]
fn facts_pointing_past_their_lists_neither_panic_nor_alias() {
    let mut f = facts(vec![
        VmFacts {
            project: 1,
            ..ok_vm(0)
        },
        ok_vm(40),
    ]);
    // Cluster index 3 of project 0 would land on project 1's cluster 0.
    f.projects[0].clusters.push(3);
    let r = validate(&group(2), &f, now(), None);
    assert!(codes_of(&r, 0).contains(&FindingCode::ProjectMismatch));
    assert!(codes_of(&r, 1).contains(&FindingCode::NoProtectionGroup));
}

proptest! {
    #[test]
    fn counts_match_findings_and_no_errors_means_every_selected_vm_is_ready(
        // Indices past the facts' lists too (3–4, 2, 7–8): facts that did
        // not come from Butler must give findings, never a panic.
        raw in proptest::collection::vec((0u16..6, 0u16..4, 0u32..10, any::<bool>(), any::<bool>(), any::<bool>()), 0..60),
        power_off in any::<bool>(),
        (live, live_moves) in (any::<bool>(), any::<bool>()),
    ) {
        let vms: Vec<VmFacts> = raw.iter().map(|(c, p, g, on, _, refused)| VmFacts {
            cluster: if *c == 5 { NONE16 } else { *c },
            project: if *p == 3 { NONE16 } else { *p },
            group: if *g == 9 { NONE32 } else { *g },
            powered_on: *on,
            refused: *refused,
        }).collect();
        let mut g = group(vms.len());
        g.set_power_off(power_off);
        g.set_live(live);
        for (i, (.., sel)) in raw.iter().enumerate() {
            g.select(&format!("vm{i}"), *sel).unwrap();
        }
        let f = FactsSnapshot { live_moves, ..facts(vms.clone()) };
        let r = validate(&g, &f, now(), None);
        prop_assert_eq!(
            r.findings.iter().any(|x| x.code == FindingCode::LiveMovesUnavailable),
            live && !live_moves
        );
        // Cut into chunks (threads), the report is the same, in the same order.
        let some: Vec<String> = (0..vms.len()).step_by(3).map(|i| format!("vm{i}")).collect();
        for parts in 2..=5 {
            prop_assert_eq!(&super::validate::validate_in(&g, &f, now(), None, parts), &r);
            prop_assert_eq!(
                super::validate::validate_in(&g, &f, now(), Some(&some), parts),
                validate(&g, &f, now(), Some(&some))
            );
        }
        // Each VM's findings are those of a plain reading of the rules.
        for i in 0..vms.len() {
            prop_assert_eq!(codes_of(&r, i as u32), plain_codes(&g, &f, i), "vm{}", i);
        }
        let count = |s| r.findings.iter().filter(|x| x.severity() == s).count() as u32;
        prop_assert_eq!((r.errors, r.warnings, r.infos), (count(Severity::Error), count(Severity::Warning), count(Severity::Info)));
        for x in &r.findings {
            prop_assert!(x.vm == Finding::GROUP || (x.vm as usize) < vms.len());
            if x.vm != Finding::GROUP && !g.vms[x.vm as usize].selected {
                prop_assert_eq!(x.code, FindingCode::NotSelected);
            }
        }
        if r.errors == 0 {
            prop_assert!(g.vms.iter().any(|v| v.selected));
            for (i, v) in vms.iter().enumerate() {
                if g.vms[i].selected {
                    prop_assert_eq!(v.cluster, 0);
                    // A VM that runs passes only when Butler is to power it off.
                    // …or when it moves live.
                    prop_assert!(!v.powered_on || g.power_off || (g.live && f.live_moves));
                    prop_assert!(!v.refused, "a move the platform refuses is an error");
                    prop_assert!(v.group != NONE32);
                    let pg = &f.groups[v.group as usize];
                    prop_assert!(pg.active && pg.schedules > 0 && pg.remote_sites.contains(&1));
                }
            }
        }
    }
}

/// The findings of VM `i`, read off the rules one by one (source is
/// cluster 0, destination 1, as in [`facts`]), in the report's order.
fn plain_codes(g: &MigrationGroup, f: &FactsSnapshot, i: usize) -> Vec<FindingCode> {
    use FindingCode as F;
    let selected = |j: usize| g.vms[j].selected;
    if !selected(i) {
        return vec![F::NotSelected];
    }
    let v = f.vms[i];
    if v.cluster == NONE16 {
        return vec![F::VmNotFound];
    }
    let mut out = Vec::new();
    if v.cluster != 0 {
        out.push(F::NotOnSource);
    }
    let may_use = f.projects.get(usize::from(v.project)).is_some_and(|p| {
        p.clusters.contains(&v.cluster) && usize::from(v.cluster) < f.clusters.len()
    });
    if !may_use {
        out.push(F::ProjectMismatch);
    }
    match (v.powered_on, g.power_off, g.live && f.live_moves) {
        (true, _, true) | (false, ..) => {}
        (true, false, false) => out.push(F::PoweredOn),
        (true, true, false) => out.push(F::PowerOffPlanned),
    }
    if v.refused {
        out.push(F::PlatformRefuses);
    }
    let Some(pg) = f.groups.get(v.group as usize) else {
        out.push(F::NoProtectionGroup);
        return out;
    };
    if !(pg.active && pg.cluster == 0) {
        out.push(F::GroupNotActiveOnSource);
    }
    if pg.schedules == 0 {
        out.push(F::NoSchedule);
    }
    if !pg.remote_sites.contains(&1) {
        out.push(F::NotReplicatingToDestination);
    }
    match pg.last_replica {
        None => out.push(F::NoReplica),
        Some(t) if t < now() - Duration::minutes(STALE_AFTER_MINUTES) => out.push(F::StaleReplica),
        Some(_) => {}
    }
    let picked: Vec<usize> = (0..f.vms.len())
        .filter(|&j| selected(j) && f.vms[j].group == v.group)
        .collect();
    if (picked.len() as u32) < pg.members {
        out.push(F::GroupHasUnselectedVms);
    }
    if picked.len() > 1 && picked[0] == i {
        out.push(F::SharedGroup);
    }
    out
}

/// A platform of up to 12 VM names (repeats allowed: the first listed is
/// the one), on clusters 0–2, in up to 4 protection domains (active or not)
/// whose members may name VMs the platform lacks.
fn arb_inventory() -> impl Strategy<Value = Inventory> {
    use crate::backend::{ClusterInfo, PowerState, ProjectInfo, ProtectionGroup, VmBrief};
    let vm = (
        0usize..12,
        0usize..3,
        proptest::option::of(0usize..2),
        any::<bool>(),
    );
    let pd = (proptest::collection::vec(0usize..14, 0..6), any::<bool>());
    (
        proptest::collection::vec(vm, 0..20),
        proptest::collection::vec(pd, 0..4),
    )
        .prop_map(|(vms, pds)| {
            let cluster = |c: usize| format!("c{c}");
            Inventory {
                taken_at: now(),
                clusters: (0..3)
                    .map(|c| ClusterInfo {
                        name: cluster(c),
                        uuid: format!("u{c}"),
                    })
                    .collect(),
                projects: (0..2)
                    .map(|p| ProjectInfo {
                        name: format!("p{p}"),
                        uuid: format!("pu{p}"),
                        clusters: vec![cluster(p)],
                        subnets: Vec::new(),
                    })
                    .collect(),
                vms: vms
                    .into_iter()
                    .map(|(n, c, p, on)| VmBrief {
                        name: format!("vm{n}").into(),
                        cluster: cluster(c).into(),
                        project: p.map(|p| format!("p{p}").into()),
                        power: if on { PowerState::On } else { PowerState::Off },
                    })
                    .collect(),
                groups: pds
                    .into_iter()
                    .enumerate()
                    .map(|(i, (members, active))| ProtectionGroup {
                        name: format!("pd{i}"),
                        cluster: cluster(0),
                        active,
                        vms: members
                            .into_iter()
                            .map(|m| format!("vm{m}").into())
                            .collect(),
                        schedules: Vec::new(),
                        remote_sites: Vec::new(),
                        last_replica: None,
                    })
                    .collect(),
                vm_moves: false,
                live_moves: false,
            }
        })
}

proptest! {
    /// The facts match a plain reading of the inventory, VM by VM, however
    /// the index was come by: made for the group, kept from an earlier
    /// refresh, or stale (another version: rebuilt).
    #[test]
    fn built_facts_match_the_inventory_with_a_kept_or_a_stale_index(
        inv in arb_inventory(),
        n in 0usize..14,
    ) {
        let g = group(n);
        let plain = FactsSnapshot::build(&g, &inv, 1);
        for (i, gv) in g.vms.iter().enumerate() {
            let vm = inv.vms.iter().find(|v| *v.name == *gv.name);
            let got = plain.vms[i];
            match vm {
                None => prop_assert_eq!(got, VmFacts::MISSING),
                Some(v) => {
                    prop_assert_eq!(plain.clusters[usize::from(got.cluster)].as_str(), &*v.cluster);
                    let project = (got.project != NONE16).then(|| plain.projects[usize::from(got.project)].name.as_str());
                    prop_assert_eq!(project, v.project.as_deref());
                    prop_assert_eq!(got.powered_on, v.power != crate::backend::PowerState::Off);
                    let holders: Vec<usize> = inv.groups.iter().enumerate()
                        .filter(|(_, p)| p.vms.iter().any(|m| **m == *gv.name)).map(|(j, _)| j).collect();
                    let want = holders.iter().find(|&&j| inv.groups[j].active)
                        .or(holders.first()).map_or(NONE32, |&j| j as u32);
                    prop_assert_eq!(got.group, want);
                }
            }
        }
        let kept = GroupIndex::new(&g);
        prop_assert_eq!(&FactsSnapshot::build_indexed(&g, &kept, &inv, 1), &plain);
        prop_assert_eq!(&FactsSnapshot::build_split(&g, &kept, &inv, 1, 0), &plain, "built on two threads");
        let mut newer = g.clone();
        newer.version += 1;
        let stale = FactsSnapshot::build_indexed(&newer, &kept, &inv, 1);
        prop_assert_eq!(&stale.vms, &plain.vms, "a stale index is not used");
    }
}

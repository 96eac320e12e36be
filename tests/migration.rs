//! Migrations on the simulator: groups, batched refresh, validation codes,
//! token rules, migration under faults, cancel, retry of failed VMs,
//! progress observers, reports against what the simulator moved.

use butler::auth::{Actor, Role};
use butler::backend::{Clock, PowerState, Schedule};
use butler::migration::{
    EventOutcome, FindingCode, MigrationConfig, MigrationGroup, MigrationReport, MigrationService,
    MigrationStep, ValidationReport, VmOutcome,
};
use butler::sim::{fleet, FaultConfig, FaultKind, Op, ScriptedFault, SimPlatform};
use butler::store::{MemoryStore, ReportStore, SqliteStore, Store};
use butler::ButlerError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn ops() -> Actor {
    Actor::trusted("olga", [Role::Operator]).unwrap()
}
fn viewer() -> Actor {
    Actor::trusted("vic", [Role::Viewer]).unwrap()
}

fn sim(seed: u64) -> SimPlatform {
    SimPlatform::demo_builder(seed)
        .project("dr-project", &["c2-santiago"], &["vlan-10"])
        .build()
}

fn config() -> MigrationConfig {
    let mut c = MigrationConfig {
        max_parallel: 4,
        ..MigrationConfig::default()
    };
    c.poll = Duration::from_secs(5);
    c.project_map.insert(
        "prod-project".into(),
        BTreeMap::from([("c2-santiago".to_string(), "dr-project".to_string())]),
    );
    c.recreate_schedules = vec![
        Schedule::local(60, 24),
        Schedule::remote("c1-madrid", 60, 24),
    ];
    c
}

fn service(
    sim: &SimPlatform,
    store: Arc<dyn Store>,
    config: MigrationConfig,
) -> Arc<MigrationService> {
    Arc::new(MigrationService::new(
        store,
        Arc::new(sim.clone()),
        sim.clock(),
        config,
    ))
}

/// A process of its own for the crash tests: dropping it stops everything
/// it was running, as a killed process would.
/// Migrates what `v` validated and waits for the report.
async fn run_to_end(svc: &MigrationService, v: &ValidationReport) -> MigrationReport {
    svc.migrate(&ops(), v.token().unwrap())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap()
}

fn process() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A group holding the whole fleet, saved in one go.
async fn fleet_group(svc: &MigrationService, f: &fleet::Fleet, name: &str) -> MigrationGroup {
    let g = svc.create_group(&ops(), name).await.unwrap();
    let edit = g.with_members(&f.source, &f.destination, f.vm_names.iter().cloned());
    svc.save(&ops(), &edit).await.unwrap()
}

#[tokio::test]
async fn group_operations_roles_and_unique_names() {
    let s = sim(1);
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms: 4,
            groups: 2,
            ..Default::default()
        },
    );
    let svc = service(
        &s,
        Arc::new(SqliteStore::open_in_memory().unwrap()),
        config(),
    );
    assert!(matches!(
        svc.create_group(&viewer(), "x").await,
        Err(ButlerError::Denied(_))
    ));
    let g = svc.create_group(&ops(), "Drill").await.unwrap();
    let dup = svc.create_group(&ops(), "Drill").await.unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");
    let g = svc
        .set_source(&ops(), g.id, g.version, "c1-madrid")
        .await
        .unwrap();
    assert!(matches!(
        svc.set_destination(&ops(), g.id, g.version, "c1-madrid")
            .await,
        Err(ButlerError::Group(_))
    ));
    assert!(matches!(
        svc.set_destination(&ops(), g.id, g.version, "mars").await,
        Err(ButlerError::Refused(_))
    ));
    let g = svc
        .set_destination(&ops(), g.id, g.version, "c2-santiago")
        .await
        .unwrap();
    let g = svc
        .add_vm(&ops(), g.id, g.version, &f.vm_names[0])
        .await
        .unwrap();
    assert!(matches!(
        svc.add_vm(&ops(), g.id, g.version, "no-such-vm").await,
        Err(ButlerError::Refused(_))
    ));
    let g = svc
        .add_vm(&ops(), g.id, g.version, &f.vm_names[1])
        .await
        .unwrap();
    let g = svc
        .select(&ops(), g.id, g.version, &f.vm_names[1], false)
        .await
        .unwrap();
    assert!(
        matches!(
            svc.rename(&ops(), g.id, g.version - 1, "x").await,
            Err(ButlerError::Conflict(_))
        ),
        "stale version"
    );
    assert!(matches!(
        svc.remove_vm(&viewer(), g.id, g.version, &f.vm_names[0])
            .await,
        Err(ButlerError::Denied(_))
    ));
    assert_eq!(g.vms, 2, "an edit answers the group's size");
    let g = svc.group(&ops(), g.id).await.unwrap();
    assert_eq!(
        g.vms
            .iter()
            .map(|v| (v.name.as_str(), v.selected))
            .collect::<Vec<_>>(),
        vec![
            (f.vm_names[0].as_str(), true),
            (f.vm_names[1].as_str(), false)
        ]
    );
    let back = svc.clone_group(&ops(), g.id, None).await.unwrap();
    assert_eq!(back.name, "Drill (return)");
    assert_eq!(back.vms, g.vms);
    let back = svc.switch(&ops(), back.id, back.version).await.unwrap();
    assert_eq!(
        (back.source.as_deref(), back.destination.as_deref()),
        (Some("c2-santiago"), Some("c1-madrid"))
    );
    let found: Vec<String> = svc
        .find_groups(&viewer(), "drill")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(
        found,
        vec!["Drill".to_string(), "Drill (return)".to_string()]
    );
    svc.delete_group(&ops(), back.id, back.version)
        .await
        .unwrap();
    assert!(matches!(
        svc.group(&viewer(), back.id).await,
        Err(ButlerError::NotFound(_))
    ));
}

#[tokio::test]
async fn concurrent_creates_of_one_name_make_one_group() {
    let s = sim(2);
    let svc = service(&s, Arc::new(MemoryStore::new()), config());
    let mut hs = Vec::new();
    for _ in 0..8 {
        let svc = svc.clone();
        hs.push(tokio::spawn(async move {
            svc.create_group(&ops(), "same").await.is_ok()
        }));
    }
    let mut ok = 0;
    for h in hs {
        ok += usize::from(h.await.unwrap());
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn refresh_is_batched_and_a_failed_refresh_keeps_the_last_good_facts() {
    let s = sim(3);
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms: 10_000,
            groups: 100,
            ..Default::default()
        },
    );
    let svc = service(&s, Arc::new(MemoryStore::new()), config());
    let g = fleet_group(&svc, &f, "big").await;
    s.reset_calls();
    assert!(
        matches!(
            svc.refresh(&viewer(), g.id).await,
            Err(ButlerError::Denied(_))
        ),
        "a viewer triggers nothing"
    );
    assert_eq!(s.total_calls(), 0);
    let snap = svc.refresh(&ops(), g.id).await.unwrap();
    let calls = s.total_calls();
    assert_eq!(
        calls,
        2 + 2 * 2,
        "clusters, projects, then VMs and groups per cluster"
    );
    assert!(calls <= 10_000u64.div_ceil(500) + 2 * 100 + 2);
    assert_eq!(snap.vms.len(), 10_000);
    s.set_faults(Op::ListVms, FaultConfig::permanent(1.0));
    s.clock().sleep(Duration::from_secs(600)).await;
    assert!(svc.refresh(&ops(), g.id).await.is_err());
    let status = svc.facts(&viewer(), g.id).unwrap();
    assert_eq!(
        status.snapshot.snapshot_id, snap.snapshot_id,
        "the last good facts stay"
    );
    assert!(
        status.age >= chrono::Duration::seconds(600),
        "and say how old they are: {:?}",
        status.age
    );
    assert!(status.last_error.unwrap().1.contains("list_vms"));
}

#[tokio::test]
async fn a_realistic_fleet_shows_every_platform_finding() {
    let s = sim(4);
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms: 5000,
            groups: 500,
            mix: fleet::ProblemMix::REALISTIC,
            ..Default::default()
        },
    );
    let svc = service(&s, Arc::new(MemoryStore::new()), config());
    let g = fleet_group(&svc, &f, "realistic").await;
    svc.refresh(&ops(), g.id).await.unwrap();
    let (g, facts, report) = svc.validate(&ops(), g.id).await.unwrap();
    use FindingCode as F;
    for code in [
        F::NotOnSource,
        F::ProjectMismatch,
        F::PoweredOn,
        F::NoProtectionGroup,
        F::NoSchedule,
        F::NotReplicatingToDestination,
        F::NoReplica,
        F::StaleReplica,
        F::SharedGroup,
    ] {
        assert!(report.findings.iter().any(|x| x.code == code), "no {code}");
    }
    assert!(!report.can_migrate());
    let with_finding: std::collections::HashSet<u32> = report
        .findings
        .iter()
        .filter(|x| x.severity() != butler::migration::Severity::Info)
        .map(|x| x.vm)
        .collect();
    let share = with_finding.len() as f64 / g.vms.len() as f64;
    assert!(
        (0.35..0.65).contains(&share),
        "about half carry a finding: {share}"
    );
    // Messages render on demand and name the VM.
    let first = report
        .findings
        .iter()
        .find(|x| x.code == F::PoweredOn)
        .unwrap();
    assert!(first
        .message(&g, &facts)
        .contains(&g.vms[first.vm as usize].name));
    // Not selected VMs are reported as such.
    let g = svc
        .select(&ops(), g.id, g.version, &f.vm_names[0], false)
        .await
        .unwrap();
    let (_, _, report) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(report
        .findings
        .iter()
        .any(|x| x.code == F::NotSelected && x.vm == 0));
}

async fn clean_setup(
    seed: u64,
    vms: usize,
    groups: usize,
    store: Arc<dyn Store>,
) -> (
    SimPlatform,
    fleet::Fleet,
    Arc<MigrationService>,
    MigrationGroup,
) {
    let s = sim(seed);
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms,
            groups,
            ..Default::default()
        },
    );
    let svc = service(&s, store, config());
    let g = fleet_group(&svc, &f, "clean").await;
    svc.refresh(&ops(), g.id).await.unwrap();
    (s, f, svc, g)
}

#[tokio::test]
async fn tokens_are_refused_when_stale_or_with_errors() {
    let (s, f, svc, g) = clean_setup(5, 20, 4, Arc::new(MemoryStore::new())).await;
    let (_, _, ok) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(ok.can_migrate(), "{:?}", ok.findings);
    // The group changed after validation.
    let g2 = svc
        .select(&ops(), g.id, g.version, &f.vm_names[0], false)
        .await
        .unwrap();
    assert!(matches!(
        svc.migrate(&ops(), ok.token().unwrap()).await,
        Err(ButlerError::ValidationRequired(_))
    ));
    let g3 = svc
        .select(&ops(), g2.id, g2.version, &f.vm_names[0], true)
        .await
        .unwrap();
    let (_, _, ok) = svc.validate(&ops(), g3.id).await.unwrap();
    // A refresh that finds different facts invalidates the token.
    s.set_vm_power(&f.vm_names[3], PowerState::On);
    svc.refresh(&ops(), g.id).await.unwrap();
    let refused = svc.migrate(&ops(), ok.token().unwrap()).await.unwrap_err();
    assert!(refused.to_string().contains("facts changed"), "{refused}");
    // A validation with errors.
    let (_, _, bad) = svc.validate(&ops(), g.id).await.unwrap();
    assert_eq!(bad.errors, 1);
    let err = svc.migrate(&ops(), bad.token().unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("1 error"), "{err}");
    // Viewers neither validate nor migrate.
    s.set_vm_power(&f.vm_names[3], PowerState::Off);
    svc.refresh(&ops(), g.id).await.unwrap();
    assert!(matches!(
        svc.validate(&viewer(), g.id).await,
        Err(ButlerError::Denied(_))
    ));
    let (_, _, ok) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(matches!(
        svc.migrate(&viewer(), ok.token().unwrap()).await,
        Err(ButlerError::Denied(_))
    ));
}

#[tokio::test]
async fn migration_with_30_percent_transient_failures_completes_and_the_report_matches_the_platform(
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let (s, f, svc, g) = clean_setup(6, 200, 20, Arc::new(SqliteStore::open(&path).unwrap())).await;
    s.set_faults(Op::MigrateProtectionGroup, FaultConfig::transient(0.3));
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(v.can_migrate(), "{:?}", v.findings.first());
    let started = s.now();
    let handle = svc.migrate(&ops(), v.token().unwrap()).await.unwrap();
    let mut a = handle.events();
    let mut b = handle.events();
    let watcher = tokio::spawn(async move {
        let mut n = 0;
        let mut last = 0.0f32;
        while let Some(e) = b.next().await {
            assert!(e.percent >= last, "progress never goes back");
            last = e.percent;
            n += 1;
        }
        (n, last)
    });
    let mut retried = 0;
    let mut seen = 0;
    while let Some(e) = a.next().await {
        seen += 1;
        if e.step == MigrationStep::Migrate
            && matches!(
                e.outcome,
                EventOutcome::Failed {
                    will_retry: true,
                    ..
                }
            )
        {
            retried += 1;
        }
    }
    let report = handle.wait().await.unwrap();
    let (n, last) = watcher.await.unwrap();
    assert!(
        n > 0 && n <= seen,
        "a second observer follows too ({n} of {seen})"
    );
    assert_eq!(last, 100.0);
    assert!(retried > 0, "some migrate calls failed and were retried");
    assert_eq!(report.counts(), (200, 0, 0), "{report}");
    assert!(
        s.now() - started < chrono::Duration::hours(2),
        "within the deadline"
    );
    for line in &report.vms {
        let vm = s.vm(&line.vm).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.power, vm.project.as_deref()),
            ("c2-santiago", PowerState::Off, Some("dr-project"))
        );
        assert!(line.attempts.iter().any(|a| a.error.is_none()));
        assert!(
            line.notes
                .iter()
                .any(|n| n.contains("project prod-project → dr-project")),
            "{:?}",
            line.notes
        );
        assert!(
            line.notes
                .iter()
                .any(|n| n.contains("schedule(s) recreated")),
            "{:?}",
            line.notes
        );
    }
    let pd = s
        .protection_group("c2-santiago", &f.groups[0].name)
        .unwrap();
    assert!(pd.active && pd.schedules.len() == 2);
    // One migrate call per protection group, plus retries.
    let attempts: usize = f.groups.len() + retried;
    assert_eq!(s.calls(Op::MigrateProtectionGroup) as usize, attempts);
    // The report is stored and readable later, even from a reopened store.
    drop(svc);
    let reopened = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), config());
    let again = reopened.report(&viewer(), report.id).await.unwrap();
    assert_eq!(again, report);
    assert_eq!(reopened.reports(&viewer(), g.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn cancel_stops_new_work_and_reports_the_rest_skipped() {
    let (s, _f, svc, g) = clean_setup(7, 40, 20, Arc::new(MemoryStore::new())).await;
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    let cfg_parallel = svc.config().max_parallel;
    let handle = svc.migrate(&ops(), v.token().unwrap()).await.unwrap();
    let mut events = handle.events();
    // Cancel as soon as the first protection group has moved.
    while let Some(e) = events.next().await {
        if e.step == MigrationStep::Verify && e.outcome == EventOutcome::Succeeded {
            handle.cancel();
            break;
        }
    }
    let report = handle.wait().await.unwrap();
    let (migrated, failed, skipped) = report.counts();
    assert!(report.cancelled);
    assert_eq!(failed, 0);
    assert!(
        skipped > 0 && migrated > 0 && migrated <= 2 * cfg_parallel * 2,
        "{report}"
    );
    for line in &report.vms {
        let on = s.vm(&line.vm).unwrap().cluster;
        match line.outcome {
            VmOutcome::Migrated => assert_eq!(on, "c2-santiago"),
            VmOutcome::Skipped { ref reason } => {
                assert_eq!(on, "c1-madrid", "skipped VMs did not move");
                assert!(reason.contains("cancelled"));
            }
            VmOutcome::Failed { .. }
            | VmOutcome::StillRunning { .. }
            | VmOutcome::PostMovePending { .. } => {
                panic!("{}: {:?}", line.vm, line.outcome)
            }
        }
    }
}

#[tokio::test]
async fn failed_vms_can_be_retried_alone() {
    let (s, f, svc, g) = clean_setup(8, 30, 6, Arc::new(MemoryStore::new())).await;
    let broken = f.groups[2].name.clone();
    s.script_fault(ScriptedFault::nth_call(
        Op::MigrateProtectionGroup,
        1,
        Some(&broken),
        FaultKind::Permanent,
    ));
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    let first = run_to_end(&svc, &v).await;
    let failed = first.failed_vms();
    assert_eq!(failed.len(), 5, "{first}");
    assert!(first
        .vms
        .iter()
        .filter(|l| matches!(l.outcome, VmOutcome::Failed { .. }))
        .all(|l| l.protection_group.as_deref() == Some(broken.as_str())));
    let before = s.calls(Op::MigrateProtectionGroup);
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v2) = svc.validate_failed(&ops(), first.id).await.unwrap();
    assert!(v2.can_migrate(), "{:?}", v2.findings);
    let second = run_to_end(&svc, &v2).await;
    assert_eq!(second.counts(), (5, 0, 0));
    let mut names: Vec<String> = second.vms.iter().map(|l| l.vm.clone()).collect();
    names.sort();
    let mut expected = failed.clone();
    expected.sort();
    assert_eq!(names, expected, "only the failed VMs");
    assert_eq!(
        s.calls(Op::MigrateProtectionGroup) - before,
        1,
        "one protection group moved"
    );
    assert!(f
        .vm_names
        .iter()
        .all(|v| s.vm(v).unwrap().cluster == "c2-santiago"));
    assert_eq!(
        svc.reports(&viewer(), g.id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![second.id, first.id]
    );
}

/// A VM that moved but whose project remap failed is neither migrated nor
/// failed: its post-move steps are pending, and retrying the run's failed
/// VMs redoes only those steps (no second migrate call).
#[tokio::test]
async fn a_moved_vm_whose_remap_failed_is_pending_and_its_retry_remaps_it() {
    let (s, f, svc, g) = clean_setup(9, 12, 4, Arc::new(MemoryStore::new())).await;
    let unlucky = f.vm_names[0].clone();
    let uuid = s.vm(&unlucky).unwrap().uuid;
    s.script_fault(ScriptedFault::nth_call(
        Op::SetVmProject,
        1,
        Some(&uuid),
        FaultKind::Permanent,
    ));
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    let first = run_to_end(&svc, &v).await;
    assert_eq!(first.counts(), (11, 0, 0), "{first}");
    assert_eq!(first.post_move_pending(), 1, "{first}");
    assert_eq!(first.failed_vms(), vec![unlucky.clone()]);
    let line = first.vms.iter().find(|l| l.vm == unlucky).unwrap();
    match &line.outcome {
        VmOutcome::PostMovePending { reason } => {
            assert!(reason.contains("dr-project"), "{reason}")
        }
        other => panic!("expected pending post-move steps: {other:?}"),
    }
    assert!(first
        .to_string()
        .contains("1 moved with post-move steps pending"));
    let on = s.vm(&unlucky).unwrap();
    assert_eq!(
        (on.cluster.as_str(), on.project.as_deref()),
        ("c2-santiago", Some("prod-project"))
    );

    let moves = s.calls(Op::MigrateProtectionGroup);
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, retry) = svc.validate_failed(&ops(), first.id).await.unwrap();
    assert_eq!(retry.already_moved, vec![unlucky.clone()]);
    assert_eq!(retry.only, Some(Vec::new()), "nothing left to move");
    assert!(retry.can_migrate(), "{:?}", retry.findings);
    let second = run_to_end(&svc, &retry).await;
    assert_eq!(second.counts(), (1, 0, 0), "{second}");
    assert!(
        second.vms[0]
            .notes
            .iter()
            .any(|n| n.contains("post-move steps only")),
        "{second}"
    );
    assert_eq!(
        s.calls(Op::MigrateProtectionGroup),
        moves,
        "nothing moved again"
    );
    assert_eq!(
        s.vm(&unlucky).unwrap().project.as_deref(),
        Some("dr-project")
    );
}

/// A platform that can move neither protection groups nor VMs: validation and
/// migration are refused as unsupported (HTTP 501 in the service), and
/// nothing is called on the platform.
#[tokio::test]
async fn a_platform_without_migration_refuses_to_validate_or_migrate() {
    use butler::backend::{Capabilities, Capability, ErrorKind};
    let (s, _f, svc, g) = clean_setup(14, 6, 2, Arc::new(MemoryStore::new())).await;
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    s.set_capabilities(
        Capabilities::all()
            .without(Capability::Migration)
            .without(Capability::VmMigration),
    );
    for result in [
        svc.validate(&ops(), g.id).await.map(drop),
        svc.migrate(&ops(), v.token().unwrap()).await.map(drop),
    ] {
        match result {
            Err(ButlerError::Backend(e)) => {
                assert_eq!(e.kind, ErrorKind::Unsupported);
                assert!(e.to_string().contains("no migration"), "{e}");
            }
            other => panic!("expected unsupported: {other:?}"),
        }
    }
    assert_eq!(s.calls(Op::MigrateProtectionGroup), 0);
}

/// Two migration services over one SQLite file, as two processes would be,
/// on a platform where each protection domain (two VMs each) takes ten
/// minutes to move, one at a time; `a` has validated a group of them all.
async fn two_processes(
    seed: u64,
    vms: usize,
    group: &str,
) -> (
    tempfile::TempDir,
    SimPlatform,
    Arc<MigrationService>,
    Arc<MigrationService>,
    fleet::Fleet,
    ValidationReport,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    let (s, f) = slow_platform(seed, Duration::from_secs(600), vms, vms / 2);
    let mut cfg = config();
    cfg.max_parallel = 1;
    let a = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), cfg.clone());
    let b = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), cfg);
    let g = fleet_group(&a, &f, group).await;
    a.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = a.validate(&ops(), g.id).await.unwrap();
    (dir, s, a, b, f, v)
}

/// A run is cancelled from another process sharing the store: the process
/// running it sees the request within its poll, starts nothing new, and
/// reports what it did not move as skipped; an ended run is refused.
#[tokio::test]
async fn a_run_is_cancelled_from_another_process_sharing_the_store() {
    let (_dir, s, a, b, _f, v) = two_processes(46, 8, "far").await;
    let handle = a.migrate(&ops(), v.token().unwrap()).await.unwrap();
    let mut events = handle.events();
    while let Some(e) = events.next().await {
        if e.step == MigrationStep::Migrate && e.outcome == EventOutcome::Succeeded {
            break; // the first protection domain is on its way
        }
    }
    assert!(matches!(
        b.cancel(&viewer(), handle.run()).await,
        Err(ButlerError::Denied(_))
    ));
    b.cancel(&ops(), handle.run()).await.unwrap();
    let report = handle.wait().await.unwrap();
    assert!(report.cancelled, "{report}");
    let (_, failed, skipped) = report.counts();
    assert_eq!(failed, 0, "{report}");
    assert_eq!(
        skipped, 6,
        "three protection domains never started: {report}"
    );
    assert_eq!(
        s.calls(Op::MigrateProtectionGroup),
        1,
        "nothing new started"
    );
    assert!(matches!(
        b.cancel(&ops(), report.id).await,
        Err(ButlerError::Refused(s)) if s.to_string().contains("has ended")
    ));
}

/// A platform on which each protection domain takes `migrate` to move,
/// with a fleet of `vms` VMs over `groups` protection domains.
fn slow_platform(
    seed: u64,
    migrate: Duration,
    vms: usize,
    groups: usize,
) -> (SimPlatform, fleet::Fleet) {
    let s = SimPlatform::demo_builder(seed)
        .timings(butler::sim::Timings {
            queue: Duration::ZERO,
            migrate_base: migrate,
            migrate_per_gib: Duration::ZERO,
            ..Default::default()
        })
        .project("dr-project", &["c2-santiago"], &["vlan-10"])
        .build();
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms,
            groups,
            ..Default::default()
        },
    );
    (s, f)
}

/// A platform that migrates at once, for the report-honesty tests.
async fn instant_setup(seed: u64) -> (SimPlatform, fleet::Fleet, MigrationGroup) {
    let s = SimPlatform::demo_builder(seed)
        .timings(butler::sim::Timings {
            queue: Duration::ZERO,
            migrate_base: Duration::ZERO,
            migrate_per_gib: Duration::ZERO,
            ..Default::default()
        })
        .project("dr-project", &["c2-santiago"], &["vlan-10"])
        .build();
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms: 12,
            groups: 4,
            ..Default::default()
        },
    );
    let probe = service(&s, Arc::new(MemoryStore::new()), config());
    let g = fleet_group(&probe, &f, "honest").await;
    (s, f, g)
}

#[tokio::test]
async fn a_vm_on_the_destination_is_never_reported_failed() {
    let (s, f, _) = instant_setup(41).await;
    let mut cfg = config();
    cfg.retry.max_attempts = 1; // one try only: a lost reply ends the attempts
    let svc = service(&s, Arc::new(MemoryStore::new()), cfg);
    let g = fleet_group(&svc, &f, "lost-replies").await;
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    // Every migrate call does its work, but no reply comes back.
    s.set_faults(
        Op::MigrateProtectionGroup,
        FaultConfig {
            lose_reply: 1.0,
            ..Default::default()
        },
    );
    let report = run_to_end(&svc, &v).await;
    for line in &report.vms {
        assert_eq!(s.vm(&line.vm).unwrap().cluster, "c2-santiago");
        assert!(
            matches!(line.outcome, VmOutcome::Migrated),
            "{} is on the destination but reported {:?}",
            line.vm,
            line.outcome
        );
        assert!(
            line.notes[0].contains("on the destination although"),
            "{:?}",
            line.notes
        );
    }
}

#[tokio::test]
async fn retrying_failed_vms_skips_and_names_those_that_moved_since() {
    let (s, f, g) = instant_setup(42).await;
    let svc = service(&s, Arc::new(MemoryStore::new()), config());
    let g = fleet_group(&svc, &f, &format!("{}-2", g.name)).await;
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    s.set_faults(Op::MigrateProtectionGroup, FaultConfig::permanent(1.0));
    let first = run_to_end(&svc, &v).await;
    assert_eq!(first.failed_vms().len(), 12);
    // One protection domain is moved by hand (or by a late platform).
    s.clear_faults();
    use butler::backend::ClusterBackend;
    let moved_pd = f.groups[0].name.clone();
    s.migrate_protection_group("c1-madrid", &moved_pd, "c2-santiago")
        .await
        .unwrap();
    s.clock().sleep(Duration::from_secs(5)).await;
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, retry) = svc.validate_failed(&ops(), first.id).await.unwrap();
    let moved: Vec<&String> = f
        .vm_names
        .iter()
        .filter(|n| s.vm(n).unwrap().cluster == "c2-santiago")
        .collect();
    assert!(!moved.is_empty());
    assert_eq!(
        retry.already_moved.len(),
        moved.len(),
        "{:?}",
        retry.already_moved
    );
    assert_eq!(retry.only.as_ref().unwrap().len(), 12 - moved.len());
    assert!(retry.can_migrate(), "{:?}", retry.findings);
    let second = run_to_end(&svc, &retry).await;
    assert_eq!(second.failed_vms(), Vec::<String>::new(), "{second}");
    assert!(f
        .vm_names
        .iter()
        .all(|n| s.vm(n).unwrap().cluster == "c2-santiago"));
}

#[tokio::test]
async fn a_vm_not_definitely_off_cannot_migrate() {
    let (s, f, svc, g) = clean_setup(43, 6, 3, Arc::new(MemoryStore::new())).await;
    s.set_vm_power(&f.vm_names[2], PowerState::Unknown); // paused, suspended, unknown
    svc.refresh(&ops(), g.id).await.unwrap();
    let (g, facts, v) = svc.validate(&ops(), g.id).await.unwrap();
    let flagged: Vec<&str> = v
        .findings
        .iter()
        .filter(|x| x.code == FindingCode::PoweredOn)
        .map(|x| g.vms[x.vm as usize].name.as_str())
        .collect();
    assert_eq!(flagged, vec![f.vm_names[2].as_str()]);
    assert!(!v.can_migrate());
    let msg = v
        .findings
        .iter()
        .find(|x| x.code == FindingCode::PoweredOn)
        .unwrap()
        .message(&g, &facts);
    assert!(msg.contains("not powered off"), "{msg}");
}

/// A process that dies mid-migration loses no line it had finished; the
/// next process closes the run as interrupted with exactly those lines.
#[test]
fn a_crash_mid_migration_loses_no_finished_line_and_the_run_is_closed_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let first = process();
    let (s, run, finished) = first.block_on(async {
        let s = sim(44);
        let f = fleet::generate(
            &s,
            &fleet::FleetSpec {
                vms: 100,
                groups: 50,
                ..Default::default()
            },
        );
        let mut cfg = config();
        cfg.max_parallel = 2;
        let svc = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), cfg);
        let g = fleet_group(&svc, &f, "crashing").await;
        svc.refresh(&ops(), g.id).await.unwrap();
        let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
        let handle = svc.migrate(&ops(), v.token().unwrap()).await.unwrap();
        let mut events = handle.events();
        let mut finished = 0;
        while let Some(e) = events.next().await {
            if e.step == MigrationStep::Verify && e.vm.is_some() {
                finished += 1;
                if finished == 6 {
                    break;
                }
            }
        }
        // What the store holds now (another connection, as an operator's
        // would): lines are appended after their events, so this, not the
        // event count, is what a crash must not lose.
        tokio::task::yield_now().await;
        let stored = SqliteStore::open(&path)
            .unwrap()
            .get_report(handle.run())
            .await
            .map_or(0, |r| r.vms.len());
        (s.clone(), handle.run(), stored)
    });
    drop(first); // the process dies: the runner stops mid-run
    let second = process();
    second.block_on(async {
        let svc = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), config());
        let closed = svc.recover_interrupted(&ops()).await.unwrap();
        assert_eq!(closed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![run]);
        let r = svc.report(&viewer(), run).await.unwrap();
        assert!(r.interrupted && r.ended.is_some(), "{r}");
        // Every planned VM has its line: those stored before the crash, and
        // the rest as the platform has them now.
        assert_eq!(r.vms.len(), 100, "{r}");
        let (migrated, _, _) = r.counts();
        assert!(
            migrated >= finished,
            "{migrated} migrated, {finished} stored before the crash"
        );
        let mut seen = std::collections::HashSet::new();
        for line in &r.vms {
            assert!(seen.insert(line.vm.clone()), "{} reported twice", line.vm);
            let on = s.vm(&line.vm).unwrap().cluster;
            match line.outcome {
                VmOutcome::Migrated | VmOutcome::PostMovePending { .. } => {
                    assert_eq!(on, "c2-santiago", "{line:?}")
                }
                VmOutcome::Failed { .. } => assert_ne!(on, "c2-santiago", "{line:?}"),
                _ => panic!("{line:?}"),
            }
        }
        assert!(
            svc.recover_interrupted(&ops()).await.unwrap().is_empty(),
            "closed once"
        );
    });
}

#[tokio::test]
async fn a_migration_still_running_at_the_deadline_is_unknown_not_failed() {
    // Each protection domain takes an hour to move; the run may take ten minutes.
    let (s, f) = slow_platform(44, Duration::from_secs(3600), 6, 3);
    let mut c = config();
    c.deadline = Duration::from_secs(600);
    let svc = service(&s, Arc::new(MemoryStore::new()), c);
    let g = fleet_group(&svc, &f, "slow").await;
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    let first = run_to_end(&svc, &v).await;
    assert_eq!(first.counts(), (0, 0, 0), "{first}");
    assert_eq!(first.still_running(), 6, "{first}");
    assert!(first.to_string().contains("6 still running"), "{first}");
    assert_eq!(first.failed_vms().len(), 6, "a retry takes them");
    // The platform finishes later, after the run gave up waiting: the VMs
    // arrive with their source project, which nothing has remapped yet.
    s.clock().sleep(Duration::from_secs(3 * 3600)).await;
    svc.refresh(&ops(), g.id).await.unwrap();
    for n in &f.vm_names {
        let vm = s.vm(n).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.project.as_deref()),
            ("c2-santiago", Some("prod-project"))
        );
    }
    // The retry finds every VM moved and does only their post-move steps.
    let (_, _, retry) = svc.validate_failed(&ops(), first.id).await.unwrap();
    assert_eq!(retry.already_moved.len(), 6);
    let second = run_to_end(&svc, &retry).await;
    assert_eq!(second.counts(), (6, 0, 0), "{second}");
    assert!(f
        .vm_names
        .iter()
        .all(|n| s.vm(n).unwrap().project.as_deref() == Some("dr-project")));
    match svc.validate_failed(&ops(), second.id).await {
        Err(ButlerError::Refused(s)) => assert!(s.to_string().contains("no failed VMs"), "{s}"),
        other => panic!("expected 'no failed VMs': {other:?}"),
    }
}

/// Issue-scale crash: 1,000 VMs over 50 protection groups, 30 % of
/// migrate, list and project calls failing, the process gone mid-run. The
/// next process accounts for every VM once, never calls a VM that moved
/// failed, and a retry of the failed ones moves the rest.
#[test]
fn a_1000_vm_migration_killed_mid_run_accounts_for_every_vm_and_its_retry_moves_the_rest() {
    killed_mid_run_then_retried(false);
}

/// The same story where the platform moves VMs one by one (no protection
/// domains): every VM accounted for, none reported failed that moved, the
/// retry moves the rest.
#[test]
fn a_1000_vm_migration_vm_by_vm_killed_mid_run_accounts_for_every_vm_and_its_retry_moves_the_rest()
{
    killed_mid_run_then_retried(true);
}

fn killed_mid_run_then_retried(vm_moves: bool) {
    use butler::backend::{Capabilities, Capability};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash-1000.sqlite");
    // One move per VM instead of one per 20: more of them at once, as an
    // operator would run it, so the run fits its deadline.
    let mut cfg = config();
    if vm_moves {
        cfg.max_parallel = 32;
    }
    // A VM's checks after its move meet a fault three times in ten: with
    // 8 attempts, one of 700 VMs ran out now and then, as the order of
    // the calls (and so which of them fail) follows the machine's timing.
    // With 20, running out is a one-in-10^10 event whatever the order.
    cfg.verify_retry.max_attempts = 20;
    cfg.verify_retry.step_deadline = Duration::from_secs(3600);
    let faulty = |s: &SimPlatform| {
        for op in [
            if vm_moves {
                Op::MigrateVm
            } else {
                Op::MigrateProtectionGroup
            },
            Op::ListProtectionGroups,
            Op::ListVms,
            Op::SetVmProject,
        ] {
            s.set_faults(op, FaultConfig::transient(0.3));
        }
    };
    let first = process();
    let (s, names, run) = first.block_on(async {
        let s = sim(45);
        let f = fleet::generate(
            &s,
            &fleet::FleetSpec {
                vms: 1000,
                groups: 50,
                ..Default::default()
            },
        );
        if vm_moves {
            s.set_capabilities(
                Capabilities::all()
                    .without(Capability::Protection)
                    .without(Capability::Migration),
            );
        }
        let svc = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), cfg.clone());
        let g = fleet_group(&svc, &f, "crash-1000").await;
        svc.refresh(&ops(), g.id).await.unwrap();
        let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
        assert!(v.can_migrate(), "{:?}", v.findings.first());
        faulty(&s);
        let handle = svc.migrate(&ops(), v.token().unwrap()).await.unwrap();
        let mut events = handle.events();
        let mut verified = 0;
        while let Some(e) = events.next().await {
            if e.step == MigrationStep::Verify && e.vm.is_some() {
                verified += 1;
                if verified == 300 {
                    break;
                }
            }
        }
        (s.clone(), f.vm_names.clone(), handle.run())
    });
    drop(first); // the process dies mid-run
    let second = process();
    second.block_on(async {
        let svc = service(&s, Arc::new(SqliteStore::open(&path).unwrap()), cfg.clone());
        // Reading the platform may itself fail now and then: the report is
        // closed either way; with the platform read, every VM is accounted.
        s.clear_faults();
        let closed = svc.recover_interrupted(&ops()).await.unwrap();
        assert_eq!(closed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![run]);
        let r = svc.report(&viewer(), run).await.unwrap();
        assert!(r.interrupted, "{r}");
        let mut lines: Vec<&str> = r.vms.iter().map(|l| l.vm.as_str()).collect();
        lines.sort_unstable();
        let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(lines, expected, "every VM accounted for, each once");
        let mut moved_but_failed = Vec::new();
        for line in &r.vms {
            let on = s.vm(&line.vm).unwrap().cluster;
            match &line.outcome {
                VmOutcome::Migrated => assert_eq!(on, "c2-santiago", "{line:?}"),
                VmOutcome::Failed { .. } if on == "c2-santiago" => {
                    moved_but_failed.push(line.vm.clone())
                }
                _ => {}
            }
        }
        assert!(
            moved_but_failed.is_empty(),
            "reported failed but moved: {moved_but_failed:?}"
        );
        // Moved VMs whose lines the crash lost are found on the
        // destination with their post-move steps pending.
        let (migrated, failed, _) = r.counts();
        let moved = migrated + r.post_move_pending();
        assert!(
            moved >= 300 && failed > 0,
            "{migrated} migrated, {} pending, {failed} failed",
            r.post_move_pending()
        );

        // Retry the failed ones, migrating with the faults back on: they
        // all move (protection groups the dead run had started are waited
        // for, not failed as "already migrating").
        assert_eq!(svc.reports(&viewer(), r.group).await.unwrap().len(), 1);
        svc.refresh(&ops(), r.group).await.unwrap();
        let (_, _, v) = svc.validate_failed(&ops(), run).await.unwrap();
        assert!(v.can_migrate(), "{:?}", v.findings.first());
        faulty(&s);
        let retry = run_to_end(&svc, &v).await;
        // VMs found on the destination at recovery get their post-move
        // steps; the rest move.
        let pending = r.post_move_pending();
        assert_eq!(retry.counts(), (failed + pending, 0, 0), "{retry}");
        assert!(names.iter().all(|v| {
            let vm = s.vm(v).unwrap();
            vm.cluster == "c2-santiago" && vm.project.as_deref() == Some("dr-project")
        }));
    });
}

/// Watching a run nobody moves (its process died before recovery closed
/// it) on the virtual clock neither ends nor makes time run: the watch
/// re-reads the store as idle work does, never jumping time ahead at each
/// read (which would spin, and fire every deadline in the process).
#[tokio::test]
async fn watching_a_run_nobody_moves_does_not_run_the_clock() {
    use butler::migration::{MigrationReport, IDLE_REREAD};
    let (dir, s, _a, b, _f, _v) = two_processes(48, 4, "stalled").await;
    let store = SqliteStore::open(dir.path().join("shared.sqlite")).unwrap();
    let run = store.next_run_id().await.unwrap();
    let t0 = s.clock().now();
    let stalled = MigrationReport {
        id: run,
        group: butler::migration::GroupId(1),
        group_name: "stalled".into(),
        source: "c1-madrid".into(),
        destination: "c2-santiago".into(),
        started_by: "ops".into(),
        started: t0,
        ended: None,
        cancelled: false,
        interrupted: false,
        planned: vec!["vm-a".into()],
        power_cycle: vec![],
        vms: vec![],
    };
    store.save_report(&stalled).await.unwrap();
    let mut watch = b
        .watch(&viewer(), run, Duration::from_secs(5))
        .await
        .unwrap();
    // Long enough in real time for many re-reads, whatever the load.
    let waited = tokio::time::timeout(IDLE_REREAD * 6, watch.next()).await;
    assert!(waited.is_err(), "a stalled run answered {waited:?}");
    assert_eq!(s.clock().now(), t0, "the watch made virtual time pass");
}

/// Another process sharing the store follows a run it did not start: every
/// VM once, as it finishes, then the end with the stored report.
#[tokio::test]
async fn a_run_is_followed_from_another_process_sharing_the_store() {
    use butler::migration::{RunId, RunProgress};
    let (_dir, _s, a, b, f, v) = two_processes(47, 12, "followed").await;
    assert!(matches!(
        b.watch(&ops(), RunId(999), Duration::from_secs(5)).await,
        Err(ButlerError::NotFound(_))
    ));
    let handle = a.migrate(&ops(), v.token().unwrap()).await.unwrap();
    assert!(matches!(
        b.watch(&requester(), handle.run(), Duration::from_secs(5))
            .await,
        Err(ButlerError::Denied(_))
    ));
    let mut watch = b
        .watch(&viewer(), handle.run(), Duration::from_secs(5))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut batches = 0;
    let ended = loop {
        match watch.next().await.unwrap() {
            Some(RunProgress::Lines {
                lines,
                done,
                planned,
            }) => {
                batches += 1;
                seen.extend(lines.into_iter().map(|l| l.vm));
                assert_eq!((done, planned), (seen.len(), 12));
            }
            Some(RunProgress::Ended(report)) => break report,
            Some(other) => panic!("unexpected {other:?}"),
            None => panic!("ended without the end"),
        }
    };
    assert!(
        watch.next().await.unwrap().is_none(),
        "the end is answered once"
    );
    let report = handle.wait().await.unwrap();
    assert_eq!(*ended, report);
    let mut expected = f.vm_names.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "every VM once");
    assert!(
        batches > 1,
        "lines arrive as protection domains finish, not all at the end"
    );
}

fn requester() -> Actor {
    Actor::trusted("olga", [Role::Requester]).unwrap()
}

/// A protection domain whose migrate call keeps failing for passing reasons
/// fails its VMs saying the retries ran out, and after how many attempts.
#[tokio::test]
async fn a_migration_given_up_after_passing_failures_says_retries_exhausted() {
    let s = sim(48);
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms: 4,
            groups: 2,
            ..Default::default()
        },
    );
    let mut cfg = config();
    cfg.retry.max_attempts = 3;
    let svc = service(&s, Arc::new(MemoryStore::new()), cfg);
    let g = fleet_group(&svc, &f, "flaky").await;
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    s.set_faults(Op::MigrateProtectionGroup, FaultConfig::transient(1.0));
    let report = run_to_end(&svc, &v).await;
    assert_eq!(report.failed_vms().len(), 4, "{report}");
    for line in &report.vms {
        match &line.outcome {
            VmOutcome::Failed { reason } => assert!(
                reason.contains("retries exhausted after 3 attempts"),
                "{reason}"
            ),
            other => panic!("{}: {other:?}", line.vm),
        }
    }
}

/// The VMs of `report` whose events of `step` succeeded, sorted.
fn stepped(events: &[butler::migration::MigrationEvent], step: MigrationStep) -> Vec<String> {
    let mut vms: Vec<String> = events
        .iter()
        .filter(|e| e.step == step && e.outcome == EventOutcome::Succeeded)
        .filter_map(|e| e.vm.clone())
        .collect();
    vms.sort();
    vms
}

/// A group that has Butler power its VMs off: running VMs are a warning,
/// not an error; the run needs the Operator's confirmation, then powers
/// each running VM off before its protection domain moves (a guest that
/// does not answer has its power cut) and on again on the destination
/// once verified; the VMs that were off stay off.
#[tokio::test]
async fn a_group_that_powers_vms_off_moves_running_vms_once_confirmed_and_runs_them_there() {
    use butler::migration::Confirmations;
    let (s, f, svc, g) = clean_setup(81, 6, 3, Arc::new(MemoryStore::new())).await;
    let running: Vec<String> = [0, 2, 3].iter().map(|&i| f.vm_names[i].clone()).collect();
    for vm in &running {
        assert!(s.set_vm_power(vm, PowerState::On));
    }
    s.set_guest_unresponsive(&running[2], true);
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert_eq!(v.errors, 3, "running VMs are errors until the group asks");
    let g = svc
        .set_power_off(&ops(), g.id, g.version, true)
        .await
        .unwrap();
    assert!(g.power_off);
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    let planned = v
        .findings
        .iter()
        .filter(|x| x.code == FindingCode::PowerOffPlanned)
        .count();
    assert_eq!((v.errors, planned), (0, 3), "{:?}", v.findings);
    let token = v.token().unwrap();
    // Not confirmed: refused, nothing touched.
    match svc.migrate(&ops(), token).await {
        Err(ButlerError::ConfirmationRequired(m)) => assert!(m.contains("3 VM(s)"), "{m}"),
        other => panic!("{:?}", other.map(|h| h.run())),
    }
    for vm in &running {
        let now = s.vm(vm).unwrap();
        assert_eq!(
            (now.power, now.cluster.as_str()),
            (PowerState::On, f.source.as_str())
        );
    }
    let confirm = Confirmations { power_off: true };
    let handle = svc.migrate_with(&ops(), token, confirm).await.unwrap();
    let mut stream = handle.events();
    let report = handle.wait().await.unwrap();
    let mut events = Vec::new();
    while let Some(e) = stream.next().await {
        events.push(e);
    }
    assert_eq!(report.counts(), (6, 0, 0), "{report}");
    let mut cycled = running.clone();
    cycled.sort();
    assert_eq!(report.power_cycle, cycled);
    assert_eq!(stepped(&events, MigrationStep::PowerOff), cycled);
    assert_eq!(stepped(&events, MigrationStep::PowerOn), cycled);
    for name in &f.vm_names {
        let vm = s.vm(name).unwrap();
        assert_eq!(vm.cluster, f.destination, "{name}");
        let want = if running.contains(name) {
            PowerState::On
        } else {
            PowerState::Off
        };
        assert_eq!(vm.power, want, "{name}");
        let line = report.vms.iter().find(|l| l.vm == *name).unwrap();
        let notes = line.notes.join("; ");
        assert_eq!(
            notes.contains("powered on again on c2-santiago"),
            running.contains(name),
            "{notes}"
        );
        if *name == running[2] {
            assert!(notes.contains("power cut"), "{notes}");
        } else if running.contains(name) {
            assert!(notes.contains("guest shut down"), "{notes}");
        }
    }
}

/// Migrates what `v` validated, the power-off confirmed, and waits.
async fn run_confirmed(svc: &MigrationService, v: &ValidationReport) -> MigrationReport {
    let confirm = butler::migration::Confirmations { power_off: true };
    let handle = svc.migrate_with(&ops(), v.token().unwrap(), confirm).await;
    handle.unwrap().wait().await.unwrap()
}

/// A protection domain that does not move has the VMs Butler powered off
/// powered on again where they are; a VM that cannot be powered off keeps
/// its whole domain from moving.
#[tokio::test]
async fn vms_powered_off_for_a_migration_that_fails_run_again_on_the_source() {
    let (s, f, svc, g) = clean_setup(82, 4, 2, Arc::new(MemoryStore::new())).await;
    for vm in &f.vm_names {
        assert!(s.set_vm_power(vm, PowerState::On));
    }
    svc.refresh(&ops(), g.id).await.unwrap();
    let g = svc
        .set_power_off(&ops(), g.id, g.version, true)
        .await
        .unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    s.set_faults(Op::MigrateProtectionGroup, FaultConfig::permanent(1.0));
    let report = run_confirmed(&svc, &v).await;
    assert_eq!(report.failed_vms().len(), 4, "{report}");
    for name in &f.vm_names {
        let vm = s.vm(name).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.power),
            (f.source.as_str(), PowerState::On),
            "{name}"
        );
        let line = report.vms.iter().find(|l| l.vm == *name).unwrap();
        let notes = line.notes.join("; ");
        assert!(
            notes.contains("powered on again on c1-madrid (its protection domain did not move)"),
            "{notes}"
        );
    }
    // Power that cannot be changed: nothing moves, nothing stays off.
    s.set_faults(Op::MigrateProtectionGroup, FaultConfig::default());
    s.set_faults(Op::SetPower, FaultConfig::permanent(1.0));
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    let report = run_confirmed(&svc, &v).await;
    assert_eq!(report.failed_vms().len(), 4, "{report}");
    for line in &report.vms {
        let VmOutcome::Failed { reason } = &line.outcome else {
            panic!("{line:?}")
        };
        assert!(reason.contains("cannot power VM"), "{reason}");
        let vm = s.vm(&line.vm).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.power),
            (f.source.as_str(), PowerState::On)
        );
    }
}

/// A whole-group save checks VM names as the single edits do (no
/// bidirectional override that makes a name look like another), and keeps
/// the group's power handling.
#[tokio::test]
async fn a_whole_group_save_refuses_a_bidi_vm_name_and_keeps_the_power_handling() {
    let (_, f, svc, g) = clean_setup(83, 2, 1, Arc::new(MemoryStore::new())).await;
    let g = svc
        .set_power_off(&ops(), g.id, g.version, true)
        .await
        .unwrap();
    let mut spoofed = g.clone();
    spoofed.vms[0].name = "vm-\u{202e}gpj.exe".into();
    let refused = svc.save(&ops(), &spoofed).await.unwrap_err();
    assert!(
        matches!(
            refused,
            ButlerError::Group(butler::migration::GroupError::InvalidVmName(_))
        ),
        "{refused}"
    );
    let mut renamed = g.clone();
    renamed.name = "clean-2".into();
    let saved = svc.save(&ops(), &renamed).await.unwrap();
    assert!(saved.power_off, "kept across a whole-group save");
    assert_eq!(
        svc.group(&ops(), g.id).await.unwrap().vms.len(),
        f.vm_names.len()
    );
}

/// A platform that moves VMs one by one and has no protection domains
/// (vSphere's vMotion and relocation): the same service validates without
/// the protection-domain rules and migrates each selected VM on its own,
/// its project remapped on arrival; a lost reply of one move is settled by
/// the VM found on the destination, never a second move reported failed.
#[tokio::test]
async fn a_platform_that_moves_vms_one_by_one_migrates_a_group_without_protection_domains() {
    use butler::backend::{Capabilities, Capability};
    use butler::migration::{FindingCode, VmOutcome};
    let (s, f, svc, g) = clean_setup(15, 6, 2, Arc::new(MemoryStore::new())).await;
    s.set_capabilities(
        Capabilities::all()
            .without(Capability::Protection)
            .without(Capability::Migration),
    );
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, facts, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(facts.vm_moves);
    let pd_rules = [
        FindingCode::NoProtectionGroup,
        FindingCode::GroupNotActiveOnSource,
        FindingCode::NoSchedule,
        FindingCode::NotReplicatingToDestination,
        FindingCode::NoReplica,
    ];
    assert!(
        v.findings.iter().all(|f| !pd_rules.contains(&f.code)),
        "{:?}",
        v.findings
    );
    assert_eq!(v.errors, 0, "{:?}", v.findings);
    s.script_fault(ScriptedFault::nth_call(
        Op::MigrateVm,
        2,
        None,
        FaultKind::LoseReply,
    ));
    let report = run_to_end(&svc, &v).await;
    assert_eq!(report.vms.len(), f.vm_names.len());
    for line in &report.vms {
        assert_eq!(line.outcome, VmOutcome::Migrated, "{line:?}");
        assert_eq!(line.protection_group, None);
        let vm = s.vm(&line.vm).unwrap();
        assert_eq!(vm.cluster, f.destination);
        assert_eq!(
            vm.project.as_deref(),
            Some("dr-project"),
            "remapped on arrival"
        );
    }
    assert_eq!(s.calls(Op::MigrateProtectionGroup), 0);
    assert!(
        report.vms.iter().any(|l| l.attempts.len() == 2),
        "the move whose reply was lost was asked again"
    );
    assert_eq!(s.calls(Op::MigrateVm), f.vm_names.len() as u64 + 1);
}

/// A platform that moves VMs one by one and nothing else.
fn vm_moves_only(s: &SimPlatform) {
    use butler::backend::{Capabilities, Capability};
    s.set_capabilities(
        Capabilities::all()
            .without(Capability::Protection)
            .without(Capability::Migration),
    );
}

/// On a platform that moves VMs one by one, its own dry run of every move
/// is read at refresh, in one batched call, and shown before anyone
/// approves: a VM on a subnet the destination lacks is a
/// `platform_refuses` error in the platform's words, and once it leaves
/// the group the rest validates clean. A changed destination is not
/// judged until the next refresh.
#[tokio::test]
async fn the_platforms_dry_run_of_each_move_is_a_finding_before_anyone_approves() {
    use butler::migration::FindingCode;
    let s = SimPlatform::demo_builder(16)
        .project("dr-project", &["c2-santiago"], &["vlan-10"])
        .subnet_on("c1-madrid", "vlan-madrid-only", 31)
        .cluster("c3-lima")
        .build();
    let f = fleet::generate(
        &s,
        &fleet::FleetSpec {
            vms: 4,
            groups: 1,
            ..Default::default()
        },
    );
    assert_eq!(f.source, "c1-madrid");
    vm_moves_only(&s);
    let svc = service(&s, Arc::new(MemoryStore::new()), config());
    let g = fleet_group(&svc, &f, "dry-run").await;
    let mut odd = s.vm(&f.vm_names[0]).unwrap();
    odd.name = "odd-subnet-vm".into();
    odd.uuid = s.new_uuid();
    odd.nics = vec!["vlan-madrid-only".into()];
    s.add_vm(odd);
    let g = svc
        .add_vm(&ops(), g.id, g.version, "odd-subnet-vm")
        .await
        .unwrap();
    s.reset_calls();
    svc.refresh(&ops(), g.id).await.unwrap();
    assert_eq!(s.calls(Op::CheckVmMigration), 1, "one batched dry run");
    let (g, facts, v) = svc.validate(&ops(), g.id).await.unwrap();
    let odd_at = g
        .vms
        .iter()
        .position(|v| v.name == "odd-subnet-vm")
        .unwrap();
    let refused: Vec<_> = v
        .findings
        .iter()
        .filter(|x| x.code == FindingCode::PlatformRefuses)
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", v.findings);
    assert_eq!(refused[0].vm as usize, odd_at);
    let said = refused[0].message(&g, &facts);
    assert!(
        said.contains("vlan-madrid-only") && said.contains(&f.destination),
        "{said}"
    );
    assert_eq!(facts.row(odd_at).unwrap().move_refusals.len(), 1);
    assert!(!v.can_migrate());
    assert!(
        svc.migrate(&ops(), v.token().unwrap()).await.is_err(),
        "an error stops the run"
    );
    // Without it, the rest is clean.
    let g = svc
        .remove_vm(&ops(), g.id, g.version, "odd-subnet-vm")
        .await
        .unwrap();
    svc.refresh(&ops(), g.id).await.unwrap();
    let (g, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert_eq!(v.errors, 0, "{:?}", v.findings);
    // Another destination is the platform's to judge again.
    let g = svc
        .set_destination(&ops(), g.id, g.version, "c3-lima")
        .await
        .unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(
        v.findings
            .iter()
            .any(|x| x.code == FindingCode::MovesNotChecked),
        "{:?}",
        v.findings
    );
}

/// A group that asks for live moves, on a platform that makes them, moves
/// its running VMs as they run: no power finding, no confirmation, no
/// power cycle, each VM on the destination still running. On a platform
/// without live moves the same group is a `live_moves_unavailable` error.
#[tokio::test]
async fn a_group_that_asks_for_live_moves_moves_running_vms_as_they_run() {
    use butler::backend::{Capabilities, Capability};
    use butler::migration::{FindingCode, VmOutcome};
    let (s, f, svc, g) = clean_setup(17, 4, 1, Arc::new(MemoryStore::new())).await;
    vm_moves_only(&s);
    let running = &f.vm_names[..2];
    for vm in running {
        assert!(s.set_vm_power(vm, PowerState::On));
    }
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, cold) = svc.validate(&ops(), g.id).await.unwrap();
    let powered_on = cold
        .findings
        .iter()
        .filter(|x| x.code == FindingCode::PoweredOn)
        .count();
    assert_eq!(
        powered_on, 2,
        "moved cold, they must be off: {:?}",
        cold.findings
    );
    let g = svc.set_live(&ops(), g.id, g.version, true).await.unwrap();
    let (_, _, stale) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(
        stale
            .findings
            .iter()
            .any(|x| x.code == FindingCode::MovesNotChecked),
        "the dry run read before was of cold moves: {:?}",
        stale.findings
    );
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert_eq!((v.errors, v.warnings), (0, 0), "{:?}", v.findings);
    s.reset_calls();
    let report = run_to_end(&svc, &v).await;
    assert!(report.power_cycle.is_empty());
    for line in &report.vms {
        assert_eq!(line.outcome, VmOutcome::Migrated, "{line:?}");
        let vm = s.vm(&line.vm).unwrap();
        assert_eq!(vm.cluster, f.destination);
        let was_on = running.contains(&line.vm);
        assert_eq!(vm.power == PowerState::On, was_on, "{}", line.vm);
    }
    assert_eq!(s.calls(Op::SetPower), 0, "nothing powered off or on");

    // Without live moves on the platform, the group cannot have them.
    let (s, _, svc, g) = clean_setup(18, 4, 1, Arc::new(MemoryStore::new())).await;
    s.set_capabilities(
        Capabilities::all()
            .without(Capability::Protection)
            .without(Capability::Migration)
            .without(Capability::LiveMigration),
    );
    let g = svc.set_live(&ops(), g.id, g.version, true).await.unwrap();
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(
        v.findings
            .iter()
            .any(|x| x.code == FindingCode::LiveMovesUnavailable),
        "{:?}",
        v.findings
    );
    assert!(!v.can_migrate());
}

/// On a platform that moves protection groups with their running VMs (a
/// recovery plan's planned failover with live migration), a group that
/// asks for live moves moves its running VMs as they run: no power
/// finding, no power cycle, each VM on the destination in the power state
/// it had. Without live moves the same group is `live_moves_unavailable`.
#[tokio::test]
async fn a_group_asked_live_moves_its_protection_domains_with_their_vms_running() {
    use butler::backend::{Capabilities, Capability};
    use butler::migration::{FindingCode, VmOutcome};
    let (s, f, svc, g) = clean_setup(19, 4, 1, Arc::new(MemoryStore::new())).await;
    let running = &f.vm_names[..2];
    for vm in running {
        assert!(s.set_vm_power(vm, PowerState::On));
    }
    let g = svc.set_live(&ops(), g.id, g.version, true).await.unwrap();
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert_eq!((v.errors, v.warnings), (0, 0), "{:?}", v.findings);
    s.reset_calls();
    let report = run_to_end(&svc, &v).await;
    assert!(report.power_cycle.is_empty());
    assert!(!report.vms.is_empty());
    for line in &report.vms {
        assert_eq!(line.outcome, VmOutcome::Migrated, "{line:?}");
        let vm = s.vm(&line.vm).unwrap();
        assert_eq!(vm.cluster, f.destination);
        let was_on = running.contains(&line.vm);
        assert_eq!(vm.power == PowerState::On, was_on, "{}", line.vm);
    }
    assert_eq!(s.calls(Op::SetPower), 0, "nothing powered off or on");
    assert_eq!(s.calls(Op::MigrateVm), 0, "moved as protection domains");

    let (s, _, svc, g) = clean_setup(20, 4, 1, Arc::new(MemoryStore::new())).await;
    s.set_capabilities(Capabilities::all().without(Capability::LiveMigration));
    let g = svc.set_live(&ops(), g.id, g.version, true).await.unwrap();
    svc.refresh(&ops(), g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops(), g.id).await.unwrap();
    assert!(
        v.findings
            .iter()
            .any(|x| x.code == FindingCode::LiveMovesUnavailable),
        "{:?}",
        v.findings
    );
}

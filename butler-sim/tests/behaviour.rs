//! The simulator behaves like a platform: tasks over time, faults at the
//! configured rates, lost replies, scripted faults, migrations, counters.

use butler_core::backend::{
    Billing, Clock, ClusterBackend, ErrorKind, Monitor, PowerState, ProtectRequest, Schedule,
    TaskState, VmState,
};
use butler_sim::{fleet, FaultConfig, FaultKind, Op, ScriptedFault, SimPlatform, Timings};
use std::time::Duration;

/// Bounds for a binomial count: mean ± 5 standard deviations (a seeded run
/// is deterministic; the bound documents what "the configured rate" means).
fn within(count: usize, n: usize, p: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 5.0 * sd + 1.0
}

#[tokio::test]
async fn each_fault_kind_happens_at_its_configured_rate() {
    let n = 4000;
    for (cfg, kind, p) in [
        (FaultConfig::transient(0.3), ErrorKind::Transient, 0.3),
        (FaultConfig::permanent(0.1), ErrorKind::Permanent, 0.1),
        (
            FaultConfig {
                timeout: 0.2,
                ..Default::default()
            },
            ErrorKind::Timeout,
            0.2,
        ),
    ] {
        let sim = SimPlatform::demo(3);
        sim.set_faults(Op::ListClusters, cfg);
        let mut hits = 0;
        for _ in 0..n {
            match sim.list_clusters().await {
                Err(e) if e.kind == kind => hits += 1,
                Err(e) => panic!("unexpected {e}"),
                Ok(_) => {}
            }
        }
        assert!(within(hits, n, p), "{kind:?}: {hits}/{n} for p={p}");
        assert_eq!(sim.calls(Op::ListClusters), n as u64);
    }
}

#[tokio::test]
async fn lost_replies_do_the_work_so_blind_retries_duplicate() {
    let sim = SimPlatform::demo(5);
    sim.set_faults(Op::MonitorRegister, FaultConfig::lose_reply(0.25));
    let n = 2000;
    let mut lost = 0;
    for i in 0..n {
        let reg = butler_core::testing::registration(&format!("vm{i}"));
        if let Err(e) = sim.register(&reg).await {
            assert_eq!(e.kind, ErrorKind::Timeout);
            lost += 1;
            // The work was done although the caller saw a timeout.
            assert_eq!(sim.monitor_registrations(&reg.vm_name), 1);
            sim.register(&reg).await.ok();
            assert!(
                sim.monitor_registrations(&reg.vm_name) >= 2,
                "a blind retry duplicates"
            );
        }
    }
    assert!(within(lost, n, 0.25), "{lost}/{n}");
    // Reads never lose replies: the rate applies to mutations only.
    sim.set_faults(Op::MonitorFind, FaultConfig::lose_reply(1.0));
    assert!(Monitor::find(&sim, "vm0").await.is_ok());
}

#[tokio::test]
async fn lost_create_reply_leaves_a_pending_vm_visible_by_name() {
    let sim = SimPlatform::demo(1);
    sim.script_fault(ScriptedFault::nth_call(
        Op::CreateVm,
        1,
        Some("db01"),
        FaultKind::LoseReply,
    ));
    let err = sim.create_vm(&sim.sample_vm("db01")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout);
    let vm = sim.find_vm("db01").await.unwrap().expect("visible at once");
    assert_eq!(vm.state, VmState::Pending);
    sim.clock().advance(Duration::from_secs(120));
    assert_eq!(
        sim.find_vm("db01").await.unwrap().unwrap().state,
        VmState::Ready
    );
    assert_eq!(sim.vms_named("db01"), 1);
}

#[tokio::test]
async fn scripted_faults_fire_once_on_the_nth_matching_call() {
    let sim = SimPlatform::demo(2);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: 20,
            groups: 2,
            ..Default::default()
        },
    );
    let (a, b) = (&f.groups[0], &f.groups[1]);
    sim.script_fault(ScriptedFault::nth_call(
        Op::MigrateProtectionGroup,
        3,
        Some(&a.name),
        FaultKind::Permanent,
    ));
    // Calls about another group do not count.
    for _ in 0..3 {
        let _ = sim
            .migrate_protection_group(&b.cluster, &b.name, &f.destination)
            .await;
    }
    let r1 = sim
        .migrate_protection_group(&a.cluster, &a.name, &f.destination)
        .await;
    assert!(r1.is_ok(), "{r1:?}");
    let r2 = sim
        .migrate_protection_group(&a.cluster, &a.name, &f.destination)
        .await
        .unwrap_err();
    assert_eq!(r2.kind, ErrorKind::Conflict, "already migrating");
    let r3 = sim
        .migrate_protection_group(&a.cluster, &a.name, &f.destination)
        .await
        .unwrap_err();
    assert_eq!(r3.kind, ErrorKind::Permanent, "the scripted third call");
    let r4 = sim
        .migrate_protection_group(&a.cluster, &a.name, &f.destination)
        .await
        .unwrap_err();
    assert_eq!(
        r4.kind,
        ErrorKind::Conflict,
        "one-shot: back to normal behaviour"
    );
}

#[tokio::test]
async fn tasks_move_through_queued_running_succeeded_with_progress() {
    let timings = Timings {
        queue: Duration::from_secs(10),
        create_vm: Duration::from_secs(100),
        ..Timings::default()
    };
    let sim = SimPlatform::demo_builder(9).timings(timings).build();
    let t = sim.create_vm(&sim.sample_vm("app")).await.unwrap();
    let st = sim.task(&t).await.unwrap();
    assert_eq!((st.state, st.percent), (TaskState::Queued, 0));
    sim.clock().advance(Duration::from_secs(60));
    let st = sim.task(&t).await.unwrap();
    assert_eq!((st.state, st.percent), (TaskState::Running, 50));
    sim.clock().advance(Duration::from_secs(50));
    let st = sim.task(&t).await.unwrap();
    assert_eq!((st.state, st.percent), (TaskState::Succeeded, 100));
    assert_eq!(st.entity_uuid, sim.vm("app").map(|v| v.uuid));
}

#[tokio::test]
async fn task_failures_follow_their_rate_and_leave_error_vms() {
    let timings = Timings {
        task_failure_rate: 0.2,
        ..Timings::default()
    };
    let sim = SimPlatform::demo_builder(4).timings(timings).build();
    let n = 1000;
    let mut tasks = Vec::new();
    for i in 0..n {
        tasks.push(
            sim.create_vm(&sim.sample_vm(&format!("v{i}")))
                .await
                .unwrap(),
        );
    }
    sim.clock().advance(Duration::from_secs(3600));
    let mut failed = 0;
    for (i, t) in tasks.iter().enumerate() {
        if let TaskState::Failed(_) = sim.task(t).await.unwrap().state {
            failed += 1;
            assert_eq!(sim.vm(&format!("v{i}")).unwrap().state, VmState::Error);
        }
    }
    assert!(within(failed, n, 0.2), "{failed}/{n}");
}

#[tokio::test]
async fn latency_costs_simulated_time_only() {
    let sim = SimPlatform::demo(1);
    sim.set_default_faults(FaultConfig {
        latency: Duration::from_millis(20),
        ..Default::default()
    });
    let t0 = sim.now();
    let wall = std::time::Instant::now();
    for _ in 0..100 {
        sim.list_clusters().await.unwrap();
    }
    assert_eq!(sim.now() - t0, chrono::Duration::seconds(2));
    assert!(wall.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn migration_moves_every_vm_of_the_group_and_takes_longer_with_more_data() {
    let sim = SimPlatform::demo(8);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: 30,
            groups: 3,
            ..Default::default()
        },
    );
    let g = &f.groups[0];
    let members = sim.protection_group(&g.cluster, &g.name).unwrap().vms;
    assert_eq!(members.len(), 10);
    sim.set_vm_power(&members[0], PowerState::On);
    sim.migrate_protection_group(&g.cluster, &g.name, &f.destination)
        .await
        .unwrap();
    sim.clock().advance(Duration::from_secs(30));
    assert!(
        sim.protection_group(&g.cluster, &g.name).unwrap().active,
        "still migrating"
    );
    sim.clock().advance(Duration::from_secs(3600));
    sim.list_clusters().await.unwrap(); // any call settles due effects
    for m in &members {
        let vm = sim.vm(m).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.power),
            (f.destination.as_str(), PowerState::Off)
        );
    }
    let src = sim.protection_group(&g.cluster, &g.name).unwrap();
    let dst = sim.protection_group(&f.destination, &g.name).unwrap();
    assert!(!src.active && src.vms.is_empty());
    assert!(dst.active && dst.vms == members && dst.schedules.is_empty());
    // Not the other groups.
    let other = sim.protection_group(&g.cluster, &f.groups[1].name).unwrap();
    assert!(other.active);

    // Twice the data takes longer.
    let small = SimPlatform::demo(8);
    let big = SimPlatform::demo(8);
    let fs = fleet::generate(
        &small,
        &fleet::FleetSpec {
            vms: 10,
            groups: 1,
            ..Default::default()
        },
    );
    let fb = fleet::generate(
        &big,
        &fleet::FleetSpec {
            vms: 40,
            groups: 1,
            ..Default::default()
        },
    );
    let mut done = Vec::new();
    for (sim, f) in [(&small, &fs), (&big, &fb)] {
        sim.migrate_protection_group(&f.groups[0].cluster, &f.groups[0].name, &f.destination)
            .await
            .unwrap();
        let start = sim.now();
        while sim
            .protection_group(&f.destination, &f.groups[0].name)
            .is_none()
        {
            sim.clock().sleep(Duration::from_secs(1)).await;
            sim.list_clusters().await.unwrap();
        }
        done.push(sim.now() - start);
    }
    assert!(done[1] > done[0], "{done:?}");
}

#[tokio::test]
async fn protection_groups_report_fresh_and_stale_replicas() {
    let sim = SimPlatform::demo(3);
    sim.create_vm(&sim.sample_vm("app")).await.unwrap();
    sim.clock().advance(Duration::from_secs(60));
    let remote = Schedule::remote("c2-santiago", 30, 4);
    sim.protect_vm(
        "c1-madrid",
        &ProtectRequest {
            group: "PD-app".into(),
            vm_name: "app".into(),
            schedules: vec![remote],
        },
    )
    .await
    .unwrap();
    assert_eq!(
        sim.protection_group("c1-madrid", "PD-app")
            .unwrap()
            .last_replica,
        Some(sim.now())
    );
    sim.clock().advance(Duration::from_secs(95 * 60));
    let last = sim
        .protection_group("c1-madrid", "PD-app")
        .unwrap()
        .last_replica
        .unwrap();
    assert_eq!(sim.now() - last, chrono::Duration::minutes(5));
    let replicas = sim.replicas("c1-madrid", "PD-app", Duration::from_secs(3600));
    assert_eq!(
        replicas.len(),
        2,
        "every 30 minutes within the last hour: {replicas:?}"
    );
    assert_eq!(
        replicas[0],
        (last, 40),
        "newest first, sized by the group's disks"
    );
    assert!(replicas[0].0 - replicas[1].0 == chrono::Duration::minutes(30));
    sim.stall_replication("c1-madrid", "PD-app", true);
    sim.clock().advance(Duration::from_secs(3 * 3600));
    let last = sim
        .protection_group("c1-madrid", "PD-app")
        .unwrap()
        .last_replica
        .unwrap();
    assert!(sim.now() - last > chrono::Duration::hours(3));
    let bad = Schedule::remote("mars", 30, 4);
    let e = sim
        .protect_vm(
            "c1-madrid",
            &ProtectRequest {
                group: "PD-app".into(),
                vm_name: "app".into(),
                schedules: vec![bad],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
}

#[tokio::test]
async fn same_seed_same_run() {
    async fn run(seed: u64) -> (Vec<String>, Vec<bool>) {
        let sim = SimPlatform::demo(seed);
        sim.set_default_faults(FaultConfig::transient(0.5));
        let mut ids = Vec::new();
        let mut oks = Vec::new();
        for i in 0..50 {
            let r = sim.create_vm(&sim.sample_vm(&format!("v{i}"))).await;
            oks.push(r.is_ok());
            if let Ok(t) = r {
                ids.push(t.0);
            }
        }
        (ids, oks)
    }
    assert_eq!(run(42).await, run(42).await);
    assert_ne!(run(42).await, run(43).await);
}

#[tokio::test]
async fn billing_and_monitoring_record_everything_and_count_duplicates() {
    let sim = SimPlatform::demo(1);
    let act = butler_core::testing::activation("a");
    assert!(!Billing::is_active(&sim, "a").await.unwrap());
    sim.activate(&act).await.unwrap();
    sim.activate(&act).await.unwrap();
    assert_eq!(sim.billing_activations("a"), 2);
    assert!(Billing::is_active(&sim, "a").await.unwrap());
    assert_eq!(sim.billing_log(), vec![act.clone(), act]);
    assert_eq!(
        (sim.calls(Op::BillingActivate), sim.calls(Op::BillingFind)),
        (2, 2)
    );
}

#[test]
fn fleet_generator_honours_sizes_and_problem_mix() {
    let sim = SimPlatform::demo(1);
    let n = 20_000;
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: n,
            groups: 200,
            mix: fleet::ProblemMix::REALISTIC,
            ..Default::default()
        },
    );
    assert_eq!(
        (f.vm_names.len(), f.groups.len(), sim.vm_count()),
        (n, 200, n)
    );
    let on = f
        .vm_names
        .iter()
        .filter(|v| sim.vm(v).unwrap().power == PowerState::On)
        .count();
    assert!(within(on, n, 0.30), "{on}");
    let wrong = f
        .vm_names
        .iter()
        .filter(|v| sim.vm(v).unwrap().cluster != f.source)
        .count();
    assert!(within(wrong, n, 0.03), "{wrong}");
    let grouped: usize = f
        .groups
        .iter()
        .map(|g| sim.protection_group(&g.cluster, &g.name).unwrap().vms.len())
        .sum();
    assert!(within(n - grouped, n, 0.05), "{}", n - grouped);
}

/// Listings follow VMs that migrate away and back: every VM listed once,
/// on the cluster it is on, pages included.
#[tokio::test]
async fn cluster_listings_follow_vms_that_move_away_and_back() {
    let sim = SimPlatform::demo(12);
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms: 40,
            groups: 4,
            ..Default::default()
        },
    );
    let count = |c: &str| {
        let sim = sim.clone();
        let c = c.to_string();
        async move {
            let all = sim.list_vms(&c).await.unwrap();
            let (page, total) = sim.list_vms_page(&c, 5, 1000).await.unwrap();
            assert_eq!(total, all.len());
            assert_eq!(page.len(), all.len().saturating_sub(5));
            let mut names: Vec<_> = all.iter().map(|v| v.name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), all.len(), "each VM listed once");
            all.len()
        }
    };
    let (src, dst) = (f.source.clone(), f.destination.clone());
    let start_src = count(&src).await;
    let start_dst = count(&dst).await;
    let settle = || sim.clock().advance(Duration::from_secs(24 * 3600));
    // Three of four groups away, then one of them back.
    for g in &f.groups[..3] {
        sim.migrate_protection_group(&src, &g.name, &dst)
            .await
            .unwrap();
    }
    settle();
    assert_eq!(count(&src).await, start_src - 30);
    assert_eq!(count(&dst).await, start_dst + 30);
    sim.migrate_protection_group(&dst, &f.groups[0].name, &src)
        .await
        .unwrap();
    settle();
    assert_eq!(count(&src).await, start_src - 20);
    assert_eq!(count(&dst).await, start_dst + 20);
}

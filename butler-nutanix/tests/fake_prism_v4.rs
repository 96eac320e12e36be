//! The adapter on Prism Central v4 (creates with `NTNX-Request-Id`, power
//! and deletes under `If-Match`, v4 tasks), chosen by its probe, against
//! the fake Prism; the shapes are checked by Nutanix's own SDKs in
//! `butler-py/tests/test_nutanix_v4_sdk.py`.

use butler_core::backend::{ClusterBackend, ErrorKind, PowerChange, PowerState, TaskState};
use butler_core::testing::backend::{run_all, Fixture};
use butler_nutanix::fake::{FakePrism, Quirks};
use butler_nutanix::{CentralApi, NutanixBackend};
use butler_sim::{FaultConfig, FaultKind, Op, ScriptedFault, SimPlatform};
use std::time::Duration;

/// One VM of the fleet generator's on the platform, as the platform has it.
fn one_vm(sim: &SimPlatform) -> butler_core::backend::VmInfo {
    let made = butler_sim::fleet::generate(
        sim,
        &butler_sim::fleet::FleetSpec {
            vms: 1,
            groups: 1,
            ..Default::default()
        },
    );
    sim.vm(&made.vm_names[0]).unwrap()
}

async fn setup(seed: u64) -> (SimPlatform, FakePrism, NutanixBackend) {
    let sim = SimPlatform::demo(seed);
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    let backend = NutanixBackend::new(&fake.config().await).unwrap();
    (sim, fake, backend)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v4_the_adapter_passes_the_conformance_suite_with_idempotent_creates() {
    for (prefix, quirks) in [("v4", Quirks::default()), ("v4real", Quirks::realistic())] {
        let (sim, fake, backend) = setup(61).await;
        fake.set_quirks(quirks);
        assert!(backend.uses_v4().await.unwrap(), "the probe finds v4");
        let fx = Fixture::demo_platform(sim.clock(), prefix);
        let skipped = run_all(&backend, &fx).await;
        assert_eq!(
            skipped,
            vec![
                butler_core::backend::Capability::VmMigration,
                butler_core::backend::Capability::LiveMigration
            ],
            "{prefix}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_prism_central_without_v4_stays_on_v3() {
    let (sim, fake, backend) = setup(62).await;
    fake.set_quirks(Quirks {
        no_v4: true,
        ..Quirks::default()
    });
    assert!(!backend.uses_v4().await.unwrap());
    let caps = backend.capabilities();
    assert!(!caps.has(butler_core::backend::Capability::IdempotentCreate));
    let task = backend.create_vm(&sim.sample_vm("old-pc")).await.unwrap();
    assert!(!task.0.contains(':'), "a v3 task: {task:?}");
    assert!(fake.last_vm_create().is_some() && fake.last_v4_create().is_none());
    // Configured for v4 against such a Prism: the error says so.
    let mut config = fake.config().await;
    config.central_api = CentralApi::V4;
    let forced = NutanixBackend::new(&config).unwrap();
    let err = forced
        .create_vm(
            &sim.sample_vm("old-pc-2")
                .request_id("6a0c2a8e-7d41-4b6a-9e3f-2c8d1a7b6e41"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

/// A create whose reply is lost is sent again by the client with the same
/// `NTNX-Request-Id`: Prism answers the first create's task, one VM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_v4_create_reply_is_retried_with_its_request_id_and_makes_one_vm() {
    let (sim, _fake, backend) = setup(63).await;
    sim.script_fault(ScriptedFault::nth_call(
        Op::CreateVm,
        1,
        None,
        FaultKind::LoseReply,
    ));
    let vm = sim
        .sample_vm("lost-v4")
        .request_id("7b1d3b9f-8e52-4c7b-8f4a-3d9e2b8c7f51");
    let task = backend.create_vm(&vm).await.unwrap();
    assert_eq!(sim.calls(Op::CreateVm), 2, "the client sent it again");
    assert_eq!(sim.vms_named("lost-v4"), 1, "and Prism knew the request");
    // The engine's own retry (same key) gets the same task.
    assert_eq!(backend.create_vm(&vm).await.unwrap(), task);
    sim.clock().advance(Duration::from_secs(600));
    let st = backend.task(&task).await.unwrap();
    assert_eq!(st.state, TaskState::Succeeded);
    let made = sim.vm("lost-v4").unwrap();
    assert_eq!(
        st.entity_uuid.as_deref(),
        Some(made.uuid.as_str()),
        "the VM by its rel"
    );
    // Without a key a create is never repeated blindly.
    sim.set_faults(Op::CreateVm, FaultConfig::lose_reply(1.0));
    let calls = sim.calls(Op::CreateVm);
    let err = backend
        .create_vm(&sim.sample_vm("lost-v4-nokey"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(sim.calls(Op::CreateVm) - calls, 1);
}

/// Power and deletes carry the VM's `ETag`; a stale one (the VM changed
/// between the read and the write) is read again and sent again; a VM in
/// the state asked gets no action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_and_deletes_go_under_the_vms_etag_and_a_stale_one_is_read_again() {
    let (sim, fake, backend) = setup(64).await;
    fake.set_quirks(Quirks::realistic());
    let task = backend
        .create_vm(
            &sim.sample_vm("etag-1")
                .request_id("8c2e4c0a-9f63-4d8c-9a5b-4e0f3c9d8a62"),
        )
        .await
        .unwrap();
    sim.clock().advance(Duration::from_secs(600));
    for _ in 0..5 {
        if backend.task(&task).await.unwrap().state.is_terminal() {
            break;
        }
    }
    let uuid = sim.vm("etag-1").unwrap().uuid;
    backend.set_power(&uuid, PowerChange::On).await.unwrap();
    assert_eq!(sim.vm("etag-1").unwrap().power, PowerState::On);
    // On already: one read, no action.
    let before = fake.requests();
    backend.set_power(&uuid, PowerChange::On).await.unwrap();
    assert_eq!(fake.requests() - before, 1);
    // The VM changes between the adapter's read and its action: 412, then
    // a fresh read and the action under the new tag.
    fake.change_vm_after_next_read(&uuid);
    backend
        .set_power(&uuid, PowerChange::GuestShutdown)
        .await
        .unwrap();
    assert_eq!(sim.vm("etag-1").unwrap().power, PowerState::Off);
    assert_eq!(fake.stale_etags(), 1, "one 412, then success");
    let task = backend.delete_vm(&uuid).await.unwrap();
    sim.clock().advance(Duration::from_secs(600));
    let mut st = backend.task(&task).await.unwrap();
    for _ in 0..5 {
        if st.state.is_terminal() {
            break;
        }
        st = backend.task(&task).await.unwrap();
    }
    assert_eq!(st.state, TaskState::Succeeded);
    assert_eq!(sim.vms_named("etag-1"), 0);
}

/// The raw v4 body as it crossed the wire: bytes, not MiB; the cluster,
/// project, subnet, image and category by their ids; the boot type's
/// `$objectType`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v4_create_body_is_the_documented_shape() {
    let (sim, fake, backend) = setup(65).await;
    let vm = sim
        .sample_vm("shape-1")
        .disks_gib(vec![41, 10])
        .image(Some("rhel9".into()))
        .request_id("9d3f5d1b-0a74-4e9d-8b6c-5f1a4d0e9b73");
    backend.create_vm(&vm).await.unwrap();
    let body = fake.last_v4_create().expect("a v4 create");
    assert_eq!(body["memorySizeBytes"], 4u64 << 30);
    assert_eq!(
        (
            body["numSockets"].as_u64(),
            body["numCoresPerSocket"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        body["disks"][0]["backingInfo"]["diskSizeBytes"],
        41u64 << 30
    );
    assert_eq!(
        body["disks"][0]["backingInfo"]["dataSource"]["reference"]["$objectType"],
        "vmm.v4.ahv.config.ImageReference"
    );
    assert_eq!(
        body["bootConfig"]["$objectType"],
        "vmm.v4.ahv.config.UefiBoot"
    );
    let clusters = sim.list_clusters().await.unwrap();
    let c1 = clusters.iter().find(|c| c.name == "c1-madrid").unwrap();
    assert_eq!(body["cluster"]["extId"], c1.uuid.as_str());
    assert!(body["project"]["extId"]
        .as_str()
        .is_some_and(|p| !p.is_empty()));
    assert!(body["categories"][0]["extId"]
        .as_str()
        .is_some_and(|c| c.len() == 36));
    let made = sim.vm("shape-1").unwrap();
    assert_eq!(made.project.as_deref(), Some("prod-project"));
    assert_eq!(made.categories, vec!["Environment:Production".to_string()]);
    // A category Prism does not have is named, and nothing is created.
    let err = backend
        .create_vm(
            &sim.sample_vm("shape-2")
                .category("Environment:Nowhere 'x'")
                .request_id("0e4a6e2c-1b85-4fae-9c7d-6a2b5e1f0c84"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    assert!(err.message.contains("Environment:Nowhere 'x'"), "{err}");
    assert_eq!(sim.vms_named("shape-2"), 0);
}

/// A v4 VM list pages by `$page` with `$limit` ≤ 100 (a configured page of
/// 500 is cut to 100: the fake refuses more) and reads the total on every
/// page: VMs created while it pages are read too, as a busy Prism grows.
/// Each VM reads as the platform describes it, its cluster, subnets,
/// project and categories named from their v4 ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v4_vm_list_reads_the_total_on_every_page_and_names_what_ids_refer_to() {
    let sim = SimPlatform::demo(66);
    butler_sim::fleet::generate(
        &sim,
        &butler_sim::fleet::FleetSpec {
            vms: 150,
            groups: 3,
            ..Default::default()
        },
    );
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    fake.set_quirks(Quirks::realistic());
    let mut config = fake.config().await;
    config.page_size = 500;
    let backend = NutanixBackend::new(&config).unwrap();
    assert!(backend.uses_v4().await.unwrap());

    let before = sim.list_vms("c1-madrid").await.unwrap().len();
    // Two pages of 100 at first, three once the late VMs are in.
    assert!((141..=200).contains(&before), "{before}");
    let late: Vec<_> = (0..60)
        .map(|i| sim.sample_vm(&format!("zz-late-{i:02}")))
        .collect();
    fake.create_during_next_v4_list(late);
    let listed = backend.list_vms("c1-madrid").await.unwrap();
    assert_eq!(listed.len(), before + 60, "the VMs made while paging too");
    let mut names: Vec<&str> = listed.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), listed.len(), "each VM once");

    // One VM, as the platform has it: every id turned back into a name.
    sim.clock().advance(Duration::from_secs(600));
    let name = "zz-late-07";
    let got = backend.find_vm(name).await.unwrap().expect("found by name");
    let want = sim
        .list_vms("c1-madrid")
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap();
    assert_eq!(got, want);
    assert!(!got.nics.is_empty() && !got.categories.is_empty() && got.project.is_some());
    assert!(backend.find_vm("no-such-vm 'x'").await.unwrap().is_none());
    let briefs = backend.list_vm_briefs("c1-madrid").await.unwrap();
    let brief = briefs.iter().find(|b| &*b.name == name).expect("a brief");
    assert_eq!(
        (brief.project.as_deref(), brief.power),
        (want.project.as_deref(), want.power)
    );
    assert_eq!(briefs.len(), listed.len());
    assert!(backend
        .list_vms("no-such-cluster")
        .await
        .unwrap()
        .is_empty());
}

/// Clusters, storage containers, subnets and category values come from
/// v4 on a Prism Central that serves it: no Prism Element is asked (the
/// adapter here knows none), Prism Central is not a cluster, a VLAN subnet
/// belongs to its cluster and a VPC's overlay subnet to every cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_reads_from_v4_without_any_prism_element() {
    let (sim, fake, _) = setup(67).await;
    fake.set_quirks(Quirks::realistic());
    let mut config = fake.config().await;
    config.clusters.clear();
    let backend = NutanixBackend::new(&config).unwrap();

    let mut clusters = backend.list_clusters().await.unwrap();
    let mut want = sim.list_clusters().await.unwrap();
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(clusters, want, "Prism Central itself left out");

    let mut containers = backend.list_storage_containers().await.unwrap();
    let mut want = sim.list_storage_containers().await.unwrap();
    containers.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
    want.sort_by(|a, b| (&a.cluster, &a.name).cmp(&(&b.cluster, &b.name)));
    assert!(!want.is_empty());
    assert_eq!(containers, want);

    let subnets = backend.list_subnets().await.unwrap();
    let names = sim.list_subnets().await.unwrap();
    assert_eq!(subnets.len(), names.len() * want_clusters(&sim).await);
    assert!(subnets.iter().all(|s| s.cluster.is_some()));
    let one = &names[0].name;
    let vlans: std::collections::BTreeSet<u32> = subnets
        .iter()
        .filter(|s| &s.name == one)
        .map(|s| s.vlan_id)
        .collect();
    assert_eq!(
        vlans.len(),
        want_clusters(&sim).await,
        "one VLAN per cluster"
    );

    fake.set_quirks(Quirks {
        overlay_subnet: true,
        ..Quirks::default()
    });
    let subnets = backend.list_subnets().await.unwrap();
    let overlay = subnets
        .iter()
        .find(|s| s.name == "vpc-apps")
        .expect("the overlay subnet");
    assert_eq!((overlay.cluster.as_deref(), overlay.vlan_id), (None, 0));

    let mut values = backend.category_values("Environment").await.unwrap();
    let mut want: Vec<String> = sim
        .category_pairs()
        .into_iter()
        .filter(|(k, _)| k == "Environment")
        .map(|(_, v)| v)
        .collect();
    values.sort();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(values, want);
    assert!(backend
        .category_values("NoSuchKey")
        .await
        .unwrap()
        .is_empty());
}

async fn want_clusters(sim: &SimPlatform) -> usize {
    sim.list_clusters().await.unwrap().len()
}

/// A v4 total past `max_list_entities` is refused before any page storm;
/// a total that claims more than there is ends at the first empty page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_totals_are_bounded_and_an_empty_page_ends_a_list() {
    let (sim, fake, _) = setup(68).await;
    let mut config = fake.config().await;
    config.max_list_entities = 1000;
    let backend = NutanixBackend::new(&config).unwrap();
    assert!(backend.uses_v4().await.unwrap());
    let on_c1 = sim.list_vms("c1-madrid").await.unwrap().len();

    fake.set_quirks(Quirks {
        claim_total: Some(1 << 40),
        ..Quirks::default()
    });
    let before = fake.requests();
    let err = backend.list_vms("c1-madrid").await.unwrap_err();
    assert!(err.message.contains("max_list_entities"), "{err}");
    assert!(fake.requests() - before <= 3, "no page storm");

    fake.set_quirks(Quirks {
        claim_total: Some(900),
        ..Quirks::default()
    });
    assert_eq!(backend.list_vms("c1-madrid").await.unwrap().len(), on_c1);
}

/// Billing's cost-center category on v4: associated through `$actions`
/// under the VM's `ETag` (a change made meanwhile is read again), another
/// value of the key replaced, nothing sent when the VM already carries it,
/// and taken off at the stop; the VM's other categories stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_categories_go_through_v4_actions_under_the_etag() {
    use butler_core::backend::Billing;
    let (sim, fake, backend) = setup(69).await;
    assert!(backend.uses_v4().await.unwrap());
    let before = one_vm(&sim);
    let billing = butler_nutanix::CategoryBilling::new(std::sync::Arc::new(backend), "CostCenter");
    let mut act = butler_core::testing::activation(&before.name);
    act.vm_uuid = before.uuid.clone();
    let cost_centers = |name: &str| -> Vec<String> {
        sim.vm(name)
            .unwrap()
            .categories
            .into_iter()
            .filter(|c| c.starts_with("CostCenter:"))
            .collect()
    };

    billing.activate(&act).await.unwrap();
    assert_eq!(
        cost_centers(&before.name),
        vec![format!("CostCenter:{}", act.cost_center)]
    );
    assert!(billing.is_active(&before.name).await.unwrap());
    let after = sim.vm(&before.name).unwrap();
    for c in &before.categories {
        assert!(after.categories.contains(c), "{c} lost");
    }

    // Already carried: nothing is sent.
    let (refused, writes) = (fake.stale_etags(), fake.v4_writes());
    billing.activate(&act).await.unwrap();
    assert_eq!(fake.v4_writes(), writes, "no write was sent");

    // Another cost center replaces the first: one value of the key, with
    // a change made meanwhile read again.
    act.cost_center = "CC-2002".into();
    fake.change_vm_after_next_read(&before.uuid);
    billing.activate(&act).await.unwrap();
    assert_eq!(
        cost_centers(&before.name),
        vec!["CostCenter:CC-2002".to_string()]
    );
    assert_eq!(
        fake.stale_etags(),
        refused + 1,
        "the stale ETag was refused, then read again"
    );

    let stop = butler_core::backend::BillingStop {
        vm_name: before.name.clone(),
        vm_uuid: before.uuid.clone(),
        cost_center: act.cost_center.clone(),
        request: act.request,
        end_date: act.effective_date,
        restores: 0,
    };
    billing.stop(&stop).await.unwrap();
    assert!(cost_centers(&before.name).is_empty());
    assert!(!billing.is_active(&before.name).await.unwrap());
    assert_eq!(sim.vm(&before.name).unwrap().categories, before.categories);
}

/// A v4 reconfigure is one write per difference under the VM's `ETag`:
/// CPU and memory, the disk grown, the disk added, the NIC added. The
/// disk add's reply is lost: the client's repeat carries the old `ETag`
/// and is refused, the VM is read again, and the disk already there is
/// not added twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v4_reconfigure_converges_and_a_lost_reply_adds_no_second_disk() {
    use butler_core::backend::VmReconfig;
    let (sim, fake, backend) = setup(70).await;
    assert!(backend.uses_v4().await.unwrap());
    let vm = one_vm(&sim);
    if vm.power == PowerState::On {
        backend
            .set_power(&vm.uuid, PowerChange::HardOff)
            .await
            .unwrap();
    }
    let mut disks = vm.disks_gib.clone();
    disks[0] += 10;
    disks.push(30);
    let mut nics = vm.nics.clone();
    nics.push(vm.nics[0].clone());
    let to = VmReconfig {
        cores_per_socket: 2,
        sockets: 2,
        ram_gib: vm.ram_gib + 4,
        disks_gib: disks.clone(),
        nics,
    };
    // Calls to the platform: 1 CPU and memory, 2 the grow, 3 the add.
    sim.script_fault(ScriptedFault::nth_call(
        Op::ReconfigureVm,
        3,
        None,
        FaultKind::LoseReply,
    ));
    let (writes, refused) = (fake.v4_writes(), fake.stale_etags());
    backend.reconfigure_vm(&vm.uuid, &to).await.unwrap();
    let now = backend.find_vm(&vm.name).await.unwrap().unwrap();
    assert!(to.is_done_on(&now), "asked {to:?}, Prism shows {now:?}");
    assert_eq!(now.disks_gib, disks, "one disk added, not two");
    assert_eq!(fake.stale_etags(), refused + 1, "the repeat was refused");
    assert_eq!(fake.v4_writes() - writes, 4, "one write per difference");
    // Again: as asked already, nothing is sent.
    backend.reconfigure_vm(&vm.uuid, &to).await.unwrap();
    assert_eq!(fake.v4_writes() - writes, 4);
}

/// Made on the simulator under the fake, and settled.
async fn made(sim: &SimPlatform, name: &str) -> butler_core::backend::VmInfo {
    let task = sim.create_vm(&sim.sample_vm(name)).await.unwrap();
    loop {
        let status = sim.task(&task).await.unwrap();
        if status.state.is_terminal() {
            assert_eq!(status.state, TaskState::Succeeded);
            return sim.vm(name).unwrap();
        }
        butler_core::backend::Clock::sleep(sim.clock().as_ref(), Duration::from_secs(5)).await;
    }
}

/// Configured to move VMs one by one, the adapter on v4 declares
/// cross-cluster migration (cold and live) instead of protection domains',
/// and the migration service goes through it: each VM's move judged first
/// by Prism's `$dryrun` at refresh (a VM a protection domain holds is a
/// `platform_refuses` finding in Prism's words, whether Prism refuses the
/// dry run or answers a failing task), a running VM moved live when the
/// group asks, the bodies on the wire as the SDK models them.
/// A migration service over `backend`, polling every 5 s of the
/// simulator's time.
fn migrations(
    sim: &SimPlatform,
    backend: std::sync::Arc<NutanixBackend>,
) -> butler_core::migration::MigrationService {
    use butler_core::migration::{MigrationConfig, MigrationService};
    MigrationService::new(
        std::sync::Arc::new(butler_core::store::MemoryStore::new()),
        backend,
        sim.clock(),
        MigrationConfig {
            poll: Duration::from_secs(5),
            ..MigrationConfig::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v4_configured_vm_by_vm_a_group_moves_through_cross_cluster_migrate() {
    use butler_core::auth::{Actor, Role};
    use butler_core::backend::{Capability, ProtectRequest, Schedule};
    use butler_core::migration::{FindingCode, VmOutcome};
    use std::sync::Arc;
    let sim = SimPlatform::demo(73);
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    let mut config = fake.config().await;
    config.migration = butler_nutanix::MigrationPath::VmByVm;
    let backend = Arc::new(NutanixBackend::new(&config).unwrap());
    assert!(backend.uses_v4().await.unwrap());
    let caps = backend.capabilities();
    assert!(caps.has(Capability::VmMigration) && caps.has(Capability::LiveMigration));
    assert!(!caps.has(Capability::Migration), "never both paths");
    let (cold, running, held) = ("vbv-cold", "vbv-running", "vbv-held");
    for name in [cold, running, held] {
        made(&sim, name).await;
    }
    assert!(sim.set_vm_power(running, PowerState::On));
    let pd = ProtectRequest {
        group: format!("PD-{held}"),
        vm_name: held.into(),
        schedules: vec![Schedule::local(60, 24)],
    };
    butler_core::backend::ClusterBackend::protect_vm(&sim, "c1-madrid", &pd)
        .await
        .unwrap();

    let svc = migrations(&sim, backend.clone());
    let ops = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&ops, "vm-by-vm").await.unwrap();
    let edit = g.with_members(
        "c1-madrid",
        "c2-santiago",
        [cold, running, held].map(String::from),
    );
    let g = svc.save(&ops, &edit).await.unwrap();
    for dry_run_answers_a_task in [false, true] {
        fake.set_quirks(Quirks {
            dry_run_answers_a_task,
            ..Quirks::default()
        });
        svc.refresh(&ops, g.id).await.unwrap();
        let (g, facts, v) = svc.validate(&ops, g.id).await.unwrap();
        let codes = |i: u32| v.codes_of(i);
        assert_eq!(codes(0), vec![], "{:?}", v.findings);
        assert_eq!(
            codes(1),
            vec![FindingCode::PoweredOn],
            "not asked about power"
        );
        assert_eq!(codes(2), vec![FindingCode::PlatformRefuses]);
        let said = v
            .findings
            .iter()
            .find(|f| f.vm == 2)
            .unwrap()
            .message(&g, &facts);
        assert!(
            said.contains("protected by") && said.contains(&pd.group),
            "{said}"
        );
    }
    // The dry run's body on the wire, as Prism's model has it.
    let sent = fake.last_v4_body("migrate").expect("a dry run was sent");
    assert_eq!(
        sent["$objectType"],
        "vmm.v4.ahv.config.VmCrossClusterMigrateParams"
    );
    assert_eq!(sent["isLiveMigration"], false);
    let c2 = backend.list_clusters().await.unwrap();
    let c2 = c2.iter().find(|c| c.name == "c2-santiago").unwrap();
    assert_eq!(sent["targetCluster"]["extId"], c2.uuid.as_str());

    // The held VM stays; the running one moves live.
    let g = svc
        .select(&ops, g.id, g.version, held, false)
        .await
        .unwrap();
    let g = svc.set_live(&ops, g.id, g.version, true).await.unwrap();
    svc.refresh(&ops, g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops, g.id).await.unwrap();
    assert_eq!(v.errors, 0, "{:?}", v.findings);
    let writes = fake.v4_writes();
    let report = svc
        .migrate(&ops, v.token().unwrap())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(report.counts(), (2, 0, 0), "{report}");
    assert!(report.vms.iter().all(|l| l.outcome == VmOutcome::Migrated));
    assert!(fake.v4_writes() >= writes + 2, "each move under If-Match");
    assert_eq!(
        fake.last_v4_body("migrate").unwrap()["isLiveMigration"],
        true
    );
    for (name, power) in [(cold, PowerState::Off), (running, PowerState::On)] {
        let vm = sim.vm(name).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.power),
            ("c2-santiago", power),
            "{name}"
        );
    }
    assert_eq!(sim.vm(held).unwrap().cluster, "c1-madrid");
}

/// Configured to move VMs one by one, the adapter passes the conformance
/// suite on v4 with moves cold and live, skipping only protection domains'
/// migration, on a plain Prism and on a realistic one (per-cluster
/// subnets: each NIC mapped to the destination's namesake); on v3, which has no cross-cluster migrate, no migration is
/// declared at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_by_vm_passes_the_conformance_suite_on_v4_and_declares_nothing_on_v3() {
    use butler_core::backend::Capability;
    let mut config = None;
    for (prefix, quirks) in [("vbv", Quirks::default()), ("vbvreal", Quirks::realistic())] {
        let (sim, fake, _) = setup(79).await;
        fake.set_quirks(quirks);
        let mut c = fake.config().await;
        c.migration = butler_nutanix::MigrationPath::VmByVm;
        let backend = NutanixBackend::new(&c).unwrap();
        assert!(backend.uses_v4().await.unwrap());
        let skipped = run_all(&backend, &Fixture::demo_platform(sim.clock(), prefix)).await;
        assert_eq!(skipped, vec![Capability::Migration], "{prefix}");
        config = Some(c);
    }
    let mut config = config.unwrap();
    config.central_api = CentralApi::V3;
    let v3 = NutanixBackend::new(&config).unwrap();
    let caps = v3.capabilities();
    assert!(
        [
            Capability::Migration,
            Capability::VmMigration,
            Capability::LiveMigration
        ]
        .iter()
        .all(|c| !caps.has(*c)),
        "v3 moves no VM across clusters"
    );
}

/// On a Prism whose VLAN subnets belong to one cluster each (as real
/// ones), a VM arrives with each NIC on the destination's subnet of the
/// same name: the move names them in `overrides.overrideNicList` (checked
/// raw), and a NIC whose subnet has no namesake there is an objection
/// before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_per_cluster_subnets_each_nic_arrives_on_the_destinations_namesake() {
    use butler_core::backend::VmMove;
    let sim = SimPlatform::demo(83);
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    fake.set_quirks(Quirks {
        per_cluster_subnets: true,
        ..Quirks::default()
    });
    let mut config = fake.config().await;
    config.migration = butler_nutanix::MigrationPath::VmByVm;
    let backend = NutanixBackend::new(&config).unwrap();
    assert!(backend.uses_v4().await.unwrap());
    let vm = made(&sim, "vbv-nic").await;
    let to = VmMove::cold("c2-santiago");
    assert_eq!(
        backend.check_vm_migration(&vm.uuid, &to).await.unwrap(),
        Vec::<String>::new()
    );
    let sent = fake.last_v4_body("migrate").unwrap();
    let subnets = backend.list_subnets().await.unwrap();
    let on_c2 = subnets
        .iter()
        .find(|s| s.name == "vlan-10" && s.cluster.as_deref() == Some("c2-santiago"))
        .unwrap();
    assert_eq!(
        sent["overrides"]["overrideNicList"][0]["networkInfo"]["subnet"]["extId"],
        on_c2.uuid.as_str(),
        "{sent}"
    );
    let task = backend.migrate_vm(&vm.uuid, &to).await.unwrap();
    loop {
        let status = backend.task(&task).await.unwrap();
        if status.state.is_terminal() {
            assert_eq!(status.state, TaskState::Succeeded);
            break;
        }
        butler_core::backend::Clock::sleep(sim.clock().as_ref(), Duration::from_secs(5)).await;
    }
    assert_eq!(sim.vm("vbv-nic").unwrap().cluster, "c2-santiago");
    assert!(fake.last_v4_body("migrate").unwrap()["overrides"].is_object());
}

/// On v4 a VM changes project with one `PUT` of the VM as read, its
/// `project` named by id, under its `ETag`; asked again, nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v4_a_vm_changes_project_with_a_put_under_its_etag() {
    let (sim, fake, backend) = setup(89).await;
    assert!(backend.uses_v4().await.unwrap());
    let vm = made(&sim, "v4-project").await;
    assert_eq!(vm.project.as_deref(), Some("prod-project"));
    let writes = fake.v4_writes();
    backend
        .set_vm_project(&vm.uuid, "dev-project")
        .await
        .unwrap();
    assert_eq!(
        sim.vm("v4-project").unwrap().project.as_deref(),
        Some("dev-project")
    );
    assert_eq!(fake.v4_writes(), writes + 1, "one write, under If-Match");
    let projects = backend.list_projects().await.unwrap();
    let dev = projects.iter().find(|p| p.name == "dev-project").unwrap();
    let sent = fake.last_v4_body("update-vm").unwrap();
    assert_eq!(sent["project"]["extId"], dev.uuid.as_str(), "{sent}");
    assert_eq!(sent["name"], "v4-project", "the VM as read");
    backend
        .set_vm_project(&vm.uuid, "dev-project")
        .await
        .unwrap();
    assert_eq!(
        fake.v4_writes(),
        writes + 1,
        "nothing sent when there already"
    );
}

/// Configured to protect by policy (`protection_category`), the adapter
/// protects a VM by giving it the category a protection policy applies to,
/// not by a Prism Element protection domain: refused, naming the category,
/// while no policy covers it (the VM untouched); a passing failure while
/// Prism has not applied the policy yet; then the VM is a protected
/// resource, its group the category, and unprotecting takes the category
/// off (a second time: `NotFound`). Protection domains then do not migrate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_v4_a_vm_is_protected_by_policy_through_its_category() {
    use butler_core::backend::{Capability, ProtectRequest, Schedule};
    let (sim, fake, _) = setup(97).await;
    fake.set_quirks(Quirks {
        policy_applies_after_reads: 1,
        ..Quirks::default()
    });
    let mut config = fake.config().await;
    let gold = "Environment:Production";
    config.protection_category = Some(gold.into());
    let backend = NutanixBackend::new(&config).unwrap();
    assert!(backend.uses_v4().await.unwrap());
    assert!(!backend.capabilities().has(Capability::Migration));
    let vm = made(&sim, "pol-1").await;
    sim.set_vm_categories(&vm.uuid, Vec::new());
    let req = ProtectRequest {
        group: "PD-pol-1".into(),
        vm_name: "pol-1".into(),
        schedules: vec![Schedule::local(60, 24)],
    };
    let e = backend.protect_vm("c1-madrid", &req).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
    assert!(e.message.contains(gold), "{e}");
    assert!(sim.vm("pol-1").unwrap().categories.is_empty(), "untouched");

    fake.add_protection_policy("gold", gold);
    let e = backend.protect_vm("c1-madrid", &req).await.unwrap_err();
    assert!(e.is_retryable(), "not applied yet: {e}");
    assert_eq!(backend.protect_vm("c1-madrid", &req).await.unwrap(), gold);
    assert_eq!(sim.vm("pol-1").unwrap().categories, vec![gold.to_string()]);
    assert_eq!(
        backend
            .protection_groups_of("c1-madrid", "pol-1")
            .await
            .unwrap(),
        vec![gold.to_string()]
    );
    assert!(
        sim.protection_group("c1-madrid", "PD-pol-1").is_none(),
        "no protection domain made"
    );
    backend
        .unprotect_vm("c1-madrid", gold, "pol-1")
        .await
        .unwrap();
    assert!(sim.vm("pol-1").unwrap().categories.is_empty());
    assert!(backend
        .protection_groups_of("c1-madrid", "pol-1")
        .await
        .unwrap()
        .is_empty());
    let again = backend.unprotect_vm("c1-madrid", gold, "pol-1").await;
    assert!(
        matches!(&again, Err(e) if e.kind == ErrorKind::NotFound),
        "{again:?}"
    );
}

/// Protecting by policy, the adapter passes the conformance suite on a
/// plain and on a realistic Prism, skipping only migration (protection
/// domains do not move, and VMs move one by one only where configured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protecting_by_policy_the_adapter_passes_the_conformance_suite() {
    use butler_core::backend::Capability;
    for (prefix, quirks) in [("pol", Quirks::default()), ("polreal", Quirks::realistic())] {
        let (sim, fake, _) = setup(101).await;
        fake.set_quirks(quirks);
        fake.add_protection_policy("gold", "DataProtection:Gold");
        let mut config = fake.config().await;
        config.protection_category = Some("DataProtection:Gold".into());
        let backend = NutanixBackend::new(&config).unwrap();
        assert!(backend.uses_v4().await.unwrap());
        let mut skipped = run_all(&backend, &Fixture::demo_platform(sim.clock(), prefix)).await;
        skipped.sort();
        assert_eq!(
            skipped,
            vec![
                Capability::Migration,
                Capability::VmMigration,
                Capability::LiveMigration
            ],
            "{prefix}"
        );
    }
}

/// A backend configured for Leap recovery plans, protecting by
/// `DataProtection:Gold` (a policy covers it).
async fn by_plans(seed: u64) -> (SimPlatform, FakePrism, std::sync::Arc<NutanixBackend>) {
    let (sim, fake, _) = setup(seed).await;
    fake.add_protection_policy("gold", GOLD);
    let mut config = fake.config().await;
    config.protection_category = Some(GOLD.into());
    config.migration = butler_nutanix::MigrationPath::RecoveryPlans;
    let backend = std::sync::Arc::new(NutanixBackend::new(&config).unwrap());
    assert!(backend.uses_v4().await.unwrap());
    (sim, fake, backend)
}

const GOLD: &str = "DataProtection:Gold";

/// A VM on c1-madrid carrying the policy's category.
async fn in_gold(sim: &SimPlatform, name: &str) -> butler_core::backend::VmInfo {
    let vm = made(sim, name).await;
    sim.set_vm_categories(&vm.uuid, vec![GOLD.to_string()]);
    vm
}

/// Migrating by recovery plans, the adapter passes the conformance suite
/// on a plain and on a realistic Prism (its validation warning about
/// guest tools does not block), cold and live, skipping only VM-by-VM
/// moves; on v3 it declares no migration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_recovery_plans_the_adapter_passes_the_conformance_suite() {
    use butler_core::backend::Capability;
    for (prefix, quirks) in [("rp", Quirks::default()), ("rpreal", Quirks::realistic())] {
        let (sim, fake, backend) = by_plans(103).await;
        fake.set_quirks(quirks);
        let caps = backend.capabilities();
        assert!(caps.has(Capability::Migration) && caps.has(Capability::LiveMigration));
        let skipped = run_all(
            backend.as_ref(),
            &Fixture::demo_platform(sim.clock(), prefix),
        )
        .await;
        assert_eq!(skipped, vec![Capability::VmMigration], "{prefix}");
        let jobs = fake.recovery_plan_jobs();
        assert!(
            jobs.iter()
                .any(|(_, a, live)| a == "PLANNED_FAILOVER" && *live)
                && jobs
                    .iter()
                    .any(|(_, a, live)| a == "PLANNED_FAILOVER" && !*live),
            "{jobs:?}"
        );
        assert!(
            fake.recovery_plans().is_empty(),
            "Butler's plans deleted after: {:?}",
            fake.recovery_plans()
        );
    }
    let (_, fake, _) = by_plans(104).await;
    fake.set_quirks(Quirks {
        no_v4: true,
        ..Quirks::default()
    });
    let mut config = fake.config().await;
    config.protection_category = Some(GOLD.into());
    config.migration = butler_nutanix::MigrationPath::RecoveryPlans;
    let v3 = NutanixBackend::new(&config).unwrap();
    assert!(!v3.uses_v4().await.unwrap());
    assert!(!v3.capabilities().has(Capability::Migration));
}

/// A group of VMs protected by policy migrates by the recovery plan of
/// its category: Butler makes the plan (one stage recovering the
/// category, from the source on the destination), has Prism validate it,
/// runs its planned failover live as the group asks, follows the job to
/// its end and deletes the plan it made. Back the other way, a plan of
/// the administrator's is adopted as it is, moved cold, and kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_protected_by_policy_migrates_by_its_recovery_plan() {
    use butler_core::auth::{Actor, Role};
    use butler_core::migration::VmOutcome;
    let (sim, fake, backend) = by_plans(105).await;
    let (cold, running) = ("rp-cold", "rp-running");
    in_gold(&sim, cold).await;
    in_gold(&sim, running).await;
    assert!(sim.set_vm_power(running, PowerState::On));
    let svc = migrations(&sim, backend.clone());
    let ops = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&ops, "by-plan").await.unwrap();
    let edit = g.with_members(
        "c1-madrid",
        "c2-santiago",
        [cold, running].map(String::from),
    );
    let g = svc.save(&ops, &edit).await.unwrap();
    let g = svc.set_live(&ops, g.id, g.version, true).await.unwrap();
    svc.refresh(&ops, g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops, g.id).await.unwrap();
    assert_eq!(
        v.errors, 0,
        "live: the running VM is no error: {:?}",
        v.findings
    );
    let report = svc
        .migrate(&ops, v.token().unwrap())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(report.counts(), (2, 0, 0), "{report}");
    assert!(
        report.vms.iter().all(|l| l.outcome == VmOutcome::Migrated),
        "{report}"
    );
    for (name, power) in [(cold, PowerState::Off), (running, PowerState::On)] {
        let vm = sim.vm(name).unwrap();
        assert_eq!(
            (vm.cluster.as_str(), vm.power),
            ("c2-santiago", power),
            "{name}"
        );
    }
    // On the wire, as Prism's models have them.
    let clusters = backend.list_clusters().await.unwrap();
    let id = |n: &str| clusters.iter().find(|c| c.name == n).unwrap().uuid.clone();
    let plan = fake
        .last_v4_body("recovery-plan")
        .expect("Butler made a plan");
    assert_eq!(
        plan["primaryLocation"]["clusters"][0]["extId"],
        id("c1-madrid").as_str()
    );
    assert_eq!(
        plan["recoveryLocation"]["clusters"][0]["extId"],
        id("c2-santiago").as_str()
    );
    let stage = fake.last_v4_body("recovery-stage").unwrap();
    assert_eq!(stage["entityType"], "VM");
    assert_eq!(stage["categoryExtIds"].as_array().map(Vec::len), Some(1));
    let failover = fake.last_v4_body("planned-failover").unwrap();
    assert_eq!(failover["shouldLiveMigrateVMs"], true);
    assert_eq!(
        failover["failoverDirections"][0]["sourceCluster"]["extId"],
        id("c1-madrid").as_str()
    );
    assert_eq!(
        failover["failoverDirections"][0]["targetCluster"]["extId"],
        id("c2-santiago").as_str()
    );
    let actions: Vec<String> = fake
        .recovery_plan_jobs()
        .into_iter()
        .map(|(_, a, _)| a)
        .collect();
    assert_eq!(actions, ["VALIDATE", "PLANNED_FAILOVER"]);
    assert!(
        fake.recovery_plans().is_empty(),
        "the plan Butler made is deleted"
    );

    // Back, cold, by the storage team's own plan.
    fake.add_recovery_plan("storage-team-dr", GOLD, "c2-santiago", "c1-madrid")
        .await;
    assert!(sim.set_vm_power(running, PowerState::Off));
    let g = svc.create_group(&ops, "back").await.unwrap();
    let edit = g.with_members(
        "c2-santiago",
        "c1-madrid",
        [cold, running].map(String::from),
    );
    let g = svc.save(&ops, &edit).await.unwrap();
    svc.refresh(&ops, g.id).await.unwrap();
    let (_, _, v) = svc.validate(&ops, g.id).await.unwrap();
    assert_eq!(v.errors, 0, "{:?}", v.findings);
    let report = svc
        .migrate(&ops, v.token().unwrap())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(report.counts(), (2, 0, 0), "{report}");
    assert_eq!(sim.vm(cold).unwrap().cluster, "c1-madrid");
    assert_eq!(
        fake.recovery_plans(),
        vec![("storage-team-dr".to_string(), vec![GOLD.to_string()])],
        "adopted and kept; none made"
    );
    assert_eq!(
        fake.last_v4_body("planned-failover").unwrap()["shouldLiveMigrateVMs"],
        false
    );
}

/// Prism's validation of the plan comes before its failover: an error
/// stops the move in Prism's words, and nothing moves. A failover already
/// under way is followed, never started twice; a failed job's reason is
/// its failed step's, naming the VM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_plan_failover_is_validated_first_followed_once_and_its_failure_named() {
    use butler_core::backend::VmMove;
    let (sim, fake, backend) = by_plans(107).await;
    in_gold(&sim, "rp-a").await;
    let to = VmMove::cold("c2-santiago");
    fake.set_quirks(Quirks {
        plan_validation_errors: vec![
            "VM rp-a: no network mapping for subnet vlan-7 on the recovery cluster".into(),
        ],
        ..Quirks::default()
    });
    let e = backend
        .move_protection_group("c1-madrid", GOLD, &to)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
    assert!(
        e.message.contains("no network mapping for subnet vlan-7"),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert_eq!(
        sim.vm("rp-a").unwrap().cluster,
        "c1-madrid",
        "nothing moved"
    );
    assert!(fake
        .recovery_plan_jobs()
        .iter()
        .all(|(_, a, _)| a == "VALIDATE"));

    // Tasks that take time: the second ask finds the first's job running.
    fake.set_quirks(Quirks {
        slow_tasks: 3,
        ..Quirks::default()
    });
    let first = backend
        .move_protection_group("c1-madrid", GOLD, &to)
        .await
        .unwrap()
        .unwrap();
    let again = backend
        .move_protection_group("c1-madrid", GOLD, &to)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, again, "the same job");
    let failovers = fake
        .recovery_plan_jobs()
        .iter()
        .filter(|(_, a, _)| a == "PLANNED_FAILOVER")
        .count();
    assert_eq!(failovers, 1);
    let mut st = backend.task(&first).await.unwrap();
    for _ in 0..20 {
        if st.state.is_terminal() {
            break;
        }
        sim.clock().advance(Duration::from_secs(60));
        st = backend.task(&first).await.unwrap();
    }
    assert_eq!(st.state, TaskState::Succeeded);
    assert_eq!(sim.vm("rp-a").unwrap().cluster, "c2-santiago");

    // The platform refuses one VM's move: the job fails, naming it.
    fake.set_quirks(Quirks::default());
    in_gold(&sim, "rp-b").await;
    sim.set_faults(
        Op::MigrateVm,
        FaultConfig {
            permanent: 1.0,
            ..FaultConfig::default()
        },
    );
    let task = backend
        .move_protection_group("c1-madrid", GOLD, &to)
        .await
        .unwrap()
        .unwrap();
    let st = backend.task(&task).await.unwrap();
    match st.state {
        TaskState::Failed(why) => assert!(why.contains("rp-b"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.vm("rp-b").unwrap().cluster, "c1-madrid");
}

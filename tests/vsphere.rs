//! Butler on VMware vSphere as a deployment names it: a `[vcenter]` file,
//! VMware's vCenter simulator (vcsim, started by
//! `scripts/services/vcsim.sh`; without it these tests say so and pass
//! outside CI, and fail under `CI=true`), a request approved and
//! provisioned to `Completed`, then the VM powered off and on from the
//! inventory.

use butler::auth::{Actor, Role};
use butler::backend::{PowerChange, PowerState, SystemClock};
use butler::deployment::Deployment;
use butler::engine::EngineConfig;
use butler::inventory::PowerRequest;
use butler::request::RequestState;
use butler::store::MemoryStore;
use butler::vsphere::testing::{exclusive as LOCK, LiveVcsim};
use butler::Butler;
use std::sync::Arc;

/// The demo catalog on vcsim's names: its clusters, its distributed port
/// group, its datastore and the 20 GiB template.
fn catalog() -> butler::catalog::Catalog {
    let mut c = butler::demo::catalog();
    c.clusters = vec![
        butler::catalog::Cluster::named("DC0_C0"),
        butler::catalog::Cluster::named("DC0_C1"),
    ];
    for e in &mut c.environments {
        e.project = "prod-project".into();
        e.vlans = vec!["DC0_DVPG0".into()];
    }
    for d in &mut c.disk_types {
        d.storage_container = Some("LocalDS_0".into());
    }
    c.images = vec![butler::catalog::Image {
        name: "tmpl-DC0_C0-linux".into(),
        size_gib: 20,
    }];
    c
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() % 1_000_000_000)
        .unwrap_or(0);
    format!("{prefix}{n}")
}

/// Butler on the deployment `text` (monitoring and billing off), the
/// password from `vc`, with the vcsim catalog; its platform beside it.
fn butler_on(
    vc: &LiveVcsim,
    text: &str,
    engine: EngineConfig,
) -> (Butler, Arc<dyn butler::backend::ClusterBackend>) {
    let deployment = Deployment::from_toml(text, vc.env()).unwrap();
    let platform = deployment.platform.clone();
    let butler = deployment
        .apply(
            Butler::builder()
                .store(Arc::new(MemoryStore::new()))
                .clock(Arc::new(SystemClock))
                .catalog(catalog())
                .rate_book(butler::demo::rate_book()),
            engine,
        )
        .build()
        .unwrap();
    (butler, platform)
}

/// A request for a VM named from `prefix` on DC0_C0, asked by ana and
/// approved by bea.
async fn approved(butler: &Butler, prefix: &str) -> butler::request::Request {
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let svc = butler.requests();
    let mut spec = butler::demo::spec(&unique(prefix));
    spec.cluster = "DC0_C0".into();
    spec.nics = vec!["DC0_DVPG0".into()];
    let r = svc.create(&ana, spec).await.unwrap();
    let r = svc.submit(&ana, r.id, r.version).await.unwrap();
    svc.approve(&bea, r.id, r.version).await.unwrap()
}

/// The tables a test deployment adds: monitoring and billing off.
const STEPS_OFF: &str = "[monitoring]\nenabled = false\n\n[billing]\nenabled = false\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_provisioned_on_vsphere_from_a_deployment_file_and_powered_from_the_inventory()
{
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let (butler, platform) = butler_on(&vc, &vc.toml(STEPS_OFF), EngineConfig::default());
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let svc = butler.requests();
    let r = approved(&butler, "vs").await;
    let engine = butler.engine().expect("a deployment provisions");
    let summary = engine.run_until_idle().await.unwrap();
    let r = svc.get(&bea, r.id).await.unwrap();
    assert_eq!(
        r.state,
        RequestState::Completed,
        "{:?} {summary:?}",
        r.failure
    );

    // vSphere has no protection groups: the step says so.
    assert!(
        r.history
            .iter()
            .filter_map(|h| h.note.as_deref())
            .any(|n| n.contains("no protection groups")),
        "{:?}",
        r.history
    );

    // On vCenter: the VM under its platform name, in the shape asked.
    let vm = platform
        .find_vm(&r.platform_vm_name())
        .await
        .unwrap()
        .expect("the VM on vCenter");
    assert_eq!(
        (vm.cluster.as_str(), vm.vcpus, vm.ram_gib),
        ("DC0_C0", 2, 4)
    );
    assert_eq!(vm.disks_gib, vec![50]);
    assert_eq!(vm.nics, vec!["DC0_DVPG0".to_string()]);
    assert_eq!(vm.project.as_deref(), Some("prod-project"));
    assert!(
        vm.categories
            .contains(&"Environment:Production".to_string()),
        "{:?}",
        vm.categories
    );

    // Day 2: the inventory powers it, and vCenter shows it.
    let vms = butler.vms();
    let record = vms
        .list(&ana, &Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|v| v.request == Some(r.id))
        .expect("its inventory record");
    for (change, then) in [
        (PowerChange::HardOff, PowerState::Off),
        (PowerChange::On, PowerState::On),
    ] {
        vms.power(
            &ana,
            record.id,
            PowerRequest {
                change,
                force_after_deadline: false,
            },
        )
        .await
        .unwrap();
        let now = platform
            .find_vm(&r.platform_vm_name())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.power, then, "after {change}");
    }
}

#[test]
fn a_deployment_names_one_platform() {
    let env = |_: &str| Some("pw".to_string());
    let both = "[vcenter]\nurl = \"https://vc/sdk\"\nusername = \"b\"\n\
                [prism_central]\nurl = \"https://pc:9440\"\nusername = \"b\"\n";
    let e = Deployment::from_toml(both, env).unwrap_err();
    assert_eq!(e.section, "vcenter");
    assert!(e.reason.contains("one platform"), "{e}");
    let categories = "[vcenter]\nurl = \"https://vc/sdk\"\nusername = \"b\"\n\
                      [billing.nutanix_category]\nkey = \"CostCenter\"\n";
    let e = Deployment::from_toml(categories, env).unwrap_err();
    assert_eq!(e.section, "billing.nutanix_category");
    assert!(e.reason.contains("[billing.webhook]"), "{e}");
}

/// A migration service on `platform` (8 moves at once), an Operator, and
/// a new group of `vms` from `DC0_C0` to `DC0_C1`.
async fn vs_group(
    platform: &Arc<butler::vsphere::VsphereBackend>,
    prefix: &str,
    vms: impl IntoIterator<Item = String>,
) -> (
    butler::migration::MigrationService,
    Actor,
    butler::migration::MigrationGroup,
) {
    use butler::migration::{MigrationConfig, MigrationService};
    let config = MigrationConfig {
        poll: std::time::Duration::from_millis(50),
        max_parallel: 8,
        ..MigrationConfig::default()
    };
    let svc = MigrationService::new(
        Arc::new(MemoryStore::new()),
        platform.clone(),
        Arc::new(SystemClock),
        config,
    );
    let ops = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&ops, &unique(prefix)).await.unwrap();
    let edit = g.with_members("DC0_C0", "DC0_C1", vms);
    let g = svc.save(&ops, &edit).await.unwrap();
    (svc, ops, g)
}

/// Migrates what validation `v` allows and waits for the report.
async fn run_to_end(
    svc: &butler::migration::MigrationService,
    ops: &Actor,
    v: &butler::migration::ValidationReport,
) -> butler::migration::MigrationReport {
    let token = v.token().expect("a validation without errors has a token");
    svc.migrate(ops, token).await.unwrap().wait().await.unwrap()
}

/// A migration group of 100 VMs on vSphere: validated by the same service
/// without the protection-domain rules (vSphere has none), each VM
/// relocated to the destination cluster on its own, the report saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_vm_migration_group_moves_between_vsphere_clusters() {
    use butler::backend::{ClusterBackend, VmCreate};
    use butler::migration::VmOutcome;
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let platform = Arc::new(butler::vsphere::VsphereBackend::new(&vc.config()).unwrap());
    // A hundred VMs, made one after another: vcsim 0.24's Rename_Task
    // panics while another VM is being made in the same folder (its
    // FindByName meets a VM without a name yet).
    let base = unique("mv");
    let names: Vec<String> = (0..100).map(|i| format!("{base}-{i:03}")).collect();
    for name in &names {
        let vm = VmCreate::new(name, "DC0_C0")
            .project("prod-project")
            .cpu(1, 1)
            .ram_gib(1)
            .disks_gib(vec![10])
            .nics(vec!["DC0_DVPG0".into()]);
        platform.create_vm(&vm).await.unwrap();
    }
    let (svc, ops, g) = vs_group(&platform, "vs-group-", names.iter().cloned()).await;
    svc.refresh(&ops, g.id).await.unwrap();
    let (_, facts, v) = svc.validate(&ops, g.id).await.unwrap();
    assert!(facts.vm_moves, "vSphere moves VMs one by one");
    let judged = facts
        .moves
        .as_ref()
        .expect("vCenter's dry run, read at refresh");
    assert_eq!(
        (judged.to.destination.as_str(), judged.refusals.len()),
        ("DC0_C1", 0)
    );
    assert_eq!(v.errors, 0, "{:?}", v.findings);
    let report = run_to_end(&svc, &ops, &v).await;
    assert_eq!(report.counts(), (100, 0, 0), "{report}");
    let there: std::collections::BTreeSet<String> = platform
        .list_vms("DC0_C1")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    for line in &report.vms {
        assert_eq!(line.outcome, VmOutcome::Migrated, "{line:?}");
        assert!(there.contains(&line.vm), "{} on the destination", line.vm);
    }
}

/// A TCP relay to vcsim that can refuse connections, as a vCenter that
/// stopped answering: refusing cuts the open connections too. Counted in
/// connections, never in time.
struct Relay {
    url: String,
    refuse: Arc<std::sync::atomic::AtomicUsize>,
    open: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn to(upstream: &str) -> Relay {
        use std::sync::atomic::Ordering;
        let target = upstream
            .trim_start_matches("https://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/sdk", listener.local_addr().unwrap());
        let refuse = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let open = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (r, o) = (refuse.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let left = r.load(Ordering::SeqCst);
                if left > 0 {
                    r.store(left - 1, Ordering::SeqCst);
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                o.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Relay { url, refuse, open }
    }

    /// vCenter stops: the open connections are cut and the next `n` refused.
    fn stop_for(&self, n: usize) {
        self.refuse.store(n, std::sync::atomic::Ordering::SeqCst);
        for c in self.open.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// vCenter answers again.
    fn start(&self) {
        self.refuse.store(0, std::sync::atomic::Ordering::SeqCst);
    }

    fn refusals_left(&self) -> usize {
        self.refuse.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// vCenter stops answering: calls fail with a retryable, typed error (the
/// adapter's retries spent); the engine retries its step, and once vCenter
/// answers again the request completes with one VM, never two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vcenter_stopping_mid_run_gives_typed_retryable_errors_and_one_vm() {
    use butler::backend::{ClusterBackend, ErrorKind};
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let relay = Relay::to(&vc.url).await;
    let through = LiveVcsim {
        url: relay.url.clone(),
        ..vc.clone()
    };
    let text = through
        .toml(STEPS_OFF)
        .replace("ca_bundle", "max_retries = 1\nca_bundle");

    // The adapter alone: a stopped vCenter is a retryable error.
    let direct = butler::vsphere::VsphereConfig::from_toml(&text, vc.env()).unwrap();
    let adapter = butler::vsphere::VsphereBackend::new(&direct).unwrap();
    adapter.list_clusters().await.unwrap();
    relay.stop_for(usize::MAX);
    let sent = adapter.requests();
    let e = adapter.list_clusters().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.is_retryable());
    assert_eq!(
        adapter.requests() - sent,
        2,
        "tried twice (max_retries = 1)"
    );
    relay.start();
    adapter.list_clusters().await.unwrap();

    // Provisioning through it: vCenter stops as the engine starts.
    let mut engine = EngineConfig::default();
    engine.retry.base_delay = std::time::Duration::from_millis(20);
    engine.retry.max_delay = std::time::Duration::from_millis(200);
    let (butler, platform) = butler_on(&vc, &text, engine);
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let svc = butler.requests();
    let r = approved(&butler, "out").await;
    relay.stop_for(3);
    let summary = butler.engine().unwrap().run_until_idle().await.unwrap();
    let r = svc.get(&bea, r.id).await.unwrap();
    assert_eq!(
        r.state,
        RequestState::Completed,
        "{:?} {summary:?}",
        r.failure
    );
    assert_eq!(
        relay.refusals_left(),
        0,
        "vCenter was down for part of the run"
    );
    let named = platform
        .list_vms("DC0_C0")
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.name == r.platform_vm_name())
        .count();
    assert_eq!(named, 1, "one VM, however many tries");
}

/// vCenter's own objections are findings before anyone approves: vcsim's
/// `DC0_C0_RP0_VM1` sits on a port group only its cluster has
/// (`C0-lonely`, made by the service script), so its relocation to
/// `DC0_C1` is refused in vCenter's terms at validation; its neighbour,
/// running, is a `powered_on` error until the group asks for vMotion, then
/// it moves live through the migration service and back, still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vcenters_objections_are_findings_and_running_vms_move_by_vmotion() {
    use butler::backend::ClusterBackend;
    use butler::migration::FindingCode;
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let _one_at_a_time = LOCK().await;
    let platform = Arc::new(butler::vsphere::VsphereBackend::new(&vc.config()).unwrap());
    let (lonely, runner) = ("DC0_C0_RP0_VM1", "DC0_C0_RP0_VM2");
    // vcsim's own VMs have no project yet.
    for name in [lonely, runner] {
        let vm = platform.find_vm(name).await.unwrap().unwrap();
        platform
            .set_vm_project(&vm.uuid, "prod-project")
            .await
            .unwrap();
    }
    let (svc, ops, g) = vs_group(&platform, "vs-dry-", [lonely.into(), runner.into()]).await;
    svc.refresh(&ops, g.id).await.unwrap();
    let (g, facts, v) = svc.validate(&ops, g.id).await.unwrap();
    let codes = |vm: u32| v.codes_of(vm);
    assert!(
        codes(0).contains(&FindingCode::PlatformRefuses),
        "{:?}",
        v.findings
    );
    assert_eq!(codes(1), vec![FindingCode::PoweredOn], "{:?}", v.findings);
    let said = v
        .findings
        .iter()
        .find(|f| f.code == FindingCode::PlatformRefuses)
        .map(|f| f.message(&g, &facts))
        .unwrap_or_default();
    assert!(
        said.contains("C0-lonely") && said.contains("DC0_C1"),
        "{said}"
    );

    // vMotion for the one that runs; the lonely one stays behind.
    let g = svc
        .select(&ops, g.id, g.version, lonely, false)
        .await
        .unwrap();
    let g = svc.set_live(&ops, g.id, g.version, true).await.unwrap();
    for (from, to) in [("DC0_C0", "DC0_C1"), ("DC0_C1", "DC0_C0")] {
        svc.refresh(&ops, g.id).await.unwrap();
        let (g, _, v) = svc.validate(&ops, g.id).await.unwrap();
        assert_eq!(v.errors, 0, "{from} → {to}: {:?}", v.findings);
        let report = run_to_end(&svc, &ops, &v).await;
        assert_eq!(report.counts(), (1, 0, 0), "{report}");
        assert!(report.power_cycle.is_empty());
        let vm = platform.find_vm(runner).await.unwrap().unwrap();
        assert_eq!((vm.cluster.as_str(), vm.power), (to, PowerState::On));
        svc.switch(&ops, g.id, g.version).await.unwrap();
    }
}

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
use butler::vsphere::testing::LiveVcsim;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_provisioned_on_vsphere_from_a_deployment_file_and_powered_from_the_inventory()
{
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let text = vc.toml("[monitoring]\nenabled = false\n\n[billing]\nenabled = false\n");
    let password = vc.password.clone();
    let env = |k: &str| (k == "BUTLER_VSPHERE_PASSWORD").then(|| password.clone());
    let deployment = Deployment::from_toml(&text, env).unwrap();
    let platform = deployment.platform.clone();
    let butler = deployment
        .apply(
            Butler::builder()
                .store(Arc::new(MemoryStore::new()))
                .clock(Arc::new(SystemClock))
                .catalog(catalog())
                .rate_book(butler::demo::rate_book()),
            EngineConfig::default(),
        )
        .build()
        .unwrap();
    let ana = Actor::trusted("ana", [Role::Requester]).unwrap();
    let bea = Actor::trusted("bea", [Role::Approver]).unwrap();
    let svc = butler.requests();
    let mut spec = butler::demo::spec(&unique("vs"));
    spec.cluster = "DC0_C0".into();
    spec.nics = vec!["DC0_DVPG0".into()];
    let r = svc.create(&ana, spec).await.unwrap();
    let r = svc.submit(&ana, r.id, r.version).await.unwrap();
    let r = svc.approve(&bea, r.id, r.version).await.unwrap();
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

/// A migration group on vSphere: validated by the same service without
/// the protection-domain rules (vSphere has none), each VM relocated to
/// the destination cluster on its own, the report saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_group_moves_its_vms_between_vsphere_clusters() {
    use butler::backend::{ClusterBackend, VmCreate};
    use butler::migration::{MigrationConfig, MigrationService, VmOutcome};
    let Some(vc) = LiveVcsim::from_env() else {
        return;
    };
    let platform = Arc::new(butler::vsphere::VsphereBackend::new(&vc.config()).unwrap());
    let names: Vec<String> = (0..2).map(|i| unique(&format!("mv{i}-"))).collect();
    for name in &names {
        let vm = VmCreate::new(name, "DC0_C0")
            .project("prod-project")
            .cpu(1, 1)
            .ram_gib(1)
            .disks_gib(vec![10])
            .nics(vec!["DC0_DVPG0".into()]);
        platform.create_vm(&vm).await.unwrap();
    }
    let config = MigrationConfig {
        poll: std::time::Duration::from_millis(50),
        ..MigrationConfig::default()
    };
    let svc = MigrationService::new(
        Arc::new(MemoryStore::new()),
        platform.clone(),
        Arc::new(SystemClock),
        config,
    );
    let ops = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&ops, &unique("vs-group-")).await.unwrap();
    let edit = g.with_members("DC0_C0", "DC0_C1", names.iter().cloned());
    let g = svc.save(&ops, &edit).await.unwrap();
    svc.refresh(&ops, g.id).await.unwrap();
    let (_, facts, v) = svc.validate(&ops, g.id).await.unwrap();
    assert!(facts.vm_moves, "vSphere moves VMs one by one");
    assert_eq!(v.errors, 0, "{:?}", v.findings);
    let report = svc
        .migrate(&ops, v.token().unwrap())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(report.vms.len(), 2);
    for line in &report.vms {
        assert_eq!(line.outcome, VmOutcome::Migrated, "{line:?}");
        let vm = platform.find_vm(&line.vm).await.unwrap().unwrap();
        assert_eq!(vm.cluster, "DC0_C1");
    }
}

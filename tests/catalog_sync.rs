//! The catalog follows the platform and survives a failed refresh.

use butler::auth::{Actor, Role};
use butler::demo;
use butler::service::RequestService;
use butler::sim::{FaultConfig, Op, SimPlatform};
use butler::store::MemoryStore;
use butler::vm_spec::{SpecErrorCode, VmSpec};
use std::sync::Arc;

fn admin() -> Actor {
    Actor::trusted("ada", [Role::Admin]).unwrap()
}

fn codes(svc: &RequestService, spec: &VmSpec) -> Vec<SpecErrorCode> {
    match svc.price(spec) {
        Err(butler::ButlerError::Validation(e)) => e.codes(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn clusters_images_and_vlans_come_from_the_platform() {
    let sim = SimPlatform::demo_builder(1)
        .cluster("c3-lima")
        .subnet("vlan-12", 12)
        .project(
            "prod-project",
            &["c1-madrid", "c2-santiago", "c3-lima"],
            &["vlan-10", "vlan-12"],
        )
        .image("ubuntu24", 20)
        .storage_container("c3-lima", "ctr-ssd")
        .build();
    let svc = RequestService::with_clock(
        Arc::new(MemoryStore::new()),
        demo::catalog(),
        demo::rate_book(),
        sim.clock(),
    );
    let on_lima = VmSpec {
        cluster: "c3-lima".into(),
        nics: vec!["vlan-12".into()],
        ..demo::spec("web01")
    };
    let before = svc.price(&on_lima).unwrap_err().to_string();
    assert!(
        before.contains("unknown_cluster") && before.contains("nic_vlan_not_allowed"),
        "{before}"
    );

    let changes = svc.refresh_catalog(&admin(), &sim).await.unwrap();
    assert_eq!(changes.clusters_added, vec!["c3-lima".to_string()]);
    assert_eq!(changes.images_changed, vec!["ubuntu24".to_string()]);
    // DEV's project may not use the new cluster: DEV changed too.
    assert_eq!(
        changes.environments_changed,
        vec!["PRD".to_string(), "DEV".to_string()]
    );
    assert!(svc.price(&on_lima).is_ok());
    let dev_on_lima = VmSpec {
        environment: "DEV".into(),
        nics: vec!["vlan-30".into()],
        disk_type: "SSD".into(),
        ..on_lima.clone()
    };
    assert_eq!(
        codes(&svc, &dev_on_lima),
        vec![SpecErrorCode::ClusterNotAllowed]
    );
    // vlan-11 left prod-project on the platform: the catalog follows.
    let old_vlan = VmSpec {
        nics: vec!["vlan-11".into()],
        ..demo::spec("web02")
    };
    let err = svc.price(&old_vlan).unwrap_err();
    assert!(
        matches!(err, butler::ButlerError::Validation(ref e) if e.codes() == vec![SpecErrorCode::NicVlanNotAllowed]),
        "{err}"
    );

    // A failed refresh keeps the last good catalog.
    sim.set_faults(Op::ListImages, FaultConfig::permanent(1.0));
    assert!(svc.refresh_catalog(&admin(), &sim).await.is_err());
    assert!(svc.price(&on_lima).is_ok());
    assert!(svc.refresh_catalog(&admin(), &sim).await.is_err());
    sim.clear_faults();
    assert!(
        svc.refresh_catalog(&admin(), &sim)
            .await
            .unwrap()
            .is_empty(),
        "nothing changed since"
    );
}

/// A platform where VLANs belong to one cluster, a disk type's container is
/// missing on a cluster and an environment's category does not exist: each
/// is refused at validation (before approval), not by the platform after.
#[tokio::test]
async fn per_cluster_vlans_storage_and_categories_are_checked_at_validation() {
    let sim = SimPlatform::builder()
        .cluster("c1-madrid")
        .cluster("c2-santiago")
        .subnet_on("c1-madrid", "vlan-10", 10)
        .subnet_on("c2-santiago", "vlan-11", 11)
        .subnet("vlan-30", 30)
        .project(
            "prod-project",
            &["c1-madrid", "c2-santiago"],
            &["vlan-10", "vlan-11"],
        )
        .project("dev-project", &["c1-madrid"], &["vlan-30"])
        .image("rhel9", 40)
        .storage_container("c1-madrid", "ctr-ssd")
        .storage_container("c1-madrid", "ctr-hdd")
        .storage_container("c2-santiago", "ctr-ssd")
        .category("Environment", "Production")
        .build();
    let svc = RequestService::with_clock(
        Arc::new(MemoryStore::new()),
        demo::catalog(),
        demo::rate_book(),
        sim.clock(),
    );
    let changes = svc.refresh_catalog(&admin(), &sim).await.unwrap();
    assert_eq!(
        changes.categories_missing,
        vec!["Environment:Development".to_string()]
    );
    let catalog = svc.catalog();
    let madrid = catalog.cluster("c1-madrid").unwrap();
    assert_eq!(
        madrid.vlans,
        vec!["vlan-10".to_string(), "vlan-30".to_string()]
    );
    assert_eq!(
        madrid.storage_containers,
        vec!["ctr-hdd".to_string(), "ctr-ssd".to_string()]
    );

    // vlan-10 is prod-project's, but it exists on c1-madrid only.
    let good = demo::spec("web01");
    assert!(svc.price(&good).is_ok(), "{:?}", svc.price(&good).err());
    let wrong_cluster = VmSpec {
        cluster: "c2-santiago".into(),
        ..demo::spec("web02")
    };
    assert_eq!(
        codes(&svc, &wrong_cluster),
        vec![SpecErrorCode::NicVlanNotOnCluster]
    );
    // HDD goes to ctr-hdd, which c2-santiago lacks.
    let hdd = VmSpec {
        cluster: "c2-santiago".into(),
        nics: vec!["vlan-11".into()],
        disk_type: "HDD".into(),
        ..demo::spec("web03")
    };
    assert_eq!(codes(&svc, &hdd), vec![SpecErrorCode::DiskTypeNotOnCluster]);
    // Environment:Development does not exist on the platform; dev-project
    // may not use c2-santiago either.
    let dev = VmSpec {
        environment: "DEV".into(),
        nics: vec!["vlan-30".into()],
        cluster: "c2-santiago".into(),
        ..demo::spec("web04")
    };
    assert_eq!(
        codes(&svc, &dev),
        vec![
            SpecErrorCode::EnvironmentCategoryMissing,
            SpecErrorCode::ClusterNotAllowed
        ]
    );
    // Once the category exists, the next refresh accepts it.
    let sim2 = SimPlatform::builder()
        .cluster("c1-madrid")
        .subnet("vlan-30", 30)
        .project("dev-project", &["c1-madrid"], &["vlan-30"])
        .project("prod-project", &["c1-madrid"], &["vlan-30"])
        .category("Environment", "Production")
        .category("Environment", "Development")
        .build();
    let changes = svc.refresh_catalog(&admin(), &sim2).await.unwrap();
    assert!(changes.categories_missing.is_empty(), "{changes:?}");
    let dev_ok = VmSpec {
        environment: "DEV".into(),
        nics: vec!["vlan-30".into()],
        cluster: "c1-madrid".into(),
        ..demo::spec("web05")
    };
    assert!(svc.price(&dev_ok).is_ok(), "{:?}", svc.price(&dev_ok).err());
}

#[tokio::test]
async fn only_admins_refresh_the_catalog() {
    let sim = SimPlatform::demo_builder(1).cluster("c3-lima").build();
    let svc = RequestService::with_clock(
        Arc::new(MemoryStore::new()),
        demo::catalog(),
        demo::rate_book(),
        sim.clock(),
    );
    let before = svc.catalog();
    for role in [
        Role::Requester,
        Role::Approver,
        Role::Operator,
        Role::Viewer,
    ] {
        let who = Actor::trusted("someone", [role]).unwrap();
        assert!(
            matches!(
                svc.refresh_catalog(&who, &sim).await,
                Err(butler::ButlerError::Denied(_))
            ),
            "{role:?} may not replace the catalog"
        );
    }
    assert_eq!(svc.catalog(), before, "and nothing changed");
    assert!(svc.refresh_catalog(&admin(), &sim).await.is_ok());
    assert!(svc.catalog().clusters.iter().any(|c| c.name == "c3-lima"));
}

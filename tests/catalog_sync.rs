//! The catalog follows the platform and survives a failed refresh.

use butler::demo;
use butler::service::RequestService;
use butler::sim::{FaultConfig, Op, SimPlatform};
use butler::store::MemoryStore;
use butler::vm_spec::{SpecErrorCode, VmSpec};
use std::sync::Arc;

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

    let changes = svc.refresh_catalog(&sim).await.unwrap();
    assert_eq!(changes.clusters_added, vec!["c3-lima".to_string()]);
    assert_eq!(changes.images_changed, vec!["ubuntu24".to_string()]);
    assert_eq!(changes.environments_changed, vec!["PRD".to_string()]);
    assert!(svc.price(&on_lima).is_ok());
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
    assert!(svc.refresh_catalog(&sim).await.is_err());
    assert!(svc.price(&on_lima).is_ok());
    assert!(svc.refresh_catalog(&sim).await.is_err());
    sim.clear_faults();
    assert!(
        svc.refresh_catalog(&sim).await.unwrap().is_empty(),
        "nothing changed since"
    );
}

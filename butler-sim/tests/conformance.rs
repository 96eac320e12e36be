use butler_core::backend::{Capabilities, Capability, ClusterBackend};
use butler_core::testing::backend::{run_all, Fixture};
use butler_sim::SimPlatform;

#[tokio::test]
async fn simulator_passes_the_backend_conformance_suite() {
    let sim = SimPlatform::demo(11);
    let skipped = run_all(&sim, &Fixture::demo_platform(sim.clock(), "sim")).await;
    assert_eq!(
        skipped,
        Vec::<Capability>::new(),
        "the simulator has everything"
    );
}

/// A platform without the optional features: the suite skips their checks
/// (and says so), and each answers `Unsupported` rather than "none".
#[tokio::test]
async fn a_platform_without_optional_features_passes_with_their_checks_skipped() {
    let sim = SimPlatform::demo(12);
    sim.set_capabilities(Capabilities::none());
    assert_eq!(sim.capabilities(), Capabilities::none());
    let skipped = run_all(&sim, &Fixture::demo_platform(sim.clock(), "bare")).await;
    assert_eq!(
        skipped,
        vec![
            Capability::IdempotentCreate,
            Capability::Power,
            Capability::Protection,
            Capability::Migration,
            Capability::Reconfigure,
            Capability::VmMigration,
            Capability::LiveMigration,
            Capability::Delete
        ]
    );
}

/// The deadline layer every service puts around a backend forwards every
/// call: the suite through it skips nothing the simulator has (a call it
/// did not forward would answer the trait's default, `Unsupported`).
#[tokio::test]
async fn the_deadline_layer_passes_the_suite_with_nothing_lost() {
    use butler_core::resilience::Guarded;
    use std::sync::Arc;
    let sim = SimPlatform::demo(13);
    let guarded = Guarded::cluster(
        Arc::new(sim.clone()),
        sim.clock(),
        std::time::Duration::from_secs(3600),
    );
    let skipped = run_all(&guarded, &Fixture::demo_platform(sim.clock(), "guard")).await;
    assert_eq!(skipped, Vec::<Capability>::new());
}

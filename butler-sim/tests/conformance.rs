use butler_core::testing::backend::{run_all, Fixture};
use butler_sim::SimPlatform;

#[tokio::test]
async fn simulator_passes_the_backend_conformance_suite() {
    let sim = SimPlatform::demo(11);
    run_all(&sim, &Fixture::demo_platform(sim.clock(), "sim")).await;
}

use butler_core::testing::backend::{run_all, Fixture};
use butler_sim::SimPlatform;
use std::time::Duration;

#[tokio::test]
async fn simulator_passes_the_backend_conformance_suite() {
    let sim = SimPlatform::demo(11);
    let fx = Fixture {
        clock: sim.clock(),
        source: "c1-madrid".into(),
        destination: "c2-santiago".into(),
        project: "prod-project".into(),
        subnet: "vlan-10".into(),
        category: "Environment:Production".into(),
        image: Some(("rhel9".into(), 40)),
        prefix: "sim".into(),
        max_wait: Duration::from_secs(3600),
        poll: Duration::from_secs(5),
    };
    run_all(&sim, &fx).await;
}

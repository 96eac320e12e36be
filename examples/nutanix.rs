//! Lists clusters and validates a migration group through the Nutanix
//! adapter: against a real Prism when `BUTLER_NUTANIX_CONFIG` names a config
//! file (passwords in `BUTLER_NUTANIX_*_PASSWORD`), otherwise against the
//! fake Prism server serving a simulated 10,000-VM fleet with 20 ms latency.
//!
//! ```sh
//! cargo run --release --example nutanix --features fake-prism
//! BUTLER_NUTANIX_CONFIG=nutanix.toml BUTLER_NUTANIX_PC_PASSWORD=... \
//!   BUTLER_SOURCE=c1 BUTLER_DESTINATION=c2 BUTLER_VMS=vm1,vm2 \
//!   cargo run --release --example nutanix --features fake-prism
//! ```

use butler::auth::{Actor, Role};
use butler::backend::ClusterBackend;
use butler::nutanix::fake::FakePrism;
use butler::nutanix::{NutanixBackend, NutanixConfig};
use butler::sim::{fleet, SimClock, SimPlatform};
use butler::store::MemoryStore;
use butler::Butler;
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (config, source, destination, vms) = match std::env::var("BUTLER_NUTANIX_CONFIG") {
        Ok(path) => {
            let config = NutanixConfig::from_path(std::path::Path::new(&path))?;
            let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
            let vms: Vec<String> = env("BUTLER_VMS")?
                .split(',')
                .map(|s| s.trim().to_string())
                .collect();
            println!("real Prism at {}", config.prism_central.url);
            (
                config,
                env("BUTLER_SOURCE")?,
                env("BUTLER_DESTINATION")?,
                vms,
            )
        }
        Err(_) => {
            // The fake's platform lives in the same "now" as Butler's real clock.
            let sim = SimPlatform::demo_builder(1)
                .clock(Arc::new(SimClock::virtual_at(chrono::Utc::now())))
                .build();
            let spec = fleet::FleetSpec {
                vms: 10_000,
                groups: 100,
                mix: fleet::ProblemMix::REALISTIC,
                ..Default::default()
            };
            let f = fleet::generate(&sim, &spec);
            let fake = FakePrism::start(sim).await?;
            fake.set_latency(Duration::from_millis(20));
            println!(
                "fake Prism at http://{} (10,000 VMs, 100 protection domains, 20 ms per request)",
                fake.addr()
            );
            (fake.config().await, f.source, f.destination, f.vm_names)
        }
    };
    let backend = Arc::new(NutanixBackend::new(&config)?);
    for c in backend.list_clusters().await? {
        println!("cluster {} ({})", c.name, c.uuid);
    }
    let ops = Actor::trusted("olga", [Role::Operator])?;
    // Butler talks HTTP in real time: the system clock (the builder's
    // default for a real platform), whatever clock the fake's simulator has.
    let butler = Butler::builder()
        .store(Arc::new(MemoryStore::new()))
        .platform(backend.clone())
        .catalog(butler::demo::catalog())
        .rate_book(butler::demo::rate_book())
        .build()?;
    let svc = butler.migrations();
    let g = svc.create_group(&ops, "nutanix-drill").await?;
    let edit = g.with_members(&source, &destination, vms);
    let g = svc.save(&ops, &edit).await?;
    let before = backend.requests();
    let t = Instant::now();
    svc.refresh(&ops, g.id).await?;
    let (g, facts, report) = svc.validate(&ops, g.id).await?;
    let took = t.elapsed();
    println!(
        "refresh + validate of {} VMs: {} HTTP requests, {:.0} ms; {} errors, {} warnings",
        g.vms.len(),
        backend.requests() - before,
        took.as_secs_f64() * 1e3,
        report.errors,
        report.warnings
    );
    for f in report.findings.iter().take(5) {
        println!(
            "  {:?} [{}] {}",
            f.severity(),
            f.code,
            f.message(&g, &facts)
        );
    }
    Ok(())
}

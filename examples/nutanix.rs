//! Lists clusters and validates a migration group through the Nutanix
//! adapter: against a real Prism when `BUTLER_NUTANIX_CONFIG` names a config
//! file (passwords in `BUTLER_NUTANIX_*_PASSWORD`), otherwise against the
//! fake Prism server serving a simulated 10,000-VM fleet with 20 ms latency.
//!
//! On the fake it then provisions one request end to end: the VM on the
//! fake Prism with its cost-center category, the host in the real Icinga2
//! when one runs (`BUTLER_TEST_ICINGA_*`, as `scripts/services/icinga2.sh`
//! writes them; otherwise the simulator's monitor), and one signed webhook
//! delivery to a receiver on loopback.
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
use butler::sim::{fleet, SimPlatform};
use butler::store::MemoryStore;
use butler::Butler;
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut fake_prism = None;
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
            // Tasks settle at once: Butler waits in real time over HTTP.
            let sim = SimPlatform::realtime_demo_builder(1).build();
            let spec = fleet::FleetSpec {
                vms: 10_000,
                groups: 100,
                mix: fleet::ProblemMix::REALISTIC,
                ..Default::default()
            };
            let f = fleet::generate(&sim, &spec);
            let fake = FakePrism::start(sim.clone()).await?;
            fake_prism = Some((fake.clone(), sim));
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
    if let Some((fake, sim)) = fake_prism {
        provision_one(&fake, &sim).await?;
    }
    Ok(())
}

/// One request through the whole stack, wired from a deployment file.
async fn provision_one(fake: &FakePrism, sim: &SimPlatform) -> Result<(), Box<dyn Error>> {
    use butler::webhook::receiver::Receiver;
    const SECRET: &str = "example-secret-of-at-least-32-bytes!";
    let receiver = Receiver::start(SECRET.as_bytes()).await?;
    let icinga = ["URL", "USER", "PASSWORD", "CA"]
        .map(|k| std::env::var(format!("BUTLER_TEST_ICINGA_{k}")).ok());
    let mut text = fake.config_toml().await;
    if let [Some(url), Some(user), Some(_), Some(ca)] = &icinga {
        text.push_str(&format!(
            "\n[monitoring.icinga]\nurl = {url:?}\nusername = {user:?}\nca_cert = {ca:?}\n"
        ));
    }
    text.push_str(&format!(
        "\n[billing.nutanix_category]\nkey = \"CostCenter\"\n\
         [billing.webhook]\nurl = {:?}\nallow_plain_http = true\n",
        receiver.url()
    ));
    let icinga_password = icinga[2].clone();
    let env = |k: &str| match k {
        "BUTLER_ICINGA_PASSWORD" => icinga_password.clone(),
        "BUTLER_BILLING_WEBHOOK_SECRET" => Some(SECRET.to_string()),
        _ => Some(butler::nutanix::fake::PASSWORD.to_string()),
    };
    let mut deployment = butler::deployment::Deployment::from_toml(&text, env)?;
    let monitored_by = if deployment.monitor.is_some() {
        "the real Icinga2"
    } else {
        deployment.monitor = Some(Arc::new(sim.clone()));
        "the simulator's monitor (no Icinga2 running)"
    };
    let mut engine = butler::engine::EngineConfig {
        task_poll: Duration::from_millis(50),
        ..Default::default()
    };
    for (a, b) in [("c1-madrid", "c2-santiago"), ("c2-santiago", "c1-madrid")] {
        engine.protection.remote_sites.insert(a.into(), b.into());
    }
    let butler = deployment
        .apply(
            Butler::builder()
                .store(Arc::new(MemoryStore::new()))
                .catalog(butler::demo::catalog())
                .rate_book(butler::demo::rate_book()),
            engine,
        )
        .build()?;
    let ana = Actor::trusted("ana", [Role::Requester])?;
    let bea = Actor::trusted("bea", [Role::Approver])?;
    let svc = butler.requests();
    // The catalog follows Prism: each cluster's VLANs and storage
    // containers, each project's clusters, which categories exist.
    let admin = Actor::trusted("ada", [Role::Admin])?;
    let changes = svc
        .refresh_catalog(&admin, butler.platform().as_ref())
        .await?;
    let catalog = svc.catalog();
    for c in &catalog.clusters {
        println!(
            "catalog: cluster {} has VLANs {:?} and storage containers {:?}",
            c.name, c.vlans, c.storage_containers
        );
    }
    println!(
        "catalog: environment categories missing on Prism: {:?}",
        changes.categories_missing
    );
    let name = format!("demo{}", std::process::id());
    let r = svc.create(&ana, butler::demo::spec(&name)).await?;
    let r = svc.submit(&ana, r.id, r.version).await?;
    let r = svc.approve(&bea, r.id, r.version).await?;
    let engine = butler.engine().ok_or("the deployment provisions")?;
    let t = Instant::now();
    engine.run_until_idle().await?;
    let r = svc.get(&bea, r.id).await?;
    let vm = sim.vm(&r.platform_vm_name()).ok_or("VM missing")?;
    println!(
        "\nrequest #{} {:?} in {:.0} ms: VM {} at {:?} with categories {:?}, disks on {:?}; monitored by {monitored_by}; {} webhook delivery(ies), {} activation",
        r.id.0,
        r.state,
        t.elapsed().as_secs_f64() * 1e3,
        vm.name,
        vm.ip_addresses,
        vm.categories,
        sim.vm_storage_container(&vm.name).unwrap_or_default(),
        receiver.deliveries(),
        receiver.activations().len()
    );
    Ok(())
}

//! Runs the fake Prism (Prism Central v3 + a Prism Element v2 per cluster)
//! over a simulated fleet, for scripts and the Python tests to talk to over
//! HTTP as they would to a real Prism. Writes the adapter's config file,
//! prints `ready <address>` and serves until its standard input closes.
//!
//! ```sh
//! cargo run --example fake_prism --features fake-prism -- nutanix.toml 200
//! # passwords: every BUTLER_NUTANIX_*_PASSWORD is butler_nutanix::fake::PASSWORD
//! ```

use butler::nutanix::fake::{FakePrism, PASSWORD};
use butler::sim::{fleet, SimPlatform};
use std::error::Error;
use std::io::Read;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: fake_prism CONFIG_PATH [VMS [GROUPS]]")?;
    let vms: usize = args.next().map(|v| v.parse()).transpose()?.unwrap_or(100);
    let groups: usize = args
        .next()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or((vms / 10).max(1));
    // Tasks settle at once and the platform lives in the wall clock's now:
    // a client waits in real time over HTTP.
    let sim = SimPlatform::realtime_demo_builder(1).build();
    let f = fleet::generate(
        &sim,
        &fleet::FleetSpec {
            vms,
            groups,
            ..Default::default()
        },
    );
    // Three VMs protected by policy only (no protection domain, unlike the
    // fleet's), for migrations by Leap recovery plans.
    use butler::backend::{ClusterBackend, VmCreate};
    for i in 1..=3 {
        let vm = VmCreate::new(format!("leap-web-{i}"), f.source.clone())
            .project("prod-project")
            .category("DataProtection:Gold")
            .cpu(2, 1)
            .ram_gib(4)
            .disks_gib(vec![40])
            .nics(vec!["vlan-10".into()]);
        sim.create_vm(&vm).await?;
    }
    let fake = FakePrism::start(sim).await?;
    // Leap protection policies: production VMs (the fleet's category), for
    // adapters configured to protect by policy and for the SDKs; and
    // `DataProtection:Gold`, the `leap-web-*` VMs'.
    fake.add_protection_policy("gold", "Environment:Production");
    fake.add_protection_policy("gold-dr", "DataProtection:Gold");
    std::fs::write(&path, fake.config_toml().await)?;
    println!("ready {} password {PASSWORD}", fake.addr());
    println!(
        "fleet {} {} {}",
        f.source,
        f.destination,
        f.vm_names.join(",")
    );
    // Serve until whoever started us closes our standard input.
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
    Ok(())
}

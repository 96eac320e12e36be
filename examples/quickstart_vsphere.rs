//! The quickstart on VMware vSphere: one request validated, approved and
//! provisioned on a vCenter, then a migration group of ten VMs validated
//! and relocated from one cluster to another, with its report.
//!
//! The vCenter is named by a deployment file (`[vcenter]`, see
//! `butler_vsphere::config`; the password in `BUTLER_VSPHERE_PASSWORD`),
//! or, without one, by the simulator `scripts/services/vcsim.sh` runs
//! (`BUTLER_TEST_VCSIM_*`). The catalog is the demo one pointed at the
//! vCenter's first two clusters, their first port group and datastore.
//!
//! ```sh
//! bash scripts/services/vcsim.sh start /tmp/vcsim && . /tmp/vcsim/env
//! cargo run --example quickstart_vsphere --features vsphere
//! BUTLER_VSPHERE_PASSWORD=... cargo run --example quickstart_vsphere --features vsphere -- vsphere.toml
//! ```

use butler::auth::{Actor, Role};
use butler::backend::{SystemClock, VmCreate};
use butler::deployment::Deployment;
use butler::engine::EngineConfig;
use butler::migration::{Confirmations, MigrationConfig, MigrationService};
use butler::store::MemoryStore;
use butler::Butler;
use std::error::Error;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let tables = "[monitoring]\nenabled = false\n\n[billing]\nenabled = false\n";
    let deployment = match std::env::args().nth(1) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)?;
            Deployment::from_toml(&format!("{text}\n{tables}"), |k| std::env::var(k).ok())?
        }
        None => {
            let vc = butler::vsphere::testing::LiveVcsim::from_env().ok_or(
                "name a deployment file, or run scripts/services/vcsim.sh and source its env",
            )?;
            Deployment::from_toml(&vc.toml(tables), vc.env())?
        }
    };
    let platform = deployment.platform.clone();

    // The demo catalog on this vCenter's names.
    let clusters = platform.list_clusters().await?;
    let [source, destination] = match clusters.as_slice() {
        [a, b, ..] => [a.name.clone(), b.name.clone()],
        _ => return Err("the vCenter needs two clusters".into()),
    };
    let subnet = platform
        .list_subnets()
        .await?
        .into_iter()
        .find(|s| s.cluster.as_deref() == Some(source.as_str()))
        .ok_or("no port group on the first cluster")?
        .name;
    let datastore = platform
        .list_storage_containers()
        .await?
        .into_iter()
        .find(|d| d.cluster == source)
        .ok_or("no datastore on the first cluster")?
        .name;
    let mut catalog = butler::demo::catalog();
    catalog.clusters = vec![
        butler::catalog::Cluster::named(&source),
        butler::catalog::Cluster::named(&destination),
    ];
    for e in &mut catalog.environments {
        e.project = "prod-project".into();
        e.vlans = vec![subnet.clone()];
    }
    for d in &mut catalog.disk_types {
        d.storage_container = Some(datastore.clone());
    }
    println!(
        "vCenter: clusters {source} → {destination}, port group {subnet}, datastore {datastore}"
    );

    // Day 1: a request, reviewed and provisioned.
    let butler = deployment
        .apply(
            Butler::builder()
                .store(Arc::new(MemoryStore::new()))
                .clock(Arc::new(SystemClock))
                .catalog(catalog)
                .rate_book(butler::demo::rate_book()),
            EngineConfig::default(),
        )
        .build()?;
    let ana = Actor::trusted("ana", [Role::Requester])?;
    let bea = Actor::trusted("bea", [Role::Approver])?;
    let requests = butler.requests();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis()
        % 100_000_000;
    let mut spec = butler::demo::spec(&format!("qs{stamp}"));
    spec.cluster = source.clone();
    spec.nics = vec![subnet.clone()];
    let r = requests.create(&ana, spec).await?;
    println!("request {} priced at {} a month", r.id, r.estimate.total);
    let r = requests.submit(&ana, r.id, r.version).await?;
    let r = requests.approve(&bea, r.id, r.version).await?;
    butler
        .engine()
        .ok_or("the deployment provisions")?
        .run_until_idle()
        .await?;
    let r = requests.get(&bea, r.id).await?;
    println!(
        "request {}: {:?} as VM {}",
        r.id,
        r.state,
        r.platform_vm_name()
    );

    // A migration group: that VM and nine more, relocated one by one.
    let mut names = vec![r.platform_vm_name()];
    for i in 1..10 {
        let name = format!("qs{stamp}-m{i}");
        let vm = VmCreate::new(&name, &source)
            .project("prod-project")
            .cpu(1, 1)
            .ram_gib(1)
            .disks_gib(vec![10])
            .nics(vec![subnet.clone()]);
        platform.create_vm(&vm).await?;
        names.push(name);
    }
    let migrations = MigrationService::new(
        Arc::new(MemoryStore::new()),
        platform.clone(),
        Arc::new(SystemClock),
        MigrationConfig {
            poll: std::time::Duration::from_millis(200),
            ..MigrationConfig::default()
        },
    );
    let ops = Actor::trusted("olga", [Role::Operator])?;
    let g = migrations.create_group(&ops, &format!("qs{stamp}")).await?;
    let g = migrations
        .save(&ops, &g.with_members(&source, &destination, names))
        .await?;
    // The first VM runs (its request asked for it): the group has Butler
    // power it off for the move, and on again on arrival.
    let g = migrations
        .set_power_off(&ops, g.id, g.version, true)
        .await?;
    migrations.refresh(&ops, g.id).await?;
    let (g, facts, v) = migrations.validate(&ops, g.id).await?;
    for f in &v.findings {
        println!("{:?} {}", f.severity(), f.message(&g, &facts));
    }
    let token = v.token().ok_or("no token")?;
    let confirmed = Confirmations { power_off: true };
    let report = migrations
        .migrate_with(&ops, token, confirmed)
        .await?
        .wait()
        .await?;
    println!("{report}");
    Ok(())
}

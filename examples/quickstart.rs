//! The Butler story, end to end: the demo catalog, the simulated platform
//! and the embedded SQLite store (a file under `target/quickstart/`).
//!
//! Run: `cargo run --example quickstart`

use butler::auth::{Actor, Role};
use butler::backend::{PowerChange, Schedule};
use butler::engine::EngineConfig;
use butler::inventory::{PowerRequest, VmQuery, VmService};
use butler::migration::{MigrationConfig, MigrationService};
use butler::notify::{Event, Notifier, NotifyError};
use butler::request::RequestState;
use butler::sim::SimPlatform;
use butler::store::RequestQuery;
use butler::vm_spec::VmSpec;
use butler::Butler;
use butler::{demo, ButlerError};
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Prints provisioning events as they happen (delivery is off the workflow's path).
struct Printer;

#[async_trait::async_trait]
impl Notifier for Printer {
    fn name(&self) -> &str {
        "printer"
    }

    async fn notify(&self, e: &Event) -> Result<(), NotifyError> {
        if matches!(
            e.to,
            RequestState::Provisioning | RequestState::Completed | RequestState::Error
        ) {
            println!(
                "  [event] {} → {}: {}",
                e.from.map(|s| s.as_str()).unwrap_or("new"),
                e.to,
                e.summary
            );
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from("target/quickstart");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("butler.sqlite");
    for stale in ["butler.sqlite", "butler.sqlite-wal", "butler.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let sim = SimPlatform::demo(42);
    // Remote backups replicate to the one remote site each simulated
    // cluster has; `engine_config.protection.remote_sites` would choose.
    let engine_config = EngineConfig::default();
    // The one composition root: store, platform, clock, catalog, rates,
    // notifiers, engine and migration settings.
    let butler = Butler::builder()
        .sqlite(&db)
        .simulator(sim.clone())
        .notifier(Arc::new(Printer))
        .engine_config(engine_config)
        .migration_config(MigrationConfig {
            recreate_schedules: vec![Schedule::remote("c1-madrid", 60, 24)],
            ..MigrationConfig::default()
        })
        .build()?;
    // Users are stored; every Actor below comes from a login.
    let users = butler.users();
    let root = users
        .bootstrap_admin("root", "root's demo password")
        .await?;
    for (name, role) in [
        ("ana", Role::Requester),
        ("bea", Role::Approver),
        ("olga", Role::Operator),
    ] {
        users
            .add(&root, name, [role], &format!("{name}'s demo password"))
            .await?;
    }
    let service = butler.requests();
    println!("store: SQLite file {}", db.display());
    let ana = users.authenticate("ana", "ana's demo password").await?;
    let bea = users.authenticate("bea", "bea's demo password").await?;

    println!("\n== 1. Ana asks for a VM, with two mistakes ==");
    let draft = VmSpec {
        name: "web 01".into(),
        nics: vec!["vlan-30".into()],
        image: Some("rhel9".into()),
        disks_gib: vec![20],
        ..demo::spec("web01")
    };
    match service.create(&ana, draft.clone()).await {
        Err(ButlerError::Validation(problems)) => {
            for p in &problems.0 {
                println!("  refused: [{}] {}: {}", p.code, p.field, p.message);
            }
        }
        other => return Err(format!("expected a validation error, got {other:?}").into()),
    }

    println!("\n== 2. She fixes them and submits ==");
    let fixed = VmSpec {
        name: "web01".into(),
        nics: vec!["vlan-10".into()],
        ..draft
    };
    let r = service.create(&ana, fixed.clone()).await?;
    println!(
        "  request {} created; disk 0 raised to the image size: {:?} GiB",
        r.id, r.spec.disks_gib
    );
    println!(
        "  cost center {} (derived), project {}",
        r.spec.derived().cost_center,
        r.spec.derived().project
    );
    println!("  {}", r.estimate.to_string().replace('\n', "\n  "));
    let r = service.submit(&ana, r.id, r.version).await?;
    println!("  state: {}", r.state);

    println!("\n== 3. Bea (approver) gives it more RAM and a data disk ==");
    let reviewed = VmSpec {
        ram_gib: 8,
        disks_gib: vec![40, 100],
        ..fixed
    };
    let r = service.review(&bea, r.id, r.version, reviewed).await?;
    println!("  state: {}", r.state);

    println!("\n== 4. Ana tries to cancel; it is no longer hers to cancel ==");
    if let Err(e) = service.cancel(&ana, r.id, r.version, None).await {
        println!("  refused: {e}");
    }

    println!("\n== 5. Bea approves ==");
    let r = service.approve(&bea, r.id, r.version).await?;
    println!(
        "  state: {}, approver: {}",
        r.state,
        r.approver.as_deref().unwrap_or("-")
    );

    println!("\n== 6. Butler provisions it on the simulated platform ==");
    let engine = butler.engine().ok_or("the simulator provisions")?;
    let summary = engine.run_until_idle().await?;
    tokio::time::sleep(Duration::from_millis(50)).await; // let the printer catch up
    let r = service.get(&bea, r.id).await?;
    println!(
        "  {} completed, {} failed; request {} is {}",
        summary.completed, summary.failed, r.id, r.state
    );
    let name = r.platform_vm_name();
    let vm = sim.vm(&name).ok_or("the VM is not on the platform")?;
    println!(
        "  VM {name} ({}) on {}, {:?}, project {:?}",
        vm.uuid, vm.cluster, vm.power, vm.project
    );
    println!(
        "  monitoring registrations: {}, billing activations: {}",
        sim.monitor_registrations(&name),
        sim.billing_activations(&name)
    );

    println!("\n== History of request {} ==", r.id);
    for h in &r.history {
        println!("  {h}");
    }

    println!("\n== 7. Bea exports the request list ==");
    let xlsx = dir.join("requests.xlsx");
    let n = service
        .export_xlsx_to_path(&bea, &RequestQuery::default(), &xlsx)
        .await?;
    println!("  {n} request(s) written to {}", xlsx.display());

    let olga = users.authenticate("olga", "olga's demo password").await?;
    migration_drill(butler.vms(), butler.migrations(), &olga, &name).await
}

/// A disaster-recovery drill: move the new VM to the other cluster.
async fn migration_drill(
    vms: &VmService,
    migrations: &MigrationService,
    olga: &Actor,
    vm: &str,
) -> Result<(), Box<dyn Error>> {
    println!("\n== 8. Olga (operator) builds a drill group ==");
    let g = migrations.create_group(olga, "dr-drill").await?;
    let g = migrations
        .set_source(olga, g.id, g.version, "c1-madrid")
        .await?;
    let g = migrations
        .set_destination(olga, g.id, g.version, "c2-santiago")
        .await?;
    let added = migrations.add_vm(olga, g.id, g.version, vm).await?;
    let g = migrations.group(olga, added.id).await?;
    let names: Vec<&str> = g.vms.iter().map(|v| v.name.as_str()).collect();
    println!(
        "  group {:?}: c1-madrid → c2-santiago, VMs {names:?}",
        g.name
    );

    println!("\n== 9. Validate ==");
    migrations.refresh(olga, g.id).await?;
    let (g, facts, report) = migrations.validate(olga, g.id).await?;
    for f in &report.findings {
        println!(
            "  {:?} [{}] {}",
            f.severity(),
            f.code,
            f.message(&g, &facts)
        );
    }
    println!(
        "  {} error(s), {} warning(s): can migrate: {}",
        report.errors,
        report.warnings,
        report.can_migrate()
    );

    println!("\n== 10. Fix it: power the VM off from the inventory, validate again ==");
    let all = vms.list(olga, &VmQuery::default()).await?;
    let Some(rec) = all.items.iter().find(|r| r.name == vm) else {
        return Err(format!("{vm} is not in the inventory").into());
    };
    let off = PowerRequest {
        change: PowerChange::GuestShutdown,
        force_after_deadline: true,
    };
    let outcome = vms.power(olga, rec.id, off).await?;
    println!(
        "  {} ({} of {}, request {:?}): {outcome:?}",
        rec.name,
        rec.display_name,
        rec.owner,
        rec.request.map(|r| r.0)
    );
    migrations.refresh(olga, g.id).await?;
    let (_, _, report) = migrations.validate(olga, g.id).await?;
    println!(
        "  {} error(s), {} warning(s): can migrate: {}",
        report.errors,
        report.warnings,
        report.can_migrate()
    );

    println!("\n== 11. Migrate ==");
    let run = migrations
        .migrate(
            olga,
            report.token().ok_or("the service signs every validation")?,
        )
        .await?;
    let mut events = run.events();
    while let Some(e) = events.next().await {
        let bar = "#".repeat((e.percent / 5.0) as usize);
        let what =
            e.vm.as_deref()
                .or(e.protection_group.as_deref())
                .unwrap_or("group");
        println!(
            "  [{bar:<20}] {:>3.0}% {:?} {what} attempt {}: {:?}",
            e.percent, e.step, e.attempt, e.outcome
        );
    }
    let done = run.wait().await?;
    print!("  {}", done.to_string().replace('\n', "\n  "));

    println!("\n== 12. Clone the return group and switch it ==");
    let back = migrations.clone_group(olga, g.id, None).await?;
    let back = migrations.switch(olga, back.id, back.version).await?;
    println!(
        "  {:?}: {} → {} with {} VM(s)",
        back.name,
        back.source.as_deref().unwrap_or("?"),
        back.destination.as_deref().unwrap_or("?"),
        back.vms.len()
    );
    Ok(())
}

//! The Butler story, end to end, on the demo catalog and the in-memory store.
//!
//! Run: `cargo run --example quickstart`

use butler::auth::{Actor, Role};
use butler::service::RequestService;
use butler::spec::VmSpec;
use butler::store::MemoryStore;
use butler::{demo, ButlerError};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), ButlerError> {
    let service = RequestService::new(
        Arc::new(MemoryStore::new()),
        demo::catalog(),
        demo::rate_book(),
    );
    let ana = Actor::new("ana", [Role::Requester]);
    let bea = Actor::new("bea", [Role::Approver]);

    println!("== 1. Ana asks for a VM, with two mistakes ==");
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
        other => println!("  unexpected: {other:?}"),
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
        r.derived.cost_center, r.derived.project
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

    println!("\n== History of request {} ==", r.id);
    for h in &r.history {
        println!("  {h}");
    }
    Ok(())
}

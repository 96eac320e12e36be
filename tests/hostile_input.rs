//! Careless and hostile input through the public API: every bad input a
//! typed error that changes nothing, never a panic, never unbounded work.

mod common;

use butler::auth::{Actor, Role};
use butler::migration::{GroupError, MigrationConfig, MigrationService};
use butler::request::RequestState;
use butler::sim::SimPlatform;
use butler::store::{MemoryStore, RequestQuery};
use butler::ButlerError;
use common::{ana, bea, World};
use std::sync::Arc;

#[tokio::test]
async fn reasons_are_bounded_and_cannot_forge_log_lines() {
    let w = World::new(SimPlatform::demo(1), Arc::new(MemoryStore::new()));
    let r = w
        .svc
        .create(&ana(), butler::demo::spec("web01"))
        .await
        .unwrap();
    let r = w.svc.submit(&ana(), r.id, r.version).await.unwrap();
    let long = "x".repeat(butler::service::MAX_REASON_CHARS + 1);
    assert!(matches!(
        w.svc.reject(&bea(), r.id, r.version, &long).await,
        Err(ButlerError::Invalid(m)) if m.contains("at most 2000")
    ));
    assert_eq!(w.get(r.id).await, r, "nothing changed");
    let forged = "too big\n2026-01-01T00:00:00Z INFO request #1 approve by boss";
    let r = w.svc.reject(&bea(), r.id, r.version, forged).await.unwrap();
    let note = r.history.last().unwrap().note.clone().unwrap();
    assert!(
        !note.contains('\n') && note.contains("too big 2026"),
        "{note:?}"
    );
    assert_eq!(r.state, RequestState::Rejected);
}

#[tokio::test]
async fn exports_to_a_path_never_follow_planted_links() {
    let w = World::new(SimPlatform::demo(2), Arc::new(MemoryStore::new()));
    w.approved("web01").await;
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let out = dir.path().join("requests.xlsx");
    // The old predictable temporary name, and the target itself, as links.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&victim, dir.path().join("requests.xlsx.partial")).unwrap();
        std::os::unix::fs::symlink(&victim, &out).unwrap();
    }
    let n = w
        .svc
        .export_xlsx_to_path(&bea(), &RequestQuery::default(), &out)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced, not followed"
    );
    assert!(
        std::fs::read(&out).unwrap().starts_with(b"PK"),
        "an .xlsx (zip)"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".butler-export-")
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn saving_a_whole_group_is_checked_like_single_edits() {
    let sim = SimPlatform::demo(3);
    let svc = MigrationService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(sim.clone()),
        sim.clock(),
        MigrationConfig::default(),
    );
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&olga, "g").await.unwrap();
    let unknown_cluster = g
        .clone()
        .with_members("c1-madrid", "c9-nowhere", ["vm1".to_string()]);
    assert!(matches!(
        svc.save(&olga, &unknown_cluster).await,
        Err(ButlerError::Invalid(m)) if m.contains("c9-nowhere")
    ));
    for bad in [
        "".to_string(),
        "  ".into(),
        "a\0b".into(),
        "x".repeat(10 << 20),
    ] {
        let edit = g
            .clone()
            .with_members("c1-madrid", "c2-santiago", [bad.clone()]);
        match svc.save(&olga, &edit).await {
            Err(ButlerError::Group(GroupError::InvalidVmName(shown))) => {
                assert!(shown.chars().count() <= 64, "echo truncated")
            }
            other => panic!("{:?} accepted: {other:?}", &bad[..bad.len().min(8)]),
        }
    }
    assert_eq!(svc.group(&olga, g.id).await.unwrap(), g, "nothing stored");
}

#[tokio::test]
async fn group_names_that_only_look_alike_are_one_name_or_refused() {
    let sim = SimPlatform::demo(4);
    let svc = MigrationService::new(
        Arc::new(butler::store::SqliteStore::open_in_memory().unwrap()),
        Arc::new(sim.clone()),
        sim.clock(),
        MigrationConfig::default(),
    );
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    let g = svc.create_group(&olga, "Drill Sur").await.unwrap();
    for twin in ["drill sur", "DRILL SUR", " Drill Sur "] {
        assert!(
            svc.create_group(&olga, twin).await.is_err(),
            "{twin:?} was accepted next to {:?}",
            g.name
        );
    }
    // "é" typed as e + combining accent is the same name as "é".
    let a = svc.create_group(&olga, "Migraci\u{f3}n").await.unwrap();
    assert!(svc.create_group(&olga, "Migracio\u{301}n").await.is_err());
    assert_eq!(a.name, "Migraci\u{f3}n");
    for invisible in ["Drill\u{200b}Sur", "\u{202e}ruS llirD", "Drill\u{feff}"] {
        assert!(matches!(
            svc.create_group(&olga, invisible).await,
            Err(ButlerError::Group(GroupError::InvalidName(_)))
        ));
    }
    assert_eq!(svc.find_groups(&olga, "").await.unwrap().len(), 2);
}

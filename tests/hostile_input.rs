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

/// A migration service on the demo simulator, and an operator.
fn migrations(seed: u64) -> (MigrationService, Actor) {
    let sim = SimPlatform::demo(seed);
    let svc = MigrationService::new(
        Arc::new(MemoryStore::new()),
        Arc::new(sim.clone()),
        sim.clock(),
        MigrationConfig::default(),
    );
    (svc, Actor::trusted("olga", [Role::Operator]).unwrap())
}

#[tokio::test]
async fn saving_a_whole_group_is_checked_like_single_edits() {
    let (svc, olga) = migrations(3);
    let g = svc.create_group(&olga, "g").await.unwrap();
    let unknown_cluster = g
        .clone()
        .with_members("c1-madrid", "c9-nowhere", ["vm1".to_string()]);
    assert!(matches!(
        svc.save(&olga, &unknown_cluster).await,
        Err(ButlerError::Refused(s)) if s.to_string().contains("c9-nowhere")
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

#[tokio::test]
async fn a_group_past_the_vm_limit_is_refused_before_any_per_vm_work() {
    let (svc, olga) = migrations(4);
    let g = svc.create_group(&olga, "huge").await.unwrap();
    // Empty names would each be refused; the count is refused first.
    let names = std::iter::repeat_n(String::new(), butler::limits::MAX_GROUP_VMS + 1);
    let huge = g.clone().with_members("c1-madrid", "c2-santiago", names);
    assert!(matches!(
        svc.save(&olga, &huge).await,
        Err(ButlerError::Group(GroupError::TooManyVms(n))) if n == butler::limits::MAX_GROUP_VMS + 1
    ));
    assert_eq!(svc.group(&olga, g.id).await.unwrap(), g, "nothing stored");
}

#[tokio::test]
async fn request_pages_are_bounded() {
    let w = World::new(SimPlatform::demo(5), Arc::new(MemoryStore::new()));
    w.approved("web01").await;
    for limit in [
        None,
        Some(butler::limits::MAX_PAGE_SIZE + 1),
        Some(usize::MAX),
    ] {
        let q = RequestQuery {
            limit,
            ..RequestQuery::default()
        };
        match w.svc.list(&bea(), &q).await {
            Err(ButlerError::Limit(e)) => {
                assert_eq!(
                    (e.field.as_str(), e.limit),
                    ("limit", butler::limits::MAX_PAGE_SIZE)
                )
            }
            other => panic!("limit {limit:?} accepted: {other:?}"),
        }
    }
    let extreme = RequestQuery {
        offset: usize::MAX,
        limit: Some(butler::limits::MAX_PAGE_SIZE),
        ..RequestQuery::default()
    };
    let page = w.svc.list(&bea(), &extreme).await.unwrap();
    assert_eq!((page.items.len(), page.total), (0, 1));
}

#[test]
fn catalogs_past_their_limits_are_refused_naming_the_field() {
    use butler::catalog::{Catalog, CatalogError, Cluster};
    let good = butler::demo::catalog();
    let with = |f: &dyn Fn(&mut Catalog)| {
        let mut c = good.clone();
        f(&mut c);
        Catalog::new(c)
    };
    let many = with(&|c| {
        c.clusters = (0..=butler::limits::MAX_CATALOG_ENTRIES)
            .map(|i| Cluster::named(format!("c{i}")))
            .collect()
    });
    assert!(matches!(many, Err(CatalogError::Limit(e)) if e.field == "clusters"));
    let control = with(&|c| c.clusters[0].name = "c1\u{1b}[2J".into());
    assert!(
        matches!(&control, Err(CatalogError::Invalid { entry, field: "name", reason }) if entry == "clusters[0]" && reason.contains("control")),
        "{control:?}"
    );
    let long = with(&|c| c.divisions[0].name = "d".repeat(10 << 20));
    match long {
        Err(e @ CatalogError::Invalid { .. }) => assert!(e.to_string().len() < 300, "echo cut"),
        other => panic!("{other:?}"),
    }
    let note = with(&|c| c.limits.max_note_chars = usize::MAX);
    assert!(matches!(note, Err(CatalogError::Limit(e)) if e.field == "limits.max_note_chars"));
    let text = format!("# {}\n", "x".repeat(butler::limits::MAX_CONFIG_BYTES));
    assert!(matches!(
        Catalog::from_toml_str(&text),
        Err(CatalogError::Limit(e)) if e.unit == "bytes"
    ));
    assert!(Catalog::new(good).is_ok());
}

#[test]
fn rate_cards_with_hostile_text_are_refused() {
    use butler::cost::{CostError, RateBook};
    let good = butler::demo::rate_book().cards().to_vec();
    let mut bad = good.clone();
    bad[0].currency = "UF\r\nfake".into();
    assert!(matches!(
        RateBook::new(bad),
        Err(CostError::InvalidCard { reason, .. }) if reason.contains("currency has control characters")
    ));
    let mut bad = good.clone();
    bad[0].version = "v".repeat(1 << 20);
    match RateBook::new(bad) {
        Err(e @ CostError::InvalidCard { .. }) => assert!(e.to_string().len() < 400, "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(RateBook::new(good).is_ok());
}

#[tokio::test]
async fn special_requirements_lose_control_characters_but_keep_lines() {
    let w = World::new(SimPlatform::demo(6), Arc::new(MemoryStore::new()));
    let spec = butler::vm_spec::VmSpec {
        special_requirement: "line one\n\tline two\u{1b}[31m red\u{7}".into(),
        ..butler::demo::spec("web01")
    };
    let r = w.svc.create(&ana(), spec).await.unwrap();
    assert_eq!(r.spec.special_requirement, "line one\n\tline two[31m red");
}

#[tokio::test]
async fn durations_of_forever_are_saturated_never_a_panic() {
    let w = World::new(SimPlatform::demo(7), Arc::new(MemoryStore::new()));
    let r = w.approved("forever").await;
    let mut c = World::engine_config("e1");
    c.lease_ttl = std::time::Duration::MAX;
    c.address_wait = std::time::Duration::MAX;
    c.retry.step_deadline = std::time::Duration::MAX;
    let summary = w.engine(c).run_until_idle().await.unwrap();
    assert_eq!(summary.completed, 1);
    assert_eq!(w.get(r.id).await.state, RequestState::Completed);
}

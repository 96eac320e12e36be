//! The service keeps itself fresh: the server starts the catalog's and
//! the migration groups' facts refreshers (`HttpSettings::catalog_refresh`,
//! `facts_refresh`), and neither needs anyone to ask.

mod common;

use butler::auth::{Actor, Role};
use std::sync::Arc;
use std::time::Duration;

/// Polls `check` every 20 ms for up to 10 s (the bound only keeps a
/// broken refresher from hanging the test).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} never happened");
}

/// The catalog page's line saying how old the catalog is.
fn age_line(page: &str) -> String {
    let start = page
        .find("id=\"catalog-age\"")
        .unwrap_or_else(|| panic!("no age: {page}"));
    let line = &page[start..];
    line[..line.find("</p>").unwrap_or(line.len())].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refreshes_the_catalog_and_the_groups_facts_by_itself() {
    // The platform has an image the configured catalog does not list.
    let sim = butler::sim::SimPlatform::realtime_demo_builder(42)
        .image("rocky-10", 30)
        .build();
    let b = butler::Butler::builder()
        .simulator(sim)
        .clock(Arc::new(butler::backend::SystemClock))
        .build()
        .expect("the demo builds");
    let legacy = butler_server::setup::demo_fleet(&b);
    assert!(!b
        .requests()
        .catalog()
        .images
        .iter()
        .any(|i| i.name == "rocky-10"));
    let settings = butler_server::HttpSettings {
        catalog_refresh: Some(Duration::from_millis(50)),
        facts_refresh: Some(Duration::from_millis(50)),
        ..butler_server::HttpSettings::default()
    };
    let s = common::start_with(b, settings).await;
    let butler = s.state.butler();
    eventually("the catalog refresh", || {
        butler
            .requests()
            .catalog()
            .images
            .iter()
            .any(|i| i.name == "rocky-10")
    })
    .await;
    // The console's catalog page says how old the catalog is.
    let admin = s.browser("admin").await;
    let page = s.page(&admin, "/admin/catalog").await;
    let age = age_line(&page);
    assert!(
        age.ends_with(" s") && !age.contains("Sin actualizar"),
        "{age}"
    );
    // A group made after the start gets its facts at a later pass.
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    let m = butler.migrations();
    let g = m.create_group(&olga, "fresh").await.unwrap();
    let g = m
        .set_source(&olga, g.id, g.version, "c1-madrid")
        .await
        .unwrap();
    m.add_vm(&olga, g.id, g.version, &legacy[0]).await.unwrap();
    // Nobody asks for them here: the server's refresher brings them. (No
    // check that they are missing first: on a loaded machine the 50 ms
    // refresher may pass between the edit and such a check.)
    eventually("the facts refresh", || m.facts(&olga, g.id).is_ok()).await;
}

/// The same against Prism over HTTP (the fake Prism, serving shapes
/// copied from real Prism Central answers): an image made on the platform
/// after the server started reaches the catalog with nobody asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refreshes_the_catalog_from_prism_by_itself() {
    use butler::nutanix::fake::{FakePrism, PASSWORD};
    let sim = butler::sim::SimPlatform::realtime_demo_builder(43).build();
    let fake = FakePrism::start(sim.clone()).await.unwrap();
    let deployment = butler::deployment::Deployment::from_toml(&fake.config_toml().await, |_| {
        Some(PASSWORD.to_string())
    })
    .unwrap();
    let builder = butler::Butler::builder()
        .store(Arc::new(butler::store::MemoryStore::new()))
        .clock(Arc::new(butler::backend::SystemClock))
        .catalog(butler::demo::catalog())
        .rate_book(butler::demo::rate_book());
    let b = deployment
        .apply(builder, butler::engine::EngineConfig::default())
        .build()
        .unwrap();
    let settings = butler_server::HttpSettings {
        catalog_refresh: Some(Duration::from_millis(50)),
        facts_refresh: None,
        ..butler_server::HttpSettings::default()
    };
    let s = common::start_with(b, settings).await;
    let butler = s.state.butler();
    let has = |name: &str| {
        butler
            .requests()
            .catalog()
            .images
            .iter()
            .any(|i| i.name == name)
    };
    assert!(!has("alma-10"));
    sim.add_image("alma-10", 40);
    eventually("the catalog refresh from Prism", || has("alma-10")).await;
}

#[test]
fn refresh_intervals_come_from_the_configuration_and_zero_switches_one_off() {
    let c = butler_server::config::ServerConfig::from_toml(
        "[refresh]\ncatalog_minutes = 60\nfacts_minutes = 0\n",
    )
    .unwrap();
    assert_eq!(c.http.catalog_refresh, Some(Duration::from_secs(3600)));
    assert_eq!(c.http.facts_refresh, None);
    let d = butler_server::config::ServerConfig::from_toml("").unwrap();
    assert_eq!(d.http.catalog_refresh, Some(Duration::from_secs(15 * 60)));
    assert_eq!(d.http.facts_refresh, Some(Duration::from_secs(5 * 60)));
    let bad = butler_server::config::ServerConfig::from_toml("[refresh]\nfacts_minutes = -1\n");
    assert!(bad.is_err());
}

/// A VM added to a group after its last facts refresh is shown as not
/// refreshed yet on the group's page, never with another VM's facts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_added_after_the_refresh_shows_no_facts_not_anothers() {
    let b = butler_server::setup::demo_builder(butler::Butler::builder())
        .build()
        .expect("the demo builds");
    let legacy = butler_server::setup::demo_fleet(&b);
    let settings = butler_server::HttpSettings {
        facts_refresh: None,
        catalog_refresh: None,
        ..butler_server::HttpSettings::default()
    };
    let s = common::start_with(b, settings).await;
    // Never read from the platform: the catalog page says so.
    let admin = s.browser("admin").await;
    let age = age_line(&s.page(&admin, "/admin/catalog").await);
    assert!(age.contains("Sin actualizar aún"), "{age}");
    let olga = Actor::trusted("olga", [Role::Operator]).unwrap();
    let m = s.state.butler().migrations().clone();
    let g = m.create_group(&olga, "late").await.unwrap();
    let g = m
        .set_source(&olga, g.id, g.version, "c1-madrid")
        .await
        .unwrap();
    // Added first, refreshed; then one added in front of it... at the end.
    let g = m.add_vm(&olga, g.id, g.version, &legacy[1]).await.unwrap();
    m.refresh(&olga, g.id).await.unwrap();
    let g = m.add_vm(&olga, g.id, g.version, &legacy[0]).await.unwrap();
    m.remove_vm(&olga, g.id, g.version, &legacy[1])
        .await
        .unwrap();
    let login = s.browser("olga").await;
    let page = s.page(&login, &format!("/groups/{}", g.id.0)).await;
    let row = page
        .split("<tr>")
        .find(|r| r.starts_with(&format!("<td>{}</td>", legacy[0])))
        .unwrap_or_else(|| panic!("no row for {}: {page}", legacy[0]));
    assert!(
        row.contains("Sin actualizar aún") || row.contains("Not refreshed yet"),
        "{row}"
    );
    assert!(!row.contains("c1-madrid"), "another VM's facts: {row}");
}

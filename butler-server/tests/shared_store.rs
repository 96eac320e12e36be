//! Two server instances on one PostgreSQL database (a real server started
//! by scripts/test.sh): what one writes the other reads, versions hold
//! across them, and personal API tokens work on either.

mod common;

use butler_server::config::ServerConfig;
use butler_server::setup;
use common::{spec, Login};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn instance(url: &str) -> butler::Butler {
    let config = ServerConfig::from_toml("[store]\npostgres_url_env = \"DB\"").expect("config");
    let u = url.to_string();
    let store = setup::open_store(&config, move |k| (k == "DB").then(|| u.clone()))
        .await
        .expect("the shared store");
    setup::demo_builder(butler::Butler::builder())
        .store(store)
        .build()
        .expect("butler")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_requests_versions_and_tokens() {
    let Some(url) = butler_postgres::testing::fresh_database("server").await else {
        return;
    };
    let a = common::start_with(instance(&url).await, butler_server::HttpSettings::default()).await;
    let b = common::serve(
        instance(&url).await,
        |s| s,
        butler_server::HttpSettings::default(),
        a.passwords.clone(),
    )
    .await;
    // Stored users log in on either instance.
    let ana_a = a.script("ana").await;
    let ana_b = b.script("ana").await;
    let r = a.post(&ana_a, "/api/requests", spec("pg01"), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_u64().unwrap_or(0);
    let seen = b.get(&ana_b, &format!("/api/requests/{id}")).await;
    assert_eq!(seen.etag(), r.etag());
    // A write through A makes B's version stale.
    let path = format!("/api/requests/{id}");
    let mut edited = spec("pg01");
    edited["ram_gib"] = json!(8);
    let w = a
        .raw(
            &ana_a,
            Method::PUT,
            &path,
            Some(edited.clone()),
            Some(&r.etag()),
        )
        .await;
    assert_eq!(w.status, StatusCode::OK);
    let stale = b
        .raw(&ana_b, Method::PUT, &path, Some(edited), Some(&r.etag()))
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    // A token made on A works on B (it is stored); a session is not (sessions
    // live in the process that opened them).
    let made = a
        .post(&ana_a, "/api/me/tokens", json!({"label": "both"}), None)
        .await;
    let token = Login {
        bearer: made.body["token"].as_str().map(str::to_string),
        ..Login::default()
    };
    assert_eq!(b.get(&token, "/api/me").await.body["user"], "ana");
    assert_eq!(
        b.get(&ana_a, "/api/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

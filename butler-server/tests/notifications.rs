//! Notifications from a running server: a request driven over HTTP is
//! announced by the webhook notifier (checked by the reference receiver)
//! and by e-mail (read back from a real SMTP server when one runs), and a
//! dead notification endpoint never holds the workflow up.

mod common;

use butler::store::Store;
use butler_server::config::ServerConfig;
use butler_server::setup;
use common::{spec, start_with};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "a notification secret of 32 bytes+";

async fn server(config_text: &str) -> common::TestServer {
    let config = ServerConfig::from_toml(config_text).expect("config");
    let store: Arc<dyn Store> =
        Arc::new(butler::store::SqliteStore::open_in_memory().expect("store"));
    let env = |k: &str| (k == butler_webhook::NOTIFY_SECRET_VAR).then(|| SECRET.to_string());
    let mut b = setup::demo_builder(butler::Butler::builder()).store(store.clone());
    for n in setup::notifiers(&config, &store, env).expect("notifiers") {
        b = b.notifier(n);
    }
    start_with(
        b.build().expect("butler"),
        butler_server::HttpSettings::default(),
    )
    .await
}

async fn submit_and_approve(s: &common::TestServer, name: &str) -> u64 {
    let ana = s.script("ana").await;
    let bea = s.script("bea").await;
    let r = s.post(&ana, "/api/requests", spec(name), None).await;
    let id = r.body["id"].as_u64().unwrap_or(0);
    let r = s
        .post(
            &ana,
            &format!("/api/requests/{id}/submit"),
            json!(null),
            Some(&r.etag()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .post(
            &bea,
            &format!("/api/requests/{id}/approve"),
            json!(null),
            Some(&r.etag()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for _ in 0..500 {
        if s.get(&bea, &format!("/api/requests/{id}")).await.body["state"] == "completed" {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("request {id} was not provisioned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_change_reaches_the_webhook_and_the_mailboxes() {
    let hook = butler_webhook::receiver::Receiver::start(SECRET.as_bytes())
        .await
        .expect("receiver");
    let smtp = butler_mail::testing::LiveSmtp::from_env();
    let mut text = format!(
        "[notifications.webhook]\nurl = \"{}\"\nallow_plain_http = true\ntimeout_secs = 5\n",
        hook.url()
    );
    if let Some(m) = &smtp {
        text.push_str(&format!(
            "[notifications.email]\nhost = \"{}\"\nport = {}\ntls_name = \"127.0.0.1\"\nca_file = \"{}\"\nfrom = \"butler@example.org\"\ndomain = \"example.org\"\nsupport = [\"support@example.org\"]\n",
            m.host, m.port, m.ca
        ));
    }
    let s = server(&text).await;
    let name = format!("ntf{}", std::process::id() % 100_000);
    let id = submit_and_approve(&s, &name).await;
    // created, requested, approved, provisioning (per step) and completed.
    let mut states = Vec::new();
    for _ in 0..200 {
        states = hook
            .activations()
            .values()
            .filter(|v| v["request"] == id)
            .filter_map(|v| v["to"].as_str().map(str::to_string))
            .collect::<Vec<_>>();
        if states.iter().any(|s| s == "completed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for want in ["created", "requested", "approved", "completed"] {
        assert!(
            states.iter().any(|s| s == want),
            "{want} missing from {states:?}"
        );
    }
    assert_eq!(hook.refused(), 0);
    if let Some(m) = smtp {
        let mut done = Vec::new();
        for _ in 0..100 {
            done = m.messages_containing(&format!("({name}) is completed"));
            if !done.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(done.len(), 1, "one message for the completion");
        assert!(
            done[0].contains("support@example.org"),
            "support hears of the end"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_notification_endpoint_does_not_hold_the_workflow_up() {
    let s = server(
        "[notifications.webhook]\nurl = \"http://127.0.0.1:9/hook\"\nallow_plain_http = true\ntimeout_secs = 30\n",
    )
    .await;
    // Provisioned although every delivery fails (and is retried).
    let id = submit_and_approve(&s, "deadhook").await;
    // An Admin sees the deliveries waiting in the outbox, and why.
    let admin = s.script("admin").await;
    let mut failed = Vec::new();
    for _ in 0..400 {
        let a = s.get(&admin, "/api/notifications/failed?limit=1000").await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        failed = a.body.as_array().cloned().unwrap_or_default();
        if failed
            .iter()
            .any(|d| d["request"] == id && d["to_state"] == "completed")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let completed = failed
        .iter()
        .find(|d| d["request"] == id && d["to_state"] == "completed")
        .unwrap_or_else(|| panic!("the completion's delivery is not listed: {failed:?}"));
    assert_eq!(completed["notifier"], "webhook");
    assert_eq!(completed["gave_up"], false);
    assert!(completed["attempts"].as_u64().unwrap_or(0) >= 1);
    assert!(completed["next_at"].is_string(), "{completed}");
    assert!(
        completed["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{completed}"
    );
    // Nobody else may look; a bad limit is a clear error.
    let bea = s.script("bea").await;
    let a = s.get(&bea, "/api/notifications/failed").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = s.get(&admin, "/api/notifications/failed?limit=0").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.body["detail"].as_str().unwrap_or("").contains("limit"),
        "{:?}",
        a.body
    );
}

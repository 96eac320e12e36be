//! The notification webhook against the reference receiver, which checks
//! the signature on the raw body it got.

use butler_core::backend::SystemClock;
use butler_core::notify::{Event, Notifier};
use butler_core::request::{RequestId, RequestState};
use butler_webhook::receiver::Receiver;
use butler_webhook::{WebhookConfig, WebhookNotifier};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn notifier(url: &str, secret: &str) -> WebhookNotifier {
    let text = format!("url = \"{url}\"\ntimeout_secs = 1\nallow_plain_http = true\n");
    let value: toml::Value = toml::from_str(&text).expect("toml");
    let cfg = WebhookConfig::from_value_with_secret(
        value,
        |k| (k == butler_webhook::NOTIFY_SECRET_VAR).then(|| secret.to_string()),
        butler_webhook::NOTIFY_SECRET_VAR,
    )
    .expect("config");
    WebhookNotifier::new(cfg, Arc::new(SystemClock), 3)
        .expect("notifier")
        .with_backoff(Duration::from_millis(10))
}

fn event(to: RequestState) -> Event {
    Event {
        request: RequestId(7),
        from: Some(RequestState::Created),
        to,
        actor: "ana".into(),
        at: chrono::Utc::now(),
        requester: "ana".into(),
        approver: None,
        notify_support: false,
        summary: "request #7 submit by ana".into(),
    }
}

#[tokio::test]
async fn each_event_arrives_signed_once_even_when_a_reply_is_lost() {
    let r = Receiver::start(SECRET.as_bytes()).await.expect("receiver");
    let n = notifier(&r.url(), SECRET);
    let stats = n.stats();
    // The first reply comes after the 1 s deadline: the notifier retries
    // with the same key, and the receiver keeps one copy.
    r.lose_next_replies(1, Duration::from_millis(1500));
    let e = event(RequestState::Requested);
    n.notify(&e).await.expect("delivered after a retry");
    n.notify(&event(RequestState::Approved))
        .await
        .expect("delivered");
    let got = r.activations();
    assert_eq!(got.len(), 2, "{got:?}");
    let first = &got[&WebhookNotifier::idempotency_key(&e)];
    assert_eq!(first["event"], "request.changed");
    assert_eq!(first["request"], 7);
    assert_eq!(first["to"], "requested");
    assert_eq!(stats.delivered.load(Ordering::Relaxed), 2);
    assert!(stats.retried.load(Ordering::Relaxed) >= 1);
    assert_eq!(r.refused(), 0, "every body's signature verified");
}

#[tokio::test]
async fn a_refused_delivery_is_counted_not_retried_and_never_panics() {
    let r = Receiver::start(SECRET.as_bytes()).await.expect("receiver");
    let n = notifier(&r.url(), "another secret of at least 32 bytes!!");
    let stats = n.stats();
    let refused = n.notify(&event(RequestState::Requested)).await;
    assert!(
        refused.is_err_and(|e| !e.is_retryable()),
        "a 401 is for good"
    );
    assert_eq!(r.refused(), 1, "a 401 is not retried");
    assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
    assert!(r.activations().is_empty());
    // Nobody listening: every attempt fails, then it is counted.
    let gone = notifier("http://127.0.0.1:9/hook", SECRET);
    let s = gone.stats();
    let down = gone.notify(&event(RequestState::Requested)).await;
    assert!(
        down.is_err_and(|e| e.is_retryable()),
        "nobody listening may pass"
    );
    assert_eq!(s.failed.load(Ordering::Relaxed), 1);
    assert_eq!(s.retried.load(Ordering::Relaxed), 2);
}

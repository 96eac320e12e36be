//! The adapter against a real HTTP receiver on loopback that checks the
//! signature with its own code (constant-time HMAC verification), not the
//! sender's.

use butler_core::backend::{Billing, ErrorKind};
use butler_webhook::receiver::Receiver;
use butler_webhook::{WebhookBilling, WebhookConfig, SECRET_VAR};
use std::time::Duration;

const SECRET: &str = "a-shared-secret-of-at-least-32-bytes";

fn sender(url: &str, secret: &str, timeout_secs: u64) -> WebhookBilling {
    let text = format!("url = {url:?}\nallow_plain_http = true\ntimeout_secs = {timeout_secs}\n");
    let secret = secret.to_string();
    let c = WebhookConfig::from_toml(&text, |k| (k == SECRET_VAR).then(|| secret.clone())).unwrap();
    WebhookBilling::new(c).unwrap()
}

#[tokio::test]
async fn a_delivery_is_signed_keyed_and_carries_the_estimate() {
    let r = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let s = sender(&r.url(), SECRET, 5);
    let act = butler_core::testing::activation("web01-r1");
    assert!(
        !s.is_active("web01-r1").await.unwrap(),
        "a webhook cannot be asked"
    );
    s.activate(&act).await.unwrap();
    assert_eq!((r.deliveries(), r.refused()), (1, 0));
    let got = r.activations();
    let body = &got["butler-billing-web01-r1"];
    assert_eq!(body["event"], "billing.activate");
    assert_eq!(body["request"], 1);
    assert_eq!(body["vm"]["name"], "web01-r1");
    assert_eq!(body["cost_center"], act.cost_center.as_str());
    assert_eq!(body["currency"], act.estimate.currency.as_str());
    assert_eq!(body["monthly_total"], act.estimate.total.to_string());
    assert_eq!(body["effective_date"], "2026-03-01");
    assert_eq!(
        body["estimate"]["lines"].as_array().map(Vec::len),
        Some(act.estimate.lines.len())
    );
}

/// Posts a captured or forged delivery as an attacker would.
async fn post(url: &str, key: &str, timestamp: &str, signature: &str, body: &[u8]) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("Idempotency-Key", key)
        .header("X-Butler-Timestamp", timestamp)
        .header("X-Butler-Signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `v1=<hex>` over the canonical string, computed here from the
/// documented format, not with the sender's code.
fn forged(path: &str, timestamp: i64, key: &str, body: &[u8]) -> String {
    let head = format!("v1\nPOST\n{path}\n{timestamp}\n{key}\n");
    format!("v1={}", hmac_hex(&[head.as_bytes(), body]))
}

/// The hex HMAC-SHA256 of `parts`, one after the other, with the secret.
fn hmac_hex(parts: &[&[u8]]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A captured delivery sent again under a new idempotency key is refused
/// (the key is signed), sent again unchanged it is one activation still,
/// and a correctly signed delivery whose timestamp is an hour old is
/// refused; the signature's format, written here from the documentation,
/// is what the receiver accepts.
#[tokio::test]
async fn a_captured_delivery_cannot_be_replayed_as_a_new_activation() {
    let r = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let s = sender(&r.url(), SECRET, 5);
    s.activate(&butler_core::testing::activation("web09-r9"))
        .await
        .unwrap();
    let c = r
        .last_delivery()
        .expect("the delivery as it crossed the wire");
    assert_eq!(c.idempotency_key, "butler-billing-web09-r9");
    let url = r.url();
    let replay = |key: &'static str| post(&url, key, &c.timestamp, &c.signature, &c.body);
    assert_eq!(replay("butler-billing-web09-r9-again").await, 401);
    assert_eq!(replay("butler-billing-web09-r9").await, 200);
    assert_eq!(
        r.activations().len(),
        1,
        "the repeat is the same activation"
    );
    let now = chrono::Utc::now().timestamp();
    let key = "butler-billing-web10-r10";
    let fresh = forged("/hook", now, key, &c.body);
    assert_eq!(
        post(&url, key, &now.to_string(), &fresh, &c.body).await,
        200
    );
    let key = "butler-billing-web11-r11";
    let old = now - 3600;
    let stale = forged("/hook", old, key, &c.body);
    assert_eq!(
        post(&url, key, &old.to_string(), &stale, &c.body).await,
        401
    );
    // The body alone signed, as it once was: refused.
    let body_only = format!("sha256={}", hmac_hex(&[&c.body]));
    assert_eq!(
        post(&url, key, &now.to_string(), &body_only, &c.body).await,
        401
    );
    assert_eq!(r.activations().len(), 2);
}

#[tokio::test]
async fn repeats_are_one_activation_and_a_lost_reply_is_a_retryable_timeout() {
    let r = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let s = sender(&r.url(), SECRET, 1);
    let act = butler_core::testing::activation("web02-r2");
    r.lose_next_replies(1, Duration::from_millis(2500));
    let e = s.activate(&act).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.is_retryable());
    s.activate(&act).await.unwrap();
    s.activate(&act).await.unwrap();
    assert_eq!(r.deliveries(), 3);
    assert_eq!(r.activations().len(), 1, "one effective activation");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver_and_is_permanent() {
    let r = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let s = sender(&r.url(), "another-secret-also-at-least-32-bytes", 5);
    let e = s
        .activate(&butler_core::testing::activation("web03-r3"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert!(!e.is_retryable());
    assert_eq!((r.deliveries(), r.refused()), (0, 1));
    assert!(!format!("{s:?}").contains("another-secret"));
}

#[tokio::test]
async fn an_unreachable_receiver_is_a_retryable_error_naming_the_cause() {
    // A port nothing listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    drop(l);
    let e = sender(&url, SECRET, 2)
        .activate(&butler_core::testing::activation("web04-r4"))
        .await
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert!(e.message.contains("delivery failed"), "{e}");
}

/// A VM restored within its retirement's grace period starts a new life:
/// its activation and its next stop are new events for the receiver, and
/// each life's repeats are still one event.
#[tokio::test]
async fn a_restored_vm_is_billed_and_stopped_again_as_a_new_life() {
    use butler_core::backend::BillingStop;
    let r = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let s = sender(&r.url(), SECRET, 5);
    let first = butler_core::testing::activation("web03-r3");
    let stop = |restores| BillingStop {
        vm_name: "web03-r3".into(),
        vm_uuid: first.vm_uuid.clone(),
        cost_center: first.cost_center.clone(),
        request: 4,
        end_date: first.effective_date,
        restores,
    };
    let again = butler_core::backend::BillingActivation {
        request: 5,
        restores: 1,
        ..first.clone()
    };
    for _ in 0..2 {
        s.activate(&first).await.unwrap();
        s.stop(&stop(0)).await.unwrap();
        s.activate(&again).await.unwrap();
        s.stop(&stop(1)).await.unwrap();
    }
    let got = r.activations();
    let keys: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "butler-billing-stop-web03-r3",
            "butler-billing-stop-web03-r3-life1",
            "butler-billing-web03-r3",
            "butler-billing-web03-r3-life1",
        ]
    );
    assert_eq!(got["butler-billing-web03-r3-life1"]["restores"], 1);
    assert_eq!(got["butler-billing-web03-r3-life1"]["request"], 5);
}

fn charging_sender(r: &Receiver, secret: &str) -> WebhookBilling {
    let text = format!(
        "url = {:?}\ncharges_url = {:?}\nallow_plain_http = true\ntimeout_secs = 5\n",
        r.url(),
        r.charges_url()
    );
    let secret = secret.to_string();
    let c = WebhookConfig::from_toml(&text, |k| (k == SECRET_VAR).then(|| secret.clone())).unwrap();
    WebhookBilling::new(c).unwrap()
}

/// The receiver answers a signed `GET` with what its ledger charged: the
/// activation's total from its first day, the change's from its own,
/// through the stop; the sender reads it back. Unsigned or wrongly signed
/// asks are refused; a sender without `charges_url` does not report.
#[tokio::test]
async fn the_receiver_reports_what_it_charged_for_a_month() {
    use butler_core::showback::Month;
    use rust_decimal::Decimal;
    let r = Receiver::start(SECRET.as_bytes()).await.unwrap();
    let s = charging_sender(&r, SECRET);
    assert!(s.reports_charges());
    let act = butler_core::testing::activation("web01-r1");
    s.activate(&act).await.unwrap();
    let mut bigger = act.clone();
    bigger.request = 2;
    bigger.estimate.total = act.estimate.total * Decimal::from(2);
    bigger.effective_date = chrono::NaiveDate::from_ymd_opt(2026, 3, 16).unwrap();
    s.change(&bigger).await.unwrap();
    s.stop(&butler_core::backend::BillingStop {
        vm_name: "web01-r1".into(),
        vm_uuid: act.vm_uuid.clone(),
        cost_center: act.cost_center.clone(),
        request: 3,
        end_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 25).unwrap(),
        restores: 0,
    })
    .await
    .unwrap();
    let march: Month = "2026-03".parse().unwrap();
    let charges = s.charges(march).await.unwrap();
    assert_eq!(charges.len(), 1, "{charges:?}");
    let want = ((act.estimate.total * Decimal::from(15)
        + bigger.estimate.total * Decimal::from(10))
        / Decimal::from(30))
    .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    assert_eq!(charges[0].amount, want);
    assert_eq!(charges[0].vm_name, "web01-r1");
    assert_eq!(charges[0].currency, act.estimate.currency);
    assert!(s
        .charges("2026-04".parse().unwrap())
        .await
        .unwrap()
        .is_empty());

    // Unsigned, or signed with another secret: refused.
    let unsigned = reqwest::get(format!("{}?month=2026-03", r.charges_url()))
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 400);
    let e = charging_sender(&r, "another-secret-of-at-least-32-bytes!")
        .charges(march)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    // Without charges_url: not asked.
    let plain = sender(&r.url(), SECRET, 5);
    assert!(!plain.reports_charges());
    assert_eq!(
        plain.charges(march).await.unwrap_err().kind,
        ErrorKind::Unsupported
    );
}

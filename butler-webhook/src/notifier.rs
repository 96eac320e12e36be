//! Notifications as signed webhooks: each request event is one `POST` of
//! JSON, signed like billing deliveries (`X-Butler-Signature` over the
//! method, path, timestamp, key and body), with an
//! `Idempotency-Key` unique to the event so a receiver keeps one copy of
//! a delivery retried after a lost reply.

use crate::config::WebhookConfig;
use crate::sender::{client, sign_post, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use async_trait::async_trait;
use butler_core::backend::{Clock, ErrorKind};
use butler_core::notify::{Event, Notifier, NotifyError};
use secrecy::SecretString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The environment variable holding the notification webhook's secret.
pub const NOTIFY_SECRET_VAR: &str = "BUTLER_NOTIFY_WEBHOOK_SECRET";

/// Deliveries so far.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// Accepted by the receiver (2xx).
    pub delivered: AtomicU64,
    /// Given up after every attempt, or refused for good (4xx).
    pub failed: AtomicU64,
    /// Attempts that were retried.
    pub retried: AtomicU64,
}

/// Posts every event to a webhook, retrying transient failures with
/// backoff (waits go through the [`Clock`]). A failed delivery is counted
/// and logged; it never reaches the workflow.
pub struct WebhookNotifier {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: SecretString,
    clock: Arc<dyn Clock>,
    attempts: u32,
    backoff: Duration,
    stats: Arc<DeliveryStats>,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// A notifier for `config` making up to `attempts` tries per event.
    pub fn new(
        config: WebhookConfig,
        clock: Arc<dyn Clock>,
        attempts: u32,
    ) -> Result<WebhookNotifier, crate::ConfigError> {
        let (http, url) = client(&config)?;
        Ok(WebhookNotifier {
            http,
            url,
            secret: config.secret,
            clock,
            attempts: attempts.clamp(1, 20),
            backoff: Duration::from_millis(500),
            stats: Arc::new(DeliveryStats::default()),
        })
    }

    /// Changes the first retry's wait (it doubles on each retry).
    pub fn with_backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The counters (shared: keep a clone to read them later).
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }

    /// The body sent for `e` (exactly these bytes are signed).
    pub fn body(e: &Event) -> Vec<u8> {
        serde_json::json!({
            "event": "request.changed",
            "request": e.request,
            "from": e.from,
            "to": e.to,
            "actor": e.actor,
            "at": e.at,
            "requester": e.requester,
            "approver": e.approver,
            "notify_support": e.notify_support,
            "summary": e.summary,
        })
        .to_string()
        .into_bytes()
    }

    /// The key of `e`: the same on every attempt, different per event.
    pub fn idempotency_key(e: &Event) -> String {
        format!(
            "butler-event-{}-{}-{}",
            e.request.0,
            e.to.as_str(),
            e.at.timestamp_nanos_opt().unwrap_or_default()
        )
    }

    async fn attempt(&self, body: &[u8], key: &str) -> Result<(), (bool, String)> {
        // Signed at each attempt: a retry after a back-off carries a fresh
        // timestamp, which the receiver's tolerance accepts.
        let (timestamp, sig) = sign_post(&self.secret, &self.url, key, body);
        let resp = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, key)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, sig)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| (true, butler_core::backend::error_chain(&e)))?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(()),
            // 409: the same key is being processed; try again later.
            409 => Err((true, format!("HTTP {status}"))),
            s => Err((
                ErrorKind::from_http_status(s).is_retryable(),
                format!("HTTP {status}"),
            )),
        }
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn notify(&self, e: &Event) -> Result<(), NotifyError> {
        let body = Self::body(e);
        let key = Self::idempotency_key(e);
        let mut wait = self.backoff;
        let mut n = 1;
        loop {
            match self.attempt(&body, &key).await {
                Ok(()) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err((retry, why)) if retry && n < self.attempts => {
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(request = %e.request, attempt = n, why = ?why, "notification webhook failed; retrying");
                    self.clock.sleep(wait).await;
                    wait = wait.saturating_mul(2);
                    n += 1;
                }
                Err((retry, why)) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    let why = format!("notification webhook not delivered: {why}");
                    return Err(if retry {
                        NotifyError::retry(why)
                    } else {
                        NotifyError::permanent(why)
                    });
                }
            }
        }
    }
}

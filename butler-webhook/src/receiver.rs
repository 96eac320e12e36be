//! A reference receiver (feature `receiver`): what the chargeback side of
//! the webhook must do, runnable on loopback for tests and demos. It checks
//! the signature over method, path, timestamp, key and body in constant
//! time, refuses a timestamp more than [`TOLERANCE`] from its clock, keeps
//! one activation per idempotency key, and can be told to lose its next
//! replies (it records the delivery, then answers too late for the
//! sender's deadline).

use crate::sender::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use axum::body::Bytes;
use axum::extract::OriginalUri;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How far a delivery's timestamp may be from the receiver's clock.
pub const TOLERANCE: Duration = Duration::from_secs(300);

struct Inner {
    secret: Vec<u8>,
    deliveries: AtomicU64,
    refused: AtomicU64,
    lose_next: AtomicUsize,
    lose_for: Mutex<Duration>,
    activations: Mutex<BTreeMap<String, serde_json::Value>>,
    last: Mutex<Option<Captured>>,
}

/// A delivery as it crossed the wire: what an eavesdropper could capture
/// and send again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
    /// The `X-Butler-Timestamp` header.
    pub timestamp: String,
    /// The `X-Butler-Signature` header.
    pub signature: String,
    /// The body.
    pub body: Vec<u8>,
}

/// A running receiver; it stops with the runtime.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    addr: SocketAddr,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Serves `POST /hook` on an ephemeral port of 127.0.0.1.
    pub async fn start(secret: &[u8]) -> std::io::Result<Receiver> {
        let inner = Arc::new(Inner {
            secret: secret.to_vec(),
            deliveries: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            lose_next: AtomicUsize::new(0),
            lose_for: Mutex::new(Duration::ZERO),
            activations: Mutex::new(BTreeMap::new()),
            last: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/hook", post(hook))
            .route("/charges", axum::routing::get(charges))
            .with_state(inner.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = ?e, "webhook receiver stopped");
            }
        });
        Ok(Receiver { inner, addr })
    }

    /// `http://127.0.0.1:<port>/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// `http://127.0.0.1:<port>/charges`: what it charged for a month
    /// (a signed `GET ?month=YYYY-MM`), worked out from the activations,
    /// changes and stops it took, each once.
    pub fn charges_url(&self) -> String {
        format!("http://{}/charges", self.addr)
    }

    /// The next `n` deliveries are recorded, then answered after `delay`
    /// (longer than the sender's timeout: the reply is lost).
    pub fn lose_next_replies(&self, n: usize, delay: Duration) {
        *self
            .inner
            .lose_for
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = delay;
        self.inner.lose_next.store(n, Ordering::SeqCst);
    }

    /// Requests received with a valid signature.
    pub fn deliveries(&self) -> u64 {
        self.inner.deliveries.load(Ordering::SeqCst)
    }

    /// Requests refused (bad or missing signature or key).
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::SeqCst)
    }

    /// The last delivery accepted, as it crossed the wire.
    pub fn last_delivery(&self) -> Option<Captured> {
        self.inner
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Effective activations: one body per idempotency key (the first).
    pub fn activations(&self) -> BTreeMap<String, serde_json::Value> {
        self.inner
            .activations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn hook(
    State(r): State<Arc<Inner>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (key, timestamp, sig) = match signed_by(&r, &uri, &headers, "POST", &body) {
        Ok(found) => found,
        Err(status) => return status,
    };
    let (key, timestamp, sig) = (key.as_str(), timestamp.as_str(), sig.as_str());
    *r.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Captured {
        idempotency_key: key.to_string(),
        timestamp: timestamp.to_string(),
        signature: sig.to_string(),
        body: body.to_vec(),
    });
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    };
    r.deliveries.fetch_add(1, Ordering::SeqCst);
    r.activations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_string())
        .or_insert(value);
    let lose = r
        .lose_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if lose {
        let delay = *r.lose_for.lock().unwrap_or_else(|e| e.into_inner());
        tokio::time::sleep(delay).await;
    }
    StatusCode::OK
}

/// The (key, timestamp, signature) of a request signed with the shared
/// secret over `method`, its path and query, timestamp, key and `body`,
/// checked as a receiver would from what crossed the wire (not with the
/// sender's code); else the status to refuse it with, counted.
fn signed_by(
    r: &Inner,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    method: &str,
    body: &[u8],
) -> Result<(String, String, String), StatusCode> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(key), Some(sig), Some(timestamp)) = (
        header(IDEMPOTENCY_HEADER),
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER).and_then(|t| t.parse::<i64>().ok()),
    ) else {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return Err(StatusCode::BAD_REQUEST);
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let mut signed = format!("v1\n{method}\n{path}\n{timestamp}\n{key}\n").into_bytes();
    signed.extend_from_slice(body);
    if !fresh(timestamp) || !verify(&r.secret, &signed, sig) {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok((key.to_string(), timestamp.to_string(), sig.to_string()))
}

/// A month's charges: the ledger of the deliveries taken (read from their
/// bodies as they crossed the wire), billed as a chargeback system bills
/// ([`butler_core::showback::ledger_charges`]).
async fn charges(
    State(r): State<Arc<Inner>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use butler_core::showback::{LedgerEntry, Month, Rate};
    if let Err(status) = signed_by(&r, &uri, &headers, "GET", b"") {
        return status.into_response();
    }
    let month = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("month=")))
        .and_then(|m| m.parse::<Month>().ok());
    let Some(month) = month else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let bodies: Vec<serde_json::Value> = r
        .activations
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().map(str::to_string);
    let date = |v: &serde_json::Value, k: &str| v[k].as_str().and_then(|d| d.parse().ok());
    let entries: Vec<LedgerEntry> = bodies
        .iter()
        .filter_map(|b| {
            let vm_name = b["vm"]["name"].as_str()?.to_string();
            let rate = || {
                Some(Rate {
                    vm_name: vm_name.clone(),
                    cost_center: text(b, "cost_center")?,
                    from: date(b, "effective_date")?,
                    monthly: text(b, "monthly_total")?.parse().ok()?,
                    currency: text(b, "currency")?,
                })
            };
            match b["event"].as_str()? {
                "billing.activate" => rate().map(LedgerEntry::Started),
                "billing.change" => rate().map(LedgerEntry::Changed),
                "billing.stop" => Some(LedgerEntry::Stopped {
                    through: date(b, "end_date")?,
                    vm_name,
                }),
                _ => None,
            }
        })
        .collect();
    let charges: Vec<serde_json::Value> = butler_core::showback::ledger_charges(&entries, month)
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "vm_name": c.vm_name,
                "cost_center": c.cost_center,
                "amount": c.amount.to_string(),
                "currency": c.currency,
            })
        })
        .collect();
    axum::Json(serde_json::json!({"month": month.to_string(), "charges": charges})).into_response()
}

/// Whether `timestamp` is within [`TOLERANCE`] of this clock.
fn fresh(timestamp: i64) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let tolerance = i64::try_from(TOLERANCE.as_secs()).unwrap_or(i64::MAX);
    now.checked_sub(timestamp)
        .is_some_and(|age| age.abs() <= tolerance)
}

/// `v1=<hex>` checked against the canonical string `signed`, in constant
/// time.
fn verify(secret: &[u8], signed: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("v1=") else {
        return false;
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return false;
    }
    let mut expected = [0u8; 32];
    for (i, byte) in expected.iter_mut().enumerate() {
        match hex.get(2 * i..2 * i + 2).map(|h| u8::from_str_radix(h, 16)) {
            Some(Ok(b)) => *byte = b,
            _ => return false,
        }
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(signed);
    mac.verify_slice(&expected).is_ok()
}

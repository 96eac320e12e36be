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
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(key), Some(sig), Some(timestamp)) = (
        header(IDEMPOTENCY_HEADER),
        header(SIGNATURE_HEADER),
        header(TIMESTAMP_HEADER).and_then(|t| t.parse::<i64>().ok()),
    ) else {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    // Written here from the wire, as a receiver would, not with the
    // sender's code.
    let mut signed = format!("v1\nPOST\n{path}\n{timestamp}\n{key}\n").into_bytes();
    signed.extend_from_slice(&body);
    if !fresh(timestamp) || !verify(&r.secret, &signed, sig) {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
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

use crate::config::{ConfigError, WebhookConfig};
use async_trait::async_trait;
use butler_core::backend::{
    BackendError, Billing, BillingActivation, BillingStop, Charge, ErrorKind,
};
use butler_core::showback::Month;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::Sha256;

/// Header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header carrying `v1=<hex>`, the HMAC-SHA256 of the delivery's
/// canonical string ([`Signed::canonical`]).
pub const SIGNATURE_HEADER: &str = "X-Butler-Signature";
/// Header carrying the Unix time (seconds) the delivery was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Butler-Timestamp";

/// What a delivery's signature covers: not the body alone, so a captured
/// delivery cannot be sent again under another idempotency key, to
/// another path, or later than a receiver's tolerance allows.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The path of the URL, with its query if any (`/hook`).
    pub path: &'a str,
    /// The Unix time (seconds) sent in [`TIMESTAMP_HEADER`].
    pub timestamp: i64,
    /// The [`IDEMPOTENCY_HEADER`] value.
    pub idempotency_key: &'a str,
    /// The exact body bytes.
    pub body: &'a [u8],
}

impl Signed<'_> {
    /// The bytes signed: `v1`, the method, the path, the timestamp and the
    /// idempotency key, each on a line of its own, then the body.
    pub fn canonical(&self) -> Vec<u8> {
        let head = format!(
            "v1\n{}\n{}\n{}\n{}\n",
            self.method, self.path, self.timestamp, self.idempotency_key
        );
        let mut out = Vec::with_capacity(head.len() + self.body.len());
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(self.body);
        out
    }
}

/// `v1=<hex>`: the HMAC-SHA256 of `signed`'s canonical string with
/// `secret`, as sent in [`SIGNATURE_HEADER`]. A receiver recomputes it from
/// what it received, compares in constant time, and refuses a timestamp
/// too far from its own clock.
///
/// ```
/// use butler_webhook::{signature, Signed};
/// let s = signature(
///     b"a shared secret of 32 bytes.....",
///     &Signed { method: "POST", path: "/hook", timestamp: 1_767_225_600,
///               idempotency_key: "butler-billing-web01-r42", body: b"{}" },
/// );
/// assert!(s.starts_with("v1=") && s.len() == 3 + 64);
/// ```
pub fn signature(secret: &[u8], signed: &Signed<'_>) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(&signed.canonical());
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v1=");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The timestamp and signature headers of a `POST` of `body` under `key`
/// to `url`, signed now. Now is the wall clock's, not an injected one: the
/// receiver compares it with its own.
pub(crate) fn sign_post(
    secret: &SecretString,
    url: &reqwest::Url,
    key: &str,
    body: &[u8],
) -> (String, String) {
    sign("POST", secret, url, key, body)
}

/// [`sign_post`] for any method.
fn sign(
    method: &str,
    secret: &SecretString,
    url: &reqwest::Url,
    key: &str,
    body: &[u8],
) -> (String, String) {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let signed = Signed {
        method,
        path: &path,
        timestamp,
        idempotency_key: key,
        body,
    };
    (
        timestamp.to_string(),
        signature(secret.expose_secret().as_bytes(), &signed),
    )
}

/// The HTTP client and URL of `config`. Redirects are not followed: a
/// signed body goes to the configured receiver or nowhere.
pub(crate) fn client(
    config: &WebhookConfig,
) -> Result<(reqwest::Client, reqwest::Url), ConfigError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(std::time::Duration::from_secs(10)));
    if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| ConfigError::Invalid(format!("ca_cert {}: {e}", path.display())))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| ConfigError::Invalid(format!("ca_cert {}: {e}", path.display())))?;
        builder = builder.add_root_certificate(cert);
    }
    let http = builder
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot build the HTTP client: {e}")))?;
    let url =
        reqwest::Url::parse(&config.url).map_err(|e| ConfigError::Invalid(format!("url: {e}")))?;
    Ok((http, url))
}

/// Activates billing by a signed `POST` per VM.
pub struct WebhookBilling {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: SecretString,
    charges_url: Option<reqwest::Url>,
}

impl std::fmt::Debug for WebhookBilling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookBilling")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl WebhookBilling {
    /// A sender for `config` (redirects are not followed: a signed body
    /// goes to the configured receiver or nowhere).
    pub fn new(config: WebhookConfig) -> Result<WebhookBilling, ConfigError> {
        let (http, url) = client(&config)?;
        let charges_url = config
            .charges_url
            .as_deref()
            .map(reqwest::Url::parse)
            .transpose()
            .map_err(|e| ConfigError::Invalid(format!("charges_url: {e}")))?;
        Ok(WebhookBilling {
            http,
            url,
            secret: config.secret,
            charges_url,
        })
    }

    /// The body sent for `act` (exactly these bytes are signed).
    pub fn body(act: &BillingActivation) -> Vec<u8> {
        let e = &act.estimate;
        json!({
            "event": "billing.activate",
            "request": act.request,
            "vm": {"name": act.vm_name, "uuid": act.vm_uuid},
            "cost_center": act.cost_center,
            "effective_date": act.effective_date,
            "restores": act.restores,
            "currency": e.currency,
            "monthly_total": e.total,
            "resources": {
                "vcpus": act.vcpus,
                "ram_gib": act.ram_gib,
                "storage_gib": act.storage_gib,
                "disk_type": act.disk_type,
            },
            "estimate": e,
        })
        .to_string()
        .into_bytes()
    }

    /// The key sent with every attempt for `vm_name`.
    pub fn idempotency_key(vm_name: &str) -> String {
        format!("butler-billing-{vm_name}")
    }

    /// The body sent for a change (a reconfigure): the activation's body
    /// as `billing.change`, from its effective date.
    pub fn change_body(act: &BillingActivation) -> Vec<u8> {
        let mut v: serde_json::Value =
            serde_json::from_slice(&Self::body(act)).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), json!("billing.change"));
        }
        v.to_string().into_bytes()
    }

    /// The key sent with every attempt of the change `request` makes to
    /// `vm_name`.
    pub fn change_idempotency_key(vm_name: &str, request: u64) -> String {
        format!("butler-billing-change-{vm_name}-r{request}")
    }

    /// The body sent for `stop` (exactly these bytes are signed).
    pub fn stop_body(stop: &BillingStop) -> Vec<u8> {
        json!({
            "event": "billing.stop",
            "request": stop.request,
            "vm": {"name": stop.vm_name, "uuid": stop.vm_uuid},
            "cost_center": stop.cost_center,
            "end_date": stop.end_date,
            "restores": stop.restores,
        })
        .to_string()
        .into_bytes()
    }

    /// The key sent with every attempt to stop billing `vm_name`.
    pub fn stop_idempotency_key(vm_name: &str) -> String {
        format!("butler-billing-stop-{vm_name}")
    }

    /// `key` for a VM restored `restores` times: its first life keeps the
    /// key it always had; each life after a restore is `<key>-life<n>`, so
    /// the receiver takes a restored VM's activation and its next stop as
    /// new events, not as repeats of the first.
    pub fn life_key(key: String, restores: u32) -> String {
        match restores {
            0 => key,
            n => format!("{key}-life{n}"),
        }
    }

    /// Posts `body`, signed, with the idempotency `key`.
    async fn send(&self, op: &str, key: String, body: Vec<u8>) -> Result<(), BackendError> {
        let (timestamp, sig) = sign_post(&self.secret, &self.url, &key, &body);
        let resp = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, key)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, sig)
            .body(body)
            .send()
            .await
            .map_err(|e| unsent(op, "delivery failed", e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let kind = match status {
            // The same key is being processed: try again later.
            409 => ErrorKind::Transient,
            s => ErrorKind::from_http_status(s),
        };
        Err(BackendError::new(
            kind,
            op,
            format!("the billing receiver answered HTTP {status}"),
        ))
    }
}

#[async_trait]
impl Billing for WebhookBilling {
    async fn is_active(&self, _vm_name: &str) -> Result<bool, BackendError> {
        Ok(false)
    }

    /// The receiver cannot be asked: every attempt sends the same
    /// idempotency key instead.
    fn looks_up(&self) -> bool {
        false
    }

    async fn activate(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let key = Self::life_key(Self::idempotency_key(&act.vm_name), act.restores);
        self.send("billing_activate", key, Self::body(act)).await
    }

    async fn change(&self, act: &BillingActivation) -> Result<(), BackendError> {
        let key = Self::change_idempotency_key(&act.vm_name, act.request);
        self.send("billing_change", key, Self::change_body(act))
            .await
    }

    async fn stop(&self, stop: &BillingStop) -> Result<(), BackendError> {
        let key = Self::life_key(Self::stop_idempotency_key(&stop.vm_name), stop.restores);
        self.send("billing_stop", key, Self::stop_body(stop)).await
    }

    fn reports_charges(&self) -> bool {
        self.charges_url.is_some()
    }

    /// A signed `GET <charges_url>?month=YYYY-MM` (key
    /// `butler-charges-YYYY-MM`, empty body), answered with
    /// `{"month", "charges": [{vm_name, cost_center, amount, currency}]}`.
    async fn charges(&self, month: Month) -> Result<Vec<Charge>, BackendError> {
        let op = "billing_charges";
        let Some(base) = &self.charges_url else {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                op,
                "no charges_url is configured: the receiver is not asked what it charged",
            ));
        };
        let mut url = base.clone();
        url.query_pairs_mut()
            .append_pair("month", &month.to_string());
        let key = format!("butler-charges-{month}");
        let (timestamp, sig) = sign("GET", &self.secret, &url, &key, b"");
        let resp = self
            .http
            .get(url)
            .header(IDEMPOTENCY_HEADER, key)
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, sig)
            .send()
            .await
            .map_err(|e| unsent(op, "cannot ask for charges", e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(BackendError::new(
                ErrorKind::from_http_status(status),
                op,
                format!("the billing receiver answered HTTP {status}"),
            ));
        }
        // Read up to a bound: a receiver cannot make Butler hold any amount.
        let mut resp = resp;
        let mut body = Vec::new();
        loop {
            let chunk = resp.chunk().await.map_err(|e| {
                BackendError::new(ErrorKind::Transient, op, format!("charges cut short: {e}"))
            })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > MAX_CHARGES_BYTES {
                return Err(BackendError::new(
                    ErrorKind::Permanent,
                    op,
                    format!("the receiver's charges are over {MAX_CHARGES_BYTES} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let answer: ChargesAnswer = serde_json::from_slice(&body).map_err(|e| {
            BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("the billing receiver's charges do not read: {e}"),
            )
        })?;
        if answer.month != month {
            return Err(BackendError::new(
                ErrorKind::Permanent,
                op,
                format!("asked for {month}, the receiver answered {}", answer.month),
            ));
        }
        Ok(answer.charges)
    }
}

/// A request that got no answer: a timeout, or a passing failure.
fn unsent(op: &str, what: &str, e: reqwest::Error) -> BackendError {
    let kind = ErrorKind::unanswered(e.is_timeout());
    BackendError::new(
        kind,
        op,
        format!("{what}: {}", butler_core::backend::error_chain(&e)),
    )
    .with_source(e)
}

/// The largest charges answer read (64 MiB: a million VMs' lines).
pub const MAX_CHARGES_BYTES: usize = 64 << 20;

/// What a receiver answers for a month's charges.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ChargesAnswer {
    /// The month asked.
    pub month: Month,
    /// One line per VM billed in it.
    pub charges: Vec<Charge>,
}

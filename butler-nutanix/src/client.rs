//! One HTTP client per Prism endpoint: session login, one re-login on 401,
//! jittered retries of idempotent calls, typed errors, request counting.

use crate::config::{Endpoint, NutanixConfig};
use crate::error::NutanixError;
use butler_core::backend::ErrorKind;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which API an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Prism Central v3 (`/api/nutanix/v3`), session cookie from `/users/me`.
    CentralV3,
    /// Prism Element v2 (`/PrismGateway/services/rest/v2.0`), Basic auth.
    ElementV2,
    /// Prism Central v4 (`/api/{namespace}/v4.x/…`), Basic auth on every
    /// call; `ETag` read, `If-Match` and `NTNX-Request-Id` sent.
    CentralV4,
}

/// A client of one Prism endpoint.
pub struct PrismClient {
    http: reqwest::Client,
    base: String,
    api: Api,
    username: String,
    password: SecretString,
    logged_in: AtomicBool,
    /// `/users/me` set no session cookie: every call carries Basic
    /// credentials instead.
    basic_every_call: AtomicBool,
    /// Prism refused the configured credentials: nothing is sent again
    /// (a locked account is not hammered) until the configuration changes
    /// (a new client).
    refused: AtomicBool,
    retry: butler_core::resilience::RetryPolicy,
    max_body: usize,
    clock: Arc<dyn butler_core::backend::Clock>,
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for PrismClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrismClient")
            .field("base", &self.base)
            .field("api", &self.api)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl PrismClient {
    /// Builds a client for `endpoint` with the config's timeouts and TLS options.
    pub fn new(
        endpoint: &Endpoint,
        api: Api,
        config: &NutanixConfig,
        requests: Arc<AtomicU64>,
    ) -> Result<PrismClient, NutanixError> {
        let mut b = reqwest::Client::builder()
            .cookie_store(true)
            .connect_timeout(config.connect_timeout)
            .timeout(config.read_timeout)
            .user_agent(concat!("butler-nutanix/", env!("CARGO_PKG_VERSION")));
        if endpoint.url.starts_with("http://") {
            tracing::warn!(endpoint = %endpoint.url, "PLAIN HTTP to this Prism endpoint (allow_plain_http = true): credentials travel in clear");
        }
        if config.insecure {
            tracing::warn!(endpoint = %endpoint.url, "TLS VERIFICATION IS OFF for this Prism endpoint (insecure = true); use ca_bundle instead");
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(path) = &config.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| {
                NutanixError::new(
                    ErrorKind::Invalid,
                    None,
                    format!("ca_bundle {}: {e}", path.display()),
                )
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                NutanixError::new(
                    ErrorKind::Invalid,
                    None,
                    format!("ca_bundle {}: {e}", path.display()),
                )
            })?;
            b = b.add_root_certificate(cert);
        }
        let http = b.build().map_err(|e| {
            NutanixError::new(
                ErrorKind::Invalid,
                None,
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
        Ok(PrismClient {
            http,
            base: endpoint.url.clone(),
            api,
            username: endpoint.username.clone(),
            password: endpoint.password.clone(),
            logged_in: AtomicBool::new(false),
            basic_every_call: AtomicBool::new(false),
            refused: AtomicBool::new(false),
            retry: butler_core::resilience::RetryPolicy {
                // Attempts after the first, as the config counts them.
                max_attempts: config.max_retries.saturating_add(1),
                base_delay: config.retry_base,
                max_delay: config.retry_base.saturating_mul(1 << 10),
                step_deadline: Duration::MAX,
            },
            clock: Arc::new(butler_core::backend::SystemClock),
            max_body: config.max_body_bytes.max(1024),
            requests,
        })
    }

    /// The clock this client waits on (between retries, and the adapter
    /// between task reads).
    pub(crate) fn clock(&self) -> Arc<dyn butler_core::backend::Clock> {
        self.clock.clone()
    }

    /// Whether Prism refused the configured credentials (nothing is sent
    /// again by this client).
    pub fn credentials_refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    /// Latches the refusal of the configured credentials, logged once
    /// per refusal, and answers it.
    fn refuse(&self) -> NutanixError {
        self.refused.store(true, Ordering::SeqCst);
        tracing::error!(endpoint = %self.base, user = %self.username, "Prism refused the configured credentials; nothing more is sent until the configuration changes");
        refused_error()
    }

    fn prefix(&self) -> &'static str {
        match self.api {
            Api::CentralV3 => "/api/nutanix/v3",
            Api::ElementV2 => "/PrismGateway/services/rest/v2.0",
            Api::CentralV4 => "/api",
        }
    }

    /// Whether every call carries Basic credentials (no session).
    fn basic_always(&self) -> bool {
        matches!(self.api, Api::ElementV2 | Api::CentralV4)
    }

    async fn login(&self) -> Result<(), NutanixError> {
        if self.basic_always() {
            return Ok(());
        }
        let url = format!("{}{}/users/me", self.base, self.prefix());
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .http
            .get(url)
            .basic_auth(&self.username, Some(self.password.expose_secret()))
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        if status == 401 {
            return Err(self.refuse());
        }
        if !(200..300).contains(&status) {
            let body = resp.text().await.unwrap_or_default();
            return Err(NutanixError::from_response(status, &body));
        }
        if !resp.headers().contains_key(reqwest::header::SET_COOKIE) {
            // Some gateways answer /users/me without a session: the calls
            // then carry Basic credentials, as Prism accepts.
            self.basic_every_call.store(true, Ordering::SeqCst);
            tracing::info!(endpoint = %self.base, "Prism set no session cookie; sending Basic credentials with every call");
        }
        self.logged_in.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Reads a body chunk by chunk, refusing (not allocating) past the cap.
    async fn read_capped(&self, mut resp: reqwest::Response) -> Result<String, NutanixError> {
        let too_big = |n: u64| {
            NutanixError::new(
                ErrorKind::Permanent,
                None,
                format!(
                    "response body of {n} bytes or more is above max_body_bytes = {}",
                    self.max_body
                ),
            )
        };
        if let Some(n) = resp.content_length().filter(|n| *n > self.max_body as u64) {
            return Err(too_big(n));
        }
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if buf.len() + chunk.len() > self.max_body {
                return Err(too_big((buf.len() + chunk.len()) as u64));
            }
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).map_err(|_| {
            NutanixError::new(ErrorKind::Permanent, None, "response body is not UTF-8")
        })
    }

    async fn once<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&'static str, String)],
        parse: fn(&str) -> Result<Parsed<T>, serde_json::Error>,
    ) -> Result<(T, Option<String>), NutanixError> {
        if self.refused.load(Ordering::SeqCst) {
            return Err(refused_error());
        }
        if self.api == Api::CentralV3 && !self.logged_in.load(Ordering::SeqCst) {
            self.login().await?;
        }
        let url = format!("{}{}{}", self.base, self.prefix(), path);
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("Accept", "application/json");
        if self.basic_always() || self.basic_every_call.load(Ordering::SeqCst) {
            req = req.basic_auth(&self.username, Some(self.password.expose_secret()));
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = self.read_capped(resp).await?;
        if !(200..300).contains(&status) {
            return Err(NutanixError::from_response(status, &text));
        }
        // A large answer (a page of 500 VMs is about half a megabyte) is
        // decoded on the blocking pool: pages fetched together decode in
        // parallel, and the async workers stay free.
        let (decoded, text) = if text.len() >= PARALLEL_DECODE_BYTES {
            tokio::task::spawn_blocking(move || (parse(&text), text))
                .await
                .map_err(|e| {
                    NutanixError::new(
                        ErrorKind::Permanent,
                        Some(status),
                        format!("decoding Prism's answer stopped: {e}"),
                    )
                })?
        } else {
            (parse(&text), text)
        };
        let parsed = decoded.map_err(|e| {
            NutanixError::new(
                ErrorKind::Permanent,
                Some(status),
                format!("malformed JSON from Prism: {e}"),
            )
        })?;
        // v3 may answer 2xx with an ERROR state inside: the error is read
        // as the status its body's `code` names (else a 500's).
        if parsed.error_state {
            let inside = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("code").and_then(Value::as_u64))
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..600).contains(c));
            let code = match inside {
                Some(c) => c,
                None if status < 400 => 500,
                None => status,
            };
            return Err(NutanixError::from_response(code, &text));
        }
        Ok((parsed.value, etag))
    }

    /// Calls `method path`. A 401 triggers one re-login and one retry;
    /// idempotent calls are retried on retryable errors with jittered backoff.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Value, NutanixError> {
        self.call_with(method, path, body, &[], idempotent, parse_value)
            .await
            .map(|(v, _)| v)
    }

    /// A v4 call: `headers` sent (`If-Match`, `NTNX-Request-Id`), the
    /// answer with its `ETag` header. `idempotent`: safe to repeat (a read,
    /// or a mutation carrying its request id).
    pub async fn call_v4(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&'static str, String)],
        idempotent: bool,
    ) -> Result<(Value, Option<String>), NutanixError> {
        self.call_with(method, path, body, headers, idempotent, parse_value)
            .await
    }

    /// [`call`](Self::call) decoding a v3 list answer straight into typed
    /// entities (no intermediate JSON tree: the 100,000-VM path).
    pub async fn call_list<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<ListAnswer<T>, NutanixError> {
        self.call_with(Method::POST, path, Some(body), &[], true, parse_list::<T>)
            .await
            .map(|(v, _)| v)
    }

    /// `GET path` decoding a list answer (PE v2's envelope too) into typed
    /// entities.
    pub async fn get_list<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
    ) -> Result<ListAnswer<T>, NutanixError> {
        self.call_with(Method::GET, path, None, &[], true, parse_list::<T>)
            .await
            .map(|(v, _)| v)
    }

    async fn call_with<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&'static str, String)],
        idempotent: bool,
        parse: fn(&str) -> Result<Parsed<T>, serde_json::Error>,
    ) -> Result<(T, Option<String>), NutanixError> {
        let mut relogged = false;
        let mut attempt = 0u32;
        loop {
            match self.once(&method, path, body, headers, parse).await {
                Err(e) if e.kind == ErrorKind::Unauthorized && e.status == Some(401) => {
                    // A second 401 (or Prism Element's first: it has no
                    // session to renew) is a refusal of the credentials.
                    if relogged || self.basic_always() {
                        return Err(self.refuse());
                    }
                    relogged = true;
                    self.logged_in.store(false, Ordering::SeqCst);
                    tracing::info!(endpoint = %self.base, "session expired; logging in again");
                }
                Err(e)
                    if idempotent && e.is_retryable() && attempt + 1 < self.retry.max_attempts =>
                {
                    attempt += 1;
                    let delay = self
                        .retry
                        .delay(attempt, butler_core::resilience::salt(path));
                    tracing::debug!(endpoint = %self.base, path, attempt, error = ?e, "retrying after");
                    self.clock.sleep(delay).await;
                }
                Err(e) if idempotent && e.is_retryable() => {
                    tracing::warn!(endpoint = %self.base, path, attempts = attempt + 1, error = ?e, "retries exhausted");
                    return Err(e);
                }
                other => return other,
            }
        }
    }
}

/// Answers at least this large are decoded off the async workers.
const PARALLEL_DECODE_BYTES: usize = 256 * 1024;

/// A decoded answer and whether it carried v3's `"state": "ERROR"`.
struct Parsed<T> {
    value: T,
    error_state: bool,
}

fn parse_value(text: &str) -> Result<Parsed<Value>, serde_json::Error> {
    if text.trim().is_empty() {
        return Ok(Parsed {
            value: Value::Null,
            error_state: false,
        });
    }
    let value: Value = serde_json::from_str(text)?;
    let error_state = value.get("state").and_then(Value::as_str) == Some("ERROR");
    Ok(Parsed { value, error_state })
}

fn parse_list<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<Parsed<ListAnswer<T>>, serde_json::Error> {
    let value: ListAnswer<T> = serde_json::from_str(text)?;
    let error_state = value.state.as_deref() == Some("ERROR");
    Ok(Parsed { value, error_state })
}

/// A Prism Central v3 list answer (`<kind>_list_response`).
#[derive(Debug, serde::Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub struct ListAnswer<T> {
    /// `ERROR` on a failed answer (checked by the client).
    #[serde(default)]
    state: Option<String>,
    /// Paging metadata.
    #[serde(default)]
    pub metadata: ListMetadata,
    /// This page's entities.
    #[serde(default)]
    pub entities: Vec<T>,
}

/// `metadata` of a v3 list answer.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListMetadata {
    /// How many entities match in all (some Prism Centrals leave it out).
    #[serde(default)]
    pub total_matches: Option<u64>,
}

fn transport(e: reqwest::Error) -> NutanixError {
    let kind = ErrorKind::unanswered(e.is_timeout());
    // reqwest errors carry the URL, never the credentials (sent as
    // headers); the cause (refused, certificate) is in the source chain.
    NutanixError::new(
        kind,
        None,
        format!("transport error: {}", butler_core::backend::error_chain(&e)),
    )
    .caused_by(e)
}

/// The answer to every call once Prism refused the configured credentials.
fn refused_error() -> NutanixError {
    NutanixError::new(
        ErrorKind::Unauthorized,
        Some(401),
        "Prism refused the configured user name and password; nothing more is sent until they are changed in the configuration",
    )
}
